//! Paper authors: display names plus parsed last and first names.
//!
//! Some sources give structured names (the snapshot's `authors_parsed`, the
//! OAI `arXiv` format's `keyname`/`forenames`); the others give one string per
//! author or one string for the whole list (`.abs`, `arXivRaw`: "A, B and C
//! (Affiliation)"). This module turns both into the same [`Author`].

use serde::{Deserialize, Serialize};

use crate::text::{decode_tex_accents, normalize_whitespace};

/// One author of a paper, in the order the paper lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// The name as it should be shown, e.g. "Adrian Del Maestro".
    pub name: String,
    /// Family name, e.g. "Del Maestro".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    /// Given names or initials, e.g. "Adrian".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    /// Generational suffix, e.g. "Jr.".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// Affiliation, when the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<String>,
}

/// An author name as followed, matched and indexed: lower case, letters
/// and digits only, one space between words ("J.-P. Müller" is
/// "j p müller"). Author pages, follows and digests all key on it.
pub fn author_key(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The distinct author keys of a paper's author list, in order, without
/// empty ones.
pub fn author_keys(authors: &[Author]) -> Vec<String> {
    // Collaborations list thousands of authors: a set, not a scan.
    let mut seen = std::collections::HashSet::with_capacity(authors.len());
    authors
        .iter()
        .map(|a| author_key(&a.name))
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_BYTES && seen.insert(k.clone()))
        .collect()
}

/// Longer keys are not indexed (no real name is this long; a broken
/// record's author list can be).
pub const MAX_KEY_BYTES: usize = 200;

const SUFFIXES: &[&str] = &["Jr", "Jr.", "Sr", "Sr.", "II", "III", "IV", "2nd", "3rd"];
const PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "dos", "das", "du", "la", "le",
    "ter", "ten", "vander", "Van", "Von", "De", "Del", "Di", "Da", "Du", "La", "Le", "Ter", "bin",
    "al", "el", "dei", "degli",
];

