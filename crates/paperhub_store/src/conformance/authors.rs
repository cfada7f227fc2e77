//! Authors: the per-author index follows every write of a paper, and
//! follows are per user, unique and bounded.

use chrono::NaiveDate;
use paperhub_domain::{Author, Paper};

use super::Harness;
use super::fixtures::{id, now};
use crate::{AuthorPapers, StoreError};

fn by(id_: &str, announced: &str, version: u32, authors: &[&str]) -> Paper {
    let mut p = Paper::new(id(id_), format!("Paper {id_}"), "Text.".into());
    p.authors = authors
        .iter()
        .map(|a| Author::from_display_name(a))
        .collect();
    p.categories = vec!["cs.LG".into()];
    p.announced = NaiveDate::parse_from_str(announced, "%Y-%m-%d").ok();
    p.version = Some(version);
    p.versions = (1..=version)
        .map(|v| paperhub_domain::Version {
            version: v,
            date: None,
            size: None,
        })
        .collect();
    p.finalize();
    p
}

fn ids(found: &AuthorPapers) -> Vec<String> {
    found.ids.iter().map(|i| i.base().to_owned()).collect()
}

/// Papers stored during an import run (which a backend may index only
/// when the run ends) are on their authors' pages and found by title once
/// the run has finished, on every node; so is a later version of one of
/// them that the same run replaced.
pub fn authors_index_is_complete_when_an_import_run_finishes(h: &dyn Harness) {
    let s = h.store();
    s.upsert_papers(
        &[by("2511.00009", "2025-11-10", 1, &["Ada Lovelace"])],
        now(),
    )
    .unwrap();
    let run = s.begin_import_run("snapshot.json", now()).unwrap();
    let mut counts = s
        .upsert_papers(
            &[
                by(
                    "2511.00001",
                    "2025-11-19",
                    1,
                    &["Ada Lovelace", "Alan Turing"],
                ),
                by("2511.00002", "2025-11-20", 1, &["Grace Hopper"]),
            ],
            now(),
        )
        .unwrap();
    counts += s
        .upsert_papers(
            &[by("2511.00002", "2025-11-20", 2, &["Ada Lovelace"])],
            now(),
        )
        .unwrap();
    s.finish_import_run(run, counts, 0, crate::ImportStatus::Completed, now())
        .unwrap();
    for node in [s, h.second_node()] {
        assert_eq!(
            ids(&node.author_papers("ada lovelace", 0, 10, false).unwrap()),
            ["2511.00002", "2511.00001", "2511.00009"]
        );
        assert_eq!(
            ids(&node.author_papers("alan turing", 0, 10, false).unwrap()),
            ["2511.00001"]
        );
        assert_eq!(
            node.author_papers("grace hopper", 0, 10, false).unwrap(),
            AuthorPapers::default(),
            "version 2 dropped her"
        );
        let key = paperhub_domain::bib::title_key("Paper 2511.00002");
        let found = node.papers_by_title(std::slice::from_ref(&key)).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].1.base(), "2511.00002");
    }
}

