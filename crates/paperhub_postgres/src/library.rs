//! Libraries in PostgreSQL; see `paperhub_store::LibraryStore`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use paperhub_domain::{ArxivId, UserId};
use paperhub_store::{
    BulkSaved, Collection, CollectionChange, CollectionId, ItemChange, LibraryLimits, LibraryStore,
    READING_LIST, Saved, SavedPaper, StoreResult,
};
use postgres::Transaction;

use crate::PgStore;
use crate::error::DbError;
use crate::rows::{count4, text};

const COLUMNS: &str = "c.id, c.user_id, c.slug, c.name, c.public, c.created_at, \
     (SELECT count(*) FROM collection_papers p WHERE p.collection_id = c.id)";

fn collection(row: &postgres::Row) -> Result<Collection, DbError> {
    Ok(Collection {
        id: CollectionId(row.try_get(0)?),
        owner: UserId(row.try_get(1)?),
        slug: row.try_get(2)?,
        name: row.try_get(3)?,
        public: row.try_get(4)?,
        created_at: row.try_get(5)?,
        papers: count4(i32::try_from(row.try_get::<_, i64>(6)?).unwrap_or(i32::MAX)),
    })
}

/// Serialises one user's library writes, so counts hold under races.
fn lock_user(tx: &mut Transaction<'_>, user: UserId) -> Result<(), DbError> {
    tx.query_opt("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user.0])?;
    Ok(())
}

fn owned(tx: &mut Transaction<'_>, user: UserId, id: CollectionId) -> Result<bool, DbError> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM collections WHERE id = $1 AND user_id = $2",
            &[&id.0, &user.0],
        )?
        .is_some())
}

fn insert_collection(
    tx: &mut Transaction<'_>,
    user: UserId,
    slug: &str,
    name: &str,
    public: bool,
    limits: LibraryLimits,
    now: DateTime<Utc>,
) -> Result<Collection, DbError> {
    let count: i64 = tx
        .query_one(
            "SELECT count(*) FROM collections WHERE user_id = $1",
            &[&user.0],
        )?
        .try_get(0)?;
    if count >= i64::from(limits.collections) {
        return Err(DbError::Conflict {
            field: "collections",
        });
    }
    let taken = tx
        .query_opt(
            "SELECT 1 FROM collections WHERE user_id = $1 AND slug = $2",
            &[&user.0, &slug],
        )?
        .is_some();
    if taken {
        return Err(DbError::Conflict { field: "slug" });
    }
    let name = text(name);
    let id: i64 = tx
        .query_one(
            "INSERT INTO collections (user_id, slug, name, public, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&user.0, &slug, &name, &public, &now],
        )?
        .try_get(0)?;
    Ok(Collection {
        id: CollectionId(id),
        owner: user,
        slug: slug.to_owned(),
        name: name.into_owned(),
        public,
        papers: 0,
        created_at: now,
    })
}

/// The user's reading list, made if need be (it never counts against the
/// collection limit).
fn reading_list(
    tx: &mut Transaction<'_>,
    user: UserId,
    limits: LibraryLimits,
    now: DateTime<Utc>,
) -> Result<CollectionId, DbError> {
    let found = tx.query_opt(
        "SELECT id FROM collections WHERE user_id = $1 AND slug = $2",
        &[&user.0, &READING_LIST.0],
    )?;
    if let Some(row) = found {
        return Ok(CollectionId(row.try_get(0)?));
    }
    let unbounded = LibraryLimits {
        collections: u32::MAX,
        ..limits
    };
    let (slug, name) = READING_LIST;
    Ok(insert_collection(tx, user, slug, name, false, unbounded, now)?.id)
}

impl LibraryStore for PgStore {
    fn collections(&self, user: UserId) -> StoreResult<Vec<Collection>> {
        self.read(|c| {
            c.query(
                &format!(
                    "SELECT {COLUMNS} FROM collections c WHERE c.user_id = $1 \
                     ORDER BY c.slug <> $2, lower(c.name), c.id"
                ),
                &[&user.0, &READING_LIST.0],
            )?
            .iter()
            .map(collection)
            .collect()
        })
    }

