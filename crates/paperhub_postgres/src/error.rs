//! The PostgreSQL backend's internal error, and its translation into the
//! interface's [`StoreError`] before it leaves the crate.

use paperhub_store::StoreError;
use postgres::error::SqlState;

/// What the code inside a transaction can fail with.
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
    /// No connection could be had from the pool in time.
    #[error("no database connection: {0}")]
    Pool(#[from] r2d2::Error),
    /// Any other PostgreSQL error.
    #[error(transparent)]
    Postgres(#[from] postgres::Error),
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

    /// Whether running the transaction again may succeed: a serialization
    /// failure or a deadlock, which PostgreSQL resolves by aborting one side.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(self, DbError::Postgres(e) if matches!(
            e.code(),
            Some(&SqlState::T_R_SERIALIZATION_FAILURE | &SqlState::T_R_DEADLOCK_DETECTED)
        ))
    }

    /// The unique constraint a violation names, if this is one.
    pub(crate) fn unique_violation(&self) -> Option<&str> {
        match self {
            DbError::Postgres(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                e.as_db_error().and_then(|d| d.constraint()).or(Some(""))
            }
            _ => None,
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
            DbError::Pool(e) => StoreError::Backend(Box::new(e)),
            DbError::Postgres(e) => StoreError::Backend(Box::new(e)),
        }
    }
}
