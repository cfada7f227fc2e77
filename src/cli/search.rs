//! `paperhub index`, `paperhub search` and `paperhub eval beir`.
//!
//! Only the lexical (BM25) engine exists so far. `--mode semantic` and
//! `--mode hybrid` (the default) fall back to lexical and say so on stderr,
//! as the search issue asks for a catalog without embeddings.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use paperhub_domain::ArxivId;
use paperhub_search::eval::{self, Scores};
use paperhub_search::{IndexDoc, LexicalIndex, SearchRequest, SortOrder};
use serde::Deserialize;

use super::Outcome;
use crate::data_dir::DataDir;
use crate::indexing;

/// Retrieval mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// BM25 only.
    Lexical,
    /// Dense embeddings only (not built yet: falls back to lexical).
    Semantic,
    /// BM25 fused with embeddings (not built yet: falls back to lexical).
    Hybrid,
}

fn effective(mode: Mode) -> Mode {
    if mode != Mode::Lexical {
        eprintln!("note: no embedding model or vectors yet; using lexical (BM25) search");
    }
    Mode::Lexical
}

/// Arguments of `paperhub search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The query: words, "phrases", AND/OR, -exclusions, ti: au: abs: cat: id: prefixes; or an arXiv id/URL.
    pub query: String,
    /// Retrieval mode.
    #[arg(long, value_enum, default_value_t = Mode::Hybrid)]
    pub mode: Mode,
    /// Results to show.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Only papers in this category (repeatable).
    #[arg(long = "category", value_name = "CAT")]
    pub categories: Vec<String>,
    /// Only papers announced or submitted on or after this day.
    #[arg(long, value_name = "DATE")]
    pub since: Option<chrono::NaiveDate>,
    /// Only papers announced or submitted on or before this day.
    #[arg(long, value_name = "DATE")]
    pub until: Option<chrono::NaiveDate>,
    /// Newest first instead of by relevance.
    #[arg(long)]
    pub by_date: bool,
    /// Print results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `paperhub index`: brings the search index up to date with the catalog.
///
/// # Errors
/// The catalog or index cannot be read or written.
pub fn run_index(data_dir: &DataDir) -> Result<Outcome> {
    let store = data_dir.open_store()?;
    let index = LexicalIndex::open_or_create(&indexing::lexical_dir(data_dir))?;
    let started = std::time::Instant::now();
    let done = indexing::update_lexical(&store, &index, &mut |n| eprint!("\rindexed {n} papers"))?;
    eprintln!();
    println!(
        "Lexical index up to date: {done} papers indexed in {:.1} s, {} documents in total.",
        started.elapsed().as_secs_f64(),
        index.num_docs()
    );
    Ok(Outcome::Success)
}

/// Runs `paperhub search`.
///
/// # Errors
/// The index cannot be read.
pub fn run_search(data_dir: &DataDir, args: &SearchArgs) -> Result<Outcome> {
    effective(args.mode);
    let index = LexicalIndex::open_or_create(&indexing::lexical_dir(data_dir))?;
    if index.num_docs() == 0 {
        bail!("the search index is empty: run `paperhub index` after importing papers");
    }
    // An arXiv id or abs/pdf URL goes straight to that paper.
    let query = match args.query.parse::<ArxivId>() {
        Ok(id) => format!("id:\"{}\"", id.unversioned()),
        Err(_) => args.query.clone(),
    };
    let hits = index.search(&SearchRequest {
        query,
        limit: args.limit,
        categories: args.categories.clone(),
        since: args.since,
        until: args.until,
        sort: if args.by_date {
            SortOrder::Date
        } else {
            SortOrder::Relevance
        },
        snippets: true,
        ..SearchRequest::default()
    })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let papers: Vec<serde_json::Value> = hits
            .iter()
            .map(|h| serde_json::json!({"id": h.id, "title": h.title, "score": h.score, "snippet_html": h.snippet_html}))
            .collect();
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({"papers": papers, "meta": {"mode": "lexical"}}),
        )?;
        writeln!(out)?;
    } else if hits.is_empty() {
        writeln!(out, "No papers match.")?;
    } else {
        for (i, h) in hits.iter().enumerate() {
            writeln!(out, "{:>2}. {}  {}  ({:.2})", i + 1, h.id, h.title, h.score)?;
        }
    }
    Ok(if hits.is_empty() {
        Outcome::Unsuccessful
    } else {
        Outcome::Success
    })
}

