//! Errors from reading arXiv metadata: per-record problems and whole-stream failures.
//!
//! The two kinds are separate types because callers treat them differently: a
//! [`RecordError`] is counted and skipped and the stream goes on; a
//! [`StreamError`] ends the file (a truncated gzip, a binary file, an OAI error
//! response) and everything read before it stays valid.

use std::fmt;
use std::io;

/// Where in a file a record was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// 1-based line where the record starts, when the format has lines.
    pub line: Option<u64>,
    /// 1-based index of the record in the file.
    pub record: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}"),
            None => write!(f, "record {}", self.record),
        }
    }
}

/// One record that could not be turned into a paper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {kind}")]
pub struct RecordError {
    /// Where the record is.
    pub location: Location,
    /// What is wrong with it.
    pub kind: RecordErrorKind,
}

/// Why a record was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordErrorKind {
    /// The line is not valid JSON, or a field has the wrong type.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The record's XML is malformed.
    #[error("malformed XML: {0}")]
    Xml(String),
    /// A required field is absent or empty.
    #[error("missing required field '{0}'")]
    MissingField(&'static str),
    /// The id field does not hold a valid arXiv id.
    #[error("field '{field}': {source}")]
    InvalidId {
        /// The field that held the id.
        field: &'static str,
        /// Why the id is invalid.
        source: paperhub_domain::ArxivIdError,
    },
    /// A record is larger than the reader accepts.
    #[error("record is {size} bytes, over the {limit}-byte limit; skipped")]
    TooLarge {
        /// Bytes in the record (at least).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The record is an OAI-PMH deletion marker, which carries no metadata.
    #[error("record {0} is marked deleted")]
    Deleted(String),
}

/// A failure that ends reading the current input.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading the bytes failed (including corrupt or truncated compression).
    #[error("read failed after {records} records: {source}")]
    Io {
        /// Records read successfully before the failure.
        records: u64,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The input has no bytes at all.
    #[error("the file is empty")]
    Empty,
    /// The input holds NUL bytes or other non-text data.
    #[error("this looks like a binary file, not arXiv metadata")]
    Binary,
    /// The input is text, but no known arXiv format.
    #[error(
        "unrecognised format: expected arXiv snapshot or listing JSON lines, OAI-PMH XML, an arXiv API Atom feed or an .abs file"
    )]
    UnknownFormat,
    /// An OAI-PMH response that reports an error instead of records.
    #[error("OAI-PMH error {code}: {message}")]
    Oai {
        /// The OAI error code, e.g. `badResumptionToken`.
        code: String,
        /// The server's message.
        message: String,
    },
    /// An arXiv API error feed (what the API returns with HTTP 400).
    #[error("arXiv API error: {0}")]
    Api(String),
}

/// An item of a record stream: a record error to skip, or the end of the input.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// This record is skipped; reading continues.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// Reading this input stops here.
    #[error(transparent)]
    Stream(#[from] StreamError),
}
