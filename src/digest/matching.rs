//! Matching interests against a period's new papers, once per distinct
//! interest rather than once per subscriber.
//!
//! A digest period holds hundreds (daily) to a few thousand (weekly) papers;
//! ten thousand subscribers share far fewer distinct interests. So the
//! period's papers are loaded once into [`PeriodPapers`] with inverted maps
//! by category and by author, and each distinct saved search runs once
//! through hybrid retrieval restricted to the period ([`match_queries`]):
//! BM25 over the period's days, the query embedded in one batch with all the
//! others, and its exact cosine to every paper of the period from the vector
//! index, fused like search does. A paper counts as a match when the dense
//! side agrees (cosine ≥ [`DENSE_ALONE`], or ≥ [`DENSE_WITH_LEXICAL`] for a
//! BM25 hit), so a rare shared word alone does not fill someone's inbox.

use std::collections::HashMap;

use anyhow::Result;
use chrono::NaiveDate;
use paperhub_search::SearchRequest;
use paperhub_search::query::semantic_text;
use paperhub_store::{Entry, Store};

use crate::retrieval::Retriever;

/// Cosine at which a paper matches a saved search on meaning alone.
pub const DENSE_ALONE: f32 = 0.45;
/// Cosine at which a BM25 hit is confirmed as a match.
pub const DENSE_WITH_LEXICAL: f32 = 0.25;
/// Matches kept per saved search.
pub const PER_QUERY: usize = 10;
/// BM25 hits considered per saved search.
const LEXICAL_DEPTH: usize = 50;

/// The papers of a digest period, best first, with lookup maps.
#[derive(Debug, Default)]
pub struct PeriodPapers {
    /// Submitted and featured papers, then the announcement, by votes.
    pub entries: Vec<Entry>,
    by_id: HashMap<String, usize>,
    by_category: HashMap<String, Vec<usize>>,
    by_author: HashMap<String, Vec<usize>>,
}

pub use paperhub_domain::author::author_key;

impl PeriodPapers {
    /// The papers announced (or submitted to the hub) from `from` to `to`.
    ///
    /// # Errors
    /// A storage error.
    pub fn load(store: &dyn Store, from: NaiveDate, to: NaiveDate) -> Result<PeriodPapers> {
        Ok(PeriodPapers::new(crate::app::for_you::period_entries(
            store,
            (from, to),
            u32::MAX,
            None,
        )?))
    }

    /// Indexes `entries` (already in trending order).
    pub fn new(entries: Vec<Entry>) -> PeriodPapers {
        let mut papers = PeriodPapers::default();
        for (i, e) in entries.iter().enumerate() {
            papers.by_id.insert(e.paper.id.to_string(), i);
            for c in &e.paper.categories {
                papers
                    .by_category
                    .entry(c.to_lowercase())
                    .or_default()
                    .push(i);
            }
            for a in &e.paper.authors {
                papers
                    .by_author
                    .entry(author_key(&a.name))
                    .or_default()
                    .push(i);
            }
        }
        papers.entries = entries;
        papers
    }

    /// Papers of `category`, best first.
    pub fn in_category(&self, category: &str) -> &[usize] {
        self.by_category
            .get(&category.to_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// Papers with an author named `name`.
    pub fn by_author(&self, name: &str) -> &[usize] {
        self.by_author
            .get(&author_key(name))
            .map_or(&[], Vec::as_slice)
    }

    /// Whether the period has no papers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A paper a saved search matched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryMatch {
    /// Its position in [`PeriodPapers::entries`].
    pub index: usize,
    /// Cosine similarity to the query, when vectors exist.
    pub similarity: Option<f32>,
}

/// Runs each distinct saved search once against the period; see the module docs.
///
/// # Errors
/// An index cannot be read or the model fails.
pub fn match_queries(
    retriever: Option<&Retriever>,
    papers: &PeriodPapers,
    from: NaiveDate,
    to: NaiveDate,
    queries: &[String],
) -> Result<HashMap<String, Vec<QueryMatch>>> {
    let mut out = HashMap::new();
    let Some(retriever) = retriever else {
        return Ok(out);
    };
    if papers.is_empty() || queries.is_empty() {
        return Ok(out);
    }
    // Every query embedded in one pass; each period paper's vector once.
    let texts: Vec<String> = queries.iter().map(|q| semantic_text(q)).collect();
    let dense = retriever.dense.as_ref();
    let (query_vectors, dims) = match dense {
        Some(d) => {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            (d.embedder.embed_queries(&refs, 0)?, d.embedder.dimensions())
        }
        None => (Vec::new(), 0),
    };
    let paper_vectors: Vec<Option<std::borrow::Cow<'_, [f32]>>> = papers
        .entries
        .iter()
        .map(|e| dense.and_then(|d| d.vectors.vector(&e.paper.id.to_string())))
        .collect();
    for (qi, query) in queries.iter().enumerate() {
        let request = SearchRequest {
            query: query.clone(),
            limit: LEXICAL_DEPTH,
            since: Some(from),
            until: Some(to),
            ..SearchRequest::default()
        };
        let hits = match retriever.lexical.search(&request) {
            Ok(hits) => hits,
            Err(_) => retriever.lexical.search(&SearchRequest {
                plain: true,
                ..request
            })?,
        };
        let lexical: Vec<(String, f32)> = hits
            .into_iter()
            .filter(|h| papers.by_id.contains_key(&h.id))
            .map(|h| (h.id, h.score))
            .collect();
        let similarity: HashMap<usize, f32> = if dims > 0 && !texts[qi].is_empty() {
            let q = &query_vectors[qi * dims..(qi + 1) * dims];
            paper_vectors
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_deref().map(|v| (i, dot(q, v))))
                .collect()
        } else {
            HashMap::new()
        };
        let mut dense_ranked: Vec<(String, f32)> = similarity
            .iter()
            .map(|(i, s)| (papers.entries[*i].paper.id.to_string(), *s))
            .collect();
        dense_ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let lexical_ids: std::collections::HashSet<&str> =
            lexical.iter().map(|(id, _)| id.as_str()).collect();
        let fused = paperhub_search::fusion::fuse(
            &lexical,
            &dense_ranked,
            retriever.fusion,
            lexical.len() + dense_ranked.len(),
        );
        let matches: Vec<QueryMatch> = fused
            .into_iter()
            .filter_map(|(id, _)| {
                let index = *papers.by_id.get(&id)?;
                let sim = similarity.get(&index).copied();
                let keep = match sim {
                    None => lexical_ids.contains(id.as_str()),
                    Some(s) if lexical_ids.contains(id.as_str()) => s >= DENSE_WITH_LEXICAL,
                    Some(s) => s >= DENSE_ALONE,
                };
                keep.then_some(QueryMatch {
                    index,
                    similarity: sim,
                })
            })
            .take(PER_QUERY)
            .collect();
        out.insert(query.clone(), matches);
    }
    Ok(out)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_keys_ignore_case_and_punctuation() {
        assert_eq!(author_key("Yann  LeCun"), "yann lecun");
        assert_eq!(author_key("J. R. R. Tolkien"), "j r r tolkien");
        assert_eq!(author_key("Müller, K.-R."), "müller k r");
    }
}