impl Author {
    /// Builds an author from structured parts, as the snapshot and OAI give them.
    ///
    /// Missing parts stay `None`; the display name is "first last suffix".
    pub fn from_parts(last: &str, first: &str, suffix: &str) -> Author {
        let clean = |s: &str| {
            let s = normalize_whitespace(&decode_tex_accents(s));
            (!s.is_empty()).then_some(s)
        };
        let (last, first, suffix) = (clean(last), clean(first), clean(suffix));
        let name = [first.as_deref(), last.as_deref(), suffix.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Author {
            name,
            last,
            first,
            suffix,
            affiliation: None,
        }
    }

    /// Builds an author from a display name such as "Adrian Del Maestro".
    ///
    /// The last word, together with any lowercase particles before it ("van
    /// der", "de"), becomes the last name; a trailing "Jr." becomes the suffix.
    /// A name written "Last, First" is also understood.
    pub fn from_display_name(raw: &str) -> Author {
        let name = normalize_whitespace(&decode_tex_accents(raw));
        if let Some((last, first)) = name.split_once(", ")
            && !SUFFIXES.contains(&first)
            && !first.contains(',')
        {
            return Author::from_parts(last, first, "");
        }
        let mut words: Vec<&str> = name.split(' ').filter(|w| !w.is_empty()).collect();
        let suffix = match words.last() {
            Some(w) if words.len() > 1 && SUFFIXES.contains(&w.trim_start_matches(',')) => {
                let w = words.pop().unwrap_or_default();
                Some(w.trim_start_matches(',').to_owned())
            }
            _ => None,
        };
        if let Some(last_word) = words.last_mut() {
            *last_word = last_word.trim_end_matches(',');
        }
        let Some(mut split) = words.len().checked_sub(1) else {
            return Author {
                name,
                last: None,
                first: None,
                suffix: None,
                affiliation: None,
            };
        };
        while split > 1 && PARTICLES.contains(&words[split - 1]) {
            split -= 1;
        }
        let last = words[split..].join(" ");
        let first = words[..split].join(" ");
        Author {
            name,
            last: (!last.is_empty()).then_some(last),
            first: (!first.is_empty()).then_some(first),
            suffix,
            affiliation: None,
        }
    }
}

/// Splits an arXiv author-list string into authors.
///
/// Understands "A, B and C", "A, B, and C", "A and B", "A & B", affiliations
/// in parentheses after a name ("A (MIT), B"), nested parentheses, and "A,
/// Jr." suffixes. Affiliations are kept on the author they follow; a
/// parenthesis shared by several names ("A, B (MIT)") is attached to the last.
pub fn split_author_list(raw: &str) -> Vec<Author> {
    let text = normalize_whitespace(raw);
    let mut pieces: Vec<(String, Option<String>)> = Vec::new();
    let mut current = String::new();
    let mut affiliation = String::new();
    let mut depth = 0usize;
    let flush = |current: &mut String, affiliation: &mut String, pieces: &mut Vec<_>| {
        let name = current.trim().trim_end_matches(',').trim().to_owned();
        let aff = normalize_whitespace(affiliation);
        if !name.is_empty() {
            pieces.push((name, (!aff.is_empty()).then_some(aff)));
        } else if !aff.is_empty()
            && let Some((_, last_aff)) = pieces.last_mut()
        {
            *last_aff = Some(aff);
        }
        current.clear();
        affiliation.clear();
    };
    let mut rest = text.as_str();
    while let Some(c) = rest.chars().next() {
        if depth == 0
            && let Some(after) = strip_separator(rest)
        {
            flush(&mut current, &mut affiliation, &mut pieces);
            rest = after;
            continue;
        }
        match c {
            '(' => {
                if depth > 0 {
                    affiliation.push(c);
                } else if !affiliation.is_empty() {
                    affiliation.push_str("; ");
                }
                depth += 1;
            }
            ')' if depth > 0 => {
                depth -= 1;
                if depth > 0 {
                    affiliation.push(c);
                }
            }
            _ if depth > 0 => affiliation.push(c),
            _ => current.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    flush(&mut current, &mut affiliation, &mut pieces);

    let mut authors: Vec<Author> = Vec::with_capacity(pieces.len());
    for (name, aff) in pieces {
        if SUFFIXES.contains(&name.as_str())
            && let Some(prev) = authors.last_mut()
        {
            prev.suffix = Some(name.clone());
            prev.name = format!("{} {}", prev.name, name);
            continue;
        }
        let mut author = Author::from_display_name(&name);
        author.affiliation = aff;
        authors.push(author);
    }
    authors
}

/// Returns the text after a list separator at the start of `s`, if any.
fn strip_separator(s: &str) -> Option<&str> {
    for sep in [", and ", ",and ", " and ", ", & ", " & ", ",", ";"] {
        if let Some(rest) = s.strip_prefix(sep) {
            return Some(rest);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(authors: &[Author]) -> Vec<&str> {
        authors.iter().map(|a| a.name.as_str()).collect()
    }

    #[test]
    fn structured_parts() {
        let a = Author::from_parts("Bal\\'azs", "C.", "");
        assert_eq!(a.name, "C. Balázs");
        assert_eq!(a.last.as_deref(), Some("Balázs"));
        assert_eq!(a.suffix, None);
        let b = Author::from_parts("Smith", "John", "Jr");
        assert_eq!(b.name, "John Smith Jr");
    }

    #[test]
    fn display_names() {
        let a = Author::from_display_name("Adrian Del Maestro");
        assert_eq!(a.last.as_deref(), Some("Del Maestro"));
        assert_eq!(a.first.as_deref(), Some("Adrian"));
        let b = Author::from_display_name("Johannes van der Waals");
        assert_eq!(b.last.as_deref(), Some("van der Waals"));
        let c = Author::from_display_name("Martin Luther King Jr.");
        assert_eq!(c.last.as_deref(), Some("King"));
        assert_eq!(c.suffix.as_deref(), Some("Jr."));
        let d = Author::from_display_name("Plato");
        assert_eq!(d.last.as_deref(), Some("Plato"));
        assert_eq!(d.first, None);
        let e = Author::from_display_name("Streinu, Ileana");
        assert_eq!(e.name, "Ileana Streinu");
        assert_eq!(e.last.as_deref(), Some("Streinu"));
    }

    #[test]
    fn author_lists() {
        let list = split_author_list(
            "Robert H. Brandenberger (McGill), Keshav Dasgupta (McGill) and\n  Anne-Christine Davis (DAMTP, Cambridge)",
        );
        assert_eq!(
            names(&list),
            [
                "Robert H. Brandenberger",
                "Keshav Dasgupta",
                "Anne-Christine Davis"
            ]
        );
        assert_eq!(list[2].affiliation.as_deref(), Some("DAMTP, Cambridge"));
        assert_eq!(list[0].affiliation.as_deref(), Some("McGill"));

        let list = split_author_list("C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan");
        assert_eq!(
            names(&list),
            ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
        );
        assert_eq!(
            names(&split_author_list("Ileana Streinu and Louis Theran")),
            ["Ileana Streinu", "Louis Theran"]
        );
        assert_eq!(
            names(&split_author_list("A. One, B. Two, and C. Three")),
            ["A. One", "B. Two", "C. Three"]
        );
        assert_eq!(
            names(&split_author_list("John Smith, Jr., Jane Doe")),
            ["John Smith Jr.", "Jane Doe"]
        );
        assert_eq!(
            names(&split_author_list("A. B (Dept (X), Univ), C. D")),
            ["A. B", "C. D"]
        );
        assert_eq!(
            split_author_list("A. B (Dept (X), Univ), C. D")[0]
                .affiliation
                .as_deref(),
            Some("Dept (X), Univ")
        );
        assert!(split_author_list("").is_empty());
        // Names that contain "and" as a substring are not split.
        assert_eq!(
            names(&split_author_list("Alexander Andersen, Sandy Anders")),
            ["Alexander Andersen", "Sandy Anders"]
        );
    }
}
