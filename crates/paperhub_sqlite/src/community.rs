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
    CommunityStore, Entry, ListOrder, ListQuery, Listing, StoreResult, Submission,
    TrendingCandidate,
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
         u.username, c.submitted_at, c.list_date, coalesce(c.featured, 0), coalesce(c.hidden, 0) \
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
            let votes: u32 = tx
                .prepare_cached("SELECT count(*) FROM votes WHERE arxiv_id = ?1")?
                .query_row([arxiv_id], |r| r.get(0))?;
            tx.commit()?;
            Ok(votes)
        })
    }

    fn submit(
        &self,
        user: UserId,
        id: &ArxivId,
        list_date: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreResult<Submission> {
        self.write(|conn| {
            let now = ts(now);
            let arxiv_id = id.base();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            ensure_community_row(&tx, arxiv_id, &now)?;
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
                tx.prepare_cached(
                    "UPDATE paper_community SET submitted_by = ?2, submitted_at = ?3, list_date = ?4 \
                     WHERE arxiv_id = ?1",
                )?
                .execute(params![
                    arxiv_id,
                    user.0,
                    now,
                    list_date.format("%Y-%m-%d").to_string()
                ])?;
                Submission::Added { list_date }
            };
            tx.commit()?;
            Ok(outcome)
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
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT count(*) FROM paper_community WHERE submitted_by = ?1 AND submitted_at >= ?2",
                )?
                .query_row(params![user.0, ts(since)], |r| r.get(0))?)
        })
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
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use paperhub_domain::Author;

    use super::*;
    use paperhub_domain::Paper;
    use paperhub_store::{AccountStore, CatalogStore, StoreError};

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite3")).unwrap();
        (dir, store)
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-11-20T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn day(s: &str) -> NaiveDate {
        parse_day(s).unwrap()
    }

    fn seed(store: &SqliteStore) {
        let papers: Vec<Paper> = [
            ("2511.00001", "2025-11-19", "cs.LG"),
            ("2511.00002", "2025-11-19", "cs.CL cs.LG"),
            ("2511.00003", "2025-11-20", "cs.CV"),
            ("2511.00004", "2025-11-20", "cs.LG"),
            ("2511.00005", "2025-11-21", "math.CO"),
        ]
        .into_iter()
        .map(|(id, d, cats)| {
            let mut p = Paper::new(id.parse().unwrap(), format!("Paper {id}"), "Text.".into());
            p.authors = vec![Author::from_display_name("Ada Lovelace")];
            p.categories = cats.split(' ').map(str::to_owned).collect();
            p.announced = Some(day(d));
            p.finalize();
            p
        })
        .collect();
        store.upsert_papers(&papers, now()).unwrap();
    }

    fn id(s: &str) -> ArxivId {
        s.parse().unwrap()
    }

    #[test]
    fn usernames_and_emails_are_unique_ignoring_case() {
        let (_d, s) = store();
        s.create_user("ada", Some("ada@example.org"), "h", now())
            .unwrap();
        assert!(matches!(
            s.create_user("ADA", None, "h", now()),
            Err(StoreError::Conflict { field: "username" })
        ));
        assert!(matches!(
            s.create_user("bob", Some("Ada@Example.org"), "h", now()),
            Err(StoreError::Conflict { field: "email" })
        ));
        let (user, hash) = s.user_credentials("Ada").unwrap().unwrap();
        assert_eq!((user.username.as_str(), hash.as_str()), ("ada", "h"));
    }

    #[test]
    fn sessions_expire_and_end() {
        let (_d, s) = store();
        let u = s.create_user("ada", None, "h", now()).unwrap();
        s.create_session(b"tok", u.id, now(), now() + Duration::hours(1))
            .unwrap();
        assert_eq!(s.session_user(b"tok", now()).unwrap().unwrap().id, u.id);
        assert!(
            s.session_user(b"tok", now() + Duration::hours(2))
                .unwrap()
                .is_none()
        );
        s.create_session(b"other", u.id, now(), now() + Duration::hours(1))
            .unwrap();
        assert!(
            matches!(
                s.change_password(u.id, "wrong", "h2", Some(b"tok")),
                Err(StoreError::Conflict { field: "password" })
            ),
            "a stale expected hash changes nothing"
        );
        assert!(s.session_user(b"other", now()).unwrap().is_some());
        s.change_password(u.id, "h", "h2", Some(b"tok")).unwrap();
        assert!(
            s.session_user(b"other", now()).unwrap().is_none(),
            "other sessions end"
        );
        assert_eq!(s.user_credentials("ada").unwrap().unwrap().1, "h2");
        s.delete_session(b"tok", now()).unwrap();
        assert!(s.session_user(b"tok", now()).unwrap().is_none());
    }

    #[test]
    fn votes_are_idempotent_and_counted() {
        let (_d, s) = store();
        seed(&s);
        let a = s.create_user("ada", None, "h", now()).unwrap();
        let b = s.create_user("bob", None, "h", now()).unwrap();
        let p = id("2511.00001");
        assert_eq!(s.set_vote(a.id, &p, true, now()).unwrap(), 1);
        assert_eq!(s.set_vote(a.id, &p, true, now()).unwrap(), 1);
        assert_eq!(s.set_vote(b.id, &p, true, now()).unwrap(), 2);
        assert_eq!(s.set_vote(a.id, &p, false, now()).unwrap(), 1);
        assert_eq!(s.set_vote(a.id, &p, false, now()).unwrap(), 1);
        let e = s.entry(&p, Some(b.id)).unwrap().unwrap();
        assert_eq!((e.votes, e.voted), (1, true));
        let e = s.entry(&p, Some(a.id)).unwrap().unwrap();
        assert!(!e.voted);
    }

    #[test]
    fn listing_pages_both_parts_as_one_sequence() {
        // See: #13 (455 submissions made `limit=1` return 428 papers).
        let (_d, s) = store();
        seed(&s);
        let a = s.create_user("ada", None, "h", now()).unwrap();
        for p in ["2511.00001", "2511.00005"] {
            s.submit(a.id, &id(p), day("2025-11-20"), now()).unwrap();
        }
        let page = |offset: u32| {
            let l = s
                .listing(
                    &ListQuery {
                        from: day("2025-11-20"),
                        to: day("2025-11-20"),
                        categories: vec![],
                        offset,
                        limit: 1,
                        include_hidden: false,
                        order: ListOrder::Votes,
                    },
                    None,
                )
                .unwrap();
            assert_eq!(l.community.len() + l.announced.len(), 1, "offset {offset}");
            assert_eq!(l.community_total, 2);
            (l.community.len(), l.announced_total)
        };
        assert_eq!(page(0).0, 1);
        assert_eq!(page(1).0, 1);
        let (community, announced_total) = page(2);
        assert_eq!(community, 0, "the announcement follows");
        assert!(announced_total >= 1);
    }

    #[test]
    fn listing_splits_community_and_announcement_and_filters() {
        let (_d, s) = store();
        seed(&s);
        let a = s.create_user("ada", None, "h", now()).unwrap();
        assert_eq!(
            s.submit(a.id, &id("2511.00005"), day("2025-11-20"), now())
                .unwrap(),
            Submission::Added {
                list_date: day("2025-11-20")
            }
        );
        assert!(matches!(
            s.submit(a.id, &id("2511.00005"), day("2025-11-21"), now())
                .unwrap(),
            Submission::AlreadySubmitted { .. }
        ));
        s.set_vote(a.id, &id("2511.00003"), true, now()).unwrap();
        let q = ListQuery {
            from: day("2025-11-20"),
            to: day("2025-11-20"),
            categories: vec![],
            offset: 0,
            limit: 50,
            include_hidden: false,
            order: ListOrder::Votes,
        };
        let l = s.listing(&q, None).unwrap();
        let ids =
            |v: &[Entry]| -> Vec<String> { v.iter().map(|e| e.paper.id.to_string()).collect() };
        assert_eq!(ids(&l.community), ["2511.00005"]);
        // Votes first, then the newest id.
        assert_eq!(ids(&l.announced), ["2511.00003", "2511.00004"]);
        assert_eq!(l.announced_total, 2);
        let l = s
            .listing(
                &ListQuery {
                    categories: vec!["cs.LG".into()],
                    ..q.clone()
                },
                None,
            )
            .unwrap();
        assert_eq!(ids(&l.announced), ["2511.00004"]);
        s.set_curation(&id("2511.00004"), None, Some(true), now())
            .unwrap();
        let l = s.listing(&q, None).unwrap();
        assert_eq!(ids(&l.announced), ["2511.00003"]);
        assert_eq!(
            s.days_around(day("2025-11-20")).unwrap(),
            (Some(day("2025-11-19")), Some(day("2025-11-21")))
        );
        assert_eq!(s.latest_day().unwrap(), Some(day("2025-11-21")));
        let t = s.trending_candidates(now() - Duration::days(1)).unwrap();
        assert_eq!(t.len(), 2);
        let (submitted, upvoted) = s.user_papers(a.id, None).unwrap();
        assert_eq!(
            (ids(&submitted), ids(&upvoted)),
            (vec!["2511.00005".to_owned()], vec!["2511.00003".to_owned()])
        );
    }

    #[test]
    fn api_tokens_are_found_by_hash_and_revocable() {
        let (_d, s) = store();
        let a = s.create_user("ada", None, "h", now()).unwrap();
        let t = s
            .create_api_token(a.id, "laptop", b"hash", now(), None)
            .unwrap();
        assert_eq!(s.api_token_user(b"hash", now()).unwrap().unwrap().id, a.id);
        assert!(s.api_tokens(a.id).unwrap()[0].last_used_at.is_some());
        assert!(s.delete_api_token(a.id, t.id).unwrap());
        assert!(s.api_token_user(b"hash", now()).unwrap().is_none());
    }

    #[test]
    fn api_tokens_expire_and_die_with_a_password_change() {
        // See: #13.
        let (_d, s) = store();
        let a = s.create_user("ada", None, "h", now()).unwrap();
        let soon = now() + Duration::days(1);
        s.create_api_token(a.id, "ci", b"short", now(), Some(soon))
            .unwrap();
        s.create_api_token(a.id, "laptop", b"long", now(), None)
            .unwrap();
        assert!(s.api_token_user(b"short", now()).unwrap().is_some());
        assert!(
            s.api_token_user(b"short", soon).unwrap().is_none(),
            "expired"
        );
        assert_eq!(s.api_tokens(a.id).unwrap()[1].expires_at, Some(soon));
        s.change_password(a.id, "h", "h2", None).unwrap();
        assert!(s.api_token_user(b"long", now()).unwrap().is_none());
        assert!(s.api_tokens(a.id).unwrap().is_empty());
    }
}
