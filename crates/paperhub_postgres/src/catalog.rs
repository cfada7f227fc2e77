//! The catalog on PostgreSQL: papers, import runs, harvest state and the
//! change feed.
//!
//! A batch of papers is one transaction of a handful of statements,
//! whatever its size: lock the change counter, read the stored rows of the
//! batch's ids at once, merge in Rust with [`Paper::merge`] (the same rules
//! as SQLite), then one `INSERT … SELECT FROM unnest(…)` for new papers and
//! one `UPDATE … FROM unnest(…)` for changed ones. Holding the counter row
//! makes change numbers follow commit order across nodes.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use paperhub_domain::{ArxivId, MergeOutcome, Paper};
use paperhub_store::{
    CatalogStats, CatalogStore, ChangePosition, ChangedDay, HarvestState, ImportRun, ImportRunId,
    ImportStatus, StoreResult, UpsertCounts,
};
use postgres::Transaction;

use crate::PgStore;
use crate::error::DbError;
use crate::rows::{PAPER_COLUMNS, count, int8, opt_text, paper_from_row, text};

/// Papers as columns, for `unnest`.
#[derive(Default)]
struct Columns {
    arxiv_id: Vec<String>,
    version: Vec<Option<i32>>,
    title: Vec<String>,
    abstract_text: Vec<String>,
    authors: Vec<String>,
    primary_category: Vec<Option<String>>,
    categories: Vec<String>,
    submitted: Vec<Option<DateTime<Utc>>>,
    updated: Vec<Option<DateTime<Utc>>>,
    announced: Vec<Option<NaiveDate>>,
    comments: Vec<Option<String>>,
    journal_ref: Vec<Option<String>>,
    doi: Vec<Option<String>>,
    report_no: Vec<Option<String>>,
    license: Vec<Option<String>>,
    msc_class: Vec<Option<String>>,
    acm_class: Vec<Option<String>>,
    submitter: Vec<Option<String>>,
    versions: Vec<String>,
    code_url: Vec<Option<String>>,
    change_seq: Vec<i64>,
}

/// To the second, as SQLite stores paper dates, so both backends hold
/// the same values and `store copy` round-trips.
fn second(d: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    d.map(|d| d.with_nanosecond(0).unwrap_or(d))
}

impl Columns {
    fn push(&mut self, p: &Paper, seq: i64) -> Result<(), DbError> {
        let json =
            |v: Result<String, serde_json::Error>| v.map_err(|e| DbError::corrupt_paper(&p.id, e));
        let o = |s: &Option<String>| opt_text(s.as_deref()).map(|c| c.into_owned());
        self.arxiv_id.push(p.id.base().to_owned());
        self.version
            .push(p.version.map(|v| i32::try_from(v).unwrap_or(i32::MAX)));
        self.title.push(text(&p.title).into_owned());
        self.abstract_text.push(text(&p.abstract_text).into_owned());
        self.authors
            .push(text(&json(serde_json::to_string(&p.authors))?).into_owned());
        self.primary_category.push(o(&p.primary_category));
        self.categories
            .push(text(&p.categories.join(" ")).into_owned());
        self.submitted.push(second(p.submitted));
        self.updated.push(second(p.updated));
        self.announced.push(p.announced);
        self.comments.push(o(&p.comments));
        self.journal_ref.push(o(&p.journal_ref));
        self.doi.push(o(&p.doi));
        self.report_no.push(o(&p.report_no));
        self.license.push(o(&p.license));
        self.msc_class.push(o(&p.msc_class));
        self.acm_class.push(o(&p.acm_class));
        self.submitter.push(o(&p.submitter));
        self.versions
            .push(text(&json(serde_json::to_string(&p.versions))?).into_owned());
        self.code_url.push(o(&p.code_url));
        self.change_seq.push(seq);
        Ok(())
    }
}

/// The `unnest` of [`Columns`] as `u`, parameters `$1`–`$21`.
const UNNEST: &str = "unnest($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::date[], $11::text[], \
     $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], \
     $19::text[], $20::text[], $21::int8[]) AS u(arxiv_id, version, title, abstract, authors, \
     primary_category, categories, submitted, updated, announced, comments, journal_ref, doi, \
     report_no, license, msc_class, acm_class, submitter, versions, code_url, change_seq)";

