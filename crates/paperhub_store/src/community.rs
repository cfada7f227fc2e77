//! The community aggregate: votes, submissions, curators' flags, and the
//! paper lists built on them.
//!
//! A vote is a row keyed by (user, paper), so voting twice is still one
//! vote; the paper's count is updated in the same transaction.

use chrono::{DateTime, NaiveDate, Utc};
use paperhub_domain::{ArxivId, Paper, UserId};

use crate::StoreResult;

/// A paper as the hub shows it: the catalog record plus community state.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The catalog record.
    pub paper: Paper,
    /// Upvotes.
    pub votes: u32,
    /// Whether the viewer (if any) upvoted it.
    pub voted: bool,
    /// Who submitted it to the hub.
    pub submitted_by: Option<String>,
    /// When it was submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// The daily list it joined by submission.
    pub list_date: Option<NaiveDate>,
    /// Featured by a curator.
    pub featured: bool,
    /// Hidden by a curator (shown to curators only).
    pub hidden: bool,
    /// Visible comments in its discussion.
    pub comments: u32,
}

/// What a submission did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submission {
    /// The paper joined the list of `list_date`.
    Added {
        /// The list it joined.
        list_date: NaiveDate,
    },
    /// It was submitted before; nothing changed.
    AlreadySubmitted {
        /// Who submitted it first, if that account still exists.
        by: Option<String>,
        /// The list it is on.
        list_date: Option<NaiveDate>,
    },
    /// The submitter has used their quota; nothing changed.
    OverQuota {
        /// Submissions counted in the quota's window.
        used: u32,
    },
    /// The paper is not in the catalog; nothing changed.
    NotInCatalog,
}

/// A submission of a catalog paper to the hub's lists.
#[derive(Debug, Clone, Copy)]
pub struct SubmitRequest<'a> {
    /// Who submits.
    pub user: UserId,
    /// The paper.
    pub id: &'a ArxivId,
    /// The submitter's limit; `None` for a curator.
    pub quota: Option<Quota>,
}

/// At most `max` submissions since `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Submissions allowed in the window.
    pub max: u32,
    /// The window's start.
    pub since: DateTime<Utc>,
}

/// What a submission did, and the paper as its submitter now sees it
/// (none unless it is in the catalog).
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    /// What happened.
    pub outcome: Submission,
    /// The paper with its community state, seen by the submitter.
    pub entry: Option<Entry>,
}

/// Which papers a list shows.
///
/// A list is one sequence, the community part first, then the
/// announcement; `offset` and `limit` page through it as a whole, so no
/// number of submissions can make a page longer than `limit` (see #13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// Announced papers in any of these categories; empty means all.
    pub categories: Vec<String>,
    /// Papers of the whole list to skip (paging).
    pub offset: u32,
    /// Papers to return at most, both parts together.
    pub limit: u32,
    /// Include hidden papers (curators' view).
    pub include_hidden: bool,
    /// How the announcement part is sorted.
    pub order: ListOrder,
}

/// The order of a list's announcement part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// Most upvoted first, then newest.
    #[default]
    Votes,
    /// Newest first (by arXiv id, which grows with submission time).
    Newest,
}

/// One page of a day's, week's or month's papers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    /// This page's submitted or featured papers of the period, by votes
    /// then recency.
    pub community: Vec<Entry>,
    /// This page's part of the announcement (excluding the community part),
    /// by votes then recency (newest id first).
    pub announced: Vec<Entry>,
    /// Community papers of the period, all pages.
    pub community_total: u64,
    /// Announced papers in the period matching the categories, all pages.
    pub announced_total: u64,
}

/// A paper that had community activity in a trending window.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendingCandidate {
    /// The paper.
    pub arxiv_id: String,
    /// Its upvotes.
    pub votes: u32,
    /// When it reached the hub (first submission or vote): its age for ranking.
    pub first_seen_at: DateTime<Utc>,
}

/// The community's storage interface; see the module docs.
pub trait CommunityStore: Send + Sync {
    /// Sets the user's vote on a paper (idempotent) and returns its count.
    ///
    /// # Errors
    /// A storage error.
    fn set_vote(
        &self,
        user: UserId,
        id: &ArxivId,
        up: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<u32>;

    /// Papers `user` submitted at or after `since` (for the submission quota).
    ///
    /// # Errors
    /// A storage error.
    fn submissions_since(&self, user: UserId, since: DateTime<Utc>) -> StoreResult<u32>;

    /// Adds a catalog paper to the newest announcement day's list (today's
    /// date when the catalog has none), once, in one transaction with the
    /// quota check: a submission that was already made is reported as
    /// such, and a new one beyond the quota is refused, however many
    /// requests race.
    ///
    /// # Errors
    /// A storage error; nothing is stored then.
    fn submit(&self, request: &SubmitRequest<'_>, now: DateTime<Utc>) -> StoreResult<Submitted>;

    /// Sets curators' flags; `None` leaves a flag as it is.
    ///
    /// # Errors
    /// A storage error.
    fn set_curation(
        &self,
        id: &ArxivId,
        featured: Option<bool>,
        hidden: Option<bool>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// One paper with its community state.
    ///
    /// # Errors
    /// A storage error or an undecodable row.
    fn entry(&self, id: &ArxivId, viewer: Option<UserId>) -> StoreResult<Option<Entry>>;

    /// Papers by id, in the given order; unknown ids are left out.
    ///
    /// # Errors
    /// A storage error or an undecodable row.
    fn entries(&self, ids: &[ArxivId], viewer: Option<UserId>) -> StoreResult<Vec<Entry>>;

    /// The papers of a period.
    ///
    /// # Errors
    /// A storage error or an undecodable row.
    fn listing(&self, query: &ListQuery, viewer: Option<UserId>) -> StoreResult<Listing>;

    /// The latest announcement day in the catalog.
    ///
    /// # Errors
    /// A storage error.
    fn latest_day(&self) -> StoreResult<Option<NaiveDate>>;

    /// The announcement days just before and after `day` (either may be none).
    ///
    /// # Errors
    /// A storage error.
    fn days_around(&self, day: NaiveDate) -> StoreResult<(Option<NaiveDate>, Option<NaiveDate>)>;

    /// Papers first seen or voted on at or after `since`, not hidden.
    ///
    /// # Errors
    /// A storage error.
    fn trending_candidates(&self, since: DateTime<Utc>) -> StoreResult<Vec<TrendingCandidate>>;

    /// Papers the user submitted and upvoted, newest first.
    ///
    /// # Errors
    /// A storage error or an undecodable row.
    fn user_papers(
        &self,
        user: UserId,
        viewer: Option<UserId>,
    ) -> StoreResult<(Vec<Entry>, Vec<Entry>)>;

    /// A number that changes in the transaction of every vote, submission
    /// and curation, on every node: page caches compare it to know when the
    /// lists they hold went stale.
    ///
    /// # Errors
    /// A storage error.
    fn community_version(&self) -> StoreResult<u64>;
}
