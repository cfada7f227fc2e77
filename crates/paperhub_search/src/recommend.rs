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

use std::collections::HashMap;

/// Hash buckets of the tf-idf features.
pub const BUCKETS: u32 = 1 << 18;

/// A sparse row: (bucket, value), buckets ascending and unique.
pub type Sparse = Vec<(u32, f32)>;

/// FNV-1a, enough to spread words over buckets.
fn hash(words: &[&str]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            h ^= u32::from(b' ');
            h = h.wrapping_mul(0x0100_0193);
        }
        for b in w.bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h % BUCKETS
}

/// Lower-cased words of letters and digits, at most `max` of them.
fn words(text: &str, max: usize) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1)
        .take(max)
        .map(str::to_lowercase)
        .collect()
}

/// Term counts of a text's 1- and 2-grams, by bucket.
fn counts(text: &str) -> HashMap<u32, u32> {
    let ws = words(text, 2_000);
    let refs: Vec<&str> = ws.iter().map(String::as_str).collect();
    let mut tf: HashMap<u32, u32> = HashMap::new();
    for i in 0..refs.len() {
        *tf.entry(hash(&refs[i..=i])).or_default() += 1;
        if i + 1 < refs.len() {
            *tf.entry(hash(&refs[i..i + 2])).or_default() += 1;
        }
    }
    tf
}

/// Hashed tf-idf over a corpus.
#[derive(Debug, Clone)]
pub struct TfIdf {
    idf: HashMap<u32, f32>,
    default_idf: f32,
}

impl TfIdf {
    /// Learns document frequencies from `corpus`.
    pub fn fit<'a>(corpus: impl IntoIterator<Item = &'a str>) -> TfIdf {
        let mut df: HashMap<u32, u32> = HashMap::new();
        let mut n = 0u32;
        for doc in corpus {
            n += 1;
            for bucket in counts(doc).into_keys() {
                *df.entry(bucket).or_default() += 1;
            }
        }
        let n = n as f32;
        // Smoothed, as scikit-learn's TfidfVectorizer: ln((1+n)/(1+df)) + 1.
        let idf = df
            .into_iter()
            .map(|(b, d)| (b, ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0))
            .collect();
        TfIdf {
            idf,
            default_idf: (1.0 + n).ln() + 1.0,
        }
    }

    /// The L2-normalised tf-idf row of `text` (sublinear tf).
    pub fn row(&self, text: &str) -> Sparse {
        let mut row: Sparse = counts(text)
            .into_iter()
            .map(|(b, tf)| {
                let idf = self.idf.get(&b).copied().unwrap_or(self.default_idf);
                (b, (1.0 + (tf as f32).ln()) * idf)
            })
            .collect();
        row.sort_unstable_by_key(|(b, _)| *b);
        let norm = row.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, v) in &mut row {
                *v /= norm;
            }
        }
        row
    }
}

/// One training or scoring example: sparse tf-idf and a dense embedding
/// (either may be empty).
#[derive(Debug, Clone, Copy)]
pub struct Features<'a> {
    /// The tf-idf row.
    pub sparse: &'a [(u32, f32)],
    /// The embedding, already scaled by the caller's weight.
    pub dense: &'a [f32],
}

impl Features<'_> {
    fn norm2(&self) -> f32 {
        self.sparse.iter().map(|(_, v)| v * v).sum::<f32>()
            + self.dense.iter().map(|v| v * v).sum::<f32>()
    }
}

/// A linear model: sparse weights by bucket, dense weights, a bias.
#[derive(Debug, Clone, Default)]
pub struct Linear {
    sparse: HashMap<u32, f32>,
    dense: Vec<f32>,
    bias: f32,
}

impl Linear {
    /// The decision value of `x`.
    pub fn score(&self, x: Features<'_>) -> f32 {
        let s: f32 = x
            .sparse
            .iter()
            .map(|(b, v)| self.sparse.get(b).copied().unwrap_or(0.0) * v)
            .sum();
        let d: f32 = x.dense.iter().zip(&self.dense).map(|(a, b)| a * b).sum();
        s + d + self.bias
    }

