//! Streaming parsers for every arXiv metadata format Paperhub imports.
//!
//! | format | reader | where it comes from |
//! |---|---|---|
//! | snapshot JSON lines | [`JsonLinesReader`] | Kaggle/Cornell `arxiv-metadata-oai-snapshot.json` |
//! | daily listing JSON lines | [`JsonLinesReader`] | `YYYY-MM-DD.jsonl` listing scrapes |
//! | OAI-PMH XML | [`OaiReader`] | `ListRecords`/`GetRecord`, `arXiv` and `arXivRaw` |
//! | Atom | [`AtomReader`] | `export.arxiv.org/api/query`, pre-2025 and current |
//! | `.abs` | [`AbsReader`] | arXiv's native metadata files |
//! | RSS 2.0 | [`RssReader`] | `rss.arxiv.org` daily announcement feeds |
//!
//! [`open`] sniffs the first bytes of an input and picks the reader. Every
//! reader is an iterator of `Result<Paper, ReadError>`: a
//! [`ReadError::Record`] names the line or record and is meant to be counted
//! and skipped, a [`ReadError::Stream`] ends the input. Memory is bounded by
//! [`MAX_RECORD_BYTES`] whatever the input size. This crate does no file IO of
//! its own; the caller opens files and decompresses.

#![forbid(unsafe_code)]

pub mod abs;
pub mod atom;
pub mod client;
pub mod dates;
pub mod error;
pub mod jsonl;
mod lines;
pub mod oai;
pub mod rss;
mod xml;

use std::fmt;
use std::io::{self, BufRead, Read};

use chrono::NaiveDate;
use paperhub_domain::Paper;

pub use abs::AbsReader;
pub use atom::{AtomEnvelope, AtomReader};
pub use client::{Clock, FetchError, Fetched, PoliteClient, Politeness, SystemClock};
pub use error::{Location, ReadError, RecordError, RecordErrorKind, StreamError};
pub use jsonl::JsonLinesReader;
pub use oai::{OaiEnvelope, OaiReader, ResumptionToken};
pub use rss::{AnnounceType, Announcement, RssReader};

/// The largest single record (one JSON line, one XML record) a reader keeps.
///
/// The biggest real records, papers with thousands of authors, are around 1 MB.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// The metadata formats Paperhub reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Kaggle/Cornell snapshot, JSON lines.
    Snapshot,
    /// Daily listing JSON lines.
    Listing,
    /// JSON lines whose kind is decided by the first valid line.
    JsonLines,
    /// OAI-PMH XML.
    OaiPmh,
    /// arXiv API Atom feed.
    Atom,
    /// arXiv `.abs` text.
    Abs,
    /// arXiv RSS announcement feed.
    Rss,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Snapshot => "snapshot",
            Format::Listing => "listing",
            Format::JsonLines => "json-lines",
            Format::OaiPmh => "oai-pmh",
            Format::Atom => "atom",
            Format::Abs => "abs",
            Format::Rss => "rss",
        })
    }
}

/// What the caller knows about an input beyond its bytes.
#[derive(Debug, Clone, Default)]
pub struct SourceHint {
    /// The listing date, from a `YYYY-MM-DD.jsonl` file name.
    pub listing_date: Option<NaiveDate>,
}

impl SourceHint {
    /// Derives hints from a file name: `2025-03-18.jsonl(.gz|.zst)` gives a listing date.
    pub fn from_file_name(name: &str) -> SourceHint {
        let stem = name.split('.').next().unwrap_or("");
        let listing_date = (name.contains(".jsonl") && stem.len() == 10)
            .then(|| dates::parse_day(stem))
            .flatten();
        SourceHint { listing_date }
    }
}

/// Decides the format from the first bytes of an input.
///
/// # Errors
/// [`StreamError::Empty`], [`StreamError::Binary`] or
/// [`StreamError::UnknownFormat`].
pub fn detect(head: &[u8]) -> Result<Format, StreamError> {
    if head.is_empty() {
        return Err(StreamError::Empty);
    }
    if head.contains(&0) {
        return Err(StreamError::Binary);
    }
    let text = String::from_utf8_lossy(head);
    // Invalid UTF-8 is tolerated (old .abs files are Latin-1), but mostly
    // control characters means binary.
    let control = text
        .chars()
        .filter(|c| c.is_control() && !c.is_whitespace() || *c == '\u{fffd}')
        .count();
    if control * 10 > text.chars().count() {
        return Err(StreamError::Binary);
    }
    let body = text.trim_start_matches('\u{feff}').trim_start();
    if body.is_empty() {
        return Err(StreamError::Empty);
    }
    if body.starts_with('{') || body.starts_with('[') {
        return Ok(Format::JsonLines);
    }
    if body.starts_with('<') {
        if body.contains("<OAI-PMH") {
            return Ok(Format::OaiPmh);
        }
        if body.contains("<feed") {
            return Ok(Format::Atom);
        }
        if body.contains("<rss") {
            return Ok(Format::Rss);
        }
        return Err(StreamError::UnknownFormat);
    }
    if body.starts_with("---") || body.starts_with("\\\\") {
        return Ok(Format::Abs);
    }
    Err(StreamError::UnknownFormat)
}

