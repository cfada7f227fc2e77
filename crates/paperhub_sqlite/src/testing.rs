//! Looks inside a SQLite file for tests that check what only this backend
//! promises (the file survives `kill -9` intact) or that must skip a wait
//! (a killed sender's lease), without the tests naming SQLite's types.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// SQLite's `PRAGMA integrity_check` of the file: `"ok"` when intact.
///
/// # Errors
/// The file cannot be opened or read.
pub fn integrity_check(path: &Path) -> Result<String, rusqlite::Error> {
    open(path)?.query_row("PRAGMA integrity_check", [], |r| r.get(0))
}

/// Makes every outbox lease held on a queued mail expire now, as if its
/// sender's lease had run out; returns how many there were.
///
/// # Errors
/// The file cannot be opened or written.
pub fn expire_outbox_leases(path: &Path) -> Result<usize, rusqlite::Error> {
    open(path)?.execute(
        "UPDATE outbox SET lease_until = '2000-01-01T00:00:00.000Z' \
         WHERE status = 'queued' AND lease_owner IS NOT NULL",
        [],
    )
}
