//! [`PpoError`]: everything that can go wrong in a PPO run, each with the fix.

use std::path::PathBuf;

/// Errors of configuration, training and checkpoint I/O. Each message names what failed (the
/// config field, the step, the file) and how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PpoError {
    /// A [`crate::PpoConfig`] field is out of range.
    #[error("invalid PpoConfig.{field}: {reason}")]
    InvalidConfig { field: &'static str, reason: String },

    /// A required input is empty or too small.
    #[error("{what}: {fix}")]
    BadInput { what: &'static str, fix: &'static str },

    /// A loss became NaN or infinite.
    #[error(
        "{loss} became {value} at step {step} (learning rate {lr}): lower PpoConfig.lr / vf_lr or \
         max_grad_norm, and check that the reward function returns finite, calibrated scores; \
         checkpoints written before this step are kept, resume from them after the fix"
    )]
    NonFiniteLoss { step: usize, loss: &'static str, value: f64, lr: f64 },

    /// A reward function returned a non-finite score, or the wrong number of scores.
    #[error(
        "the {which} reward function returned {detail} at step {step}; it must return one finite \
         score per (prompt, response): check the reward model's calibration and inputs"
    )]
    BadReward { step: usize, which: &'static str, detail: String },

    /// A checkpoint file exists but cannot be read back.
    #[error(
        "corrupt checkpoint file {}: {detail}; delete this checkpoint directory (the run restarts \
         from the previous complete checkpoint, or from scratch) or restore it from a copy",
        .path.display()
    )]
    CheckpointCorrupt { path: PathBuf, detail: String },

    /// A checkpoint was written by a run with other settings or other inputs.
    #[error(
        "checkpoint {} does not belong to this run: {detail}; resume with the settings and inputs \
         it was written with, or use another checkpoint directory",
        .path.display()
    )]
    CheckpointMismatch { path: PathBuf, detail: String },

    /// An operating-system I/O error (permissions, full disk, ...).
    #[error("I/O error on {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Sampling or scoring with the policy failed (e.g. sequences longer than the context).
    #[error(transparent)]
    Policy(#[from] goodhart_policy::PolicyError),

    /// A KL estimate could not be computed (non-finite log-probabilities).
    #[error(transparent)]
    Kl(#[from] goodhart_kl::KlError),
}

impl From<goodhart_policy::eval::EvalError> for PpoError {
    fn from(e: goodhart_policy::eval::EvalError) -> Self {
        use goodhart_policy::eval::EvalError;
        match e {
            EvalError::BadReward { step, which, detail } => PpoError::BadReward { step, which, detail },
            EvalError::Policy(e) => PpoError::Policy(e),
            EvalError::Kl(e) => PpoError::Kl(e),
        }
    }
}
