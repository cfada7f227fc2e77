//! arXiv's native `.abs` metadata files.
//!
//! A file holds one record: a `\\` line, header fields (`Title:`,
//! `Authors:`, one `Date:` line per version, …, with indented continuation
//! lines), another `\\`, the abstract, and a closing `\\`. Abstracts may
//! themselves contain `\\` lines (TeX line breaks), so, as in arXiv's own
//! parser (arxiv-browse), the abstract runs to the *last* `\\` line of the
//! file. Old files are Latin-1 rather than UTF-8; such lines are decoded as
//! Latin-1 so no byte is lost.

use std::io::BufRead;

use paperhub_domain::text::{non_empty, normalize_whitespace};
use paperhub_domain::{ArxivId, Paper, Version, split_author_list};

use crate::MAX_RECORD_BYTES;
use crate::dates::parse_date;
use crate::error::{Location, ReadError, RecordError, RecordErrorKind, StreamError};
use crate::lines::{BoundedLines, Line};

/// Streams papers from `.abs` text.
pub struct AbsReader<R> {
    lines: BoundedLines<R>,
    records: u64,
    done: bool,
}

impl<R: BufRead> AbsReader<R> {
    /// Reads `.abs` records from `reader`.
    pub fn new(reader: R) -> Self {
        AbsReader {
            lines: BoundedLines::new(reader, MAX_RECORD_BYTES),
            records: 0,
            done: false,
        }
    }
}

fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

#[derive(PartialEq)]
enum Part {
    Before,
    Header,
    Abstract,
}

impl<R: BufRead> Iterator for AbsReader<R> {
    type Item = Result<Paper, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut part = Part::Before;
        let mut start_line = 0;
        // One string each, not a string per line: a record of a million
        // short lines would otherwise take several times its size in memory.
        let mut header = String::new();
        let mut abstract_text = String::new();
        let mut record_bytes = 0usize;
        let mut last_separator = None;
        let mut oversized = None;
        loop {
            let line = match self.lines.next_line() {
                Ok(Some(Line::Text(bytes))) => decode(bytes),
                Ok(Some(Line::TooLong(size))) => {
                    oversized = Some(size);
                    String::new()
                }
                Ok(None) => {
                    self.done = true;
                    break;
                }
                Err(source) => {
                    self.done = true;
                    return Some(Err(StreamError::Io {
                        records: self.records,
                        source,
                    }
                    .into()));
                }
            };
            let is_separator = line.trim_end() == "\\\\";
            match part {
                Part::Before if is_separator => {
                    part = Part::Header;
                    start_line = self.lines.line_no;
                }
                Part::Before => {}
                Part::Header if is_separator => part = Part::Abstract,
                Part::Header => {
                    // The header counts towards the record limit too: without
                    // it, a header of many short lines grew without bound.
                    record_bytes += line.len() + 1;
                    if record_bytes > MAX_RECORD_BYTES {
                        oversized = Some(record_bytes as u64);
                    } else if line.starts_with([' ', '\t']) && !header.is_empty() {
                        header.push(' ');
                        header.push_str(line.trim());
                    } else if !line.trim().is_empty() {
                        if !header.is_empty() {
                            header.push('\n');
                        }
                        header.push_str(line.trim_end());
                    }
                }
                Part::Abstract => {
                    if is_separator {
                        last_separator = Some(abstract_text.len());
                    }
                    record_bytes += line.len() + 1;
                    if record_bytes > MAX_RECORD_BYTES {
                        oversized = Some(record_bytes as u64);
                    } else {
                        abstract_text.push_str(&line);
                        abstract_text.push('\n');
                    }
                }
            }
        }
        if part == Part::Before {
            return None;
        }
        if let Some(end) = last_separator {
            abstract_text.truncate(end);
        }
        if abstract_text.ends_with('\n') {
            abstract_text.pop();
        }
        self.records += 1;
        let location = Location {
            line: Some(start_line),
            record: self.records,
        };
        let result = match oversized {
            Some(size) => Err(RecordErrorKind::TooLarge {
                size,
                limit: MAX_RECORD_BYTES as u64,
            }),
            None => record_to_paper(&header, &abstract_text),
        };
        Some(result.map_err(|kind| RecordError { location, kind }.into()))
    }
}

/// The header fields read; only the first of each is kept.
const FIELDS: &[&str] = &[
    "Title",
    "Authors",
    "Categories",
    "Comments",
    "Journal-ref",
    "DOI",
    "Report-no",
    "License",
    "MSC-class",
    "ACM-class",
    "From",
];

/// More `Date` lines than any real paper has versions are ignored, so a
/// header of a million of them does not become a million versions.
const MAX_VERSIONS: usize = 1000;

