//! Hybrid fusion: one ranking from a BM25 ranking and a dense one.
//!
//! Two methods, both standard:
//! - reciprocal rank fusion (Cormack et al., 2009): `Σ w / (k + rank)`,
//!   blind to score scales;
//! - convex combination of min-max normalised scores:
//!   `α · dense + (1 − α) · lexical`, where a document missing from a list
//!   scores 0 in it.
//!
//! The defaults were tuned on SciFact's **train** qrels only
//! (`paperhub eval beir DIR --split train --sweep`); docs/BENCHMARKS.md has
//! the sweep.

use std::collections::HashMap;

/// How to fuse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    /// Reciprocal rank fusion with constant `k`; `dense_weight` in [0, 1]
    /// weights the dense list, `1 - dense_weight` the lexical one.
    Rrf {
        /// The rank constant, 60 in the original paper.
        k: f32,
        /// Weight of the dense ranking.
        dense_weight: f32,
    },
    /// Convex combination of min-max normalised scores.
    Convex {
        /// Weight of the dense score.
        alpha: f32,
    },
}

impl Default for Fusion {
    /// The setting chosen on SciFact train.
    fn default() -> Self {
        Fusion::Convex { alpha: 0.6 }
    }
}

impl std::fmt::Display for Fusion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fusion::Rrf { k, dense_weight } => write!(f, "rrf(k={k}, dense={dense_weight:.2})"),
            Fusion::Convex { alpha } => write!(f, "convex(alpha={alpha:.2})"),
        }
    }
}

/// Fuses two rankings of (key, score), each best first, into one of at most
/// `limit` keys, best first. Ties keep the lexical order.
pub fn fuse(
    lexical: &[(String, f32)],
    dense: &[(String, f32)],
    fusion: Fusion,
    limit: usize,
) -> Vec<(String, f32)> {
    let mut combined: HashMap<&str, (f32, usize)> = HashMap::new();
    let mut order = 0usize;
    match fusion {
        Fusion::Rrf { k, dense_weight } => {
            for (rank, (key, _)) in lexical.iter().enumerate() {
                let entry = combined.entry(key).or_insert((0.0, order));
                order += 1;
                entry.0 += (1.0 - dense_weight) / (k + rank as f32 + 1.0);
            }
            for (rank, (key, _)) in dense.iter().enumerate() {
                let entry = combined.entry(key).or_insert((0.0, order));
                order += 1;
                entry.0 += dense_weight / (k + rank as f32 + 1.0);
            }
        }
        Fusion::Convex { alpha } => {
            for (list, weight) in [(lexical, 1.0 - alpha), (dense, alpha)] {
                let (min, max) = list
                    .iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), (_, s)| {
                        (lo.min(*s), hi.max(*s))
                    });
                let span = max - min;
                for (key, score) in list {
                    let normalised = if span > 0.0 {
                        (score - min) / span
                    } else {
                        1.0
                    };
                    let entry = combined.entry(key).or_insert((0.0, order));
                    order += 1;
                    entry.0 += weight * normalised;
                }
            }
        }
    }
    let mut fused: Vec<(&str, f32, usize)> =
        combined.into_iter().map(|(k, (s, o))| (k, s, o)).collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused
        .into_iter()
        .take(limit)
        .map(|(key, score, _)| (key.to_owned(), score))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(keys: &[(&str, f32)]) -> Vec<(String, f32)> {
        keys.iter().map(|(k, s)| ((*k).to_owned(), *s)).collect()
    }

    #[test]
    fn rrf_rewards_agreement_and_weights_lists() {
        let lexical = list(&[("a", 12.0), ("b", 9.0), ("c", 1.0)]);
        let dense = list(&[("d", 0.9), ("b", 0.8), ("c", 0.7)]);
        let fused = fuse(
            &lexical,
            &dense,
            Fusion::Rrf {
                k: 60.0,
                dense_weight: 0.5,
            },
            10,
        );
        assert_eq!(fused[0].0, "b", "in both lists near the top");
        assert_eq!(fused.len(), 4);
        let lexical_only = fuse(
            &lexical,
            &dense,
            Fusion::Rrf {
                k: 60.0,
                dense_weight: 0.0,
            },
            10,
        );
        assert_eq!(
            lexical_only
                .iter()
                .map(|h| h.0.as_str())
                .take(3)
                .collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn convex_extremes_reproduce_each_list_and_scale_does_not_matter() {
        let lexical = list(&[("a", 30.0), ("b", 20.0), ("c", 10.0)]);
        let dense = list(&[("c", 0.9), ("a", 0.5), ("b", 0.1)]);
        let keys = |f: Fusion| {
            fuse(&lexical, &dense, f, 3)
                .into_iter()
                .map(|h| h.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(Fusion::Convex { alpha: 0.0 }), ["a", "b", "c"]);
        assert_eq!(keys(Fusion::Convex { alpha: 1.0 }), ["c", "a", "b"]);
        // Multiplying BM25 scores by 1000 changes nothing after normalisation.
        let scaled: Vec<(String, f32)> = lexical
            .iter()
            .map(|(k, s)| (k.clone(), s * 1000.0))
            .collect();
        let a = fuse(&lexical, &dense, Fusion::Convex { alpha: 0.5 }, 3);
        let b = fuse(&scaled, &dense, Fusion::Convex { alpha: 0.5 }, 3);
        assert_eq!(a, b);
    }

    #[test]
    fn empty_lists_and_limits() {
        assert!(fuse(&[], &[], Fusion::default(), 10).is_empty());
        let dense = list(&[("x", 0.3), ("y", 0.2)]);
        assert_eq!(fuse(&[], &dense, Fusion::default(), 1), list(&[("x", 0.6)]));
    }
}
