//! Record-at-a-time XML reading for OAI-PMH responses and Atom feeds.
//!
//! Both formats are an envelope (response date, resumption token, feed
//! metadata) around a flat list of record elements (`<record>` or `<entry>`)
//! that never nest. [`RecordChunker`] cuts the byte stream at those element
//! boundaries and hands each record to quick-xml on its own. That buys two
//! things a single streaming parse cannot give: a malformed record fails alone
//! and the next one parses normally, and memory is bounded by the largest
//! record rather than the file. Each record becomes a small [`Element`] tree,
//! which the format modules read by local name (namespace prefixes such as
//! `arxiv:` are dropped; no two elements we read share a local name).

use std::io::{self, BufRead};

use quick_xml::events::Event;

use crate::error::{Location, ReadError, RecordError, RecordErrorKind, StreamError};

/// A record element cut out of the stream, with the line it starts on.
pub(crate) struct Chunk {
    pub(crate) line: u64,
    pub(crate) result: Result<Vec<u8>, u64>,
}

/// Splits a stream into the raw bytes of each `<tag>…</tag>` element.
pub(crate) struct RecordChunker<R> {
    reader: R,
    open: Vec<u8>,
    close: Vec<u8>,
    pending: Vec<u8>,
    /// Where to resume searching in `pending`.
    scan: usize,
    /// Start of the current record in `pending`, when inside one.
    start: Option<usize>,
    line: u64,
    start_line: u64,
    /// Text outside records, kept up to `ENVELOPE_LIMIT` bytes.
    pub(crate) envelope: Vec<u8>,
    max_record: usize,
    /// Bytes of an oversized record already dropped.
    dropped: u64,
    eof: bool,
    /// Records returned so far.
    records: u64,
    /// The input ended or failed; no more records.
    finished: bool,
}

/// The next record of a chunked stream, already parsed.
pub(crate) enum NextElement {
    /// A record element and where it starts.
    Record(Location, Element),
    /// A record that is malformed or too large; skip it and go on.
    Skip(RecordError),
    /// End of input; the envelope is complete.
    End,
    /// Reading failed; the input ends here.
    Failed(StreamError),
}

const ENVELOPE_LIMIT: usize = 1 << 20;
const READ_SIZE: usize = 64 * 1024;

impl<R: BufRead> RecordChunker<R> {
    pub(crate) fn new(reader: R, tag: &str, max_record: usize) -> Self {
        RecordChunker {
            reader,
            open: format!("<{tag}").into_bytes(),
            close: format!("</{tag}>").into_bytes(),
            pending: Vec::new(),
            scan: 0,
            start: None,
            line: 1,
            start_line: 1,
            envelope: Vec::new(),
            max_record,
            dropped: 0,
            eof: false,
            records: 0,
            finished: false,
        }
    }

    /// The next record converted by `convert` (which also sees the envelope
    /// read so far), or `None` once the input has
    /// ended or failed (the failure itself is returned once, as a stream error).
    pub(crate) fn next_record<T>(
        &mut self,
        convert: impl FnOnce(Location, &Element, &[u8]) -> Result<T, ReadError>,
    ) -> Option<Result<T, ReadError>> {
        if self.finished {
            return None;
        }
        match self.next_element() {
            NextElement::Record(location, element) => {
                Some(convert(location, &element, &self.envelope))
            }
            NextElement::Skip(error) => Some(Err(error.into())),
            NextElement::Failed(error) => {
                self.finished = true;
                Some(Err(error.into()))
            }
            NextElement::End => {
                self.finished = true;
                None
            }
        }
    }

