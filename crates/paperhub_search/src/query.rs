//! User queries: field prefixes, phrases, AND/OR/-, and lenient parsing.
//!
//! Users type `ti:diffusion au:"Ho" -survey cat:cs.LG`. The short prefixes
//! are rewritten to schema field names before tantivy's own parser sees the
//! text, and tantivy's lenient mode turns a stray quote or bracket into a
//! best-effort query instead of an error. Two shapes are refused before the
//! parser sees them, by [`check_query`]: brackets nested deeper than
//! [`MAX_NESTING`] (tantivy's parser and query tree recurse once per level,
//! and 800 levels overflowed the web thread's stack, see #13) and `field:*`
//! (tantivy reads it as "field exists", which only fast fields answer).

use std::sync::LazyLock;

use regex::Regex;

/// Short prefixes users type, and the field each means.
pub const PREFIXES: &[(&str, &str)] = &[
    ("ti", "title"),
    ("au", "authors"),
    ("abs", "abstract"),
    ("cat", "categories"),
    ("id", "id"),
];

/// The schema's searchable text fields, which users may also type whole.
pub const FIELDS: &[&str] = &["title", "authors", "abstract", "categories", "id", "all"];

/// Whether `name` is a field a user may prefix a term with.
fn is_field(name: &str) -> bool {
    PREFIXES.iter().any(|(short, _)| *short == name) || FIELDS.contains(&name)
}

static PREFIX: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(^|[\s(+\-])(ti|au|abs|cat|id):").ok());

/// Deepest bracket nesting a query may have. Real queries use two or three
/// levels; each level costs parser and query-tree stack frames.
pub const MAX_NESTING: usize = 8;

/// Most `NOT` operators a query may hold: tantivy's parser recurses once per
/// `NOT` of a chain (`NOT NOT NOT a`), brackets or not.
pub const MAX_NOTS: usize = 16;

/// A query shape that is refused before parsing; the message tells the
/// user what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Brackets nested deeper than [`MAX_NESTING`].
    #[error(
        "the query nests brackets {depth} levels deep; at most {MAX_NESTING} are allowed, so remove some brackets"
    )]
    TooDeep {
        /// The deepest nesting found.
        depth: usize,
    },
    /// More than [`MAX_NOTS`] `NOT` operators.
    #[error("the query has {count} NOT operators; at most {MAX_NOTS} are allowed")]
    TooManyNots {
        /// How many there are.
        count: usize,
    },
    /// `field:*`, which has no word to search for.
    #[error("`{field}:*` has no word after the field; type one, as in {field}:diffusion")]
    BareWildcard {
        /// The field as typed.
        field: String,
    },
    /// The parsed query asks the index for something it cannot answer (a
    /// field that does not exist, "field exists" on a text field); tantivy
    /// only finds out when the search runs.
    #[error(
        "the query asks for something the index cannot answer ({reason}); search words, or use the fields ti: au: abs: cat: id:"
    )]
    Unanswerable {
        /// What tantivy said, cut to 200 characters.
        reason: String,
    },
}

/// `field:*`, with the spaces around the colon tantivy's grammar allows.
static BARE_WILDCARD: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"([^\s():\x22']+)\s*:\s*\*").ok());

/// Checks the shapes the parser must not see; runs in one pass over the text.
///
/// Every bracket counts, inside quotes too: tantivy's lenient grammar reads
/// a quote inside a word as part of the word, so counting only brackets
/// outside "phrases" let `a" ((((…` through (see #13). Refusing a phrase
/// that holds nine brackets is a fair price.
///
/// # Errors
/// [`QueryError`] saying what to change.
pub fn check_query(query: &str) -> Result<(), QueryError> {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for c in query.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_NESTING {
        return Err(QueryError::TooDeep { depth: deepest });
    }
    let nots = query
        .split_whitespace()
        .filter(|w| w.contains("NOT"))
        .count();
    if nots > MAX_NOTS {
        return Err(QueryError::TooManyNots { count: nots });
    }
    if let Some(re) = BARE_WILDCARD.as_ref()
        && let Some(field) = re.captures(query).and_then(|c| c.get(1))
    {
        return Err(QueryError::BareWildcard {
            field: field.as_str().to_owned(),
        });
    }
    Ok(())
}

