//! Retrieval metrics as BEIR and `trec_eval` compute them, and TREC run files.
//!
//! nDCG@10 uses graded gains (the qrels score) with a log2 discount and the
//! ideal ordering of all judged documents; Recall@100 is the share of
//! relevant documents (score > 0) in the top 100; MRR@10 is the reciprocal
//! rank of the first relevant document in the top 10. Each is averaged over
//! the queries that have at least one relevant document.

use std::collections::HashMap;
use std::fmt::Write as _;

/// Relevance judgements: query id → document id → grade.
pub type Qrels = HashMap<String, HashMap<String, u32>>;

/// Parses a BEIR qrels TSV (`query-id corpus-id score`, optional header).
///
/// # Errors
/// A line without three columns or with a non-integer score; the message names the line.
pub fn parse_qrels(text: &str) -> Result<Qrels, String> {
    let mut qrels = Qrels::new();
    for (i, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
        if line.trim().is_empty() || (i == 0 && cols.first() == Some(&"query-id")) {
            continue;
        }
        let [query, doc, score] = cols[..] else {
            return Err(format!("line {}: expected 3 tab-separated columns", i + 1));
        };
        let score: u32 = score.parse().map_err(|_| {
            format!(
                "line {}: score {score:?} is not a non-negative integer",
                i + 1
            )
        })?;
        qrels
            .entry(query.to_owned())
            .or_default()
            .insert(doc.to_owned(), score);
    }
    Ok(qrels)
}

/// Mean scores over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Scores {
    /// nDCG@10.
    pub ndcg_at_10: f64,
    /// Recall@100.
    pub recall_at_100: f64,
    /// MRR@10.
    pub mrr_at_10: f64,
    /// Queries scored.
    pub queries: usize,
}

/// Scores `run` (query id → ranked document ids) against `qrels`.
pub fn score(run: &HashMap<String, Vec<String>>, qrels: &Qrels) -> Scores {
    let mut total = Scores::default();
    for (query, judged) in qrels {
        let relevant = judged.values().filter(|g| **g > 0).count();
        if relevant == 0 {
            continue;
        }
        let ranked = run.get(query).map(Vec::as_slice).unwrap_or(&[]);
        let gain = |doc: &String| f64::from(*judged.get(doc).unwrap_or(&0));
        let dcg: f64 = ranked
            .iter()
            .take(10)
            .enumerate()
            .map(|(i, d)| gain(d) / ((i + 2) as f64).log2())
            .sum();
        let mut ideal: Vec<f64> = judged.values().map(|g| f64::from(*g)).collect();
        ideal.sort_by(|a, b| b.total_cmp(a));
        let idcg: f64 = ideal
            .iter()
            .take(10)
            .enumerate()
            .map(|(i, g)| g / ((i + 2) as f64).log2())
            .sum();
        let found = ranked.iter().take(100).filter(|d| gain(d) > 0.0).count();
        let first = ranked.iter().take(10).position(|d| gain(d) > 0.0);
        total.ndcg_at_10 += if idcg > 0.0 { dcg / idcg } else { 0.0 };
        total.recall_at_100 += found as f64 / relevant as f64;
        total.mrr_at_10 += first.map_or(0.0, |p| 1.0 / (p + 1) as f64);
        total.queries += 1;
    }
    if total.queries > 0 {
        let n = total.queries as f64;
        total.ndcg_at_10 /= n;
        total.recall_at_100 /= n;
        total.mrr_at_10 /= n;
    }
    total
}

/// Writes a TREC run: `qid Q0 docid rank score tag`, ranks from 1.
pub fn trec_run(run: &[(String, Vec<(String, f32)>)], tag: &str) -> String {
    let mut out = String::new();
    for (query, hits) in run {
        for (rank, (doc, score)) in hits.iter().enumerate() {
            let _ = writeln!(out, "{query} Q0 {doc} {} {score:.6} {tag}", rank + 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_on_a_hand_computed_case() {
        let qrels =
            parse_qrels("query-id\tcorpus-id\tscore\nq1\ta\t1\nq1\tb\t1\nq2\tc\t1\n").unwrap();
        let run: HashMap<String, Vec<String>> = [
            (
                "q1".to_owned(),
                vec!["x".to_owned(), "a".to_owned(), "b".to_owned()],
            ),
            ("q2".to_owned(), vec!["c".to_owned()]),
        ]
        .into();
        let s = score(&run, &qrels);
        // q1: dcg = 1/log2(3) + 1/log2(4) = 0.6309 + 0.5; idcg = 1 + 0.6309.
        let q1 = (1.0 / 3f64.log2() + 0.5) / (1.0 + 1.0 / 3f64.log2());
        assert!((s.ndcg_at_10 - (q1 + 1.0) / 2.0).abs() < 1e-9);
        assert!((s.mrr_at_10 - (0.5 + 1.0) / 2.0).abs() < 1e-9);
        assert!((s.recall_at_100 - 1.0).abs() < 1e-9);
        assert_eq!(s.queries, 2);
        assert!(parse_qrels("q1\ta\n").is_err());
    }

    #[test]
    fn trec_lines() {
        let run = vec![(
            "7".to_owned(),
            vec![("d1".to_owned(), 2.5f32), ("d2".to_owned(), 1.0)],
        )];
        assert_eq!(
            trec_run(&run, "bm25"),
            "7 Q0 d1 1 2.500000 bm25\n7 Q0 d2 2 1.000000 bm25\n"
        );
    }
}
