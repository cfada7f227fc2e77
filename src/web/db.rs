//! Store access for request handlers: a bounded number of store calls at
//! once, each on tokio's blocking threads.
//!
//! The store is synchronous (see `paperhub_store`), so a handler must never
//! call it on an async worker thread; [`Db::run`] moves the call to a
//! blocking thread. The semaphore bounds how many run at once, so a burst
//! of requests queues here, cheaply, instead of piling up OS threads in
//! the backend.

use std::sync::Arc;

use paperhub_store::{Store, StoreError};
use tokio::sync::Semaphore;

use super::errors::AppError;
use crate::app::store::SharedStore;

/// Store calls running at once, at most, on the embedded store (each holds
/// a blocking thread; SQLite readers beyond the cores only queue).
const EMBEDDED_CALLS: usize = 4;

/// The handlers' handle on the store.
pub struct Db {
    store: SharedStore,
    permits: Arc<Semaphore>,
}

impl Db {
    /// Handler access to `store`, with at most `database_pool` calls at once
    /// on a database server (each waits on the network, not a core).
    pub fn new(store: SharedStore, database_pool: u32) -> Db {
        let calls = match store.info().backend {
            "sqlite" => EMBEDDED_CALLS,
            _ => database_pool.max(1) as usize,
        };
        Db {
            store,
            permits: Arc::new(Semaphore::new(calls)),
        }
    }

    /// The store itself, for code already on a blocking thread.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// Runs `f` with the store on a blocking thread.
    ///
    /// # Errors
    /// What `f` returns.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| AppError::internal("the database pool is closed"))?;
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f(store.as_ref())
        })
        .await
        .map_err(|e| AppError::internal(format!("database task failed: {e}")))?
        .map_err(AppError::from)
    }
}
