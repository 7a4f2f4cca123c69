//! Language-model policies: pretraining on the world's corpus, batched sampling with a KV cache,
//! and log-probability scoring of given responses.
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

pub mod data;
pub mod sampling;
