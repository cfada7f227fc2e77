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
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use crate::SqliteStore;
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
            let now = ts(now);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use paperhub_store::{Frequency, Interest, InterestKind, SubscriberStatus, SubscriptionStore};

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
        let (_d, s) = store();
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
        let (_d, s) = store();
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
        let s = SqliteStore::open(path).unwrap();
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
                    let s = SqliteStore::open(&path).unwrap();
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
        let claims: Vec<Vec<OutboxId>> = senders.into_iter().map(|t| t.join().unwrap()).collect();
        let all: std::collections::BTreeSet<OutboxId> = claims.iter().flatten().copied().collect();
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
        let s = outbox_of(&dir.path().join("t.sqlite"), 1, now);
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
        let s = outbox_of(&dir.path().join("t.sqlite"), 1, now);
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
        let (_d, s) = store();
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
