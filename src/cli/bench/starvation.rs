//! `paperhub bench starvation`: page latency while submissions wait on a
//! slow arXiv (the hardening issue's finding 2, #13).
//!
//! Serves the data directory in this process with the arXiv API pointed at
//! a loopback server that holds every answer for `--upstream-delay`
//! seconds. It times `GET /` sequentially, once with nothing else going on
//! (the peer: the same hub, same machine, same run) and once while
//! `--submissions` submissions of unknown papers wait on that upstream,
//! for an anonymous visitor (the page cache) and for a signed-in user
//! (fresh renders through the store pool). It reports p50, p99 and max,
//! the ratio of the loaded p99 to the idle one, and how the submissions were
//! answered. The target: p99 at most 50 ms with 12 submissions waiting.
//! It adds one bench account and its API token to the data directory.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;

use crate::config::Config;
use crate::data_dir::DataDir;

/// Options of `bench starvation`.
#[derive(Debug, Clone, clap::Args)]
pub struct StarvationBenchArgs {
    /// Submissions of unknown papers sent at once.
    #[arg(long, default_value_t = 12)]
    pub submissions: usize,
    /// Seconds the fake arXiv holds each answer.
    #[arg(long, default_value_t = 20)]
    pub upstream_delay: u64,
    /// `GET /` requests timed per phase and viewer.
    #[arg(long, default_value_t = 400)]
    pub requests: usize,
}

/// An arXiv API on loopback that answers an empty feed after `delay`.
fn slow_upstream(delay: Duration) -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}/api/query", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                std::thread::sleep(delay);
                let body = "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\" \
                    xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\">\
                    <opensearch:totalResults>0</opensearch:totalResults></feed>";
                let _ = (&stream).write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/atom+xml\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            });
        }
    });
    Ok(base)
}

/// Latency percentiles of `n` sequential requests, in milliseconds.
fn time_gets(agent: &ureq::Agent, url: &str, session: Option<&str>, n: usize) -> Result<[f64; 3]> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let mut request = agent.get(url);
        if let Some(t) = session {
            request = request.header("Cookie", &format!("ph_session={t}"));
        }
        let started = Instant::now();
        let response = request.call()?;
        let _ = response.into_body().read_to_vec()?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Ok([at(0.5), at(0.99), at(1.0)])
}

/// The CPU features the run used, for the record.
fn cpu_features() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags"))
        .unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let has: Vec<&str> = ["avx2", "fma", "avx512f"]
        .into_iter()
        .filter(|f| flags.split_whitespace().any(|x| x == *f))
        .collect();
    format!("{model} ({})", has.join(", "))
}

/// Runs the benchmark.
///
/// # Errors
/// The server cannot start or a request fails.
pub fn starvation(data_dir: &DataDir, config: &Config, args: &StarvationBenchArgs) -> Result<()> {
    let mut config = config.clone();
    config.harvest.api_base_url = slow_upstream(Duration::from_secs(args.upstream_delay))?;
    if config.harvest.contact_email.is_empty() {
        config.harvest.contact_email = "bench@example.org".into();
    }
    config.schedule.enabled = false;
    // Bench accounts that are not curators (curators have no quota), one
    // per submission: the fetch queue holds one place per account.
    let mut tokens = Vec::new();
    let session = crate::secrets::new_token()?;
    {
        let store = crate::app::store::open(data_dir, &config.database)?;
        for i in 0..args.submissions.max(1) {
            let name = format!("bench-submitter-{i}");
            let user = match store.user_by_name(&name)? {
                Some(u) => u,
                None => store.create_user(&name, None, "!", Utc::now())?,
            };
            let token = format!("ph_{}", crate::secrets::new_token()?);
            store.create_api_token(
                user.id,
                "bench starvation",
                &crate::secrets::token_hash(&token),
                Utc::now(),
                Some(Utc::now() + chrono::Duration::hours(1)),
            )?;
            tokens.push(token);
        }
        // A signed-in visitor for fresh renders (pages take no API token).
        let user = store
            .user_by_name("bench-submitter-0")?
            .context("the bench account was just made")?;
        store.create_session(
            &crate::secrets::token_hash(&session),
            user.id,
            Utc::now(),
            Utc::now() + chrono::Duration::hours(1),
        )?;
    }
    let app = crate::web::AppState::open(data_dir, &config)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::sync::Arc::clone(&app);
    std::thread::spawn(move || {
        if let Err(e) = crate::web::run(server, "127.0.0.1:0", |addr| {
            let _ = tx.send(addr);
        }) {
            eprintln!("server failed: {e:#}");
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .context("the server did not start")?;
    let base = format!("http://{addr}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into();
    println!("CPU: {}", cpu_features());
    // Warm the page cache and the store pool.
    time_gets(&agent, &format!("{base}/"), None, 5)?;
    time_gets(&agent, &format!("{base}/"), Some(&session), 5)?;
    let idle_anon = time_gets(&agent, &format!("{base}/"), None, args.requests)?;
    let idle_user = time_gets(&agent, &format!("{base}/"), Some(&session), args.requests)?;

    let started = Instant::now();
    let submissions: Vec<_> = (0..args.submissions)
        .map(|i| {
            let agent = agent.clone();
            let url = format!("{base}/api/v1/papers");
            let token = tokens[i].clone();
            std::thread::spawn(move || {
                let body = format!("{{\"id\": \"2612.{:05}\"}}", 90_000 + i);
                agent
                    .post(&url)
                    .header("Authorization", &format!("Bearer {token}"))
                    .header("Content-Type", "application/json")
                    .send(body)
                    .map(|r| (r.status().as_u16(), started.elapsed()))
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let loaded_anon = time_gets(&agent, &format!("{base}/"), None, args.requests)?;
    let loaded_user = time_gets(&agent, &format!("{base}/"), Some(&session), args.requests)?;
    let measured_for = started.elapsed();
    let waiting = submissions.iter().filter(|s| !s.is_finished()).count();
    println!(
        "{} submissions sent; {waiting} still waiting on the {} s upstream after {:.1} s of measuring",
        args.submissions,
        args.upstream_delay,
        measured_for.as_secs_f64()
    );
    println!(
        "{:<34} {:>9} {:>9} {:>9}",
        "GET / (ms)", "p50", "p99", "max"
    );
    for (name, r) in [
        ("anonymous, idle", idle_anon),
        ("anonymous, submissions waiting", loaded_anon),
        ("signed in, idle", idle_user),
        ("signed in, submissions waiting", loaded_user),
    ] {
        println!("{name:<34} {:>9.2} {:>9.2} {:>9.2}", r[0], r[1], r[2]);
    }
    println!(
        "p99 loaded / idle: anonymous {:.2}x, signed in {:.2}x (target: p99 <= 50 ms loaded)",
        loaded_anon[1] / idle_anon[1].max(0.001),
        loaded_user[1] / idle_user[1].max(0.001)
    );
    let mut answers = std::collections::BTreeMap::new();
    for s in submissions {
        let (status, at) = s
            .join()
            .map_err(|_| anyhow::anyhow!("a submission thread panicked"))??;
        let e = answers.entry(status).or_insert((0, Duration::ZERO));
        e.0 += 1;
        e.1 = e.1.max(at);
    }
    for (status, (n, last)) in answers {
        println!(
            "submissions answered {status}: {n} (last after {:.1} s)",
            last.as_secs_f64()
        );
    }
    Ok(())
}
