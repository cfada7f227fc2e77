//! Embedded schema migrations, applied in order when the store opens.
//!
//! Versions are recorded in `schema_migrations` with each file's SHA-256.
//! Each migration runs in one transaction that first takes an advisory
//! lock, so two nodes starting at once migrate once. A database with a
//! version this build does not know, or whose applied file changed, is
//! refused.

use paperhub_store::OpenError;
use postgres::GenericClient;
use sha2::{Digest, Sha256};

/// Every migration, in order, with its version.
///
/// The numbering is PostgreSQL's own, independent of SQLite's: version 1 is
/// the schema SQLite reaches at version 8.
pub const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_comments.sql")),
    (3, include_str!("../migrations/0003_authors.sql")),
    (4, include_str!("../migrations/0004_library.sql")),
    (5, include_str!("../migrations/0005_feed_generation.sql")),
];

/// Steps in Rust that run after a migration's SQL, in its transaction:
/// filling a new index from rows whose decoding SQL cannot do.
type Step = fn(&mut postgres::Transaction<'_>) -> Result<(), postgres::Error>;
const AFTER: &[(u32, Step)] = &[
    (3, crate::authors::backfill),
    (4, crate::authors::backfill_titles),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The advisory lock key migrations hold: "paperhub" in ASCII, folded.
const MIGRATION_LOCK: i64 = 0x7061_7065_7268_7562;

fn failed(version: u32) -> impl Fn(postgres::Error) -> OpenError {
    move |source| OpenError::Migration {
        version,
        source: Box::new(source),
    }
}

fn sha256_hex(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Brings the database up to [`SCHEMA_VERSION`].
///
/// # Errors
/// A migration fails, an applied file differs from this build's, or the
/// database is from a newer build.
pub(crate) fn migrate(client: &mut impl GenericClient) -> Result<(), OpenError> {
    for &(version, sql) in MIGRATIONS {
        let mut tx = client.transaction().map_err(failed(version))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(failed(version))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now(),
                 sha256 text NOT NULL)",
        )
        .map_err(failed(version))?;
        let newest: Option<i32> = tx
            .query_one("SELECT max(version) FROM schema_migrations", &[])
            .map_err(failed(version))?
            .get(0);
        let newest = newest.map_or(0, |v| v.max(0) as u32);
        if newest > SCHEMA_VERSION {
            return Err(OpenError::TooNew {
                found: newest,
                supported: SCHEMA_VERSION,
            });
        }
        let digest = sha256_hex(sql);
        let applied: Option<String> = tx
            .query_opt(
                "SELECT sha256 FROM schema_migrations WHERE version = $1",
                &[&(version as i32)],
            )
            .map_err(failed(version))?
            .map(|r| r.get(0));
        match applied {
            Some(old) if old == digest => {}
            Some(old) => {
                return Err(OpenError::Migration {
                    version,
                    source: format!(
                        "the database applied a different migration {version} (sha256 {old}, \
                         this build has {digest}); it was made by another build"
                    )
                    .into(),
                });
            }
            None => {
                tx.batch_execute(sql).map_err(failed(version))?;
                for (_, step) in AFTER.iter().filter(|(v, _)| *v == version) {
                    step(&mut tx).map_err(failed(version))?;
                }
                tx.execute(
                    "INSERT INTO schema_migrations (version, sha256) VALUES ($1, $2)",
                    &[&(version as i32), &digest],
                )
                .map_err(failed(version))?;
                tracing::info!(
                    schema.version = version,
                    "applied PostgreSQL migration {version}"
                );
            }
        }
        tx.commit().map_err(failed(version))?;
    }
    Ok(())
}
