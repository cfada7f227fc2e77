//! Libraries in SQLite; see `paperhub_store::LibraryStore`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use paperhub_domain::{ArxivId, UserId};
use paperhub_store::{
    BulkSaved, Collection, CollectionChange, CollectionId, ItemChange, LibraryLimits, LibraryStore,
    READING_LIST, Saved, SavedPaper, StoreResult,
};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params, params_from_iter};

use crate::SqliteStore;
use crate::error::DbError;
use crate::rows::{is_unique_violation, parse_ts, ts};

const COLUMNS: &str = "c.id, c.user_id, c.slug, c.name, c.public, c.created_at, \
     (SELECT count(*) FROM collection_papers p WHERE p.collection_id = c.id)";

fn collection(row: &Row<'_>) -> rusqlite::Result<Collection> {
    let created: String = row.get(5)?;
    Ok(Collection {
        id: CollectionId(row.get(0)?),
        owner: UserId(row.get(1)?),
        slug: row.get(2)?,
        name: row.get(3)?,
        public: row.get(4)?,
        papers: row.get(6)?,
        created_at: parse_ts(&created).unwrap_or_default(),
    })
}

/// The user's collection `id`, if it is theirs.
fn owned(conn: &Connection, user: UserId, id: CollectionId) -> Result<bool, DbError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM collections WHERE id = ?1 AND user_id = ?2",
            params![id.0, user.0],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Makes a collection inside the caller's transaction.
fn insert_collection(
    conn: &Connection,
    user: UserId,
    slug: &str,
    name: &str,
    public: bool,
    limits: LibraryLimits,
    now: DateTime<Utc>,
) -> Result<Collection, DbError> {
    let count: u32 = conn.query_row(
        "SELECT count(*) FROM collections WHERE user_id = ?1",
        [user.0],
        |r| r.get(0),
    )?;
    if count >= limits.collections {
        return Err(DbError::Conflict {
            field: "collections",
        });
    }
    let inserted = conn.execute(
        "INSERT INTO collections (user_id, slug, name, public, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user.0, slug, name, public, ts(now)],
    );
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(DbError::Conflict { field: "slug" }),
        Err(e) => return Err(e.into()),
    }
    Ok(Collection {
        id: CollectionId(conn.last_insert_rowid()),
        owner: user,
        slug: slug.to_owned(),
        name: name.to_owned(),
        public,
        papers: 0,
        created_at: now,
    })
}

/// The user's reading list, made if need be (it never counts against the
/// collection limit).
fn reading_list(
    conn: &Connection,
    user: UserId,
    limits: LibraryLimits,
    now: DateTime<Utc>,
) -> Result<CollectionId, DbError> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT id FROM collections WHERE user_id = ?1 AND slug = ?2",
            params![user.0, READING_LIST.0],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = found {
        return Ok(CollectionId(id));
    }
    let unbounded = LibraryLimits {
        collections: u32::MAX,
        ..limits
    };
    let (slug, name) = READING_LIST;
    Ok(insert_collection(conn, user, slug, name, false, unbounded, now)?.id)
}

