//! int16 products on AVX2: `vpmaddwd` multiplies sixteen pairs of 16-bit
//! integers and adds each pair into a 32-bit lane, twice the multiply-adds of
//! an fp32 FMA per instruction, on any AVX2 CPU (which has no bf16 dot
//! product).
//!
//! Quantisation. Each weight column gets its own scale (its largest
//! magnitude maps to ±2047) at load time; each activation row gets one when
//! it is multiplied. Twelve bits keep the relative rounding error of a value
//! near its row's largest below 1/4000, finer than bf16's 1/256 for most
//! values. Integer sums are moved into fp32 every 128 pairs, so they cannot
//! overflow: 256 products of at most 2047² stay below 2^30.
//!
//! Layout and blocking follow `x86_bf16`: panels of 16 output columns (two
//! vectors of 8 lanes), inputs in pairs `(2p, 2p + 1)` packed as one `u32`
//! per column, activations converted 96 rows at a time, tiles of 6 rows (12
//! integer accumulators, 2 panel loads and 1 broadcast: 15 of the 16 vector
//! registers).
//!
//! Every pointer access is bounds-checked first; the `unsafe` blocks are the
//! vector loads and the calls into `#[target_feature]` functions after
//! [`is_supported`] said yes.
#![expect(
    unsafe_code,
    reason = "AVX2 intrinsics take raw pointers; every access is bounds-checked first"
)]

use std::arch::x86_64::{
    __m256, __m256i, _mm256_add_epi32, _mm256_add_ps, _mm256_cvtepi32_ps, _mm256_cvtps_epi32,
    _mm256_loadu_ps, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_max_ps, _mm256_min_ps,
    _mm256_mul_ps, _mm256_packs_epi32, _mm256_permute4x64_epi64, _mm256_set1_epi32, _mm256_set1_ps,
    _mm256_setzero_ps, _mm256_setzero_si256, _mm256_storeu_ps, _mm256_storeu_si256,
};

/// Output columns per panel: two vectors of 8 lanes.
const NR: usize = 16;
/// Lanes of one vector.
const LANES: usize = 8;
/// Rows per tile.
const MR: usize = 6;
/// Rows quantised at a time (a whole number of tiles).
const MC: usize = 96;
/// Pairs summed in 32-bit integers before the sums move to fp32.
const FLUSH: usize = 128;
/// The largest quantised magnitude (12 bits).
const QMAX: f32 = 2047.0;

/// Whether this CPU has AVX2 and FMA.
pub(super) fn is_supported() -> bool {
    super::has_avx2_fma()
}

/// A weight quantised per column into int16 pair panels.
pub(crate) struct Panels {
    data: Vec<u32>,
    /// Per output column (padded to whole panels): what undoes its quantisation.
    column_scales: Vec<f32>,
    inputs: usize,
    outputs: usize,
    pairs: usize,
    panels: usize,
}

/// The buffers one worker thread reuses for [`Panels::multiply_add`].
#[derive(Default)]
pub(crate) struct Int16Scratch {
    /// Quantised rows, `2 · pairs` values each (an odd row ends in a zero),
    /// so that each `(2p, 2p + 1)` pair reads as one little-endian `u32`.
    values: Vec<i16>,
    row_scales: Vec<f32>,
}

/// `value` scaled by `to_int` and rounded to a 12-bit integer.
#[inline]
fn quantize(value: f32, to_int: f32) -> i16 {
    let scaled = (value * to_int).round_ties_even();
    // A NaN becomes -QMAX, as on the vector path.
    if scaled.is_nan() {
        -QMAX as i16
    } else {
        scaled.clamp(-QMAX, QMAX) as i16
    }
}

/// The factor that maps `largest` (a row's or column's largest magnitude)
/// to [`QMAX`] and the scale that undoes it, or zeros for a row that is
/// all zero, subnormal or not finite (it then contributes nothing).
fn scales_for(largest: f32) -> (f32, f32) {
    if (f32::MIN_POSITIVE..f32::INFINITY).contains(&largest) {
        (QMAX / largest, largest / QMAX)
    } else {
        (0.0, 0.0)
    }
}

/// The largest magnitude in `values` (in lanes, so the loop vectorises;
/// NaN is ignored).
#[inline(always)]
fn largest_magnitude(values: &[f32]) -> f32 {
    crate::activations::reduce(values, 0.0, |m, v| m.max(v.abs()))
}

