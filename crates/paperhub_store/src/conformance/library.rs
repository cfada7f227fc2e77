//! Libraries: collections, saves into the reading list, notes and read
//! marks, limits, and ownership.

use super::Harness;
use super::fixtures::{id, now, seed};
use crate::{CollectionChange, ItemChange, LibraryLimits, READING_LIST, Saved, StoreError};

const LIMITS: LibraryLimits = LibraryLimits {
    collections: 3,
    papers: 3,
};

/// The first save makes the reading list; saving twice is one row; only
/// catalog papers and one's own collections take saves; a full collection
/// refuses more; notes, read marks and removal work on one's own only.
pub fn library_saves_notes_and_limits(h: &dyn Harness) {
    let s = h.store();
    seed(s.as_ref());
    let ada = s.create_user("ada", None, "h", now()).unwrap().id;
    let bob = s.create_user("bob", None, "h", now()).unwrap().id;
    let p1 = id("2511.00001");
    let Saved::Added(list) = s.save_paper(ada, None, &p1, LIMITS, now()).unwrap() else {
        panic!("not added")
    };
    assert_eq!(
        s.save_paper(ada, None, &p1, LIMITS, now()).unwrap(),
        Saved::AlreadyThere(list)
    );
    let mine = s.collections(ada).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].slug.as_str(), mine[0].name.as_str()), READING_LIST);
    assert_eq!((mine[0].papers, mine[0].public), (1, false));
    assert_eq!(
        s.save_paper(ada, None, &id("2511.09999"), LIMITS, now())
            .unwrap(),
        Saved::NoSuchPaper
    );
    assert_eq!(
        s.save_paper(bob, Some(list), &p1, LIMITS, now()).unwrap(),
        Saved::NoSuchCollection
    );
    for p in ["2511.00002", "2511.00003"] {
        assert!(matches!(
            s.save_paper(ada, Some(list), &id(p), LIMITS, now())
                .unwrap(),
            Saved::Added(_)
        ));
    }
    assert_eq!(
        s.save_paper(ada, Some(list), &id("2511.00004"), LIMITS, now())
            .unwrap(),
        Saved::Full
    );
    let note = ItemChange {
        note: Some("Read **section 3**."),
        read: Some(true),
    };
    assert!(s.change_saved(ada, list, &p1, &note).unwrap());
    assert!(!s.change_saved(bob, list, &p1, &note).unwrap());
    let (items, total) = s.saved_papers(list, 0, 10).unwrap();
    assert_eq!(total, 3);
    let first = items.iter().find(|i| i.paper == "2511.00001").unwrap();
    assert_eq!(
        (first.note.as_str(), first.read),
        ("Read **section 3**.", true)
    );
    // Only the read mark changes; the note stays.
    let unread = ItemChange {
        note: None,
        read: Some(false),
    };
    assert!(s.change_saved(ada, list, &p1, &unread).unwrap());
    let (items, _) = s.saved_papers(list, 0, 10).unwrap();
    let first = items.iter().find(|i| i.paper == "2511.00001").unwrap();
    assert_eq!(
        (first.note.as_str(), first.read),
        ("Read **section 3**.", false)
    );
    let (page, _) = s.saved_papers(list, 1, 1).unwrap();
    assert_eq!(page.len(), 1);
    let saved = s.saved_in(ada, &[p1.clone(), id("2511.00005")]).unwrap();
    assert_eq!(saved, vec![("2511.00001".to_owned(), vec![list])]);
    assert!(
        s.saved_in(bob, std::slice::from_ref(&p1))
            .unwrap()
            .is_empty()
    );
    assert!(!s.remove_paper(bob, list, &p1).unwrap());
    assert!(s.remove_paper(ada, list, &p1).unwrap());
    assert!(!s.remove_paper(ada, list, &p1).unwrap());
}

