//! PPO against a proxy reward model, for the RL half of Gao, Schulman & Hilton (2022), "Scaling
//! Laws for Reward Model Overoptimization": a language-model policy is optimised against a proxy
//! RM, and at log-spaced steps the gold RM, the proxy and the KL to the initial policy are
//! measured on held-out prompts. The resulting [`goodhart_core::Record`] rows (method `rl`) are
//! what the paper's RL curves (fig. 1b, 4b, 7b, 9, 14-16) are drawn and fitted from
//! (`R_RL(d) = d (alpha - beta ln d)`, `d = sqrt(KL)`; the fit lives in `goodhart-laws`).
//!
//! # The algorithm
//!
//! Each iteration (one "step") samples a rollout of `batch_size` episodes from the current
//! policy `pi`: an episode is a prompt and a sampled response `a_0 .. a_{L-1}`, where action
//! `a_t` is a token and state `s_t` is the prompt with `a_0 .. a_{t-1}`. The episode ends at
//! `[eos]` or after `max_new_tokens`. Rewards (Ziegler et al. 2019) are a per-token KL penalty
//! against the frozen initial policy plus the proxy score of the whole response at the end:
//!
//! ```text
//! r_t = -beta * (log pi(a_t|s_t) - log pi_init(a_t|s_t)) + [t = L-1] * R_proxy(prompt, response)
//! ```
//!
//! (`beta = 0` in the paper's main runs; fixed or adaptive otherwise.) A value model `V` (the
//! policy's trunk with a scalar head at every position, trained alongside) gives advantages by
//! GAE:
//!
//! ```text
//! delta_t = r_t + gamma * V(s_{t+1}) - V(s_t)        (V(s_L) = 0: the episode is over)
//! A_t     = delta_t + gamma * lambda * A_{t+1}        returns R_t = A_t + V(s_t)
//! ```
//!
//! Then `update_epochs` passes over shuffled minibatches of whole episodes minimise the clipped
//! surrogate and the (clipped) value loss, each with its own AdamW and global-norm clipping:
//!
//! ```text
//! ratio_t = pi(a_t|s_t) / pi_old(a_t|s_t)
//! pg_loss = mean_t max(-A_t * ratio_t, -A_t * clip(ratio_t, 1 - eps, 1 + eps))
//! v_loss  = 0.5 * mean_t max((V(s_t) - R_t)^2, (V_old(s_t) + clip(V(s_t) - V_old(s_t), -eps, eps) - R_t)^2)
//! ```
//!
//! Means run over response tokens; advantages are normalised per minibatch.
//!
//! Two variants, for asking where the KL should go ([`KlPlacement`], [`Advantages`]): the penalty
//! as a loss term (k2, k3 as in GRPO, or k3 weighted by the ratio) instead of in the reward, and
//! GRPO's critic-free advantages (Shao et al. 2024: `group` responses per prompt, each response's
//! reward standardised within its group, no value model). The defaults are PPO as above. Names follow
//! cleanrl's `ppo.py`: `pg_loss`, `v_loss`, `approx_kl`, `clipfrac`, `entropy`,
//! `explained_variance` are logged every step ([`PpoStepLog`]), with the rollout's proxy score
//! and KL to `pi_init` (k1 and k3 with standard errors).
//!
//! # Files, in the order of the method
//!
//! `config` ([`PpoConfig`], every hyperparameter), `reward` (the proxy and the judges, checked at
//! every call), `trainer` ([`PpoTrainer`]: the policy, its frozen initial copy, the value model,
//! one iteration, evaluations, the loop), `rollout` (a rollout's storage and minibatches),
//! `losses` (rewards, GAE, the clipped losses), `checkpoint`, `output` (logs and evaluations) and
//! `optimiser` ([`PpoOptimiser`], PPO through [`goodhart_core::Optimiser`]).
//!
//! # Use
//!
//! [`PpoOptimiser`] is PPO as an [`goodhart_core::Optimiser`]: it owns the initial policy, its
//! prompts and its checkpoint directory, and takes the proxy and the judges as
//! [`goodhart_core::RewardModel`]s.
//!
//! [`run_ppo`] (or [`PpoTrainer::with_checkpoints`] + [`PpoTrainer::run`]) trains from an initial
//! policy with [`PpoInputs`] (training and evaluation prompts, proxy and gold as
//! [`goodhart_core::RewardModel`]s,
//! a template row), checkpointing atomically every `checkpoint_every` steps and resuming from the
//! latest checkpoint: a run killed at any point and resumed finishes with the same records as an
//! uninterrupted one (see [`PpoTrainer`]). Every hyperparameter is in [`PpoConfig`].
//!
//! ```
//! use goodhart_ppo::{gae, PpoConfig};
//!
//! let config = PpoConfig::paper();
//! config.validate().unwrap();
//! assert_eq!((config.batch_size, config.num_minibatches, config.clip_coef), (256, 128, 0.2));
//!
//! // A two-token episode rewarded 1 at the end, values 0, gamma = 1, lambda = 0.95:
//! let advantages = gae(&[0.0, 1.0], &[0.0, 0.0], 1.0, 0.95);
//! assert_eq!(advantages, vec![0.95, 1.0]);
//! ```

mod checkpoint;
mod config;
mod error;
mod losses;
mod optimiser;
mod output;
mod reward;
mod rollout;
#[cfg(test)]
mod tests;
mod trainer;

pub use config::{Advantages, KlPenalty, KlPlacement, PpoConfig};
pub use error::PpoError;
pub use goodhart_core::PpoStepLog;
/// Shared with every optimiser that trains a policy; re-exported from [`goodhart_policy::eval`].
pub use goodhart_policy::eval::{
    eval_steps, evaluate_policy, logprobs_and_entropy, EvalError, GoldEval, Judged, Layout,
};
pub use losses::{
    adaptive_kl_coef, clipped_policy_loss, clipped_value_loss, explained_variance, gae, gae_into,
    group_advantages, kl_loss, masked_mean, token_rewards, token_values, PolicyLoss,
};
pub use optimiser::{PpoOptimiser, PpoProgress};
pub use output::PpoOutput;
pub use reward::PpoInputs;
pub use trainer::{run_ppo, PpoTrainer};
