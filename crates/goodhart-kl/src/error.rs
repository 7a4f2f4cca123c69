/// Everything that can be wrong with the input of a KL computation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KlError {
    /// Two inputs that must match in length do not.
    #[allow(missing_docs)]
    #[error("length mismatch: {what} has {got} entries, expected {expected}")]
    LengthMismatch { what: &'static str, got: usize, expected: usize },
    /// A NaN or infinite input.
    #[allow(missing_docs)]
    #[error("{what}[{index}] is {value}, not a finite number: check the log-probabilities for NaN/inf (a masked-out position should still hold a finite value such as 0)")]
    NonFinite { what: &'static str, index: usize, value: f64 },
    /// Probabilities that are negative or do not sum to 1.
    #[allow(missing_docs)]
    #[error("{what} is not a probability distribution: {reason}")]
    NotADistribution { what: &'static str, reason: String },
    /// Best-of-n with n = 0.
    #[error("best-of-n needs n >= 1, got n = {0}")]
    InvalidN(u64),
    /// A best-of-n KL that no n gives.
    #[error("KL {0} is impossible for best-of-n: it must be finite and >= 0")]
    InvalidKl(f64),
    /// A method's parameter out of its range (Best-of-Poisson's `mu`, soft best-of-n's `lambda`).
    #[allow(missing_docs)]
    #[error("{what} = {value} is not allowed: give {allowed}")]
    InvalidParameter { what: &'static str, value: f64, allowed: &'static str },
    /// A sequence length of 0.
    #[error("sequence length must be >= 1 (got 0)")]
    ZeroSeqLen,
}
