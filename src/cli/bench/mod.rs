//! `paperhub bench import`: import throughput and peak memory, against the parse-only ceiling.
//!
//! Each measurement runs in a fresh child process (`paperhub bench worker`)
//! so its peak RSS (`VmHWM`) is its own and not inflated by an earlier phase.
//! For every corpus the parent runs, in this order and on the same machine:
//!
//! 1. `parse-syntax`: `serde_json` validating every line into `IgnoredAny`, the
//!    absolute ceiling of reading the file as JSON;
//! 2. `parse-value`: `serde_json` building a `serde_json::Value` per line, the
//!    usual "parse it with `serde_json`" baseline;
//! 3. `parse-typed`: `serde_json` deserialising every line into the borrowed
//!    record structs, what our importer must do at minimum;
//! 4. `parse-paperhub`: our full parser (normalisation, author parsing, code
//!    links) without the store;
//! 5. `import`: the real `paperhub import` pipeline into a fresh SQLite file.
//!
//! It prints records/s, peak RSS and the import/parse ratios. This is a
//! benchmark, never a test: numbers depend on the machine. The other
//! benchmarks live in the submodules: [`search`] (query latency, embedding,
//! vectors), [`web`] (pages under `wrk`), [`digest`] and [`starvation`].

pub mod digest;
mod for_you;
mod library;
pub mod search;
pub mod starvation;
mod synth_vectors;
pub mod web;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use super::Outcome;
use crate::import::{self, ImportOptions, Quiet};

/// Benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Import throughput and peak RSS, compared with parsing alone.
    Import {
        /// Corpora to measure: files or directories of JSON lines
        /// (e.g. the daily listings directory and a synthetic snapshot file).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Also write the results as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json_out: Option<PathBuf>,
    },
    /// Query latency of every mode over the catalog's indexes, and peak RSS
    /// (run `paperhub index` first).
    Search {
        /// Queries to time (built from the first words of catalog titles).
        #[arg(long, default_value_t = 1000)]
        queries: u32,
    },
    /// Embedding throughput and query time, ours against sentence-transformers
    /// on the same abstracts (the peer runs through scripts/bench-embed-peer).
    Embed {
        /// Daily listing files or directories (JSON lines with title and summary).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Abstracts to embed.
        #[arg(long, default_value_t = 2000)]
        count: usize,
        /// Skip the Python peer.
        #[arg(long)]
        no_peer: bool,
        /// Kernel paths to measure, each in turn: `auto` (the fastest this
        /// CPU has), `portable`, `avx2`, `avx512-bf16`, or `all` (every path
        /// the CPU can run). Repeatable.
        #[arg(long = "kernel", value_name = "PATH", default_value = "auto")]
        kernels: Vec<String>,
        /// Also run the peer held to AVX2 (torch's `ATEN_CPU_CAPABILITY`),
        /// the fair partner of `--kernel avx2`.
        #[arg(long)]
        peer_avx2: bool,
    },
    /// Approximate against exact vector search on the catalog's real vectors:
    /// recall@10, latency, and the recall cost of int8 storage.
    Vectors {
        /// Queries (embedded from the first words of catalog titles).
        #[arg(long, default_value_t = 500)]
        queries: u32,
    },
    /// The web hub under load: wrk against the daily page, trending, paper
    /// pages, the search page and the API, plus page weight (seeds bench
    /// users and votes into the data dir once).
    Web(web::WebBenchArgs),
    /// Rendering and queueing the daily digest for many subscribers with
    /// personal interests (on a scratch copy of the store), against matching
    /// them one by one.
    Digest(digest::DigestBenchArgs),
    /// Importing a large bibliography (generated from the catalog) into a
    /// library, in each format, without arXiv fetches.
    Library(library::LibraryBenchArgs),
    /// One user's "For you" ranking of a day and a week on the catalog's
    /// papers and vectors.
    ForYou(for_you::ForYouBenchArgs),
    /// Page latency while submissions wait on a slow arXiv, against the
    /// same hub idle (adds one bench account to the data dir).
    Starvation(starvation::StarvationBenchArgs),
    /// Generate vectors for a full-size catalog from real ones (mixed with
    /// noise), as a file for `paperhub vectors import`.
    SynthVectors(synth_vectors::SynthVectorsArgs),
    /// One measurement in a fresh process; used by `bench import`.
    #[command(hide = true)]
    Worker {
        /// parse-syntax, parse-typed or import.
        phase: String,
        /// The corpus.
        path: PathBuf,
        /// Scratch directory for the import phase.
        #[arg(long)]
        scratch: Option<PathBuf>,
    },
}

