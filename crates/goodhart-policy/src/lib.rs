//! Language-model policies: pretraining on the world's corpus, batched sampling with a KV cache,
//! and log-probability scoring of given responses.
//!
//! - [`pretrain()`] trains the initial policy `pi_init` by next-token prediction on
//!   `[bos] prompt response [eos]` sequences;
//! - [`generate()`] samples responses with temperature / top-k / top-p, returning the
//!   log-probabilities of the distribution actually sampled from;
//! - [`response_logprobs()`] scores given responses under a policy (for KL and PPO);
//! - [`LmPolicy`] implements `goodhart_core::Policy` on top of both;
//! - [`bench`](mod@bench) holds the throughput benchmarks' fixed models and shapes.
//!
//! ```
//! use goodhart_core::SamplingSettings;
//! use goodhart_policy::sampling::{draw, sampling_logprobs};
//!
//! let mut lp = Vec::new();
//! sampling_logprobs(&[2.0, 1.0, 0.0], &SamplingSettings { top_k: Some(2), ..Default::default() }, &mut lp);
//! let (token, logprob) = draw(&lp, 0.1);
//! assert_eq!(token, 0);
//! assert!(logprob < 0.0 && lp[2] == f32::NEG_INFINITY);
//! ```

pub mod bench;
pub mod data;
mod error;
pub mod eval;
mod generate;
mod policy;
mod pretrain;
pub mod sampling;

pub use data::{lm_batch, LmBatch, Specials, TokenizedDoc};
pub use error::PolicyError;
pub use generate::{generate, generate_burn, response_logprobs};
pub use policy::LmPolicy;
pub use pretrain::{
    lm_loss, lm_train_step, pretrain, validation_loss, LmStepStats, PretrainConfig, PretrainLog,
};
