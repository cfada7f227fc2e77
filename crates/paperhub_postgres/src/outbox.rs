//! The outbox on PostgreSQL: queued mails, their leases and outcomes.
//!
//! Claims follow crates.io's background worker: the due rows are picked
//! with `FOR UPDATE SKIP LOCKED`, so senders on every node claim at once
//! without waiting for each other and never take the same row, and each
//! claim carries a lease that another sender may take over once it runs
//! out.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use paperhub_store::{
    NewMail, OutboxCounts, OutboxEntry, OutboxId, OutboxStore, QueuedMail, Settled, StoreResult,
    SubscriberId,
};
use postgres::GenericClient;

use crate::PgStore;
use crate::error::DbError;
use crate::rows::{count, count4, int4, text};

fn queued_mail(r: &postgres::Row) -> Result<QueuedMail, DbError> {
    Ok(QueuedMail {
        id: OutboxId(r.try_get(0)?),
        subscriber: r.try_get::<_, Option<i64>>(1)?.map(SubscriberId),
        message_id: r.try_get(2)?,
        recipient: r.try_get(3)?,
        message: r.try_get(4)?,
        attempts: count4(r.try_get(5)?),
    })
}

/// Queues `mails` inside the caller's transaction, skipping a mail whose
/// `dedupe_key` is already queued and a mail to a subscriber who has left
/// or was disabled. Returns how many were queued.
pub(crate) fn enqueue_in(
    client: &mut impl GenericClient,
    mails: &[NewMail],
    now: DateTime<Utc>,
) -> Result<u64, DbError> {
    if mails.is_empty() {
        return Ok(0);
    }
    let keys: Vec<String> = mails
        .iter()
        .map(|m| text(&m.dedupe_key).into_owned())
        .collect();
    let subscribers: Vec<Option<i64>> = mails.iter().map(|m| m.subscriber.map(|s| s.0)).collect();
    let kinds: Vec<String> = mails.iter().map(|m| text(&m.kind).into_owned()).collect();
    let ids: Vec<String> = mails
        .iter()
        .map(|m| text(&m.message_id).into_owned())
        .collect();
    let recipients: Vec<String> = mails
        .iter()
        .map(|m| text(&m.recipient).into_owned())
        .collect();
    let subjects: Vec<String> = mails
        .iter()
        .map(|m| text(&m.subject).into_owned())
        .collect();
    let messages: Vec<&[u8]> = mails.iter().map(|m| m.message.as_slice()).collect();
    Ok(client.execute(
        "INSERT INTO outbox (dedupe_key, subscriber_id, kind, message_id, recipient, subject, \
           message, next_attempt_at, created_at) \
         SELECT u.key, u.sub, u.kind, u.mid, u.rcpt, u.subject, u.message, $8, $8 \
         FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], \
              $7::bytea[]) WITH ORDINALITY AS u(key, sub, kind, mid, rcpt, subject, message, n) \
         WHERE u.sub IS NULL OR NOT EXISTS ( \
             SELECT 1 FROM subscribers s \
             WHERE s.id = u.sub AND s.status IN ('unsubscribed', 'disabled')) \
         ORDER BY u.n \
         ON CONFLICT (dedupe_key) DO NOTHING",
        &[
            &keys,
            &subscribers,
            &kinds,
            &ids,
            &recipients,
            &subjects,
            &messages,
            &now,
        ],
    )?)
}

fn settled(updated: u64) -> Settled {
    if updated == 0 {
        Settled::LeaseLost
    } else {
        Settled::Recorded
    }
}

