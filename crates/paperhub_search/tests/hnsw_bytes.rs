//! `hnsw.bin` is read back from disk, where a torn write, a bad disk or a
//! hand edit can leave anything. [`Hnsw::from_bytes`] must refuse such a
//! file without panicking, and without reserving memory that the file's
//! length does not warrant: a count field of 2^31 once made it ask for tens
//! of gigabytes and the allocator aborted the process. See: #13
//!
//! A separate test binary with a single test, because it counts the bytes
//! the whole process allocates.

use std::alloc::System;

use paperhub_search::hnsw::{Hnsw, HnswParams};
use proptest::prelude::*;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Unit-ish vectors from a seed, for a real graph.
fn vector(row: u32) -> [f32; 8] {
    let mut x = u64::from(row).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = [0.0f32; 8];
    for a in &mut v {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *a = (x % 2000) as f32 / 1000.0 - 1.0;
    }
    v
}

fn dot(a: u32, b: u32) -> f32 {
    vector(a).iter().zip(vector(b)).map(|(x, y)| x * y).sum()
}

/// A real graph of `rows` rows, as written to `hnsw.bin`.
fn real_graph(rows: u32) -> Vec<u8> {
    let mut graph = Hnsw::new(HnswParams {
        m: 4,
        ef_construction: 16,
    });
    for _ in 0..rows {
        graph.insert(&dot);
    }
    graph.to_bytes()
}

/// Parses `bytes` and checks the two promises: no panic (proptest reports
/// one as a failure) and at most a small multiple of the input allocated.
/// A graph that parses is then searched and extended, which must not panic
/// either.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let region = Region::new(GLOBAL);
    let parsed = Hnsw::from_bytes(bytes);
    let allocated = region.change().bytes_allocated;
    // The parsed graph holds per row one Vec of layers (24 bytes) and per
    // layer one Vec (24 bytes) and its u32 neighbours: at most 10 bytes of
    // memory per byte of file, plus small constants.
    let budget = 16 * bytes.len() + 4096;
    prop_assert!(
        allocated <= budget,
        "{} bytes allocated for a {}-byte file",
        allocated,
        bytes.len()
    );
    if let Ok(mut graph) = parsed {
        let rows = graph.len() as u32;
        let _ = graph.search(&|row| dot(row, 7), 10);
        graph.insert(&|a, b| dot(a % (rows + 1), b % (rows + 1)));
    }
    Ok(())
}

#[test]
fn corrupt_graph_files_are_refused_within_their_size() {
    let graph = real_graph(200);
    assert!(Hnsw::from_bytes(&graph).is_ok(), "a real graph reads back");
    let words = graph.len() / 4;
    // A fresh runner for each strategy: a runner counts its cases across
    // calls, and a second `run` on one would test nothing.
    let runner = || {
        proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        })
    };
    // Random bytes, mostly too short to be a graph.
    runner()
        .run(&proptest::collection::vec(any::<u8>(), 0..2048), |bytes| {
            check(&bytes)
        })
        .unwrap();
    // Random words after a plausible header.
    runner()
        .run(
            &(proptest::collection::vec(any::<u32>(), 0..512), 0u32..300),
            |(tail, rows)| {
                let mut words = vec![4, 16, rows, 0, 1];
                words.extend(tail);
                let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
                check(&bytes)
            },
        )
        .unwrap();
    // A real graph cut short.
    runner()
        .run(&(0..graph.len()), |end| check(&graph[..end]))
        .unwrap();
    // A real graph with bits flipped.
    runner()
        .run(
            &proptest::collection::vec((0..graph.len(), 0u8..8), 1..6),
            |flips| {
                let mut bytes = graph.clone();
                for (at, bit) in flips {
                    bytes[at] ^= 1 << bit;
                }
                check(&bytes)
            },
        )
        .unwrap();
    // A real graph with one word replaced, often by a huge count.
    runner()
        .run(
            &(
                0..words,
                prop_oneof![Just(u32::MAX), Just(1 << 31), Just(1 << 24), any::<u32>()],
            ),
            |(at, value)| {
                let mut bytes = graph.clone();
                bytes[at * 4..at * 4 + 4].copy_from_slice(&value.to_le_bytes());
                check(&bytes)
            },
        )
        .unwrap();
}
