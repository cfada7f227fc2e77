//! The vectors exchange file (`paperhub vectors export` / `import`): one
//! model's vectors, moved between hubs so a big machine can embed for a
//! small one. Documented for other tools in `docs/VECTORS-FORMAT.md`.
//!
//! Layout, version 1:
//! 1. a header: one line of JSON, at most [`MAX_HEADER`] bytes with its
//!    `\n`: `{"format":"paperhub-vectors","version":1,"model":"<fingerprint>",
//!    "dims":384,"count":N,"dtype":"f32le"}` (other keys are ignored);
//! 2. `count` keys (arXiv ids), one per line, each at most [`MAX_KEY`] bytes
//!    of printable ASCII;
//! 3. `count` rows of `dims` little-endian IEEE-754 f32s, in the keys' order.
//!
//! Nothing follows the rows. The reader trusts nothing: every count is
//! checked against the bytes that can follow before memory is sized from
//! it, and a file that ends early or runs on is refused with the offset.

use std::io::{BufRead, Read, Write};

use serde::{Deserialize, Serialize};

/// The `format` value.
pub const FORMAT: &str = "paperhub-vectors";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;
/// The only row type of version 1.
pub const DTYPE: &str = "f32le";
/// Longest header line, newline included.
pub const MAX_HEADER: usize = 4096;
/// Longest key.
pub const MAX_KEY: usize = 64;
/// Most dimensions a file may declare.
pub const MAX_DIMS: usize = 8192;

/// What the header says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// The fingerprint of the model that made the vectors.
    pub model: String,
    /// Dimensions per row.
    pub dims: usize,
    /// Rows (and keys).
    pub count: u64,
    /// Always [`DTYPE`].
    pub dtype: String,
}

impl Header {
    /// A version-1 header.
    pub fn new(model: &str, dims: usize, count: u64) -> Header {
        Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            model: model.to_owned(),
            dims,
            count,
            dtype: DTYPE.to_owned(),
        }
    }

    /// Bytes of the rows section.
    fn rows_len(&self) -> Option<u64> {
        self.count.checked_mul(self.dims as u64)?.checked_mul(4)
    }
}

/// Why a file was refused.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Reading or writing failed.
    #[error("at byte {offset}: {source}")]
    Io {
        /// Where.
        offset: u64,
        /// The failure.
        source: std::io::Error,
    },
    /// The bytes are not a valid file.
    #[error("at byte {offset}: {reason}")]
    Invalid {
        /// Where the problem showed.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
}

fn invalid(offset: u64, reason: impl Into<String>) -> FileError {
    FileError::Invalid {
        offset,
        reason: reason.into(),
    }
}

/// Whether `key` may appear in a file.
fn valid_key(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY && key.iter().all(u8::is_ascii_graphic)
}

/// Writes a file: the header and keys at once, then the rows in order.
pub struct Writer<W: Write> {
    out: W,
    dims: usize,
    left: u64,
    offset: u64,
}

impl<W: Write> Writer<W> {
    /// Writes the header for `keys` and the keys.
    ///
    /// # Errors
    /// A key that a reader would refuse, or a write failure.
    pub fn start(mut out: W, model: &str, dims: usize, keys: &[&str]) -> Result<Self, FileError> {
        if dims == 0 || dims > MAX_DIMS {
            return Err(invalid(0, format!("{dims} dimensions")));
        }
        let header = Header::new(model, dims, keys.len() as u64);
        let mut bytes = serde_json::to_vec(&header).map_err(|e| invalid(0, e.to_string()))?;
        bytes.push(b'\n');
        if bytes.len() > MAX_HEADER {
            return Err(invalid(0, "the header is too long (the model name?)"));
        }
        let mut offset = 0u64;
        let mut put = |out: &mut W, bytes: &[u8]| -> Result<(), FileError> {
            out.write_all(bytes)
                .map_err(|source| FileError::Io { offset, source })?;
            offset += bytes.len() as u64;
            Ok(())
        };
        put(&mut out, &bytes)?;
        for key in keys {
            if !valid_key(key.as_bytes()) {
                return Err(invalid(offset, format!("key {key:?} cannot be written")));
            }
            put(&mut out, key.as_bytes())?;
            put(&mut out, b"\n")?;
        }
        Ok(Writer {
            out,
            dims,
            left: keys.len() as u64,
            offset,
        })
    }

