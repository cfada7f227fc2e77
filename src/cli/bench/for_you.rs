//! `paperhub bench for-you`: the cost of one user's "For you" ranking on
//! the catalog's real papers and vectors (run `paperhub index` first).
//!
//! It takes the latest announcement day, the busiest day of the 60 days
//! before, and the latest week, builds each period's
//! shared features once (timed: what the first visitor of a period pays),
//! then ranks the period for `--users` simulated users whose libraries are
//! `--library` papers announced before the period (an author's earlier
//! papers, else random ones, so every ranking learns a model): training,
//! scoring every paper and writing the reasons, as the page does. It
//! reports p50/p99/max per ranking; the target is <= 5 ms for a day of
//! about 1,500 papers. The page under load is `paperhub bench web`.

use std::time::Instant;

use anyhow::{Result, bail};
use paperhub_store::{Entry, Store};

use crate::app::for_you::{self, PeriodFeatures, Profile};
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::retrieval::Retriever;

/// Options of `bench for-you`.
#[derive(Debug, Clone, clap::Args)]
pub struct ForYouBenchArgs {
    /// Simulated users.
    #[arg(long, default_value_t = 200)]
    pub users: usize,
    /// Papers in each library.
    #[arg(long, default_value_t = 20)]
    pub library: usize,
}

fn period(store: &dyn Store, from: chrono::NaiveDate, to: chrono::NaiveDate) -> Result<Vec<Entry>> {
    Ok(for_you::period_entries(store, (from, to), u32::MAX, None)?)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the benchmark.
///
/// # Errors
/// No catalog or no vectors; a storage error.
pub fn for_you(data_dir: &DataDir, config: &Config, args: &ForYouBenchArgs) -> Result<()> {
    let store = crate::app::store::open(data_dir, &config.database)?;
    let Some(latest) = store.latest_day()? else {
        bail!("the catalog has no announcements; import papers first");
    };
    let retriever = Retriever::open(data_dir, config)?;
    let vectors = retriever.dense.as_ref().map(|d| &d.vectors);
    if vectors.is_none_or(paperhub_search::VectorIndex::is_empty) {
        bail!("no vectors; run `paperhub index` first");
    }
    // Libraries: papers of the 60 days before the week.
    let week_from = latest - chrono::Duration::days(6);
    let older = period(
        store.as_ref(),
        week_from - chrono::Duration::days(60),
        week_from - chrono::Duration::days(1),
    )?;
    if older.len() < args.library * 2 {
        bail!("too few papers before the latest week to build libraries");
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    };
    let profiles: Vec<Profile> = (0..args.users)
        .map(|_| {
            // A topic: papers sharing the first paper's primary category.
            let first = &older[next(older.len())].paper;
            let same: Vec<&Entry> = older
                .iter()
                .filter(|e| e.paper.primary_category == first.primary_category)
                .collect();
            Profile {
                library: (0..args.library)
                    .map(|_| std::sync::Arc::new(same[next(same.len())].paper.clone()))
                    .collect(),
                ..Profile::default()
            }
        })
        .collect();
    println!(
        "catalog: latest day {latest}; {} users with {} library papers each (from the 60 days before the week); vectors: {}",
        args.users,
        args.library,
        vectors.map_or(0, paperhub_search::VectorIndex::len)
    );
    // The busiest announcement day of the last 60 days: arXiv's CS days
    // reach about 1,500 papers, the target's size.
    let mut per_day: std::collections::BTreeMap<chrono::NaiveDate, usize> = Default::default();
    for e in older
        .iter()
        .chain(&period(store.as_ref(), week_from, latest)?)
    {
        if let Some(d) = e.paper.announced {
            *per_day.entry(d).or_default() += 1;
        }
    }
    let busiest = per_day
        .iter()
        .max_by_key(|(d, n)| (**n, **d))
        .map_or(latest, |(d, _)| *d);
    for (name, from, to, cap) in [
        ("latest day", latest, latest, usize::MAX),
        ("busiest day", busiest, busiest, usize::MAX),
        ("week", week_from, latest, usize::MAX),
        // The listings hold a few hundred papers a day; all of arXiv CS
        // announces about 1,500: the 1,500 latest papers stand in for one.
        (
            "1,500 papers (the latest of the month)",
            latest - chrono::Duration::days(30),
            latest,
            1_500,
        ),
    ] {
        let mut entries = period(store.as_ref(), from, to)?;
        entries.truncate(cap);
        let t = Instant::now();
        let features = PeriodFeatures::build(&entries, vectors);
        let build_ms = t.elapsed().as_secs_f64() * 1000.0;
        let mut times = Vec::with_capacity(profiles.len());
        let mut learned = 0;
        for (i, profile) in profiles.iter().enumerate() {
            let t = Instant::now();
            let ranking = for_you::recommend(
                &features,
                &entries,
                profile,
                &Default::default(),
                vectors,
                for_you::Ask {
                    seed: i as u64,
                    limit: 30,
                    effort: for_you::Effort::PAGE,
                },
            );
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            learned += usize::from(ranking.method == for_you::Method::Learned);
            std::hint::black_box(ranking);
        }
        times.sort_by(f64::total_cmp);
        // The training alone, on the same inputs.
        let mut train = Vec::with_capacity(profiles.len());
        let negatives = features.sample_docs(for_you::Effort::PAGE.negatives);
        let settings = paperhub_search::recommend::Settings {
            epochs: for_you::Effort::PAGE.epochs,
            ..Default::default()
        };
        for profile in &profiles {
            let library: Vec<_> = profile
                .library
                .iter()
                .map(|p| features.doc(p, vectors))
                .collect();
            let library: Vec<&_> = library.iter().collect();
            let t = Instant::now();
            std::hint::black_box(paperhub_search::recommend::Ranker::train(
                &library, &negatives, &settings,
            ));
            train.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        train.sort_by(f64::total_cmp);
        println!(
            "{name} {from} ({} papers): shared features built once in {build_ms:.1} ms; one user's ranking (train, score all, reasons for 30): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (training alone p50 {:.2} ms); {learned} of {} learned a model",
            entries.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times.last().copied().unwrap_or(0.0),
            percentile(&train, 0.5),
            profiles.len()
        );
    }
    Ok(())
}
