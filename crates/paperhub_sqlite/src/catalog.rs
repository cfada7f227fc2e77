//! The catalog in SQLite: papers, import runs, harvest state and the change
//! feed.
//!
//! Tuned for bulk import: cached prepared statements on the one writer
//! connection, and one transaction per batch. Authors and versions are JSON
//! columns because they are always read whole. Categories are one
//! space-separated column: a `paper_categories` table with its own index
//! cost 10-20% of bulk import speed, and category filters belong to the
//! search index anyway; `stats` counts categories by streaming that column
//! instead.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use paperhub_domain::{ArxivId, MergeOutcome, Paper};
use paperhub_store::{
    CatalogStats, CatalogStore, ChangePosition, ChangedDay, HarvestState, ImportRun, ImportRunId,
    ImportStatus, StoreResult, UpsertCounts,
};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::SqliteStore;
use crate::error::DbError;

pub(crate) const PAPER_COLUMNS: &str = "arxiv_id, version, title, abstract, authors, primary_category, \
     categories, submitted, updated, announced, comments, journal_ref, doi, report_no, license, \
     msc_class, acm_class, submitter, versions, code_url";

impl SqliteStore {
    /// Merges `papers` and runs `also` in one transaction. Every write of
    /// papers goes through here, inside [`SqliteStore::write`] (which looks
    /// after the WAL once the transaction is committed).
    ///
    /// The transaction is `IMMEDIATE`: it holds the write lock from its
    /// first statement, so the change numbers it reads from
    /// `change_counter` cannot be taken by another writer before it commits,
    /// and they follow commit order (see [`CatalogStore::changed_papers`]).
    pub(crate) fn write_batch(
        &self,
        conn: &mut Connection,
        papers: &[Paper],
        now: DateTime<Utc>,
        also: impl FnOnce(&Connection, &str) -> Result<(), DbError>,
    ) -> Result<UpsertCounts, DbError> {
        let now = now.to_rfc3339_opts(SecondsFormat::Secs, true);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let counts = upsert_in(&tx, papers, &now, self.importing())?;
        also(&tx, &now)?;
        tx.commit()?;
        Ok(counts)
    }

    pub(crate) fn load(conn: &Connection, arxiv_id: &str) -> Result<Option<(i64, Paper)>, DbError> {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT id, {PAPER_COLUMNS} FROM papers WHERE arxiv_id = ?1"
        ))?;
        let row = stmt
            .query_row([arxiv_id], |row| {
                Ok((row.get::<_, i64>(0)?, RawPaper::from_row(row)?))
            })
            .optional()?;
        row.map(|(id, raw)| raw.into_paper().map(|p| (id, p)))
            .transpose()
    }
}

