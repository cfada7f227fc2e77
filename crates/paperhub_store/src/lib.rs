//! Paperhub's storage interface: one trait per aggregate, one error type,
//! and the records they pass, with no backend type in sight.
//!
//! The app holds an `Arc<dyn Store>` and never SQL. Two backends implement
//! it: `paperhub_sqlite`, the embedded default, and `paperhub_postgres`, for
//! several hub nodes on one database. Every method takes `&self`: a backend
//! owns its connections and is shared between threads. A use case that must
//! be atomic (the first account becomes curator; a password changes only
//! from the hash the caller checked) is one method, and each backend runs it
//! in one transaction, so callers never need a transaction of their own.
//!
//! Methods are synchronous: the import, harvest, index and mail threads and
//! every CLI command are synchronous, and the web calls the store from
//! blocking threads. Time is passed in (`now`), never read here.

#![forbid(unsafe_code)]

mod accounts;
mod authors;
mod catalog;
mod community;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod copy;
mod discussions;
mod error;
mod jobs;
mod library;
mod outbox;
mod subscriptions;

pub use accounts::{AccountStore, ApiToken};
pub use authors::{AuthorPapers, AuthorStore, FollowedAuthor};
pub use catalog::{
    CatalogStats, CatalogStore, ChangePosition, ChangedDay, HarvestState, ImportRun, ImportRunId,
    ImportStatus, UpsertCounts,
};
pub use community::{
    CommunityStore, Entry, ListOrder, ListQuery, Listing, Quota, Submission, SubmitRequest,
    Submitted, TrendingCandidate,
};
pub use discussions::{Comment, CommentId, Commented, DiscussionStore, NewComment};
pub use error::{BoxError, OpenError, StoreError, StoreResult};
pub use jobs::{Acquire, JobLease, JobStore};
pub use library::{
    BulkSaved, Collection, CollectionChange, CollectionId, ItemChange, LibraryLimits, LibraryStore,
    READING_LIST, Saved, SavedPaper,
};
pub use outbox::{NewMail, OutboxCounts, OutboxEntry, OutboxId, OutboxStore, QueuedMail, Settled};
pub use paperhub_domain::{
    ApiTokenId, Frequency, Interest, InterestKind, SubscriberId, SubscriberStatus, User, UserId,
};
pub use subscriptions::{
    NewSubscriber, NoticeFn, Preferences, SubscribeRequest, Subscribed, Subscriber,
    SubscriptionStore,
};

/// What a store is, for `paperhub stats` and the logs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoreInfo {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Where it is, without secrets: a file path, or host, port and database.
    pub location: String,
    /// The schema version it was migrated to.
    pub schema_version: u32,
}

/// Every aggregate's interface in one: what the app holds.
///
/// Functions that need one aggregate take `&dyn CatalogStore` and so on;
/// an `&dyn Store` coerces to each of them.
pub trait Store:
    CatalogStore
    + AccountStore
    + CommunityStore
    + SubscriptionStore
    + OutboxStore
    + JobStore
    + DiscussionStore
    + AuthorStore
    + LibraryStore
    + copy::CopyStore
{
    /// Which backend this is and where.
    fn info(&self) -> StoreInfo;

    /// The key that signs sessions, CSRF tokens and mail links, when the
    /// database is shared by several nodes: `candidate` is stored unless a
    /// key is there, and the stored key is returned, so every node signs
    /// alike. `None` for a store only one node uses (SQLite), whose key
    /// stays in the data directory.
    ///
    /// # Errors
    /// A storage error.
    fn shared_signing_key(&self, candidate: &[u8]) -> StoreResult<Option<Vec<u8>>>;
}
