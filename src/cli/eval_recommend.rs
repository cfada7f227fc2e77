//! `paperhub eval recommend`: an offline simulation of "For you" on the
//! catalog, comparing Paperhub's ranker with arxiv-sanity-lite's and
//! zotero-arxiv-daily's methods in one run, on the same users.
//!
//! **Simulated users** are groups of related papers in announcement order:
//! the first `k` in the library, every later one held out. Each method ranks
//! every paper announced after the library's last one (tens of thousands on
//! the 40k catalog) and is scored on where the held-out papers land:
//! precision@10, nDCG@10 (binary gains) and recall@50. Two kinds of group,
//! because each favours a different method:
//! - *authors*: one author's papers. Same author, same words: this favours
//!   tf-idf. Author names are never features (arxiv-sanity-lite puts authors
//!   in its tf-idf; here it would find the held-out papers by name), so every
//!   method sees titles and abstracts only;
//! - *category pairs*: papers cross-listed in the same rare pair of arXiv
//!   categories (15 to 300 papers share it), one line of work in any words:
//!   no method sees categories, and this favours meaning over wording.
//!
//! Groups are sampled by a hash of their key, the same ones for every
//! method; `--split tune` takes the other half of the hashes, for choosing
//! settings without looking at the reported half.
//!
//! **The methods**, on the same features (tf-idf over the whole catalog, 1-
//! and 2-grams, sublinear tf, hashed; the catalog's MiniLM vectors):
//! - *Paperhub*: [`Ranker::train`] with the product's settings and, as in
//!   production, negatives sampled from the papers being ranked
//!   ([`for_you::Effort::PAGE`]);
//! - *arxiv-sanity-lite*: a class-balanced linear SVM with C = 0.1 over
//!   tf-idf alone, trained against a sample of 2,000 other papers of the
//!   whole catalog (it trains against all of them; the sample keeps the
//!   trainings affordable);
//! - *zotero-arxiv-daily*: recency-weighted cosine of the embeddings.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use anyhow::{Result, bail};
use chrono::NaiveDate;
use paperhub_domain::author::author_key;
use paperhub_search::recommend::{self, Doc, Ranker, Settings, TfIdf};
use paperhub_store::Store;
use serde::Serialize;

use super::Outcome;
use crate::app::for_you;
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::retrieval::Retriever;

