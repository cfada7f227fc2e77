//! The one error type of the embedding crate. Every variant names the file
//! (or tensor) it is about, so a broken model directory is easy to fix.

use std::path::PathBuf;

/// What can go wrong loading a model or embedding text.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A model file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A JSON configuration file is malformed or misses a field.
    #[error("{path}: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: serde_json::Error,
    },
    /// The model is of a kind this engine does not run.
    #[error("{path}: {message}")]
    Unsupported {
        /// The file that says so.
        path: PathBuf,
        /// What is unsupported.
        message: String,
    },
    /// The weights file is malformed or lacks a tensor the config needs.
    #[error("{path}: {message}")]
    Weights {
        /// The safetensors file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The tokenizer could not be loaded or failed on a text.
    #[error("tokenizer {path}: {message}")]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// The tokenizer's message.
        message: String,
    },
    /// The kernel path asked for is unknown or this CPU cannot run it.
    #[error("{0}")]
    Kernel(String),
}

/// Result alias for this crate.
pub type Result<T, E = EmbedError> = std::result::Result<T, E>;
