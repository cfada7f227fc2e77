//! The SQLite backend's internal error, and its translation into the
//! interface's [`StoreError`] before it leaves the crate.

use paperhub_store::StoreError;

/// What the code inside a read or write closure can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    /// A stored row could not be decoded.
    #[error("stored {what} {key} is corrupt: {reason}")]
    Corrupt {
        /// What kind of row.
        what: &'static str,
        /// Which row.
        key: String,
        /// What could not be decoded.
        reason: String,
    },
    /// A unique value is taken, or a compare-and-set lost.
    #[error("that {field} is already taken or was changed meanwhile")]
    Conflict {
        /// Which value.
        field: &'static str,
    },
    /// A row the method needs is missing.
    #[error("{0} not found")]
    NotFound(String),
    /// A caller's step inside the transaction failed; it is rolled back.
    #[error("aborted: {0}")]
    Aborted(#[source] paperhub_store::BoxError),
    /// Any other SQLite error.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

impl DbError {
    /// A corrupt paper row.
    pub(crate) fn corrupt_paper(arxiv_id: impl ToString, reason: impl ToString) -> DbError {
        DbError::Corrupt {
            what: "paper",
            key: arxiv_id.to_string(),
            reason: reason.to_string(),
        }
    }
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> StoreError {
        match e {
            DbError::Corrupt { what, key, reason } => StoreError::Corrupt { what, key, reason },
            DbError::Conflict { field } => StoreError::Conflict { field },
            DbError::NotFound(what) => StoreError::NotFound { what },
            DbError::Aborted(source) => StoreError::Aborted(source),
            DbError::Sqlite(e) => StoreError::Backend(Box::new(e)),
        }
    }
}
