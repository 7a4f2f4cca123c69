#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod bon;
mod error;
mod estimators;
mod exact;
mod family;
mod placement;

pub use bon::{
    kl_bon, kl_bon_beirami, kl_bon_beirami_from_pool, kl_bon_discrete, kl_bon_from_pool, n_for_kl_bon,
};
pub use error::KlError;
pub use estimators::{batch_kl, batch_kl_summary, sequence_kls, Estimator, KlSummary};
pub use exact::kl_categorical;
pub use family::{
    best_of_n_selection, best_of_poisson_selection, kl_best_of_poisson, kl_best_of_poisson_from_pool,
    kl_from_pool_selection, kl_soft_best_of_n_from_pool, soft_best_of_n_selection,
};
pub use goodhart_core::Estimate;
pub use placement::{kl_gradient, placement_gradient, Placement};
