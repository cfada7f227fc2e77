//! Author pages and follows in SQLite; see `paperhub_store::AuthorStore`.

use chrono::{DateTime, Utc};
use paperhub_domain::author::author_keys;
use paperhub_domain::bib::title_key;
use paperhub_domain::{ArxivId, Author, Paper, UserId};
use paperhub_store::{AuthorPapers, AuthorStore, FollowedAuthor, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::SqliteStore;
use crate::error::DbError;
use crate::rows::{parse_ts, ts};

/// Indexes `paper` by its authors and its title; `replace` drops its old
/// rows first.
pub(crate) fn index_paper(conn: &Connection, paper: &Paper, replace: bool) -> Result<(), DbError> {
    let id = paper.id.base();
    if replace {
        conn.prepare_cached("DELETE FROM paper_authors WHERE arxiv_id = ?1")?
            .execute([id])?;
        conn.prepare_cached("DELETE FROM paper_titles WHERE arxiv_id = ?1")?
            .execute([id])?;
    }
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO paper_authors (author_key, arxiv_id) VALUES (?1, ?2)",
    )?;
    for key in author_keys(&paper.authors) {
        insert.execute(params![key, id])?;
    }
    if let Some(key) = indexed_title(&paper.title) {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO paper_titles (title_key, arxiv_id) VALUES (?1, ?2)",
        )?
        .execute(params![key, id])?;
    }
    Ok(())
}

/// Queues `paper` for [`flush_backlog`] instead of indexing it now.
pub(crate) fn defer_index(conn: &Connection, paper: &Paper) -> Result<(), DbError> {
    conn.prepare_cached("INSERT INTO paper_index_backlog (arxiv_id) VALUES (?1)")?
        .execute([paper.id.base()])?;
    Ok(())
}

/// An import run still marked running and younger than this is taken to be
/// alive in another process: opening the store leaves its backlog to it
/// (writing it would hold the write lock longer than the importer waits).
const LIVE_RUN: chrono::Duration = chrono::Duration::hours(1);

/// [`flush_backlog`] at open: only when no import run that may still be
/// alive is under way. A run that died stays `running`; after an hour its
/// backlog is written by the next open (or by the next import's end).
pub(crate) fn flush_abandoned_backlog(conn: &mut Connection) -> Result<u64, DbError> {
    let since = (chrono::Utc::now() - LIVE_RUN).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let live: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM import_runs WHERE status = 'running' AND started_at > ?1)",
        [since],
        |r| r.get(0),
    )?;
    if live {
        return Ok(0);
    }
    flush_backlog(conn)
}

/// Below this many queued papers the backlog is inserted into the
/// indexes as they are; from it on, and when the backlog is at least half
/// the catalog (a first import), the id-side indexes are dropped and built
/// again after the sorted insert, which is several times faster than
/// keeping them up to date row by row.
const REBUILD_FROM: i64 = 50_000;

/// The secondary indexes a large flush rebuilds.
const REBUILT_INDEXES: [&str; 2] = ["paper_authors_paper", "paper_titles_paper"];

/// Writes the author and title index rows of every queued paper in one
/// transaction, in key order, and empties the queue; returns how many
/// papers were queued.
///
/// Inserting keys in order appends to each B-tree instead of touching a
/// random page per key: at 2.7 million papers (13 million author rows)
/// the row-by-row inserts dirtied most of the index on every batch. The
/// keys come from the same Rust functions as [`index_paper`], registered
/// with SQLite by [`register_functions`]. The sort spills to temporary
/// files, not memory.
pub(crate) fn flush_backlog(conn: &mut Connection) -> Result<u64, DbError> {
    flush_backlog_rebuilding_from(conn, REBUILD_FROM)
}

fn flush_backlog_rebuilding_from(conn: &mut Connection, rebuild_from: i64) -> Result<u64, DbError> {
    let queued: i64 =
        conn.query_row("SELECT count(*) FROM paper_index_backlog", [], |r| r.get(0))?;
    if queued == 0 {
        return Ok(0);
    }
    let catalog: i64 =
        conn.query_row("SELECT coalesce(max(id), 0) FROM papers", [], |r| r.get(0))?;
    let rebuild = queued >= rebuild_from && queued.saturating_mul(2) >= catalog;
    let started = std::time::Instant::now();
    conn.execute_batch("PRAGMA temp_store = FILE")?;
    let result = flush_in(conn, rebuild);
    conn.execute_batch("PRAGMA temp_store = MEMORY")?;
    result?;
    tracing::info!(
        papers = queued,
        rebuild,
        seconds = started.elapsed().as_secs_f64(),
        "wrote the deferred author and title index rows"
    );
    Ok(u64::try_from(queued).unwrap_or(0))
}