fn ts(d: Option<DateTime<Utc>>) -> Option<String> {
    d.map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn json<T: serde::Serialize>(value: &T, arxiv_id: &ArxivId) -> Result<String, DbError> {
    serde_json::to_string(value).map_err(|e| DbError::corrupt_paper(arxiv_id, e))
}

/// Papers per distinct category list, read from the covering index
/// `papers_categories` (migration 13).
const STATS_BY_CATEGORIES: &str = "SELECT categories, COUNT(*) FROM papers GROUP BY categories";

/// Papers per month, read from the expression index `papers_month`
/// (migration 13; the expression must stay the same).
const STATS_BY_MONTH: &str = "SELECT substr(COALESCE(submitted, announced), 1, 7), COUNT(*) \
     FROM papers WHERE substr(COALESCE(submitted, announced), 1, 7) IS NOT NULL \
     GROUP BY substr(COALESCE(submitted, announced), 1, 7) ORDER BY 1";

/// A row as stored, before decoding.
pub(crate) struct RawPaper {
    arxiv_id: String,
    version: Option<u32>,
    title: String,
    abstract_text: String,
    authors: String,
    primary_category: Option<String>,
    categories: String,
    submitted: Option<String>,
    updated: Option<String>,
    announced: Option<String>,
    comments: Option<String>,
    journal_ref: Option<String>,
    doi: Option<String>,
    report_no: Option<String>,
    license: Option<String>,
    msc_class: Option<String>,
    acm_class: Option<String>,
    submitter: Option<String>,
    versions: String,
    code_url: Option<String>,
}

impl RawPaper {
    /// Reads the [`PAPER_COLUMNS`] starting at column 1.
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<RawPaper> {
        Ok(RawPaper {
            arxiv_id: row.get(1)?,
            version: row.get(2)?,
            title: row.get(3)?,
            abstract_text: row.get(4)?,
            authors: row.get(5)?,
            primary_category: row.get(6)?,
            categories: row.get(7)?,
            submitted: row.get(8)?,
            updated: row.get(9)?,
            announced: row.get(10)?,
            comments: row.get(11)?,
            journal_ref: row.get(12)?,
            doi: row.get(13)?,
            report_no: row.get(14)?,
            license: row.get(15)?,
            msc_class: row.get(16)?,
            acm_class: row.get(17)?,
            submitter: row.get(18)?,
            versions: row.get(19)?,
            code_url: row.get(20)?,
        })
    }

    pub(crate) fn into_paper(self) -> Result<Paper, DbError> {
        let corrupt = |reason: String| DbError::corrupt_paper(&self.arxiv_id, reason);
        let id = ArxivId::parse_bare(&self.arxiv_id).map_err(|e| corrupt(e.to_string()))?;
        let date = |s: &Option<String>| -> Result<Option<DateTime<Utc>>, DbError> {
            s.as_deref()
                .map(|s| {
                    DateTime::parse_from_rfc3339(s)
                        .map(|d| d.with_timezone(&Utc))
                        .map_err(|e| corrupt(format!("date '{s}': {e}")))
                })
                .transpose()
        };
        let mut paper = Paper::new(id, self.title.clone(), self.abstract_text.clone());
        paper.version = self.version;
        paper.authors =
            serde_json::from_str(&self.authors).map_err(|e| corrupt(format!("authors: {e}")))?;
        paper.primary_category = self.primary_category.clone();
        paper.categories = self
            .categories
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        paper.submitted = date(&self.submitted)?;
        paper.updated = date(&self.updated)?;
        paper.announced = self
            .announced
            .as_deref()
            .map(|s| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|e| corrupt(format!("announced '{s}': {e}")))
            })
            .transpose()?;
        paper.comments = self.comments.clone();
        paper.journal_ref = self.journal_ref.clone();
        paper.doi = self.doi.clone();
        paper.report_no = self.report_no.clone();
        paper.license = self.license.clone();
        paper.msc_class = self.msc_class.clone();
        paper.acm_class = self.acm_class.clone();
        paper.submitter = self.submitter.clone();
        paper.versions =
            serde_json::from_str(&self.versions).map_err(|e| corrupt(format!("versions: {e}")))?;
        paper.code_url = self.code_url.clone();
        Ok(paper)
    }
}

/// How [`write_paper`] writes a row.
#[derive(Clone, Copy)]
enum Write {
    /// Insert unless the id exists; the result says whether it did.
    InsertIfAbsent,
    /// Overwrite the existing row.
    Update,
}

