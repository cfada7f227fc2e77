//! The community side of the store: accounts, sessions, API tokens,
//! submissions, votes and curators' flags, and the paper lists built on them.
//!
//! [`CommunityStore`] is the interface, like [`crate::CatalogStore`] for the
//! catalog; [`SqliteStore`] implements both. Secrets never reach the store in
//! the clear: sessions and API tokens are looked up by their SHA-256, and
//! passwords arrive as argon2id PHC strings. A vote is a row keyed by
//! (user, paper), so voting twice is still one vote; the paper's count in
//! `paper_community.votes` is updated in the same transaction.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use paperhub_domain::{ArxivId, Paper};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use serde::Serialize;

use crate::error::DbError;
use crate::sqlite::{PAPER_COLUMNS, RawPaper, SqliteStore};

/// A user's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct UserId(pub i64);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Row id.
    pub id: UserId,
    /// Unique, case-insensitive.
    pub username: String,
    /// Optional contact address (never shown to others).
    pub email: Option<String>,
    /// Curators may feature and hide papers.
    pub is_admin: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

/// A personal API token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// Row id, used to revoke it.
    pub id: i64,
    /// The user's label for it.
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a request.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working; never when `None`.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A paper as the hub shows it: the catalog record plus community state.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The catalog record.
    pub paper: Paper,
    /// Upvotes.
    pub votes: u32,
    /// Whether the viewer (if any) upvoted it.
    pub voted: bool,
    /// Who submitted it to the hub.
    pub submitted_by: Option<String>,
    /// When it was submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// The daily list it joined by submission.
    pub list_date: Option<NaiveDate>,
    /// Featured by a curator.
    pub featured: bool,
    /// Hidden by a curator (shown to curators only).
    pub hidden: bool,
}

/// What a submission did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submission {
    /// The paper joined the list of `list_date`.
    Added {
        /// The list it joined.
        list_date: NaiveDate,
    },
    /// It was submitted before; nothing changed.
    AlreadySubmitted {
        /// Who submitted it first, if that account still exists.
        by: Option<String>,
        /// The list it is on.
        list_date: Option<NaiveDate>,
    },
}

/// Which papers a list shows.
///
/// A list is one sequence, the community part first, then the
/// announcement; `offset` and `limit` page through it as a whole, so no
/// number of submissions can make a page longer than `limit` (see #13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// Announced papers in any of these categories; empty means all.
    pub categories: Vec<String>,
    /// Papers of the whole list to skip (paging).
    pub offset: u32,
    /// Papers to return at most, both parts together.
    pub limit: u32,
    /// Include hidden papers (curators' view).
    pub include_hidden: bool,
    /// How the announcement part is sorted.
    pub order: ListOrder,
}

/// The order of a list's announcement part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// Most upvoted first, then newest.
    #[default]
    Votes,
    /// Newest first (by arXiv id, which grows with submission time).
    Newest,
}

/// One page of a day's, week's or month's papers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    /// This page's submitted or featured papers of the period, by votes
    /// then recency.
    pub community: Vec<Entry>,
    /// This page's part of the announcement (excluding the community part),
    /// by votes then recency (newest id first).
    pub announced: Vec<Entry>,
    /// Community papers of the period, all pages.
    pub community_total: u64,
    /// Announced papers in the period matching the categories, all pages.
    pub announced_total: u64,
}

/// A paper that had community activity in a trending window.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendingCandidate {
    /// The paper.
    pub arxiv_id: String,
    /// Its upvotes.
    pub votes: u32,
    /// When it reached the hub (first submission or vote): its age for ranking.
    pub first_seen_at: DateTime<Utc>,
}

