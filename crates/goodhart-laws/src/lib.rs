//! Scaling-law forms for reward-model overoptimization, and the tools to
//! fit, compare and extrapolate them.
//!
//! This crate is the numerical core of the `goodhart` workspace, which
//! reproduces Gao, Schulman & Hilton (2022), *Scaling Laws for Reward Model
//! Overoptimization*. A policy optimised against a proxy reward model drifts
//! away from its initial policy; measuring that drift as d = sqrt(KL) (in
//! nats^(1/2)), the *gold* reward first rises and then falls. The paper finds
//! these functional forms (every one is 0 at d = 0):
//!
//! | optimisation | form | peak d* | peak R* |
//! | --- | --- | --- | --- |
//! | best-of-n ([`Form::Bon`]) | R_bon(d) = d (alpha - beta d) | alpha / (2 beta) | alpha^2 / (4 beta) |
//! | RL ([`Form::Rl`]) | R_RL(d) = d (alpha - beta ln d) | exp(alpha/beta - 1) | beta d* |
//!
//! R_RL returns to 0 at d = exp(alpha/beta). Two rejected alternatives are
//! provided for comparison: [`Form::RlLog1p`], d (alpha - beta ln(1 + d)),
//! and [`Form::BonPower`], d (alpha - beta d^gamma).
//!
//! Also here:
//!
//! * [`fit`]: weighted least squares of any form with a self-contained
//!   [`levenberg_marquardt`] solver, optional fixed alpha, R^2 and RMSE;
//! * [`fit_shared_alpha`]: one alpha shared by several curves, a beta each (RL across RM sizes);
//! * [`extrapolate`]: fit on d <= d_cut, measure error beyond it;
//! * [`iterated_rl`]: iterated RLHF with k rounds of d/k each,
//!   R = d (alpha - beta ln d + beta ln k);
//! * [`shrinkage_factor`] / [`expected_gold_given_proxy`]: regressional
//!   Goodhart for proxy X = gold Y + noise Z (Gaussian),
//!   E[Y | X = x] = x Var(Y) / (Var(Y) + Var(Z));
//! * [`log_linear_regression`]: coefficient = intercept + slope log10(N)
//!   across reward-model sizes N;
//! * [`bootstrap`] / [`bootstrap_ci`]: deterministic ([`SplitMix64`])
//!   resampling and percentile intervals.
//!
//! # Example
//!
//! ```
//! use goodhart_laws::{fit, FitOptions, Form};
//!
//! // Synthetic best-of-n gold scores with alpha = 1.0, beta = 0.25.
//! let d = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0];
//! let gold: Vec<f64> = d.iter().map(|&d| d * (1.0 - 0.25 * d)).collect();
//!
//! let law = fit(Form::Bon, &d, &gold, &FitOptions::default())?;
//! println!("alpha = {:.4}, beta = {:.4}, R^2 = {:.4}", law.alpha(), law.beta(), law.r2);
//! assert!((law.alpha() - 1.0).abs() < 1e-9 && (law.beta() - 0.25).abs() < 1e-9);
//!
//! // Closed-form peak: d* = alpha / (2 beta) = 2, R* = alpha^2 / (4 beta) = 1.
//! let peak = law.peak().expect("beta > 0, so the curve has a peak");
//! assert!((peak.d - 2.0).abs() < 1e-9 && (peak.r - 1.0).abs() < 1e-9);
//! # Ok::<(), goodhart_laws::LawError>(())
//! ```

#![warn(missing_docs)]

mod bootstrap;
mod error;
mod fit;
mod form;
mod lm;
mod regressional;
mod scaling;

pub use bootstrap::{bootstrap, bootstrap_ci, Interval, SplitMix64};
pub use error::LawError;
pub use fit::{extrapolate, fit, fit_shared_alpha, Extrapolation, FitOptions, FittedLaw, SharedAlphaFit};
pub use form::{iterated_rl, Form, Peak};
pub use lm::{levenberg_marquardt, LmOptions, LmReport};
pub use regressional::{expected_gold_given_proxy, shrinkage_factor};
pub use scaling::{log_linear_regression, LinearFit};
