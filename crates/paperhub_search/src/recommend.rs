//! The building blocks of personal recommendations: hashed tf-idf features,
//! a linear SVM trained by dual coordinate descent over sparse tf-idf plus
//! dense embedding features, and the weighted-cosine scorer of
//! zotero-arxiv-daily, each small enough to train per user in milliseconds.
//!
//! Why both feature kinds: measured before this code (issue 15), tf-idf
//! carries most of the "more from the same line of work" signal and an
//! embedding-only model loses to arxiv-sanity's tf-idf SVM; one SVM over
//! both did best. Features are hashed (no vocabulary to store or ship),
//! 1- and 2-grams of lower-cased words, sublinear tf, idf from the corpus
//! the caller gives, rows L2-normalised.

/// Hash buckets of the tf-idf features.
pub const BUCKETS: u32 = 1 << 18;

/// A sparse row: (bucket, value), buckets ascending and unique.
pub type Sparse = Vec<(u32, f32)>;

/// Words a text contributes at most.
const MAX_WORDS: usize = 2_000;
const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// FNV-1a over `bytes` from state `h`, enough to spread words over buckets.
fn fnv(mut h: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The words of `text`: runs of letters and digits longer than one byte,
/// at most [`MAX_WORDS`].
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1)
        .take(MAX_WORDS)
}

/// Calls `f(bucket, i, pair)` for every 1-gram (word `i`) and 2-gram
/// (words `i - 1` and `i`) of `text`'s lower-cased words, hashing as it
/// goes: no string is made for a word (this runs for every paper of a
/// period and every library paper).
fn each_gram<'t>(text: &'t str, mut f: impl FnMut(u32, Option<&'t str>, &'t str) -> bool) {
    let mut lower = String::new();
    // FNV state of the previous word followed by a space, and the word.
    let mut prev: Option<(u32, &str)> = None;
    for w in words(text) {
        let bytes = if w.is_ascii() && !w.bytes().any(|b| b.is_ascii_uppercase()) {
            w.as_bytes()
        } else {
            lower.clear();
            lower.extend(w.chars().flat_map(char::to_lowercase));
            lower.as_bytes()
        };
        let word = fnv(FNV_OFFSET, bytes);
        if !f(word % BUCKETS, None, w) {
            return;
        }
        if let Some((p, before)) = prev
            && !f(fnv(p, bytes) % BUCKETS, Some(before), w)
        {
            return;
        }
        prev = Some((fnv(word, b" "), w));
    }
}

/// Term counts of a text's 1- and 2-grams, by bucket, buckets ascending.
fn counts(text: &str) -> Vec<(u32, u32)> {
    let mut buckets = Vec::with_capacity(512);
    each_gram(text, |b, _, _| {
        buckets.push(b);
        true
    });
    buckets.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match out.last_mut() {
            Some((last, n)) if *last == b => *n += 1,
            _ => out.push((b, 1)),
        }
    }
    out
}

/// Hashed tf-idf over a corpus.
#[derive(Debug, Clone)]
pub struct TfIdf {
    /// Inverse document frequency by bucket (unseen buckets get the
    /// rarest value).
    idf: Vec<f32>,
}

impl TfIdf {
    /// Learns document frequencies from `corpus`.
    pub fn fit<'a>(corpus: impl IntoIterator<Item = &'a str>) -> TfIdf {
        let mut df = vec![0u32; BUCKETS as usize];
        let mut n = 0u32;
        for doc in corpus {
            n += 1;
            for (bucket, _) in counts(doc) {
                df[bucket as usize] += 1;
            }
        }
        let n = n as f32;
        // Smoothed, as scikit-learn's TfidfVectorizer: ln((1+n)/(1+df)) + 1.
        let idf = df
            .into_iter()
            .map(|d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        TfIdf { idf }
    }

    /// The L2-normalised tf-idf row of `text` (sublinear tf).
    pub fn row(&self, text: &str) -> Sparse {
        let mut row: Sparse = counts(text)
            .into_iter()
            .map(|(b, tf)| (b, (1.0 + (tf as f32).ln()) * self.idf[b as usize]))
            .collect();
        let norm = row.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, v) in &mut row {
                *v /= norm;
            }
        }
        row
    }
}

