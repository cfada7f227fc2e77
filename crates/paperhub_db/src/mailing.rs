//! The mailing side of the store: digest subscribers, their interests, and
//! the durable outbox every mail passes through.
//!
//! [`MailStore`] is the interface; [`SqliteStore`] implements it. A mail is
//! rendered completely before it is stored, and stored before it is sent:
//! `enqueue_mails` inserts a batch in one transaction, ignoring rows whose
//! `dedupe_key` (one per subscriber and period) is already there, so running
//! a digest twice, or again after a crash, never queues a mail twice. The
//! sender marks each row sent right after the server accepted it.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::community::{is_unique_violation, parse_ts, ts};
use crate::error::DbError;
use crate::sqlite::SqliteStore;

/// A subscriber's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct SubscriberId(pub i64);

impl std::fmt::Display for SubscriberId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriberStatus {
    /// Signed up; the confirmation link was not followed yet.
    Pending,
    /// Confirmed; receives digests.
    Active,
    /// Unsubscribed.
    Unsubscribed,
    /// Disabled after repeated permanent delivery failures.
    Disabled,
}

impl SubscriberStatus {
    /// `pending`, `active`, `unsubscribed` or `disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberStatus::Pending => "pending",
            SubscriberStatus::Active => "active",
            SubscriberStatus::Unsubscribed => "unsubscribed",
            SubscriberStatus::Disabled => "disabled",
        }
    }

    fn parse(s: &str) -> SubscriberStatus {
        match s {
            "active" => SubscriberStatus::Active,
            "unsubscribed" => SubscriberStatus::Unsubscribed,
            "disabled" => SubscriberStatus::Disabled,
            _ => SubscriberStatus::Pending,
        }
    }
}

/// How often a subscriber gets a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// After each announcement.
    Daily,
    /// Once a week.
    Weekly,
}

impl Frequency {
    /// `daily` or `weekly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
        }
    }

    /// Parses `daily` or `weekly`.
    pub fn parse(s: &str) -> Option<Frequency> {
        match s {
            "daily" => Some(Frequency::Daily),
            "weekly" => Some(Frequency::Weekly),
            _ => None,
        }
    }
}

/// A digest subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscriber {
    /// Row id.
    pub id: SubscriberId,
    /// The address (never logged).
    pub email: String,
    /// Where the subscription stands.
    pub status: SubscriberStatus,
    /// Daily or weekly.
    pub frequency: Frequency,
    /// Trending papers per digest; 0 for personal matches only.
    pub top_n: u32,
    /// Permanent delivery failures since the last delivered mail.
    pub hard_failures: u32,
    /// When it signed up.
    pub created_at: DateTime<Utc>,
    /// When it confirmed.
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// What kind of interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InterestKind {
    /// A saved search, matched with hybrid search.
    Query,
    /// An arXiv category such as `cs.LG`.
    Category,
    /// A followed author, by name.
    Author,
}

impl InterestKind {
    /// `query`, `category` or `author`.
    pub fn as_str(self) -> &'static str {
        match self {
            InterestKind::Query => "query",
            InterestKind::Category => "category",
            InterestKind::Author => "author",
        }
    }

    fn parse(s: &str) -> Option<InterestKind> {
        match s {
            "query" => Some(InterestKind::Query),
            "category" => Some(InterestKind::Category),
            "author" => Some(InterestKind::Author),
            _ => None,
        }
    }
}

/// One interest of a subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Interest {
    /// Its kind.
    pub kind: InterestKind,
    /// The query, category or author name.
    pub value: String,
}

/// A subscriber to add in bulk (an address list moved from another tool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscriber {
    /// The address.
    pub email: String,
    /// Daily or weekly.
    pub frequency: Frequency,
    /// Trending papers per digest.
    pub top_n: u32,
    /// Its interests.
    pub interests: Vec<Interest>,
}

/// A rendered mail to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// Unique per mail that must go out once, e.g. `digest:daily:2025-03-21:7`.
    pub dedupe_key: String,
    /// Its subscriber, if any.
    pub subscriber: Option<SubscriberId>,
    /// `confirm`, `manage` or `digest`.
    pub kind: String,
    /// Our Message-ID, without angle brackets.
    pub message_id: String,
    /// The envelope recipient.
    pub recipient: String,
    /// The subject, for `digest status`.
    pub subject: String,
    /// The whole RFC 5322 message.
    pub message: Vec<u8>,
}

