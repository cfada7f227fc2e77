//! Accounts in SQLite: users, sessions and API tokens.
//!
//! Usernames and emails are unique ignoring case (`COLLATE NOCASE`
//! indexes); a unique violation becomes [`StoreError::Conflict`] naming the
//! field.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use paperhub_domain::account::DEMO_PASSWORD_HASH;
#[cfg(doc)]
use paperhub_store::StoreError;
use paperhub_store::{AccountStore, ApiToken, ApiTokenId, StoreResult, User, UserId};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use crate::SqliteStore;
use crate::error::DbError;
use crate::rows::{is_unique_violation, parse_ts, ts};

const USER_COLUMNS: &str = "id, username, email, is_admin, created_at";

/// [`USER_COLUMNS`] of the `u` alias, for joins.
pub(crate) static USER_COLUMNS_U: LazyLock<String> = LazyLock::new(|| {
    USER_COLUMNS
        .split(", ")
        .map(|c| format!("u.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
});

pub(crate) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
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
        id: ApiTokenId(row.get(0)?),
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

impl AccountStore for SqliteStore {
    fn create_user(
        &self,
        username: &str,
        email: Option<&str>,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<User> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let taken = tx
                .query_row(
                    "SELECT CASE WHEN username = ?1 COLLATE NOCASE THEN 'username' ELSE 'email' END \
                     FROM users WHERE username = ?1 COLLATE NOCASE OR (?2 IS NOT NULL AND email = ?2 COLLATE NOCASE) LIMIT 1",
                    params![username, email],
                    |r| r.get::<_, String>(0),
                )
                .optional()?;
            if let Some(field) = taken {
                return Err(DbError::Conflict {
                    field: if field == "username" {
                        "username"
                    } else {
                        "email"
                    },
                });
            }
            // The write lock is held, so "no account yet" cannot change
            // before the insert: two first sign-ups make one curator. The
            // demo's sample accounts (which cannot log in) do not count,
            // and are never curators.
            let first: bool = password_hash != DEMO_PASSWORD_HASH
                && tx.query_row(
                    "SELECT NOT EXISTS (SELECT 1 FROM users WHERE password_hash <> ?1)",
                    [DEMO_PASSWORD_HASH],
                    |r| r.get(0),
                )?;
            let result = tx.execute(
                "INSERT INTO users (username, email, password_hash, created_at, is_admin) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![username, email, password_hash, ts(now), first],
            );
            match result {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(DbError::Conflict { field: "username" });
                }
                Err(e) => return Err(e.into()),
            }
            let id = UserId(tx.last_insert_rowid());
            tx.commit()?;
            Ok(User {
                id,
                username: username.to_owned(),
                email: email.map(str::to_owned),
                is_admin: first,
                created_at: now,
            })
        })
    }

    fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = ?1"
                ))?
                .query_row([username], |r| Ok((user_from_row(r)?, r.get(5)?)))
                .optional()?)
        })
    }

    fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE username = ?1"
                ))?
                .query_row([username], user_from_row)
                .optional()?)
        })
    }

    fn set_comment_notifications(&self, user: UserId, on: bool) -> StoreResult<bool> {
        self.write(|conn| {
            Ok(conn.execute(
                "UPDATE users SET notify_comments = ?2 WHERE id = ?1",
                params![user.0, on],
            )? > 0)
        })
    }

    fn comment_notifications(&self, user: UserId) -> StoreResult<bool> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT notify_comments FROM users WHERE id = ?1",
                    [user.0],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(false))
        })
    }

    fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
                .query_row([id.0], user_from_row)
                .optional()?)
        })
    }

    fn change_password(
        &self,
        user: UserId,
        expected_hash: &str,
        new_hash: &str,
        keep_session: Option<&[u8]>,
    ) -> StoreResult<()> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE users SET password_hash = ?3 WHERE id = ?1 AND password_hash = ?2",
                params![user.0, expected_hash, new_hash],
            )?;
            if changed == 0 {
                return Err(DbError::Conflict { field: "password" });
            }
            tx.execute(
                "DELETE FROM sessions WHERE user_id = ?1 AND token_hash IS NOT ?2",
                params![user.0, keep_session],
            )?;
            // A changed password means the old one may have leaked: tokens made
            // with it go too (#13).
            tx.execute("DELETE FROM api_tokens WHERE user_id = ?1", [user.0])?;
            tx.execute(
                "UPDATE users SET feed_generation = feed_generation + 1 WHERE id = ?1",
                [user.0],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn feed_generation(&self, user: UserId) -> StoreResult<Option<i64>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT feed_generation FROM users WHERE id = ?1")?
                .query_row([user.0], |r| r.get(0))
                .optional()?)
        })
    }

    fn rotate_feed_links(&self, user: UserId) -> StoreResult<Option<i64>> {
        self.write(|conn| {
            Ok(conn
                .prepare_cached(
                    "UPDATE users SET feed_generation = feed_generation + 1 WHERE id = ?1 \
                     RETURNING feed_generation",
                )?
                .query_row([user.0], |r| r.get(0))
                .optional()?)
        })
    }

    fn set_admin(&self, username: &str, admin: bool) -> StoreResult<bool> {
        self.write(|conn| {
            Ok(conn.execute(
                "UPDATE users SET is_admin = ?2 WHERE username = ?1",
                params![username, admin],
            )? == 1)
        })
    }

    fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.write(|conn| {
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_hash, user.0, ts(now), ts(expires)],
            )?;
            Ok(())
        })
    }

    fn session_user(&self, token_hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<User>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {} FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2",
                    *USER_COLUMNS_U
                ))?
                .query_row(params![token_hash, ts(now)], user_from_row)
                .optional()?)
        })
    }

    fn delete_session(&self, token_hash: &[u8], now: DateTime<Utc>) -> StoreResult<()> {
        self.write(|conn| {
            conn.execute(
                "DELETE FROM sessions WHERE token_hash = ?1 OR expires_at <= ?2",
                params![token_hash, ts(now)],
            )?;
            Ok(())
        })
    }

    fn create_api_token(
        &self,
        user: UserId,
        name: &str,
        token_hash: &[u8],
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<ApiToken> {
        self.write(|conn| {
            conn.execute(
                "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![user.0, name, token_hash, ts(now), expires_at.map(ts)],
            )?;
            Ok(ApiToken {
                id: ApiTokenId(conn.last_insert_rowid()),
                name: name.to_owned(),
                created_at: now,
                last_used_at: None,
                expires_at,
            })
        })
    }

    fn api_tokens(&self, user: UserId) -> StoreResult<Vec<ApiToken>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT id, name, created_at, last_used_at, expires_at FROM api_tokens \
                     WHERE user_id = ?1 ORDER BY id DESC",
                )?
                .query_map([user.0], token_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn delete_api_token(&self, user: UserId, id: ApiTokenId) -> StoreResult<bool> {
        self.write(|conn| {
            Ok(conn.execute(
                "DELETE FROM api_tokens WHERE id = ?1 AND user_id = ?2",
                params![id.0, user.0],
            )? == 1)
        })
    }

    fn api_token_user(&self, token_hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<User>> {
        self.write(|conn| {
            let user = conn
                .prepare_cached(&format!(
                    "SELECT {} FROM api_tokens t JOIN users u ON u.id = t.user_id \
                     WHERE t.token_hash = ?1 AND (t.expires_at IS NULL OR t.expires_at > ?2)",
                    *USER_COLUMNS_U
                ))?
                .query_row(params![token_hash, ts(now)], user_from_row)
                .optional()?;
            if user.is_some() {
                conn.prepare_cached(
                    "UPDATE api_tokens SET last_used_at = ?2 WHERE token_hash = ?1",
                )?
                .execute(params![token_hash, ts(now)])?;
            }
            Ok(user)
        })
    }
}
