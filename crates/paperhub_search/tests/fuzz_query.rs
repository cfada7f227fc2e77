//! Fuzz targets for search queries, the one parser every visitor reaches:
//! the query helpers of `query.rs` and [`LexicalIndex::search`] on a small
//! real index (papers from a real daily listing) with random filters.
//!
//! Queries come from a grammar of what the syntax reacts to (brackets,
//! quotes, `field:`, `*`, `-`, `+`, AND/OR/NOT, ranges, boosts, slop,
//! escapes, Unicode, long tokens, deep nesting) up to the web layer's
//! 1,000-character cap, not just random text. Properties: no panic, `Ok` or
//! a refusal the user can act on (`SearchError::Query`), under a second.
//! A stack overflow aborts the process; the input that did it is then in
//! `target/tmp/fuzz-search_lexical.last` (see the harness).

#[path = "../../../tests/fuzz/harness.rs"]
mod harness;

use std::sync::OnceLock;
use std::time::Duration;

use chrono::NaiveDate;
use harness::{Target, fuzz_for};
use paperhub_search::query::{expand_prefixes, plain_text, semantic_text, unknown_fields_as_words};
use paperhub_search::{IndexDoc, LexicalIndex, SearchError, SearchRequest, SortOrder};
use proptest::prelude::*;

/// The web layer refuses longer queries before they reach the index.
const QUERY_CAP: usize = 1000;

fn target(name: &'static str) -> Target {
    Target {
        name,
        source: file!(),
        time_limit: Some(Duration::from_secs(1)),
        trace: true,
    }
}

/// Words the index holds, so queries match something.
const WORDS: &[&str] = &[
    "diffusion",
    "model",
    "models",
    "graph",
    "neural",
    "quantum",
    "learning",
    "language",
    "sensor",
    "protein",
    "the",
    "a",
    "of",
    "transformer",
    "Zeng",
    "cs.CV",
    "cs.LG",
    "2503.13531",
    "élan",
    "量子",
    "😀",
    "\u{202e}rtl",
    "naïve",
    "Straße",
    "ǅ",
    "İ",
];

/// Fields as users type them, including unknown and numeric ones.
const FIELDS: &[&str] = &[
    "ti",
    "au",
    "abs",
    "cat",
    "id",
    "title",
    "authors",
    "abstract",
    "categories",
    "all",
    "day",
    "bogus",
    "TI",
    "3",
    "a.b",
    "ti:ti",
];

/// One leaf of the query grammar.
fn leaf() -> impl Strategy<Value = String> {
    let word = proptest::sample::select(WORDS).prop_map(str::to_owned);
    let field = || proptest::sample::select(FIELDS);
    prop_oneof![
        6 => word.clone(),
        2 => (field(), word.clone()).prop_map(|(f, w)| format!("{f}:{w}")),
        1 => field().prop_map(|f| format!("{f}:*")),
        1 => field().prop_map(|f| format!("{f}:")),
        1 => word.clone().prop_map(|w| format!("{w}*")),
        1 => Just("*".to_owned()),
        1 => Just("?".to_owned()),
        1 => (word.clone(), 0u32..4).prop_map(|(w, n)| format!("{w}~{n}")),
        1 => word.clone().prop_map(|w| format!("{w}~")),
        1 => (word.clone(), prop_oneof![Just("2"), Just("0"), Just("-1"), Just("1e40"), Just("NaN"), Just("")])
            .prop_map(|(w, b)| format!("{w}^{b}")),
        1 => (word.clone(), word.clone()).prop_map(|(a, b)| format!("[{a} TO {b}]")),
        1 => (field(), prop_oneof![Just("[1 TO 20000]"), Just("{* TO 5}"), Just("[-9223372036854775808 TO 9223372036854775807]"), Just(">5"), Just("<=20000"), Just("[a TO *]"), Just("IN [a b]")])
            .prop_map(|(f, r)| format!("{f}:{r}")),
        1 => proptest::collection::vec(word.clone(), 1..4)
            .prop_map(|w| format!("\"{}\"", w.join(" "))),
        1 => proptest::collection::vec(word, 1..3).prop_map(|w| format!("\"{}\"~3", w.join(" "))),
        1 => (1usize..600, any::<char>()).prop_map(|(n, c)| c.to_string().repeat(n)),
        1 => (400usize..1000).prop_map(|n| "x".repeat(n)),
        1 => "[\\\\:\"'()\\[\\]{}^~*?+!&|/<>=-]{1,6}",
        1 => "\\PC{1,12}",
    ]
}