impl Panels {
    /// Packs a row-major `inputs × outputs` weight.
    pub(super) fn pack(w: &[f32], inputs: usize, outputs: usize) -> Self {
        let pairs = inputs.div_ceil(2);
        let panels = outputs.div_ceil(NR);
        let mut column_scales = vec![0.0; panels * NR];
        let mut to_int = vec![0.0; panels * NR];
        for col in 0..outputs {
            let largest = (0..inputs).fold(0.0f32, |m, k| m.max(w[k * outputs + col].abs()));
            (to_int[col], column_scales[col]) = scales_for(largest);
        }
        let data = super::pair_panels(inputs, outputs, NR, |k, col| {
            quantize(w[k * outputs + col], to_int[col]) as u16
        });
        Self {
            data,
            column_scales,
            inputs,
            outputs,
            pairs,
            panels,
        }
    }

    /// `out[t] += x[t] · W` for `tokens` rows (`x` is `tokens × inputs`,
    /// `out` is `tokens × outputs`, both row-major).
    ///
    /// # Panics
    /// When a slice is shorter than its shape, or the CPU lacks AVX2 (both
    /// caller bugs: [`super::Kernel::choose`] refuses such a path).
    pub(crate) fn multiply_add(
        &self,
        x: &[f32],
        tokens: usize,
        out: &mut [f32],
        scratch: &mut Int16Scratch,
    ) {
        let (k, n, pairs) = (self.inputs, self.outputs, self.pairs);
        assert!(is_supported(), "the CPU lacks AVX2 and FMA");
        let x = &x[..tokens * k];
        let out = &mut out[..tokens * n];
        if tokens == 0 || n == 0 || k == 0 {
            return;
        }
        if scratch.values.len() < MC * 2 * pairs {
            scratch.values.resize(MC * 2 * pairs, 0);
        }
        if scratch.row_scales.len() < MC {
            scratch.row_scales.resize(MC, 0.0);
        }
        for (x_block, out_block) in x.chunks(MC * k).zip(out.chunks_mut(MC * n)) {
            let rows = x_block.len() / k;
            // SAFETY: AVX2 is present (asserted above).
            unsafe {
                quantize_rows(
                    x_block,
                    k,
                    pairs,
                    &mut scratch.values[..rows * 2 * pairs],
                    &mut scratch.row_scales[..rows],
                );
            }
            let a = &scratch.values[..rows * 2 * pairs];
            for panel in 0..self.panels {
                let b = &self.data[panel * pairs * NR..(panel + 1) * pairs * NR];
                let first = panel * NR;
                let cols = NR.min(n - first);
                let column_scales = &self.column_scales[first..first + NR];
                for r0 in (0..rows).step_by(MR) {
                    let r = MR.min(rows - r0);
                    let tile = Tile {
                        a: &a[r0 * 2 * pairs..(r0 + r) * 2 * pairs],
                        pairs,
                        b,
                        row_scales: &scratch.row_scales[r0..r0 + r],
                        column_scales,
                        cols,
                    };
                    // SAFETY: as above; `multiply` checks its slices.
                    unsafe { tile.multiply(r, &mut out_block[r0 * n + first..], n) };
                }
            }
        }
    }
}

/// Quantises `rows` rows of `k` values into int16 pairs, one scale per row.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn quantize_rows(x: &[f32], k: usize, pairs: usize, a: &mut [i16], scales: &mut [f32]) {
    for ((row, dst), scale) in x
        .chunks_exact(k)
        .zip(a.chunks_exact_mut(2 * pairs))
        .zip(scales.iter_mut())
    {
        let (to_int, undo) = scales_for(largest_magnitude(row));
        *scale = undo;
        let mut chunks = row.chunks_exact(2 * LANES);
        let mut slots = dst.chunks_exact_mut(2 * LANES);
        let scale_up = _mm256_set1_ps(to_int);
        let (low, high) = (_mm256_set1_ps(-QMAX), _mm256_set1_ps(QMAX));
        for (src, out) in (&mut chunks).zip(&mut slots) {
            // SAFETY: `src` holds 16 f32s and `out` 16 i16s (32 bytes).
            unsafe {
                let quantized = |v: __m256| {
                    // max/min first: a NaN becomes -QMAX, never garbage.
                    let v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v, scale_up), low), high);
                    _mm256_cvtps_epi32(v) // rounds to nearest even
                };
                let first = quantized(_mm256_loadu_ps(src.as_ptr()));
                let second = quantized(_mm256_loadu_ps(src.as_ptr().add(LANES)));
                // packs works per 128-bit half: put the quarters back in order.
                let packed =
                    _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(first, second));
                _mm256_storeu_si256(out.as_mut_ptr().cast(), packed);
            }
        }
        let done = row.len() - chunks.remainder().len();
        for (slot, &v) in dst[done..].iter_mut().zip(&row[done..]) {
            *slot = quantize(v, to_int);
        }
        if let Some(padding) = dst.get_mut(k) {
            *padding = 0;
        }
    }
}

