//! The library's rules that the web pages, the API and the CLI share: how
//! a collection's name becomes its slug, what a name and a note may be, the
//! limits, and searching one's own library.

use paperhub_store::{Entry, LibraryLimits};

/// Collections per account and papers per collection.
pub const LIMITS: LibraryLimits = LibraryLimits {
    collections: 100,
    papers: 10_000,
};

/// Longest collection name, in characters.
pub const MAX_NAME: usize = 100;

/// Longest note, in characters.
pub const MAX_NOTE: usize = 2_000;

/// Longest slug, in bytes.
pub const MAX_SLUG: usize = 60;

/// A collection name, trimmed and checked, or what is wrong with it.
///
/// # Errors
/// A sentence saying what a name may be.
pub fn check_name(raw: &str) -> Result<String, String> {
    let name = paperhub_domain::text::normalize_whitespace(raw);
    if name.is_empty() {
        return Err("Give the collection a name.".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!("Names are at most {MAX_NAME} characters."));
    }
    if name.chars().any(char::is_control) {
        return Err("Names cannot hold control characters.".into());
    }
    Ok(name)
}

/// The slug of a name: lower-case letters and digits joined by single
/// hyphens ("Graph Neural Nets!" is `graph-neural-nets`), or none when the
/// name has no letter or digit.
pub fn slug_of(name: &str) -> Option<String> {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= MAX_SLUG {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    (!slug.is_empty()).then_some(slug)
}

/// A collection's checked name and the slug it gets.
///
/// # Errors
/// A sentence saying what is wrong with the name.
pub fn name_and_slug(raw: &str) -> Result<(String, String), String> {
    let name = check_name(raw)?;
    let mut slug = slug_of(&name).ok_or("Use at least one letter or digit in the name.")?;
    // `/library/import` is the upload's path, not a collection's.
    if RESERVED.contains(&slug.as_str()) {
        slug.push_str("-collection");
    }
    Ok((name, slug))
}

/// Slugs that name pages under `/library/`.
const RESERVED: &[&str] = &["import"];

/// Whether `s` is a well-formed slug (as URLs carry them).
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SLUG
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A note, trimmed and checked.
///
/// # Errors
/// A sentence saying how long a note may be.
pub fn check_note(raw: &str) -> Result<String, String> {
    let note = raw.trim().replace('\0', "");
    if note.chars().count() > MAX_NOTE {
        return Err(format!("Notes are at most {MAX_NOTE} characters."));
    }
    Ok(note)
}

/// Whether `entry` matches every word of `query` in its title, abstract,
/// authors, id or `note` (case-insensitive); an empty query matches all.
pub fn matches(entry: &Entry, note: &str, query: &str) -> bool {
    let p = &entry.paper;
    let haystack = format!(
        "{} {} {} {} {}",
        p.title,
        p.abstract_text,
        p.authors
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        p.id.base(),
        note
    )
    .to_lowercase();
    query
        .split_whitespace()
        .all(|w| haystack.contains(&w.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_names_and_notes() {
        assert_eq!(
            slug_of("Graph Neural Nets!").as_deref(),
            Some("graph-neural-nets")
        );
        assert_eq!(
            slug_of("  --Reading   list--").as_deref(),
            Some("reading-list")
        );
        assert_eq!(slug_of("Überblick 2025").as_deref(), Some("berblick-2025"));
        assert_eq!(slug_of("日本語"), None);
        assert_eq!(slug_of(&"a".repeat(500)).map(|s| s.len()), Some(MAX_SLUG));
        assert!(is_slug("graph-neural-nets") && !is_slug("Graph") && !is_slug(""));
        assert!(!is_slug("a/b") && !is_slug(&"a".repeat(61)));
        assert_eq!(check_name("  Deep   learning ").unwrap(), "Deep learning");
        assert!(check_name("   ").is_err());
        assert_eq!(name_and_slug("Import").unwrap().1, "import-collection");
        assert!(check_name(&"x".repeat(101)).is_err());
        assert_eq!(check_note(" a\0b ").unwrap(), "ab");
        assert!(check_note(&"x".repeat(2001)).is_err());
    }
}
