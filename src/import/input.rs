//! Import inputs: files, directories, stdin, and transparent decompression.
//!
//! Directories are walked recursively in name order, so daily listings are
//! imported oldest first. Inside a directory only files that look like
//! metadata (by extension) are read, so a `LICENSE` or `README` next to the
//! data is not reported as a bad input; a file named explicitly is always
//! read. Compression is detected from the magic bytes, not the name.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use paperhub_arxiv::SourceHint;

/// One thing to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file on disk.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

impl Input {
    /// How the input is named in messages.
    pub fn display(&self) -> String {
        match self {
            Input::File(path) => path.display().to_string(),
            Input::Stdin => "<stdin>".to_owned(),
        }
    }

    /// Hints from the file name (a listing date).
    pub fn hint(&self) -> SourceHint {
        match self {
            Input::File(path) => path
                .file_name()
                .and_then(|n| n.to_str())
                .map(SourceHint::from_file_name)
                .unwrap_or_default(),
            Input::Stdin => SourceHint::default(),
        }
    }
}

const DATA_EXTENSIONS: &[&str] = &["json", "jsonl", "ndjson", "xml", "atom", "rss", "abs"];

fn looks_like_data(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.') {
        return false;
    }
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(name);
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| DATA_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// Expands the command-line paths into inputs; `-` is stdin.
///
/// # Errors
/// A path does not exist or a directory cannot be read; the message names it.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        let meta =
            fs_err::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            let walker = walkdir::WalkDir::new(path)
                .follow_links(true)
                .sort_by_file_name();
            for entry in walker {
                let entry = entry.with_context(|| format!("cannot walk {}", path.display()))?;
                if entry.file_type().is_file() && looks_like_data(entry.path()) {
                    inputs.push(Input::File(entry.into_path()));
                }
            }
        } else {
            inputs.push(Input::File(path.clone()));
        }
    }
    Ok(inputs)
}

/// Total size in bytes of the file inputs, or `None` if stdin is among them.
pub fn total_size(inputs: &[Input]) -> Option<u64> {
    inputs.iter().try_fold(0u64, |sum, input| match input {
        Input::File(path) => Some(sum + fs_err::metadata(path).map(|m| m.len()).unwrap_or(0)),
        Input::Stdin => None,
    })
}

/// Counts bytes read from the raw (possibly compressed) input, for progress.
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

const BUFFER: usize = 256 * 1024;

/// Opens an input for reading, decompressing gzip or zstd.
///
/// # Errors
/// The file cannot be opened, or the compressed header is invalid.
pub fn open(input: &Input, counter: Arc<AtomicU64>) -> io::Result<Box<dyn BufRead + Send>> {
    let raw: Box<dyn Read + Send> = match input {
        Input::File(path) => Box::new(fs_err::File::from_parts(File::open(path)?, path)),
        Input::Stdin => Box::new(io::stdin()),
    };
    let mut raw = BufReader::with_capacity(
        BUFFER,
        Counting {
            inner: raw,
            counter,
        },
    );
    let magic = raw.fill_buf()?;
    if magic.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            BUFFER,
            flate2::bufread::MultiGzDecoder::new(raw),
        )))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Box::new(BufReader::with_capacity(
            BUFFER,
            zstd::Decoder::with_buffer(raw)?,
        )))
    } else {
        Ok(Box::new(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_by_extension() {
        assert!(looks_like_data(Path::new("a/2025-03-18.jsonl")));
        assert!(looks_like_data(Path::new("a/snap.json.gz")));
        assert!(looks_like_data(Path::new("a/0704.0001.abs")));
        assert!(looks_like_data(Path::new("a/page.XML.zst")));
        assert!(!looks_like_data(Path::new("a/LICENSE")));
        assert!(!looks_like_data(Path::new("a/.hidden.jsonl")));
        assert!(!looks_like_data(Path::new("a/new.AG")));
    }
}
