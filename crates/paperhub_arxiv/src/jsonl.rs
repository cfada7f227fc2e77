//! JSON-lines metadata: the Kaggle/Cornell snapshot and daily listing files.
//!
//! Both formats put one paper per line. The snapshot
//! (`arxiv-metadata-oai-snapshot.json`) has 14 fields including `versions`
//! and `authors_parsed`; a daily listing (`YYYY-MM-DD.jsonl`) has `id`,
//! `title`, `summary`, `authors` (a list), `categories` (a list) and
//! `comment`, and its file name gives the listing date. The first valid line
//! decides which of the two a file holds. Lines are deserialised into
//! borrowed structs, so parsing costs little more than `serde_json` itself.

use std::borrow::Cow;
use std::io::BufRead;

use chrono::NaiveDate;
use paperhub_domain::text::{non_empty, normalize_whitespace};
use paperhub_domain::{ArxivId, Author, Paper, Version, is_category, split_author_list};
use serde::Deserialize;

use crate::dates::parse_date;
use crate::error::{Location, ReadError, RecordError, RecordErrorKind, StreamError};
use crate::lines::{BoundedLines, Line};
use crate::{Format, MAX_RECORD_BYTES};

/// A record of the snapshot, borrowing from the line where it can.
#[derive(Debug, Deserialize)]
pub struct SnapshotRecord<'a> {
    /// arXiv id without version.
    #[serde(borrow)]
    pub id: Option<Cow<'a, str>>,
    /// Submitter's name.
    #[serde(borrow)]
    pub submitter: Option<Cow<'a, str>>,
    /// Author list as one string, with TeX accents.
    #[serde(borrow)]
    pub authors: Option<Cow<'a, str>>,
    /// Title.
    #[serde(borrow)]
    pub title: Option<Cow<'a, str>>,
    /// Comments.
    #[serde(borrow)]
    pub comments: Option<Cow<'a, str>>,
    /// Journal reference.
    #[serde(borrow, rename = "journal-ref")]
    pub journal_ref: Option<Cow<'a, str>>,
    /// DOI.
    #[serde(borrow)]
    pub doi: Option<Cow<'a, str>>,
    /// Report number.
    #[serde(borrow, rename = "report-no")]
    pub report_no: Option<Cow<'a, str>>,
    /// Space-separated categories, primary first.
    #[serde(borrow)]
    pub categories: Option<Cow<'a, str>>,
    /// License URL.
    #[serde(borrow)]
    pub license: Option<Cow<'a, str>>,
    /// Abstract.
    #[serde(borrow, rename = "abstract")]
    pub abstract_text: Option<Cow<'a, str>>,
    /// Every version with its RFC 2822 date.
    #[serde(borrow, default)]
    pub versions: Vec<SnapshotVersion<'a>>,
    /// Date of the last metadata change.
    #[serde(borrow)]
    pub update_date: Option<Cow<'a, str>>,
    /// `[last, first, suffix]` per author.
    #[serde(borrow, default)]
    pub authors_parsed: Vec<Vec<Cow<'a, str>>>,
}

/// One entry of the snapshot's `versions`.
#[derive(Debug, Deserialize)]
pub struct SnapshotVersion<'a> {
    /// "v1", "v2", …
    #[serde(borrow)]
    pub version: Cow<'a, str>,
    /// RFC 2822 date.
    #[serde(borrow)]
    pub created: Option<Cow<'a, str>>,
}

/// A record of a daily listing file.
#[derive(Debug, Deserialize)]
pub struct ListingRecord<'a> {
    /// arXiv id without version.
    #[serde(borrow)]
    pub id: Option<Cow<'a, str>>,
    /// Title.
    #[serde(borrow)]
    pub title: Option<Cow<'a, str>>,
    /// Abstract.
    #[serde(borrow)]
    pub summary: Option<Cow<'a, str>>,
    /// Author display names.
    #[serde(borrow, default)]
    pub authors: Vec<Cow<'a, str>>,
    /// Categories, the listing's first (mixed with MSC/ACM classes at times).
    #[serde(borrow, default)]
    pub categories: Vec<Cow<'a, str>>,
    /// Comments.
    #[serde(borrow)]
    pub comment: Option<Cow<'a, str>>,
}

fn required<'a>(
    value: &'a Option<Cow<'_, str>>,
    field: &'static str,
) -> Result<&'a str, RecordErrorKind> {
    match value.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(RecordErrorKind::MissingField(field)),
    }
}

fn parse_id(raw: &str) -> Result<ArxivId, RecordErrorKind> {
    ArxivId::parse_bare(raw).map_err(|source| RecordErrorKind::InvalidId {
        field: "id",
        source,
    })
}

