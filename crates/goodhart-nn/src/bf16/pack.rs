//! Rounding operands to bf16 into the kernels' layouts: `a` row by row, `b` in pairs of `k`
//! ("VNNI"). The common layouts (rows contiguous, or columns contiguous: a transposed operand)
//! round sixteen floats at a time with AVX512-BF16's conversion, bit for bit as [`to_bf16`];
//! any other strides take the scalar loop.

use super::{round_up, to_bf16, NB};

/// Rounds 16 floats to bf16, each in the low half of a 32-bit lane, as [`to_bf16`] does (the
/// instruction's rounding: nearest even, subnormals to zero, NaN quieted).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn round16(src: *const f32) -> std::arch::x86_64::__m512i {
    use std::arch::x86_64::*;
    let h: __m256i = std::mem::transmute(_mm512_cvtneps_pbh(_mm512_loadu_ps(src)));
    _mm512_cvtepu16_epi32(h)
}

/// Rounds 32 floats (two rows of 16 columns) to bf16 pairs: `(r0[c], r1[c])` at `[c][0..2]`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn pairs16(r0: *const f32, r1: *const f32) -> std::arch::x86_64::__m512i {
    use std::arch::x86_64::*;
    // low 256 bits: r0's 16 halves, high: r1's; interleave them
    let both: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(_mm512_loadu_ps(r1), _mm512_loadu_ps(r0)));
    const IDX: [i16; 32] = [
        0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29,
        14, 30, 15, 31,
    ];
    _mm512_permutexvar_epi16(_mm512_loadu_si512(IDX.as_ptr().cast()), both)
}

/// The CPU can take the vector paths (every CPU with a bf16 unit so far can: Sapphire Rapids
/// and later, Zen 4 and later).
fn vector() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Rows `i0 .. i0 + rows` of `a` (`m x k`, strides `(a_rs, a_cs)`) into `dst` (`MB` rows of `kp`,
/// zero-padded; rows past `rows` left as they are).
pub(super) fn pack_a(
    dst: &mut [u16],
    kp: usize,
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    i0: usize,
    rows: usize,
    k: usize,
) {
    if k == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if vector() && (a_cs == 1 || (a_rs == 1 && rows == super::MB)) {
        // SAFETY: AVX-512F is present (`vector`); the functions check their own bounds.
        unsafe {
            if a_cs == 1 {
                a_rows_x86(dst, kp, a, a_rs, i0, rows, k);
            } else {
                a_columns_x86(dst, kp, a, a_cs, i0, k);
            }
        }
        return;
    }
    for (r, row) in dst.chunks_exact_mut(kp).take(rows).enumerate() {
        for (l, d) in row.iter_mut().enumerate().take(k) {
            *d = to_bf16(a[(i0 + r) * a_rs + l * a_cs]);
        }
        row[k..].fill(0);
    }
}

/// [`pack_a`] of rows that are contiguous (`a_cs == 1`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn a_rows_x86(dst: &mut [u16], kp: usize, a: &[f32], a_rs: usize, i0: usize, rows: usize, k: usize) {
    use std::arch::x86_64::*;
    for (r, row) in dst.chunks_exact_mut(kp).take(rows).enumerate() {
        let src = &a[(i0 + r) * a_rs..(i0 + r) * a_rs + k];
        let whole = k / 16 * 16;
        for l in (0..whole).step_by(16) {
            // SAFETY: 16 floats from `l + 16 <= k` lie in `src`, and 16 u16 in `row` (`kp >= k`).
            let v = _mm512_cvtepi32_epi16(round16(src.as_ptr().add(l)));
            _mm256_storeu_si256(row.as_mut_ptr().add(l).cast(), v);
        }
        for l in whole..k {
            row[l] = to_bf16(src[l]);
        }
        row[k..].fill(0);
    }
}

