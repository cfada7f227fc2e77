//! `kill -9` during a large import leaves whole batches only, and the same
//! import run again completes it without duplicates.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{TestDir, int};

const RECORDS: u64 = 100_000;
const BATCH: u64 = 1000;

/// A snapshot-format file of distinct small papers.
fn write_snapshot(path: &std::path::Path) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..RECORDS {
        let month = 1 + (i / 99_999) as u32;
        let number = 1 + i % 99_999;
        writeln!(
            f,
            r#"{{"id":"25{month:02}.{number:05}","submitter":"A","authors":"Ada Lovelace and Alan Turing","title":"Paper {i} on crash safety","comments":null,"journal-ref":null,"doi":null,"report-no":null,"categories":"cs.DB cs.LG","license":null,"abstract":"  We study what survives a kill -9 during bulk import number {i}.\n","versions":[{{"version":"v1","created":"Mon, 2 Apr 2007 19:18:42 GMT"}}],"update_date":"2008-11-26","authors_parsed":[["Lovelace","Ada",""],["Turing","Alan",""]]}}"#
        )
        .unwrap();
    }
}

fn count_rows(db: &std::path::Path) -> u64 {
    paperhub::app::store::open_sqlite(db)
        .and_then(|s| Ok(s.count_papers()?))
        .unwrap_or(0)
}

#[test]
fn kill_9_mid_import_then_rerun_completes_without_duplicates() {
    let t = TestDir::new();
    let input = t.file("snapshot.json");
    write_snapshot(&input);
    let db = t.data_dir().join("paperhub.sqlite3");

    let mut child = Command::new(env!("CARGO_BIN_EXE_paperhub"))
        .arg("--data-dir")
        .arg(t.data_dir())
        .args(["import", "--batch-size", &BATCH.to_string()])
        .arg(&input)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut seen = 0;
    while started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
        if db.exists() {
            seen = count_rows(&db);
            if seen >= 3 * BATCH {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(seen > 0, "import made no progress before the kill");

    assert_eq!(
        paperhub_sqlite::testing::integrity_check(&db).unwrap(),
        "ok"
    );
    let after_kill = count_rows(&db);
    assert!(
        after_kill < RECORDS,
        "the kill came too late to test anything"
    );
    assert_eq!(
        after_kill % BATCH,
        0,
        "a partial batch was committed: {after_kill}"
    );
    let store = paperhub::app::store::open_sqlite(&db).unwrap();
    let running = store
        .import_runs(10)
        .unwrap()
        .into_iter()
        .filter(|r| r.status == paperhub_store::ImportStatus::Running)
        .count();
    assert_eq!(running, 1, "the killed run stays visible as unfinished");
    drop(store);

    let (summary, code, stderr) = t.import(&[&input]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(int(&summary, "new"), RECORDS - after_kill);
    assert_eq!(int(&summary, "unchanged"), after_kill);
    assert_eq!(count_rows(&db), RECORDS);
    // Every id once: the change feed lists each paper once.
    let feed = paperhub::app::store::open_sqlite(&db)
        .unwrap()
        .changed_papers(None, u32::MAX)
        .unwrap();
    let distinct: std::collections::BTreeSet<String> =
        feed.iter().map(|(_, p)| p.id.base().to_owned()).collect();
    assert_eq!(
        (feed.len() as u64, distinct.len() as u64),
        (RECORDS, RECORDS)
    );
}
