//! bf16 products on AVX-512 BF16: `vdpbf16ps` multiplies two pairs of bf16
//! values per fp32 lane and adds both products to an fp32 accumulator, twice
//! the multiply-adds of an fp32 FMA per instruction.
//!
//! Layout. The weight `[inputs, outputs]` is cut into panels of 32 output
//! columns; within a panel, inputs go in pairs `(2p, 2p + 1)` and each pair
//! holds 32 `u32`s, one per column, the even input's bf16 in the low half.
//! Activations are rounded to bf16 a block of rows at a time into the same
//! pairs, so one 32-bit broadcast of a row's pair `p` meets the panel's pair
//! `p` in two instructions (columns 0–15 and 16–31).
//!
//! Blocking. A block of up to 96 rows is converted once (at most 96 × 768
//! pairs, 288 KiB, which stays in L2), then every panel (at most 1536 / 2 ×
//! 32 pairs, 96 KiB) is multiplied against the block's tiles of 12 rows:
//! 24 accumulators, 12 broadcasts and 2 panel loads per pair.
//!
//! Every function that touches memory through a pointer checks the slice
//! lengths it relies on first; the `unsafe` blocks are those loads and
//! stores and the calls into `#[target_feature]` functions after
//! [`is_supported`] said yes.
#![expect(
    unsafe_code,
    reason = "AVX-512 intrinsics take raw pointers; every access is bounds-checked first"
)]

use std::arch::x86_64::{
    __m256i, __m512, __m512bh, __m512i, _mm256_storeu_si256, _mm512_add_ps, _mm512_cvtneps_pbh,
    _mm512_dpbf16_ps, _mm512_loadu_ps, _mm512_loadu_si512, _mm512_mask_storeu_ps,
    _mm512_maskz_loadu_ps, _mm512_set1_epi32, _mm512_setzero_ps,
};

/// Output columns per panel: two vectors of 16 lanes.
const NR: usize = 32;
/// Lanes of one vector.
const LANES: usize = 16;
/// Rows per tile.
const MR: usize = 12;
/// Rows rounded to bf16 at a time (a whole number of tiles).
const MC: usize = 96;

/// Whether this CPU has AVX-512F and AVX-512 BF16.
pub(super) fn is_supported() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bf16")
}

/// A weight packed into bf16 pair panels (see the module docs).
pub(crate) struct Panels {
    data: Vec<u32>,
    inputs: usize,
    outputs: usize,
    pairs: usize,
    panels: usize,
}

/// Round-to-nearest-even bf16 bits of `value`, as `vcvtneps2bf16` rounds.
fn bf16_bits(value: f32) -> u16 {
    half::bf16::from_f32(value).to_bits()
}

impl Panels {
    /// Packs a row-major `inputs × outputs` weight.
    pub(super) fn pack(w: &[f32], inputs: usize, outputs: usize) -> Self {
        Self {
            data: super::pair_panels(inputs, outputs, NR, |k, col| {
                bf16_bits(w[k * outputs + col])
            }),
            inputs,
            outputs,
            pairs: inputs.div_ceil(2),
            panels: outputs.div_ceil(NR),
        }
    }

    /// `out[t] += x[t] · W` for `tokens` rows (`x` is `tokens × inputs`,
    /// `out` is `tokens × outputs`, both row-major). `pairs` is the caller's
    /// reusable conversion buffer.
    ///
    /// # Panics
    /// When a slice is shorter than its shape, or the CPU lacks AVX-512 BF16
    /// (both caller bugs: [`super::Kernel::choose`] refuses such a path).
    pub(crate) fn multiply_add(
        &self,
        x: &[f32],
        tokens: usize,
        out: &mut [f32],
        buffer: &mut Vec<u32>,
    ) {
        let (k, n, pairs) = (self.inputs, self.outputs, self.pairs);
        assert!(is_supported(), "the CPU lacks AVX-512 BF16");
        let x = &x[..tokens * k];
        let out = &mut out[..tokens * n];
        if tokens == 0 || n == 0 || k == 0 {
            return;
        }
        if buffer.len() < MC * pairs {
            buffer.resize(MC * pairs, 0);
        }
        for (x_block, out_block) in x.chunks(MC * k).zip(out.chunks_mut(MC * n)) {
            let rows = x_block.len() / k;
            let a = &mut buffer[..rows * pairs];
            // SAFETY: AVX-512F and BF16 are present (asserted above).
            unsafe { round_rows(x_block, k, pairs, a) };
            let a = &buffer[..rows * pairs];
            for panel in 0..self.panels {
                let b = &self.data[panel * pairs * NR..(panel + 1) * pairs * NR];
                let first = panel * NR;
                let cols = NR.min(n - first);
                for r0 in (0..rows).step_by(MR) {
                    let r = MR.min(rows - r0);
                    let a_tile = &a[r0 * pairs..(r0 + r) * pairs];
                    let dst = &mut out_block[r0 * n + first..];
                    // SAFETY: as above; `tile` checks its slices.
                    unsafe { tile_rows(r, a_tile, pairs, b, dst, n, cols) };
                }
            }
        }
    }
}

