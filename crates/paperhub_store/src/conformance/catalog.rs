//! The catalog: papers round-trip, merge, and the change feed misses
//! nothing, even with writers on several nodes.

use std::collections::HashMap;

use chrono::{Duration, TimeZone, Utc};
use paperhub_domain::{ArxivId, Paper};

use super::Harness;
use super::fixtures::{now, paper};
use crate::{ChangePosition, HarvestState, ImportStatus, Store, UpsertCounts};

/// Every field of a paper is stored and read back as it was.
pub fn catalog_round_trips_every_field(h: &dyn Harness) {
    let s = h.store();
    let mut p = paper("2501.00001", 2, "Title");
    p.comments = Some("c".into());
    p.journal_ref = Some("j".into());
    p.doi = Some("10.1/x".into());
    p.report_no = Some("r".into());
    p.license = Some("l".into());
    p.msc_class = Some("m".into());
    p.acm_class = Some("a".into());
    p.submitter = Some("s".into());
    p.code_url = Some("https://github.com/a/b".into());
    p.abstract_text = "Ünïcode, 'quotes', \"double\", \\backslash, 量子 and $\\ell_1$.".into();
    assert_eq!(s.upsert_papers(&[p.clone()], now()).unwrap().new, 1);
    assert_eq!(s.paper(&p.id).unwrap().unwrap(), p);
    let versioned: ArxivId = "2501.00001v1".parse().unwrap();
    assert_eq!(s.paper(&versioned).unwrap().unwrap(), p);
    assert!(s.paper(&"2501.99999".parse().unwrap()).unwrap().is_none());
    // Seen from another node at once.
    assert_eq!(h.second_node().paper(&p.id).unwrap().unwrap(), p);
}

/// Upserts follow `Paper::merge`: newer versions win, older ones and
/// repeats change nothing, and a batch may hold one paper twice.
pub fn catalog_upserts_merge(h: &dyn Harness) {
    let s = h.store();
    let v1 = paper("2501.00001", 1, "Old");
    let v2 = paper("2501.00001", 2, "New");
    assert_eq!(
        s.upsert_papers(std::slice::from_ref(&v2), now())
            .unwrap()
            .new,
        1
    );
    assert_eq!(
        s.upsert_papers(std::slice::from_ref(&v1), now())
            .unwrap()
            .unchanged,
        1
    );
    assert_eq!(s.paper(&v2.id).unwrap().unwrap().title, "New");
    let again = s.upsert_papers(&[v2.clone(), v2], now()).unwrap();
    assert_eq!(
        again,
        UpsertCounts {
            new: 0,
            updated: 0,
            unchanged: 2
        }
    );
    let mixed = s
        .upsert_papers(
            &[
                paper("2501.00002", 1, "Two"),
                paper("2501.00002", 2, "Two, revised"),
            ],
            now(),
        )
        .unwrap();
    assert_eq!((mixed.new, mixed.updated), (1, 1));
    assert_eq!(
        s.paper(&"2501.00002".parse().unwrap())
            .unwrap()
            .unwrap()
            .title,
        "Two, revised"
    );
    assert_eq!(s.count_papers().unwrap(), 2);
}

