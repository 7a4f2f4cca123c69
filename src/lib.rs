//! goodhart: reproduce, measure and extend *Scaling Laws for Reward Model Overoptimization*
//! (Gao, Schulman, Hilton 2022) on your own machine.
//!
//! This facade re-exports the member crates so that one dependency brings them all:
//!
//! - [`core`]: the shared traits (policy, reward model, optimiser) and records;
//! - [`kl`]: KL estimators and the best-of-n KL;
//! - [`bon`]: the unbiased best-of-n estimator;
//! - [`laws`]: the functional forms of the paper and their fits;
//! - [`world`]: the synthetic language, its 'human' rubric and tokenizer;
//! - [`nn`]: the transformer (KV cache, checkpoints, size presets);
//! - [`policy`]: pretraining, sampling and scoring of policies;
//! - [`rm`]: reward models (gold and proxies), Bradley-Terry training, calibration;
//! - [`ppo`]: PPO against a proxy with gold tracking;
//! - [`findings`]: every check of the paper's findings on plain records (no burn);
//! - [`store`]: the content-addressed artifact store the experiments compute into (no burn);
//! - [`repro`]: the paper's experiments, cached stages and reports;
//! - [`plot`]: the figures as SVG and PNG, with an embedded font.
//!
//! Projects that need only the mathematics can depend on `goodhart-kl`, `goodhart-bon` or
//! `goodhart-laws` alone: none of them pulls in an ML framework.
//!
//! ```
//! assert!((goodhart::kl::kl_bon(1000).unwrap() - 5.909).abs() < 1e-3);
//! ```

pub use goodhart_bon as bon;
pub use goodhart_core as core;
pub use goodhart_data as data;
pub use goodhart_dpo as dpo;
pub use goodhart_findings as findings;
pub use goodhart_kl as kl;
pub use goodhart_laws as laws;
pub use goodhart_nn as nn;
pub use goodhart_plot as plot;
pub use goodhart_policy as policy;
pub use goodhart_ppo as ppo;
pub use goodhart_repro as repro;
pub use goodhart_rm as rm;
pub use goodhart_store as store;
pub use goodhart_world as world;
