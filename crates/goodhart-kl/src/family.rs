//! The best-of-n family on a pool: which sample each method picks, with what probability, and its
//! exact KL from the pool.
//!
//! A pool of `N` samples with proxy scores is the base policy (each sample drawn with probability
//! `1/N`; samples of equal score are interchangeable). On it:
//! - **best-of-n** draws `n` samples and keeps the highest score;
//! - **Best-of-Poisson** (Khalaf et al. 2025) draws `n = 1 + Poisson(mu)` samples, then best-of-n:
//!   a mixture of best-of-n over `n`, smooth in `mu`;
//! - **soft best-of-n** samples from the pool tilted by `exp(score / lambda)`: the base as
//!   `lambda -> infinity`, the pool's best sample as `lambda -> 0`.
//!
//! Best-of-n and Best-of-Poisson pick by rank: with `F(x)` the pool's share of scores `<= x` and
//! `H(F) = E[F^n]`, a tie group of scores ending at cumulative share `F_j` is picked with
//! probability `H(F_j) - H(F_{j-1})`, shared evenly within the group. `H(F) = F^n` for best-of-n
//! and `F exp(mu (F - 1))` for Best-of-Poisson.

use crate::KlError;

fn check_scores(scores: &[f64]) -> Result<(), KlError> {
    if let Some((index, v)) = scores.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(KlError::NonFinite { what: "scores", index, value: *v });
    }
    if scores.is_empty() {
        return Err(KlError::NotADistribution { what: "scores", reason: "the pool is empty".into() });
    }
    Ok(())
}

fn check_parameter(what: &'static str, value: f64, ok: bool, allowed: &'static str) -> Result<(), KlError> {
    if ok {
        Ok(())
    } else {
        Err(KlError::InvalidParameter { what, value, allowed })
    }
}

/// Probability that a rank-based method with `H` picks each sample of the pool (input order).
fn rank_selection(scores: &[f64], h: impl Fn(f64) -> f64) -> Vec<f64> {
    let total = scores.len() as f64;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut out = vec![0.0; scores.len()];
    let mut below = 0usize;
    for group in order.chunk_by(|&a, &b| scores[a] == scores[b]) {
        let (lo, hi) = (below as f64 / total, (below + group.len()) as f64 / total);
        let mass = (h(hi.min(1.0)) - h(lo)).max(0.0);
        for &i in group {
            out[i] = mass / group.len() as f64;
        }
        below += group.len();
    }
    out
}

/// The probability that best-of-`n` on the pool (draws with replacement) returns each sample.
pub fn best_of_n_selection(scores: &[f64], n: u64) -> Result<Vec<f64>, KlError> {
    check_scores(scores)?;
    if n == 0 {
        return Err(KlError::InvalidN(n));
    }
    let n = n as f64;
    Ok(rank_selection(scores, |f| if f <= 0.0 { 0.0 } else { (n * f.ln()).exp() }))
}

/// The probability that Best-of-Poisson with mean extra draws `mu` (`n = 1 + Poisson(mu)`)
/// returns each sample of the pool.
pub fn best_of_poisson_selection(scores: &[f64], mu: f64) -> Result<Vec<f64>, KlError> {
    check_scores(scores)?;
    check_parameter("mu", mu, mu.is_finite() && mu >= 0.0, "a finite mean number of extra draws >= 0")?;
    Ok(rank_selection(scores, |f| f * (mu * (f - 1.0)).exp()))
}

/// The probability that soft best-of-n with temperature `lambda` returns each sample of the pool:
/// `exp(s_i / lambda) / sum_j exp(s_j / lambda)`.
pub fn soft_best_of_n_selection(scores: &[f64], lambda: f64) -> Result<Vec<f64>, KlError> {
    check_scores(scores)?;
    check_parameter(
        "lambda",
        lambda,
        lambda > 0.0 && !lambda.is_nan(),
        "a temperature > 0 (infinity: the base)",
    )?;
    let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = scores.iter().map(|s| ((s - top) / lambda).exp()).collect();
    let total: f64 = w.iter().sum();
    Ok(w.into_iter().map(|x| x / total).collect())
}

/// `KL(q || uniform)` over a pool of `q.len()` samples: `sum_i q_i ln(N q_i)`, the exact KL of a
/// method that picks sample `i` with probability `q_i` from the pool as its base.
pub fn kl_from_pool_selection(q: &[f64]) -> Result<f64, KlError> {
    crate::exact::check_distribution("q", q)?;
    let n = q.len() as f64;
    Ok(q.iter().filter(|&&p| p > 0.0).map(|&p| p * (n * p).ln()).sum::<f64>().max(0.0))
}