    /// Writes the next row.
    ///
    /// # Errors
    /// A row of the wrong length, one row too many, or a write failure.
    pub fn row(&mut self, row: &[f32]) -> Result<(), FileError> {
        if row.len() != self.dims || self.left == 0 {
            return Err(invalid(
                self.offset,
                "a row of the wrong length, or too many rows",
            ));
        }
        let bytes: Vec<u8> = row.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.out.write_all(&bytes).map_err(|source| FileError::Io {
            offset: self.offset,
            source,
        })?;
        self.offset += bytes.len() as u64;
        self.left -= 1;
        Ok(())
    }

    /// Checks every row was written and flushes.
    ///
    /// # Errors
    /// Rows missing, or a write failure.
    pub fn finish(mut self) -> Result<W, FileError> {
        if self.left != 0 {
            return Err(invalid(self.offset, format!("{} rows missing", self.left)));
        }
        self.out.flush().map_err(|source| FileError::Io {
            offset: self.offset,
            source,
        })?;
        Ok(self.out)
    }
}

/// Reads a file: header and keys at open, then the rows one by one.
pub struct Reader<R: BufRead> {
    input: R,
    header: Header,
    keys: Vec<String>,
    next: usize,
    offset: u64,
    row_bytes: Vec<u8>,
}

impl<R: BufRead> Reader<R> {
    /// Reads and checks the header and the keys. `len`, the file's length
    /// when known, must be exactly what the header promises.
    ///
    /// # Errors
    /// Anything that is not a valid version-1 file, or a read failure.
    pub fn open(input: R, len: Option<u64>) -> Result<Self, FileError> {
        Self::open_expecting(input, len, |_| Ok(()))
    }

