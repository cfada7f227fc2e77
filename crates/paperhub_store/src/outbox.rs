//! The outbox aggregate: the durable queue every mail passes through.
//!
//! A mail is rendered completely before it is stored, and stored before it
//! is sent: `enqueue_mails` inserts a batch in one transaction, ignoring
//! rows whose `dedupe_key` (one per subscriber and period) is already there,
//! so running a digest twice, or again after a crash, never queues a mail
//! twice. The sender marks each row sent right after the server accepted
//! it.
//!
//! Several senders may drain one outbox (`paperhub serve` and a
//! `paperhub digest send` beside it, or several hubs on one database). A
//! sender therefore *claims* mails before sending them:
//! [`OutboxStore::claim_due_mails`] writes the sender's id and a lease
//! expiry onto due, unleased rows atomically, so no two senders ever hold
//! the same mail. Recording the outcome requires the lease: a sender whose
//! lease ran out and was taken over records nothing ([`Settled::LeaseLost`]).
//! A crashed sender's mails fall due again once its lease expires.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use paperhub_domain::SubscriberId;
use serde::Serialize;

use crate::StoreResult;

/// An outbox row's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct OutboxId(pub i64);

impl std::fmt::Display for OutboxId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
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
    /// Its outbox id.
    pub id: OutboxId,
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
    /// Its outbox id.
    pub id: OutboxId,
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
    /// failures (only from [`OutboxStore::mark_failed`]).
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

/// The outbox's storage interface; see the module docs.
pub trait OutboxStore: Send + Sync {
    /// The outbox keys starting with `prefix` (to skip rendering mails
    /// already queued).
    ///
    /// # Errors
    /// A storage error.
    fn outbox_keys(&self, prefix: &str) -> StoreResult<HashSet<String>>;

    /// Queues `mails` in one transaction, ignoring those whose key is
    /// already queued; returns how many were added.
    ///
    /// # Errors
    /// A storage error; nothing is queued then.
    fn enqueue_mails(&self, mails: &[NewMail], now: DateTime<Utc>) -> StoreResult<u64>;

    /// Queued mails due at `now`, oldest first, whether or not a sender has
    /// claimed them. A look only: a sender must use
    /// [`OutboxStore::claim_due_mails`], or two senders send the same mail.
    ///
    /// # Errors
    /// A storage error.
    fn due_mails(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<QueuedMail>>;

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
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<QueuedMail>>;

    /// When the next queued mail can be claimed (due, and its lease free),
    /// if any is queued.
    ///
    /// # Errors
    /// A storage error.
    fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>>;

    /// Records that the server accepted mail `id`, which `owner` claimed,
    /// and clears its subscriber's failure count.
    ///
    /// Returns [`Settled::LeaseLost`], storing nothing, when `owner` no
    /// longer holds the mail.
    ///
    /// # Errors
    /// A storage error.
    fn mark_sent(&self, id: OutboxId, owner: &str, now: DateTime<Utc>) -> StoreResult<Settled>;

    /// Records a temporary failure of mail `id`, which `owner` claimed,
    /// and releases it: it is tried again at `retry_at`.
    ///
    /// Returns [`Settled::LeaseLost`], storing nothing, when `owner` no
    /// longer holds the mail.
    ///
    /// # Errors
    /// A storage error.
    fn mark_retry(
        &self,
        id: OutboxId,
        owner: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> StoreResult<Settled>;

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
        &self,
        id: OutboxId,
        owner: &str,
        error: &str,
        permanent: bool,
        disable_after: u32,
    ) -> StoreResult<Settled>;

    /// Outbox and subscriber totals.
    ///
    /// # Errors
    /// A storage error.
    fn outbox_counts(&self) -> StoreResult<OutboxCounts>;

    /// The most recent outbox rows, newest first.
    ///
    /// # Errors
    /// A storage error.
    fn outbox_recent(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>>;
}
