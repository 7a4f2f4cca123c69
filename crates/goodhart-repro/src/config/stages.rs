//! Each stage's settings: the sections of an experiment file.

use goodhart_core::SamplingSettings;
use goodhart_policy::PretrainConfig;
use goodhart_ppo::PpoConfig;
use goodhart_rm::RmTrainConfig;
use goodhart_world::WorldConfig;
use serde::{Deserialize, Serialize};

use crate::ReproError;

/// The world, its corpus and its tokenizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorldStage {
    pub world: WorldConfig,
    /// Documents in the pretraining corpus (the last `val_docs` are held out).
    pub corpus_docs: usize,
    pub val_docs: usize,
    /// Seed of the corpus (and of the tokenizer's training).
    pub seed: u64,
}

/// The initial policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyStage {
    /// A `goodhart_nn::PRESETS` name.
    pub size: String,
    /// Context length in tokens (prompt and response together).
    pub max_seq_len: usize,
    pub pretrain: PretrainConfig,
    /// How the policy samples for comparisons, pools and RL.
    pub sampling: SamplingSettings,
}

/// What plays the 'human' whose labels the proxies learn and whose score the curves track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GoldKind {
    /// A reward model trained on rubric-labelled comparisons (the paper's setting).
    #[default]
    Learned,
    /// The rubric itself, normalised like a gold (mean 0, unit variance on initial-policy
    /// samples); its labels are drawn by Bradley-Terry at the temperature that gives them
    /// `gold.label_accuracy`. No gold model is trained: the curves measure the truth.
    Rubric,
}

impl GoldKind {
    pub fn is_learned(&self) -> bool {
        *self == GoldKind::Learned
    }

    /// The overrides that make an experiment use this kind of gold (`--gold` of `cargo xtask`):
    /// for the rubric, its labels at [`RUBRIC_GOLD_LABEL_ACCURACY`].
    pub fn overrides(&self) -> Vec<String> {
        match self {
            GoldKind::Learned => Vec::new(),
            GoldKind::Rubric => vec![
                "gold.kind=\"rubric\"".into(),
                format!("gold.label_accuracy={RUBRIC_GOLD_LABEL_ACCURACY}"),
            ],
        }
    }
}

impl std::str::FromStr for GoldKind {
    type Err = ReproError;

    fn from_str(s: &str) -> Result<Self, ReproError> {
        match s {
            "learned" => Ok(GoldKind::Learned),
            "rubric" => Ok(GoldKind::Rubric),
            other => Err(ReproError::Config(format!("gold kind {other:?}: use learned or rubric"))),
        }
    }
}

/// How often the rubric-as-gold's labels agree with the rubric when `--gold rubric` chooses
/// them: the learned gold's agreement with the rubric on its held-out pairs at the laptop
/// preset, seed 0 (0.862), so that the proxies learn from labels as good as the learned gold's.
pub const RUBRIC_GOLD_LABEL_ACCURACY: f64 = 0.862;

impl std::fmt::Display for GoldKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GoldKind::Learned => "learned",
            GoldKind::Rubric => "rubric",
        })
    }
}

/// The gold RM: trained on comparisons labelled by the rubric, then frozen; or the rubric itself
/// (`kind = "rubric"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldStage {
    /// `"learned"` (default) or `"rubric"`. Left out of the stage's key when learned, so that
    /// stores made before the key existed stay valid.
    #[serde(default, skip_serializing_if = "GoldKind::is_learned")]
    pub kind: GoldKind,
    /// With `kind = "rubric"`: how often a label agrees with the rubric on pairs of
    /// initial-policy samples to the same prompt (ties left out), in (0.5, 1]; the stage finds
    /// the Bradley-Terry temperature that gives it (1: hard labels, temperature 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_accuracy: Option<f64>,
    /// A `goodhart_nn::PRESETS` name, at least 3x the largest proxy.
    pub size: String,
    /// Start the trunk from the initial policy's pretrained LM (as the paper initialises every RM
    /// from a pretrained model); `size` must then equal the policy's size.
    #[serde(default)]
    pub init_from_policy: bool,
    /// Comparisons of the broad writer (pairs of its responses to the same prompt): they reach
    /// the extremes (e.g. praise stuffing) that optimisation finds.
    pub pairs: usize,
    /// Comparisons of initial-policy samples: the distribution the proxies learn from.
    #[serde(default)]
    pub policy_pairs: usize,
    pub train: RmTrainConfig,
    /// Initial-policy samples used for recentring and normalisation.
    pub calibration_samples: usize,
    /// Rounds that teach a learned gold where optimisation goes (`None`: the gold is trained once).
    /// Left out of the key when absent, so the once-trained gold keeps its stored key; `cargo
    /// xtask ... --gold rubric` drops them (the rubric needs no teaching).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<GoldRounds>,
}

