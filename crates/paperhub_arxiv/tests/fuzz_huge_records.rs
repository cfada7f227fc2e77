//! Fuzz target for the 16 MiB record limit ([`MAX_RECORD_BYTES`]) in every
//! format: a record of 16 to 80 MiB, generated lazily so the test never holds
//! it, is put between the real records of a fixture. Properties: the huge
//! record is refused as `TooLarge` (or ends the stream, for a whole JSON
//! document), the records around it read exactly as without it, and the
//! process's peak memory grows by less than [`MEMORY_SLACK`] however large
//! the record, which a reader that buffered the record would break.
//!
//! Its own test binary, so other targets do not disturb the peak-memory
//! reading. See docs/RELIABILITY.md.

#[path = "../../../tests/fuzz/harness.rs"]
mod harness;

#[expect(
    dead_code,
    reason = "this target reads fixtures but does not mutate them"
)]
mod common;

use std::io::{self, BufReader, Cursor, Read};
use std::time::Duration;

use common::{check_paper, read_fixture};
use harness::{Target, fuzz_for};
use paperhub_arxiv::{MAX_RECORD_BYTES, ReadError, RecordErrorKind, SourceHint, open};
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;

/// How much peak memory may grow while reading one input.
const MEMORY_SLACK: u64 = 48 << 20;

/// `len` bytes repeating `pattern`, made on the fly.
struct Pattern {
    pattern: Vec<u8>,
    pos: usize,
    left: u64,
}

