//! PPO for a language-model policy against a proxy reward, in the order of the method
//! (cleanrl's `ppo.py` is the model; names follow it):
//!
//! 1. [`PpoConfig`]: every hyperparameter, with presets.
//! 2. [`RewardFn`]: the proxy (and gold) reward of a whole response.
//! 3. [`PpoTrainer::new`]: the policy, a frozen copy of it (the initial policy), and a value
//!    model initialised from the policy's trunk; one AdamW optimiser each.
//! 4. [`PpoTrainer::train_step`], one PPO iteration:
//!    rollout ([`goodhart_policy::generate`]) → log-probabilities under the policy and the
//!    initial policy, values → rewards ([`token_rewards`]: KL penalty per token, proxy score at
//!    the last token) → advantages ([`gae`]) → `update_epochs` passes over shuffled minibatches
//!    of episodes, minimising [`clipped_policy_loss`] and [`clipped_value_loss`] with global-norm
//!    gradient clipping → adaptive KL coefficient ([`adaptive_kl_coef`]).
//! 5. [`PpoTrainer::evaluate`]: gold, proxy and KL on held-out prompts, at log-spaced steps
//!    ([`eval_steps`]), as [`goodhart_core::Record`] rows.
//! 6. [`PpoTrainer::run`]: the loop, with checkpoints every `checkpoint_every` steps.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use goodhart_core::{Curve, CurvePoint, Estimate, Method, Record, SamplingSettings, SplitMix64, TokenId};
use goodhart_kl::{batch_kl_summary, KlSummary};
use goodhart_nn::{clip_global_norm, Gpt, ScalarModel};
use goodhart_policy::sampling::sequence_rng;
use goodhart_policy::{generate, response_logprobs, PretrainConfig, Specials};
use goodhart_rm::CalibratedRm;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, TrainState};
use crate::PpoError;

// ---------------------------------------------------------------------------------------------
// 1. Hyperparameters
// ---------------------------------------------------------------------------------------------

/// The KL penalty added to the reward at every response token:
/// `r_t -= kl_coef * (log pi(a_t|s_t) - log pi_init(a_t|s_t))`.
///
/// The paper's runs use no penalty (`Fixed { coef: 0.0 }`) except the KL-penalty sweep (fig. 9,
/// 14), where a penalty acts like early stopping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KlPenalty {
    /// A constant coefficient.
    Fixed { coef: f64 },
    /// The adaptive controller of Ziegler et al. (2019), "Fine-Tuning Language Models from Human
    /// Preferences", sec. 2.2: after each rollout,
    /// `coef *= 1 + clip(KL / target - 1, -0.2, 0.2) * batch_size / horizon`, where `KL` is the
    /// rollout's mean sequence KL (k1). Ziegler et al. use `horizon = 10_000`.
    Adaptive { init_coef: f64, target: f64, horizon: f64 },
}

impl KlPenalty {
    /// The coefficient before the first step.
    pub fn initial_coef(&self) -> f64 {
        match *self {
            KlPenalty::Fixed { coef } => coef,
            KlPenalty::Adaptive { init_coef, .. } => init_coef,
        }
    }
}

/// Every hyperparameter of a PPO run (serialised as JSON with the run's checkpoints).
///
/// Presets: [`PpoConfig::tiny`] (tests, seconds), [`PpoConfig::laptop`] (minutes on a CPU) and
/// [`PpoConfig::paper`] (Table 1 of Gao et al. 2022 where it states a value).
///
/// # The paper's Table 1, and what it does not say
///
/// | Table 1                      | value  | here |
/// |------------------------------|--------|------|
/// | RL batch size                | 256    | `batch_size` (episodes per rollout) |
/// | PPO clip                     | 0.2    | `clip_coef` |
/// | GAE lambda                   | 0.95   | `gae_lambda` |
/// | minibatches per epoch        | 128    | `num_minibatches` |
/// | timesteps per rollout        | 256    | read as the response length, `max_new_tokens` |
/// | RL Adam lr multiplier        | 4e-3   | a multiple of the *pretraining* learning rate, at OpenAI's model scale: `paper()` uses `4e-3 ×` [`PretrainConfig::laptop`]`.lr`; it is no guide for these small models |
/// | RM Adam lr multiplier        | 1.67e-2 | (reward models, not PPO) |
/// | KL penalty                   | 0      | `kl_penalty` (except the KL-penalty sweep) |
///
/// Not stated: `gamma` (1.0 here: episodic, as in Ziegler et al.), `update_epochs` (4, cleanrl's
/// default and that of the small-scale reproduction of Coste et al. 2023), the number of steps
/// (3000 as in Coste et al.), value-loss clipping, entropy bonus (none), gradient clipping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PpoConfig {
    /// PPO iterations (rollout + update), cleanrl's `num_iterations`.
    pub total_steps: usize,
    /// Seed of everything random in the run: prompt choice, sampling, minibatch order. The
    /// randomness of step `s` is a function of `(seed, s)` only (see [`PpoTrainer`]).
    pub seed: u64,

    /// Episodes (prompt + sampled response) per rollout; the paper's "RL batch size". >= 2.
    pub batch_size: usize,
    /// Longest response; a response also ends at `[eos]`. Either way the episode is terminal.
    pub max_new_tokens: usize,
    /// Rows per forward pass when sampling and scoring. It affects speed, and can change float
    /// rounding (batched matrix products), so a resumed run must keep it.
    pub gen_batch_size: usize,

    /// Per-token KL penalty against the initial policy.
    pub kl_penalty: KlPenalty,

    /// Discount factor.
    pub gamma: f64,
    /// GAE lambda (Schulman et al. 2016).
    pub gae_lambda: f64,
    /// Normalise advantages to mean 0, std 1 within each minibatch (cleanrl's `norm_adv`).
    pub norm_adv: bool,

    /// Passes over the rollout per iteration (cleanrl's `update_epochs`).
    pub update_epochs: usize,
    /// Minibatches per epoch; each holds `batch_size / num_minibatches` whole episodes.
    pub num_minibatches: usize,
    /// Surrogate clipping coefficient epsilon: the ratio is clipped to `[1 - eps, 1 + eps]`.
    pub clip_coef: f64,
    /// Clip the value loss as well (around the rollout's values, by `clip_coef`).
    pub clip_vloss: bool,
    /// Entropy bonus coefficient (the paper: none).
    pub ent_coef: f64,
    /// Stop the epochs of an iteration early once `approx_kl` exceeds this (cleanrl's `target_kl`).
    pub target_kl: Option<f64>,

    /// AdamW learning rate of the policy.
    pub lr: f64,
    /// AdamW learning rate of the value model. There is no `vf_coef`: the value model has its
    /// own optimiser, and a loss weight would only rescale its gradients, which Adam undoes.
    pub vf_lr: f64,
    /// Anneal both learning rates linearly to 0 over `total_steps` (cleanrl's `anneal_lr`).
    pub anneal_lr: bool,
    /// AdamW decoupled weight decay (0 = Adam).
    pub weight_decay: f64,
    /// Adam epsilon (cleanrl: 1e-5).
    pub adam_eps: f64,
    /// Global gradient-norm clip, applied to the policy and the value model separately.
    pub max_grad_norm: f64,

    /// Gold evaluations per doubling of the step count (1: steps 0, 1, 2, 4, 8, ...; 2: 0, 1, 2,
    /// 3, 4, 6, 8, 11, 16, ...), always including step 0 and the last step. See [`eval_steps`].
    pub eval_per_octave: usize,
    /// Write a checkpoint every this many steps (when the run has a checkpoint directory).
    pub checkpoint_every: usize,
}

impl PpoConfig {
    /// For tests: seconds on a CPU with a tiny model.
    pub fn tiny() -> Self {
        PpoConfig {
            total_steps: 8,
            seed: 0,
            batch_size: 32,
            max_new_tokens: 6,
            gen_batch_size: 64,
            kl_penalty: KlPenalty::Fixed { coef: 0.0 },
            gamma: 1.0,
            gae_lambda: 0.95,
            norm_adv: true,
            update_epochs: 4,
            num_minibatches: 4,
            clip_coef: 0.2,
            clip_vloss: true,
            ent_coef: 0.0,
            target_kl: None,
            lr: 3e-3,
            vf_lr: 3e-3,
            anneal_lr: false,
            weight_decay: 0.0,
            adam_eps: 1e-5,
            max_grad_norm: 1.0,
            eval_per_octave: 1,
            checkpoint_every: 2,
        }
    }

