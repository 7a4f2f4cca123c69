//! Reward models: a transformer with a scalar head, trained on pairwise comparisons
//! (Bradley-Terry), recentred and calibrated as in the paper.
//!
//! ```
//! use goodhart_rm::calibration::Calibration;
//!
//! let gold = Calibration::gold(&[1.0, 2.0, 3.0]).unwrap();
//! assert!(gold.apply(2.0).abs() < 1e-12); // the initial policy's mean scores 0
//! ```

pub mod calibration;
pub mod pairs;
