//! What best-of-n buys: the unbiased best-of-n estimator of the paper (WebGPT, Nakano et al.
//! 2021, App. I), for gold and proxy scores at once, over many prompts and a whole grid of n.
//!
//! For one prompt, draw a pool of `N >= n` samples and sort them ascending by proxy score,
//! `S_1 .. S_N`. The probability that `S_i` wins a uniformly random n-subset is
//! `w_i = C(i-1, n-1) / C(N, n)` (zero for `i < n`), so
//!
//! ```text
//! E[score of best-of-n] = sum_{i=n..N} C(i-1, n-1) / C(N, n) * score(S_i)
//! ```
//!
//! for the gold and the proxy alike. The weights are computed by the running ratio
//! `w_N = n/N`, `w_{i-1} = w_i (i-n)/(i-1)` (no big integers, no overflow at N = 100,000) and
//! truncated once the remaining mass is below 1e-16; they depend only on (N, n), so they are
//! computed once per grid and every prompt costs a sort and two dot products per n. A third score
//! of the same samples (`PromptPool::with_extra`; the experiments' rubric) goes through the same
//! weights and the same tie rule.
//!
//! **Ties.** Samples with equal proxy scores are ordered by a uniformly random tie-break. The
//! expected value over tie-breaks replaces each gold score in a tied run by the run's mean gold
//! (the weights of a run sum to what the run wins together, and each member wins equally often).
//! Brute-force enumeration of all n-subsets with random tie-breaking agrees (see the tests).
//!
//! ```
//! use goodhart_bon::{BonEstimator, PromptPool};
//!
//! let proxy = [0.1, 0.9, 0.5, 0.3];
//! let gold = [0.0, -1.0, 2.0, 1.0];
//! let est = BonEstimator::new(&[1, 2, 4]).unwrap();
//! let curves = est.estimate(&[PromptPool::new(&proxy, &gold)]).unwrap();
//! // n = 1 is the pool mean; n = N is the gold of the top proxy sample.
//! assert!((curves.gold[0].mean - 0.5).abs() < 1e-12);
//! assert!((curves.gold[2].mean - -1.0).abs() < 1e-12);
//! assert!((curves.kl[2] - goodhart_kl::kl_bon(4).unwrap()).abs() < 1e-12);
//! ```

#![warn(missing_docs)]

mod bootstrap;
mod estimator;
mod optimiser;
mod radix;
mod weights;

pub use bootstrap::bootstrap_mean_ci;
pub use estimator::BonIntervals;
pub use estimator::{best_of_n_pool, log_grid, BonCurves, BonError, BonEstimator, PoolValues, PromptPool};
pub use goodhart_core::Interval;
pub use optimiser::BestOfN;
pub use weights::{bon_weights, BonWeights};