/// Counts by category and month, and the import runs.
pub fn catalog_stats_and_import_runs(h: &dyn Harness) {
    let s = h.store();
    let run = s.begin_import_run("x.jsonl", now()).unwrap();
    assert_eq!(s.import_runs(5).unwrap()[0].status, ImportStatus::Running);
    let counts = s
        .upsert_papers(
            &[paper("2501.00001", 1, "A"), paper("2502.00002", 1, "B")],
            now(),
        )
        .unwrap();
    s.finish_import_run(run, counts, 3, ImportStatus::Completed, now())
        .unwrap();
    let stats = s.stats().unwrap();
    assert_eq!(stats.papers, 2);
    assert_eq!(
        stats.by_category,
        [("cs.AI".to_owned(), 2), ("cs.CL".to_owned(), 2)]
    );
    assert_eq!(stats.by_month, [("2025-01".to_owned(), 2)]);
    let last = stats.last_import.unwrap();
    assert_eq!(last.id, run);
    assert_eq!(last.source, "x.jsonl");
    assert_eq!(last.skipped, 3);
    assert_eq!(last.counts.new, 2);
    assert_eq!(last.status, ImportStatus::Completed);
    assert!(last.finished_at.is_some());
    let second = s.begin_import_run("y.xml", now()).unwrap();
    let runs = s.import_runs(10).unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second, run],
        "newest first"
    );
    assert_eq!(s.import_runs(1).unwrap().len(), 1);
}

/// The light change list gives each changed paper's position and day (the
/// announcement, else the v1 submission), in change order and paged like
/// `changed_papers`.
pub fn catalog_changed_paper_days_lists_days_in_change_order(h: &dyn Harness) {
    let s = h.store();
    let announced = paper("2501.00001", 1, "A");
    let mut submitted = paper("2501.00002", 1, "B");
    submitted.announced = None;
    let mut neither = paper("2501.00003", 1, "C");
    neither.announced = None;
    neither.versions.iter_mut().for_each(|v| v.date = None);
    neither.submitted = None;
    neither.finalize();
    s.upsert_papers(&[announced, submitted, neither], now())
        .unwrap();
    s.upsert_papers(&[paper("2501.00001", 2, "A, revised")], now())
        .unwrap();
    let all = s.changed_paper_days(None, 100).unwrap();
    let listed: Vec<(String, Option<String>)> = all
        .iter()
        .map(|c| (c.id.to_string(), c.day.map(|d| d.to_string())))
        .collect();
    assert_eq!(
        listed,
        [
            ("2501.00002".to_owned(), Some("2025-01-01".to_owned())),
            ("2501.00003".to_owned(), None),
            ("2501.00001".to_owned(), Some("2025-03-18".to_owned())),
        ]
    );
    let papers = s.changed_papers(None, 100).unwrap();
    assert_eq!(
        all.iter().map(|c| c.position).collect::<Vec<_>>(),
        papers.iter().map(|p| p.0).collect::<Vec<_>>()
    );
    let first = s.changed_paper_days(None, 1).unwrap();
    assert_eq!(first.len(), 1);
    let rest = s.changed_paper_days(Some(first[0].position), 100).unwrap();
    assert_eq!(rest, all[1..]);
}

/// A harvested page and the harvest's new state are stored together.
pub fn catalog_harvest_state_is_saved_with_its_page(h: &dyn Harness) {
    let s = h.store();
    assert!(s.harvest_state("oai", "cs", "arXiv").unwrap().is_none());
    let mut state = HarvestState::new("oai", "cs", "arXiv");
    state.window_from = Some("2025-03-01".into());
    state.resumption_token = Some("token|1001".into());
    state.pages = 1;
    let counts = s
        .save_harvest_page(&[paper("2501.00001", 1, "A")], &state, now())
        .unwrap();
    assert_eq!(counts.new, 1);
    assert_eq!(
        s.harvest_state("oai", "cs", "arXiv").unwrap().unwrap(),
        state
    );
    state.resumption_token = None;
    state.pages = 2;
    state.last_complete = Some("2025-03-02".into());
    s.save_harvest_page(&[], &state, now()).unwrap();
    assert_eq!(
        h.second_node()
            .harvest_state("oai", "cs", "arXiv")
            .unwrap()
            .unwrap(),
        state
    );
    assert!(s.harvest_state("oai", "cs", "arXivRaw").unwrap().is_none());
}

fn changed_ids(store: &dyn Store, after: Option<ChangePosition>) -> Vec<String> {
    store
        .changed_papers(after, 100)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p.id.to_string())
        .collect()
}

