//! Author pages and follows in PostgreSQL; see `paperhub_store::AuthorStore`.

use chrono::{DateTime, Utc};
use paperhub_domain::author::author_keys;
use paperhub_domain::{ArxivId, Author, Paper, UserId};
use paperhub_store::{AuthorPapers, AuthorStore, FollowedAuthor, StoreResult};
use postgres::Transaction;

use crate::PgStore;
use crate::error::DbError;
use crate::rows::text;

/// Indexes `papers` by their authors in one statement; the ids in
/// `replaced` lose their old rows first.
pub(crate) fn index_papers(
    tx: &mut Transaction<'_>,
    papers: &[&Paper],
    replaced: &[&str],
) -> Result<(), postgres::Error> {
    if !replaced.is_empty() {
        tx.execute(
            "DELETE FROM paper_authors WHERE arxiv_id = ANY($1)",
            &[&replaced],
        )?;
        tx.execute(
            "DELETE FROM paper_titles WHERE arxiv_id = ANY($1)",
            &[&replaced],
        )?;
    }
    let (mut title_keys, mut title_ids) = (Vec::new(), Vec::new());
    for p in papers {
        if let Some(key) = indexed_title(&p.title) {
            title_keys.push(key);
            title_ids.push(p.id.base());
        }
    }
    if !title_keys.is_empty() {
        tx.execute(
            "INSERT INTO paper_titles (title_key, arxiv_id) \
             SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
            &[&title_keys, &title_ids],
        )?;
    }
    let (mut keys, mut ids) = (Vec::new(), Vec::new());
    for p in papers {
        for key in author_keys(&p.authors) {
            keys.push(key);
            ids.push(p.id.base());
        }
    }
    if !keys.is_empty() {
        tx.execute(
            "INSERT INTO paper_authors (author_key, arxiv_id) \
             SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
            &[&keys, &ids],
        )?;
    }
    Ok(())
}

/// A title's key, when it is worth indexing (not empty, not huge).
pub(crate) fn indexed_title(title: &str) -> Option<String> {
    let key = paperhub_domain::bib::title_key(title);
    (!key.is_empty() && key.len() <= 1_000).then_some(key)
}

/// Migration 4's step: indexes the papers already stored by title.
pub(crate) fn backfill_titles(tx: &mut Transaction<'_>) -> Result<(), postgres::Error> {
    let mut after = String::new();
    loop {
        let rows = tx.query(
            "SELECT arxiv_id, title FROM papers WHERE arxiv_id > $1 ORDER BY arxiv_id LIMIT 10000",
            &[&after],
        )?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get(0)?;
        let (mut keys, mut ids) = (Vec::new(), Vec::new());
        for row in &rows {
            let title: String = row.try_get(1)?;
            if let Some(key) = indexed_title(&title) {
                keys.push(key);
                ids.push(row.try_get::<_, String>(0)?);
            }
        }
        tx.execute(
            "INSERT INTO paper_titles (title_key, arxiv_id) \
             SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
            &[&keys, &ids],
        )?;
    }
}

/// Catalog papers with these DOIs (any case), as (lower-case DOI, id).
pub(crate) fn by_doi(
    c: &mut impl postgres::GenericClient,
    dois: &[String],
) -> Result<Vec<(String, ArxivId)>, DbError> {
    let lower: Vec<String> = dois.iter().map(|d| d.to_lowercase()).collect();
    Ok(c.query(
        "SELECT lower(doi), arxiv_id FROM papers \
             WHERE doi IS NOT NULL AND lower(doi) = ANY($1)",
        &[&lower],
    )?
    .iter()
    .filter_map(|r| {
        let id: String = r.try_get(1).ok()?;
        Some((r.try_get(0).ok()?, id.parse().ok()?))
    })
    .collect())
}

/// Catalog papers with these title keys, as (key, id).
pub(crate) fn by_title(
    c: &mut impl postgres::GenericClient,
    keys: &[String],
) -> Result<Vec<(String, ArxivId)>, DbError> {
    Ok(c.query(
        "SELECT title_key, arxiv_id FROM paper_titles WHERE title_key = ANY($1)",
        &[&keys],
    )?
    .iter()
    .filter_map(|r| {
        let id: String = r.try_get(1).ok()?;
        Some((r.try_get(0).ok()?, id.parse().ok()?))
    })
    .collect())
}

