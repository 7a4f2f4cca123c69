//! Experiments as data: one serialisable config per experiment, read from TOML experiment files
//! (`data/experiments/<preset>.toml` for the named presets), with single settings overridable.

use goodhart_core::SamplingSettings;
pub use goodhart_findings::records::Mechanisms;
use goodhart_policy::PretrainConfig;
use goodhart_ppo::PpoConfig;
use goodhart_rm::RmTrainConfig;
use goodhart_world::WorldConfig;
use serde::{Deserialize, Serialize};

use crate::ReproError;

/// Presets, smallest first: `tiny` runs in seconds (tests), `laptop` in minutes on 2 cores
/// (the default), `paper` asks for a GPU.
pub const PRESETS: [&str; 3] = ["tiny", "laptop", "paper"];

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
    /// `proxies.init_lm.seed + 7919 k` and trains with seed `proxies.train.seed + 7919 k`, on the
    /// same comparisons as the others.
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

/// A whole experiment: every stage's settings and the master seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// The preset this experiment starts from: its default store is `runs/<preset>`.
    pub preset: String,
    pub world: WorldStage,
    pub policy: PolicyStage,
    pub gold: GoldStage,
    pub proxies: ProxyStage,
    pub bon: BonStage,
    pub rl: RlStage,
    pub sweeps: SweepStage,
    #[serde(default)]
    pub ensembles: EnsembleStage,
    #[serde(default)]
    pub dpo: DaaStage,
}

/// A setting outside its allowed range.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub key: String,
    pub value: String,
    pub allowed: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = {} is out of range: {}", self.key, self.value, self.allowed)
    }
}

/// The presets' experiment files, embedded in the binary.
const PRESET_FILES: [(&str, &str); 3] = [
    ("tiny", include_str!("../../../data/experiments/tiny.toml")),
    ("laptop", include_str!("../../../data/experiments/laptop.toml")),
    ("paper", include_str!("../../../data/experiments/paper.toml")),
];

/// A TOML error as `file:line:column: message`.
fn toml_error(source: &str, text: &str, e: &toml::de::Error) -> ReproError {
    let at = e.span().map_or(String::new(), |span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!(":{line}:{column}")
    });
    ReproError::Config(format!("{source}{at}: {}", e.message()))
}

/// The first line (1-based) that sets `key`.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let (section, leaf) = key.rsplit_once('.').unwrap_or(("", key));
    let sets_leaf =
        |l: &str| l.trim_start().strip_prefix(leaf).is_some_and(|rest| rest.trim_start().starts_with('='));
    // the line under the key's own table header (several tables have a `sizes` or a `seed`) ...
    let mut current = String::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if let Some(header) = t.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            current = header.trim_matches(|c| c == '[' || c == ']').trim().to_string();
        } else if current == section && sets_leaf(l) {
            return Some(i + 1);
        }
    }
    // ... else the first line that sets a key of that name
    text.lines().position(sets_leaf).map(|i| i + 1)
}

impl ExperimentConfig {
    /// The Goodhart mechanisms this experiment's world has.
    pub fn mechanisms(&self) -> Mechanisms {
        Mechanisms {
            extremal: self.world.world.rubric.extremal,
            causal: self.world.world.writer.causal,
            label_noise: self.proxies.label_noise,
        }
    }

    /// This experiment with the mechanisms set as given.
    pub fn with_mechanisms(mut self, m: Mechanisms) -> Self {
        self.world.world = self.world.world.with_mechanisms(m.extremal, m.causal);
        self.proxies.label_noise = m.label_noise;
        self
    }

