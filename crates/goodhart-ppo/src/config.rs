//! Every hyperparameter of a PPO run ([`PpoConfig`]), its presets, and the evaluation schedule.

use goodhart_core::SamplingSettings;
use goodhart_policy::PretrainConfig;
use serde::{Deserialize, Serialize};

use crate::*;

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

/// Where the KL penalty (its coefficient is [`KlPenalty`]'s) enters the update. Per response
/// token, with `log r = log pi_init(a_t|s_t) - log pi(a_t|s_t)`:
/// - `K1InReward` (PPO, Ziegler et al. 2019): `-coef * k1 = coef * log r` added to the token's
///   reward, optimised through the advantages;
/// - `K2AsLoss`: `coef * 0.5 (log r)^2` added to the loss (a mean over response tokens, as the
///   policy loss);
/// - `K3AsLoss` (GRPO, Shao et al. 2024): `coef * (r - 1 - log r)`, likewise;
/// - `K3ImportanceWeighted`: `coef * ratio * (r - 1 - log r)` with PPO's `ratio = pi / pi_old`,
///   1 at the rollout's policy but not in its gradient.
///
/// On-policy, k1 in the reward, k2 as a loss and weighted k3 follow the gradient of KL(pi ||
/// pi_init); k3 as a loss follows that of the reverse KL(pi_init || pi) (exactly, on a
/// categorical policy: [`goodhart_kl::placement_gradient`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KlPlacement {
    #[default]
    K1InReward,
    K2AsLoss,
    K3AsLoss,
    K3ImportanceWeighted,
}

impl KlPlacement {
    /// Every placement.
    pub const ALL: [KlPlacement; 4] =
        [Self::K1InReward, Self::K2AsLoss, Self::K3AsLoss, Self::K3ImportanceWeighted];

    /// Its name in experiment files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::K1InReward => "k1_in_reward",
            Self::K2AsLoss => "k2_as_loss",
            Self::K3AsLoss => "k3_as_loss",
            Self::K3ImportanceWeighted => "k3_importance_weighted",
        }
    }

    /// The same placement in the exact analysis of `goodhart_kl::placement`.
    pub fn exact(self) -> goodhart_kl::Placement {
        use goodhart_kl::Placement as P;
        match self {
            Self::K1InReward => P::K1InReward,
            Self::K2AsLoss => P::K2AsLoss,
            Self::K3AsLoss => P::K3AsLoss,
            Self::K3ImportanceWeighted => P::K3ImportanceWeighted,
        }
    }
}

/// How the policy's advantages are estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Advantages {
    /// GAE on the value model's estimates (PPO).
    #[default]
    Gae,
    /// Group-relative, critic-free (GRPO, Shao et al. 2024, "DeepSeekMath"): each rollout holds
    /// `batch_size / group` prompts with `group` responses each; a response's advantage, at every
    /// one of its tokens, is its reward (the proxy's score, minus `coef * sum k1` with the penalty
    /// in the reward) less its group's mean, over the group's standard deviation (unbiased, +1e-8).
    /// No value model is trained and `norm_adv` is not applied on top.
    GroupRelative { group: usize },
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
    /// Where that penalty enters the update. Left out of a stage's key at its default (k1 in the
    /// reward), so runs made before it existed keep theirs.
    #[serde(default, skip_serializing_if = "is_default")]
    pub kl_placement: KlPlacement,
    /// GAE with a value model (PPO) or group-relative (GRPO). Left out of a stage's key at its
    /// default (GAE).
    #[serde(default, skip_serializing_if = "is_default")]
    pub advantages: Advantages,

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
    /// Warm both learning rates up linearly over the first `warmup_steps` steps (0: none): the
    /// first steps then move the policy little, so the evaluations resolve the gold's early rise.
    /// Left out of a stage's key when 0, so runs made before it existed keep theirs.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub warmup_steps: usize,
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

impl Default for PpoConfig {
    /// The paper's Table 1 where it states a value, cleanrl's `ppo.py` otherwise (see the table
    /// on [`PpoConfig`]); the same as [`PpoConfig::paper`].
    fn default() -> Self {
        let lr = 4e-3 * PretrainConfig::laptop().lr;
        PpoConfig {
            total_steps: 3000,
            seed: 0,
            batch_size: 256,
            max_new_tokens: 256,
            gen_batch_size: 64,
            kl_penalty: KlPenalty::Fixed { coef: 0.0 },
            kl_placement: KlPlacement::K1InReward,
            advantages: Advantages::Gae,
            gamma: 1.0,
            gae_lambda: 0.95,
            norm_adv: true,
            update_epochs: 4,
            num_minibatches: 128,
            clip_coef: 0.2,
            clip_vloss: true,
            ent_coef: 0.0,
            target_kl: None,
            lr,
            vf_lr: lr,
            anneal_lr: false,
            warmup_steps: 0,
            weight_decay: 0.0,
            adam_eps: 1e-5,
            max_grad_norm: 1.0,
            eval_per_octave: 2,
            checkpoint_every: 50,
        }
    }
}

impl PpoConfig {
    /// For tests: seconds on a CPU with a tiny model. Every field it changes from the default:
    pub fn tiny() -> Self {
        PpoConfig {
            total_steps: 8,
            batch_size: 32,
            max_new_tokens: 6,
            num_minibatches: 4,
            lr: 3e-3,
            vf_lr: 3e-3,
            eval_per_octave: 1,
            checkpoint_every: 2,
            ..Self::default()
        }
    }

    /// Minutes on a laptop CPU with the laptop-sized policies (responses of up to 40 tokens, as
    /// the best-of-n pools). The learning rates are chosen for these small models on seed 0
    /// (docs/results-laptop.md, "PPO at the laptop preset"), not derived from the paper's multiplier. Every
    /// field it changes from the default:
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
            ..Self::default()
        }
    }

    /// Table 1 of Gao et al. (2022) where it states a value; see the table on [`PpoConfig`] for
    /// what is read or assumed. The default.
    pub fn paper() -> Self {
        Self::default()
    }

    /// Episodes per minibatch.
    pub fn minibatch_size(&self) -> usize {
        self.batch_size / self.num_minibatches.max(1)
    }

    /// Learning rate of (policy, value model) at `step` (0-based).
    pub fn lr_at(&self, step: usize) -> (f64, f64) {
        let anneal = if self.anneal_lr { 1.0 - step as f64 / self.total_steps as f64 } else { 1.0 };
        let warmup =
            if self.warmup_steps > 0 { ((step + 1) as f64 / self.warmup_steps as f64).min(1.0) } else { 1.0 };
        let frac = anneal * warmup;
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
        if let Advantages::GroupRelative { group } = self.advantages {
            if group < 2 || !self.batch_size.is_multiple_of(group) {
                return bad(
                    "advantages.group",
                    format!(
                        "must be >= 2 (a group-relative advantage needs two responses) and divide \
                         batch_size ({}), got {group}",
                        self.batch_size
                    ),
                );
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
    pub(crate) fn resume_conflict(&self, other: &PpoConfig) -> Option<String> {
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
        // every key of either side: a field left out at its default on one side differs too
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        let differ: Vec<String> = keys.into_iter().filter(|k| a.get(*k) != b.get(*k)).cloned().collect();
        (!differ.is_empty()).then(|| format!("PpoConfig fields differ: {}", differ.join(", ")))
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_default<T: Default + PartialEq>(x: &T) -> bool {
    *x == T::default()
}
