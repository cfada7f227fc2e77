//! Library import and export through `paperhub library`: a BibTeX file
//! with entries matched by arXiv id, DOI and title, one fetched from a
//! loopback arXiv API (a recorded response), one unmatched and one broken;
//! then each export read by an independent parser (Python's bibtexparser
//! and rispy, installed by scripts/install-bib-tools), and each export
//! imported again into another account with nothing lost.

use std::path::Path;
use std::process::Command;

use chrono::Utc;
use serde_json::{Value, json};

use crate::replay::{Reply, Server};
use crate::util::{TestDir, fixture};

const BIB: &str = r#"% A Zotero-style export.
@misc{by_id,
  title = {{DiffPortrait360}: Consistent Portrait Diffusion for 360 View Synthesis},
  author = {Gu, Yuming and Tran, Phong},
  eprint = {2503.15667}, archivePrefix = {arXiv},
  note = {Check the \{back-of-head\} module.
Second line of the note.},
}

@article{by_doi,
  title = {Calculation of prompt diphoton production cross sections},
  author = {Bal{\'a}zs, C.},
  journal = {Phys. Rev. D}, year = 2007,
  doi = {https://doi.org/10.1103/physrevd.76.013009},
}

@inproceedings{by_title,
  title = "Bridging Continuous and Discrete Tokens for {Autoregressive} Visual Generation",
  author = "Wang, Yuqing",
}

@misc{fetched,
  title = {Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit},
  url = {https://arxiv.org/abs/1111.2011v2},
}

@article{unmatched,
  title = {A paper nobody has written},
  doi = {10.9999/none},
}

@article{broken,
  title = {Unclosed,
"#;

fn library(t: &TestDir, args: &[&str], api: &str) -> std::process::Output {
    t.cmd()
        .arg("library")
        .args(args)
        .env("PAPERHUB__HARVEST__CONTACT_EMAIL", "ops@example.org")
        .env("PAPERHUB__HARVEST__API_BASE_URL", api)
        .output()
        .unwrap()
}

fn report(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn hows(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_owned(),
                e["how"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn import_matches_fetches_and_reports_and_exports_read_back_losslessly() {
    let t = TestDir::new();
    let (_, code, stderr) = t.import(&[
        &fixture("listings/2025-03-21.jsonl"),
        &fixture("snapshot/arxiv-metadata-oai-snapshot.json"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let store = t.store();
    for name in ["ada", "bob"] {
        store.create_user(name, None, "x", Utc::now()).unwrap();
    }
    drop(store);
    let atom = std::fs::read(fixture("arxiv-api/id_list=1111.2011v2.xml")).unwrap();
    let arxiv = Server::start(move |_, _| Reply::ok(atom.clone()));
    let api = format!("{}/api/query", arxiv.base);
    let bib = t.file("mine.bib");
    std::fs::write(&bib, BIB).unwrap();

    let r = report(&library(
        &t,
        &["import", "--user", "ada", "--json", bib.to_str().unwrap()],
        &api,
    ));
    assert_eq!(
        hows(&r["matched"]),
        [
            ("by_id".to_owned(), "arXiv id".to_owned()),
            ("by_doi".to_owned(), "DOI".to_owned()),
            ("by_title".to_owned(), "title".to_owned()),
        ],
        "{r:#}"
    );
    assert_eq!(r["fetched"][0]["key"], "fetched");
    assert_eq!(r["fetched"][0]["paper"], "1111.2011");
    assert_eq!(r["unmatched"][0]["key"], "unmatched");
    assert_eq!(r["unmatched"][0]["line"], 27);
    assert!(
        r["unmatched"][0]["how"]
            .as_str()
            .unwrap()
            .contains("10.9999/none")
    );
    assert_eq!(r["bad"][0]["key"], "broken");
    assert_eq!(r["bad"][0]["line"], 32);
    assert_eq!(
        (r["added"].clone(), r["collection"].clone()),
        (json!(4), json!("reading-list"))
    );
    // Importing again adds nothing.
    let again = report(&library(
        &t,
        &["import", "--user", "ada", "--json", bib.to_str().unwrap()],
        &api,
    ));
    assert_eq!(
        (again["added"].clone(), again["already"].clone()),
        (json!(0), json!(4))
    );

    // What ada's reading list holds, as the store has it.
    let store = t.store();
    let ada = store.user_by_name("ada").unwrap().unwrap();
    let list = store.collection(ada.id, "reading-list").unwrap().unwrap();
    let (items, _) = store.saved_papers(list.id, 0, 10).unwrap();
    let mut expected: Vec<Value> = items
        .iter()
        .map(|i| {
            let p = store.paper(&i.paper.parse().unwrap()).unwrap().unwrap();
            json!({ "arxiv": i.paper, "title": p.title, "note": i.note })
        })
        .collect();
    expected.sort_by_key(|e| e["arxiv"].as_str().unwrap().to_owned());
    let note = items.iter().find(|i| i.paper == "2503.15667").unwrap();
    assert_eq!(
        note.note,
        "Check the {back-of-head} module.\nSecond line of the note."
    );
    drop(store);

    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bib-venv/bin/python");
    assert!(
        python.exists(),
        "run scripts/install-bib-tools (scripts/test does)"
    );
    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bib-check.py");
    for format in ["bib", "ris", "json"] {
        let file = t.file(&format!("export.{format}"));
        let out = library(
            &t,
            &[
                "export",
                "--user",
                "ada",
                "--format",
                format,
                "-o",
                file.to_str().unwrap(),
            ],
            &api,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let check = Command::new(&python)
            .arg(&checker)
            .arg(&file)
            .arg(format)
            .arg(Value::Array(expected.clone()).to_string())
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{format}: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok 4");

        // Into bob's library, into a collection named after the format.
        let store = t.store();
        let bob = store.user_by_name("bob").unwrap().unwrap();
        store
            .create_collection(
                bob.id,
                format,
                format,
                false,
                paperhub::app::library::LIMITS,
                Utc::now(),
            )
            .unwrap();
        drop(store);
        let back = report(&library(
            &t,
            &[
                "import",
                "--user",
                "bob",
                "--collection",
                format,
                "--no-fetch",
                "--json",
                file.to_str().unwrap(),
            ],
            &api,
        ));
        assert_eq!(
            back["matched"].as_array().unwrap().len(),
            4,
            "{format}: {back:#}"
        );
        assert!(
            back["unmatched"].as_array().unwrap().is_empty()
                && back["bad"].as_array().unwrap().is_empty()
        );
        let store = t.store();
        let c = store.collection(bob.id, format).unwrap().unwrap();
        let (items, _) = store.saved_papers(c.id, 0, 10).unwrap();
        let mut got: Vec<Value> = items
            .iter()
            .map(|i| {
                let p = store.paper(&i.paper.parse().unwrap()).unwrap().unwrap();
                json!({ "arxiv": i.paper, "title": p.title, "note": i.note })
            })
            .collect();
        got.sort_by_key(|e| e["arxiv"].as_str().unwrap().to_owned());
        assert_eq!(got, expected, "{format} round trip");
    }
}