/// A queued mail the sender picked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    /// Outbox row id.
    pub id: i64,
    /// Its subscriber, if any.
    pub subscriber: Option<SubscriberId>,
    /// Our Message-ID.
    pub message_id: String,
    /// The envelope recipient.
    pub recipient: String,
    /// The whole message.
    pub message: Vec<u8>,
    /// Attempts made so far.
    pub attempts: u32,
}

/// One outbox row for `digest status`, without the address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    /// Row id.
    pub id: i64,
    /// `confirm`, `manage` or `digest`.
    pub kind: String,
    /// Our Message-ID.
    pub message_id: String,
    /// The subject.
    pub subject: String,
    /// `queued`, `sent` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the server accepted it.
    pub sent_at: Option<DateTime<Utc>>,
}

/// Outbox totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    /// Waiting to be sent (including retries).
    pub queued: u64,
    /// Accepted by the mail server.
    pub sent: u64,
    /// Given up.
    pub failed: u64,
    /// Active subscribers.
    pub active_subscribers: u64,
    /// Subscribers still to confirm.
    pub pending_subscribers: u64,
}

/// The mailing storage interface; see the module docs.
pub trait MailStore: Send {
    /// Signs `email` up as pending, or returns its existing row unchanged
    /// (an unsubscribed or disabled address goes back to pending).
    ///
    /// # Errors
    /// A storage error.
    fn subscribe(&mut self, email: &str, now: DateTime<Utc>) -> Result<Subscriber, DbError>;

    /// Adds already-confirmed subscribers with their preferences in one
    /// transaction; addresses already present are left as they are.
    /// Returns how many were added.
    ///
    /// # Errors
    /// A storage error; nothing is added then.
    fn add_confirmed_subscribers(
        &mut self,
        subscribers: &[NewSubscriber],
        now: DateTime<Utc>,
    ) -> Result<u64, DbError>;

    /// The subscriber with this id.
    ///
    /// # Errors
    /// A storage error.
    fn subscriber(&self, id: SubscriberId) -> Result<Option<Subscriber>, DbError>;

    /// The subscriber with this address (case-insensitive).
    ///
    /// # Errors
    /// A storage error.
    fn subscriber_by_email(&self, email: &str) -> Result<Option<Subscriber>, DbError>;

    /// Makes a subscription active (confirming it) and clears its failures.
    /// Returns the updated subscriber, or none if it does not exist.
    ///
    /// # Errors
    /// A storage error.
    fn confirm_subscriber(
        &mut self,
        id: SubscriberId,
        now: DateTime<Utc>,
    ) -> Result<Option<Subscriber>, DbError>;

    /// Unsubscribes; true if the subscriber exists.
    ///
    /// # Errors
    /// A storage error.
    fn unsubscribe(&mut self, id: SubscriberId, now: DateTime<Utc>) -> Result<bool, DbError>;

    /// Replaces frequency, trending count and interests in one transaction.
    ///
    /// # Errors
    /// A storage error.
    fn set_preferences(
        &mut self,
        id: SubscriberId,
        frequency: Frequency,
        top_n: u32,
        interests: &[Interest],
    ) -> Result<(), DbError>;

    /// A subscriber's interests, sorted.
    ///
    /// # Errors
    /// A storage error.
    fn interests(&self, id: SubscriberId) -> Result<Vec<Interest>, DbError>;

    /// Every active subscriber of `frequency` with its interests, by id.
    ///
    /// # Errors
    /// A storage error.
    fn active_subscribers(
        &self,
        frequency: Frequency,
    ) -> Result<Vec<(Subscriber, Vec<Interest>)>, DbError>;

    /// The outbox keys starting with `prefix` (to skip rendering mails
    /// already queued).
    ///
    /// # Errors
    /// A storage error.
    fn outbox_keys(&self, prefix: &str) -> Result<std::collections::HashSet<String>, DbError>;

    /// Queues `mails` in one transaction, ignoring those whose key is
    /// already queued; returns how many were added.
    ///
    /// # Errors
    /// A storage error; nothing is queued then.
    fn enqueue_mails(&mut self, mails: &[NewMail], now: DateTime<Utc>) -> Result<u64, DbError>;

