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
    /// Softmax temperature (1: the model's own distribution).
    pub temperature: f64,
    /// Sample among the k most likely tokens only (none: all).
    pub top_k: Option<usize>,
    /// Sample within the smallest set of tokens of total probability p (none: all).
    pub top_p: Option<f64>,
    /// Response length cap in tokens.
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
    /// Samples one response per prompt. Sample `i` uses the random stream `(seed, first_index + i)`
    /// whatever the batching, so a large request split into calls (with `first_index` advanced by
    /// the rows already drawn) draws exactly what one call would.
    fn sample(
        &self,
        prompts: &[Vec<TokenId>],
        settings: &SamplingSettings,
        seed: u64,
        first_index: u64,
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

    /// Number of parameters, counted as the paper does (see the implementing crate's docs); 0 for
    /// a reward that is not a model (a rubric, a closure).
    fn num_params(&self) -> u64;

    /// Scores a batch: one finite score per row; `prompts` and `responses` have equal lengths.
    fn score(&self, prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Result<Vec<f64>, BoxError>;
}

/// A closure as a [`RewardModel`]: the quickest way to optimise against a reward of your own.
///
/// ```
/// use goodhart_core::{FnReward, RewardModel};
///
/// // Longer responses are better.
/// let length = FnReward::new("length", |_p: &[Vec<u32>], r: &[Vec<u32>]| {
///     r.iter().map(|r| r.len() as f64).collect()
/// });
/// assert_eq!(length.score(&[vec![1]], &[vec![2, 3]]).unwrap(), vec![2.0]);
/// ```
pub struct FnReward<F> {
    name: String,
    f: F,
}

impl<F> FnReward<F>
where
    F: Fn(&[Vec<TokenId>], &[Vec<TokenId>]) -> Vec<f64>,
{
    /// The reward `f`, called `name` in records.
    pub fn new(name: impl Into<String>, f: F) -> Self {
        FnReward { name: name.into(), f }
    }
}

impl<F> RewardModel for FnReward<F>
where
    F: Fn(&[Vec<TokenId>], &[Vec<TokenId>]) -> Vec<f64>,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn num_params(&self) -> u64 {
        0
    }

    fn score(&self, prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Result<Vec<f64>, BoxError> {
        Ok((self.f)(prompts, responses))
    }
}

/// Who judges an optimised policy besides the proxy it is optimised against: the gold (the
/// stand-in for human labels, only observed, never optimised) and, where one exists, the rubric
/// the gold was trained to imitate.
#[derive(Clone, Copy)]
pub struct Judges<'a> {
    pub gold: &'a dyn RewardModel,
    pub rubric: Option<&'a dyn RewardModel>,
}

impl<'a> Judges<'a> {
    /// The gold alone.
    pub fn gold(gold: &'a dyn RewardModel) -> Self {
        Judges { gold, rubric: None }
    }
}

/// What an optimiser run reports: at least its [`Curve`]; implementations add their own detail
/// (per-prompt values, training logs).
pub trait OptimisedRun {
    /// The run's (KL, proxy, gold, rubric) points.
    fn curve(&self) -> super::Curve;
}

impl OptimisedRun for super::Curve {
    fn curve(&self) -> super::Curve {
        self.clone()
    }
}

/// Something that optimises a policy it owns (with its prompts, samples or checkpoints) against
/// a `proxy` and reports what the `judges` think along the way.
///
/// Best-of-n and PPO implement it (`goodhart-bon`, `goodhart-ppo`); the experiments run both
/// through it. `proxy` is `None` for a method that learns from labelled pairs without a reward
/// model (DPO); a method that needs one returns an error naming what is missing.
pub trait Optimiser {
    /// The run's report.
    type Run: OptimisedRun;

    /// Runs the optimisation, leaving the initial policy unchanged.
    fn optimise(
        &mut self,
        proxy: Option<&dyn RewardModel>,
        judges: Judges<'_>,
    ) -> Result<Self::Run, BoxError>;
}
