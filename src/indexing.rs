//! Keeps the search index in step with the catalog.
//!
//! The index lives in `<data dir>/index/lexical`. Papers are read from SQLite
//! in change order (the store's change numbers, see
//! [`paperhub_store::ChangePosition`]) and committed to tantivy in batches; each
//! commit carries, as its payload, the change position it reached. A killed
//! run therefore resumes after the last commit, and a later run picks up
//! exactly the papers imported or harvested since. The vector index keeps
//! the same payload in its `meta.json`.
//!
//! Payloads written before schema version 6 hold the old cursor,
//! `[modified_at, row id]`, which could skip papers (issue #13). The lexical
//! index then rebuilds from the start, which is cheap and also takes in any
//! paper the old cursor skipped; the vector index translates the old cursor
//! through [`CatalogStore::legacy_change_position`], because embedding the
//! whole catalog again would take hours on a large one.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use paperhub_domain::Paper;
use paperhub_search::{IndexDoc, LexicalIndex};
use paperhub_store::{CatalogStore, ChangePosition, ChangedDay};
use serde::{Deserialize, Serialize};

use crate::data_dir::DataDir;

/// Papers per tantivy commit.
const BATCH: u32 = 5000;

/// The lexical index directory.
pub fn lexical_dir(data_dir: &DataDir) -> PathBuf {
    data_dir.path().join("index").join("lexical")
}

/// The index document for a paper.
pub fn index_doc(paper: &Paper) -> IndexDoc {
    IndexDoc {
        id: paper.id.to_string(),
        title: paper.title.clone(),
        abstract_text: paper.abstract_text.clone(),
        authors: paper.authors.iter().map(|a| a.name.clone()).collect(),
        categories: paper.categories.clone(),
        day: paper
            .announced
            .or_else(|| paper.submitted.map(|d| d.date_naive())),
    }
}

/// The payload of an index commit: `{"change_seq": N}`.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    change_seq: i64,
}

/// Where an index's last commit left it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resume {
    /// Nothing indexed yet, or a payload nobody wrote: from the start.
    Start,
    /// After this change.
    After(ChangePosition),
    /// A cursor of the old `(modified_at, row id)` form.
    Legacy(String, i64),
}

/// The payload an index commit carries for `position`.
fn encode_position(position: ChangePosition) -> Result<String> {
    Ok(serde_json::to_string(&Payload {
        change_seq: position.0,
    })?)
}

/// Reads a commit payload: [`encode_position`]'s, or the old form.
fn decode_position(payload: Option<&str>) -> Resume {
    let Some(payload) = payload else {
        return Resume::Start;
    };
    if let Ok(p) = serde_json::from_str::<Payload>(payload) {
        return Resume::After(ChangePosition(p.change_seq));
    }
    if let Ok((modified_at, row)) = serde_json::from_str::<(String, i64)>(payload) {
        return Resume::Legacy(modified_at, row);
    }
    tracing::warn!("unreadable index payload {payload:?}; indexing from the start");
    Resume::Start
}

/// Indexes every paper changed since the index's last commit.
///
/// `progress` is called after each commit with (papers indexed this run).
///
/// # Errors
/// The catalog or the index cannot be read or written.
pub fn update_lexical(
    store: &dyn CatalogStore,
    index: &LexicalIndex,
    merge: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    let mut position = match decode_position(index.commit_payload()?.as_deref()) {
        Resume::After(at) => Some(at),
        Resume::Start => None,
        Resume::Legacy(..) => {
            tracing::info!(
                "the search index holds an old change cursor; indexing every paper again"
            );
            None
        }
    };
    let mut writer = index.writer()?;
    let mut done = 0u64;
    loop {
        let page = store
            .changed_papers(position, BATCH)
            .context("reading changed papers from the catalog")?;
        let Some(&(last, _)) = page.last() else { break };
        for (_, paper) in &page {
            writer.upsert(&index_doc(paper))?;
        }
        done += page.len() as u64;
        writer.commit_with_payload(&encode_position(last)?)?;
        position = Some(last);
        progress(done);
    }
    if done >= MERGE_AFTER || merge {
        let started = std::time::Instant::now();
        let segments = writer.merge_all()?;
        tracing::info!(
            segments,
            seconds = started.elapsed().as_secs_f64(),
            "merged the search index into one segment"
        );
    }
    index.reload()?;
    Ok(done)
}

/// A run that indexed this many papers merges the index into one segment
/// afterwards (`paperhub index --merge` asks for it at any size).
const MERGE_AFTER: u64 = 100_000;

/// Papers embedded and committed together; a kill loses at most one batch
/// of work (about half a minute on two cores).
const VECTOR_BATCH: usize = 512;

/// Changed papers listed per store call while planning a vector run.
const LIST_PAGE: u32 = 50_000;

/// Bounds on one vector run (`paperhub index --since/--limit`).
#[derive(Debug, Clone, Copy, Default)]
pub struct VectorRun {
    /// Only papers announced (else submitted) on or after this day.
    pub since: Option<NaiveDate>,
    /// At most this many papers.
    pub limit: Option<u64>,
}