fn write_columns(
    tx: &mut Transaction<'_>,
    sql: &str,
    c: &Columns,
    now: &DateTime<Utc>,
) -> Result<u64, DbError> {
    Ok(tx.execute(
        sql,
        &[
            &c.arxiv_id,
            &c.version,
            &c.title,
            &c.abstract_text,
            &c.authors,
            &c.primary_category,
            &c.categories,
            &c.submitted,
            &c.updated,
            &c.announced,
            &c.comments,
            &c.journal_ref,
            &c.doi,
            &c.report_no,
            &c.license,
            &c.msc_class,
            &c.acm_class,
            &c.submitter,
            &c.versions,
            &c.code_url,
            &c.change_seq,
            now,
        ],
    )?)
}

/// Merges `papers` inside an open transaction; see the module docs.
pub(crate) fn upsert_in(
    tx: &mut Transaction<'_>,
    papers: &[Paper],
    now: DateTime<Utc>,
) -> Result<UpsertCounts, DbError> {
    let mut counts = UpsertCounts::default();
    if papers.is_empty() {
        return Ok(counts);
    }
    let now = second(Some(now)).unwrap_or(now);
    let first: i64 = tx
        .query_one(
            "SELECT last_seq FROM change_counter WHERE id = 1 FOR UPDATE",
            &[],
        )?
        .try_get(0)?;
    let mut ids: Vec<&str> = papers.iter().map(|p| p.id.base()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut stored: HashMap<String, Paper> = HashMap::new();
    for row in tx.query(
        &format!("SELECT {PAPER_COLUMNS} FROM papers WHERE arxiv_id = ANY($1)"),
        &[&ids],
    )? {
        let p = paper_from_row(&row, 0)?;
        stored.insert(p.id.base().to_owned(), p);
    }
    // The paper to write per id, whether it is new, and the position of
    // its last write in the batch (which orders the change numbers).
    let mut pending: HashMap<&str, (Paper, bool, usize)> = HashMap::new();
    for (i, incoming) in papers.iter().enumerate() {
        let key = incoming.id.base();
        if let Some((current, _, at)) = pending.get_mut(key) {
            match current.merge(incoming) {
                MergeOutcome::Unchanged => counts.unchanged += 1,
                MergeOutcome::Updated(merged) => {
                    *current = *merged;
                    *at = i;
                    counts.updated += 1;
                }
            }
        } else if let Some(old) = stored.get(key) {
            match old.merge(incoming) {
                MergeOutcome::Unchanged => counts.unchanged += 1,
                MergeOutcome::Updated(merged) => {
                    pending.insert(key, (*merged, false, i));
                    counts.updated += 1;
                }
            }
        } else {
            pending.insert(key, (incoming.clone(), true, i));
            counts.new += 1;
        }
    }
    let mut writes: Vec<(Paper, bool, usize)> = pending.into_values().collect();
    writes.sort_by_key(|(_, _, at)| *at);
    let (mut new, mut changed) = (Columns::default(), Columns::default());
    let mut last = first;
    for (paper, is_new, _) in &writes {
        last += 1;
        if *is_new {
            new.push(paper, last)?;
        } else {
            changed.push(paper, last)?;
        }
    }
    if !new.arxiv_id.is_empty() {
        let sql = format!(
            "INSERT INTO papers ({PAPER_COLUMNS}, change_seq, created_at, modified_at) \
             SELECT u.*, $22, $22 FROM {UNNEST}"
        );
        write_columns(tx, &sql, &new, &now)?;
    }
    if !changed.arxiv_id.is_empty() {
        let sql = format!(
            "UPDATE papers p SET version = u.version, title = u.title, abstract = u.abstract, \
             authors = u.authors, primary_category = u.primary_category, \
             categories = u.categories, submitted = u.submitted, updated = u.updated, \
             announced = u.announced, comments = u.comments, journal_ref = u.journal_ref, \
             doi = u.doi, report_no = u.report_no, license = u.license, \
             msc_class = u.msc_class, acm_class = u.acm_class, submitter = u.submitter, \
             versions = u.versions, code_url = u.code_url, change_seq = u.change_seq, \
             modified_at = $22 FROM {UNNEST} WHERE p.arxiv_id = u.arxiv_id"
        );
        write_columns(tx, &sql, &changed, &now)?;
    }
    // The author index: new papers, and changed ones whose authors changed.
    let reindexed: Vec<&Paper> = writes
        .iter()
        .filter(|(p, is_new, _)| {
            *is_new
                || stored
                    .get(p.id.base())
                    .is_none_or(|old| old.authors != p.authors || old.title != p.title)
        })
        .map(|(p, _, _)| p)
        .collect();
    let replaced: Vec<&str> = reindexed
        .iter()
        .map(|p| p.id.base())
        .filter(|id| stored.contains_key(*id))
        .collect();
    crate::authors::index_papers(tx, &reindexed, &replaced)?;
    if last != first {
        tx.execute(
            "UPDATE change_counter SET last_seq = $1 WHERE id = 1",
            &[&last],
        )?;
    }
    Ok(counts)
}

fn import_run(row: &postgres::Row) -> Result<ImportRun, DbError> {
    let status: String = row.try_get(4)?;
    Ok(ImportRun {
        id: ImportRunId(row.try_get(0)?),
        source: row.try_get(1)?,
        started_at: row.try_get(2)?,
        finished_at: row.try_get(3)?,
        status: ImportStatus::parse(&status),
        counts: UpsertCounts {
            new: count(row.try_get(5)?),
            updated: count(row.try_get(6)?),
            unchanged: count(row.try_get(7)?),
        },
        skipped: count(row.try_get(8)?),
    })
}

fn import_runs_in(
    client: &mut impl postgres::GenericClient,
    limit: u32,
) -> Result<Vec<ImportRun>, DbError> {
    client
        .query(
            "SELECT id, source, started_at, finished_at, status, new, updated, unchanged, \
             skipped FROM import_runs ORDER BY id DESC LIMIT $1",
            &[&i64::from(limit)],
        )?
        .iter()
        .map(import_run)
        .collect()
}

impl CatalogStore for PgStore {
    fn upsert_papers(&self, papers: &[Paper], now: DateTime<Utc>) -> StoreResult<UpsertCounts> {
        self.write(|tx| upsert_in(tx, papers, now))
    }

    fn paper(&self, id: &ArxivId) -> StoreResult<Option<Paper>> {
        self.read(|c| {
            c.query_opt(
                &format!("SELECT {PAPER_COLUMNS} FROM papers WHERE arxiv_id = $1"),
                &[&id.base()],
            )?
            .map(|row| paper_from_row(&row, 0))
            .transpose()
        })
    }

    fn count_papers(&self) -> StoreResult<u64> {
        self.read(|c| {
            Ok(count(
                c.query_one("SELECT count(*) FROM papers", &[])?
                    .try_get(0)?,
            ))
        })
    }

    fn stats(&self) -> StoreResult<CatalogStats> {
        self.read(|c| {
            let papers = count(c.query_one("SELECT count(*) FROM papers", &[])?.try_get(0)?);
            let mut by_category: Vec<(String, u64)> = c
                .query(
                    "SELECT category, count(*) FROM papers, \
                     unnest(string_to_array(categories, ' ')) AS category \
                     WHERE category <> '' GROUP BY category",
                    &[],
                )?
                .iter()
                .map(|r| Ok((r.try_get(0)?, count(r.try_get(1)?))))
                .collect::<Result<_, DbError>>()?;
            by_category.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let by_month = c
                .query(
                    "SELECT to_char(coalesce(submitted AT TIME ZONE 'UTC', announced::timestamp), \
                     'YYYY-MM') AS month, count(*) FROM papers \
                     WHERE coalesce(submitted AT TIME ZONE 'UTC', announced::timestamp) IS NOT NULL \
                     GROUP BY month ORDER BY month",
                    &[],
                )?
                .iter()
                .map(|r| Ok((r.try_get(0)?, count(r.try_get(1)?))))
                .collect::<Result<_, DbError>>()?;
            let last_import = import_runs_in(c, 1)?.into_iter().next();
            Ok(CatalogStats {
                papers,
                by_category,
                by_month,
                last_import,
            })
        })
    }

    fn begin_import_run(&self, source: &str, now: DateTime<Utc>) -> StoreResult<ImportRunId> {
        self.write(|tx| {
            Ok(ImportRunId(
                tx.query_one(
                    "INSERT INTO import_runs (source, started_at, status) \
                     VALUES ($1, $2, 'running') RETURNING id",
                    &[&text(source), &now],
                )?
                .try_get(0)?,
            ))
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
        self.write(|tx| {
            tx.execute(
                "UPDATE import_runs SET finished_at = $2, status = $3, new = $4, updated = $5, \
                 unchanged = $6, skipped = $7 WHERE id = $1",
                &[
                    &id.0,
                    &now,
                    &status.as_str(),
                    &int8(counts.new),
                    &int8(counts.updated),
                    &int8(counts.unchanged),
                    &int8(skipped),
                ],
            )?;
            Ok(())
        })
    }

    fn import_runs(&self, limit: u32) -> StoreResult<Vec<ImportRun>> {
        self.read(|c| import_runs_in(c, limit))
    }

    fn papers_by_doi(&self, dois: &[String]) -> StoreResult<Vec<(String, ArxivId)>> {
        self.read(|c| crate::authors::by_doi(c, dois))
    }

    fn papers_by_title(&self, keys: &[String]) -> StoreResult<Vec<(String, ArxivId)>> {
        self.read(|c| crate::authors::by_title(c, keys))
    }

    fn changed_papers(
        &self,
        after: Option<ChangePosition>,
        limit: u32,
    ) -> StoreResult<Vec<(ChangePosition, Paper)>> {
        let after = after.map_or(0, |p| p.0);
        self.read(|c| {
            c.query(
                &format!(
                    "SELECT {PAPER_COLUMNS}, change_seq FROM papers \
                     WHERE change_seq > $1 ORDER BY change_seq LIMIT $2"
                ),
                &[&after, &i64::from(limit)],
            )?
            .iter()
            .map(|row| Ok((ChangePosition(row.try_get(20)?), paper_from_row(row, 0)?)))
            .collect()
        })
    }

    fn changed_paper_days(
        &self,
        after: Option<ChangePosition>,
        limit: u32,
    ) -> StoreResult<Vec<ChangedDay>> {
        let after = after.map_or(0, |p| p.0);
        self.read(|c| {
            c.query(
                "SELECT change_seq, arxiv_id, coalesce(announced, submitted::date) \
                 FROM papers WHERE change_seq > $1 ORDER BY change_seq LIMIT $2",
                &[&after, &i64::from(limit)],
            )?
            .iter()
            .map(|row| {
                let id: String = row.try_get(1)?;
                Ok(ChangedDay {
                    position: ChangePosition(row.try_get(0)?),
                    id: id.parse().map_err(|e| DbError::corrupt_paper(&id, e))?,
                    day: row.try_get(2)?,
                })
            })
            .collect()
        })
    }

    fn change_head(&self) -> StoreResult<ChangePosition> {
        self.read(|c| {
            Ok(ChangePosition(
                c.query_one("SELECT last_seq FROM change_counter WHERE id = 1", &[])?
                    .try_get(0)?,
            ))
        })
    }

    fn legacy_change_position(&self, _modified_at: &str, _row: i64) -> StoreResult<ChangePosition> {
        // No PostgreSQL database predates change numbers.
        Ok(ChangePosition(0))
    }

    fn harvest_state(
        &self,
        source: &str,
        set_spec: &str,
        metadata_prefix: &str,
    ) -> StoreResult<Option<HarvestState>> {
        self.read(|c| {
            c.query_opt(
                "SELECT window_from, window_until, resumption_token, pages, last_complete \
                 FROM harvest_state \
                 WHERE source = $1 AND set_spec = $2 AND metadata_prefix = $3",
                &[&text(source), &text(set_spec), &text(metadata_prefix)],
            )?
            .map(|r| {
                Ok(HarvestState {
                    source: source.to_owned(),
                    set_spec: set_spec.to_owned(),
                    metadata_prefix: metadata_prefix.to_owned(),
                    window_from: r.try_get(0)?,
                    window_until: r.try_get(1)?,
                    resumption_token: r.try_get(2)?,
                    pages: count(r.try_get(3)?),
                    last_complete: r.try_get(4)?,
                })
            })
            .transpose()
        })
    }

    fn save_harvest_page(
        &self,
        papers: &[Paper],
        state: &HarvestState,
        now: DateTime<Utc>,
    ) -> StoreResult<UpsertCounts> {
        self.write(|tx| {
            let counts = upsert_in(tx, papers, now)?;
            tx.execute(
                "INSERT INTO harvest_state (source, set_spec, metadata_prefix, window_from, \
                 window_until, resumption_token, pages, last_complete, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (source, set_spec, metadata_prefix) DO UPDATE SET \
                 window_from = $4, window_until = $5, resumption_token = $6, pages = $7, \
                 last_complete = $8, updated_at = $9",
                &[
                    &text(&state.source),
                    &text(&state.set_spec),
                    &text(&state.metadata_prefix),
                    &opt_text(state.window_from.as_deref()),
                    &opt_text(state.window_until.as_deref()),
                    &opt_text(state.resumption_token.as_deref()),
                    &int8(state.pages),
                    &opt_text(state.last_complete.as_deref()),
                    &now,
                ],
            )?;
            Ok(counts)
        })
    }
}
