//! Fuzz target for the recommendation features, which read titles and
//! abstracts from the catalog (hostile stored text: any Unicode, huge
//! words, control characters, no words at all). Properties: tf-idf rows
//! never panic, have ascending unique buckets inside the table and unit
//! norm (or are empty); a trained ranker scores every text finitely, and
//! the words it names are lower-cased grams of the text itself.

#[path = "../../../tests/fuzz/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{Target, fuzz_for};
use paperhub_search::recommend::{BUCKETS, Doc, Ranker, Settings, TfIdf};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,400}",
        "[a-zA-Z ]{0,300}",
        prop::collection::vec(
            prop_oneof![
                Just("Gaussian".to_owned()),
                Just("splatting".to_owned()),
                Just("ΣΊΣΥΦΟΣ".to_owned()),
                Just("İstanbul".to_owned()),
                Just("\u{0}\u{200b}\u{feff}".to_owned()),
                Just("x".repeat(5_000)),
                "[\\PC]{1,20}",
            ],
            0..60
        )
        .prop_map(|w| w.join(" ")),
    ]
}

#[test]
fn fuzz_recommend_features() {
    let target = Target {
        name: "recommend_features",
        source: file!(),
        time_limit: Some(Duration::from_secs(1)),
        trace: true,
    };
    fuzz_for(
        target,
        (prop::collection::vec(text(), 1..12), text()),
        |(corpus, probe)| {
            let tfidf = TfIdf::fit(corpus.iter().map(String::as_str));
            let docs: Vec<Doc> = corpus
                .iter()
                .map(|t| Doc {
                    sparse: tfidf.row(t),
                    dense: None,
                })
                .collect();
            for d in &docs {
                prop_assert!(d.sparse.windows(2).all(|w| w[0].0 < w[1].0));
                prop_assert!(d.sparse.iter().all(|(b, v)| *b < BUCKETS && v.is_finite()));
                let norm: f32 = d.sparse.iter().map(|(_, v)| v * v).sum();
                prop_assert!(
                    d.sparse.is_empty() || (norm - 1.0).abs() < 1e-3,
                    "norm {norm}"
                );
            }
            let (positives, negatives) = docs.split_at(docs.len().div_ceil(2));
            let positives: Vec<&Doc> = positives.iter().collect();
            let negatives: Vec<&Doc> = negatives.iter().collect();
            let ranker = Ranker::train(
                &positives,
                &negatives,
                &Settings {
                    min_positives: 1,
                    ..Settings::default()
                },
            );
            let probe_doc = Doc {
                sparse: tfidf.row(&probe),
                dense: None,
            };
            prop_assert!(ranker.score(&probe_doc).is_finite());
            let lower = probe.to_lowercase();
            for gram in ranker.strongest_grams(&probe, &probe_doc, 3) {
                for word in gram.split(' ') {
                    prop_assert!(lower.contains(word), "{word:?} is not in the text");
                }
            }
            Ok(())
        },
    );
}
