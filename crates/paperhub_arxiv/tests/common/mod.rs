//! What the importer fuzz targets share: the real fixtures as seeds, the
//! mutations applied to them, and the invariants every imported paper keeps.
//!
//! Mutating real files reaches deep into each parser (a random byte string
//! almost never gets past format sniffing); the mutations are the ways real
//! input goes wrong: flipped bytes, truncation, records spliced from other
//! files, repeated records, deep nesting, long runs, entity tricks.

use std::io::Read;
use std::path::{Path, PathBuf};

use paperhub_arxiv::{MAX_RECORD_BYTES, SourceHint, open};
use paperhub_domain::{MergeOutcome, Paper, is_category};
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;

/// A path under the repository's `tests/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

/// The bytes of a fixture; a missing fixture fails the test that needs it.
pub fn read_fixture(rel: &str) -> Vec<u8> {
    let path = fixture(rel);
    let mut bytes = Vec::new();
    if let Err(e) = std::fs::File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)) {
        panic!("fixture {}: {e}", path.display());
    }
    bytes
}

/// Every file of a fixture directory whose name ends with `suffix`.
pub fn fixture_dir(dir: &str, suffix: &str) -> Vec<Vec<u8>> {
    let path = fixture(dir);
    let mut names: Vec<String> = match std::fs::read_dir(&path) {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(suffix))
            .collect(),
        Err(e) => panic!("fixture dir {}: {e}", path.display()),
    };
    names.sort();
    assert!(!names.is_empty(), "no {suffix} fixtures in {dir}");
    names
        .iter()
        .map(|n| read_fixture(&format!("{dir}/{n}")))
        .collect()
}

/// Windows of 1 to 6 consecutive lines of JSON-lines fixtures, so a case
/// parses a few records, not a 300 KB file.
pub fn line_windows(files: &[&str]) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for file in files {
        let bytes = read_fixture(file);
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        for (i, _) in lines.iter().enumerate().step_by(3) {
            let end = (i + 1 + i % 6).min(lines.len());
            seeds.push(lines[i..end].join(&b'\n'));
        }
    }
    seeds
}

/// One change to an input.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// XOR one byte.
    Flip(usize, u8),
    /// Cut the input here.
    Truncate(usize),
    /// Remove a range.
    Delete(usize, usize),
    /// Insert bytes that mean something to one of the formats.
    Insert(usize, Vec<u8>),
    /// Copy a range of another seed in here (records spliced across files).
    Splice(usize, usize, usize, usize),
    /// Repeat a range of the input several times.
    Repeat(usize, usize, usize),
    /// Wrap an insertion point in this many nested elements.
    Nest(usize, usize),
    /// Insert a long run of one byte (long lines, tokens, text nodes).
    Run(usize, u8, usize),
}

/// Tokens the parsers react to.
const TOKENS: &[&str] = &[
    "<",
    ">",
    "</",
    "/>",
    "<record>",
    "</record>",
    "<entry>",
    "</entry>",
    "<item>",
    "</item>",
    "<header status=\"deleted\">",
    "<metadata>",
    "<arXiv>",
    "<arXivRaw>",
    "<id>",
    "</id>",
    "<title>",
    "</title>",
    "<version version=\"v0\">",
    "<resumptionToken cursor=\"-1\">",
    "<error code=\"badVerb\">x</error>",
    "&amp;",
    "&#0;",
    "&#x110000;",
    "&#xD800;",
    "&bogus;",
    "&",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<?xml version=\"1.0\"?>",
    "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\">]>",
    "&c;",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\",
    "\\\\",
    "\\u0000",
    "\\ud800",
    ":",
    ",",
    "null",
    "true",
    "1e999999",
    "-0",
    "18446744073709551616",
    "\"id\":",
    "\"id\": \"2101.00001v99999\"",
    "\"versions\":[{\"version\":\"v0\",\"created\":\"x\"}]",
    "\"authors_parsed\":[[]]",
    "\"categories\":",
    "\"title\":\"\"",
    "\n",
    "\r\n",
    "\r",
    "\0",
    "\u{feff}",
    "\u{fffd}",
    "é",
    "\u{202e}",
    "𝔘",
    "\u{b}",
    "\u{a0}",
    "------",
    "\\\\\n",
    "arXiv:",
    "Date: ",
    "(revised v2)",
    "Title: ",
    "Authors: ",
    "Categories: ",
    "Mon, 32 Jan 2007 99:99:99 GMT",
    "2101.00001",
    "hep-th/9901001",
    "v0",
    "v4294967296",
    "-262143-01-01",
    "+262143-12-31",
    "9999-99-99",
    "Announce Type: new",
    "Abstract: ",
];

