//! Accounts as every layer sees them: the user and the ids of the rows that
//! belong to one.
//!
//! They live here rather than in a store crate so the web, the mail
//! composer and every storage backend share one definition.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A user's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct UserId(pub i64);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A personal API token's id, used to revoke it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ApiTokenId(pub i64);

impl std::fmt::Display for ApiTokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Unique, case-insensitive.
    pub username: String,
    /// Optional contact address (never shown to others).
    pub email: Option<String>,
    /// Curators may feature and hide papers.
    pub is_admin: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}