/// A small deterministic generator (xorshift64*), so benchmark runs are
/// comparable.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One of `pool` (which must not be empty).
    pub(crate) fn pick<'a>(&mut self, pool: &'a [String]) -> &'a str {
        &pool[self.below(pool.len())]
    }

    /// Approximately standard normal (Irwin–Hall of four uniforms).
    pub(crate) fn normal(&mut self) -> f32 {
        let sum: f32 = (0..4)
            .map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32)
            .sum();
        (sum - 2.0) * 1.732
    }
}

/// The result of one phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseResult {
    /// Which phase.
    pub phase: String,
    /// The corpus.
    pub path: String,
    /// Records handled.
    pub records: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Records per second.
    pub records_per_sec: f64,
    /// Peak resident set size in MiB.
    pub peak_rss_mib: f64,
}

/// Peak RSS of this process in MiB, from `/proc/self/status`.
pub(crate) fn peak_rss_mib() -> f64 {
    let status = fs_err::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Every phase, in the order they run.
const PHASES: &[&str] = &[
    "parse-syntax",
    "parse-value",
    "parse-typed",
    "parse-paperhub",
    "import",
];

/// How deep `parse_only` goes.
#[derive(Clone, Copy)]
enum Depth {
    Syntax,
    Value,
    Typed,
}

fn parse_only(path: &Path, depth: Depth) -> Result<u64> {
    let inputs = import::input::expand(&[path.to_owned()])?;
    let mut records = 0u64;
    let mut line = Vec::with_capacity(1 << 16);
    for input in &inputs {
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut reader = BufReader::new(import::input::open(input, counter)?);
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            let ok = match depth {
                Depth::Syntax => serde_json::from_slice::<serde::de::IgnoredAny>(&line).is_ok(),
                Depth::Value => serde_json::from_slice::<serde_json::Value>(&line).is_ok(),
                // Listing lines fail the snapshot struct; try the listing one.
                Depth::Typed => {
                    serde_json::from_slice::<paperhub_arxiv::jsonl::SnapshotRecord<'_>>(&line)
                        .is_ok_and(|r| r.abstract_text.is_some())
                        || serde_json::from_slice::<paperhub_arxiv::jsonl::ListingRecord<'_>>(&line)
                            .is_ok()
                }
            };
            records += u64::from(ok);
        }
    }
    Ok(records)
}

fn worker(phase: &str, path: &Path, scratch: Option<&Path>) -> Result<PhaseResult> {
    let started = Instant::now();
    let records = match phase {
        "parse-syntax" => parse_only(path, Depth::Syntax)?,
        "parse-value" => parse_only(path, Depth::Value)?,
        "parse-typed" => parse_only(path, Depth::Typed)?,
        "parse-paperhub" => {
            let mut records = 0u64;
            for input in import::input::expand(&[path.to_owned()])? {
                let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                let reader = import::input::open(&input, counter)?;
                let stream = paperhub_arxiv::open(reader, &input.hint())?;
                records += stream.filter(Result::is_ok).count() as u64;
            }
            records
        }
        "import" => {
            let scratch = scratch.context("import phase needs --scratch")?;
            let store = crate::app::store::open_sqlite(&scratch.join("bench.sqlite3"))?;
            let inputs = import::input::expand(&[path.to_owned()])?;
            let report = import::run_import(
                store.as_ref(),
                &inputs,
                &ImportOptions::default(),
                &mut Quiet,
            )?;
            report.records
        }
        other => bail!("unknown phase {other}"),
    };
    let seconds = started.elapsed().as_secs_f64();
    Ok(PhaseResult {
        phase: phase.to_owned(),
        path: path.display().to_string(),
        records,
        seconds,
        records_per_sec: records as f64 / seconds.max(1e-9),
        peak_rss_mib: peak_rss_mib(),
    })
}

