//! The community: votes, submissions, curation and the lists built on them.

use std::sync::{Arc, Barrier};
use std::time::Instant;

use chrono::Duration;
use paperhub_domain::UserId;

use super::Harness;
use super::fixtures::{day, id, now, seed};
use crate::{Entry, ListOrder, ListQuery, Quota, Store, Submission, SubmitRequest, Submitted};

fn submit(s: &dyn Store, user: UserId, paper: &str, quota: Option<Quota>) -> Submitted {
    let request = SubmitRequest {
        user,
        id: &id(paper),
        quota,
    };
    s.submit(&request, now()).unwrap()
}

fn ids(v: &[Entry]) -> Vec<String> {
    v.iter().map(|e| e.paper.id.to_string()).collect()
}

fn day_query(d: &str) -> ListQuery {
    ListQuery {
        from: day(d),
        to: day(d),
        categories: vec![],
        offset: 0,
        limit: 50,
        include_hidden: false,
        order: ListOrder::Votes,
    }
}

/// A vote is one row per user and paper; the count follows.
pub fn community_votes_are_idempotent_and_counted(h: &dyn Harness) {
    let s = h.store();
    seed(s.as_ref());
    let a = s.create_user("ada", None, "h", now()).unwrap();
    let b = s.create_user("bob", None, "h", now()).unwrap();
    let p = id("2511.00001");
    assert_eq!(s.set_vote(a.id, &p, true, now()).unwrap(), 1);
    assert_eq!(s.set_vote(a.id, &p, true, now()).unwrap(), 1);
    assert_eq!(s.set_vote(b.id, &p, true, now()).unwrap(), 2);
    assert_eq!(s.set_vote(a.id, &p, false, now()).unwrap(), 1);
    assert_eq!(s.set_vote(a.id, &p, false, now()).unwrap(), 1);
    let e = h.second_node().entry(&p, Some(b.id)).unwrap().unwrap();
    assert_eq!((e.votes, e.voted), (1, true));
    let e = s.entry(&p, Some(a.id)).unwrap().unwrap();
    assert!(!e.voted);
    assert!(s.entry(&id("2511.09999"), None).unwrap().is_none());
}

/// Sixteen users toggle their vote on one paper from two nodes at once:
/// every count returned is possible, and the final count equals the votes
/// cast last.
pub fn community_vote_races_keep_count_equal_to_rows(h: &dyn Harness) {
    const USERS: usize = 16;
    let nodes = [h.store(), h.second_node()];
    seed(nodes[0].as_ref());
    let users: Vec<UserId> = (0..USERS)
        .map(|i| {
            nodes[0]
                .create_user(&format!("u{i}"), None, "h", now())
                .unwrap()
                .id
        })
        .collect();
    let start = Arc::new(Barrier::new(USERS));
    let threads: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, &user)| {
            let s = Arc::clone(&nodes[i % 2]);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let p = id("2511.00001");
                start.wait();
                let until = Instant::now() + std::time::Duration::from_millis(800);
                let mut up = false;
                let mut rounds = 0;
                while Instant::now() < until || rounds < 5 {
                    up = !up;
                    let count = s.set_vote(user, &p, up, now()).unwrap();
                    assert!(count as usize <= USERS, "count {count}");
                    rounds += 1;
                }
                // Half the users end with a vote.
                let last = i % 2 == 0;
                s.set_vote(user, &p, last, now()).unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let e = nodes[1].entry(&id("2511.00001"), None).unwrap().unwrap();
    assert_eq!(e.votes as usize, USERS / 2);
    let voted = users
        .iter()
        .filter(|&&u| {
            nodes[0]
                .entry(&id("2511.00001"), Some(u))
                .unwrap()
                .unwrap()
                .voted
        })
        .count();
    assert_eq!(voted, USERS / 2);
}

