//! A line reader that never holds more than a fixed number of bytes.
//!
//! `BufRead::read_line` grows its buffer to the longest line, so a single
//! 100 MB line (a corrupt or hostile file) would be loaded whole. This reader
//! stops buffering at a limit, skips to the next newline, and reports the line
//! as too long, keeping memory bounded whatever the input.

use std::io::{self, BufRead};

/// One line, or the fact that a line was too long to keep.
#[derive(Debug)]
pub(crate) enum Line<'a> {
    /// The line's bytes without the trailing newline.
    Text(&'a [u8]),
    /// The line exceeded the limit; it was consumed and dropped.
    TooLong(u64),
}

/// Reads lines of at most `max` bytes, numbering them from 1.
pub(crate) struct BoundedLines<R> {
    reader: R,
    buf: Vec<u8>,
    max: usize,
    /// Number of the line last returned.
    pub(crate) line_no: u64,
}

impl<R: BufRead> BoundedLines<R> {
    pub(crate) fn new(reader: R, max: usize) -> Self {
        BoundedLines {
            reader,
            buf: Vec::new(),
            max,
            line_no: 0,
        }
    }

    /// The next line, `None` at end of input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut total: u64 = 0;
        let mut overflow = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if total == 0 {
                    return Ok(None);
                }
                break;
            }
            let (chunk, found) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
            total += chunk.len() as u64;
            if !overflow {
                if self.buf.len() + chunk.len() > self.max {
                    overflow = true;
                    self.buf.clear();
                    self.buf.shrink_to(64 * 1024);
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            let used = found.unwrap_or(available.len());
            self.reader.consume(used);
            if found.is_some() {
                // Count the newline so an empty line is still a line.
                total += 1;
                break;
            }
        }
        self.line_no += 1;
        if overflow {
            return Ok(Some(Line::TooLong(total)));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(Line::Text(&self.buf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_bounds() {
        let long = "x".repeat(100);
        let input = format!("a\r\n\n{long}\nlast");
        let mut lines = BoundedLines::new(io::BufReader::with_capacity(7, input.as_bytes()), 10);
        assert!(matches!(lines.next_line().unwrap(), Some(Line::Text(b"a"))));
        assert!(matches!(lines.next_line().unwrap(), Some(Line::Text(b""))));
        assert!(matches!(
            lines.next_line().unwrap(),
            Some(Line::TooLong(101))
        ));
        assert!(matches!(
            lines.next_line().unwrap(),
            Some(Line::Text(b"last"))
        ));
        assert_eq!(lines.line_no, 4);
        assert!(lines.next_line().unwrap().is_none());
    }
}