/// Options of `paperhub eval recommend`.
#[derive(Debug, Clone, clap::Args)]
pub struct RecommendArgs {
    /// Library sizes to simulate.
    #[arg(long, value_delimiter = ',', default_values_t = [3usize, 5, 10])]
    pub k: Vec<usize>,
    /// Simulated users per library size.
    #[arg(long, default_value_t = 300)]
    pub users: usize,
    /// Also rank with these embedding weights (to choose the default; do
    /// it on `--split tune`).
    #[arg(long, value_delimiter = ',', value_name = "W")]
    pub dense_weights: Vec<f32>,
    /// Also rank with these SVM regularisations (with each weight).
    #[arg(long, value_delimiter = ',', value_name = "C")]
    pub cs: Vec<f32>,
    /// Also rank with these weights of the library-similarity prior.
    #[arg(long, value_delimiter = ',', value_name = "S")]
    pub similarity_weights: Vec<f32>,
    /// Unsaved papers Paperhub samples as negatives (default: the
    /// product's).
    #[arg(long, default_value_t = for_you::Effort::PAGE.negatives)]
    pub negatives: usize,
    /// Passes of Paperhub's SVM trainer at most (default: the product's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Which half of the authors: `test` (reported) or `tune` (for choosing
    /// settings); split by a hash of the name.
    #[arg(long, default_value = "test", value_parser = ["test", "tune"])]
    pub split: String,
    /// Print the table as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Negatives of the arxiv-sanity-lite method.
const SANITY_NEGATIVES: usize = 2_000;
/// Held-out papers a user needs at least.
const MIN_HELD_OUT: usize = 2;
/// A category pair is a group when this many papers share it: rare enough
/// to be one line of work, common enough to have later papers.
const RARE_PAIR: std::ops::RangeInclusive<usize> = 15..=300;

struct Corpus {
    ids: Vec<String>,
    dates: Vec<NaiveDate>,
    docs: Vec<Doc>,
    /// Author key -> paper positions, oldest first.
    authors: Vec<(String, Vec<usize>)>,
    /// Rare category pair -> paper positions, oldest first.
    pairs: Vec<(String, Vec<usize>)>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
struct Metrics {
    precision_10: f64,
    ndcg_10: f64,
    recall_50: f64,
}

#[derive(Debug, Clone, Serialize)]
struct Row {
    groups: &'static str,
    k: usize,
    method: String,
    users: usize,
    #[serde(flatten)]
    metrics: Metrics,
    /// Mean training plus scoring time per user, milliseconds.
    ms_per_user: f64,
}

#[derive(Clone, Copy)]
enum Method {
    Ours(Settings),
    ArxivSanity,
    Zotero,
}

impl Method {
    fn label(&self, defaults: &Settings) -> String {
        match self {
            Method::Ours(s) if is_default(s, defaults) => "Paperhub".into(),
            Method::Ours(s) => format!(
                "Paperhub, embedding weight {}, C {}, similarity {}",
                s.dense_weight, s.c, s.similarity_weight
            ),
            Method::ArxivSanity => "arxiv-sanity-lite (tf-idf SVM)".into(),
            Method::Zotero => "zotero-arxiv-daily (weighted cosine)".into(),
        }
    }
}

fn is_default(s: &Settings, defaults: &Settings) -> bool {
    s.dense_weight == defaults.dense_weight
        && s.c == defaults.c
        && s.similarity_weight == defaults.similarity_weight
}

/// Runs the simulation.
///
/// # Errors
/// The catalog cannot be read, or it has no vectors (`paperhub index`).
pub fn run(data_dir: &DataDir, config: &Config, args: &RecommendArgs) -> Result<Outcome> {
    let started = Instant::now();
    let store = crate::app::store::open(data_dir, &config.database)?;
    let retriever = Retriever::open(data_dir, config)?;
    let Some(dense) = retriever.dense.as_ref().filter(|d| !d.vectors.is_empty()) else {
        bail!("the catalog has no vectors yet; run `paperhub index` first");
    };
    let corpus = load(store.as_ref(), &dense.vectors)?;
    eprintln!(
        "{} papers with vectors, {} authors, {} rare category pairs, features in {:.1} s",
        corpus.ids.len(),
        corpus.authors.len(),
        corpus.pairs.len(),
        started.elapsed().as_secs_f64()
    );
    let defaults = Settings {
        epochs: args.epochs.unwrap_or(for_you::Effort::PAGE.epochs),
        ..Settings::default()
    };
    let mut methods = vec![Method::Ours(defaults), Method::ArxivSanity, Method::Zotero];
    let grid = !(args.dense_weights.is_empty()
        && args.cs.is_empty()
        && args.similarity_weights.is_empty());
    let or_default = |v: &[f32], d: f32| if v.is_empty() { vec![d] } else { v.to_vec() };
    for &w in &or_default(&args.dense_weights, defaults.dense_weight) {
        for &c in &or_default(&args.cs, defaults.c) {
            for &sim in &or_default(&args.similarity_weights, defaults.similarity_weight) {
                let s = Settings {
                    dense_weight: w,
                    c,
                    similarity_weight: sim,
                    ..defaults
                };
                if grid && !is_default(&s, &defaults) {
                    methods.push(Method::Ours(s));
                }
            }
        }
    }
    let mut rows = Vec::new();
    for (groups, of) in [
        ("authors", &corpus.authors),
        ("category pairs", &corpus.pairs),
    ] {
        for &k in &args.k {
            let users = users(&corpus, of, k, args.users, args.split == "tune");
            for method in &methods {
                let t = Instant::now();
                let metrics = evaluate(&corpus, &users, *method, args.negatives);
                rows.push(Row {
                    groups,
                    k,
                    method: method.label(&defaults),
                    users: users.len(),
                    metrics,
                    ms_per_user: t.elapsed().as_secs_f64() * 1000.0 / users.len().max(1) as f64,
                });
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print_table(&rows);
    }
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(Outcome::Success)
}

fn load(store: &dyn Store, vectors: &paperhub_search::VectorIndex) -> Result<Corpus> {
    let mut papers = Vec::new();
    let mut after = None;
    loop {
        let page = store.changed_papers(after, 5_000)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        papers.extend(page.into_iter().map(|(_, p)| p));
    }
    papers.retain(|p| vectors.vector(p.id.base()).is_some());
    let date = |p: &paperhub_domain::Paper| {
        p.announced
            .or_else(|| p.submitted.map(|s| s.date_naive()))
            .unwrap_or(NaiveDate::MIN)
    };
    papers.sort_by(|a, b| date(a).cmp(&date(b)).then_with(|| a.id.cmp(&b.id)));
    let texts: Vec<String> = papers.iter().map(for_you::text).collect();
    let tfidf = TfIdf::fit(texts.iter().map(String::as_str));
    let docs: Vec<Doc> = papers
        .iter()
        .zip(&texts)
        .map(|(p, t)| Doc {
            sparse: tfidf.row(t),
            dense: vectors
                .vector(p.id.base())
                .map(std::borrow::Cow::into_owned),
        })
        .collect();
    let mut by_author: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in papers.iter().enumerate() {
        let keys: HashSet<String> = p.authors.iter().map(|a| author_key(&a.name)).collect();
        for key in keys.into_iter().filter(|k| !k.is_empty()) {
            by_author.entry(key).or_default().push(i);
        }
    }
    let mut authors: Vec<(String, Vec<usize>)> = by_author.into_iter().collect();
    authors.sort();
    // Cross-listings: papers sharing a pair of categories no method sees.
    let mut by_pair: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in papers.iter().enumerate() {
        let mut cats: Vec<&str> = p.categories.iter().map(String::as_str).collect();
        cats.sort_unstable();
        cats.dedup();
        for (a, x) in cats.iter().enumerate() {
            for y in &cats[a + 1..] {
                by_pair.entry(format!("{x} {y}")).or_default().push(i);
            }
        }
    }
    let mut pairs: Vec<(String, Vec<usize>)> = by_pair
        .into_iter()
        .filter(|(_, v)| RARE_PAIR.contains(&v.len()))
        .collect();
    pairs.sort();
    Ok(Corpus {
        ids: papers.iter().map(|p| p.id.base().to_owned()).collect(),
        dates: papers.iter().map(date).collect(),
        docs,
        authors,
        pairs,
    })
}

/// A simulated user: library (oldest first), held-out papers, and the
/// first candidate position (every paper from there on is ranked).
struct User {
    library: Vec<usize>,
    held_out: HashSet<usize>,
    first_candidate: usize,
    seed: u64,
}

fn users(
    corpus: &Corpus,
    groups: &[(String, Vec<usize>)],
    k: usize,
    max: usize,
    tune: bool,
) -> Vec<User> {
    let mut users: Vec<(u64, User)> = groups
        .iter()
        .filter_map(|(key, papers)| {
            let library: Vec<usize> = papers.iter().take(k).copied().collect();
            let last = *library.get(k.checked_sub(1)?)?;
            let cutoff = corpus.dates[last];
            let first_candidate = corpus.dates.partition_point(|d| *d <= cutoff);
            let held_out: HashSet<usize> = papers
                .iter()
                .copied()
                .filter(|&p| p >= first_candidate)
                .collect();
            let seed = fnv(key);
            (held_out.len() >= MIN_HELD_OUT && first_candidate < corpus.ids.len()).then_some((
                seed,
                User {
                    library,
                    held_out,
                    first_candidate,
                    seed,
                },
            ))
        })
        .collect();
    users.retain(|(seed, _)| (seed % 2 == 1) == tune);
    users.sort_by_key(|(seed, _)| *seed);
    users.truncate(max);
    users.into_iter().map(|(_, u)| u).collect()
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn evaluate(corpus: &Corpus, users: &[User], method: Method, negatives: usize) -> Metrics {
    let per_user: Vec<Metrics> = std::thread::scope(|scope| {
        let workers = std::thread::available_parallelism().map_or(1, usize::from);
        let chunk = users.len().div_ceil(workers).max(1);
        let handles: Vec<_> = users
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|u| score_user(corpus, u, method, negatives))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let n = per_user.len().max(1) as f64;
    Metrics {
        precision_10: per_user.iter().map(|m| m.precision_10).sum::<f64>() / n,
        ndcg_10: per_user.iter().map(|m| m.ndcg_10).sum::<f64>() / n,
        recall_50: per_user.iter().map(|m| m.recall_50).sum::<f64>() / n,
    }
}

fn score_user(corpus: &Corpus, user: &User, method: Method, our_negatives: usize) -> Metrics {
    let n = corpus.ids.len();
    let candidates = user.first_candidate..n;
    let library: Vec<&Doc> = user
        .library
        .iter()
        .rev()
        .map(|&i| &corpus.docs[i])
        .collect();
    let in_library: HashSet<usize> = user.library.iter().copied().collect();
    let spread = |count: usize, range: std::ops::Range<usize>| -> Vec<&Doc> {
        let len = range.len();
        let step = (len / count.max(1)).max(1);
        let offset = (user.seed as usize) % step;
        range
            .clone()
            .skip(offset)
            .step_by(step)
            .filter(|i| !in_library.contains(i))
            .take(count)
            .map(|i| &corpus.docs[i])
            .collect()
    };
    let score: Box<dyn Fn(&Doc) -> f32> = match method {
        Method::Ours(settings) => {
            let negatives = spread(our_negatives, candidates.clone());
            let ranker = Ranker::train(&library, &negatives, &settings);
            Box::new(move |d| ranker.score(d))
        }
        Method::ArxivSanity => {
            let negatives = spread(SANITY_NEGATIVES, 0..n);
            let model = recommend::train_svm(&library, &negatives, 0.1, 0.0, 20);
            Box::new(move |d| model.score(d))
        }
        Method::Zotero => {
            let embeddings: Vec<&[f32]> =
                library.iter().filter_map(|d| d.dense.as_deref()).collect();
            Box::new(move |d| {
                d.dense
                    .as_deref()
                    .map_or(f32::MIN, |e| recommend::weighted_cosine(e, &embeddings))
            })
        }
    };
    let mut ranked: Vec<(f32, usize)> = candidates.map(|i| (score(&corpus.docs[i]), i)).collect();
    let top = 50.min(ranked.len());
    if top > 0 {
        ranked.select_nth_unstable_by(top - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.truncate(top);
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    }
    let hit = |i: usize| user.held_out.contains(&ranked[i].1);
    let hits_10 = (0..ranked.len().min(10)).filter(|&i| hit(i)).count();
    let hits_50 = (0..ranked.len()).filter(|&i| hit(i)).count();
    let dcg: f64 = (0..ranked.len().min(10))
        .filter(|&i| hit(i))
        .map(|i| 1.0 / ((i + 2) as f64).log2())
        .sum();
    let ideal: f64 = (0..user.held_out.len().min(10))
        .map(|i| 1.0 / ((i + 2) as f64).log2())
        .sum();
    Metrics {
        precision_10: hits_10 as f64 / 10.0,
        ndcg_10: if ideal > 0.0 { dcg / ideal } else { 0.0 },
        recall_50: hits_50 as f64 / user.held_out.len().max(1) as f64,
    }
}

fn print_table(rows: &[Row]) {
    println!("| groups | k | method | users | P@10 | nDCG@10 | R@50 | ms/user |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.1} |",
            r.groups,
            r.k,
            r.method,
            r.users,
            r.metrics.precision_10,
            r.metrics.ndcg_10,
            r.metrics.recall_50,
            r.ms_per_user
        );
    }
    // The mean over library sizes, per method.
    let mut methods: Vec<&str> = Vec::new();
    for r in rows {
        if !methods.contains(&r.method.as_str()) {
            methods.push(&r.method);
        }
    }
    for m in methods {
        let of: Vec<&Row> = rows.iter().filter(|r| r.method == m).collect();
        let n = of.len().max(1) as f64;
        println!(
            "| all | mean | {m} | | {:.3} | {:.3} | {:.3} | |",
            of.iter().map(|r| r.metrics.precision_10).sum::<f64>() / n,
            of.iter().map(|r| r.metrics.ndcg_10).sum::<f64>() / n,
            of.iter().map(|r| r.metrics.recall_50).sum::<f64>() / n,
        );
    }
}
