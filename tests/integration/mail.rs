//! Mail delivery against a real SMTP server on loopback (Python's aiosmtpd,
//! `scripts/smtp-sink.py`, installed by `scripts/install-smtp-sink`): what
//! arrives, 451-then-250 retries, 550 permanent failures that disable an
//! address, a sender killed between two mails, and snapshots of the
//! rendered mails with their volatile headers normalised.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use paperhub_store::{Frequency, NewSubscriber, Preferences, SubscriberId, SubscriberStatus};
use serde_json::Value;

use crate::util::TestDir;
use crate::web::seeded_dir;

/// A running `scripts/smtp-sink.py`; killed when dropped.
pub struct Sink {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
    pub dir: PathBuf,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sink {
    /// Starts the sink writing into `dir`, with extra fault-mode `args`.
    pub fn start(dir: &Path, args: &[&str]) -> Sink {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join("target/smtp-venv/bin/python");
        assert!(
            python.exists(),
            "no aiosmtpd: run scripts/install-smtp-sink (scripts/test does)"
        );
        let mut child = Command::new(python)
            .arg(root.join("scripts/smtp-sink.py"))
            .arg(dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("the SMTP sink did not start: {line:?}"))
            .trim()
            .parse()
            .unwrap();
        Sink {
            _stdin: child.stdin.take().unwrap(),
            child,
            port,
            dir: dir.to_owned(),
        }
    }

    /// The parsed messages received so far, in arrival order.
    pub fn messages(&self) -> Vec<Value> {
        let mut found: Vec<(u32, Value)> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                let n: u32 = name.strip_suffix(".json")?.parse().ok()?;
                let text = std::fs::read_to_string(self.dir.join(&name)).ok()?;
                Some((n, serde_json::from_str(&text).unwrap()))
            })
            .collect();
        found.sort_by_key(|(n, _)| *n);
        found.into_iter().map(|(_, v)| v).collect()
    }

    /// Waits up to 30 s for at least `n` messages.
    pub fn wait_for(&self, n: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waited for {n} mails, got {}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `PAPERHUB__MAIL__*` settings that send to this sink.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("TRANSPORT", "smtp".to_owned()),
            ("SMTP_HOST", "127.0.0.1".to_owned()),
            ("SMTP_PORT", self.port.to_string()),
            ("SMTP_SECURITY", "plain".to_owned()),
            ("FROM", "Paperhub <digest@hub.example.org>".to_owned()),
            ("RETRY_BASE_SECS", "0".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("PAPERHUB__MAIL__{k}"), v))
        .collect()
    }
}

/// A header's value (the first with that name).
pub fn header<'a>(mail: &'a Value, name: &str) -> &'a str {
    mail["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .and_then(|h| h[1].as_str())
        .unwrap_or_else(|| panic!("no {name} header in {mail}"))
}

/// The first URL in `text` starting with `prefix`.
pub fn link(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in {text}"));
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .next()
        .unwrap()
        .to_owned()
}

/// `paperhub` on `t` with the sink's settings.
fn cmd(t: &TestDir, sink: &Sink) -> assert_cmd::Command {
    let mut c = t.cmd();
    c.envs(sink.env());
    c
}