/// Migration 3's step: indexes the papers already stored, in batches. A
/// row whose author list does not decode is left out (the catalog reports
/// it as corrupt where it is read).
pub(crate) fn backfill(tx: &mut Transaction<'_>) -> Result<(), postgres::Error> {
    let mut after = String::new();
    loop {
        let rows = tx.query(
            "SELECT arxiv_id, authors FROM papers WHERE arxiv_id > $1 \
             ORDER BY arxiv_id LIMIT 10000",
            &[&after],
        )?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get(0)?;
        let (mut keys, mut ids) = (Vec::new(), Vec::new());
        for row in &rows {
            let id: String = row.try_get(0)?;
            let authors: String = row.try_get(1)?;
            let Ok(authors) = serde_json::from_str::<Vec<Author>>(&authors) else {
                tracing::warn!(paper = %id, "authors do not decode; not indexed by author");
                continue;
            };
            for key in author_keys(&authors) {
                keys.push(key);
                ids.push(id.clone());
            }
        }
        tx.execute(
            "INSERT INTO paper_authors (author_key, arxiv_id) \
             SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
            &[&keys, &ids],
        )?;
    }
}

impl AuthorStore for PgStore {
    fn author_papers(
        &self,
        key: &str,
        offset: u32,
        limit: u32,
        include_hidden: bool,
    ) -> StoreResult<AuthorPapers> {
        self.read(|c| {
            let total: i64 = c
                .query_one(
                    "SELECT count(*) FROM paper_authors pa \
                     LEFT JOIN paper_community pc ON pc.arxiv_id = pa.arxiv_id \
                     WHERE pa.author_key = $1 AND ($2 OR NOT coalesce(pc.hidden, false))",
                    &[&key, &include_hidden],
                )?
                .try_get(0)?;
            let ids = c
                .query(
                    "SELECT pa.arxiv_id FROM paper_authors pa \
                     JOIN papers p ON p.arxiv_id = pa.arxiv_id \
                     LEFT JOIN paper_community pc ON pc.arxiv_id = pa.arxiv_id \
                     WHERE pa.author_key = $1 AND ($4 OR NOT coalesce(pc.hidden, false)) \
                     ORDER BY coalesce(p.announced, p.submitted::date) DESC NULLS LAST, \
                              pa.arxiv_id DESC \
                     LIMIT $2 OFFSET $3",
                    &[&key, &i64::from(limit), &i64::from(offset), &include_hidden],
                )?
                .iter()
                .map(|r| {
                    let id: String = r.try_get(0)?;
                    id.parse::<ArxivId>()
                        .map_err(|e| DbError::corrupt_paper(&id, e))
                })
                .collect::<Result<Vec<_>, DbError>>()?;
            Ok(AuthorPapers {
                ids,
                total: u64::try_from(total).unwrap_or_default(),
            })
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
        let name = text(name);
        self.write(|tx| {
            // Serialises one user's follows, so the count holds.
            tx.query_opt("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user.0])?;
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM author_follows WHERE user_id = $1 AND author_key = $2",
                    &[&user.0, &key],
                )?
                .is_some();
            if exists {
                return Ok(false);
            }
            let count: i64 = tx
                .query_one(
                    "SELECT count(*) FROM author_follows WHERE user_id = $1",
                    &[&user.0],
                )?
                .try_get(0)?;
            if count >= i64::from(max) {
                return Err(DbError::Conflict { field: "follows" });
            }
            tx.execute(
                "INSERT INTO author_follows (user_id, author_key, name, created_at) \
                 VALUES ($1, $2, $3, $4)",
                &[&user.0, &key, &name, &now],
            )?;
            Ok(true)
        })
    }

    fn unfollow_author(&self, user: UserId, key: &str) -> StoreResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM author_follows WHERE user_id = $1 AND author_key = $2",
                &[&user.0, &key],
            )? > 0)
        })
    }

    fn followed_authors(&self, user: UserId) -> StoreResult<Vec<FollowedAuthor>> {
        self.read(|c| {
            c.query(
                "SELECT author_key, name, created_at FROM author_follows \
                 WHERE user_id = $1 ORDER BY lower(name), author_key",
                &[&user.0],
            )?
            .iter()
            .map(|r| {
                Ok(FollowedAuthor {
                    key: r.try_get(0)?,
                    name: r.try_get(1)?,
                    since: r.try_get(2)?,
                })
            })
            .collect()
        })
    }
}