/// How far the vectors reach while a backfill is unfinished: the vector
/// index's commit payload carries it, and search pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backfill {
    /// Papers still without a current vector.
    pub waiting: u64,
    /// The oldest day embedded so far, newest first: papers from this day
    /// on have vectors, older ones are matched by keywords only.
    pub covered_from: Option<NaiveDate>,
}

/// The vector index's payload: the lexical one's plus the backfill.
#[derive(Debug, Serialize, Deserialize)]
struct VectorPayload {
    change_seq: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backfill: Option<Backfill>,
}

/// The unfinished backfill a vector index's payload records, if any.
pub fn backfill_of(payload: Option<&str>) -> Option<Backfill> {
    serde_json::from_str::<VectorPayload>(payload?)
        .ok()?
        .backfill
}

/// What [`update_vectors`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorReport {
    /// Papers embedded by this run.
    pub embedded: u64,
    /// Papers that needed a vector when the run started.
    pub waiting: u64,
    /// Where the unfinished backfill stands (`None`: every paper has a
    /// current vector).
    pub backfill: Option<Backfill>,
}

/// Embeds the papers that lack a current vector, newest first, as
/// `"title. abstract"`.
///
/// The payload's change position is a watermark: every paper changed at or
/// before it has a current vector. A run lists the papers changed after it
/// (ids, positions and days only), drops those whose vector already
/// embeds that change (each row records the change it embeds: a killed
/// run, a bounded run or `paperhub vectors import` did them), and embeds
/// the rest newest day first, committing every `VECTOR_BATCH` papers. So
/// a hub that imported years of papers has the last months searchable by
/// meaning within minutes, and a killed or bounded run loses nothing. The
/// watermark moves up only when nothing is left below the head.
///
/// `progress` is called after each commit with (papers embedded this run,
/// papers this run will embed).
///
/// # Errors
/// The catalog or the index cannot be read or written, or the tokenizer fails.
pub fn update_vectors(
    store: &dyn CatalogStore,
    vectors: &mut paperhub_search::VectorIndex,
    embedder: &paperhub_embed::Embedder,
    threads: usize,
    run: VectorRun,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VectorReport> {
    let watermark = match decode_position(vectors.payload()) {
        Resume::After(at) => Some(at),
        Resume::Start => None,
        Resume::Legacy(modified_at, row) => {
            let at = store
                .legacy_change_position(&modified_at, row)
                .context("translating the vector index's old change cursor")?;
            tracing::info!(
                "the vector index holds an old change cursor; resuming after change {}",
                at.0
            );
            Some(at)
        }
    };
    let (mut pending, head) = stale_papers(store, vectors, watermark)?;
    let waiting = pending.len() as u64;
    // Newest day first; papers without a day last.
    pending.sort_unstable_by(|a, b| b.day.cmp(&a.day).then_with(|| b.id.cmp(&a.id)));
    let chosen: Vec<ChangedDay> = pending
        .into_iter()
        .filter(|c| {
            run.since
                .is_none_or(|since| c.day.is_some_and(|d| d >= since))
        })
        .take(usize::try_from(run.limit.unwrap_or(u64::MAX)).unwrap_or(usize::MAX))
        .collect();
    let total = chosen.len() as u64;
    let mut embedded = 0u64;
    // A day bounds what is covered only in a backfill (a fresh index, or
    // one a backfill left unfinished); after a finished one, what waits is
    // a few changed papers, not everything older than some day.
    let previous = backfill_of(vectors.payload());
    let track_days = watermark.is_none() || previous.is_some();
    let mut covered_from = previous.and_then(|b| b.covered_from);
    let keep = watermark.map_or(0, |p| p.0);
    for batch in chosen.chunks(VECTOR_BATCH) {
        let mut papers = Vec::with_capacity(batch.len());
        for c in batch {
            // Gone meanwhile (no store deletes papers today): skip it.
            if let Some(paper) = store
                .paper(&c.id)
                .with_context(|| format!("reading paper {}", c.id))?
            {
                papers.push((c, paper));
            }
        }
        let texts: Vec<String> = papers
            .iter()
            .map(|(_, p)| paperhub_embed::paper_text(&p.title, &p.abstract_text))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let rows = embedder.embed(&refs, threads)?;
        for ((c, _), vector) in papers.iter().zip(rows.chunks_exact(embedder.dimensions())) {
            vectors.upsert(&c.id.to_string(), vector, c.position.0)?;
        }
        embedded += batch.len() as u64;
        if let Some(day) = batch.last().and_then(|c| c.day).filter(|_| track_days) {
            covered_from = Some(covered_from.map_or(day, |d| d.min(day)));
        }
        let payload = VectorPayload {
            change_seq: keep,
            backfill: Some(Backfill {
                waiting: waiting - embedded,
                covered_from,
            }),
        };
        vectors.commit(Some(&serde_json::to_string(&payload)?))?;
        progress(embedded, total);
    }
    let backfill = if embedded == waiting {
        // Nothing is left below the head: the watermark moves up to it.
        let payload = VectorPayload {
            change_seq: head.map_or(keep, |h| h.0),
            backfill: None,
        };
        vectors.commit(Some(&serde_json::to_string(&payload)?))?;
        None
    } else {
        Some(Backfill {
            waiting: waiting - embedded,
            covered_from,
        })
    };
    vectors.save_graph()?;
    Ok(VectorReport {
        embedded,
        waiting,
        backfill,
    })
}

/// The papers changed after `watermark` whose vector does not embed their
/// latest change, and the newest change position seen.
fn stale_papers(
    store: &dyn CatalogStore,
    vectors: &paperhub_search::VectorIndex,
    watermark: Option<ChangePosition>,
) -> Result<(Vec<ChangedDay>, Option<ChangePosition>)> {
    let mut stale = Vec::new();
    let head = for_each_changed_day(store, watermark, |c| {
        if vectors
            .seq(&c.id.to_string())
            .is_none_or(|seq| seq < c.position.0)
        {
            stale.push(c);
        }
    })?;
    Ok((stale, head.or(watermark)))
}

/// Calls `f` on every paper changed after `after`, in change order, a page
/// of [`CatalogStore::changed_paper_days`] at a time; returns the last
/// position seen (`None` when nothing changed).
///
/// # Errors
/// The catalog cannot be read.
pub fn for_each_changed_day(
    store: &dyn CatalogStore,
    after: Option<ChangePosition>,
    mut f: impl FnMut(ChangedDay),
) -> Result<Option<ChangePosition>> {
    let mut cursor = after;
    let mut last_seen = None;
    loop {
        let page = store
            .changed_paper_days(cursor, LIST_PAGE)
            .context("listing changed papers in the catalog")?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.position);
        last_seen = cursor;
        page.into_iter().for_each(&mut f);
    }
    Ok(last_seen)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use paperhub_search::SearchRequest;

    use super::*;

    fn paper(id: &str, version: u32, title: &str) -> Paper {
        let mut p = Paper::new(id.parse().unwrap(), title.into(), "An abstract.".into());
        p.versions = (1..=version)
            .map(|v| paperhub_domain::Version {
                version: v,
                date: Some(Utc.with_ymd_and_hms(2025, 1, v, 12, 0, 0).unwrap()),
                size: None,
            })
            .collect();
        p.finalize();
        p
    }

    fn title_in(index: &LexicalIndex, id: &str) -> Option<String> {
        index
            .hits_for(&[(id.to_owned(), 0.0)], &SearchRequest::default())
            .unwrap()
            .pop()
            .map(|h| h.title)
    }

    /// The indexer's view of the bug: a paper revised in the same second as
    /// a paper with a higher row id reaches the index. See: #13
    #[test]
    fn a_paper_revised_in_the_same_second_reaches_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::app::store::open_sqlite(&dir.path().join("db.sqlite3")).unwrap();
        let index = LexicalIndex::open_or_create(&dir.path().join("lexical")).unwrap();
        let t = Utc.with_ymd_and_hms(2025, 3, 21, 12, 0, 0).unwrap();
        store
            .upsert_papers(
                &[
                    paper("2501.00001", 1, "First"),
                    paper("2501.00002", 1, "Second"),
                ],
                t,
            )
            .unwrap();
        assert_eq!(
            update_lexical(store.as_ref(), &index, false, &mut |_| {}).unwrap(),
            2
        );
        store
            .upsert_papers(&[paper("2501.00001", 2, "First, revised")], t)
            .unwrap();
        assert_eq!(
            update_lexical(store.as_ref(), &index, false, &mut |_| {}).unwrap(),
            1
        );
        assert_eq!(
            title_in(&index, "2501.00001").as_deref(),
            Some("First, revised")
        );
        assert_eq!(
            index.commit_payload().unwrap().as_deref(),
            Some(r#"{"change_seq":3}"#)
        );
    }

    #[test]
    fn an_old_or_unreadable_payload_means_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::app::store::open_sqlite(&dir.path().join("db.sqlite3")).unwrap();
        store
            .upsert_papers(
                &[paper("2501.00001", 1, "A"), paper("2501.00002", 1, "B")],
                Utc::now(),
            )
            .unwrap();
        for old in [
            r#"["2025-03-21T12:00:00Z",2]"#,
            "garbage",
            r#"{"change_seq":"x"}"#,
        ] {
            let index =
                LexicalIndex::open_or_create(&dir.path().join(format!("l{}", old.len()))).unwrap();
            let mut writer = index.writer().unwrap();
            writer.commit_with_payload(old).unwrap();
            drop(writer);
            assert_eq!(
                update_lexical(store.as_ref(), &index, false, &mut |_| {}).unwrap(),
                2,
                "{old}"
            );
        }
        assert_eq!(
            decode_position(Some(r#"["2025-03-21T12:00:00Z",2]"#)),
            Resume::Legacy("2025-03-21T12:00:00Z".into(), 2)
        );
        assert_eq!(
            decode_position(Some(r#"{"change_seq":7}"#)),
            Resume::After(ChangePosition(7))
        );
    }
}