/// Rewrites `ti:` `au:` `abs:` `cat:` `id:` to the schema's field names.
pub fn expand_prefixes(query: &str) -> String {
    let Some(re) = PREFIX.as_ref() else {
        return query.to_owned();
    };
    re.replace_all(query, |caps: &regex::Captures<'_>| {
        let short = caps.get(2).map_or("", |m| m.as_str());
        let field = PREFIXES
            .iter()
            .find(|(p, _)| *p == short)
            .map_or(short, |(_, f)| *f);
        format!("{}{field}:", caps.get(1).map_or("", |m| m.as_str()))
    })
    .into_owned()
}

/// Splits unquoted, unprefixed hyphenated words into their parts:
/// `Plug-and-Play` becomes `Plug and Play`.
///
/// The parser makes a hyphenated word a phrase query over its parts, and a
/// phrase in a union stops tantivy's top-k pruning: at 2.7 million papers
/// such queries took 80–90 ms against 5 ms for the rest (issue 18). Split,
/// the parts are plain terms, as evaluation's plain text always had them.
/// A phrase is still a phrase when quoted (`"plug-and-play"`); a leading
/// `-` (exclusion) and field values (`au:Jean-Pierre`, `id:hep-th/9901001`)
/// are kept as written.
pub fn split_hyphenated(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut quoted = false;
    let mut word_has_field = false;
    let mut previous: Option<char> = None;
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            quoted = !quoted;
        }
        if c.is_whitespace() {
            word_has_field = false;
        } else if c == ':' {
            word_has_field = true;
        }
        let between_letters = previous.is_some_and(char::is_alphanumeric)
            && chars.peek().is_some_and(|n| n.is_alphanumeric());
        if c == '-' && !quoted && !word_has_field && between_letters {
            out.push(' ');
        } else {
            out.push(c);
        }
        previous = Some(c);
    }
    out
}

/// Turns the colon after a word that names no field into a space:
/// `ECLARE: Efficient learning` becomes `ECLARE  Efficient learning`.
///
/// Titles are often pasted with their colon, and tantivy's parser reads
/// `ECLARE:` as a field that does not exist: the lenient parser then
/// degrades the query (at 2.7 million papers such titles were the slowest
/// lexical queries, 90–98 ms, issue 18), and the embedding text dropped
/// the word. Only the first colon of a word counts, and only outside
/// quotes, so `id:arXiv:2401.00001` and `"ratio 3:1"` are kept.
pub fn unknown_fields_as_words(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut quoted = false;
    // Where the current word starts in `out`, and whether it had a colon.
    let mut word_start = 0;
    let mut word_has_colon = false;
    for c in query.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() => {
                word_has_colon = false;
                out.push(c);
                word_start = out.len();
                continue;
            }
            ':' if !quoted && !word_has_colon => {
                word_has_colon = true;
                let name = out[word_start..].trim_start_matches(['(', '+', '-']);
                if !is_field(name) {
                    out.push(' ');
                    continue;
                }
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// Turns free text into a plain bag of words: every query-syntax character
/// becomes a space. Used for benchmark queries, which are prose.
pub fn plain_text(query: &str) -> String {
    query
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() {
                c
            } else {
                ' '
            }
        })
        .collect()
}

