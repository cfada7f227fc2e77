//! Fuzz targets for the domain parsers outside input reaches: [`ArxivId`]
//! (pasted by users, read from every import format, taken from URLs) and the
//! text clean-up every importer runs on titles, abstracts and author lists.
//!
//! The loop, the time box and the report come from the shared harness; run
//! one target longer with `scripts/fuzz 10 arxiv_id`. See docs/RELIABILITY.md.

#[path = "../../../tests/fuzz/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{Target, fuzz_for};
use paperhub_domain::text::{decode_tex_accents, normalize_whitespace};
use paperhub_domain::{ArxivId, Author, split_author_list};
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;

fn target(name: &'static str) -> Target {
    Target {
        name,
        source: file!(),
        time_limit: Some(Duration::from_secs(1)),
        trace: false,
    }
}

/// Well-formed ids of both schemes, with and without versions.
fn valid_id() -> impl Strategy<Value = String> {
    let new_style = (7u32..=99, 1u32..=12, 0u32..100_000).prop_filter_map(
        "new-style ids start at 0704",
        |(yy, mm, n)| {
            let yymm = yy * 100 + mm;
            (yymm >= 704).then(|| {
                if yymm >= 1501 {
                    format!("{yymm:04}.{n:05}")
                } else {
                    format!("{yymm:04}.{:04}", n % 10_000)
                }
            })
        },
    );
    let old_style = (
        "[a-zA-Z][a-zA-Z-]{0,12}(\\.[A-Z]{2})?",
        0u32..100,
        1u32..=12,
        0u32..1000,
    )
        .prop_map(|(archive, yy, mm, n)| format!("{archive}/{yy:02}{mm:02}{n:03}"));
    (
        prop_oneof![new_style, old_style],
        proptest::option::of(1u32..10_000),
    )
        .prop_map(|(base, v)| match v {
            Some(v) => format!("{base}v{v}"),
            None => base,
        })
}

/// What users and files put around an id: a prefix, and after a URL, a
/// `.pdf`, slash, query or fragment.
fn wrapper() -> impl Strategy<Value = (String, String)> {
    let plain = prop_oneof![
        Just(""),
        Just("arXiv:"),
        Just("ARXIV: "),
        Just("oai:arXiv.org:"),
        Just("  \t"),
    ];
    let url = prop_oneof![
        Just("https://arxiv.org/abs/"),
        Just("http://export.arxiv.org/pdf/"),
        Just("https://www.arxiv.org/html/"),
        Just("HTTPS://ARXIV.ORG/format/"),
    ];
    let url_suffix = prop_oneof![
        Just(""),
        Just(".pdf"),
        Just("/"),
        Just("?context=cs"),
        Just("#x"),
    ];
    let space = prop_oneof![Just(""), Just("  \n")];
    prop_oneof![
        (plain, space.clone()).prop_map(|(p, s)| (p.to_owned(), s.to_owned())),
        (url, url_suffix, space).prop_map(|(p, u, s)| (p.to_owned(), format!("{u}{s}"))),
    ]
}

/// One edit to a string: insert, delete or replace a character.
fn mutate(s: &str, edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for &(at, op, c) in edits {
        let at = if chars.is_empty() {
            0
        } else {
            at % (chars.len() + 1)
        };
        match op % 3 {
            0 => chars.insert(at, c),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            _ if at < chars.len() => chars[at] = c,
            _ => chars.push(c),
        }
    }
    chars.into_iter().collect()
}

/// Characters that matter to the id grammar, plus any character at all.
fn id_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => proptest::sample::select(&['v', 'V', '.', '/', ':', '0', '9', '1', '-', ' ', '?', '#', 'a', 'Z', 'é', '\u{0}', '٣'][..]),
        1 => any::<char>(),
    ]
}

/// Grammar-aware inputs: valid ids, wrapped, then mutated; plus free text.
fn id_input() -> impl Strategy<Value = String> {
    let edited = (
        valid_id(),
        wrapper(),
        proptest::collection::vec((any::<usize>(), any::<u8>(), id_char()), 0..4),
    )
        .prop_map(|(id, (p, s), edits)| mutate(&format!("{p}{id}{s}"), &edits));
    prop_oneof![
        4 => edited,
        1 => "\\PC{0,60}",
        1 => ".{0,300}",
    ]
}

fn check_id(input: &str) -> TestCaseResult {
    match input.parse::<ArxivId>() {
        Ok(id) => {
            let shown = id.to_string();
            let again: ArxivId = shown.parse().map_err(|e| {
                TestCaseError::fail(format!("display {shown:?} does not parse: {e}"))
            })?;
            prop_assert_eq!(&again, &id, "parse(display) differs for {:?}", shown);
            prop_assert_eq!(again.to_string(), shown.clone());
            let bare = ArxivId::parse_bare(&shown).map_err(|e| {
                TestCaseError::fail(format!("canonical {shown:?} is not bare: {e}"))
            })?;
            prop_assert_eq!(&bare, &id);
            prop_assert_eq!(id.abs_url().parse::<ArxivId>().ok(), Some(id.clone()));
            prop_assert_eq!(id.unversioned().version(), None);
        }
        Err(e) => {
            prop_assert!(
                e.input.chars().count() <= 80,
                "error keeps {} chars",
                e.input.len()
            );
            prop_assert!(!e.to_string().is_empty());
        }
    }
    // The bare parser must agree on anything it accepts.
    if let Ok(bare) = ArxivId::parse_bare(input) {
        prop_assert_eq!(input.parse::<ArxivId>().ok(), Some(bare));
    }
    Ok(())
}

