//! OAI-PMH responses (`ListRecords`, `GetRecord`) in the `arXiv` and `arXivRaw` formats.
//!
//! `arXiv` gives structured author names and the first and last dates;
//! `arXivRaw` gives every version with its date and size, and the authors as
//! one string. Both are mapped to [`Paper`]. The envelope (response date,
//! resumption token, error) is exposed through [`OaiEnvelope`] so the
//! harvester can page and resume with the same parser the importer uses.

use std::io::BufRead;

use paperhub_domain::text::{non_empty, normalize_whitespace};
use paperhub_domain::{ArxivId, Author, Paper, Version, split_author_list};

use crate::MAX_RECORD_BYTES;
use crate::dates::parse_date;
use crate::error::{ReadError, RecordError, RecordErrorKind, StreamError};
use crate::xml::{Element, RecordChunker, parse_element};

/// A resumption token and its position in the complete list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumptionToken {
    /// The token to send with the next request.
    pub token: String,
    /// Records before this page, when given.
    pub cursor: Option<u64>,
    /// Size of the complete list, when given.
    pub complete_list_size: Option<u64>,
}

/// What an OAI-PMH response says around its records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OaiEnvelope {
    /// `responseDate`, verbatim.
    pub response_date: Option<String>,
    /// The token for the next page; `None` (or an empty token) on the last page.
    pub resumption_token: Option<ResumptionToken>,
    /// The OAI error `(code, message)`, if the response is an error.
    pub error: Option<(String, String)>,
}

impl OaiEnvelope {
    fn parse(bytes: &[u8]) -> OaiEnvelope {
        let text = String::from_utf8_lossy(bytes);
        let Ok(root) = parse_element(&text) else {
            return OaiEnvelope::default();
        };
        let resumption_token = root.find("resumptionToken").and_then(|t| {
            let token = t.text.trim();
            (!token.is_empty()).then(|| ResumptionToken {
                token: token.to_owned(),
                cursor: t.attr("cursor").and_then(|c| c.parse().ok()),
                complete_list_size: t.attr("completeListSize").and_then(|c| c.parse().ok()),
            })
        });
        OaiEnvelope {
            response_date: root.find("responseDate").map(|d| d.text.trim().to_owned()),
            resumption_token,
            error: root.find("error").map(|e| {
                (
                    e.attr("code").unwrap_or("unknown").to_owned(),
                    normalize_whitespace(&e.text),
                )
            }),
        }
    }
}

/// Streams papers from an OAI-PMH response.
///
/// After the last record, an OAI error other than `noRecordsMatch` is yielded
/// as a [`StreamError::Oai`]; `noRecordsMatch` is an empty, successful result.
pub struct OaiReader<R> {
    chunks: RecordChunker<R>,
    envelope: Option<OaiEnvelope>,
}

impl<R: BufRead> OaiReader<R> {
    /// Reads an OAI-PMH response from `reader`.
    pub fn new(reader: R) -> Self {
        OaiReader {
            chunks: RecordChunker::new(reader, "record", MAX_RECORD_BYTES),
            envelope: None,
        }
    }

    /// The envelope, available once every record has been read.
    pub fn envelope(&self) -> Option<&OaiEnvelope> {
        self.envelope.as_ref()
    }
}

impl<R: BufRead> Iterator for OaiReader<R> {
    type Item = Result<Paper, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(item) = self.chunks.next_record(|location, record, _| {
            record_to_paper(record).map_err(|kind| RecordError { location, kind }.into())
        }) {
            return Some(item);
        }
        if self.envelope.is_some() {
            return None;
        }
        let envelope = OaiEnvelope::parse(&self.chunks.envelope);
        let error = envelope.error.clone();
        self.envelope = Some(envelope);
        match error {
            Some((code, message)) if code != "noRecordsMatch" => {
                Some(Err(StreamError::Oai { code, message }.into()))
            }
            _ => None,
        }
    }
}

