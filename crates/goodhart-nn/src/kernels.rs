//! The numerical kernels the CPU engine (inference) and the fused training operations share:
//! one `exp`, one `erf`, one GELU, one LayerNorm row, one softmax, one dot product, and the
//! `kernel!` macro that compiles a loop for AVX2 where the CPU has it. No burn types: slices in,
//! slices out.
//!
//! Every function here computes the same floats whatever the instruction set: no fused
//! multiply-add and no reassociation (sums run in a fixed order), so a vectorised copy rounds
//! like the plain one.

/// Epsilon of every LayerNorm in the crate.
pub(crate) const LN_EPS: f64 = 1e-5;

/// Defines a kernel function whose body is compiled three times, plain, for AVX2 and for
/// AVX-512, and runs the widest copy the CPU has (the same numbers: see the module docs). The
/// body is an `#[inline(always)]` function, so it is certain to be compiled inside each copy.
macro_rules! kernel {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512($($arg: $ty),*) {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F (checked just above).
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

/// Independent accumulators of every sum, maximum and dot product here: a float sum runs in
/// one order (floats do not reassociate), so a single accumulator is a chain no vector unit can
/// split; sixteen lanes fill an AVX-512 register (two AVX2, four NEON), and the lanes are
/// combined in one fixed order, so every instruction set computes the same floats.
const LANES: usize = 16;

/// The lanes combined in order, lane 0 first (an order the vectorisers keep the lanes apart for:
/// a pairwise tree made them pack two lanes per register, on x86 as on NEON).
#[inline(always)]
fn combine(acc: [f32; LANES], op: impl Fn(f32, f32) -> f32) -> f32 {
    acc[1..].iter().fold(acc[0], |a, &b| op(a, b))
}

/// `Σ f(x)` over `xs` in [`LANES`] lanes (the tail's terms added last, in order).
#[inline(always)]
pub(crate) fn sum_map(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder();
    let mut acc = [0.0f32; LANES];
    for c in chunks {
        for k in 0..LANES {
            acc[k] += f(c[k]);
        }
    }
    tail.iter().fold(combine(acc, |a, b| a + b), |s, &x| s + f(x))
}

/// `Σ xs`, as [`sum_map`].
#[inline(always)]
pub(crate) fn sum(xs: &[f32]) -> f32 {
    sum_map(xs, |x| x)
}

/// The largest of `xs` (`-inf` for none), in [`LANES`] lanes.
#[inline(always)]
pub(crate) fn max(xs: &[f32]) -> f32 {
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder();
    let mut acc = [f32::NEG_INFINITY; LANES];
    for c in chunks {
        for k in 0..LANES {
            acc[k] = acc[k].max(c[k]);
        }
    }
    tail.iter().fold(combine(acc, f32::max), |m, &x| m.max(x))
}

/// `e^x` in single precision, branch-free so that loops over it vectorise (`f32::exp` is a libm
/// call per element): Cephes' `expf`, a Cody-Waite reduction to `r` in `[-ln2/2, ln2/2]` and a
/// degree-6 polynomial, within 2 ulp of `f32::exp` (tests below). Inputs are clamped to
/// `[-87.3, 88.3]`, where the result stays a normal float.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding and subtracting rounds to an integer
    let x = x.clamp(-87.3, 88.3);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e = p * (r * r) + r + 1.0;
    // 2^n from the bits of `shifted`, which are ROUND's plus n in the low mantissa bits: integer
    // arithmetic that vectorises (`n as i32` saturates, and that compiles to one scalar
    // conversion per lane)
    let two_n = shifted.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127) << 23;
    e * f32::from_bits(two_n)
}

pub(crate) use kernel;

/// The error function in single precision: a rational approximation on [-4, 4] (Eigen's and
/// TensorFlow's `erf` for float), within a few ulp of `libm::erff`, and branch-free so that
/// the GELU loop vectorises.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906_3e-4;
    p = x2 * p + -2.9546e-3;
    p = x2 * p + -1.609_603_3e-2;
    let p = x * p;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329_3e-3;
    q = x2 * q + -1.426_473_9e-2;
    p / q
}

/// `x Φ(x)`, the exact GELU.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// LayerNorm of one row: `y = (x - μ)/σ · γ + β` with `σ = sqrt(var + eps)`; writes `x̂` too
/// when `x_hat` is not empty; returns `1/σ`.
#[inline(always)]
pub(crate) fn layer_norm_row(
    y: &mut [f32],
    x_hat: &mut [f32],
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) -> f32 {
    let d = gamma.len();
    let mean = sum(x) / d as f32;
    let var = sum_map(x, |v| (v - mean) * (v - mean)) / d as f32;
    let inv = 1.0 / (var + eps).sqrt();
    for (((o, &v), &g), &b) in y.iter_mut().zip(x).zip(gamma).zip(beta) {
        *o = (v - mean) * inv * g + b;
    }
    if !x_hat.is_empty() {
        for (h, &v) in x_hat.iter_mut().zip(x) {
            *h = (v - mean) * inv;
        }
    }
    inv
}

