//! Matrix multiplication for the encoder: one safe function over the `gemm`
//! crate's kernel, which is where nearly all of the encoder's time goes.
//!
//! `gemm` takes raw pointers and strides. [`View`] carries a slice with its
//! shape and strides and checks on construction that every element the shape
//! can reach lies inside the slice, so the single `unsafe` call below is sound
//! whatever the caller passes. The only other `unsafe` code in Paperhub is in the
//! x86 kernels, `kernels::x86_*`.

/// A strided read-only matrix over a slice.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    /// A `rows` × `cols` matrix whose element `(r, c)` is
    /// `data[r * row_stride + c * col_stride]`.
    ///
    /// # Panics
    /// When the last element lies outside `data`, or its index overflows
    /// `usize`: a bug in the caller's shape arithmetic, never a property of
    /// input text.
    pub(crate) fn new(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        assert!(
            reach(rows, cols, row_stride, col_stride).is_some_and(|r| r <= data.len()),
            "matrix view {rows}x{cols} (strides {row_stride}, {col_stride}) exceeds its slice of {}",
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// A row-major `rows` × `cols` matrix with rows `row_stride` apart.
    pub(crate) fn rows(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        Self::new(data, rows, cols, row_stride, 1)
    }
}

/// Number of elements a strided matrix spans from its first element, or
/// `None` when that number overflows `usize`.
///
/// Checked arithmetic is what makes the bounds checks sound: in a release
/// build a plain product wraps, and a huge shape could then come out
/// "smaller" than its slice and reach far past it.
fn reach(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(row_stride)?
        .checked_add((cols - 1).checked_mul(col_stride)?)?
        .checked_add(1)
}

/// `dst = scale · lhs · rhs`, or `dst += scale · lhs · rhs` with `accumulate`.
///
/// `dst` is row-major with rows `dst_row_stride` apart.
///
/// # Panics
/// On mismatched shapes or a `dst` too small for them (caller bugs).
pub(crate) fn gemm(
    dst: &mut [f32],
    dst_row_stride: usize,
    lhs: View<'_>,
    rhs: View<'_>,
    scale: f32,
    accumulate: bool,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(k, rhs.rows, "inner dimensions differ");
    assert!(
        reach(m, n, dst_row_stride, 1).is_some_and(|r| r <= dst.len()),
        "destination {m}x{n} (row stride {dst_row_stride}) exceeds its slice of {}",
        dst.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    let stride = |s: usize| isize::try_from(s).unwrap_or(isize::MAX);
    #[expect(
        unsafe_code,
        reason = "gemm's kernel takes raw pointers; View::new and the assert above bound every access"
    )]
    // SAFETY: `lhs`, `rhs` and `dst` reach at most `reach(..)` elements from
    // their first, which the checks above keep inside their slices; `dst` is a
    // unique borrow, so it cannot alias the inputs.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            stride(dst_row_stride),
            accumulate,
            lhs.data.as_ptr(),
            stride(lhs.col_stride),
            stride(lhs.row_stride),
            rhs.data.as_ptr(),
            stride(rhs.col_stride),
            stride(rhs.row_stride),
            1.0,
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        out
    }

    #[test]
    fn matches_naive_product_with_transposed_and_strided_operands() {
        let (m, k, n) = (7, 13, 5);
        let a: Vec<f32> = (0..m * k).map(|i| (i % 11) as f32 - 5.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.5).collect();
        let expected = naive(&a, &b, m, k, n);

        let mut dst = vec![0.0; m * n];
        gemm(
            &mut dst,
            n,
            View::rows(&a, m, k, k),
            View::rows(&b, k, n, n),
            1.0,
            false,
        );
        assert_eq!(dst, expected);

        // rhs given as its transpose (n × k row-major), read with swapped strides.
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let mut dst2 = vec![1.0; m * n];
        gemm(
            &mut dst2,
            n,
            View::rows(&a, m, k, k),
            View::new(&bt, k, n, 1, k),
            2.0,
            true,
        );
        let want: Vec<f32> = expected.iter().map(|x| 1.0 + 2.0 * x).collect();
        assert_eq!(dst2, want);
    }

    #[test]
    #[should_panic(expected = "exceeds")]
    fn out_of_bounds_views_are_refused() {
        let data = [0.0f32; 10];
        let _ = View::rows(&data, 3, 4, 4);
    }

    #[test]
    fn reach_refuses_a_span_that_overflows() {
        assert_eq!(reach(3, 4, 4, 1), Some(12));
        assert_eq!(reach(0, usize::MAX, usize::MAX, usize::MAX), Some(0));
        // Unchecked, (2^63 + 1 - 1) · 2 + 0 + 1 wraps to 1 in a release
        // build: a "one element" view of an enormous matrix.
        let half = 1usize << (usize::BITS - 1);
        assert_eq!(reach(half + 1, 1, 2, 1), None);
        assert_eq!(reach(2, half + 1, 1, 2), None);
        assert_eq!(reach(2, 2, usize::MAX, 1), None, "the sum overflows");
    }

    /// In a debug build the old unchecked product panicked with "attempt to
    /// multiply with overflow"; in release it wrapped and passed. See: #13
    #[test]
    #[should_panic(expected = "exceeds")]
    fn a_view_whose_span_wraps_is_refused() {
        let data = [0.0f32; 1];
        let half = 1usize << (usize::BITS - 1);
        let _ = View::rows(&data, half + 1, 1, 2);
    }

    #[test]
    #[should_panic(expected = "exceeds")]
    fn a_destination_whose_span_wraps_is_refused() {
        let a = [1.0f32; 4];
        let mut dst = [0.0f32; 1];
        // Three rows 2^63 apart: 2 · 2^63 wraps to 0, so an unchecked span is 1.
        let half = 1usize << (usize::BITS - 1);
        gemm(
            &mut dst,
            half,
            View::rows(&a, 3, 1, 1),
            View::rows(&a, 1, 1, 1),
            1.0,
            false,
        );
    }
}
