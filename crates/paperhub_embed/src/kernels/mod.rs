//! The products of the encoder's linear layers, one implementation per CPU
//! path, chosen at run time.
//!
//! The machines Paperhub runs on differ (AVX2 only, AVX-512, AVX-512 with
//! BF16 dot products), and one binary must be fast on each. A [`Kernel`] names
//! a path; [`Kernel::detect`] picks the best one the CPU has, and
//! `PAPERHUB__EMBEDDING__KERNEL` (or `embedding.kernel`) forces another, so
//! tests and benchmarks can run every path on one machine:
//!
//! - [`Kernel::Avx512Bf16`]: weights in bf16, activations rounded to bf16 per
//!   product, fp32 accumulation with `vdpbf16ps` (twice the multiply-adds of
//!   an fp32 FMA per instruction);
//! - [`Kernel::Avx2Int16`]: weights quantised per column and activations per
//!   row to 12-bit integers, multiplied with `vpmaddwd` (twice the
//!   multiply-adds of an fp32 FMA per instruction, on any AVX2 CPU);
//! - [`Kernel::Avx2`]: fp32 throughout, on the `gemm` crate's AVX2+FMA kernels;
//! - [`Kernel::Portable`]: fp32 in plain Rust, for any CPU.
//!
//! A [`PackedWeights`] holds a layer's weight in the layout its path reads,
//! made once at load time.

mod portable;
#[cfg(target_arch = "x86_64")]
mod x86_bf16;
#[cfg(target_arch = "x86_64")]
mod x86_int16;
#[cfg(target_arch = "x86_64")]
mod x86_vector_math;

use std::fmt;
use std::str::FromStr;

use crate::matmul::{View, gemm};

/// The environment variable that forces a kernel path (same name as the
/// application's `embedding.kernel` override).
pub const KERNEL_ENV: &str = "PAPERHUB__EMBEDDING__KERNEL";

/// A CPU path for the encoder's matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Plain Rust fp32, no CPU features assumed.
    Portable,
    /// fp32 on AVX2 and FMA (the `gemm` crate's kernels).
    Avx2,
    /// 12-bit integer weights and activations with `vpmaddwd` on AVX2.
    Avx2Int16,
    /// bf16 weights and activations with fp32 accumulation, on AVX-512 BF16.
    Avx512Bf16,
}

impl Kernel {
    /// Every path, slowest first.
    pub const ALL: [Kernel; 4] = [
        Kernel::Portable,
        Kernel::Avx2,
        Kernel::Avx2Int16,
        Kernel::Avx512Bf16,
    ];

    /// The name used in configuration and reports.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Avx2 => "avx2",
            Kernel::Avx2Int16 => "avx2-int16",
            Kernel::Avx512Bf16 => "avx512-bf16",
        }
    }

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 | Kernel::Avx2Int16 => has_avx2_fma(),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Bf16 => x86_bf16::is_supported(),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx2 | Kernel::Avx2Int16 | Kernel::Avx512Bf16 => false,
        }
    }

    /// The paths this CPU can run, slowest first.
    pub fn supported() -> Vec<Kernel> {
        Kernel::ALL
            .into_iter()
            .filter(|k| k.is_supported())
            .collect()
    }

    /// The fastest path this CPU can run.
    pub fn detect() -> Kernel {
        Kernel::supported().pop().unwrap_or(Kernel::Portable)
    }

    /// The path `choice` asks for: `auto` (or empty) detects, a path name
    /// forces that path.
    ///
    /// # Errors
    /// An unknown name, or a path this CPU cannot run.
    pub fn choose(choice: &str) -> Result<Kernel, String> {
        let choice = choice.trim();
        if choice.is_empty() || choice.eq_ignore_ascii_case("auto") {
            return Ok(Kernel::detect());
        }
        let kernel: Kernel = choice.parse()?;
        if !kernel.is_supported() {
            return Err(format!(
                "this CPU cannot run the {} kernel path (it can run: {})",
                kernel.name(),
                names(&Kernel::supported())
            ));
        }
        Ok(kernel)
    }

    /// The path `PAPERHUB__EMBEDDING__KERNEL` asks for, else the detected one.
    ///
    /// # Errors
    /// As [`Kernel::choose`].
    pub fn from_env() -> Result<Kernel, String> {
        Kernel::choose(&std::env::var(KERNEL_ENV).unwrap_or_default())
            .map_err(|err| format!("{KERNEL_ENV}: {err}"))
    }

    /// CPU features that matter to the kernels, for benchmark reports.
    pub fn cpu_features() -> String {
        #[cfg(target_arch = "x86_64")]
        {
            let mut found = Vec::new();
            macro_rules! probe {
                ($($feature:tt),*) => {
                    $(if std::arch::is_x86_feature_detected!($feature) {
                        found.push($feature);
                    })*
                };
            }
            probe!(
                "avx2",
                "fma",
                "avx512f",
                "avx512bw",
                "avx512vnni",
                "avx512bf16",
                "avxvnni"
            );
            found.join(" ")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            String::from("(not x86_64)")
        }
    }
}

