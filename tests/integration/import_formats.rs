//! Every real format imports, and the catalog keeps what the issue demands:
//! exact counts, idempotent re-imports, earliest listing dates, all versions.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use paperhub_domain::ArxivId;
use serde_json::Value;

use crate::util::{TestDir, fixture, int, read_text, repo};

/// Ids and earliest listing date per id, computed straight from the files.
fn expected_listing_dates(dir: &std::path::Path) -> BTreeMap<String, NaiveDate> {
    let mut expected = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let date = NaiveDate::parse_from_str(&name[..10], "%Y-%m-%d").unwrap();
        for line in read_text(&path).lines().filter(|l| !l.trim().is_empty()) {
            let record: Value = serde_json::from_str(line).unwrap();
            let id = record["id"].as_str().unwrap().to_owned();
            let entry = expected.entry(id).or_insert(date);
            *entry = (*entry).min(date);
        }
    }
    expected
}

#[test]
fn daily_listings_exact_count_idempotent_and_earliest_date() {
    let t = TestDir::new();
    let dir = fixture("listings");
    let expected = expected_listing_dates(&dir);
    let (first, code, stderr) = t.import(&[&dir]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(int(&first, "new"), expected.len() as u64);
    assert_eq!(int(&first, "skipped"), 0);
    assert_eq!(t.count(), expected.len() as u64);

    let (again, code, _) = t.import(&[&dir]);
    assert_eq!(code, 0);
    assert_eq!(int(&again, "new"), 0);
    assert_eq!(int(&again, "updated"), 0);
    assert_eq!(int(&again, "unchanged"), int(&first, "records"));

    let store = t.store();
    for (id, date) in &expected {
        let paper = store
            .paper(&id.parse::<ArxivId>().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(paper.announced, Some(*date), "{id}");
    }
}

#[test]
fn listings_imported_newest_first_keep_the_earliest_date() {
    let t = TestDir::new();
    // The 03-22 and 03-23 files repeat 03-21's listing; import them alone
    // first, then the older file: the older date must win.
    t.import(&[&fixture("listings/2025-03-23.jsonl.zst")]);
    let (summary, _, _) = t.import(&[&fixture("listings/2025-03-21.jsonl")]);
    assert_eq!(int(&summary, "new"), 0);
    assert!(int(&summary, "updated") > 0);
    let first_id = read_text(&fixture("listings/2025-03-21.jsonl"))
        .lines()
        .next()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .unwrap();
    let paper = t
        .store()
        .paper(&first_id.parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(paper.announced, NaiveDate::from_ymd_opt(2025, 3, 21));
}

#[test]
fn listing_categories_are_split_from_msc_classes() {
    let t = TestDir::new();
    t.import(&[&fixture("listings/2025-03-18.jsonl.gz")]);
    let paper = t
        .store()
        .paper(&"2503.13354".parse().unwrap())
        .unwrap()
        .unwrap();
    assert!(
        paper
            .categories
            .iter()
            .all(|c| paperhub_domain::is_category(c))
    );
    assert_eq!(paper.msc_class.as_deref(), Some("68U10, 90C26"));
}

#[test]
fn oai_pmh_arxivsync_pages_give_3000_records_with_every_version() {
    let t = TestDir::new();
    let (summary, code, stderr) = t.import(&[&fixture("oai-pmh")]);
    assert_eq!(code, 0, "{stderr}");
    // 3,000 from the arxivsync pages plus the smaller real responses.
    let store = t.store();
    let raw = read_text(&fixture(
        "oai-pmh/listrecords_arXivRaw_2014-01-16_token-496549-47001.xml.gz",
    ));
    let ids: Vec<&str> = raw
        .split("<id>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 1000);
    let mut versions = 0;
    for id in &ids {
        let paper = store.paper(&id.parse().unwrap()).unwrap().unwrap();
        assert!(paper.versions.iter().all(|v| v.date.is_some()), "{id}");
        versions += paper.versions.len();
    }
    assert_eq!(versions, raw.matches("<version version=").count());
    assert_eq!(versions, 1522);

    let t2 = TestDir::new();
    let pages: Vec<_> = [
        "listrecords_arXiv_2013-05-24_token-436115-5001.xml.gz",
        "listrecords_arXiv_2013-05-25_token-436115-406001.xml.gz",
        "listrecords_arXivRaw_2014-01-16_token-496549-47001.xml.gz",
    ]
    .iter()
    .map(|p| fixture(&format!("oai-pmh/{p}")))
    .collect();
    let refs: Vec<&std::path::Path> = pages.iter().map(|p| p.as_path()).collect();
    let (summary3, code, _) = t2.import(&refs);
    assert_eq!(code, 0);
    assert_eq!(int(&summary3, "records"), 3000);
    assert_eq!(int(&summary3, "new"), 3000);
    assert_eq!(t2.count(), 3000);
    // The directory run also read the error responses without failing.
    assert!(int(&summary, "failed_inputs") >= 1);
}

#[test]
fn oai_arxiv_format_keeps_structured_authors() {
    let t = TestDir::new();
    t.import(&[&fixture(
        "oai-pmh/listrecords_arXiv_2013-05-24_token-436115-5001.xml.gz",
    )]);
    let paper = t
        .store()
        .paper(&"0704.4001".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(paper.title, "Warping and Supersymmetry Breaking");
    assert_eq!(paper.authors[0].last.as_deref(), Some("Douglas"));
    assert_eq!(paper.authors[0].first.as_deref(), Some("Michael R."));
    assert_eq!(paper.report_no.as_deref(), Some("RUNHETC-07-05"));
}

#[test]
fn snapshot_sample_imports_all_fields() {
    let t = TestDir::new();
    let (summary, code, _) = t.import(&[&fixture("snapshot/arxiv-metadata-oai-snapshot.json")]);
    assert_eq!(code, 0);
    assert_eq!(int(&summary, "new"), 200);
    let out = t
        .cmd()
        .args(["papers", "show", "0704.0001", "--json"])
        .output()
        .unwrap();
    let paper: Value = serde_json::from_slice(&out.stdout).unwrap();
    let paper = &paper["paper"];
    assert_eq!(paper["version"], 2);
    assert_eq!(paper["authors"][0]["name"], "C. Balázs");
    assert_eq!(paper["journal_ref"], "Phys.Rev.D76:013009,2007");
    assert_eq!(paper["doi"], "10.1103/PhysRevD.76.013009");
    assert_eq!(paper["submitted"], "2007-04-02T19:18:42Z");
    assert_eq!(paper["updated"], "2007-07-24T20:10:27Z");
    assert_eq!(paper["abs_url"], "https://arxiv.org/abs/0704.0001");
}

#[test]
fn atom_feeds_old_and_current_format() {
    let t = TestDir::new();
    let (summary, _, stderr) = t.import(&[&fixture("arxiv-api")]);
    // The HTTP 400 error feed is reported as a failed input, nothing else fails.
    assert_eq!(int(&summary, "failed_inputs"), 1, "{stderr}");
    assert!(
        stderr.contains("arXiv API error: incorrect id format for abc"),
        "{stderr}"
    );
    assert_eq!(int(&summary, "skipped"), 0);
    let store = t.store();
    let old = store.paper(&"1111.2011".parse().unwrap()).unwrap().unwrap();
    assert_eq!(old.version, Some(2));
    assert_eq!(old.doi.as_deref(), Some("10.1103/PhysRevB.85.115117"));
    let current = store
        .paper(&"2512.13690".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(current.primary_category.as_deref(), Some("cs.CV"));
    assert_eq!(
        current.comments.as_deref(),
        Some("Project page: https://susunghong.github.io/DiffusionBrowser")
    );
    let recorded = store.paper(&"2104.12255".parse().unwrap()).unwrap();
    assert!(
        recorded.is_some(),
        "recorded exchange body was not imported"
    );
}

#[test]
fn abs_files_versions_latin1_and_tex_breaks() {
    let t = TestDir::new();
    let (summary, _, stderr) = t.import(&[&fixture("abs")]);
    assert_eq!(int(&summary, "skipped"), 0, "{stderr}");
    // The empty file is one failed input with a clear sentence.
    assert!(
        stderr.contains("math-ph-0509037-empty.abs: the file is empty"),
        "{stderr}"
    );
    let store = t.store();
    let paper = store
        .paper(&"hep-th/9901001".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(paper.version, Some(3));
    assert_eq!(paper.versions.len(), 3);
    let latin1 = store
        .paper(&"1607.08199".parse().unwrap())
        .unwrap()
        .unwrap();
    assert!(!latin1.abstract_text.contains('\u{fffd}'));
    let tex = store
        .paper(&"2103.11058".parse().unwrap())
        .unwrap()
        .unwrap();
    assert!(tex.abstract_text.contains("\\\\"), "TeX line break lost");
    assert!(tex.abstract_text.len() > 1000);
}

#[test]
fn all_fixture_formats_together_and_again() {
    let t = TestDir::new();
    let root = fixture("");
    t.import(&[&root]);
    let (again, _, _) = t.import(&[&root]);
    assert_eq!(int(&again, "new"), 0);
    assert_eq!(int(&again, "updated"), 0, "{again}");
}

#[test]
fn stdin_import() {
    let t = TestDir::new();
    let input = std::fs::read(fixture("listings/2025-03-22.jsonl.gz")).unwrap();
    let out = t
        .cmd()
        .args(["import", "--json", "-"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(out.status.success());
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: HashSet<String> = read_text(&fixture("listings/2025-03-22.jsonl.gz"))
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(int(&summary, "new"), ids.len() as u64);
}

#[test]
fn demo_corpus_is_a_few_thousand_real_papers_under_10_mb() {
    let demo = repo("data/demo");
    let size: u64 = std::fs::read_dir(&demo)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(size <= 10 * 1024 * 1024, "demo corpus is {size} bytes");
    let expected = expected_listing_dates(&demo);
    assert!(expected.len() >= 2000, "only {} papers", expected.len());
    let t = TestDir::new();
    let out = t
        .cmd()
        .arg("demo")
        .arg("--corpus")
        .arg(&demo)
        // Embedding 5,704 papers takes minutes; search tests cover embeddings.
        .arg("--lexical-only")
        .arg("--no-serve")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(t.count(), expected.len() as u64);
}