/// Writes `paper` with change number `seq`; returns false only when
/// `InsertIfAbsent` found the id present (and `seq` was not used).
fn write_paper(
    conn: &Connection,
    mode: Write,
    paper: &Paper,
    now: &str,
    seq: i64,
) -> Result<bool, DbError> {
    let authors = json(&paper.authors, &paper.id)?;
    let versions = json(&paper.versions, &paper.id)?;
    let categories = paper.categories.join(" ");
    let announced = paper.announced.map(|d| d.format("%Y-%m-%d").to_string());
    let values = params![
        paper.id.base(),
        paper.version,
        paper.title,
        paper.abstract_text,
        authors,
        paper.primary_category,
        categories,
        ts(paper.submitted),
        ts(paper.updated),
        announced,
        paper.comments,
        paper.journal_ref,
        paper.doi,
        paper.report_no,
        paper.license,
        paper.msc_class,
        paper.acm_class,
        paper.submitter,
        versions,
        paper.code_url,
        now,
        seq,
    ];
    match mode {
        Write::InsertIfAbsent => {
            let mut stmt = conn.prepare_cached(&format!(
                "INSERT INTO papers ({PAPER_COLUMNS}, created_at, modified_at, change_seq) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?21, ?22) \
                 ON CONFLICT (arxiv_id) DO NOTHING"
            ))?;
            Ok(stmt.execute(values)? == 1)
        }
        Write::Update => {
            let mut stmt = conn.prepare_cached(
                "UPDATE papers SET version = ?2, title = ?3, abstract = ?4, authors = ?5, \
                 primary_category = ?6, categories = ?7, submitted = ?8, updated = ?9, \
                 announced = ?10, comments = ?11, journal_ref = ?12, doi = ?13, report_no = ?14, \
                 license = ?15, msc_class = ?16, acm_class = ?17, submitter = ?18, versions = ?19, \
                 code_url = ?20, modified_at = ?21, change_seq = ?22 WHERE arxiv_id = ?1",
            )?;
            stmt.execute(values)?;
            Ok(true)
        }
    }
}

fn parse_ts(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|d| d.with_timezone(&Utc))
}

/// The most recent `limit` import runs, newest first.
fn import_runs_in(conn: &Connection, limit: u32) -> Result<Vec<ImportRun>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, source, started_at, finished_at, status, new, updated, unchanged, skipped \
         FROM import_runs ORDER BY id DESC LIMIT ?1",
    )?;
    let runs = stmt
        .query_map([limit], import_run_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(runs)
}

fn import_run_from_row(row: &Row<'_>) -> rusqlite::Result<ImportRun> {
    let status: String = row.get(4)?;
    Ok(ImportRun {
        id: ImportRunId(row.get(0)?),
        source: row.get(1)?,
        started_at: parse_ts(row.get(2)?).unwrap_or_default(),
        finished_at: parse_ts(row.get(3)?),
        status: ImportStatus::parse(&status),
        counts: UpsertCounts {
            new: row.get(5)?,
            updated: row.get(6)?,
            unchanged: row.get(7)?,
        },
        skipped: row.get(8)?,
    })
}

impl CatalogStore for SqliteStore {
    fn upsert_papers(&self, papers: &[Paper], now: DateTime<Utc>) -> StoreResult<UpsertCounts> {
        self.write(|conn| self.write_batch(conn, papers, now, |_, _| Ok(())))
    }