/// The sum of `term(bucket, value)` over a sparse row, with four sums in
/// flight, so the loads behind consecutive terms overlap instead of waiting
/// on one running sum (this loop is most of training time).
#[inline(always)]
fn sum4(row: &[(u32, f32)], term: impl Fn(u32, f32) -> f32) -> f32 {
    let mut sums = [0.0f32; 4];
    let mut chunks = row.chunks_exact(4);
    for c in &mut chunks {
        for (s, (b, v)) in sums.iter_mut().zip(c) {
            *s += term(*b, *v);
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|(b, v)| term(*b, *v)).sum();
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail
}

/// The inner product of a full table of bucket weights and a sparse row,
/// buckets masked into the table, so no bounds check.
fn gather_dot(weights: &[f32; BUCKETS as usize], row: &[(u32, f32)]) -> f32 {
    sum4(row, |b, v| weights[(b & (BUCKETS - 1)) as usize] * v)
}

/// The inner product of two sparse rows (buckets ascending).
pub fn sparse_dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0f32);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

/// A paper's features: its tf-idf row and, when it has one, its embedding
/// (a unit vector).
#[derive(Debug, Clone, Default)]
pub struct Doc {
    /// The tf-idf row.
    pub sparse: Sparse,
    /// The embedding.
    pub dense: Option<Vec<f32>>,
}

impl Doc {
    /// Cosine similarity: of the embeddings when both have one, else of the
    /// tf-idf rows.
    pub fn similarity(&self, other: &Doc) -> f32 {
        match (&self.dense, &other.dense) {
            (Some(a), Some(b)) => crate::vector::dot(a, b),
            _ => sparse_dot(&self.sparse, &other.sparse),
        }
    }
}

/// A linear model: one weight per tf-idf bucket, dense weights, a bias. The
/// dense part of every example is scaled by `dense_weight`, which sets how
/// much embeddings count against words.
#[derive(Debug, Clone, Default)]
pub struct Linear {
    sparse: Vec<f32>,
    dense: Vec<f32>,
    bias: f32,
    dense_weight: f32,
}

impl Linear {
    /// The decision value of `x`.
    pub fn score(&self, x: &Doc) -> f32 {
        let s = match <&[f32; BUCKETS as usize]>::try_from(self.sparse.as_slice()) {
            Ok(weights) => gather_dot(weights, &x.sparse),
            Err(_) => 0.0,
        };
        let d = match (&x.dense, self.dense.is_empty()) {
            (Some(dense), false) => self.dense_weight * crate::vector::dot(dense, &self.dense),
            _ => 0.0,
        };
        s + d + self.bias
    }

    /// The weight the model gives a tf-idf bucket.
    pub fn weight(&self, bucket: u32) -> f32 {
        self.sparse.get(bucket as usize).copied().unwrap_or(0.0)
    }

    fn norm2(&self, x: &Doc) -> f32 {
        sum4(&x.sparse, |_, v| v * v)
            + x.dense.as_ref().map_or(0.0, |d| {
                self.dense_weight * self.dense_weight * crate::vector::dot(d, d)
            })
    }

    fn add(&mut self, x: &Doc, step: f32) {
        if !x.sparse.is_empty() && self.sparse.is_empty() {
            self.sparse = take_table();
        }
        for (b, v) in &x.sparse {
            self.sparse[*b as usize] += step * v;
        }
        if let Some(dense) = &x.dense
            && self.dense_weight != 0.0
        {
            if self.dense.len() < dense.len() {
                self.dense.resize(dense.len(), 0.0);
            }
            let scale = step * self.dense_weight;
            for (w, v) in self.dense.iter_mut().zip(dense) {
                *w += scale * v;
            }
        }
        self.bias += step;
    }
}

/// Weight tables of dropped models, kept for the next training: a fresh
/// 1 MB table costs page faults and zeroing every time (`perf`: a sixth
/// of a digest's training), and a digest run trains one model per
/// subscriber. At most [`SPARE_TABLES`] are kept.
static SPARE: std::sync::Mutex<Vec<Vec<f32>>> = std::sync::Mutex::new(Vec::new());
/// Spare tables kept at most.
const SPARE_TABLES: usize = 8;

/// A zeroed weight table, a spare one when there is one.
fn take_table() -> Vec<f32> {
    let spare = SPARE.lock().ok().and_then(|mut s| s.pop());
    match spare {
        Some(mut table) => {
            table.fill(0.0);
            table
        }
        None => vec![0.0; BUCKETS as usize],
    }
}

impl Drop for Linear {
    fn drop(&mut self) {
        if self.sparse.len() == BUCKETS as usize
            && let Ok(mut spare) = SPARE.lock()
            && spare.len() < SPARE_TABLES
        {
            spare.push(std::mem::take(&mut self.sparse));
        }
    }
}

