//! LSD radix sort of a pool by proxy score: the sort is half the estimator's cost, and a radix
//! sort of 64-bit keys beats comparison sorting several times at pool sizes of 10^4-10^5.

const DIGIT_BITS: u32 = 11;
const BUCKETS: usize = 1 << DIGIT_BITS;
const PASSES: usize = 64_usize.div_ceil(DIGIT_BITS as usize);

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

#[inline]
fn from_order_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Returns `proxy` sorted ascending (`f64::total_cmp` order; stable) and the order that sorts
/// it: `sorted[i] = proxy[order[i]]`, so other columns of the pool follow with [`gather`].
pub(crate) fn sort_by_proxy(proxy: &[f64]) -> (Vec<f64>, Vec<u32>) {
    let n = proxy.len();
    assert!(u32::try_from(n).is_ok(), "a pool of {n} samples is too large to sort (at most 2^32)");
    let mut a: Vec<(u64, u32)> = proxy.iter().enumerate().map(|(i, &p)| (order_key(p), i as u32)).collect();
    let mut hist = vec![[0usize; BUCKETS]; PASSES];
    for &(k, _) in &a {
        for (pass, h) in hist.iter_mut().enumerate() {
            h[((k >> (pass as u32 * DIGIT_BITS)) as usize) & (BUCKETS - 1)] += 1;
        }
    }
    let mut b = vec![(0u64, 0u32); n];
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
        for &item in &a {
            let d = ((item.0 >> shift) as usize) & (BUCKETS - 1);
            b[h[d]] = item;
            h[d] += 1;
        }
        std::mem::swap(&mut a, &mut b);
    }
    a.into_iter().map(|(k, i)| (from_order_key(k), i)).unzip()
}

/// `xs` in the order `order` (`out[i] = xs[order[i]]`).
pub(crate) fn gather(xs: &[f64], order: &[u32]) -> Vec<f64> {
    order.iter().map(|&i| xs[i as usize]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_a_stable_comparison_sort(
            proxy in prop::collection::vec(prop_oneof![-1e6f64..1e6, (-3i32..3).prop_map(|x| x as f64), Just(-0.0)], 0..3000)
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
            assert_eq!(from_order_key(order_key(w[0])).to_bits(), w[0].to_bits());
        }
    }
}