    fn changed_papers(
        &self,
        after: Option<ChangePosition>,
        limit: u32,
    ) -> StoreResult<Vec<(ChangePosition, Paper)>> {
        self.read(|conn| {
            let after = after.map_or(0, |p| p.0);
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT id, {PAPER_COLUMNS}, change_seq FROM papers \
                 WHERE change_seq > ?1 ORDER BY change_seq LIMIT ?2"
            ))?;
            let rows = stmt
                .query_map(params![after, limit], |r| {
                    Ok((r.get::<_, i64>(21)?, RawPaper::from_row(r)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(seq, raw)| Ok((ChangePosition(seq), raw.into_paper()?)))
                .collect()
        })
    }

    fn changed_paper_days(
        &self,
        after: Option<ChangePosition>,
        limit: u32,
    ) -> StoreResult<Vec<ChangedDay>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT change_seq, arxiv_id, coalesce(announced, substr(submitted, 1, 10)) \
                 FROM papers WHERE change_seq > ?1 ORDER BY change_seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after.map_or(0, |p| p.0), limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?;
            rows.map(|row| {
                let (seq, id, day) = row?;
                Ok(ChangedDay {
                    position: ChangePosition(seq),
                    id: id.parse().map_err(|e| DbError::corrupt_paper(&id, e))?,
                    day: day.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
                })
            })
            .collect()
        })
    }

    fn change_head(&self) -> StoreResult<ChangePosition> {
        self.read(|conn| {
            Ok(ChangePosition(
                conn.prepare_cached("SELECT last_seq FROM change_counter WHERE id = 1")?
                    .query_row([], |r| r.get(0))?,
            ))
        })
    }

    fn legacy_change_position(&self, modified_at: &str, row: i64) -> StoreResult<ChangePosition> {
        self.read(|conn| {
            // Rows the backfill numbered kept their (modified_at, id) order, so
            // the old cursor covers a prefix of them. A row changed since then
            // has a number above `legacy_seq` and is indexed again anyway.
            let seq = conn.query_row(
                "SELECT coalesce(max(change_seq), 0) FROM papers \
                 WHERE change_seq <= (SELECT legacy_seq FROM change_counter) \
                   AND (modified_at, id) <= (?1, ?2)",
                params![modified_at, row],
                |r| r.get(0),
            )?;
            Ok(ChangePosition(seq))
        })
    }

    fn harvest_state(
        &self,
        source: &str,
        set_spec: &str,
        metadata_prefix: &str,
    ) -> StoreResult<Option<HarvestState>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT window_from, window_until, resumption_token, pages, last_complete \
                 FROM harvest_state WHERE source = ?1 AND set_spec = ?2 AND metadata_prefix = ?3",
            )?;
            let state = stmt
                .query_row(params![source, set_spec, metadata_prefix], |r| {
                    Ok(HarvestState {
                        source: source.to_owned(),
                        set_spec: set_spec.to_owned(),
                        metadata_prefix: metadata_prefix.to_owned(),
                        window_from: r.get(0)?,
                        window_until: r.get(1)?,
                        resumption_token: r.get(2)?,
                        pages: r.get(3)?,
                        last_complete: r.get(4)?,
                    })
                })
                .optional()?;
            Ok(state)
        })
    }

    fn save_harvest_page(
        &self,
        papers: &[Paper],
        state: &HarvestState,
        now: DateTime<Utc>,
    ) -> StoreResult<UpsertCounts> {
        self.write(|conn| {
            self.write_batch(conn, papers, now, |tx, now| {
                tx.execute(
                "INSERT INTO harvest_state (source, set_spec, metadata_prefix, window_from, window_until, \
                 resumption_token, pages, last_complete, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (source, set_spec, metadata_prefix) DO UPDATE SET window_from = ?4, \
                 window_until = ?5, resumption_token = ?6, pages = ?7, last_complete = ?8, updated_at = ?9",
                params![
                    state.source,
                    state.set_spec,
                    state.metadata_prefix,
                    state.window_from,
                    state.window_until,
                    state.resumption_token,
                    state.pages,
                    state.last_complete,
                    now
                ],
                )?;
                Ok(())
            })
        })
    }

    fn paper(&self, id: &ArxivId) -> StoreResult<Option<Paper>> {
        self.read(|conn| Ok(SqliteStore::load(conn, id.base())?.map(|(_, p)| p)))
    }

    fn count_papers(&self) -> StoreResult<u64> {
        self.read(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM papers", [], |r| r.get(0))?))
    }

    fn stats(&self) -> StoreResult<CatalogStats> {
        self.read(|conn| {
            let papers = conn.query_row("SELECT COUNT(*) FROM papers", [], |r| r.get(0))?;
            // Distinct category lists with their counts, from the covering
            // index papers_categories (migration 13), then split here.
            let mut counts: HashMap<String, u64> = HashMap::new();
            let mut stmt = conn.prepare(STATS_BY_CATEGORIES)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let categories: String = row.get(0)?;
                let n: u64 = row.get(1)?;
                for category in categories.split(' ').filter(|c| !c.is_empty()) {
                    match counts.get_mut(category) {
                        Some(total) => *total += n,
                        None => {
                            counts.insert(category.to_owned(), n);
                        }
                    }
                }
            }
            let mut by_category: Vec<(String, u64)> = counts.into_iter().collect();
            by_category.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let mut stmt = conn.prepare(STATS_BY_MONTH)?;
            let by_month = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            let last_import = import_runs_in(conn, 1)?.into_iter().next();
            Ok(CatalogStats {
                papers,
                by_category,
                by_month,
                last_import,
            })
        })
    }

    fn begin_import_run(&self, source: &str, now: DateTime<Utc>) -> StoreResult<ImportRunId> {
        self.write(|conn| {
            conn.execute(
                "INSERT INTO import_runs (source, started_at, status) VALUES (?1, ?2, 'running')",
                params![source, ts(Some(now))],
            )?;
            self.open_runs.fetch_add(1, Ordering::SeqCst);
            Ok(ImportRunId(conn.last_insert_rowid()))
        })
    }

    fn finish_import_run(
        &self,
        id: ImportRunId,
        counts: UpsertCounts,
        skipped: u64,
        status: ImportStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.write(|conn| {
            // The last open run writes what the runs deferred; the run is
            // closed even if that fails (the next open tries again).
            let last = self
                .open_runs
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok_and(|n| n == 1);
            let flushed = if last {
                crate::authors::flush_backlog(conn).map(|_| ())
            } else {
                Ok(())
            };
            conn.execute(
                "UPDATE import_runs SET finished_at = ?2, status = ?3, new = ?4, updated = ?5, \
                 unchanged = ?6, skipped = ?7 WHERE id = ?1",
                params![
                    id.0,
                    ts(Some(now)),
                    status.as_str(),
                    counts.new,
                    counts.updated,
                    counts.unchanged,
                    skipped
                ],
            )?;
            flushed
        })
    }

    fn import_runs(&self, limit: u32) -> StoreResult<Vec<ImportRun>> {
        self.read(|conn| import_runs_in(conn, limit))
    }

    fn papers_by_doi(&self, dois: &[String]) -> StoreResult<Vec<(String, ArxivId)>> {
        self.read(|conn| crate::authors::by_doi(conn, dois))
    }

    fn papers_by_title(&self, keys: &[String]) -> StoreResult<Vec<(String, ArxivId)>> {
        self.read(|conn| crate::authors::by_title(conn, keys))
    }
}