impl OutboxStore for PgStore {
    fn outbox_keys(&self, prefix: &str) -> StoreResult<HashSet<String>> {
        self.read(|c| {
            c.query(
                "SELECT dedupe_key FROM outbox WHERE starts_with(dedupe_key, $1)",
                &[&text(prefix)],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
        })
    }

    fn enqueue_mails(&self, mails: &[NewMail], now: DateTime<Utc>) -> StoreResult<u64> {
        self.write(|tx| enqueue_in(tx, mails, now))
    }

    fn due_mails(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<QueuedMail>> {
        self.read(|c| {
            c.query(
                "SELECT id, subscriber_id, message_id, recipient, message, attempts FROM outbox \
                 WHERE status = 'queued' AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $2",
                &[&now, &i64::from(limit)],
            )?
            .iter()
            .map(queued_mail)
            .collect()
        })
    }

    fn claim_due_mails(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<QueuedMail>> {
        self.write(|tx| {
            let rows = tx.query(
                "UPDATE outbox o SET lease_owner = $1, lease_until = $3 \
                 FROM (SELECT id FROM outbox \
                       WHERE status = 'queued' AND next_attempt_at <= $2 \
                         AND (lease_until IS NULL OR lease_until <= $2) \
                       ORDER BY next_attempt_at, id LIMIT $4 \
                       FOR UPDATE SKIP LOCKED) due \
                 WHERE o.id = due.id \
                 RETURNING o.id, o.subscriber_id, o.message_id, o.recipient, o.message, \
                   o.attempts, o.next_attempt_at",
                &[&text(owner), &now, &lease_until, &i64::from(limit)],
            )?;
            let mut claimed = rows
                .iter()
                .map(|r| Ok((r.try_get::<_, DateTime<Utc>>(6)?, queued_mail(r)?)))
                .collect::<Result<Vec<_>, DbError>>()?;
            // RETURNING gives rows in no promised order.
            claimed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
            Ok(claimed.into_iter().map(|(_, mail)| mail).collect())
        })
    }

    fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.read(|c| {
            // A claimed mail can be claimed again only when its lease runs out.
            Ok(c.query_one(
                "SELECT min(greatest(lease_until, next_attempt_at)) FROM outbox \
                 WHERE status = 'queued'",
                &[],
            )?
            .try_get(0)?)
        })
    }

    fn mark_sent(&self, id: OutboxId, owner: &str, now: DateTime<Utc>) -> StoreResult<Settled> {
        self.write(|tx| {
            let subscriber: Option<Option<i64>> = tx
                .query_opt(
                    "UPDATE outbox SET status = 'sent', sent_at = $3, attempts = attempts + 1, \
                       last_error = NULL, lease_owner = NULL, lease_until = NULL \
                     WHERE id = $1 AND lease_owner = $2 AND status = 'queued' \
                     RETURNING subscriber_id",
                    &[&id.0, &text(owner), &now],
                )?
                .map(|r| r.try_get(0))
                .transpose()?;
            let Some(subscriber) = subscriber else {
                return Ok(Settled::LeaseLost);
            };
            if let Some(sub) = subscriber {
                tx.execute(
                    "UPDATE subscribers SET hard_failures = 0 WHERE id = $1 AND hard_failures <> 0",
                    &[&sub],
                )?;
            }
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
        self.write(|tx| {
            Ok(settled(tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $3, \
                   next_attempt_at = $4, lease_owner = NULL, lease_until = NULL \
                 WHERE id = $1 AND lease_owner = $2 AND status = 'queued'",
                &[&id.0, &text(owner), &text(error), &retry_at],
            )?))
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
        self.write(|tx| {
            let subscriber: Option<Option<i64>> = tx
                .query_opt(
                    "UPDATE outbox SET status = 'failed', attempts = attempts + 1, \
                       last_error = $3, lease_owner = NULL, lease_until = NULL \
                     WHERE id = $1 AND lease_owner = $2 AND status = 'queued' \
                     RETURNING subscriber_id",
                    &[&id.0, &text(owner), &text(error)],
                )?
                .map(|r| r.try_get(0))
                .transpose()?;
            let Some(subscriber) = subscriber else {
                return Ok(Settled::LeaseLost);
            };
            let mut disabled = false;
            if let (true, Some(sub)) = (permanent, subscriber) {
                disabled = tx
                    .query_opt(
                        "UPDATE subscribers SET hard_failures = hard_failures + 1, \
                           status = CASE WHEN hard_failures + 1 >= $2 THEN 'disabled' \
                                         ELSE status END \
                         WHERE id = $1 \
                         RETURNING status = 'disabled' AND hard_failures >= $2",
                        &[&sub, &int4(disable_after.max(1))],
                    )?
                    .map(|r| r.try_get::<_, bool>(0))
                    .transpose()?
                    .unwrap_or(false);
                if disabled {
                    tx.execute(
                        "UPDATE outbox SET status = 'failed', last_error = 'address disabled' \
                         WHERE subscriber_id = $1 AND status = 'queued'",
                        &[&sub],
                    )?;
                }
            }
            Ok(if disabled {
                Settled::Disabled
            } else {
                Settled::Recorded
            })
        })
    }

    fn outbox_counts(&self) -> StoreResult<OutboxCounts> {
        self.read(|c| {
            let mut counts = OutboxCounts::default();
            for r in c.query("SELECT status, count(*) FROM outbox GROUP BY status", &[])? {
                let (status, n): (String, i64) = (r.try_get(0)?, r.try_get(1)?);
                match status.as_str() {
                    "queued" => counts.queued = count(n),
                    "sent" => counts.sent = count(n),
                    _ => counts.failed += count(n),
                }
            }
            for r in c.query(
                "SELECT status, count(*) FROM subscribers GROUP BY status",
                &[],
            )? {
                let (status, n): (String, i64) = (r.try_get(0)?, r.try_get(1)?);
                match status.as_str() {
                    "active" => counts.active_subscribers = count(n),
                    "pending" => counts.pending_subscribers = count(n),
                    _ => {}
                }
            }
            Ok(counts)
        })
    }

    fn outbox_recent(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        self.read(|c| {
            c.query(
                "SELECT id, kind, message_id, subject, status, attempts, last_error, created_at, \
                 sent_at FROM outbox ORDER BY id DESC LIMIT $1",
                &[&i64::from(limit)],
            )?
            .iter()
            .map(|r| {
                Ok(OutboxEntry {
                    id: OutboxId(r.try_get(0)?),
                    kind: r.try_get(1)?,
                    message_id: r.try_get(2)?,
                    subject: r.try_get(3)?,
                    status: r.try_get(4)?,
                    attempts: count4(r.try_get(5)?),
                    last_error: r.try_get(6)?,
                    created_at: r.try_get(7)?,
                    sent_at: r.try_get(8)?,
                })
            })
            .collect()
        })
    }
}