    /// Cuts out and parses the next record element.
    pub(crate) fn next_element(&mut self) -> NextElement {
        let chunk = match self.next_chunk() {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return NextElement::End,
            Err(source) => {
                return NextElement::Failed(StreamError::Io {
                    records: self.records,
                    source,
                });
            }
        };
        self.records += 1;
        let location = Location {
            line: Some(chunk.line),
            record: self.records,
        };
        let parsed = match chunk.result {
            Err(size) => Err(RecordErrorKind::TooLarge {
                size,
                limit: self.max_record as u64,
            }),
            Ok(bytes) => {
                parse_element(&String::from_utf8_lossy(&bytes)).map_err(RecordErrorKind::Xml)
            }
        };
        match parsed {
            Ok(element) => NextElement::Record(location, element),
            Err(kind) => NextElement::Skip(RecordError { location, kind }),
        }
    }

    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let buf = loop {
            match self.reader.fill_buf() {
                Ok(b) => break b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if buf.is_empty() {
            self.eof = true;
            return Ok(false);
        }
        let n = buf.len().min(READ_SIZE);
        self.pending.extend_from_slice(&buf[..n]);
        self.reader.consume(n);
        Ok(true)
    }

    fn keep_envelope(&mut self, upto: usize) {
        let bytes = &self.pending[..upto];
        self.line += memchr::memchr_iter(b'\n', bytes).count() as u64;
        let room = ENVELOPE_LIMIT.saturating_sub(self.envelope.len());
        self.envelope
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.pending.drain(..upto);
        self.scan = 0;
    }

    /// The next record, `None` at end of input (the envelope is then complete).
    pub(crate) fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        loop {
            match self.start {
                None => {
                    if let Some(i) = find_open(&self.pending, self.scan, &self.open) {
                        self.keep_envelope(i);
                        self.start = Some(0);
                        self.start_line = self.line;
                        self.scan = self.open.len();
                        self.dropped = 0;
                        continue;
                    }
                    // Keep a tail that could hold the start of a split tag.
                    let keep = self.open.len();
                    let safe = self.pending.len().saturating_sub(keep);
                    if safe > 0 {
                        self.keep_envelope(safe);
                    }
                    self.scan = 0;
                    if !self.fill()? {
                        let rest = self.pending.len();
                        self.keep_envelope(rest);
                        return Ok(None);
                    }
                }
                Some(_) => {
                    if let Some(j) = memchr::memmem::find(&self.pending[self.scan..], &self.close) {
                        let end = self.scan + j + self.close.len();
                        let bytes: Vec<u8> = self.pending.drain(..end).collect();
                        self.line += memchr::memchr_iter(b'\n', &bytes).count() as u64;
                        self.start = None;
                        self.scan = 0;
                        let result = if self.dropped > 0 {
                            Err(self.dropped + bytes.len() as u64)
                        } else {
                            Ok(bytes)
                        };
                        return Ok(Some(Chunk {
                            line: self.start_line,
                            result,
                        }));
                    }
                    self.scan = self.pending.len().saturating_sub(self.close.len());
                    if self.pending.len() > self.max_record {
                        // Too large: drop what we have (keeping a tail that may
                        // hold a split end tag) and keep counting lines.
                        let cut = self.scan;
                        self.line +=
                            memchr::memchr_iter(b'\n', &self.pending[..cut]).count() as u64;
                        self.dropped += cut as u64;
                        self.pending.drain(..cut);
                        self.scan = 0;
                    }
                    if !self.fill()? {
                        // Unterminated record at end of input.
                        let size = self.dropped + self.pending.len() as u64;
                        let bytes = std::mem::take(&mut self.pending);
                        self.start = None;
                        self.scan = 0;
                        return Ok(Some(Chunk {
                            line: self.start_line,
                            result: if self.dropped > 0 {
                                Err(size)
                            } else {
                                Ok(bytes)
                            },
                        }));
                    }
                }
            }
        }
    }
}

/// Finds `<tag` followed by whitespace, `>` or `/` (so `<records` is not `<record`).
fn find_open(hay: &[u8], from: usize, open: &[u8]) -> Option<usize> {
    let mut at = from;
    while let Some(i) = memchr::memmem::find(hay.get(at..)?, open) {
        let pos = at + i;
        match hay.get(pos + open.len()) {
            Some(b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'/') => return Some(pos),
            Some(_) => at = pos + 1,
            None => return None,
        }
    }
    None
}

/// A parsed XML element: local name, attributes, text and children.
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) text: String,
    pub(crate) children: Vec<Element>,
}

impl Element {
    /// The first child with this local name.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children with this local name.
    pub(crate) fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child with this local name.
    pub(crate) fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// The value of an attribute, by local name.
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Depth-first search for the first descendant with this local name.
    pub(crate) fn find(&self, name: &str) -> Option<&Element> {
        for c in &self.children {
            if c.name == name {
                return Some(c);
            }
            if let Some(found) = c.find(name) {
                return Some(found);
            }
        }
        None
    }
}

fn local_name(qname: &str) -> String {
    match qname.rfind(':') {
        Some(i) => qname[i + 1..].to_owned(),
        None => qname.to_owned(),
    }
}

/// How deep elements may nest. Real records are about five levels deep; the
/// limit keeps the recursive [`Element::find`] and the drop of the tree off
/// the end of the stack (a record of 400,000 nested `<a>` overflowed it).
const MAX_DEPTH: usize = 100;