/// An author's papers, newest first and paged, under any spelling of the
/// name; a new version that drops an author drops the paper from their
/// page; a name listed twice counts once.
pub fn authors_index_follows_every_write(h: &dyn Harness) {
    let s = h.store();
    s.upsert_papers(
        &[
            by(
                "2511.00001",
                "2025-11-19",
                1,
                &["Ada Lovelace", "Alan Turing"],
            ),
            by(
                "2511.00002",
                "2025-11-20",
                1,
                &["ada  LOVELACE", "Ada Lovelace"],
            ),
            by(
                "2511.00003",
                "2025-11-18",
                1,
                &["Grace Hopper", "Ada Lovelace"],
            ),
        ],
        now(),
    )
    .unwrap();
    let all = s.author_papers("ada lovelace", 0, 10, false).unwrap();
    assert_eq!(ids(&all), ["2511.00002", "2511.00001", "2511.00003"]);
    assert_eq!(all.total, 3);
    let page = s.author_papers("ada lovelace", 1, 1, false).unwrap();
    assert_eq!((ids(&page), page.total), (vec!["2511.00001".to_owned()], 3));
    assert_eq!(
        ids(&s.author_papers("alan turing", 0, 10, false).unwrap()),
        ["2511.00001"]
    );
    assert_eq!(
        s.author_papers("nobody", 0, 10, false).unwrap(),
        AuthorPapers::default()
    );

    // Version 2 of paper 3 drops Ada; an older record changes nothing.
    s.upsert_papers(
        &[by("2511.00003", "2025-11-18", 2, &["Grace Hopper"])],
        now(),
    )
    .unwrap();
    s.upsert_papers(
        &[by("2511.00003", "2025-11-18", 1, &["Ada Lovelace"])],
        now(),
    )
    .unwrap();
    let all = s.author_papers("ada lovelace", 0, 10, false).unwrap();
    assert_eq!(
        (ids(&all), all.total),
        (vec!["2511.00002".to_owned(), "2511.00001".to_owned()], 2)
    );
    assert_eq!(
        ids(&h
            .second_node()
            .author_papers("grace hopper", 0, 10, false)
            .unwrap()),
        ["2511.00003"]
    );
    // A paper a curator hid leaves the page and the count, except for
    // curators.
    s.set_curation(&id("2511.00002"), None, Some(true), now())
        .unwrap();
    let shown = s.author_papers("ada lovelace", 0, 10, false).unwrap();
    assert_eq!(
        (ids(&shown), shown.total),
        (vec!["2511.00001".to_owned()], 1)
    );
    let all = s.author_papers("ada lovelace", 0, 10, true).unwrap();
    assert_eq!(all.total, 2);
}

/// Following is idempotent, per user, bounded, and undone by unfollowing.
pub fn authors_follows_are_unique_and_bounded(h: &dyn Harness) {
    let s = h.store();
    let ada = s.create_user("ada", None, "h", now()).unwrap().id;
    let bob = s.create_user("bob", None, "h", now()).unwrap().id;
    assert!(
        s.follow_author(ada, "alan turing", "Alan Turing", 2, now())
            .unwrap()
    );
    assert!(
        !s.follow_author(ada, "alan turing", "Alan  Turing", 2, now())
            .unwrap()
    );
    assert!(
        s.follow_author(ada, "grace hopper", "Grace Hopper", 2, now())
            .unwrap()
    );
    assert!(matches!(
        s.follow_author(ada, "ada lovelace", "Ada Lovelace", 2, now()),
        Err(StoreError::Conflict { field: "follows" })
    ));
    assert!(
        s.follow_author(bob, "ada lovelace", "Ada Lovelace", 2, now())
            .unwrap()
    );
    let names: Vec<String> = s
        .followed_authors(ada)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["Alan Turing", "Grace Hopper"]);
    assert!(s.unfollow_author(ada, "alan turing").unwrap());
    assert!(!s.unfollow_author(ada, "alan turing").unwrap());
    assert_eq!(s.followed_authors(ada).unwrap().len(), 1);
    assert_eq!(s.followed_authors(bob).unwrap()[0].key, "ada lovelace");
}

/// A digest links to one account and unlinks; accounts are found by id.
pub fn authors_digest_links_to_an_account(h: &dyn Harness) {
    let s = h.store();
    let ada = s.create_user("ada", None, "h", now()).unwrap();
    assert_eq!(s.user_by_id(ada.id).unwrap().unwrap().username, "ada");
    let sub = super::fixtures::subscribe(s.as_ref(), "r@example.org");
    assert_eq!(sub.account, None);
    assert_eq!(s.subscriber_of_account(ada.id).unwrap(), None);
    assert!(s.link_account(sub.id, Some(ada.id)).unwrap());
    assert_eq!(s.subscriber(sub.id).unwrap().unwrap().account, Some(ada.id));
    assert_eq!(s.subscriber_of_account(ada.id).unwrap().unwrap().id, sub.id);
    assert!(s.link_account(sub.id, None).unwrap());
    assert_eq!(s.subscriber(sub.id).unwrap().unwrap().account, None);
    assert!(
        !s.link_account(crate::SubscriberId(sub.id.0 + 1000), None)
            .unwrap()
    );
}
