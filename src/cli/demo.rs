//! `paperhub demo`: the README's first command.
//!
//! Imports the demo corpus shipped in `data/demo/` (real papers from 2025
//! daily listings, see `data/SOURCES.md`), prints the catalog statistics,
//! builds the BM25 index, fetches the default embedding model, embeds every
//! paper (a few minutes on two cores, with a progress bar) and runs a sample
//! hybrid search. Serving the web UI comes with the web issue.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use paperhub_db::CatalogStore;

use super::stats::print_stats;
use super::{Outcome, search};
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::import::{self, ImportOptions, Quiet};

/// Arguments of `paperhub demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The demo corpus [default: data/demo in the current directory or the source tree].
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// Only import and build the BM25 index: no model, no embeddings.
    #[arg(long)]
    pub lexical_only: bool,
}

fn default_corpus() -> Option<PathBuf> {
    [
        PathBuf::from("data/demo"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo"),
    ]
    .into_iter()
    .find(|p| p.is_dir())
}

/// Runs `paperhub demo`.
///
/// # Errors
/// The corpus is missing or the catalog cannot be written.
pub fn run(data_dir: &DataDir, config: &Config, args: &DemoArgs) -> Result<Outcome> {
    let Some(corpus) = args.corpus.clone().or_else(default_corpus) else {
        bail!("demo corpus not found: run from the repository root or pass --corpus DIR");
    };
    eprintln!(
        "Importing the demo corpus from {} into {} ...",
        corpus.display(),
        data_dir.path().display()
    );
    let inputs = import::input::expand(&[corpus])?;
    let mut store = data_dir.open_store()?;
    let report = import::run_import(&mut store, &inputs, &ImportOptions::default(), &mut Quiet)?;
    println!(
        "Demo corpus: {} new, {} updated, {} unchanged, {} skipped in {:.1} s.\n",
        report.new,
        report.updated,
        report.unchanged,
        report.skipped,
        report.elapsed_ms as f64 / 1000.0
    );
    print_stats(&store.stats()?, 10, &mut std::io::stdout().lock())?;
    println!();
    drop(store);
    search::run_index(
        data_dir,
        config,
        &search::IndexArgs {
            lexical_only: args.lexical_only,
        },
    )?;
    println!("\nSample search: paperhub search \"{DEMO_QUERY}\" --limit 5");
    search::run_search(
        data_dir,
        config,
        &search::SearchArgs {
            query: DEMO_QUERY.to_owned(),
            mode: crate::retrieval::Mode::Hybrid,
            limit: 5,
            offset: 0,
            categories: Vec::new(),
            since: None,
            until: None,
            by_date: false,
            json: false,
        },
    )?;
    println!(
        "\nNext: paperhub papers show {DEMO_PAPER}   paperhub similar {DEMO_PAPER}   paperhub search QUERY"
    );
    Ok(Outcome::Success)
}

/// A query whose answers are in the demo corpus.
const DEMO_QUERY: &str = "making large language models reason step by step";

/// A paper that is in the demo corpus, to suggest a first command.
const DEMO_PAPER: &str = "2511.21697";
