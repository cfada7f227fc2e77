//! Paperhub's embedded store: the [`paperhub_store`] interface on one
//! WAL-mode SQLite file in the data directory, migrated on open.
//!
//! [`SqliteStore`] is shared between threads (`&self` everywhere). It
//! holds one writer connection behind a mutex and a small pool of reader
//! connections. Writers in this process queue on the mutex instead of
//! sleeping in SQLite's busy handler, and the writer keeps its cached
//! prepared statements warm, which is what makes bulk import fast. Every
//! write transaction is `IMMEDIATE`: it takes the file's write lock at its
//! first statement, so a write never fails halfway on a lock upgrade when
//! another process (`paperhub digest send` beside `serve`) writes too.
//! Readers see the last committed state (WAL snapshot isolation) and never
//! wait for the writer.
//!
//! One module per aggregate implements its trait: `catalog`,
//! `accounts`, `community`, `subscriptions`, `outbox`, `jobs` and `copy`. Upserts
//! go through [`paperhub_domain::Paper::merge`], so the store holds no
//! merge rules of its own.

#![forbid(unsafe_code)]

mod accounts;
mod authors;
mod catalog;
mod checkpoint;
mod community;
mod copy;
mod discussions;
mod error;
mod jobs;
mod library;
mod migrations;
mod outbox;
mod rows;
mod subscriptions;
pub mod testing;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use paperhub_store::{OpenError, Store, StoreInfo, StoreResult};
use rusqlite::{Connection, ErrorCode};

use crate::checkpoint::Checkpointer;
use crate::error::DbError;

pub use migrations::SCHEMA_VERSION;

/// Idle reader connections kept open; more are opened when needed and
/// closed when returned beyond this.
const IDLE_READERS: usize = 8;

/// How long a statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at setting up a connection that finds the file busy (about
/// 10 s in all, as [`BUSY_TIMEOUT`]).
const OPEN_RETRIES: u64 = 60;

/// The WAL size past which the writer checkpoints (and truncates) the WAL
/// itself after a commit.
///
/// The checkpointer thread's `PASSIVE` checkpoints can only let the WAL
/// start over once they have caught up with the writer; a bulk import
/// writes faster than they copy, so the WAL grew without bound: importing
/// the 2.7-million-paper snapshot filled a disk with 32 GB free at 784,000
/// papers, with a 2.2 GB database. Past this size the writer waits for one
/// full checkpoint, which bounds the WAL at about this size plus a batch.
const WAL_LIMIT: u64 = 1 << 30;

/// The writer's page cache, in SQLite's units (negative: KiB).
pub(crate) const WRITER_CACHE_SIZE: i64 = -32768;

/// The store in one SQLite file; see the crate docs.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    checkpointer: Option<Checkpointer>,
    /// See [`WAL_LIMIT`] (smaller in tests).
    wal_limit: u64,
    /// Import runs begun through this store and not finished: while any
    /// is open, new papers' index rows are deferred
    /// ([`authors::flush_backlog`]).
    open_runs: AtomicUsize,
}

