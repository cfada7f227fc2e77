//! arXiv API Atom feeds (`export.arxiv.org/api/query`), old and current formats.
//!
//! The pre-2025 feed declares the `arxiv:` and `opensearch:` namespaces on each
//! element; the current one declares them once on `<feed>` and adds
//! `<arxiv:affiliation>`. Elements are read by local name, so both parse the
//! same way. An error (what the API sends with HTTP 400) is a feed with one
//! entry whose id points into `/api/errors`; it becomes [`StreamError::Api`].

use std::io::BufRead;

use paperhub_domain::text::{non_empty, normalize_whitespace};
use paperhub_domain::{ArxivId, Author, Paper, Version};

use crate::MAX_RECORD_BYTES;
use crate::dates::parse_date;
use crate::error::{ReadError, RecordError, RecordErrorKind, StreamError};
use crate::xml::{Element, RecordChunker, parse_element};

/// Paging information from the feed header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AtomEnvelope {
    /// `opensearch:totalResults`.
    pub total_results: Option<u64>,
    /// `opensearch:startIndex`.
    pub start_index: Option<u64>,
    /// `opensearch:itemsPerPage`.
    pub items_per_page: Option<u64>,
}

/// Streams papers from an API Atom feed.
pub struct AtomReader<R> {
    chunks: RecordChunker<R>,
    envelope: Option<AtomEnvelope>,
}

impl<R: BufRead> AtomReader<R> {
    /// Reads a feed from `reader`.
    pub fn new(reader: R) -> Self {
        AtomReader {
            chunks: RecordChunker::new(reader, "entry", MAX_RECORD_BYTES),
            envelope: None,
        }
    }

    /// Paging information, available once every entry has been read.
    pub fn envelope(&self) -> Option<&AtomEnvelope> {
        self.envelope.as_ref()
    }
}

impl<R: BufRead> Iterator for AtomReader<R> {
    type Item = Result<Paper, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.chunks.next_record(|location, entry, _| {
            if entry
                .child_text("id")
                .is_some_and(|id| id.contains("/api/errors"))
            {
                let message = non_empty(entry.child_text("summary"))
                    .unwrap_or_else(|| "unknown error".into());
                return Err(StreamError::Api(message).into());
            }
            entry_to_paper(entry).map_err(|kind| RecordError { location, kind }.into())
        });
        if item.is_none() && self.envelope.is_none() {
            self.envelope = Some(AtomEnvelope::parse(&self.chunks.envelope));
        }
        item
    }
}

impl AtomEnvelope {
    fn parse(bytes: &[u8]) -> AtomEnvelope {
        let text = String::from_utf8_lossy(bytes);
        let Ok(root) = parse_element(&text) else {
            return AtomEnvelope::default();
        };
        let number = |name: &str| root.find(name).and_then(|e| e.text.trim().parse().ok());
        AtomEnvelope {
            total_results: number("totalResults"),
            start_index: number("startIndex"),
            items_per_page: number("itemsPerPage"),
        }
    }
}

fn entry_to_paper(entry: &Element) -> Result<Paper, RecordErrorKind> {
    let raw_id = entry
        .child_text("id")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(RecordErrorKind::MissingField("id"))?;
    let id: ArxivId = raw_id
        .parse()
        .map_err(|source| RecordErrorKind::InvalidId {
            field: "id",
            source,
        })?;
    let title =
        non_empty(entry.child_text("title")).ok_or(RecordErrorKind::MissingField("title"))?;
    let abstract_text = normalize_whitespace(entry.child_text("summary").unwrap_or(""));
    let mut paper = Paper::new(id.clone(), title, abstract_text);
    paper.authors = entry
        .children_named("author")
        .filter_map(|a| {
            let mut author = Author::from_display_name(a.child_text("name")?);
            let affiliations: Vec<String> = a
                .children_named("affiliation")
                .filter_map(|x| non_empty(Some(&x.text)))
                .collect();
            if !affiliations.is_empty() {
                author.affiliation = Some(affiliations.join("; "));
            }
            Some(author)
        })
        .collect();
    paper.primary_category = entry
        .child("primary_category")
        .and_then(|c| c.attr("term"))
        .map(str::to_owned);
    paper.categories = entry
        .children_named("category")
        .filter_map(|c| c.attr("term"))
        .map(str::to_owned)
        .collect();
    paper.comments = non_empty(entry.child_text("comment"));
    paper.journal_ref = non_empty(entry.child_text("journal_ref"));
    paper.doi = non_empty(entry.child_text("doi"));
    let published = entry.child_text("published").and_then(parse_date);
    let updated = entry.child_text("updated").and_then(parse_date);
    // The feed gives v1's date (published) and the latest version's (updated).
    paper.versions.push(Version {
        version: 1,
        date: published,
        size: None,
    });
    if let Some(latest) = id.version().filter(|v| *v > 1) {
        paper.versions.push(Version {
            version: latest,
            date: updated,
            size: None,
        });
    } else {
        paper.updated = updated;
    }
    paper.finalize();
    Ok(paper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_feed_is_a_stream_error() {
        let xml = r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_abc</id><title>Error</title><summary>incorrect id format for abc</summary></entry></feed>"#;
        let out: Vec<_> = AtomReader::new(xml.as_bytes()).collect();
        assert_eq!(
            out[0].as_ref().unwrap_err().to_string(),
            "arXiv API error: incorrect id format for abc"
        );
    }

    #[test]
    fn versioned_entry() {
        let xml = r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom"><opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:totalResults>
<entry><id>http://arxiv.org/abs/1111.2011v2</id><updated>2012-04-02T12:38:54Z</updated><published>2011-11-08T18:48:36Z</published><title>Quantum Criticality</title><summary>  Theoretical
 description.</summary><author><name>Adrian Del Maestro</name><arxiv:affiliation>UVM</arxiv:affiliation></author><arxiv:doi>10.1103/PhysRevB.85.115117</arxiv:doi><arxiv:primary_category term="cond-mat.str-el"/><category term="cond-mat.stat-mech"/><category term="cond-mat.str-el"/></entry></feed>"#;
        let mut reader = AtomReader::new(xml.as_bytes());
        let p = reader.next().unwrap().unwrap();
        assert!(reader.next().is_none());
        assert_eq!(reader.envelope().unwrap().total_results, Some(1));
        assert_eq!(p.id.to_string(), "1111.2011");
        assert_eq!(p.version, Some(2));
        assert_eq!(
            p.submitted.unwrap().to_rfc3339(),
            "2011-11-08T18:48:36+00:00"
        );
        assert_eq!(p.updated.unwrap().to_rfc3339(), "2012-04-02T12:38:54+00:00");
        assert_eq!(p.categories, ["cond-mat.str-el", "cond-mat.stat-mech"]);
        assert_eq!(p.authors[0].last.as_deref(), Some("Del Maestro"));
        assert_eq!(p.authors[0].affiliation.as_deref(), Some("UVM"));
    }
}