impl Kernel {
    /// The exact GELU over `values` in place, vectorised as wide as this
    /// path's CPU features allow (the portable path stays portable).
    pub(crate) fn gelu(self, values: &mut [f32]) {
        match self {
            Kernel::Portable => crate::activations::gelu(values),
            #[cfg(target_arch = "x86_64")]
            _ => x86_vector_math::widened(
                self == Kernel::Avx512Bf16,
                #[inline(always)]
                || crate::activations::gelu(values),
            ),
            #[cfg(not(target_arch = "x86_64"))]
            _ => crate::activations::gelu(values),
        }
    }

    /// Softmax of one row in place, vectorised like [`Kernel::gelu`].
    pub(crate) fn softmax(self, row: &mut [f32]) {
        match self {
            Kernel::Portable => crate::activations::softmax(row),
            #[cfg(target_arch = "x86_64")]
            _ => x86_vector_math::widened(
                self == Kernel::Avx512Bf16,
                #[inline(always)]
                || crate::activations::softmax(row),
            ),
            #[cfg(not(target_arch = "x86_64"))]
            _ => crate::activations::softmax(row),
        }
    }
}

/// Whether this CPU has AVX2 and FMA (what every `avx2` path needs).
#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

fn names(kernels: &[Kernel]) -> String {
    kernels
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kernel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kernel::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown kernel path {s:?} (expected auto, {})",
                    names(&Kernel::ALL)
                )
            })
    }
}

/// Packs a row-major `inputs × outputs` matrix into panels of `width`
/// columns with the inputs in pairs, the layout both reduced-precision
/// kernels read: `u32` number `(panel · pairs + p) · width + column` holds
/// the 16-bit `encode(k, col)` of inputs `2p` (low half) and `2p + 1` (high
/// half) of that column, and zero past the matrix's edges.
#[cfg(target_arch = "x86_64")]
fn pair_panels(
    inputs: usize,
    outputs: usize,
    width: usize,
    encode: impl Fn(usize, usize) -> u16,
) -> Vec<u32> {
    let pairs = inputs.div_ceil(2);
    let at = |k: usize, col: usize| -> u32 {
        if k < inputs && col < outputs {
            u32::from(encode(k, col))
        } else {
            0
        }
    };
    let mut data = vec![0u32; outputs.div_ceil(width) * pairs * width];
    for (index, slot) in data.iter_mut().enumerate() {
        let column = index % width;
        let p = (index / width) % pairs;
        let col = index / (width * pairs) * width + column;
        *slot = at(2 * p, col) | (at(2 * p + 1, col) << 16);
    }
    data
}

/// A linear layer's weight `[inputs, outputs]` in the layout one path reads.
pub(crate) enum PackedWeights {
    /// Row-major fp32, `inputs × outputs`.
    F32 { kernel: Kernel, weight_t: Vec<f32> },
    /// bf16 pairs in column panels (see `x86_bf16`).
    #[cfg(target_arch = "x86_64")]
    Bf16(x86_bf16::Panels),
    /// int16 pairs in column panels with per-column scales (see `x86_int16`).
    #[cfg(target_arch = "x86_64")]
    Int16(x86_int16::Panels),
}

/// Reusable buffers of one worker thread's products.
#[derive(Default)]
pub(crate) struct KernelScratch {
    /// Activations rounded to bf16 pairs.
    pairs: Vec<u32>,
    /// Activations quantised to int16 pairs, with their row scales.
    #[cfg(target_arch = "x86_64")]
    int16: x86_int16::Int16Scratch,
}

impl PackedWeights {
    /// Packs a row-major `inputs × outputs` weight for `kernel`.
    pub(crate) fn pack(kernel: Kernel, weight_t: Vec<f32>, inputs: usize, outputs: usize) -> Self {
        debug_assert_eq!(weight_t.len(), inputs * outputs);
        match kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Bf16 => {
                PackedWeights::Bf16(x86_bf16::Panels::pack(&weight_t, inputs, outputs))
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2Int16 => {
                PackedWeights::Int16(x86_int16::Panels::pack(&weight_t, inputs, outputs))
            }
            _ => PackedWeights::F32 { kernel, weight_t },
        }
    }

    /// `out[t] += x[t] · W` for `tokens` rows of `x` (`tokens × inputs`,
    /// row-major) into `out` (`tokens × outputs`, row-major).
    pub(crate) fn multiply_add(
        &self,
        x: &[f32],
        tokens: usize,
        inputs: usize,
        outputs: usize,
        out: &mut [f32],
        scratch: &mut KernelScratch,
    ) {
        match self {
            PackedWeights::F32 {
                kernel: Kernel::Portable,
                weight_t,
            } => portable::multiply_add(x, tokens, inputs, weight_t, outputs, out),
            PackedWeights::F32 { weight_t, .. } => gemm(
                out,
                outputs,
                View::rows(x, tokens, inputs, inputs),
                View::rows(weight_t, inputs, outputs, outputs),
                1.0,
                true,
            ),
            #[cfg(target_arch = "x86_64")]
            PackedWeights::Bf16(panels) => {
                panels.multiply_add(x, tokens, out, &mut scratch.pairs);
            }
            #[cfg(target_arch = "x86_64")]
            PackedWeights::Int16(panels) => {
                panels.multiply_add(x, tokens, out, &mut scratch.int16);
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = scratch;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact (f64) reference of `x · W`.
    fn reference(x: &[f32], w: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k)
                    .map(|p| f64::from(x[i * k + p]) * f64::from(w[p * n + j]))
                    .sum();
            }
        }
        out
    }