/// [`pack_a`] of a whole block of a transposed `a` (`a_rs == 1`): the block's 32 rows of one
/// column are contiguous.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn a_columns_x86(dst: &mut [u16], kp: usize, a: &[f32], a_cs: usize, i0: usize, k: usize) {
    use std::arch::x86_64::*;
    let mut lanes = [0u32; 32];
    for l in 0..k {
        let at = i0 + l * a_cs;
        assert!(at + 32 <= a.len());
        // SAFETY: 32 floats at `at` (asserted)
        _mm512_storeu_si512(lanes.as_mut_ptr().cast(), round16(a.as_ptr().add(at)));
        _mm512_storeu_si512(lanes.as_mut_ptr().add(16).cast(), round16(a.as_ptr().add(at + 16)));
        for (r, &h) in lanes.iter().enumerate() {
            dst[r * kp + l] = h as u16;
        }
    }
    for row in dst.chunks_exact_mut(kp) {
        row[k..].fill(0);
    }
}

/// Every whole 16-column panel of [`pack_b`] with rows contiguous (`b_cs == 1`): rows `2p` and
/// `2p + 1` interleaved, read along the rows (a panel at a time would stride down `b`, which
/// the prefetchers follow badly).
#[allow(clippy::too_many_arguments)]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn b_rows_x86(
    packed: *mut u16,
    len: usize,
    kp: usize,
    b: &[f32],
    b_rs: usize,
    n: usize,
    k: usize,
    pairs: std::ops::Range<usize>,
) {
    use std::arch::x86_64::*;
    let panels = n / 16;
    assert!(len >= panels * 16 * kp && pairs.end <= k / 2);
    for p in pairs {
        let (r0, r1) = (2 * p * b_rs, (2 * p + 1) * b_rs);
        assert!(r1 + n <= b.len());
        for jb in 0..panels {
            // SAFETY: 16 floats at `r + 16 jb + 16 <= r + n` (asserted), 32 u16 at pair `p`
            // of panel `jb`, inside `packed` (asserted: `p < kp / 2`)
            let v = pairs16(b.as_ptr().add(r0 + 16 * jb), b.as_ptr().add(r1 + 16 * jb));
            _mm512_storeu_si512(packed.add(jb * 16 * kp + 32 * p).cast(), v);
        }
    }
}

/// One 16-column panel of [`pack_b`] with columns contiguous (`b_rs == 1`, b transposed).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn b_columns_x86(panel: &mut [u16], b: &[f32], b_cs: usize, j0: usize, k: usize) {
    use std::arch::x86_64::*;
    let mut lanes = [0u32; 32];
    for c in 0..16 {
        let col = (j0 + c) * b_cs;
        let whole = k / 32 * 32;
        for l0 in (0..whole).step_by(32) {
            assert!(col + l0 + 32 <= b.len());
            // SAFETY: 32 floats of the column (asserted)
            _mm512_storeu_si512(lanes.as_mut_ptr().cast(), round16(b.as_ptr().add(col + l0)));
            _mm512_storeu_si512(lanes.as_mut_ptr().add(16).cast(), round16(b.as_ptr().add(col + l0 + 16)));
            for (e, &h) in lanes.iter().enumerate() {
                let l = l0 + e;
                panel[32 * (l / 2) + 2 * c + l % 2] = h as u16;
            }
        }
        for l in whole..k {
            panel[32 * (l / 2) + 2 * c + l % 2] = to_bf16(b[col + l]);
        }
    }
}