fn flush_in(conn: &mut Connection, rebuild: bool) -> Result<(), DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read the definitions from the schema, so they are written only in
    // the migrations.
    let mut rebuilt = Vec::new();
    if rebuild {
        for name in REBUILT_INDEXES {
            let sql: String = tx.query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
                [name],
                |r| r.get(0),
            )?;
            tx.execute_batch(&format!("DROP INDEX {name}"))?;
            rebuilt.push(sql);
        }
    }
    tx.execute_batch(
        "INSERT OR IGNORE INTO paper_authors (author_key, arxiv_id) \
           SELECT k.value, p.arxiv_id \
           FROM (SELECT DISTINCT arxiv_id FROM paper_index_backlog) b \
           JOIN papers p ON p.arxiv_id = b.arxiv_id, \
                json_each(paperhub_author_keys(p.authors)) k \
           ORDER BY 1, 2;
         INSERT OR IGNORE INTO paper_titles (title_key, arxiv_id) \
           SELECT k, arxiv_id FROM ( \
             SELECT paperhub_title_key(p.title) AS k, p.arxiv_id AS arxiv_id \
             FROM (SELECT DISTINCT arxiv_id FROM paper_index_backlog) b \
             JOIN papers p ON p.arxiv_id = b.arxiv_id) \
           WHERE k IS NOT NULL ORDER BY 1, 2;
         DELETE FROM paper_index_backlog;",
    )?;
    for sql in rebuilt {
        tx.execute_batch(&sql)?;
    }
    tx.commit()?;
    Ok(())
}

/// Registers the key functions [`flush_backlog`] calls on `conn`:
/// `paperhub_author_keys(authors_json)` gives a JSON array of the keys
/// (NULL when the list does not decode: such a row is not indexed, as in
/// [`backfill`]) and `paperhub_title_key(title)` the title's key or NULL.
pub(crate) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("paperhub_author_keys", 1, flags, |ctx| {
        let authors: String = ctx.get(0)?;
        Ok(serde_json::from_str::<Vec<Author>>(&authors)
            .ok()
            .and_then(|a| serde_json::to_string(&author_keys(&a)).ok()))
    })?;
    conn.create_scalar_function("paperhub_title_key", 1, flags, |ctx| {
        let title: String = ctx.get(0)?;
        Ok(indexed_title(&title))
    })
}

/// A title's key, when it is worth indexing (not empty, not huge).
pub(crate) fn indexed_title(title: &str) -> Option<String> {
    let key = title_key(title);
    (!key.is_empty() && key.len() <= 1_000).then_some(key)
}

/// Migration 11's step: indexes the papers already stored by title.
pub(crate) fn backfill_titles(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let mut read = tx.prepare("SELECT arxiv_id, title FROM papers")?;
    let mut insert =
        tx.prepare("INSERT OR IGNORE INTO paper_titles (title_key, arxiv_id) VALUES (?1, ?2)")?;
    let mut rows = read.query([])?;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let title: String = row.get(1)?;
        if let Some(key) = indexed_title(&title) {
            insert.execute(params![key, id])?;
        }
    }
    Ok(())
}

/// Catalog papers with these DOIs (any case), as (lower-case DOI, id).
pub(crate) fn by_doi(
    conn: &Connection,
    dois: &[String],
) -> Result<Vec<(String, ArxivId)>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT lower(doi), arxiv_id FROM papers WHERE doi IS NOT NULL AND lower(doi) = lower(?1)",
    )?;
    let mut out = Vec::new();
    for doi in dois {
        let rows = stmt
            .query_map([doi], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (d, id) in rows {
            if let Ok(id) = id.parse() {
                out.push((d, id));
            }
        }
    }
    Ok(out)
}

