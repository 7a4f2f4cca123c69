//! The kinds of stage an experiment computes, and what happened to one in a run: the names the
//! store, the plan and the progress events share (a module of its own, so that `progress` and
//! the store read it without importing each other).

use serde::Serialize;

/// The kinds of stage an experiment computes, in pipeline order. Each is a directory of the
/// store, named by [`Stage::name`]; the plan, the store, `--dry-run` and the Slurm cells all
/// speak of stages through this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The corpus and its tokenizer.
    World,
    /// The initial policy, pretrained on the corpus.
    Policy,
    /// The gold reward model, trained on rubric-labelled pairs.
    Gold,
    /// One adversarial round of the gold: PPO against it, its samples labelled by the rubric,
    /// the gold retrained.
    GoldRound,
    /// Pairs of initial-policy samples labelled by the gold: the proxies' data.
    ProxyData,
    /// A pretrained language model a proxy starts from.
    Lm,
    /// A proxy reward model.
    Proxy,
    /// Best-of-n pools of initial-policy samples.
    BonPool,
    /// A reward model's scores of the pools.
    BonScores,
    /// A PPO run against a proxy.
    Rl,
    /// One round of iterated RLHF: PPO from the last round's policy, stopped at a distance.
    RlhfRound,
    /// A direct-alignment run (DPO, IPO) on the proxies' comparisons.
    Daa,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 12] = [
        Stage::World,
        Stage::Policy,
        Stage::Gold,
        Stage::GoldRound,
        Stage::ProxyData,
        Stage::Lm,
        Stage::Proxy,
        Stage::BonPool,
        Stage::BonScores,
        Stage::Rl,
        Stage::RlhfRound,
        Stage::Daa,
    ];

    /// The stage's directory name in the store (also hashed into its keys).
    pub fn name(self) -> &'static str {
        match self {
            Stage::World => "world",
            Stage::Policy => "policy",
            Stage::Gold => "gold",
            Stage::GoldRound => "gold-round",
            Stage::ProxyData => "proxy-data",
            Stage::Lm => "lm",
            Stage::Proxy => "proxy",
            Stage::BonPool => "bon-pool",
            Stage::BonScores => "bon-scores",
            Stage::Rl => "rl",
            Stage::RlhfRound => "rlhf-round",
            Stage::Daa => "daa",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// What happened to a stage in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Cached,
    Computed,
}