    /// Queued mails due at `now`, oldest first.
    ///
    /// # Errors
    /// A storage error.
    fn due_mails(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<QueuedMail>, DbError>;

    /// When the next queued mail is due, if any is queued.
    ///
    /// # Errors
    /// A storage error.
    fn next_due(&self) -> Result<Option<DateTime<Utc>>, DbError>;

    /// Records that the server accepted mail `id`, and clears its
    /// subscriber's failure count.
    ///
    /// # Errors
    /// A storage error.
    fn mark_sent(&mut self, id: i64, now: DateTime<Utc>) -> Result<(), DbError>;

    /// Records a temporary failure; the mail is tried again at `retry_at`.
    ///
    /// # Errors
    /// A storage error.
    fn mark_retry(&mut self, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<(), DbError>;

    /// Gives mail `id` up. When `permanent` (a 5xx answer) the subscriber's
    /// failure count grows, and reaching `disable_after` disables it; returns
    /// whether it was disabled now.
    ///
    /// # Errors
    /// A storage error.
    fn mark_failed(
        &mut self,
        id: i64,
        error: &str,
        permanent: bool,
        disable_after: u32,
    ) -> Result<bool, DbError>;

    /// Outbox and subscriber totals.
    ///
    /// # Errors
    /// A storage error.
    fn outbox_counts(&self) -> Result<OutboxCounts, DbError>;

    /// The most recent outbox rows, newest first.
    ///
    /// # Errors
    /// A storage error.
    fn outbox_recent(&self, limit: u32) -> Result<Vec<OutboxEntry>, DbError>;
}

const SUBSCRIBER_COLUMNS: &str =
    "id, email, status, frequency, top_n, hard_failures, created_at, confirmed_at";

fn subscriber_from_row(row: &Row<'_>) -> rusqlite::Result<Subscriber> {
    let status: String = row.get(2)?;
    let frequency: String = row.get(3)?;
    let created: String = row.get(6)?;
    let confirmed: Option<String> = row.get(7)?;
    Ok(Subscriber {
        id: SubscriberId(row.get(0)?),
        email: row.get(1)?,
        status: SubscriberStatus::parse(&status),
        frequency: Frequency::parse(&frequency).unwrap_or(Frequency::Daily),
        top_n: row.get(4)?,
        hard_failures: row.get(5)?,
        created_at: parse_ts(&created).unwrap_or_default(),
        confirmed_at: confirmed.as_deref().and_then(parse_ts),
    })
}

fn interests_in(conn: &rusqlite::Connection, id: SubscriberId) -> Result<Vec<Interest>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, value FROM subscriber_interests WHERE subscriber_id = ?1 ORDER BY kind, value",
    )?;
    let rows = stmt
        .query_map([id.0], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, value)| InterestKind::parse(&k).map(|kind| Interest { kind, value }))
        .collect())
}

impl SqliteStore {
    fn subscriber_where(
        &self,
        clause: &str,
        param: &dyn rusqlite::ToSql,
    ) -> Result<Option<Subscriber>, DbError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE {clause}"),
                [param],
                subscriber_from_row,
            )
            .optional()?)
    }
}

