//! Matrix products in bf16 with fp32 accumulation, on the CPU's matrix units: AMX tiles where
//! present, AVX512-BF16 dot products otherwise. [`use_precision`] turns them on for the whole
//! process; [`unit`] says which the CPU has (none: the products stay fp32).
//!
//! Both kernels multiply the same packed operands: `a` rounded to bf16 (nearest, ties to even)
//! row by row, `k` padded with zeros to a multiple of [`KB`]; `b` rounded and laid out for the
//! units' pairwise dot products ("VNNI": element `(2p + e, j)` at `[j / 16][p][j % 16][e]`). The
//! output is computed in blocks of [`MB`] x [`NB`] whose every element is one fp32 sum over `k` in
//! a fixed order, so a row's numbers depend neither on the thread count nor on the other rows of
//! its batch.

mod amx;
mod avx512;
mod pack;

use std::sync::OnceLock;

use gemm::Parallelism;
use goodhart_core::precision::{self, Precision};
use rayon::prelude::*;

/// Rows of an output block (two AMX tiles of 16).
const MB: usize = 32;
/// Columns of an output block (two AMX tiles of 16 fp32).
const NB: usize = 32;
/// The depth one AMX tile holds (32 bf16 in a 64-byte row).
const KB: usize = 32;

/// Right-hand operands with at least this many elements are packed on several threads.
const PARALLEL_PACK: usize = 1 << 18;

/// A CPU unit that multiplies bf16 with fp32 accumulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Intel's Advanced Matrix Extensions: 16 x 16 fp32 tiles of 16 x 32 by 32 x 16 bf16.
    Amx,
    /// AVX-512 `vdpbf16ps`: sixteen pairwise bf16 dot products per instruction.
    Avx512Bf16,
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Unit::Amx => "AMX",
            Unit::Avx512Bf16 => "AVX512-BF16",
        })
    }
}

/// The bf16 unit this CPU has, the best first (`None`: fp32 only). AMX counts only when the
/// kernel grants this process its tile state.
pub fn unit() -> Option<Unit> {
    static UNIT: OnceLock<Option<Unit>> = OnceLock::new();
    *UNIT.get_or_init(|| {
        if amx::available() {
            Some(Unit::Amx)
        } else if avx512::available() {
            Some(Unit::Avx512Bf16)
        } else {
            None
        }
    })
}

/// Every bf16 unit this CPU has (the tests run each).
pub fn units() -> Vec<Unit> {
    let mut all = Vec::new();
    if amx::available() {
        all.push(Unit::Amx);
    }
    if avx512::available() {
        all.push(Unit::Avx512Bf16);
    }
    all
}

/// Makes every matrix product of the process use `requested` where the CPU can, and returns the
/// precision in effect: bf16 on a CPU without a bf16 unit stays f32 (the numbers, and so the
/// store's keys, are then f32's).
pub fn use_precision(requested: Precision) -> Precision {
    let effective = match requested {
        Precision::Bf16 if unit().is_some() => Precision::Bf16,
        _ => Precision::F32,
    };
    precision::set(effective);
    effective
}

/// The unit the matrix products use now: `None` while the precision in effect is f32.
#[inline]
pub fn in_effect() -> Option<Unit> {
    match precision::current() {
        Precision::Bf16 => unit(),
        Precision::F32 => None,
    }
}

/// `x` rounded to the nearest bf16 (ties to even), as its 16 bits, as the CPUs' conversion
/// instruction rounds (`vcvtneps2bf16`): subnormals become zero of their sign, NaN stays NaN
/// (quieted).
#[inline(always)]
pub fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    if x.is_subnormal() {
        return ((bits >> 16) & 0x8000) as u16;
    }
    let rounding = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(rounding) >> 16) as u16
}

