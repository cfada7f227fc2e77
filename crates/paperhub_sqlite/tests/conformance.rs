//! The store conformance suite on SQLite: a fresh file per case, and a
//! second node as a second `open` of the same file.

#![expect(
    clippy::unwrap_used,
    reason = "a harness that cannot open its store fails the case"
)]

use std::sync::Arc;

use paperhub_sqlite::SqliteStore;
use paperhub_store::Store;
use paperhub_store::conformance::Harness;

struct SqliteHarness {
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
}

impl SqliteHarness {
    fn new() -> SqliteHarness {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("paperhub.sqlite3")).unwrap());
        SqliteHarness { dir, store }
    }
}

impl Harness for SqliteHarness {
    fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    fn second_node(&self) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(&self.dir.path().join("paperhub.sqlite3")).unwrap())
    }
}

paperhub_store::conformance_tests!(SqliteHarness::new());
