//! Digest subscribers and their interests on PostgreSQL.
//!
//! Addresses are unique ignoring ASCII case (`subscribers_email` on
//! `lower(email)`), which also arbitrates the sign-up upsert: subscribing
//! an address that left (or was disabled) puts it back to pending.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use paperhub_domain::UserId;
use paperhub_store::{
    Frequency, Interest, NewSubscriber, NoticeFn, Preferences, StoreResult, SubscribeRequest,
    Subscribed, Subscriber, SubscriberId, SubscriptionStore,
};
use postgres::GenericClient;

use crate::PgStore;
use crate::error::DbError;
use crate::outbox::enqueue_in;
use crate::rows::{count4, int4, parsed, text};

const SUBSCRIBER_COLUMNS: &str =
    "id, email, status, frequency, top_n, hard_failures, created_at, confirmed_at, user_id";

fn subscriber(row: &postgres::Row) -> Result<Subscriber, DbError> {
    Ok(Subscriber {
        id: SubscriberId(row.try_get(0)?),
        email: row.try_get(1)?,
        status: parsed(row, 2, "subscriber status")?,
        frequency: parsed(row, 3, "frequency")?,
        top_n: count4(row.try_get(4)?),
        hard_failures: count4(row.try_get(5)?),
        created_at: row.try_get(6)?,
        confirmed_at: row.try_get(7)?,
        account: row.try_get::<_, Option<i64>>(8)?.map(UserId),
    })
}

fn subscriber_by_id(
    client: &mut impl GenericClient,
    id: SubscriberId,
) -> Result<Option<Subscriber>, DbError> {
    client
        .query_opt(
            &format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id = $1"),
            &[&id.0],
        )?
        .map(|r| subscriber(&r))
        .transpose()
}

fn interests_in(
    client: &mut impl GenericClient,
    id: SubscriberId,
) -> Result<Vec<Interest>, DbError> {
    client
        .query(
            "SELECT kind, value FROM subscriber_interests WHERE subscriber_id = $1 \
             ORDER BY kind, value",
            &[&id.0],
        )?
        .iter()
        .map(|r| {
            Ok(Interest {
                kind: parsed(r, 0, "interest kind")?,
                value: r.try_get(1)?,
            })
        })
        .collect()
}

/// Replaces frequency, trending count and interests.
fn replace_preferences(
    client: &mut impl GenericClient,
    id: SubscriberId,
    preferences: &Preferences,
) -> Result<(), DbError> {
    client.execute(
        "UPDATE subscribers SET frequency = $2, top_n = $3 WHERE id = $1",
        &[
            &id.0,
            &preferences.frequency.as_str(),
            &int4(preferences.top_n),
        ],
    )?;
    client.execute(
        "DELETE FROM subscriber_interests WHERE subscriber_id = $1",
        &[&id.0],
    )?;
    insert_interests(client, id.0, &preferences.interests)
}

fn insert_interests(
    client: &mut impl GenericClient,
    id: i64,
    interests: &[Interest],
) -> Result<(), DbError> {
    if interests.is_empty() {
        return Ok(());
    }
    let kinds: Vec<&str> = interests.iter().map(|i| i.kind.as_str()).collect();
    let values: Vec<String> = interests
        .iter()
        .map(|i| text(&i.value).into_owned())
        .collect();
    client.execute(
        "INSERT INTO subscriber_interests (subscriber_id, kind, value) \
         SELECT $1, kind, value FROM unnest($2::text[], $3::text[]) AS u(kind, value) \
         ON CONFLICT DO NOTHING",
        &[&id, &kinds, &values],
    )?;
    Ok(())
}

/// Makes a subscription active. One that was not active starts with no
/// delivery failures; an active one keeps its count.
fn confirm_in(
    client: &mut impl GenericClient,
    id: SubscriberId,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    client.execute(
        "UPDATE subscribers SET status = 'active', \
           hard_failures = CASE WHEN status = 'active' THEN hard_failures ELSE 0 END, \
           confirmed_at = coalesce(confirmed_at, $2), unsubscribed_at = NULL \
         WHERE id = $1",
        &[&id.0, &now],
    )?;
    Ok(())
}

