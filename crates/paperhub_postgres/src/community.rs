//! The community on PostgreSQL: votes, submissions, curators' flags and
//! the paper lists built on them.
//!
//! A vote locks its paper's community row before it inserts or deletes the
//! vote, and recounts in a later statement: under READ COMMITTED a later
//! statement sees every vote committed before it, and the lock keeps any
//! other vote on the paper out until this one commits, so the count always
//! equals the rows. A submission locks its submitter's row (the quota) and
//! writes the paper's row only where no submission is stored yet.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use paperhub_domain::{ArxivId, UserId};
use paperhub_store::{
    CommunityStore, Entry, ListOrder, ListQuery, Listing, StoreResult, Submission, SubmitRequest,
    Submitted, TrendingCandidate,
};
use postgres::types::ToSql;
use postgres::{GenericClient, IsolationLevel};

use crate::PgStore;
use crate::error::DbError;
use crate::rows::{count, count4, int8, paper_columns_p, paper_from_row};

/// The entry columns: the paper's from 0, its community state from 20.
/// `$1` is the viewer (or -1).
fn entry_select() -> String {
    format!(
        "SELECT {}, coalesce(c.votes, 0), \
         EXISTS (SELECT 1 FROM votes v WHERE v.user_id = $1 AND v.arxiv_id = p.arxiv_id), \
         u.username, c.submitted_at, c.list_date, coalesce(c.featured, false), \
         coalesce(c.hidden, false), \
         (SELECT count(*)::int4 FROM comments cm \
          WHERE cm.arxiv_id = p.arxiv_id AND NOT cm.deleted AND NOT cm.hidden) \
         FROM papers p \
         LEFT JOIN paper_community c ON c.arxiv_id = p.arxiv_id \
         LEFT JOIN users u ON u.id = c.submitted_by",
        paper_columns_p()
    )
}

fn entry(row: &postgres::Row) -> Result<Entry, DbError> {
    Ok(Entry {
        paper: paper_from_row(row, 0)?,
        votes: count4(row.try_get(20)?),
        voted: row.try_get(21)?,
        submitted_by: row.try_get(22)?,
        submitted_at: row.try_get(23)?,
        list_date: row.try_get(24)?,
        featured: row.try_get(25)?,
        hidden: row.try_get(26)?,
        comments: count4(row.try_get(27)?),
    })
}

fn viewer_param(viewer: Option<UserId>) -> i64 {
    viewer.map_or(-1, |u| u.0)
}

/// Runs an entry query: `tail` follows [`entry_select`].
fn query_entries(
    client: &mut impl GenericClient,
    tail: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Entry>, DbError> {
    client
        .query(&format!("{} {tail}", entry_select()), params)?
        .iter()
        .map(entry)
        .collect()
}

/// Papers by id, in the given order; unknown ids are left out.
fn entries_in(
    client: &mut impl GenericClient,
    ids: &[&str],
    viewer: Option<UserId>,
) -> Result<Vec<Entry>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = query_entries(
        client,
        "WHERE p.arxiv_id = ANY($2)",
        &[&viewer_param(viewer), &ids],
    )?;
    let order: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    found.sort_by_key(|e| order.get(e.paper.id.base()).copied().unwrap_or(usize::MAX));
    Ok(found)
}

/// Moves the community version, inside the transaction of the change and
/// as its last statement, so the counter row is held as briefly as can be.
fn bump_version(client: &mut impl GenericClient) -> Result<(), DbError> {
    client.execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'community'",
        &[],
    )?;
    Ok(())
}

fn submissions_since_in(
    client: &mut impl GenericClient,
    user: UserId,
    since: DateTime<Utc>,
) -> Result<u32, DbError> {
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM paper_community WHERE submitted_by = $1 AND submitted_at >= $2",
            &[&user.0, &since],
        )?
        .try_get(0)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

