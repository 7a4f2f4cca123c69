//! Reward models: a transformer with a scalar head, trained on pairwise comparisons
//! (Bradley-Terry), recentred and calibrated as in the paper.
//!
//! - [`pairs`]: comparisons, hard labels (higher judge score preferred, ties dropped), label noise,
//!   the 10% validation split;
//! - [`train_rm`]: Bradley-Terry training `-log sigmoid(r_chosen - r_rejected)` with validation
//!   loss and accuracy (chance: ln 2 = 0.693 and 50%), from scratch or from a pretrained LM;
//! - [`calibration`]: shift to mean 0 on initial-policy samples, gold to unit variance, proxies
//!   recalibrated by one logit scale;
//! - [`CalibratedRm`]: a trained RM with its constants, saved and loaded together, implementing
//!   `goodhart_core::RewardModel`;
//! - [`ensemble`]: K reward models as one, by their mean, worst case (WCO) or mean minus lambda
//!   times their variance (UWO).
//!
//! ```
//! use goodhart_rm::calibration::Calibration;
//!
//! let gold = Calibration::gold(&[1.0, 2.0, 3.0]).unwrap();
//! assert!(gold.apply(2.0).abs() < 1e-12); // the initial policy's mean scores 0
//! ```

pub mod calibration;
pub mod ensemble;
mod model;
pub mod pairs;
mod train;
pub mod warm;

use std::path::PathBuf;

pub use goodhart_core::RmEval;
pub use model::{CalibratedRm, RM_FILE};
pub use train::{bt_loss, evaluate, score_raw, train_rm, RmLog, RmSpecials, RmTrainConfig};

/// Everything that can go wrong while training, saving or loading a reward model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RmError {
    #[error(transparent)]
    Model(#[from] goodhart_nn::NnError),
    #[error("no training comparisons: label some pairs first")]
    NoData,
    #[error("comparison {index} needs {tokens} positions ([bos], prompt, response) but the model's context is {max_seq_len}: drop longer comparisons or raise max_seq_len")]
    TooLong { index: usize, tokens: usize, max_seq_len: usize },
    #[error("cannot initialise a reward model of {rm} from a language model of {lm}: the architectures must match")]
    InitMismatch { lm: String, rm: String },
    #[error("the reward-model loss became {value} at step {step}: lower the learning rate (now {lr}) or check the comparisons")]
    NonFiniteLoss { step: usize, value: f32, lr: f64 },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is corrupt ({reason}): delete the directory to have the reward model retrained")]
    Corrupt { path: PathBuf, reason: String },
}