/// A query: a tree of leaves joined by operators, or a soup of syntax.
fn query() -> impl Strategy<Value = String> {
    let tree = leaf().prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..4).prop_map(|v| v.join(" ")),
            (
                inner.clone(),
                prop_oneof![
                    Just(" AND "),
                    Just(" OR "),
                    Just(" NOT "),
                    Just(" && "),
                    Just(" || "),
                    Just(" ")
                ],
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a}{op}{b}")),
            inner.clone().prop_map(|q| format!("({q})")),
            inner.clone().prop_map(|q| format!("-{q}")),
            inner.clone().prop_map(|q| format!("+{q}")),
            inner.clone().prop_map(|q| format!("!{q}")),
            (proptest::sample::select(FIELDS), inner).prop_map(|(f, q)| format!("{f}:({q})")),
        ]
    });
    // Deep nesting, balanced or not, around a word: tantivy recursed once
    // per level and 800 levels overflowed the stack (#13).
    let nested = (
        1usize..500,
        0usize..500,
        prop_oneof![
            Just("("),
            Just("["),
            Just("{"),
            Just("(\""),
            Just("-("),
            Just("ti:(")
        ],
        leaf(),
    )
        .prop_map(|(open, close, bracket, q)| {
            format!("{}{q}{}", bracket.repeat(open), ")".repeat(close))
        });
    let soup = proptest::collection::vec(
        prop_oneof![
            3 => leaf(),
            1 => proptest::sample::select(&["(", ")", "\"", "AND", "OR", "NOT", "-", "+", ":", "\\", "[", "]", "{", "}", "^", "~", " "][..]).prop_map(str::to_owned),
        ],
        0..60,
    )
    .prop_map(|parts| parts.join(" "));
    prop_oneof![4 => tree, 2 => nested, 2 => soup].prop_map(|mut q| {
        let mut cut = q.len().min(QUERY_CAP);
        while !q.is_char_boundary(cut) {
            cut -= 1;
        }
        q.truncate(cut);
        q
    })
}

/// A day anywhere chrono can represent, weighted towards the index's days.
fn day() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        3 => (0i64..60).prop_filter_map("valid", |d| {
            NaiveDate::from_ymd_opt(2025, 3, 1).and_then(|s| s.checked_add_signed(chrono::Duration::days(d)))
        }),
        1 => Just(NaiveDate::MIN),
        1 => Just(NaiveDate::MAX),
        1 => (-262_000i32..262_000, 1u32..=366).prop_filter_map("valid", |(y, o)| NaiveDate::from_yo_opt(y, o)),
    ]
}

/// Every field of a search request.
fn request() -> impl Strategy<Value = SearchRequest> {
    let categories = proptest::collection::vec(
        prop_oneof![
            3 => proptest::sample::select(&["cs.CV", "cs.LG", "cs.AI", "math.NA", "hep-th"][..]).prop_map(str::to_owned),
            1 => "\\PC{0,20}",
        ],
        0..4,
    );
    let limit = prop_oneof![4 => 0usize..50, 1 => 50usize..1000];
    let offset = prop_oneof![4 => 0usize..50, 1 => 50usize..100_000];
    (
        query(),
        any::<bool>(),
        limit,
        offset,
        categories,
        proptest::option::of(day()),
        proptest::option::of(day()),
        prop_oneof![Just(SortOrder::Relevance), Just(SortOrder::Date)],
        any::<bool>(),
    )
        .prop_map(
            |(query, plain, limit, offset, categories, since, until, sort, snippets)| {
                SearchRequest {
                    query,
                    plain,
                    limit,
                    offset,
                    categories,
                    since,
                    until,
                    sort,
                    snippets,
                }
            },
        )
}