/// `b` (`k x n`, strides `(b_rs, b_cs)`) rounded to bf16 in the units' pair layout: element
/// `(2p + e, j)` at `[j / 16][p][j % 16][e]`, `k` padded to `kp` and `n` to a multiple of
/// [`NB`] with zeros; panels of 16 columns on rayon's threads when `parallel`.
pub(super) fn pack_b(
    k: usize,
    n: usize,
    kp: usize,
    b: &[f32],
    (b_rs, b_cs): (usize, usize),
    parallel: bool,
) -> Vec<u16> {
    use rayon::prelude::*;
    let np = round_up(n, NB);
    let mut packed = vec![0u16; np * kp];
    let pack_panel = |(jb, panel): (usize, &mut [u16])| {
        let j0 = jb * 16;
        let cols = n.saturating_sub(j0).min(16);
        if cols == 0 {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if vector() && cols == 16 && (b_cs == 1 || b_rs == 1) {
            if b_cs == 1 {
                return; // packed below, all panels at once
            }
            // SAFETY: AVX-512F is present (`vector`); the function checks its own bounds.
            unsafe { b_columns_x86(panel, b, b_cs, j0, k) };
            return;
        }
        for p in 0..kp / 2 {
            for c in 0..cols {
                for e in 0..2 {
                    let l = 2 * p + e;
                    if l < k {
                        panel[32 * p + 2 * c + e] = to_bf16(b[l * b_rs + (j0 + c) * b_cs]);
                    }
                }
            }
        }
    };
    if parallel {
        packed.par_chunks_mut(kp * 16).enumerate().for_each(pack_panel);
    } else {
        packed.chunks_mut(kp * 16).enumerate().for_each(pack_panel);
    }
    #[cfg(target_arch = "x86_64")]
    if vector() && b_cs == 1 && n >= 16 {
        let (len, at) = (packed.len(), super::OutPtr::new(packed.as_mut_ptr()));
        let pairs = k / 2;
        // SAFETY: the vector features are present (`vector`); `b_rows_x86` checks its bounds,
        // and the tasks write disjoint pairs.
        let run =
            |range: std::ops::Range<usize>| unsafe { b_rows_x86(at.get(), len, kp, b, b_rs, n, k, range) };
        if parallel {
            let step = pairs.div_ceil(rayon::current_num_threads()).max(1);
            (0..pairs.div_ceil(step))
                .into_par_iter()
                .for_each(|t| run(t * step..((t + 1) * step).min(pairs)));
        } else {
            run(0..pairs);
        }
        if k % 2 == 1 {
            for j in 0..n / 16 * 16 {
                packed[(j / 16) * 16 * kp + 32 * (k / 2) + 2 * (j % 16)] = to_bf16(b[(k - 1) * b_rs + j]);
            }
        }
    }
    packed
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The layout of [`pack_b`], element by element with [`to_bf16`].
    fn scalar_b(k: usize, n: usize, kp: usize, b: &[f32], (rs, cs): (usize, usize)) -> Vec<u16> {
        let mut want = vec![0u16; round_up(n, NB) * kp];
        for l in 0..k {
            for j in 0..n {
                want[(j / 16) * 16 * kp + 32 * (l / 2) + 2 * (j % 16) + l % 2] = to_bf16(b[l * rs + j * cs]);
            }
        }
        want
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        // any bits: NaNs, infinities, subnormals and signed zeros round as the scalar rule says
        #[test]
        fn vector_packing_rounds_every_float_as_the_scalar_rule(
            bits in proptest::collection::vec(any::<u32>(), 50 * 40),
            k in 1usize..50,
            n in 1usize..40,
        ) {
            let b: Vec<f32> = bits.iter().map(|&x| f32::from_bits(x)).collect();
            let kp = round_up(k, super::super::KB);
            for strides in [(n, 1), (1, k)] {
                let got = pack_b(k, n, kp, &b, strides, false);
                prop_assert_eq!(&got, &scalar_b(k, n, kp, &b, strides), "b with strides {:?}", strides);
            }
            // a: rows contiguous, and a transposed whole block of 32 rows
            for (m, strides) in [(32usize.min(b.len() / k), (k, 1)), (32, (1, 32))] {
                let mut got = vec![7u16; super::super::MB * kp];
                pack_a(&mut got, kp, &b, strides, 0, m, k);
                for r in 0..m {
                    for l in 0..kp {
                        let want = if l < k { to_bf16(b[r * strides.0 + l * strides.1]) } else { 0 };
                        prop_assert_eq!(got[r * kp + l], want, "a ({}, {}) with strides {:?}", r, l, strides);
                    }
                }
            }
        }
    }
}