impl SnapshotRecord<'_> {
    /// Converts the record to a paper.
    ///
    /// # Errors
    /// A missing id or title, or an invalid id.
    pub fn into_paper(self) -> Result<Paper, RecordErrorKind> {
        let id = parse_id(required(&self.id, "id")?)?;
        let title = normalize_whitespace(required(&self.title, "title")?);
        let abstract_text = normalize_whitespace(self.abstract_text.as_deref().unwrap_or(""));
        let mut paper = Paper::new(id, title, abstract_text);
        paper.authors = if self.authors_parsed.is_empty() {
            split_author_list(self.authors.as_deref().unwrap_or(""))
        } else {
            self.authors_parsed
                .iter()
                .map(|parts| {
                    let part = |i: usize| parts.get(i).map_or("", |s| s.as_ref());
                    Author::from_parts(part(0), part(1), part(2))
                })
                .collect()
        };
        paper.categories = self
            .categories
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        paper.comments = non_empty(self.comments.as_deref());
        paper.journal_ref = non_empty(self.journal_ref.as_deref());
        paper.doi = non_empty(self.doi.as_deref());
        paper.report_no = non_empty(self.report_no.as_deref());
        paper.license = non_empty(self.license.as_deref());
        paper.submitter = non_empty(self.submitter.as_deref());
        paper.versions = self
            .versions
            .iter()
            .filter_map(|v| {
                let n = v
                    .version
                    .trim()
                    .trim_start_matches(['v', 'V'])
                    .parse()
                    .ok()?;
                Some(Version {
                    version: n,
                    date: v.created.as_deref().and_then(parse_date),
                    size: None,
                })
            })
            .collect();
        paper.finalize();
        Ok(paper)
    }
}

impl ListingRecord<'_> {
    fn into_paper(self, listing_date: Option<NaiveDate>) -> Result<Paper, RecordErrorKind> {
        let id = parse_id(required(&self.id, "id")?)?;
        let title = normalize_whitespace(required(&self.title, "title")?);
        let abstract_text = normalize_whitespace(self.summary.as_deref().unwrap_or(""));
        let mut paper = Paper::new(id, title, abstract_text);
        paper.authors = self
            .authors
            .iter()
            .filter(|a| !a.trim().is_empty())
            .map(|a| Author::from_display_name(a))
            .collect();
        // The listing scraper mixes MSC and ACM classes into `categories`.
        for entry in self.categories.iter().map(|c| c.trim()) {
            if is_category(entry) {
                paper.categories.push(entry.to_owned());
            } else if !entry.is_empty() {
                let is_acm = entry.split([';', ',']).all(|part| {
                    part.trim()
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_uppercase())
                });
                let slot = if is_acm {
                    &mut paper.acm_class
                } else {
                    &mut paper.msc_class
                };
                match slot {
                    Some(existing) if !existing.contains(entry) => {
                        existing.push_str("; ");
                        existing.push_str(entry);
                    }
                    Some(_) => {}
                    None => *slot = Some(entry.to_owned()),
                }
            }
        }
        paper.comments = non_empty(self.comment.as_deref());
        paper.announced = listing_date;
        paper.finalize();
        Ok(paper)
    }
}

/// Streams papers from a JSON-lines input.
pub struct JsonLinesReader<R> {
    lines: BoundedLines<R>,
    listing_date: Option<NaiveDate>,
    kind: Option<Format>,
    records: u64,
    done: bool,
}

impl<R: BufRead> JsonLinesReader<R> {
    /// Reads `reader`; `listing_date` applies to daily-listing records.
    pub fn new(reader: R, listing_date: Option<NaiveDate>) -> Self {
        JsonLinesReader {
            lines: BoundedLines::new(reader, MAX_RECORD_BYTES),
            listing_date,
            kind: None,
            records: 0,
            done: false,
        }
    }

    /// Snapshot or listing, once the first valid line has been read.
    pub fn format(&self) -> Option<Format> {
        self.kind
    }
}

/// Decides snapshot or listing from one line's keys.
fn sniff_kind(line: &[u8]) -> Result<Format, RecordErrorKind> {
    let value: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(line).map_err(|e| RecordErrorKind::Json(e.to_string()))?;
    if value.contains_key("summary") && !value.contains_key("abstract") {
        Ok(Format::Listing)
    } else {
        Ok(Format::Snapshot)
    }
}