/// Turns a SQLite error met while opening `path` into an [`OpenError`].
pub(crate) fn open_err(path: &Path) -> impl Fn(rusqlite::Error) -> OpenError + '_ {
    move |source| OpenError::Connect {
        target: path.display().to_string(),
        source: Box::new(source),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    ///
    /// # Errors
    /// The file cannot be opened or created, a migration fails, or the file
    /// is from a newer build.
    pub fn open(path: &Path) -> Result<SqliteStore, OpenError> {
        let mut conn = Connection::open(path).map_err(open_err(path))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err(path))?;
        // Page size only applies to a new, empty file, so it must come first.
        // 16 KiB pages hold several 2 KB paper rows and cut the per-frame
        // syscalls of WAL writes and checkpoints by four.
        // Switching a fresh file to WAL takes an exclusive lock, and SQLite
        // answers "busy" at once, without its busy handler, when another
        // process is opening the same file: try again for a while.
        let mut attempt: u64 = 0;
        let setup = format!(
            "PRAGMA page_size = 16384;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = {WRITER_CACHE_SIZE};
             PRAGMA wal_autocheckpoint = 0;"
        );
        while let Err(err) = conn.execute_batch(&setup) {
            if attempt >= OPEN_RETRIES || err.sqlite_error_code() != Some(ErrorCode::DatabaseBusy) {
                return Err(open_err(path)(err));
            }
            attempt += 1;
            std::thread::sleep(Duration::from_millis(5 * attempt));
        }
        migrations::migrate(&mut conn)?;
        authors::register_functions(&conn).map_err(open_err(path))?;
        // What an import that stopped halfway deferred; never a failure
        // to open (the next import's end writes it too).
        match authors::flush_abandoned_backlog(&mut conn) {
            Ok(0) => {}
            Ok(n) => tracing::info!("indexed {n} papers an unfinished import left unindexed"),
            Err(e) => tracing::warn!("the author index backlog could not be written yet: {e}"),
        }
        let checkpointer = Some(Checkpointer::start(path)?);
        Ok(SqliteStore {
            path: path.to_owned(),
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            checkpointer,
            wal_limit: WAL_LIMIT,
            open_runs: AtomicUsize::new(0),
        })
    }

    /// Whether an import run begun here is open.
    pub(crate) fn importing(&self) -> bool {
        self.open_runs.load(Ordering::SeqCst) > 0
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the writer connection. `f` opens its own `IMMEDIATE`
    /// transaction when it writes more than one statement.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, DbError>,
    ) -> StoreResult<T> {
        let mut conn = lock(&self.writer);
        let out = f(&mut conn)?;
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.nudge();
        }
        self.bound_wal(&conn);
        Ok(out)
    }

    /// Runs `f` on a reader connection from the pool.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, DbError>,
    ) -> StoreResult<T> {
        let idle = lock(&self.readers).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open_reader()?,
        };
        let out = f(&conn);
        let mut readers = lock(&self.readers);
        if readers.len() < IDLE_READERS {
            readers.push(conn);
        }
        Ok(out?)
    }

    fn open_reader(&self) -> Result<Connection, DbError> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -16384;
             PRAGMA query_only = ON;",
        )?;
        Ok(conn)
    }

    /// After a write on the writer connection `conn`: when the WAL has
    /// grown past its limit, checkpoint it completely and truncate it (the
    /// writer waits; see [`WAL_LIMIT`]). A failure is logged, not returned:
    /// the commit has happened, and the next one tries again.
    fn bound_wal(&self, conn: &Connection) {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
        if size > self.wal_limit
            && let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        {
            tracing::warn!("WAL of {size} bytes could not be checkpointed yet: {e}");
        }
    }

    /// A store without the checkpointer thread and with a WAL limit of
    /// `wal_limit` bytes, for tests of the writer's own checkpoints.
    #[cfg(test)]
    pub(crate) fn open_without_checkpointer(path: &Path, wal_limit: u64) -> SqliteStore {
        let mut store = SqliteStore::open(path).expect("open");
        store.checkpointer = None;
        store.wal_limit = wal_limit;
        store
    }

    /// The writer connection, for tests that break the rules on purpose.
    #[cfg(test)]
    pub(crate) fn writer(&self) -> MutexGuard<'_, Connection> {
        lock(&self.writer)
    }
}

/// Locks `m`, recovering from a panic in an earlier holder: a connection
/// stays usable, since rusqlite rolls back an unfinished transaction when
/// it is dropped during the unwind.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store for SqliteStore {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            backend: "sqlite",
            location: self.path.display().to_string(),
            schema_version: SCHEMA_VERSION,
        }
    }

    fn shared_signing_key(&self, _candidate: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        // One node per file: the key stays in the data directory.
        Ok(None)
    }
}
