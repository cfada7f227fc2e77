//! Accounts on PostgreSQL: users, sessions and API tokens.
//!
//! Names and addresses are unique ignoring ASCII case, through unique
//! indexes on `lower()` (the columns are `COLLATE "C"`, so `lower()` folds
//! ASCII only, as SQLite's NOCASE does). Sign-ups take an advisory lock for
//! the length of their transaction, so "is this the first account?" cannot
//! change between the check and the insert on any node.

use chrono::{DateTime, Duration, Utc};
use paperhub_domain::account::DEMO_PASSWORD_HASH;
use paperhub_store::{AccountStore, ApiToken, ApiTokenId, StoreResult, User, UserId};

use crate::PgStore;
use crate::error::DbError;
use crate::rows::{USER_COLUMNS, text, user_from_row};

/// The advisory lock key sign-ups hold: "signup" in ASCII.
const SIGN_UP_LOCK: i64 = 0x7369_676e_7570;

/// A token's last use is written at most this often, so API requests do
/// not each cost a write.
const LAST_USE_GRANULARITY: Duration = Duration::minutes(1);

/// Which unique value a violation on `users` concerns.
fn taken(e: DbError) -> DbError {
    match e.unique_violation() {
        Some("users_email") => DbError::Conflict { field: "email" },
        Some(_) => DbError::Conflict { field: "username" },
        None => e,
    }
}

fn token(row: &postgres::Row) -> Result<ApiToken, DbError> {
    Ok(ApiToken {
        id: ApiTokenId(row.try_get(0)?),
        name: row.try_get(1)?,
        created_at: row.try_get(2)?,
        last_used_at: row.try_get(3)?,
        expires_at: row.try_get(4)?,
    })
}

