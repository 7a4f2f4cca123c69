//! The rewards a run reads: the proxy it is optimised against and the judges it is evaluated by,
//! all [`goodhart_core::RewardModel`]s, checked at every call.

use goodhart_core::{Record, RewardModel, TokenId};

/// What a run reads besides the initial policy: prompts, reward models and the row template.
pub struct PpoInputs<'a> {
    /// Training prompts; each rollout draws `batch_size` of them with replacement.
    pub prompts: &'a [Vec<TokenId>],
    /// Held-out prompts for the gold evaluations (at least 2): one response to each at every
    /// evaluation (repeat a prompt to draw several responses to it).
    pub eval_prompts: &'a [Vec<TokenId>],
    /// The reward the policy is optimised against.
    pub proxy: &'a dyn RewardModel,
    /// The ground truth, only observed at evaluations.
    pub gold: &'a dyn RewardModel,
    /// What the gold stands for (the experiments' rubric), recorded beside it at evaluations.
    pub rubric: Option<&'a dyn RewardModel>,
    /// The row every [`Record`] starts from (experiment, RM size, data size, policy size,
    /// kl_penalty, seed); `method`, `step`, `n`, KL and scores are filled in.
    pub template: Record,
}
