//! Keeps the search index in step with the catalog.
//!
//! The index lives in `<data dir>/index/lexical`. Papers are read from SQLite
//! in change order (`modified_at`, row id) and committed to tantivy in
//! batches; each commit carries, as its payload, the change position it
//! reached. A killed run therefore resumes after the last commit, and a later
//! run picks up exactly the papers imported or harvested since.

use std::path::PathBuf;

use anyhow::{Context, Result};
use paperhub_db::{CatalogStore, ChangePosition};
use paperhub_domain::Paper;
use paperhub_search::{IndexDoc, LexicalIndex};

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

/// The change position an index commit carries, as JSON `[modified_at, row]`.
fn encode_position(position: &ChangePosition) -> Result<String> {
    Ok(serde_json::to_string(&(
        &position.modified_at,
        position.row,
    ))?)
}

/// Reads [`encode_position`]'s payload; none (or an unreadable one) means
/// "from the beginning".
fn decode_position(payload: Option<&str>) -> Option<ChangePosition> {
    payload
        .and_then(|p| serde_json::from_str::<(String, i64)>(p).ok())
        .map(|(modified_at, row)| ChangePosition { modified_at, row })
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
    let mut position = decode_position(index.commit_payload()?.as_deref());
    let mut writer = index.writer()?;
    let mut done = 0u64;
    loop {
        let page = store
            .changed_papers(position.as_ref(), BATCH)
            .context("reading changed papers from the catalog")?;
        let Some((last, _)) = page.last() else { break };
        let last = last.clone();
        for (_, paper) in &page {
            writer.upsert(&index_doc(paper))?;
        }
        done += page.len() as u64;
        writer.commit_with_payload(&encode_position(&last)?)?;
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
    let mut position = decode_position(vectors.payload());
    let waiting = store
        .count_papers()
        .context("counting papers")?
        .saturating_sub(vectors.len() as u64);
    let mut done = 0u64;
    loop {
        let page = store
            .changed_papers(position.as_ref(), VECTOR_BATCH)
            .context("reading changed papers from the catalog")?;
        let Some((last, _)) = page.last() else { break };
        let last = last.clone();
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
        vectors.commit(Some(&serde_json::to_string(&(
            &last.modified_at,
            last.row,
        ))?))?;
        position = Some(last);
        progress(done, waiting.max(done));
    }
    Ok(done)
}
