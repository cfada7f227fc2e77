//! Two `paperhub serve` nodes, each with its own port and data directory,
//! on one real PostgreSQL (the throwaway cluster `scripts/test` starts):
//! what one node writes, the other serves; a scheduled harvest and a
//! digest run once between them; a node killed while it sends loses no
//! mail. Skipped without `PAPERHUB_TEST_DATABASE_URL` unless PostgreSQL is
//! required (`scripts/test`, hence CI, requires it).

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paperhub_postgres::testing::{FreshDb, server_url};
use serde_json::Value;

use crate::abuse::{cookie, csrf_field, raw};
use crate::harvest::{chain, page_for};
use crate::mail::{Sink, header};
use crate::replay::{Reply, Server};
use crate::util::{TestDir, fixture, read_text};

/// A running `paperhub serve`, killed when dropped.
struct Node {
    addr: SocketAddr,
    child: Child,
    log: Arc<Mutex<String>>,
    dir: TestDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `paperhub` on `dir` against the shared database.
fn paperhub(dir: &TestDir, db: &FreshDb) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paperhub"));
    c.arg("--data-dir")
        .arg(dir.data_dir())
        .env("PAPERHUB__DATABASE__URL", &db.url)
        .env("PAPERHUB__DATABASE__POOL_SIZE", "4");
    c
}

fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Node {
    fn start(db: &FreshDb, env: &[(&str, String)], args: &[&str]) -> Node {
        let dir = TestDir::new();
        let mut child = paperhub(&dir, db)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .env("PAPERHUB__SCHEDULE__ENABLED", "false")
            .env("PAPERHUB__WEB__SIGNUPS_PER_IP_PER_HOUR", "100")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(String::new()));
        let addr = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("serve exited: {}", log.lock().unwrap()))
                .unwrap();
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(rest) = line.strip_prefix("Paperhub is serving on http://") {
                break rest.split('/').next().unwrap().parse().unwrap();
            }
        };
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Node {
            addr,
            child,
            log,
            dir,
        }
    }

    fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, String) {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        raw(self.addr, head.as_bytes(), Duration::from_secs(60))
    }

    fn get(&self, target: &str, cookies: &str) -> (u16, String, String) {
        self.request("GET", target, &[("Cookie", cookies)], "")
    }

    fn json(&self, target: &str) -> Value {
        let (status, _, body) = self.get(target, "");
        assert_eq!(status, 200, "{target}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Waits up to `secs` for a line containing `text` in the node's log.
    fn wait_for_log(&self, text: &str, secs: u64) -> String {
        let start = Instant::now();
        loop {
            let log = self.log.lock().unwrap().clone();
            if log.contains(text) {
                return log;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "no {text:?} after {secs} s in:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A fresh database with the listing fixtures imported, or `None` when
/// PostgreSQL tests are skipped.
fn seeded_db() -> Option<FreshDb> {
    let db = FreshDb::new(&server_url()?);
    let t = TestDir::new();
    run_ok(paperhub(&t, &db).args(["import"]).args([
        fixture("listings/2025-03-19.jsonl"),
        fixture("listings/2025-03-21.jsonl"),
    ]));
    Some(db)
}

/// Whether a keyword search for `query` (URL-encoded) on `node` finds `id`.
fn search_finds(node: &Node, query: &str, id: &str) -> bool {
    let hits = node.json(&format!("/api/v1/papers/search?q={query}&mode=lexical"));
    hits["papers"]
        .as_array()
        .is_some_and(|p| p.iter().any(|p| p["id"] == id))
}

/// Signs `name` up through `node`; returns its session cookie.
fn sign_up(node: &Node, name: &str) -> String {
    let (_, head, body) = node.get("/signup", "");
    let anon = cookie(&head, "ph_csrf").unwrap();
    let form = format!(
        "username={name}&password=correct+horse+battery&csrf={}",
        csrf_field(&body)
    );
    let (status, head, body) = node.request(
        "POST",
        "/signup",
        &[
            ("Cookie", &format!("ph_csrf={anon}")),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &form,
    );
    assert_eq!(status, 303, "{body}");
    cookie(&head, "ph_session").unwrap()
}

#[test]
fn two_nodes_share_sessions_votes_and_new_papers() {
    let Some(db) = seeded_db() else { return };
    let atom = std::fs::read(fixture("arxiv-api/id_list=1111.2011v2.xml")).unwrap();
    let arxiv = Server::start(move |_, _| Reply::ok(atom.clone()));
    let env = [
        (
            "PAPERHUB__HARVEST__CONTACT_EMAIL",
            "ops@example.org".to_owned(),
        ),
        (
            "PAPERHUB__HARVEST__API_BASE_URL",
            format!("{}/api/query", arxiv.base),
        ),
    ];
    let a = Node::start(&db, &env, &[]);
    let b = Node::start(&db, &env, &[]);

    // A session made on A is signed in on B, and a CSRF token from A's
    // page is good on B: both nodes sign with the database's key.
    let session = sign_up(&a, "ada");
    let cookies = format!("ph_session={session}");
    let (status, _, page) = b.get("/settings", &cookies);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("ada"), "B knows the session: {page}");
    let (_, _, page_a) = a.get("/settings", &cookies);
    let csrf = csrf_field(&page_a);

    // A vote through A is in B's API at once.
    let paper = "2503.14505";
    let before = b.json(&format!("/api/v1/papers/{paper}"));
    let (status, _, body) = a.request(
        "PUT",
        &format!("/api/v1/papers/{paper}/vote"),
        &[("Cookie", &cookies), ("X-CSRF-Token", &csrf)],
        "",
    );
    assert_eq!(status, 200, "{body}");
    let after = b.json(&format!("/api/v1/papers/{paper}"));
    assert_eq!(
        after["paper"]["upvotes"].as_u64(),
        before["paper"]["upvotes"].as_u64().map(|v| v + 1),
        "{after}"
    );

    // A paper fetched from arXiv by a submission through B (with A's CSRF
    // token) is searchable on A within 30 s.
    let (status, _, body) = b.request(
        "POST",
        "/api/v1/papers",
        &[
            ("Cookie", &cookies),
            ("X-CSRF-Token", &csrf),
            ("Content-Type", "application/json"),
        ],
        r#"{"id": "1111.2011"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let start = Instant::now();
    while !search_finds(&a, "Bethe+lattice+extended+nodes", "1111.2011") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not searchable on A after 30 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!("searchable on the other node after {:?}", start.elapsed());
}

#[test]
fn a_harvest_and_a_digest_run_once_between_two_nodes() {
    let Some(url) = server_url() else { return };
    let db = FreshDb::new(&url);
    let pages = chain();
    let oai = Server::start(move |target, _| {
        if target.starts_with("/rss/") {
            Reply::ok(read_text(&fixture("rss/cs.AI+cs.LG-2025-12-02.xml")))
        } else {
            page_for(target, &pages)
        }
    });
    let env = [
        ("PAPERHUB__SCHEDULE__ENABLED", "true".to_owned()),
        (
            "PAPERHUB__HARVEST__CONTACT_EMAIL",
            "ops@example.org".to_owned(),
        ),
        (
            "PAPERHUB__HARVEST__OAI_BASE_URL",
            format!("{}/oai", oai.base),
        ),
        (
            "PAPERHUB__HARVEST__RSS_BASE_URL",
            format!("{}/rss", oai.base),
        ),
        ("PAPERHUB__HARVEST__METADATA_PREFIX", "arXiv".to_owned()),
        ("PAPERHUB__HARVEST__SETS", "[\"cs\"]".to_owned()),
        (
            "PAPERHUB__HARVEST__CATEGORIES",
            "[\"cs.AI\", \"cs.LG\"]".to_owned(),
        ),
        ("PAPERHUB__MAIL__DIGESTS_ENABLED", "false".to_owned()),
    ];
    let a = Node::start(&db, &env, &["--harvest-now"]);
    let b = Node::start(&db, &env, &["--harvest-now"]);
    // Both schedule their next harvest only once the slot's harvest is done.
    let logs = [
        a.wait_for_log("next harvest at ", 120),
        b.wait_for_log("next harvest at ", 120),
    ];
    let harvested = logs.iter().filter(|l| l.contains("harvest done")).count();
    let waited = logs
        .iter()
        .filter(|l| l.contains("was done by another node"))
        .count();
    assert_eq!((harvested, waited), (1, 1), "{logs:?}");
    // Each page once in all: three OAI pages and one RSS feed.
    let requests = oai.requests();
    let mut per_target: BTreeMap<String, usize> = BTreeMap::new();
    for r in &requests {
        *per_target.entry(r.clone()).or_default() += 1;
    }
    assert!(per_target.values().all(|n| *n == 1), "{per_target:#?}");
    assert_eq!(requests.len(), 4, "{requests:#?}");
    // Both nodes index the harvest, B though it wrote none of it.
    for node in [&a, &b] {
        let start = Instant::now();
        while !search_finds(node, "Warping+and+Supersymmetry+Breaking", "0704.4001") {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the harvest is not searchable on a node"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    // A digest run started on both nodes at once: one mail per subscriber.
    let sink = Sink::start(&a.dir.file("sink"), &[]);
    const N: usize = 5;
    for i in 0..N {
        run_ok(
            paperhub(&a.dir, &db)
                .args([
                    "digest",
                    "subscribe",
                    "--confirmed",
                    "--top",
                    "3",
                    "--email",
                ])
                .arg(format!("reader{i}@example.org")),
        );
    }
    let runs: Vec<_> = [&a, &b]
        .iter()
        .map(|node| {
            paperhub(&node.dir, &db)
                .args(["digest", "run", "--json"])
                .envs(sink.env())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut queued = 0;
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The run's report, then the send's.
        let report: Value = serde_json::Deserializer::from_slice(&out.stdout)
            .into_iter()
            .next()
            .unwrap()
            .unwrap();
        queued += report["queued"].as_u64().unwrap();
    }
    assert_eq!(queued, N as u64, "queued once in all");
    let mails = sink.wait_for(N);
    std::thread::sleep(Duration::from_secs(1));
    let mails_now = sink.messages();
    assert_eq!(mails_now.len(), N, "no second mail");
    let to: BTreeSet<&str> = mails
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap())
        .collect();
    assert_eq!(to.len(), N);
}

#[test]
fn a_node_killed_while_it_sends_loses_no_mail() {
    const N: usize = 6;
    const K: usize = 2;
    let Some(db) = seeded_db() else { return };
    let (a, b) = (TestDir::new(), TestDir::new());
    for i in 0..N {
        run_ok(
            paperhub(&a, &db)
                .args([
                    "digest",
                    "subscribe",
                    "--confirmed",
                    "--top",
                    "2",
                    "--email",
                ])
                .arg(format!("reader{i}@example.org")),
        );
    }
    // Lexical indexes on both nodes' data directories, for the digest.
    for dir in [&a, &b] {
        run_ok(paperhub(dir, &db).args(["index", "--lexical-only"]));
    }
    let report: Value = serde_json::from_str(&run_ok(paperhub(&a, &db).args([
        "digest",
        "run",
        "--no-send",
        "--json",
    ])))
    .unwrap();
    assert_eq!(report["queued"], N);

    // Node A sends until the server stalls mail K+1, and is killed there.
    let sink = Sink::start(&a.file("sink"), &["--hold-after", &K.to_string()]);
    let mut sender = paperhub(&a, &db)
        .args(["digest", "send"])
        .envs(sink.env())
        .env("PAPERHUB__MAIL__SMTP_TIMEOUT_SECS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !sink.dir.join("held").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the sink never held"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    sender.kill().unwrap(); // SIGKILL: no clean-up runs
    sender.wait().unwrap();
    assert_eq!(sink.messages().len(), K);

    // Node B sends the rest at once, and the held mail when A's lease on
    // it runs out (70 s with a one-second SMTP timeout).
    let start = Instant::now();
    loop {
        run_ok(paperhub(&b, &db).args(["digest", "send"]).envs(sink.env()));
        if sink.messages().len() >= N {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{} of {N} mails after 120 s",
            sink.messages().len()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    let mails = sink.messages();
    assert_eq!(mails.len(), N, "nothing lost, nothing twice");
    let ids: BTreeSet<&str> = mails.iter().map(|m| header(m, "Message-ID")).collect();
    let to: BTreeSet<&str> = mails
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap())
        .collect();
    assert_eq!((ids.len(), to.len()), (N, N));
}