impl<R: BufRead> Iterator for JsonLinesReader<R> {
    type Item = Result<Paper, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let line_no = self.lines.line_no + 1;
            let line = match self.lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => {
                    self.done = true;
                    return None;
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
            let location = Location {
                line: Some(line_no),
                record: line_no,
            };
            let fail = |kind| Some(Err(RecordError { location, kind }.into()));
            let bytes = match line {
                Line::TooLong(size) => {
                    return fail(RecordErrorKind::TooLarge {
                        size,
                        limit: MAX_RECORD_BYTES as u64,
                    });
                }
                Line::Text(bytes) => bytes,
            };
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let kind = match self.kind {
                Some(kind) => kind,
                None => match sniff_kind(bytes) {
                    Ok(kind) => {
                        self.kind = Some(kind);
                        kind
                    }
                    Err(e) => return fail(e),
                },
            };
            let result = match kind {
                Format::Listing => serde_json::from_slice::<ListingRecord<'_>>(bytes)
                    .map_err(|e| RecordErrorKind::Json(e.to_string()))
                    .and_then(|r| r.into_paper(self.listing_date)),
                _ => serde_json::from_slice::<SnapshotRecord<'_>>(bytes)
                    .map_err(|e| RecordErrorKind::Json(e.to_string()))
                    .and_then(SnapshotRecord::into_paper),
            };
            return match result {
                Ok(paper) => {
                    self.records += 1;
                    Some(Ok(paper))
                }
                Err(kind) => fail(kind),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAPSHOT_LINE: &str = r#"{"id":"0704.0001","submitter":"Pavel Nadolsky","authors":"C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan","title":"Calculation of prompt diphoton production cross sections at Tevatron and\n  LHC energies","comments":"37 pages, 15 figures; published version","journal-ref":"Phys.Rev.D76:013009,2007","doi":"10.1103/PhysRevD.76.013009","report-no":"ANL-HEP-PR-07-12","categories":"hep-ph","license":null,"abstract":"  A fully differential calculation in perturbative quantum chromodynamics is\npresented.\n","versions":[{"version":"v1","created":"Mon, 2 Apr 2007 19:18:42 GMT"},{"version":"v2","created":"Tue, 24 Jul 2007 20:10:27 GMT"}],"update_date":"2008-11-26","authors_parsed":[["Bal\u00e1zs","C.",""],["Berger","E. L.",""],["Nadolsky","P. M.",""],["Yuan","C. -P.",""]]}"#;

    fn read(input: &str, date: Option<NaiveDate>) -> Vec<Result<Paper, ReadError>> {
        JsonLinesReader::new(input.as_bytes(), date).collect()
    }

    #[test]
    fn snapshot_record() {
        let papers = read(SNAPSHOT_LINE, None);
        let p = papers[0].as_ref().unwrap();
        assert_eq!(p.id.to_string(), "0704.0001");
        assert_eq!(p.version, Some(2));
        assert_eq!(
            p.title,
            "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
        );
        assert_eq!(p.authors[0].name, "C. Balázs");
        assert_eq!(p.authors[0].last.as_deref(), Some("Balázs"));
        assert_eq!(
            p.submitted.unwrap().to_rfc3339(),
            "2007-04-02T19:18:42+00:00"
        );
        assert_eq!(p.updated.unwrap().to_rfc3339(), "2007-07-24T20:10:27+00:00");
        assert_eq!(p.doi.as_deref(), Some("10.1103/PhysRevD.76.013009"));
        assert_eq!(p.report_no.as_deref(), Some("ANL-HEP-PR-07-12"));
        assert_eq!(p.primary_category.as_deref(), Some("hep-ph"));
        assert_eq!(p.license, None);
    }

    #[test]
    fn listing_record_gets_file_date() {
        let line = r#"{"id": "2503.11731", "pdf": "https://arxiv.org/pdf/2503.11731", "abs": "https://arxiv.org/abs/2503.11731", "authors": ["Xianming Zeng", "Sicong Du"], "title": "Industrial-Grade Sensor Simulation", "categories": ["cs.CV", "cs.RO", "68U10, 90C26", "I.4.2; E.4"], "comment": "Code: https://github.com/x/y", "summary": "Sensor simulation\nis pivotal."}"#;
        let date = NaiveDate::from_ymd_opt(2025, 3, 18);
        let p = read(line, date).remove(0).unwrap();
        assert_eq!(p.announced, date);
        assert_eq!(p.abstract_text, "Sensor simulation is pivotal.");
        assert_eq!(p.categories, ["cs.CV", "cs.RO"]);
        assert_eq!(p.msc_class.as_deref(), Some("68U10, 90C26"));
        assert_eq!(p.acm_class.as_deref(), Some("I.4.2; E.4"));
        assert_eq!(p.code_url.as_deref(), Some("https://github.com/x/y"));
        assert_eq!(p.authors[1].last.as_deref(), Some("Du"));
    }

    #[test]
    fn bad_lines_are_numbered_and_skipped() {
        let input = format!(
            "{SNAPSHOT_LINE}\n{{not json\n\n{{\"id\":\"0704.0002\"}}\n{{\"title\":\"x\"}}\n{{\"id\":\"12345\",\"title\":\"x\"}}\n{SNAPSHOT_LINE}\n"
        );
        let out = read(&input, None);
        let summary: Vec<String> = out
            .iter()
            .map(|r| match r {
                Ok(p) => format!("ok {}", p.id),
                Err(e) => e.to_string(),
            })
            .collect();
        assert_eq!(summary[0], "ok 0704.0001");
        assert!(
            summary[1].starts_with("line 2: invalid JSON"),
            "{}",
            summary[1]
        );
        assert_eq!(summary[2], "line 4: missing required field 'title'");
        assert_eq!(summary[3], "line 5: missing required field 'id'");
        assert!(summary[4].starts_with("line 6: field 'id': invalid arXiv id '12345'"));
        assert_eq!(summary[5], "ok 0704.0001");
        assert_eq!(out.len(), 6);
    }
}
