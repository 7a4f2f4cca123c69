#![doc = include_str!("../README.md")]
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
