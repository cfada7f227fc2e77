//! Accounts: unique names, one curator, sessions, tokens and passwords.

use std::sync::{Arc, Barrier};

use chrono::Duration;

use super::Harness;
use super::fixtures::now;
use crate::StoreError;

/// Names and addresses are unique regardless of case.
pub fn accounts_names_and_emails_are_unique_ignoring_case(h: &dyn Harness) {
    let s = h.store();
    s.create_user("ada", Some("ada@example.org"), "h", now())
        .unwrap();
    assert!(matches!(
        s.create_user("ADA", None, "h", now()),
        Err(StoreError::Conflict { field: "username" })
    ));
    assert!(matches!(
        h.second_node()
            .create_user("bob", Some("Ada@Example.org"), "h", now()),
        Err(StoreError::Conflict { field: "email" })
    ));
    let (user, hash) = s.user_credentials("ada").unwrap().unwrap();
    assert_eq!((user.username.as_str(), hash.as_str()), ("ada", "h"));
    assert_eq!(user.email.as_deref(), Some("ada@example.org"));
    assert_eq!(s.user_by_name("ada").unwrap().unwrap().id, user.id);
    assert!(s.user_by_name("nobody").unwrap().is_none());
    assert!(s.user_credentials("nobody").unwrap().is_none());
}

/// The first account is the hub's curator, and only the first; the demo's
/// sample accounts are never curators and do not count as first.
pub fn accounts_first_sign_up_is_the_only_curator(h: &dyn Harness) {
    let s = h.store();
    let demo_hash = paperhub_domain::account::DEMO_PASSWORD_HASH;
    let demo = s.create_user("demo-ada", None, demo_hash, now()).unwrap();
    let demo2 = s.create_user("demo-bob", None, demo_hash, now()).unwrap();
    assert!(!demo.is_admin && !demo2.is_admin);
    let first = s.create_user("ada", None, "h", now()).unwrap();
    let second = s.create_user("bob", None, "h", now()).unwrap();
    assert!(first.is_admin && !second.is_admin);
    assert!(s.user_by_name("ada").unwrap().unwrap().is_admin);
    assert!(!s.user_by_name("bob").unwrap().unwrap().is_admin);
}

/// Eight first sign-ups at once on two nodes: exactly one curator.
pub fn accounts_concurrent_first_sign_ups_make_one_curator(h: &dyn Harness) {
    let nodes = [h.store(), h.second_node()];
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let s = Arc::clone(&nodes[i % 2]);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                s.create_user(&format!("user{i}"), None, "h", now())
                    .unwrap()
            })
        })
        .collect();
    let users: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(users.iter().filter(|u| u.is_admin).count(), 1, "{users:?}");
    let stored = (0..8)
        .filter(|i| {
            nodes[0]
                .user_by_name(&format!("user{i}"))
                .unwrap()
                .unwrap()
                .is_admin
        })
        .count();
    assert_eq!(stored, 1);
}

/// Sessions end at their expiry or when deleted, and are seen by every node.
pub fn accounts_sessions_expire_and_end(h: &dyn Harness) {
    let s = h.store();
    let u = s.create_user("ada", None, "h", now()).unwrap();
    s.create_session(b"tok", u.id, now(), now() + Duration::hours(1))
        .unwrap();
    let other = h.second_node();
    assert_eq!(other.session_user(b"tok", now()).unwrap().unwrap().id, u.id);
    assert!(
        s.session_user(b"tok", now() + Duration::hours(2))
            .unwrap()
            .is_none()
    );
    assert!(s.session_user(b"nope", now()).unwrap().is_none());
    other.delete_session(b"tok", now()).unwrap();
    assert!(s.session_user(b"tok", now()).unwrap().is_none());
}