/// Converts one `<record>` element to a paper.
pub(crate) fn record_to_paper(record: &Element) -> Result<Paper, RecordErrorKind> {
    let header = record.child("header");
    if let Some(h) = header
        && h.attr("status") == Some("deleted")
    {
        let id = h.child_text("identifier").unwrap_or("").trim().to_owned();
        return Err(RecordErrorKind::Deleted(id));
    }
    if let Some(raw) = record.find("arXivRaw") {
        return arxiv_raw_to_paper(raw);
    }
    if let Some(meta) = record.find("arXiv") {
        return arxiv_to_paper(meta);
    }
    Err(RecordErrorKind::MissingField("metadata"))
}

fn common_fields(meta: &Element) -> Result<Paper, RecordErrorKind> {
    let raw_id = meta
        .child_text("id")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(RecordErrorKind::MissingField("id"))?;
    let id = ArxivId::parse_bare(raw_id).map_err(|source| RecordErrorKind::InvalidId {
        field: "id",
        source,
    })?;
    let title =
        non_empty(meta.child_text("title")).ok_or(RecordErrorKind::MissingField("title"))?;
    let abstract_text = normalize_whitespace(meta.child_text("abstract").unwrap_or(""));
    let mut paper = Paper::new(id, title, abstract_text);
    paper.categories = meta
        .child_text("categories")
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    paper.comments = non_empty(meta.child_text("comments"));
    paper.journal_ref = non_empty(meta.child_text("journal-ref"));
    paper.doi = non_empty(meta.child_text("doi"));
    paper.report_no = non_empty(meta.child_text("report-no"));
    paper.license = non_empty(meta.child_text("license"));
    paper.msc_class = non_empty(meta.child_text("msc-class"));
    paper.acm_class = non_empty(meta.child_text("acm-class"));
    Ok(paper)
}

fn arxiv_to_paper(meta: &Element) -> Result<Paper, RecordErrorKind> {
    let mut paper = common_fields(meta)?;
    if let Some(authors) = meta.child("authors") {
        paper.authors = authors
            .children_named("author")
            .map(|a| {
                let mut author = Author::from_parts(
                    a.child_text("keyname").unwrap_or(""),
                    a.child_text("forenames").unwrap_or(""),
                    a.child_text("suffix").unwrap_or(""),
                );
                let affiliations: Vec<String> = a
                    .children_named("affiliation")
                    .filter_map(|x| non_empty(Some(&x.text)))
                    .collect();
                if !affiliations.is_empty() {
                    author.affiliation = Some(affiliations.join("; "));
                }
                author
            })
            .collect();
    }
    // This format gives the first and last dates but not the version count.
    let created = meta.child_text("created").and_then(parse_date);
    if created.is_some() {
        paper.versions.push(Version {
            version: 1,
            date: created,
            size: None,
        });
    }
    paper.updated = meta.child_text("updated").and_then(parse_date);
    paper.finalize();
    Ok(paper)
}