#[test]
fn fuzz_arxiv_id_parse() {
    fuzz_for(target("arxiv_id_parse"), id_input(), |s| check_id(&s));
}

#[test]
fn fuzz_arxiv_id_round_trip() {
    fuzz_for(
        target("arxiv_id_round_trip"),
        (valid_id(), wrapper()),
        |(id, (prefix, suffix))| {
            let canonical: ArxivId = id
                .parse()
                .map_err(|e| TestCaseError::fail(format!("valid id refused: {e}")))?;
            let wrapped = format!("{prefix}{id}{suffix}");
            let parsed: ArxivId = wrapped
                .parse()
                .map_err(|e| TestCaseError::fail(format!("wrapped id refused: {e}")))?;
            prop_assert_eq!(&parsed, &canonical);
            // Display is canonical: lower-case archive, no subject class.
            let shown = canonical.to_string();
            prop_assert!(!shown.contains('.') || !canonical.is_old_style());
            prop_assert_eq!(shown.parse::<ArxivId>().ok(), Some(canonical));
            Ok(())
        },
    );
}

/// Text as arXiv metadata carries it: words, TeX accents, odd whitespace.
fn metadata_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[A-Za-z]{1,8}",
        Just(" ".to_owned()),
        Just(", ".to_owned()),
        Just(" and ".to_owned()),
        Just(" & ".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("Jr.".to_owned()),
        Just("van der ".to_owned()),
        "\\\\['`^\"~=.cvHuk]\\{?[a-zA-Z\\\\]?\\}?",
        "\\\\(ss|o|l|aa|ae|i)",
        proptest::sample::select(
            &[
                "\t", "\n", "\r", "\u{b}", "\u{c}", "\u{a0}", "\u{2003}", "\u{3000}", "\u{85}"
            ][..]
        )
        .prop_map(str::to_owned),
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// The one definition of normalised text: words joined by single spaces.
fn reference_normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn fuzz_domain_text() {
    fuzz_for(target("domain_text"), metadata_text(), |s| {
        prop_assert_eq!(normalize_whitespace(&s), reference_normalize(&s));
        let decoded = decode_tex_accents(&s);
        if !s.contains('\\') {
            prop_assert_eq!(&decoded, &s);
        }
        for author in split_author_list(&s) {
            prop_assert!(!author.name.is_empty(), "empty author from {:?}", s);
            prop_assert_eq!(reference_normalize(&author.name), author.name.clone());
        }
        let single = Author::from_display_name(&s);
        prop_assert_eq!(reference_normalize(&single.name), single.name.clone());
        Ok(())
    });
}

/// Comments and abstracts with links, labels and withdrawal phrases mixed
/// into arbitrary text.
fn link_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[A-Za-z0-9]{1,8}",
        proptest::sample::select(
            &[
                " ",
                "\n",
                ".",
                ":",
                ",",
                "/",
                "-",
                "_",
                "\\_",
                "(",
                ")",
                "Project page: ",
                "Webpage:",
                "project page is available at ",
                "https://",
                "http://",
                "github.io",
                ".github.io/",
                "sites.google.com/",
                "arxiv.org/abs/",
                "withdrawn",
                "This paper has been withdrawn",
                " by the author",
                "ITHDRAW",
                "www.",
            ][..]
        )
        .prop_map(str::to_owned),
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

#[test]
fn fuzz_paper_links() {
    use paperhub_domain::project_page::find_project_url;
    use paperhub_domain::withdrawal::is_withdrawal_comment;
    fuzz_for(target("paper_links"), link_text(), |s| {
        if let Some(url) = find_project_url([s.as_str(), s.as_str()]) {
            prop_assert!(
                url.starts_with("https://") || url.starts_with("http://"),
                "{url:?} from {s:?}"
            );
            prop_assert!(!url.chars().any(char::is_whitespace), "{url:?}");
            let host = url
                .split("://")
                .nth(1)
                .unwrap_or("")
                .split('/')
                .next()
                .unwrap_or("");
            let host = host.to_ascii_lowercase();
            prop_assert!(
                host != "arxiv.org" && !host.ends_with(".arxiv.org"),
                "{url:?}"
            );
            prop_assert!(url.len() <= 300);
        }
        let _ = is_withdrawal_comment(&s);
        Ok(())
    });
}

/// Text shaped like bibliography files: BibTeX, RIS and CSL-JSON pieces in
/// any order, with broken braces, quotes and escapes.
fn bib_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[A-Za-z0-9 ]{0,12}",
        proptest::sample::select(
            &[
                "@article{",
                "@misc(",
                "@string{x = \"",
                "@comment{",
                "}",
                ")",
                "{",
                "\"",
                ",",
                " = ",
                " # ",
                "\\{",
                "\\}",
                "\\\"o",
                "\\",
                "\n",
                "\r\n",
                "TY  - JOUR\n",
                "ER  - \n",
                "AU  - Lovelace, Ada\n",
                "UR  - https://arxiv.org/abs/2501.00001\n",
                "[",
                "]",
                "{\"id\": \"a\", \"author\": [{\"family\": \"X\"}]}",
                "\"title\": ",
                "author = {A and B}",
                "eprint = {2501.00001}",
                "archivePrefix={arXiv}",
                "\u{feff}",
                "é",
                "\u{0}",
            ][..]
        )
        .prop_map(str::to_owned),
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..80).prop_map(|v| v.concat())
}

