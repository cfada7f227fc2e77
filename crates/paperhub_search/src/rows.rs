//! How a [`crate::VectorIndex`] holds its rows in memory.
//!
//! `f32` keeps every row as stored: exact, and 1,536 bytes per 384-dim row
//! (4.1 GB for all of arXiv). `int8` keeps a scaled 8-bit copy per row
//! (388 bytes: a quarter) and reads the exact f32 row from `vectors.f32`
//! only where exactness matters: to rescore a search's best candidates
//! and to hand out a paper's vector. The graph walk and filtered scans run
//! on the 8-bit copy.

use std::borrow::Cow;
use std::os::unix::fs::FileExt;

/// Which copy of the rows stays in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Storage {
    /// Every row as f32.
    #[default]
    F32,
    /// 8-bit rows, one scale each; exact rows read from the file.
    Int8,
    /// [`Storage::Int8`] from `AUTO_INT8_FROM` (a million) rows on, else f32.
    Auto,
}

/// From this many rows `auto` storage keeps int8 rows: a full arXiv (2.7
/// million) then serves in about 5 GiB instead of 8.2 GiB, at the same
/// recall (docs/BENCHMARKS.md, issue 18).
pub const AUTO_INT8_FROM: usize = 1_000_000;

impl Storage {
    /// What `self` means for an index of `rows` rows.
    pub fn resolve(self, rows: usize) -> Storage {
        match self {
            Storage::Auto if rows >= AUTO_INT8_FROM => Storage::Int8,
            Storage::Auto => Storage::F32,
            other => other,
        }
    }
}

impl std::str::FromStr for Storage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" => Ok(Storage::F32),
            "int8" => Ok(Storage::Int8),
            "auto" => Ok(Storage::Auto),
            other => Err(format!("vector storage {other:?}: use auto, f32 or int8")),
        }
    }
}

/// The rows.
#[derive(Debug)]
pub(crate) enum Rows {
    F32(Vec<f32>),
    Int8 {
        codes: Vec<i8>,
        scales: Vec<f32>,
        /// `vectors.f32`, for the committed rows' exact values.
        file: Option<std::fs::File>,
        /// Rows `committed..` as f32, until the commit writes them.
        pending: Vec<f32>,
        committed: usize,
    },
}

/// `row` as 8-bit codes and the scale that maps them back.
fn quantise(row: &[f32], codes: &mut Vec<i8>) -> f32 {
    let max = row.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max.is_finite() && max > 0.0 {
        max / 127.0
    } else {
        0.0
    };
    let inverse = if scale > 0.0 { 1.0 / scale } else { 0.0 };
    codes.extend(
        row.iter()
            .map(|x| (x * inverse).round().clamp(-127.0, 127.0) as i8),
    );
    scale
}

/// Inner product of f32 `query` and 8-bit `codes` (before scaling).
fn dot_codes(query: &[f32], codes: &[i8]) -> f32 {
    pulp::Arch::new().dispatch(
        #[inline(always)]
        || {
            let mut acc = [0.0f32; 16];
            let q = query.chunks_exact(16);
            let c = codes.chunks_exact(16);
            let tail: f32 = q
                .remainder()
                .iter()
                .zip(c.remainder())
                .map(|(x, &y)| x * f32::from(y))
                .sum();
            for (x, y) in q.zip(c) {
                for i in 0..16 {
                    acc[i] += x[i] * f32::from(y[i]);
                }
            }
            acc.iter().sum::<f32>() + tail
        },
    )
}

/// Inner product of two 8-bit rows (before scaling).
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

impl Rows {
    /// Empty rows of `storage`.
    pub(crate) fn new(storage: Storage) -> Rows {
        match storage {
            Storage::F32 | Storage::Auto => Rows::F32(Vec::new()),
            Storage::Int8 => Rows::Int8 {
                codes: Vec::new(),
                scales: Vec::new(),
                file: None,
                pending: Vec::new(),
                committed: 0,
            },
        }
    }

    /// The committed rows read from `vectors` (all of `file`'s first
    /// `values` f32s), with `file` kept for exact reads.
    pub(crate) fn load(
        storage: Storage,
        values: impl Iterator<Item = Vec<f32>>,
        dims: usize,
        file: Option<std::fs::File>,
    ) -> Rows {
        match storage {
            Storage::F32 | Storage::Auto => Rows::F32(values.flatten().collect()),
            Storage::Int8 => {
                let mut codes = Vec::new();
                let mut scales = Vec::new();
                for chunk in values {
                    for row in chunk.chunks_exact(dims) {
                        scales.push(quantise(row, &mut codes));
                    }
                }
                let committed = scales.len();
                Rows::Int8 {
                    codes,
                    scales,
                    file,
                    pending: Vec::new(),
                    committed,
                }
            }
        }
    }