/// Exact KL of Best-of-Poisson (`n = 1 + Poisson(mu)`) from a continuous base: the picked
/// sample's quantile has density `g(u) = (1 + mu u) exp(mu (u - 1))` on [0, 1], and
/// `KL = int_0^1 g ln g du` (composite Simpson on 4,096 intervals; `g` is smooth).
pub fn kl_best_of_poisson(mu: f64) -> Result<f64, KlError> {
    check_parameter("mu", mu, mu.is_finite() && mu >= 0.0, "a finite mean number of extra draws >= 0")?;
    let g_ln_g = |u: f64| {
        let ln_g = (mu * u).ln_1p() + mu * (u - 1.0);
        ln_g.exp() * ln_g
    };
    let m = 4096;
    let h = 1.0 / m as f64;
    let mut s = g_ln_g(0.0) + g_ln_g(1.0);
    for i in 1..m {
        s += g_ln_g(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    Ok((s * h / 3.0).max(0.0))
}

/// Tie-aware exact KL of Best-of-Poisson on a pool with these proxy `scores`.
pub fn kl_best_of_poisson_from_pool(scores: &[f64], mu: f64) -> Result<f64, KlError> {
    kl_from_pool_selection(&best_of_poisson_selection(scores, mu)?)
}

/// Exact KL of soft best-of-n with temperature `lambda` on a pool with these proxy `scores`.
pub fn kl_soft_best_of_n_from_pool(scores: &[f64], lambda: f64) -> Result<f64, KlError> {
    kl_from_pool_selection(&soft_best_of_n_selection(scores, lambda)?)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{kl_bon, kl_bon_from_pool};

    fn pool(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = goodhart_core::SplitMix64::new(seed);
        (0..n).map(|_| rng.next_gaussian()).collect()
    }

    #[test]
    fn best_of_poisson_is_a_mixture_of_best_of_n_and_its_kl_is_below_the_mixed_kls() {
        // KL is convex: the mixture's KL is at most the mean of its components' KLs
        for mu in [0.5f64, 2.0, 10.0, 100.0] {
            let pmf =
                |k: u64| (-mu + k as f64 * mu.ln() - (1..=k).map(|j| (j as f64).ln()).sum::<f64>()).exp();
            let mixed: f64 = (0..2000u64).map(|k| pmf(k) * kl_bon(k + 1).unwrap()).sum();
            let bop = kl_best_of_poisson(mu).unwrap();
            assert!(bop > 0.0 && bop <= mixed + 1e-9, "mu {mu}: {bop} vs {mixed}");
        }
        assert_eq!(kl_best_of_poisson(0.0).unwrap(), 0.0);
    }

    #[test]
    fn on_a_large_pool_without_ties_the_pool_kls_approach_the_continuous_ones() {
        let scores = pool(200_000, 1);
        for mu in [1.0, 5.0, 30.0] {
            let (p, c) =
                (kl_best_of_poisson_from_pool(&scores, mu).unwrap(), kl_best_of_poisson(mu).unwrap());
            assert!((p - c).abs() < 2e-3, "mu {mu}: pool {p} vs continuous {c}");
        }
        for n in [2, 16, 100] {
            let q = best_of_n_selection(&scores, n).unwrap();
            let (a, b) = (kl_from_pool_selection(&q).unwrap(), kl_bon_from_pool(&scores, n).unwrap());
            assert!((a - b).abs() < 1e-9, "n {n}: {a} vs {b}");
        }
    }

    #[test]
    fn soft_best_of_n_spans_the_base_to_the_pools_best() {
        let scores = [0.0, 1.0, 2.0, 2.0];
        // a very high temperature is the base; a very low one shares the two best samples
        assert!(kl_soft_best_of_n_from_pool(&scores, 1e9).unwrap() < 1e-12);
        assert!(kl_soft_best_of_n_from_pool(&scores, f64::INFINITY).unwrap() < 1e-12);
        let cold = soft_best_of_n_selection(&scores, 1e-3).unwrap();
        assert!((cold[2] - 0.5).abs() < 1e-12 && (cold[3] - 0.5).abs() < 1e-12);
        assert!((kl_soft_best_of_n_from_pool(&scores, 1e-3).unwrap() - 2f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn bad_parameters_are_named() {
        assert!(kl_best_of_poisson(-1.0).unwrap_err().to_string().contains("mu"));
        assert!(soft_best_of_n_selection(&[1.0], 0.0).unwrap_err().to_string().contains("lambda"));
        assert!(best_of_poisson_selection(&[1.0, f64::NAN], 1.0)
            .unwrap_err()
            .to_string()
            .contains("scores[1]"));
        assert!(best_of_n_selection(&[], 2).is_err());
    }

    proptest! {
        #[test]
        fn selections_are_distributions_that_favour_higher_scores(
            scores in proptest::collection::vec(-3.0f64..3.0, 1..60), mu in 0.0f64..50.0, lambda in 0.01f64..10.0,
        ) {
            for q in [best_of_poisson_selection(&scores, mu).unwrap(), soft_best_of_n_selection(&scores, lambda).unwrap()] {
                prop_assert!((q.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                for i in 0..scores.len() {
                    for j in 0..scores.len() {
                        if scores[i] > scores[j] {
                            prop_assert!(q[i] >= q[j] - 1e-15);
                        }
                        if scores[i] == scores[j] {
                            prop_assert!((q[i] - q[j]).abs() < 1e-15);
                        }
                    }
                }
            }
        }

        #[test]
        fn kls_are_non_negative_and_monotone_in_the_strength(
            scores in proptest::collection::vec(-3.0f64..3.0, 2..60), mu in 0.0f64..50.0, lambda in 0.05f64..10.0,
        ) {
            let bop = |m: f64| kl_best_of_poisson_from_pool(&scores, m).unwrap();
            let soft = |l: f64| kl_soft_best_of_n_from_pool(&scores, l).unwrap();
            prop_assert!(bop(mu) >= 0.0 && soft(lambda) >= 0.0);
            prop_assert!(bop(mu * 1.5 + 0.1) + 1e-12 >= bop(mu));
            prop_assert!(soft(lambda / 1.5) + 1e-12 >= soft(lambda));
            // never beyond the pool's ln N
            prop_assert!(bop(mu) <= (scores.len() as f64).ln() + 1e-9);
        }

        #[test]
        fn continuous_best_of_poisson_kl_rises_with_mu(mu in 0.0f64..200.0) {
            let (a, b) = (kl_best_of_poisson(mu).unwrap(), kl_best_of_poisson(mu + 0.5).unwrap());
            prop_assert!(b > a - 1e-12);
        }
    }
}
