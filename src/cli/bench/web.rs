//! `paperhub bench web`: the hub under load, measured by `wrk` on loopback.
//!
//! Seeds community activity once (bench users, votes spread over the last
//! week, submissions), serves the data directory in this process, then runs
//! `wrk --latency` against the daily page, trending, paper pages (rotating
//! over many papers) and the search page (rotating over many distinct
//! queries, so no cache can carry it), and reports p50/p99 and requests per
//! second. It also weighs the daily page (HTML plus the stylesheet).
//! `wrk` comes from Debian (`scripts/install-browser --with-wrk`).

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use paperhub_domain::ArxivId;
use paperhub_store::SubmitRequest;

use crate::config::Config;
use crate::data_dir::DataDir;

/// Options of `bench web`.
#[derive(Debug, Clone, clap::Args)]
pub struct WebBenchArgs {
    /// Seconds per endpoint.
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    pub connections: u32,
    /// Bench users to seed (each votes on 20 papers).
    #[arg(long, default_value_t = 500)]
    pub users: u32,
    /// Days the seeded votes spread over (back from now), and at least the
    /// catalog days (back from its latest) whose papers get them.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Signed-in users the for-you page rotates through, each with a
    /// library of 20 papers. Above the ranking cache's 2,000 every visit
    /// is a first visit, which ranks.
    #[arg(long, default_value_t = 20)]
    pub for_you_users: u32,
    /// Only endpoints whose name contains this (e.g. search).
    #[arg(long)]
    pub only: Option<String>,
}

/// A small deterministic generator, so every run seeds the same votes.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

fn seed(
    data_dir: &DataDir,
    config: &Config,
    users: u32,
    days: u32,
) -> Result<(Vec<String>, Vec<String>)> {
    let store = crate::app::store::open(data_dir, &config.database)?;
    let latest = store.latest_day()?.context("the catalog is empty")?;
    // Papers of the latest month (or `days`), newest first.
    let window = i64::from(days.max(31));
    let wanted = 3000 * usize::try_from(window / 31).unwrap_or(1).clamp(1, 12);
    let mut ids = Vec::new();
    let mut day = latest;
    while ids.len() < wanted && (latest - day).num_days() < window {
        let listing = store.listing(
            &paperhub_store::ListQuery {
                from: day,
                to: day,
                categories: Vec::new(),
                offset: 0,
                limit: 1000,
                include_hidden: false,
                order: paperhub_store::ListOrder::Newest,
            },
            None,
        )?;
        ids.extend(
            listing
                .announced
                .iter()
                .map(|e| e.paper.id.base().to_owned()),
        );
        day -= chrono::Duration::days(1);
    }
    if ids.is_empty() {
        bail!("no announced papers in the latest month");
    }
    let titles = super::search::title_queries(data_dir, &config.database, 2000)?;
    if store.user_by_name("bench-0")?.is_some() {
        eprintln!("community activity already seeded");
        return Ok((ids, titles));
    }
    let now = Utc::now();
    let mut rng = Lcg(42);
    eprintln!(
        "seeding {users} users, {} votes, {} submissions ...",
        users * 20,
        users.div_ceil(10)
    );
    for u in 0..users {
        let user = store.create_user(&format!("bench-{u}"), None, "not-a-login", now)?;
        for _ in 0..20 {
            // Skewed towards the first papers, as real votes are.
            let bound = rng.next(ids.len()) + 1;
            let i = rng.next(bound);
            let id: ArxivId = ids[i].parse()?;
            let hours = rng.next(days.max(1) as usize * 24) as i64;
            store.set_vote(user.id, &id, true, now - chrono::Duration::hours(hours))?;
        }
        if u % 10 == 0 {
            let id: ArxivId = ids[rng.next(ids.len())].parse()?;
            let request = SubmitRequest {
                user: user.id,
                id: &id,
                quota: None,
            };
            store.submit(&request, now)?;
        }
    }
    Ok((ids, titles))
}

/// p50, p99 (ms) and requests per second from `wrk --latency` output.
fn parse_wrk(out: &str) -> Option<(f64, f64, f64, u64)> {
    let ms = |s: &str| -> Option<f64> {
        let s = s.trim();
        if let Some(v) = s.strip_suffix("us") {
            v.parse::<f64>().ok().map(|v| v / 1000.0)
        } else if let Some(v) = s.strip_suffix("ms") {
            v.parse().ok()
        } else if let Some(v) = s.strip_suffix('s') {
            v.parse::<f64>().ok().map(|v| v * 1000.0)
        } else {
            None
        }
    };
    let pct = |p: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(p))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(ms)
    };
    let rps = out
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())?;
    let non2xx = out
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses:"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some((pct("50%")?, pct("99%")?, rps, non2xx))
}

