//! Harvesting against a local replay of real arXiv responses: paging, errors,
//! politeness and crash safety. Nothing here touches the internet.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use paperhub::app::store::SharedStore;
use paperhub::config::HarvestConfig;
use paperhub::harvest::{self, Silent, oai::OaiRequest};
use paperhub_arxiv::PoliteClient;

use crate::replay::{FakeClock, Reply, Server, gaps};
use crate::util::{TestDir, fixture, int, read_text};

const PAGE1: &str = "oai-pmh/listrecords_arXiv_2013-05-24_token-436115-5001.xml.gz";
const PAGE2: &str = "oai-pmh/listrecords_arXiv_2013-05-25_token-436115-406001.xml.gz";
const PAGE3: &str = "oai-pmh/listrecords_arXivRaw_2014-01-16_token-496549-47001.xml.gz";

/// The three real arxivsync pages as one chain: first request → page 1,
/// token 436115|5001 → page 2, token 436115|406001 → page 3. Page 3's own
/// token is emptied so the chain ends there (a constructed edit).
pub(crate) fn chain() -> [String; 3] {
    let last = read_text(&fixture(PAGE3))
        .replace(">496549|47001</resumptionToken>", "></resumptionToken>");
    [read_text(&fixture(PAGE1)), read_text(&fixture(PAGE2)), last]
}

pub(crate) fn page_for(target: &str, pages: &[String; 3]) -> Reply {
    if target.contains("resumptionToken=436115%7C5001") {
        Reply::ok(pages[1].clone())
    } else if target.contains("resumptionToken=436115%7C406001") {
        Reply::ok(pages[2].clone())
    } else if target.contains("resumptionToken=") {
        Reply::ok(read_text(&fixture(
            "oai-pmh/ErrorResponseBadResumptionToken.xml",
        )))
    } else {
        Reply::ok(pages[0].clone())
    }
}

fn harvest_config(base: &str, min_interval_secs: u64) -> HarvestConfig {
    HarvestConfig {
        contact_email: "harvest-test@example.org".into(),
        oai_base_url: format!("{base}/oai"),
        rss_base_url: format!("{base}/rss"),
        api_base_url: format!("{base}/api/query"),
        min_interval_secs,
        max_retries: 3,
        max_backoff_secs: 60,
        request_timeout_secs: 10,
        ..HarvestConfig::default()
    }
}

/// A harvest configuration for `server` and a client on the fake clock.
fn fake_client(server: &Server, min_interval_secs: u64) -> (HarvestConfig, PoliteClient) {
    let config = harvest_config(&server.base, min_interval_secs);
    let client = harvest::client(&config, FakeClock::new(&server.log)).unwrap();
    (config, client)
}

fn request(config: &HarvestConfig) -> OaiRequest {
    OaiRequest {
        base_url: config.oai_base_url.clone(),
        set: "cs".into(),
        metadata_prefix: "arXiv".into(),
        from: Some("2013-05-01".into()),
        until: None,
    }
}

fn store(t: &TestDir) -> SharedStore {
    std::fs::create_dir_all(t.data_dir()).unwrap();
    paperhub::app::store::open_sqlite(&t.data_dir().join("paperhub.sqlite3")).unwrap()
}

/// Ids of a page, in order.
fn ids(page: &str) -> Vec<String> {
    page.split("<header>")
        .skip(1)
        .map(|h| {
            let id = h
                .split("<identifier>")
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap();
            id.trim_start_matches("oai:arXiv.org:").to_owned()
        })
        .collect()
}

/// `paperhub --data-dir … harvest ARGS` against `server`, with a contact email.
fn harvest_command(t: &TestDir, server: &Server, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paperhub"));
    cmd.arg("--data-dir")
        .arg(t.data_dir())
        .env(
            "PAPERHUB__HARVEST__OAI_BASE_URL",
            format!("{}/oai", server.base),
        )
        .env("PAPERHUB__HARVEST__CONTACT_EMAIL", "ops@example.org")
        .env("PAPERHUB__HARVEST__METADATA_PREFIX", "arXiv")
        .arg("harvest")
        .args(args);
    cmd
}

