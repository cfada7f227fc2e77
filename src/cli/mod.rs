//! The `paperhub` command line: argument definitions and dispatch.
//!
//! clap derives the raw arguments here; each command lives in its own module
//! and returns an [`Outcome`] or an error. `main` only maps those to exit
//! codes: 0 success, 1 the command ran but its goal failed (nothing imported,
//! `--strict` violated, paper not found), 2 an error.

pub mod bench;
mod demo;
mod digest;
mod eval_recommend;
mod harvest;
mod import;
mod library;
mod papers;
mod search;
mod serve;
mod settings;
mod stats;
mod store;
mod vectors;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::data_dir::DataDir;

/// Paperhub: an open, self-hostable research-paper discovery hub.
///
/// Imports arXiv metadata into a local catalog (one SQLite file in the data
/// directory) and lets you browse it.
#[derive(Debug, Parser)]
#[command(name = "paperhub", version, about, long_about)]
pub struct Cli {
    /// Where Paperhub keeps its catalog.
    #[arg(
        long,
        global = true,
        env = "PAPERHUB_DATA_DIR",
        value_name = "DIR",
        help = "Where Paperhub keeps its catalog [default: $XDG_DATA_HOME/paperhub, else ~/.local/share/paperhub]"
    )]
    pub data_dir: Option<PathBuf>,

    /// The configuration file.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        help = "The configuration file [default: $PAPERHUB_CONFIG, else ./paperhub.toml if present]"
    )]
    pub config: Option<PathBuf>,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every `paperhub` command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import arXiv metadata files into the catalog.
    ///
    /// Reads the Kaggle/Cornell snapshot (JSON lines), daily listing files
    /// (YYYY-MM-DD.jsonl), OAI-PMH responses (arXiv and arXivRaw), arXiv API
    /// Atom feeds and .abs files. The format is detected from the content;
    /// .gz and .zst files are decompressed. Directories are walked
    /// recursively, reading files with metadata extensions (.json, .jsonl,
    /// .ndjson, .xml, .atom, .abs, optionally compressed). Use - for stdin.
    ///
    /// Malformed records are reported with file and line and skipped. Exits 1
    /// when nothing could be imported, or with --strict when anything was
    /// skipped.
    Import(import::ImportArgs),
    /// Fetch new metadata from arXiv once (OAI-PMH, RSS announcements or the API).
    ///
    /// Obeys arXiv's rules: one request at a time, at least 3 s apart,
    /// Retry-After honoured, backoff on errors, a User-Agent with the
    /// contact email from the configuration. OAI-PMH harvests are incremental
    /// and resume after a crash where they stopped.
    Harvest(harvest::HarvestArgs),
    /// Serve the web hub and JSON API, and harvest after each arXiv announcement.
    Serve(serve::ServeArgs),
    /// Inspect the configuration.
    Config {
        /// What to do.
        #[command(subcommand)]
        command: settings::ConfigCommand,
    },
    /// Bring the search indexes up to date with the catalog (resumable).
    ///
    /// Updates the BM25 index, then embeds every new or changed paper with
    /// the embedding model (fetching the default model on first use) into the
    /// vector index. A killed run resumes where it stopped.
    Index(search::IndexArgs),
    /// Move the model's vectors between hubs: embed on a big machine,
    /// export, import here.
    Vectors {
        /// What to do.
        #[command(subcommand)]
        command: vectors::VectorsCommand,
    },
    /// Search the catalog (hybrid by default: BM25 fused with embeddings).
    Search(search::SearchArgs),
    /// Papers nearest to a paper by embedding.
    Similar(search::SimilarArgs),
    /// Fetch or inspect the embedding model.
    Model {
        /// What to do.
        #[command(subcommand)]
        command: search::ModelCommand,
    },
    /// Measure retrieval quality: nDCG@10, Recall@100, MRR@10.
    Eval(search::EvalArgs),
    /// Show papers in the catalog.
    Papers {
        /// What to do with papers.
        #[command(subcommand)]
        command: papers::PapersCommand,
    },
    /// Catalog statistics: counts by category and by month, and the last import.
    Stats(stats::StatsArgs),
    /// Move the hub between stores: SQLite and PostgreSQL, either way.
    Store {
        /// What to do.
        #[command(subcommand)]
        command: store::StoreCommand,
    },
    /// Import the bundled demo corpus, fetch the model, and serve it on 127.0.0.1:8080.
    Demo(demo::DemoArgs),
    /// Email digests: preview, run, send, status, and adding subscribers.
    ///
    /// Mail goes to .eml files in the data directory's outbox folder unless
    /// mail.transport is "smtp". `run` is idempotent per subscriber and period.
    Digest {
        /// What to do.
        #[command(subcommand)]
        command: digest::DigestCommand,
    },
    /// Personal libraries: import a BibTeX, RIS or CSL-JSON file into a
    /// user's collection, or export one.
    Library {
        /// What to do.
        #[command(subcommand)]
        command: library::LibraryCommand,
    },
    /// Run benchmarks (not tests): import throughput and memory.
    Bench {
        /// Which benchmark.
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

/// How a command ended, when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did what was asked.
    Success,
    /// It ran, but did not achieve its goal; exit code 1.
    Unsuccessful,
}

impl Cli {
    /// Runs the parsed command.
    ///
    /// # Errors
    /// Whatever the command reports; `main` prints the chain.
    pub fn run(self) -> Result<Outcome> {
        let data_dir = DataDir::resolve(self.data_dir.as_deref())?;
        let (config, config_path) = Config::load(self.config.as_deref())?;
        match self.command {
            Command::Harvest(args) => harvest::run(&data_dir, &config, &args),
            Command::Index(args) => search::run_index(&data_dir, &config, &args),
            Command::Vectors { command } => vectors::run(&data_dir, &config, &command),
            Command::Search(args) => search::run_search(&data_dir, &config, &args),
            Command::Similar(args) => search::run_similar(&data_dir, &config, &args),
            Command::Model { command } => search::run_model(&data_dir, &config, &command),
            Command::Eval(args) => search::run_eval(&data_dir, &config, &args),
            Command::Serve(args) => serve::run(&data_dir, &config, &args),
            Command::Config { command } => settings::run(&config, config_path.as_deref(), &command),
            Command::Import(args) => import::run(&data_dir, &config, &args),
            Command::Papers { command } => papers::run(&data_dir, &config, &command),
            Command::Stats(args) => stats::run(&data_dir, &config, &args),
            Command::Store { command } => store::run(&config, &command),
            Command::Demo(args) => demo::run(&data_dir, &config, &args),
            Command::Digest { command } => digest::run(&data_dir, &config, &command),
            Command::Library { command } => library::run(&data_dir, &config, &command),
            Command::Bench { command } => bench::run(&data_dir, &config, &command),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