#[test]
fn fuzz_bib_parse() {
    use paperhub_domain::bib::Format;
    fuzz_for(target("bib_parse"), bib_text(), |s| {
        for format in [Format::Bibtex, Format::Ris, Format::CslJson] {
            let p = format.parse(&s);
            let lines = s.lines().count().max(1) + 1;
            for r in &p.references {
                prop_assert!(
                    r.line >= 1 && r.line <= lines,
                    "{format:?} line {} of {lines}",
                    r.line
                );
            }
            for b in &p.bad {
                prop_assert!(
                    b.line >= 1 && b.line <= lines,
                    "{format:?} bad line {}",
                    b.line
                );
                prop_assert!(!b.reason.is_empty());
            }
        }
        Ok(())
    });
}

/// References as a library export holds them.
fn reference() -> impl Strategy<Value = paperhub_domain::bib::Reference> {
    let word = "[A-Za-z][a-z]{1,8}";
    let text = proptest::collection::vec(
        prop_oneof![
            word.boxed(),
            proptest::sample::select(
                &["{", "}", "\\", "&", "%", "_", "#", "$", "ü", "ß", "\"", "'"][..]
            )
            .prop_map(str::to_owned)
            .boxed(),
        ],
        1..8,
    )
    .prop_map(|w| w.join(" "));
    // Given names that are also name suffixes ("Sr") or particles ("de")
    // are ambiguous in every format's "Last, First"; real exports say
    // which part is which, and a generated name cannot.
    let name_word = word.prop_filter("not a suffix or particle", |w: &String| {
        ![
            "jr", "sr", "van", "von", "der", "den", "de", "del", "della", "di", "da", "dos", "das",
            "du", "la", "le", "ter", "ten", "vander", "bin", "al", "el", "dei", "degli", "others",
        ]
        .contains(&w.to_lowercase().as_str())
    });
    let author = (name_word.clone(), name_word).prop_map(|(f, l)| format!("{f} {l}"));
    (
        text.clone(),
        proptest::collection::vec(author, 0..5),
        proptest::option::of(1990u32..2030),
        (7u32..=26, 1u32..=12, 0u32..100_000),
        proptest::option::of(proptest::collection::vec(text, 1..3).prop_map(|l| l.join("\n"))),
    )
        .prop_map(|(title, authors, year, (yy, mm, n), note)| {
            let id = format!("{:02}{:02}.{:05}", yy, mm, n).parse().ok();
            paperhub_domain::bib::Reference {
                key: String::new(),
                title: Some(title),
                authors,
                year: year.map(|y| y.to_string()),
                doi: None,
                arxiv: id,
                url: None,
                note,
                line: 0,
            }
        })
}

#[test]
fn fuzz_bib_round_trip() {
    use paperhub_domain::bib::Format;
    use paperhub_domain::text::normalize_whitespace;
    let refs = proptest::collection::vec(reference(), 1..4);
    fuzz_for(target("bib_round_trip"), refs, |refs| {
        for format in [Format::Bibtex, Format::Ris, Format::CslJson] {
            let back = format.parse(&format.write(&refs));
            prop_assert!(back.bad.is_empty(), "{format:?}: {:?}", back.bad);
            prop_assert_eq!(back.references.len(), refs.len());
            for (a, b) in refs.iter().zip(&back.references) {
                let norm = |t: &Option<String>| t.as_deref().map(normalize_whitespace);
                prop_assert_eq!(norm(&a.title), norm(&b.title), "{:?} title", format);
                prop_assert_eq!(&a.authors, &b.authors, "{:?} authors", format);
                prop_assert_eq!(&a.year, &b.year, "{:?} year", format);
                prop_assert_eq!(&a.arxiv, &b.arxiv, "{:?} arxiv", format);
                let lines = |n: &Option<String>| {
                    n.as_deref()
                        .map(|n| n.lines().map(normalize_whitespace).collect::<Vec<_>>())
                };
                prop_assert_eq!(lines(&a.note), lines(&b.note), "{:?} note", format);
            }
        }
        Ok(())
    });
}
