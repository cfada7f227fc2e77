//! Sentence embeddings computed in-process from a sentence-transformers
//! model directory (BERT-family encoders such as all-MiniLM-L6-v2).
//!
//! The forward pass is our own (`bert`), on the `gemm` crate's matrix kernels:
//! measured here it is faster than candle, and it needs no C++ runtime (see
//! docs/BENCHMARKS.md). Tokenization is Hugging Face's `tokenizers`, the same
//! code sentence-transformers runs, so token ids match exactly.
//!
//! ```no_run
//! # fn main() -> Result<(), paperhub_embed::EmbedError> {
//! let embedder = paperhub_embed::Embedder::load("models/all-MiniLM-L6-v2".as_ref())?;
//! let vectors = embedder.embed(&["Attention is all you need. The dominant ..."], 0)?;
//! assert_eq!(vectors.len(), embedder.dimensions());
//! # Ok(()) }
//! ```

mod activations;
mod bert;
mod embedder;
mod error;
mod kernels;
mod matmul;
mod model;

pub use embedder::{Embedder, normalize};
pub use error::{EmbedError, Result};
pub use kernels::{KERNEL_ENV, Kernel};
pub use model::{EncoderConfig, ModelDir, Pooling};

/// The text a paper is embedded as: `"title. abstract"`, the input format
/// the reference embeddings were made with.
pub fn paper_text(title: &str, abstract_text: &str) -> String {
    format!("{title}. {abstract_text}")
}
