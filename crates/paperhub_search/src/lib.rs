//! Paperhub's search: a tantivy BM25 index over the catalog, lenient query
//! parsing with field prefixes, and the retrieval metrics used to measure it.
//!
//! SQLite stays the source of truth; both indexes are derived from it and
//! can be rebuilt at any time. The vector index (`vector`, `hnsw`) holds one
//! sentence embedding per paper; `fusion` merges lexical and dense rankings.
//! The embeddings themselves are computed by `paperhub_embed`.

#![forbid(unsafe_code)]

pub mod eval;
pub mod fusion;
pub mod hnsw;
pub mod lexical;
pub mod query;
pub mod recommend;
mod rows;
mod snippets;
pub mod vector;
pub mod vectors_file;

pub use lexical::{Hit, IndexDoc, LexicalIndex, LexicalWriter, SearchRequest, SortOrder};
pub use rows::Storage;
pub use vector::{Strategy, VectorHit, VectorIndex};

/// Errors from the search index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// tantivy failed (IO, corrupt index, lock held by another writer).
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The query has a shape that is refused; the message is for the user.
    #[error("{0}")]
    Query(#[from] query::QueryError),
    /// The index directory cannot be used.
    #[error("search index directory {path}: {reason}")]
    Directory {
        /// The directory.
        path: String,
        /// What is wrong.
        reason: String,
    },
}
