/// Everything that can be wrong with the input of a KL computation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KlError {
    #[error("length mismatch: {what} has {got} entries, expected {expected}")]
    LengthMismatch { what: &'static str, got: usize, expected: usize },
    #[error("{what}[{index}] is {value}, not a finite number: check the log-probabilities for NaN/inf (a masked-out position should still hold a finite value such as 0)")]
    NonFinite { what: &'static str, index: usize, value: f64 },
    #[error("{what} is not a probability distribution: {reason}")]
    NotADistribution { what: &'static str, reason: String },
    #[error("best-of-n needs n >= 1, got n = {0}")]
    InvalidN(u64),
    #[error("KL {0} is impossible for best-of-n: it must be finite and >= 0")]
    InvalidKl(f64),
    #[error("sequence length must be >= 1 (got 0)")]
    ZeroSeqLen,
}
