//! The data directory: where the catalog and, later, indexes and models live.
//!
//! Resolution order: `--data-dir`, then `PAPERHUB_DATA_DIR` (both handled by
//! clap), then `$XDG_DATA_HOME/paperhub`, then `~/.local/share/paperhub`.
//!
//! The directory is private to its owner (mode 0700) and so is the catalog
//! (0600, with its `-wal` and `-shm`): they hold password hashes, session
//! and token hashes, and subscribers' addresses. Modes are set explicitly
//! rather than left to the umask, and an existing directory or database
//! that others can read is tightened, with a warning.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

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
}

/// Mode of the data directory and its subdirectories: owner only.
const PRIVATE_DIR: u32 = 0o700;
/// Mode of files holding personal data: owner read and write only.
const PRIVATE_FILE: u32 = 0o600;

/// Creates `dir` and its missing parents with mode 0700, or tightens an
/// existing `dir` that group or others can use.
///
/// # Errors
/// The directory cannot be created or its mode cannot be read or set.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(PRIVATE_DIR);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    // The umask may have taken bits away from 0700 (harmless) and an
    // existing directory keeps whatever mode it had.
    make_private(dir, PRIVATE_DIR)
}

/// Creates `path` empty with mode 0600 unless it exists, then tightens it
/// if group or others can read it. An empty file is a valid new SQLite
/// database, so SQLite opens it rather than creating its own.
///
/// # Errors
/// The file cannot be created or its mode cannot be read or set.
pub fn create_private_file(path: &Path) -> Result<()> {
    let mut options = fs_err::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use fs_err::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE_FILE);
    }
    match options.open(path) {
        Ok(file) => {
            // Exactly 0600 whatever the umask took away.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(PRIVATE_FILE))?;
            }
            drop(file);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => make_private(path, PRIVATE_FILE),
        Err(e) => Err(e.into()),
    }
}

/// Tightens an existing file that group or others can read to 0600;
/// a missing file is fine.
///
/// # Errors
/// Its mode cannot be read or set.
pub fn make_private_file(path: &Path) -> Result<()> {
    make_private(path, PRIVATE_FILE)
}

/// Sets `path` to `mode` when group or others have any access to it, with
/// a warning naming the old mode; a missing path is left alone.
#[cfg(unix)]
fn make_private(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let old = match fs_err::metadata(path) {
        Ok(meta) => meta.permissions().mode() & 0o7777,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if old & 0o077 == 0 {
        return Ok(());
    }
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    tracing::warn!(
        path = %path.display(),
        "{} was mode {old:o}, readable by other users; set it to {mode:o}, since it holds \
         personal data",
        path.display()
    );
    Ok(())
}

/// Permissions are left to the platform elsewhere.
#[cfg(not(unix))]
fn make_private(_path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}