    /// The named preset (see [`PRESETS`]): its experiment file under `data/experiments/`,
    /// embedded in the binary so that it works outside the repository.
    ///
    /// # Errors
    /// [`ReproError::UnknownPreset`] for another name.
    pub fn preset(name: &str) -> Result<Self, ReproError> {
        let (_, text) = PRESET_FILES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ReproError::UnknownPreset(name.to_string()))?;
        Self::from_toml(text, &format!("data/experiments/{name}.toml"))
    }

    /// An experiment from the text of an experiment file; `source` names the file in errors.
    ///
    /// # Errors
    /// [`ReproError::Config`] naming the file, line and key: TOML that does not parse, a value of
    /// the wrong type, a missing key, or a key the config does not have (a misspelt key is an
    /// error, never ignored).
    pub fn from_toml(text: &str, source: &str) -> Result<Self, ReproError> {
        let de = toml::Deserializer::parse(text).map_err(|e| toml_error(source, text, &e))?;
        let mut unknown = Vec::new();
        let parsed: Result<ExperimentConfig, _> =
            serde_ignored::deserialize(de, |path| unknown.push(path.to_string()));
        // an unknown key first: a misspelt key also makes the key it was meant to be missing
        if let Some(key) = unknown.first() {
            let at = line_of_key(text, key).map_or(String::new(), |l| format!(":{l}"));
            return Err(ReproError::Config(format!(
                "{source}{at}: unknown key `{key}`: check its spelling against data/experiments/laptop.toml"
            )));
        }
        let config = parsed.map_err(|e| toml_error(source, text, &e))?;
        if let Some(bad) = config.problems().into_iter().next() {
            let at = line_of_key(text, &bad.key).map_or(String::new(), |l| format!(":{l}"));
            return Err(ReproError::Config(format!("{source}{at}: {bad}")));
        }
        Ok(config)
    }

    /// Settings outside their allowed range, each naming its key, value and range.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut check = |ok: bool, key: &str, value: String, allowed: &str| {
            if !ok {
                out.push(Problem { key: key.to_string(), value, allowed: allowed.to_string() });
            }
        };
        let models = goodhart_nn::PRESETS;
        let known = |s: &str| models.contains(&s);
        let allowed_models = format!("one of {}", models.join(", "));
        for (key, size) in [
            ("policy.size", &self.policy.size),
            ("gold.size", &self.gold.size),
            ("sweeps.kl_rm_size", &self.sweeps.kl_rm_size),
            ("sweeps.policy_size", &self.sweeps.policy_size),
            ("sweeps.policy_rm_size", &self.sweeps.policy_rm_size),
            ("sweeps.iterated_rm_size", &self.sweeps.iterated_rm_size),
        ] {
            check(known(size), key, format!("{size:?}"), &allowed_models);
        }
        for (key, sizes) in [
            ("proxies.sizes", &self.proxies.sizes),
            ("rl.sizes", &self.rl.sizes),
            ("sweeps.data_rm_sizes", &self.sweeps.data_rm_sizes),
            ("sweeps.chance_rm_sizes", &self.sweeps.chance_rm_sizes),
        ] {
            for size in sizes.iter().filter(|s| !known(s)) {
                check(false, key, format!("{size:?}"), &allowed_models);
            }
        }
        match (self.gold.kind, self.gold.label_accuracy) {
            (GoldKind::Rubric, Some(a)) => check(
                a > 0.5 && a <= 1.0,
                "gold.label_accuracy",
                a.to_string(),
                "0.5 < a <= 1 (how often a label agrees with the rubric)",
            ),
            (GoldKind::Rubric, None) => check(
                false,
                "gold.label_accuracy",
                "missing".into(),
                "a value in (0.5, 1] with gold.kind = \"rubric\" (e.g. the learned gold's agreement with the rubric)",
            ),
            (GoldKind::Learned, Some(a)) => check(
                false,
                "gold.label_accuracy",
                a.to_string(),
                "no value unless gold.kind = \"rubric\" (a learned gold labels by its own scores)",
            ),
            (GoldKind::Learned, None) => {}
        }
        if let Some(r) = &self.gold.rounds {
            check(
                self.gold.kind.is_learned(),
                "gold.rounds",
                format!("{{ count = {} }}", r.count),
                "no rounds with gold.kind = \"rubric\" (the rubric needs no teaching): remove [gold.rounds]",
            );
            check(r.count >= 1, "gold.rounds.count", r.count.to_string(), "at least 1 (or no [gold.rounds])");
            check(
                r.snapshots >= 1 && r.pairs >= 4 * r.snapshots,
                "gold.rounds.pairs",
                format!("{} pairs over {} snapshots", r.pairs, r.snapshots),
                "at least one snapshot and 4 pairs per snapshot",
            );
        }
        check(!self.proxies.sizes.is_empty(), "proxies.sizes", "[]".into(), "at least one size");
        let noise = self.proxies.label_noise;
        check(
            (0.0..0.5).contains(&noise),
            "proxies.label_noise",
            noise.to_string(),
            "0 <= p < 0.5 (a flip probability)",
        );
        let f = self.world.world.split.heldout_fraction;
        check(f > 0.0 && f < 1.0, "world.world.split.heldout_fraction", f.to_string(), "0 < f < 1");
        check(
            self.proxies.pairs >= 10,
            "proxies.pairs",
            self.proxies.pairs.to_string(),
            ">= 10 (10% are held out)",
        );
        check(
            self.bon.prompts >= 2,
            "bon.prompts",
            self.bon.prompts.to_string(),
            ">= 2 (a fall is tested on half the prompts)",
        );
        check(self.bon.pool >= 2, "bon.pool", self.bon.pool.to_string(), ">= 2");
        check(self.bon.grid_points >= 2, "bon.grid_points", self.bon.grid_points.to_string(), ">= 2");
        check(self.rl.eval_prompts >= 2, "rl.eval_prompts", self.rl.eval_prompts.to_string(), ">= 2");
        check(self.rl.train_prompts >= 1, "rl.train_prompts", self.rl.train_prompts.to_string(), ">= 1");
        for size in self.rl.sizes.iter().filter(|s| known(s) && !self.proxies.sizes.contains(s)) {
            let allowed = format!(
                "one of proxies.sizes ({}): PPO runs against a proxy figure 1 trains",
                self.proxies.sizes.join(", ")
            );
            check(false, "rl.sizes", format!("{size:?}"), &allowed);
        }
        let steps = self.rl.ppo.total_steps;
        check(steps >= 1, "rl.ppo.total_steps", steps.to_string(), ">= 1");
        let t = self.policy.sampling.temperature;
        check(
            t.is_finite() && t > 0.0,
            "policy.sampling.temperature",
            t.to_string(),
            "> 0 (1: the model's own distribution)",
        );
        let top_p = self.policy.sampling.top_p;
        if let Some(p) = top_p {
            check(p > 0.0 && p <= 1.0, "policy.sampling.top_p", p.to_string(), "0 < p <= 1");
        }
        let cap = self.policy.sampling.max_new_tokens;
        check(cap >= 1, "policy.sampling.max_new_tokens", cap.to_string(), ">= 1");
        let d = self.sweeps.iterated_d;
        check(d.is_finite() && d > 0.0, "sweeps.iterated_d", d.to_string(), "a distance > 0");
        for &coef in &self.sweeps.kl_penalties {
            check(
                coef.is_finite() && coef >= 0.0,
                "sweeps.kl_penalties",
                coef.to_string(),
                "finite and >= 0",
            );
        }
        for &k in &self.sweeps.iterated_rounds {
            check(k >= 1, "sweeps.iterated_rounds", k.to_string(), ">= 1");
        }
        let e = &self.ensembles;
        for (key, sizes) in [("ensembles.sizes", &e.sizes), ("ensembles.rl_sizes", &e.rl_sizes)] {
            for size in sizes.iter().filter(|s| !known(s)) {
                check(false, key, format!("{size:?}"), &allowed_models);
            }
        }
        for size in e.rl_sizes.iter().filter(|s| known(s) && !e.sizes.contains(s)) {
            let allowed = format!("one of ensembles.sizes ({})", e.sizes.join(", "));
            check(false, "ensembles.rl_sizes", format!("{size:?}"), &allowed);
        }
        check(
            e.members >= 2,
            "ensembles.members",
            e.members.to_string(),
            ">= 2 (an ensemble of one is its member)",
        );
        for &p in &e.label_noise {
            check(
                (0.0..0.5).contains(&p),
                "ensembles.label_noise",
                p.to_string(),
                "each 0 <= p < 0.5 (a flip probability)",
            );
        }
        for (key, levels) in [
            ("ensembles.rl_label_noise", &e.rl_label_noise),
            ("ensembles.subset_label_noise", &e.subset_label_noise),
        ] {
            for &p in levels.iter().filter(|p| !e.label_noise.contains(p)) {
                let allowed = format!("one of ensembles.label_noise ({:?})", e.label_noise);
                check(false, key, p.to_string(), &allowed);
            }
        }
        check(
            e.subset_fraction > 0.0 && e.subset_fraction <= 1.0,
            "ensembles.subset_fraction",
            e.subset_fraction.to_string(),
            "0 < f <= 1 (a fraction of the comparisons)",
        );
        let d = &self.dpo;
        for &beta in &d.betas {
            check(beta.is_finite() && beta > 0.0, "dpo.betas", beta.to_string(), "each finite and > 0");
        }
        for (key, v) in [
            ("dpo.steps", d.steps),
            ("dpo.batch_size", d.batch_size),
            ("dpo.eval_per_octave", d.eval_per_octave),
        ] {
            check(v >= 1, key, v.to_string(), ">= 1");
        }
        for (key, v) in [("dpo.lr", d.lr), ("dpo.max_grad_norm", d.max_grad_norm)] {
            check(v.is_finite() && v > 0.0, key, v.to_string(), "finite and > 0");
        }
        check(
            d.weight_decay.is_finite() && d.weight_decay >= 0.0,
            "dpo.weight_decay",
            d.weight_decay.to_string(),
            "finite and >= 0",
        );
        check(
            e.uwo_lambda.is_finite() && e.uwo_lambda >= 0.0,
            "ensembles.uwo_lambda",
            e.uwo_lambda.to_string(),
            "finite and >= 0",
        );
        out
    }

    /// The experiment file `path`.
    ///
    /// # Errors
    /// [`ReproError::Io`] if it cannot be read, else as [`ExperimentConfig::from_toml`].
    pub fn from_file(path: &std::path::Path) -> Result<Self, ReproError> {
        let text = std::fs::read_to_string(path).map_err(|e| ReproError::io(path, e))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// This experiment with single settings overridden: each `key=value` names a key by its
    /// dotted path (`proxies.sizes`, `rl.ppo.lr`) and gives a TOML value (`3`, `0.5`, `"p1k"`,
    /// `["p1k", "p10k"]`).
    ///
    /// # Errors
    /// [`ReproError::Config`] for a malformed override, an unknown key or a value of the wrong type.
    pub fn with_overrides(&self, overrides: &[String]) -> Result<Self, ReproError> {
        if overrides.is_empty() {
            return Ok(self.clone());
        }
        let bad = |msg: String| ReproError::Config(msg);
        let mut table: toml::Table = toml::Table::try_from(self).map_err(|e| bad(format!("config: {e}")))?;
        for o in overrides {
            let (key, value) = o
                .split_once('=')
                .ok_or_else(|| bad(format!("--set {o:?}: give key=value, e.g. --set rl.ppo.lr=3e-4")))?;
            let key = key.trim();
            let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {}", value.trim()))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .ok_or_else(|| {
                    bad(format!(
                        "--set {key}={value}: {value:?} is not a TOML value (numbers as 3 or 0.5, text in quotes \"p1k\", lists as [\"p1k\", \"p10k\"])"
                    ))
                })?;
            let mut slot = &mut table;
            let parts: Vec<&str> = key.split('.').collect();
            for (i, part) in parts.iter().enumerate() {
                let unknown = || bad(format!("--set {key}: unknown key `{}`", parts[..=i].join(".")));
                if i + 1 == parts.len() {
                    // a setting that is unset (`None`) is absent from the table: add it, and
                    // let the file check below refuse it if no such key exists
                    let Some(old) = slot.get_mut(*part) else {
                        slot.insert(part.to_string(), value.clone());
                        break;
                    };
                    if old.type_str() != value.type_str() && !(old.is_float() && value.is_integer()) {
                        let a =
                            |t: &str| format!("{} {t}", if t.starts_with(['a', 'i']) { "an" } else { "a" });
                        return Err(bad(format!(
                            "--set {key}={value}: {key} is {}, not {}",
                            a(old.type_str()),
                            a(value.type_str())
                        )));
                    }
                    *old = match (&*old, &value) {
                        (toml::Value::Float(_), toml::Value::Integer(i)) => toml::Value::Float(*i as f64),
                        _ => value.clone(),
                    };
                } else {
                    slot = slot.get_mut(*part).and_then(toml::Value::as_table_mut).ok_or_else(unknown)?;
                }
            }
        }
        let text = toml::to_string(&table).map_err(|e| bad(format!("config: {e}")))?;
        Self::from_toml(&text, &format!("the config with --set {}", overrides.join(" --set ")))
    }
}

