//! Comments on PostgreSQL; see `paperhub_store::DiscussionStore`.
//!
//! Adding a reply locks its parent row, so a parent deleted or hidden
//! meanwhile cannot gain a reply after the check.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use paperhub_domain::{ArxivId, User, UserId};
use paperhub_store::{Comment, CommentId, Commented, DiscussionStore, NewComment, StoreResult};
use postgres::GenericClient;

use crate::PgStore;
use crate::error::DbError;
use crate::rows::{USER_COLUMNS, count4, text, user_from_row};

const COLUMNS: &str = "c.id, c.arxiv_id, c.user_id, u.username, c.parent_id, c.body, \
     c.created_at, c.edited_at, c.deleted, c.hidden";
const FROM: &str = "FROM comments c LEFT JOIN users u ON u.id = c.user_id";

fn comment(row: &postgres::Row) -> Result<Comment, DbError> {
    Ok(Comment {
        id: CommentId(row.try_get(0)?),
        paper: row.try_get(1)?,
        author: row.try_get::<_, Option<i64>>(2)?.map(UserId),
        author_name: row.try_get(3)?,
        parent: row.try_get::<_, Option<i64>>(4)?.map(CommentId),
        body: row.try_get(5)?,
        created_at: row.try_get(6)?,
        edited_at: row.try_get(7)?,
        deleted: row.try_get(8)?,
        hidden: row.try_get(9)?,
    })
}

fn comment_in(client: &mut impl GenericClient, id: CommentId) -> Result<Option<Comment>, DbError> {
    client
        .query_opt(
            &format!("SELECT {COLUMNS} {FROM} WHERE c.id = $1"),
            &[&id.0],
        )?
        .map(|r| comment(&r))
        .transpose()
}

fn bump_version(client: &mut impl GenericClient) -> Result<(), DbError> {
    client.execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'community'",
        &[],
    )?;
    Ok(())
}

impl DiscussionStore for PgStore {
    fn add_comment(&self, new: &NewComment<'_>, now: DateTime<Utc>) -> StoreResult<Commented> {
        let paper = new.paper.base();
        let body = text(new.body);
        self.write(|tx| {
            let known = tx
                .query_opt("SELECT 1 FROM papers WHERE arxiv_id = $1", &[&paper])?
                .is_some();
            if !known {
                return Ok(Commented::NoSuchPaper);
            }
            if let Some(parent) = new.parent {
                let found = tx.query_opt(
                    "SELECT arxiv_id, parent_id, deleted, hidden FROM comments \
                     WHERE id = $1 FOR SHARE",
                    &[&parent.0],
                )?;
                let Some(row) = found else {
                    return Ok(Commented::NoSuchParent);
                };
                let (on, grand, deleted, hidden): (String, Option<i64>, bool, bool) = (
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                );
                if on != paper {
                    return Ok(Commented::NoSuchParent);
                }
                if grand.is_some() {
                    return Ok(Commented::ReplyToReply);
                }
                if deleted || hidden {
                    return Ok(Commented::NoSuchParent);
                }
            }
            let id: i64 = tx
                .query_one(
                    "INSERT INTO comments (arxiv_id, user_id, parent_id, body, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[&paper, &new.author.0, &new.parent.map(|p| p.0), &body, &now],
                )?
                .try_get(0)?;
            let added = comment_in(tx, CommentId(id))?
                .ok_or_else(|| DbError::NotFound(format!("comment {id}")))?;
            bump_version(tx)?;
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
        let body = text(body);
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE comments SET body = $3, edited_at = $4 \
                 WHERE id = $1 AND user_id = $2 AND NOT deleted",
                &[&id.0, &author.0, &body, &now],
            )? > 0;
            if changed {
                bump_version(tx)?;
            }
            Ok(changed)
        })
    }

    fn delete_comment(
        &self,
        id: CommentId,
        author: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE comments SET body = '', deleted = true, edited_at = $3 \
                 WHERE id = $1 AND user_id = $2 AND NOT deleted",
                &[&id.0, &author.0, &now],
            )? > 0;
            if changed {
                bump_version(tx)?;
            }
            Ok(changed)
        })
    }

    fn set_comment_hidden(&self, id: CommentId, hidden: bool) -> StoreResult<bool> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE comments SET hidden = $2 WHERE id = $1",
                &[&id.0, &hidden],
            )? > 0;
            if changed {
                bump_version(tx)?;
            }
            Ok(changed)
        })
    }

    fn comment(&self, id: CommentId) -> StoreResult<Option<Comment>> {
        self.read(|c| comment_in(c, id))
    }

    fn comments(&self, paper: &ArxivId, include_hidden: bool) -> StoreResult<Vec<Comment>> {
        self.read(|c| {
            c.query(
                &format!(
                    "SELECT {COLUMNS} {FROM} WHERE c.arxiv_id = $1 AND ($2 OR NOT c.hidden) \
                     ORDER BY coalesce(c.parent_id, c.id), c.parent_id IS NOT NULL, c.id"
                ),
                &[&paper.base(), &include_hidden],
            )?
            .iter()
            .map(comment)
            .collect()
        })
    }

    fn comment_counts(&self, papers: &[ArxivId]) -> StoreResult<HashMap<String, u32>> {
        if papers.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<&str> = papers.iter().map(ArxivId::base).collect();
        self.read(|c| {
            c.query(
                "SELECT arxiv_id, count(*)::int4 FROM comments \
                 WHERE arxiv_id = ANY($1) AND NOT deleted AND NOT hidden GROUP BY arxiv_id",
                &[&ids],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, count4(r.try_get(1)?))))
            .collect()
        })
    }

    fn user_comments(&self, author: UserId, limit: u32) -> StoreResult<Vec<Comment>> {
        self.read(|c| {
            c.query(
                &format!(
                    "SELECT {COLUMNS} {FROM} WHERE c.user_id = $1 AND NOT c.deleted \
                     ORDER BY c.id DESC LIMIT $2"
                ),
                &[&author.0, &i64::from(limit)],
            )?
            .iter()
            .map(comment)
            .collect()
        })
    }

    fn submitter_to_notify(&self, paper: &ArxivId) -> StoreResult<Option<User>> {
        self.read(|c| {
            c.query_opt(
                &format!(
                    "SELECT {USER_COLUMNS} FROM paper_community pc JOIN users u ON u.id = pc.submitted_by \
                     WHERE pc.arxiv_id = $1 AND u.notify_comments AND u.email IS NOT NULL"
                ),
                &[&paper.base()],
            )?
            .map(|r| user_from_row(&r, 0))
            .transpose()
        })
    }

    fn comments_since(&self, author: UserId, since: DateTime<Utc>) -> StoreResult<u32> {
        self.read(|c| {
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM comments WHERE user_id = $1 AND created_at >= $2",
                    &[&author.0, &since],
                )?
                .try_get(0)?;
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        })
    }
}