/// The float a bf16 stands for (exact).
#[inline(always)]
pub fn from_bf16(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

/// A `k x n` right-hand operand rounded and laid out for the units once, for products that
/// reuse it (the inference engine's weights).
#[derive(Debug, Clone)]
pub(crate) struct PackedB {
    k: usize,
    n: usize,
    kp: usize,
    data: Vec<u16>,
}

impl PackedB {
    /// `b` (`k x n`, strides `(b_rs, b_cs)`) packed, on rayon's threads when `parallel`.
    ///
    /// # Panics
    /// If a stride reaches past `b`.
    pub(crate) fn new(k: usize, n: usize, b: &[f32], b_strides: (usize, usize), parallel: bool) -> Self {
        assert!(
            k == 0 || n == 0 || b.len() > (k - 1) * b_strides.0 + (n - 1) * b_strides.1,
            "bf16 gemm: b is shorter than its shape"
        );
        let kp = round_up(k.max(1), KB);
        PackedB { k, n, kp, data: pack::pack_b(k, n, kp, b, b_strides, parallel) }
    }
}

/// A pointer shared by tasks that write disjoint parts of its buffer (the output's row blocks,
/// the packed operand's pairs).
#[derive(Clone, Copy)]
struct OutPtr<T>(*mut T);
// SAFETY: the users' tasks write disjoint elements (see `gemm_packed`, `pack::pack_b`).
unsafe impl<T> Send for OutPtr<T> {}
unsafe impl<T> Sync for OutPtr<T> {}

impl<T> OutPtr<T> {
    fn new(p: *mut T) -> Self {
        OutPtr(p)
    }

    /// The pointer (a method, so that closures capture the whole `Send` wrapper).
    fn get(self) -> *mut T {
        self.0
    }
}

/// `out (m x n) = out + beta a b` (or `beta a b` unless `accumulate`) on `unit`, `a` `m x k` and
/// `b` `k x n` given by their row and column strides, as `gemm::gemm` takes them.
///
/// # Panics
/// If a stride reaches past its slice.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    unit: Unit,
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
    parallelism: Parallelism,
) {
    let parallel = !matches!(parallelism, Parallelism::None);
    if m == 0 || n == 0 {
        return;
    }
    // packing is a pass over b: worth other threads only when b is large
    let b = PackedB::new(k, n, b, b_strides, parallel && k * n >= PARALLEL_PACK);
    gemm_packed(unit, m, out, out_rs, accumulate, a, a_strides, &b, beta, parallel);
}

/// [`gemm`] with `b` packed already.
///
/// # Panics
/// If a stride reaches past its slice.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_packed(
    unit: Unit,
    m: usize,
    out: &mut [f32],
    out_rs: usize,
    accumulate: bool,
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    b: &PackedB,
    beta: f32,
    parallel: bool,
) {
    let PackedB { k, n, kp, data: ref bp } = *b;
    if m == 0 || n == 0 {
        return;
    }
    assert!(out.len() > (m - 1) * out_rs + n - 1, "bf16 gemm: out is shorter than its shape");
    assert!(k == 0 || a.len() > (m - 1) * a_rs + (k - 1) * a_cs, "bf16 gemm: a is shorter than its shape");
    let out_ptr = OutPtr(out.as_mut_ptr());
    let row_block = |ib: usize| {
        let i0 = ib * MB;
        let rows = (m - i0).min(MB);
        let mut ap = vec![0u16; MB * kp];
        pack::pack_a(&mut ap, kp, a, (a_rs, a_cs), i0, rows, k);
        let mut tile = [0.0f32; MB * NB];
        let mut session = unit.session();
        for jb in 0..n.div_ceil(NB) {
            let j0 = jb * NB;
            let cols = (n - j0).min(NB);
            session.block(&ap, &bp[jb * NB * kp..(jb + 1) * NB * kp], kp, &mut tile);
            for r in 0..rows {
                let at = (i0 + r) * out_rs + j0;
                // SAFETY: rows `i0 .. i0 + rows` belong to this task alone, and the assert at
                // the top keeps `at + cols` inside `out`.
                let dst = unsafe { std::slice::from_raw_parts_mut(out_ptr.get().add(at), cols) };
                store_row(dst, &tile[r * NB..r * NB + cols], beta, accumulate);
            }
        }
    };
    let blocks = m.div_ceil(MB);
    if parallel && blocks > 1 {
        // one contiguous run of blocks per thread: a block is a few microseconds on AMX, less
        // than waking a thread for it
        let per_thread = blocks.div_ceil(rayon::current_num_threads());
        (0..blocks).into_par_iter().with_min_len(per_thread).for_each(row_block);
    } else {
        (0..blocks).for_each(row_block);
    }
}

crate::kernels::kernel! {
    /// `dst = dst + beta src` (or `beta src` unless `accumulate`): a row of a block's output.
    fn store_row(dst: &mut [f32], src: &[f32], beta: f32, accumulate: bool) {
        if accumulate {
            dst.iter_mut().zip(src).for_each(|(o, &t)| *o += beta * t);
        } else {
            dst.iter_mut().zip(src).for_each(|(o, &t)| *o = beta * t);
        }
    }
}

/// A unit set up to multiply blocks on the calling thread (AMX: the tile configuration loaded,
/// and released on drop).
enum Session {
    Amx(amx::Tiles),
    Avx512,
}

impl Unit {
    fn session(self) -> Session {
        match self {
            Unit::Amx => Session::Amx(amx::Tiles::configure()),
            Unit::Avx512Bf16 => Session::Avx512,
        }
    }
}

