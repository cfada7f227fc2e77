//! Paperhub's PostgreSQL store: the [`paperhub_store`] interface on one
//! PostgreSQL database that several hub nodes share.
//!
//! SQLite serves one node from a file in its data directory. Nodes that
//! share their catalog, accounts, votes and outbox need a database server
//! instead, and this crate is that backend. [`PgStore`] owns a pool of
//! blocking connections (the `postgres` crate over `r2d2`); like every
//! store it is called from blocking threads only, never from async code.
//!
//! Every write is one transaction at READ COMMITTED; the rules that need
//! more take row locks or advisory locks inside it (design §6.3): paper
//! writers lock the change counter row, so change numbers follow commit
//! order; the first sign-up takes an advisory lock, so exactly one account
//! becomes curator; a vote locks its paper's row before the recount; the
//! outbox is claimed with `FOR UPDATE SKIP LOCKED`. A serialization failure
//! or deadlock is retried once. Migrations live in `migrations/`, numbered
//! independently of SQLite's, applied at open under an advisory lock, so
//! two nodes starting at once migrate once.

#![forbid(unsafe_code)]

mod accounts;
mod authors;
mod catalog;
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

use std::time::Duration;

use paperhub_store::{OpenError, Store, StoreInfo, StoreResult};
use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;

use crate::error::DbError;

pub use migrations::{MIGRATIONS, SCHEMA_VERSION};

/// Connections the pool opens at most, by default.
pub const DEFAULT_POOL_SIZE: u32 = 16;

/// How long a caller waits for a free connection before giving up.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;
pub(crate) type Client = r2d2::PooledConnection<PostgresConnectionManager<NoTls>>;

/// The store on one PostgreSQL database; see the crate docs.
pub struct PgStore {
    pool: Pool,
    location: String,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/database`), migrates
    /// the database, and keeps up to `pool_size` connections.
    ///
    /// # Errors
    /// A URL that cannot be read or asks for TLS (not supported yet), a
    /// server that cannot be reached, a failed migration, or a database
    /// from a newer build.
    pub fn open(url: &str, pool_size: u32) -> Result<PgStore, OpenError> {
        let config: postgres::Config = url.parse().map_err(|e| OpenError::Url(format!("{e}")))?;
        if config.get_ssl_mode() == postgres::config::SslMode::Require {
            return Err(OpenError::Url(
                "sslmode=require is not supported yet; connect over a private network or a \
                 unix socket, with sslmode=disable or prefer"
                    .into(),
            ));
        }
        let mut config = config;
        // A node that dies mid-transaction must not hold its locks (the
        // change counter stops every paper write) until TCP notices.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .options("-c idle_in_transaction_session_timeout=60000");
        let location = describe(&config);
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .build(manager)
            .map_err(|e| OpenError::Connect {
                target: location.clone(),
                source: Box::new(e),
            })?;
        let mut client = pool.get().map_err(|e| OpenError::Connect {
            target: location.clone(),
            source: Box::new(e),
        })?;
        migrations::migrate(&mut *client)?;
        drop(client);
        Ok(PgStore { pool, location })
    }

    /// Runs `f` in one transaction, again once if PostgreSQL aborted it
    /// for a serialization failure or a deadlock. `f` may thus run twice;
    /// it must not have effects outside the transaction.
    pub(crate) fn write<T>(
        &self,
        mut f: impl FnMut(&mut postgres::Transaction<'_>) -> Result<T, DbError>,
    ) -> StoreResult<T> {
        let mut client = self.client()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = client
                .transaction()
                .map_err(DbError::from)
                .and_then(|mut tx| {
                    let value = f(&mut tx)?;
                    tx.commit()?;
                    Ok(value)
                });
            match outcome {
                Err(e) if attempt == 1 && e.is_retryable() => {
                    tracing::debug!("retrying a transaction PostgreSQL aborted: {e}");
                }
                other => return Ok(other?),
            }
        }
    }

    /// Runs `f` on a pooled connection, outside any transaction: each
    /// statement sees what was committed when it started.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, DbError>,
    ) -> StoreResult<T> {
        let mut client = self.client()?;
        Ok(f(&mut client)?)
    }

    fn client(&self) -> Result<Client, DbError> {
        Ok(self.pool.get()?)
    }
}

/// Host, port and database of `config`, without user or password.
fn describe(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("postgres");
    format!("postgres://{host}:{port}/{db}")
}

impl Store for PgStore {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            backend: "postgres",
            location: self.location.clone(),
            schema_version: SCHEMA_VERSION,
        }
    }

    fn shared_signing_key(&self, candidate: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let hex: String = candidate.iter().map(|b| format!("{b:02x}")).collect();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO store_meta (key, value) VALUES ('signing_key', $1) \
                 ON CONFLICT (key) DO NOTHING",
                &[&hex],
            )?;
            let stored: String = tx
                .query_one(
                    "SELECT value FROM store_meta WHERE key = 'signing_key'",
                    &[],
                )?
                .try_get(0)?;
            let bytes = (0..stored.len())
                .step_by(2)
                .map(|i| {
                    stored
                        .get(i..i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                })
                .collect::<Option<Vec<u8>>>()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| DbError::Corrupt {
                    what: "store_meta",
                    key: "signing_key".into(),
                    reason: "not hexadecimal".into(),
                })?;
            Ok(Some(bytes))
        })
    }
}