/// The prose part of a user query, for the embedding model: terms with a
/// field prefix (`au:hinton`), excluded terms (`-survey`), the operators
/// AND/OR/NOT and quote or bracket characters are dropped. Empty when the
/// query is all syntax, in which case only BM25 can answer it.
pub fn semantic_text(query: &str) -> String {
    let mut words = Vec::new();
    for word in query.split_whitespace() {
        let bare = word.trim_start_matches(['(', '"', '+']);
        let is_prefixed = bare
            .split_once(':')
            .is_some_and(|(field, _)| is_field(field.trim_start_matches('-')));
        if is_prefixed || bare.starts_with('-') || matches!(bare, "AND" | "OR" | "NOT") {
            continue;
        }
        let cleaned: String = bare
            .chars()
            .filter(|c| !matches!(c, '"' | '(' | ')'))
            .collect();
        if !cleaned.is_empty() {
            words.push(cleaned);
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_and_bare_wildcards_are_refused() {
        // See: #13 (800 brackets overflowed the stack).
        let deep = format!("{}a", "(".repeat(800));
        assert_eq!(check_query(&deep), Err(QueryError::TooDeep { depth: 800 }));
        let nine = format!("{}a{}", "(".repeat(9), ")".repeat(9));
        assert!(check_query(&nine).is_err());
        let eight = format!("{}a{}", "(".repeat(8), ")".repeat(8));
        assert_eq!(check_query(&eight), Ok(()));
        // Quotes do not hide brackets: tantivy reads `a"` as a word.
        for sneaky in ["a\" ", "'\" ", "\"", "'"] {
            let q = format!("{sneaky}{}a", "(".repeat(997));
            assert!(check_query(&q).is_err(), "{sneaky}");
        }
        assert_eq!(
            check_query("ti:*"),
            Err(QueryError::BareWildcard { field: "ti".into() })
        );
        for spaced in ["ti: *", "title :*", "diffusion (au:*)", "x  abs : * y"] {
            assert!(check_query(spaced).is_err(), "{spaced}");
        }
        assert!(check_query(&"NOT ".repeat(17)).is_err());
        assert_eq!(check_query("a NOT b NOT c"), Ok(()));
        assert_eq!(check_query("ti:diff* 3:1 a* \"(x)\""), Ok(()));
    }

    proptest::proptest! {
        #[test]
        fn semantic_text_takes_any_input(query in "\\PC{0,80}") {
            let text = semantic_text(&query);
            proptest::prop_assert!(!text.contains('"') && !text.contains('(') && !text.contains(')'));
            proptest::prop_assert!(text.len() <= query.len());
        }
    }

    #[test]
    fn semantic_text_keeps_only_prose() {
        assert_eq!(
            semantic_text("diffusion models au:ho -survey"),
            "diffusion models"
        );
        assert_eq!(
            semantic_text("\"graph neural\" OR (gnn)"),
            "graph neural gnn"
        );
        assert_eq!(semantic_text("cat:cs.LG id:2401.00001"), "");
        assert_eq!(semantic_text("what is 3:1 ratio"), "what is 3:1 ratio");
        // A pasted title's colon names no field: the word is prose.
        assert_eq!(
            semantic_text("ECLARE: Efficient learning"),
            "ECLARE: Efficient learning"
        );
        assert_eq!(semantic_text("title:diffusion -abs:gan x"), "x");
    }

    #[test]
    fn colons_after_words_that_name_no_field_become_spaces() {
        for (query, want) in [
            (
                "ECLARE: Efficient cross-planar learning",
                "ECLARE  Efficient cross-planar learning",
            ),
            (
                "Making Every Step Effective:",
                "Making Every Step Effective ",
            ),
            ("ti:diffusion au:ho", "ti:diffusion au:ho"),
            ("(title:x) -cat:cs.LG +abs:y", "(title:x) -cat:cs.LG +abs:y"),
            ("id:arXiv:2401.00001", "id:arXiv:2401.00001"),
            ("\"ratio 3:1\" 3:1", "\"ratio 3:1\" 3 1"),
            ("http://arxiv.org/abs/1", "http //arxiv.org/abs/1"),
            ("Ti:x motif:y", "Ti x motif y"),
            ("a::b", "a :b"),
            ("", ""),
        ] {
            assert_eq!(unknown_fields_as_words(query), want, "{query}");
        }
    }

    #[test]
    fn prefixes_are_expanded_only_as_prefixes() {
        assert_eq!(
            expand_prefixes("ti:diffusion au:ho"),
            "title:diffusion authors:ho"
        );
        assert_eq!(
            expand_prefixes("-cat:cs.LG (abs:x)"),
            "-categories:cs.LG (abstract:x)"
        );
        assert_eq!(expand_prefixes("motif:x"), "motif:x");
        assert_eq!(
            plain_text("0-dimensional (biomaterials): \"lack\""),
            "0 dimensional  biomaterials    lack "
        );
    }

    #[test]
    fn hyphenated_words_split_outside_quotes_and_fields() {
        for (query, want) in [
            (
                "A Plug-and-Play Learning-based IMU",
                "A Plug and Play Learning based IMU",
            ),
            ("3-D Image-to-Image Fusion", "3 D Image to Image Fusion"),
            (
                "\"plug-and-play\" vision-language",
                "\"plug-and-play\" vision language",
            ),
            (
                "au:Jean-Pierre self-supervised",
                "au:Jean-Pierre self supervised",
            ),
            ("id:hep-th/9901001", "id:hep-th/9901001"),
            ("diffusion -survey", "diffusion -survey"),
            ("a - b --c", "a - b --c"),
            ("ünï-cödé", "ünï cödé"),
            ("", ""),
        ] {
            assert_eq!(split_hyphenated(query), want, "{query}");
        }
    }
}
