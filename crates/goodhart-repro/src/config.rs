//! Experiments as data: one serialisable config per experiment, with named presets.

use goodhart_core::SamplingSettings;
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

/// The gold RM: trained on comparisons labelled by the rubric, then frozen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldStage {
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
    pub prompts: usize,
    /// Samples per prompt (the largest n).
    pub pool: usize,
    /// Points of the log-spaced grid of n.
    pub grid_points: usize,
    /// Bootstrap resamples over prompts for the confidence intervals.
    pub bootstrap: usize,
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
    pub kl_rm_size: String,
    /// The second policy of the policy-size sweep (figs 7, 15, 22-24), larger than the main one
    /// as in the paper (finding 6 does not apply otherwise), its pretraining steps, and the one
    /// proxy size trained on each policy's samples.
    pub policy_size: String,
    pub policy_steps: usize,
    pub policy_rm_size: String,
    /// Iterated RLHF (finding 9): the numbers of rounds compared (1 among them), the proxy size
    /// of every round, and the distance d = sqrt(KL(pi || pi_init)) each run travels in all,
    /// d / k per round. The prediction's alpha and beta are fitted on the one-round PPO run
    /// against a proxy of that size.
    pub iterated_rounds: Vec<usize>,
    pub iterated_rm_size: String,
    pub iterated_d: f64,
}

/// A whole experiment: every stage's settings and the master seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    pub preset: String,
    pub world: WorldStage,
    pub policy: PolicyStage,
    pub gold: GoldStage,
    pub proxies: ProxyStage,
    pub bon: BonStage,
    pub rl: RlStage,
    pub sweeps: SweepStage,
}

/// Which Goodhart mechanisms an experiment's world has (see `goodhart_world`'s crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Mechanisms {
    /// Features good up to a point (`world.world.rubric.extremal`).
    pub extremal: bool,
    /// The skill-correlated intensifier the rubric ignores (`world.world.writer.causal`).
    pub causal: bool,
    /// Label noise on the proxies' comparisons (`proxies.label_noise`), on top of the
    /// regressional error every finite proxy has.
    pub label_noise: f64,
}

impl std::fmt::Display for Mechanisms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on = |b: bool| if b { "on" } else { "off" };
        write!(
            f,
            "extremal {}, causal {}, regressional label noise {}",
            on(self.extremal),
            on(self.causal),
            if self.label_noise > 0.0 { format!("{:.2}", self.label_noise) } else { "off".into() }
        )
    }
}