/// A list is one sequence, community part first; `limit` bounds a page of
/// both parts together.
pub fn community_listing_pages_both_parts_as_one_sequence(h: &dyn Harness) {
    let s = h.store();
    seed(s.as_ref());
    let a = s.create_user("ada", None, "h", now()).unwrap();
    for p in ["2511.00003", "2511.00005"] {
        submit(s.as_ref(), a.id, p, None);
    }
    let page = |offset: u32| {
        let l = s
            .listing(
                &ListQuery {
                    offset,
                    limit: 1,
                    ..day_query("2025-11-20")
                },
                None,
            )
            .unwrap();
        assert_eq!(l.community.len() + l.announced.len(), 1, "offset {offset}");
        assert_eq!(l.community_total, 2);
        (l.community.len(), l.announced_total)
    };
    assert_eq!(page(0).0, 1);
    assert_eq!(page(1).0, 1);
    let (community, announced_total) = page(2);
    assert_eq!(community, 0, "the announcement follows");
    assert_eq!(announced_total, 1);
}

/// Submitted papers form the community part; the announcement is sorted
/// by votes then newest id, filtered by category, and hides what curators
/// hid; trending candidates and a user's papers follow.
pub fn community_listing_splits_and_filters(h: &dyn Harness) {
    let s = h.store();
    seed(s.as_ref());
    let a = s.create_user("ada", None, "h", now()).unwrap();
    assert_eq!(
        submit(s.as_ref(), a.id, "2511.00005", None).outcome,
        Submission::Added {
            list_date: day("2025-11-20")
        }
    );
    s.set_vote(a.id, &id("2511.00003"), true, now()).unwrap();
    let q = day_query("2025-11-20");
    let l = s.listing(&q, None).unwrap();
    assert_eq!(ids(&l.community), ["2511.00005"]);
    assert_eq!(ids(&l.announced), ["2511.00003", "2511.00004"]);
    assert_eq!(l.announced_total, 2);
    let l = s
        .listing(
            &ListQuery {
                categories: vec!["cs.LG".into()],
                ..q.clone()
            },
            None,
        )
        .unwrap();
    assert_eq!(ids(&l.announced), ["2511.00004"]);
    let l = s
        .listing(
            &ListQuery {
                order: ListOrder::Newest,
                ..q.clone()
            },
            None,
        )
        .unwrap();
    assert_eq!(ids(&l.announced), ["2511.00004", "2511.00003"]);
    s.set_curation(&id("2511.00004"), None, Some(true), now())
        .unwrap();
    let l = s.listing(&q, None).unwrap();
    assert_eq!(ids(&l.announced), ["2511.00003"]);
    let l = s
        .listing(
            &ListQuery {
                include_hidden: true,
                ..q.clone()
            },
            None,
        )
        .unwrap();
    assert_eq!(l.announced_total, 2, "curators see hidden papers");
    s.set_curation(&id("2511.00001"), Some(true), None, now())
        .unwrap();
    let l = s.listing(&day_query("2025-11-19"), None).unwrap();
    assert_eq!(ids(&l.community), ["2511.00001"], "featured");
    assert_eq!(
        s.days_around(day("2025-11-19")).unwrap(),
        (None, Some(day("2025-11-20")))
    );
    assert_eq!(
        s.days_around(day("2025-11-20")).unwrap(),
        (Some(day("2025-11-19")), None)
    );
    assert_eq!(s.latest_day().unwrap(), Some(day("2025-11-20")));
    let t = s.trending_candidates(now() - Duration::days(1)).unwrap();
    let mut trending: Vec<String> = t.iter().map(|c| c.arxiv_id.clone()).collect();
    trending.sort();
    assert_eq!(trending, ["2511.00001", "2511.00003", "2511.00005"]);
    let (submitted, upvoted) = s.user_papers(a.id, None).unwrap();
    assert_eq!(
        (ids(&submitted), ids(&upvoted)),
        (vec!["2511.00005".to_owned()], vec!["2511.00003".to_owned()])
    );
    let found = s
        .entries(
            &[id("2511.00004"), id("2511.09999"), id("2511.00001")],
            None,
        )
        .unwrap();
    assert_eq!(
        ids(&found),
        ["2511.00004", "2511.00001"],
        "in the given order"
    );
}