#[test]
fn cli_harvest_of_the_three_page_chain_imports_3000_records_in_order() {
    let pages = chain();
    let server = Server::start(move |target, _| page_for(target, &pages));
    let t = TestDir::new();
    let out = harvest_command(
        &t,
        &server,
        &["--set", "cs", "--from", "2013-05-01", "--json"],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(int(&report, "records"), 3000);
    assert_eq!(int(&report, "new"), 3000);
    assert_eq!(int(&report, "pages"), 3);

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    // The real clock, default settings: at least 3 s between requests.
    let gaps = server.real_gaps();
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(2990)),
        "{gaps:?}"
    );
    assert!(
        requests[0].contains("verb=ListRecords")
            && requests[0].contains("metadataPrefix=arXiv")
            && requests[0].contains("set=cs")
            && requests[0].contains("from=2013-05-01"),
        "{}",
        requests[0]
    );
    let user_agents: Vec<String> = server
        .log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            crate::replay::Event::Request(_, ua, _) => Some(ua.clone()),
            crate::replay::Event::Sleep(_) => None,
        })
        .collect();
    assert!(
        user_agents
            .iter()
            .all(|ua| ua.contains("paperhub/") && ua.contains("mailto:ops@example.org"))
    );

    // "In order": papers were stored page by page, in chain order (the
    // change feed lists them in the order they were written).
    let feed: Vec<String> = t
        .store()
        .changed_papers(None, 100_000)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p.id.base().to_owned())
        .collect();
    let row = |id: &str| feed.iter().position(|f| f == id).unwrap();
    let chain = chain();
    let [p1, p2, p3] = [ids(&chain[0]), ids(&chain[1]), ids(&chain[2])];
    assert!(row(p1.last().unwrap()) < row(&p2[0]));
    assert!(row(p2.last().unwrap()) < row(&p3[0]));

    // The window is complete: the next harvest starts from the response date.
    let state = t
        .store()
        .harvest_state("oai", "cs", "arXiv")
        .unwrap()
        .unwrap();
    assert_eq!(state.resumption_token, None);
    assert_eq!(state.last_complete.as_deref(), Some("2014-01-16"));

    // The next harvest of the set starts from there.
    let again = harvest_command(&t, &server, &["--set", "cs"])
        .output()
        .unwrap();
    assert!(again.status.success());
    let requests = server.requests();
    assert!(requests[3].contains("from=2014-01-16"), "{}", requests[3]);
    assert_eq!(t.count(), 3000);
}

#[test]
fn requests_are_spaced_three_seconds_apart_on_the_test_clock() {
    let pages = chain();
    let server = Server::start(move |target, _| page_for(target, &pages));
    let t = TestDir::new();
    let store = store(&t);
    let (config, client) = fake_client(&server, 3);
    let started = Instant::now();
    let report =
        harvest::oai::harvest(store.as_ref(), &client, &request(&config), &mut Silent).unwrap();
    assert_eq!(report.records, 3000);
    let gaps = gaps(&server.log);
    assert_eq!(gaps.len(), 2);
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_secs(3)),
        "{gaps:?}"
    );
    // The test clock waited; the real one did not.
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[test]
fn retry_after_429_and_a_dropped_connection_are_retried() {
    let pages = chain();
    let server = Server::start(move |target, n| match n {
        0 => Reply::status(503).header("Retry-After", "120"),
        1 => Reply::status(429),
        2 => {
            let mut reply = page_for(target, &pages);
            reply.cut_after = Some(10_000); // connection dropped mid-body
            reply
        }
        _ => page_for(target, &pages),
    });
    let t = TestDir::new();
    let store = store(&t);
    let (config, client) = fake_client(&server, 3);
    let report =
        harvest::oai::harvest(store.as_ref(), &client, &request(&config), &mut Silent).unwrap();
    assert_eq!(report.records, 3000);
    assert_eq!(store.count_papers().unwrap(), 3000);
    let gaps = gaps(&server.log);
    // Retry-After: 120 was honoured before the second request.
    assert!(gaps[0] >= Duration::from_secs(120), "{gaps:?}");
    // Backoff after 429 and after the dropped body, never below the spacing.
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_secs(3)),
        "{gaps:?}"
    );
    assert_eq!(server.requests().len(), 6);
}

