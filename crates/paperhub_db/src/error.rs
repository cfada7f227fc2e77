//! The store's error type.

use std::path::PathBuf;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Opening the database file failed.
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// A migration failed; the database is left at the previous version.
    #[error("migration {version} failed: {source}")]
    Migration {
        /// The migration's version number.
        version: u32,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer Paperhub.
    #[error(
        "database schema version {found} is newer than this build supports ({supported}); upgrade paperhub"
    )]
    TooNew {
        /// Version in the file.
        found: u32,
        /// Highest version this build knows.
        supported: u32,
    },
    /// A stored row could not be decoded.
    #[error("stored paper {arxiv_id} is corrupt: {reason}")]
    Corrupt {
        /// The paper's id.
        arxiv_id: String,
        /// What could not be decoded.
        reason: String,
    },
    /// The background WAL checkpoint thread could not be started.
    #[error("cannot start the WAL checkpoint thread: {0}")]
    Checkpointer(#[source] std::io::Error),
    /// A unique value (username, email) is already in use.
    #[error("that {field} is already taken")]
    Taken {
        /// Which value.
        field: &'static str,
    },
    /// Any other SQLite error.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}
