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
    let mut position = index
        .commit_payload()?
        .and_then(|p| serde_json::from_str::<(String, i64)>(&p).ok())
        .map(|(modified_at, row)| ChangePosition { modified_at, row });
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
        writer.commit_with_payload(&serde_json::to_string(&(&last.modified_at, last.row))?)?;
        position = Some(last);
        progress(done);
    }
    index.reload()?;
    Ok(done)
}