/// The change feed does not step over a paper written after a read:
/// neither one revised in the same second as a paper stored later, nor
/// one whose writer read the clock before another writer committed.
pub fn catalog_change_feed_skips_nothing(h: &dyn Harness) {
    let s = h.store();
    let t = Utc.with_ymd_and_hms(2025, 3, 21, 12, 0, 0).unwrap();
    s.upsert_papers(
        &[paper("2501.00001", 1, "A"), paper("2501.00002", 1, "B")],
        t,
    )
    .unwrap();
    let page = s.changed_papers(None, 100).unwrap();
    assert_eq!(page.len(), 2);
    let cursor = page.last().unwrap().0;
    assert_eq!(changed_ids(s.as_ref(), Some(cursor)), Vec::<String>::new());
    s.upsert_papers(
        &[paper("2501.00001", 2, "A, revised")],
        t + Duration::milliseconds(400),
    )
    .unwrap();
    assert_eq!(changed_ids(s.as_ref(), Some(cursor)), ["2501.00001"]);
    let cursor = s.changed_papers(Some(cursor), 100).unwrap()[0].0;
    s.upsert_papers(&[paper("2502.00003", 1, "C")], t + Duration::seconds(5))
        .unwrap();
    let cursor = s.changed_papers(Some(cursor), 100).unwrap()[0].0;
    s.upsert_papers(
        &[paper("2501.00002", 2, "B, revised")],
        t + Duration::seconds(2),
    )
    .unwrap();
    assert_eq!(changed_ids(s.as_ref(), Some(cursor)), ["2501.00002"]);
    // A paper appears once, at its latest change.
    let mut all = changed_ids(s.as_ref(), None);
    assert_eq!(all.last().map(String::as_str), Some("2501.00002"));
    all.sort();
    assert_eq!(all, ["2501.00001", "2501.00002", "2502.00003"]);
}

/// Writers on two nodes upsert overlapping batches, with clock readings
/// that go backwards between commits, while a reader follows the feed in
/// small pages: at the end it has seen every paper at its final version.
pub fn catalog_change_feed_under_concurrent_writers(h: &dyn Harness) {
    let t = Utc.with_ymd_and_hms(2025, 3, 21, 12, 0, 0).unwrap();
    let nodes = [h.store(), h.second_node()];
    let writers: Vec<_> = (0..4u32)
        .map(|w| {
            let store = std::sync::Arc::clone(&nodes[w as usize % 2]);
            std::thread::spawn(move || {
                for round in 1..=20u32 {
                    let papers: Vec<Paper> = (0..5)
                        .map(|i| {
                            let id = format!("2501.{:05}", (w * 7 + i + round) % 30 + 1);
                            paper(&id, round, &format!("w{w} r{round}"))
                        })
                        .collect();
                    let stamp = t - Duration::seconds(i64::from(round % 4));
                    store.upsert_papers(&papers, stamp).unwrap();
                }
            })
        })
        .collect();
    let reader = h.second_node();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut cursor = None;
    let mut follow = |cursor: &mut Option<ChangePosition>| {
        for (at, p) in reader.changed_papers(*cursor, 7).unwrap() {
            assert!(Some(at) > *cursor, "positions only grow");
            *cursor = Some(at);
            seen.insert(p.id.to_string(), p.title);
        }
    };
    while writers.iter().any(|w| !w.is_finished()) {
        follow(&mut cursor);
    }
    for w in writers {
        w.join().unwrap();
    }
    for _ in 0..10 {
        follow(&mut cursor);
    }
    let all = nodes[0].changed_papers(None, 1000).unwrap();
    assert_eq!(
        Some(reader.change_head().unwrap()),
        cursor,
        "the reader is at the head"
    );
    assert_eq!(seen.len(), all.len());
    for (_, p) in all {
        assert_eq!(seen.get(&p.id.to_string()), Some(&p.title), "{}", p.id);
    }
}
