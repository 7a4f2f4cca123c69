//! The vocabulary every goodhart crate shares: what a policy, a reward model and an optimiser
//! are, and the plain records an experiment produces.
//!
//! The paper's loop is: a **policy** samples responses; a **reward model** (the `gold` one that
//! plays the human, or a `proxy` trained on its labels) scores them; an **optimiser** (best-of-n or
//! PPO) pushes the policy towards the proxy and reports a [`Curve`] of points
//! (KL from the initial policy, proxy score, gold score).
//!
//! The one design decision that matters: the traits speak in token ids and plain numbers, never in
//! tensors, so the math crates (`goodhart-kl`, `goodhart-bon`, `goodhart-laws`) and users on other
//! frameworks can use them without pulling in burn. Implementations that run models live in
//! `goodhart-policy` and `goodhart-rm`.
//!
//! ```
//! use goodhart_core::{Estimate, Method, Record};
//!
//! let gold = Estimate::from_values(&[0.1, 0.3, 0.2]);
//! assert!((gold.mean - 0.2).abs() < 1e-12);
//! let row = Record::new("fig1", Method::Bon).with_n(16).with_kl(5.0_f64.ln() - 0.8);
//! assert!((row.sqrt_kl - row.kl.sqrt()).abs() < 1e-12);
//! ```

mod durable;
mod record;
mod rng;
mod stats;
mod traits;

pub mod fault;
pub use durable::{publish, sync_dir, sync_file, temp_path, write_atomic};
pub use record::{Curve, CurvePoint, Method, Record};
pub use rng::SplitMix64;
pub use stats::{bootstrap, concordance, quantile_sorted, Estimate, Interval};
pub use traits::{
    BoxError, FnReward, Judges, OptimisedRun, Optimiser, Policy, RewardModel, Sample, SamplingSettings,
    TokenId,
};