/// Merges `papers` inside an open write transaction, giving every row it
/// writes the next change number. With `defer_index` (an import run is
/// open) new papers are queued for the author and title index instead of
/// indexed now; see [`crate::authors::flush_backlog`].
fn upsert_in(
    tx: &Connection,
    papers: &[Paper],
    now: &str,
    defer_index: bool,
) -> Result<UpsertCounts, DbError> {
    let mut counts = UpsertCounts::default();
    // Read once and written back once: the caller holds the write lock.
    let first: i64 = tx
        .prepare_cached("SELECT last_seq FROM change_counter WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    let mut last = first;
    for incoming in papers {
        // Bulk imports are mostly new papers: try the insert first and
        // only read the stored row when the id is already there.
        if write_paper(tx, Write::InsertIfAbsent, incoming, now, last + 1)? {
            if defer_index {
                crate::authors::defer_index(tx, incoming)?;
            } else {
                crate::authors::index_paper(tx, incoming, false)?;
            }
            last += 1;
            counts.new += 1;
            continue;
        }
        let (_, stored) = SqliteStore::load(tx, incoming.id.base())?.ok_or_else(|| {
            DbError::corrupt_paper(&incoming.id, "insert reported a conflict but no row exists")
        })?;
        match stored.merge(incoming) {
            MergeOutcome::Unchanged => counts.unchanged += 1,
            MergeOutcome::Updated(merged) => {
                write_paper(tx, Write::Update, &merged, now, last + 1)?;
                if merged.authors != stored.authors || merged.title != stored.title {
                    crate::authors::index_paper(tx, &merged, true)?;
                }
                last += 1;
                counts.updated += 1;
            }
        }
    }
    if last != first {
        tx.prepare_cached("UPDATE change_counter SET last_seq = ?1 WHERE id = 1")?
            .execute([last])?;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use paperhub_domain::{Author, Version};

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("paperhub.sqlite3")).unwrap();
        (dir, store)
    }

    fn paper(id: &str, version: u32, title: &str) -> Paper {
        let mut p = Paper::new(id.parse().unwrap(), title.into(), "An abstract.".into());
        p.authors = vec![Author::from_display_name("Ada Lovelace")];
        p.categories = vec!["cs.CL".into(), "cs.AI".into()];
        p.versions = (1..=version)
            .map(|v| Version {
                version: v,
                date: Some(Utc.with_ymd_and_hms(2025, 1, v, 12, 0, 0).unwrap()),
                size: None,
            })
            .collect();
        p.announced = NaiveDate::from_ymd_opt(2025, 3, 18);
        p.finalize();
        p
    }

    /// Without the checkpointer thread (as when it cannot keep up with a
    /// bulk import) the WAL would grow with every batch; the writer's own
    /// checkpoint keeps it near its limit. Without `bound_wal` this test's
    /// WAL reaches several megabytes.
    #[test]
    fn a_bulk_write_keeps_the_wal_near_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let limit = 256 * 1024;
        let store = SqliteStore::open_without_checkpointer(&path, limit);
        let abstract_text = "words of an abstract ".repeat(100);
        let mut largest = 0;
        for batch in 0..40 {
            let papers: Vec<Paper> = (0..50)
                .map(|n| {
                    let mut p = paper(&format!("2501.{:05}", batch * 50 + n), 1, "Title");
                    p.abstract_text = abstract_text.clone();
                    p
                })
                .collect();
            store.upsert_papers(&papers, Utc::now()).unwrap();
            let wal = std::fs::metadata(dir.path().join("db.sqlite3-wal")).map_or(0, |m| m.len());
            largest = largest.max(wal);
        }
        assert_eq!(store.count_papers().unwrap(), 2000);
        // One batch is about 120 KB of rows, in 16 KiB pages.
        assert!(
            largest < limit + 1024 * 1024,
            "the WAL reached {largest} bytes"
        );
    }

    #[test]
    fn reopening_keeps_data_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        {
            let store = SqliteStore::open(&path).unwrap();
            store
                .upsert_papers(&[paper("2501.00001", 1, "A")], Utc::now())
                .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.count_papers().unwrap(), 1);
    }

    #[test]
    fn a_paper_write_that_skips_the_change_number_is_refused() {
        let (_dir, store) = store();
        store
            .upsert_papers(&[paper("2501.00001", 1, "A")], Utc::now())
            .unwrap();
        let err = store
            .writer()
            .execute("UPDATE papers SET title = 'sneaky'", [])
            .unwrap_err();
        assert!(err.to_string().contains("change_seq"), "{err}");
        let err = store
            .writer()
            .execute(
                "INSERT INTO papers (arxiv_id, title, abstract, authors, categories, versions, \
                 created_at, modified_at) VALUES ('2501.00002', 'T', 'A', '[]', '', '[]', '', '')",
                [],
            )
            .unwrap_err();
        assert!(err.to_string().contains("change_seq"), "{err}");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 999")
            .unwrap();
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(err.to_string().contains("newer than this build"), "{err}");
    }

    /// `stats` reads the two covering indexes, not the papers table: a
    /// changed expression would silently scan gigabytes again. See: #18
    #[test]
    fn stats_queries_use_their_covering_indexes() {
        let (_dir, store) = store();
        let conn = store.writer();
        let plan = |sql: &str| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            stmt.query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
                .join("; ")
        };
        let categories = plan(STATS_BY_CATEGORIES);
        assert!(
            categories.contains("COVERING INDEX papers_categories"),
            "{categories}"
        );
        let months = plan(STATS_BY_MONTH);
        assert!(months.contains("INDEX papers_month"), "{months}");
        assert!(!months.contains("TEMP B-TREE"), "{months}");
    }
}
