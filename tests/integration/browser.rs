//! The real-browser end-to-end test: Debian's chromium, driven over the
//! W3C WebDriver protocol (chromedriver) by a small client on `ureq`,
//! against `paperhub serve` on a real data directory. It signs up, submits a
//! paper (fetched from a loopback arXiv API), upvotes it without a reload,
//! finds it on trending, searches for it, opens its page, subscribes to the
//! digest from the page's box, confirms from the mail a real SMTP server on
//! loopback caught, picks interests, receives a digest with trending and
//! personal sections, follows its link, unsubscribes with one click, and
//! checks the browser console stayed free of errors. A second test holds a
//! discussion: a comment with hostile markdown, a reply, an edit, the
//! curator hiding the reply, and the count on the daily list before and
//! after. Screenshots go to `target/e2e-screenshots/`. `scripts/install-browser` installs chromium
//! and chromedriver (`scripts/test` runs it).

use std::io::BufRead;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::mail::{Sink, assert_sections, header, link};
use crate::replay::{Reply, Server};
use crate::util::fixture;
use crate::web::seeded_dir;

/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Kills a child process when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A WebDriver session.
struct Driver {
    agent: ureq::Agent,
    base: String,
    shots: PathBuf,
}

impl Driver {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let result = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let mut res = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let v: Value = serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap();
        v["value"].clone()
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    fn find(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/click"), None);
    }

    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.call("GET", &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn source(&self) -> String {
        self.call("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn url(&self) -> String {
        self.call("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Polls `check` for up to 20 s.
    fn wait_for(&self, what: &str, check: impl Fn(&Driver) -> bool) {
        let start = Instant::now();
        while !check(self) {
            if start.elapsed() > Duration::from_secs(20) {
                self.screenshot("failed");
                panic!("timed out waiting for {what} at {}", self.url());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn screenshot(&self, name: &str) {
        let b64 = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Console entries at level SEVERE since the last call.
    fn console_errors(&self) -> Vec<String> {
        let logs = self.call("POST", "/se/log", Some(json!({ "type": "browser" })));
        logs.as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["level"] == "SEVERE")
            .map(|l| l["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

fn require(bin: &str) -> PathBuf {
    let path = Path::new("/usr/bin").join(bin);
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-browser (scripts/test does)",
        path.display()
    );
    path
}

/// `paperhub serve` on `data_dir` with `envs`, and its base URL; the
/// scheduler is off.
fn serve(data_dir: &Path, envs: impl IntoIterator<Item = (String, String)>) -> (Guard, String) {
    let mut hub = Guard(
        Command::new(env!("CARGO_BIN_EXE_paperhub"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .envs(envs)
            .env("PAPERHUB__SCHEDULE__ENABLED", "false")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = std::io::BufReader::new(hub.0.stderr.take().unwrap());
    let base = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "paperhub serve exited"
        );
        if let Some(rest) = line.strip_prefix("Paperhub is serving on ") {
            break rest
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches('/')
                .to_owned();
        }
    };
    std::thread::spawn(move || for _ in stderr.lines() {});
    (hub, base)
}

/// A headless chromium under chromedriver, with screenshots going to
/// `shots`; the guard stops the driver (and with it the browser).
fn browser(shots: PathBuf) -> ((Guard, tempfile::TempDir), Driver) {
    let chromium = require("chromium");
    let chromedriver = require("chromedriver");
    std::fs::create_dir_all(&shots).unwrap();
    let port = free_port();
    let driver = Guard(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent();
    let wd = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while agent.get(&format!("{wd}/status")).call().is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = tempfile::tempdir().unwrap();
    let caps = json!({ "capabilities": { "alwaysMatch": {
        "browserName": "chrome",
        "goog:loggingPrefs": { "browser": "ALL" },
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-quic", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    }}});
    let mut res = agent
        .post(&format!("{wd}/session"))
        .header("Content-Type", "application/json")
        .send(caps.to_string())
        .unwrap();
    let session: Value = serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap();
    let id = session["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {session}"))
        .to_owned();
    (
        (driver, profile),
        Driver {
            agent,
            base: format!("{wd}/session/{id}"),
            shots,
        },
    )
}

fn screenshots(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/e2e-screenshots")
        .join(name)
}

/// Requires the console to have held no errors, after proving it is
/// readable with a probe.
fn assert_console_clean(d: &Driver) {
    d.call(
        "POST",
        "/execute/sync",
        Some(json!({ "script": "console.error('paperhub-probe')", "args": [] })),
    );
    let errors = d.console_errors();
    assert!(
        errors.iter().any(|e| e.contains("paperhub-probe")),
        "the console log is not readable: {errors:?}"
    );
    let others: Vec<&String> = errors
        .iter()
        .filter(|e| !e.contains("paperhub-probe"))
        .collect();
    assert!(others.is_empty(), "console errors: {others:?}");
}

impl Driver {
    /// Signs up `name` and waits for their page.
    fn sign_up(&self, base: &str, name: &str) {
        let d = self;
        d.go(&format!("{base}/signup"));
        d.type_into("#username", name);
        d.type_into("#password", "a long enough password");
        d.click("main form button[type=submit]");
        d.wait_for("the user page", |d| {
            d.url().ends_with(&format!("/users/{name}"))
        });
    }
}

#[test]
fn discuss_a_paper_in_chromium_comment_reply_edit_hide_and_count() {
    let t = seeded_dir();
    let (_hub, base) = serve(&t.data_dir(), []);
    let (_browser, d) = browser(screenshots("discussion"));

    // The first account is the curator; it opens the discussion.
    d.sign_up(&base, "e2e-curator");
    d.go(&format!("{base}/"));
    let paper = d.call("POST", "/execute/sync", Some(json!({
        "script": "return document.querySelector('section[aria-labelledby=announced] article.paper h3 a').getAttribute('href')",
        "args": []
    })));
    let paper = paper.as_str().unwrap().to_owned();
    d.go(&format!("{base}{paper}"));
    d.type_into(
        "#new-comment",
        "**Worth reading.** See [the code](javascript:alert(1)) <img src=x onerror=alert(2)>",
    );
    d.click("form.comment-form button");
    d.wait_for("the comment", |d| d.source().contains("Discussion (1)"));
    assert_eq!(d.text("#discussion .comment-body strong"), "Worth reading.");
    // The markdown's source stays in the edit box as text; the rendered
    // body carries neither the script link nor the handler.
    let body = d.call(
        "POST",
        "/execute/sync",
        Some(json!({
            "script": "return document.querySelector('#discussion .comment-body').innerHTML",
            "args": []
        })),
    );
    let body = body.as_str().unwrap();
    assert!(
        !body.contains("javascript:") && !body.contains("onerror"),
        "{body}"
    );
    d.screenshot("1-commented");

    // Another reader replies, then edits the reply.
    d.click("form.inline[action='/logout'] button");
    d.wait_for("logged out", |d| d.source().contains("Log in"));
    d.sign_up(&base, "e2e-reader");
    d.go(&format!("{base}{paper}"));
    d.click("#discussion details.comment-reply summary");
    d.type_into(
        "#discussion details.comment-reply textarea",
        "I agree, *especially* section 3.",
    );
    d.click("#discussion details.comment-reply button");
    d.wait_for("the reply", |d| d.source().contains("Discussion (2)"));
    assert_eq!(
        d.text("#discussion article.reply .comment-body em"),
        "especially"
    );
    d.click("#discussion article.reply details.comment-edit summary");
    let area = "#discussion article.reply details.comment-edit textarea";
    let e = d.find(area);
    d.call("POST", &format!("/element/{e}/clear"), None);
    d.type_into(area, "I agree, *especially* section 4.");
    d.click("#discussion article.reply details.comment-edit button");
    d.wait_for("the edit", |d| d.source().contains("section 4."));
    assert!(d.text("#discussion article.reply .meta").contains("edited"));
    d.screenshot("2-replied-and-edited");

    // The list shows the count.
    d.go(&format!("{base}/"));
    d.wait_for("the count on the list", |d| {
        d.source()
            .contains(&format!("<a href=\"{paper}#discussion\">2 comments</a>"))
    });

    // The curator hides the reply: gone for everyone else, and from the count.
    d.click("form.inline[action='/logout'] button");
    d.wait_for("logged out", |d| d.source().contains("Log in"));
    d.go(&format!("{base}/login"));
    d.type_into("#username", "e2e-curator");
    d.type_into("#password", "a long enough password");
    d.click("main form button[type=submit]");
    d.wait_for("logged in", |d| d.source().contains("Log out"));
    d.go(&format!("{base}{paper}"));
    d.click("#discussion article.reply form.comment-moderate button[value=hide]");
    d.wait_for("the hidden mark", |d| {
        d.source().contains("hidden by the curators")
    });
    d.screenshot("3-hidden");
    d.click("form.inline[action='/logout'] button");
    d.wait_for("logged out", |d| d.source().contains("Log in"));
    d.go(&format!("{base}{paper}"));
    let html = d.source();
    assert!(
        !html.contains("section 4."),
        "a hidden reply showed to a visitor"
    );
    assert!(html.contains("Discussion (1)"));
    d.go(&format!("{base}/"));
    d.wait_for("the count without the hidden reply", |d| {
        d.source()
            .contains(&format!("<a href=\"{paper}#discussion\">1 comment</a>"))
    });
    d.screenshot("4-count");
    assert_console_clean(&d);
    d.call("DELETE", "", None);
}

#[test]
fn sign_up_submit_upvote_search_and_subscribe_to_the_digest_in_chromium() {
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-screenshots");

    // arXiv's API on loopback, answering with a real recorded response.
    let atom = std::fs::read(fixture("arxiv-api/id_list=1111.2011v2.xml")).unwrap();
    let arxiv = Server::start(move |_, _| Reply::ok(atom.clone()));

    // The hub, mailing through a real SMTP server on loopback.
    let t = seeded_dir();
    let sink = Sink::start(&t.file("sink"), &[]);
    let (_hub, base) = serve(
        &t.data_dir(),
        sink.env().into_iter().chain([
            (
                "PAPERHUB__HARVEST__CONTACT_EMAIL".to_owned(),
                "ops@example.org".to_owned(),
            ),
            (
                "PAPERHUB__HARVEST__API_BASE_URL".to_owned(),
                format!("{}/api/query", arxiv.base),
            ),
        ]),
    );

    let (_browser, d) = browser(shots);

    // Sign up.
    d.go(&format!("{base}/signup"));
    d.type_into("#username", "e2e-user");
    d.type_into("#password", "a long enough password");
    d.click("main form button[type=submit]");
    d.wait_for("the user page", |d| d.url().ends_with("/users/e2e-user"));
    d.screenshot("1-signed-up");

    // Submit a paper the catalog does not have.
    d.go(&format!("{base}/submit"));
    d.type_into("#paper", "https://arxiv.org/abs/1111.2011v2");
    d.click("main form button[type=submit]");
    d.wait_for("the submission", |d| d.source().contains("Thanks!"));
    d.screenshot("2-submitted");

    // Upvote it on its page, without a reload.
    d.go(&format!("{base}/papers/1111.2011"));
    assert!(
        d.text("h1")
            .starts_with("Quantum Criticality for Extended Nodes")
    );
    let before = d.url();
    d.click(".detail form.vote button");
    d.wait_for("the vote count", |d| {
        d.text(".detail form.vote button span") == "1"
    });
    assert_eq!(d.url(), before, "no navigation");
    d.screenshot("3-upvoted");

    // It trends.
    d.go(&format!("{base}/trending?window=day"));
    assert!(
        d.source().contains("/papers/1111.2011\""),
        "not on trending"
    );
    d.screenshot("4-trending");

    // Search finds it once the indexer has taken it in.
    d.wait_for("the paper in search results", |d| {
        d.go(&format!("{base}/"));
        d.type_into("form.search input", "quantum rotor Bethe lattice\u{E007}");
        d.source().contains("/papers/1111.2011\"")
    });
    d.screenshot("5-search");
    d.click("a[href='/papers/1111.2011']");
    d.wait_for("the paper page", |d| d.url().ends_with("/papers/1111.2011"));
    assert_eq!(
        d.text(".detail form.vote button span"),
        "1",
        "the vote stuck"
    );
    d.screenshot("6-paper");

    // Subscribe to the digest from the box on the page.
    d.go(&format!("{base}/"));
    d.type_into("#sub-email", "e2e-reader@example.org");
    d.click("form.subscribe button");
    d.wait_for("the subscribe answer", |d| {
        d.source().contains("Check your inbox")
    });
    d.screenshot("7-subscribe");

    // Confirm from the mail the SMTP server caught, then choose interests.
    let mails = sink.wait_for(1);
    assert_eq!(
        header(&mails[0], "Subject"),
        "Confirm your Paperhub digest subscription"
    );
    let confirm = link(
        mails[0]["text"].as_str().unwrap(),
        &format!("{base}/email/confirm?t="),
    );
    d.go(&confirm);
    d.wait_for("the confirm button", |d| {
        d.source().contains("Confirm my subscription")
    });
    d.click("#confirm");
    d.wait_for("the confirmation", |d| {
        d.source().contains("You are subscribed")
    });
    d.type_into("#queries", "scene flow estimation for point clouds");
    d.type_into("#authors", "Kyle Vedder");
    d.click("form.digest-prefs button[type=submit]");
    d.wait_for("saved preferences", |d| d.source().contains("Saved."));
    d.screenshot("8-preferences");

    // The daily digest, with trending and personal sections.
    let run = Command::new(env!("CARGO_BIN_EXE_paperhub"))
        .arg("--data-dir")
        .arg(t.data_dir())
        .args(["digest", "run"])
        .envs(sink.env())
        .env("PAPERHUB__WEB__PUBLIC_URL", &base)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mails = sink.wait_for(2);
    let digest = &mails[1];
    assert!(header(digest, "Subject").starts_with("Paperhub daily digest, Fri 21 Mar 2025: "));
    let text = digest["text"].as_str().unwrap();
    assert_sections(text, "Kyle Vedder");
    assert!(text.contains("Why: matches your search"), "{text}");
    // Its links work: open the first paper in the browser.
    let paper = link(digest["html"].as_str().unwrap(), &format!("{base}/papers/"));
    d.go(&paper);
    d.wait_for("the paper from the mail", |d| {
        d.url() == paper && d.source().contains("class=\"detail")
    });

    // One-click unsubscribe, as a mail client does it: a bare POST.
    let url = header(digest, "List-Unsubscribe")
        .trim_matches(['<', '>'])
        .to_owned();
    let mut res = d
        .agent
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send("List-Unsubscribe=One-Click")
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.body_mut()
            .read_to_string()
            .unwrap()
            .contains("You are unsubscribed")
    );

    // A phone-sized window.
    d.call(
        "POST",
        "/window/rect",
        Some(json!({ "width": 390, "height": 844 })),
    );
    d.go(&format!("{base}/"));
    d.screenshot("7-phone");

    assert_console_clean(&d);
    d.call("DELETE", "", None);
}

#[test]
fn build_a_library_in_chromium_save_import_export_and_import_again() {
    let t = seeded_dir();
    let atom = std::fs::read(fixture("arxiv-api/id_list=1111.2011v2.xml")).unwrap();
    let arxiv = Server::start(move |_, _| Reply::ok(atom.clone()));
    let (_hub, base) = serve(
        &t.data_dir(),
        [
            (
                "PAPERHUB__HARVEST__CONTACT_EMAIL".to_owned(),
                "ops@example.org".to_owned(),
            ),
            (
                "PAPERHUB__HARVEST__API_BASE_URL".to_owned(),
                format!("{}/api/query", arxiv.base),
            ),
        ],
    );
    let (_browser, d) = browser(screenshots("library"));
    d.sign_up(&base, "e2e-reader");

    // Save three papers from the daily list, without a reload.
    d.go(&format!("{base}/"));
    d.call(
        "POST",
        "/execute/sync",
        Some(json!({ "script": "window.notReloaded = true", "args": [] })),
    );
    let saved = |d: &Driver| {
        d.call(
            "POST",
            "/execute/sync",
            Some(json!({
                "script": "return document.querySelectorAll('section[aria-labelledby=announced] a.saved').length",
                "args": []
            })),
        )
    };
    for n in 1..=3 {
        d.click("section[aria-labelledby=announced] form.save button");
        d.wait_for("the card marked saved", |d| saved(d) == json!(n));
    }
    let still = d.call(
        "POST",
        "/execute/sync",
        Some(json!({ "script": "return window.notReloaded === true", "args": [] })),
    );
    assert_eq!(still, json!(true), "saving reloaded the page");
    d.screenshot("1-saved");
    d.go(&format!("{base}/library"));
    assert!(d.source().contains("3 papers"), "{}", d.source());

    // Import a .bib: one paper the catalog has, one arXiv must give, one
    // nobody has.
    let bib = t.file("mine.bib");
    std::fs::write(
        &bib,
        "@misc{have, title={x}, eprint={2503.15667}, archivePrefix={arXiv}, note={From Zotero}}\n\
         @misc{fetch, title={Quantum Criticality}, url={https://arxiv.org/abs/1111.2011}}\n\
         @article{none, title={A paper nobody has written at all}}\n",
    )
    .unwrap();
    d.type_into("#import-file", bib.to_str().unwrap());
    d.click("form.import-file button[type=submit]");
    d.wait_for("the import report", |d| d.source().contains("1 unmatched"));
    let report = d.text("main");
    assert!(
        report.contains("1 matched, 1 fetched from arXiv, 1 unmatched, 0 unreadable; 2 added"),
        "{report}"
    );
    assert!(
        report.contains("Line 3 (none): no arXiv id or DOI"),
        "{report}"
    );
    d.screenshot("2-imported");
    d.go(&format!("{base}/library/reading-list"));
    assert!(d.source().contains("5 papers"));
    assert!(d.source().contains("From Zotero</textarea>"));

    // For you: the week ranked from the library, each paper with its
    // reasons; "Not interested" takes a card away without a reload.
    d.click("nav[aria-label=Main] a[href='/for-you']");
    d.wait_for("the For you page", |d| d.url().ends_with("/for-you"));
    let page = d.text("main");
    assert!(
        page.contains("Ranked by a model learned from the 5 papers in your library"),
        "{page}"
    );
    assert!(page.contains("in your library"), "{page}");
    let first = |d: &Driver| {
        d.call(
            "POST",
            "/execute/sync",
            Some(json!({
                "script": "const a = document.querySelector('article.paper h3 a'); return a ? a.getAttribute('href') : null",
                "args": []
            })),
        )
    };
    let dismissed = first(&d);
    assert!(dismissed.is_string(), "no recommendation to dismiss");
    d.call(
        "POST",
        "/execute/sync",
        Some(json!({ "script": "window.notReloaded = true", "args": [] })),
    );
    d.click("article.paper form.dismiss button");
    d.wait_for("the card replaced by a note", |d| {
        d.source()
            .contains("For you will show fewer papers like this")
    });
    assert_ne!(first(&d), dismissed, "the dismissed card is still first");
    let still = d.call(
        "POST",
        "/execute/sync",
        Some(json!({ "script": "return window.notReloaded === true", "args": [] })),
    );
    assert_eq!(still, json!(true), "dismissing reloaded the page");
    d.screenshot("3-for-you");
    d.go(&format!("{base}/for-you"));
    let href = dismissed.as_str().unwrap_or_default();
    assert!(
        !d.source().contains(&format!("href=\"{href}\"")),
        "{href} came back"
    );
    assert!(d.text("main").contains("1 you marked not interested"));

    // Export it, then import the export into a new collection: nothing lost.
    let exported = d.call(
        "POST",
        "/execute/async",
        Some(json!({
            "script": "const done = arguments[arguments.length - 1]; fetch('/library/reading-list/export.bib').then(r => r.text()).then(done)",
            "args": []
        })),
    );
    let exported = exported.as_str().unwrap().to_owned();
    assert_eq!(exported.matches("@misc{").count(), 5, "{exported}");
    let again = t.file("again.bib");
    std::fs::write(&again, &exported).unwrap();
    d.go(&format!("{base}/library"));
    d.type_into("#new-name", "Round trip");
    d.click("form.new-collection button");
    d.wait_for("the new collection", |d| {
        d.url().ends_with("/library/round-trip")
    });
    d.go(&format!("{base}/library"));
    d.type_into("#import-file", again.to_str().unwrap());
    let select = d.find("#import-into");
    d.call(
        "POST",
        &format!("/element/{select}/value"),
        Some(json!({ "text": "Round trip" })),
    );
    d.click("form.import-file button[type=submit]");
    d.wait_for("the second report", |d| d.source().contains("5 added"));
    assert!(
        d.text("main")
            .contains("5 matched, 0 fetched from arXiv, 0 unmatched")
    );
    d.go(&format!("{base}/library/round-trip"));
    assert!(d.source().contains("5 papers"));
    assert!(
        d.source().contains("From Zotero</textarea>"),
        "the note came along"
    );
    d.screenshot("4-round-trip");
    assert_console_clean(&d);
    d.call("DELETE", "", None);
}
