//! Digest subscribers and their interests in SQLite.
//!
//! Addresses are unique ignoring case. Subscribing an address that left
//! (or was disabled) puts it back to pending rather than adding a row.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use paperhub_domain::UserId;
use paperhub_store::{
    Frequency, Interest, InterestKind, NewSubscriber, NoticeFn, Preferences, StoreResult,
    SubscribeRequest, Subscribed, Subscriber, SubscriberId, SubscriptionStore,
};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::SqliteStore;
use crate::error::DbError;
use crate::outbox::enqueue_in;
use crate::rows::{is_unique_violation, parse_ts, parsed, ts};

const SUBSCRIBER_COLUMNS: &str =
    "id, email, status, frequency, top_n, hard_failures, created_at, confirmed_at, user_id";

fn subscriber_from_row(row: &Row<'_>) -> rusqlite::Result<Subscriber> {
    let status: String = row.get(2)?;
    let frequency: String = row.get(3)?;
    let created: String = row.get(6)?;
    let confirmed: Option<String> = row.get(7)?;
    Ok(Subscriber {
        id: SubscriberId(row.get(0)?),
        email: row.get(1)?,
        status: parsed(2, &status)?,
        frequency: parsed(3, &frequency)?,
        top_n: row.get(4)?,
        hard_failures: row.get(5)?,
        created_at: parse_ts(&created).unwrap_or_default(),
        confirmed_at: confirmed.as_deref().and_then(parse_ts),
        account: row.get::<_, Option<i64>>(8)?.map(UserId),
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
        .map(|(k, value)| {
            Ok(Interest {
                kind: parsed(0, &k)?,
                value,
            })
        })
        .collect::<rusqlite::Result<_>>()?)
}

fn subscriber_where(
    conn: &Connection,
    clause: &str,
    param: &dyn rusqlite::ToSql,
) -> Result<Option<Subscriber>, DbError> {
    Ok(conn
        .query_row(
            &format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE {clause}"),
            [param],
            subscriber_from_row,
        )
        .optional()?)
}

/// Replaces frequency, trending count and interests.
fn replace_preferences(
    conn: &Connection,
    id: SubscriberId,
    preferences: &Preferences,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE subscribers SET frequency = ?2, top_n = ?3 WHERE id = ?1",
        params![id.0, preferences.frequency.as_str(), preferences.top_n],
    )?;
    conn.execute(
        "DELETE FROM subscriber_interests WHERE subscriber_id = ?1",
        [id.0],
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO subscriber_interests (subscriber_id, kind, value)
         VALUES (?1, ?2, ?3)",
    )?;
    for i in &preferences.interests {
        insert.execute(params![id.0, i.kind.as_str(), i.value])?;
    }
    Ok(())
}

/// Makes a subscription active. One that was not active (pending,
/// unsubscribed, disabled) starts with no delivery failures; an active
/// one keeps its count, so saving preferences does not hide a failing
/// address.
fn confirm_in(conn: &Connection, id: SubscriberId, now: DateTime<Utc>) -> Result<(), DbError> {
    conn.execute(
        "UPDATE subscribers SET status = 'active',
             hard_failures = CASE WHEN status = 'active' THEN hard_failures ELSE 0 END,
             confirmed_at = coalesce(confirmed_at, ?2), unsubscribed_at = NULL
         WHERE id = ?1",
        params![id.0, ts(now)],
    )?;
    Ok(())
}

