//! The encoder's element-wise functions (softmax, GELU) in branch-free
//! single precision, so the compiler turns each loop into vector code.
//!
//! With the matrix products on bf16 kernels, these loops became the largest
//! cost left: attention takes an `exp` for every pair of tokens in every head
//! (about four million per abstract), and the feed-forward layer an `erf` for
//! every one of its 1,536 values per token. libm's scalar `exp` (and an `erf`
//! computed in f64) cost more than the products they surround. The versions
//! here are polynomial, clamp instead of branching, and stay within a few
//! units in the last place of the exact functions (tests below).

/// `exp(x)` for `x ≤ 0` and moderately positive `x`, relative error below
/// 3e-7. Range reduction `x = n·ln 2 + r`, a degree-6 polynomial for
/// `exp(r)`, and `2^n` put straight into the exponent bits.
#[inline(always)]
fn exp(x: f32) -> f32 {
    // Below -87.3 the result is subnormal; above 88.7 it overflows.
    let x = x.clamp(-87.3, 88.7);
    // Round to nearest by the 1.5·2^23 trick (vectorises without SSE4.1).
    const SHIFT: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + SHIFT) - SHIFT;
    // Cody–Waite: ln 2 split so that n·LN2_HI is exact.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67
                    + r * (0.041_666_42 + r * (0.008_333_452 + r * 0.001_393_298_6)))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

/// Softmax of one row of attention scores, in place.
///
/// The maximum and the sum run in sixteen independent lanes: a plain
/// `fold` is one long dependency chain (each step waits for the previous
/// one's latency), which made softmax a fifth of the encoder's time.
#[inline(always)]
pub(crate) fn softmax(row: &mut [f32]) {
    let max = reduce(row, f32::NEG_INFINITY, f32::max);
    for v in row.iter_mut() {
        *v = exp(*v - max);
    }
    let sum = reduce(row, 0.0, |a, b| a + b);
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// `values` folded with `op` in sixteen independent lanes, then across them
/// (`op` must be associative and commutative up to rounding).
#[inline(always)]
pub(crate) fn reduce(values: &[f32], start: f32, op: impl Fn(f32, f32) -> f32) -> f32 {
    const LANES: usize = 16;
    let mut lanes = [start; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks.remainder().iter().fold(start, |a, &b| op(a, b));
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = op(*lane, v);
        }
    }
    lanes.iter().fold(tail, |a, &b| op(a, b))
}

/// `erf(x)` by a rational approximation in single precision (the one Eigen
/// and XLA use), absolute error below 1e-6. Beyond ±4, erf is ±1 in f32.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = p * x2 + -2.101_024e-6;
    p = p * x2 + -5.692_506_4e-5;
    p = p * x2 + -7.349_906_3e-4;
    p = p * x2 + -2.954_600_2e-3;
    p = p * x2 + -1.609_603_3e-2;
    p *= x;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = q * x2 + -1.682_827e-3;
    q = q * x2 + -7.373_329e-3;
    q = q * x2 + -1.426_474e-2;
    p / q
}

/// The exact (erf) GELU that BERT's `"gelu"` means, over a buffer in place.
#[inline(always)]
pub(crate) fn gelu(values: &mut [f32]) {
    for v in values.iter_mut() {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf in f64 (Numerical Recipes' erfcc, error below 1.2e-7).
    fn erf64(x: f64) -> f64 {
        let z = x.abs();
        let t = 1.0 / (1.0 + 0.5 * z);
        let poly = -z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77))))))));
        let erfc = t * poly.exp();
        if x >= 0.0 { 1.0 - erfc } else { erfc - 1.0 }
    }

    #[test]
    fn exp_is_within_three_parts_in_ten_million() {
        let mut worst: f64 = 0.0;
        let mut x = -87.0f32;
        while x < 80.0 {
            let want = f64::from(x).exp();
            let got = f64::from(exp(x));
            worst = worst.max(((got - want) / want).abs());
            x += 0.001_7;
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-1000.0), exp(-87.3), "clamped, never NaN");
        assert!(exp(f32::NEG_INFINITY) >= 0.0);
    }

    #[test]
    fn erf_is_within_one_part_in_a_million() {
        let mut worst: f64 = 0.0;
        let mut x = -6.0f32;
        while x < 6.0 {
            worst = worst.max((f64::from(erf(x)) - erf64(f64::from(x))).abs());
            x += 0.000_37;
        }
        assert!(worst < 1e-6, "worst absolute error {worst}");
        for (x, want) in [(0.5, 0.520_499_9), (1.0, 0.842_700_8), (-3.0, -0.999_977_9)] {
            assert!((erf(x) - want).abs() < 1e-6, "erf({x}) = {}", erf(x));
        }
    }

    #[test]
    fn softmax_sums_to_one_and_survives_large_values() {
        let mut row = [1000.0, 1001.0, 999.0];
        softmax(&mut row);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(row[1] > row[0] && row[0] > row[2]);
        let mut spread = [0.0, -200.0, f32::NEG_INFINITY];
        softmax(&mut spread);
        assert!((spread[0] - 1.0).abs() < 1e-6 && spread[2] >= 0.0);
    }

    #[test]
    fn gelu_matches_its_definition() {
        let mut values = [-3.0f32, -0.5, 0.0, 0.7, 2.5];
        let want: Vec<f64> = values
            .iter()
            .map(|&v| 0.5 * f64::from(v) * (1.0 + erf64(f64::from(v) / 2f64.sqrt())))
            .collect();
        gelu(&mut values);
        for (got, want) in values.iter().zip(want) {
            assert!((f64::from(*got) - want).abs() < 2e-6, "{got} vs {want}");
        }
    }
}
