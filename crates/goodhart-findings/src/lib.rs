//! Every check of the paper's findings (Gao, Schulman, Hilton 2022, *Scaling Laws for Reward
//! Model Overoptimization*) as a function of plain numbers and curve records, without burn:
//! the experiments (`cargo xtask verify`) call it on their results, and anyone can call it on
//! their own.
//!
//! - [`stats`]: the statistics behind the verdicts (a fall measured on prompts that did not choose
//!   the peak, a verdict per curve, the range where the gold is trusted, trends over RM size).
//! - [`tails`]: how heavy a score's right tail is (Hill's estimator), of the proxy and of its
//!   error against the gold on the initial policy's samples.
//! - [`records`]: what the experiments measured, as they store it (`fig1.json`'s [`records::Fig1`]).
//! - [`checks`]: the checks, one per finding and target, each a [`checks::Check`] with the
//!   numbers it read; `docs/checks.md` says what each one asks and the synthetic case that fails it.
//!
//! A curve whose gold climbs on while the true score falls is trusted only up to the point
//! before they part:
//!
//! ```
//! use goodhart_core::Estimate;
//! use goodhart_findings::stats::order_trusted_range;
//!
//! let at = |mean: f64| Estimate { mean, se: 0.05, n: 100 };
//! let d = [0.0, 1.0, 2.0, 3.0];
//! let gold = [0.0, 1.0, 1.5, 2.0].map(at);
//! let rubric = [0.0, 1.0, 0.2, -1.0].map(at);
//! let trusted = order_trusted_range(&d, &gold, &rubric).unwrap();
//! assert_eq!(trusted.up_to, 1.0);
//! assert!(!trusted.covers_curve());
//! ```

pub mod checks;
pub mod records;
pub mod stats;
pub mod tails;
