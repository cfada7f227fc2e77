//! Paperhub's search: a tantivy BM25 index over the catalog, lenient query
//! parsing with field prefixes, and the retrieval metrics used to measure it.
//!
//! SQLite stays the source of truth; this index is derived from it and can be
//! rebuilt at any time. Dense embeddings and hybrid fusion join this crate
//! with the rest of the search issue.

#![forbid(unsafe_code)]

pub mod eval;
pub mod lexical;
pub mod query;

pub use lexical::{Hit, IndexDoc, LexicalIndex, LexicalWriter, SearchRequest, SortOrder};

/// Errors from the search index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// tantivy failed (IO, corrupt index, lock held by another writer).
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The index directory cannot be used.
    #[error("search index directory {path}: {reason}")]
    Directory {
        /// The directory.
        path: String,
        /// What is wrong.
        reason: String,
    },
}
