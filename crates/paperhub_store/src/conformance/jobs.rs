//! Job leases: one node runs a job's run, another takes over a dead one.

use std::sync::{Arc, Barrier};

use chrono::Duration;

use super::Harness;
use super::fixtures::now;
use crate::Acquire;

/// Of eight nodes acquiring one run at once, one wins; once done, the run
/// is done for all, and the next run is free.
pub fn jobs_one_node_wins_a_run(h: &dyn Harness) {
    let nodes = [h.store(), h.second_node()];
    let now = now();
    let until = now + Duration::minutes(5);
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let s = Arc::clone(&nodes[i % 2]);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                let me = format!("node{i}");
                (
                    me.clone(),
                    s.acquire("harvest", "run-1", &me, now, until).unwrap(),
                )
            })
        })
        .collect();
    let results: Vec<(String, Acquire)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let winners: Vec<&String> = results
        .iter()
        .filter(|(_, a)| *a == Acquire::Acquired)
        .map(|(me, _)| me)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let winner = winners[0].clone();
    for (me, a) in &results {
        if *me != winner {
            assert_eq!(
                *a,
                Acquire::Busy {
                    owner: winner.clone(),
                    until
                }
            );
        }
    }
    let s = &nodes[0];
    assert!(!s.complete("harvest", "run-1", "someone-else", now).unwrap());
    assert!(
        s.renew("harvest", &winner, until + Duration::minutes(1))
            .unwrap()
    );
    assert!(s.complete("harvest", "run-1", &winner, now).unwrap());
    assert_eq!(
        nodes[1]
            .acquire("harvest", "run-1", "late", now, until)
            .unwrap(),
        Acquire::Done { at: now }
    );
    assert_eq!(
        nodes[1]
            .acquire("harvest", "run-2", "late", now, until)
            .unwrap(),
        Acquire::Acquired
    );
    // Jobs are independent.
    assert_eq!(
        s.acquire("digest:daily", "run-1", "other", now, until)
            .unwrap(),
        Acquire::Acquired
    );
    let leases = s.leases().unwrap();
    assert_eq!(leases.len(), 2);
    assert_eq!(leases[1].owner.as_deref(), Some("late"));
    assert_eq!(leases[1].done_key.as_deref(), Some("run-1"));
}

/// A node that stops renewing loses the run to another once its lease
/// runs out, and can record nothing after; a released run is free at once.
pub fn jobs_an_expired_lease_is_taken_over(h: &dyn Harness) {
    let (a, b) = (h.store(), h.second_node());
    let now = now();
    let minute = Duration::minutes(1);
    assert_eq!(
        a.acquire("digest:daily", "2025-03-21", "a", now, now + minute)
            .unwrap(),
        Acquire::Acquired
    );
    assert!(matches!(
        b.acquire("digest:daily", "2025-03-21", "b", now, now + minute)
            .unwrap(),
        Acquire::Busy { .. }
    ));
    let later = now + minute + Duration::seconds(1);
    assert_eq!(
        b.acquire("digest:daily", "2025-03-21", "b", later, later + minute)
            .unwrap(),
        Acquire::Acquired
    );
    assert!(!a.renew("digest:daily", "a", later + minute).unwrap());
    assert!(
        !a.complete("digest:daily", "2025-03-21", "a", later)
            .unwrap()
    );
    b.release("digest:daily", "b").unwrap();
    assert_eq!(
        a.acquire("digest:daily", "2025-03-21", "a", later, later + minute)
            .unwrap(),
        Acquire::Acquired,
        "a released run is free at once"
    );
}
