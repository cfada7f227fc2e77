//! `paperhub harvest`: one harvest run from the command line, with progress and a summary.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Result, bail};
use paperhub_arxiv::SystemClock;
use paperhub_domain::ArxivId;

use super::Outcome;
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::harvest::api::ApiQuery;
use crate::harvest::{self, HarvestObserver, HarvestReport};

/// Which arXiv interface to harvest from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// OAI-PMH `ListRecords`: complete metadata, incremental, resumable.
    Oai,
    /// The daily RSS announcement feeds of the configured categories.
    Rss,
    /// The arXiv API: papers by --id, or a --query search.
    Api,
}

/// Arguments of `paperhub harvest`.
#[derive(Debug, clap::Args)]
pub struct HarvestArgs {
    /// Where to harvest from.
    #[arg(long, value_enum, default_value_t = Source::Oai)]
    pub source: Source,
    /// OAI-PMH set (default: every set in harvest.sets), e.g. cs, cs:cs:LG, stat.
    #[arg(long)]
    pub set: Option<String>,
    /// Start of the OAI-PMH window, YYYY-MM-DD (default: the last complete harvest).
    #[arg(long, value_name = "DATE")]
    pub from: Option<chrono::NaiveDate>,
    /// End of the OAI-PMH window, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub until: Option<chrono::NaiveDate>,
    /// With --source api: papers to fetch by arXiv id or URL.
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// With --source api: a search query such as "cat:cs.LG AND ti:diffusion".
    #[arg(long)]
    pub query: Option<String>,
    /// With --query: results to fetch at most.
    #[arg(long, default_value_t = 100)]
    pub max: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

struct Progress;

impl HarvestObserver for Progress {
    fn page(&mut self, r: &HarvestReport) {
        eprintln!(
            "page {}: {} records so far ({} new, {} updated, {} unchanged)",
            r.pages, r.records, r.new, r.updated, r.unchanged
        );
    }

    fn skipped(&mut self, what: &str) {
        eprintln!("warning: {what}; skipped");
    }
}

fn print(report: &HarvestReport, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, report)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "Harvested {} records from {} in {} pages: {} new, {} updated, {} unchanged, {} skipped.",
            report.records,
            report.source,
            report.pages,
            report.new,
            report.updated,
            report.unchanged,
            report.skipped
        )?;
        for note in &report.notes {
            writeln!(out, "  {note}")?;
        }
    }
    Ok(())
}

/// Runs `paperhub harvest`.
///
/// # Errors
/// Bad arguments, missing contact email, network, OAI or storage failures.
pub fn run(data_dir: &DataDir, config: &Config, args: &HarvestArgs) -> Result<Outcome> {
    let h = &config.harvest;
    let client = harvest::client(h, Arc::new(SystemClock))?;
    let store = crate::app::store::open(data_dir, &config.database)?;
    let mut progress = Progress;
    match args.source {
        Source::Oai => {
            let sets = match &args.set {
                Some(set) => vec![set.clone()],
                None => h.sets.clone(),
            };
            for set in sets {
                let request = harvest::oai::OaiRequest {
                    base_url: h.oai_base_url.clone(),
                    set,
                    metadata_prefix: h.metadata_prefix.clone(),
                    from: args.from.map(|d| d.to_string()),
                    until: args.until.map(|d| d.to_string()),
                };
                let report =
                    harvest::oai::harvest(store.as_ref(), &client, &request, &mut progress)?;
                print(&report, args.json)?;
            }
        }
        Source::Rss => {
            let report = harvest::rss::harvest(
                store.as_ref(),
                &client,
                &h.rss_base_url,
                &h.categories,
                &mut progress,
            )?;
            print(&report, args.json)?;
        }
        Source::Api => {
            let query = match (&args.query, args.ids.is_empty()) {
                (Some(q), true) => ApiQuery::Search {
                    query: q.clone(),
                    max: args.max,
                },
                (None, false) => ApiQuery::Ids(
                    args.ids
                        .iter()
                        .map(|id| id.parse::<ArxivId>())
                        .collect::<Result<_, _>>()?,
                ),
                _ => bail!("--source api needs either --id ID... or --query QUERY"),
            };
            let report = harvest::api::harvest(
                store.as_ref(),
                &client,
                &h.api_base_url,
                &query,
                &mut progress,
            )?;
            print(&report, args.json)?;
        }
    }
    Ok(Outcome::Success)
}
