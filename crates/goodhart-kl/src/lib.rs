//! How far a policy moved: KL(pi || pi_init), estimated from samples, computed exactly for
//! categorical distributions, and in closed form for best-of-n.
//!
//! The paper measures optimisation by the distance `d = sqrt(KL(pi || pi_init))` in nats.
//! For RL the KL is estimated from the log-probabilities of sampled tokens under both policies,
//! with `r = pi_init(x) / pi(x)` and `x ~ pi` (Schulman, *Approximating KL divergence*):
//!
//! | estimator | formula | unbiased | non-negative |
//! |---|---|---|---|
//! | [`Estimator::K1`] | `-log r` | yes | no |
//! | [`Estimator::K2`] | `(log r)^2 / 2` | no (low bias when close) | yes |
//! | [`Estimator::K3`] | `r - 1 - log r` | yes | yes |
//!
//! For best-of-n the KL is analytic: [`kl_bon`]`(n) = ln n - (n - 1)/n`, exact when no two samples
//! tie and an upper bound otherwise; [`kl_bon_discrete`] computes the exact value for a discrete
//! distribution with atoms, and [`kl_bon_from_pool`] applies it to a pool of scored samples, so a
//! user can see when repeated samples make the analytic value loose (Beirami et al. 2024,
//! arXiv 2401.01879).
//!
//! This crate depends on no ML framework: slices in, numbers out.
//!
//! ```
//! use goodhart_kl::{kl_bon, Estimator, batch_kl};
//!
//! // Best-of-1000 moves the policy 5.91 nats away from the initial policy.
//! assert!((kl_bon(1000).unwrap() - 5.909).abs() < 1e-3);
//!
//! // Two sequences of three tokens (the last token of the second is padding).
//! let logp_policy = [-1.0, -0.5, -2.0, -0.7, -0.1, 0.0];
//! let logp_init = [-1.2, -0.9, -2.0, -0.7, -0.6, 0.0];
//! let mask = [true, true, true, true, true, false];
//! let kl = batch_kl(Estimator::K3, &logp_policy, &logp_init, &mask, 3).unwrap();
//! assert!(kl.mean > 0.0 && kl.n == 2);
//! ```

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