/// A reader for any detected format.
pub enum Records<R> {
    /// JSON lines (snapshot or listing).
    JsonLines(JsonLinesReader<R>),
    /// OAI-PMH XML.
    Oai(OaiReader<R>),
    /// Atom feed.
    Atom(AtomReader<R>),
    /// `.abs` text.
    Abs(AbsReader<R>),
    /// RSS announcements, as papers carrying their announcement day.
    Rss(RssReader<R>),
    /// A whole JSON document read into memory and re-read as one of the above.
    Buffered(Box<Records<io::Cursor<Vec<u8>>>>),
}

impl<R: BufRead> Records<R> {
    /// The format being read; JSON lines are refined once a line has been read.
    pub fn format(&self) -> Format {
        match self {
            Records::JsonLines(r) => r.format().unwrap_or(Format::JsonLines),
            Records::Oai(_) => Format::OaiPmh,
            Records::Atom(_) => Format::Atom,
            Records::Abs(_) => Format::Abs,
            Records::Rss(_) => Format::Rss,
            Records::Buffered(inner) => inner.format(),
        }
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<Paper, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Records::JsonLines(r) => r.next(),
            Records::Oai(r) => r.next(),
            Records::Atom(r) => r.next(),
            Records::Abs(r) => r.next(),
            Records::Rss(r) => r.next().map(|item| item.map(|a| a.paper)),
            Records::Buffered(r) => r.next(),
        }
    }
}

/// Sniffs `reader` and returns the matching record stream.
///
/// # Errors
/// The input is empty, binary, of an unknown format, or cannot be read.
pub fn open<R: BufRead>(mut reader: R, hint: &SourceHint) -> Result<Records<R>, StreamError> {
    let head = loop {
        match reader.fill_buf() {
            Ok(head) => break head,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(StreamError::Io { records: 0, source }),
        }
    };
    let head = &head[..head.len().min(4096)];
    let format = detect(head)?;
    if format == Format::JsonLines && is_json_document(head) {
        return open_json_document(reader, hint);
    }
    Ok(match format {
        Format::OaiPmh => Records::Oai(OaiReader::new(reader)),
        Format::Atom => Records::Atom(AtomReader::new(reader)),
        Format::Abs => Records::Abs(AbsReader::new(reader)),
        Format::Rss => Records::Rss(RssReader::new(reader)),
        _ => Records::JsonLines(JsonLinesReader::new(reader, hint.listing_date)),
    })
}

/// True when the input is one pretty-printed JSON document (`{` or `[` alone
/// on the first line), not JSON lines.
fn is_json_document(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let first = text.trim_start().lines().next().unwrap_or("").trim();
    first == "{" || first.starts_with('[')
}