impl Pattern {
    fn new(filler: &[u8], len: u64) -> Pattern {
        // Whole repeats of at least 4 KiB, so reads copy slices, not bytes.
        Pattern {
            pattern: filler.repeat(4096 / filler.len().max(1) + 1),
            pos: 0,
            left: len,
        }
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let mut filled = 0;
        while filled < n {
            let take = (n - filled).min(self.pattern.len() - self.pos);
            buf[filled..filled + take].copy_from_slice(&self.pattern[self.pos..self.pos + take]);
            filled += take;
            self.pos = (self.pos + take) % self.pattern.len();
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Where the huge record goes, and what fills it.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// A JSON line with one huge string.
    JsonLine,
    /// An OAI-PMH `<record>` with one huge text node.
    OaiRecord,
    /// An Atom `<entry>`.
    AtomEntry,
    /// An RSS `<item>`.
    RssItem,
    /// An `.abs` abstract of many short lines.
    AbsAbstract,
    /// An `.abs` header of many short lines.
    AbsHeader,
    /// A pretty-printed JSON document (read whole by `open`).
    JsonDocument,
}

/// The fixture to put the record in, the bytes before and after the record,
/// the repeated filler, and where in the fixture the record goes.
fn layout(shape: Shape) -> (Vec<u8>, usize, &'static [u8], &'static [u8], &'static [u8]) {
    let (file, after): (&str, &[u8]) = match shape {
        Shape::JsonLine => ("listings/2025-03-19.jsonl", b"\n"),
        Shape::OaiRecord => ("oai-pmh/ListRecordsResponse.xml", b"</record>"),
        Shape::AtomEntry => ("arxiv-api/search_query=au_del_maestro.xml", b"</entry>"),
        Shape::RssItem => ("rss/cs.AI+cs.LG-2025-12-02.xml", b"</item>"),
        Shape::AbsAbstract | Shape::AbsHeader => ("abs/0704.0001.abs", b""),
        Shape::JsonDocument => ("arxiv-api/recorded-id-2104.12255v1.json", b""),
    };
    let mut bytes = read_fixture(file);
    if matches!(shape, Shape::JsonLine) {
        bytes.truncate(bytes.len().min(200_000));
        if let Some(end) = bytes.iter().rposition(|&b| b == b'\n') {
            bytes.truncate(end + 1);
        }
    }
    let at = if after.is_empty() {
        0
    } else {
        bytes
            .windows(after.len())
            .position(|w| w == after)
            .map_or(0, |i| i + after.len())
    };
    let (open, filler, close): (&[u8], &[u8], &[u8]) = match shape {
        Shape::JsonLine => (b"{\"id\": \"2101.00001\", \"title\": \"", b"a", b"\"}\n"),
        Shape::OaiRecord => (
            b"<record><metadata><arXiv><abstract>",
            b"a ",
            b"</abstract></arXiv></metadata></record>",
        ),
        Shape::AtomEntry => (b"<entry><summary>", b"a ", b"</summary></entry>"),
        Shape::RssItem => (b"<item><description>", b"a ", b"</description></item>"),
        Shape::AbsAbstract => (
            b"\\\\\narXiv:2101.00001\nTitle: T\n\\\\\n",
            b"  a line of the abstract\n",
            b"\\\\\n",
        ),
        Shape::AbsHeader => (
            b"\\\\\narXiv:2101.00001\nTitle: T\n",
            b"Comments: a\n",
            b"\\\\\n  Abstract.\n\\\\\n",
        ),
        Shape::JsonDocument => (b"{\n\"body\": \"", b"a", b"\"}\n"),
    };
    (bytes, at, open, filler, close)
}

/// Outcome of one item, comparable across runs.
fn outcome(item: &Result<paperhub_domain::Paper, ReadError>) -> String {
    match item {
        Ok(p) => format!("ok {}", p.id),
        Err(e) => format!("err {e}"),
    }
}

/// Peak resident memory of this process, in bytes, from `/proc`.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak to the current size (Linux `clear_refs`, value 5).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn check(shape: Shape, extra: u64) -> TestCaseResult {
    let (fixture, at, open_bytes, filler, close) = layout(shape);
    let size = MAX_RECORD_BYTES as u64 + extra;
    let hint = SourceHint::default();
    // What the fixture reads as without the huge record.
    let plain: Vec<String> = match open(&fixture[..], &hint) {
        Ok(records) => records.map(|r| outcome(&r)).collect(),
        Err(e) => return Err(TestCaseError::fail(format!("fixture does not open: {e}"))),
    };
    let input = Cursor::new(fixture[..at].to_vec())
        .chain(Cursor::new(open_bytes.to_vec()))
        .chain(Pattern::new(filler, size))
        .chain(Cursor::new(close.to_vec()))
        .chain(Cursor::new(fixture[at..].to_vec()));
    let measured = reset_peak();
    let before = peak_rss();
    let mut got = Vec::new();
    let mut too_large = 0;
    match open(BufReader::new(input), &hint) {
        Ok(records) => {
            for item in records {
                if let Err(ReadError::Record(e)) = &item
                    && matches!(e.kind, RecordErrorKind::TooLarge { .. })
                {
                    too_large += 1;
                    continue;
                }
                if let Ok(paper) = &item {
                    check_paper(paper)?;
                }
                got.push(outcome(&item));
                prop_assert!(got.len() <= plain.len() + 4, "the stream does not end");
            }
        }
        Err(e) => got.push(format!("stream error {e}")),
    }
    let after = peak_rss();
    if let (true, Some(before), Some(after)) = (measured, before, after) {
        prop_assert!(
            after.saturating_sub(before) < MEMORY_SLACK,
            "peak memory grew by {} MiB reading a {} MiB record",
            (after - before) >> 20,
            size >> 20
        );
    }
    match shape {
        Shape::JsonDocument => {
            prop_assert!(got.len() == 1 && got[0].contains("16 MiB"), "{:?}", got);
        }
        Shape::AbsAbstract | Shape::AbsHeader => {
            // One record per file: the huge one, refused; the rest of the
            // fixture lands in its abstract.
            prop_assert_eq!(too_large, 1, "outcomes {:?}", got);
        }
        _ => {
            prop_assert_eq!(too_large, 1, "outcomes {:?}", got);
            prop_assert_eq!(got, plain, "records around the huge one changed");
        }
    }
    Ok(())
}

#[test]
fn fuzz_import_huge_records() {
    let shape = proptest::sample::select(
        &[
            Shape::JsonLine,
            Shape::OaiRecord,
            Shape::AtomEntry,
            Shape::RssItem,
            Shape::AbsAbstract,
            Shape::AbsHeader,
            Shape::JsonDocument,
        ][..],
    );
    let extra = prop_oneof![1u64..4096, 0u64..(64 << 20)];
    let target = Target {
        name: "import_huge_records",
        source: file!(),
        time_limit: Some(Duration::from_secs(30)),
        trace: true,
    };
    fuzz_for(target, (shape, extra), |(shape, extra)| check(shape, extra));
}