/// Catalog papers with these title keys, as (key, id).
pub(crate) fn by_title(
    conn: &Connection,
    keys: &[String],
) -> Result<Vec<(String, ArxivId)>, DbError> {
    let mut stmt =
        conn.prepare_cached("SELECT title_key, arxiv_id FROM paper_titles WHERE title_key = ?1")?;
    let mut out = Vec::new();
    for key in keys {
        let rows = stmt
            .query_map([key], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (k, id) in rows {
            if let Ok(id) = id.parse() {
                out.push((k, id));
            }
        }
    }
    Ok(out)
}

/// Migration 10's step: indexes the papers already stored. A row whose
/// author list does not decode is left out (the catalog reports it as
/// corrupt where it is read).
pub(crate) fn backfill(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let mut read = tx.prepare("SELECT arxiv_id, authors FROM papers")?;
    let mut insert =
        tx.prepare("INSERT OR IGNORE INTO paper_authors (author_key, arxiv_id) VALUES (?1, ?2)")?;
    let mut rows = read.query([])?;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let authors: String = row.get(1)?;
        let Ok(authors) = serde_json::from_str::<Vec<Author>>(&authors) else {
            tracing::warn!(paper = %id, "authors do not decode; not indexed by author");
            continue;
        };
        for key in author_keys(&authors) {
            insert.execute(params![key, id])?;
        }
    }
    Ok(())
}

