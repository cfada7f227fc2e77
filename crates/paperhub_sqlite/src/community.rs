//! The community in SQLite: votes, submissions, curators' flags and the
//! paper lists built on them.
//!
//! A vote is a row keyed by (user, paper), so voting twice is still one
//! vote; the paper's count in `paper_community.votes` is updated in the
//! same transaction.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use paperhub_domain::{ArxivId, UserId};
use paperhub_store::{
    CommunityStore, Entry, ListOrder, ListQuery, Listing, StoreResult, Submission, SubmitRequest,
    Submitted, TrendingCandidate,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params, params_from_iter};

use crate::SqliteStore;
use crate::catalog::{PAPER_COLUMNS, RawPaper};
use crate::error::DbError;
use crate::rows::{parse_day, parse_ts, ts};

/// The catalog columns prefixed with the `p.` alias, then community columns
/// from 21 on; the viewer's id is parameter `?1`.
static ENTRY_SELECT: LazyLock<String> = LazyLock::new(|| {
    let paper: Vec<String> = PAPER_COLUMNS
        .split(", ")
        .map(|c| format!("p.{}", c.trim()))
        .collect();
    format!(
        "SELECT p.id, {}, coalesce(c.votes, 0), \
         EXISTS (SELECT 1 FROM votes v WHERE v.user_id = ?1 AND v.arxiv_id = p.arxiv_id), \
         u.username, c.submitted_at, c.list_date, coalesce(c.featured, 0), coalesce(c.hidden, 0), \
         (SELECT count(*) FROM comments cm \
          WHERE cm.arxiv_id = p.arxiv_id AND NOT cm.deleted AND NOT cm.hidden) \
         FROM papers p \
         LEFT JOIN paper_community c ON c.arxiv_id = p.arxiv_id \
         LEFT JOIN users u ON u.id = c.submitted_by",
        paper.join(", ")
    )
});

struct RawEntry {
    paper: RawPaper,
    votes: u32,
    voted: bool,
    submitted_by: Option<String>,
    submitted_at: Option<String>,
    list_date: Option<String>,
    featured: bool,
    hidden: bool,
    comments: u32,
}

impl RawEntry {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawEntry> {
        Ok(RawEntry {
            paper: RawPaper::from_row(row)?,
            votes: row.get(21)?,
            voted: row.get(22)?,
            submitted_by: row.get(23)?,
            submitted_at: row.get(24)?,
            list_date: row.get(25)?,
            featured: row.get(26)?,
            hidden: row.get(27)?,
            comments: row.get(28)?,
        })
    }

    fn into_entry(self) -> Result<Entry, DbError> {
        Ok(Entry {
            paper: self.paper.into_paper()?,
            votes: self.votes,
            voted: self.voted,
            submitted_by: self.submitted_by,
            submitted_at: self.submitted_at.as_deref().and_then(parse_ts),
            list_date: self.list_date.as_deref().and_then(parse_day),
            featured: self.featured,
            hidden: self.hidden,
            comments: self.comments,
        })
    }
}

fn viewer_param(viewer: Option<UserId>) -> i64 {
    viewer.map_or(-1, |u| u.0)
}

/// Runs an entry query: `tail` follows [`ENTRY_SELECT`]; `?1` is the viewer.
fn query_entries(conn: &Connection, tail: &str, params: &[Value]) -> Result<Vec<Entry>, DbError> {
    let sql = format!("{} {tail}", *ENTRY_SELECT);
    let mut stmt = conn.prepare_cached(&sql)?;
    let raws = stmt
        .query_map(params_from_iter(params.iter()), RawEntry::from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raws.into_iter().map(RawEntry::into_entry).collect()
}

/// Ensures a `paper_community` row exists for `id`.
fn ensure_community_row(conn: &Connection, id: &str, now: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO paper_community (arxiv_id, first_seen_at) VALUES (?1, ?2) \
         ON CONFLICT (arxiv_id) DO NOTHING",
    )?
    .execute(params![id, now])?;
    Ok(())
}

/// Papers by id, in the given order; unknown ids are left out.
fn entries_in(
    conn: &Connection,
    ids: &[&str],
    viewer: Option<UserId>,
) -> Result<Vec<Entry>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut params = vec![Value::Integer(viewer_param(viewer))];
    params.extend(ids.iter().map(|id| Value::Text((*id).to_owned())));
    let marks = vec!["?"; ids.len()].join(", ");
    let mut found = query_entries(conn, &format!("WHERE p.arxiv_id IN ({marks})"), &params)?;
    let order: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    found.sort_by_key(|e| order.get(e.paper.id.base()).copied().unwrap_or(usize::MAX));
    Ok(found)
}

