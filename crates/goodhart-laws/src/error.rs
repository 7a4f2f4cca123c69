//! Typed errors for every fallible operation in the crate.

use thiserror::Error;

/// Everything that can go wrong when validating data, fitting a law or
/// computing a statistic.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum LawError {
    /// Fewer informative points (d > 0 and weight > 0) than free parameters.
    #[error(
        "too few points: fitting {free} free parameter(s) needs at least {needed} points \
         with d > 0 and positive weight, got {got}"
    )]
    TooFewPoints {
        /// Number of free parameters being fitted.
        free: usize,
        /// Minimum number of informative points required.
        needed: usize,
        /// Number of informative points supplied.
        got: usize,
    },

    /// A NaN or infinite value in an input slice.
    #[error("non-finite value {value} in `{what}` at index {index}")]
    NonFinite {
        /// Which input (e.g. `"d"`, `"r"`, `"weights"`).
        what: &'static str,
        /// Position of the offending value.
        index: usize,
        /// The offending value.
        value: f64,
    },

    /// A negative distance; d = sqrt(KL) is always >= 0.
    #[error("negative d = {value} at index {index}: d = sqrt(KL) must be >= 0")]
    NegativeD {
        /// Position of the offending value.
        index: usize,
        /// The offending value.
        value: f64,
    },

    /// A negative weight.
    #[error("negative weight {value} at index {index}: weights must be >= 0")]
    NegativeWeight {
        /// Position of the offending value.
        index: usize,
        /// The offending value.
        value: f64,
    },

    /// Two inputs that must have the same length do not.
    #[error("mismatched lengths: `{left}` has {left_len} entries but `{right}` has {right_len}")]
    LengthMismatch {
        /// Name of the first input.
        left: &'static str,
        /// Its length.
        left_len: usize,
        /// Name of the second input.
        right: &'static str,
        /// Its length.
        right_len: usize,
    },

    /// A parameter vector of the wrong length for its functional form.
    #[error("wrong number of parameters for form `{form}`: expected {expected}, got {got}")]
    WrongParamCount {
        /// The form's name.
        form: &'static str,
        /// `Form::n_params()`.
        expected: usize,
        /// Length supplied.
        got: usize,
    },

    /// Invalid variances for the regressional-Goodhart model.
    #[error("invalid variances: {reason}")]
    InvalidVariance {
        /// What is wrong.
        reason: String,
    },

    /// Any other out-of-domain argument (a confidence level outside (0, 1),
    /// an empty sample, a non-positive parameter count, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The Levenberg-Marquardt solver (or the linear solve behind it) failed.
    #[error("least-squares solver failed after {iterations} iteration(s): {reason}")]
    SolverFailed {
        /// Iterations performed before giving up.
        iterations: usize,
        /// Why it stopped.
        reason: String,
    },
}

/// Fail with [`LawError::NonFinite`] on the first NaN or infinity in `xs`.
pub(crate) fn check_finite(what: &'static str, xs: &[f64]) -> Result<(), LawError> {
    match xs.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(LawError::NonFinite { what, index, value: xs[index] }),
        None => Ok(()),
    }
}

/// Fail with [`LawError::LengthMismatch`] unless the two lengths agree.
pub(crate) fn check_same_len(
    left: &'static str,
    left_len: usize,
    right: &'static str,
    right_len: usize,
) -> Result<(), LawError> {
    if left_len == right_len {
        Ok(())
    } else {
        Err(LawError::LengthMismatch { left, left_len, right, right_len })
    }
}