/// A submission checks the catalog, repeats and the quota in one step.
pub fn community_submissions_check_catalog_and_quota(h: &dyn Harness) {
    let s = h.store();
    seed(s.as_ref());
    let a = s.create_user("ada", None, "h", now()).unwrap();
    let quota = Some(Quota {
        max: 2,
        since: now() - Duration::days(1),
    });
    let not_there = submit(s.as_ref(), a.id, "2511.09999", quota);
    assert_eq!(not_there.outcome, Submission::NotInCatalog);
    assert!(not_there.entry.is_none());
    let first = submit(s.as_ref(), a.id, "2511.00001", quota);
    assert!(matches!(first.outcome, Submission::Added { .. }));
    assert_eq!(first.entry.unwrap().submitted_by.as_deref(), Some("ada"));
    submit(s.as_ref(), a.id, "2511.00002", quota);
    assert_eq!(
        submit(s.as_ref(), a.id, "2511.00003", quota).outcome,
        Submission::OverQuota { used: 2 }
    );
    assert!(matches!(
        submit(s.as_ref(), a.id, "2511.00001", quota).outcome,
        Submission::AlreadySubmitted { by: Some(ref by), .. } if by == "ada"
    ));
    assert!(matches!(
        submit(s.as_ref(), a.id, "2511.00003", None).outcome,
        Submission::Added { .. }
    ));
    assert_eq!(
        s.submissions_since(a.id, now() - Duration::days(1))
            .unwrap(),
        3
    );
}

/// Eight submissions at once from two nodes, quota three: three are added.
pub fn community_concurrent_submissions_respect_the_quota(h: &dyn Harness) {
    let nodes = [h.store(), h.second_node()];
    let papers: Vec<paperhub_domain::Paper> = (1..=8)
        .map(|i| super::fixtures::paper(&format!("2512.{i:05}"), 1, "P"))
        .collect();
    nodes[0].upsert_papers(&papers, now()).unwrap();
    let user = nodes[0].create_user("ada", None, "h", now()).unwrap().id;
    let quota = Quota {
        max: 3,
        since: now() - Duration::days(1),
    };
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (1..=8)
        .map(|i| {
            let s = Arc::clone(&nodes[i % 2]);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                submit(s.as_ref(), user, &format!("2512.{i:05}"), Some(quota)).outcome
            })
        })
        .collect();
    let outcomes: Vec<Submission> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let added = outcomes
        .iter()
        .filter(|o| matches!(o, Submission::Added { .. }))
        .count();
    assert_eq!(added, 3, "{outcomes:?}");
}

/// Votes, submissions and curation move the community version, seen from
/// every node; reads and no-op votes do not.
pub fn community_version_moves_with_every_change(h: &dyn Harness) {
    let (a, b) = (h.store(), h.second_node());
    seed(a.as_ref());
    let user = a.create_user("ada", None, "h", now()).unwrap().id;
    let mut last = b.community_version().unwrap();
    let mut moved = |what: &str| {
        let v = b.community_version().unwrap();
        assert!(v > last, "{what} did not move the version");
        last = v;
    };
    a.set_vote(user, &id("2511.00001"), true, now()).unwrap();
    moved("a vote");
    submit(a.as_ref(), user, "2511.00002", None);
    moved("a submission");
    a.set_curation(&id("2511.00003"), Some(true), None, now())
        .unwrap();
    moved("featuring");
    a.set_vote(user, &id("2511.00001"), false, now()).unwrap();
    moved("taking a vote back");
    let still = b.community_version().unwrap();
    a.set_vote(user, &id("2511.00001"), false, now()).unwrap();
    a.listing(&day_query("2025-11-20"), None).unwrap();
    assert_eq!(b.community_version().unwrap(), still, "nothing changed");
}
