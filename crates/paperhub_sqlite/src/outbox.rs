//! The outbox in SQLite: queued mails, their leases and outcomes.
//!
//! A claim is one `UPDATE … RETURNING` inside an `IMMEDIATE` transaction,
//! so two senders, in this process or another, never hold the same mail.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use paperhub_store::{
    NewMail, OutboxCounts, OutboxEntry, OutboxId, OutboxStore, QueuedMail, Settled, StoreResult,
    SubscriberId,
};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::SqliteStore;
use crate::error::DbError;
use crate::rows::{parse_ts, ts};

/// Reads the first six columns of a claim or a look at the outbox.
fn queued_mail_from_row(r: &Row<'_>) -> rusqlite::Result<QueuedMail> {
    Ok(QueuedMail {
        id: OutboxId(r.get(0)?),
        subscriber: r.get::<_, Option<i64>>(1)?.map(SubscriberId),
        message_id: r.get(2)?,
        recipient: r.get(3)?,
        message: r.get(4)?,
        attempts: r.get(5)?,
    })
}

/// Queues `mails` inside the caller's transaction, skipping a mail whose
/// `dedupe_key` is already queued and a mail to a subscriber who has left
/// or was disabled meanwhile (a digest run reads its subscribers first and
/// queues in chunks). Returns how many were queued.
pub(crate) fn enqueue_in(
    conn: &Connection,
    mails: &[NewMail],
    now: DateTime<Utc>,
) -> Result<u64, DbError> {
    let now = ts(now);
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO outbox (dedupe_key, subscriber_id, kind, message_id,
             recipient, subject, message, next_attempt_at, created_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8
         WHERE ?2 IS NULL OR NOT EXISTS (
             SELECT 1 FROM subscribers
             WHERE id = ?2 AND status IN ('unsubscribed', 'disabled'))",
    )?;
    let mut added = 0;
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
    Ok(added)
}

impl OutboxStore for SqliteStore {
    fn outbox_keys(&self, prefix: &str) -> StoreResult<HashSet<String>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT dedupe_key FROM outbox WHERE dedupe_key >= ?1 AND dedupe_key < ?1 || x'ff'",
            )?;
            let keys = stmt
                .query_map([prefix], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(keys)
        })
    }

    fn enqueue_mails(&self, mails: &[NewMail], now: DateTime<Utc>) -> StoreResult<u64> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let added = enqueue_in(&tx, mails, now)?;
            tx.commit()?;
            Ok(added)
        })
    }

    fn due_mails(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<QueuedMail>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, subscriber_id, message_id, recipient, message, attempts FROM outbox
                 WHERE status = 'queued' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, id LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![ts(now), limit], queued_mail_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn claim_due_mails(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<QueuedMail>> {
        self.write(|conn| {
            // IMMEDIATE: the write lock is held from the start, so the rows the
            // subquery picks are still unclaimed when they are written.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        })
    }

    fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.read(|conn| {
            // A claimed mail can be claimed again only when its lease runs out.
            let next: Option<String> = conn.query_row(
                "SELECT min(CASE WHEN lease_until > next_attempt_at THEN lease_until
                                 ELSE next_attempt_at END)
                 FROM outbox WHERE status = 'queued'",
                [],
                |r| r.get(0),
            )?;
            Ok(next.as_deref().and_then(parse_ts))
        })
    }

    fn mark_sent(&self, id: OutboxId, owner: &str, now: DateTime<Utc>) -> StoreResult<Settled> {
        let id = id.0;
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        })
    }

    fn mark_retry(
        &self,
        id: OutboxId,
        owner: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> StoreResult<Settled> {
        let id = id.0;
        self.write(|conn| {
            let updated = conn.execute(
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
        })
    }

    fn mark_failed(
        &self,
        id: OutboxId,
        owner: &str,
        error: &str,
        permanent: bool,
        disable_after: u32,
    ) -> StoreResult<Settled> {
        let id = id.0;
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        })
    }

    fn outbox_counts(&self) -> StoreResult<OutboxCounts> {
        self.read(|conn| {
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
            let mut stmt =
                conn.prepare("SELECT status, count(*) FROM subscribers GROUP BY status")?;
            for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))? {
                let (status, n) = row?;
                match status.as_str() {
                    "active" => counts.active_subscribers = n,
                    "pending" => counts.pending_subscribers = n,
                    _ => {}
                }
            }
            Ok(counts)
        })
    }

    fn outbox_recent(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, kind, message_id, subject, status, attempts, last_error, created_at, sent_at
                 FROM outbox ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt
                .query_map([limit], |r| {
                    let created: String = r.get(7)?;
                    let sent: Option<String> = r.get(8)?;
                    Ok(OutboxEntry {
                        id: OutboxId(r.get(0)?),
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
        })
    }
}
