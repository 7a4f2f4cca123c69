use serde::{Deserialize, Serialize};

/// A token id of the shared tokenizer.
pub type TokenId = u32;

/// The error type of the object-safe traits: implementations keep their own typed errors and box
/// them at this boundary.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How a policy samples. The log-probabilities a policy returns are those of the distribution it
/// actually sampled from (after temperature, top-k and top-p), so KL estimates stay unbiased.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingSettings {
    pub temperature: f64,
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
    pub max_new_tokens: usize,
}

impl Default for SamplingSettings {
    /// Plain ancestral sampling (temperature 1, no truncation): the paper's policy distribution.
    fn default() -> Self {
        SamplingSettings { temperature: 1.0, top_k: None, top_p: None, max_new_tokens: 32 }
    }
}

/// A response to a prompt, with the per-token log-probabilities of the policy that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub prompt: Vec<TokenId>,
    pub response: Vec<TokenId>,
    /// `logprobs[t] = log pi(response[t] | prompt, response[..t])`, one per response token.
    pub logprobs: Vec<f32>,
}

/// A language-model policy: samples responses and scores given ones.
pub trait Policy {
    /// Samples one response per prompt, deterministically for a given `seed`.
    fn sample(
        &self,
        prompts: &[Vec<TokenId>],
        settings: &SamplingSettings,
        seed: u64,
    ) -> Result<Vec<Sample>, BoxError>;

    /// Per-token log-probabilities of `responses[i]` given `prompts[i]` under this policy
    /// (temperature 1, untruncated).
    fn logprobs(
        &self,
        prompts: &[Vec<TokenId>],
        responses: &[Vec<TokenId>],
    ) -> Result<Vec<Vec<f32>>, BoxError>;
}

/// A reward model: one scalar per (prompt, response), already recentred so that the initial
/// policy's mean score is 0.
pub trait RewardModel {
    /// A short name for records and plots, such as `"proxy-3"` or `"gold"`.
    fn name(&self) -> &str;

    /// Number of parameters, counted as the paper does (see the implementing crate's docs).
    fn num_params(&self) -> u64;

    /// Scores a batch; `prompts` and `responses` have equal lengths.
    fn score(&self, prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Result<Vec<f32>, BoxError>;
}

/// Something that optimises a policy against a `proxy` and reports what the `gold` thinks.
pub trait Optimiser {
    /// Runs the optimisation from `policy` (the initial policy, left unchanged) and returns the
    /// curve of (KL, proxy, gold) points.
    fn optimise(
        &mut self,
        policy: &dyn Policy,
        proxy: &dyn RewardModel,
        gold: &dyn RewardModel,
    ) -> Result<super::Curve, BoxError>;
}