/// Builds the paper from the header (one field per line, continuations
/// joined) and the abstract.
fn record_to_paper(header: &str, abstract_text: &str) -> Result<Paper, RecordErrorKind> {
    let mut id = None;
    let mut fields: Vec<(&str, &str)> = Vec::new();
    let mut versions = Vec::new();
    for line in header.split('\n') {
        if let Some(rest) = line
            .strip_prefix("arXiv:")
            .or_else(|| line.strip_prefix("Paper:"))
        {
            id = Some(rest.trim());
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if key.starts_with("Date") && versions.len() >= MAX_VERSIONS {
            continue;
        }
        if key == "Date" {
            versions.push(Version {
                version: 1,
                date: parse_date(value),
                size: size_of(value),
            });
        } else if let Some(rev) = key.strip_prefix("Date (revised") {
            let n = rev
                .trim()
                .trim_end_matches(')')
                .trim_start_matches('v')
                .parse()
                .unwrap_or(versions.len() as u32 + 1);
            versions.push(Version {
                version: n,
                date: parse_date(value),
                size: size_of(value),
            });
        } else if FIELDS.iter().any(|f| f.eq_ignore_ascii_case(key))
            && !fields.iter().any(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            fields.push((key, value));
        }
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    let raw_id = id
        .filter(|s| !s.is_empty())
        .ok_or(RecordErrorKind::MissingField("arXiv"))?;
    let id = ArxivId::parse_bare(raw_id).map_err(|source| RecordErrorKind::InvalidId {
        field: "arXiv",
        source,
    })?;
    let title = non_empty(field("Title")).ok_or(RecordErrorKind::MissingField("Title"))?;
    let mut paper = Paper::new(id, title, normalize_whitespace(abstract_text));
    paper.authors = split_author_list(field("Authors").unwrap_or(""));
    paper.categories = field("Categories")
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    paper.comments = non_empty(field("Comments"));
    paper.journal_ref = non_empty(field("Journal-ref"));
    paper.doi = non_empty(field("DOI"));
    paper.report_no = non_empty(field("Report-no"));
    paper.license = non_empty(field("License"));
    paper.msc_class = non_empty(field("MSC-class"));
    paper.acm_class = non_empty(field("ACM-class"));
    paper.submitter = field("From").and_then(|from| {
        // "Name <obfuscated@email>": keep the name, never the address.
        let name = from
            .split('<')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        non_empty(Some(name))
    });
    paper.versions = versions;
    paper.finalize();
    Ok(paper)
}

fn size_of(date_value: &str) -> Option<String> {
    let open = date_value.find('(')?;
    let inner = date_value[open + 1..].split(')').next()?;
    non_empty(inner.split(',').next())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABS: &str = r"------------------------------------------------------------------------------
\\
arXiv:funct-an/9301001
From: Alexander Turbiner <8gODpQvk@KLSvzbe.vEGP.qD>
Date: Sat, 16 Jan 1993 11:49:26 GMT   (0kb,I)
Date (revised v2): Tue, 8 Sep 1998 18:01:31 GMT   (38kb)

Title: Lie-algebras and linear operators with invariant subspaces
Authors: Alexander Turbiner
Categories: funct-an math.OA
Comments: 47pp, AMS-LaTeX
Report-no: I.H.E.S./P/92/95
Journal-ref: in {\em Lie algebras, cohomologies and new findings in quantum
  mechanics} (N. Kamran and P. J. Olver, eds.), 1994
\\
  A general classification of linear differential and finite-difference
operators is given.
\\
";

    #[test]
    fn parses_a_record() {
        let out: Vec<_> = AbsReader::new(ABS.as_bytes()).collect();
        assert_eq!(out.len(), 1);
        let p = out[0].as_ref().unwrap();
        assert_eq!(p.id.to_string(), "funct-an/9301001");
        assert_eq!(p.version, Some(2));
        assert_eq!(p.versions[0].size.as_deref(), Some("0kb"));
        assert_eq!(
            p.submitted.unwrap().to_rfc3339(),
            "1993-01-16T11:49:26+00:00"
        );
        assert_eq!(p.submitter.as_deref(), Some("Alexander Turbiner"));
        assert_eq!(p.categories, ["funct-an", "math.OA"]);
        assert!(p.journal_ref.as_deref().unwrap().ends_with("eds.), 1994"));
        assert_eq!(
            p.abstract_text,
            "A general classification of linear differential and finite-difference operators is given."
        );
    }

    #[test]
    fn tex_line_breaks_stay_in_the_abstract() {
        let text = ABS.replace("operators is given.", "operators \\\\\n\\\\\nis given.");
        let p = AbsReader::new(text.as_bytes()).next().unwrap().unwrap();
        assert!(
            p.abstract_text.ends_with("operators \\\\ \\\\ is given."),
            "{}",
            p.abstract_text
        );
    }

    #[test]
    fn latin1_is_decoded() {
        let mut bytes = ABS
            .replace("Alexander Turbiner\n", "Jos\u{00e9} Turbiner\n")
            .into_bytes();
        // Re-encode the é as a single Latin-1 byte.
        let pos = bytes.windows(2).position(|w| w == [0xc3, 0xa9]).unwrap();
        bytes.splice(pos..pos + 2, [0xe9]);
        let p = AbsReader::new(&bytes[..]).next().unwrap().unwrap();
        assert_eq!(p.authors[0].name, "José Turbiner");
    }

    #[test]
    fn a_header_over_the_record_limit_is_refused() {
        // Found by fuzzing: only the abstract counted towards the limit.
        let mut text = String::from("\\\\\narXiv:2101.00001\nTitle: T\n");
        let line = format!("Comments: {}\n", "x".repeat(1000));
        while text.len() <= MAX_RECORD_BYTES {
            text.push_str(&line);
        }
        text.push_str("\\\\\n  Abstract.\n\\\\\n");
        let err = AbsReader::new(text.as_bytes()).next().unwrap().unwrap_err();
        assert!(err.to_string().contains("over the"), "{err}");
    }

    #[test]
    fn missing_title_is_reported() {
        let text = ABS.replace("Title: Lie-algebras", "Titel: Lie-algebras");
        let err = AbsReader::new(text.as_bytes()).next().unwrap().unwrap_err();
        assert_eq!(err.to_string(), "line 2: missing required field 'Title'");
    }
}
