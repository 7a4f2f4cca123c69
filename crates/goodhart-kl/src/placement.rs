//! Where the KL goes, on a categorical policy where every expectation is exact: the gradient that
//! each way of penalising KL(pi || ref) gives, against the true gradient of KL(pi || ref).
//!
//! The policy is `pi = softmax(theta)` over `K` outcomes, the reference `ref` a fixed
//! distribution. Samples come from `pi` (on-policy); "sg" is stop-gradient. Per sample x, with
//! `log_r(x) = log ref(x) - log pi(x)`:
//! - **k1 in the reward** (PPO, REINFORCE on the reward `-k1 = log_r`): gradient
//!   `-E[log_r(x) grad log pi(x)]`, the score-function estimate of grad KL: unbiased.
//! - **k2 as a loss** (`0.5 log_r^2`, samples fixed): `E[-log_r(x) grad log pi(x)]`: unbiased.
//! - **k3 as a loss** (GRPO: `r - 1 - log r`, `r = ref / pi`, samples fixed):
//!   `E[(1 - r(x)) grad log pi(x)] = -E_ref[grad log pi]`, the gradient of the *reverse* KL(ref ||
//!   pi): biased for KL(pi || ref).
//! - **k3 as a loss with the importance weight** `pi / sg(pi)` (1 in value, not in gradient):
//!   adds the score term `E[k3(x) grad log pi(x)]` and so differentiates `E_pi[k3] = KL(pi || ref)`:
//!   unbiased.

use crate::KlError;

/// How a KL(pi || ref) penalty enters the objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// `-k1` added to the reward, optimised by the policy gradient (PPO's penalty).
    K1InReward,
    /// `k2 = 0.5 (log r)^2` as a loss on the sampled tokens.
    K2AsLoss,
    /// `k3 = r - 1 - log r` as a loss on the sampled tokens (GRPO).
    K3AsLoss,
    /// `k3` times the importance weight `pi / sg(pi)`, as a loss.
    K3ImportanceWeighted,
}

impl Placement {
    /// Every placement.
    pub const ALL: [Placement; 4] =
        [Placement::K1InReward, Placement::K2AsLoss, Placement::K3AsLoss, Placement::K3ImportanceWeighted];
}

fn softmax(theta: &[f64]) -> Vec<f64> {
    let top = theta.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = theta.iter().map(|t| (t - top).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

fn check(theta: &[f64], reference: &[f64]) -> Result<Vec<f64>, KlError> {
    crate::exact::check_distribution("reference", reference)?;
    if theta.len() != reference.len() {
        return Err(KlError::LengthMismatch { what: "theta", got: theta.len(), expected: reference.len() });
    }
    if let Some((index, v)) = theta.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(KlError::NonFinite { what: "theta", index, value: *v });
    }
    if let Some(index) = reference.iter().position(|&q| q <= 0.0) {
        return Err(KlError::NotADistribution {
            what: "reference",
            reason: format!("reference[{index}] is 0: KL(pi || ref) is infinite where ref has no mass"),
        });
    }
    Ok(softmax(theta))
}

/// `grad_theta log pi(x)` for `pi = softmax(theta)`: `e_x - pi`.
fn grad_log_pi(pi: &[f64], x: usize) -> impl Iterator<Item = f64> + '_ {
    pi.iter().enumerate().map(move |(j, p)| f64::from(u8::from(j == x)) - p)
}

/// The exact gradient of KL(pi || ref) in the logits `theta` of `pi = softmax(theta)`:
/// `pi_j (log(pi_j / ref_j) - KL)`.
pub fn kl_gradient(theta: &[f64], reference: &[f64]) -> Result<Vec<f64>, KlError> {
    let pi = check(theta, reference)?;
    let kl: f64 = pi.iter().zip(reference).map(|(p, q)| p * (p / q).ln()).sum();
    Ok(pi.iter().zip(reference).map(|(p, q)| p * ((p / q).ln() - kl)).collect())
}

