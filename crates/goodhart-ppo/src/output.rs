//! What a run reports: a log per iteration, the judges' evaluations, the records of the curve.

use goodhart_core::{Curve, Estimate, Method, Record};
pub use goodhart_policy::eval::GoldEval;
use serde::{Deserialize, Serialize};

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

/// The result of a (possibly partial) run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PpoOutput {
    /// One row per gold evaluation, in step order.
    pub records: Vec<Record>,
    pub evals: Vec<GoldEval>,
    /// One log per PPO iteration.
    pub logs: Vec<PpoStepLog>,
    /// Whether the run reached `total_steps` (false when stopped by the callback).
    pub complete: bool,
}

impl goodhart_core::OptimisedRun for PpoOutput {
    /// The evaluations as a [`Curve`].
    fn curve(&self) -> Curve {
        Curve { method: Method::Rl, points: self.evals.iter().map(GoldEval::to_point).collect() }
    }
}