impl LibraryStore for SqliteStore {
    fn collections(&self, user: UserId) -> StoreResult<Vec<Collection>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM collections c WHERE c.user_id = ?1 \
                     ORDER BY c.slug <> ?2, c.name COLLATE NOCASE, c.id"
                ))?
                .query_map(params![user.0, READING_LIST.0], collection)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn collection(&self, user: UserId, slug: &str) -> StoreResult<Option<Collection>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM collections c WHERE c.user_id = ?1 AND c.slug = ?2"
                ))?
                .query_row(params![user.0, slug], collection)
                .optional()?)
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
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let made = insert_collection(&tx, user, slug, name, public, limits, now)?;
            tx.commit()?;
            Ok(made)
        })
    }

    fn change_collection(
        &self,
        user: UserId,
        id: CollectionId,
        change: &CollectionChange<'_>,
    ) -> StoreResult<bool> {
        self.write(|conn| {
            let changed = conn.execute(
                "UPDATE collections SET name = coalesce(?3, name), slug = coalesce(?4, slug), \
                 public = coalesce(?5, public) WHERE id = ?1 AND user_id = ?2",
                params![id.0, user.0, change.name, change.slug, change.public],
            );
            match changed {
                Ok(n) => Ok(n > 0),
                Err(e) if is_unique_violation(&e) => Err(DbError::Conflict { field: "slug" }),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn delete_collection(&self, user: UserId, id: CollectionId) -> StoreResult<bool> {
        self.write(|conn| {
            Ok(conn.execute(
                "DELETE FROM collections WHERE id = ?1 AND user_id = ?2",
                params![id.0, user.0],
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
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let known = tx
                .query_row(
                    "SELECT 1 FROM papers WHERE arxiv_id = ?1",
                    [paper.base()],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !known {
                return Ok(Saved::NoSuchPaper);
            }
            let id = match collection {
                Some(id) if owned(&tx, user, id)? => id,
                Some(_) => return Ok(Saved::NoSuchCollection),
                None => reading_list(&tx, user, limits, now)?,
            };
            let there = tx
                .query_row(
                    "SELECT 1 FROM collection_papers WHERE collection_id = ?1 AND arxiv_id = ?2",
                    params![id.0, paper.base()],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if there {
                tx.commit()?;
                return Ok(Saved::AlreadyThere(id));
            }
            let held: u32 = tx.query_row(
                "SELECT count(*) FROM collection_papers WHERE collection_id = ?1",
                [id.0],
                |r| r.get(0),
            )?;
            if held >= limits.papers {
                return Ok(Saved::Full);
            }
            tx.execute(
                "INSERT INTO collection_papers (collection_id, arxiv_id, added_at) \
                 VALUES (?1, ?2, ?3)",
                params![id.0, paper.base(), ts(now)],
            )?;
            tx.commit()?;
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
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let id = match collection {
                Some(id) if owned(&tx, user, id)? => id,
                Some(id) => {
                    return Err(DbError::NotFound(format!("collection {id}")));
                }
                None => reading_list(&tx, user, limits, now)?,
            };
            let mut held: u32 = tx.query_row(
                "SELECT count(*) FROM collection_papers WHERE collection_id = ?1",
                [id.0],
                |r| r.get(0),
            )?;
            let mut done = BulkSaved::default();
            {
                let mut known = tx.prepare_cached("SELECT 1 FROM papers WHERE arxiv_id = ?1")?;
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO collection_papers (collection_id, arxiv_id, note, added_at) \
                     VALUES (?1, ?2, ?3, ?4)",
                )?;
                let mut fill = tx.prepare_cached(
                    "UPDATE collection_papers SET note = ?3 \
                     WHERE collection_id = ?1 AND arxiv_id = ?2 AND note = ''",
                )?;
                let stamp = ts(now);
                for (paper, note) in papers {
                    if !known.exists([paper.base()])? {
                        done.unknown += 1;
                        continue;
                    }
                    let note = note.as_deref().unwrap_or("");
                    if held >= limits.papers {
                        let there: bool = tx
                            .query_row(
                                "SELECT 1 FROM collection_papers WHERE collection_id = ?1 AND arxiv_id = ?2",
                                params![id.0, paper.base()],
                                |_| Ok(()),
                            )
                            .optional()?
                            .is_some();
                        if !there {
                            done.over_limit += 1;
                            continue;
                        }
                    }
                    if insert.execute(params![id.0, paper.base(), note, stamp])? > 0 {
                        done.added += 1;
                        held += 1;
                    } else {
                        done.already += 1;
                        if !note.is_empty() {
                            fill.execute(params![id.0, paper.base(), note])?;
                        }
                    }
                }
            }
            tx.commit()?;
            Ok((id, done))
        })
    }

    fn remove_paper(
        &self,
        user: UserId,
        collection: CollectionId,
        paper: &ArxivId,
    ) -> StoreResult<bool> {
        self.write(|conn| {
            Ok(conn.execute(
                "DELETE FROM collection_papers WHERE arxiv_id = ?2 AND collection_id = \
                 (SELECT id FROM collections WHERE id = ?1 AND user_id = ?3)",
                params![collection.0, paper.base(), user.0],
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
        self.write(|conn| {
            Ok(conn.execute(
                "UPDATE collection_papers SET note = coalesce(?4, note), read = coalesce(?5, read) \
                 WHERE arxiv_id = ?2 AND collection_id = \
                 (SELECT id FROM collections WHERE id = ?1 AND user_id = ?3)",
                params![collection.0, paper.base(), user.0, change.note, change.read],
            )? > 0)
        })
    }

    fn saved_papers(
        &self,
        collection: CollectionId,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<SavedPaper>, u64)> {
        self.read(|conn| {
            let total: u64 = conn.query_row(
                "SELECT count(*) FROM collection_papers WHERE collection_id = ?1",
                [collection.0],
                |r| r.get(0),
            )?;
            let rows = conn
                .prepare_cached(
                    "SELECT arxiv_id, note, read, added_at FROM collection_papers \
                     WHERE collection_id = ?1 ORDER BY added_at DESC, arxiv_id DESC \
                     LIMIT ?2 OFFSET ?3",
                )?
                .query_map(params![collection.0, limit, offset], |r| {
                    let added: String = r.get(3)?;
                    Ok(SavedPaper {
                        paper: r.get(0)?,
                        note: r.get(1)?,
                        read: r.get(2)?,
                        added_at: parse_ts(&added).unwrap_or_default(),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total))
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
        self.read(|conn| {
            let marks = vec!["?"; papers.len()].join(", ");
            let mut stmt = conn.prepare(&format!(
                "SELECT p.arxiv_id, p.collection_id FROM collection_papers p \
                 JOIN collections c ON c.id = p.collection_id \
                 WHERE c.user_id = ? AND p.arxiv_id IN ({marks}) \
                 ORDER BY p.arxiv_id, p.collection_id"
            ))?;
            let mut args: Vec<rusqlite::types::Value> = vec![user.0.into()];
            args.extend(papers.iter().map(|p| p.base().to_owned().into()));
            let mut by_paper: BTreeMap<String, Vec<CollectionId>> = BTreeMap::new();
            let rows = stmt.query_map(params_from_iter(args), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (paper, id) = row?;
                by_paper.entry(paper).or_default().push(CollectionId(id));
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
        self.write(|conn| {
            let changed = if on {
                conn.execute(
                    "INSERT OR IGNORE INTO not_interested (user_id, arxiv_id, created_at) \
                     VALUES (?1, ?2, ?3)",
                    params![user.0, paper.base(), ts(now)],
                )?
            } else {
                conn.execute(
                    "DELETE FROM not_interested WHERE user_id = ?1 AND arxiv_id = ?2",
                    params![user.0, paper.base()],
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
        self.read(|conn| {
            per_user(conn, users, limit, |marks| {
                format!(
                    "SELECT user_id, arxiv_id FROM ( \
                       SELECT c.user_id AS user_id, cp.arxiv_id AS arxiv_id, \
                         row_number() OVER (PARTITION BY c.user_id \
                           ORDER BY max(cp.added_at) DESC, cp.arxiv_id) AS n \
                       FROM collection_papers cp JOIN collections c ON c.id = cp.collection_id \
                       WHERE c.user_id IN ({marks}) GROUP BY c.user_id, cp.arxiv_id) \
                     WHERE n <= ? ORDER BY user_id, n"
                )
            })
        })
    }

    fn not_interested_of(
        &self,
        users: &[UserId],
        limit: u32,
    ) -> StoreResult<BTreeMap<UserId, Vec<String>>> {
        self.read(|conn| {
            per_user(conn, users, limit, |marks| {
                format!(
                    "SELECT user_id, arxiv_id FROM ( \
                       SELECT user_id, arxiv_id, row_number() OVER (PARTITION BY user_id \
                         ORDER BY created_at DESC, arxiv_id) AS n \
                       FROM not_interested WHERE user_id IN ({marks})) \
                     WHERE n <= ? ORDER BY user_id, n"
                )
            })
        })
    }

    fn reset_not_interested(&self, user: UserId) -> StoreResult<u64> {
        self.write(|conn| {
            Ok(conn.execute("DELETE FROM not_interested WHERE user_id = ?1", [user.0])? as u64)
        })
    }
}

/// Users asked about in one statement at most (SQLite bounds the
/// parameters of one statement).
const USERS_PER_STATEMENT: usize = 500;

/// Runs `sql(marks)`, a query of `(user_id, arxiv_id)` rows in order with
/// `marks` parameters for user ids and one for `limit` last, over `users`
/// in slices, and groups the rows by user.
fn per_user(
    conn: &Connection,
    users: &[UserId],
    limit: u32,
    sql: impl Fn(&str) -> String,
) -> Result<BTreeMap<UserId, Vec<String>>, DbError> {
    let mut out: BTreeMap<UserId, Vec<String>> = BTreeMap::new();
    for part in users.chunks(USERS_PER_STATEMENT) {
        let marks = vec!["?"; part.len()].join(", ");
        // Cached: one user (a page) and full slices (a digest) repeat the
        // same text.
        let mut stmt = conn.prepare_cached(&sql(&marks))?;
        let mut args: Vec<rusqlite::types::Value> = part.iter().map(|u| u.0.into()).collect();
        args.push(i64::from(limit).into());
        let rows = stmt.query_map(params_from_iter(args), |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (user, paper) = row?;
            out.entry(UserId(user)).or_default().push(paper);
        }
    }
    Ok(out)
}
