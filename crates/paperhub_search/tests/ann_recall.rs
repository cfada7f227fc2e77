//! Approximate (HNSW) against exact search at the catalog's scale: 40,717
//! vectors, the size of the 2025 listings corpus.
//!
//! The vectors are built around the 50 real all-MiniLM-L6-v2 embeddings of
//! `tests/fixtures/embeddings` (each a topic centre, papers scattered around
//! it at the spread of real neighbouring abstracts, cosine ≈ 0.5 to their
//! centre), because embedding 40k real abstracts takes half an hour. The same
//! check on the real 40k embeddings is `paperhub bench vectors`, reported in
//! docs/BENCHMARKS.md.
#![expect(clippy::unwrap_used, reason = "tests")]

use paperhub_search::vector::dot;
use paperhub_search::{Strategy, VectorIndex};

fn centres() -> Vec<Vec<f32>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/embeddings/all-MiniLM-L6-v2.jsonl"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            v["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

/// Deterministic standard-normal-ish noise (sum of uniforms).
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> f32 {
        let mut sum = 0.0;
        for _ in 0..4 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            sum += (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        }
        sum * 1.732
    }
}

#[test]
fn hnsw_recall_at_10_is_at_least_0_99_on_40k_vectors() {
    let centres = centres();
    let dims = centres[0].len();
    let mut noise = Noise(0x2545_F491_4F6C_DD1D);
    let dir = tempfile::tempdir().unwrap();
    let mut index = VectorIndex::open_or_create(dir.path(), dims, "test").unwrap();
    let sigma = 0.9 / (dims as f32).sqrt();
    for i in 0..40_717 {
        let centre = &centres[i % centres.len()];
        let mut v: Vec<f32> = centre.iter().map(|c| c + sigma * noise.next()).collect();
        let norm = dot(&v, &v).sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        index.upsert(&format!("p{i}"), &v, 1).unwrap();
    }
    index.commit(None).unwrap();
    let spread = dot(&index.vector("p0").unwrap(), &centres[0]);
    assert!((0.3..0.8).contains(&spread), "cosine to centre {spread}");

    let index = VectorIndex::open_or_create(dir.path(), dims, "test").unwrap();
    let (mut found, mut wanted) = (0, 0);
    for q in 0..200 {
        // Queries: fresh points near a random topic, like a user's query.
        let centre = &centres[(q * 7) % centres.len()];
        let mut query: Vec<f32> = centre.iter().map(|c| c + sigma * noise.next()).collect();
        let norm = dot(&query, &query).sqrt();
        query.iter_mut().for_each(|x| *x /= norm);
        let exact = index.search(&query, 10, Strategy::Exact, None);
        let approximate = index.search(&query, 10, Strategy::Approximate, None);
        wanted += exact.len();
        found += approximate
            .iter()
            .filter(|h| exact.iter().any(|e| e.key == h.key))
            .count();
    }
    let recall = found as f64 / wanted as f64;
    eprintln!("HNSW recall@10 against exact search: {recall:.4}");
    assert!(recall >= 0.99, "recall@10 {recall:.4}");
}
