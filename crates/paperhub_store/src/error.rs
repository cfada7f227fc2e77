//! The one error type every store method returns, and the one for opening.
//!
//! Backends translate their own errors before they leave the backend crate:
//! a unique violation becomes [`StoreError::Conflict`] naming the field, a
//! row that cannot be decoded becomes [`StoreError::Corrupt`] naming the
//! row, and anything else from the database becomes [`StoreError::Backend`]
//! with the backend's error as its source. Callers can thus tell a user's
//! mistake (conflict, not found) from a fault (corrupt, backend) without
//! knowing which database is underneath.

/// Any error, boxed: the source of a backend failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a store method returns.
pub type StoreResult<T> = Result<T, StoreError>;

/// What can go wrong in a store method.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row the method needs does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `subscriber 7`.
        what: String,
    },
    /// A unique value is taken, or a compare-and-set lost a race.
    #[error("that {field} is already taken or was changed meanwhile")]
    Conflict {
        /// Which value: `username`, `email`, `password`.
        field: &'static str,
    },
    /// A stored row could not be decoded.
    #[error("stored {what} {key} is corrupt: {reason}")]
    Corrupt {
        /// What kind of row, e.g. `paper`.
        what: &'static str,
        /// Which row, e.g. its arXiv id.
        key: String,
        /// What could not be decoded.
        reason: String,
    },
    /// The database failed: connection, pool timeout, I/O, or a
    /// serialization failure that a retry did not clear.
    #[error("storage backend failed: {0}")]
    Backend(#[source] BoxError),
    /// A caller's step inside the transaction failed (rendering a mail);
    /// nothing was stored.
    #[error("aborted: {0}")]
    Aborted(#[source] BoxError),
}

impl StoreError {
    /// A [`StoreError::Backend`] from any error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
        StoreError::Backend(Box::new(e))
    }
}

/// What can go wrong opening a store.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The database cannot be reached or created.
    #[error("cannot open database {target}: {source}")]
    Connect {
        /// The file or server, without secrets.
        target: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// A migration failed; the database is left at the previous version.
    #[error("migration {version} failed: {source}")]
    Migration {
        /// The migration's version number.
        version: u32,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// The database was written by a newer Paperhub.
    #[error(
        "database schema version {found} is newer than this build supports ({supported}); upgrade paperhub"
    )]
    TooNew {
        /// Version in the database.
        found: u32,
        /// Highest version this build knows.
        supported: u32,
    },
    /// The database URL cannot be understood.
    #[error("bad database URL: {0}")]
    Url(String),
    /// A background thread the store needs could not start.
    #[error("cannot start the store's {what} thread: {source}")]
    Thread {
        /// Which thread.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