/// Papers from a real daily listing, plus a few odd ones.
fn fixture_docs() -> Vec<IndexDoc> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/listings/2025-03-19.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let day = NaiveDate::from_ymd_opt(2025, 3, 19);
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut docs: Vec<IndexDoc> = text
        .lines()
        .take(60)
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|v| IndexDoc {
            id: v["id"].as_str().unwrap_or("").to_owned(),
            title: v["title"].as_str().unwrap_or("").to_owned(),
            abstract_text: v["summary"].as_str().unwrap_or("").to_owned(),
            authors: strings(&v["authors"]),
            categories: strings(&v["categories"]),
            day,
        })
        .collect();
    docs.push(IndexDoc {
        id: "odd-1".into(),
        title: "量子 élan 😀 naïve Straße".into(),
        abstract_text: format!("{} {}", "x".repeat(700), "word ".repeat(200)),
        authors: vec!["İ ǅ".into()],
        categories: vec!["cs.LG".into()],
        day: NaiveDate::from_ymd_opt(1970, 1, 1),
    });
    docs.push(IndexDoc {
        id: "odd-2".into(),
        title: String::new(),
        abstract_text: String::new(),
        authors: Vec::new(),
        categories: Vec::new(),
        day: None,
    });
    docs
}

/// The index, built once per test binary in a temporary directory.
fn index() -> &'static LexicalIndex {
    static INDEX: OnceLock<(tempfile::TempDir, LexicalIndex)> = OnceLock::new();
    let (_, index) = INDEX.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let index =
            LexicalIndex::open_or_create(dir.path()).unwrap_or_else(|e| panic!("index: {e}"));
        let built = index.writer().and_then(|mut w| {
            for doc in fixture_docs() {
                w.upsert(&doc)?;
            }
            w.commit()
        });
        if let Err(e) = built.and_then(|()| index.reload()) {
            panic!("building the index: {e}");
        }
        assert!(index.num_docs() > 10, "the fixture listing was not indexed");
        (dir, index)
    });
    index
}

/// `Ok`, or a refusal whose message is for the user.
fn clean(result: Result<(), SearchError>) -> Result<(), TestCaseError> {
    match result {
        Ok(()) | Err(SearchError::Query(_)) => Ok(()),
        Err(e) => Err(TestCaseError::fail(format!("not a clean error: {e}"))),
    }
}

#[test]
fn fuzz_search_query_text() {
    fuzz_for(target("search_query_text"), query(), |q| {
        let expanded = expand_prefixes(&q);
        prop_assert!(expanded.len() >= q.len(), "expanding shortened the query");
        let plain = plain_text(&q);
        prop_assert!(
            plain
                .chars()
                .all(|c| c.is_alphanumeric() || c.is_whitespace()),
            "syntax left in {:?}",
            plain
        );
        prop_assert_eq!(plain.chars().count(), q.chars().count());
        let semantic = semantic_text(&q);
        prop_assert!(
            !semantic.contains(['"', '(', ')']),
            "syntax left in {:?}",
            semantic
        );
        prop_assert_eq!(
            unknown_fields_as_words(&q).chars().count(),
            q.chars().count()
        );
        Ok(())
    });
}

#[test]
fn fuzz_search_lexical() {
    let index = index();
    fuzz_for(target("search_lexical"), request(), |request| {
        let hits = index.search(&request);
        if let Ok(hits) = &hits {
            prop_assert!(
                hits.len() <= request.limit.max(1),
                "more hits than asked for"
            );
        }
        clean(hits.map(|_| ()))?;
        clean(index.filtered_ids(&request).map(|_| ()))?;
        Ok(())
    });
}
