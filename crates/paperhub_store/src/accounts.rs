//! The accounts aggregate: users, sessions and personal API tokens.
//!
//! Secrets never reach the store in the clear: sessions and API tokens are
//! looked up by their SHA-256, and passwords arrive as argon2id PHC strings.

use chrono::{DateTime, Utc};
use paperhub_domain::{ApiTokenId, User, UserId};
use serde::Serialize;

#[cfg(doc)]
use crate::StoreError;
use crate::StoreResult;

/// A personal API token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// Its id, used to revoke it.
    pub id: ApiTokenId,
    /// The user's label for it.
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a request.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working; never when `None`.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The accounts' storage interface; see the module docs.
pub trait AccountStore: Send + Sync {
    /// Creates an account. The first account of the hub is its curator:
    /// whether any account exists is decided in the same transaction, so
    /// two first sign-ups at once make exactly one curator.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the username or email is in use.
    fn create_user(
        &self,
        username: &str,
        email: Option<&str>,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<User>;

    /// The account and its password hash, for logging in.
    ///
    /// # Errors
    /// A storage error.
    fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>>;

    /// The account with this name.
    ///
    /// # Errors
    /// A storage error.
    fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;

    /// Turns the mail on new comments on the user's submissions on or
    /// off; false when the account is gone.
    ///
    /// # Errors
    /// A storage error.
    fn set_comment_notifications(&self, user: UserId, on: bool) -> StoreResult<bool>;

    /// Whether the user asked for mail on comments on their submissions.
    ///
    /// # Errors
    /// A storage error.
    fn comment_notifications(&self, user: UserId) -> StoreResult<bool>;

    /// The account with this id.
    ///
    /// # Errors
    /// A storage error.
    fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;

    /// Replaces a user's password hash if it is still `expected_hash`,
    /// ends their other sessions and revokes their API tokens, in one
    /// transaction. The check makes two changes racing from the same old
    /// password end with one winner.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] on `password` when the stored hash is no
    /// longer `expected_hash` (or the user is gone); a storage error.
    /// Feed links made before go too ([`AccountStore::feed_generation`]).
    fn change_password(
        &self,
        user: UserId,
        expected_hash: &str,
        new_hash: &str,
        keep_session: Option<&[u8]>,
    ) -> StoreResult<()>;

    /// The generation of a user's private feed links (`None`: no such
    /// user). A link names the generation it was made in and works only
    /// while it is current; a password change also starts a new one.
    ///
    /// # Errors
    /// A storage error.
    fn feed_generation(&self, user: UserId) -> StoreResult<Option<i64>>;

    /// Starts a new generation of the user's feed links, so every link
    /// made before stops working; returns it (`None`: no such user).
    ///
    /// # Errors
    /// A storage error.
    fn rotate_feed_links(&self, user: UserId) -> StoreResult<Option<i64>>;

    /// Grants or revokes curator rights; false when there is no such user.
    ///
    /// # Errors
    /// A storage error.
    fn set_admin(&self, username: &str, admin: bool) -> StoreResult<bool>;

    /// Stores a session.
    ///
    /// # Errors
    /// A storage error.
    fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The user of an unexpired session.
    ///
    /// # Errors
    /// A storage error.
    fn session_user(&self, token_hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<User>>;

    /// Ends a session (and removes expired ones).
    ///
    /// # Errors
    /// A storage error.
    fn delete_session(&self, token_hash: &[u8], now: DateTime<Utc>) -> StoreResult<()>;

    /// Stores a personal API token.
    ///
    /// # Errors
    /// A storage error.
    fn create_api_token(
        &self,
        user: UserId,
        name: &str,
        token_hash: &[u8],
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<ApiToken>;

    /// A user's tokens, newest first.
    ///
    /// # Errors
    /// A storage error.
    fn api_tokens(&self, user: UserId) -> StoreResult<Vec<ApiToken>>;

    /// Revokes one of the user's tokens; false when it was not theirs.
    ///
    /// # Errors
    /// A storage error.
    fn delete_api_token(&self, user: UserId, id: ApiTokenId) -> StoreResult<bool>;

    /// The user a token belongs to; records its use.
    ///
    /// # Errors
    /// A storage error.
    fn api_token_user(&self, token_hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<User>>;
}