/// A mutation with positions as raw numbers; they are reduced modulo the
/// input length when applied, so shrinking stays meaningful.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..=255).prop_map(|(p, x)| Mutation::Flip(p, x)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        2 => (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
        6 => (any::<usize>(), proptest::collection::vec(proptest::sample::select(TOKENS), 1..4))
            .prop_map(|(p, t)| Mutation::Insert(p, t.concat().into_bytes())),
        2 => (any::<usize>(), any::<usize>(), any::<usize>(), 1usize..4096)
            .prop_map(|(p, s, f, n)| Mutation::Splice(p, s, f, n)),
        1 => (any::<usize>(), 1usize..2048, 2usize..20).prop_map(|(p, n, k)| Mutation::Repeat(p, n, k)),
        1 => (any::<usize>(), prop_oneof![1usize..64, 64usize..5000, 20_000usize..150_000])
            .prop_map(|(p, d)| Mutation::Nest(p, d)),
        1 => (any::<usize>(), any::<u8>(), prop_oneof![1usize..300, 20_000usize..200_000])
            .prop_map(|(p, b, n)| Mutation::Run(p, b, n)),
    ]
}

fn clamp(p: usize, len: usize) -> usize {
    if len == 0 { 0 } else { p % (len + 1) }
}

/// Applies `mutations` to `seeds[pick]`.
pub fn apply(seeds: &[Vec<u8>], pick: usize, mutations: &[Mutation]) -> Vec<u8> {
    let mut out = seeds[pick % seeds.len()].clone();
    for m in mutations {
        match m {
            Mutation::Flip(p, x) => {
                if !out.is_empty() {
                    let i = p % out.len();
                    out[i] ^= x;
                }
            }
            Mutation::Truncate(p) => out.truncate(clamp(*p, out.len())),
            Mutation::Delete(p, n) => {
                let at = clamp(*p, out.len());
                let end = (at + n).min(out.len());
                out.drain(at..end);
            }
            Mutation::Insert(p, bytes) => {
                let at = clamp(*p, out.len());
                out.splice(at..at, bytes.iter().copied());
            }
            Mutation::Splice(p, s, from, n) => {
                let other = &seeds[s % seeds.len()];
                let start = clamp(*from, other.len());
                let end = (start + n).min(other.len());
                let at = clamp(*p, out.len());
                out.splice(at..at, other[start..end].iter().copied());
            }
            Mutation::Repeat(p, n, k) => {
                let start = clamp(*p, out.len());
                let end = (start + n).min(out.len());
                let piece = out[start..end].to_vec();
                for _ in 1..*k {
                    out.splice(end..end, piece.iter().copied());
                }
            }
            Mutation::Nest(p, depth) => {
                let at = clamp(*p, out.len());
                let mut nested = b"<a>".repeat(*depth);
                nested.extend_from_slice(b"text");
                nested.extend_from_slice(&b"</a>".repeat(*depth));
                out.splice(at..at, nested);
            }
            Mutation::Run(p, b, n) => {
                let at = clamp(*p, out.len());
                out.splice(at..at, std::iter::repeat_n(*b, *n));
            }
        }
    }
    out
}

