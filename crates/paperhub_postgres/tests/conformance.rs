//! The store conformance suite on PostgreSQL: a fresh database per case,
//! and a second node as a second pool on the same database.

use std::sync::Arc;

use paperhub_postgres::testing::{FreshDb, server_url};
use paperhub_store::Store;
use paperhub_store::conformance::Harness;

struct PgHarness {
    // Dropped last: the stores' connections close before the database goes.
    store: Arc<dyn Store>,
    db: FreshDb,
}

impl PgHarness {
    fn new(url: &str) -> PgHarness {
        let db = FreshDb::new(url);
        let store = Arc::new(db.open(8));
        PgHarness { store, db }
    }
}

impl Harness for PgHarness {
    fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    fn second_node(&self) -> Arc<dyn Store> {
        Arc::new(self.db.open(8))
    }
}

paperhub_store::conformance_tests!(match server_url() {
    Some(url) => PgHarness::new(&url),
    None => return,
});