#[test]
fn malformed_page_is_fetched_again() {
    let pages = chain();
    let server = Server::start(move |target, n| {
        if n == 1 {
            // Page 2 truncated: no closing tags, no resumption token.
            let full = page_for(target, &pages).body;
            Reply::ok(full[..full.len() / 2].to_vec())
        } else {
            page_for(target, &pages)
        }
    });
    let t = TestDir::new();
    let store = store(&t);
    let (config, client) = fake_client(&server, 0);
    let report =
        harvest::oai::harvest(store.as_ref(), &client, &request(&config), &mut Silent).unwrap();
    assert_eq!(store.count_papers().unwrap(), 3000);
    assert!(
        report.notes.iter().any(|n| n.contains("malformed page")),
        "{:?}",
        report.notes
    );
}

#[test]
fn bad_resumption_token_restarts_the_window_and_no_records_match_is_empty() {
    let pages = chain();
    let server = Server::start(move |target, n| {
        if n == 1 {
            Reply::ok(read_text(&fixture(
                "oai-pmh/ErrorResponseBadResumptionToken.xml",
            )))
        } else {
            page_for(target, &pages)
        }
    });
    let t = TestDir::new();
    let store = store(&t);
    let (config, client) = fake_client(&server, 0);
    let report =
        harvest::oai::harvest(store.as_ref(), &client, &request(&config), &mut Silent).unwrap();
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("badResumptionToken"))
    );
    assert_eq!(store.count_papers().unwrap(), 3000);
    let requests = server.requests();
    assert!(
        requests[2].contains("metadataPrefix"),
        "the window restarts from the top: {requests:?}"
    );

    let empty = Server::start(|_, _| {
        Reply::ok(read_text(&fixture(
            "oai-pmh/ErrorResponseNoRecordsMatch.xml",
        )))
    });
    let (empty_config, client) = fake_client(&empty, 0);
    let mut math = request(&empty_config);
    math.set = "math".into();
    let report = harvest::oai::harvest(store.as_ref(), &client, &math, &mut Silent).unwrap();
    assert_eq!(report.records, 0);
    assert!(report.notes.iter().any(|n| n.contains("noRecordsMatch")));
    let state = store
        .harvest_state("oai", "math", "arXiv")
        .unwrap()
        .unwrap();
    assert!(
        state.last_complete.is_some(),
        "an empty window is a complete window"
    );
}

#[test]
fn kill_9_between_pages_then_rerun_stores_exactly_the_chain() {
    let pages = chain();
    let server = Server::start(move |target, n| {
        let mut reply = page_for(target, &pages);
        if n == 2 {
            // Hold page 3 so the test can kill the harvester while it waits.
            reply.delay = Duration::from_secs(3);
        }
        reply
    });
    let t = TestDir::new();
    let args = ["--set", "cs", "--from", "2013-05-01"];
    let mut child = harvest_command(&t, &server, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while server.requests().len() < 3 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let after_kill = t.count();
    assert_eq!(
        after_kill, 2000,
        "pages 1 and 2 were stored before the kill"
    );
    let state = t
        .store()
        .harvest_state("oai", "cs", "arXiv")
        .unwrap()
        .unwrap();
    assert_eq!(state.resumption_token.as_deref(), Some("436115|406001"));

    let rerun = harvest_command(&t, &server, &args).output().unwrap();
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    assert_eq!(t.count(), 3000);
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        4,
        "the rerun resumed at page 3: {requests:?}"
    );
    assert!(requests[3].contains("resumptionToken=436115%7C406001"));

    // The same catalog as an uninterrupted run.
    let pages = chain();
    let reference = Server::start(move |target, _| page_for(target, &pages));
    let t2 = TestDir::new();
    let store2 = store(&t2);
    let (config, client) = fake_client(&reference, 0);
    harvest::oai::harvest(store2.as_ref(), &client, &request(&config), &mut Silent).unwrap();
    let store1 = t.store();
    for page in chain() {
        for id in ids(&page) {
            let id = id.parse().unwrap();
            assert_eq!(store1.paper(&id).unwrap(), store2.paper(&id).unwrap());
        }
    }
}