/// One tile's operands: up to [`MR`] quantised rows against one panel.
struct Tile<'a> {
    /// `R` rows of `2 · pairs` values.
    a: &'a [i16],
    pairs: usize,
    b: &'a [u32],
    row_scales: &'a [f32],
    column_scales: &'a [f32],
    cols: usize,
}

impl Tile<'_> {
    /// Calls the kernel for `r` rows (1 to [`MR`]).
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn multiply(&self, r: usize, dst: &mut [f32], dst_stride: usize) {
        macro_rules! by_rows {
            ($($rows:literal)*) => {
                match r {
                    $($rows => self.kernel::<$rows>(dst, dst_stride),)*
                    _ => debug_assert!(false, "tile of {r} rows"),
                }
            };
        }
        by_rows!(1 2 3 4 5 6);
    }

    /// `dst[i][c] += row_scale[i] · column_scale[c] · Σ_p a[i][p] · b[p][c]`
    /// for `R` rows and the tile's columns.
    #[target_feature(enable = "avx2,fma")]
    fn kernel<const R: usize>(&self, dst: &mut [f32], dst_stride: usize) {
        let (pairs, cols) = (self.pairs, self.cols);
        assert!(
            R >= 1
                && (1..=NR).contains(&cols)
                && self.a.len() >= R * 2 * pairs
                && self.b.len() >= pairs * NR
                && self.row_scales.len() >= R
                && self.column_scales.len() >= NR
                && dst.len() >= (R - 1) * dst_stride + cols,
            "int16 tile out of bounds"
        );
        let mut sums: [[__m256; 2]; R] = [[_mm256_setzero_ps(); 2]; R];
        let a_ptr = self.a.as_ptr();
        let b_ptr = self.b.as_ptr();
        let mut start = 0;
        while start < pairs {
            let end = (start + FLUSH).min(pairs);
            let mut low: [__m256i; R] = [_mm256_setzero_si256(); R];
            let mut high: [__m256i; R] = [_mm256_setzero_si256(); R];
            for p in start..end {
                // SAFETY: `p < pairs`, so the panel's pair `p` (16 u32s from
                // `p * 16`) lies inside `b`, whose length was checked above.
                let (b0, b1) = unsafe {
                    let pair = b_ptr.add(p * NR);
                    (
                        _mm256_loadu_si256(pair.cast()),
                        _mm256_loadu_si256(pair.add(LANES).cast()),
                    )
                };
                for i in 0..R {
                    // SAFETY: `i < R` and `p < pairs`, so values
                    // `2 (i · pairs + p)` and the one after it are inside
                    // `a`, whose length was checked above; read unaligned.
                    let value = unsafe {
                        a_ptr
                            .add(2 * (i * pairs + p))
                            .cast::<u32>()
                            .read_unaligned()
                    };
                    let broadcast = _mm256_set1_epi32(value as i32);
                    low[i] = _mm256_add_epi32(low[i], _mm256_madd_epi16(broadcast, b0));
                    high[i] = _mm256_add_epi32(high[i], _mm256_madd_epi16(broadcast, b1));
                }
            }
            for i in 0..R {
                sums[i][0] = _mm256_add_ps(sums[i][0], _mm256_cvtepi32_ps(low[i]));
                sums[i][1] = _mm256_add_ps(sums[i][1], _mm256_cvtepi32_ps(high[i]));
            }
            start = end;
        }
        let mut lanes = [0.0f32; NR];
        for (i, pair) in sums.iter().enumerate() {
            // SAFETY: `lanes` holds 16 f32s, two vectors' worth.
            unsafe {
                _mm256_storeu_ps(lanes.as_mut_ptr(), pair[0]);
                _mm256_storeu_ps(lanes.as_mut_ptr().add(LANES), pair[1]);
            }
            let row_scale = self.row_scales[i];
            let row = &mut dst[i * dst_stride..i * dst_stride + cols];
            for ((d, sum), column_scale) in row.iter_mut().zip(lanes).zip(self.column_scales) {
                *d += sum * row_scale * column_scale;
            }
        }
    }
}