/// Reads a whole JSON document (at most [`MAX_RECORD_BYTES`]) and re-reads it:
/// a recorded HTTP exchange `{"url", "status_code", "body"}` as its body, a
/// single record as one line, an array as one line per element.
fn open_json_document<R: BufRead>(reader: R, hint: &SourceHint) -> Result<Records<R>, StreamError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_RECORD_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| StreamError::Io { records: 0, source })?;
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(StreamError::Io {
            records: 0,
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                "a single JSON document over 16 MiB; use JSON lines for large inputs",
            ),
        });
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| StreamError::Io {
        records: 0,
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!("invalid JSON document: {e}"),
        ),
    })?;
    let lines = match value {
        serde_json::Value::Object(ref object) => {
            if let Some(serde_json::Value::String(body)) = object.get("body") {
                let inner = open(io::Cursor::new(body.clone().into_bytes()), hint)?;
                return Ok(Records::Buffered(Box::new(inner)));
            }
            vec![value]
        }
        serde_json::Value::Array(items) => items,
        _ => return Err(StreamError::UnknownFormat),
    };
    let mut jsonl = Vec::with_capacity(bytes.len());
    for item in lines {
        serde_json::to_writer(&mut jsonl, &item).map_err(|e| StreamError::Io {
            records: 0,
            source: io::Error::other(e),
        })?;
        jsonl.push(b'\n');
    }
    Ok(Records::Buffered(Box::new(Records::JsonLines(
        JsonLinesReader::new(io::Cursor::new(jsonl), hint.listing_date),
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Drains every record; the property is that nothing panics.
    fn drain(bytes: &[u8]) {
        if let Ok(records) = open(bytes, &SourceHint::default()) {
            for _ in records {}
        }
    }

    const XML_PIECES: &str = "(<[a-zA-Z:]{0,8}( [a-z]{1,4}='[^'<]{0,5}')?/?>|</[a-zA-Z:]{0,8}>|[^<&]{0,20}|&[a-z#0-9]{0,5};?|<!\\[CDATA\\[[a-z]{0,4}\\]\\]>){0,40}";

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            drain(&bytes);
        }

        #[test]
        fn broken_oai_and_atom_never_panic(inner in XML_PIECES) {
            drain(format!("<OAI-PMH><ListRecords><record>{inner}</record><resumptionToken>{inner}</ListRecords></OAI-PMH>").as_bytes());
            drain(format!("<feed><entry>{inner}</entry>{inner}</feed>").as_bytes());
            // Truncated documents: the last record never closes.
            drain(format!("<OAI-PMH><ListRecords><record>{inner}").as_bytes());
            drain(format!("<rss><channel><item>{inner}<item>{inner}").as_bytes());
        }

        #[test]
        fn broken_json_lines_never_panic(lines in proptest::collection::vec("\\{(\"[a-z_-]{1,10}\": ?(\"[^\"]{0,12}\"|null|\\[\"[^\"]{0,8}\"\\]|[0-9]{1,3}),? ?){0,6}\\}?", 0..10)) {
            drain(lines.join("\n").as_bytes());
        }

        #[test]
        fn broken_abs_never_panics(header in "([A-Za-z-]{1,12}( \\(revised v[0-9]\\))?: [^\n]{0,30}\n|  [^\n]{0,10}\n){0,12}", body in "[^\\\\]{0,60}") {
            drain(format!("------\n\\\\\narXiv:2101.00001\n{header}\\\\\n{body}\n\\\\\n").as_bytes());
        }

        #[test]
        fn dates_never_panic(s in "\\PC{0,40}") {
            let _ = dates::parse_date(&s);
        }
    }

    #[test]
    fn detects_formats() {
        assert!(matches!(detect(b""), Err(StreamError::Empty)));
        assert!(matches!(detect(b"  \n"), Err(StreamError::Empty)));
        assert!(matches!(
            detect(b"\x7fELF\x02\x01\x01\0\0"),
            Err(StreamError::Binary)
        ));
        assert_eq!(detect(b"{\"id\":1}").unwrap(), Format::JsonLines);
        assert_eq!(
            detect(b"<?xml version='1.0'?>\n<OAI-PMH").unwrap(),
            Format::OaiPmh
        );
        assert_eq!(
            detect(b"<?xml version=\"1.0\"?><feed xmlns=").unwrap(),
            Format::Atom
        );
        assert_eq!(detect(b"-------\n\\\\\narXiv:").unwrap(), Format::Abs);
        assert!(matches!(
            detect(b"id,title\n1,x"),
            Err(StreamError::UnknownFormat)
        ));
        assert!(matches!(detect(b"<html>"), Err(StreamError::UnknownFormat)));
    }

    #[test]
    fn recorded_exchange_is_unwrapped() {
        let doc = "{\n  \"url\": \"x\",\n  \"status_code\": 200,\n  \"body\": \"<feed><entry><id>http://arxiv.org/abs/2104.12255v1</id><title>T</title><summary>S</summary></entry></feed>\"\n}";
        let mut records = open(doc.as_bytes(), &SourceHint::default()).unwrap();
        assert_eq!(records.format(), Format::Atom);
        assert_eq!(
            records.next().unwrap().unwrap().id.to_string(),
            "2104.12255"
        );
        assert!(records.next().is_none());
    }

    #[test]
    fn json_array_of_records() {
        let doc = "[\n{\"id\":\"0704.0001\",\"title\":\"A\",\"abstract\":\"x\"},\n{\"id\":\"bad\",\"title\":\"B\"}]";
        let out: Vec<_> = open(doc.as_bytes(), &SourceHint::default())
            .unwrap()
            .collect();
        assert!(out[0].is_ok());
        assert!(
            out[1]
                .as_ref()
                .unwrap_err()
                .to_string()
                .starts_with("line 2: field 'id'")
        );
    }

    #[test]
    fn listing_date_from_name() {
        let d = NaiveDate::from_ymd_opt(2025, 3, 18);
        assert_eq!(
            SourceHint::from_file_name("2025-03-18.jsonl").listing_date,
            d
        );
        assert_eq!(
            SourceHint::from_file_name("2025-03-18.jsonl.gz").listing_date,
            d
        );
        assert_eq!(
            SourceHint::from_file_name("snapshot.json").listing_date,
            None
        );
        assert_eq!(
            SourceHint::from_file_name("2025-13-18.jsonl").listing_date,
            None
        );
    }
}
