//! The matrix products and the attention head the CPU engine (inference) and the fused training
//! operations share, beside [`crate::kernels`]: every product goes through [`gemm_with`] (f32
//! `gemm`, or the bf16 units when `precision = "bf16"` is in effect), and one head of causal
//! attention ([`attend_head`]) serves the training forward and the engine's prefill. The engine
//! and the fused operations import these and not each other.

use gemm::Parallelism;

use crate::kernels::{kernel, softmax_unnormalised};

/// One head of causal attention over one sequence, `x` its fused projection `[T, 3D]`:
/// `s = softmax(q kᵀ / √Dh + causal mask)` (`T x T`, kept for the backward pass), then `y = s v`
/// (`y`'s rows strided by `D`, its columns the head's). The training forward and the engine's
/// prefill share it.
pub(crate) fn attend_head(x: &[f32], t: usize, n_heads: usize, head: usize, s: &mut [f32], y: &mut [f32]) {
    let d3 = x.len() / t.max(1);
    let d = d3 / 3;
    let dh = d / n_heads;
    let scale = 1.0 / (dh as f32).sqrt();
    let (q, k, v) = (&x[head * dh..], &x[d + head * dh..], &x[2 * d + head * dh..]);
    // s = scale q kᵀ: q rows are strided by 3D; kᵀ reads k by columns.
    gemm_strided(t, t, dh, s, t, false, q, (d3, 1), k, (1, d3), scale);
    causal_softmax_kernel(s, t);
    gemm_strided(t, dh, t, y, d, false, s, (t, 1), v, (d3, 1), 1.0);
}

kernel! {
    /// Softmax of each row `i` of the `t x t` scores over columns `0 ..= i`; later columns
    /// become 0.
    fn causal_softmax_kernel(s: &mut [f32], t: usize) {
        for (i, row) in s.chunks_exact_mut(t).enumerate() {
            let (seen, future) = row.split_at_mut(i + 1);
            let inv = 1.0 / softmax_unnormalised(seen);
            seen.iter_mut().for_each(|v| *v *= inv);
            future.fill(0.0);
        }
    }
}

/// `out (m x n) = out + beta a b` (or `beta a b` unless `accumulate`), with `a` `m x k` and `b`
/// `k x n` given by their row and column strides (elements). Single-threaded: callers
/// parallelise over heads.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_strided(
    m: usize,
    n: usize,
    k: usize,
    out: &mut [f32],
    out_rs: usize,
    accumulate: bool,
    a: &[f32],
    a_strides: (usize, usize),
    b: &[f32],
    b_strides: (usize, usize),
    beta: f32,
) {
    gemm_with(m, n, k, out, out_rs, accumulate, a, a_strides, b, b_strides, beta, Parallelism::None)
}

/// `out (m x n) = a (m x k) b (k x n)`, all row-major, on every thread of rayon's pool: the
/// matrix product the fused layers use, for measuring the machine's rate on the models' shapes
/// (`cargo xtask bench`'s roofline).
///
/// # Panics
/// If a slice is shorter than its shape.
pub fn matmul(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], out: &mut [f32]) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && out.len() >= m * n,
        "matmul: a slice is shorter than its shape"
    );
    gemm_with(m, n, k, out, n, false, a, (k, 1), b, (n, 1), 1.0, Parallelism::Rayon(0));
}

/// [`gemm_strided`] with a choice of parallelism (`Rayon(0)`: every thread of rayon's pool).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_with(
    m: usize,
    n: usize,
    k: usize,
    out: &mut [f32],
    out_rs: usize,
    accumulate: bool,
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    b: &[f32],
    (b_rs, b_cs): (usize, usize),
    beta: f32,
    parallelism: Parallelism,
) {
    goodhart_core::flops::add(2 * (m * n * k) as u64);
    if let Some(unit) = crate::bf16::in_effect() {
        crate::bf16::gemm(
            unit,
            m,
            n,
            k,
            out,
            out_rs,
            accumulate,
            a,
            (a_rs, a_cs),
            b,
            (b_rs, b_cs),
            beta,
            parallelism,
        );
        return;
    }
    assert!(m == 0 || n == 0 || out.len() > (m - 1) * out_rs + n - 1);
    assert!(m == 0 || k == 0 || a.len() > (m - 1) * a_rs + (k - 1) * a_cs);
    assert!(k == 0 || n == 0 || b.len() > (k - 1) * b_rs + (n - 1) * b_cs);
    // SAFETY: the asserts above keep every element the strides reach inside its slice, and
    // `out` is a unique borrow, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            out_rs as isize,
            accumulate,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            1.0,
            beta,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn matmul_is_the_row_major_product() {
        let (m, n, k) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.91).cos()).collect();
        let mut out = vec![f32::NAN; m * n];
        super::matmul(m, n, k, &a, &b, &mut out);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
                assert!((out[i * n + j] - want).abs() < 1e-5, "({i}, {j}): {} vs {want}", out[i * n + j]);
            }
        }
    }
}