/// Moves the community version, inside the transaction of the change.
fn bump_version(conn: &Connection) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE counters SET value = value + 1 WHERE name = 'community'")?
        .execute([])?;
    Ok(())
}

/// Papers `user` submitted at or after `since`.
fn submissions_since_in(
    conn: &Connection,
    user: UserId,
    since: DateTime<Utc>,
) -> Result<u32, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM paper_community WHERE submitted_by = ?1 AND submitted_at >= ?2",
        )?
        .query_row(params![user.0, ts(since)], |r| r.get(0))?)
}

impl CommunityStore for SqliteStore {
    fn set_vote(
        &self,
        user: UserId,
        id: &ArxivId,
        up: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<u32> {
        self.write(|conn| {
            let now = ts(now);
            let arxiv_id = id.base();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = if up {
                tx.prepare_cached(
                    "INSERT INTO votes (user_id, arxiv_id, created_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![user.0, arxiv_id, now])?
            } else {
                tx.prepare_cached("DELETE FROM votes WHERE user_id = ?1 AND arxiv_id = ?2")?
                    .execute(params![user.0, arxiv_id])?
            };
            if changed > 0 || up {
                ensure_community_row(&tx, arxiv_id, &now)?;
                // Recount instead of +1/-1: the count can never drift from the rows.
                tx.prepare_cached(
                    "UPDATE paper_community SET \
                       votes = (SELECT count(*) FROM votes WHERE arxiv_id = ?1), \
                       last_vote_at = CASE WHEN ?3 THEN ?2 ELSE last_vote_at END \
                     WHERE arxiv_id = ?1",
                )?
                .execute(params![arxiv_id, now, up && changed > 0])?;
            }
            if changed > 0 {
                bump_version(&tx)?;
            }
            let votes: u32 = tx
                .prepare_cached("SELECT count(*) FROM votes WHERE arxiv_id = ?1")?
                .query_row([arxiv_id], |r| r.get(0))?;
            tx.commit()?;
            Ok(votes)
        })
    }

    fn submit(&self, request: &SubmitRequest<'_>, now: DateTime<Utc>) -> StoreResult<Submitted> {
        self.write(|conn| {
            let arxiv_id = request.id.base();
            let user = request.user;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let entry = |tx: &Connection| -> Result<Option<Entry>, DbError> {
                Ok(query_entries(
                    tx,
                    "WHERE p.arxiv_id = ?2",
                    &[
                        Value::Integer(viewer_param(Some(user))),
                        Value::Text(arxiv_id.to_owned()),
                    ],
                )?
                .pop())
            };
            if entry(&tx)?.is_none() {
                return Ok(Submitted {
                    outcome: Submission::NotInCatalog,
                    entry: None,
                });
            }
            let existing: Option<(Option<String>, Option<String>)> = tx
                .prepare_cached(
                    "SELECT u.username, c.list_date FROM paper_community c \
                     LEFT JOIN users u ON u.id = c.submitted_by \
                     WHERE c.arxiv_id = ?1 AND c.submitted_at IS NOT NULL",
                )?
                .query_row([arxiv_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let outcome = if let Some((by, day)) = existing {
                Submission::AlreadySubmitted {
                    by,
                    list_date: day.as_deref().and_then(parse_day),
                }
            } else {
                let used = match request.quota {
                    Some(quota) => Some((quota.max, submissions_since_in(&tx, user, quota.since)?)),
                    None => None,
                };
                match used {
                    Some((max, used)) if used >= max => Submission::OverQuota { used },
                    _ => {
                        let day: Option<String> =
                            tx.query_row("SELECT max(announced) FROM papers", [], |r| r.get(0))?;
                        let list_date = day
                            .as_deref()
                            .and_then(parse_day)
                            .unwrap_or_else(|| now.date_naive());
                        let now = ts(now);
                        ensure_community_row(&tx, arxiv_id, &now)?;
                        tx.prepare_cached(
                            "UPDATE paper_community SET submitted_by = ?2, submitted_at = ?3, \
                             list_date = ?4 WHERE arxiv_id = ?1",
                        )?
                        .execute(params![
                            arxiv_id,
                            user.0,
                            now,
                            list_date.format("%Y-%m-%d").to_string()
                        ])?;
                        bump_version(&tx)?;
                        Submission::Added { list_date }
                    }
                }
            };
            let entry = entry(&tx)?;
            tx.commit()?;
            Ok(Submitted { outcome, entry })
        })
    }

    fn set_curation(
        &self,
        id: &ArxivId,
        featured: Option<bool>,
        hidden: Option<bool>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.write(|conn| {
            let arxiv_id = id.base();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            ensure_community_row(&tx, arxiv_id, &ts(now))?;
            tx.execute(
                "UPDATE paper_community SET featured = coalesce(?2, featured), \
                 hidden = coalesce(?3, hidden) WHERE arxiv_id = ?1",
                params![arxiv_id, featured, hidden],
            )?;
            bump_version(&tx)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn entry(&self, id: &ArxivId, viewer: Option<UserId>) -> StoreResult<Option<Entry>> {
        self.read(|conn| {
            Ok(query_entries(
                conn,
                "WHERE p.arxiv_id = ?2",
                &[
                    Value::Integer(viewer_param(viewer)),
                    Value::Text(id.base().to_owned()),
                ],
            )?
            .pop())
        })
    }

    fn entries(&self, ids: &[ArxivId], viewer: Option<UserId>) -> StoreResult<Vec<Entry>> {
        let ids: Vec<&str> = ids.iter().map(ArxivId::base).collect();
        self.read(|conn| entries_in(conn, &ids, viewer))
    }

    fn listing(&self, query: &ListQuery, viewer: Option<UserId>) -> StoreResult<Listing> {
        self.read(|conn| {
            let from = query.from.format("%Y-%m-%d").to_string();
            let to = query.to.format("%Y-%m-%d").to_string();
            let hidden = if query.include_hidden {
                ""
            } else {
                "AND coalesce(c.hidden, 0) = 0"
            };
            // The community part: submitted to a list in the period, or featured
            // and announced in it. Ids first, each side through its own index
            // (one query with an OR scans every paper), then whole rows of
            // this page only.
            let community_hidden = if query.include_hidden {
                ""
            } else {
                "AND coalesce(hidden, 0) = 0"
            };
            let community_ids = format!(
                "FROM paper_community WHERE arxiv_id IN ( \
                   SELECT arxiv_id FROM paper_community WHERE list_date BETWEEN ?1 AND ?2 \
                   UNION \
                   SELECT c.arxiv_id FROM paper_community c JOIN papers p ON p.arxiv_id = c.arxiv_id \
                   WHERE c.featured = 1 AND p.announced BETWEEN ?1 AND ?2) \
                 AND EXISTS (SELECT 1 FROM papers p WHERE p.arxiv_id = paper_community.arxiv_id) \
                 {community_hidden}"
            );
            let community_total: u64 = conn
                .prepare_cached(&format!("SELECT count(*) {community_ids}"))?
                .query_row(params![from, to], |r| r.get(0))?;
            let page_ids: Vec<String> = conn
                .prepare_cached(&format!(
                    "SELECT arxiv_id {community_ids} \
                     ORDER BY votes DESC, submitted_at DESC, arxiv_id DESC LIMIT ?3 OFFSET ?4"
                ))?
                .query_map(params![from, to, query.limit, query.offset], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let page_ids: Vec<&str> = page_ids.iter().map(String::as_str).collect();
            let mut community = entries_in(conn, &page_ids, viewer)?;
            community.sort_by(|a, b| {
                b.votes
                    .cmp(&a.votes)
                    .then_with(|| b.submitted_at.cmp(&a.submitted_at))
                    .then_with(|| b.paper.id.base().cmp(a.paper.id.base()))
            });
            // The announcement continues the sequence where the community part ends.
            let announced_offset = u64::from(query.offset).saturating_sub(community_total);
            let announced_limit = query.limit.saturating_sub(community.len() as u32);
            // The announcement: ids first (a narrow sort), then whole rows.
            let mut params = vec![Value::Text(from), Value::Text(to)];
            let mut categories = String::new();
            if !query.categories.is_empty() {
                let clauses: Vec<String> = query
                    .categories
                    .iter()
                    .map(|c| {
                        params.push(Value::Text(format!(" {c} ")));
                        format!("instr(' ' || p.categories || ' ', ?{}) > 0", params.len())
                    })
                    .collect();
                categories = format!("AND ({})", clauses.join(" OR "));
            }
            let filter = format!(
                "FROM papers p LEFT JOIN paper_community c ON c.arxiv_id = p.arxiv_id \
                 WHERE p.announced BETWEEN ?1 AND ?2 {categories} {hidden} \
                   AND NOT (c.list_date IS NOT NULL AND c.list_date BETWEEN ?1 AND ?2) \
                   AND coalesce(c.featured, 0) = 0"
            );
            let announced_total: u64 = conn
                .prepare_cached(&format!("SELECT count(*) {filter}"))?
                .query_row(params_from_iter(params.iter()), |r| r.get(0))?;
            let n = params.len();
            params.push(Value::Integer(i64::from(announced_limit)));
            params.push(Value::Integer(
                i64::try_from(announced_offset).unwrap_or(i64::MAX),
            ));
            let ids: Vec<String> = conn
                .prepare_cached(&format!(
                    "SELECT p.arxiv_id {filter} ORDER BY {} \
                     LIMIT ?{} OFFSET ?{}",
                    match query.order {
                        ListOrder::Votes => "coalesce(c.votes, 0) DESC, p.arxiv_id DESC",
                        ListOrder::Newest => "p.arxiv_id DESC",
                    },
                    n + 1,
                    n + 2
                ))?
                .query_map(params_from_iter(params.iter()), |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let announced = entries_in(conn, &ids, viewer)?;
            Ok(Listing {
                community,
                announced,
                community_total,
                announced_total,
            })
        })
    }

    fn submissions_since(&self, user: UserId, since: DateTime<Utc>) -> StoreResult<u32> {
        self.read(|conn| submissions_since_in(conn, user, since))
    }

    fn latest_day(&self) -> StoreResult<Option<NaiveDate>> {
        self.read(|conn| {
            let day: Option<String> =
                conn.query_row("SELECT max(announced) FROM papers", [], |r| r.get(0))?;
            Ok(day.as_deref().and_then(parse_day))
        })
    }

    fn days_around(&self, day: NaiveDate) -> StoreResult<(Option<NaiveDate>, Option<NaiveDate>)> {
        self.read(|conn| {
            let day = day.format("%Y-%m-%d").to_string();
            let prev: Option<String> = conn
                .prepare_cached("SELECT max(announced) FROM papers WHERE announced < ?1")?
                .query_row([&day], |r| r.get(0))?;
            let next: Option<String> = conn
                .prepare_cached("SELECT min(announced) FROM papers WHERE announced > ?1")?
                .query_row([&day], |r| r.get(0))?;
            Ok((
                prev.as_deref().and_then(parse_day),
                next.as_deref().and_then(parse_day),
            ))
        })
    }

    fn trending_candidates(&self, since: DateTime<Utc>) -> StoreResult<Vec<TrendingCandidate>> {
        self.read(|conn| {
            let since = ts(since);
            let rows = conn
                .prepare_cached(
                    "SELECT c.arxiv_id, c.votes, c.first_seen_at FROM paper_community c \
                     JOIN papers p ON p.arxiv_id = c.arxiv_id \
                     WHERE (c.first_seen_at >= ?1 OR c.last_vote_at >= ?1) AND c.hidden = 0 \
                       AND (c.votes > 0 OR c.submitted_at IS NOT NULL OR c.featured = 1)",
                )?
                .query_map([since], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, u32>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows
                .into_iter()
                .filter_map(|(arxiv_id, votes, seen)| {
                    Some(TrendingCandidate {
                        arxiv_id,
                        votes,
                        first_seen_at: parse_ts(&seen)?,
                    })
                })
                .collect())
        })
    }

    fn user_papers(
        &self,
        user: UserId,
        viewer: Option<UserId>,
    ) -> StoreResult<(Vec<Entry>, Vec<Entry>)> {
        self.read(|conn| {
            let submitted = query_entries(
                conn,
                "WHERE c.submitted_by = ?2 ORDER BY c.submitted_at DESC LIMIT 200",
                &[Value::Integer(viewer_param(viewer)), Value::Integer(user.0)],
            )?;
            let upvoted = query_entries(
                conn,
                "JOIN votes mine ON mine.arxiv_id = p.arxiv_id AND mine.user_id = ?2 \
                 ORDER BY mine.created_at DESC LIMIT 200",
                &[Value::Integer(viewer_param(viewer)), Value::Integer(user.0)],
            )?;
            Ok((submitted, upvoted))
        })
    }

    fn community_version(&self) -> StoreResult<u64> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT value FROM counters WHERE name = 'community'")?
                .query_row([], |r| r.get(0))?)
        })
    }
}
