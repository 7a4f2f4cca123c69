//! How heavy a score's right tail is: Hill's estimator of the tail index on the initial policy's
//! samples. Best-of-n and PPO select the samples a proxy rates highest, so where the proxy's
//! error (proxy minus gold) has a heavier right tail than the proxy itself, the top of the proxy
//! is mostly error (catastrophic Goodhart, Kwa et al. 2024); a light-tailed error leaves the top
//! of the proxy good.

use serde::{Deserialize, Serialize};

/// Hill's estimate `gamma` of a right tail's index (a Pareto tail `P(X > x) ~ x^(-1/gamma)`:
/// larger is heavier; a Gaussian's estimate falls towards 0 as the sample grows), from the `k`
/// largest exceedances over the sample's median, with its 90% interval from the estimator's
/// asymptotic normality (`gamma (1 +- 1.645 / sqrt k)`). Centring on the median makes it
/// shift-invariant, at the price of a bias up for light tails (a Pareto tail of 0.25 reads 0.31
/// at n = 40,000): compare tails of one kind of sample, as [`Tails`] does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TailIndex {
    pub gamma: f64,
    pub lo: f64,
    pub hi: f64,
    /// Order statistics used.
    pub k: usize,
    /// Values the estimate read.
    pub n: usize,
}

impl TailIndex {
    /// Whether this tail is heavier than `other` beyond both intervals.
    pub fn heavier_than(&self, other: &TailIndex) -> bool {
        self.lo > other.hi
    }
}

impl std::fmt::Display for TailIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3} [{:.3}, {:.3}] (k = {} of {})", self.gamma, self.lo, self.hi, self.k, self.n)
    }
}

/// [`TailIndex`] of `values` from its `k = round(sqrt(n))` largest exceedances over the median
/// (the usual choice between bias, from reading too far into the body, and variance). `None`
/// with fewer than 16 finite values, or when the exceedances are not all positive (a tail with
/// too many ties at the top).
pub fn hill_tail_index(values: &[f64]) -> Option<TailIndex> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = sorted.len();
    if n < 16 {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let median = goodhart_core::quantile_sorted(&sorted, 0.5);
    let k = ((n as f64).sqrt().round() as usize).clamp(2, n / 2);
    // the k + 1 largest exceedances, largest first
    let top: Vec<f64> = sorted.iter().rev().take(k + 1).map(|v| v - median).collect();
    let threshold = top[k];
    if threshold.is_nan() || threshold <= 0.0 {
        return None;
    }
    let gamma = top[..k].iter().map(|e| (e / threshold).ln()).sum::<f64>() / k as f64;
    let half = 1.645 / (k as f64).sqrt();
    Some(TailIndex { gamma, lo: gamma * (1.0 - half), hi: gamma * (1.0 + half), k, n })
}

/// The tails best-of-n reads on one proxy's pools (`[prompt][sample]` scores of the initial
/// policy's samples): of the proxy, and of its error against the gold, each score in units of its
/// spread over the pools and centred on its prompt's mean (best-of-n selects within a prompt).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tails {
    pub proxy: TailIndex,
    /// Of proxy minus gold.
    pub error: TailIndex,
}