#[cfg(test)]
mod tests {
    use super::line_of_key;

    #[test]
    fn a_key_is_found_under_its_own_table() {
        let text = "[ensembles]\nsizes = [\"p1k\"]\n\n[proxies]\npairs = 3\nsizes = [\"p9z\"]\n\n[rl.ppo]\nseed = 1\n";
        assert_eq!(line_of_key(text, "proxies.sizes"), Some(6));
        assert_eq!(line_of_key(text, "ensembles.sizes"), Some(2));
        assert_eq!(line_of_key(text, "rl.ppo.seed"), Some(9));
        // a key under no header of that name: the first line that sets it
        assert_eq!(line_of_key(text, "sweeps.sizes"), Some(2));
        assert_eq!(line_of_key(text, "nowhere"), None);
    }

    #[test]
    fn the_rubric_as_gold_needs_a_label_accuracy_and_only_it_takes_one() {
        let tiny = super::ExperimentConfig::preset("tiny").unwrap();
        let with =
            |sets: &[&str]| tiny.with_overrides(&sets.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let rubric = super::GoldKind::Rubric.overrides();
        let ok = tiny.with_overrides(&rubric).unwrap();
        assert_eq!(
            (ok.gold.kind, ok.gold.label_accuracy),
            (super::GoldKind::Rubric, Some(super::RUBRIC_GOLD_LABEL_ACCURACY))
        );
        // counter-examples: no accuracy, a coin's accuracy, an accuracy on a learned gold
        for (sets, needle) in [
            (vec!["gold.kind=\"rubric\""], "gold.label_accuracy = missing"),
            (vec!["gold.kind=\"rubric\"", "gold.label_accuracy=0.5"], "gold.label_accuracy = 0.5"),
            (vec!["gold.label_accuracy=0.8"], "no value unless gold.kind"),
        ] {
            let err = with(&sets).expect_err("refused").to_string();
            assert!(err.contains(needle), "{sets:?}: {err}");
        }
        assert!(with(&["gold.kind=\"oracle\""]).is_err());
        // a learned gold's key does not name its kind: stores made before it stay valid
        assert!(!serde_json::to_string(&tiny.gold).unwrap().contains("kind"));
        assert!(serde_json::to_string(&ok.gold).unwrap().contains("\"kind\":\"rubric\""));
    }

    #[test]
    fn gold_rounds_teach_only_a_learned_gold_and_leave_the_first_gold_keyed_as_before() {
        let tiny = super::ExperimentConfig::preset("tiny").unwrap();
        let with =
            |sets: &[&str]| tiny.with_overrides(&sets.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let ok = with(&["gold.rounds={count=2,pairs=64,snapshots=2}"]).unwrap();
        assert_eq!(ok.gold.round_count(), 2);
        assert_eq!(ok.gold.first_round(), tiny.gold, "the first gold is the gold without rounds");
        assert!(!serde_json::to_string(&tiny.gold).unwrap().contains("rounds"));
        for (sets, needle) in [
            (vec!["gold.rounds={count=0,pairs=64,snapshots=2}"], "gold.rounds.count = 0"),
            (vec!["gold.rounds={count=1,pairs=7,snapshots=2}"], "gold.rounds.pairs"),
            (
                vec![
                    "gold.kind=\"rubric\"",
                    "gold.label_accuracy=0.8",
                    "gold.rounds={count=1,pairs=64,snapshots=2}",
                ],
                "no rounds with gold.kind",
            ),
        ] {
            let err = with(&sets).expect_err("refused").to_string();
            assert!(err.contains(needle), "{sets:?}: {err}");
        }
    }
}
