//! Search benchmarks (not tests): query latency per mode, embedding
//! throughput against sentence-transformers, and approximate-vs-exact vector
//! search on real embeddings. Numbers go to docs/BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use paperhub_embed::{Embedder, Kernel};
use paperhub_search::{SearchRequest, Strategy};

use super::peak_rss_mib;
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::retrieval::{Mode, Retriever};

fn percentiles(mut times: Vec<f64>) -> (f64, f64, f64) {
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    (pct(0.5), pct(0.99), pct(1.0))
}

/// Short queries: the first four words of catalog titles.
pub(crate) fn title_queries(
    data_dir: &DataDir,
    database: &crate::config::DatabaseConfig,
    count: u32,
) -> Result<Vec<String>> {
    let store = crate::app::store::open(data_dir, database)?;
    Ok(store
        .changed_papers(None, count)?
        .into_iter()
        .map(|(_, p)| {
            p.title
                .split_whitespace()
                .take(4)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect())
}

/// `paperhub bench search`: p50/p99 of every available mode, one query at a
/// time, top 10 with snippets, query embedding included.
///
/// # Errors
/// Missing indexes.
pub fn latency(data_dir: &DataDir, config: &Config, queries: u32) -> Result<()> {
    let mut retriever = Retriever::open(data_dir, config)?;
    if retriever.lexical.num_docs() == 0 {
        bail!("the search index is empty: run `paperhub index` first");
    }
    let texts = title_queries(data_dir, &config.database, queries)?;
    let modes: &[Mode] = if retriever.dense.is_some() {
        &[Mode::Lexical, Mode::Semantic, Mode::Hybrid]
    } else {
        eprintln!("note: no vectors; timing lexical search only");
        &[Mode::Lexical]
    };
    for &mode in modes {
        let mut times = Vec::with_capacity(texts.len());
        for text in &texts {
            let request = SearchRequest {
                query: text.clone(),
                limit: 10,
                snippets: true,
                ..SearchRequest::default()
            };
            let started = Instant::now();
            retriever.search(&request, mode)?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let mut slowest: Vec<(f64, &String)> = times.iter().copied().zip(&texts).collect();
        slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (p50, p99, max) = percentiles(times);
        println!(
            "{mode:<8} search over {} papers, {} queries (top 10 with snippets): p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms",
            retriever.lexical.num_docs(),
            texts.len(),
        );
        let listed: Vec<String> = slowest
            .iter()
            .take(5)
            .map(|(ms, text)| format!("{text:?} {ms:.1} ms"))
            .collect();
        println!("  slowest: {}", listed.join(", "));
    }
    if retriever.dense.is_some() {
        hybrid_agreement(&mut retriever, &texts)?;
    }
    println!(
        "peak RSS {:.1} MiB (model, vectors, graph and BM25 index loaded)",
        peak_rss_mib()
    );
    Ok(())
}

/// How often hybrid search's top ten at a shorter HNSW candidate list for
/// its dense side equals the top ten at the full one (semantic search's):
/// the quality cost of [`crate::retrieval::HYBRID_EF`].
fn hybrid_agreement(retriever: &mut Retriever, texts: &[String]) -> Result<()> {
    let full = paperhub_search::vector::EF_SEARCH;
    let default = retriever.hybrid_ef;
    // The lists grow with the index: print the ones walked.
    let scale = |ef: usize| {
        retriever
            .dense
            .as_ref()
            .map_or(ef, |d| ef * d.vectors.default_ef() / full)
    };
    let full_walked = scale(full);
    let top_ten = |retriever: &Retriever, text: &str| -> Result<Vec<String>> {
        let request = SearchRequest {
            query: text.to_owned(),
            limit: 10,
            ..SearchRequest::default()
        };
        Ok(retriever
            .search(&request, Mode::Hybrid)?
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect())
    };
    retriever.hybrid_ef = full;
    let reference: Vec<Vec<String>> = texts
        .iter()
        .map(|t| top_ten(retriever, t))
        .collect::<Result<_>>()?;
    for ef in [64, 128, 256, 400] {
        retriever.hybrid_ef = ef;
        let (mut shared, mut wanted, mut same_order) = (0usize, 0usize, 0usize);
        let mut times = Vec::with_capacity(texts.len());
        for (text, want) in texts.iter().zip(&reference) {
            let started = Instant::now();
            let got = top_ten(retriever, text)?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            shared += got.iter().filter(|id| want.contains(id)).count();
            wanted += want.len();
            same_order += usize::from(&got == want);
        }
        let (p50, p99, _) = percentiles(times);
        let marker = if ef == default { " (default)" } else { "" };
        let walked = scale(ef);
        println!(
            "  hybrid, dense side at ef {walked:>4}{marker}: top 10 shares {:.4} of the ef {full_walked} top 10, identical for {:.3} of queries; p50 {p50:.2} ms, p99 {p99:.2} ms (no snippets)",
            shared as f64 / wanted.max(1) as f64,
            same_order as f64 / texts.len().max(1) as f64,
        );
    }
    retriever.hybrid_ef = default;
    Ok(())
}

/// `paperhub bench embed`: our encoder, then the Python peer on the same texts.
///
/// # Errors
/// Unreadable inputs, a missing model, or a failing peer.
pub fn embed(
    data_dir: &DataDir,
    config: &Config,
    paths: &[PathBuf],
    count: usize,
    options: &EmbedOptions,
) -> Result<()> {
    let mut texts = Vec::with_capacity(count);
    for path in paths {
        let mut files: Vec<PathBuf> = if path.is_dir() {
            walkdir::WalkDir::new(path)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .collect()
        } else {
            vec![path.clone()]
        };
        files.retain(|f| f.extension().is_some_and(|e| e == "jsonl"));
        for file in files {
            for line in fs_err::read_to_string(&file)?.lines() {
                if texts.len() == count {
                    break;
                }
                let v: serde_json::Value =
                    serde_json::from_str(line).with_context(|| format!("{}", file.display()))?;
                let clean = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
                let title = clean(v["title"].as_str().unwrap_or_default());
                let summary = clean(v["summary"].as_str().unwrap_or_default());
                texts.push(paperhub_embed::paper_text(&title, &summary));
            }
        }
    }
    if texts.len() < count {
        bail!("only {} abstracts found, {count} asked for", texts.len());
    }
    let queries: Vec<String> = texts
        .iter()
        .take(200)
        .map(|t| t.split_whitespace().take(6).collect::<Vec<_>>().join(" "))
        .collect();
    let model = crate::models::ensure(&config.embedding, data_dir)?;
    let threads = match config.embedding.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    println!("cpu            {}", Kernel::cpu_features());
    let mut ours = Vec::new();
    for kernel in &options.kernels {
        let embedder = Embedder::load_with_kernel(&model, *kernel)?;
        let tokens: usize = refs
            .iter()
            .map(|t| embedder.token_count(t).unwrap_or(0))
            .sum();
        embedder.embed(&refs[..32.min(refs.len())], threads)?; // warm-up, like the peer's
        let started = Instant::now();
        embedder.embed(&refs, threads)?;
        let seconds = started.elapsed().as_secs_f64();
        let rate = count as f64 / seconds;
        let mut times = Vec::new();
        for q in &queries {
            let t = Instant::now();
            embedder.embed_one(q)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let (median, _, _) = percentiles(times);
        println!(
            "paperhub       kernel {kernel}: {count} abstracts ({:.0} tokens on average, cut at {}), {threads} threads: {seconds:.1} s = {rate:.1}/s; query median {median:.2} ms; peak RSS {:.0} MiB",
            tokens as f64 / count as f64,
            embedder.model().max_seq_length,
            peak_rss_mib()
        );
        ours.push((*kernel, rate, median));
    }
    if !options.peer {
        return Ok(());
    }
    let scratch = tempfile::tempdir()?;
    let write = |name: &str, items: &[String]| -> Result<PathBuf> {
        let path = scratch.path().join(name);
        let lines: Vec<String> = items
            .iter()
            .map(|t| serde_json::json!({ "text": t }).to_string())
            .collect();
        fs_err::write(&path, lines.join("\n") + "\n")?;
        Ok(path)
    };
    let texts_path = write("texts.jsonl", &texts)?;
    let queries_path = write("queries.jsonl", &queries)?;
    let mut peers = vec![(
        "native",
        run_peer(&model, &texts_path, &queries_path, false)?,
    )];
    if options.peer_avx2 {
        peers.push(("avx2", run_peer(&model, &texts_path, &queries_path, true)?));
    }
    for (isa, peer) in &peers {
        println!(
            "peer           {isa}: {}: {:.1} s = {:.1}/s; query median {:.2} ms; peak RSS {:.0} MiB",
            peer.engine, peer.seconds, peer.rate, peer.query_median_ms, peer.peak_rss_mib,
        );
    }
    for (kernel, rate, median) in &ours {
        // The AVX2 paths are compared with the peer held to AVX2 too, when
        // that was run: both then stand for an AVX2-only machine.
        let avx2_only = matches!(kernel, Kernel::Avx2 | Kernel::Avx2Int16);
        let (isa, peer) = match peers.iter().find(|(isa, _)| avx2_only && *isa == "avx2") {
            Some(found) => found,
            None => &peers[0],
        };
        println!(
            "ratio          kernel {kernel} / peer {isa} = {:.2}x throughput, query {:.2}x faster",
            rate / peer.rate,
            peer.query_median_ms / median
        );
    }
    Ok(())
}

/// What the sentence-transformers peer reported.
struct PeerRun {
    engine: String,
    seconds: f64,
    rate: f64,
    query_median_ms: f64,
    peak_rss_mib: f64,
}

/// Runs `scripts/bench-embed-peer`; with `avx2`, torch and oneDNN are held
/// to AVX2 (`ATEN_CPU_CAPABILITY`, `ONEDNN_MAX_CPU_ISA`), as on an AVX2-only
/// machine.
fn run_peer(model: &Path, texts: &Path, queries: &Path, avx2: bool) -> Result<PeerRun> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/bench-embed-peer");
    let mut command = std::process::Command::new(&script);
    command.arg(model).arg(texts).arg(queries);
    if avx2 {
        command
            .env("ATEN_CPU_CAPABILITY", "avx2")
            .env("ONEDNN_MAX_CPU_ISA", "AVX2");
    }
    let out = command
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let peer: serde_json::Value =
        serde_json::from_str(line).with_context(|| format!("peer output {stdout:?}"))?;
    let number = |key: &str| peer[key].as_f64().unwrap_or(f64::NAN);
    Ok(PeerRun {
        engine: peer["engine"].as_str().unwrap_or("?").to_owned(),
        seconds: number("seconds"),
        rate: number("per_sec"),
        query_median_ms: number("query_median_ms"),
        peak_rss_mib: number("peak_rss_mib"),
    })
}

/// Which engines `bench embed` runs.
pub struct EmbedOptions {
    /// Our kernel paths, each measured in turn.
    pub kernels: Vec<Kernel>,
    /// Run the sentence-transformers peer.
    pub peer: bool,
    /// Run the peer a second time held to AVX2.
    pub peer_avx2: bool,
}

/// Above this many vectors `bench vectors` skips the int8 exact scan.
const INT8_SCAN_LIMIT: usize = 200_000;

/// `paperhub bench vectors`: HNSW against exact search on the catalog's
/// real vectors, and what int8 storage would cost in recall.
///
/// # Errors
/// Missing vectors.
pub fn vectors(data_dir: &DataDir, config: &Config, queries: u32) -> Result<()> {
    let retriever = Retriever::open(data_dir, config)?;
    let Some(dense) = retriever.dense.as_ref() else {
        bail!("no vectors: run `paperhub index` first");
    };
    let index = &dense.vectors;
    let serving_rss = super::peak_rss_mib();
    // Under int8 storage the index's own exact scan is rescored 8-bit
    // search, not the truth: compare with the same rows held as f32.
    let quantised = config
        .embedding
        .vector_storage
        .parse::<paperhub_search::Storage>()
        .map_err(|e| anyhow::anyhow!(e))?
        .resolve(index.len())
        == paperhub_search::Storage::Int8;
    let truth_index = if !quantised {
        None
    } else {
        Some(paperhub_search::VectorIndex::open_with(
            &crate::retrieval::vector_dir(data_dir, dense.embedder.fingerprint()),
            dense.embedder.dimensions(),
            index.model(),
            paperhub_search::Storage::F32,
        )?)
    };
    let truth = truth_index.as_ref().unwrap_or(index);
    let texts = title_queries(data_dir, &config.database, queries * 7)?;
    let texts: Vec<&String> = texts.iter().step_by(7).collect();
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let embedded = dense.embedder.embed_queries(&refs, 0)?;
    let dims = dense.embedder.dimensions();
    // The int8 exact scan sorts every row per query: only at small sizes.
    let quantised: Vec<(String, Vec<i8>)> = if index.len() <= INT8_SCAN_LIMIT {
        index
            .live_rows()
            .map(|(k, v)| {
                (
                    k.to_owned(),
                    v.iter().map(|x| (x * 127.0).round() as i8).collect(),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut efs: Vec<usize> = if index.len() > 1_000_000 {
        vec![512, 800, 1200, 1600, 2400, 3200, 4800]
    } else {
        vec![64, 128, 256, 400, 512, 600, 800]
    };
    efs.push(index.default_ef());
    efs.sort_unstable();
    efs.dedup();
    let mut ann_found = vec![0usize; efs.len()];
    let mut ann_times = vec![Vec::new(); efs.len()];
    let (mut int8_found, mut wanted) = (0usize, 0usize);
    let mut exact_times = Vec::new();
    for query in embedded.chunks_exact(dims) {
        let t = Instant::now();
        let exact = index.search(query, 10, Strategy::Exact, None);
        exact_times.push(t.elapsed().as_secs_f64() * 1000.0);
        let exact = if truth_index.is_some() {
            truth.search(query, 10, Strategy::Exact, None)
        } else {
            exact
        };
        for (i, &ef) in efs.iter().enumerate() {
            let t = Instant::now();
            let ann = index.search_approximate(query, 10, ef);
            ann_times[i].push(t.elapsed().as_secs_f64() * 1000.0);
            ann_found[i] += ann
                .iter()
                .filter(|h| exact.iter().any(|e| e.key == h.key))
                .count();
        }
        let q8: Vec<i32> = query
            .iter()
            .map(|x| i32::from((x * 127.0).round() as i8))
            .collect();
        let mut scored: Vec<(i32, &str)> = quantised
            .iter()
            .map(|(k, v)| {
                (
                    v.iter().zip(&q8).map(|(a, b)| i32::from(*a) * b).sum(),
                    k.as_str(),
                )
            })
            .collect();
        scored.sort_by_key(|s| std::cmp::Reverse(s.0));
        wanted += exact.len();
        int8_found += scored
            .iter()
            .take(10)
            .filter(|(_, k)| exact.iter().any(|e| e.key == *k))
            .count();
    }
    let (exact_p50, exact_p99, _) = percentiles(exact_times);
    let int8 = if quantised.is_empty() {
        "int8 scan skipped above 200,000 vectors".to_owned()
    } else {
        format!(
            "int8 exact recall@10 {:.4} (4x smaller)",
            int8_found as f64 / wanted as f64
        )
    };
    println!(
        "{} vectors ({} storage, peak RSS {serving_rss:.0} MiB before the benchmark), {} queries: exact p50 {exact_p50:.2} ms p99 {exact_p99:.2} ms; {int8}",
        index.len(),
        config.embedding.vector_storage,
        embedded.len() / dims,
    );
    for ((ef, found), times) in efs.iter().zip(ann_found).zip(ann_times) {
        let (p50, p99, _) = percentiles(times);
        let default = if *ef == index.default_ef() {
            " (default)"
        } else {
            ""
        };
        println!(
            "  HNSW ef {ef:>4}{default}: recall@10 {:.4}, p50 {p50:.2} ms, p99 {p99:.2} ms",
            found as f64 / wanted as f64
        );
    }
    Ok(())
}