/// Trains an L2-regularised hinge-loss SVM (liblinear's dual coordinate
/// descent, with a bias feature of 1) on `positives` and `negatives`, with
/// classes weighted to balance (`C` for each side scaled by the other's
/// share, as scikit-learn's `class_weight="balanced"`). Embeddings count
/// with `dense_weight` (0 ignores them).
pub fn train_svm(
    positives: &[&Doc],
    negatives: &[&Doc],
    c: f32,
    dense_weight: f32,
    epochs: usize,
) -> Linear {
    let n = (positives.len() + negatives.len()) as f32;
    let c_pos = c * n / (2.0 * positives.len().max(1) as f32);
    let c_neg = c * n / (2.0 * negatives.len().max(1) as f32);
    let samples: Vec<(&Doc, f32, f32)> = positives
        .iter()
        .map(|x| (*x, 1.0, c_pos))
        .chain(negatives.iter().map(|x| (*x, -1.0, c_neg)))
        .collect();
    let mut w = Linear {
        sparse: Vec::new(),
        dense: Vec::new(),
        bias: 0.0,
        dense_weight,
    };
    let q: Vec<f32> = samples.iter().map(|(x, _, _)| w.norm2(x) + 1.0).collect();
    let mut alpha = vec![0.0f32; samples.len()];
    let all: Vec<usize> = (0..samples.len()).collect();
    // Shrinking, as liblinear does: a sample whose margin holds with
    // alpha = 0 (most negatives, after a pass or two) leaves the active
    // set; once the active set converges, one pass over every sample
    // checks, and any that moved come back.
    let mut active = all.clone();
    for epoch in 0..epochs {
        // A fixed, interleaved order: deterministic, and positives are not
        // all visited first.
        active.sort_by_key(|&i| {
            (i.wrapping_mul(2_654_435_761).wrapping_add(epoch)) % samples.len().max(1)
        });
        let full = active.len() == samples.len();
        let mut max_change = 0.0f32;
        let mut still = Vec::with_capacity(active.len());
        for &i in &active {
            let (x, y, upper) = samples[i];
            let g = y * w.score(x) - 1.0;
            let old = alpha[i];
            if old == 0.0 && g > 0.0 {
                continue;
            }
            let new = (old - g / q[i]).clamp(0.0, upper);
            let delta = new - old;
            if delta != 0.0 {
                alpha[i] = new;
                w.add(x, delta * y);
                max_change = max_change.max(delta.abs());
            }
            still.push(i);
        }
        if max_change < 1e-3 {
            if full {
                break;
            }
            active = all.clone();
        } else {
            active = still;
        }
    }
    w
}

/// zotero-arxiv-daily's weights: the `i`-th newest library paper counts
/// `1 / (1 + log10(i + 1))`, normalised to sum 1.
fn recency_weights(n: usize) -> Vec<f32> {
    let weights: Vec<f32> = (0..n)
        .map(|i| 1.0 / (1.0 + ((i + 1) as f32).log10()))
        .collect();
    let total: f32 = weights.iter().sum();
    weights
        .into_iter()
        .map(|w| w / total.max(f32::MIN_POSITIVE))
        .collect()
}

/// zotero-arxiv-daily's score: the cosine of `candidate` to each library
/// embedding (newest first), weighted by `1 / (1 + log10(rank + 1))` and
/// normalised to sum 1. Embeddings are unit vectors.
pub fn weighted_cosine(candidate: &[f32], library_newest_first: &[&[f32]]) -> f32 {
    recency_weights(library_newest_first.len())
        .iter()
        .zip(library_newest_first)
        .map(|(w, e)| w * crate::vector::dot(e, candidate))
        .sum()
}

/// `scale` times the recency-weighted mean of the library's embeddings
/// (newest first): its dot with a unit vector is zotero-arxiv-daily's
/// weighted cosine, so adding it costs one dot product per paper. Empty
/// when `scale` is 0 or no library paper has an embedding.
fn centroid(library: &[&Doc], scale: f32) -> Vec<f32> {
    let with: Vec<&[f32]> = library.iter().filter_map(|d| d.dense.as_deref()).collect();
    if scale == 0.0 || with.is_empty() {
        return Vec::new();
    }
    let mut sum = vec![0.0f32; with[0].len()];
    for (w, e) in recency_weights(with.len()).iter().zip(&with) {
        for (s, v) in sum.iter_mut().zip(*e) {
            *s += scale * w * v;
        }
    }
    sum
}

