/// Remaining probability mass below which the weights are truncated.
const TAIL_MASS: f64 = 1e-16;

/// Best-of-n weights for a pool of `pool` samples sorted ascending:
/// `w_i = C(i-1, n-1) / C(N, n)` for `i = n..N` (1-based), by the running ratio
/// `w_N = n/N`, `w_{i-1} = w_i (i - n)/(i - 1)`.
///
/// `weights[k]` is the weight of the (0-based) sorted position `start + k`; positions below
/// `start` carry less than 1e-16 of the mass in total and are dropped. The weights sum to 1 (up
/// to that truncation and rounding). `n` must be in `1..=pool`.
pub fn bon_weights(pool: usize, n: usize) -> BonWeights {
    assert!(n >= 1 && n <= pool, "best-of-n weights need 1 <= n <= N (n = {n}, N = {pool})");
    let mut tail = Vec::new();
    let mut w = n as f64 / pool as f64;
    let mut i = pool; // 1-based position of w
    loop {
        tail.push(w);
        // Everything below position i weighs at most (i - 1) * w_{i-1} <= (i - 1) * w.
        if i == n || (w * (i as f64) < TAIL_MASS) {
            break;
        }
        w *= (i - n) as f64 / (i - 1) as f64;
        i -= 1;
    }
    tail.reverse();
    BonWeights { start: i - 1, weights: tail }
}

/// The best-of-n weights of the sorted positions `start..`, as [`bon_weights`] gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct BonWeights {
    /// The first (0-based) sorted position with a weight.
    pub start: usize,
    /// `weights[k]` is the weight of sorted position `start + k`.
    pub weights: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binom(n: u64, k: u64) -> f64 {
        (0..k).fold(1.0, |acc, j| acc * (n - j) as f64 / (j + 1) as f64)
    }

    #[test]
    fn small_pool_matches_binomials() {
        for pool in 1..=12u64 {
            for n in 1..=pool {
                let BonWeights { start, weights: w } = bon_weights(pool as usize, n as usize);
                assert_eq!(start + w.len(), pool as usize);
                for (k, &wk) in w.iter().enumerate() {
                    let i = (start + k + 1) as u64;
                    let exact = if i >= n { binom(i - 1, n - 1) / binom(pool, n) } else { 0.0 };
                    assert!((wk - exact).abs() < 1e-14, "N={pool} n={n} i={i}: {wk} vs {exact}");
                }
            }
        }
    }

    #[test]
    fn large_pool_sums_to_one_without_overflow() {
        for n in [1, 2, 7, 100, 1000, 60_000, 100_000] {
            let BonWeights { start, weights: w } = bon_weights(100_000, n);
            let sum: f64 = w.iter().sum();
            assert!((sum - 1.0).abs() < 1e-9, "n={n}: sum {sum}");
            assert!(w.iter().all(|x| x.is_finite() && *x >= 0.0));
            if n >= 1000 {
                assert!(start > 50_000, "n={n}: weights should be truncated, start {start}");
            }
        }
    }
}