/// Replaces `s` by `exp(s - max s)` and returns their sum: a softmax before its normalisation
/// (callers divide, or fold `1/sum` into what they compute next).
#[inline(always)]
pub(crate) fn softmax_unnormalised(s: &mut [f32]) -> f32 {
    let m = max(s);
    for v in s.iter_mut() {
        *v = exp(*v - m);
    }
    sum(s)
}

/// `log Σ_j exp(row_j)`, shifted by the row's maximum so that it cannot overflow.
#[inline(always)]
pub fn logsumexp(row: &[f32]) -> f32 {
    let m = max(row);
    m + sum_map(row, |x| exp(x - m)).ln()
}

/// `a · b` in [`LANES`] lanes.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..LANES {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s = combine(acc, |a, b| a + b);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// `Σ a_i b_i c_i` in [`LANES`] lanes (each term `(a_i b_i) c_i`).
#[inline(always)]
pub(crate) fn dot3(a: &[f32], b: &[f32], c: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (ca, cb, cc) = (a.chunks_exact(LANES), b.chunks_exact(LANES), c.chunks_exact(LANES));
    let (ra, rb, rc) = (ca.remainder(), cb.remainder(), cc.remainder());
    for ((x, y), z) in ca.zip(cb).zip(cc) {
        for k in 0..LANES {
            acc[k] += x[k] * y[k] * z[k];
        }
    }
    let mut s = combine(acc, |a, b| a + b);
    for ((x, y), z) in ra.iter().zip(rb).zip(rc) {
        s += x * y * z;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn erf_matches_libm() {
        let mut worst = 0.0f32;
        for i in -60_000..=60_000 {
            let x = i as f32 * 1e-4;
            worst = worst.max((erf(x) - libm::erff(x)).abs());
        }
        assert!(worst < 1e-6, "max |erf - libm::erff| = {worst}");
    }

    proptest! {
        #[test]
        fn erf_is_odd_and_bounded(x in -100.0f32..100.0) {
            prop_assert_eq!(erf(-x), -erf(x));
            prop_assert!(erf(x).abs() <= 1.0 + 1e-6);
        }

        #[test]
        fn dot3_matches_naive(v in proptest::collection::vec((-10.0f32..10.0, -10.0f32..10.0, -3.0f32..3.0), 0..60)) {
            let naive: f64 = v.iter().map(|&(x, y, z)| x as f64 * y as f64 * z as f64).sum();
            let (a, (b, c)): (Vec<f32>, (Vec<f32>, Vec<f32>)) = v.into_iter().map(|(x, y, z)| (x, (y, z))).unzip();
            prop_assert!((dot3(&a, &b, &c) as f64 - naive).abs() < 1e-3 * (1.0 + naive.abs()));
        }

        #[test]
        fn dot_matches_naive(v in proptest::collection::vec((-10.0f32..10.0, -10.0f32..10.0), 0..40)) {
            let (a, b): (Vec<f32>, Vec<f32>) = v.into_iter().unzip();
            let naive: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
            prop_assert!((dot(&a, &b) as f64 - naive).abs() < 1e-3 * (1.0 + naive.abs()));
        }
    }

    // exp
    proptest! {
        #[test]
        fn exp_is_within_two_ulp_of_libm(x in -87.0f32..88.0) {
            let (got, want) = (exp(x), x.exp());
            prop_assert!((got - want).abs() <= 2.0 * f32::EPSILON * want, "exp({x}) = {got}, libm {want}");
        }

        #[test]
        fn exp_is_monotone_and_clamped(x in -200.0f32..200.0, dx in 0.0f32..1.0) {
            prop_assert!(exp(x + dx) >= exp(x) * (1.0 - 4.0 * f32::EPSILON));
            prop_assert!(exp(x).is_finite() && exp(x) > 0.0);
        }
    }

    proptest! {
        #[test]
        fn lane_sums_and_maxima_match_naive(v in proptest::collection::vec(-50.0f32..50.0, 0..70)) {
            let naive: f64 = v.iter().map(|&x| x as f64).sum();
            prop_assert!((sum(&v) as f64 - naive).abs() < 1e-3 * (1.0 + naive.abs()));
            let squares: f64 = v.iter().map(|&x| (x as f64) * (x as f64)).sum();
            prop_assert!((sum_map(&v, |x| x * x) as f64 - squares).abs() < 1e-4 * (1.0 + squares));
            let m = v.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            prop_assert_eq!(max(&v), m);
            if !v.is_empty() {
                let lse = m as f64 + v.iter().map(|&x| ((x - m) as f64).exp()).sum::<f64>().ln();
                prop_assert!((logsumexp(&v) as f64 - lse).abs() < 1e-5 * (1.0 + lse.abs()));
            }
        }
    }

    #[test]
    fn exp_of_zero_is_one() {
        assert_eq!(exp(0.0), 1.0);
    }
}
