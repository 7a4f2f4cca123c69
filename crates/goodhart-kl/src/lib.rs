#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod bon;
mod error;
mod estimators;
mod exact;

pub use bon::{kl_bon, kl_bon_discrete, kl_bon_from_pool, n_for_kl_bon};
pub use error::KlError;
pub use estimators::{batch_kl, batch_kl_summary, sequence_kls, Estimator, KlSummary};
pub use exact::kl_categorical;
pub use goodhart_core::Estimate;
