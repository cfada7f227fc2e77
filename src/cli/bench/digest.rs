//! `paperhub bench digest`: rendering and queueing the daily digest for many
//! subscribers with personal interests, on a scratch copy of the store.
//!
//! The data directory's catalog is copied to a temporary directory (the
//! indexes and model are used in place, read-only), then `--subscribers`
//! confirmed subscribers are added, each with one to three saved searches
//! drawn from a pool of `--queries` (title openings of the past week's
//! papers), up to two categories and up to two followed authors from the
//! same week, and 0, 5 or 10 trending papers. The timed part is exactly what
//! `paperhub digest run --no-send` does. As the peer, the same interests are
//! matched the naive way, one hybrid search per subscriber, on a sample, and
//! extrapolated.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use chrono::Utc;
use paperhub_store::{Frequency, Interest, InterestKind, NewSubscriber};

use crate::app::store::SharedStore;
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::digest::matching::{PeriodPapers, match_queries};
use crate::digest::{self, Period};
use crate::retrieval::Retriever;
use crate::secrets::Secrets;

/// Options of `bench digest`.
#[derive(Debug, Clone, clap::Args)]
pub struct DigestBenchArgs {
    /// Subscribers to render and queue for.
    #[arg(long, default_value_t = 10_000)]
    pub subscribers: usize,
    /// Distinct saved searches in the pool they draw from.
    #[arg(long, default_value_t = 500)]
    pub queries: usize,
    /// Subscribers matched one by one for the naive comparison.
    #[arg(long, default_value_t = 200)]
    pub naive_sample: usize,
    /// Give every subscriber a linked account with this many saved papers
    /// (a "Recommended for you" section), timing a run without them first.
    #[arg(long, default_value_t = 0)]
    pub libraries: usize,
}

/// Links every subscriber to a new account whose library holds `size`
/// papers of one category from the month before the latest week.
fn seed_libraries(
    store: &dyn paperhub_store::Store,
    subscribers: &[NewSubscriber],
    latest: chrono::NaiveDate,
    size: usize,
    rng: &mut super::Rng,
) -> Result<()> {
    let older = PeriodPapers::load(
        store,
        latest - chrono::Duration::days(37),
        latest - chrono::Duration::days(7),
    )?;
    if older.entries.is_empty() {
        bail!("no papers before the latest week to build libraries from");
    }
    let now = Utc::now();
    for (i, s) in subscribers.iter().enumerate() {
        let user = store.create_user(&format!("bench-digest-{i}"), None, "not-a-login", now)?;
        let topic = &older.entries[rng.below(older.entries.len())].paper;
        let same = topic
            .categories
            .first()
            .map(|c| older.in_category(c))
            .unwrap_or_default();
        let picks: Vec<(paperhub_domain::ArxivId, Option<String>)> = (0..size)
            .map(|_| {
                let e = same
                    .get(rng.below(same.len()))
                    .map_or(topic, |&j| &older.entries[j].paper);
                (e.id.clone(), None)
            })
            .collect();
        store.save_papers(user.id, None, &picks, crate::app::library::LIMITS, now)?;
        let sub = store
            .subscriber_by_email(&s.email)?
            .context("a bench subscriber vanished")?;
        store.link_account(sub.id, Some(user.id))?;
    }
    Ok(())
}

/// Copies the catalog to `dir` and opens the copy.
fn scratch_store(data_dir: &DataDir, dir: &std::path::Path) -> Result<SharedStore> {
    // Opening and dropping the store checkpoints the WAL into the main file.
    // This benchmark copies the embedded SQLite file, whatever the config.
    drop(crate::app::store::open(data_dir, &Default::default())?);
    let from = data_dir.database_path();
    let to = dir.join("paperhub.sqlite3");
    std::fs::copy(&from, &to).with_context(|| format!("copying {}", from.display()))?;
    let wal = from.with_extension("sqlite3-wal");
    if wal.exists() {
        std::fs::copy(&wal, to.with_extension("sqlite3-wal"))?;
    }
    crate::app::store::open_sqlite(&to)
}

/// The interest pools: title openings, categories and authors of the week.
fn pools(week: &PeriodPapers, queries: usize) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut titles = BTreeSet::new();
    let mut categories = BTreeSet::new();
    let mut authors = BTreeSet::new();
    for (i, e) in week.entries.iter().enumerate() {
        let words: Vec<String> = e
            .paper
            .title
            .split(|c: char| !c.is_alphanumeric() && c != '-')
            .filter(|w| w.len() > 2)
            .map(str::to_lowercase)
            .collect();
        let n = 3 + i % 3;
        if words.len() >= n && titles.len() < queries {
            titles.insert(words[..n].join(" "));
        }
        categories.extend(e.paper.categories.iter().cloned());
        authors.extend(e.paper.authors.iter().take(3).map(|a| a.name.clone()));
    }
    (
        titles.into_iter().collect(),
        categories.into_iter().collect(),
        authors.into_iter().collect(),
    )
}

