//! The discussions aggregate: comments on papers, with replies one level
//! deep.
//!
//! A comment keeps its markdown source; rendering and sanitising belong to
//! the web layer. Deleting one's own comment keeps its row (replies stay
//! in their thread) and drops its text; a curator can hide a comment from
//! everyone else. Every change moves the community version, so cached
//! pages with comment counts go stale on every node.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use paperhub_domain::{ArxivId, User, UserId};
use serde::Serialize;

use crate::StoreResult;

/// A comment's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CommentId(pub i64);

impl std::fmt::Display for CommentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A comment as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    /// Its id.
    pub id: CommentId,
    /// The paper, as its arXiv id without version.
    pub paper: String,
    /// Its author's account, if it still exists.
    pub author: Option<UserId>,
    /// Its author's name, if the account still exists.
    pub author_name: Option<String>,
    /// The comment it answers; replies have no replies.
    pub parent: Option<CommentId>,
    /// The markdown source; empty once deleted.
    pub body: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When its author last changed it.
    pub edited_at: Option<DateTime<Utc>>,
    /// Deleted by its author.
    pub deleted: bool,
    /// Hidden by a curator.
    pub hidden: bool,
}

/// A comment to add.
#[derive(Debug, Clone, Copy)]
pub struct NewComment<'a> {
    /// The paper.
    pub paper: &'a ArxivId,
    /// Its author.
    pub author: UserId,
    /// The comment it answers, if any.
    pub parent: Option<CommentId>,
    /// The markdown source.
    pub body: &'a str,
}

/// What adding a comment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commented {
    /// Stored.
    Added(Comment),
    /// The paper is not in the catalog.
    NoSuchPaper,
    /// The parent is not a visible comment on this paper.
    NoSuchParent,
    /// The parent is itself a reply: replies go one level deep.
    ReplyToReply,
}

/// The discussions' storage interface; see the module docs.
pub trait DiscussionStore: Send + Sync {
    /// Adds a comment or a reply, checking the paper and the parent in the
    /// same transaction.
    ///
    /// # Errors
    /// A storage error.
    fn add_comment(&self, new: &NewComment<'_>, now: DateTime<Utc>) -> StoreResult<Commented>;

    /// Replaces the text of `author`'s own comment, marking it edited;
    /// false when it is not theirs, deleted, or missing.
    ///
    /// # Errors
    /// A storage error.
    fn edit_comment(
        &self,
        id: CommentId,
        author: UserId,
        body: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Deletes `author`'s own comment (its row stays for its replies' sake,
    /// its text goes); false when it is not theirs or missing.
    ///
    /// # Errors
    /// A storage error.
    fn delete_comment(
        &self,
        id: CommentId,
        author: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Hides or shows a comment (curators); false when it is missing.
    ///
    /// # Errors
    /// A storage error.
    fn set_comment_hidden(&self, id: CommentId, hidden: bool) -> StoreResult<bool>;

    /// One comment.
    ///
    /// # Errors
    /// A storage error.
    fn comment(&self, id: CommentId) -> StoreResult<Option<Comment>>;

    /// A paper's comments, threads in order of their first comment, each
    /// followed by its replies oldest first; hidden ones only when asked.
    ///
    /// # Errors
    /// A storage error.
    fn comments(&self, paper: &ArxivId, include_hidden: bool) -> StoreResult<Vec<Comment>>;

    /// Visible, undeleted comments per paper, for the papers that have any.
    ///
    /// # Errors
    /// A storage error.
    fn comment_counts(&self, papers: &[ArxivId]) -> StoreResult<HashMap<String, u32>>;

    /// A user's newest comments (not deleted), for their page.
    ///
    /// # Errors
    /// A storage error.
    fn user_comments(&self, author: UserId, limit: u32) -> StoreResult<Vec<Comment>>;

    /// The account that submitted `paper` to the hub, when it asked for
    /// mail on new comments and has an address.
    ///
    /// # Errors
    /// A storage error.
    fn submitter_to_notify(&self, paper: &ArxivId) -> StoreResult<Option<User>>;

    /// Comments `author` wrote at or after `since` (their rate limit holds
    /// on every node).
    ///
    /// # Errors
    /// A storage error.
    fn comments_since(&self, author: UserId, since: DateTime<Utc>) -> StoreResult<u32>;
}
