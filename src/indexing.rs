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
use paperhub_domain::Paper;
use paperhub_search::{IndexDoc, LexicalIndex};
use paperhub_store::{CatalogStore, ChangePosition};
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
    index.reload()?;
    Ok(done)
}

/// Papers embedded and committed together; a kill loses at most one batch
/// of work (about half a minute on two cores).
const VECTOR_BATCH: u32 = 512;

/// Embeds every paper changed since the vector index's last commit, as
/// `"title. abstract"`, and commits after each batch with the change
/// position as payload, so a killed run resumes where it stopped.
///
/// `progress` is called after each commit with (papers embedded this run,
/// papers that were waiting when the run started).
///
/// # Errors
/// The catalog or the index cannot be read or written, or the tokenizer fails.
pub fn update_vectors(
    store: &dyn CatalogStore,
    vectors: &mut paperhub_search::VectorIndex,
    embedder: &paperhub_embed::Embedder,
    threads: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64> {
    let mut position = match decode_position(vectors.payload()) {
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
    let waiting = store
        .count_papers()
        .context("counting papers")?
        .saturating_sub(vectors.len() as u64);
    let mut done = 0u64;
    loop {
        let page = store
            .changed_papers(position, VECTOR_BATCH)
            .context("reading changed papers from the catalog")?;
        let Some(&(last, _)) = page.last() else { break };
        let texts: Vec<String> = page
            .iter()
            .map(|(_, p)| paperhub_embed::paper_text(&p.title, &p.abstract_text))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let embedded = embedder.embed(&refs, threads)?;
        for ((_, paper), vector) in page
            .iter()
            .zip(embedded.chunks_exact(embedder.dimensions()))
        {
            vectors.upsert(&paper.id.to_string(), vector)?;
        }
        done += page.len() as u64;
        vectors.commit(Some(&encode_position(last)?))?;
        position = Some(last);
        progress(done, waiting.max(done));
    }
    Ok(done)
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
            update_lexical(store.as_ref(), &index, &mut |_| {}).unwrap(),
            2
        );
        store
            .upsert_papers(&[paper("2501.00001", 2, "First, revised")], t)
            .unwrap();
        assert_eq!(
            update_lexical(store.as_ref(), &index, &mut |_| {}).unwrap(),
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
                update_lexical(store.as_ref(), &index, &mut |_| {}).unwrap(),
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
