use crate::KlError;
use goodhart_core::Estimate;

/// A single-sample estimator of KL(pi || pi_init) from `log r = log pi_init(x) - log pi(x)`,
/// `x ~ pi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Estimator {
    /// `k1 = -log r`: unbiased, high variance, can be negative.
    K1,
    /// `k2 = (log r)^2 / 2`: biased, low variance, non-negative.
    K2,
    /// `k3 = r - 1 - log r`: unbiased (since `E[r] = 1`) and non-negative.
    K3,
}

impl Estimator {
    /// The three estimators, k1, k2, k3.
    pub const ALL: [Estimator; 3] = [Estimator::K1, Estimator::K2, Estimator::K3];

    /// The estimator's value for one token (or one whole sequence) with log ratio `log_r`.
    ///
    /// `k3` is computed as `expm1(log r) - log r`, accurate when `r` is near 1.
    #[inline]
    pub fn eval(self, log_r: f64) -> f64 {
        match self {
            Estimator::K1 => -log_r,
            Estimator::K2 => 0.5 * log_r * log_r,
            Estimator::K3 => (log_r.exp_m1() - log_r).max(0.0),
        }
    }
}

fn check_batch(logp_policy: &[f32], logp_init: &[f32], mask: &[bool], seq_len: usize) -> Result<(), KlError> {
    if seq_len == 0 {
        return Err(KlError::ZeroSeqLen);
    }
    let expected = logp_policy.len();
    if expected % seq_len != 0 {
        return Err(KlError::LengthMismatch {
            what: "logp_policy (a whole number of sequences)",
            got: expected,
            expected: expected.div_ceil(seq_len) * seq_len,
        });
    }
    for (what, len) in [("logp_init", logp_init.len()), ("mask", mask.len())] {
        if len != expected {
            return Err(KlError::LengthMismatch { what, got: len, expected });
        }
    }
    for (what, xs) in [("logp_policy", logp_policy), ("logp_init", logp_init)] {
        if let Some((index, v)) = xs.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(KlError::NonFinite { what, index, value: *v as f64 });
        }
    }
    Ok(())
}

/// Per-sequence KL estimates: `kl_b = sum_t mask[b,t] * k(log pi_init[b,t] - log pi[b,t])`.
///
/// Inputs are row-major `[batch, seq_len]` arrays of per-token log-probabilities of the sampled
/// tokens under the policy and the initial policy; `mask` selects response tokens. Summing
/// per-token estimators gives an unbiased estimate of the sequence KL for `k1` and `k3` (each
/// term's conditional expectation is the per-step KL, whose sum over steps is the sequence KL).
pub fn sequence_kls(
    estimator: Estimator,
    logp_policy: &[f32],
    logp_init: &[f32],
    mask: &[bool],
    seq_len: usize,
) -> Result<Vec<f64>, KlError> {
    check_batch(logp_policy, logp_init, mask, seq_len)?;
    Ok(logp_policy
        .chunks_exact(seq_len)
        .zip(logp_init.chunks_exact(seq_len))
        .zip(mask.chunks_exact(seq_len))
        .map(|((p, q), m)| {
            p.iter()
                .zip(q)
                .zip(m)
                .filter(|(_, &m)| m)
                .map(|((&p, &q), _)| estimator.eval(q as f64 - p as f64))
                .sum()
        })
        .collect())
}

/// Mean over the batch of [`sequence_kls`], with its standard error across sequences.
pub fn batch_kl(
    estimator: Estimator,
    logp_policy: &[f32],
    logp_init: &[f32],
    mask: &[bool],
    seq_len: usize,
) -> Result<Estimate, KlError> {
    let kls = sequence_kls(estimator, logp_policy, logp_init, mask, seq_len)?;
    Ok(Estimate::from_values(&kls))
}

/// All three estimators of the sequence KL at once, each a mean with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KlSummary {
    /// Mean of k1 (unbiased; a sequence's value can be negative).
    pub k1: Estimate,
    /// Mean of k2 (biased, non-negative).
    pub k2: Estimate,
    /// Mean of k3 (unbiased, non-negative).
    pub k3: Estimate,
}

