use crate::exact::check_distribution;
use crate::KlError;

/// The analytic KL of best-of-n from its base policy: `KL_bon(n) = ln n - (n - 1)/n` nats.
///
/// Exact when the reward has no ties (a continuous reward distribution); with ties or repeated
/// samples it is an upper bound (see [`kl_bon_discrete`]). `n = 1000` gives 5.91 nats,
/// `n = 60000` gives 10.0.
pub fn kl_bon(n: u64) -> Result<f64, KlError> {
    if n == 0 {
        return Err(KlError::InvalidN(n));
    }
    Ok(kl_bon_real(n as f64))
}

fn kl_bon_real(n: f64) -> f64 {
    n.ln() - (n - 1.0) / n
}

/// The (real) `n` at which [`kl_bon`] reaches `kl` nats: the inverse of `ln n - (n - 1)/n`,
/// solved by bisection on `ln n` (the function is strictly increasing for `n >= 1`).
///
/// Use it to plan a grid: reaching `kl` needs pools of at least `ceil(n)` samples per prompt.
pub fn n_for_kl_bon(kl: f64) -> Result<f64, KlError> {
    if !kl.is_finite() || kl < 0.0 {
        return Err(KlError::InvalidKl(kl));
    }
    // ln n - 1 < kl_bon(n) <= ln n, so ln n lies in [kl, kl + 1].
    let (mut lo, mut hi) = (kl, kl + 1.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if kl_bon_real(mid.exp()) < kl {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok((0.5 * (lo + hi)).exp())
}

/// Exact KL of best-of-n from a discrete base distribution with atoms.
///
/// `probs[j]` is the base probability of outcome `j`, outcomes listed in increasing reward order,
/// outcomes of equal reward merged into one atom (with a uniformly random tie-break, merging
/// outcomes of equal reward leaves the KL unchanged). With the cumulative `F_j = sum_{i<=j} p_i`,
/// best-of-n picks outcome `j` with probability `q_j = F_j^n - F_{j-1}^n`, and
/// `KL = sum_j q_j ln(q_j / p_j)`.
///
/// This is the Lemma of Beirami et al. (2024): for atoms of vanishing mass it tends to
/// [`kl_bon`]`(n)`; heavy atoms make it smaller, so the analytic value is then an upper bound.
pub fn kl_bon_discrete(probs: &[f64], n: u64) -> Result<f64, KlError> {
    let kl: f64 = bon_picks(probs, n)?.map(|(p, q)| q * (q / p).ln()).sum();
    Ok(kl.max(0.0))
}

/// Each atom's base mass `p_j` (normalised) and the probability `q_j = F_j^n - F_{j-1}^n` that
/// best-of-n picks it, for the atoms of non-zero `q` (`probs` in increasing reward order).
fn bon_picks(probs: &[f64], n: u64) -> Result<impl Iterator<Item = (f64, f64)> + '_, KlError> {
    if n == 0 {
        return Err(KlError::InvalidN(n));
    }
    check_distribution("probs", probs)?;
    let total: f64 = probs.iter().sum();
    let n = n as f64;
    let mut cum = 0.0f64;
    Ok(probs.iter().filter(|&&p| p > 0.0).filter_map(move |&p| {
        let prev = cum;
        cum += p;
        // q = F^n - F_prev^n = F^n * (1 - (F_prev/F)^n), computed in log space for large n.
        let f = (cum / total).min(1.0);
        let log_fn = n * f.ln();
        let q = if prev == 0.0 { log_fn.exp() } else { log_fn.exp() * -(n * (prev / cum).ln()).exp_m1() };
        (q > 0.0).then_some((p / total, q))
    }))
}

/// Beirami et al. (2024, "Theoretical guarantees on the best-of-n alignment policy", eq. 25)'s
/// estimate of the best-of-n KL from `eps`, the base probability of the outcome best-of-n
/// returned:
///
/// `d_n(eps) = (1 - eps)^n (ln n + (n - 1) ln(1 - eps) - (n - 1)/n)
///            + (1 - (1 - eps)^n) ln((1 - (1 - eps)^n) / eps)`,
///
/// the exact KL when that outcome is the best, an atom of mass `eps`, and the rest of the base
/// has no atoms. It lies between 0 (`eps = 1`) and [`kl_bon`]`(n)` (the limit `eps -> 0`);
/// averaged over best-of-n's outcomes it estimates the KL (their conjecture: from above).
pub fn kl_bon_beirami(n: u64, eps: f64) -> Result<f64, KlError> {
    if n == 0 {
        return Err(KlError::InvalidN(n));
    }
    if !(eps > 0.0 && eps <= 1.0) {
        return Err(KlError::NotADistribution {
            what: "eps",
            reason: format!(
                "{eps} is not a probability in (0, 1] (the base probability of the returned outcome)"
            ),
        });
    }
    if eps == 1.0 {
        return Ok(0.0);
    }
    let nf = n as f64;
    let ln_rest = (-eps).ln_1p(); // ln(1 - eps)
    let none_better = (nf * ln_rest).exp(); // (1 - eps)^n: no draw is the atom
    let picked = -(nf * ln_rest).exp_m1(); // 1 - (1 - eps)^n
    let continuous = none_better * (nf.ln() + (nf - 1.0) * ln_rest - (nf - 1.0) / nf);
    Ok((continuous + picked * (picked / eps).ln()).max(0.0))
}

/// [`kl_bon_beirami`] on a pool of samples with these proxy `scores` as the base: each sample's
/// `eps` is its atom's share of the pool (samples of equal score form one atom, as in
/// [`kl_bon_from_pool`]), averaged over the atoms best-of-n picks, weighted as it picks them.
/// Beside the exact [`kl_bon_from_pool`] on the same pool it shows how close the estimate is.
pub fn kl_bon_beirami_from_pool(scores: &[f64], n: u64) -> Result<f64, KlError> {
    let masses = pool_atoms(scores)?;
    let mut estimate = 0.0;
    for (p, q) in bon_picks(&masses, n)? {
        estimate += q * kl_bon_beirami(n, p.min(1.0))?;
    }
    Ok(estimate)
}

/// The pool's atoms' masses in increasing score order (equal scores merged).
fn pool_atoms(scores: &[f64]) -> Result<Vec<f64>, KlError> {
    if let Some((index, v)) = scores.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(KlError::NonFinite { what: "scores", index, value: *v });
    }
    if scores.is_empty() {
        return Err(KlError::NotADistribution { what: "scores", reason: "the pool is empty".into() });
    }
    let mut sorted = scores.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let total = sorted.len() as f64;
    Ok(sorted.chunk_by(|a, b| a == b).map(|group| group.len() as f64 / total).collect())
}

