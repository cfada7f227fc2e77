//! Embedded schema migrations, applied in order when the store opens.
//!
//! The schema version lives in SQLite's `user_version` pragma. Each migration
//! runs in its own transaction together with the version bump, so a crash
//! leaves the database at a whole version.

use rusqlite::Connection;

use paperhub_store::OpenError;

/// Every migration, in order; the version is the position plus one.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_catalog.sql"),
    include_str!("../migrations/0002_harvest_state.sql"),
    include_str!("../migrations/0003_modified_index.sql"),
    include_str!("../migrations/0004_community.sql"),
    include_str!("../migrations/0005_digests.sql"),
    include_str!("../migrations/0006_change_seq_and_leases.sql"),
    include_str!("../migrations/0007_token_expiry.sql"),
    include_str!("../migrations/0008_nodes.sql"),
    include_str!("../migrations/0009_comments.sql"),
    include_str!("../migrations/0010_authors.sql"),
    include_str!("../migrations/0011_library.sql"),
    include_str!("../migrations/0012_paper_index_backlog.sql"),
    include_str!("../migrations/0013_stats_indexes.sql"),
    include_str!("../migrations/0014_feed_generation.sql"),
];

/// Steps in Rust that run after a migration's SQL, in its transaction:
/// filling a new index from rows whose decoding SQL cannot do.
type Step = fn(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>;
const AFTER: &[(u32, Step)] = &[
    (10, crate::authors::backfill),
    (11, crate::authors::backfill_titles),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings `conn` up to [`SCHEMA_VERSION`].
///
/// Two processes may open a fresh file at once (an import and a reader),
/// so each step reads the version again inside its write transaction and
/// skips a migration the other process has applied meanwhile.
///
/// # Errors
/// A migration fails, or the file is from a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), OpenError> {
    if check_version(user_version(conn, 0)?)? == SCHEMA_VERSION {
        return Ok(());
    }
    loop {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|source| OpenError::Migration {
                version: 0,
                source: Box::new(source),
            })?;
        let current = check_version(user_version(&tx, 0)?)?;
        if current == SCHEMA_VERSION {
            return Ok(());
        }
        let version = current + 1;
        let sql = MIGRATIONS[current as usize];
        tx.execute_batch(sql)
            .and_then(|()| {
                AFTER
                    .iter()
                    .filter(|(v, _)| *v == version)
                    .try_for_each(|(_, step)| step(&tx))
            })
            .and_then(|()| tx.execute_batch(&format!("PRAGMA user_version = {version}")))
            .and_then(|()| tx.commit())
            .map_err(|source| OpenError::Migration {
                version,
                source: Box::new(source),
            })?;
        tracing::info!(schema.version = version, "applied migration {version}");
    }
}

/// The schema version stored in the file; `version` names the migration
/// under way for the error.
fn user_version(conn: &Connection, version: u32) -> Result<u32, OpenError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|source| OpenError::Migration {
            version,
            source: Box::new(source),
        })
}

/// `found`, unless the file is from a newer build.
fn check_version(found: u32) -> Result<u32, OpenError> {
    if found > SCHEMA_VERSION {
        return Err(OpenError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;
    use paperhub_store::{CatalogStore, ChangePosition};

    /// Migration 10 indexes the papers stored before it by their authors,
    /// and skips a row whose author list does not decode.
    #[test]
    fn the_author_index_is_filled_for_papers_stored_before_it() {
        use paperhub_store::AuthorStore;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            for (i, sql) in MIGRATIONS[..9].iter().enumerate() {
                conn.execute_batch(sql).unwrap();
                conn.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                    .unwrap();
            }
            for (seq, id, authors) in [
                (
                    "1",
                    "2501.00001",
                    r#"[{"name":"Ada Lovelace"},{"name":"Alan Turing"}]"#,
                ),
                ("2", "2501.00002", r#"[{"name":"alan  TURING"}]"#),
                ("3", "2501.00003", "not json"),
            ] {
                conn.execute(
                    "INSERT INTO papers (arxiv_id, title, abstract, authors, categories, \
                     versions, announced, created_at, modified_at, change_seq) \
                     VALUES (?1, 'T', 'A', ?2, 'cs.LG', '[]', '2025-03-21', 'x', 'x', ?3)",
                    [id, authors, seq],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        let found = store.author_papers("alan turing", 0, 10, false).unwrap();
        assert_eq!(found.total, 2);
        assert_eq!(
            store
                .author_papers("ada lovelace", 0, 10, false)
                .unwrap()
                .total,
            1
        );
    }

    /// A catalog at schema 5 with rows whose `(modified_at, id)` order differs
    /// from their id order, opened by this build.
    #[test]
    fn change_numbers_are_backfilled_in_the_old_cursor_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            for (i, sql) in MIGRATIONS[..5].iter().enumerate() {
                conn.execute_batch(sql).unwrap();
                conn.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                    .unwrap();
            }
            // Ids 1..=4 changed at 12:00:03, :01, :01, :02.
            for (id, modified) in [
                ("2501.00001", "2025-03-21T12:00:03Z"),
                ("2501.00002", "2025-03-21T12:00:01Z"),
                ("2501.00003", "2025-03-21T12:00:01Z"),
                ("2501.00004", "2025-03-21T12:00:02Z"),
            ] {
                conn.execute(
                    "INSERT INTO papers (arxiv_id, title, abstract, authors, categories, \
                     versions, created_at, modified_at) \
                     VALUES (?1, 'T', 'A', '[]', 'cs.LG', '[]', ?2, ?2)",
                    [id, modified],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        let order: Vec<(i64, String)> = store
            .changed_papers(None, 10)
            .unwrap()
            .into_iter()
            .map(|(at, p)| (at.0, p.id.to_string()))
            .collect();
        assert_eq!(
            order,
            [
                (1, "2501.00002".to_owned()),
                (2, "2501.00003".to_owned()),
                (3, "2501.00004".to_owned()),
                (4, "2501.00001".to_owned()),
            ]
        );
        // An index that had reached (12:00:02, row 4) resumes after paper 4.
        let at = store
            .legacy_change_position("2025-03-21T12:00:02Z", 4)
            .unwrap();
        assert_eq!(at, ChangePosition(3));
        assert_eq!(
            store.legacy_change_position("", 0).unwrap(),
            ChangePosition(0)
        );
    }

    /// Two processes opening one fresh file at once both succeed: the
    /// later one skips the migrations the earlier one applied meanwhile.
    #[test]
    fn concurrent_openers_of_a_fresh_file_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..24)
            .map(|i| {
                let path = dir.path().join(format!("race{}.sqlite3", i / 3));
                std::thread::spawn(move || SqliteStore::open(&path).map(|_| ()))
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
    }
}