/// [`batch_kl`] for k1, k2 and k3 in one call.
pub fn batch_kl_summary(
    logp_policy: &[f32],
    logp_init: &[f32],
    mask: &[bool],
    seq_len: usize,
) -> Result<KlSummary, KlError> {
    let est = |e| batch_kl(e, logp_policy, logp_init, mask, seq_len);
    Ok(KlSummary { k1: est(Estimator::K1)?, k2: est(Estimator::K2)?, k3: est(Estimator::K3)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kl_categorical;
    use proptest::prelude::*;

    /// SplitMix64: a tiny deterministic generator for the sampling tests.
    struct SplitMix(u64);
    impl SplitMix {
        fn next_f64(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
        fn categorical(&mut self, p: &[f64]) -> usize {
            let u = self.next_f64();
            let mut acc = 0.0;
            for (i, &pi) in p.iter().enumerate() {
                acc += pi;
                if u < acc {
                    return i;
                }
            }
            p.len() - 1
        }
    }

    fn normalise(w: &[f64]) -> Vec<f64> {
        let s: f64 = w.iter().sum();
        w.iter().map(|x| x / s).collect()
    }

    /// Draws `m` single-token "sequences" x ~ p and returns the k-estimate over them.
    fn estimate_from_samples(e: Estimator, p: &[f64], q: &[f64], m: usize, seed: u64) -> Estimate {
        let mut rng = SplitMix(seed);
        let (mut lp, mut lq) = (Vec::with_capacity(m), Vec::with_capacity(m));
        for _ in 0..m {
            let x = rng.categorical(p);
            lp.push(p[x].ln() as f32);
            lq.push(q[x].ln() as f32);
        }
        batch_kl(e, &lp, &lq, &vec![true; m], 1).unwrap()
    }

    #[test]
    fn hand_computed_values() {
        let lr = 0.5f64; // r = e^0.5
        assert!((Estimator::K1.eval(lr) + 0.5).abs() < 1e-15);
        assert!((Estimator::K2.eval(lr) - 0.125).abs() < 1e-15);
        assert!((Estimator::K3.eval(lr) - (0.5f64.exp() - 1.5)).abs() < 1e-15);
        // masked tokens are ignored, sequences sum
        let kls = sequence_kls(
            Estimator::K1,
            &[-1.0, -2.0, -3.0, -4.0],
            &[-2.0, -2.0, -1.0, -9.0],
            &[true, true, true, false],
            2,
        )
        .unwrap();
        assert_eq!(kls, vec![1.0, -2.0]);
    }

    #[test]
    fn bad_input_names_the_problem() {
        let err = batch_kl(Estimator::K1, &[0.0, f32::NAN], &[0.0, 0.0], &[true, true], 2).unwrap_err();
        assert!(matches!(err, KlError::NonFinite { what: "logp_policy", index: 1, value } if value.is_nan()));
        assert!(err.to_string().contains("logp_policy[1]"));
        let err = batch_kl(Estimator::K1, &[0.0, 0.0], &[0.0], &[true, true], 2).unwrap_err();
        assert!(matches!(err, KlError::LengthMismatch { what: "logp_init", got: 1, expected: 2 }));
        assert!(matches!(
            batch_kl(Estimator::K1, &[0.0; 3], &[0.0; 3], &[true; 3], 2),
            Err(KlError::LengthMismatch { .. })
        ));
        assert_eq!(batch_kl(Estimator::K1, &[], &[], &[], 0).unwrap_err(), KlError::ZeroSeqLen);
    }

    #[test]
    fn identical_policies_give_zero() {
        let lp = [-0.3f32, -1.2, -2.5, -0.01];
        for e in Estimator::ALL {
            let kl = batch_kl(e, &lp, &lp, &[true; 4], 2).unwrap();
            assert_eq!(kl.mean, 0.0);
        }
    }

    proptest! {
        #[test]
        fn k3_and_k2_are_non_negative(lr in -30.0f64..30.0) {
            prop_assert!(Estimator::K3.eval(lr) >= 0.0);
            prop_assert!(Estimator::K2.eval(lr) >= 0.0);
        }

        /// k1 and k3 are unbiased: their sample means land within 5 standard errors (plus a
        /// tiny slack) of the exact KL(p || q) on random categorical pairs.
        #[test]
        fn unbiased_estimators_match_exact_kl(
            wp in prop::collection::vec(0.05f64..1.0, 2..6),
            wq_raw in prop::collection::vec(0.05f64..1.0, 6),
            seed in any::<u64>(),
        ) {
            let p = normalise(&wp);
            let q = normalise(&wq_raw[..p.len()]);
            let exact = kl_categorical(&p, &q).unwrap();
            for e in [Estimator::K1, Estimator::K3] {
                let est = estimate_from_samples(e, &p, &q, 20_000, seed);
                prop_assert!((est.mean - exact).abs() <= 5.0 * est.se + 1e-9,
                    "{e:?}: estimate {} +- {} vs exact {exact}", est.mean, est.se);
            }
        }

        /// k2 is biased, but for nearby distributions (small log ratios) its bias is third order:
        /// within 5 standard errors plus 10% of the KL.
        #[test]
        fn k2_matches_exact_kl_for_close_pairs(
            wp in prop::collection::vec(0.2f64..1.0, 2..6),
            eps in prop::collection::vec(-0.1f64..0.1, 6),
            seed in any::<u64>(),
        ) {
            let p = normalise(&wp);
            let q = normalise(&p.iter().zip(&eps).map(|(pi, e)| pi * (1.0 + e)).collect::<Vec<_>>());
            let exact = kl_categorical(&p, &q).unwrap();
            let est = estimate_from_samples(Estimator::K2, &p, &q, 20_000, seed);
            prop_assert!((est.mean - exact).abs() <= 5.0 * est.se + 0.1 * exact + 1e-9,
                "k2: estimate {} +- {} vs exact {exact}", est.mean, est.se);
        }
    }
}