/// Tie-aware estimate of the best-of-n KL for a pool of samples with the given proxy `scores`.
///
/// Samples of equal score (repeated responses, in practice) form one atom whose mass is its share
/// of the pool; [`kl_bon_discrete`] is then applied to that empirical distribution. With no ties
/// and `n` much smaller than the pool it agrees with [`kl_bon`]; with many repeats it is smaller,
/// which shows the analytic value is loose. As `n` approaches the pool size the estimate is
/// capped near `ln N` by the finite pool (it is a plug-in estimate).
pub fn kl_bon_from_pool(scores: &[f64], n: u64) -> Result<f64, KlError> {
    kl_bon_discrete(&pool_atoms(scores)?, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paper_values() {
        assert_eq!(kl_bon(1).unwrap(), 0.0);
        assert!((kl_bon(2).unwrap() - (2f64.ln() - 0.5)).abs() < 1e-15);
        assert!((kl_bon(1000).unwrap() - 5.9088).abs() < 1e-4);
        assert!((kl_bon(60_000).unwrap() - 10.0021).abs() < 1e-4);
        assert_eq!(kl_bon(0).unwrap_err(), KlError::InvalidN(0));
        assert!(n_for_kl_bon(-1.0).is_err() && n_for_kl_bon(f64::NAN).is_err());
    }

    /// The KL of best-of-n from a continuous base, computed independently of the closed form:
    /// the best of n uniforms has density `n u^(n-1)` on [0, 1] (any continuous base maps to this
    /// by its CDF), so `KL = int_0^1 n u^(n-1) ln(n u^(n-1)) du`, here by composite Simpson.
    fn kl_bon_by_quadrature(n: u64) -> f64 {
        let n = n as f64;
        let f = |u: f64| {
            if u == 0.0 {
                return 0.0;
            }
            let dens = n * u.powf(n - 1.0);
            if dens == 0.0 {
                0.0
            } else {
                dens * dens.ln()
            }
        };
        let m = 200_000;
        let h = 1.0 / m as f64;
        let mut s = f(0.0) + f(1.0);
        for i in 1..m {
            s += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        s * h / 3.0
    }

    #[test]
    fn kl_bon_matches_discrete_formula_with_many_small_atoms() {
        let m = 100_000;
        let probs = vec![1.0 / m as f64; m];
        for n in [1, 2, 5, 30, 200] {
            let discrete = kl_bon_discrete(&probs, n).unwrap();
            assert!((discrete - kl_bon(n).unwrap()).abs() < 2e-3, "n={n}: {discrete}");
        }
    }

    #[test]
    fn repeated_samples_make_the_analytic_value_loose() {
        // Half the pool is one repeated response that the proxy likes best: best-of-8 picks it
        // almost surely, which is a move of about ln 2 nats, not 1.2.
        let mut scores: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        scores.extend(std::iter::repeat_n(5000.0, 1000));
        let tie_aware = kl_bon_from_pool(&scores, 8).unwrap();
        let atom_pick = 1.0 - 0.5f64.powi(8);
        // The atom's term dominates; the lower half, picked with probability 0.5^8, adds ~0.01.
        assert!((tie_aware - atom_pick * (atom_pick / 0.5).ln()).abs() < 0.02, "{tie_aware}");
        assert!(tie_aware < kl_bon(8).unwrap() - 0.4, "{tie_aware}");
        // A pool of one repeated response cannot be moved at all.
        assert_eq!(kl_bon_from_pool(&[3.0; 50], 16).unwrap(), 0.0);
        assert!(kl_bon_from_pool(&[1.0, f64::NAN], 2).unwrap_err().to_string().contains("scores[1]"));
    }

    #[test]
    fn beiramis_estimate_is_the_exact_kl_of_one_atom_on_a_continuous_base() {
        // the best outcome an atom of mass eps, the rest 200,000 tiny atoms (continuous enough)
        for (n, eps) in [(2, 0.3), (8, 0.05), (64, 0.01), (1000, 0.002)] {
            let m = 200_000;
            let mut probs = vec![(1.0 - eps) / m as f64; m];
            probs.push(eps);
            let exact = kl_bon_discrete(&probs, n).unwrap();
            let estimate = kl_bon_beirami(n, eps).unwrap();
            assert!((exact - estimate).abs() < 2e-3, "n={n} eps={eps}: exact {exact}, estimate {estimate}");
        }
        assert_eq!(kl_bon_beirami(5, 1.0).unwrap(), 0.0);
        assert!(kl_bon_beirami(5, 0.0).unwrap_err().to_string().contains("eps"));
        assert!(kl_bon_beirami(0, 0.5).is_err());
        // a pool of one repeated response: nothing to move
        assert_eq!(kl_bon_beirami_from_pool(&[2.0; 10], 4).unwrap(), 0.0);
        // half the pool one response the proxy likes best: close to the exact pool KL, far
        // below the analytic bound
        let mut scores: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        scores.extend(std::iter::repeat_n(5000.0, 1000));
        let (exact, estimate) =
            (kl_bon_from_pool(&scores, 8).unwrap(), kl_bon_beirami_from_pool(&scores, 8).unwrap());
        assert!(
            (exact - estimate).abs() < 0.02 && estimate < kl_bon(8).unwrap() - 0.4,
            "{exact} vs {estimate}"
        );
    }

    proptest! {
        /// Between 0 and the analytic value, which it reaches as eps -> 0.
        #[test]
        fn beiramis_estimate_lies_under_the_analytic_bound(n in 1u64..100_000, eps in 1e-9f64..1.0) {
            let d = kl_bon_beirami(n, eps).unwrap();
            let bound = kl_bon(n).unwrap();
            prop_assert!((0.0..=bound + 1e-9).contains(&d), "n={n} eps={eps}: {d} vs {bound}");
            let tiny = kl_bon_beirami(n, 1e-15).unwrap();
            prop_assert!((tiny - bound).abs() < 1e-6 * (1.0 + bound), "n={n}: {tiny} vs {bound}");
        }

        #[test]
        fn kl_bon_equals_quadrature_of_the_bon_density(n in 1u64..60) {
            let q = kl_bon_by_quadrature(n);
            prop_assert!((kl_bon(n).unwrap() - q).abs() < 1e-6, "n={n}: closed {} vs quadrature {q}", kl_bon(n).unwrap());
        }

        #[test]
        fn n_for_kl_inverts_kl_bon(n in 1u64..1_000_000) {
            let back = n_for_kl_bon(kl_bon(n).unwrap()).unwrap();
            prop_assert!((back - n as f64).abs() <= 1e-6 * n as f64, "{n} -> {back}");
        }

        /// With atoms, the exact KL never exceeds the analytic bound, and it increases with n.
        #[test]
        fn discrete_kl_is_bounded_and_monotone(w in prop::collection::vec(0.01f64..1.0, 1..30), n in 1u64..500) {
            let s: f64 = w.iter().sum();
            let p: Vec<f64> = w.iter().map(|x| x / s).collect();
            let a = kl_bon_discrete(&p, n).unwrap();
            let b = kl_bon_discrete(&p, n + 1).unwrap();
            prop_assert!(a <= kl_bon(n).unwrap() + 1e-9);
            prop_assert!(b + 1e-12 >= a);
        }
    }
}