    /// Deterministic pseudo-random values in [-1, 1).
    fn values(count: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..count)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    #[test]
    fn every_supported_path_multiplies_odd_shapes_correctly() {
        // Odd sizes reach every edge: partial row tiles, a partial column
        // panel, an odd inner dimension.
        for &(m, k, n) in &[
            (1, 1, 1),
            (13, 7, 5),
            (25, 33, 47),
            (40, 384, 96),
            (3, 65, 130),
        ] {
            let x = values(m * k, 1 + m as u64);
            let w = values(k * n, 7 + n as u64);
            let want = reference(&x, &w, m, k, n);
            for kernel in Kernel::supported() {
                let packed = PackedWeights::pack(kernel, w.clone(), k, n);
                let mut out = vec![0.5f32; m * n];
                packed.multiply_add(&x, m, k, n, &mut out, &mut KernelScratch::default());
                // bf16 keeps 8 significant bits of each operand, int16 12.
                let tolerance = match kernel {
                    Kernel::Avx512Bf16 => 0.02,
                    Kernel::Avx2Int16 => 0.002,
                    _ => 1e-4,
                };
                for (i, (got, want)) in out.iter().zip(&want).enumerate() {
                    let err = (f64::from(*got) - 0.5 - want).abs();
                    assert!(
                        err <= tolerance * (k as f64).sqrt(),
                        "{kernel} {m}x{k}x{n} element {i}: got {got}, want {}",
                        want + 0.5
                    );
                }
            }
        }
    }

    /// Checks every path's product against the exact one on the rows of
    /// `x` with ordinary values (finite, below 1000), and that nothing
    /// panics whatever the values.
    fn check_rows(kernel: Kernel, x: &[f32], w: &[f32], m: usize, k: usize, n: usize) {
        let want = reference(x, w, m, k, n);
        let packed = PackedWeights::pack(kernel, w.to_vec(), k, n);
        let mut out = vec![0.5f32; m * n];
        packed.multiply_add(x, m, k, n, &mut out, &mut KernelScratch::default());
        let tolerance = match kernel {
            Kernel::Avx512Bf16 => 0.02,
            Kernel::Avx2Int16 => 0.002,
            _ => 1e-4,
        };
        for row in 0..m {
            if !x[row * k..(row + 1) * k].iter().all(|v| v.abs() < 1000.0) {
                continue;
            }
            for col in 0..n {
                let got = f64::from(out[row * n + col]) - 0.5;
                let err = (got - want[row * n + col]).abs();
                assert!(
                    err <= tolerance * (k as f64).sqrt(),
                    "{kernel} {m}x{k}x{n} ({row}, {col}): got {got}, want {}",
                    want[row * n + col]
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Any shape, on every path this CPU has: tiles cut anywhere,
        /// panels partly filled, odd inner dimensions.
        #[test]
        fn every_path_multiplies_any_shape(
            m in 1usize..40,
            k in 1usize..80,
            n in 1usize..80,
            seed in 0u64..10_000,
        ) {
            let x = values(m * k, seed);
            let w = values(k * n, seed + 1);
            for kernel in Kernel::supported() {
                check_rows(kernel, &x, &w, m, k, n);
            }
        }

        /// A NaN, an infinity or a huge value in one row panics nowhere and
        /// leaves the other rows' products right.
        #[test]
        fn a_poisoned_row_spoils_only_itself(
            m in 2usize..24,
            k in 1usize..48,
            n in 1usize..48,
            at in 0usize..10_000,
            poison in proptest::sample::select(vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3e38]),
        ) {
            let mut x = values(m * k, 5);
            x[at % (m * k)] = poison;
            let w = values(k * n, 6);
            for kernel in Kernel::supported() {
                check_rows(kernel, &x, &w, m, k, n);
            }
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for kernel in Kernel::ALL {
            assert_eq!(kernel.name().parse::<Kernel>(), Ok(kernel));
        }
        assert!(
            "avx9"
                .parse::<Kernel>()
                .unwrap_err()
                .contains("avx512-bf16")
        );
        assert_eq!(Kernel::choose("portable"), Ok(Kernel::Portable));
        assert_eq!(Kernel::choose(" AUTO "), Ok(Kernel::detect()));
        assert!(Kernel::supported().contains(&Kernel::Portable));
    }
}
