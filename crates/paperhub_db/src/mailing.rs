//! The mailing side of the store: digest subscribers, their interests, and
//! the durable outbox every mail passes through.
//!
//! [`MailStore`] is the interface; [`SqliteStore`] implements it. A mail is
//! rendered completely before it is stored, and stored before it is sent:
//! `enqueue_mails` inserts a batch in one transaction, ignoring rows whose
//! `dedupe_key` (one per subscriber and period) is already there, so running
//! a digest twice, or again after a crash, never queues a mail twice. The
//! sender marks each row sent right after the server accepted it.
//!
//! Several senders may drain one outbox (`paperhub serve` and a
//! `paperhub digest send` beside it, or several hubs on one database). A
//! sender therefore *claims* mails before sending them:
//! [`MailStore::claim_due_mails`] writes the sender's id and a lease expiry
//! onto due, unleased rows in one `UPDATE … RETURNING`, so no two senders
//! ever hold the same mail. Recording the outcome requires the lease: a
//! sender whose lease ran out and was taken over records nothing
//! ([`Settled::LeaseLost`]). A crashed sender's mails fall due again once its
//! lease expires.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
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

/// What recording a delivery outcome did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The outcome is stored and the lease released.
    Recorded,
    /// Stored, and the subscriber was disabled after too many permanent
    /// failures (only from [`MailStore::mark_failed`]).
    Disabled,
    /// Nothing was stored: the caller no longer holds the mail's lease. It
    /// expired and another sender claimed the mail, or the mail was
    /// cancelled meanwhile (its subscriber left or was disabled).
    LeaseLost,
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

    /// Queued mails due at `now`, oldest first, whether or not a sender has
    /// claimed them. A look only: a sender must use
    /// [`MailStore::claim_due_mails`], or two senders send the same mail.
    ///
    /// # Errors
    /// A storage error.
    fn due_mails(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<QueuedMail>, DbError>;

    /// Claims up to `limit` mails due at `now` for sender `owner` until
    /// `lease_until`, oldest first, and returns them.
    ///
    /// One statement: a mail is claimable when it is queued, due, and its
    /// lease is free or expired, and it is claimed by exactly one caller
    /// however many claim at once. The claim does not count as an attempt.
    ///
    /// # Errors
    /// A storage error; nothing is claimed then.
    fn claim_due_mails(
        &mut self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, DbError>;

    /// When the next queued mail can be claimed (due, and its lease free),
    /// if any is queued.
    ///
    /// # Errors
    /// A storage error.
    fn next_due(&self) -> Result<Option<DateTime<Utc>>, DbError>;

    /// Records that the server accepted mail `id`, which `owner` claimed,
    /// and clears its subscriber's failure count.
    ///
    /// Returns [`Settled::LeaseLost`], storing nothing, when `owner` no
    /// longer holds the mail.
    ///
    /// # Errors
    /// A storage error.
    fn mark_sent(&mut self, id: i64, owner: &str, now: DateTime<Utc>) -> Result<Settled, DbError>;

    /// Records a temporary failure of mail `id`, which `owner` claimed,
    /// and releases it: it is tried again at `retry_at`.
    ///
    /// Returns [`Settled::LeaseLost`], storing nothing, when `owner` no
    /// longer holds the mail.
    ///
    /// # Errors
    /// A storage error.
    fn mark_retry(
        &mut self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<Settled, DbError>;

    /// Gives mail `id`, which `owner` claimed, up. When `permanent` (a 5xx
    /// answer) the subscriber's failure count grows, and reaching
    /// `disable_after` disables it ([`Settled::Disabled`]).
    ///
    /// Returns [`Settled::LeaseLost`], storing nothing, when `owner` no
    /// longer holds the mail.
    ///
    /// # Errors
    /// A storage error.
    fn mark_failed(
        &mut self,
        id: i64,
        owner: &str,
        error: &str,
        permanent: bool,
        disable_after: u32,
    ) -> Result<Settled, DbError>;

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

/// Reads the first six columns of a claim or a look at the outbox.
fn queued_mail_from_row(r: &Row<'_>) -> rusqlite::Result<QueuedMail> {
    Ok(QueuedMail {
        id: r.get(0)?,
        subscriber: r.get::<_, Option<i64>>(1)?.map(SubscriberId),
        message_id: r.get(2)?,
        recipient: r.get(3)?,
        message: r.get(4)?,
        attempts: r.get(5)?,
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
            .query_map(params![ts(now), limit], queued_mail_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn claim_due_mails(
        &mut self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, DbError> {
        // IMMEDIATE: the write lock is held from the start, so the rows the
        // subquery picks are still unclaimed when they are written.
        let tx = self
            .conn_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut claimed = {
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET lease_owner = ?1, lease_until = ?3
                 WHERE id IN (
                     SELECT id FROM outbox
                     WHERE status = 'queued' AND next_attempt_at <= ?2
                       AND (lease_until IS NULL OR lease_until <= ?2)
                     ORDER BY next_attempt_at, id LIMIT ?4)
                 RETURNING id, subscriber_id, message_id, recipient, message, attempts,
                     next_attempt_at",
            )?;
            stmt.query_map(params![owner, ts(now), ts(lease_until), limit], |r| {
                Ok((r.get::<_, String>(6)?, queued_mail_from_row(r)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        tx.commit()?;
        // RETURNING gives rows in no promised order.
        claimed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        Ok(claimed.into_iter().map(|(_, mail)| mail).collect())
    }

    fn next_due(&self) -> Result<Option<DateTime<Utc>>, DbError> {
        // A claimed mail can be claimed again only when its lease runs out.
        let next: Option<String> = self.conn().query_row(
            "SELECT min(CASE WHEN lease_until > next_attempt_at THEN lease_until
                             ELSE next_attempt_at END)
             FROM outbox WHERE status = 'queued'",
            [],
            |r| r.get(0),
        )?;
        Ok(next.as_deref().and_then(parse_ts))
    }

    fn mark_sent(&mut self, id: i64, owner: &str, now: DateTime<Utc>) -> Result<Settled, DbError> {
        let tx = self.conn_mut().transaction()?;
        let updated = tx.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?3, attempts = attempts + 1,
                 last_error = NULL, lease_owner = NULL, lease_until = NULL
             WHERE id = ?1 AND lease_owner = ?2 AND status = 'queued'",
            params![id, owner, ts(now)],
        )?;
        if updated == 0 {
            return Ok(Settled::LeaseLost);
        }
        tx.execute(
            "UPDATE subscribers SET hard_failures = 0
             WHERE id = (SELECT subscriber_id FROM outbox WHERE id = ?1)",
            [id],
        )?;
        tx.commit()?;
        Ok(Settled::Recorded)
    }

    fn mark_retry(
        &mut self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<Settled, DbError> {
        let updated = self.conn().execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?3, next_attempt_at = ?4,
                 lease_owner = NULL, lease_until = NULL
             WHERE id = ?1 AND lease_owner = ?2 AND status = 'queued'",
            params![id, owner, error, ts(retry_at)],
        )?;
        Ok(if updated == 0 {
            Settled::LeaseLost
        } else {
            Settled::Recorded
        })
    }

    fn mark_failed(
        &mut self,
        id: i64,
        owner: &str,
        error: &str,
        permanent: bool,
        disable_after: u32,
    ) -> Result<Settled, DbError> {
        let tx = self.conn_mut().transaction()?;
        let updated = tx.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?3,
                 lease_owner = NULL, lease_until = NULL
             WHERE id = ?1 AND lease_owner = ?2 AND status = 'queued'",
            params![id, owner, error],
        )?;
        if updated == 0 {
            return Ok(Settled::LeaseLost);
        }
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
        Ok(if disabled {
            Settled::Disabled
        } else {
            Settled::Recorded
        })
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
        let lease = now + chrono::Duration::minutes(5);
        let due = s.claim_due_mails("me", now, lease, 10).unwrap();
        assert_eq!(due.len(), 2);
        assert_eq!(
            s.mark_retry(due[0].id, "me", "451", now + chrono::Duration::hours(1))
                .unwrap(),
            Settled::Recorded
        );
        assert_eq!(s.due_mails(now, 10).unwrap().len(), 1);
        assert_eq!(
            s.mark_failed(due[1].id, "me", "550", true, 2).unwrap(),
            Settled::Recorded
        );
        let later = now + chrono::Duration::hours(2);
        let retried = s.claim_due_mails("me", later, later, 10).unwrap();
        assert_eq!(retried.len(), 1);
        assert_eq!(retried[0].attempts, 1);
        assert_eq!(
            s.mark_failed(due[0].id, "me", "550", true, 2).unwrap(),
            Settled::Disabled
        );
        let sub_row = s.subscriber(sub).unwrap().unwrap();
        assert_eq!(sub_row.status, SubscriberStatus::Disabled);
        let c = s.outbox_counts().unwrap();
        assert_eq!((c.queued, c.sent, c.failed), (0, 0, 2));
    }

    /// A store on `path` with `n` queued mails to one active subscriber.
    fn outbox_of(path: &std::path::Path, n: usize, now: DateTime<Utc>) -> SqliteStore {
        let mut s = SqliteStore::open(path).unwrap();
        let sub = s.subscribe("q@example.org", now).unwrap().id;
        s.confirm_subscriber(sub, now).unwrap();
        let mails: Vec<NewMail> = (0..n).map(|i| mail(&format!("k{i}"), sub)).collect();
        assert_eq!(s.enqueue_mails(&mails, now).unwrap(), n as u64);
        s
    }

    /// Two connections drain one outbox at once, as `paperhub serve` and
    /// `paperhub digest send` do: no mail is claimed twice, none is left.
    /// See: #13
    #[test]
    fn two_connections_claiming_at_once_never_share_a_mail() {
        const N: usize = 300;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let now = Utc::now();
        drop(outbox_of(&path, N, now));
        let start = std::sync::Arc::new(std::sync::Barrier::new(2));
        let senders: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|owner| {
                let path = path.clone();
                let start = std::sync::Arc::clone(&start);
                std::thread::spawn(move || {
                    let mut s = SqliteStore::open(&path).unwrap();
                    let lease = now + chrono::Duration::minutes(5);
                    let mut mine = Vec::new();
                    start.wait();
                    loop {
                        let claimed = s.claim_due_mails(owner, now, lease, 3).unwrap();
                        if claimed.is_empty() {
                            return mine;
                        }
                        for m in claimed {
                            // Delivery takes a while, outside any lock.
                            std::thread::sleep(std::time::Duration::from_millis(1));
                            assert_eq!(s.mark_sent(m.id, owner, now).unwrap(), Settled::Recorded);
                            mine.push(m.id);
                        }
                    }
                })
            })
            .collect();
        let claims: Vec<Vec<i64>> = senders.into_iter().map(|t| t.join().unwrap()).collect();
        let all: std::collections::BTreeSet<i64> = claims.iter().flatten().copied().collect();
        assert_eq!(all.len(), N, "every mail once");
        assert_eq!(claims[0].len() + claims[1].len(), N, "no mail twice");
        assert!(
            claims.iter().all(|c| !c.is_empty()),
            "both senders took part: {} and {}",
            claims[0].len(),
            claims[1].len()
        );
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.outbox_counts().unwrap().sent, N as u64);
    }

    #[test]
    fn an_expired_lease_is_claimed_again_and_its_old_owner_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let mut s = outbox_of(&dir.path().join("t.sqlite"), 1, now);
        let minute = chrono::Duration::minutes(1);
        let held = s.claim_due_mails("crashed", now, now + minute, 10).unwrap();
        assert_eq!(held.len(), 1);
        assert!(
            s.claim_due_mails("other", now, now + minute, 10)
                .unwrap()
                .is_empty(),
            "a held lease is not claimable"
        );
        assert_eq!(
            s.next_due().unwrap().map(ts),
            Some(ts(now + minute)),
            "next due when the lease runs out"
        );
        let later = now + minute + chrono::Duration::seconds(1);
        let taken = s
            .claim_due_mails("other", later, later + minute, 10)
            .unwrap();
        assert_eq!(taken.iter().map(|m| m.id).collect::<Vec<_>>(), [held[0].id]);
        for settle in [
            s.mark_sent(held[0].id, "crashed", later).unwrap(),
            s.mark_retry(held[0].id, "crashed", "451", later).unwrap(),
            s.mark_failed(held[0].id, "crashed", "550", true, 1)
                .unwrap(),
        ] {
            assert_eq!(settle, Settled::LeaseLost);
        }
        assert_eq!(
            s.subscriber(SubscriberId(1))
                .unwrap()
                .unwrap()
                .hard_failures,
            0,
            "a lost lease changes nothing"
        );
        assert_eq!(
            s.mark_sent(held[0].id, "other", later).unwrap(),
            Settled::Recorded
        );
        let c = s.outbox_counts().unwrap();
        assert_eq!((c.queued, c.sent), (0, 1));
        assert_eq!(s.outbox_recent(1).unwrap()[0].attempts, 1);
    }

    #[test]
    fn unsubscribing_cancels_a_claimed_mail() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let mut s = outbox_of(&dir.path().join("t.sqlite"), 1, now);
        let held = s
            .claim_due_mails("me", now, now + chrono::Duration::minutes(1), 1)
            .unwrap();
        assert!(s.unsubscribe(SubscriberId(1), now).unwrap());
        assert_eq!(
            s.mark_sent(held[0].id, "me", now).unwrap(),
            Settled::LeaseLost
        );
        assert_eq!(s.outbox_recent(1).unwrap()[0].status, "failed");
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
