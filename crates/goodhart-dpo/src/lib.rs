//! Direct alignment algorithms: a policy trained on preference pairs without a reward model,
//! the reference (initial) policy frozen, and the gold tracked against KL(pi || pi_ref) at
//! log-spaced steps exactly as for PPO (Rafailov et al. 2024, "Scaling Laws for Reward Model
//! Overoptimization in Direct Alignment Algorithms").
//!
//! # The losses
//!
//! With `h = [log pi(y_w|x) - log pi_ref(y_w|x)] - [log pi(y_l|x) - log pi_ref(y_l|x)]` for the
//! chosen response `y_w` and the rejected `y_l` (sums over response tokens):
//!
//! ```text
//! DPO (Rafailov et al. 2023): L = -ln sigmoid(beta h)
//! IPO (Azar et al. 2023):     L = (h - 1 / (2 beta))^2
//! ```
//!
//! averaged over a minibatch of pairs. The policy's implicit reward of a response is
//! `beta (log pi(y|x) - log pi_ref(y|x))` ([`ImplicitReward`]): the evaluations record it where PPO
//! records the proxy.
//!
//! # Files
//!
//! `config` ([`DaaConfig`]), `loss` (the losses and their gradients on the host), `trainer`
//! ([`DaaTrainer`]: the policy, its frozen reference, the loop with evaluations), `implicit`
//! ([`ImplicitReward`]) and `optimiser` ([`DaaOptimiser`], through [`goodhart_core::Optimiser`]
//! with no proxy).
//!
//! ```
//! use goodhart_dpo::{pair_loss, DaaLoss};
//!
//! // h = 0: DPO's loss is ln 2, IPO's is (1 / (2 beta))^2.
//! assert!((pair_loss(DaaLoss::Dpo, 0.1, 0.0) - 2f64.ln()).abs() < 1e-12);
//! assert!((pair_loss(DaaLoss::Ipo, 0.5, 0.0) - 1.0).abs() < 1e-12);
//! ```

mod config;
mod implicit;
mod loss;
mod optimiser;
mod trainer;

pub use config::{DaaConfig, DaaLoss};
pub use implicit::ImplicitReward;
pub use loss::{batch_loss, pair_loss, pair_loss_grad};
pub use optimiser::DaaOptimiser;
pub use trainer::{DaaOutput, DaaStepLog, DaaTrainer, PreferencePair};

/// What can go wrong in a direct-alignment run, each with its fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaaError {
    /// A [`DaaConfig`] field is out of range.
    #[error("invalid DaaConfig.{field}: {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    /// A required input is empty or too small.
    #[error("{what}: {fix}")]
    BadInput { what: &'static str, fix: &'static str },
    /// The loss became NaN or infinite.
    #[error(
        "the {loss} loss became {value} at step {step} (learning rate {lr}): lower DaaConfig.lr or raise beta"
    )]
    NonFiniteLoss { step: usize, loss: DaaLoss, value: f64, lr: f64 },
    #[error(transparent)]
    Policy(#[from] goodhart_policy::PolicyError),
    #[error(transparent)]
    Eval(#[from] goodhart_policy::eval::EvalError),
}