/// Adversarial rounds of the gold: round r runs PPO (`rl.ppo`, from the initial policy, one
/// trajectory) against gold r-1 itself, samples the policy at `snapshots` log-spaced steps along
/// the run, labels pairs of those samples by the rubric and retrains the gold (from the same
/// initialisation) on its first data plus every round's pairs so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldRounds {
    /// How many rounds (>= 1).
    pub count: usize,
    /// Rubric-labelled pairs each round adds, shared evenly between the snapshots: half are two
    /// samples of the snapshot to the same prompt (how the gold orders optimised samples), half
    /// a snapshot's sample against the initial policy's (how far optimisation has gone).
    pub pairs: usize,
    /// Policies sampled along each round's PPO run, at log-spaced steps ending at its last.
    pub snapshots: usize,
}

impl GoldStage {
    /// The gold as trained once, before any round: the stage every round starts from.
    pub fn first_round(&self) -> GoldStage {
        GoldStage { rounds: None, ..self.clone() }
    }

    /// How many adversarial rounds follow the first training (0 without `rounds`).
    pub fn round_count(&self) -> usize {
        self.rounds.as_ref().map_or(0, |r| r.count)
    }
}

/// The proxy RMs: trained on pairs of initial-policy samples labelled by the gold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyStage {
    /// Sizes of the sweep (`goodhart_nn::PRESETS` names), smallest first.
    pub sizes: Vec<String>,
    /// Comparisons in all; 10% are held out for validation.
    pub pairs: usize,
    /// Probability that a label is flipped.
    pub label_noise: f64,
    pub train: RmTrainConfig,
    /// Pretraining of the language model each proxy starts from: one per size, on the world's
    /// corpus, as the paper initialises every RM from a pretrained LM of its size. `None`: every
    /// proxy starts from random weights.
    #[serde(default)]
    pub init_lm: Option<PretrainConfig>,
}

/// Best-of-n: a pool of samples per prompt, drawn once and reused for every proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BonStage {
    /// Held-out prompts, each with its own pool.
    pub prompts: usize,
    /// Samples per prompt (the largest n).
    pub pool: usize,
    /// Points of the log-spaced grid of n.
    pub grid_points: usize,
    /// Bootstrap resamples over prompts for the confidence intervals.
    pub bootstrap: usize,
    /// Seed of the prompts and of the pools' samples.
    pub seed: u64,
}

/// RL: PPO against some of the proxies, with the gold tracked at log-spaced steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RlStage {
    /// Proxy sizes optimised with PPO (a subset of `proxies.sizes`; empty: no RL).
    pub sizes: Vec<String>,
    pub ppo: PpoConfig,
    /// Training prompts (rollouts draw from them with replacement).
    pub train_prompts: usize,
    /// Held-out prompts of every gold evaluation (one response each).
    pub eval_prompts: usize,
    /// Seed of the prompt sets.
    pub prompt_seed: u64,
    /// PPO runs per cell (>= 1): trajectory r runs against the same proxy with policy seed
    /// `ppo.seed + 1009 r` (rollout sampling, minibatch order, the value head), and every curve,
    /// verdict and fit reads their mean with the spread between them. Trajectory 0 is the run
    /// of `ppo.seed` itself.
    #[serde(default = "one_trajectory", skip_serializing_if = "is_one_trajectory")]
    pub trajectories: usize,
}

fn one_trajectory() -> usize {
    1
}

fn is_one_trajectory(r: &usize) -> bool {
    *r == 1
}

/// The step between the policy seeds of a cell's PPO trajectories.
pub const TRAJECTORY_SEED_STRIDE: u64 = 1009;

impl RlStage {
    /// The settings of trajectory `r` of each cell: `ppo.seed` moved by `r` strides.
    pub fn trajectory(&self, r: usize) -> RlStage {
        let mut c = self.clone();
        c.ppo.seed = c.ppo.seed.wrapping_add(TRAJECTORY_SEED_STRIDE * r as u64);
        c.trajectories = 1;
        c
    }
}