/// How Paperhub ranks for one user; the defaults are what `paperhub eval
/// recommend` chose (docs/BENCHMARKS.md).
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// SVM regularisation.
    pub c: f32,
    /// How much embeddings count against tf-idf in the SVM.
    pub dense_weight: f32,
    /// Below this many library papers, rank by recency-weighted similarity
    /// instead of training.
    pub min_positives: usize,
    /// Passes of the SVM trainer at most.
    pub epochs: usize,
    /// How much the recency-weighted cosine to the library's embeddings
    /// adds to the SVM's score (a prior the few positives cannot overfit).
    pub similarity_weight: f32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            c: 0.1,
            dense_weight: 0.3,
            min_positives: 3,
            epochs: 20,
            similarity_weight: 0.0,
        }
    }
}

/// A trained ranking for one user (or one collection).
#[derive(Debug, Clone)]
pub enum Ranker {
    /// A linear SVM learned from the library and negatives, plus the
    /// weighted centroid of the library's embeddings (scaled by the
    /// similarity weight; empty when it is 0 or nothing has a vector).
    Learned(Linear, Vec<f32>),
    /// Too few papers to learn from: recency-weighted similarity to them
    /// (newest first).
    Similar(Vec<Doc>),
}

impl Ranker {
    /// Paperhub's method: an SVM over tf-idf and embeddings together once
    /// the library has `min_positives` papers, else recency-weighted
    /// similarity. `library` is newest first; `negatives` are papers the
    /// user turned down plus a sample of papers they did not save.
    pub fn train(library: &[&Doc], negatives: &[&Doc], settings: &Settings) -> Ranker {
        if library.len() >= settings.min_positives && !negatives.is_empty() {
            Ranker::Learned(
                train_svm(
                    library,
                    negatives,
                    settings.c,
                    settings.dense_weight,
                    settings.epochs,
                ),
                centroid(library, settings.similarity_weight),
            )
        } else {
            Ranker::Similar(library.iter().map(|d| (*d).clone()).collect())
        }
    }

    /// How well `doc` fits: higher is better (comparable within one ranker).
    pub fn score(&self, doc: &Doc) -> f32 {
        match self {
            Ranker::Learned(model, centroid) => {
                model.score(doc)
                    + match (&doc.dense, centroid.is_empty()) {
                        (Some(d), false) => crate::vector::dot(d, centroid),
                        _ => 0.0,
                    }
            }
            Ranker::Similar(library) => recency_weights(library.len())
                .iter()
                .zip(library)
                .map(|(w, l)| w * l.similarity(doc))
                .sum(),
        }
    }

    /// Whether a model was learned.
    pub fn is_learned(&self) -> bool {
        matches!(self, Ranker::Learned(..))
    }

