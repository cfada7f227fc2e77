//! The catalog aggregate: papers, import runs, harvest state and the
//! change feed the search indexes follow.

use chrono::{DateTime, NaiveDate, Utc};
use paperhub_domain::{ArxivId, Paper};
use serde::Serialize;

use crate::StoreResult;

/// How a batch of papers changed the catalog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UpsertCounts {
    /// Papers not in the catalog before.
    pub new: u64,
    /// Papers whose stored record changed.
    pub updated: u64,
    /// Papers already stored exactly so.
    pub unchanged: u64,
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, other: Self) {
        self.new += other.new;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

/// Identifies an import run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportRunId(pub i64);

/// How an import run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Still running, or killed before it could record its end.
    Running,
    /// Finished; some records may have been skipped.
    Completed,
    /// Stopped by an error, or nothing could be imported.
    Failed,
}

impl ImportStatus {
    /// `running`, `completed` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Running => "running",
            ImportStatus::Completed => "completed",
            ImportStatus::Failed => "failed",
        }
    }

    /// The status written as `s`; anything unknown reads as still running,
    /// which is what a run that never recorded its end looks like.
    pub fn parse(s: &str) -> ImportStatus {
        match s {
            "completed" => ImportStatus::Completed,
            "failed" => ImportStatus::Failed,
            _ => ImportStatus::Running,
        }
    }
}

/// The record of one import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportRun {
    /// Its id.
    pub id: ImportRunId,
    /// What was imported: paths, or "stdin".
    pub source: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended, if it did.
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub status: ImportStatus,
    /// New, updated and unchanged papers.
    #[serde(flatten)]
    pub counts: UpsertCounts,
    /// Records skipped as malformed.
    pub skipped: u64,
}

/// Catalog-wide numbers for `paperhub stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogStats {
    /// Total papers.
    pub papers: u64,
    /// Papers per category (a paper counts once in each of its categories), largest first.
    pub by_category: Vec<(String, u64)>,
    /// Papers per month of first submission (or of announcement when the
    /// submission date is unknown), oldest first.
    pub by_month: Vec<(String, u64)>,
    /// The most recent import.
    pub last_import: Option<ImportRun>,
}

/// A position in the catalog's change feed: the change number of the last
/// paper seen.
///
/// Every write of a paper gives it the next number of one counter, inside
/// the write transaction, so numbers follow commit order: a reader that has
/// seen every number up to `n` will find any later change above `n`. (A
/// timestamp cursor cannot promise that: two writes in one second, or a
/// writer that read the clock before another committed, fall behind it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ChangePosition(pub i64);

/// A changed paper as [`CatalogStore::changed_paper_days`] lists it: enough
/// to order a backfill newest first without reading whole papers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedDay {
    /// The paper's latest change.
    pub position: ChangePosition,
    /// The paper.
    pub id: ArxivId,
    /// The day it was announced, or else submitted (v1); `None` when the
    /// record has neither.
    pub day: Option<NaiveDate>,
}

/// Where one OAI-PMH harvest (source, set, metadata format) stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HarvestState {
    /// The interface, e.g. `oai`.
    pub source: String,
    /// The set, e.g. `cs`.
    pub set_spec: String,
    /// `arXiv` or `arXivRaw`.
    pub metadata_prefix: String,
    /// `from` of the running window.
    pub window_from: Option<String>,
    /// `until` of the running window.
    pub window_until: Option<String>,
    /// The token of the next page, while a window is running.
    pub resumption_token: Option<String>,
    /// Pages stored in the running window.
    pub pages: u64,
    /// The response day of the last complete harvest; the next one starts there.
    pub last_complete: Option<String>,
}

impl HarvestState {
    /// A harvest that has never run.
    pub fn new(source: &str, set_spec: &str, metadata_prefix: &str) -> HarvestState {
        HarvestState {
            source: source.to_owned(),
            set_spec: set_spec.to_owned(),
            metadata_prefix: metadata_prefix.to_owned(),
            window_from: None,
            window_until: None,
            resumption_token: None,
            pages: 0,
            last_complete: None,
        }
    }
}

/// The catalog's storage interface; see the crate docs.
pub trait CatalogStore: Send + Sync {
    /// Merges `papers` into the catalog in one transaction, stamping changed
    /// rows with `now`.
    ///
    /// Either every paper of the batch is applied or none is. A paper may
    /// appear more than once in a batch; later copies merge into earlier ones.
    ///
    /// # Errors
    /// Any storage error; the transaction is then rolled back.
    fn upsert_papers(&self, papers: &[Paper], now: DateTime<Utc>) -> StoreResult<UpsertCounts>;

