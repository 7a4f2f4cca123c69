//! The paper's experiments as data: presets, a content-addressed artifact store, the pipeline
//! stages (world, policy, gold, proxy data, proxies, best-of-n pools and scores), and the results
//! of each figure as records, fits and a report.
//!
//! Every stage is a function of its config and the keys of its inputs; the [`Store`] computes it
//! once, into a directory keyed by a hash of those, and every figure that needs it reuses it. An
//! interrupted run leaves only temporary directories, which the next run removes.
//!
//! ```
//! use goodhart_repro::{key_of, ExperimentConfig, Stage};
//!
//! let tiny = ExperimentConfig::preset("tiny").unwrap();
//! assert!(tiny.bon.pool >= 64);
//! // a stage's key changes with any input it depends on
//! let laptop = ExperimentConfig::preset("laptop").unwrap();
//! assert_ne!(key_of(Stage::Policy, &tiny.policy), key_of(Stage::Policy, &laptop.policy));
//! ```

pub mod cells;
pub mod config;
pub mod controls;
pub mod fig1;
pub mod null_controls;
pub mod pipeline;
pub mod plan;
pub use goodhart_store::progress;
pub mod report;
pub use pipeline::rubric;
pub mod schedule;
pub mod seeds;
pub use goodhart_data::table;
pub use goodhart_store as store;
pub mod targets;

/// Figure 1's name: its records' `experiment`, its results folder ([`targets::FIG1`]).
pub const FIG1: &str = "fig1";

use std::path::{Path, PathBuf};

pub use config::{ExperimentConfig, PRESETS};
pub use pipeline::Pipeline;
pub use store::{key_of, Stage, Store};

/// Everything that can stop an experiment, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReproError {
    #[error("unknown preset {0:?}: use one of {PRESETS:?}")]
    UnknownPreset(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is corrupt ({reason}): delete its stage directory to have it recomputed")]
    Corrupt { path: PathBuf, reason: String },
    #[error("config: {0}")]
    Config(String),
    /// What went wrong while a stage was computed, and which stage (it is not marked complete).
    #[error("computing {stage}: {source}")]
    InStage { stage: String, source: Box<ReproError> },
    #[error("artifact: {0}")]
    Artifact(String),
    #[error("degenerate result: {0}")]
    Degenerate(&'static str),
    #[error("fit failed: {0}")]
    Fit(String),
    #[error(transparent)]
    Model(#[from] goodhart_nn::NnError),
    #[error(transparent)]
    Policy(#[from] goodhart_policy::PolicyError),
    #[error(transparent)]
    Rm(#[from] goodhart_rm::RmError),
    #[error(transparent)]
    Bon(#[from] goodhart_bon::BonError),
    #[error(transparent)]
    Data(#[from] goodhart_data::DataError),
    #[error(transparent)]
    Ppo(#[from] goodhart_ppo::PpoError),
    /// An error from an implementation of a core trait (a policy, reward model or optimiser)
    /// that has no typed variant here.
    #[error("{what}: {source}")]
    Optimiser { what: String, source: goodhart_core::BoxError },
}

impl ReproError {
    /// An error that came through a core trait, back to its typed variant where it has one.
    pub(crate) fn from_trait(what: impl Into<String>, source: goodhart_core::BoxError) -> Self {
        let source = match source.downcast::<goodhart_ppo::PpoError>() {
            Ok(e) => return ReproError::Ppo(*e),
            Err(other) => other,
        };
        let source = match source.downcast::<goodhart_bon::BonError>() {
            Ok(e) => return ReproError::Bon(*e),
            Err(other) => other,
        };
        match source.downcast::<goodhart_policy::PolicyError>() {
            Ok(e) => ReproError::Policy(*e),
            Err(source) => ReproError::Optimiser { what: what.into(), source },
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ReproError::Io { path: path.to_path_buf(), source }
    }
}

/// The store's errors as the pipeline's, each to the variant of the same name (the same message).
impl From<goodhart_store::StoreError> for ReproError {
    fn from(e: goodhart_store::StoreError) -> Self {
        use goodhart_store::StoreError;
        match e {
            StoreError::Io { path, source } => ReproError::Io { path, source },
            StoreError::Corrupt { path, reason } => ReproError::Corrupt { path, reason },
            StoreError::Artifact(what) => ReproError::Artifact(what),
            StoreError::InStage { stage, source } => {
                ReproError::InStage { stage, source: Box::new((*source).into()) }
            }
        }
    }
}

impl goodhart_store::StageError for ReproError {
    fn in_stage(self, stage: String) -> Self {
        match self {
            already @ ReproError::InStage { .. } => already,
            e => ReproError::InStage { stage, source: Box::new(e) },
        }
    }
}
