//! The day-one path of a large catalog: `paperhub index` embeds newest
//! first, bounded by `--limit` and `--since`, search says which papers are
//! matched by meaning, and `paperhub vectors export|import` moves vectors to
//! another hub, which then embeds nothing again; vectors of another model
//! or dimension are refused, and two writers never run at once.

use paperhub::app::store::SharedStore;
use paperhub_search::vectors_file::Reader;
use serde_json::Value;

use crate::util::{TestDir, fixture};

fn run(t: &TestDir, args: &[&str]) -> (String, String, i32) {
    let out = t.cmd().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
        out.status.code().unwrap_or(-1),
    )
}

fn ok(t: &TestDir, args: &[&str]) -> String {
    let (stdout, stderr, code) = run(t, args);
    assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
    stdout
}

/// Every paper's (day, id), newest first, as the backfill orders them.
fn newest_first(store: &SharedStore) -> Vec<(Option<chrono::NaiveDate>, String)> {
    let mut all: Vec<_> = store
        .changed_paper_days(None, 100_000)
        .unwrap()
        .into_iter()
        .map(|c| (c.day, c.id.to_string()))
        .collect();
    all.sort_by(|a, b| b.cmp(a));
    all
}

/// The keys of an exported file.
fn exported(t: &TestDir, name: &str) -> Vec<String> {
    let path = t.file(name);
    ok(t, &["vectors", "export", path.to_str().unwrap()]);
    let bytes = std::fs::read(&path).unwrap();
    let reader = Reader::open(bytes.as_slice(), Some(bytes.len() as u64)).unwrap();
    let mut keys = reader.keys().to_vec();
    keys.sort();
    keys
}

fn search_note(t: &TestDir) -> Value {
    let out = ok(t, &["search", "language models", "--json"]);
    serde_json::from_str::<Value>(&out).unwrap()["meta"]["note"].clone()
}

#[test]
fn index_backfills_newest_first_and_vectors_move_between_hubs() {
    let t = TestDir::new();
    let days = [
        fixture("listings/2025-03-19.jsonl"),
        fixture("listings/2025-03-21.jsonl"),
    ];
    t.import(&[&days[0], &days[1]]);
    let store = t.store();
    let order = newest_first(&store);
    let total = order.len();
    assert!(total > 300, "{total}");

    // The 60 newest papers first, and search says how far meaning reaches.
    let text = ok(&t, &["index", "--limit", "60"]);
    assert!(text.contains("60 papers embedded"), "{text}");
    assert!(
        text.contains(&format!("{} papers still wait", total - 60)),
        "{text}"
    );
    let mut newest: Vec<String> = order[..60].iter().map(|(_, id)| id.clone()).collect();
    newest.sort();
    assert_eq!(exported(&t, "first.vec"), newest);
    let oldest_done = order[59].0.unwrap();
    let note = search_note(&t);
    assert!(
        note.as_str()
            .unwrap()
            .contains(&format!("from {oldest_done} on")),
        "{note}"
    );

    // --since bounds the run to recent days; an older day waits.
    let since = order
        .iter()
        .map(|(d, _)| d.unwrap())
        .min()
        .unwrap()
        .succ_opt()
        .unwrap();
    let text = ok(&t, &["index", "--since", &since.to_string()]);
    let recent = order.iter().filter(|(d, _)| d.unwrap() >= since).count();
    assert!(
        text.contains(&format!("{} papers embedded", recent - 60)),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} papers still wait", total - recent)),
        "{text}"
    );

    // The rest, then nothing: the watermark has moved to the head.
    let text = ok(&t, &["index"]);
    assert!(
        text.contains(&format!("{} papers embedded", total - recent)),
        "{text}"
    );
    assert!(text.contains("Vector index up to date"), "{text}");
    assert!(search_note(&t).is_null());
    let text = ok(&t, &["index"]);
    assert!(
        text.contains("Vector index up to date: 0 papers embedded"),
        "{text}"
    );

    // One writer at a time: while another process holds the vectors'
    // writer lock, `index` and `vectors import` refuse and change nothing.
    let dir = std::fs::read_dir(t.data_dir().join("index"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("vectors-")
        })
        .unwrap();
    let held = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("writer.lock"))
        .unwrap();
    held.try_lock().unwrap();
    for args in [&["index"][..], &["vectors", "import", "no-such.vec"]] {
        let (out, err, code) = run(&t, args);
        assert_ne!(code, 0, "{args:?}: {out}{err}");
        assert!(
            err.contains("another paperhub process is writing the vectors"),
            "{args:?}: {err}"
        );
    }
    drop(held);
    let text = ok(&t, &["index"]);
    assert!(
        text.contains("Vector index up to date: 0 papers embedded"),
        "{text}"
    );
    let all = exported(&t, "all.vec");
    assert_eq!(all.len(), total);

    // Another hub with the same catalog takes the vectors and embeds none.
    let other = TestDir::new();
    other.import(&[&days[0], &days[1]]);
    let file = t.file("all.vec");
    let text = ok(&other, &["vectors", "import", file.to_str().unwrap()]);
    assert!(
        text.contains(&format!("Imported {total} of {total} vectors")),
        "{text}"
    );
    let text = ok(&other, &["index"]);
    assert!(
        text.contains("Vector index up to date: 0 papers embedded"),
        "{text}"
    );
    let (ids, _, _) = crate::search::search_ids(
        &other,
        &[
            "simulating the sensors of autonomous cars",
            "--mode",
            "semantic",
        ],
    );
    let (expected, _, _) = crate::search::search_ids(
        &t,
        &[
            "simulating the sensors of autonomous cars",
            "--mode",
            "semantic",
        ],
    );
    assert_eq!(ids, expected);

    // A hub with one day only skips the other day's vectors, and counts them.
    let partial = TestDir::new();
    partial.import(&[&days[1]]);
    let text = ok(&partial, &["vectors", "import", file.to_str().unwrap()]);
    let held = partial.count() as usize;
    assert!(
        text.contains(&format!("{} for papers not in the catalog", total - held)),
        "{text}"
    );

    // Another model's vectors, or another dimension: refused, nothing stored.
    let bytes = std::fs::read(&file).unwrap();
    let header_end = bytes.iter().position(|&b| b == b'\n').unwrap();
    let header = String::from_utf8(bytes[..header_end].to_vec()).unwrap();
    let model = serde_json::from_str::<Value>(&header).unwrap()["model"]
        .as_str()
        .unwrap()
        .to_owned();
    for (from, to) in [
        (
            format!("\"model\":\"{model}\""),
            "\"model\":\"0123456789abcdef\"".to_owned(),
        ),
        ("\"dims\":384".to_owned(), "\"dims\":768".to_owned()),
    ] {
        let changed = header.replace(&from, &to);
        assert_ne!(changed, header);
        let mut bad = changed.into_bytes();
        bad.extend_from_slice(&bytes[header_end..]);
        let path = partial.file("bad.vec");
        std::fs::write(&path, bad).unwrap();
        let fresh = TestDir::new();
        fresh.import(&[&days[1]]);
        let (_, stderr, code) = run(&fresh, &["vectors", "import", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("cannot be compared"), "{stderr}");
        let text = ok(&fresh, &["index", "--limit", "0"]);
        assert!(text.contains("0 vectors in total"), "{text}");
    }
    // Not a vectors file at all.
    let (_, stderr, code) = run(&partial, &["vectors", "import", days[0].to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a paperhub vectors file"), "{stderr}");
}