impl Tails {
    /// The tails of `proxy` and of `proxy - gold` on the same pools; `None` when the pools differ
    /// in shape, a score has no spread, or a tail cannot be estimated.
    pub fn of(proxy: &[Vec<f64>], gold: &[Vec<f64>]) -> Option<Tails> {
        if proxy.len() != gold.len() || proxy.iter().zip(gold).any(|(p, g)| p.len() != g.len()) {
            return None;
        }
        let sd = |pools: &[Vec<f64>]| {
            let all: Vec<f64> = pools.iter().flatten().copied().collect();
            let mean = all.iter().sum::<f64>() / all.len().max(1) as f64;
            (all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / all.len().max(1) as f64).sqrt()
        };
        let (sp, sg) = (sd(proxy), sd(gold));
        if !(sp > 0.0 && sg > 0.0) {
            return None;
        }
        let centred = |f: &dyn Fn(f64, f64) -> f64| -> Vec<f64> {
            proxy
                .iter()
                .zip(gold)
                .flat_map(|(p, g)| {
                    let xs: Vec<f64> = p.iter().zip(g).map(|(&p, &g)| f(p, g)).collect();
                    let mean = xs.iter().sum::<f64>() / xs.len().max(1) as f64;
                    xs.into_iter().map(move |x| x - mean)
                })
                .collect()
        };
        Some(Tails {
            proxy: hill_tail_index(&centred(&|p, _| p / sp))?,
            error: hill_tail_index(&centred(&|p, g| p / sp - g / sg))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goodhart_core::SplitMix64;
    use proptest::prelude::*;

    fn pareto(n: usize, gamma: f64, seed: u64) -> Vec<f64> {
        let mut rng = SplitMix64::new(seed);
        (0..n).map(|_| (1.0 - rng.next_f64()).powf(-gamma)).collect()
    }

    #[test]
    fn a_pareto_tail_is_read_within_its_interval_and_a_gaussian_one_is_lighter() {
        for (gamma, seed) in [(0.5, 1), (1.0, 2)] {
            let t = hill_tail_index(&pareto(40_000, gamma, seed)).unwrap();
            assert!(t.lo < gamma && gamma < t.hi, "gamma {gamma}: {t}");
        }
        // centred on the median, a light Pareto tail reads heavier than it is (the bias of the
        // shift), and still lighter than a heavier one
        let light_pareto = hill_tail_index(&pareto(40_000, 0.25, 3)).unwrap();
        assert!(light_pareto.gamma > 0.25 && light_pareto.gamma < 0.35, "{light_pareto}");
        let mut rng = SplitMix64::new(4);
        let gaussian: Vec<f64> = (0..40_000).map(|_| rng.next_gaussian()).collect();
        let light = hill_tail_index(&gaussian).unwrap();
        let heavy = hill_tail_index(&pareto(40_000, 0.5, 5)).unwrap();
        assert!(light.gamma < 0.2 && heavy.heavier_than(&light), "{light} vs {heavy}");
    }

    #[test]
    fn too_few_values_or_a_flat_top_give_no_estimate() {
        assert!(hill_tail_index(&[1.0; 10]).is_none());
        assert!(hill_tail_index(&[2.0; 100]).is_none());
        assert!(hill_tail_index(&[f64::NAN; 100]).is_none());
    }

    #[test]
    fn an_error_heavier_than_its_proxy_is_seen_on_pools() {
        // gold light-tailed; proxy = gold + heavy-tailed error: the error's tail is the heavier
        let mut rng = SplitMix64::new(6);
        let (mut proxy, mut gold) = (Vec::new(), Vec::new());
        for _ in 0..200 {
            let g: Vec<f64> = (0..200).map(|_| rng.next_gaussian()).collect();
            let e: Vec<f64> = (0..200).map(|_| (1.0 - rng.next_f64()).powf(-0.6) - 2.5).collect();
            proxy.push(g.iter().zip(&e).map(|(g, e)| 0.2 * g + e).collect::<Vec<f64>>());
            gold.push(g);
        }
        let heavy = Tails::of(&proxy, &gold).unwrap();
        assert!(heavy.error.gamma > 0.3, "{heavy:?}");
        // counter-example: a proxy that is the gold plus light noise has a light error tail
        let light_proxy: Vec<Vec<f64>> =
            gold.iter().map(|g| g.iter().map(|g| g + 0.5 * rng.next_gaussian()).collect()).collect();
        let light = Tails::of(&light_proxy, &gold).unwrap();
        assert!(heavy.error.heavier_than(&light.error), "{heavy:?} vs {light:?}");
        assert!(Tails::of(&proxy[..3], &gold).is_none());
    }

    proptest! {
        #[test]
        fn the_estimate_ignores_scale_and_shift_and_is_never_negative(
            seed in 0u64..1000, scale in 0.01f64..100.0, shift in -50.0f64..50.0,
        ) {
            let xs = pareto(400, 0.5, seed);
            let base = hill_tail_index(&xs).unwrap();
            let moved: Vec<f64> = xs.iter().map(|x| scale * x + shift).collect();
            let t = hill_tail_index(&moved).unwrap();
            prop_assert!((t.gamma - base.gamma).abs() < 1e-9 * base.gamma.max(1.0));
            prop_assert!(t.gamma >= 0.0 && t.lo <= t.gamma && t.gamma <= t.hi);
        }
    }
}
