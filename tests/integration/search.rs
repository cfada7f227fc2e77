//! `paperhub index`, `search`, `similar` and `eval` on a small real corpus
//! with the real embedding model, and `paperhub eval beir` on a tiny BEIR
//! directory.

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

/// Runs `paperhub index`; returns stdout, asserting success.
fn index(t: &TestDir, args: &[&str]) -> String {
    let out = t.cmd().arg("index").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The number after `label` in `text`, e.g. "embedded" in "... 465 papers embedded".
fn count_before(text: &str, suffix: &str) -> u64 {
    let at = text
        .find(suffix)
        .unwrap_or_else(|| panic!("{suffix:?} not in {text}"));
    text[..at]
        .split_whitespace()
        .last()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn index_then_search_a_real_listing_day() {
    let t = TestDir::new();
    t.import(&[&fixture("listings/2025-03-18.jsonl.gz")]);
    let text = index(&t, &[]);
    assert!(
        text.contains(&format!("{} documents in total", t.count())),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} vectors in total", t.count())),
        "{text}"
    );

    // The paper whose title says it ranks first, in every mode.
    for mode in ["hybrid", "lexical", "semantic"] {
        let (ids, code, stderr) = search_ids(
            &t,
            &[
                "Industrial-Grade Sensor Simulation via Gaussian Splatting",
                "--mode",
                mode,
            ],
        );
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(ids[0], "2503.11731", "{mode}");
        assert!(!stderr.contains("using lexical"), "{mode}: {stderr}");
    }
    // A paraphrase in other words: the embeddings put the paper on top, and
    // the semantic ranking is not the lexical one.
    let paraphrase = "simulating the sensors of autonomous cars with editable 3D scenes";
    let (lexical, _, _) = search_ids(&t, &[paraphrase, "--mode", "lexical", "--limit", "5"]);
    let (semantic, _, _) = search_ids(&t, &[paraphrase, "--mode", "semantic", "--limit", "5"]);
    let (hybrid, _, _) = search_ids(&t, &[paraphrase, "--limit", "5"]);
    assert_eq!(semantic[0], "2503.11731", "{semantic:?}");
    assert_eq!(hybrid[0], "2503.11731", "{hybrid:?}");
    assert_ne!(semantic, lexical);

    // An id or URL goes straight to the paper.
    let (ids, _, _) = search_ids(&t, &["https://arxiv.org/abs/2503.11731v2"]);
    assert_eq!(ids, ["2503.11731"]);
    // Category filters hold in every mode.
    let store = t.store();
    for mode in ["hybrid", "lexical", "semantic"] {
        let (ids, _, _) = search_ids(
            &t,
            &[
                "gaussian splatting",
                "--category",
                "cs.RO",
                "--limit",
                "50",
                "--mode",
                mode,
            ],
        );
        assert!(!ids.is_empty(), "{mode}");
        for id in &ids {
            let paper = store.paper(&id.parse().unwrap()).unwrap().unwrap();
            assert!(
                paper.categories.iter().any(|c| c == "cs.RO"),
                "{mode}: {id}"
            );
        }
    }
    // Awkward input is never an error (exit 0 with hits, 1 without).
    let long = "transformer ".repeat(900);
    for query in [
        "\"unclosed",
        "au:",
        "((",
        "漢字 ünïcode",
        "-",
        "au:smith",
        long.as_str(),
    ] {
        for mode in ["hybrid", "semantic"] {
            let (_, code, stderr) = search_ids(&t, &[query, "--mode", mode]);
            assert!(code == 0 || code == 1, "{query:?}: {stderr}");
        }
    }

    // Similar papers: nearest neighbours by embedding, never the paper itself.
    let out = t
        .cmd()
        .args(["similar", "arXiv:2503.11731", "--limit", "5", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let similar = json["similar"].as_array().unwrap();
    assert_eq!(similar.len(), 5);
    assert!(similar.iter().all(|p| p["id"] != "2503.11731"));
    let scores: Vec<f64> = similar
        .iter()
        .map(|p| p["similarity"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let unknown = t.cmd().args(["similar", "2503.99999"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(1));

    // Incremental: only papers imported since the last run are indexed and embedded.
    t.import(&[&fixture("listings/2025-03-19.jsonl")]);
    let text = index(&t, &[]);
    let indexed = count_before(&text, "papers indexed");
    let embedded = count_before(&text, "papers embedded");
    assert!(indexed > 0 && indexed < t.count(), "{text}");
    assert_eq!(indexed, embedded, "{text}");
    assert!(
        text.contains(&format!("{} vectors in total", t.count())),
        "{text}"
    );
}

#[test]
fn without_embeddings_search_falls_back_to_lexical_and_says_so() {
    let t = TestDir::new();
    t.import(&[&fixture("listings/2025-03-19.jsonl")]);
    let text = index(&t, &["--lexical-only"]);
    assert!(!text.contains("Vector index"), "{text}");
    let (ids, code, stderr) = search_ids(&t, &["language models"]);
    assert_eq!(code, 0);
    assert!(!ids.is_empty());
    assert!(stderr.contains("using lexical (BM25) search"), "{stderr}");
    let similar = t.cmd().args(["similar", "2503.11731"]).output().unwrap();
    assert_eq!(similar.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&similar.stderr).contains("run `paperhub index`"));
}

#[test]
fn a_killed_index_run_resumes_without_embedding_twice() {
    let t = TestDir::new();
    // 703 papers: more than one batch of 512.
    t.import(&[
        &fixture("listings/2025-03-18.jsonl.gz"),
        &fixture("listings/2025-03-19.jsonl"),
        &fixture("listings/2025-03-21.jsonl"),
    ]);
    let total = t.count();
    assert!(total > 512, "{total}");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("paperhub"))
        .arg("--data-dir")
        .arg(t.data_dir())
        .arg("index")
        .env(
            "PAPERHUB__EMBEDDING__MODEL_DIR",
            crate::util::test_model_dir(),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first committed batch, then kill -9.
    let index_dir = t.data_dir().join("index");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    let committed = |dir: &std::path::Path| -> bool {
        std::fs::read_dir(dir).ok().is_some_and(|entries| {
            entries.flatten().any(|e| {
                std::fs::read_to_string(e.path().join("meta.json"))
                    .is_ok_and(|m| m.contains("\"rows\": 512"))
            })
        })
    };
    while !committed(&index_dir) {
        assert!(std::time::Instant::now() < deadline, "no batch committed");
        assert!(
            child.try_wait().unwrap().is_none(),
            "index finished before the kill"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let text = index(&t, &[]);
    assert_eq!(
        count_before(&text, "papers embedded"),
        total - 512,
        "{text}"
    );
    assert!(
        text.contains(&format!("{total} vectors in total")),
        "{text}"
    );
}

#[test]
fn eval_over_the_catalog_with_arxiv_id_qrels() {
    let t = TestDir::new();
    t.import(&[&fixture("listings/2025-03-18.jsonl.gz")]);
    index(&t, &[]);
    let queries = t.file("queries.jsonl");
    std::fs::write(
        &queries,
        concat!(
            "{\"_id\": \"q1\", \"text\": \"virtual cameras and lidar for testing self-driving cars\"}\n",
            "{\"_id\": \"q2\", \"text\": \"Industrial-Grade Sensor Simulation via Gaussian Splatting\"}\n",
        ),
    )
    .unwrap();
    let qrels = t.file("qrels.tsv");
    // Judgements may spell ids as versions or URLs.
    std::fs::write(
        &qrels,
        "query-id\tcorpus-id\tscore\nq1\thttps://arxiv.org/abs/2503.11731v1\t1\nq2\t2503.11731v2\t1\n",
    )
    .unwrap();
    let run = t.file("run.trec");
    for mode in ["semantic", "hybrid"] {
        let out = t
            .cmd()
            .arg("eval")
            .arg("--queries")
            .arg(&queries)
            .arg("--qrels")
            .arg(&qrels)
            .args(["--mode", mode, "--run-out"])
            .arg(&run)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(&format!("mode {mode}")), "{text}");
        assert!(text.contains("Recall@100 1.0000"), "{text}");
        let trec = std::fs::read_to_string(&run).unwrap();
        assert!(
            trec.lines().any(|l| l.starts_with("q2 Q0 2503.11731 1 ")),
            "{trec}"
        );
        assert_eq!(trec.lines().filter(|l| l.starts_with("q1 ")).count(), 100);
    }
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
    assert!(String::from_utf8_lossy(&again.stderr).contains("reusing the cached lexical index"));
}
