//! `paperhub store copy`: a hub moves SQLite → PostgreSQL → SQLite with
//! every table's checksum unchanged, and a copy run again skips what is
//! there. On the real PostgreSQL `scripts/test` starts.

use std::process::Command;

use chrono::Utc;
use paperhub::secrets::token_hash;
use paperhub_postgres::testing::{FreshDb, server_url};
use paperhub_store::{HarvestState, NewMail, SubmitRequest};
use serde_json::Value;

use crate::util::TestDir;
use crate::web::seeded_dir;

fn copy(from: &str, to: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_paperhub"))
        .args(["store", "copy", "--from", from, "--to", to, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The table → (rows, sha256) map of a report's `side`.
fn sums(report: &Value, side: &str) -> Vec<(String, u64, String)> {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_owned(),
                t["source_rows"].as_u64().unwrap(),
                t[format!("{side}_sha256")].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A hub with something in every table.
fn busy_hub() -> TestDir {
    let t = seeded_dir();
    let store = t.store();
    let now = Utc::now();
    let ada = store
        .create_user("ada", Some("ada@example.org"), "h1", now)
        .unwrap();
    let bob = store.create_user("bob", None, "h2", now).unwrap();
    store
        .create_session(
            &token_hash("s1"),
            ada.id,
            now,
            now + chrono::Duration::days(1),
        )
        .unwrap();
    store
        .create_api_token(bob.id, "ci", &token_hash("t1"), now, None)
        .unwrap();
    let mut harvest = HarvestState::new("oai", "cs", "arXiv");
    harvest.resumption_token = Some("6960524|1001".into());
    harvest.window_from = Some("2025-03-18".into());
    store.save_harvest_page(&[], &harvest, now).unwrap();
    let paper = "2503.14505".parse().unwrap();
    store.set_vote(ada.id, &paper, true, now).unwrap();
    store.set_vote(bob.id, &paper, true, now).unwrap();
    let other = "2503.15617".parse().unwrap();
    store
        .submit(
            &SubmitRequest {
                user: bob.id,
                id: &other,
                quota: None,
            },
            now,
        )
        .unwrap();
    for (i, email) in ["r1@example.org", "R2@example.org"].iter().enumerate() {
        let out = t
            .cmd()
            .args([
                "digest",
                "subscribe",
                "--confirmed",
                "--query",
                "diffusion",
                "--email",
                email,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let said = store
        .add_comment(
            &paperhub_store::NewComment {
                paper: &paper,
                author: ada.id,
                parent: None,
                body: "A *question*.",
            },
            now,
        )
        .unwrap();
    let paperhub_store::Commented::Added(said) = said else {
        panic!("{said:?}")
    };
    store
        .add_comment(
            &paperhub_store::NewComment {
                paper: &paper,
                author: bob.id,
                parent: Some(said.id),
                body: "An answer.",
            },
            now,
        )
        .unwrap();
    store
        .follow_author(ada.id, "ada lovelace", "Ada Lovelace", 10, now)
        .unwrap();
    let limits = paperhub_store::LibraryLimits {
        collections: 10,
        papers: 10,
    };
    store.save_paper(ada.id, None, &paper, limits, now).unwrap();
    store.set_not_interested(bob.id, &paper, true, now).unwrap();
    let sub = store
        .subscriber_by_email("r1@example.org")
        .unwrap()
        .unwrap();
    store
        .enqueue_mails(
            &[NewMail {
                dedupe_key: "digest:daily:x:1".into(),
                subscriber: Some(sub.id),
                kind: "digest".into(),
                message_id: "m1@test".into(),
                recipient: "r1@example.org".into(),
                subject: "s".into(),
                message: vec![0, 159, 146, 150, b'\r', b'\n'],
            }],
            now,
        )
        .unwrap();
    t
}

#[test]
fn a_hub_moves_to_postgresql_and_back_with_identical_checksums() {
    let Some(url) = server_url() else { return };
    let db = FreshDb::new(&url);
    let hub = busy_hub();
    let from = format!(
        "sqlite:{}",
        hub.data_dir().join("paperhub.sqlite3").display()
    );

    let there = copy(&from, &db.url);
    let tables = sums(&there, "source");
    assert_eq!(tables.len(), 18);
    assert!(
        tables.iter().all(|(_, rows, _)| *rows > 0),
        "every table has rows: {tables:?}"
    );
    assert_eq!(sums(&there, "source"), sums(&there, "destination"));
    assert_eq!(there["signing_key"], "copied");
    // Change numbers are kept: a node's search index, which records the
    // number it reached, finds every later paper in the copy.
    let source_head = hub.store().change_head().unwrap();
    let pg = paperhub::app::store::open_url(&db.url, 2).unwrap();
    assert_eq!(pg.change_head().unwrap(), source_head);
    assert_eq!(
        pg.changed_papers(None, u32::MAX)
            .unwrap()
            .last()
            .map(|(at, _)| *at),
        hub.store()
            .changed_papers(None, u32::MAX)
            .unwrap()
            .last()
            .map(|(at, _)| *at)
    );

    drop(pg);

    // Again: nothing new, everything already there, still equal.
    let again = copy(&from, &db.url);
    for t in again["tables"].as_array().unwrap() {
        assert_eq!(t["copied"], 0, "{t}");
        assert_eq!(t["already_there"], t["source_rows"], "{t}");
    }

    // And back into a new SQLite file: the same rows, the same checksums.
    let back = TestDir::new();
    std::fs::create_dir_all(back.data_dir()).unwrap();
    let to = format!(
        "sqlite:{}",
        back.data_dir().join("paperhub.sqlite3").display()
    );
    let home = copy(&db.url, &to);
    assert_eq!(sums(&home, "destination"), sums(&there, "source"));
    // The signing key made the round trip too: old links still verify.
    assert_eq!(home["signing_key"], "copied");
    assert_eq!(
        std::fs::read(back.data_dir().join("secret.key")).unwrap(),
        std::fs::read(hub.data_dir().join("secret.key")).unwrap()
    );

    // The copy is a working hub: the votes, the account and the queue.
    let copied = back.store();
    let entry = copied
        .entry(&"2503.14505".parse().unwrap(), None)
        .unwrap()
        .unwrap();
    assert_eq!(entry.votes, 2);
    assert_eq!(copied.user_credentials("ada").unwrap().unwrap().1, "h1");
    assert_eq!(copied.outbox_counts().unwrap().queued, 1);
    assert!(copied.user_by_name("carol").unwrap().is_none());
    let carol = copied.create_user("carol", None, "h3", Utc::now()).unwrap();
    assert!(carol.id.0 > 2, "new ids follow the copied ones");
    let head = copied.change_head().unwrap();
    let mut fresh = paperhub_domain::Paper::new(
        "2601.00001".parse().unwrap(),
        "A paper written after the move".into(),
        "Abstract.".into(),
    );
    fresh.finalize();
    copied.upsert_papers(&[fresh], Utc::now()).unwrap();
    let after = copied.changed_papers(Some(head), 10).unwrap();
    assert_eq!(after.len(), 1, "numbered after the copied papers");
}