#[test]
fn rss_announcements_set_the_listing_day_and_empty_feeds_are_normal() {
    let server = Server::start(|target, _| {
        if target.contains("weekend") {
            Reply::ok(read_text(&fixture(
                "rss/cs.AI+cs.LG-2025-12-06-weekend.xml",
            )))
        } else {
            Reply::ok(read_text(&fixture("rss/cs.AI+cs.LG-2025-12-02.xml")))
        }
    });
    let t = TestDir::new();
    let store = store(&t);
    let (config, client) = fake_client(&server, 0);
    let categories = vec!["cs.AI".to_owned(), "cs.LG".to_owned()];
    let report = harvest::rss::harvest(
        store.as_ref(),
        &client,
        &config.rss_base_url,
        &categories,
        &mut Silent,
    )
    .unwrap();
    assert_eq!(report.records, 3);
    assert_eq!(server.requests()[0], "/rss/cs.AI+cs.LG");
    let day = chrono::NaiveDate::from_ymd_opt(2025, 12, 2);
    let new = store
        .paper(&"2511.21697".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(new.announced, day);
    let cross = store
        .paper(&"2511.22288".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(cross.announced, day);
    let replaced = store.paper(&"0704.0001".parse().unwrap()).unwrap().unwrap();
    assert_eq!(
        replaced.announced, None,
        "a replacement is not a new announcement"
    );

    let weekend = harvest::rss::harvest(
        store.as_ref(),
        &client,
        &format!("{}/weekend", config.rss_base_url),
        &categories,
        &mut Silent,
    )
    .unwrap();
    assert_eq!(weekend.records, 0);
    assert!(
        weekend.notes[0].contains("weekend or holiday"),
        "{:?}",
        weekend.notes
    );
}

#[test]
fn api_ids_and_the_400_error_feed() {
    let server = Server::start(|target, _| {
        let recorded = if target.contains("abc") {
            "arxiv-api/recorded-id-abc-error.json"
        } else {
            "arxiv-api/recorded-id-2104.12255v1.json"
        };
        let exchange: serde_json::Value =
            serde_json::from_str(&read_text(&fixture(recorded))).unwrap();
        Reply {
            status: exchange["status_code"].as_u64().unwrap() as u16,
            ..Reply::ok(exchange["body"].as_str().unwrap().to_owned())
        }
    });
    let t = TestDir::new();
    let store = store(&t);
    let (config, client) = fake_client(&server, 0);
    let ids = harvest::api::ApiQuery::Ids(vec!["2104.12255v1".parse().unwrap()]);
    let report = harvest::api::harvest(
        store.as_ref(),
        &client,
        &config.api_base_url,
        &ids,
        &mut Silent,
    )
    .unwrap();
    assert_eq!(report.new, 1);
    assert!(server.requests()[0].contains("id_list=2104.12255v1"));

    // The HTTP 400 error feed becomes an error with arXiv's message.
    let search = harvest::api::ApiQuery::Search {
        query: "id_list=abc".into(),
        max: 10,
    };
    let err = harvest::api::harvest(
        store.as_ref(),
        &client,
        &config.api_base_url,
        &search,
        &mut Silent,
    )
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("incorrect id format for abc"),
        "{err:#}"
    );

    // An invalid id is refused before any request.
    let out = t
        .cmd()
        .env("PAPERHUB__HARVEST__API_BASE_URL", &config.api_base_url)
        .env("PAPERHUB__HARVEST__CONTACT_EMAIL", "ops@example.org")
        .args(["harvest", "--source", "api", "--id", "abc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid arXiv id 'abc'"), "{stderr}");
}

#[test]
fn harvest_refuses_to_run_without_a_contact_email() {
    let t = TestDir::new();
    let out = t
        .cmd()
        .env_remove("PAPERHUB__HARVEST__CONTACT_EMAIL")
        .arg("harvest")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("harvest.contact_email"));
}