    /// Adds a row.
    pub(crate) fn push(&mut self, row: &[f32]) {
        match self {
            Rows::F32(v) => v.extend_from_slice(row),
            Rows::Int8 {
                codes,
                scales,
                pending,
                ..
            } => {
                scales.push(quantise(row, codes));
                pending.extend_from_slice(row);
            }
        }
    }

    /// The f32 values of rows `from..to`, all added since the last commit,
    /// for the commit to write.
    pub(crate) fn uncommitted(&self, from: usize, to: usize, dims: usize) -> &[f32] {
        match self {
            Rows::F32(v) => &v[from * dims..to * dims],
            Rows::Int8 {
                pending, committed, ..
            } => &pending[(from - *committed) * dims..(to - *committed) * dims],
        }
    }

    /// The rows up to `rows` are in the file now; `open` opens it, called
    /// only when the 8-bit rows hold no handle yet.
    pub(crate) fn committed<E>(
        &mut self,
        rows: usize,
        open: impl FnOnce() -> Result<Option<std::fs::File>, E>,
    ) -> Result<(), E> {
        if let Rows::Int8 {
            file,
            pending,
            committed,
            ..
        } = self
        {
            pending.clear();
            *committed = rows;
            if file.is_none() {
                *file = open()?;
            }
        }
        Ok(())
    }

    /// Row `row` exactly: borrowed from memory, or read from the file.
    /// `None` when the read fails (logged).
    pub(crate) fn exact(&self, row: u32, dims: usize) -> Option<Cow<'_, [f32]>> {
        let at = row as usize;
        match self {
            Rows::F32(v) => Some(Cow::Borrowed(&v[at * dims..(at + 1) * dims])),
            Rows::Int8 {
                file,
                pending,
                committed,
                ..
            } => {
                if at >= *committed {
                    let at = at - committed;
                    return Some(Cow::Borrowed(&pending[at * dims..(at + 1) * dims]));
                }
                let mut bytes = vec![0u8; dims * 4];
                let read = file
                    .as_ref()
                    .map(|f| f.read_exact_at(&mut bytes, (at * dims * 4) as u64));
                match read {
                    Some(Ok(())) => Some(Cow::Owned(
                        bytes
                            .chunks_exact(4)
                            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                            .collect(),
                    )),
                    Some(Err(e)) => {
                        tracing::warn!("reading vector row {row}: {e}");
                        None
                    }
                    None => None,
                }
            }
        }
    }

    /// The similarity of `query` and row `row` on the in-memory copy.
    pub(crate) fn to_query(&self, query: &[f32], row: u32, dims: usize) -> f32 {
        let at = row as usize;
        match self {
            Rows::F32(v) => crate::vector::dot(query, &v[at * dims..(at + 1) * dims]),
            Rows::Int8 { codes, scales, .. } => {
                dot_codes(query, &codes[at * dims..(at + 1) * dims]) * scales[at]
            }
        }
    }

    /// The similarity of two rows on the in-memory copy.
    pub(crate) fn between(&self, a: u32, b: u32, dims: usize) -> f32 {
        let (a, b) = (a as usize, b as usize);
        match self {
            Rows::F32(v) => {
                crate::vector::dot(&v[a * dims..(a + 1) * dims], &v[b * dims..(b + 1) * dims])
            }
            Rows::Int8 { codes, scales, .. } => {
                dot_i8(
                    &codes[a * dims..(a + 1) * dims],
                    &codes[b * dims..(b + 1) * dims],
                ) as f32
                    * scales[a]
                    * scales[b]
            }
        }
    }

    /// Whether the in-memory copy is approximate.
    pub(crate) fn is_quantised(&self) -> bool {
        matches!(self, Rows::Int8 { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_rows_keep_inner_products_close() {
        let dims = 64;
        let rows: Vec<Vec<f32>> = (0..20)
            .map(|i| {
                let v: Vec<f32> = (0..dims)
                    .map(|d| ((i * 31 + d * 7) % 23) as f32 - 11.0)
                    .collect();
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter().map(|x| x / n).collect()
            })
            .collect();
        let mut q = Rows::new(Storage::Int8);
        for r in &rows {
            q.push(r);
        }
        for a in 0..20u32 {
            let exact = crate::vector::dot(&rows[a as usize], &rows[3]);
            assert!((q.to_query(&rows[3], a, dims) - exact).abs() < 0.01);
            assert!((q.between(a, 3, dims) - exact).abs() < 0.01);
            assert_eq!(
                q.exact(a, dims).unwrap().as_ref(),
                rows[a as usize].as_slice()
            );
        }
        // Zero and non-finite rows quantise to a zero scale, never NaN.
        let mut codes = Vec::new();
        assert_eq!(quantise(&[0.0; 4], &mut codes), 0.0);
        assert_eq!(
            quantise(&[f32::NAN, 1.0, 0.0, 0.0], &mut codes),
            1.0 / 127.0
        );
        assert_eq!(quantise(&[f32::INFINITY, 1.0, 0.0, 0.0], &mut codes), 0.0);
    }
}