/// Runs the benchmark and prints the figures.
///
/// # Errors
/// No catalog, indexes or model; a storage or template error.
pub fn digest(data_dir: &DataDir, config: &Config, args: &DigestBenchArgs) -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let store = scratch_store(data_dir, scratch.path())?;
    let Some(latest) = store.latest_day()? else {
        bail!("the catalog has no announcements; import the demo corpus first");
    };
    let retriever = Retriever::open(data_dir, config)?;
    if retriever.dense.is_none() {
        bail!("no embedding model or vectors; run `paperhub index` first");
    }
    let week = Period::of(Frequency::Weekly, latest);
    let week_papers = PeriodPapers::load(store.as_ref(), week.from, week.to)?;
    let (queries, categories, authors) = pools(&week_papers, args.queries);
    if queries.is_empty() || categories.is_empty() || authors.is_empty() {
        bail!("the latest week has too few papers to draw interests from");
    }

    let mut rng = super::Rng(0x9e37_79b9_7f4a_7c15);
    let subscribers: Vec<NewSubscriber> = (0..args.subscribers)
        .map(|i| {
            let mut interests = Vec::new();
            for _ in 0..1 + rng.below(3) {
                interests.push(Interest {
                    kind: InterestKind::Query,
                    value: rng.pick(&queries).to_owned(),
                });
            }
            for _ in 0..rng.below(3) {
                interests.push(Interest {
                    kind: InterestKind::Category,
                    value: rng.pick(&categories).to_owned(),
                });
            }
            for _ in 0..rng.below(3) {
                interests.push(Interest {
                    kind: InterestKind::Author,
                    value: rng.pick(&authors).to_owned(),
                });
            }
            interests.sort();
            interests.dedup();
            NewSubscriber {
                email: format!("bench{i}@example.org"),
                frequency: Frequency::Daily,
                top_n: [0, 5, 10][rng.below(3)],
                interests,
            }
        })
        .collect();
    let setup = Instant::now();
    store.add_confirmed_subscribers(&subscribers, Utc::now())?;
    let distinct: BTreeSet<&str> = subscribers
        .iter()
        .flat_map(|s| &s.interests)
        .filter(|i| i.kind == InterestKind::Query)
        .map(|i| i.value.as_str())
        .collect();
    let day = PeriodPapers::load(store.as_ref(), latest, latest)?;
    println!(
        "catalog: {} papers in the day {latest}; {} subscribers added in {:.1} s, {} distinct saved searches, {} categories, {} authors in the pools",
        day.entries.len(),
        subscribers.len(),
        setup.elapsed().as_secs_f64(),
        distinct.len(),
        categories.len(),
        authors.len()
    );

    let secrets = Secrets::from_key([7; 32]);
    let hub = config.web.base_url();
    let cx = digest::Context {
        config,
        secrets: &secrets,
        retriever: Some(&retriever),
        hub_url: &hub,
    };
    let baseline = if args.libraries > 0 {
        // The peer: the same subscribers without libraries, queued on a
        // second scratch copy (a run queues each subscriber's mail once).
        let plain_dir = tempfile::tempdir()?;
        let plain = scratch_store(data_dir, plain_dir.path())?;
        plain.add_confirmed_subscribers(&subscribers, Utc::now())?;
        let queued_without = digest::run(plain.as_ref(), cx, Frequency::Daily, false, Utc::now())?;
        drop(plain);
        println!(
            "without libraries (queued, on a second copy): {} queued in {:.2} s",
            queued_without.queued,
            queued_without.elapsed_ms as f64 / 1000.0
        );
        let without = digest::run(store.as_ref(), cx, Frequency::Daily, true, Utc::now())?;
        let t = Instant::now();
        seed_libraries(
            store.as_ref(),
            &subscribers,
            latest,
            args.libraries,
            &mut rng,
        )?;
        println!(
            "without libraries (dry run): {:.2} s; then {} accounts with {} saved papers each linked in {:.1} s",
            without.elapsed_ms as f64 / 1000.0,
            subscribers.len(),
            args.libraries,
            t.elapsed().as_secs_f64()
        );
        let with = digest::run(store.as_ref(), cx, Frequency::Daily, true, Utc::now())?;
        let (without, with) = (
            without.elapsed_ms as f64 / 1000.0,
            with.elapsed_ms as f64 / 1000.0,
        );
        println!(
            "with libraries (dry run): {with:.2} s, {:.2}x the run without (target <= 2x)",
            with / without.max(1e-9)
        );
        Some((without, queued_without.elapsed_ms as f64 / 1000.0))
    } else {
        None
    };
    let report = digest::run(store.as_ref(), cx, Frequency::Daily, false, Utc::now())?;
    let total = report.elapsed_ms as f64 / 1000.0;
    let matching = report.matching_ms as f64 / 1000.0;
    println!(
        "digest run: {} queued, {} empty, in {total:.2} s ({matching:.2} s loading the day and matching {} distinct searches, {:.2} s rendering and queueing; {:.0} mails/s)",
        report.queued,
        report.empty,
        report.distinct_queries,
        total - matching,
        report.queued as f64 / total.max(1e-9)
    );
    if let Some((without, queued_without)) = baseline {
        println!(
            "the run that queued them: {total:.2} s, {:.2}x the queued run without libraries (target <= 2x), {:.2}x the dry run without",
            total / queued_without.max(1e-9),
            total / without.max(1e-9)
        );
    }
    let target = 10.0;
    println!(
        "target: <= {target:.0} s for {} subscribers: {}",
        args.subscribers,
        if total <= target { "met" } else { "MISSED" }
    );

    // The naive way: one hybrid search per subscriber.
    let sample = &subscribers[..args.naive_sample.min(subscribers.len())];
    let started = Instant::now();
    for s in sample {
        let own: Vec<String> = s
            .interests
            .iter()
            .filter(|i| i.kind == InterestKind::Query)
            .map(|i| i.value.clone())
            .collect();
        match_queries(Some(&retriever), &day, latest, latest, &own)?;
    }
    let per = started.elapsed().as_secs_f64() / sample.len().max(1) as f64;
    let naive = per * subscribers.len() as f64;
    println!(
        "naive matching (one search per subscriber, {} sampled): {:.1} ms each, {naive:.1} s for {} subscribers; shared matching is {:.0}x faster",
        sample.len(),
        per * 1000.0,
        subscribers.len(),
        naive / matching.max(1e-9)
    );
    Ok(())
}
