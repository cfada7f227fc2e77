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

/// Whether this CPU has AVX-512F (and AVX2 with FMA).
fn has_avx512() -> bool {
    super::has_avx2_fma() && std::arch::is_x86_feature_detected!("avx512f")
}

#[target_feature(enable = "avx2,fma")]
fn with_avx2(f: impl FnOnce()) {
    f();
}

#[target_feature(enable = "avx512f,avx2,fma")]
fn with_avx512(f: impl FnOnce()) {
    f();
}

/// Runs `f` compiled for AVX-512 when `avx512` asks and the CPU has it,
/// else for AVX2 when it has that, else as it is. `f` must be an
/// `#[inline(always)]` closure over `#[inline(always)]` code, so that it is
/// compiled inside the wide function.
pub(super) fn widened(avx512: bool, f: impl FnOnce()) {
    if avx512 && has_avx512() {
        // SAFETY: the CPU has AVX-512F, AVX2 and FMA (detected just above).
        unsafe { with_avx512(f) }
    } else if super::has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (detected just above).
        unsafe { with_avx2(f) }
    } else {
        f();
    }
}
