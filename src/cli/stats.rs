//! `paperhub stats`: what the catalog holds.

use std::io::Write;

use anyhow::Result;
use paperhub_store::CatalogStats;

use super::Outcome;
use crate::config::Config;
use crate::data_dir::DataDir;

/// Arguments of `paperhub stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Print the statistics as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Categories to list in the text output (all are in the JSON).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,
}

/// The JSON shape of the statistics.
pub fn stats_json(stats: &CatalogStats) -> serde_json::Value {
    let map = |pairs: &[(String, u64)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(*v)))
            .collect::<serde_json::Map<_, _>>()
    };
    serde_json::json!({
        "papers": stats.papers,
        "categories": stats.by_category.len(),
        "by_category": map(&stats.by_category),
        "by_month": map(&stats.by_month),
        "last_import": stats.last_import,
    })
}

/// Prints `stats` as text.
pub fn print_stats(stats: &CatalogStats, top: usize, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{} papers in {} categories",
        stats.papers,
        stats.by_category.len()
    )?;
    if let Some(run) = &stats.last_import {
        writeln!(
            out,
            "Last import: {} ({:?}) started {}: {} new, {} updated, {} unchanged, {} skipped",
            run.source,
            run.status,
            run.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            run.counts.new,
            run.counts.updated,
            run.counts.unchanged,
            run.skipped
        )?;
    }
    if !stats.by_category.is_empty() {
        writeln!(out, "\nBy category (top {top}):")?;
        for (category, n) in stats.by_category.iter().take(top) {
            writeln!(out, "  {category:<20} {n:>9}")?;
        }
    }
    if !stats.by_month.is_empty() {
        writeln!(out, "\nBy month:")?;
        for (month, n) in &stats.by_month {
            writeln!(out, "  {month}  {n:>9}")?;
        }
    }
    Ok(())
}

/// Runs `paperhub stats`.
///
/// # Errors
/// The catalog cannot be read.
pub fn run(data_dir: &DataDir, config: &Config, args: &StatsArgs) -> Result<Outcome> {
    let store = crate::app::store::open(data_dir, &config.database)?;
    let stats = store.stats()?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &stats_json(&stats))?;
        writeln!(out)?;
    } else {
        print_stats(&stats, args.top, &mut out)?;
    }
    Ok(Outcome::Success)
}
