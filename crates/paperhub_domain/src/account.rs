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

/// Usernames that start with this belong to `paperhub demo`'s sample
/// community; sign-up refuses them, and pages label them as demo data.
pub const DEMO_PREFIX: &str = "demo-";

/// The password hash of every demo account: not a PHC string, so no
/// password verifies against it, and no sign-up (which stores argon2id
/// hashes) can produce it. The first-curator rule skips accounts with it.
pub const DEMO_PASSWORD_HASH: &str = "!demo account";

/// True for an account `paperhub demo` made (see [`DEMO_PREFIX`]).
pub fn is_demo_name(username: &str) -> bool {
    username
        .get(..DEMO_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(DEMO_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_names_are_recognised_in_any_case() {
        assert!(is_demo_name("demo-ada"));
        assert!(is_demo_name("DEMO-Ada"));
        assert!(!is_demo_name("demo"));
        assert!(!is_demo_name("ademo-x"));
        assert!(!is_demo_name("dé"));
    }
}
