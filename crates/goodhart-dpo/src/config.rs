//! Every hyperparameter of a direct-alignment run.

use goodhart_core::SamplingSettings;
use serde::{Deserialize, Serialize};

use crate::DaaError;

/// Which direct alignment algorithm (see the crate docs for the losses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaaLoss {
    /// `-ln sigmoid(beta h)` (Rafailov et al. 2023).
    Dpo,
    /// `(h - 1 / (2 beta))^2` (Azar et al. 2023).
    Ipo,
}

impl std::fmt::Display for DaaLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DaaLoss::Dpo => "dpo",
            DaaLoss::Ipo => "ipo",
        })
    }
}

/// A direct-alignment run: the loss, its beta, the optimisation and the evaluations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaaConfig {
    /// `dpo` or `ipo`.
    pub loss: DaaLoss,
    /// The KL-regularisation strength beta (> 0): DPO's inverse temperature, IPO's margin
    /// `1 / (2 beta)`.
    pub beta: f64,
    /// Optimiser steps, one minibatch of pairs each (drawn without replacement within an epoch).
    pub total_steps: usize,
    /// Preference pairs per step.
    pub batch_size: usize,
    /// AdamW learning rate (constant).
    pub lr: f64,
    pub weight_decay: f64,
    pub adam_eps: f64,
    /// Global gradient-norm clip.
    pub max_grad_norm: f64,
    /// Seed of the minibatch order and of the evaluations' samples.
    pub seed: u64,
    /// Gold evaluations per doubling of the step count (at step 0 and the last step too).
    pub eval_per_octave: usize,
    /// Rows per forward pass when sampling and scoring.
    pub gen_batch_size: usize,
    /// Response length cap of the evaluations' samples.
    pub max_new_tokens: usize,
}

impl DaaConfig {
    /// The sampling of the evaluations: the policy's own distribution, as PPO's.
    pub fn sampling(&self) -> SamplingSettings {
        SamplingSettings { max_new_tokens: self.max_new_tokens, ..SamplingSettings::default() }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`DaaError::InvalidConfig`] naming the first offending field.
    pub fn validate(&self) -> Result<(), DaaError> {
        let bad = |field: &'static str, reason: String| Err(DaaError::InvalidConfig { field, reason });
        for (field, v) in [
            ("total_steps", self.total_steps),
            ("batch_size", self.batch_size),
            ("gen_batch_size", self.gen_batch_size),
            ("max_new_tokens", self.max_new_tokens),
            ("eval_per_octave", self.eval_per_octave),
        ] {
            if v == 0 {
                return bad(field, "must be at least 1".into());
            }
        }
        if !(self.beta.is_finite() && self.beta > 0.0) {
            return bad("beta", format!("{} must be finite and > 0", self.beta));
        }
        for (field, v) in
            [("lr", self.lr), ("max_grad_norm", self.max_grad_norm), ("adam_eps", self.adam_eps)]
        {
            if !(v.is_finite() && v > 0.0) {
                return bad(field, format!("{v} must be finite and > 0"));
            }
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay", format!("{} must be finite and >= 0", self.weight_decay));
        }
        Ok(())
    }
}
