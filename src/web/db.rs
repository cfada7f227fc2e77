//! A small pool of store connections for request handlers.
//!
//! `SqliteStore` is synchronous and not `Sync`, so handlers borrow one from
//! this pool on tokio's blocking threads. WAL mode lets the readers run in
//! parallel with one writer; the pool size bounds how many do.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use paperhub_db::{DbError, SqliteStore};
use tokio::sync::Semaphore;

use super::errors::AppError;

/// Connections open at most.
const POOL_SIZE: usize = 4;

/// The pool.
pub struct Db {
    path: PathBuf,
    idle: Mutex<Vec<SqliteStore>>,
    permits: Arc<Semaphore>,
}

impl Db {
    /// A pool over the database at `path` (opened lazily).
    pub fn new(path: PathBuf) -> Db {
        Db {
            path,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(POOL_SIZE)),
        }
    }

    /// Runs `f` with a connection on a blocking thread.
    ///
    /// # Errors
    /// What `f` returns, or a failure to open a connection.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteStore) -> Result<T, DbError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| AppError::internal("the database pool is closed"))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let store = pool.idle.lock().map_or(None, |mut idle| idle.pop());
            let mut store = match store {
                Some(store) => store,
                None => SqliteStore::open(&pool.path)?,
            };
            let result = f(&mut store);
            if let Ok(mut idle) = pool.idle.lock() {
                idle.push(store);
            }
            result
        })
        .await
        .map_err(|e| AppError::internal(format!("database task failed: {e}")))?
        .map_err(AppError::from)
    }

    /// Closes idle connections (at shutdown, so their WAL is checkpointed).
    pub fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}