    /// [`Self::open`], with `check` run on the header before any key is
    /// read (a file of another model is refused before it costs memory).
    ///
    /// # Errors
    /// As [`Self::open`], or what `check` refuses.
    pub fn open_expecting(
        mut input: R,
        len: Option<u64>,
        check: impl FnOnce(&Header) -> Result<(), String>,
    ) -> Result<Self, FileError> {
        let mut line = Vec::new();
        (&mut input)
            .take(MAX_HEADER as u64)
            .read_until(b'\n', &mut line)
            .map_err(|source| FileError::Io { offset: 0, source })?;
        if line.last() != Some(&b'\n') {
            return Err(invalid(
                line.len() as u64,
                "no header line (not a paperhub vectors file, or a header over 4 KiB)",
            ));
        }
        let header: Header = serde_json::from_slice(&line)
            .map_err(|e| invalid(0, format!("the header is not valid: {e}")))?;
        if header.format != FORMAT {
            return Err(invalid(
                0,
                format!("format {:?}, not {FORMAT:?}", header.format),
            ));
        }
        if header.version != VERSION {
            return Err(invalid(
                0,
                format!(
                    "version {} (this build reads version {VERSION})",
                    header.version
                ),
            ));
        }
        if header.dtype != DTYPE {
            return Err(invalid(
                0,
                format!("row type {:?}, not {DTYPE:?}", header.dtype),
            ));
        }
        if header.dims == 0 || header.dims > MAX_DIMS {
            return Err(invalid(0, format!("{} dimensions", header.dims)));
        }
        check(&header).map_err(|reason| invalid(0, reason))?;
        let mut offset = line.len() as u64;
        let rows_len = header
            .rows_len()
            .ok_or_else(|| invalid(0, "the row count overflows"))?;
        // Each key takes at least two bytes: bound the count before sizing.
        let fits = |left: u64| {
            header
                .count
                .checked_mul(2)
                .and_then(|keys| keys.checked_add(rows_len))
                .is_some_and(|needed| needed <= left)
        };
        if let Some(len) = len
            && (len < offset || !fits(len - offset))
        {
            return Err(invalid(
                offset,
                format!("{} rows cannot fit in {len} bytes", header.count),
            ));
        }
        let mut keys = Vec::with_capacity(usize::try_from(header.count.min(1 << 20)).unwrap_or(0));
        // A key twice would store two rows for one paper, the first dead.
        let mut seen = std::collections::HashSet::with_capacity(keys.capacity());
        let mut key = Vec::with_capacity(MAX_KEY + 1);
        for n in 0..header.count {
            key.clear();
            (&mut input)
                .take(MAX_KEY as u64 + 1)
                .read_until(b'\n', &mut key)
                .map_err(|source| FileError::Io { offset, source })?;
            let Some(text) = key.strip_suffix(b"\n").filter(|k| valid_key(k)) else {
                return Err(invalid(
                    offset,
                    format!("key {} is missing or not a key", n + 1),
                ));
            };
            let text = String::from_utf8_lossy(text).into_owned();
            if !seen.insert(text.clone()) {
                return Err(invalid(offset, format!("key {text} appears twice")));
            }
            keys.push(text);
            offset += key.len() as u64;
        }
        if let Some(len) = len
            && len.checked_sub(offset) != Some(rows_len)
        {
            return Err(invalid(
                offset,
                format!(
                    "the rows take {} bytes after the keys, but {rows_len} are promised",
                    len.saturating_sub(offset)
                ),
            ));
        }
        let row_bytes = vec![0; header.dims * 4];
        Ok(Reader {
            input,
            header,
            keys,
            next: 0,
            offset,
            row_bytes,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Every key, in row order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Reads the next row into `row` (`dims` long) and returns its key, or
    /// `None` after the last; then checks nothing follows.
    ///
    /// # Errors
    /// The file ends early or runs on, or a read failure.
    pub fn next_row(&mut self, row: &mut [f32]) -> Result<Option<&str>, FileError> {
        if self.next == self.keys.len() {
            let mut extra = [0u8; 1];
            return match self.input.read(&mut extra) {
                Ok(0) => Ok(None),
                Ok(_) => Err(invalid(self.offset, "bytes after the last row")),
                Err(source) => Err(FileError::Io {
                    offset: self.offset,
                    source,
                }),
            };
        }
        if row.len() != self.header.dims {
            return Err(invalid(
                self.offset,
                "the caller's row has the wrong length",
            ));
        }
        self.input
            .read_exact(&mut self.row_bytes)
            .map_err(|source| FileError::Io {
                offset: self.offset,
                source,
            })?;
        for (value, bytes) in row.iter_mut().zip(self.row_bytes.chunks_exact(4)) {
            *value = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        self.offset += self.row_bytes.len() as u64;
        self.next += 1;
        Ok(Some(&self.keys[self.next - 1]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn file(keys: &[&str], dims: usize) -> Vec<u8> {
        let mut w = Writer::start(Vec::new(), "abc123", dims, keys).unwrap();
        for (i, _) in keys.iter().enumerate() {
            let row: Vec<f32> = (0..dims).map(|d| (i * dims + d) as f32 * 0.5).collect();
            w.row(&row).unwrap();
        }
        w.finish().unwrap()
    }

    fn read_all(bytes: &[u8], len: Option<u64>) -> Result<Vec<(String, Vec<f32>)>, FileError> {
        let mut r = Reader::open(bytes, len)?;
        let dims = r.header().dims;
        let mut out = Vec::new();
        let mut row = vec![0.0; dims];
        while let Some(key) = r.next_row(&mut row)? {
            out.push((key.to_owned(), row.clone()));
        }
        Ok(out)
    }

    #[test]
    fn round_trips() {
        let bytes = file(&["2501.00001", "hep-th/9901001"], 3);
        let rows = read_all(&bytes, Some(bytes.len() as u64)).unwrap();
        assert_eq!(rows[0], ("2501.00001".to_owned(), vec![0.0, 0.5, 1.0]));
        assert_eq!(rows[1], ("hep-th/9901001".to_owned(), vec![1.5, 2.0, 2.5]));
        let header = Reader::open(bytes.as_slice(), None)
            .unwrap()
            .header()
            .clone();
        assert_eq!(header, Header::new("abc123", 3, 2));
    }

    #[test]
    fn refuses_what_is_not_a_whole_file() {
        let bytes = file(&["2501.00001", "2501.00002"], 4);
        let len = Some(bytes.len() as u64);
        // Cut short, and with a byte too many.
        let short = &bytes[..bytes.len() - 1];
        assert!(read_all(short, Some(short.len() as u64)).is_err());
        assert!(read_all(short, None).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(read_all(&long, Some(long.len() as u64)).is_err());
        assert!(
            read_all(&long, None)
                .unwrap_err()
                .to_string()
                .contains("after the last row")
        );
        // Another format, version or row type, and absurd counts.
        let text =
            String::from_utf8_lossy(&bytes[..bytes.iter().position(|&b| b == b'\n').unwrap()])
                .into_owned();
        for (from, to) in [
            ("paperhub-vectors", "npy"),
            ("\"version\":1", "\"version\":2"),
            ("f32le", "f16le"),
            ("\"count\":2", "\"count\":18446744073709551615"),
            ("\"dims\":4", "\"dims\":0"),
            ("\"dims\":4", "\"dims\":4611686018427387904"),
        ] {
            let changed = text.replace(from, to);
            assert_ne!(changed, text);
            let mut bad = changed.into_bytes();
            bad.extend_from_slice(&bytes[text.len()..]);
            let err = read_all(&bad, Some(bad.len() as u64)).unwrap_err();
            assert!(matches!(err, FileError::Invalid { .. }), "{to}: {err}");
        }
        assert!(read_all(&bytes, len).is_ok());
    }

    #[test]
    fn refuses_repeated_keys_and_what_the_caller_refuses() {
        let bytes = file(&["2501.00001", "2501.00001"], 2);
        let err = read_all(&bytes, Some(bytes.len() as u64)).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
        let bytes = file(&["2501.00001"], 2);
        let err = Reader::open_expecting(bytes.as_slice(), None, |h| {
            Err(format!("model {} is not ours", h.model))
        })
        .err()
        .unwrap();
        assert!(
            err.to_string().contains("model abc123 is not ours"),
            "{err}"
        );
    }

    #[test]
    fn writer_refuses_bad_keys_and_rows() {
        assert!(Writer::start(Vec::new(), "m", 2, &["two words"]).is_err());
        assert!(Writer::start(Vec::new(), "m", 2, &[""]).is_err());
        let mut w = Writer::start(Vec::new(), "m", 2, &["a"]).unwrap();
        assert!(w.row(&[1.0]).is_err());
        w.row(&[1.0, 2.0]).unwrap();
        assert!(w.row(&[1.0, 2.0]).is_err());
        let w = Writer::start(Vec::new(), "m", 2, &["a"]).unwrap();
        assert!(w.finish().is_err());
    }

    proptest! {
        /// Any bytes, and any damage to a valid file, give rows or an
        /// error: never a panic or an allocation sized by the input.
        #[test]
        fn hostile_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = read_all(&bytes, Some(bytes.len() as u64));
            let _ = read_all(&bytes, None);
        }

        #[test]
        fn damaged_files_never_panic(at in 0usize..200, value: u8, cut in 0usize..200) {
            let mut bytes = file(&["2501.00001", "2501.00002", "2501.00003"], 5);
            let at = at % bytes.len();
            bytes[at] = value;
            bytes.truncate(bytes.len() - cut % bytes.len());
            let _ = read_all(&bytes, Some(bytes.len() as u64));
            let _ = read_all(&bytes, None);
        }
    }
}