    fn add(&mut self, x: Features<'_>, step: f32) {
        for (b, v) in x.sparse {
            *self.sparse.entry(*b).or_default() += step * v;
        }
        if self.dense.len() < x.dense.len() {
            self.dense.resize(x.dense.len(), 0.0);
        }
        for (w, v) in self.dense.iter_mut().zip(x.dense) {
            *w += step * v;
        }
        self.bias += step;
    }
}

/// Trains an L2-regularised hinge-loss SVM (liblinear's dual coordinate
/// descent, with a bias feature of 1) on `positives` and `negatives`, with
/// classes weighted to balance (`C` for each side scaled by the other's
/// share, as scikit-learn's `class_weight="balanced"`).
pub fn train_svm(
    positives: &[Features<'_>],
    negatives: &[Features<'_>],
    c: f32,
    epochs: usize,
) -> Linear {
    let n = (positives.len() + negatives.len()) as f32;
    let c_pos = c * n / (2.0 * positives.len().max(1) as f32);
    let c_neg = c * n / (2.0 * negatives.len().max(1) as f32);
    let samples: Vec<(Features<'_>, f32, f32)> = positives
        .iter()
        .map(|x| (*x, 1.0, c_pos))
        .chain(negatives.iter().map(|x| (*x, -1.0, c_neg)))
        .collect();
    let q: Vec<f32> = samples.iter().map(|(x, _, _)| x.norm2() + 1.0).collect();
    let mut alpha = vec![0.0f32; samples.len()];
    let mut w = Linear::default();
    // A fixed, interleaved order: deterministic, and positives are not all
    // visited first.
    let mut order: Vec<usize> = (0..samples.len()).collect();
    for epoch in 0..epochs {
        order.sort_by_key(|&i| {
            (i.wrapping_mul(2_654_435_761).wrapping_add(epoch)) % samples.len().max(1)
        });
        let mut max_change = 0.0f32;
        for &i in &order {
            let (x, y, upper) = samples[i];
            let g = y * w.score(x) - 1.0;
            let old = alpha[i];
            let new = (old - g / q[i]).clamp(0.0, upper);
            let delta = new - old;
            if delta != 0.0 {
                alpha[i] = new;
                w.add(x, delta * y);
                max_change = max_change.max(delta.abs());
            }
        }
        if max_change < 1e-4 {
            break;
        }
    }
    w
}

/// zotero-arxiv-daily's score: the cosine of `candidate` to each library
/// embedding (newest first), weighted by `1 / (1 + log10(rank + 1))` and
/// normalised to sum 1. Embeddings are unit vectors.
pub fn weighted_cosine(candidate: &[f32], library_newest_first: &[&[f32]]) -> f32 {
    let weights: Vec<f32> = (0..library_newest_first.len())
        .map(|i| 1.0 / (1.0 + ((i + 1) as f32).log10()))
        .collect();
    let total: f32 = weights.iter().sum();
    if total == 0.0 {
        return 0.0;
    }
    library_newest_first
        .iter()
        .zip(&weights)
        .map(|(e, w)| w * e.iter().zip(candidate).map(|(a, b)| a * b).sum::<f32>())
        .sum::<f32>()
        / total
}

#[cfg(test)]
mod tests {
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
        let rows: Vec<Sparse> = docs.iter().map(|d| t.row(d)).collect();
        let f = |i: usize| Features {
            sparse: &rows[i],
            dense: &[],
        };
        let pos: Vec<Features<'_>> = [0, 6, 12].iter().map(|&i| f(i)).collect();
        let neg: Vec<Features<'_>> = (1..30).filter(|i| i % 6 != 0).map(f).collect();
        let model = train_svm(&pos, &neg, 0.1, 50);
        let mut ranked: Vec<usize> = (30..60).collect();
        ranked.sort_by(|&a, &b| model.score(f(b)).total_cmp(&model.score(f(a))));
        assert!(ranked[..5].iter().all(|i| i % 6 == 0), "{ranked:?}");
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