impl SubscriptionStore for PgStore {
    fn subscribe(
        &self,
        request: &SubscribeRequest<'_>,
        now: DateTime<Utc>,
        notice: &NoticeFn<'_>,
    ) -> StoreResult<Subscribed> {
        self.write(|tx| {
            let row = tx.query_one(
                "INSERT INTO subscribers (email, created_at) VALUES ($1, $2) \
                 ON CONFLICT ((lower(email))) DO UPDATE SET status = CASE \
                   WHEN subscribers.status IN ('unsubscribed', 'disabled') THEN 'pending' \
                   ELSE subscribers.status END \
                 RETURNING id, (xmax = 0)",
                &[&text(request.email), &now],
            )?;
            let id = SubscriberId(row.try_get(0)?);
            let created: bool = row.try_get(1)?;
            if let Some(preferences) = request.preferences {
                replace_preferences(tx, id, preferences)?;
            }
            if request.confirmed {
                confirm_in(tx, id, now)?;
            }
            let subscriber = subscriber_by_id(tx, id)?
                .ok_or_else(|| DbError::NotFound(format!("subscriber {id}")))?;
            let mail_queued = match notice(&subscriber).map_err(DbError::Aborted)? {
                Some(mail) => enqueue_in(tx, std::slice::from_ref(&mail), now)? == 1,
                None => false,
            };
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
        self.write(|tx| {
            let mut added = 0;
            for s in subscribers {
                let id: Option<i64> = tx
                    .query_opt(
                        "INSERT INTO subscribers \
                           (email, status, frequency, top_n, created_at, confirmed_at) \
                         VALUES ($1, 'active', $2, $3, $4, $4) \
                         ON CONFLICT ((lower(email))) DO NOTHING RETURNING id",
                        &[&text(&s.email), &s.frequency.as_str(), &int4(s.top_n), &now],
                    )?
                    .map(|r| r.try_get(0))
                    .transpose()?;
                if let Some(id) = id {
                    added += 1;
                    insert_interests(tx, id, &s.interests)?;
                }
            }
            Ok(added)
        })
    }

    fn subscriber(&self, id: SubscriberId) -> StoreResult<Option<Subscriber>> {
        self.read(|c| subscriber_by_id(c, id))
    }

    fn subscriber_of_account(&self, account: UserId) -> StoreResult<Option<Subscriber>> {
        self.read(|c| {
            c.query_opt(
                &format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE user_id = $1 ORDER BY id LIMIT 1"
                ),
                &[&account.0],
            )?
            .map(|r| subscriber(&r))
            .transpose()
        })
    }

    fn subscriber_by_email(&self, email: &str) -> StoreResult<Option<Subscriber>> {
        self.read(|c| {
            c.query_opt(
                &format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE lower(email) = lower($1 COLLATE \"C\")"
                ),
                &[&text(email)],
            )?
            .map(|r| subscriber(&r))
            .transpose()
        })
    }

    fn confirm_subscriber(
        &self,
        id: SubscriberId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Subscriber>> {
        self.write(|tx| {
            confirm_in(tx, id, now)?;
            subscriber_by_id(tx, id)
        })
    }

    fn unsubscribe(&self, id: SubscriberId, now: DateTime<Utc>) -> StoreResult<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = $2 \
                 WHERE id = $1",
                &[&id.0, &now],
            )?;
            // Nothing more goes to someone who left, not even a queued digest.
            tx.execute(
                "UPDATE outbox SET status = 'failed', last_error = 'unsubscribed' \
                 WHERE subscriber_id = $1 AND status = 'queued'",
                &[&id.0],
            )?;
            Ok(n > 0)
        })
    }

    fn save_preferences(
        &self,
        id: SubscriberId,
        preferences: &Preferences,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Subscriber>> {
        self.write(|tx| {
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM subscribers WHERE id = $1 FOR UPDATE",
                    &[&id.0],
                )?
                .is_some();
            if !exists {
                return Ok(None);
            }
            replace_preferences(tx, id, preferences)?;
            confirm_in(tx, id, now)?;
            subscriber_by_id(tx, id)
        })
    }

    fn interests(&self, id: SubscriberId) -> StoreResult<Vec<Interest>> {
        self.read(|c| interests_in(c, id))
    }

    fn link_account(&self, id: SubscriberId, account: Option<UserId>) -> StoreResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE subscribers SET user_id = $2 WHERE id = $1",
                &[&id.0, &account.map(|a| a.0)],
            )? > 0)
        })
    }

    fn active_subscribers(
        &self,
        frequency: Frequency,
    ) -> StoreResult<Vec<(Subscriber, Vec<Interest>)>> {
        self.read(|c| {
            let subscribers = c
                .query(
                    &format!(
                        "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers \
                         WHERE status = 'active' AND frequency = $1 ORDER BY id"
                    ),
                    &[&frequency.as_str()],
                )?
                .iter()
                .map(subscriber)
                .collect::<Result<Vec<_>, _>>()?;
            let mut by_id: HashMap<i64, Vec<Interest>> = HashMap::new();
            for r in c.query(
                "SELECT i.subscriber_id, i.kind, i.value FROM subscriber_interests i \
                 JOIN subscribers s ON s.id = i.subscriber_id \
                 WHERE s.status = 'active' AND s.frequency = $1 \
                 ORDER BY i.subscriber_id, i.kind, i.value",
                &[&frequency.as_str()],
            )? {
                by_id.entry(r.try_get(0)?).or_default().push(Interest {
                    kind: parsed(&r, 1, "interest kind")?,
                    value: r.try_get(2)?,
                });
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