    /// Minutes on a laptop CPU with the workspace's laptop-sized policies (responses of up to
    /// 40 tokens, as the best-of-n pools). The learning rate is chosen for these small models,
    /// not derived from the paper's multiplier. Measured with the p300k laptop policy against a
    /// p3k proxy (`examples/ppo_probe.rs` of goodhart-repro): at lr 1e-4 the gold peaked near
    /// KL 2 and fell below its start by KL 30 while the proxy saturated near step 60; at 3e-4 the
    /// KL jumped by up to 10 nats a step and the peak was poorly resolved. In the laptop figure 1
    /// (proxies p1k, p10k, p100k from scratch, 100 steps) the gold peaked by step 4 and every run
    /// had saturated by step 25-40, so the preset ran 40 steps. Proxies that start from pretrained
    /// LMs learn the gold better and PPO takes longer to overoptimise them: against the p10k proxy
    /// the gold rose until step 32 (KL 37) and fell by 0.18 (4 standard errors) by step 64, the
    /// proxy still rising; 100 steps keep that fall.
    pub fn laptop() -> Self {
        PpoConfig {
            total_steps: 100,
            batch_size: 64,
            max_new_tokens: 40,
            num_minibatches: 4,
            lr: 1e-4,
            vf_lr: 3e-4,
            eval_per_octave: 3,
            checkpoint_every: 10,
            ..Self::tiny()
        }
    }

    /// Table 1 of Gao et al. (2022) where it states a value; see the table on [`PpoConfig`] for
    /// what is read or assumed.
    pub fn paper() -> Self {
        let lr = 4e-3 * PretrainConfig::laptop().lr;
        PpoConfig {
            total_steps: 3000,
            batch_size: 256,
            max_new_tokens: 256,
            num_minibatches: 128,
            update_epochs: 4,
            clip_coef: 0.2,
            gae_lambda: 0.95,
            gamma: 1.0,
            kl_penalty: KlPenalty::Fixed { coef: 0.0 },
            lr,
            vf_lr: lr,
            max_grad_norm: 1.0,
            eval_per_octave: 2,
            checkpoint_every: 50,
            ..Self::tiny()
        }
    }

    /// Episodes per minibatch.
    pub fn minibatch_size(&self) -> usize {
        self.batch_size / self.num_minibatches.max(1)
    }

    /// Learning rate of (policy, value model) at `step` (0-based).
    pub fn lr_at(&self, step: usize) -> (f64, f64) {
        let frac = if self.anneal_lr { 1.0 - step as f64 / self.total_steps as f64 } else { 1.0 };
        (self.lr * frac, self.vf_lr * frac)
    }

    /// The sampling settings of rollouts and evaluations: the policy's own distribution
    /// (temperature 1, no truncation), which PPO's ratio and the KL estimates assume.
    pub fn sampling(&self) -> SamplingSettings {
        SamplingSettings { max_new_tokens: self.max_new_tokens, ..SamplingSettings::default() }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`PpoError::InvalidConfig`] naming the first offending field.
    pub fn validate(&self) -> Result<(), PpoError> {
        let bad = |field: &'static str, reason: String| Err(PpoError::InvalidConfig { field, reason });
        let positive_counts = [
            ("total_steps", self.total_steps),
            ("max_new_tokens", self.max_new_tokens),
            ("gen_batch_size", self.gen_batch_size),
            ("update_epochs", self.update_epochs),
            ("num_minibatches", self.num_minibatches),
            ("eval_per_octave", self.eval_per_octave),
            ("checkpoint_every", self.checkpoint_every),
        ];
        for (field, value) in positive_counts {
            if value == 0 {
                return bad(field, "must be >= 1, got 0".into());
            }
        }
        if self.batch_size < 2 {
            return bad(
                "batch_size",
                format!("must be >= 2 (standard errors need two episodes), got {}", self.batch_size),
            );
        }
        if !self.batch_size.is_multiple_of(self.num_minibatches) {
            return bad(
                "num_minibatches",
                format!("must divide batch_size ({}), got {}", self.batch_size, self.num_minibatches),
            );
        }
        let unit = [("gamma", self.gamma), ("gae_lambda", self.gae_lambda)];
        for (field, value) in unit {
            if !(0.0..=1.0).contains(&value) {
                return bad(field, format!("must be in [0, 1], got {value}"));
            }
        }
        let positive = [
            ("clip_coef", self.clip_coef),
            ("lr", self.lr),
            ("vf_lr", self.vf_lr),
            ("adam_eps", self.adam_eps),
            ("max_grad_norm", self.max_grad_norm),
        ];
        for (field, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return bad(field, format!("must be finite and > 0, got {value}"));
            }
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay", format!("must be finite and >= 0, got {}", self.weight_decay));
        }
        if !self.ent_coef.is_finite() {
            return bad("ent_coef", format!("must be finite, got {}", self.ent_coef));
        }
        if let Some(t) = self.target_kl {
            if !(t.is_finite() && t > 0.0) {
                return bad("target_kl", format!("must be None or finite and > 0, got {t}"));
            }
        }
        match self.kl_penalty {
            KlPenalty::Fixed { coef } if !(coef.is_finite() && coef >= 0.0) => {
                bad("kl_penalty.coef", format!("must be finite and >= 0, got {coef}"))
            }
            KlPenalty::Adaptive { init_coef, .. } if !(init_coef.is_finite() && init_coef >= 0.0) => {
                bad("kl_penalty.init_coef", format!("must be finite and >= 0, got {init_coef}"))
            }
            KlPenalty::Adaptive { target, .. } if !(target.is_finite() && target > 0.0) => {
                bad("kl_penalty.target", format!("must be finite and > 0 nats, got {target}"))
            }
            KlPenalty::Adaptive { horizon, .. } if !(horizon.is_finite() && horizon > 0.0) => {
                bad("kl_penalty.horizon", format!("must be finite and > 0, got {horizon}"))
            }
            _ => Ok(()),
        }
    }

    /// Why a checkpoint written with `self` cannot continue as a run with `other`, if it cannot.
    /// `checkpoint_every` may change; `total_steps` may grow when the learning rate is not
    /// annealed (the trajectory does not depend on it then; the old last step keeps its record).
    fn resume_conflict(&self, other: &PpoConfig) -> Option<String> {
        let mut a = serde_json::to_value(self).expect("config serialises");
        let mut b = serde_json::to_value(other).expect("config serialises");
        let mut ignored = vec!["checkpoint_every"];
        if !self.anneal_lr && !other.anneal_lr {
            ignored.push("total_steps");
        }
        let (a, b) = (a.as_object_mut()?, b.as_object_mut()?);
        for key in ignored {
            a.remove(key);
            b.remove(key);
        }
        let differ: Vec<String> =
            a.iter().filter(|(k, v)| b.get(*k) != Some(*v)).map(|(k, _)| k.clone()).collect();
        (!differ.is_empty()).then(|| format!("PpoConfig fields differ: {}", differ.join(", ")))
    }
}

/// The steps (policy after that many updates) at which the gold is evaluated: 0, then
/// `round(2^(k / per_octave))` for k = 0, 1, ..., deduplicated, up to `total`, and `total`.
///
/// ```
/// use goodhart_ppo::eval_steps;
/// assert_eq!(eval_steps(20, 1), vec![0, 1, 2, 4, 8, 16, 20]);
/// assert_eq!(eval_steps(16, 2), vec![0, 1, 2, 3, 4, 6, 8, 11, 16]);
/// ```
pub fn eval_steps(total: usize, per_octave: usize) -> Vec<usize> {
    let mut steps = vec![0];
    let per_octave = per_octave.max(1) as f64;
    for k in 0.. {
        let s = 2f64.powf(k as f64 / per_octave).round() as usize;
        if s > total {
            break;
        }
        if steps.last() != Some(&s) {
            steps.push(s);
        }
    }
    if steps.last() != Some(&total) {
        steps.push(total);
    }
    steps
}

// ---------------------------------------------------------------------------------------------
// 2. Rewards
// ---------------------------------------------------------------------------------------------

