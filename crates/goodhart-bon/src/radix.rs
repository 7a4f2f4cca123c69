//! Sorting a pool by proxy score, half the estimator's cost: an LSD radix sort of 8-byte
//! (key, index) pairs on the top 32 bits of each score's order key (four passes of 8 bits, whose
//! histograms stay in L1), then a stable sort by the full key within each run of equal top bits,
//! which for real scores is almost always a single sample.

const DIGIT_BITS: u32 = 8;
const BUCKETS: usize = 1 << DIGIT_BITS;
const PASSES: usize = 32 / DIGIT_BITS as usize;

/// Maps an f64 to a u64 whose unsigned order is the IEEE total order (`f64::total_cmp`).
#[inline]
fn order_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// The buffers of one thread's sorts, reused from pool to pool: a fresh 100 KB buffer per pool
/// cost page faults that were a tenth of the estimator's time.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pairs: Vec<(u32, u32)>,
    spare: Vec<(u32, u32)>,
    /// The order that sorts the last pool: `sorted[i] = proxy[order[i]]`.
    pub order: Vec<u32>,
    /// The last pool's columns in that order.
    pub proxy: Vec<f64>,
    pub gold: Vec<f64>,
    pub extra: Vec<f64>,
}

/// Returns `proxy` sorted ascending (`f64::total_cmp` order; stable) and the order that sorts
/// it: `sorted[i] = proxy[order[i]]`, so other columns of the pool follow with [`gather`].
#[cfg(test)]
pub(crate) fn sort_by_proxy(proxy: &[f64]) -> (Vec<f64>, Vec<u32>) {
    let mut scratch = Scratch::default();
    sort_into(proxy, &mut scratch);
    (scratch.proxy, scratch.order)
}

/// Sorts `proxy` into `scratch.order` and `scratch.proxy` (stable, `f64::total_cmp` order).
pub(crate) fn sort_into(proxy: &[f64], scratch: &mut Scratch) {
    let n = proxy.len();
    assert!(u32::try_from(n).is_ok(), "a pool of {n} samples is too large to sort (at most 2^32)");
    let Scratch { pairs: a, spare: b, order, proxy: sorted, .. } = scratch;
    a.clear();
    a.extend(proxy.iter().enumerate().map(|(i, &p)| ((order_key(p) >> 32) as u32, i as u32)));
    let mut hist = [[0usize; BUCKETS]; PASSES];
    for &(k, _) in a.iter() {
        for (pass, h) in hist.iter_mut().enumerate() {
            h[((k >> (pass as u32 * DIGIT_BITS)) as usize) & (BUCKETS - 1)] += 1;
        }
    }
    b.clear();
    b.resize(n, (0, 0));
    for (pass, h) in hist.iter_mut().enumerate() {
        if h.contains(&n) {
            continue; // every key has the same digit here: nothing to do
        }
        let mut sum = 0;
        for c in h.iter_mut() {
            let count = *c;
            *c = sum;
            sum += count;
        }
        let shift = pass as u32 * DIGIT_BITS;
        for &item in a.iter() {
            let d = ((item.0 >> shift) as usize) & (BUCKETS - 1);
            b[h[d]] = item;
            h[d] += 1;
        }
        std::mem::swap(a, b);
    }
    order.clear();
    order.extend(a.iter().map(|&(_, i)| i));
    let full = |i: &u32| order_key(proxy[*i as usize]);
    let mut start = 0;
    for run in a.chunk_by(|x, y| x.0 == y.0) {
        let run_order = &mut order[start..start + run.len()];
        if run.len() > 1 {
            run_order.sort_by_key(full); // stable; insertion sort for short runs
        }
        start += run.len();
    }
    gather_into(proxy, order, sorted);
}

/// `xs` in the order `order` (`out[i] = xs[order[i]]`).
#[cfg(test)]
pub(crate) fn gather(xs: &[f64], order: &[u32]) -> Vec<f64> {
    order.iter().map(|&i| xs[i as usize]).collect()
}

/// `xs` in the order `order`, into `out` (its old contents dropped).
pub(crate) fn gather_into(xs: &[f64], order: &[u32], out: &mut Vec<f64>) {
    out.clear();
    out.extend(order.iter().map(|&i| xs[i as usize]));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_a_stable_comparison_sort(
            proxy in prop::collection::vec(prop_oneof![
                -1e6f64..1e6,
                (-3i32..3).prop_map(|x| x as f64),
                Just(-0.0),
                // distinct scores that share the top 32 bits of their key: the fix-up's runs
                (0u32..40).prop_map(|k| 1.0 + f64::from(k) * 1e-13),
            ], 0..3000)
        ) {
            let gold: Vec<f64> = (0..proxy.len()).map(|i| i as f64).collect();
            let (sp, order) = sort_by_proxy(&proxy);
            let sg = gather(&gold, &order);
            let mut idx: Vec<usize> = (0..proxy.len()).collect();
            idx.sort_by(|&a, &b| proxy[a].total_cmp(&proxy[b]));
            prop_assert_eq!(sg, idx.iter().map(|&i| i as f64).collect::<Vec<_>>());
            prop_assert!(sp.iter().zip(&idx).all(|(x, &i)| x.to_bits() == proxy[i].to_bits()));
        }
    }

    #[test]
    fn key_order_is_total_order() {
        let xs = [f64::NEG_INFINITY, -2.0, -0.0, 0.0, 1e-300, 3.0, f64::INFINITY];
        for w in xs.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]));
        }
    }
}