impl AccountStore for PgStore {
    fn create_user(
        &self,
        username: &str,
        email: Option<&str>,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<User> {
        self.write(|tx| {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SIGN_UP_LOCK])?;
            let clash: Option<bool> = tx
                .query_opt(
                    "SELECT lower(username) = lower($1 COLLATE \"C\") FROM users \
                     WHERE lower(username) = lower($1 COLLATE \"C\") \
                        OR ($2::text IS NOT NULL AND lower(email) = lower($2 COLLATE \"C\")) LIMIT 1",
                    &[&text(username), &email.map(text)],
                )?
                .map(|r| r.try_get(0))
                .transpose()?;
            if let Some(name) = clash {
                return Err(DbError::Conflict {
                    field: if name { "username" } else { "email" },
                });
            }
            let row = tx
                .query_one(
                    "INSERT INTO users (username, email, password_hash, created_at, is_admin) \
                     VALUES ($1, $2, $3, $4, $3 <> $5 AND NOT EXISTS \
                       (SELECT 1 FROM users WHERE password_hash <> $5)) \
                     RETURNING id, is_admin",
                    &[
                        &text(username),
                        &email.map(text),
                        &password_hash,
                        &now,
                        &DEMO_PASSWORD_HASH,
                    ],
                )
                .map_err(|e| taken(e.into()))?;
            Ok(User {
                id: UserId(row.try_get(0)?),
                username: username.to_owned(),
                email: email.map(str::to_owned),
                is_admin: row.try_get(1)?,
                created_at: now,
            })
        })
    }

    fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        self.read(|c| {
            c.query_opt(
                &format!(
                    "SELECT {USER_COLUMNS}, u.password_hash FROM users u \
                     WHERE lower(u.username) = lower($1 COLLATE \"C\")"
                ),
                &[&text(username)],
            )?
            .map(|r| Ok((user_from_row(&r, 0)?, r.try_get(5)?)))
            .transpose()
        })
    }

    fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        self.read(|c| {
            c.query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users u WHERE lower(u.username) = lower($1 COLLATE \"C\")"),
                &[&text(username)],
            )?
            .map(|r| user_from_row(&r, 0))
            .transpose()
        })
    }

    fn set_comment_notifications(&self, user: UserId, on: bool) -> StoreResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE users SET notify_comments = $2 WHERE id = $1",
                &[&user.0, &on],
            )? > 0)
        })
    }

    fn comment_notifications(&self, user: UserId) -> StoreResult<bool> {
        self.read(|c| {
            Ok(c.query_opt(
                "SELECT notify_comments FROM users WHERE id = $1",
                &[&user.0],
            )?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(false))
        })
    }

    fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.read(|c| {
            c.query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"),
                &[&id.0],
            )?
            .map(|r| user_from_row(&r, 0))
            .transpose()
        })
    }

    fn change_password(
        &self,
        user: UserId,
        expected_hash: &str,
        new_hash: &str,
        keep_session: Option<&[u8]>,
    ) -> StoreResult<()> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
                &[&user.0, &expected_hash, &new_hash],
            )?;
            if changed == 0 {
                return Err(DbError::Conflict { field: "password" });
            }
            tx.execute(
                "DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2",
                &[&user.0, &keep_session],
            )?;
            // A changed password means the old one may have leaked: tokens
            // made with it go too (#13).
            tx.execute("DELETE FROM api_tokens WHERE user_id = $1", &[&user.0])?;
            tx.execute(
                "UPDATE users SET feed_generation = feed_generation + 1 WHERE id = $1",
                &[&user.0],
            )?;
            Ok(())
        })
    }

    fn feed_generation(&self, user: UserId) -> StoreResult<Option<i64>> {
        self.read(|c| {
            Ok(c.query_opt(
                "SELECT feed_generation FROM users WHERE id = $1",
                &[&user.0],
            )?
            .map(|r| r.get(0)))
        })
    }

    fn rotate_feed_links(&self, user: UserId) -> StoreResult<Option<i64>> {
        self.write(|tx| {
            Ok(tx
                .query_opt(
                    "UPDATE users SET feed_generation = feed_generation + 1 WHERE id = $1 \
                     RETURNING feed_generation",
                    &[&user.0],
                )?
                .map(|r| r.get(0)))
        })
    }

    fn set_admin(&self, username: &str, admin: bool) -> StoreResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE users SET is_admin = $2 WHERE lower(username) = lower($1 COLLATE \"C\")",
                &[&text(username), &admin],
            )? > 0)
        })
    }

    fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
                &[&token_hash, &user.0, &now, &expires],
            )?;
            Ok(())
        })
    }

    fn session_user(&self, token_hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<User>> {
        self.read(|c| {
            c.query_opt(
                &format!(
                    "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.token_hash = $1 AND s.expires_at > $2"
                ),
                &[&token_hash, &now],
            )?
            .map(|r| user_from_row(&r, 0))
            .transpose()
        })
    }

    fn delete_session(&self, token_hash: &[u8], now: DateTime<Utc>) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM sessions WHERE token_hash = $1 OR expires_at <= $2",
                &[&token_hash, &now],
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
        self.write(|tx| {
            let id: i64 = tx
                .query_one(
                    "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[&user.0, &text(name), &token_hash, &now, &expires_at],
                )?
                .try_get(0)?;
            Ok(ApiToken {
                id: ApiTokenId(id),
                name: name.to_owned(),
                created_at: now,
                last_used_at: None,
                expires_at,
            })
        })
    }

    fn api_tokens(&self, user: UserId) -> StoreResult<Vec<ApiToken>> {
        self.read(|c| {
            c.query(
                "SELECT id, name, created_at, last_used_at, expires_at FROM api_tokens \
                 WHERE user_id = $1 ORDER BY id DESC",
                &[&user.0],
            )?
            .iter()
            .map(token)
            .collect()
        })
    }

    fn delete_api_token(&self, user: UserId, id: ApiTokenId) -> StoreResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM api_tokens WHERE id = $1 AND user_id = $2",
                &[&id.0, &user.0],
            )? == 1)
        })
    }

    fn api_token_user(&self, token_hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<User>> {
        let stale = now - LAST_USE_GRANULARITY;
        self.read(|c| {
            let user = c
                .query_opt(
                    &format!(
                        "SELECT {USER_COLUMNS}, t.last_used_at FROM api_tokens t \
                         JOIN users u ON u.id = t.user_id \
                         WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)"
                    ),
                    &[&token_hash, &now],
                )?
                .map(|r| {
                    let last: Option<DateTime<Utc>> = r.try_get(5)?;
                    Ok::<_, DbError>((user_from_row(&r, 0)?, last))
                })
                .transpose()?;
            let Some((user, last)) = user else {
                return Ok(None);
            };
            if last.is_none_or(|last| last <= stale) {
                c.execute(
                    "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1",
                    &[&token_hash, &now],
                )?;
            }
            Ok(Some(user))
        })
    }
}