/// Collections: unique slugs per user, a limit, renames, publishing, and
/// deletes that take their papers along, all only by their owner.
pub fn library_collections_are_owned_unique_and_bounded(h: &dyn Harness) {
    let s = h.store();
    seed(s.as_ref());
    let ada = s.create_user("ada", None, "h", now()).unwrap().id;
    let bob = s.create_user("bob", None, "h", now()).unwrap().id;
    let ml = s
        .create_collection(ada, "ml", "Machine learning", false, LIMITS, now())
        .unwrap();
    assert!(matches!(
        s.create_collection(ada, "ml", "Again", false, LIMITS, now()),
        Err(StoreError::Conflict { field: "slug" })
    ));
    // Another user may use the same slug.
    s.create_collection(bob, "ml", "Bob's", true, LIMITS, now())
        .unwrap();
    s.create_collection(ada, "b", "B", false, LIMITS, now())
        .unwrap();
    s.create_collection(ada, "c", "C", false, LIMITS, now())
        .unwrap();
    assert!(matches!(
        s.create_collection(ada, "d", "D", false, LIMITS, now()),
        Err(StoreError::Conflict {
            field: "collections"
        })
    ));
    // The reading list is made even at the limit.
    assert!(matches!(
        s.save_paper(ada, None, &id("2511.00001"), LIMITS, now())
            .unwrap(),
        Saved::Added(_)
    ));
    let slugs: Vec<String> = s
        .collections(ada)
        .unwrap()
        .into_iter()
        .map(|c| c.slug)
        .collect();
    assert_eq!(slugs, ["reading-list", "b", "c", "ml"]);

    let rename = CollectionChange {
        name: Some("Deep learning"),
        slug: Some("dl"),
        public: Some(true),
    };
    assert!(!s.change_collection(bob, ml.id, &rename).unwrap());
    assert!(s.change_collection(ada, ml.id, &rename).unwrap());
    let dl = s.collection(ada, "dl").unwrap().unwrap();
    assert_eq!(
        (dl.name.as_str(), dl.public, dl.id),
        ("Deep learning", true, ml.id)
    );
    assert!(s.collection(ada, "ml").unwrap().is_none());
    let taken = CollectionChange {
        slug: Some("b"),
        ..CollectionChange::default()
    };
    assert!(matches!(
        s.change_collection(ada, ml.id, &taken),
        Err(StoreError::Conflict { field: "slug" })
    ));
    s.save_paper(ada, Some(ml.id), &id("2511.00002"), LIMITS, now())
        .unwrap();
    assert!(!s.delete_collection(bob, ml.id).unwrap());
    assert!(s.delete_collection(ada, ml.id).unwrap());
    assert!(s.collection(ada, "dl").unwrap().is_none());
    assert!(s.saved_papers(ml.id, 0, 10).unwrap().0.is_empty());
    assert_eq!(
        h.second_node().collections(ada).unwrap().len(),
        3,
        "every node sees the same library"
    );
}

/// "Not interested" marks are per user, idempotent, undoable and reset.
pub fn library_not_interested_marks(h: &dyn Harness) {
    let s = h.store();
    seed(s.as_ref());
    let ada = s.create_user("ada", None, "h", now()).unwrap().id;
    let bob = s.create_user("bob", None, "h", now()).unwrap().id;
    let (p1, p2) = (id("2511.00001"), id("2511.00002"));
    assert!(s.set_not_interested(ada, &p1, true, now()).unwrap());
    assert!(!s.set_not_interested(ada, &p1, true, now()).unwrap());
    assert!(
        s.set_not_interested(ada, &p2, true, now() + chrono::Duration::seconds(1))
            .unwrap()
    );
    assert_eq!(
        s.not_interested(ada, 10).unwrap(),
        ["2511.00002", "2511.00001"]
    );
    assert!(s.not_interested(bob, 10).unwrap().is_empty());
    assert_eq!(s.not_interested(ada, 1).unwrap(), ["2511.00002"]);
    let many = s.not_interested_of(&[ada, bob], 10).unwrap();
    assert_eq!(many.len(), 1, "bob has no marks");
    assert_eq!(many[&ada], ["2511.00002", "2511.00001"]);
    assert_eq!(
        s.not_interested_of(&[ada], 1).unwrap()[&ada],
        ["2511.00002"]
    );
    assert!(s.set_not_interested(ada, &p2, false, now()).unwrap());
    assert_eq!(s.not_interested(ada, 10).unwrap(), ["2511.00001"]);
    assert_eq!(s.reset_not_interested(ada).unwrap(), 1);
    assert!(s.not_interested(ada, 10).unwrap().is_empty());
}