/// The community store's interface; see the module docs.
pub trait CommunityStore: Send {
    /// Creates an account.
    ///
    /// # Errors
    /// [`DbError::Taken`] when the username or email is in use.
    fn create_user(
        &mut self,
        username: &str,
        email: Option<&str>,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<User, DbError>;

    /// The account and its password hash, for logging in.
    ///
    /// # Errors
    /// A storage error.
    fn user_credentials(&self, username: &str) -> Result<Option<(User, String)>, DbError>;

    /// The account with this name.
    ///
    /// # Errors
    /// A storage error.
    fn user_by_name(&self, username: &str) -> Result<Option<User>, DbError>;

    /// Replaces a user's password hash, ends their other sessions and
    /// revokes their API tokens, in one transaction.
    ///
    /// # Errors
    /// A storage error.
    fn set_password(
        &mut self,
        user: UserId,
        password_hash: &str,
        keep_session: Option<&[u8]>,
    ) -> Result<(), DbError>;

    /// Grants or revokes curator rights; false when there is no such user.
    ///
    /// # Errors
    /// A storage error.
    fn set_admin(&mut self, username: &str, admin: bool) -> Result<bool, DbError>;

    /// Stores a session.
    ///
    /// # Errors
    /// A storage error.
    fn create_session(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), DbError>;

    /// The user of an unexpired session.
    ///
    /// # Errors
    /// A storage error.
    fn session_user(&self, token_hash: &[u8], now: DateTime<Utc>) -> Result<Option<User>, DbError>;

    /// Ends a session (and removes expired ones).
    ///
    /// # Errors
    /// A storage error.
    fn delete_session(&mut self, token_hash: &[u8], now: DateTime<Utc>) -> Result<(), DbError>;

    /// Stores a personal API token.
    ///
    /// # Errors
    /// A storage error.
    fn create_api_token(
        &mut self,
        user: UserId,
        name: &str,
        token_hash: &[u8],
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<ApiToken, DbError>;

    /// A user's tokens, newest first.
    ///
    /// # Errors
    /// A storage error.
    fn api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>, DbError>;

    /// Revokes one of the user's tokens; false when it was not theirs.
    ///
    /// # Errors
    /// A storage error.
    fn delete_api_token(&mut self, user: UserId, id: i64) -> Result<bool, DbError>;

    /// The user a token belongs to; records its use.
    ///
    /// # Errors
    /// A storage error.
    fn api_token_user(
        &mut self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<User>, DbError>;

    /// Sets the user's vote on a paper (idempotent) and returns its count.
    ///
    /// # Errors
    /// A storage error.
    fn set_vote(
        &mut self,
        user: UserId,
        id: &ArxivId,
        up: bool,
        now: DateTime<Utc>,
    ) -> Result<u32, DbError>;

    /// Papers `user` submitted at or after `since` (for the submission quota).
    ///
    /// # Errors
    /// A storage error.
    fn submissions_since(&self, user: UserId, since: DateTime<Utc>) -> Result<u32, DbError>;

    /// Adds a catalog paper to the list of `list_date`, once.
    ///
    /// # Errors
    /// A storage error.
    fn submit(
        &mut self,
        user: UserId,
        id: &ArxivId,
        list_date: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Submission, DbError>;

    /// Sets curators' flags; `None` leaves a flag as it is.
    ///
    /// # Errors
    /// A storage error.
    fn set_curation(
        &mut self,
        id: &ArxivId,
        featured: Option<bool>,
        hidden: Option<bool>,
        now: DateTime<Utc>,
    ) -> Result<(), DbError>;

    /// One paper with its community state.
    ///
    /// # Errors
    /// A storage error or an undecodable row.
    fn entry(&self, id: &ArxivId, viewer: Option<UserId>) -> Result<Option<Entry>, DbError>;

    /// Papers by id, in the given order; unknown ids are left out.
    ///
    /// # Errors
    /// A storage error or an undecodable row.
    fn entries(&self, ids: &[String], viewer: Option<UserId>) -> Result<Vec<Entry>, DbError>;

    /// The papers of a period.
    ///
    /// # Errors
    /// A storage error or an undecodable row.
    fn listing(&self, query: &ListQuery, viewer: Option<UserId>) -> Result<Listing, DbError>;

    /// The latest announcement day in the catalog.
    ///
    /// # Errors
    /// A storage error.
    fn latest_day(&self) -> Result<Option<NaiveDate>, DbError>;

    /// The announcement days just before and after `day` (either may be none).
    ///
    /// # Errors
    /// A storage error.
    fn days_around(
        &self,
        day: NaiveDate,
    ) -> Result<(Option<NaiveDate>, Option<NaiveDate>), DbError>;

    /// Papers first seen or voted on at or after `since`, not hidden.
    ///
    /// # Errors
    /// A storage error.
    fn trending_candidates(&self, since: DateTime<Utc>) -> Result<Vec<TrendingCandidate>, DbError>;

    /// Papers the user submitted and upvoted, newest first.
    ///
    /// # Errors
    /// A storage error or an undecodable row.
    fn user_papers(
        &self,
        user: UserId,
        viewer: Option<UserId>,
    ) -> Result<(Vec<Entry>, Vec<Entry>), DbError>;
}

pub(crate) fn ts(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

const USER_COLUMNS: &str = "id, username, email, is_admin, created_at";

/// [`USER_COLUMNS`] of the `u` alias, for joins.
static USER_COLUMNS_U: LazyLock<String> = LazyLock::new(|| {
    USER_COLUMNS
        .split(", ")
        .map(|c| format!("u.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
});

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(row.get(0)?),
        username: row.get(1)?,
        email: row.get(2)?,
        is_admin: row.get(3)?,
        created_at: parse_ts(&row.get::<_, String>(4)?).unwrap_or_default(),
    })
}

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: row.get(0)?,
        name: row.get(1)?,
        created_at: parse_ts(&row.get::<_, String>(2)?).unwrap_or_default(),
        last_used_at: row
            .get::<_, Option<String>>(3)?
            .as_deref()
            .and_then(parse_ts),
        expires_at: row
            .get::<_, Option<String>>(4)?
            .as_deref()
            .and_then(parse_ts),
    })
}

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

pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
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

impl CommunityStore for SqliteStore {
    fn create_user(
        &mut self,
        username: &str,
        email: Option<&str>,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<User, DbError> {
        let conn = self.conn();
        let taken = conn
            .query_row(
                "SELECT CASE WHEN username = ?1 COLLATE NOCASE THEN 'username' ELSE 'email' END \
                 FROM users WHERE username = ?1 COLLATE NOCASE OR (?2 IS NOT NULL AND email = ?2 COLLATE NOCASE) LIMIT 1",
                params![username, email],
                |r| r.get::<_, String>(0),
            )
            .optional()?;
        if let Some(field) = taken {
            return Err(DbError::Taken {
                field: if field == "username" {
                    "username"
                } else {
                    "email"
                },
            });
        }
        let result = conn.execute(
            "INSERT INTO users (username, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![username, email, password_hash, ts(now)],
        );
        match result {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(DbError::Taken { field: "username" }),
            Err(e) => return Err(e.into()),
        }
        let id = UserId(conn.last_insert_rowid());
        Ok(User {
            id,
            username: username.to_owned(),
            email: email.map(str::to_owned),
            is_admin: false,
            created_at: now,
        })
    }

    fn user_credentials(&self, username: &str) -> Result<Option<(User, String)>, DbError> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = ?1"
            ))?
            .query_row([username], |r| Ok((user_from_row(r)?, r.get(5)?)))
            .optional()?)
    }

    fn user_by_name(&self, username: &str) -> Result<Option<User>, DbError> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE username = ?1"
            ))?
            .query_row([username], user_from_row)
            .optional()?)
    }

    fn set_password(
        &mut self,
        user: UserId,
        password_hash: &str,
        keep_session: Option<&[u8]>,
    ) -> Result<(), DbError> {
        let tx = self.conn_mut().transaction()?;
        tx.execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![user.0, password_hash],
        )?;
        tx.execute(
            "DELETE FROM sessions WHERE user_id = ?1 AND token_hash IS NOT ?2",
            params![user.0, keep_session],
        )?;
        // A changed password means the old one may have leaked: tokens made
        // with it go too (#13).
        tx.execute("DELETE FROM api_tokens WHERE user_id = ?1", [user.0])?;
        tx.commit()?;
        Ok(())
    }

    fn set_admin(&mut self, username: &str, admin: bool) -> Result<bool, DbError> {
        Ok(self.conn().execute(
            "UPDATE users SET is_admin = ?2 WHERE username = ?1",
            params![username, admin],
        )? == 1)
    }

    fn create_session(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.conn().execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token_hash, user.0, ts(now), ts(expires)],
        )?;
        Ok(())
    }

    fn session_user(&self, token_hash: &[u8], now: DateTime<Utc>) -> Result<Option<User>, DbError> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {} FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2",
                *USER_COLUMNS_U
            ))?
            .query_row(params![token_hash, ts(now)], user_from_row)
            .optional()?)
    }

    fn delete_session(&mut self, token_hash: &[u8], now: DateTime<Utc>) -> Result<(), DbError> {
        self.conn().execute(
            "DELETE FROM sessions WHERE token_hash = ?1 OR expires_at <= ?2",
            params![token_hash, ts(now)],
        )?;
        Ok(())
    }

    fn create_api_token(
        &mut self,
        user: UserId,
        name: &str,
        token_hash: &[u8],
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<ApiToken, DbError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![user.0, name, token_hash, ts(now), expires_at.map(ts)],
        )?;
        Ok(ApiToken {
            id: conn.last_insert_rowid(),
            name: name.to_owned(),
            created_at: now,
            last_used_at: None,
            expires_at,
        })
    }

    fn api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>, DbError> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT id, name, created_at, last_used_at, expires_at FROM api_tokens \
                 WHERE user_id = ?1 ORDER BY id DESC",
            )?
            .query_map([user.0], token_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn delete_api_token(&mut self, user: UserId, id: i64) -> Result<bool, DbError> {
        Ok(self.conn().execute(
            "DELETE FROM api_tokens WHERE id = ?1 AND user_id = ?2",
            params![id, user.0],
        )? == 1)
    }

    fn api_token_user(
        &mut self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<User>, DbError> {
        let conn = self.conn();
        let user = conn
            .prepare_cached(&format!(
                "SELECT {} FROM api_tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_hash = ?1 AND (t.expires_at IS NULL OR t.expires_at > ?2)",
                *USER_COLUMNS_U
            ))?
            .query_row(params![token_hash, ts(now)], user_from_row)
            .optional()?;
        if user.is_some() {
            conn.prepare_cached("UPDATE api_tokens SET last_used_at = ?2 WHERE token_hash = ?1")?
                .execute(params![token_hash, ts(now)])?;
        }
        Ok(user)
    }

    fn set_vote(
        &mut self,
        user: UserId,
        id: &ArxivId,
        up: bool,
        now: DateTime<Utc>,
    ) -> Result<u32, DbError> {
        let now = ts(now);
        let arxiv_id = id.base();
        let tx = self.conn_mut().transaction()?;
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
    }

    fn submit(
        &mut self,
        user: UserId,
        id: &ArxivId,
        list_date: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Submission, DbError> {
        let now = ts(now);
        let arxiv_id = id.base();
        let tx = self.conn_mut().transaction()?;
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
    }

    fn set_curation(
        &mut self,
        id: &ArxivId,
        featured: Option<bool>,
        hidden: Option<bool>,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        let arxiv_id = id.base();
        let tx = self.conn_mut().transaction()?;
        ensure_community_row(&tx, arxiv_id, &ts(now))?;
        tx.execute(
            "UPDATE paper_community SET featured = coalesce(?2, featured), \
             hidden = coalesce(?3, hidden) WHERE arxiv_id = ?1",
            params![arxiv_id, featured, hidden],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn entry(&self, id: &ArxivId, viewer: Option<UserId>) -> Result<Option<Entry>, DbError> {
        Ok(query_entries(
            self.conn(),
            "WHERE p.arxiv_id = ?2",
            &[
                Value::Integer(viewer_param(viewer)),
                Value::Text(id.base().to_owned()),
            ],
        )?
        .pop())
    }

    fn entries(&self, ids: &[String], viewer: Option<UserId>) -> Result<Vec<Entry>, DbError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut params = vec![Value::Integer(viewer_param(viewer))];
        params.extend(ids.iter().map(|id| Value::Text(id.clone())));
        let marks = vec!["?"; ids.len()].join(", ");
        let mut found = query_entries(
            self.conn(),
            &format!("WHERE p.arxiv_id IN ({marks})"),
            &params,
        )?;
        let order: std::collections::HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        found.sort_by_key(|e| order.get(e.paper.id.base()).copied().unwrap_or(usize::MAX));
        Ok(found)
    }

    fn listing(&self, query: &ListQuery, viewer: Option<UserId>) -> Result<Listing, DbError> {
        let conn = self.conn();
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
        let mut community = self.entries(&page_ids, viewer)?;
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
        let announced = self.entries(&ids, viewer)?;
        Ok(Listing {
            community,
            announced,
            community_total,
            announced_total,
        })
    }

    fn submissions_since(&self, user: UserId, since: DateTime<Utc>) -> Result<u32, DbError> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT count(*) FROM paper_community WHERE submitted_by = ?1 AND submitted_at >= ?2",
            )?
            .query_row(params![user.0, ts(since)], |r| r.get(0))?)
    }

    fn latest_day(&self) -> Result<Option<NaiveDate>, DbError> {
        let day: Option<String> =
            self.conn()
                .query_row("SELECT max(announced) FROM papers", [], |r| r.get(0))?;
        Ok(day.as_deref().and_then(parse_day))
    }

    fn days_around(
        &self,
        day: NaiveDate,
    ) -> Result<(Option<NaiveDate>, Option<NaiveDate>), DbError> {
        let day = day.format("%Y-%m-%d").to_string();
        let conn = self.conn();
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
    }

    fn trending_candidates(&self, since: DateTime<Utc>) -> Result<Vec<TrendingCandidate>, DbError> {
        let since = ts(since);
        let rows = self
            .conn()
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
    }

    fn user_papers(
        &self,
        user: UserId,
        viewer: Option<UserId>,
    ) -> Result<(Vec<Entry>, Vec<Entry>), DbError> {
        let submitted = query_entries(
            self.conn(),
            "WHERE c.submitted_by = ?2 ORDER BY c.submitted_at DESC LIMIT 200",
            &[Value::Integer(viewer_param(viewer)), Value::Integer(user.0)],
        )?;
        let upvoted = query_entries(
            self.conn(),
            "JOIN votes mine ON mine.arxiv_id = p.arxiv_id AND mine.user_id = ?2 \
             ORDER BY mine.created_at DESC LIMIT 200",
            &[Value::Integer(viewer_param(viewer)), Value::Integer(user.0)],
        )?;
        Ok((submitted, upvoted))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use paperhub_domain::Author;

    use super::*;
    use crate::CatalogStore;

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

    fn seed(store: &mut SqliteStore) {
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
        let (_d, mut s) = store();
        s.create_user("ada", Some("ada@example.org"), "h", now())
            .unwrap();
        assert!(matches!(
            s.create_user("ADA", None, "h", now()),
            Err(DbError::Taken { field: "username" })
        ));
        assert!(matches!(
            s.create_user("bob", Some("Ada@Example.org"), "h", now()),
            Err(DbError::Taken { field: "email" })
        ));
        let (user, hash) = s.user_credentials("Ada").unwrap().unwrap();
        assert_eq!((user.username.as_str(), hash.as_str()), ("ada", "h"));
    }

    #[test]
    fn sessions_expire_and_end() {
        let (_d, mut s) = store();
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
        s.set_password(u.id, "h2", Some(b"tok")).unwrap();
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
        let (_d, mut s) = store();
        seed(&mut s);
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
        let (_d, mut s) = store();
        seed(&mut s);
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
        let (_d, mut s) = store();
        seed(&mut s);
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
        let (_d, mut s) = store();
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
        let (_d, mut s) = store();
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
        s.set_password(a.id, "h2", None).unwrap();
        assert!(s.api_token_user(b"long", now()).unwrap().is_none());
        assert!(s.api_tokens(a.id).unwrap().is_empty());
    }
}