impl AuthorStore for SqliteStore {
    fn author_papers(
        &self,
        key: &str,
        offset: u32,
        limit: u32,
        include_hidden: bool,
    ) -> StoreResult<AuthorPapers> {
        self.read(|conn| {
            let total: u64 = conn
                .prepare_cached(
                    "SELECT count(*) FROM paper_authors pa \
                     LEFT JOIN paper_community c ON c.arxiv_id = pa.arxiv_id \
                     WHERE pa.author_key = ?1 AND (?2 OR coalesce(c.hidden, 0) = 0)",
                )?
                .query_row(params![key, include_hidden], |r| r.get(0))?;
            let ids = conn
                .prepare_cached(
                    "SELECT pa.arxiv_id FROM paper_authors pa \
                     JOIN papers p ON p.arxiv_id = pa.arxiv_id \
                     LEFT JOIN paper_community c ON c.arxiv_id = pa.arxiv_id \
                     WHERE pa.author_key = ?1 AND (?4 OR coalesce(c.hidden, 0) = 0) \
                     ORDER BY coalesce(p.announced, substr(p.submitted, 1, 10)) DESC, \
                              pa.arxiv_id DESC \
                     LIMIT ?2 OFFSET ?3",
                )?
                .query_map(params![key, limit, offset, include_hidden], |r| {
                    r.get::<_, String>(0)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let ids = ids
                .into_iter()
                .map(|id| {
                    id.parse::<ArxivId>().map_err(|e| DbError::Corrupt {
                        what: "paper_authors",
                        key: id.clone(),
                        reason: e.to_string(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(AuthorPapers { ids, total })
        })
    }

    fn follow_author(
        &self,
        user: UserId,
        key: &str,
        name: &str,
        max: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists = tx
                .query_row(
                    "SELECT 1 FROM author_follows WHERE user_id = ?1 AND author_key = ?2",
                    params![user.0, key],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if exists {
                return Ok(false);
            }
            let count: u32 = tx.query_row(
                "SELECT count(*) FROM author_follows WHERE user_id = ?1",
                [user.0],
                |r| r.get(0),
            )?;
            if count >= max {
                return Err(DbError::Conflict { field: "follows" });
            }
            tx.execute(
                "INSERT INTO author_follows (user_id, author_key, name, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![user.0, key, name, ts(now)],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn unfollow_author(&self, user: UserId, key: &str) -> StoreResult<bool> {
        self.write(|conn| {
            Ok(conn.execute(
                "DELETE FROM author_follows WHERE user_id = ?1 AND author_key = ?2",
                params![user.0, key],
            )? > 0)
        })
    }

    fn followed_authors(&self, user: UserId) -> StoreResult<Vec<FollowedAuthor>> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT author_key, name, created_at FROM author_follows \
                     WHERE user_id = ?1 ORDER BY name COLLATE NOCASE, author_key",
                )?
                .query_map([user.0], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows
                .into_iter()
                .map(|(key, name, since)| FollowedAuthor {
                    key,
                    name,
                    since: parse_ts(&since).unwrap_or_default(),
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use paperhub_store::{AuthorStore, CatalogStore, ImportStatus};

    use super::*;

    fn paper(id: &str, authors: &[&str]) -> Paper {
        let mut p = Paper::new(
            id.parse().unwrap(),
            format!("Title of {id}"),
            "Text.".into(),
        );
        p.authors = authors
            .iter()
            .map(|a| Author::from_display_name(a))
            .collect();
        p.finalize();
        p
    }

    fn ids(store: &SqliteStore, key: &str) -> Vec<String> {
        let mut ids: Vec<String> = store
            .author_papers(key, 0, 100, true)
            .unwrap()
            .ids
            .iter()
            .map(|i| i.base().to_owned())
            .collect();
        ids.sort();
        ids
    }

    fn index_names(store: &SqliteStore) -> Vec<String> {
        let conn = store.writer();
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'paper_%s_paper' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn an_import_that_died_is_indexed_at_an_open_an_hour_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paperhub.sqlite3");
        {
            let store = SqliteStore::open(&path).unwrap();
            store.begin_import_run("x", Utc::now()).unwrap();
            store
                .upsert_papers(&[paper("2501.00001", &["Ada Lovelace"])], Utc::now())
                .unwrap();
            assert!(
                ids(&store, "ada lovelace").is_empty(),
                "deferred while the run is open"
            );
            // Dropped without finishing: the process died (or is alive elsewhere).
        }
        // A run started minutes ago may be alive in another process: left alone.
        let store = SqliteStore::open(&path).unwrap();
        assert!(ids(&store, "ada lovelace").is_empty());
        store
            .writer()
            .execute(
                "UPDATE import_runs SET started_at = '2020-01-01T00:00:00Z' WHERE status = 'running'",
                [],
            )
            .unwrap();
        drop(store);
        // An hour later it is taken for dead, and its backlog is written.
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(ids(&store, "ada lovelace"), ["2501.00001"]);
        let backlog: i64 = store
            .writer()
            .query_row("SELECT count(*) FROM paper_index_backlog", [], |r| r.get(0))
            .unwrap();
        assert_eq!(backlog, 0);
    }

    #[test]
    fn a_large_flush_rebuilds_the_id_indexes_and_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("paperhub.sqlite3")).unwrap();
        let before = index_names(&store);
        assert_eq!(before, ["paper_authors_paper", "paper_titles_paper"]);
        let run = store.begin_import_run("x", Utc::now()).unwrap();
        let papers: Vec<Paper> = (1..=300)
            .map(|n| {
                paper(
                    &format!("2501.{n:05}"),
                    &["Ada Lovelace", &format!("Author {}", n % 7)],
                )
            })
            .collect();
        let counts = store.upsert_papers(&papers, Utc::now()).unwrap();
        // Take the rebuilding path at this small size.
        assert_eq!(
            flush_backlog_rebuilding_from(&mut store.writer(), 10).unwrap(),
            300
        );
        store
            .finish_import_run(run, counts, 0, ImportStatus::Completed, Utc::now())
            .unwrap();
        assert_eq!(index_names(&store), before);
        let total = |key| store.author_papers(key, 0, 1, true).unwrap().total;
        assert_eq!(total("ada lovelace"), 300);
        assert_eq!(total("author 3"), 43);
        // The rebuilt index serves the id side: deleting a paper's rows.
        let plan: String = store
            .writer()
            .query_row(
                "EXPLAIN QUERY PLAN SELECT * FROM paper_authors WHERE arxiv_id = '2501.00001'",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("paper_authors_paper"), "{plan}");
    }

    #[test]
    fn key_functions_match_the_direct_index() {
        let conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        let p = paper(
            "2501.00001",
            &["Ada Lovelace", "ada  LOVELACE", "Alan Turing"],
        );
        let json = serde_json::to_string(&p.authors).unwrap();
        let keys: String = conn
            .query_row("SELECT paperhub_author_keys(?1)", [&json], |r| r.get(0))
            .unwrap();
        assert_eq!(
            keys,
            serde_json::to_string(&author_keys(&p.authors)).unwrap()
        );
        let broken: Option<String> = conn
            .query_row("SELECT paperhub_author_keys('not json')", [], |r| r.get(0))
            .unwrap();
        assert_eq!(broken, None);
        let title: Option<String> = conn
            .query_row("SELECT paperhub_title_key(?1)", [&p.title], |r| r.get(0))
            .unwrap();
        assert_eq!(title, indexed_title(&p.title));
    }
}