#[test]
fn serve_schedules_the_next_harvest_and_says_when() {
    let t = TestDir::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_paperhub"))
        .arg("--data-dir")
        .arg(t.data_dir())
        .env("PAPERHUB__HARVEST__CONTACT_EMAIL", "ops@example.org")
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    for _ in 0..20 {
        line.clear();
        std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        if line.starts_with("next harvest at ") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.starts_with("next harvest at "), "{line}");
    assert!(line.contains("America/New_York"), "{line}");
}

#[test]
fn config_show_prints_the_effective_configuration() {
    let t = TestDir::new();
    let file = t.file("paperhub.toml");
    std::fs::write(
        &file,
        "[harvest]\ncontact_email = \"ops@example.org\"\nsets = [\"stat\"]\n",
    )
    .unwrap();
    let out = t
        .cmd()
        .arg("--config")
        .arg(&file)
        .env("PAPERHUB__HARVEST__MIN_INTERVAL_SECS", "10")
        .args(["config", "show"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("sets = [\"stat\"]"), "{text}");
    assert!(text.contains("min_interval_secs = 10"), "{text}");
    assert!(
        text.contains("contact_email = \"ops@example.org\""),
        "{text}"
    );

    std::fs::write(&file, "[harvest]\nsetz = [\"stat\"]\n").unwrap();
    let out = t
        .cmd()
        .arg("--config")
        .arg(&file)
        .args(["config", "show"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("setz"));
}

/// Papers the indexer reported indexing, over all its runs.
fn indexed(log: &str) -> u64 {
    log.lines()
        .filter_map(|l| {
            l.strip_prefix("indexed ")?
                .strip_suffix(" new or changed papers")
        })
        .filter_map(|n| n.parse::<u64>().ok())
        .sum()
}

#[test]
fn serve_harvest_now_harvests_indexes_then_schedules() {
    let pages = chain();
    let server = Server::start(move |target, _| {
        if target.starts_with("/rss/") {
            Reply::ok(read_text(&fixture("rss/cs.AI+cs.LG-2025-12-02.xml")))
        } else {
            page_for(target, &pages)
        }
    });
    let t = TestDir::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_paperhub"))
        .arg("--data-dir")
        .arg(t.data_dir())
        .env(
            "PAPERHUB__HARVEST__OAI_BASE_URL",
            format!("{}/oai", server.base),
        )
        .env(
            "PAPERHUB__HARVEST__RSS_BASE_URL",
            format!("{}/rss", server.base),
        )
        .env("PAPERHUB__HARVEST__CONTACT_EMAIL", "ops@example.org")
        .env("PAPERHUB__HARVEST__METADATA_PREFIX", "arXiv")
        .env("PAPERHUB__HARVEST__SETS", "[\"cs\"]")
        .env("PAPERHUB__HARVEST__CATEGORIES", "[\"cs.AI\", \"cs.LG\"]")
        .args(["serve", "--harvest-now", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut text = String::new();
    loop {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() == 0 {
            break;
        }
        text.push_str(&line);
        // The harvest thread schedules the next run while the indexer
        // thread indexes what it brought (following the store, it may
        // start before the harvest ends); wait for both.
        if text.contains("next harvest at ") && indexed(&text) >= 3003 {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // 3,000 OAI records plus the three RSS papers (none of them is in the pages).
    assert!(text.contains("harvest done"), "{text}");
    assert_eq!(indexed(&text), 3003, "{text}");
    assert!(text.contains("next harvest at "), "{text}");
    let (ids, code, _) = crate::search::search_ids(
        &t,
        &["Warping and Supersymmetry Breaking", "--mode", "lexical"],
    );
    assert_eq!(code, 0);
    assert_eq!(ids[0], "0704.4001");
}