impl MailStore for SqliteStore {
    fn subscribe(&mut self, email: &str, now: DateTime<Utc>) -> Result<Subscriber, DbError> {
        let inserted = self.conn().execute(
            "INSERT INTO subscribers (email, created_at) VALUES (?1, ?2)",
            params![email, ts(now)],
        );
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                self.conn().execute(
                    "UPDATE subscribers SET status = 'pending'
                     WHERE email = ?1 AND status IN ('unsubscribed', 'disabled')",
                    [email],
                )?;
            }
            Err(e) => return Err(e.into()),
        }
        self.subscriber_where("email = ?1", &email)?
            .ok_or(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    fn add_confirmed_subscribers(
        &mut self,
        subscribers: &[NewSubscriber],
        now: DateTime<Utc>,
    ) -> Result<u64, DbError> {
        let now = ts(now);
        let tx = self.conn_mut().transaction()?;
        let mut added = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO subscribers
                     (email, status, frequency, top_n, created_at, confirmed_at)
                 VALUES (?1, 'active', ?2, ?3, ?4, ?4)",
            )?;
            let mut interest = tx.prepare_cached(
                "INSERT OR IGNORE INTO subscriber_interests (subscriber_id, kind, value)
                 VALUES (?1, ?2, ?3)",
            )?;
            for s in subscribers {
                if insert.execute(params![s.email, s.frequency.as_str(), s.top_n, now])? == 0 {
                    continue;
                }
                added += 1;
                let id = tx.last_insert_rowid();
                for i in &s.interests {
                    interest.execute(params![id, i.kind.as_str(), i.value])?;
                }
            }
        }
        tx.commit()?;
        Ok(added)
    }

    fn subscriber(&self, id: SubscriberId) -> Result<Option<Subscriber>, DbError> {
        self.subscriber_where("id = ?1", &id.0)
    }

    fn subscriber_by_email(&self, email: &str) -> Result<Option<Subscriber>, DbError> {
        self.subscriber_where("email = ?1", &email)
    }

    fn confirm_subscriber(
        &mut self,
        id: SubscriberId,
        now: DateTime<Utc>,
    ) -> Result<Option<Subscriber>, DbError> {
        self.conn().execute(
            "UPDATE subscribers SET status = 'active', hard_failures = 0,
                 confirmed_at = coalesce(confirmed_at, ?2), unsubscribed_at = NULL
             WHERE id = ?1",
            params![id.0, ts(now)],
        )?;
        self.subscriber(id)
    }

    fn unsubscribe(&mut self, id: SubscriberId, now: DateTime<Utc>) -> Result<bool, DbError> {
        let tx = self.conn_mut().transaction()?;
        let n = tx.execute(
            "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ?2 WHERE id = ?1",
            params![id.0, ts(now)],
        )?;
        // Nothing more goes to someone who left, not even a queued digest.
        tx.execute(
            "UPDATE outbox SET status = 'failed', last_error = 'unsubscribed'
             WHERE subscriber_id = ?1 AND status = 'queued'",
            [id.0],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn set_preferences(
        &mut self,
        id: SubscriberId,
        frequency: Frequency,
        top_n: u32,
        interests: &[Interest],
    ) -> Result<(), DbError> {
        let tx = self.conn_mut().transaction()?;
        tx.execute(
            "UPDATE subscribers SET frequency = ?2, top_n = ?3 WHERE id = ?1",
            params![id.0, frequency.as_str(), top_n],
        )?;
        tx.execute(
            "DELETE FROM subscriber_interests WHERE subscriber_id = ?1",
            [id.0],
        )?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO subscriber_interests (subscriber_id, kind, value)
                 VALUES (?1, ?2, ?3)",
            )?;
            for i in interests {
                insert.execute(params![id.0, i.kind.as_str(), i.value])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn interests(&self, id: SubscriberId) -> Result<Vec<Interest>, DbError> {
        interests_in(self.conn(), id)
    }

    fn active_subscribers(
        &self,
        frequency: Frequency,
    ) -> Result<Vec<(Subscriber, Vec<Interest>)>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers
             WHERE status = 'active' AND frequency = ?1 ORDER BY id"
        ))?;
        let subscribers = stmt
            .query_map([frequency.as_str()], subscriber_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut by_id: std::collections::HashMap<i64, Vec<Interest>> = Default::default();
        let mut all = conn.prepare(
            "SELECT i.subscriber_id, i.kind, i.value FROM subscriber_interests i
             JOIN subscribers s ON s.id = i.subscriber_id
             WHERE s.status = 'active' AND s.frequency = ?1
             ORDER BY i.subscriber_id, i.kind, i.value",
        )?;
        let rows = all.query_map([frequency.as_str()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, kind, value) = row?;
            if let Some(kind) = InterestKind::parse(&kind) {
                by_id.entry(id).or_default().push(Interest { kind, value });
            }
        }
        Ok(subscribers
            .into_iter()
            .map(|s| {
                let interests = by_id.remove(&s.id.0).unwrap_or_default();
                (s, interests)
            })
            .collect())
    }

    fn outbox_keys(&self, prefix: &str) -> Result<std::collections::HashSet<String>, DbError> {
        let mut stmt = self.conn().prepare(
            "SELECT dedupe_key FROM outbox WHERE dedupe_key >= ?1 AND dedupe_key < ?1 || x'ff'",
        )?;
        let keys = stmt
            .query_map([prefix], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(keys)
    }

    fn enqueue_mails(&mut self, mails: &[NewMail], now: DateTime<Utc>) -> Result<u64, DbError> {
        let now = ts(now);
        let tx = self.conn_mut().transaction()?;
        let mut added = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO outbox (dedupe_key, subscriber_id, kind, message_id,
                     recipient, subject, message, next_attempt_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            )?;
            for m in mails {
                added += insert.execute(params![
                    m.dedupe_key,
                    m.subscriber.map(|s| s.0),
                    m.kind,
                    m.message_id,
                    m.recipient,
                    m.subject,
                    m.message,
                    now
                ])? as u64;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    fn due_mails(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<QueuedMail>, DbError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, subscriber_id, message_id, recipient, message, attempts FROM outbox
             WHERE status = 'queued' AND next_attempt_at <= ?1
             ORDER BY next_attempt_at, id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![ts(now), limit], |r| {
                Ok(QueuedMail {
                    id: r.get(0)?,
                    subscriber: r.get::<_, Option<i64>>(1)?.map(SubscriberId),
                    message_id: r.get(2)?,
                    recipient: r.get(3)?,
                    message: r.get(4)?,
                    attempts: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn next_due(&self) -> Result<Option<DateTime<Utc>>, DbError> {
        let next: Option<String> = self.conn().query_row(
            "SELECT min(next_attempt_at) FROM outbox WHERE status = 'queued'",
            [],
            |r| r.get(0),
        )?;
        Ok(next.as_deref().and_then(parse_ts))
    }

    fn mark_sent(&mut self, id: i64, now: DateTime<Utc>) -> Result<(), DbError> {
        let tx = self.conn_mut().transaction()?;
        tx.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?2, attempts = attempts + 1,
                 last_error = NULL WHERE id = ?1",
            params![id, ts(now)],
        )?;
        tx.execute(
            "UPDATE subscribers SET hard_failures = 0
             WHERE id = (SELECT subscriber_id FROM outbox WHERE id = ?1)",
            [id],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn mark_retry(&mut self, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<(), DbError> {
        self.conn().execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
             WHERE id = ?1",
            params![id, error, ts(retry_at)],
        )?;
        Ok(())
    }

    fn mark_failed(
        &mut self,
        id: i64,
        error: &str,
        permanent: bool,
        disable_after: u32,
    ) -> Result<bool, DbError> {
        let tx = self.conn_mut().transaction()?;
        tx.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2
             WHERE id = ?1",
            params![id, error],
        )?;
        let mut disabled = false;
        if permanent {
            let subscriber: Option<i64> = tx
                .query_row(
                    "SELECT subscriber_id FROM outbox WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            if let Some(sub) = subscriber {
                tx.execute(
                    "UPDATE subscribers SET hard_failures = hard_failures + 1 WHERE id = ?1",
                    [sub],
                )?;
                disabled = tx.execute(
                    "UPDATE subscribers SET status = 'disabled'
                     WHERE id = ?1 AND hard_failures >= ?2 AND status != 'disabled'",
                    params![sub, disable_after.max(1)],
                )? > 0;
                if disabled {
                    tx.execute(
                        "UPDATE outbox SET status = 'failed', last_error = 'address disabled'
                         WHERE subscriber_id = ?1 AND status = 'queued'",
                        [sub],
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(disabled)
    }

    fn outbox_counts(&self) -> Result<OutboxCounts, DbError> {
        let conn = self.conn();
        let mut counts = OutboxCounts::default();
        let mut stmt = conn.prepare("SELECT status, count(*) FROM outbox GROUP BY status")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))? {
            let (status, n) = row?;
            match status.as_str() {
                "queued" => counts.queued = n,
                "sent" => counts.sent = n,
                _ => counts.failed += n,
            }
        }
        let mut stmt = conn.prepare("SELECT status, count(*) FROM subscribers GROUP BY status")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))? {
            let (status, n) = row?;
            match SubscriberStatus::parse(&status) {
                SubscriberStatus::Active => counts.active_subscribers = n,
                SubscriberStatus::Pending => counts.pending_subscribers = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    fn outbox_recent(&self, limit: u32) -> Result<Vec<OutboxEntry>, DbError> {
        let mut stmt = self.conn().prepare(
            "SELECT id, kind, message_id, subject, status, attempts, last_error, created_at, sent_at
             FROM outbox ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit], |r| {
                let created: String = r.get(7)?;
                let sent: Option<String> = r.get(8)?;
                Ok(OutboxEntry {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    message_id: r.get(2)?,
                    subject: r.get(3)?,
                    status: r.get(4)?,
                    attempts: r.get(5)?,
                    last_error: r.get(6)?,
                    created_at: parse_ts(&created).unwrap_or_default(),
                    sent_at: sent.as_deref().and_then(parse_ts),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.sqlite")).unwrap();
        (dir, store)
    }

    fn mail(key: &str, sub: SubscriberId) -> NewMail {
        NewMail {
            dedupe_key: key.into(),
            subscriber: Some(sub),
            kind: "digest".into(),
            message_id: format!("{key}@test"),
            recipient: "a@example.org".into(),
            subject: "s".into(),
            message: b"Subject: s\r\n\r\nbody".to_vec(),
        }
    }

    #[test]
    fn subscribing_twice_is_one_row_and_case_insensitive() {
        let (_d, mut s) = store();
        let now = Utc::now();
        let a = s.subscribe("Ann@Example.org", now).unwrap();
        let b = s.subscribe("ann@example.org", now).unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(b.status, SubscriberStatus::Pending);
        let c = s.confirm_subscriber(a.id, now).unwrap().unwrap();
        assert_eq!(c.status, SubscriberStatus::Active);
        assert_eq!(
            s.subscribe("ann@example.org", now).unwrap().status,
            SubscriberStatus::Active,
            "signing up again does not reset an active subscription"
        );
        assert!(s.unsubscribe(a.id, now).unwrap());
        assert_eq!(
            s.subscribe("ann@example.org", now).unwrap().status,
            SubscriberStatus::Pending
        );
    }

    #[test]
    fn enqueue_is_idempotent_per_key_and_failures_disable() {
        let (_d, mut s) = store();
        let now = Utc::now();
        let sub = s.subscribe("b@example.org", now).unwrap().id;
        s.confirm_subscriber(sub, now).unwrap();
        let batch = [
            mail("digest:daily:d1:1", sub),
            mail("digest:daily:d2:1", sub),
        ];
        assert_eq!(s.enqueue_mails(&batch, now).unwrap(), 2);
        assert_eq!(s.enqueue_mails(&batch, now).unwrap(), 0, "same keys");
        assert_eq!(s.outbox_keys("digest:daily:").unwrap().len(), 2);
        assert_eq!(s.outbox_keys("digest:weekly:").unwrap().len(), 0);
        let due = s.due_mails(now, 10).unwrap();
        assert_eq!(due.len(), 2);
        s.mark_retry(due[0].id, "451", now + chrono::Duration::hours(1))
            .unwrap();
        assert_eq!(s.due_mails(now, 10).unwrap().len(), 1);
        assert!(!s.mark_failed(due[1].id, "550", true, 2).unwrap());
        assert!(s.mark_failed(due[0].id, "550", true, 2).unwrap());
        let sub_row = s.subscriber(sub).unwrap().unwrap();
        assert_eq!(sub_row.status, SubscriberStatus::Disabled);
        let c = s.outbox_counts().unwrap();
        assert_eq!((c.queued, c.sent, c.failed), (0, 0, 2));
    }

    #[test]
    fn preferences_replace_interests() {
        let (_d, mut s) = store();
        let now = Utc::now();
        let sub = s.subscribe("c@example.org", now).unwrap().id;
        s.confirm_subscriber(sub, now).unwrap();
        let i = |kind, v: &str| Interest {
            kind,
            value: v.into(),
        };
        s.set_preferences(
            sub,
            Frequency::Weekly,
            5,
            &[
                i(InterestKind::Query, "diffusion"),
                i(InterestKind::Category, "cs.LG"),
            ],
        )
        .unwrap();
        s.set_preferences(
            sub,
            Frequency::Weekly,
            3,
            &[i(InterestKind::Author, "Ada Lovelace")],
        )
        .unwrap();
        let all = s.active_subscribers(Frequency::Weekly).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0.top_n, 3);
        assert_eq!(all[0].1, vec![i(InterestKind::Author, "Ada Lovelace")]);
        assert!(s.active_subscribers(Frequency::Daily).unwrap().is_empty());
    }
}
