//! Throwaway databases for tests, on the server `scripts/test` starts.
//!
//! `PAPERHUB_TEST_DATABASE_URL` names that server's admin database. The
//! schema is migrated once into a template database (named after the
//! migrations' digest, so a changed schema gets a new one), under an
//! advisory lock so parallel tests build it once; each test then gets
//! `CREATE DATABASE … TEMPLATE`, which takes tens of milliseconds, and
//! drops it when done. Without the variable, PostgreSQL tests are skipped
//! unless `PAPERHUB_TEST_REQUIRE_POSTGRES=1` (set by `scripts/test`, so CI
//! never skips them silently).

use std::sync::atomic::{AtomicU64, Ordering};

use postgres::{Client, NoTls};
use sha2::{Digest, Sha256};

use crate::{MIGRATIONS, PgStore};

/// The server's admin URL, if tests should use one.
///
/// # Panics
/// When PostgreSQL is required (`PAPERHUB_TEST_REQUIRE_POSTGRES=1`) but no
/// URL is set: a CI run must not pass by skipping.
pub fn server_url() -> Option<String> {
    match std::env::var("PAPERHUB_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("PAPERHUB_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "PAPERHUB_TEST_REQUIRE_POSTGRES=1 but PAPERHUB_TEST_DATABASE_URL is not set"
            );
            eprintln!("skipped: PAPERHUB_TEST_DATABASE_URL not set");
            None
        }
    }
}

/// `url` with its database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    format!("{root}/{name}{query}")
}

/// A database that lives as long as this value.
pub struct FreshDb {
    admin_url: String,
    name: String,
    /// Its URL.
    pub url: String,
}

impl FreshDb {
    /// A new, migrated, empty database on the server at `admin_url`.
    ///
    /// # Panics
    /// The server cannot be reached or refuses; a test cannot go on then.
    pub fn new(admin_url: &str) -> FreshDb {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let template = template(admin_url);
        let name = format!(
            "t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let mut admin = connect(admin_url);
        let mut tries = 0;
        loop {
            // Fails while a connection to the template is still closing.
            match admin.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}")) {
                Ok(()) => break,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => panic!("cannot create test database {name}: {e}"),
            }
        }
        FreshDb {
            admin_url: admin_url.to_owned(),
            url: with_database(admin_url, &name),
            name,
        }
    }

    /// A store on this database with `pool_size` connections.
    ///
    /// # Panics
    /// It cannot be opened.
    pub fn open(&self, pool_size: u32) -> PgStore {
        match PgStore::open(&self.url, pool_size) {
            Ok(store) => store,
            Err(e) => panic!("cannot open {}: {e}", self.url),
        }
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&self.admin_url, NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

fn connect(url: &str) -> Client {
    match Client::connect(url, NoTls) {
        Ok(c) => c,
        Err(e) => panic!("cannot connect to the test server {url}: {e}"),
    }
}

/// The template database for this build's migrations, made if missing.
fn template(admin_url: &str) -> String {
    let mut digest = Sha256::new();
    for (_, sql) in MIGRATIONS {
        digest.update(sql.as_bytes());
    }
    let hex: String = digest
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = format!("paperhub_tmpl_{hex}");
    let mut admin = connect(admin_url);
    let lock = 0x7465_6d70_6c61_7465_i64;
    let ok = |r: Result<(), postgres::Error>| {
        if let Err(e) = r {
            panic!("preparing the template database {name}: {e}");
        }
    };
    ok(admin
        .execute("SELECT pg_advisory_lock($1)", &[&lock])
        .map(drop));
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .map(|r| r.is_some());
    match exists {
        Ok(true) => {}
        Ok(false) => {
            ok(admin.batch_execute(&format!("CREATE DATABASE {name}")));
            let store = PgStore::open(&with_database(admin_url, &name), 1);
            if let Err(e) = store {
                panic!("migrating the template database {name}: {e}");
            }
        }
        Err(e) => panic!("looking for the template database {name}: {e}"),
    }
    ok(admin
        .execute("SELECT pg_advisory_unlock($1)", &[&lock])
        .map(drop));
    name
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_replace_the_path_only() {
        assert_eq!(
            with_database("postgres://u@127.0.0.1:5/postgres", "t_1"),
            "postgres://u@127.0.0.1:5/t_1"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
