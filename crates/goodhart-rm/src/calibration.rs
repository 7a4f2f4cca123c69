//! Recentring and normalisation of reward-model scores: [`goodhart_core::calibration`], plain
//! arithmetic on scores that crates without burn (the findings' records) share.

pub use goodhart_core::calibration::*;