    /// The stored paper with this id (its version is ignored).
    ///
    /// # Errors
    /// A storage error, or a row that cannot be decoded.
    fn paper(&self, id: &ArxivId) -> StoreResult<Option<Paper>>;

    /// Number of papers in the catalog.
    ///
    /// # Errors
    /// A storage error.
    fn count_papers(&self) -> StoreResult<u64>;

    /// Counts by category and month, and the last import.
    ///
    /// # Errors
    /// A storage error.
    fn stats(&self) -> StoreResult<CatalogStats>;

    /// Records the start of an import of `source`.
    ///
    /// Until the run finishes, a backend may defer the derived author and
    /// title index rows of the papers it stores (author pages and title
    /// matching then miss them) and write them all at once, in key order,
    /// when the run finishes: one random-order insert per author was what
    /// made a full-size import slow (issue 18).
    ///
    /// # Errors
    /// A storage error.
    fn begin_import_run(&self, source: &str, now: DateTime<Utc>) -> StoreResult<ImportRunId>;

    /// Records the end of an import run with its final counts, first
    /// writing any index rows the run deferred.
    ///
    /// # Errors
    /// A storage error.
    fn finish_import_run(
        &self,
        id: ImportRunId,
        counts: UpsertCounts,
        skipped: u64,
        status: ImportStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Up to `limit` papers changed after position `after` (from the start
    /// when `None`), in change order, each with its position, for
    /// resumable indexing. A paper appears once, at its latest change.
    ///
    /// # Errors
    /// A storage error or a row that cannot be decoded.
    fn changed_papers(
        &self,
        after: Option<ChangePosition>,
        limit: u32,
    ) -> StoreResult<Vec<(ChangePosition, Paper)>>;

    /// [`Self::changed_papers`] without the papers: up to `limit` (id,
    /// position, day) entries after `after`, in change order. A backfill
    /// lists them all (a few tens of bytes each) to work newest first.
    ///
    /// # Errors
    /// A storage error.
    fn changed_paper_days(
        &self,
        after: Option<ChangePosition>,
        limit: u32,
    ) -> StoreResult<Vec<ChangedDay>>;

    /// The position of the newest change: an index that has reached it has
    /// every paper, whichever node wrote it.
    ///
    /// # Errors
    /// A storage error.
    fn change_head(&self) -> StoreResult<ChangePosition>;

    /// Translates a cursor of the old `(modified_at, row id)` form, saved by
    /// an index before schema version 6, into a [`ChangePosition`] that
    /// covers the same papers, so an upgraded index resumes instead of
    /// starting over. Papers changed since the upgrade lie after it.
    ///
    /// # Errors
    /// A storage error.
    fn legacy_change_position(&self, modified_at: &str, row: i64) -> StoreResult<ChangePosition>;

    /// The stored state of a harvest, if it ever ran.
    ///
    /// # Errors
    /// A storage error.
    fn harvest_state(
        &self,
        source: &str,
        set_spec: &str,
        metadata_prefix: &str,
    ) -> StoreResult<Option<HarvestState>>;

    /// Stores one harvested page and the harvest's new state in one
    /// transaction: after a crash, either both are stored or neither.
    ///
    /// # Errors
    /// A storage error; nothing is stored then.
    fn save_harvest_page(
        &self,
        papers: &[Paper],
        state: &HarvestState,
        now: DateTime<Utc>,
    ) -> StoreResult<UpsertCounts>;

    /// The most recent import runs, newest first.
    ///
    /// # Errors
    /// A storage error.
    fn import_runs(&self, limit: u32) -> StoreResult<Vec<ImportRun>>;

    /// Catalog papers with these DOIs, compared ignoring case: (the DOI
    /// in lower case, the paper).
    ///
    /// # Errors
    /// A storage error.
    fn papers_by_doi(&self, dois: &[String]) -> StoreResult<Vec<(String, ArxivId)>>;

    /// Catalog papers whose title has one of these keys
    /// (`paperhub_domain::bib::title_key`): (the key, the paper).
    ///
    /// # Errors
    /// A storage error.
    fn papers_by_title(&self, keys: &[String]) -> StoreResult<Vec<(String, ArxivId)>>;
}