/// The sweeps of the figures beyond figure 1: RM data size, KL penalty, policy size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepStage {
    /// Training comparisons of the data-size sweep (figs 4, 6, 10, 17-19, 21), smallest first;
    /// each at most the proxy data's training split.
    pub data_sizes: Vec<usize>,
    /// RM sizes of the data-size sweep (a subset of the `goodhart_nn` presets), trained for one
    /// epoch as in the paper; fig4 also runs PPO against the first size's proxies.
    pub data_rm_sizes: Vec<String>,
    /// RM sizes below figure 1's, trained on figure 1's data, to find the sizes that stay at
    /// chance (fig11; the paper's two smallest RMs stayed at chance and were left out of the fits).
    pub chance_rm_sizes: Vec<String>,
    /// Fixed KL-penalty coefficients of the KL-penalty sweep (figs 9, 14), against one proxy
    /// (one of `rl.sizes` shares its unpenalised run with figure 1).
    pub kl_penalties: Vec<f64>,
    /// The proxy size of the KL-penalty sweep.
    pub kl_rm_size: String,
    /// The second policy of the policy-size sweep (figs 7, 15, 22-24), larger than the main one
    /// as in the paper (finding 6 does not apply otherwise), its pretraining steps, and the one
    /// proxy size trained on each policy's samples.
    pub policy_size: String,
    /// Pretraining steps of the second policy.
    pub policy_steps: usize,
    /// The proxy size trained on each policy's samples.
    pub policy_rm_size: String,
    /// Iterated RLHF (finding 9): the numbers of rounds compared (1 among them), the proxy size
    /// of every round, and the distance d = sqrt(KL(pi || pi_init)) each run travels in all,
    /// d / k per round. The prediction's alpha and beta are fitted on the one-round PPO run
    /// against a proxy of that size.
    pub iterated_rounds: Vec<usize>,
    /// The proxy size of every round of iterated RLHF.
    pub iterated_rm_size: String,
    /// The distance d = sqrt(KL) each iterated run travels in all.
    pub iterated_d: f64,
    /// The kl-placement target (beyond the paper): the KL-penalty coefficient of its penalised
    /// cells (k1 in the reward, k2, k3 and ratio-weighted k3 as a loss under PPO; k1 in the reward
    /// and k3 as a loss under GRPO), against the proxy `kl_rm_size`; its PPO cell with k1 in the
    /// reward is the KL-penalty sweep's cell when `kl_penalties` has this coefficient.
    #[serde(default = "default_placement_coef")]
    pub placement_coef: f64,
    /// Responses per prompt of the kl-placement target's GRPO cells (>= 2, divides
    /// `rl.ppo.batch_size`).
    #[serde(default = "default_grpo_group")]
    pub grpo_group: usize,
}

fn default_placement_coef() -> f64 {
    0.05
}

fn default_grpo_group() -> usize {
    4
}

/// Reward-model ensembles (the `ensembles` target; Coste et al. 2023): K proxies of one size that
/// differ in the seed of the language model they start from, of their head and of their batch
/// order, optimised against by best-of-n and PPO through their mean, their worst case (WCO) and
/// their mean minus lambda times their variance (UWO), beside member 0 alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleStage {
    /// Proxy sizes (`goodhart_nn::PRESETS` names), one ensemble each; member 0 alone is the
    /// single-RM baseline (figure 1's proxy of that size when the label noise is figure 1's).
    pub sizes: Vec<String>,
    /// Members per ensemble (>= 2). Member k starts from a language model pretrained with seed
    /// `proxies.init_lm.seed + 7919 k` (WARM's members: all from member 0's) and trains with seed
    /// `proxies.train.seed + 7919 k`, on the same comparisons as the others.
    pub members: usize,
    /// Label-noise levels (flip probabilities, each 0 <= p < 0.5), each with its own labels and
    /// members; Coste et al. saw ensembles help with 25% noise.
    pub label_noise: Vec<f64>,
    /// lambda of UWO: the objective is the members' mean minus lambda times their variance.
    pub uwo_lambda: f64,
    /// Sizes that also get PPO, one run per objective and per level of `rl_label_noise`
    /// (a subset of `sizes`; empty: best-of-n only).
    pub rl_sizes: Vec<String>,
    /// Label-noise levels of the PPO runs (a subset of `label_noise`).
    pub rl_label_noise: Vec<f64>,
    /// Label-noise levels (a subset of `label_noise`) that also get the data-subset variant,
    /// best-of-n only: `members` further proxies, member k trained on its own random
    /// `subset_fraction` of the comparisons (drawn with seed `proxies.train.seed + 7919 k`) as
    /// well as from its own seeds. Empty: no variant.
    #[serde(default)]
    pub subset_label_noise: Vec<f64>,
    /// The fraction of the comparisons each member of the data-subset variant trains on
    /// (0 < f <= 1).
    #[serde(default = "default_subset_fraction")]
    pub subset_fraction: f64,
    /// Label-noise levels (a subset of `label_noise`) that also get WARM (Ramé et al. 2024):
    /// `members` further proxies fine-tuned from member 0's pretrained language model (one shared
    /// initialisation; they differ in their head's seed and batch order), best-of-n against the
    /// mean of their predictions (`mean-shared`) and against their weight average (`warm`), and
    /// PPO against both where `rl_sizes` and `rl_label_noise` ask for PPO. Needs
    /// `proxies.init_lm`. Empty: no WARM.
    #[serde(default)]
    pub warm_label_noise: Vec<f64>,
}