fn arxiv_raw_to_paper(meta: &Element) -> Result<Paper, RecordErrorKind> {
    let mut paper = common_fields(meta)?;
    paper.authors = split_author_list(meta.child_text("authors").unwrap_or(""));
    paper.submitter = non_empty(meta.child_text("submitter"));
    paper.versions = meta
        .children_named("version")
        .filter_map(|v| {
            let n = v
                .attr("version")?
                .trim_start_matches(['v', 'V'])
                .parse()
                .ok()?;
            Some(Version {
                version: n,
                date: v.child_text("date").and_then(parse_date),
                size: non_empty(v.child_text("size")),
            })
        })
        .collect();
    paper.finalize();
    Ok(paper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &str) -> (Vec<Result<Paper, ReadError>>, OaiEnvelope) {
        let mut reader = OaiReader::new(xml.as_bytes());
        let out: Vec<_> = reader.by_ref().collect();
        (out, reader.envelope().cloned().unwrap())
    }

    const PAGE: &str = "<?xml version='1.0' encoding='UTF-8'?>
<OAI-PMH xmlns='http://www.openarchives.org/OAI/2.0/'>
<responseDate>2014-01-16T10:33:29Z</responseDate>
<ListRecords>
<record><header><identifier>oai:arXiv.org:0801.3674</identifier><datestamp>2008-11-26</datestamp></header>
<metadata><arXivRaw xmlns='http://arxiv.org/OAI/arXivRaw/'>
<id>0801.3674</id><submitter>Robert Brandenberger</submitter><version version='v1'><date>Wed, 23 Jan 2008 21:13:53 GMT</date><size>33kb</size></version><version version='v2'><date>Mon, 4 Feb 2008 15:05:55 GMT</date><size>33kb</size></version><title>A Study of Structure
  Formation</title><authors>Robert H. Brandenberger (McGill) and
  Anne-Christine Davis (DAMTP, Cambridge)</authors><categories>hep-th astro-ph</categories><abstract>  We study.
</abstract></arXivRaw></metadata></record>
<record><header><identifier>oai:arXiv.org:0704.4001</identifier></header><metadata>
<arXiv xmlns='http://arxiv.org/OAI/arXiv/'><id>0704.4001</id><created>2007-04-30</created><updated>2008-01-28</updated><authors><author><keyname>Douglas</keyname><forenames>Michael R.</forenames><affiliation>Rutgers</affiliation></author></authors><title>Warping &amp; Supersymmetry</title><categories>hep-th</categories><abstract>A.</abstract></arXiv>
</metadata></record>
<record><header><identifier>x</identifier></header><metadata><arXiv><id>0704.4002</id><title>Broken</tittle></arXiv></metadata></record>
<record><header status='deleted'><identifier>oai:arXiv.org:0704.4003</identifier></header></record>
<resumptionToken completeListSize='907096' cursor='46000'>496549|47001</resumptionToken>
</ListRecords>
</OAI-PMH>";

    #[test]
    fn parses_both_formats_and_envelope() {
        let (out, envelope) = read(PAGE);
        assert_eq!(out.len(), 4);
        let raw = out[0].as_ref().unwrap();
        assert_eq!(raw.version, Some(2));
        assert_eq!(raw.versions[1].size.as_deref(), Some("33kb"));
        assert_eq!(
            raw.submitted.unwrap().to_rfc3339(),
            "2008-01-23T21:13:53+00:00"
        );
        assert_eq!(
            raw.updated.unwrap().to_rfc3339(),
            "2008-02-04T15:05:55+00:00"
        );
        assert_eq!(raw.authors.len(), 2);
        assert_eq!(
            raw.authors[1].affiliation.as_deref(),
            Some("DAMTP, Cambridge")
        );
        assert_eq!(raw.title, "A Study of Structure Formation");

        let structured = out[1].as_ref().unwrap();
        assert_eq!(structured.title, "Warping & Supersymmetry");
        assert_eq!(structured.authors[0].name, "Michael R. Douglas");
        assert_eq!(
            structured.authors[0].affiliation.as_deref(),
            Some("Rutgers")
        );
        assert_eq!(
            structured.updated.unwrap().to_rfc3339(),
            "2008-01-28T00:00:00+00:00"
        );

        let broken = out[2].as_ref().unwrap_err().to_string();
        assert!(broken.starts_with("line 14: malformed XML"), "{broken}");
        let deleted = out[3].as_ref().unwrap_err().to_string();
        assert!(deleted.contains("marked deleted"), "{deleted}");

        assert_eq!(
            envelope.response_date.as_deref(),
            Some("2014-01-16T10:33:29Z")
        );
        let token = envelope.resumption_token.unwrap();
        assert_eq!(token.token, "496549|47001");
        assert_eq!(token.cursor, Some(46000));
        assert_eq!(token.complete_list_size, Some(907096));
    }

    #[test]
    fn errors_and_empty_results() {
        let no_records = "<OAI-PMH><responseDate>2015</responseDate><error code=\"noRecordsMatch\">none</error></OAI-PMH>";
        let (out, env) = read(no_records);
        assert!(out.is_empty());
        assert_eq!(env.error.unwrap().0, "noRecordsMatch");
        let bad = "<OAI-PMH><error code=\"badResumptionToken\">The value of the resumptionToken argument is invalid or expired.</error></OAI-PMH>";
        let (out, _) = read(bad);
        assert_eq!(
            out[0].as_ref().unwrap_err().to_string(),
            "OAI-PMH error badResumptionToken: The value of the resumptionToken argument is invalid or expired."
        );
    }
}
