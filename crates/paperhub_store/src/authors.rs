//! The authors aggregate: which catalog papers list an author, and which
//! authors a user follows.
//!
//! Authors are keyed by [`paperhub_domain::author::author_key`] of their
//! display name (`Yann LeCun` and `yann  LECUN` are one author; two people
//! of one name are one page, as on Hugging Face and arXiv's own author
//! search). Each backend keeps an index of (key, paper) rows, written in
//! the transaction that writes the paper, so an author page is one index
//! range, not a scan of the catalog.

use chrono::{DateTime, Utc};
use paperhub_domain::{ArxivId, UserId};
use serde::Serialize;

use crate::StoreResult;

/// One page of an author's papers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorPapers {
    /// The papers, newest first (announcement day, then arXiv id).
    pub ids: Vec<ArxivId>,
    /// How many papers list the author, all pages.
    pub total: u64,
}

/// An author a user follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowedAuthor {
    /// The author key.
    pub key: String,
    /// The name as it was followed, for display.
    pub name: String,
    /// When.
    pub since: DateTime<Utc>,
}

/// The authors' storage interface; see the module docs.
pub trait AuthorStore: Send + Sync {
    /// The catalog papers listing the author `key`, newest first; papers
    /// a curator hid only when `include_hidden` (curators' view), in the
    /// page and in the total alike.
    ///
    /// # Errors
    /// A storage error or an undecodable id.
    fn author_papers(
        &self,
        key: &str,
        offset: u32,
        limit: u32,
        include_hidden: bool,
    ) -> StoreResult<AuthorPapers>;

    /// Makes `user` follow the author `key`, shown as `name`, unless they
    /// follow `max` authors already. True when it is new, false when they
    /// followed them before; [`crate::StoreError::Conflict`] on `"follows"`
    /// when at the limit (counted in the same transaction).
    ///
    /// # Errors
    /// A storage error, or the limit.
    fn follow_author(
        &self,
        user: UserId,
        key: &str,
        name: &str,
        max: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Stops `user` following `key`; false when they did not.
    ///
    /// # Errors
    /// A storage error.
    fn unfollow_author(&self, user: UserId, key: &str) -> StoreResult<bool>;

    /// The authors `user` follows, by name.
    ///
    /// # Errors
    /// A storage error.
    fn followed_authors(&self, user: UserId) -> StoreResult<Vec<FollowedAuthor>>;
}