/// Parses one self-contained XML fragment into its root element.
///
/// # Errors
/// A message describing the first XML error, with its byte offset, or
/// elements nested deeper than [`MAX_DEPTH`].
pub(crate) fn parse_element(xml: &str) -> Result<Element, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("{e} at byte {}", reader.error_position()))?;
        let is_empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!(
                        "elements nested more than {MAX_DEPTH} deep at byte {}",
                        reader.buffer_position()
                    ));
                }
                let mut el = Element {
                    name: local_name(start.name().as_ref()),
                    ..Element::default()
                };
                for attr in start.attributes().with_checks(false) {
                    let attr = attr.map_err(|e| e.to_string())?;
                    let value = quick_xml::escape::unescape(&attr.value)
                        .map(|v| v.into_owned())
                        .unwrap_or_else(|_| attr.value.clone().into_owned());
                    el.attrs.push((local_name(attr.key.as_ref()), value));
                }
                if is_empty {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = Some(el),
                    }
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let Some(el) = stack.pop() else {
                    return Err("unexpected end tag".into());
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(el) = stack.last_mut() {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        el.text.push(c);
                    } else {
                        let name = r.xml10_content();
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => el.text.push_str(s),
                            None => return Err(format!("unknown entity &{name};")),
                        }
                    }
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("element <{}> is not closed", open.name));
    }
    root.ok_or_else(|| "no element found".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_records_and_keeps_envelope() {
        let xml = "<a>\n<records/><record x='1'>\n<b>one &amp; &#65;</b></record>\n<record>two</record><tail>t</tail></a>";
        let mut c = RecordChunker::new(
            io::BufReader::with_capacity(5, xml.as_bytes()),
            "record",
            1000,
        );
        let first = c.next_chunk().unwrap().unwrap();
        assert_eq!(first.line, 2);
        let el = parse_element(std::str::from_utf8(&first.result.unwrap()).unwrap()).unwrap();
        assert_eq!(el.child_text("b"), Some("one & A"));
        assert_eq!(el.attr("x"), Some("1"));
        let second = c.next_chunk().unwrap().unwrap();
        assert_eq!(second.line, 4);
        assert!(c.next_chunk().unwrap().is_none());
        let env = String::from_utf8(c.envelope.clone()).unwrap();
        assert!(
            env.contains("<records/>") && env.contains("<tail>t</tail>"),
            "{env}"
        );
    }

    #[test]
    fn oversized_record_is_reported_and_skipped() {
        let big = "x".repeat(5000);
        let xml = format!("<r><record>{big}</record><record>ok</record></r>");
        let mut c = RecordChunker::new(
            io::BufReader::with_capacity(64, xml.as_bytes()),
            "record",
            1000,
        );
        assert!(matches!(c.next_chunk().unwrap().unwrap().result, Err(n) if n > 5000));
        assert!(c.next_chunk().unwrap().unwrap().result.is_ok());
    }

    #[test]
    fn unterminated_record_at_end_of_input() {
        // See: a truncated OAI-PMH page once panicked here.
        let xml = "<r><record><a>one</a></record><record><a>cut off";
        let mut c = RecordChunker::new(
            io::BufReader::with_capacity(8, xml.as_bytes()),
            "record",
            1000,
        );
        assert!(c.next_chunk().unwrap().unwrap().result.is_ok());
        let cut = c.next_chunk().unwrap().unwrap();
        assert!(parse_element(std::str::from_utf8(&cut.result.unwrap()).unwrap()).is_err());
        assert!(c.next_chunk().unwrap().is_none());
        assert!(c.next_chunk().unwrap().is_none());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // Found by fuzzing (import_atom): 387,657 nested elements in an entry.
        let depth = 400_000;
        let xml = format!(
            "<entry>{}x{}</entry>",
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        );
        let err = parse_element(&xml).unwrap_err();
        assert!(err.contains("nested more than 100 deep"), "{err}");
        let shallow = format!("<entry>{}x{}</entry>", "<a>".repeat(98), "</a>".repeat(98));
        assert!(parse_element(&shallow).unwrap().find("a").is_some());
    }

    #[test]
    fn malformed_fragment_is_an_error() {
        assert!(parse_element("<record><a></b></record>").is_err());
        assert!(parse_element("<record><a>").is_err());
        assert!(parse_element("<record>&bogus;</record>").is_err());
    }
}
