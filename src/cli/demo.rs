//! `paperhub demo`: the README's first command.
//!
//! Imports the demo corpus shipped in `data/demo/` (real papers from 2025
//! daily listings, see `data/SOURCES.md`), prints the catalog statistics,
//! builds the BM25 index, fetches the default embedding model, and serves
//! the hub at once on 127.0.0.1:8080. The vector index builds in the
//! background (a few minutes on two cores, with a progress bar); until it is
//! ready, search uses BM25 and the search page says so. `--no-serve` instead
//! embeds in the foreground, runs a sample search and exits. Unless told
//! `--no-community`, it also adds the labelled sample community of
//! [`crate::app::demo`], so trending and discussions are not empty.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

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
    /// Do not serve: index, run a sample search, and exit.
    #[arg(long)]
    pub no_serve: bool,
    /// Listen on this address [default: web.addr, 127.0.0.1:8080].
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,
    /// Do not add the sample community (demo accounts, submissions, votes
    /// and comments, all labelled as demo data).
    #[arg(long)]
    pub no_community: bool,
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
    let store = crate::app::store::open(data_dir, &config.database)?;
    let report = import::run_import(
        store.as_ref(),
        &inputs,
        &ImportOptions::default(),
        &mut Quiet,
    )?;
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
    if !args.no_community {
        let seeded = match crate::app::demo::seed(store.as_ref(), chrono::Utc::now()) {
            Ok(seeded) => seeded,
            Err(e) => {
                eprintln!("Sample community left out: {e:#}.");
                crate::app::demo::Seeded::default()
            }
        };
        if seeded.accounts > 0 {
            println!(
                "Sample community: {} demo accounts, {} submissions, {} upvotes, {} comments \
                 (labelled as demo data; --no-community leaves them out).\n",
                seeded.accounts, seeded.submissions, seeded.votes, seeded.comments
            );
        }
    }
    drop(store);
    if !args.no_serve {
        search::run_index(
            data_dir,
            config,
            &search::IndexArgs {
                lexical_only: true,
                since: None,
                limit: None,
                merge: false,
            },
        )?;
        if !args.lexical_only {
            let dir = crate::models::ensure(&config.embedding, data_dir)?;
            println!("Embedding model: {}", dir.display());
        }
        println!(
            "\nServing the demo. Open http://{}/ in a browser; try /search?q=reasoning and /trending.",
            args.addr.as_deref().unwrap_or(&config.web.addr)
        );
        if !args.lexical_only {
            println!(
                "The semantic index builds in the background; search uses BM25 until it is ready."
            );
        }
        // The demo never harvests: it shows the bundled corpus.
        let mut config = config.clone();
        config.schedule.enabled = false;
        return super::serve::serve(
            data_dir,
            &config,
            args.addr.as_deref(),
            false,
            crate::jobs::index::IndexerOptions {
                build_now: true,
                progress_bar: true,
                embed: !args.lexical_only,
            },
        );
    }
    search::run_index(
        data_dir,
        config,
        &search::IndexArgs {
            lexical_only: args.lexical_only,
            since: None,
            limit: None,
            merge: false,
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