/// Runs `c` and requires success.
fn run_ok(c: &mut assert_cmd::Command) -> std::process::Output {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A digest's text has both sections and names the followed author.
pub fn assert_sections(text: &str, author: &str) {
    assert!(
        text.contains("FOR YOU") && text.contains("TRENDING"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Why: by {author}, whom you follow")),
        "{text}"
    );
}

fn subscribe(t: &TestDir, email: &str, extra: &[&str]) {
    run_ok(
        t.cmd()
            .args(["digest", "subscribe", "--confirmed", "--email", email])
            .args(extra),
    );
}

fn status(t: &TestDir) -> Value {
    let out = run_ok(
        t.cmd()
            .args(["digest", "status", "--json", "--recent", "100"]),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn digests_arrive_over_smtp_with_both_parts_headers_and_working_links() {
    let t = seeded_dir();
    let sink = Sink::start(&t.file("sink"), &[]);
    subscribe(
        &t,
        "reader@example.org",
        &[
            "--top",
            "3",
            "--query",
            "uncertainty calibration of large language models",
            "--category",
            "cs.RO",
            "--author",
            "Kyle Vedder",
        ],
    );
    subscribe(&t, "nothing@example.org", &["--top", "0"]);
    let out = run_ok(cmd(&t, &sink).args(["digest", "run", "--json"]));
    let mails = sink.wait_for(1);
    assert_eq!(mails.len(), 1, "an empty digest is not sent");
    let m = &mails[0];
    assert_eq!(m["rcpt_tos"][0], "reader@example.org");
    assert_eq!(m["mail_from"], "digest@hub.example.org");
    assert_eq!(m["content_type"], "multipart/alternative");
    let subject = header(m, "Subject");
    assert!(
        subject.starts_with("Paperhub daily digest, Fri 21 Mar 2025: "),
        "{subject}"
    );
    let text = m["text"].as_str().unwrap();
    let html = m["html"].as_str().unwrap();
    let count: usize = subject
        .rsplit(": ")
        .next()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        text.matches("\n   http://").count(),
        count,
        "the subject counts the papers listed"
    );
    assert_sections(text, "Kyle Vedder");
    assert!(text.contains("Why: new in cs.RO"), "{text}");
    assert!(
        text.contains("Why: matches your search \u{201c}uncertainty calibration of large language models\u{201d}"),
        "{text}"
    );
    assert!(html.contains("Toward Scalable, Flexible Scene Flow for Point Clouds</a>"));
    let unsubscribe = header(m, "List-Unsubscribe");
    assert!(unsubscribe.starts_with("<http://127.0.0.1:8080/email/unsubscribe?t="));
    assert_eq!(
        header(m, "List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    let id = header(m, "Message-ID");
    assert!(
        id.starts_with("<digest.") && id.ends_with("@hub.example.org>"),
        "{id}"
    );
    // The Message-ID is logged and shown; the address is not.
    let report = status(&t);
    let row = &report["recent"][0];
    assert_eq!(format!("<{}>", row["message_id"].as_str().unwrap()), id);
    assert_eq!(row["status"], "sent");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("reader@example.org"), "{stderr}");
    assert!(!report.to_string().contains("reader@example.org"));

    // Running again sends nothing more.
    let again = cmd(&t, &sink)
        .args(["digest", "run", "--json"])
        .output()
        .unwrap();
    assert!(again.status.success());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn a_451_is_retried_and_then_delivered() {
    let t = seeded_dir();
    let sink = Sink::start(&t.file("sink"), &["--tempfail", "2"]);
    subscribe(&t, "retry@example.org", &["--top", "2"]);
    run_ok(cmd(&t, &sink).args(["digest", "run", "--json"]));
    assert_eq!(sink.wait_for(1).len(), 1);
    let row = &status(&t)["recent"][0];
    assert_eq!(row["status"], "sent");
    assert_eq!(row["attempts"], 3, "two 451 answers, then 250");
}

#[test]
fn a_550_fails_permanently_and_repeated_failures_disable_the_address() {
    let t = seeded_dir();
    let sink = Sink::start(&t.file("sink"), &["--reject"]);
    subscribe(&t, "gone@example.org", &["--top", "2"]);
    let run = |period: &str| {
        cmd(&t, &sink)
            .env("PAPERHUB__MAIL__DISABLE_AFTER_HARD_FAILURES", "2")
            .args(["digest", "run", "--period", period])
            .output()
            .unwrap()
    };
    let first = run("daily");
    assert!(first.status.success());
    let s = status(&t);
    assert_eq!(s["counts"]["failed"], 1);
    assert_eq!(s["recent"][0]["attempts"], 1, "a 5xx is not retried");
    let error = s["recent"][0]["last_error"].as_str().unwrap();
    assert!(error.contains("550"), "{error}");
    assert!(
        !error.contains("gone@example.org"),
        "addresses are redacted: {error}"
    );
    let sub = |t: &TestDir| t.store().subscriber(SubscriberId(1)).unwrap().unwrap();
    assert_eq!(sub(&t).status, SubscriberStatus::Active);
    assert_eq!(sub(&t).hard_failures, 1);
    let weekly = Preferences {
        frequency: Frequency::Weekly,
        top_n: 2,
        interests: vec![],
    };
    t.store()
        .save_preferences(SubscriberId(1), &weekly, chrono::Utc::now())
        .unwrap();
    run("weekly");
    assert_eq!(sub(&t).status, SubscriberStatus::Disabled);
    assert!(sink.messages().is_empty());
}

#[test]
fn killing_the_sender_between_mails_loses_and_duplicates_nothing() {
    const N: usize = 6;
    const K: usize = 2;
    let t = seeded_dir();
    for i in 0..N {
        subscribe(&t, &format!("reader{i}@example.org"), &["--top", "2"]);
    }
    let queued = t
        .cmd()
        .args(["digest", "run", "--no-send", "--json"])
        .output()
        .unwrap();
    assert!(queued.status.success());
    let report: Value = serde_json::from_slice(&queued.stdout).unwrap();
    assert_eq!(report["queued"], N);

    let sink = Sink::start(&t.file("sink"), &["--hold-after", &K.to_string()]);
    let mut sender = Command::new(env!("CARGO_BIN_EXE_paperhub"))
        .arg("--data-dir")
        .arg(t.data_dir())
        .args(["digest", "send"])
        .envs(sink.env())
        .env("PAPERHUB__MAIL__SMTP_TIMEOUT_SECS", "600")
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

    // The killed sender held mail K+1 (the server stalled its delivery), so
    // the next sender leaves it alone until that lease expires...
    run_ok(cmd(&t, &sink).args(["digest", "send", "--json"]));
    assert_eq!(sink.wait_for(N - 1).len(), N - 1);
    let s = status(&t);
    assert_eq!(
        (s["counts"]["sent"].as_u64(), s["counts"]["queued"].as_u64()),
        (Some(N as u64 - 1), Some(1))
    );
    // ...and sends it once it has: move the expiry into the past instead of
    // waiting out the killed sender's lease (over an hour at its timeout).
    let expired =
        paperhub_sqlite::testing::expire_outbox_leases(&t.data_dir().join("paperhub.sqlite3"))
            .unwrap();
    assert_eq!(expired, 1, "one mail was held by the killed sender");
    run_ok(cmd(&t, &sink).args(["digest", "send", "--json"]));
    let mails = sink.wait_for(N);
    assert_eq!(mails.len(), N);
    let ids: BTreeSet<&str> = mails.iter().map(|m| header(m, "Message-ID")).collect();
    let to: BTreeSet<&str> = mails
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap())
        .collect();
    assert_eq!((ids.len(), to.len()), (N, N), "every mail once");
    let s = status(&t);
    assert_eq!(
        (s["counts"]["sent"].as_u64(), s["counts"]["queued"].as_u64()),
        (Some(N as u64), Some(0))
    );
}

/// Two `paperhub digest send` processes drain one outbox at the same time
/// (say, a cron job beside `paperhub serve`): each mail is claimed by one of
/// them, so every mail arrives exactly once. See: #13
#[test]
fn two_senders_draining_one_outbox_send_every_mail_once() {
    const N: usize = 40;
    let t = seeded_dir();
    let subscribers: Vec<NewSubscriber> = (0..N)
        .map(|i| NewSubscriber {
            email: format!("pair{i}@example.org"),
            frequency: Frequency::Daily,
            top_n: 2,
            interests: Vec::new(),
        })
        .collect();
    t.store()
        .add_confirmed_subscribers(&subscribers, chrono::Utc::now())
        .unwrap();
    let queued = run_ok(t.cmd().args(["digest", "run", "--no-send", "--json"]));
    let report: Value = serde_json::from_slice(&queued.stdout).unwrap();
    assert_eq!(report["queued"], N);

    let sink = Sink::start(&t.file("sink"), &[]);
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_paperhub"))
            .arg("--data-dir")
            .arg(t.data_dir())
            .args(["digest", "send", "--json"])
            .envs(sink.env())
            // 10 ms apart: the two drains overlap for the whole run.
            .env("PAPERHUB__MAIL__RATE_PER_MINUTE", "6000")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let senders = [spawn(), spawn()];
    let mut sent = Vec::new();
    for sender in senders {
        let out = sender.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        sent.push(report["sent"].as_u64().unwrap());
    }
    let mails = sink.messages();
    let ids: BTreeSet<&str> = mails.iter().map(|m| header(m, "Message-ID")).collect();
    let to: BTreeSet<&str> = mails
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        (mails.len(), ids.len(), to.len()),
        (N, N, N),
        "every mail exactly once (senders reported {sent:?})"
    );
    assert_eq!(sent.iter().sum::<u64>(), N as u64, "{sent:?}");
    let s = status(&t);
    assert_eq!(
        (s["counts"]["sent"].as_u64(), s["counts"]["queued"].as_u64()),
        (Some(N as u64), Some(0))
    );
}

/// Replaces what changes from run to run: dates, ids, boundaries, tokens.
fn normalise(raw: &str) -> String {
    let mut out = Vec::new();
    let mut boundary = None;
    for line in raw.lines() {
        let mut line = line.to_owned();
        if let Some(rest) = line.strip_prefix("Date: ") {
            line = line.replace(rest, "[date]");
        }
        if line.starts_with("Message-ID: ") {
            line = "Message-ID: <[id]@hub.example.org>".to_owned();
        }
        if let Some(b) = line.trim().strip_prefix("boundary=\"") {
            boundary = Some(b.trim_end_matches('"').to_owned());
        }
        if let Some(b) = &boundary {
            line = line.replace(b.as_str(), "[boundary]");
        }
        out.push(line);
    }
    // Tokens are `id.expiry.hmac`, wrapped by quoted-printable soft breaks.
    let joined = out.join("\n").replace("=\n", "");
    let re = |s: &str| {
        let mut result = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("?t=") {
            result.push_str(&rest[..i + 3]);
            rest = &rest[i + 3..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                .unwrap_or(rest.len());
            result.push_str("[token]");
            rest = &rest[end..];
        }
        result.push_str(rest);
        result
    };
    re(&joined)
}

#[test]
fn rendered_mails_match_snapshots() {
    let t = seeded_dir();
    let sink = Sink::start(&t.file("sink"), &[]);
    let out = cmd(&t, &sink)
        .args([
            "digest",
            "subscribe",
            "--email",
            "snap@example.org",
            "--top",
            "2",
            "--author",
            "Kyle Vedder",
            "--category",
            "cs.RO",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.store()
        .confirm_subscriber(SubscriberId(1), chrono::Utc::now())
        .unwrap();
    let out = cmd(&t, &sink).args(["digest", "run"]).output().unwrap();
    assert!(out.status.success());
    sink.wait_for(2);
    let raw = |n: u32| std::fs::read_to_string(sink.dir.join(format!("{n}.eml"))).unwrap();
    insta::assert_snapshot!("confirm_mail", normalise(&raw(1)));
    insta::assert_snapshot!("digest_mail", normalise(&raw(2)));
}

#[test]
fn serve_sends_the_daily_digest_by_itself() {
    let t = seeded_dir();
    let sink = Sink::start(&t.file("sink"), &[]);
    subscribe(
        &t,
        "daily@example.org",
        &["--top", "3", "--author", "Kyle Vedder"],
    );
    let mut serve = Command::new(env!("CARGO_BIN_EXE_paperhub"))
        .arg("--data-dir")
        .arg(t.data_dir())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .envs(sink.env())
        .env("PAPERHUB__SCHEDULE__ENABLED", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mails = sink.wait_for(1);
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(header(&mails[0], "Subject").starts_with("Paperhub daily digest, Fri 21 Mar 2025: "));
    assert!(
        mails[0]["text"]
            .as_str()
            .unwrap()
            .contains("Why: by Kyle Vedder")
    );
}

#[test]
fn the_file_transport_writes_eml_files_at_the_configured_rate() {
    let t = seeded_dir();
    for i in 0..4 {
        subscribe(&t, &format!("file{i}@example.org"), &["--top", "1"]);
    }
    let start = Instant::now();
    let out = t
        .cmd()
        .env("PAPERHUB__MAIL__RATE_PER_MINUTE", "200")
        .args(["digest", "run", "--json"])
        .output()
        .unwrap();
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<PathBuf> = std::fs::read_dir(t.data_dir().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    assert_eq!(files.len(), 4);
    // The files hold addresses: owner only. See: #13
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&t.data_dir().join("outbox")), 0o700);
        for file in &files {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }
    }
    let first = std::fs::read_to_string(&files[0]).unwrap();
    assert!(first.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    // 200 a minute is one every 300 ms: four mails span at least 900 ms.
    assert!(
        took >= Duration::from_millis(900),
        "sent too fast: {took:?}"
    );
}
