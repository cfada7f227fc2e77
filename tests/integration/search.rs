//! `paperhub index` and `paperhub search` on a small real corpus, and
//! `paperhub eval beir` on a tiny BEIR directory.

use serde_json::Value;

use crate::util::{TestDir, fixture};

/// Runs `search ARGS --json`; returns the ids, the exit code and stderr.
pub fn search_ids(t: &TestDir, args: &[&str]) -> (Vec<String>, i32, String) {
    let out = t
        .cmd()
        .arg("search")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let ids = json["papers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (ids, out.status.code().unwrap_or(-1), stderr)
}

#[test]
fn index_then_search_a_real_listing_day() {
    let t = TestDir::new();
    t.import(&[&fixture("listings/2025-03-18.jsonl.gz")]);
    let out = t.cmd().arg("index").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("{} documents in total", t.count())),
        "{text}"
    );

    // The paper whose title says it ranks first.
    let (ids, code, stderr) = search_ids(
        &t,
        &["Industrial-Grade Sensor Simulation via Gaussian Splatting"],
    );
    assert_eq!(code, 0);
    assert_eq!(ids[0], "2503.11731");
    assert!(
        stderr.contains("using lexical"),
        "the default hybrid mode says it falls back: {stderr}"
    );
    // An id or URL goes straight to the paper.
    let (ids, _, _) = search_ids(
        &t,
        &["https://arxiv.org/abs/2503.11731v2", "--mode", "lexical"],
    );
    assert_eq!(ids, ["2503.11731"]);
    // Category filter.
    let (ids, _, _) = search_ids(
        &t,
        &["gaussian splatting", "--category", "cs.RO", "--limit", "50"],
    );
    let store = t.store();
    use paperhub_db::CatalogStore;
    for id in &ids {
        let paper = store.paper(&id.parse().unwrap()).unwrap().unwrap();
        assert!(paper.categories.iter().any(|c| c == "cs.RO"), "{id}");
    }
    // Awkward input is never an error (exit 0 with hits, 1 without).
    for query in ["\"unclosed", "au:", "((", "漢字 ünïcode"] {
        let (_, code, stderr) = search_ids(&t, &[query]);
        assert!(code == 0 || code == 1, "{query:?}: {stderr}");
    }

    // Incremental: only papers imported since the last run are indexed.
    t.import(&[&fixture("listings/2025-03-19.jsonl")]);
    let out = t.cmd().arg("index").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let indexed: u64 = text
        .split(": ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(indexed > 0 && indexed < t.count(), "{text}");
    assert!(
        text.contains(&format!("{} documents in total", t.count())),
        "{text}"
    );
}

#[test]
fn eval_beir_prints_metrics_and_a_trec_run() {
    let t = TestDir::new();
    let beir = t.file("beir");
    std::fs::create_dir_all(beir.join("qrels")).unwrap();
    std::fs::write(
        beir.join("corpus.jsonl"),
        concat!(
            "{\"_id\": \"d1\", \"title\": \"Gaussian splatting\", \"text\": \"Real-time radiance field rendering.\"}\n",
            "{\"_id\": \"d2\", \"title\": \"Protein folding\", \"text\": \"Diffusion models design proteins.\"}\n",
            "{\"_id\": \"d3\", \"title\": \"Kernels\", \"text\": \"Gaussian processes for regression.\"}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        beir.join("queries.jsonl"),
        "{\"_id\": \"q1\", \"text\": \"radiance field rendering\"}\n{\"_id\": \"q2\", \"text\": \"protein design with diffusion\"}\n",
    )
    .unwrap();
    std::fs::write(
        beir.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n",
    )
    .unwrap();
    let run = t.file("run.trec");
    let out = t
        .cmd()
        .args(["eval", "beir"])
        .arg(&beir)
        .args(["--mode", "lexical", "--run-out"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("nDCG@10    1.0000"), "{text}");
    assert!(text.contains("MRR@10     1.0000"), "{text}");
    let trec = std::fs::read_to_string(run).unwrap();
    assert!(trec.starts_with("q1 Q0 d1 1 "), "{trec}");
    // A second run reuses the cached index.
    let again = t.cmd().args(["eval", "beir"]).arg(&beir).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("reusing the cached index"));
}