fn default_subset_fraction() -> f64 {
    0.5
}

impl Default for EnsembleStage {
    /// The laptop preset's ensembles (what an experiment file without `[ensembles]` gets).
    fn default() -> Self {
        EnsembleStage {
            sizes: vec!["p1k".into(), "p10k".into()],
            members: 3,
            label_noise: vec![0.0, 0.25],
            uwo_lambda: 0.5,
            rl_sizes: vec!["p1k".into()],
            rl_label_noise: vec![0.25],
            subset_label_noise: vec![0.25],
            subset_fraction: default_subset_fraction(),
            // no WARM unless asked: it needs proxies.init_lm, which a file may not set
            warm_label_noise: Vec::new(),
        }
    }
}

/// Direct alignment (the `dpo` target; Rafailov et al. 2024): DPO and IPO trained from the
/// initial policy on the proxies' gold-labelled comparisons, the initial policy frozen as the
/// reference, evaluated like PPO (same held-out prompts and sampling, `rl.eval_prompts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaaStage {
    /// The algorithms run, each at every beta: `"dpo"`, `"ipo"`.
    pub losses: Vec<goodhart_dpo::DaaLoss>,
    /// The KL-regularisation strengths swept (each > 0).
    pub betas: Vec<f64>,
    /// Optimiser steps of each run, one minibatch of comparisons each.
    pub steps: usize,
    /// Comparisons per step.
    pub batch_size: usize,
    /// AdamW learning rate (constant; epsilon 1e-8).
    pub lr: f64,
    /// AdamW weight decay (0: Adam).
    pub weight_decay: f64,
    /// Global gradient-norm clip.
    pub max_grad_norm: f64,
    /// Seed of the minibatch order and of the evaluations' samples.
    pub seed: u64,
    /// Gold evaluations per doubling of the step count.
    pub eval_per_octave: usize,
    /// Runs per (loss, beta) (>= 1): run r with seed `seed + 1009 r`, read as their mean with
    /// the spread between them, as PPO's `rl.trajectories`.
    #[serde(default = "one_trajectory", skip_serializing_if = "is_one_trajectory")]
    pub trajectories: usize,
}

impl DaaStage {
    /// The run of `loss` at `beta`, evaluating with `gen_batch_size` rows per pass and responses
    /// of at most `max_new_tokens` (PPO's).
    pub fn run(
        &self,
        loss: goodhart_dpo::DaaLoss,
        beta: f64,
        gen_batch_size: usize,
        max_new_tokens: usize,
    ) -> goodhart_dpo::DaaConfig {
        goodhart_dpo::DaaConfig {
            loss,
            beta,
            total_steps: self.steps,
            batch_size: self.batch_size,
            lr: self.lr,
            weight_decay: self.weight_decay,
            adam_eps: 1e-8,
            max_grad_norm: self.max_grad_norm,
            seed: self.seed,
            eval_per_octave: self.eval_per_octave,
            gen_batch_size,
            max_new_tokens,
        }
    }
}

impl Default for DaaStage {
    /// The laptop preset's runs (what an experiment file without `[dpo]` gets).
    fn default() -> Self {
        DaaStage {
            losses: vec![goodhart_dpo::DaaLoss::Dpo, goodhart_dpo::DaaLoss::Ipo],
            betas: vec![0.01, 0.05, 0.2],
            steps: 800,
            batch_size: 32,
            lr: 1e-4,
            weight_decay: 0.0,
            max_grad_norm: 1.0,
            seed: 0,
            eval_per_octave: 3,
            trajectories: 3,
        }
    }
}
