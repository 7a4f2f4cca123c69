//! How far a judge can be trusted along a best-of-n curve: how often it orders two best-of-n
//! choices as a reference score does, the choices drawn with the estimator's own weights.

use goodhart_core::{concordance, SplitMix64};

use crate::estimator::{BonError, PromptPool};
use crate::weights::bon_weights;

/// The judge's fidelity to the reference at every `n` of `ns`: the concordance
/// ([`goodhart_core::concordance`]) of the pools' `gold` (the judge) and `extra` (the reference)
/// over best-of-`n` choices, `draws` per prompt.
///
/// Each choice is drawn from the distribution the unbiased estimator averages over: the best,
/// by proxy, of a uniformly random `n`-subset of the prompt's pool (ties in proxy score broken
/// uniformly at random), so a point's fidelity is about the samples its gold mean is about.
/// Pairs of choices come from all prompts (the optimised policy's samples, prompt included); a
/// pair the reference ties is left out. 1 when the judge orders every pair as the reference
/// does, 0.5 in expectation when the judge is independent of it. Deterministic for a `seed`.
///
/// # Errors
/// As [`crate::BonEstimator::estimate`] for the shapes, and [`BonError::NoReference`] when a
/// pool has no `extra` column.
pub fn bon_fidelity(
    pools: &[PromptPool<'_>],
    ns: &[u64],
    draws: usize,
    seed: u64,
) -> Result<Vec<f64>, BonError> {
    if ns.is_empty() {
        return Err(BonError::EmptyGrid);
    }
    if ns.contains(&0) {
        return Err(BonError::ZeroN);
    }
    if pools.is_empty() {
        return Err(BonError::NoPrompts);
    }
    let max_n = *ns.iter().max().expect("non-empty") as usize;
    // each pool's samples in ascending proxy order, ties in a seeded random order
    let mut rng = SplitMix64::new(seed ^ 0xF1DE);
    let mut orders = Vec::with_capacity(pools.len());
    for (p, pool) in pools.iter().enumerate() {
        pool.validate_shape(p, max_n)?;
        pool.validate_values(p)?;
        if pool.extra.is_none() {
            return Err(BonError::NoReference { prompt: p });
        }
        let mut order: Vec<usize> = (0..pool.proxy.len()).collect();
        rng.shuffle(&mut order);
        order.sort_by(|&a, &b| pool.proxy[a].total_cmp(&pool.proxy[b]));
        orders.push(order);
    }
    let mut out = Vec::with_capacity(ns.len());
    for &n in ns {
        let (mut judge, mut reference) = (Vec::new(), Vec::new());
        for (pool, order) in pools.iter().zip(&orders) {
            let w = bon_weights(order.len(), n as usize);
            for _ in 0..draws {
                // inverse CDF over the sorted positions that carry weight
                let u = rng.next_f64();
                let mut acc = 0.0;
                let mut k = w.weights.len() - 1;
                for (j, wj) in w.weights.iter().enumerate() {
                    acc += wj;
                    if u < acc {
                        k = j;
                        break;
                    }
                }
                let i = order[w.start + k];
                judge.push(pool.gold[i]);
                reference.push(pool.extra.expect("checked above")[i]);
            }
        }
        out.push(concordance(&judge, &reference));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn normal(rng: &mut SplitMix64) -> f64 {
        let (u, v) = (rng.next_f64().max(1e-12), rng.next_f64());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// `prompts` pools of `size`: a reference score, a proxy = reference + noise, and a judge.
    fn pools(
        prompts: usize,
        size: usize,
        judge: impl Fn(f64, &mut SplitMix64) -> f64,
    ) -> (Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let mut rng = SplitMix64::new(5);
        let (mut proxy, mut gold, mut truth) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..prompts {
            let t: Vec<f64> = (0..size).map(|_| normal(&mut rng)).collect();
            proxy.push(t.iter().map(|t| t + 0.5 * normal(&mut rng)).collect());
            gold.push(t.iter().map(|&t| judge(t, &mut rng)).collect());
            truth.push(t);
        }
        (proxy, gold, truth)
    }

    fn fidelity(p: &[Vec<f64>], g: &[Vec<f64>], t: &[Vec<f64>], ns: &[u64]) -> Vec<f64> {
        let pools: Vec<PromptPool<'_>> =
            p.iter().zip(g).zip(t).map(|((p, g), t)| PromptPool::new(p, g).with_extra(t)).collect();
        bon_fidelity(&pools, ns, 16, 1).unwrap()
    }

    #[test]
    fn a_judge_that_is_the_reference_has_fidelity_one_everywhere() {
        // any increasing function of the reference orders every pair as it does
        let (p, g, t) = pools(40, 64, |t, _| 3.0 * t + 1.0);
        for f in fidelity(&p, &g, &t, &[1, 2, 8, 64]) {
            assert_eq!(f, 1.0);
        }
    }

    #[test]
    fn a_judge_of_independent_noise_has_fidelity_one_half() {
        let (p, g, t) = pools(40, 64, |_, rng| normal(rng));
        // 640 choices: about 2e5 pairs, but only 640 independent draws: se about 0.02
        for f in fidelity(&p, &g, &t, &[1, 4, 16]) {
            assert!((f - 0.5).abs() < 0.06, "{f}");
        }
    }

    #[test]
    fn fidelity_follows_where_the_choices_go() {
        // the judge agrees with the reference below 1 and is its reverse above: at n = 1 most
        // choices are below 1; at the pool size every choice is near the pool's top
        let (p, g, t) = pools(60, 256, |t, _| if t < 1.0 { t } else { 2.0 - t });
        let f = fidelity(&p, &g, &t, &[1, 256]);
        assert!(f[0] > 0.8, "{f:?}");
        assert!(f[1] < 0.5, "{f:?}");
    }

    #[test]
    fn a_pool_without_reference_scores_is_an_error() {
        let (p, g) = (vec![1.0, 2.0], vec![1.0, 2.0]);
        let err = bon_fidelity(&[PromptPool::new(&p, &g)], &[1, 2], 4, 0).unwrap_err();
        assert!(err.to_string().contains("reference"), "{err}");
        let e = [1.0, 2.0];
        let pool = PromptPool::new(&p, &g).with_extra(&e);
        assert!(matches!(bon_fidelity(&[pool], &[3], 4, 0), Err(BonError::PoolTooSmall { .. })));
    }

    proptest! {
        /// Fidelity is a fraction, and the same for the same seed.
        #[test]
        fn fidelity_is_a_deterministic_fraction(seed in 0u64..1000, n in 1u64..16) {
            let mut rng = SplitMix64::new(seed);
            let mut col = || (0..16).map(|_| (rng.next_below(5)) as f64).collect::<Vec<f64>>();
            let (p, g, t): (Vec<_>, Vec<_>, Vec<_>) = ((0..6).map(|_| col()).collect(), (0..6).map(|_| col()).collect(), (0..6).map(|_| col()).collect());
            let pools: Vec<PromptPool<'_>> =
                p.iter().zip(&g).zip(&t).map(|((p, g), t)| PromptPool::new(p, g).with_extra(t)).collect();
            let a = bon_fidelity(&pools, &[n], 4, seed).unwrap();
            let b = bon_fidelity(&pools, &[n], 4, seed).unwrap();
            prop_assert_eq!(a[0].to_bits(), b[0].to_bits());
            prop_assert!(a[0].is_nan() || (0.0..=1.0).contains(&a[0]));
        }
    }
}
