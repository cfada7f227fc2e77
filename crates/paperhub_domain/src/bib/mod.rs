//! Bibliographies in and out: BibTeX, RIS and CSL-JSON as Zotero, Mendeley
//! and JabRef export them, read into [`Reference`]s and written from them.
//!
//! Reading is lenient and never fails as a whole: every entry becomes a
//! reference or a [`BadEntry`] that names its line and key, and the others
//! are kept. Inputs are bounded ([`MAX_INPUT`], [`MAX_ENTRIES`]) and the
//! parsers loop, never recurse, so no file can exhaust the stack.
//!
//! Writing is what reading reads back: a round trip keeps every paper's
//! arXiv id, title, authors and note.

pub mod bibtex;
pub mod csl;
pub mod ris;

use crate::ArxivId;

/// Largest file read, in bytes.
pub const MAX_INPUT: usize = 32 * 1024 * 1024;

/// Entries read from one file at most; the rest are reported, not read.
pub const MAX_ENTRIES: usize = 20_000;

/// One work of a bibliography.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reference {
    /// Its citation key or id in the file (may be empty).
    pub key: String,
    /// Title, TeX braces and accents resolved.
    pub title: Option<String>,
    /// Authors as display names ("Ada Lovelace").
    pub authors: Vec<String>,
    /// Year of publication.
    pub year: Option<String>,
    /// DOI, without `https://doi.org/`.
    pub doi: Option<String>,
    /// The arXiv id, from an eprint field, an arXiv URL, an arXiv DOI or a
    /// journal line such as "arXiv preprint arXiv:2501.00001".
    pub arxiv: Option<ArxivId>,
    /// A URL, when given.
    pub url: Option<String>,
    /// The user's note (BibTeX `note`/`annote`, RIS `N1`, CSL `note`).
    pub note: Option<String>,
    /// The line the entry starts on, from 1.
    pub line: usize,
}

/// `s` cut to at most `max` characters.
fn cut(s: &mut String, max: usize) {
    if let Some((at, _)) = s.char_indices().nth(max) {
        s.truncate(at);
    }
}

impl Reference {
    /// Cuts every field to a size no real reference needs, so a hostile
    /// file of 20,000 entries stays small in memory.
    fn bound(&mut self) {
        cut(&mut self.key, 200);
        for v in [
            &mut self.title,
            &mut self.doi,
            &mut self.url,
            &mut self.year,
        ]
        .into_iter()
        .flatten()
        {
            cut(v, 2_000);
        }
        if let Some(n) = &mut self.note {
            cut(n, 10_000);
        }
        self.authors.truncate(200);
        for a in &mut self.authors {
            cut(a, 300);
        }
    }
}

/// An entry that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry {
    /// The line it starts on, from 1.
    pub line: usize,
    /// Its key, when that much was read.
    pub key: Option<String>,
    /// What is wrong, as a sentence.
    pub reason: String,
}

/// What a file held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The entries read, in file order.
    pub references: Vec<Reference>,
    /// The entries skipped, in file order.
    pub bad: Vec<BadEntry>,
}

/// A bibliography format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// BibTeX / BibLaTeX (`.bib`).
    Bibtex,
    /// RIS (`.ris`).
    Ris,
    /// CSL-JSON (`.json`).
    CslJson,
}

impl Format {
    /// The format a file's name or first bytes say, BibTeX when unsure.
    pub fn detect(name: &str, text: &str) -> Format {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".ris") {
            return Format::Ris;
        }
        if lower.ends_with(".json") {
            return Format::CslJson;
        }
        if lower.ends_with(".bib") {
            return Format::Bibtex;
        }
        let start = text.trim_start_matches('\u{feff}').trim_start();
        if start.starts_with('[') || start.starts_with('{') {
            Format::CslJson
        } else if start.starts_with("TY  -") {
            Format::Ris
        } else {
            Format::Bibtex
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Bibtex => "bib",
            Format::Ris => "ris",
            Format::CslJson => "json",
        }
    }

    /// The media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Bibtex => "application/x-bibtex; charset=utf-8",
            Format::Ris => "application/x-research-info-systems; charset=utf-8",
            Format::CslJson => "application/vnd.citationstyles.csl+json; charset=utf-8",
        }
    }

    /// Reads `text` in this format.
    pub fn parse(self, text: &str) -> Parsed {
        if text.len() > MAX_INPUT {
            return Parsed {
                references: Vec::new(),
                bad: vec![BadEntry {
                    line: 1,
                    key: None,
                    reason: format!("the file is over {} MB; split it", MAX_INPUT >> 20),
                }],
            };
        }
        let text = text.trim_start_matches('\u{feff}');
        let mut parsed = match self {
            Format::Bibtex => bibtex::parse(text),
            Format::Ris => ris::parse(text),
            Format::CslJson => csl::parse(text),
        };
        for r in &mut parsed.references {
            r.bound();
        }
        parsed
    }

    /// Writes `references` in this format.
    pub fn write(self, references: &[Reference]) -> String {
        match self {
            Format::Bibtex => bibtex::write(references),
            Format::Ris => ris::write(references),
            Format::CslJson => csl::write(references),
        }
    }
}