/// A password changes only from the hash the caller checked; a change
/// ends the user's other sessions and their API tokens.
pub fn accounts_password_change_is_compare_and_set(h: &dyn Harness) {
    let s = h.store();
    let u = s.create_user("ada", None, "h", now()).unwrap();
    for token in [&b"keep"[..], b"other"] {
        s.create_session(token, u.id, now(), now() + Duration::hours(1))
            .unwrap();
    }
    s.create_api_token(u.id, "ci", b"token", now(), None)
        .unwrap();
    assert!(matches!(
        s.change_password(u.id, "wrong", "h2", Some(b"keep")),
        Err(StoreError::Conflict { field: "password" })
    ));
    assert!(s.session_user(b"other", now()).unwrap().is_some());
    s.change_password(u.id, "h", "h2", Some(b"keep")).unwrap();
    assert_eq!(s.user_credentials("ada").unwrap().unwrap().1, "h2");
    assert!(s.session_user(b"keep", now()).unwrap().is_some());
    assert!(s.session_user(b"other", now()).unwrap().is_none());
    assert!(s.api_token_user(b"token", now()).unwrap().is_none());
    assert!(s.api_tokens(u.id).unwrap().is_empty());
    // Two changes from the same old password: one wins.
    let results = [
        s.change_password(u.id, "h2", "h3", None),
        h.second_node().change_password(u.id, "h2", "h4", None),
    ];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(s.user_credentials("ada").unwrap().unwrap().1, "h3");
}

/// Feed links start at generation 0; rotating and changing the password
/// each start a new generation, seen by every node.
pub fn accounts_feed_links_rotate(h: &dyn Harness) {
    let s = h.store();
    let u = s.create_user("ada", None, "h", now()).unwrap();
    let other = s.create_user("bob", None, "h", now()).unwrap();
    assert_eq!(s.feed_generation(u.id).unwrap(), Some(0));
    assert_eq!(s.rotate_feed_links(u.id).unwrap(), Some(1));
    assert_eq!(h.second_node().feed_generation(u.id).unwrap(), Some(1));
    s.change_password(u.id, "h", "h2", None).unwrap();
    assert_eq!(s.feed_generation(u.id).unwrap(), Some(2));
    // A failed change starts nothing.
    assert!(s.change_password(u.id, "wrong", "h3", None).is_err());
    assert_eq!(s.feed_generation(u.id).unwrap(), Some(2));
    assert_eq!(s.feed_generation(other.id).unwrap(), Some(0));
    let missing = paperhub_domain::UserId(other.id.0 + 1_000);
    assert_eq!(s.feed_generation(missing).unwrap(), None);
    assert_eq!(s.rotate_feed_links(missing).unwrap(), None);
}

/// Tokens are found by hash, record their use, expire, and are revoked by
/// their owner only.
pub fn accounts_api_tokens_expire_and_are_revocable(h: &dyn Harness) {
    let s = h.store();
    let a = s.create_user("ada", None, "h", now()).unwrap();
    let b = s.create_user("bob", None, "h", now()).unwrap();
    let soon = now() + Duration::days(1);
    let short = s
        .create_api_token(a.id, "ci", b"short", now(), Some(soon))
        .unwrap();
    let long = s
        .create_api_token(a.id, "laptop", b"long", now(), None)
        .unwrap();
    assert_eq!(short.expires_at, Some(soon));
    assert_eq!(s.api_token_user(b"short", now()).unwrap().unwrap().id, a.id);
    assert!(
        s.api_token_user(b"short", soon).unwrap().is_none(),
        "expired"
    );
    let listed = s.api_tokens(a.id).unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .any(|t| t.id == short.id && t.last_used_at.is_some())
    );
    assert!(!s.delete_api_token(b.id, long.id).unwrap(), "not bob's");
    assert!(s.delete_api_token(a.id, long.id).unwrap());
    assert!(s.api_token_user(b"long", now()).unwrap().is_none());
}

/// Curator rights can be granted and revoked by name.
pub fn accounts_set_admin(h: &dyn Harness) {
    let s = h.store();
    s.create_user("ada", None, "h", now()).unwrap();
    s.create_user("bob", None, "h", now()).unwrap();
    assert!(s.set_admin("bob", true).unwrap());
    assert!(s.user_by_name("bob").unwrap().unwrap().is_admin);
    assert!(s.set_admin("ada", false).unwrap());
    assert!(!s.user_by_name("ada").unwrap().unwrap().is_admin);
    assert!(!s.set_admin("nobody", true).unwrap());
}
