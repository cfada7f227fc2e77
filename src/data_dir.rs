//! The data directory: where the catalog and, later, indexes and models live.
//!
//! Resolution order: `--data-dir`, then `PAPERHUB_DATA_DIR` (both handled by
//! clap), then `$XDG_DATA_HOME/paperhub`, then `~/.local/share/paperhub`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use paperhub_db::SqliteStore;

/// File name of the catalog database inside the data directory.
pub const DATABASE_FILE: &str = "paperhub.sqlite3";

/// A resolved data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Uses `explicit` if given, else the XDG default.
    ///
    /// # Errors
    /// Neither `XDG_DATA_HOME` nor `HOME` is set and no directory was given.
    pub fn resolve(explicit: Option<&Path>) -> Result<DataDir> {
        if let Some(dir) = explicit {
            return Ok(DataDir {
                root: dir.to_owned(),
            });
        }
        let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            Some(xdg) => PathBuf::from(xdg),
            None => {
                let home = std::env::var_os("HOME").context(
                    "cannot find a data directory: set --data-dir, PAPERHUB_DATA_DIR or HOME",
                )?;
                PathBuf::from(home).join(".local").join("share")
            }
        };
        Ok(DataDir {
            root: base.join("paperhub"),
        })
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Where the file mail transport writes `.eml` files.
    pub fn outbox_dir(&self) -> PathBuf {
        self.path().join("outbox")
    }

    /// The catalog database file.
    pub fn database_path(&self) -> PathBuf {
        self.root.join(DATABASE_FILE)
    }

    /// Creates the directory if needed and opens the catalog.
    ///
    /// # Errors
    /// The directory cannot be created or the database cannot be opened.
    pub fn open_store(&self) -> Result<SqliteStore> {
        fs_err::create_dir_all(&self.root)
            .with_context(|| format!("cannot create data directory {}", self.root.display()))?;
        let path = self.database_path();
        SqliteStore::open(&path).with_context(|| format!("cannot open catalog {}", path.display()))
    }
}