    /// Up to `n` distinct words or word pairs of `text` (whose features are
    /// `doc`) that add most to its score: the model's weight times the
    /// gram's tf-idf in it, so distinctive words beat common ones (none for
    /// a similarity ranker).
    pub fn strongest_grams(&self, text: &str, doc: &Doc, n: usize) -> Vec<String> {
        let Ranker::Learned(model, _) = self else {
            return Vec::new();
        };
        let mut top: Vec<(f32, u32)> = doc
            .sparse
            .iter()
            .map(|(b, v)| (model.weight(*b) * v, *b))
            .filter(|(c, _)| *c > 0.0)
            .collect();
        top.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        top.truncate(4 * n);
        if top.is_empty() {
            return Vec::new();
        }
        // Name the buckets: the first gram of the text that falls in each;
        // stop reading once every one has its name.
        // A dozen buckets at most: a list beats a hash map.
        let mut named: Vec<(u32, String)> = Vec::with_capacity(top.len());
        each_gram(text, |b, before, word| {
            if named.iter().any(|(n, _)| *n == b) || !top.iter().any(|(_, t)| *t == b) {
                return true;
            }
            let gram = match before {
                Some(before) => format!("{} {}", before.to_lowercase(), word.to_lowercase()),
                None => word.to_lowercase(),
            };
            named.push((b, gram));
            named.len() < top.len()
        });
        let mut out: Vec<String> = Vec::new();
        for (_, b) in top {
            let Some(at) = named.iter().position(|(n, _)| *n == b) else {
                continue;
            };
            let g = named.swap_remove(at).1;
            // Short words say little; a pair makes its words redundant, and
            // the other way round.
            if g.len() <= 3
                || out.iter().any(|o| {
                    o == &g || o.split(' ').any(|w| w == g) || g.split(' ').any(|w| w == o)
                })
            {
                continue;
            }
            out.push(g);
            if out.len() == n {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn tfidf_rows_are_unit_and_share_words() {
        let corpus = [
            "graph neural networks for molecules",
            "graph neural networks on citation graphs",
            "diffusion models for video generation",
        ];
        let t = TfIdf::fit(corpus);
        let a = t.row(corpus[0]);
        let norm: f32 = a.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        let dot = |x: &Sparse, y: &Sparse| -> f32 {
            let ym: HashMap<u32, f32> = y.iter().copied().collect();
            x.iter()
                .map(|(b, v)| v * ym.get(b).copied().unwrap_or(0.0))
                .sum()
        };
        assert!(dot(&a, &t.row(corpus[1])) > dot(&a, &t.row(corpus[2])));
        assert!(t.row("").is_empty());
    }

    #[test]
    fn the_svm_separates_a_topic_and_ranks_it_first() {
        let docs: Vec<String> = (0..60)
            .map(|i| {
                if i % 6 == 0 {
                    format!("graph neural networks message passing {i}")
                } else {
                    format!("video diffusion models sampling number {i}")
                }
            })
            .collect();
        let t = TfIdf::fit(docs.iter().map(String::as_str));
        let rows: Vec<Doc> = docs
            .iter()
            .map(|d| Doc {
                sparse: t.row(d),
                dense: None,
            })
            .collect();
        let pos: Vec<&Doc> = [0, 6, 12].iter().map(|&i| &rows[i]).collect();
        let neg: Vec<&Doc> = (1..30).filter(|i| i % 6 != 0).map(|i| &rows[i]).collect();
        let ranker = Ranker::train(&pos, &neg, &Settings::default());
        assert!(ranker.is_learned());
        let mut ranked: Vec<usize> = (30..60).collect();
        ranked.sort_by(|&a, &b| ranker.score(&rows[b]).total_cmp(&ranker.score(&rows[a])));
        assert!(ranked[..5].iter().all(|i| i % 6 == 0), "{ranked:?}");
        let why = ranker.strongest_grams(&docs[36], &rows[36], 2);
        assert!(
            why.iter()
                .any(|g| g.contains("graph") || g.contains("neural") || g.contains("passing")),
            "{why:?}"
        );
    }

    #[test]
    fn embeddings_count_with_their_weight() {
        let topic = |x: f32| Doc {
            sparse: Vec::new(),
            dense: Some(vec![x, (1.0 - x * x).sqrt()]),
        };
        let pos = [topic(1.0), topic(0.95)];
        let neg = [topic(0.0), topic(0.1), topic(0.2)];
        let pos: Vec<&Doc> = pos.iter().collect();
        let neg: Vec<&Doc> = neg.iter().collect();
        let settings = Settings {
            min_positives: 2,
            ..Settings::default()
        };
        let ranker = Ranker::train(&pos, &neg, &settings);
        assert!(ranker.score(&topic(0.9)) > ranker.score(&topic(0.3)));
        let blind = Ranker::train(
            &pos,
            &neg,
            &Settings {
                dense_weight: 0.0,
                ..settings
            },
        );
        assert_eq!(blind.score(&topic(0.9)), blind.score(&topic(0.3)));
    }

    #[test]
    fn too_few_papers_rank_by_similarity_and_an_empty_library_scores_zero() {
        let a = Doc {
            sparse: vec![(1, 1.0)],
            dense: Some(vec![1.0, 0.0]),
        };
        let b = Doc {
            sparse: vec![(2, 1.0)],
            dense: Some(vec![0.0, 1.0]),
        };
        let ranker = Ranker::train(&[&a], &[&b], &Settings::default());
        assert!(!ranker.is_learned());
        assert!(ranker.score(&a) > ranker.score(&b));
        assert!(ranker.strongest_grams("anything at all", &a, 3).is_empty());
        let empty = Ranker::train(&[], &[], &Settings::default());
        assert_eq!(empty.score(&a), 0.0);
        let words_only = Doc {
            sparse: vec![(1, 1.0)],
            dense: None,
        };
        assert!((words_only.similarity(&a) - 1.0).abs() < 1e-6);
        assert_eq!(
            sparse_dot(&[(1, 2.0), (5, 1.0)], &[(0, 1.0), (5, 3.0)]),
            3.0
        );
    }

    #[test]
    fn weighted_cosine_favours_the_newest_library_paper() {
        let a = [1.0f32, 0.0];
        let b = [0.0f32, 1.0];
        let lib: Vec<&[f32]> = vec![&a, &b];
        assert!(weighted_cosine(&a, &lib) > weighted_cosine(&b, &lib));
        assert_eq!(weighted_cosine(&a, &[]), 0.0);
    }
}
