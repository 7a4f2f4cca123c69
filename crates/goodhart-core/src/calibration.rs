//! Recentring and normalisation of reward-model scores, as in the paper.
//!
//! - Every RM is shifted so that the initial policy's mean score is 0.
//! - The gold is scaled to unit variance on initial-policy samples.
//! - Proxies are recalibrated: one scale `c` on their logits, fitted on validation pairs so that
//!   `P(a preferred to b) = sigmoid(c (r_a - r_b))` has the least Bradley-Terry loss.
//!
//! The constants are stored with the checkpoint; a score is always `scale * (raw - shift)`.

use serde::{Deserialize, Serialize};

/// `score = scale * (raw - shift)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub shift: f64,
    pub scale: f64,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration { shift: 0.0, scale: 1.0 }
    }
}

impl Calibration {
    pub fn apply(&self, raw: f64) -> f64 {
        self.scale * (raw - self.shift)
    }

    /// The gold's constants: shift to mean 0 and scale to unit variance on `init_scores`
    /// (raw scores of initial-policy samples). A constant RM cannot be normalised: `None`.
    pub fn gold(init_scores: &[f64]) -> Option<Self> {
        let n = init_scores.len() as f64;
        let mean = init_scores.iter().sum::<f64>() / n;
        let var = init_scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n;
        (n >= 2.0 && var > 0.0 && var.is_finite())
            .then(|| Calibration { shift: mean, scale: 1.0 / var.sqrt() })
    }

    /// A proxy's constants: shift to mean 0 on `init_scores`, and the logit scale fitted by
    /// [`fit_logit_scale`] on validation score differences.
    pub fn proxy(init_scores: &[f64], val_margins: &[f64], val_labels: &[f64]) -> Self {
        let mean = init_scores.iter().sum::<f64>() / init_scores.len().max(1) as f64;
        Calibration { shift: mean, scale: fit_logit_scale(val_margins, val_labels) }
    }
}

/// The scale `c >= 0` minimising the mean Bradley-Terry loss
/// `L(c) = mean_i [ -y_i ln sigmoid(c m_i) - (1 - y_i) ln sigmoid(-c m_i) ]`
/// over margins `m_i = r_a - r_b` with labels `y_i` in [0, 1] (1: a preferred).
///
/// `L` is convex in `c`; Newton's method from `c = 1` with a bisection safeguard converges in a few
/// steps. Returns 0 when the margins carry no signal (all zero, or anti-correlated with labels).
pub fn fit_logit_scale(margins: &[f64], labels: &[f64]) -> f64 {
    assert_eq!(margins.len(), labels.len(), "one label per margin");
    // dL/dc = mean (sigmoid(c m) - y) m; d2L/dc2 = mean sigmoid'(c m) m^2
    let grad = |c: f64| {
        margins.iter().zip(labels).map(|(&m, &y)| (sigmoid(c * m) - y) * m).sum::<f64>()
            / margins.len() as f64
    };
    if margins.is_empty() || grad(0.0) >= 0.0 {
        return 0.0;
    }
    // Bracket the root of the gradient: grad(0) < 0; grow hi until grad(hi) >= 0 (or give up large).
    let (mut lo, mut hi) = (0.0, 1.0);
    while grad(hi) < 0.0 && hi < 1e6 {
        lo = hi;
        hi *= 2.0;
    }
    let mut c = 0.5 * (lo + hi);
    for _ in 0..100 {
        let g = grad(c);
        if g.abs() < 1e-14 || hi - lo < 1e-12 * hi.max(1.0) {
            break;
        }
        if g < 0.0 {
            lo = c
        } else {
            hi = c
        }
        let h = margins
            .iter()
            .map(|&m| {
                let s = sigmoid(c * m);
                s * (1.0 - s) * m * m
            })
            .sum::<f64>()
            / margins.len() as f64;
        let newton = c - g / h;
        c = if h > 0.0 && newton >= lo && newton <= hi { newton } else { 0.5 * (lo + hi) };
    }
    c
}

pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SplitMix64;
    use proptest::prelude::*;

    #[test]
    fn gold_is_centred_and_unit_variance() {
        let raw = [1.0, 2.0, 3.0, 4.0];
        let c = Calibration::gold(&raw).unwrap();
        let s: Vec<f64> = raw.iter().map(|&r| c.apply(r)).collect();
        let mean = s.iter().sum::<f64>() / 4.0;
        let var = s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 4.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        assert!(Calibration::gold(&[2.0, 2.0]).is_none());
    }

    #[test]
    fn uninformative_margins_get_zero_scale() {
        assert_eq!(fit_logit_scale(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert_eq!(fit_logit_scale(&[1.0, 2.0], &[0.0, 0.0]), 0.0);
    }

    proptest! {
        /// Labels drawn from sigmoid(c_true * m) give back c_true (within sampling error).
        #[test]
        fn recovers_the_true_scale(c_true in 0.2f64..4.0, seed in any::<u64>()) {
            let mut rng = SplitMix64::new(seed);
            let n = 20_000;
            let margins: Vec<f64> = (0..n).map(|_| rng.next_gaussian()).collect();
            let labels: Vec<f64> = margins.iter().map(|&m| f64::from(rng.next_f64() < sigmoid(c_true * m))).collect();
            let c = fit_logit_scale(&margins, &labels);
            prop_assert!((c - c_true).abs() < 0.1 * c_true + 0.05, "fitted {c} vs true {c_true}");
        }

        /// The fitted scale is a minimum: nudging it either way does not lower the loss.
        #[test]
        fn fitted_scale_minimises_the_loss(ms in prop::collection::vec(-3.0f64..3.0, 5..50), seed in any::<u64>()) {
            let mut rng = SplitMix64::new(seed);
            let ys: Vec<f64> = ms.iter().map(|&m| f64::from(rng.next_f64() < sigmoid(m))).collect();
            let loss = |c: f64| ms.iter().zip(&ys).map(|(&m, &y)| {
                let p = sigmoid(c * m).clamp(1e-300, 1.0 - 1e-16);
                -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
            }).sum::<f64>();
            let c = fit_logit_scale(&ms, &ys);
            if c > 0.0 && c < 1e5 {
                prop_assert!(loss(c) <= loss(c * 1.01) + 1e-9 && loss(c) <= loss(c * 0.99) + 1e-9);
            }
        }
    }
}
