//! Fuzz targets for every import format, through [`paperhub_arxiv::open`] as
//! `paperhub import` uses it: the real fixtures of each format, mutated
//! (see `common`), plus arbitrary bytes. Properties: no panic, the record
//! stream ends, every paper returned keeps the domain invariants, and each
//! input takes under a second.
//!
//! Run one target longer with `scripts/fuzz 10 import_oai`; records over
//! 16 MiB are checked by `fuzz_huge_records.rs`. See docs/RELIABILITY.md.

#[path = "../../../tests/fuzz/harness.rs"]
mod harness;

mod common;

use std::time::Duration;

use chrono::NaiveDate;
use common::{drain, fixture_dir, line_windows, mutated, read_fixture};
use harness::{Target, fuzz_for};
use paperhub_arxiv::SourceHint;
use proptest::prelude::*;

fn target(name: &'static str) -> Target {
    Target {
        name,
        source: file!(),
        time_limit: Some(Duration::from_secs(1)),
        trace: true,
    }
}

fn no_hint() -> SourceHint {
    SourceHint::default()
}

#[test]
fn fuzz_import_snapshot() {
    let seeds = line_windows(&["snapshot/arxiv-metadata-oai-snapshot.json"]);
    fuzz_for(target("import_snapshot"), mutated(seeds), |input| {
        drain(&input.bytes, &no_hint())
    });
}

#[test]
fn fuzz_import_listing() {
    let seeds = line_windows(&["listings/2025-03-19.jsonl", "listings/2025-03-21.jsonl"]);
    let hint = SourceHint {
        listing_date: NaiveDate::from_ymd_opt(2025, 3, 19),
    };
    fuzz_for(target("import_listing"), mutated(seeds), |input| {
        drain(&input.bytes, &hint)
    });
}

#[test]
fn fuzz_import_oai() {
    let seeds = fixture_dir("oai-pmh", ".xml");
    fuzz_for(target("import_oai"), mutated(seeds), |input| {
        drain(&input.bytes, &no_hint())
    });
}

#[test]
fn fuzz_import_atom() {
    // The recorded exchanges wrap the feed in a JSON document, which `open`
    // unwraps: that path is fuzzed here too.
    let mut seeds = fixture_dir("arxiv-api", ".xml");
    seeds.extend(fixture_dir("arxiv-api", ".json"));
    fuzz_for(target("import_atom"), mutated(seeds), |input| {
        drain(&input.bytes, &no_hint())
    });
}

#[test]
fn fuzz_import_abs() {
    let seeds = fixture_dir("abs", ".abs")
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    fuzz_for(target("import_abs"), mutated(seeds), |input| {
        drain(&input.bytes, &no_hint())
    });
}

#[test]
fn fuzz_import_rss() {
    let seeds = fixture_dir("rss", ".xml");
    fuzz_for(target("import_rss"), mutated(seeds), |input| {
        drain(&input.bytes, &no_hint())
    });
}

/// Arbitrary bytes, alone or after the first bytes of a real file so the
/// sniffer picks a format and the reader gets garbage.
#[test]
fn fuzz_import_any_bytes() {
    let heads: Vec<Vec<u8>> = [
        "snapshot/arxiv-metadata-oai-snapshot.json",
        "listings/2025-03-19.jsonl",
        "oai-pmh/ListRecordsResponse.xml",
        "arxiv-api/id_list=1111.2011v2.xml",
        "arxiv-api/recorded-id-2104.12255v1.json",
        "abs/0704.0001.abs",
        "rss/cs.AI+cs.LG-2025-12-02.xml",
    ]
    .iter()
    .map(|f| read_fixture(f))
    .collect();
    let strategy = (
        proptest::option::of((any::<usize>(), 0usize..400)),
        proptest::collection::vec(any::<u8>(), 0..4000),
    )
        .prop_map(move |(head, tail)| {
            let mut bytes = match head {
                Some((pick, n)) => {
                    let seed = &heads[pick % heads.len()];
                    seed[..n.min(seed.len())].to_vec()
                }
                None => Vec::new(),
            };
            bytes.extend(tail);
            bytes
        });
    fuzz_for(target("import_any_bytes"), strategy, |bytes| {
        drain(&bytes, &no_hint())
    });
}