impl CommunityStore for PgStore {
    fn set_vote(
        &self,
        user: UserId,
        id: &ArxivId,
        up: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<u32> {
        let arxiv_id = id.base();
        self.write(|tx| {
            if up {
                tx.execute(
                    "INSERT INTO paper_community (arxiv_id, first_seen_at) VALUES ($1, $2) \
                     ON CONFLICT (arxiv_id) DO NOTHING",
                    &[&arxiv_id, &now],
                )?;
            }
            let locked = tx
                .query_opt(
                    "SELECT 1 FROM paper_community WHERE arxiv_id = $1 FOR UPDATE",
                    &[&arxiv_id],
                )?
                .is_some();
            if !locked {
                // No community row: nobody ever voted for it.
                return Ok(0);
            }
            let changed = if up {
                tx.execute(
                    "INSERT INTO votes (user_id, arxiv_id, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                    &[&user.0, &arxiv_id, &now],
                )?
            } else {
                tx.execute(
                    "DELETE FROM votes WHERE user_id = $1 AND arxiv_id = $2",
                    &[&user.0, &arxiv_id],
                )?
            };
            let votes: i32 = tx
                .query_one(
                    "UPDATE paper_community SET \
                       votes = (SELECT count(*) FROM votes WHERE arxiv_id = $1), \
                       last_vote_at = CASE WHEN $3 THEN $2 ELSE last_vote_at END \
                     WHERE arxiv_id = $1 RETURNING votes",
                    &[&arxiv_id, &now, &(up && changed > 0)],
                )?
                .try_get(0)?;
            if changed > 0 {
                bump_version(tx)?;
            }
            Ok(count4(votes))
        })
    }

    fn submissions_since(&self, user: UserId, since: DateTime<Utc>) -> StoreResult<u32> {
        self.read(|c| submissions_since_in(c, user, since))
    }

    fn submit(&self, request: &SubmitRequest<'_>, now: DateTime<Utc>) -> StoreResult<Submitted> {
        let arxiv_id = request.id.base();
        let user = request.user;
        self.write(|tx| {
            let read_entry = |tx: &mut postgres::Transaction<'_>| -> Result<Option<Entry>, DbError> {
                Ok(query_entries(
                    tx,
                    "WHERE p.arxiv_id = $2",
                    &[&viewer_param(Some(user)), &arxiv_id],
                )?
                .pop())
            };
            if read_entry(tx)?.is_none() {
                return Ok(Submitted {
                    outcome: Submission::NotInCatalog,
                    entry: None,
                });
            }
            // One submitter's requests queue here, so the quota is counted
            // with nothing of theirs in flight.
            // NO KEY UPDATE: foreign-key checks (a vote, a session of this user)
            // take KEY SHARE and must not wait for it.
            tx.execute(
                "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE",
                &[&user.0],
            )?;
            let already = |tx: &mut postgres::Transaction<'_>| -> Result<Option<Submission>, DbError> {
                tx
                    .query_opt(
                        "SELECT u.username, c.list_date FROM paper_community c \
                         LEFT JOIN users u ON u.id = c.submitted_by \
                         WHERE c.arxiv_id = $1 AND c.submitted_at IS NOT NULL",
                        &[&arxiv_id],
                    )?
                    .map(|r| {
                        Ok::<_, DbError>(Submission::AlreadySubmitted {
                            by: r.try_get(0)?,
                            list_date: r.try_get(1)?,
                        })
                    })
                    .transpose()
            };
            let outcome = if let Some(done) = already(tx)? {
                done
            } else {
                let used = match request.quota {
                    Some(quota) => Some((quota.max, submissions_since_in(tx, user, quota.since)?)),
                    None => None,
                };
                match used {
                    Some((max, used)) if used >= max => Submission::OverQuota { used },
                    _ => {
                        let day: Option<NaiveDate> = tx
                            .query_one("SELECT max(announced) FROM papers", &[])?
                            .try_get(0)?;
                        let list_date = day.unwrap_or_else(|| now.date_naive());
                        let wrote = tx
                            .query_opt(
                                "INSERT INTO paper_community \
                                   (arxiv_id, first_seen_at, submitted_by, submitted_at, list_date) \
                                 VALUES ($1, $2, $3, $2, $4) \
                                 ON CONFLICT (arxiv_id) DO UPDATE SET \
                                   submitted_by = $3, submitted_at = $2, list_date = $4 \
                                 WHERE paper_community.submitted_at IS NULL \
                                 RETURNING 1",
                                &[&arxiv_id, &now, &user.0, &list_date],
                            )?
                            .is_some();
                        if wrote {
                            Submission::Added { list_date }
                        } else {
                            // Another submitter's commit came first.
                            already(tx)?.unwrap_or(Submission::AlreadySubmitted {
                                by: None,
                                list_date: None,
                            })
                        }
                    }
                }
            };
            let entry = read_entry(tx)?;
            if matches!(outcome, Submission::Added { .. }) {
                bump_version(tx)?;
            }
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
        self.write(|tx| {
            tx.execute(
                "INSERT INTO paper_community (arxiv_id, first_seen_at, featured, hidden) \
                 VALUES ($1, $2, coalesce($3, false), coalesce($4, false)) \
                 ON CONFLICT (arxiv_id) DO UPDATE SET \
                   featured = coalesce($3, paper_community.featured), \
                   hidden = coalesce($4, paper_community.hidden)",
                &[&id.base(), &now, &featured, &hidden],
            )?;
            bump_version(tx)?;
            Ok(())
        })
    }

    fn entry(&self, id: &ArxivId, viewer: Option<UserId>) -> StoreResult<Option<Entry>> {
        self.read(|c| {
            Ok(query_entries(
                c,
                "WHERE p.arxiv_id = $2",
                &[&viewer_param(viewer), &id.base()],
            )?
            .pop())
        })
    }

    fn entries(&self, ids: &[ArxivId], viewer: Option<UserId>) -> StoreResult<Vec<Entry>> {
        let ids: Vec<&str> = ids.iter().map(ArxivId::base).collect();
        self.read(|c| entries_in(c, &ids, viewer))
    }

    fn listing(&self, query: &ListQuery, viewer: Option<UserId>) -> StoreResult<Listing> {
        self.read(|c| {
            // One snapshot, so the totals match the page.
            let mut tx = c
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let listing = listing_in(&mut tx, query, viewer)?;
            tx.commit()?;
            Ok(listing)
        })
    }

    fn community_version(&self) -> StoreResult<u64> {
        self.read(|c| {
            Ok(count(
                c.query_one("SELECT value FROM counters WHERE name = 'community'", &[])?
                    .try_get(0)?,
            ))
        })
    }

    fn latest_day(&self) -> StoreResult<Option<NaiveDate>> {
        self.read(|c| {
            Ok(c.query_one("SELECT max(announced) FROM papers", &[])?
                .try_get(0)?)
        })
    }

    fn days_around(&self, day: NaiveDate) -> StoreResult<(Option<NaiveDate>, Option<NaiveDate>)> {
        self.read(|c| {
            let row = c.query_one(
                "SELECT (SELECT max(announced) FROM papers WHERE announced < $1), \
                        (SELECT min(announced) FROM papers WHERE announced > $1)",
                &[&day],
            )?;
            Ok((row.try_get(0)?, row.try_get(1)?))
        })
    }

    fn trending_candidates(&self, since: DateTime<Utc>) -> StoreResult<Vec<TrendingCandidate>> {
        self.read(|c| {
            c.query(
                "SELECT c.arxiv_id, c.votes, c.first_seen_at FROM paper_community c \
                 JOIN papers p ON p.arxiv_id = c.arxiv_id \
                 WHERE (c.first_seen_at >= $1 OR c.last_vote_at >= $1) AND NOT c.hidden \
                   AND (c.votes > 0 OR c.submitted_at IS NOT NULL OR c.featured)",
                &[&since],
            )?
            .iter()
            .map(|r| {
                Ok(TrendingCandidate {
                    arxiv_id: r.try_get(0)?,
                    votes: count4(r.try_get(1)?),
                    first_seen_at: r.try_get(2)?,
                })
            })
            .collect()
        })
    }

    fn user_papers(
        &self,
        user: UserId,
        viewer: Option<UserId>,
    ) -> StoreResult<(Vec<Entry>, Vec<Entry>)> {
        self.read(|c| {
            let submitted = query_entries(
                c,
                "WHERE c.submitted_by = $2 ORDER BY c.submitted_at DESC LIMIT 200",
                &[&viewer_param(viewer), &user.0],
            )?;
            let upvoted = query_entries(
                c,
                "JOIN votes mine ON mine.arxiv_id = p.arxiv_id AND mine.user_id = $2 \
                 ORDER BY mine.created_at DESC LIMIT 200",
                &[&viewer_param(viewer), &user.0],
            )?;
            Ok((submitted, upvoted))
        })
    }
}

/// One page of a period's list; see `CommunityStore::listing`.
fn listing_in(
    tx: &mut postgres::Transaction<'_>,
    query: &ListQuery,
    viewer: Option<UserId>,
) -> Result<Listing, DbError> {
    let (from, to) = (query.from, query.to);
    let hidden = if query.include_hidden {
        ""
    } else {
        "AND NOT coalesce(hidden, false)"
    };
    // The community part: submitted to a list in the period, or featured
    // and announced in it.
    let community_ids = format!(
        "FROM paper_community WHERE arxiv_id IN ( \
           SELECT arxiv_id FROM paper_community WHERE list_date BETWEEN $1 AND $2 \
           UNION \
           SELECT c.arxiv_id FROM paper_community c JOIN papers p ON p.arxiv_id = c.arxiv_id \
           WHERE c.featured AND p.announced BETWEEN $1 AND $2) \
         AND EXISTS (SELECT 1 FROM papers p WHERE p.arxiv_id = paper_community.arxiv_id) \
         {hidden}"
    );
    let community_total = count(
        tx.query_one(&format!("SELECT count(*) {community_ids}"), &[&from, &to])?
            .try_get(0)?,
    );
    let page_ids: Vec<String> = tx
        .query(
            &format!(
                "SELECT arxiv_id {community_ids} \
                 ORDER BY votes DESC, submitted_at DESC NULLS LAST, arxiv_id DESC \
                 LIMIT $3 OFFSET $4"
            ),
            &[
                &from,
                &to,
                &i64::from(query.limit),
                &i64::from(query.offset),
            ],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let page_ids: Vec<&str> = page_ids.iter().map(String::as_str).collect();
    let mut community = entries_in(tx, &page_ids, viewer)?;
    community.sort_by(|a, b| {
        b.votes
            .cmp(&a.votes)
            .then_with(|| b.submitted_at.cmp(&a.submitted_at))
            .then_with(|| b.paper.id.base().cmp(a.paper.id.base()))
    });
    // The announcement continues the sequence where the community part ends.
    let announced_offset = u64::from(query.offset).saturating_sub(community_total);
    let announced_limit = query.limit.saturating_sub(community.len() as u32);
    let patterns: Vec<String> = query.categories.iter().map(|c| format!(" {c} ")).collect();
    let categories = if patterns.is_empty() {
        ""
    } else {
        "AND EXISTS (SELECT 1 FROM unnest($3::text[]) AS want \
           WHERE strpos(' ' || p.categories || ' ', want) > 0)"
    };
    let hidden = if query.include_hidden {
        ""
    } else {
        "AND NOT coalesce(c.hidden, false)"
    };
    let filter = format!(
        "FROM papers p LEFT JOIN paper_community c ON c.arxiv_id = p.arxiv_id \
         WHERE p.announced BETWEEN $1 AND $2 {categories} {hidden} \
           AND NOT (c.list_date IS NOT NULL AND c.list_date BETWEEN $1 AND $2) \
           AND NOT coalesce(c.featured, false)"
    );
    let order = match query.order {
        ListOrder::Votes => "coalesce(c.votes, 0) DESC, p.arxiv_id DESC",
        ListOrder::Newest => "p.arxiv_id DESC",
    };
    let (limit, offset) = (i64::from(announced_limit), int8(announced_offset));
    let (total_row, id_rows) = if patterns.is_empty() {
        (
            tx.query_one(&format!("SELECT count(*) {filter}"), &[&from, &to])?,
            tx.query(
                &format!("SELECT p.arxiv_id {filter} ORDER BY {order} LIMIT $3 OFFSET $4"),
                &[&from, &to, &limit, &offset],
            )?,
        )
    } else {
        (
            tx.query_one(
                &format!("SELECT count(*) {filter}"),
                &[&from, &to, &patterns],
            )?,
            tx.query(
                &format!("SELECT p.arxiv_id {filter} ORDER BY {order} LIMIT $4 OFFSET $5"),
                &[&from, &to, &patterns, &limit, &offset],
            )?,
        )
    };
    let announced_total = count(total_row.try_get(0)?);
    let ids: Vec<String> = id_rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let announced = entries_in(tx, &ids, viewer)?;
    Ok(Listing {
        community,
        announced,
        community_total,
        announced_total,
    })
}