/// For-you users: bench accounts with a library of 20 papers of the month
/// before the latest week (one topic each) and a fresh session each (the
/// page needs a signed-in browser; API tokens count only under `/api/`).
fn for_you_users(data_dir: &DataDir, config: &Config, users: u32) -> Result<Vec<String>> {
    let store = crate::app::store::open(data_dir, &config.database)?;
    let latest = store.latest_day()?.context("the catalog is empty")?;
    let listing = store.listing(
        &paperhub_store::ListQuery {
            from: latest - chrono::Duration::days(37),
            to: latest - chrono::Duration::days(7),
            categories: Vec::new(),
            offset: 0,
            limit: 20_000,
            include_hidden: false,
            order: paperhub_store::ListOrder::Votes,
        },
        None,
    )?;
    let older: Vec<&paperhub_store::Entry> = listing.announced.iter().collect();
    if older.is_empty() {
        bail!("no papers before the latest week to build libraries from");
    }
    let now = Utc::now();
    let mut rng = Lcg(7);
    let mut tokens = Vec::new();
    for u in 0..users {
        let name = format!("bench-for-you-{u}");
        let user = match store.user_by_name(&name)? {
            Some(user) => user,
            None => store.create_user(&name, None, "not-a-login", now)?,
        };
        if store.recent_saves(user.id, 1)?.is_empty() {
            let topic = older[rng.next(older.len())].paper.primary_category.clone();
            let same: Vec<&&paperhub_store::Entry> = older
                .iter()
                .filter(|e| e.paper.primary_category == topic)
                .collect();
            let picks: Vec<(ArxivId, Option<String>)> = (0..20)
                .map(|_| (same[rng.next(same.len())].paper.id.clone(), None))
                .collect();
            store.save_papers(user.id, None, &picks, crate::app::library::LIMITS, now)?;
        }
        let token = crate::secrets::new_token()?;
        store.create_session(
            &crate::secrets::token_hash(&token),
            user.id,
            now,
            now + chrono::Duration::days(1),
        )?;
        tokens.push(token);
    }
    Ok(tokens)
}

/// A Lua script that rotates through `(path, session token)` pairs.
fn rotation_script_with_sessions(paths: &[(String, String)]) -> String {
    let mut lua = String::from("local reqs = {\n");
    for (p, t) in paths {
        let cookie = format!("{}={t}", crate::web::session::SESSION_COOKIE);
        let _ = writeln!(lua, "  {{{:?}, {:?}}},", p, cookie);
    }
    // Each wrk thread starts half the list further on, so two threads do
    // not ask for the same user in turn (the second would find the first's
    // ranking cached).
    lua.push_str(concat!(
        "}\nlocal threads = 0\n",
        "setup = function(thread)\n  thread:set(\"offset\", threads)\n  threads = threads + 1\nend\n",
        "local i = 0\n",
        "init = function(args)\n  i = (offset or 0) * math.floor(#reqs / 2)\nend\n",
        "request = function()\n  i = i + 1\n  local r = reqs[(i % #reqs) + 1]\n",
        "  return wrk.format(\"GET\", r[1], {[\"Cookie\"] = r[2]})\nend\n",
    ));
    lua
}

/// A Lua script that rotates through `paths`.
fn rotation_script(paths: &[String]) -> String {
    let mut lua = String::from("local paths = {\n");
    for p in paths {
        let _ = writeln!(lua, "  {:?},", p);
    }
    lua.push_str("}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n");
    lua
}

fn url_query(q: &str) -> String {
    serde_urlencoded::to_string([("q", q)]).unwrap_or_default()
}