/// Subcommands of `paperhub eval`.
#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Evaluate on a BEIR directory (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv).
    Beir {
        /// The BEIR dataset directory.
        dir: PathBuf,
        /// Which qrels split.
        #[arg(long, default_value = "test")]
        split: String,
        /// Retrieval mode.
        #[arg(long, value_enum, default_value_t = Mode::Hybrid)]
        mode: Mode,
        /// Write a TREC run file (100 hits per query) here.
        #[arg(long, value_name = "FILE")]
        run_out: Option<PathBuf>,
    },
}

#[derive(Deserialize)]
struct BeirDoc {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
}

/// FNV-1a: a stable checksum for cache keys (not for security).
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs `paperhub eval …`.
///
/// # Errors
/// The dataset is missing or malformed, or the index cannot be built.
pub fn run_eval(data_dir: &DataDir, command: &EvalCommand) -> Result<Outcome> {
    let EvalCommand::Beir {
        dir,
        split,
        mode,
        run_out,
    } = command;
    effective(*mode);
    let corpus_path = dir.join("corpus.jsonl");
    let corpus = fs_err::read(&corpus_path)?;
    let cache = data_dir
        .path()
        .join("eval")
        .join(format!("{:016x}", checksum(&corpus)))
        .join("lexical");
    let index = LexicalIndex::open_or_create(&cache)?;
    if index.num_docs() == 0 {
        let mut writer = index.writer()?;
        for (i, line) in corpus.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let doc: BeirDoc = serde_json::from_slice(line)
                .with_context(|| format!("{}: line {}", corpus_path.display(), i + 1))?;
            writer.upsert(&IndexDoc {
                id: doc.id,
                title: doc.title,
                abstract_text: doc.text,
                ..IndexDoc::default()
            })?;
        }
        writer.commit()?;
        index.reload()?;
        eprintln!(
            "indexed {} documents into {}",
            index.num_docs(),
            cache.display()
        );
    } else {
        eprintln!("reusing the cached index in {}", cache.display());
    }
    let qrels_path = dir.join("qrels").join(format!("{split}.tsv"));
    let qrels = eval::parse_qrels(&fs_err::read_to_string(&qrels_path)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", qrels_path.display()))?;
    let queries_path = dir.join("queries.jsonl");
    let mut run: Vec<(String, Vec<(String, f32)>)> = Vec::new();
    for (i, line) in fs_err::read_to_string(&queries_path)?.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let q: BeirDoc = serde_json::from_str(line)
            .with_context(|| format!("{}: line {}", queries_path.display(), i + 1))?;
        if !qrels.contains_key(&q.id) {
            continue;
        }
        let hits = index.search(&SearchRequest {
            query: q.text,
            plain: true,
            limit: 100,
            ..SearchRequest::default()
        })?;
        run.push((q.id, hits.into_iter().map(|h| (h.id, h.score)).collect()));
    }
    let ranked: HashMap<String, Vec<String>> = run
        .iter()
        .map(|(q, hits)| (q.clone(), hits.iter().map(|(d, _)| d.clone()).collect()))
        .collect();
    let Scores {
        ndcg_at_10,
        recall_at_100,
        mrr_at_10,
        queries,
    } = eval::score(&ranked, &qrels);
    println!("mode lexical, split {split}, {queries} queries");
    println!("nDCG@10    {ndcg_at_10:.4}");
    println!("Recall@100 {recall_at_100:.4}");
    println!("MRR@10     {mrr_at_10:.4}");
    if let Some(path) = run_out {
        fs_err::write(path, eval::trec_run(&run, "paperhub-lexical"))?;
    }
    Ok(Outcome::Success)
}
