//! Embedded schema migrations, applied in order when the store opens.
//!
//! The schema version lives in SQLite's `user_version` pragma. Each migration
//! runs in its own transaction together with the version bump, so a crash
//! leaves the database at a whole version.

use rusqlite::Connection;

use crate::error::DbError;

/// Every migration, in order; the version is the position plus one.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_catalog.sql"),
    include_str!("../migrations/0002_harvest_state.sql"),
    include_str!("../migrations/0003_modified_index.sql"),
    include_str!("../migrations/0004_community.sql"),
    include_str!("../migrations/0005_digests.sql"),
    include_str!("../migrations/0006_change_seq_and_leases.sql"),
    include_str!("../migrations/0007_token_expiry.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings `conn` up to [`SCHEMA_VERSION`].
///
/// # Errors
/// A migration fails, or the file is from a newer build.
pub fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(DbError::TooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as u32 + 1;
        let tx = conn
            .transaction()
            .map_err(|source| DbError::Migration { version, source })?;
        tx.execute_batch(sql)
            .and_then(|()| tx.execute_batch(&format!("PRAGMA user_version = {version}")))
            .and_then(|()| tx.commit())
            .map_err(|source| DbError::Migration { version, source })?;
        tracing::info!(schema.version = version, "applied migration {version}");
    }
    Ok(())
}