/// Runs the benchmark.
///
/// # Errors
/// No `wrk`, an empty catalog, or the server cannot start.
pub fn web(data_dir: &DataDir, config: &Config, args: &WebBenchArgs) -> Result<()> {
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("wrk is not installed: run scripts/install-browser --with-wrk");
    }
    let (ids, titles) = seed(data_dir, config, args.users, args.days)?;
    let app = crate::web::AppState::open(data_dir, config)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::sync::Arc::clone(&app);
    std::thread::spawn(move || {
        let result = crate::web::run(server, "127.0.0.1:0", |addr| {
            let _ = tx.send(addr);
        });
        if let Err(e) = result {
            eprintln!("server failed: {e:#}");
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .context("the server did not start")?;
    let base = format!("http://{addr}");
    let notice = app.searcher.notice();
    if notice.is_some() || app.searcher.get().dense.is_none() {
        eprintln!("warning: no vectors; search runs lexical only");
    }

    // Page weight: the latest day (its community part holds the seeded
    // submissions) and the day before (a plain 50-paper page).
    let agent = ureq::Agent::new_with_defaults();
    let (latest, prev) = {
        let store = crate::app::store::open(data_dir, &config.database)?;
        let latest = store.latest_day()?.context("the catalog is empty")?;
        (latest, store.days_around(latest)?.0.unwrap_or(latest))
    };
    let css = crate::web::assets::STYLE.len();
    for path in ["/".to_owned(), format!("/papers/date/{prev}")] {
        let html = agent
            .get(&format!("{base}{path}"))
            .call()?
            .body_mut()
            .read_to_string()?;
        let cards = html.matches("<article class=\"paper").count();
        println!(
            "page weight of {path}: {cards} papers, {} bytes HTML + {css} bytes CSS = {:.1} kB",
            html.len(),
            (html.len() + css) as f64 / 1000.0
        );
    }

    let scratch = tempfile::tempdir()?;
    let papers: Vec<String> = ids
        .iter()
        .take(500)
        .map(|id| format!("/papers/{id}"))
        .collect();
    let searches: Vec<String> = titles
        .iter()
        .take(1000)
        .map(|t| format!("/search?{}", url_query(t)))
        .collect();
    let api: Vec<String> = titles
        .iter()
        .skip(1000)
        .take(1000)
        .map(|t| format!("/api/v1/papers/search?{}&limit=10", url_query(t)))
        .collect();
    let for_you = if args
        .only
        .as_deref()
        .is_none_or(|o| "for-you page".contains(o))
    {
        for_you_users(data_dir, config, args.for_you_users)?
    } else {
        Vec::new()
    };
    use chrono::Datelike;
    let week = format!(
        "/papers/week/{}-W{:02}",
        latest.iso_week().year(),
        latest.iso_week().week()
    );
    let month = format!("/papers/month/{}", latest.format("%Y-%m"));
    let api_daily = format!("/api/v1/daily_papers?date={latest}&limit=50");
    let for_you_name = format!("for-you page ({} users, this week)", args.for_you_users);
    let targets: Vec<(&str, Vec<String>)> = vec![
        ("daily page /", vec!["/".to_owned()]),
        ("weekly page", vec![week]),
        ("monthly page", vec![month]),
        ("API daily papers", vec![api_daily]),
        (
            "trending /trending",
            vec!["/trending?window=week".to_owned()],
        ),
        ("paper pages (500 papers)", papers),
        ("search page (1,000 queries, hybrid)", searches),
        ("API search (1,000 queries, hybrid)", api),
        (&for_you_name, Vec::new()),
    ];
    println!(
        "wrk -t2 -c{} -d{}s --latency on loopback, server in this process:",
        args.connections, args.duration
    );
    for (name, paths) in targets {
        if args.only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let script = scratch.path().join("rotate.lua");
        if paths.is_empty() {
            let pairs: Vec<(String, String)> = for_you
                .iter()
                .map(|t| ("/for-you?period=week".to_owned(), t.clone()))
                .collect();
            fs_err::write(&script, rotation_script_with_sessions(&pairs))?;
        } else {
            fs_err::write(&script, rotation_script(&paths))?;
        }
        let out = Command::new("wrk")
            .args([
                "-t2",
                &format!("-c{}", args.connections),
                &format!("-d{}s", args.duration),
                "--latency",
                "-s",
            ])
            .arg(&script)
            .arg(&base)
            .output()
            .context("running wrk")?;
        let text = String::from_utf8_lossy(&out.stdout);
        match parse_wrk(&text) {
            Some((p50, p99, rps, non2xx)) => println!(
                "  {name:<38} p50 {p50:>7.2} ms  p99 {p99:>7.2} ms  {rps:>8.1} req/s{}",
                if non2xx > 0 {
                    format!("  ({non2xx} non-2xx)")
                } else {
                    String::new()
                }
            ),
            None => println!("  {name}: could not read wrk's output:\n{text}"),
        }
    }
    println!(
        "peak RSS of this process (server + wrk excluded): {:.0} MiB",
        super::peak_rss_mib()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_latency_output() {
        let out = "Running 1s test @ http://127.0.0.1:1\n  Latency Distribution\n     50%    1.20ms\n     75%    2.00ms\n     90%    3.00ms\n     99%  512.00us\nRequests/sec:   1234.56\nTransfer/sec:      1.00MB\n";
        assert_eq!(parse_wrk(out), Some((1.2, 0.512, 1234.56, 0)));
        assert!(parse_wrk("garbage").is_none());
    }
}