/// A reward of whole responses: one score per `(prompt, response)`, higher is better.
///
/// Implemented for [`CalibratedRm`] (the proxy and the gold of the experiments) and for any
/// closure `Fn(&[Vec<TokenId>], &[Vec<TokenId>]) -> Vec<f64>` (toy rewards in tests).
pub trait RewardFn {
    /// Scores `responses[i]` to `prompts[i]`; returns one finite score per row.
    fn reward(&self, prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Vec<f64>;
}

impl RewardFn for CalibratedRm {
    fn reward(&self, prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Vec<f64> {
        self.score_batch(prompts, responses)
    }
}

impl<F> RewardFn for F
where
    F: Fn(&[Vec<TokenId>], &[Vec<TokenId>]) -> Vec<f64>,
{
    fn reward(&self, prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Vec<f64> {
        self(prompts, responses)
    }
}

/// Scores with `f` and checks there is one finite score per row.
fn checked_reward(
    f: &dyn RewardFn,
    which: &'static str,
    step: usize,
    prompts: &[Vec<TokenId>],
    responses: &[Vec<TokenId>],
) -> Result<Vec<f64>, PpoError> {
    let scores = f.reward(prompts, responses);
    if scores.len() != responses.len() {
        let detail = format!("{} scores for {} responses", scores.len(), responses.len());
        return Err(PpoError::BadReward { step, which, detail });
    }
    if let Some((i, s)) = scores.iter().enumerate().find(|(_, s)| !s.is_finite()) {
        return Err(PpoError::BadReward { step, which, detail: format!("{s} for row {i}") });
    }
    Ok(scores)
}

/// What a run reads besides the initial policy: prompts, reward functions and the row template.
pub struct PpoInputs<'a> {
    /// Training prompts; each rollout draws `batch_size` of them with replacement.
    pub prompts: &'a [Vec<TokenId>],
    /// Held-out prompts for the gold evaluations (at least 2): one response to each at every
    /// evaluation (repeat a prompt to draw several responses to it).
    pub eval_prompts: &'a [Vec<TokenId>],
    /// The reward the policy is optimised against.
    pub proxy: &'a dyn RewardFn,
    /// The ground truth, only observed at evaluations.
    pub gold: &'a dyn RewardFn,
    /// What the gold stands for (the experiments' rubric), recorded beside it at evaluations.
    pub rubric: Option<&'a dyn RewardFn>,
    /// The row every [`Record`] starts from (experiment, RM size, data size, policy size,
    /// kl_penalty, seed); `method`, `step`, `n`, KL and scores are filled in.
    pub template: Record,
}

// ---------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------

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

/// A gold evaluation of the policy after `step` updates, on the held-out prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldEval {
    pub step: usize,
    /// Gold score, mean over the evaluation responses with its standard error.
    pub gold: Estimate,
    /// Proxy score of the same responses.
    pub proxy: Estimate,
    /// Rubric score of the same responses, when the inputs have a rubric.
    #[serde(default)]
    pub rubric: Option<Estimate>,
    /// How often the gold orders two of these responses as the rubric does (Kendall
    /// concordance, `goodhart_core::concordance`), when the inputs have a rubric.
    #[serde(default)]
    pub gold_rubric_concordance: Option<f64>,
    /// The gold score of each evaluation response, in prompt order (for tests of a fall that
    /// pick the peak on some prompts and measure the fall on others).
    #[serde(default)]
    pub gold_values: Vec<f64>,
    /// The rubric score of each evaluation response, in prompt order (empty without a rubric).
    #[serde(default)]
    pub rubric_values: Vec<f64>,
    /// Sequence KL(pi || pi_init), k3 per sequence (unbiased, non-negative); the record's `kl`.
    pub kl: Estimate,
    /// The same with k1 (unbiased, can be negative).
    pub kl_k1: Estimate,
    pub response_len: f64,
}

impl GoldEval {
    /// This evaluation as a curve point (`kl` = k3).
    pub fn to_point(&self) -> CurvePoint {
        CurvePoint {
            n: None,
            step: Some(self.step as u64),
            kl: self.kl.mean,
            kl_se: self.kl.se,
            proxy: self.proxy.mean,
            proxy_se: self.proxy.se,
            gold: self.gold.mean,
            gold_se: self.gold.se,
            rubric: self.rubric.map_or(f64::NAN, |r| r.mean),
            rubric_se: self.rubric.map_or(f64::NAN, |r| r.se),
        }
    }

