#![doc = include_str!("../README.md")]

mod durable;
mod record;
mod reports;
mod rng;
mod stats;
mod traits;

pub mod calibration;
pub mod fault;
pub mod flops;
pub mod precision;
pub use durable::{publish, sync_dir, sync_file, temp_path, write_atomic};
pub use record::{nan_as_null, Curve, CurvePoint, Method, Record};
pub use reports::{PpoStepLog, RmEval};
pub use rng::SplitMix64;
pub use stats::{
    bootstrap, concordance, neg_log_sigmoid, pair_agreement, quantile_sorted, Estimate, Interval,
};
pub use traits::{
    BoxError, FnReward, Judges, OptimisedRun, Optimiser, Policy, RewardModel, Sample, SamplingSettings,
    TokenId,
};
