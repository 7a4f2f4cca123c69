//! What training and optimisation runs report, as plain records: crates that read results
//! (the findings' checks, the Python package) use them without the crates that produce them.

use serde::{Deserialize, Serialize};

use crate::Estimate;

/// Validation loss (nats, chance = ln 2) and accuracy of a reward model on comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RmEval {
    pub loss: f64,
    pub accuracy: f64,
    pub pairs: usize,
}

impl RmEval {
    /// Loss and accuracy of comparisons whose chosen-minus-rejected score margins are
    /// `margins`: loss `-ln sigmoid(m)` averaged, a tie counting half a correct answer.
    pub fn from_margins(margins: &[f64]) -> Self {
        let (mut loss, mut correct) = (0.0f64, 0.0f64);
        for &m in margins {
            loss += crate::neg_log_sigmoid(m);
            correct += if m > 0.0 {
                1.0
            } else if m == 0.0 {
                0.5
            } else {
                0.0
            };
        }
        let n = margins.len().max(1) as f64;
        RmEval { loss: loss / n, accuracy: correct / n, pairs: margins.len() }
    }
}

/// What one PPO iteration did. Loss statistics are means over all minibatch updates of the
/// iteration; KL and reward statistics are over the rollout's episodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PpoStepLog {
    /// Iteration index (the policy had `step` updates when it sampled this rollout).
    pub step: usize,
    /// Policy learning rate used.
    pub lr: f64,
    /// KL-penalty coefficient used for this rollout's rewards.
    pub kl_coef: f64,
    /// Proxy score of the rollout's responses (before any KL penalty).
    pub proxy: Estimate,
    /// Sequence KL(pi || pi_init) of the rollout samples, k1 estimator (mean of the sum over
    /// tokens of `log pi - log pi_init`), with its standard error across episodes.
    pub kl_k1: Estimate,
    /// The same with the k3 estimator (`r - 1 - log r`, `r = pi_init / pi`, per token).
    pub kl_k3: Estimate,
    /// Mean response length in tokens (including `[eos]`).
    pub response_len: f64,
    /// Clipped surrogate loss.
    pub pg_loss: f64,
    /// (Clipped) value loss, `0.5 * mean squared error`.
    pub v_loss: f64,
    /// Mean entropy of the policy's next-token distribution over response positions (nats).
    pub entropy: f64,
    /// `mean((ratio - 1) - log ratio)`, the k3 estimate of KL(pi_old || pi) per token.
    pub approx_kl: f64,
    /// Fraction of response tokens whose ratio was clipped.
    pub clipfrac: f64,
    /// `1 - Var(returns - values) / Var(returns)` of the rollout; `None` if the returns are constant.
    pub explained_variance: Option<f64>,
    /// Mean global gradient norm of the policy before clipping.
    pub grad_norm: f64,
    /// Mean global gradient norm of the value model before clipping.
    pub vf_grad_norm: f64,
    /// Epochs run (fewer than `update_epochs` when `target_kl` stopped them).
    pub epochs: usize,
}