fn sizes(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
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

    /// The named preset (see [`PRESETS`]).
    pub fn preset(name: &str) -> Result<Self, ReproError> {
        let sampling = SamplingSettings { temperature: 1.0, top_k: None, top_p: None, max_new_tokens: 40 };
        match name {
            "tiny" => Ok(ExperimentConfig {
                preset: name.into(),
                world: WorldStage {
                    world: WorldConfig::default(),
                    corpus_docs: 3000,
                    val_docs: 200,
                    seed: 1,
                },
                policy: PolicyStage {
                    size: "p10k".into(),
                    max_seq_len: 56,
                    pretrain: PretrainConfig { steps: 40, batch_size: 32, ..PretrainConfig::tiny() },
                    sampling,
                },
                gold: GoldStage {
                    size: "p30k".into(),
                    init_from_policy: false,
                    policy_pairs: 200,
                    pairs: 600,
                    train: RmTrainConfig { epochs: 1, ..RmTrainConfig::tiny() },
                    calibration_samples: 256,
                },
                proxies: ProxyStage {
                    sizes: sizes(&["p10k"]),
                    pairs: 400,
                    label_noise: 0.0,
                    train: RmTrainConfig { epochs: 1, ..RmTrainConfig::tiny() },
                    init_lm: Some(PretrainConfig { steps: 10, batch_size: 16, ..PretrainConfig::tiny() }),
                },
                bon: BonStage { prompts: 8, pool: 64, grid_points: 6, bootstrap: 100, seed: 7 },
                rl: RlStage {
                    sizes: sizes(&["p10k"]),
                    ppo: PpoConfig {
                        total_steps: 4,
                        batch_size: 16,
                        max_new_tokens: 40,
                        ..PpoConfig::tiny()
                    },
                    train_prompts: 64,
                    eval_prompts: 16,
                    prompt_seed: 11,
                },
                sweeps: SweepStage {
                    data_sizes: vec![30, 90, 360],
                    data_rm_sizes: sizes(&["p3k", "p10k"]),
                    chance_rm_sizes: sizes(&["p100"]),
                    kl_penalties: vec![0.0, 0.5],
                    kl_rm_size: "p10k".into(),
                    policy_size: "p30k".into(),
                    policy_steps: 40,
                    policy_rm_size: "p10k".into(),
                    iterated_rounds: vec![1, 2],
                    iterated_rm_size: "p10k".into(),
                    iterated_d: 0.4,
                },
            }),
            "laptop" => Ok(ExperimentConfig {
                preset: name.into(),
                world: WorldStage {
                    world: WorldConfig::default(),
                    corpus_docs: 60_000,
                    val_docs: 2000,
                    seed: 1,
                },
                policy: PolicyStage {
                    size: "p300k".into(),
                    max_seq_len: 56,
                    pretrain: PretrainConfig::laptop(),
                    sampling,
                },
                // Half broad-writer pairs (the extremes optimisation reaches), half pairs of policy
                // samples (where the proxies' data lies): README, "The gold at the laptop preset".
                gold: GoldStage {
                    size: "p300k".into(),
                    init_from_policy: true,
                    pairs: 30_000,
                    policy_pairs: 30_000,
                    train: RmTrainConfig { epochs: 2, ..RmTrainConfig::laptop() },
                    calibration_samples: 4096,
                },
                proxies: ProxyStage {
                    sizes: sizes(&["p1k", "p3k", "p10k", "p30k", "p100k"]),
                    pairs: 30_000,
                    label_noise: 0.0,
                    train: RmTrainConfig { epochs: 2, ..RmTrainConfig::laptop() },
                    init_lm: Some(PretrainConfig::laptop()),
                },
                bon: BonStage { prompts: 128, pool: 2048, grid_points: 16, bootstrap: 500, seed: 7 },
                rl: RlStage {
                    sizes: sizes(&["p1k", "p10k", "p100k"]),
                    ppo: PpoConfig::laptop(),
                    train_prompts: 4096,
                    eval_prompts: 256,
                    prompt_seed: 11,
                },
                sweeps: SweepStage {
                    data_sizes: vec![100, 300, 1000, 3000, 9000, 27_000],
                    data_rm_sizes: sizes(&["p3k", "p30k"]),
                    chance_rm_sizes: sizes(&["p100", "p300"]),
                    kl_penalties: vec![0.0, 0.05, 0.2, 1.0],
                    kl_rm_size: "p100k".into(),
                    policy_size: "p1m".into(),
                    policy_steps: 1500,
                    policy_rm_size: "p10k".into(),
                    iterated_rounds: vec![1, 2, 4],
                    iterated_rm_size: "p1k".into(),
                    iterated_d: 5.0,
                },
            }),
            "paper" => Ok(ExperimentConfig {
                preset: name.into(),
                world: WorldStage {
                    world: WorldConfig::default(),
                    corpus_docs: 500_000,
                    val_docs: 5000,
                    seed: 1,
                },
                policy: PolicyStage {
                    size: "p3m".into(),
                    max_seq_len: 56,
                    pretrain: PretrainConfig { steps: 20_000, batch_size: 128, ..PretrainConfig::laptop() },
                    sampling,
                },
                gold: GoldStage {
                    size: "p30m".into(),
                    init_from_policy: false,
                    policy_pairs: 100_000,
                    pairs: 100_000,
                    train: RmTrainConfig { epochs: 2, ..RmTrainConfig::laptop() },
                    calibration_samples: 16_384,
                },
                proxies: ProxyStage {
                    sizes: sizes(&["p10k", "p30k", "p100k", "p300k", "p1m", "p3m", "p10m"]),
                    pairs: 100_000,
                    label_noise: 0.0,
                    train: RmTrainConfig { epochs: 1, ..RmTrainConfig::laptop() },
                    init_lm: Some(PretrainConfig {
                        steps: 20_000,
                        batch_size: 128,
                        ..PretrainConfig::laptop()
                    }),
                },
                bon: BonStage { prompts: 1000, pool: 12_600, grid_points: 20, bootstrap: 1000, seed: 7 },
                rl: RlStage {
                    sizes: sizes(&["p10k", "p100k", "p1m", "p10m"]),
                    ppo: PpoConfig { max_new_tokens: 40, ..PpoConfig::paper() },
                    train_prompts: 100_000,
                    eval_prompts: 1000,
                    prompt_seed: 11,
                },
                sweeps: SweepStage {
                    data_sizes: vec![1000, 3000, 10_000, 30_000, 90_000],
                    data_rm_sizes: sizes(&["p100k", "p1m", "p10m"]),
                    chance_rm_sizes: sizes(&["p1k", "p3k"]),
                    kl_penalties: vec![0.0, 0.01, 0.05, 0.2, 1.0],
                    kl_rm_size: "p1m".into(),
                    policy_size: "p30m".into(),
                    policy_steps: 20_000,
                    policy_rm_size: "p1m".into(),
                    iterated_rounds: vec![1, 2, 4],
                    iterated_rm_size: "p1m".into(),
                    iterated_d: 7.0,
                },
            }),
            other => Err(ReproError::UnknownPreset(other.to_string())),
        }
    }
}