impl Session {
    /// `tile (MB x NB, row-major) = a b` for one block: `a` [`MB`] packed rows of `kp`, `b` the
    /// block's [`NB`] packed columns.
    fn block(&mut self, a: &[u16], b: &[u16], kp: usize, tile: &mut [f32; MB * NB]) {
        debug_assert_eq!(a.len(), MB * kp);
        debug_assert_eq!(b.len(), NB * kp);
        match self {
            Session::Amx(tiles) => tiles.block(a, b, kp, tile),
            Session::Avx512 => avx512::block(a, b, kp, tile),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The product of the bf16-rounded operands in f64, and the bound fp32 accumulation keeps to:
    /// `k` roundings of partial sums no larger than `Σ |a||b|`.
    fn reference(m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let r = |x: f32| f64::from(from_bf16(to_bf16(x)));
        let mut want = vec![0.0; m * n];
        let mut bound = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for l in 0..k {
                    let p = r(a[i * k + l]) * r(b[l * n + j]);
                    want[i * n + j] += p;
                    bound[i * n + j] += p.abs();
                }
                bound[i * n + j] *= (k as f64 + 2.0) * f64::from(f32::EPSILON);
            }
        }
        (want, bound)
    }

    #[test]
    fn rounding_is_to_nearest_even_and_keeps_specials() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0)
        assert_eq!(from_bf16(to_bf16(1.0 + 1.0 / 256.0)), 1.0);
        // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to the even one
        assert_eq!(from_bf16(to_bf16(1.0 + 3.0 / 256.0)), 1.0 + 4.0 / 256.0);
        assert_eq!(from_bf16(to_bf16(f32::INFINITY)), f32::INFINITY);
        assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
        assert_eq!(from_bf16(to_bf16(-0.0)).to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn each_unit_matches_the_rounded_product_with_strides_and_accumulation() {
        for unit in units() {
            let (m, n, k) = (37, 45, 70);
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.91).cos()).collect();
            let (want, bound) = reference(m, n, k, &a, &b);
            // b given transposed (column-major), out wider than n, accumulating onto 1.0
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let out_rs = n + 3;
            let mut out = vec![1.0f32; m * out_rs];
            gemm(unit, m, n, k, &mut out, out_rs, true, &a, (k, 1), &bt, (1, k), 0.5, Parallelism::Rayon(0));
            for i in 0..m {
                for j in 0..n {
                    let got = f64::from(out[i * out_rs + j]);
                    let want = 1.0 + 0.5 * want[i * n + j];
                    assert!(
                        (got - want).abs() <= 0.5 * bound[i * n + j] + 1e-6,
                        "{unit} ({i}, {j}): {got} vs {want}"
                    );
                }
                assert!(
                    out[i * out_rs + n..(i + 1) * out_rs].iter().all(|&x| x == 1.0),
                    "{unit}: wrote past n"
                );
            }
        }
    }

    #[test]
    fn a_rows_numbers_do_not_depend_on_its_batch_or_the_threads() {
        for unit in units() {
            let (m, n, k) = (70, 33, 40);
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.13).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.71).cos()).collect();
            let mut all = vec![0.0f32; m * n];
            gemm(unit, m, n, k, &mut all, n, false, &a, (k, 1), &b, (n, 1), 1.0, Parallelism::Rayon(0));
            let mut one = vec![0.0f32; n];
            gemm(unit, 1, n, k, &mut one, n, false, &a[50 * k..], (k, 1), &b, (n, 1), 1.0, Parallelism::None);
            assert_eq!(one, all[50 * n..51 * n], "{unit}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn every_shape_matches_the_rounded_product(m in 1usize..40, n in 1usize..40, k in 0usize..70, seed in 0u32..1000) {
            for unit in units() {
                let a: Vec<f32> = (0..m * k).map(|i| ((i as u32 * 7 + seed) as f32 * 0.29).sin() * 3.0).collect();
                let b: Vec<f32> = (0..k * n).map(|i| ((i as u32 * 3 + seed) as f32 * 0.53).cos()).collect();
                let (want, bound) = reference(m, n, k, &a, &b);
                let mut out = vec![f32::NAN; m * n];
                gemm(unit, m, n, k, &mut out, n, false, &a, (k, 1), &b, (n, 1), 1.0, Parallelism::None);
                for (idx, (&got, (&w, &e))) in out.iter().zip(want.iter().zip(&bound)).enumerate() {
                    prop_assert!((f64::from(got) - w).abs() <= e + 1e-6, "{} at {}: {} vs {}", unit, idx, got, w);
                }
            }
        }

        #[test]
        fn rounding_is_within_half_a_bf16_ulp(x in -1e30f32..1e30) {
            let r = from_bf16(to_bf16(x));
            prop_assert!((r - x).abs() <= x.abs() * (1.0 / 256.0) + f32::MIN_POSITIVE);
        }
    }
}
