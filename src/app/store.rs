//! Opening the store: the one place in the app that names a backend.
//!
//! Everything else holds an `Arc<dyn Store>` (or borrows one aggregate's
//! trait from it), so a PostgreSQL backend plugs in here without touching
//! handlers, jobs or commands.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use paperhub_sqlite::SqliteStore;
use paperhub_store::Store;

use crate::data_dir::{DataDir, create_private_dir, create_private_file, make_private_file};

/// A shared store.
pub type SharedStore = Arc<dyn Store>;

/// Opens the data directory's embedded store, creating the directory
/// (mode 0700) and the database (mode 0600, and so its `-wal` and `-shm`,
/// which SQLite creates with the database file's mode).
///
/// # Errors
/// The directory cannot be created, its permissions cannot be set, or the
/// database cannot be opened.
pub fn open(data_dir: &DataDir) -> Result<SharedStore> {
    let root = data_dir.path();
    create_private_dir(root)
        .with_context(|| format!("cannot create data directory {}", root.display()))?;
    let path = data_dir.database_path();
    create_private_file(&path)?;
    let store = open_sqlite(&path)?;
    // Left by an older build, these may be wider than the database.
    for suffix in ["-wal", "-shm"] {
        let mut name = path.clone().into_os_string();
        name.push(suffix);
        make_private_file(Path::new(&name))?;
    }
    Ok(store)
}

/// Opens a store by URL: `sqlite:PATH` (or a bare path) for an embedded
/// file.
///
/// # Errors
/// The URL names a backend this build cannot open, or opening fails.
pub fn open_url(url: &str) -> Result<SharedStore> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        return open_sqlite(&PathBuf::from(path));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        bail!("this build cannot open PostgreSQL databases yet");
    }
    if url.contains("://") {
        bail!("unknown database URL scheme in {url:?}: use sqlite:PATH");
    }
    open_sqlite(Path::new(url))
}

/// Opens (creating if needed) the embedded store in the file at `path`.
///
/// # Errors
/// The file cannot be opened, created or migrated.
pub fn open_sqlite(path: &Path) -> Result<SharedStore> {
    let store = SqliteStore::open(path)
        .with_context(|| format!("cannot open catalog {}", path.display()))?;
    Ok(Arc::new(store))
}
