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