/// The expected gradient (over samples from `pi`, exactly) that `placement` gives for the KL
/// penalty, in the logits `theta`.
pub fn placement_gradient(
    placement: Placement,
    theta: &[f64],
    reference: &[f64],
) -> Result<Vec<f64>, KlError> {
    let pi = check(theta, reference)?;
    let mut g = vec![0.0; pi.len()];
    for x in 0..pi.len() {
        let log_r = reference[x].ln() - pi[x].ln();
        let r = log_r.exp();
        // the per-sample coefficient of grad log pi(x)
        let coef = match placement {
            Placement::K1InReward | Placement::K2AsLoss => -log_r,
            Placement::K3AsLoss => 1.0 - r,
            Placement::K3ImportanceWeighted => (1.0 - r) + (r - 1.0 - log_r),
        };
        for (gj, d) in g.iter_mut().zip(grad_log_pi(&pi, x)) {
            *gj += pi[x] * coef * d;
        }
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn norm(v: &[f64]) -> f64 {
        v.iter().map(|x| x * x).sum::<f64>().sqrt()
    }

    fn distance(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt()
    }

    /// The gradient of `f` by central differences in theta.
    fn numeric_gradient(theta: &[f64], f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
        (0..theta.len())
            .map(|j| {
                let (mut a, mut b) = (theta.to_vec(), theta.to_vec());
                a[j] += 1e-6;
                b[j] -= 1e-6;
                (f(&a) - f(&b)) / 2e-6
            })
            .collect()
    }

    #[test]
    fn the_exact_gradient_is_the_derivative_of_the_kl() {
        let (theta, reference) = ([0.3, -1.0, 2.0, 0.0], [0.1, 0.2, 0.3, 0.4]);
        let kl = |t: &[f64]| {
            let pi = softmax(t);
            pi.iter().zip(&reference).map(|(p, q)| p * (p / q).ln()).sum::<f64>()
        };
        let numeric = numeric_gradient(&theta, kl);
        assert!(distance(&kl_gradient(&theta, &reference).unwrap(), &numeric) < 1e-8);
    }

    #[test]
    fn bad_inputs_are_named() {
        assert!(kl_gradient(&[0.0], &[0.5, 0.5]).unwrap_err().to_string().contains("theta"));
        assert!(kl_gradient(&[0.0, 0.0], &[1.0, 0.0]).unwrap_err().to_string().contains("reference[1]"));
    }

    proptest! {
        #[test]
        fn k1_in_the_reward_k2_as_a_loss_and_weighted_k3_are_unbiased(
            theta in proptest::collection::vec(-3.0f64..3.0, 2..8), w in proptest::collection::vec(0.05f64..1.0, 8),
        ) {
            let w = &w[..theta.len()];
            let s: f64 = w.iter().sum();
            let reference: Vec<f64> = w.iter().map(|x| x / s).collect();
            let exact = kl_gradient(&theta, &reference).unwrap();
            for p in [Placement::K1InReward, Placement::K2AsLoss, Placement::K3ImportanceWeighted] {
                let g = placement_gradient(p, &theta, &reference).unwrap();
                prop_assert!(distance(&g, &exact) < 1e-10 * (1.0 + norm(&exact)), "{p:?}: {g:?} vs {exact:?}");
            }
        }

        #[test]
        fn k3_as_a_loss_follows_the_reverse_kl(
            theta in proptest::collection::vec(-3.0f64..3.0, 2..8), w in proptest::collection::vec(0.05f64..1.0, 8),
        ) {
            let w = &w[..theta.len()];
            let s: f64 = w.iter().sum();
            let reference: Vec<f64> = w.iter().map(|x| x / s).collect();
            let g = placement_gradient(Placement::K3AsLoss, &theta, &reference).unwrap();
            // the gradient of KL(ref || pi) = -sum_j ref_j log pi_j + const is pi - ref
            let pi = softmax(&theta);
            let reverse: Vec<f64> = pi.iter().zip(&reference).map(|(p, q)| p - q).collect();
            prop_assert!(distance(&g, &reverse) < 1e-10);
        }
    }

    #[test]
    fn k3_as_a_loss_is_biased_away_from_the_reference() {
        // far from the reference the reverse KL's gradient is not the forward one's
        let (theta, reference) = ([3.0, 0.0, -2.0], [0.2, 0.3, 0.5]);
        let exact = kl_gradient(&theta, &reference).unwrap();
        let k3 = placement_gradient(Placement::K3AsLoss, &theta, &reference).unwrap();
        assert!(distance(&k3, &exact) > 0.1 * norm(&exact), "{k3:?} vs {exact:?}");
        // and at the reference every placement's gradient vanishes
        let at: Vec<f64> = reference.iter().map(|q: &f64| q.ln()).collect();
        for p in Placement::ALL {
            assert!(norm(&placement_gradient(p, &at, &reference).unwrap()) < 1e-12, "{p:?}");
        }
    }
}