/// Seeds, a pick among them and up to eight mutations.
pub fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Input> {
    (any::<usize>(), proptest::collection::vec(mutation(), 0..8)).prop_map(
        move |(pick, mutations)| Input {
            bytes: apply(&seeds, pick, &mutations),
            pick,
            mutations,
        },
    )
}

/// A mutated input, with how it was made (what a failure report shows).
#[derive(Clone)]
pub struct Input {
    /// The input.
    pub bytes: Vec<u8>,
    /// Index of the seed.
    pub pick: usize,
    /// What was done to it.
    pub mutations: Vec<Mutation>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 1500;
        let text = String::from_utf8_lossy(&self.bytes[..self.bytes.len().min(SHOWN)]);
        f.debug_struct("Input")
            .field("len", &self.bytes.len())
            .field("seed", &self.pick)
            .field("mutations", &Summary(&self.mutations))
            .field("text", &text)
            .finish()
    }
}

/// Mutations with long payloads shortened.
struct Summary<'a>(&'a [Mutation]);

impl std::fmt::Debug for Summary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        for m in self.0 {
            match m {
                Mutation::Insert(p, b) => {
                    list.entry(&format!("Insert({p}, {:?})", String::from_utf8_lossy(b)));
                }
                other => {
                    list.entry(other);
                }
            }
        }
        list.finish()
    }
}

/// Words joined by single spaces: what normalised text must look like.
pub fn normalized(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The invariants every paper an importer returns keeps.
pub fn check_paper(p: &Paper) -> TestCaseResult {
    prop_assert_eq!(p.id.version(), None, "the paper id carries no version");
    prop_assert!(!p.title.is_empty(), "empty title");
    prop_assert_eq!(normalized(&p.title), p.title.clone(), "title whitespace");
    prop_assert_eq!(
        normalized(&p.abstract_text),
        p.abstract_text.clone(),
        "abstract whitespace"
    );
    for c in &p.categories {
        prop_assert!(is_category(c), "category {:?} is not a category", c);
    }
    for (i, c) in p.categories.iter().enumerate() {
        prop_assert!(!p.categories[..i].contains(c), "category {:?} twice", c);
    }
    prop_assert_eq!(
        p.primary_category.as_ref(),
        p.categories.first(),
        "the primary category comes first"
    );
    for pair in p.versions.windows(2) {
        prop_assert!(pair[0].version < pair[1].version, "versions out of order");
    }
    if let Some(last) = p.versions.last() {
        prop_assert!(
            p.version >= Some(last.version),
            "version below its versions"
        );
    }
    for a in &p.authors {
        prop_assert!(!a.name.is_empty(), "an author with no name");
        prop_assert_eq!(normalized(&a.name), a.name.clone(), "author whitespace");
    }
    let mut again = p.clone();
    again.finalize();
    prop_assert_eq!(&again, p, "finalize is not idempotent");
    prop_assert_eq!(
        p.merge(p),
        MergeOutcome::Unchanged,
        "merge with itself changes"
    );
    let json = serde_json::to_string(p).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(
        json.len() <= 2 * MAX_RECORD_BYTES,
        "a paper of {} bytes",
        json.len()
    );
    let back: Paper = serde_json::from_str(&json)
        .map_err(|e| TestCaseError::fail(format!("stored form does not read back: {e}")))?;
    prop_assert_eq!(&back, p, "JSON round trip");
    Ok(())
}

/// Reads every record of `bytes` through the format sniffer, checking each
/// paper. The stream must end: at most one item per input byte, plus a few.
pub fn drain(bytes: &[u8], hint: &SourceHint) -> TestCaseResult {
    let Ok(records) = open(bytes, hint) else {
        return Ok(());
    };
    let mut items = 0usize;
    for item in records {
        items += 1;
        prop_assert!(items <= bytes.len() + 8, "the record stream does not end");
        if let Ok(paper) = item {
            check_paper(&paper)?;
        }
    }
    Ok(())
}