/// Recommendations learn from every collection's papers, each once, the
/// latest save first.
pub fn library_recent_saves_span_collections(h: &dyn Harness) {
    let s = h.store();
    seed(s.as_ref());
    let ada = s.create_user("ada", None, "h", now()).unwrap().id;
    let bob = s.create_user("bob", None, "h", now()).unwrap().id;
    assert!(s.recent_saves(ada, 10).unwrap().is_empty());
    let later = |n: i64| now() + chrono::Duration::seconds(n);
    let other = s
        .create_collection(ada, "other", "Other", false, LIMITS, now())
        .unwrap();
    s.save_paper(ada, None, &id("2511.00001"), LIMITS, later(1))
        .unwrap();
    s.save_paper(ada, Some(other.id), &id("2511.00002"), LIMITS, later(2))
        .unwrap();
    s.save_paper(ada, Some(other.id), &id("2511.00001"), LIMITS, later(3))
        .unwrap();
    s.save_paper(bob, None, &id("2511.00003"), LIMITS, later(4))
        .unwrap();
    assert_eq!(
        s.recent_saves(ada, 10).unwrap(),
        ["2511.00001", "2511.00002"]
    );
    assert_eq!(s.recent_saves(ada, 1).unwrap(), ["2511.00001"]);
    assert_eq!(s.recent_saves(bob, 10).unwrap(), ["2511.00003"]);
    // Many users at once: the same lists, users without saves left out.
    let carol = s.create_user("carol", None, "h", now()).unwrap().id;
    let many = s.recent_saves_of(&[bob, carol, ada], 10).unwrap();
    assert_eq!(many.len(), 2);
    assert_eq!(many[&ada], s.recent_saves(ada, 10).unwrap());
    assert_eq!(many[&bob], ["2511.00003"]);
    assert_eq!(s.recent_saves_of(&[ada], 1).unwrap()[&ada], ["2511.00001"]);
    assert!(s.recent_saves_of(&[], 10).unwrap().is_empty());
}

/// An import's bulk save: one transaction, unknown papers counted, notes
/// fill empty notes only, the limit holds; DOIs and titles find papers.
pub fn library_bulk_save_and_catalog_lookups(h: &dyn Harness) {
    let s = h.store();
    let mut with_doi =
        crate::conformance::fixtures::paper("2511.00007", 1, "Deep Learning: A Review!");
    with_doi.doi = Some("10.1038/NATURE14539".into());
    s.upsert_papers(&[with_doi], now()).unwrap();
    seed(s.as_ref());
    let ada = s.create_user("ada", None, "h", now()).unwrap().id;
    let note = |n: &str| Some(n.to_owned());
    let (list, done) = s
        .save_papers(
            ada,
            None,
            &[
                (id("2511.00001"), note("first")),
                (id("2511.00002"), None),
                (id("2511.09999"), note("unknown")),
                (id("2511.00001"), note("again")),
            ],
            LIMITS,
            now(),
        )
        .unwrap();
    assert_eq!(
        done,
        crate::BulkSaved {
            added: 2,
            already: 1,
            over_limit: 0,
            unknown: 1
        }
    );
    let (_, done) = s
        .save_papers(
            ada,
            Some(list),
            &[
                (id("2511.00002"), note("filled")),
                (id("2511.00001"), note("not over")),
                (id("2511.00003"), None),
                (id("2511.00004"), None),
            ],
            LIMITS,
            now(),
        )
        .unwrap();
    assert_eq!((done.added, done.already, done.over_limit), (1, 2, 1));
    let (items, _) = s.saved_papers(list, 0, 10).unwrap();
    let note_of = |p: &str| items.iter().find(|i| i.paper == p).unwrap().note.clone();
    assert_eq!(note_of("2511.00001"), "first");
    assert_eq!(note_of("2511.00002"), "filled");
    let bob = s.create_user("bob", None, "h", now()).unwrap().id;
    assert!(matches!(
        s.save_papers(bob, Some(list), &[(id("2511.00001"), None)], LIMITS, now()),
        Err(StoreError::NotFound { .. })
    ));

    let by_doi = s
        .papers_by_doi(&["10.1038/nature14539".into(), "10.1/none".into()])
        .unwrap();
    assert_eq!(by_doi.len(), 1);
    assert_eq!(
        (by_doi[0].0.as_str(), by_doi[0].1.base()),
        ("10.1038/nature14539", "2511.00007")
    );
    let key = paperhub_domain::bib::title_key("deep learning — a review");
    let by_title = s.papers_by_title(&[key.clone(), "nothing".into()]).unwrap();
    assert_eq!(by_title.len(), 1);
    assert_eq!(
        (by_title[0].0.as_str(), by_title[0].1.base()),
        (key.as_str(), "2511.00007")
    );
}
