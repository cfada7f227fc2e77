//! Opening the store: the one place in the app that names a backend.
//!
//! Everything else holds an `Arc<dyn Store>` (or borrows one aggregate's
//! trait from it), so a PostgreSQL backend plugs in here without touching
//! handlers, jobs or commands.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use paperhub_postgres::PgStore;
use paperhub_sqlite::SqliteStore;
use paperhub_store::Store;

use crate::config::{DatabaseConfig, redact_url};
use crate::data_dir::{DataDir, create_private_dir, create_private_file, make_private_file};
use crate::secrets::Secrets;

/// A shared store.
pub type SharedStore = Arc<dyn Store>;

/// Opens the store `database` names: PostgreSQL for `postgres://…`, else
/// the data directory's embedded SQLite file, creating the directory
/// (mode 0700) and the database (mode 0600, and so its `-wal` and `-shm`,
/// which SQLite creates with the database file's mode).
///
/// # Errors
/// The directory cannot be created, its permissions cannot be set, or the
/// database cannot be opened.
pub fn open(data_dir: &DataDir, database: &DatabaseConfig) -> Result<SharedStore> {
    if !database.url.is_empty() {
        return open_url(&database.url, database.pool_size);
    }
    let root = data_dir.path();
    create_private_dir(root)
        .with_context(|| format!("cannot create data directory {}", root.display()))?;
    open_sqlite(&data_dir.database_path())
}

/// The key this node signs with: the data directory's, unless the store is
/// shared by several nodes, which then all sign with the key the first of
/// them stored (sessions, CSRF tokens and mail links must verify on any
/// node behind the proxy).
///
/// # Errors
/// The key file cannot be read or made, or the store fails.
pub fn signing_secrets(store: &dyn Store, data_dir: &DataDir) -> Result<Secrets> {
    let local = Secrets::load_or_create(data_dir.path())?;
    match store.shared_signing_key(local.key())? {
        None => Ok(local),
        Some(shared) => {
            let key: [u8; 32] = shared.as_slice().try_into().map_err(|_| {
                anyhow::anyhow!(
                    "the database's signing key is {} bytes, not 32",
                    shared.len()
                )
            })?;
            Ok(Secrets::from_key(key))
        }
    }
}

/// Opens a store by URL: `sqlite:PATH` (or a bare path) for an embedded
/// file, `postgres://…` for PostgreSQL with up to `pool_size` connections.
///
/// # Errors
/// The URL names no backend this build has, or opening fails.
pub fn open_url(url: &str, pool_size: u32) -> Result<SharedStore> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        return open_sqlite(&PathBuf::from(path));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::open(url, pool_size)
            .with_context(|| format!("cannot open the PostgreSQL database {}", redact_url(url)))?;
        return Ok(Arc::new(store));
    }
    if url.contains("://") {
        bail!(
            "unknown database URL scheme in {}: use sqlite:PATH or postgres://",
            redact_url(url)
        );
    }
    open_sqlite(Path::new(url))
}

/// Opens (creating if needed) the embedded store in the file at `path`,
/// private to its owner: the file is made 0600 before SQLite opens it (so
/// its `-wal` and `-shm`, which SQLite creates with the database file's
/// mode, are too), and older, wider files are tightened.
///
/// # Errors
/// The file cannot be opened, created or migrated.
pub fn open_sqlite(path: &Path) -> Result<SharedStore> {
    create_private_file(path)?;
    let store = SqliteStore::open(path)
        .with_context(|| format!("cannot open catalog {}", path.display()))?;
    for suffix in ["-wal", "-shm"] {
        let mut name = path.to_owned().into_os_string();
        name.push(suffix);
        make_private_file(Path::new(&name))?;
    }
    Ok(Arc::new(store))
}
