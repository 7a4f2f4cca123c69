//! The AVX512-BF16 kernel: one [`MB`] x [`NB`] output block, eight rows at a time in sixteen
//! accumulators (two vectors of 16 columns per row); each step over a pair of `k` broadcasts a
//! row's bf16 pair and takes `vdpbf16ps` against the block's two column panels.

use super::{MB, NB};

/// The CPU has AVX512-BF16 (and AVX-512F).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bf16") && std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `tile = a b` for one block (see `Session::block`).
pub(crate) fn block(a: &[u16], b: &[u16], kp: usize, tile: &mut [f32; MB * NB]) {
    assert!(available(), "AVX512-BF16 used on a CPU without it");
    assert!(kp.is_multiple_of(2) && a.len() >= MB * kp && b.len() >= NB * kp);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU has the features (asserted above) and the slices their lengths.
    unsafe {
        block_x86(a, b, kp, tile)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn block_x86(a: &[u16], b: &[u16], kp: usize, tile: &mut [f32; MB * NB]) {
    use std::arch::x86_64::*;
    const ROWS: usize = 8;
    let (b0, b1) = (b.as_ptr(), b.as_ptr().add(16 * kp));
    for r0 in (0..MB).step_by(ROWS) {
        let mut acc = [[_mm512_setzero_ps(); 2]; ROWS];
        for p in 0..kp / 2 {
            // SAFETY (loads): panel rows `p < kp / 2` of 32 bf16 lie inside `b`'s two panels
            let v0: __m512bh = std::mem::transmute(_mm512_loadu_si512(b0.add(32 * p).cast()));
            let v1: __m512bh = std::mem::transmute(_mm512_loadu_si512(b1.add(32 * p).cast()));
            for (r, acc) in acc.iter_mut().enumerate() {
                let row = a.as_ptr().add((r0 + r) * kp + 2 * p);
                let pair: __m512bh =
                    std::mem::transmute(_mm512_set1_epi32(row.cast::<i32>().read_unaligned()));
                acc[0] = _mm512_dpbf16_ps(acc[0], pair, v0);
                acc[1] = _mm512_dpbf16_ps(acc[1], pair, v1);
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let out = tile.as_mut_ptr().add((r0 + r) * NB);
            _mm512_storeu_ps(out, acc[0]);
            _mm512_storeu_ps(out.add(16), acc[1]);
        }
    }
}
