//! The element-wise functions of `crate::activations` compiled again for
//! the vector width of the chosen kernel path (AVX2 or AVX-512), so the
//! compiler vectorises their polynomials eight or sixteen lanes wide instead
//! of the baseline's four.
//!
//! The only `unsafe` here is calling a `#[target_feature]` function, after
//! the kernel path was checked against the CPU (`Kernel::choose`) and again
//! by feature detection here.
#![expect(
    unsafe_code,
    reason = "calling #[target_feature] functions after the CPU features were detected"
)]

use crate::activations;

/// Whether this CPU has AVX2 and FMA.
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Whether this CPU has AVX-512F (and AVX2 with FMA).
fn has_avx512() -> bool {
    has_avx2() && std::arch::is_x86_feature_detected!("avx512f")
}

#[target_feature(enable = "avx2,fma")]
fn gelu_avx2(values: &mut [f32]) {
    activations::gelu(values);
}

#[target_feature(enable = "avx512f,avx2,fma")]
fn gelu_avx512(values: &mut [f32]) {
    activations::gelu(values);
}

#[target_feature(enable = "avx2,fma")]
fn softmax_avx2(row: &mut [f32]) {
    activations::softmax(row);
}

#[target_feature(enable = "avx512f,avx2,fma")]
fn softmax_avx512(row: &mut [f32]) {
    activations::softmax(row);
}

/// GELU in place, as wide as `avx512` (else AVX2) allows on this CPU.
pub(super) fn gelu(values: &mut [f32], avx512: bool) {
    if avx512 && has_avx512() {
        // SAFETY: the CPU has AVX-512F, AVX2 and FMA (detected just above).
        unsafe { gelu_avx512(values) }
    } else if has_avx2() {
        // SAFETY: the CPU has AVX2 and FMA (detected just above).
        unsafe { gelu_avx2(values) }
    } else {
        activations::gelu(values);
    }
}

/// Softmax of one row, as wide as `avx512` (else AVX2) allows on this CPU.
pub(super) fn softmax(row: &mut [f32], avx512: bool) {
    if avx512 && has_avx512() {
        // SAFETY: the CPU has AVX-512F, AVX2 and FMA (detected just above).
        unsafe { softmax_avx512(row) }
    } else if has_avx2() {
        // SAFETY: the CPU has AVX2 and FMA (detected just above).
        unsafe { softmax_avx2(row) }
    } else {
        activations::softmax(row);
    }
}