/// The arXiv id one of `candidates` names: an id, an `arXiv:` id, an
/// arxiv.org URL, an arXiv DOI (`10.48550/arXiv.2501.00001`), or text
/// holding "arXiv:2501.00001".
pub fn find_arxiv<'a>(candidates: impl IntoIterator<Item = &'a str>) -> Option<ArxivId> {
    for c in candidates {
        let mut end = c.len().min(ARXIV_SEARCH);
        while !c.is_char_boundary(end) {
            end -= 1;
        }
        let c = c[..end].trim();
        if c.is_empty() {
            continue;
        }
        if let Some(rest) = strip_doi_prefix(c).and_then(|d| {
            d.get(..15)
                .filter(|p| p.eq_ignore_ascii_case("10.48550/arxiv."))
                .map(|_| &d[15..])
        }) && let Ok(id) = rest.parse::<ArxivId>()
        {
            return Some(id.unversioned());
        }
        if let Ok(id) = c.parse::<ArxivId>() {
            return Some(id.unversioned());
        }
        // "arXiv preprint arXiv:2501.00001", "arXiv: 2501.00001 [cs.CL]".
        let lower = c.to_ascii_lowercase();
        let mut from = 0;
        // A handful of mentions is plenty; ids are at most 40 characters.
        for _ in 0..16 {
            let Some(at) = lower[from..].find("arxiv") else {
                break;
            };
            let start = from + at + 5;
            let rest = c[start..].trim_start_matches([':', ' ', '.', '/']);
            let token: String = rest
                .chars()
                .take(40)
                .take_while(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '/' | '-'))
                .collect();
            if let Ok(id) = token.trim_end_matches('.').parse::<ArxivId>() {
                return Some(id.unversioned());
            }
            from = start;
        }
    }
    None
}

/// `doi` without a resolver prefix, or `None` when it is not a DOI.
pub fn clean_doi(doi: &str) -> Option<String> {
    let d = strip_doi_prefix(doi.trim())?;
    (d.starts_with("10.") && d.contains('/') && !d.contains(char::is_whitespace))
        .then(|| d.to_owned())
}

fn strip_doi_prefix(s: &str) -> Option<&str> {
    let lower = s.to_ascii_lowercase();
    for prefix in [
        "https://doi.org/",
        "http://doi.org/",
        "https://dx.doi.org/",
        "http://dx.doi.org/",
        "doi:",
    ] {
        if lower.starts_with(prefix) {
            return Some(s[prefix.len()..].trim());
        }
    }
    lower.starts_with("10.").then_some(s)
}

/// A title as matched against the catalog: lower-case letters and digits,
/// one space between words.
pub fn title_key(title: &str) -> String {
    crate::author::author_key(title)
}

/// "Lovelace, Ada" as "Ada Lovelace"; other names as they are.
pub fn display_name(raw: &str) -> String {
    crate::Author::from_display_name(raw).name
}

/// "Ada Lovelace" as ("Lovelace", "Ada") for formats that split names.
pub fn split_name(name: &str) -> (String, String) {
    let a = crate::Author::from_display_name(name);
    match (a.last, a.first) {
        (Some(last), first) => (last, first.unwrap_or_default()),
        (None, _) => (name.to_owned(), String::new()),
    }
}

/// 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    memchr::memchr_iter(b'\n', &text.as_bytes()[..offset.min(text.len())]).count() + 1
}

/// Line numbers for offsets asked in increasing order, counting each byte
/// once (a file of a million entries is not rescanned a million times).
pub(crate) struct Lines<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(text: &'a str) -> Lines<'a> {
        Lines {
            bytes: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The line of `offset`; an offset before the last one asked is
    /// counted from the start again.
    pub(crate) fn at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.bytes.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        self.line += memchr::memchr_iter(b'\n', &self.bytes[self.offset..offset]).count();
        self.offset = offset;
        self.line
    }
}

/// Bytes of a value searched for an arXiv id: ids sit at the start of the
/// fields that hold them, and a huge value must not cost a huge search.
const ARXIV_SEARCH: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arxiv_ids_are_found_wherever_exports_put_them() {
        for c in [
            "2501.00001",
            "arXiv:2501.00001v2",
            "https://arxiv.org/abs/2501.00001",
            "http://arxiv.org/pdf/2501.00001v3.pdf",
            "10.48550/arXiv.2501.00001",
            "https://doi.org/10.48550/ARXIV.2501.00001",
            "arXiv preprint arXiv:2501.00001",
            "arXiv: 2501.00001 [cs.CL]",
        ] {
            assert_eq!(
                find_arxiv([c]).map(|i| i.to_string()).as_deref(),
                Some("2501.00001"),
                "{c}"
            );
        }
        assert_eq!(
            find_arxiv(["hep-th/9901001"])
                .map(|i| i.to_string())
                .as_deref(),
            Some("hep-th/9901001")
        );
        assert_eq!(find_arxiv(["Nature 521, 436", "10.1038/nature14539"]), None);
        assert_eq!(
            clean_doi("https://doi.org/10.1038/nature14539").as_deref(),
            Some("10.1038/nature14539")
        );
        assert_eq!(clean_doi("not a doi"), None);
        assert_eq!(
            title_key("{BERT}: Pre-training of Deep..."),
            "bert pre training of deep"
        );
    }
}