    /// This evaluation as a results row: `template` with `method = Rl` and the point filled in.
    pub fn to_record(&self, template: &Record) -> Record {
        let mut row = template.clone().with_point(&self.to_point());
        row.method = Method::Rl;
        row
    }
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

impl PpoOutput {
    /// The gold evaluations as a [`Curve`].
    pub fn curve(&self) -> Curve {
        Curve { method: Method::Rl, points: self.evals.iter().map(GoldEval::to_point).collect() }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. The trainer: policy, initial policy, value model, optimisers
// ---------------------------------------------------------------------------------------------

/// A PPO run in progress.
///
/// # Determinism and resume
///
/// All randomness of step `s` comes from `(seed, s)`: the prompts and the minibatch order from
/// `sequence_rng(seed ^ STEP_SALT, s)`, the responses from [`generate`] with seed
/// `seed ^ ROLLOUT_SALT` and `first_index = s * batch_size` (each response has its own stream).
/// Evaluations sample with `seed ^ EVAL_SALT` and `first_index = 0` at every evaluation (common
/// random numbers: differences between steps are not blurred by fresh sampling noise). burn's
/// global RNG is never used. A checkpoint holds the models, both optimisers' states, the step,
/// the KL coefficient and the logs; so a run resumed from any checkpoint computes the same
/// floats as one that never stopped, and finishes with identical logs and records (on the same
/// machine and thread count).
pub struct PpoTrainer {
    config: PpoConfig,
    specials: Specials,
    /// The plain device of the models; training runs on its autodiff twin.
    device: Device,
    /// The frozen initial policy `pi_init` (plain device).
    init_policy: Gpt,
    /// The policy being trained (autodiff device).
    policy: Gpt,
    /// The value model (autodiff device).
    value: ScalarModel,
    policy_optim: ModuleOptimizer,
    value_optim: ModuleOptimizer,
    state: TrainState,
    checkpoint_dir: Option<PathBuf>,
    /// `(step, evaluations)` of the checkpoint last written or read.
    saved: Option<(usize, usize)>,
}

/// Salts that separate the random streams of one seed.
const STEP_SALT: u64 = 0x5057_0000_0000_0001;
const ROLLOUT_SALT: u64 = 0x5057_0000_0000_0002;
const EVAL_SALT: u64 = 0x5057_0000_0000_0003;

impl PpoTrainer {
    /// A fresh run from `init_policy` (on any device; a frozen copy is kept as `pi_init`).
    ///
    /// The value model is a [`ScalarModel`] read at every position: the policy's trunk (copied,
    /// with its own parameters) and a zero-initialised scalar head, so initial values are 0.
    /// A separate value model rather than a head on the policy's trunk: the value loss cannot
    /// disturb the policy's features, no value-loss weight needs tuning, and the policy's update
    /// is exactly the clipped surrogate (as in Stiennon et al. 2020 and Ouyang et al. 2022, who
    /// also use separate value models). It is initialised from the policy, not from the reward
    /// model, because the experiments vary the proxy RM's size and the critic should not vary
    /// with it. The cost is a second forward/backward per minibatch.
    ///
    /// # Errors
    /// [`PpoError::InvalidConfig`] if the config does not validate.
    pub fn new(config: PpoConfig, init_policy: &Gpt, specials: Specials) -> Result<Self, PpoError> {
        config.validate()?;
        let init_policy = init_policy.valid();
        let device = init_policy.lm_head.weight.device();
        let ad = device.clone().autodiff();
        let policy = init_policy.clone().fork(&ad).train();
        let value = init_value_model(&init_policy).fork(&ad).train();
        let state =
            TrainState::new(config.clone(), config.kl_penalty.initial_coef(), fingerprint(&init_policy));
        Ok(PpoTrainer {
            policy_optim: adamw(&config),
            value_optim: adamw(&config),
            config,
            specials,
            device,
            init_policy,
            policy,
            value,
            state,
            checkpoint_dir: None,
            saved: None,
        })
    }

    /// A run that checkpoints into `dir`: resumed from the latest complete checkpoint there if
    /// one exists, else fresh. Leftovers of interrupted checkpoint writes are removed.
    ///
    /// # Errors
    /// [`PpoError::CheckpointCorrupt`] (naming the file) if the checkpoint cannot be read,
    /// [`PpoError::CheckpointMismatch`] if it was written with another config or initial policy.
    pub fn with_checkpoints(
        config: PpoConfig,
        init_policy: &Gpt,
        specials: Specials,
        dir: impl AsRef<Path>,
    ) -> Result<Self, PpoError> {
        let dir = dir.as_ref();
        let mut trainer = Self::new(config, init_policy, specials)?;
        trainer.checkpoint_dir = Some(dir.to_path_buf());
        let Some(path) = checkpoint::latest(dir)? else {
            return Ok(trainer);
        };
        let loaded =
            checkpoint::load(&path, &trainer.device, adamw(&trainer.config), adamw(&trainer.config))?;
        let stored = &loaded.state;
        let mismatch = |detail: String| Err(PpoError::CheckpointMismatch { path: path.clone(), detail });
        if let Some(detail) = stored.config.resume_conflict(&trainer.config) {
            return mismatch(detail);
        }
        if stored.step > trainer.config.total_steps {
            return mismatch(format!(
                "it is at step {} but total_steps is {}",
                stored.step, trainer.config.total_steps
            ));
        }
        if stored.init_fingerprint != trainer.state.init_fingerprint {
            return mismatch("it was trained from another initial policy (weights differ)".into());
        }
        let ad = trainer.device.clone().autodiff();
        trainer.policy = loaded.policy.fork(&ad).train();
        trainer.value = loaded.value.fork(&ad).train();
        trainer.policy_optim = loaded.policy_optim;
        trainer.value_optim = loaded.value_optim;
        trainer.saved = Some((loaded.state.step, loaded.state.evals.len()));
        trainer.state = TrainState { config: trainer.config.clone(), ..loaded.state };
        Ok(trainer)
    }

    pub fn config(&self) -> &PpoConfig {
        &self.config
    }

    /// PPO steps done so far.
    pub fn step(&self) -> usize {
        self.state.step
    }

    /// The current KL-penalty coefficient.
    pub fn kl_coef(&self) -> f64 {
        self.state.kl_coef
    }

    pub fn logs(&self) -> &[PpoStepLog] {
        &self.state.logs
    }

    pub fn evals(&self) -> &[GoldEval] {
        &self.state.evals
    }

    /// An inference copy of the current policy.
    pub fn policy(&self) -> Gpt {
        self.policy.valid()
    }

    /// An inference copy of the current value model (read it per token with [`token_values`]).
    pub fn value_model(&self) -> ScalarModel {
        self.value.valid()
    }

    // -----------------------------------------------------------------------------------------
    // 6. The loop
    // -----------------------------------------------------------------------------------------

    /// Runs (or continues) to `total_steps`: at every step of [`eval_steps`] a gold evaluation,
    /// then a PPO iteration; a checkpoint every `checkpoint_every` steps and at the end (when the
    /// trainer has a checkpoint directory). `on_step` sees each iteration's log; returning
    /// `ControlFlow::Break(())` stops the run after that iteration (and its checkpoint, if due),
    /// with `complete = false`.
    ///
    /// # Errors
    /// Bad inputs, a non-finite loss or reward, sampling or I/O errors. A run that fails can be
    /// resumed from its last checkpoint.
    pub fn run(
        &mut self,
        inputs: &PpoInputs,
        mut on_step: impl FnMut(&PpoStepLog) -> ControlFlow<()>,
    ) -> Result<PpoOutput, PpoError> {
        self.check_inputs(inputs)?;
        let total = self.config.total_steps;
        let schedule = eval_steps(total, self.config.eval_per_octave);
        loop {
            let step = self.state.step;
            let evaluated = self.state.evals.last().is_some_and(|e| e.step == step);
            if schedule.contains(&step) && !evaluated {
                let eval = self.evaluate(inputs)?;
                self.state.evals.push(eval);
            }
            if step == total {
                break;
            }
            let log = self.train_step(inputs)?;
            if self.state.step.is_multiple_of(self.config.checkpoint_every) && self.state.step < total {
                self.save_checkpoint()?;
            }
            if on_step(&log).is_break() {
                return Ok(self.output(&inputs.template, false));
            }
        }
        self.save_checkpoint()?;
        Ok(self.output(&inputs.template, true))
    }

    fn output(&self, template: &Record, complete: bool) -> PpoOutput {
        PpoOutput {
            records: self.state.evals.iter().map(|e| e.to_record(template)).collect(),
            evals: self.state.evals.clone(),
            logs: self.state.logs.clone(),
            complete,
        }
    }

    fn check_inputs(&mut self, inputs: &PpoInputs) -> Result<(), PpoError> {
        if inputs.prompts.is_empty() {
            return Err(PpoError::BadInput { what: "no training prompts", fix: "pass at least one prompt" });
        }
        if inputs.eval_prompts.len() < 2 {
            return Err(PpoError::BadInput {
                what: "fewer than 2 evaluation prompts",
                fix: "pass at least 2 held-out prompts (standard errors need two responses)",
            });
        }
        let fp = fingerprint_prompts(inputs.prompts, inputs.eval_prompts);
        match self.state.inputs_fingerprint {
            Some(old) if old != fp => Err(PpoError::CheckpointMismatch {
                path: self.checkpoint_dir.clone().unwrap_or_default(),
                detail: "it was trained on other prompts or evaluation prompts".into(),
            }),
            _ => {
                self.state.inputs_fingerprint = Some(fp);
                Ok(())
            }
        }
    }

    /// Writes a checkpoint of the current state if the trainer has a directory and the state
    /// changed since the last one. Returns the checkpoint's path if one was written.
    ///
    /// # Errors
    /// [`PpoError::Io`] if the files cannot be written.
    pub fn save_checkpoint(&mut self) -> Result<Option<PathBuf>, PpoError> {
        let Some(dir) = &self.checkpoint_dir else {
            return Ok(None);
        };
        let now = (self.state.step, self.state.evals.len());
        if self.saved == Some(now) {
            return Ok(None);
        }
        let path = checkpoint::save(
            dir,
            &self.state,
            &self.policy,
            &self.value,
            &self.policy_optim,
            &self.value_optim,
        )?;
        self.saved = Some(now);
        Ok(Some(path))
    }

    // -----------------------------------------------------------------------------------------
    // 4. One PPO iteration
    // -----------------------------------------------------------------------------------------

    /// One PPO iteration: rollout, rewards, advantages, update. Appends and returns its log.
    ///
    /// # Errors
    /// [`PpoError::NonFiniteLoss`], [`PpoError::BadReward`], or sampling errors.
    pub fn train_step(&mut self, inputs: &PpoInputs) -> Result<PpoStepLog, PpoError> {
        let step = self.state.step;
        let cfg = self.config.clone();
        let mut rng = sequence_rng(cfg.seed ^ STEP_SALT, step as u64);

        // Rollout: sample from the current policy; score; values; rewards; GAE.
        let rollout = self.rollout(step, inputs, &mut rng)?;

        // Update: epochs x minibatches of whole episodes.
        let (lr, vf_lr) = cfg.lr_at(step);
        let mut stats = UpdateStats::default();
        let mut order: Vec<usize> = (0..cfg.batch_size).collect();
        let mut policy = self.policy.clone();
        let mut value = self.value.clone();
        let ad = self.device.clone().autodiff();
        for _epoch in 0..cfg.update_epochs {
            shuffle(&mut order, &mut rng);
            let mut approx_kl = 0.0;
            for rows in order.chunks(cfg.minibatch_size()) {
                let mb = rollout.minibatch(rows, self.specials, cfg.norm_adv, &ad);

                // Policy: clipped surrogate (minus the entropy bonus).
                let logits = policy.forward(mb.inputs.clone()); // [M, T, V]
                let (newlogprob, entropy) = logprobs_and_entropy(logits, mb.targets); // [M, T]
                let pl = clipped_policy_loss(
                    newlogprob,
                    mb.logprobs,
                    mb.advantages,
                    mb.mask.clone(),
                    cfg.clip_coef,
                );
                let entropy_loss = masked_mean(entropy, mb.mask.clone());
                let pg_loss = scalar(&pl.pg_loss);
                if !pg_loss.is_finite() {
                    return Err(PpoError::NonFiniteLoss { step, loss: "pg_loss", value: pg_loss, lr });
                }
                let loss = if cfg.ent_coef != 0.0 {
                    pl.pg_loss - entropy_loss.clone().mul_scalar(cfg.ent_coef)
                } else {
                    pl.pg_loss
                };
                let mut grads = GradientsParams::from_grads(loss.backward(), &policy);
                let grad_norm = clip_global_norm(&policy, &mut grads, cfg.max_grad_norm);
                policy = self.policy_optim.step(lr, policy, grads);

                // Value model: (clipped) squared error to the GAE returns.
                let newvalue = token_values(&value, mb.inputs); // [M, T]
                let clip_v = cfg.clip_vloss.then_some(cfg.clip_coef);
                let v_loss = clipped_value_loss(newvalue, mb.values, mb.returns, mb.mask, clip_v);
                let v_loss_value = scalar(&v_loss);
                if !v_loss_value.is_finite() {
                    return Err(PpoError::NonFiniteLoss {
                        step,
                        loss: "v_loss",
                        value: v_loss_value,
                        lr: vf_lr,
                    });
                }
                let mut grads = GradientsParams::from_grads(v_loss.backward(), &value);
                let vf_grad_norm = clip_global_norm(&value, &mut grads, cfg.max_grad_norm);
                value = self.value_optim.step(vf_lr, value, grads);

                approx_kl = scalar(&pl.approx_kl);
                stats.add(
                    pg_loss,
                    v_loss_value,
                    scalar(&entropy_loss),
                    approx_kl,
                    scalar(&pl.clipfrac),
                    grad_norm,
                    vf_grad_norm,
                );
            }
            stats.epochs += 1;
            if cfg.target_kl.is_some_and(|t| approx_kl > t) {
                break;
            }
        }
        self.policy = policy;
        self.value = value;

        // Adaptive KL coefficient, from this rollout's KL.
        let kl_coef = self.state.kl_coef;
        if let KlPenalty::Adaptive { target, horizon, .. } = cfg.kl_penalty {
            self.state.kl_coef =
                adaptive_kl_coef(kl_coef, rollout.kl.k1.mean, target, horizon, cfg.batch_size);
        }

        let n = stats.updates as f64;
        let log = PpoStepLog {
            step,
            lr,
            kl_coef,
            proxy: Estimate::from_values(&rollout.scores),
            kl_k1: rollout.kl.k1,
            kl_k3: rollout.kl.k3,
            response_len: rollout.logprobs.len() as f64 / cfg.batch_size as f64,
            pg_loss: stats.pg_loss / n,
            v_loss: stats.v_loss / n,
            entropy: stats.entropy / n,
            approx_kl: stats.approx_kl / n,
            clipfrac: stats.clipfrac / n,
            explained_variance: explained_variance(&rollout.values, &rollout.returns),
            grad_norm: stats.grad_norm / n,
            vf_grad_norm: stats.vf_grad_norm / n,
            epochs: stats.epochs,
        };
        self.state.logs.push(log.clone());
        self.state.step += 1;
        Ok(log)
    }

    /// Samples `batch_size` episodes from the current policy and computes everything the update
    /// needs: old log-probabilities, log-probabilities under `pi_init`, values, proxy scores,
    /// per-token rewards, advantages and returns.
    fn rollout(&self, step: usize, inputs: &PpoInputs, rng: &mut SplitMix64) -> Result<Rollout, PpoError> {
        let cfg = &self.config;
        let sp = self.specials;
        let policy = self.policy.valid();
        let prompts: Vec<Vec<TokenId>> = (0..cfg.batch_size)
            .map(|_| inputs.prompts[rng.next_below(inputs.prompts.len() as u64) as usize].clone())
            .collect();
        let first_index = (step * cfg.batch_size) as u64;
        let samples = generate(
            &policy,
            &prompts,
            &cfg.sampling(),
            sp,
            cfg.seed ^ ROLLOUT_SALT,
            first_index,
            cfg.gen_batch_size,
        )?;
        let responses: Vec<Vec<TokenId>> = samples.into_iter().map(|s| s.response).collect();

        // log pi_old(a_t | s_t) by a full forward pass (at temperature 1 they equal the sampler's
        // log-probabilities up to float rounding; recomputing them makes step 0's KL exactly 0).
        let logprobs = response_logprobs(&policy, &prompts, &responses, sp, cfg.gen_batch_size)?;
        let ref_logprobs =
            response_logprobs(&self.init_policy, &prompts, &responses, sp, cfg.gen_batch_size)?;
        let kl = sequence_kl(&logprobs, &ref_logprobs)?;
        let scores = checked_reward(inputs.proxy, "proxy", step, &prompts, &responses)?;

        let mut offsets = Vec::with_capacity(responses.len() + 1);
        offsets.push(0);
        for r in &responses {
            offsets.push(offsets.last().unwrap() + r.len());
        }
        let mut ro = Rollout {
            logprobs: logprobs.concat(),
            values: vec![0.0; offsets[responses.len()]],
            prompts,
            responses,
            offsets,
            scores,
            kl,
            advantages: Vec::new(),
            returns: Vec::new(),
        };
        self.rollout_values(&mut ro);

        // Rewards and GAE, per episode.
        let ref_logprobs = ref_logprobs.concat();
        let n = ro.logprobs.len();
        let (mut rewards, mut advantages) = (vec![0.0f32; n], vec![0.0f32; n]);
        for e in 0..ro.responses.len() {
            let span = ro.offsets[e]..ro.offsets[e + 1];
            token_rewards(
                &ro.logprobs[span.clone()],
                &ref_logprobs[span.clone()],
                ro.scores[e],
                self.state.kl_coef,
                &mut rewards[span.clone()],
            );
            gae_into(
                &rewards[span.clone()],
                &ro.values[span.clone()],
                cfg.gamma,
                cfg.gae_lambda,
                &mut advantages[span],
            );
        }
        ro.returns = advantages.iter().zip(&ro.values).map(|(a, v)| a + v).collect();
        ro.advantages = advantages;
        Ok(ro)
    }

    /// Fills `ro.values` with the value model's estimates `V(s_t)` at every response token.
    fn rollout_values(&self, ro: &mut Rollout) {
        let value = self.value.valid();
        let all: Vec<usize> = (0..ro.responses.len()).collect();
        for rows in all.chunks(self.config.gen_batch_size) {
            let mut layout = Layout::new(&ro.prompts, &ro.responses, rows, self.specials);
            let (inputs, _) = layout.tensors(&self.device);
            let v = token_values(&value, inputs);
            let host: Vec<f32> = v.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 values");
            for (r, &e) in rows.iter().enumerate() {
                let (start, span) = (layout.starts[r], ro.offsets[e]..ro.offsets[e + 1]);
                let len = span.len();
                ro.values[span].copy_from_slice(&host[start..start + len]);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // 5. Gold tracking
    // -----------------------------------------------------------------------------------------

    /// Evaluates the current policy on `inputs.eval_prompts`: one response per prompt, scored by
    /// the gold and the proxy, and the sequence KL to `pi_init` (k3 and k1).
    ///
    /// # Errors
    /// [`PpoError::BadReward`], sampling or KL errors.
    pub fn evaluate(&self, inputs: &PpoInputs) -> Result<GoldEval, PpoError> {
        let cfg = &self.config;
        let (sp, step) = (self.specials, self.state.step);
        let policy = self.policy.valid();
        let prompts = inputs.eval_prompts;
        let samples =
            generate(&policy, prompts, &cfg.sampling(), sp, cfg.seed ^ EVAL_SALT, 0, cfg.gen_batch_size)?;
        let responses: Vec<Vec<TokenId>> = samples.into_iter().map(|s| s.response).collect();
        let logprobs = response_logprobs(&policy, prompts, &responses, sp, cfg.gen_batch_size)?;
        let ref_logprobs = response_logprobs(&self.init_policy, prompts, &responses, sp, cfg.gen_batch_size)?;
        let kl = sequence_kl(&logprobs, &ref_logprobs)?;
        let gold = checked_reward(inputs.gold, "gold", step, prompts, &responses)?;
        let proxy = checked_reward(inputs.proxy, "proxy", step, prompts, &responses)?;
        let rubric =
            inputs.rubric.map(|r| checked_reward(r, "rubric", step, prompts, &responses)).transpose()?;
        let tokens: usize = responses.iter().map(Vec::len).sum();
        Ok(GoldEval {
            step,
            gold: Estimate::from_values(&gold),
            proxy: Estimate::from_values(&proxy),
            rubric: rubric.as_deref().map(Estimate::from_values),
            gold_rubric_concordance: rubric.as_deref().map(|r| goodhart_core::concordance(&gold, r)),
            gold_values: gold,
            rubric_values: rubric.unwrap_or_default(),
            kl: kl.k3,
            kl_k1: kl.k1,
            response_len: tokens as f64 / responses.len() as f64,
        })
    }
}

/// Runs PPO from `init_policy` to `config.total_steps`, resuming from the latest checkpoint in
/// `checkpoint_dir` if there is one, and returns the gold records, evaluations and logs.
///
/// # Errors
/// As [`PpoTrainer::with_checkpoints`] and [`PpoTrainer::run`].
pub fn run_ppo(
    config: &PpoConfig,
    init_policy: &Gpt,
    specials: Specials,
    inputs: &PpoInputs,
    checkpoint_dir: Option<&Path>,
) -> Result<PpoOutput, PpoError> {
    let mut trainer = match checkpoint_dir {
        Some(dir) => PpoTrainer::with_checkpoints(config.clone(), init_policy, specials, dir)?,
        None => PpoTrainer::new(config.clone(), init_policy, specials)?,
    };
    trainer.run(inputs, |_| ControlFlow::Continue(()))
}

/// AdamW as configured (`weight_decay = 0` is Adam).
fn adamw(cfg: &PpoConfig) -> ModuleOptimizer {
    AdamWConfig::new().with_weight_decay(cfg.weight_decay as f32).with_epsilon(cfg.adam_eps as f32).init()
}

/// The value model: the policy's trunk (same weights, new parameter ids) and a zero head.
fn init_value_model(policy: &Gpt) -> ScalarModel {
    struct FreshIds;
    impl ModuleMapper for FreshIds {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            Param::from_tensor(param.val())
        }
    }
    let device = policy.lm_head.weight.device();
    let mut value = policy.config().init_scalar(&device, 0);
    value.trunk = policy.trunk.clone().map(&mut FreshIds);
    value.head.weight = Param::from_tensor(Tensor::zeros([policy.config().d_model, 1], &device));
    value
}

/// FNV-1a over the bits of every float parameter: identifies the initial policy's weights.
fn fingerprint(model: &Gpt) -> u64 {
    struct Fnv(u64);
    impl ModuleVisitor for Fnv {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = param.val().into_data().convert::<f32>();
            for x in values.as_slice::<f32>().expect("f32 weights") {
                self.0 = fnv(self.0, x.to_bits() as u64);
            }
        }
    }
    let mut h = Fnv(FNV_OFFSET);
    model.visit(&mut h);
    h.0
}

fn fingerprint_prompts(prompts: &[Vec<TokenId>], eval_prompts: &[Vec<TokenId>]) -> u64 {
    let mut h = FNV_OFFSET;
    for p in prompts.iter().chain([&vec![u32::MAX]]).chain(eval_prompts) {
        h = fnv(h, p.len() as u64);
        for &t in p {
            h = fnv(h, t as u64);
        }
    }
    h
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut h: u64, word: u64) -> u64 {
    for byte in word.to_le_bytes() {
        h = (h ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Fisher-Yates shuffle.
fn shuffle(order: &mut [usize], rng: &mut SplitMix64) {
    for i in (1..order.len()).rev() {
        order.swap(i, rng.next_below(i as u64 + 1) as usize);
    }
}

fn scalar(t: &Tensor<1>) -> f64 {
    t.clone().into_scalar::<f32>() as f64
}

/// Sums of the per-minibatch statistics of one iteration.
#[derive(Default)]
struct UpdateStats {
    updates: usize,
    epochs: usize,
    pg_loss: f64,
    v_loss: f64,
    entropy: f64,
    approx_kl: f64,
    clipfrac: f64,
    grad_norm: f64,
    vf_grad_norm: f64,
}

impl UpdateStats {
    #[allow(clippy::too_many_arguments)]
    fn add(&mut self, pg: f64, v: f64, ent: f64, akl: f64, cf: f64, gn: f64, vgn: f64) {
        self.updates += 1;
        self.pg_loss += pg;
        self.v_loss += v;
        self.entropy += ent;
        self.approx_kl += akl;
        self.clipfrac += cf;
        self.grad_norm += gn;
        self.vf_grad_norm += vgn;
    }
}

// ---------------------------------------------------------------------------------------------
// Rollout storage and minibatches
// ---------------------------------------------------------------------------------------------

/// One rollout, per-token quantities flattened: token `j` of episode `e` is at `offsets[e] + j`.
struct Rollout {
    prompts: Vec<Vec<TokenId>>,
    responses: Vec<Vec<TokenId>>,
    offsets: Vec<usize>,
    /// Proxy score per episode.
    scores: Vec<f64>,
    /// Sequence KL(pi || pi_init) of the episodes.
    kl: KlSummary,
    /// `log pi_old(a_t | s_t)`.
    logprobs: Vec<f32>,
    /// `V(s_t)` from the value model before the update.
    values: Vec<f32>,
    advantages: Vec<f32>,
    returns: Vec<f32>,
}

/// A minibatch on the training device. Per-token tensors are `[M, T]`, zero outside responses.
struct Minibatch {
    inputs: Tensor<2, Int>,
    targets: Tensor<2, Int>,
    /// 1 at response tokens, 0 at prompt and padding positions.
    mask: Tensor<2>,
    logprobs: Tensor<2>,
    advantages: Tensor<2>,
    returns: Tensor<2>,
    values: Tensor<2>,
}

impl Rollout {
    fn minibatch(&self, rows: &[usize], sp: Specials, norm_adv: bool, device: &Device) -> Minibatch {
        let mut layout = Layout::new(&self.prompts, &self.responses, rows, sp);
        let size = rows.len() * layout.len;
        let mut mask = vec![0.0f32; size];
        let mut logprobs = vec![0.0f32; size];
        let mut advantages = vec![0.0f32; size];
        let mut returns = vec![0.0f32; size];
        let mut values = vec![0.0f32; size];
        for (r, &e) in rows.iter().enumerate() {
            let span = self.offsets[e]..self.offsets[e + 1];
            let at = layout.starts[r]..layout.starts[r] + span.len();
            mask[at.clone()].fill(1.0);
            logprobs[at.clone()].copy_from_slice(&self.logprobs[span.clone()]);
            advantages[at.clone()].copy_from_slice(&self.advantages[span.clone()]);
            returns[at.clone()].copy_from_slice(&self.returns[span.clone()]);
            values[at].copy_from_slice(&self.values[span]);
        }
        if norm_adv {
            normalize_masked(&mut advantages, &mask);
        }
        let (inputs, targets) = layout.tensors(device);
        let shape = [rows.len(), layout.len];
        let float = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, shape), device);
        Minibatch {
            inputs,
            targets,
            mask: float(mask),
            logprobs: float(logprobs),
            advantages: float(advantages),
            returns: float(returns),
            values: float(values),
        }
    }
}

/// `(x - mean) / (std + 1e-8)` over the entries where `mask` is 1 (unbiased std, as
/// `torch.std`); other entries are left as they are.
fn normalize_masked(x: &mut [f32], mask: &[f32]) {
    let valid = || x.iter().zip(mask).filter(|(_, &m)| m > 0.0).map(|(&v, _)| v as f64);
    let n = valid().count();
    if n == 0 {
        return;
    }
    let mean = valid().sum::<f64>() / n as f64;
    let var = valid().map(|v| (v - mean).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64;
    let std = var.sqrt();
    for (v, &m) in x.iter_mut().zip(mask) {
        if m > 0.0 {
            *v = ((*v as f64 - mean) / (std + 1e-8)) as f32;
        }
    }
}

/// Right-padded `[bos] prompt response` rows for next-token prediction: `inputs[t]` is followed
/// by `targets[t]`; response token `j` of row `r` is the target at flat index `starts[r] + j`
/// (the position whose hidden state is the state `s_j` that emitted it).
struct Layout {
    rows: usize,
    /// Columns: the longest `prompt + response` of the rows.
    len: usize,
    inputs: Vec<i32>,
    targets: Vec<i32>,
    starts: Vec<usize>,
}

impl Layout {
    fn new(prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>], rows: &[usize], sp: Specials) -> Self {
        let len = rows.iter().map(|&e| prompts[e].len() + responses[e].len()).max().unwrap_or(1).max(1);
        let mut inputs = vec![sp.pad as i32; rows.len() * len];
        let mut targets = vec![sp.pad as i32; rows.len() * len];
        let mut starts = Vec::with_capacity(rows.len());
        for (r, &e) in rows.iter().enumerate() {
            let at = r * len;
            let n = prompts[e].len() + responses[e].len();
            inputs[at] = sp.bos as i32;
            for (k, &tok) in prompts[e].iter().chain(&responses[e]).enumerate() {
                targets[at + k] = tok as i32;
                if k + 1 < n {
                    inputs[at + k + 1] = tok as i32;
                }
            }
            starts.push(at + prompts[e].len());
        }
        Layout { rows: rows.len(), len, inputs, targets, starts }
    }

    /// `(inputs, targets)`, each `[rows, len]`, moving the buffers to the device.
    fn tensors(&mut self, device: &Device) -> (Tensor<2, Int>, Tensor<2, Int>) {
        let shape = [self.rows, self.len];
        let int =
            |v: &mut Vec<i32>| Tensor::<2, Int>::from_data(TensorData::new(std::mem::take(v), shape), device);
        (int(&mut self.inputs), int(&mut self.targets))
    }
}

/// Sequence KL estimates of responses from per-token log-probabilities.
fn sequence_kl(logprobs: &[Vec<f32>], ref_logprobs: &[Vec<f32>]) -> Result<KlSummary, PpoError> {
    let len = logprobs.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let size = logprobs.len() * len;
    let (mut lp, mut lq, mut mask) = (vec![0.0f32; size], vec![0.0f32; size], vec![false; size]);
    for (i, (p, q)) in logprobs.iter().zip(ref_logprobs).enumerate() {
        lp[i * len..i * len + p.len()].copy_from_slice(p);
        lq[i * len..i * len + q.len()].copy_from_slice(q);
        mask[i * len..i * len + p.len()].fill(true);
    }
    Ok(batch_kl_summary(&lp, &lq, &mask, len)?)
}

// ---------------------------------------------------------------------------------------------
// The method's building blocks: rewards, GAE, losses, values
// ---------------------------------------------------------------------------------------------

/// Per-token rewards of one episode (Ziegler et al. 2019): a KL penalty at every token and the
/// reward model's score at the last one,
/// `r_t = -kl_coef * (log pi(a_t|s_t) - log pi_init(a_t|s_t)) + [t = L-1] * score`.
///
/// The penalty uses the k1 term, whose sum over the episode is the sequence-KL estimate; with
/// `kl_coef = 0` (the paper's default) the only reward is the score at the end.
pub fn token_rewards(logprobs: &[f32], ref_logprobs: &[f32], score: f64, kl_coef: f64, out: &mut [f32]) {
    for ((r, &lp), &lq) in out.iter_mut().zip(logprobs).zip(ref_logprobs) {
        *r = (-kl_coef * (lp as f64 - lq as f64)) as f32;
    }
    if let Some(last) = out.last_mut() {
        *last = (*last as f64 + score) as f32;
    }
}

/// Generalised advantage estimation (Schulman et al. 2016) over one terminal episode:
/// `delta_t = r_t + gamma * V_{t+1} - V_t` with `V_L = 0` after the last step, and
/// `A_t = delta_t + gamma * lambda * A_{t+1}`. Returns are `A_t + V_t`.
///
/// ```
/// let adv = goodhart_ppo::gae(&[0.0, 1.0], &[0.5, 0.5], 1.0, 0.5);
/// // delta = [0 + 0.5 - 0.5, 1 + 0 - 0.5] = [0, 0.5]; A_1 = 0.5, A_0 = 0 + 0.5 * 0.5
/// assert_eq!(adv, vec![0.25, 0.5]);
/// ```
pub fn gae(rewards: &[f32], values: &[f32], gamma: f64, lambda: f64) -> Vec<f32> {
    let mut out = vec![0.0; rewards.len()];
    gae_into(rewards, values, gamma, lambda, &mut out);
    out
}

/// [`gae`] into a caller's buffer (`out.len() == rewards.len() == values.len()`).
pub fn gae_into(rewards: &[f32], values: &[f32], gamma: f64, lambda: f64, out: &mut [f32]) {
    assert!(rewards.len() == values.len() && values.len() == out.len(), "one value per reward");
    let (mut next_value, mut lastgaelam) = (0.0f64, 0.0f64);
    for t in (0..rewards.len()).rev() {
        let delta = rewards[t] as f64 + gamma * next_value - values[t] as f64;
        lastgaelam = delta + gamma * lambda * lastgaelam;
        out[t] = lastgaelam as f32;
        next_value = values[t] as f64;
    }
}

/// The Ziegler et al. (2019) adaptive KL controller: returns the next coefficient,
/// `coef * (1 + clip(kl / target - 1, -0.2, 0.2) * n_steps / horizon)`.
pub fn adaptive_kl_coef(coef: f64, kl: f64, target: f64, horizon: f64, n_steps: usize) -> f64 {
    let proportional_error = (kl / target - 1.0).clamp(-0.2, 0.2);
    coef * (1.0 + proportional_error * n_steps as f64 / horizon)
}

/// `sum(x * mask) / sum(mask)`.
///
/// # Shapes
/// - `x`, `mask`: `[B, T]` → `[1]`
pub fn masked_mean(x: Tensor<2>, mask: Tensor<2>) -> Tensor<1> {
    (x * mask.clone()).sum().div(mask.sum())
}

/// Log-probabilities of the taken tokens and the entropy of each next-token distribution.
///
/// # Shapes
/// - `logits`: `[B, T, V]`, `targets`: `[B, T]` → (`[B, T]`, `[B, T]`)
pub fn logprobs_and_entropy(logits: Tensor<3>, targets: Tensor<2, Int>) -> (Tensor<2>, Tensor<2>) {
    let logp = log_softmax(logits, 2); // [B, T, V]
    let taken = logp.clone().gather(2, targets.unsqueeze_dim::<3>(2)).squeeze_dim::<2>(2);
    let entropy = (logp.clone().exp() * logp).sum_dim(2).squeeze_dim::<2>(2).neg();
    (taken, entropy)
}

/// The clipped surrogate objective and its diagnostics (all means over `mask`).
#[derive(Debug, Clone)]
pub struct PolicyLoss {
    /// `mean(max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps)))`, differentiable.
    pub pg_loss: Tensor<1>,
    /// `mean((ratio - 1) - log ratio)` (detached).
    pub approx_kl: Tensor<1>,
    /// `mean(|ratio - 1| > eps)` (detached).
    pub clipfrac: Tensor<1>,
}

/// PPO's clipped policy loss (Schulman et al. 2017, eq. 7, as a loss to minimise), with
/// `ratio = exp(newlogprob - oldlogprob)`.
///
/// # Shapes
/// - `newlogprob`, `oldlogprob`, `advantages`, `mask`: `[B, T]`; outputs `[1]`
pub fn clipped_policy_loss(
    newlogprob: Tensor<2>,
    oldlogprob: Tensor<2>,
    advantages: Tensor<2>,
    mask: Tensor<2>,
    clip_coef: f64,
) -> PolicyLoss {
    let logratio = newlogprob - oldlogprob;
    let ratio = logratio.clone().exp();
    let pg_loss1 = advantages.clone().neg() * ratio.clone();
    let pg_loss2 = advantages.neg() * ratio.clone().clamp(1.0 - clip_coef, 1.0 + clip_coef);
    let pg_loss = masked_mean(pg_loss1.max_pair(pg_loss2), mask.clone());

    let (ratio, logratio) = (ratio.detach(), logratio.detach());
    let approx_kl = masked_mean((ratio.clone().sub_scalar(1.0)) - logratio, mask.clone());
    let clipped = ratio.sub_scalar(1.0).abs().greater_elem(clip_coef).float();
    let clipfrac = masked_mean(clipped, mask);
    PolicyLoss { pg_loss, approx_kl, clipfrac }
}

/// PPO's value loss `0.5 * mean(max((V - R)^2, (V_clip - R)^2))` with
/// `V_clip = V_old + clip(V - V_old, -c, c)`; without `clip`, `0.5 * mean((V - R)^2)`.
///
/// # Shapes
/// - `newvalue`, `oldvalue`, `returns`, `mask`: `[B, T]` → `[1]`
pub fn clipped_value_loss(
    newvalue: Tensor<2>,
    oldvalue: Tensor<2>,
    returns: Tensor<2>,
    mask: Tensor<2>,
    clip: Option<f64>,
) -> Tensor<1> {
    let v_loss_unclipped = (newvalue.clone() - returns.clone()).square();
    let v_loss = match clip {
        Some(c) => {
            let v_clipped = oldvalue.clone() + (newvalue - oldvalue).clamp(-c, c);
            let v_loss_clipped = (v_clipped - returns).square();
            v_loss_unclipped.max_pair(v_loss_clipped)
        }
        None => v_loss_unclipped,
    };
    masked_mean(v_loss, mask).mul_scalar(0.5)
}

/// Per-token values: the value model's scalar head at every position.
///
/// # Shapes
/// - `tokens`: `[B, T]` → `[B, T]`
pub fn token_values(value: &ScalarModel, tokens: Tensor<2, Int>) -> Tensor<2> {
    let hidden = value.trunk.forward(tokens); // [B, T, D]
    let [b, t, d] = hidden.dims();
    value.head.forward(hidden.reshape([b * t, d])).reshape([b, t])
}

/// `1 - Var(returns - values) / Var(returns)`; `None` when the returns have no variance.
pub fn explained_variance(values: &[f32], returns: &[f32]) -> Option<f64> {
    let var = |xs: &mut dyn Iterator<Item = f64>| {
        let v: Vec<f64> = xs.collect();
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len().max(1) as f64
    };
    let var_y = var(&mut returns.iter().map(|&r| r as f64));
    let var_res = var(&mut returns.iter().zip(values).map(|(&r, &v)| r as f64 - v as f64));
    (var_y > 0.0).then(|| 1.0 - var_res / var_y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(rows: &[&[f32]], device: &Device) -> Tensor<2> {
        let (b, t) = (rows.len(), rows[0].len());
        Tensor::from_data(TensorData::new(rows.concat(), [b, t]), device)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-5
    }

    /// GAE on a 3-step episode, gamma = 0.9, lambda = 0.8, by hand:
    /// r = [1, 0, 2], V = [0.5, 1.0, 1.5], V_3 = 0 (terminal).
    /// delta_2 = 2 + 0.9*0 - 1.5 = 0.5
    /// delta_1 = 0 + 0.9*1.5 - 1.0 = 0.35
    /// delta_0 = 1 + 0.9*1.0 - 0.5 = 1.4
    /// A_2 = 0.5
    /// A_1 = 0.35 + 0.72*0.5 = 0.71
    /// A_0 = 1.4 + 0.72*0.71 = 1.9112
    #[test]
    fn gae_matches_hand_computation() {
        let adv = gae(&[1.0, 0.0, 2.0], &[0.5, 1.0, 1.5], 0.9, 0.8);
        let expected = [1.9112, 0.71, 0.5];
        for (a, e) in adv.iter().zip(expected) {
            assert!(close(*a as f64, e), "{adv:?} vs {expected:?}");
        }
        // lambda = 1, gamma = 1: advantages are reward-to-go minus value.
        let adv = gae(&[1.0, 0.0, 2.0], &[0.5, 1.0, 1.5], 1.0, 1.0);
        assert_eq!(adv, vec![2.5, 1.0, 0.5]);
        // lambda = 0: one-step TD errors.
        let adv = gae(&[1.0, 0.0, 2.0], &[0.5, 1.0, 1.5], 0.9, 0.0);
        assert!(close(adv[0] as f64, 1.4) && close(adv[1] as f64, 0.35) && close(adv[2] as f64, 0.5));
    }

    #[test]
    fn rewards_put_the_score_last_and_penalise_kl() {
        let mut out = [0.0f32; 3];
        token_rewards(&[-1.0, -2.0, -0.5], &[-1.5, -2.0, -1.0], 3.0, 0.1, &mut out);
        // penalties: -0.1*0.5, -0.1*0, -0.1*0.5; the score on the last token
        let expected = [-0.05, 0.0, 2.95];
        assert!(out.iter().zip(expected).all(|(a, e)| close(*a as f64, e)), "{out:?}");
        token_rewards(&[-1.0, -2.0], &[-3.0, -4.0], 1.5, 0.0, &mut out[..2]);
        assert_eq!(&out[..2], &[0.0, 1.5]);
    }

    /// Ratios e^{0.5} = 1.6487, e^{0} = 1, e^{-0.5} = 0.6065, e^{0.1} = 1.1052 (masked out: 4th).
    /// clip 0.2; advantages [1, -1, -2, 5]:
    /// token 0: A = 1,  max(-1.6487, -1.2) = -1.2
    /// token 1: A = -1, max(1, 1) = 1
    /// token 2: A = -2, max(2*0.6065, 2*0.8) = 1.6
    /// pg_loss = (-1.2 + 1 + 1.6) / 3 = 0.46667
    /// approx_kl = ((0.6487 - 0.5) + 0 + (-0.3935 + 0.5)) / 3 = (0.14872 + 0.10653) / 3 = 0.085085
    /// clipfrac = (1 + 0 + 1) / 3
    #[test]
    fn clipped_policy_loss_matches_hand_computation() {
        let device = Device::flex();
        let new = tensor(&[&[0.5, 0.0], &[-0.5, 0.1]], &device);
        let old = tensor(&[&[0.0, 0.0], &[0.0, 0.0]], &device);
        let adv = tensor(&[&[1.0, -1.0], &[-2.0, 5.0]], &device);
        let mask = tensor(&[&[1.0, 1.0], &[1.0, 0.0]], &device);
        let pl = clipped_policy_loss(new, old, adv, mask, 0.2);
        assert!(close(scalar(&pl.pg_loss), 1.4 / 3.0), "{}", scalar(&pl.pg_loss));
        let akl = ((0.5f64.exp() - 1.0 - 0.5) + ((-0.5f64).exp() - 1.0 + 0.5)) / 3.0;
        assert!(close(scalar(&pl.approx_kl), akl), "{} vs {akl}", scalar(&pl.approx_kl));
        assert!(close(scalar(&pl.clipfrac), 2.0 / 3.0));
    }

    /// V_old = [1, 1, 0], V = [1.5, 0.9, 3], R = [2, 0, 1], clip 0.2 (4th masked out):
    /// token 0: V_clip = 1.2; max((1.5-2)^2, (1.2-2)^2) = max(0.25, 0.64) = 0.64
    /// token 1: V_clip = 0.9; max(0.81, 0.81) = 0.81
    /// token 2: V_clip = 0.2; max((3-1)^2, (0.2-1)^2) = max(4, 0.64) = 4
    /// clipped: 0.5 * (0.64 + 0.81 + 4) / 3 = 0.908333; unclipped: 0.5 * (0.25 + 0.81 + 4) / 3 = 0.843333
    #[test]
    fn clipped_value_loss_matches_hand_computation() {
        let device = Device::flex();
        let new = tensor(&[&[1.5, 0.9], &[3.0, 7.0]], &device);
        let old = tensor(&[&[1.0, 1.0], &[0.0, 0.0]], &device);
        let ret = tensor(&[&[2.0, 0.0], &[1.0, 0.0]], &device);
        let mask = tensor(&[&[1.0, 1.0], &[1.0, 0.0]], &device);
        let clipped = clipped_value_loss(new.clone(), old.clone(), ret.clone(), mask.clone(), Some(0.2));
        assert!(close(scalar(&clipped), 0.5 * 5.45 / 3.0), "{}", scalar(&clipped));
        let plain = clipped_value_loss(new, old, ret, mask, None);
        assert!(close(scalar(&plain), 0.5 * 5.06 / 3.0), "{}", scalar(&plain));
    }

    #[test]
    fn entropy_of_uniform_logits_is_log_v() {
        let device = Device::flex();
        let logits = Tensor::<3>::zeros([1, 2, 4], &device);
        let targets = Tensor::<2, Int>::from_ints([[1, 3]], &device);
        let (lp, ent) = logprobs_and_entropy(logits, targets);
        let lp: Vec<f32> = lp.into_data().try_into_vec().unwrap();
        let ent: Vec<f32> = ent.into_data().try_into_vec().unwrap();
        assert!(lp.iter().all(|&x| close(x as f64, -(4f64.ln()))));
        assert!(ent.iter().all(|&x| close(x as f64, 4f64.ln())));
    }

    #[test]
    fn adaptive_controller_moves_towards_the_target() {
        // KL above target: the error is clipped to +0.2; 64 episodes over a horizon of 10000.
        let up = adaptive_kl_coef(0.1, 12.0, 6.0, 10_000.0, 64);
        assert!(close(up, 0.1 * (1.0 + 0.2 * 64.0 / 10_000.0)));
        let down = adaptive_kl_coef(0.1, 5.4, 6.0, 10_000.0, 64);
        assert!(close(down, 0.1 * (1.0 - 0.1 * 64.0 / 10_000.0)));
    }

    #[test]
    fn layout_aligns_response_tokens_with_their_states() {
        let sp = Specials { pad: 0, bos: 1, eos: 2 };
        let prompts = vec![vec![5, 6], vec![7]];
        let responses = vec![vec![8, 2], vec![9, 10, 11]];
        let l = Layout::new(&prompts, &responses, &[0, 1], sp);
        assert_eq!(l.len, 4);
        assert_eq!(l.inputs, vec![1, 5, 6, 8, 1, 7, 9, 10]);
        assert_eq!(l.targets, vec![5, 6, 8, 2, 7, 9, 10, 11]);
        assert_eq!(l.starts, vec![2, 5]); // targets[2..4] = [8, 2]; targets[5..8] = [9, 10, 11]
    }

    #[test]
    fn explained_variance_and_normalisation() {
        assert_eq!(explained_variance(&[1.0, 2.0], &[1.0, 2.0]), Some(1.0));
        assert_eq!(explained_variance(&[0.0, 0.0], &[1.0, 1.0]), None);
        let mut x = [1.0f32, 2.0, 3.0, 100.0];
        normalize_masked(&mut x, &[1.0, 1.0, 1.0, 0.0]);
        assert!(close(x[0] as f64, -1.0) && close(x[1] as f64, 0.0) && close(x[2] as f64, 1.0));
        assert_eq!(x[3], 100.0);
    }

    #[test]
    fn presets_validate_and_bad_fields_are_named() {
        for c in [PpoConfig::tiny(), PpoConfig::laptop(), PpoConfig::paper()] {
            c.validate().unwrap();
        }
        assert_eq!(PpoConfig::paper().minibatch_size(), 2);
        let err = PpoConfig { num_minibatches: 5, ..PpoConfig::tiny() }.validate().unwrap_err();
        assert!(err.to_string().contains("PpoConfig.num_minibatches"), "{err}");
        let err = PpoConfig { gae_lambda: 1.5, ..PpoConfig::tiny() }.validate().unwrap_err();
        assert!(err.to_string().contains("PpoConfig.gae_lambda"), "{err}");
        let kl = KlPenalty::Adaptive { init_coef: 0.1, target: 0.0, horizon: 1e4 };
        let err = PpoConfig { kl_penalty: kl, ..PpoConfig::tiny() }.validate().unwrap_err();
        assert!(err.to_string().contains("kl_penalty.target"), "{err}");
        let json = serde_json::to_string(&PpoConfig::laptop()).unwrap();
        assert_eq!(serde_json::from_str::<PpoConfig>(&json).unwrap(), PpoConfig::laptop());
    }

    #[test]
    fn resume_conflicts_name_the_fields() {
        let a = PpoConfig::tiny();
        assert_eq!(a.resume_conflict(&PpoConfig { checkpoint_every: 7, total_steps: 99, ..a.clone() }), None);
        let msg = a.resume_conflict(&PpoConfig { lr: 1.0, ..a.clone() }).unwrap();
        assert!(msg.contains("lr") && !msg.contains("vf_lr"), "{msg}");
    }

    #[test]
    fn eval_schedule_is_log_spaced() {
        assert_eq!(eval_steps(1, 1), vec![0, 1]);
        assert_eq!(eval_steps(5, 1), vec![0, 1, 2, 4, 5]);
        assert_eq!(eval_steps(8, 1), vec![0, 1, 2, 4, 8]);
    }
}
