//! Comments in SQLite; see `paperhub_store::DiscussionStore`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use paperhub_domain::{ArxivId, User, UserId};
use paperhub_store::{Comment, CommentId, Commented, DiscussionStore, NewComment, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params, params_from_iter};

use crate::SqliteStore;
use crate::error::DbError;
use crate::rows::{parse_ts, ts};

const COLUMNS: &str = "c.id, c.arxiv_id, c.user_id, u.username, c.parent_id, c.body, \
     c.created_at, c.edited_at, c.deleted, c.hidden";
const FROM: &str = "FROM comments c LEFT JOIN users u ON u.id = c.user_id";

fn comment(row: &Row<'_>) -> rusqlite::Result<Comment> {
    let created: String = row.get(6)?;
    let edited: Option<String> = row.get(7)?;
    Ok(Comment {
        id: CommentId(row.get(0)?),
        paper: row.get(1)?,
        author: row.get::<_, Option<i64>>(2)?.map(UserId),
        author_name: row.get(3)?,
        parent: row.get::<_, Option<i64>>(4)?.map(CommentId),
        body: row.get(5)?,
        created_at: parse_ts(&created).unwrap_or_default(),
        edited_at: edited.as_deref().and_then(parse_ts),
        deleted: row.get(8)?,
        hidden: row.get(9)?,
    })
}

fn comment_in(conn: &Connection, id: CommentId) -> Result<Option<Comment>, DbError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} {FROM} WHERE c.id = ?1"),
            [id.0],
            comment,
        )
        .optional()?)
}

fn bump_version(conn: &Connection) -> Result<(), DbError> {
    conn.execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'community'",
        [],
    )?;
    Ok(())
}

impl DiscussionStore for SqliteStore {
    fn add_comment(&self, new: &NewComment<'_>, now: DateTime<Utc>) -> StoreResult<Commented> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let paper = new.paper.base();
            let known: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM papers WHERE arxiv_id = ?1)",
                [paper],
                |r| r.get(0),
            )?;
            if !known {
                return Ok(Commented::NoSuchPaper);
            }
            if let Some(parent) = new.parent {
                let found: Option<(String, Option<i64>, bool, bool)> = tx
                    .query_row(
                        "SELECT arxiv_id, parent_id, deleted, hidden FROM comments WHERE id = ?1",
                        [parent.0],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .optional()?;
                match found {
                    Some((p, None, false, false)) if p == paper => {}
                    Some((p, Some(_), _, _)) if p == paper => return Ok(Commented::ReplyToReply),
                    _ => return Ok(Commented::NoSuchParent),
                }
            }
            tx.execute(
                "INSERT INTO comments (arxiv_id, user_id, parent_id, body, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    paper,
                    new.author.0,
                    new.parent.map(|p| p.0),
                    new.body,
                    ts(now)
                ],
            )?;
            let id = CommentId(tx.last_insert_rowid());
            bump_version(&tx)?;
            let added =
                comment_in(&tx, id)?.ok_or_else(|| DbError::NotFound(format!("comment {id}")))?;
            tx.commit()?;
            Ok(Commented::Added(added))
        })
    }

    fn edit_comment(
        &self,
        id: CommentId,
        author: UserId,
        body: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE comments SET body = ?3, edited_at = ?4 \
                 WHERE id = ?1 AND user_id = ?2 AND NOT deleted",
                params![id.0, author.0, body, ts(now)],
            )? > 0;
            if changed {
                bump_version(&tx)?;
            }
            tx.commit()?;
            Ok(changed)
        })
    }

    fn delete_comment(
        &self,
        id: CommentId,
        author: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE comments SET body = '', deleted = 1, edited_at = ?3 \
                 WHERE id = ?1 AND user_id = ?2 AND NOT deleted",
                params![id.0, author.0, ts(now)],
            )? > 0;
            if changed {
                bump_version(&tx)?;
            }
            tx.commit()?;
            Ok(changed)
        })
    }

    fn set_comment_hidden(&self, id: CommentId, hidden: bool) -> StoreResult<bool> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE comments SET hidden = ?2 WHERE id = ?1",
                params![id.0, hidden],
            )? > 0;
            if changed {
                bump_version(&tx)?;
            }
            tx.commit()?;
            Ok(changed)
        })
    }

    fn comment(&self, id: CommentId) -> StoreResult<Option<Comment>> {
        self.read(|conn| comment_in(conn, id))
    }

    fn comments(&self, paper: &ArxivId, include_hidden: bool) -> StoreResult<Vec<Comment>> {
        self.read(|conn| {
            let hidden = if include_hidden {
                ""
            } else {
                "AND NOT c.hidden"
            };
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} {FROM} WHERE c.arxiv_id = ?1 {hidden} \
                 ORDER BY coalesce(c.parent_id, c.id), c.parent_id IS NOT NULL, c.id"
            ))?;
            let rows = stmt
                .query_map([paper.base()], comment)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn comment_counts(&self, papers: &[ArxivId]) -> StoreResult<HashMap<String, u32>> {
        if papers.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<&str> = papers.iter().map(ArxivId::base).collect();
        self.read(|conn| {
            let mut out = HashMap::new();
            // SQLite binds at most 32,766 values per statement.
            for chunk in ids.chunks(10_000) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let mut stmt = conn.prepare(&format!(
                    "SELECT arxiv_id, count(*) FROM comments \
                     WHERE arxiv_id IN ({marks}) AND NOT deleted AND NOT hidden GROUP BY arxiv_id"
                ))?;
                let rows = stmt.query_map(params_from_iter(chunk.iter()), |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?))
                })?;
                for row in rows {
                    let (id, n) = row?;
                    out.insert(id, n);
                }
            }
            Ok(out)
        })
    }

    fn user_comments(&self, author: UserId, limit: u32) -> StoreResult<Vec<Comment>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} {FROM} WHERE c.user_id = ?1 AND NOT c.deleted \
                 ORDER BY c.id DESC LIMIT ?2"
            ))?;
            let rows = stmt
                .query_map(params![author.0, limit], comment)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn submitter_to_notify(&self, paper: &ArxivId) -> StoreResult<Option<User>> {
        let columns = &*crate::accounts::USER_COLUMNS_U;
        self.read(|conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {columns} FROM paper_community c JOIN users u ON u.id = c.submitted_by \
                         WHERE c.arxiv_id = ?1 AND u.notify_comments = 1 AND u.email IS NOT NULL"
                    ),
                    [paper.base()],
                    crate::accounts::user_from_row,
                )
                .optional()?)
        })
    }

    fn comments_since(&self, author: UserId, since: DateTime<Utc>) -> StoreResult<u32> {
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT count(*) FROM comments WHERE user_id = ?1 AND created_at >= ?2",
                params![author.0, ts(since)],
                |r| r.get(0),
            )?)
        })
    }
}