impl SubscriptionStore for SqliteStore {
    fn subscribe(
        &self,
        request: &SubscribeRequest<'_>,
        now: DateTime<Utc>,
        notice: &NoticeFn<'_>,
    ) -> StoreResult<Subscribed> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let email = request.email;
            let inserted = tx.execute(
                "INSERT INTO subscribers (email, created_at) VALUES (?1, ?2)",
                params![email, ts(now)],
            );
            let created = match inserted {
                Ok(_) => true,
                Err(e) if is_unique_violation(&e) => {
                    tx.execute(
                        "UPDATE subscribers SET status = 'pending'
                         WHERE email = ?1 AND status IN ('unsubscribed', 'disabled')",
                        [email],
                    )?;
                    false
                }
                Err(e) => return Err(e.into()),
            };
            let id: i64 = tx.query_row(
                "SELECT id FROM subscribers WHERE email = ?1",
                [email],
                |r| r.get(0),
            )?;
            if let Some(preferences) = request.preferences {
                replace_preferences(&tx, SubscriberId(id), preferences)?;
            }
            if request.confirmed {
                confirm_in(&tx, SubscriberId(id), now)?;
            }
            let subscriber = subscriber_where(&tx, "id = ?1", &id)?
                .ok_or_else(|| DbError::NotFound(format!("subscriber {id}")))?;
            let mail_queued = match notice(&subscriber).map_err(DbError::Aborted)? {
                Some(mail) => enqueue_in(&tx, std::slice::from_ref(&mail), now)? == 1,
                None => false,
            };
            tx.commit()?;
            Ok(Subscribed {
                subscriber,
                created,
                mail_queued,
            })
        })
    }

    fn add_confirmed_subscribers(
        &self,
        subscribers: &[NewSubscriber],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.write(|conn| {
            let now = ts(now);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        })
    }

    fn subscriber(&self, id: SubscriberId) -> StoreResult<Option<Subscriber>> {
        self.read(|conn| subscriber_where(conn, "id = ?1", &id.0))
    }

    fn subscriber_of_account(&self, account: UserId) -> StoreResult<Option<Subscriber>> {
        self.read(|conn| subscriber_where(conn, "user_id = ?1 ORDER BY id LIMIT 1", &account.0))
    }

    fn subscriber_by_email(&self, email: &str) -> StoreResult<Option<Subscriber>> {
        self.read(|conn| subscriber_where(conn, "email = ?1", &email))
    }

    fn confirm_subscriber(
        &self,
        id: SubscriberId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Subscriber>> {
        self.write(|conn| {
            confirm_in(conn, id, now)?;
            subscriber_where(conn, "id = ?1", &id.0)
        })
    }

    fn unsubscribe(&self, id: SubscriberId, now: DateTime<Utc>) -> StoreResult<bool> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        })
    }

    fn save_preferences(
        &self,
        id: SubscriberId,
        preferences: &Preferences,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Subscriber>> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if subscriber_where(&tx, "id = ?1", &id.0)?.is_none() {
                return Ok(None);
            }
            replace_preferences(&tx, id, preferences)?;
            confirm_in(&tx, id, now)?;
            let subscriber = subscriber_where(&tx, "id = ?1", &id.0)?;
            tx.commit()?;
            Ok(subscriber)
        })
    }

    fn interests(&self, id: SubscriberId) -> StoreResult<Vec<Interest>> {
        self.read(|conn| interests_in(conn, id))
    }

    fn link_account(&self, id: SubscriberId, account: Option<UserId>) -> StoreResult<bool> {
        self.write(|conn| {
            Ok(conn.execute(
                "UPDATE subscribers SET user_id = ?2 WHERE id = ?1",
                rusqlite::params![id.0, account.map(|a| a.0)],
            )? > 0)
        })
    }

    fn active_subscribers(
        &self,
        frequency: Frequency,
    ) -> StoreResult<Vec<(Subscriber, Vec<Interest>)>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers
                 WHERE status = 'active' AND frequency = ?1 ORDER BY id"
            ))?;
            let subscribers = stmt
                .query_map([frequency.as_str()], subscriber_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut by_id: HashMap<i64, Vec<Interest>> = Default::default();
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
                let kind: InterestKind = parsed(1, &kind)?;
                by_id.entry(id).or_default().push(Interest { kind, value });
            }
            Ok(subscribers
                .into_iter()
                .map(|s| {
                    let interests = by_id.remove(&s.id.0).unwrap_or_default();
                    (s, interests)
                })
                .collect())
        })
    }
}