    fn collection(&self, user: UserId, slug: &str) -> StoreResult<Option<Collection>> {
        self.read(|c| {
            c.query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM collections c WHERE c.user_id = $1 AND c.slug = $2"
                ),
                &[&user.0, &text(slug)],
            )?
            .as_ref()
            .map(collection)
            .transpose()
        })
    }

    fn create_collection(
        &self,
        user: UserId,
        slug: &str,
        name: &str,
        public: bool,
        limits: LibraryLimits,
        now: DateTime<Utc>,
    ) -> StoreResult<Collection> {
        let slug = text(slug);
        self.write(|tx| {
            lock_user(tx, user)?;
            insert_collection(tx, user, &slug, name, public, limits, now)
        })
    }

    fn change_collection(
        &self,
        user: UserId,
        id: CollectionId,
        change: &CollectionChange<'_>,
    ) -> StoreResult<bool> {
        let (name, slug) = (change.name.map(text), change.slug.map(text));
        self.write(|tx| {
            lock_user(tx, user)?;
            if let Some(slug) = &slug {
                let taken = tx
                    .query_opt(
                        "SELECT 1 FROM collections WHERE user_id = $1 AND slug = $2 AND id <> $3",
                        &[&user.0, slug, &id.0],
                    )?
                    .is_some();
                if taken {
                    return Err(DbError::Conflict { field: "slug" });
                }
            }
            Ok(tx.execute(
                "UPDATE collections SET name = coalesce($3, name), slug = coalesce($4, slug), \
                 public = coalesce($5, public) WHERE id = $1 AND user_id = $2",
                &[&id.0, &user.0, &name, &slug, &change.public],
            )? > 0)
        })
    }

    fn delete_collection(&self, user: UserId, id: CollectionId) -> StoreResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM collections WHERE id = $1 AND user_id = $2",
                &[&id.0, &user.0],
            )? > 0)
        })
    }

    fn save_paper(
        &self,
        user: UserId,
        collection: Option<CollectionId>,
        paper: &ArxivId,
        limits: LibraryLimits,
        now: DateTime<Utc>,
    ) -> StoreResult<Saved> {
        let paper = paper.base();
        self.write(|tx| {
            let known = tx
                .query_opt("SELECT 1 FROM papers WHERE arxiv_id = $1", &[&paper])?
                .is_some();
            if !known {
                return Ok(Saved::NoSuchPaper);
            }
            lock_user(tx, user)?;
            let id = match collection {
                Some(id) if owned(tx, user, id)? => id,
                Some(_) => return Ok(Saved::NoSuchCollection),
                None => reading_list(tx, user, limits, now)?,
            };
            let there = tx
                .query_opt(
                    "SELECT 1 FROM collection_papers WHERE collection_id = $1 AND arxiv_id = $2",
                    &[&id.0, &paper],
                )?
                .is_some();
            if there {
                return Ok(Saved::AlreadyThere(id));
            }
            let held: i64 = tx
                .query_one(
                    "SELECT count(*) FROM collection_papers WHERE collection_id = $1",
                    &[&id.0],
                )?
                .try_get(0)?;
            if held >= i64::from(limits.papers) {
                return Ok(Saved::Full);
            }
            tx.execute(
                "INSERT INTO collection_papers (collection_id, arxiv_id, added_at) \
                 VALUES ($1, $2, $3)",
                &[&id.0, &paper, &now],
            )?;
            Ok(Saved::Added(id))
        })
    }

    fn save_papers(
        &self,
        user: UserId,
        collection: Option<CollectionId>,
        papers: &[(ArxivId, Option<String>)],
        limits: LibraryLimits,
        now: DateTime<Utc>,
    ) -> StoreResult<(CollectionId, BulkSaved)> {
        let ids: Vec<&str> = papers.iter().map(|(p, _)| p.base()).collect();
        let notes: Vec<String> = papers
            .iter()
            .map(|(_, n)| text(n.as_deref().unwrap_or("")).into_owned())
            .collect();
        self.write(|tx| {
            lock_user(tx, user)?;
            let id = match collection {
                Some(id) if owned(tx, user, id)? => id,
                Some(id) => return Err(DbError::NotFound(format!("collection {id}"))),
                None => reading_list(tx, user, limits, now)?,
            };
            let known: std::collections::HashSet<String> = tx
                .query("SELECT arxiv_id FROM papers WHERE arxiv_id = ANY($1)", &[&ids])?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            let there: std::collections::HashSet<String> = tx
                .query(
                    "SELECT arxiv_id FROM collection_papers WHERE collection_id = $1 AND arxiv_id = ANY($2)",
                    &[&id.0, &ids],
                )?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            let mut held: i64 = tx
                .query_one(
                    "SELECT count(*) FROM collection_papers WHERE collection_id = $1",
                    &[&id.0],
                )?
                .try_get(0)?;
            let mut done = BulkSaved::default();
            let (mut new_ids, mut new_notes, mut fill_ids, mut fill_notes) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let mut seen = std::collections::HashSet::new();
            for (paper, note) in ids.iter().zip(&notes) {
                if !known.contains(*paper) {
                    done.unknown += 1;
                } else if there.contains(*paper) || !seen.insert(*paper) {
                    done.already += 1;
                    if !note.is_empty() {
                        fill_ids.push(*paper);
                        fill_notes.push(note.as_str());
                    }
                } else if held >= i64::from(limits.papers) {
                    done.over_limit += 1;
                } else {
                    held += 1;
                    done.added += 1;
                    new_ids.push(*paper);
                    new_notes.push(note.as_str());
                }
            }
            tx.execute(
                "INSERT INTO collection_papers (collection_id, arxiv_id, note, added_at) \
                 SELECT $1, u.id, u.note, $4 FROM unnest($2::text[], $3::text[]) AS u(id, note) \
                 ON CONFLICT DO NOTHING",
                &[&id.0, &new_ids, &new_notes, &now],
            )?;
            tx.execute(
                "UPDATE collection_papers c SET note = u.note \
                 FROM unnest($2::text[], $3::text[]) AS u(id, note) \
                 WHERE c.collection_id = $1 AND c.arxiv_id = u.id AND c.note = ''",
                &[&id.0, &fill_ids, &fill_notes],
            )?;
            Ok((id, done))
        })
    }

    fn remove_paper(
        &self,
        user: UserId,
        collection: CollectionId,
        paper: &ArxivId,
    ) -> StoreResult<bool> {
        let paper = paper.base();
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM collection_papers WHERE arxiv_id = $2 AND collection_id = \
                 (SELECT id FROM collections WHERE id = $1 AND user_id = $3)",
                &[&collection.0, &paper, &user.0],
            )? > 0)
        })
    }

    fn change_saved(
        &self,
        user: UserId,
        collection: CollectionId,
        paper: &ArxivId,
        change: &ItemChange<'_>,
    ) -> StoreResult<bool> {
        let paper = paper.base();
        let note = change.note.map(text);
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE collection_papers SET note = coalesce($4, note), read = coalesce($5, read) \
                 WHERE arxiv_id = $2 AND collection_id = \
                 (SELECT id FROM collections WHERE id = $1 AND user_id = $3)",
                &[&collection.0, &paper, &user.0, &note, &change.read],
            )? > 0)
        })
    }

    fn saved_papers(
        &self,
        collection: CollectionId,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<SavedPaper>, u64)> {
        self.read(|c| {
            let total: i64 = c
                .query_one(
                    "SELECT count(*) FROM collection_papers WHERE collection_id = $1",
                    &[&collection.0],
                )?
                .try_get(0)?;
            let rows = c
                .query(
                    "SELECT arxiv_id, note, read, added_at FROM collection_papers \
                     WHERE collection_id = $1 ORDER BY added_at DESC, arxiv_id DESC \
                     LIMIT $2 OFFSET $3",
                    &[&collection.0, &i64::from(limit), &i64::from(offset)],
                )?
                .iter()
                .map(|r| {
                    Ok(SavedPaper {
                        paper: r.try_get(0)?,
                        note: r.try_get(1)?,
                        read: r.try_get(2)?,
                        added_at: r.try_get(3)?,
                    })
                })
                .collect::<Result<Vec<_>, DbError>>()?;
            Ok((rows, u64::try_from(total).unwrap_or_default()))
        })
    }

    fn saved_in(
        &self,
        user: UserId,
        papers: &[ArxivId],
    ) -> StoreResult<Vec<(String, Vec<CollectionId>)>> {
        if papers.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = papers.iter().map(ArxivId::base).collect();
        self.read(|c| {
            let mut by_paper: BTreeMap<String, Vec<CollectionId>> = BTreeMap::new();
            for row in c.query(
                "SELECT p.arxiv_id, p.collection_id FROM collection_papers p \
                 JOIN collections c ON c.id = p.collection_id \
                 WHERE c.user_id = $1 AND p.arxiv_id = ANY($2) \
                 ORDER BY p.arxiv_id, p.collection_id",
                &[&user.0, &ids],
            )? {
                by_paper
                    .entry(row.try_get(0)?)
                    .or_default()
                    .push(CollectionId(row.try_get(1)?));
            }
            Ok(by_paper.into_iter().collect())
        })
    }

    fn set_not_interested(
        &self,
        user: UserId,
        paper: &ArxivId,
        on: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let paper = paper.base();
        self.write(|tx| {
            let changed = if on {
                tx.execute(
                    "INSERT INTO not_interested (user_id, arxiv_id, created_at) \
                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&user.0, &paper, &now],
                )?
            } else {
                tx.execute(
                    "DELETE FROM not_interested WHERE user_id = $1 AND arxiv_id = $2",
                    &[&user.0, &paper],
                )?
            };
            Ok(changed > 0)
        })
    }

    fn recent_saves_of(
        &self,
        users: &[UserId],
        limit: u32,
    ) -> StoreResult<BTreeMap<UserId, Vec<String>>> {
        self.per_user(
            "SELECT user_id, arxiv_id FROM ( \
               SELECT c.user_id AS user_id, cp.arxiv_id AS arxiv_id, \
                 row_number() OVER (PARTITION BY c.user_id \
                   ORDER BY max(cp.added_at) DESC, cp.arxiv_id) AS n \
               FROM collection_papers cp JOIN collections c ON c.id = cp.collection_id \
               WHERE c.user_id = ANY($1) GROUP BY c.user_id, cp.arxiv_id) AS ranked \
             WHERE n <= $2 ORDER BY user_id, n",
            users,
            limit,
        )
    }

    fn not_interested_of(
        &self,
        users: &[UserId],
        limit: u32,
    ) -> StoreResult<BTreeMap<UserId, Vec<String>>> {
        self.per_user(
            "SELECT user_id, arxiv_id FROM ( \
               SELECT user_id, arxiv_id, row_number() OVER (PARTITION BY user_id \
                 ORDER BY created_at DESC, arxiv_id) AS n \
               FROM not_interested WHERE user_id = ANY($1)) AS ranked \
             WHERE n <= $2 ORDER BY user_id, n",
            users,
            limit,
        )
    }

    fn reset_not_interested(&self, user: UserId) -> StoreResult<u64> {
        self.write(
            |tx| Ok(tx.execute("DELETE FROM not_interested WHERE user_id = $1", &[&user.0])?),
        )
    }
}

impl PgStore {
    /// Runs `sql`, a query of `(user_id, arxiv_id)` rows in order with the
    /// user ids as `$1` and `limit` as `$2`, and groups the rows by user.
    fn per_user(
        &self,
        sql: &str,
        users: &[UserId],
        limit: u32,
    ) -> StoreResult<BTreeMap<UserId, Vec<String>>> {
        let ids: Vec<i64> = users.iter().map(|u| u.0).collect();
        self.read(|c| {
            let mut out: BTreeMap<UserId, Vec<String>> = BTreeMap::new();
            for row in c.query(sql, &[&ids, &i64::from(limit)])? {
                out.entry(UserId(row.try_get(0)?))
                    .or_default()
                    .push(row.try_get(1)?);
            }
            Ok(out)
        })
    }
}