/// Rounds `rows` rows of `k` fp32 values to bf16 pairs (`pairs` per row, an
/// odd `k` padded with a zero).
///
/// # Safety
/// The CPU must have AVX-512F and AVX-512 BF16.
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn round_rows(x: &[f32], k: usize, pairs: usize, a: &mut [u32]) {
    for (row, dst) in x.chunks_exact(k).zip(a.chunks_exact_mut(pairs)) {
        let mut chunks = row.chunks_exact(LANES);
        let mut d = dst.chunks_exact_mut(LANES / 2);
        for (src, dst) in (&mut chunks).zip(&mut d) {
            // SAFETY: `src` holds 16 f32s and `dst` 8 u32s (32 bytes).
            unsafe {
                let v = _mm512_loadu_ps(src.as_ptr());
                let h: __m256i = std::mem::transmute(_mm512_cvtneps_pbh(v));
                _mm256_storeu_si256(dst.as_mut_ptr().cast::<__m256i>(), h);
            }
        }
        let done = row.len() - chunks.remainder().len();
        for (p, slot) in dst.iter_mut().enumerate().skip(done / 2) {
            let lo = row.get(2 * p).map_or(0, |&v| u32::from(bf16_bits(v)));
            let hi = row.get(2 * p + 1).map_or(0, |&v| u32::from(bf16_bits(v)));
            *slot = lo | (hi << 16);
        }
    }
}

/// Calls the tile kernel for `r` rows (1 to [`MR`]).
///
/// # Safety
/// The CPU must have AVX-512F and AVX-512 BF16.
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn tile_rows(
    r: usize,
    a: &[u32],
    pairs: usize,
    b: &[u32],
    dst: &mut [f32],
    dst_stride: usize,
    cols: usize,
) {
    macro_rules! by_rows {
        ($($rows:literal)*) => {
            match r {
                $($rows => tile::<$rows>(a, pairs, b, dst, dst_stride, cols),)*
                _ => debug_assert!(false, "tile of {r} rows"),
            }
        };
    }
    by_rows!(1 2 3 4 5 6 7 8 9 10 11 12);
}

/// `dst[i][c] += Σ_p a[i][p] · b[p][c]` for `R` rows and `cols` (≤ 32)
/// columns, `a` in bf16 pairs (`pairs` per row), `b` one panel.
#[target_feature(enable = "avx512f,avx512bf16")]
fn tile<const R: usize>(
    a: &[u32],
    pairs: usize,
    b: &[u32],
    dst: &mut [f32],
    dst_stride: usize,
    cols: usize,
) {
    assert!(
        R >= 1
            && (1..=NR).contains(&cols)
            && a.len() >= R * pairs
            && b.len() >= pairs * NR
            && dst.len() >= (R - 1) * dst_stride + cols,
        "bf16 tile out of bounds"
    );
    let mut low = [_mm512_setzero_ps(); R];
    let mut high = [_mm512_setzero_ps(); R];
    let a_ptr = a.as_ptr();
    let b_ptr = b.as_ptr();
    for p in 0..pairs {
        // SAFETY: `p < pairs`, so the panel's pair `p` (32 u32s from
        // `p * 32`) lies inside `b`, whose length was checked above.
        let (b0, b1): (__m512bh, __m512bh) = unsafe {
            let pair = b_ptr.add(p * NR);
            (
                std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(pair.cast())),
                std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(
                    pair.add(LANES).cast(),
                )),
            )
        };
        for i in 0..R {
            // SAFETY: `i < R` and `p < pairs`, so `i * pairs + p < a.len()`.
            let value = unsafe { *a_ptr.add(i * pairs + p) };
            // SAFETY: a bit cast between two 512-bit vector types.
            let broadcast = unsafe {
                std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(value as i32))
            };
            low[i] = _mm512_dpbf16_ps(low[i], broadcast, b0);
            high[i] = _mm512_dpbf16_ps(high[i], broadcast, b1);
        }
    }
    let mask_low: u16 = if cols >= LANES {
        u16::MAX
    } else {
        (1u16 << cols) - 1
    };
    let mask_high: u16 = match cols.saturating_sub(LANES) {
        0 => 0,
        LANES => u16::MAX,
        extra => (1u16 << extra) - 1,
    };
    let d = dst.as_mut_ptr();
    for i in 0..R {
        // SAFETY: row `i` starts at `i * dst_stride` and the masks cover at
        // most `cols` lanes, which the length check above keeps inside
        // `dst`; masked-off lanes are neither read nor written.
        unsafe {
            let row = d.add(i * dst_stride);
            let sum: __m512 = _mm512_add_ps(_mm512_maskz_loadu_ps(mask_low, row), low[i]);
            _mm512_mask_storeu_ps(row, mask_low, sum);
            if mask_high != 0 {
                let row = row.add(LANES);
                let sum = _mm512_add_ps(_mm512_maskz_loadu_ps(mask_high, row), high[i]);
                _mm512_mask_storeu_ps(row, mask_high, sum);
            }
        }
    }
}
