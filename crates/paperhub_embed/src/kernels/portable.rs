//! fp32 products in plain Rust: the path every CPU can run, and the one the
//! others are checked against.
//!
//! Four rows of `x` share each row of the weight as it is read (an `axpy`
//! per row that the compiler vectorises at the baseline instruction set), so
//! the weight streams through the cache a quarter as often as row by row.

/// Rows of `x` that share one pass over the weight.
const ROWS: usize = 4;

/// `out[t] += x[t] · w` for `tokens` rows; `x` is `tokens × inputs`, `w` is
/// `inputs × outputs`, `out` is `tokens × outputs`, all row-major.
///
/// # Panics
/// When a slice is shorter than its shape (a caller bug).
pub(super) fn multiply_add(
    x: &[f32],
    tokens: usize,
    inputs: usize,
    w: &[f32],
    outputs: usize,
    out: &mut [f32],
) {
    if tokens == 0 || inputs == 0 || outputs == 0 {
        return;
    }
    let x = &x[..tokens * inputs];
    let w = &w[..inputs * outputs];
    let out = &mut out[..tokens * outputs];
    for (x_rows, out_rows) in x.chunks(ROWS * inputs).zip(out.chunks_mut(ROWS * outputs)) {
        let rows = out_rows.len() / outputs;
        if rows == ROWS {
            let (o0, rest) = out_rows.split_at_mut(outputs);
            let (o1, rest) = rest.split_at_mut(outputs);
            let (o2, o3) = rest.split_at_mut(outputs);
            for (p, w_row) in w.chunks_exact(outputs).enumerate() {
                let a = [
                    x_rows[p],
                    x_rows[inputs + p],
                    x_rows[2 * inputs + p],
                    x_rows[3 * inputs + p],
                ];
                for ((((&wv, d0), d1), d2), d3) in w_row
                    .iter()
                    .zip(o0.iter_mut())
                    .zip(o1.iter_mut())
                    .zip(o2.iter_mut())
                    .zip(o3.iter_mut())
                {
                    *d0 += a[0] * wv;
                    *d1 += a[1] * wv;
                    *d2 += a[2] * wv;
                    *d3 += a[3] * wv;
                }
            }
        } else {
            for (x_row, out_row) in x_rows
                .chunks_exact(inputs)
                .zip(out_rows.chunks_exact_mut(outputs))
            {
                for (&a, w_row) in x_row.iter().zip(w.chunks_exact(outputs)) {
                    for (d, &wv) in out_row.iter_mut().zip(w_row) {
                        *d += a * wv;
                    }
                }
            }
        }
    }
}
