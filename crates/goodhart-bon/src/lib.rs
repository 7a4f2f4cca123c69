#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod bootstrap;
mod estimator;
mod fidelity;
mod optimiser;
mod radix;
mod weights;

pub use bootstrap::bootstrap_mean_ci;
pub use estimator::BonIntervals;
pub use estimator::{best_of_n_pool, log_grid, BonCurves, BonError, BonEstimator, PoolValues, PromptPool};
pub use fidelity::bon_fidelity;
pub use goodhart_core::Interval;
pub use optimiser::BestOfN;
pub use weights::{bon_weights, BonWeights};