fn spawn_worker(phase: &str, path: &Path, scratch: &Path) -> Result<PhaseResult> {
    let exe = std::env::current_exe().context("cannot find the paperhub executable")?;
    let output = Command::new(exe)
        .args(["bench", "worker", phase])
        .arg(path)
        .arg("--scratch")
        .arg(scratch)
        .output()
        .context("cannot start the benchmark worker")?;
    if !output.status.success() {
        bail!(
            "benchmark worker {phase} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).context("benchmark worker printed no result")
}

/// Reads every input once so that no phase pays for the first disk read.
fn warm_page_cache(path: &Path) -> Result<()> {
    for input in import::input::expand(&[path.to_owned()])? {
        if let import::Input::File(file) = input {
            std::io::copy(&mut fs_err::File::open(&file)?, &mut std::io::sink())?;
        }
    }
    Ok(())
}

/// Runs a benchmark command.
///
/// # Errors
/// A corpus cannot be read or a worker fails.
pub fn run(
    data_dir: &crate::data_dir::DataDir,
    config: &crate::config::Config,
    command: &BenchCommand,
) -> Result<Outcome> {
    match command {
        BenchCommand::Search { queries } => search::latency(data_dir, config, *queries)?,
        BenchCommand::Embed {
            paths,
            count,
            no_peer,
            kernels,
            peer_avx2,
        } => {
            let mut chosen = Vec::new();
            for name in kernels {
                if name.trim().eq_ignore_ascii_case("all") {
                    chosen.extend(paperhub_embed::Kernel::supported());
                } else {
                    chosen.push(
                        paperhub_embed::Kernel::choose(name)
                            .map_err(|err| anyhow!("--kernel: {err}"))?,
                    );
                }
            }
            chosen.dedup();
            let options = search::EmbedOptions {
                kernels: chosen,
                peer: !*no_peer,
                peer_avx2: *peer_avx2,
            };
            search::embed(data_dir, config, paths, *count, &options)?;
        }
        BenchCommand::Vectors { queries } => search::vectors(data_dir, config, *queries)?,
        BenchCommand::Web(args) => web::web(data_dir, config, args)?,
        BenchCommand::SynthVectors(args) => synth_vectors::synth_vectors(data_dir, config, args)?,
        BenchCommand::Digest(args) => digest::digest(data_dir, config, args)?,
        BenchCommand::Library(args) => library::library(data_dir, config, args)?,
        BenchCommand::ForYou(args) => for_you::for_you(data_dir, config, args)?,
        BenchCommand::Starvation(args) => {
            starvation::starvation(data_dir, config, args)?;
        }
        BenchCommand::Worker {
            phase,
            path,
            scratch,
        } => {
            let result = worker(phase, path, scratch.as_deref())?;
            println!("{}", serde_json::to_string(&result)?);
        }
        BenchCommand::Import { paths, json_out } => {
            let mut all = Vec::new();
            println!(
                "{:<14} {:>10} {:>9} {:>12} {:>10}  corpus",
                "phase", "records", "seconds", "records/s", "peak MiB"
            );
            for path in paths {
                warm_page_cache(path)?;
                let scratch = tempfile::tempdir()?;
                let mut results = Vec::new();
                for phase in PHASES {
                    let r = spawn_worker(phase, path, scratch.path())?;
                    println!(
                        "{:<14} {:>10} {:>9.2} {:>12.0} {:>10.1}  {}",
                        r.phase, r.records, r.seconds, r.records_per_sec, r.peak_rss_mib, r.path
                    );
                    results.push(r);
                }
                let rate = |p: &str| {
                    results
                        .iter()
                        .find(|r| r.phase == p)
                        .map_or(0.0, |r| r.records_per_sec)
                };
                let import = rate("import");
                println!(
                    "  import as a share of: parse-syntax {:.2}, parse-value {:.2}, parse-typed {:.2}, parse-paperhub {:.2}",
                    import / rate("parse-syntax").max(1e-9),
                    import / rate("parse-value").max(1e-9),
                    import / rate("parse-typed").max(1e-9),
                    import / rate("parse-paperhub").max(1e-9),
                );
                all.extend(results);
            }
            if let Some(out) = json_out {
                fs_err::write(out, serde_json::to_string_pretty(&all)?)?;
            }
        }
    }
    Ok(Outcome::Success)
}
