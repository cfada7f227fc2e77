//! The jobs aggregate: leases that elect one node to run a scheduled job.
//!
//! Several hub nodes share one database, and each runs the same schedule
//! (harvest after each announcement, the daily and weekly digests). Before
//! a run, a node acquires the job's lease for that run's key: one node
//! gets it, the others see it busy, and once the run completes everyone
//! sees it done. A node that dies mid-run stops renewing its lease; when
//! the lease runs out another node takes the run over (the jobs resume
//! where the first stopped: harvests from their saved page, digests from
//! the outbox's dedupe keys).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::StoreResult;

/// What acquiring a lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquire {
    /// The caller holds the lease and should run the job.
    Acquired,
    /// Another owner holds an unexpired lease on the job.
    Busy {
        /// Who.
        owner: String,
        /// Until when, unless renewed.
        until: DateTime<Utc>,
    },
    /// This run of the job is already done.
    Done {
        /// When it completed.
        at: DateTime<Utc>,
    },
}

/// One job's lease, for `paperhub store status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobLease {
    /// The job, e.g. `harvest`.
    pub job: String,
    /// The run held or last held.
    pub run_key: Option<String>,
    /// Who holds it, if anyone.
    pub owner: Option<String>,
    /// Until when.
    pub lease_until: Option<DateTime<Utc>>,
    /// The last run completed.
    pub done_key: Option<String>,
    /// When it completed.
    pub done_at: Option<DateTime<Utc>>,
}

/// The jobs' storage interface; see the module docs.
pub trait JobStore: Send + Sync {
    /// Takes `job` for the run `run_key` until `until`, unless another owner
    /// holds an unexpired lease on the job or this run is already done. The
    /// caller's own lease is taken again (renewed).
    ///
    /// # Errors
    /// A storage error.
    fn acquire(
        &self,
        job: &str,
        run_key: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Acquire>;

    /// Extends the caller's lease; false when it no longer holds it.
    ///
    /// # Errors
    /// A storage error.
    fn renew(&self, job: &str, owner: &str, until: DateTime<Utc>) -> StoreResult<bool>;

    /// Marks the run done and frees the lease; false (and nothing changed)
    /// when the caller no longer holds the lease for that run.
    ///
    /// # Errors
    /// A storage error.
    fn complete(
        &self,
        job: &str,
        run_key: &str,
        owner: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Frees the caller's lease without marking the run done (it failed,
    /// and another node may try it).
    ///
    /// # Errors
    /// A storage error.
    fn release(&self, job: &str, owner: &str) -> StoreResult<()>;

    /// Every job's lease, by job.
    ///
    /// # Errors
    /// A storage error.
    fn leases(&self) -> StoreResult<Vec<JobLease>>;
}
