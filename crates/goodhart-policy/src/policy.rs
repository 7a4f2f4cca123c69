use goodhart_core::{BoxError, Policy, Sample, SamplingSettings, TokenId};
use goodhart_nn::Gpt;

use crate::{generate, response_logprobs, Specials};

/// A language model as a [`Policy`]: sampling and scoring in batches of `batch_size`.
#[derive(Debug, Clone)]
pub struct LmPolicy {
    pub model: Gpt,
    pub specials: Specials,
    pub batch_size: usize,
}

impl Policy for LmPolicy {
    fn sample(
        &self,
        prompts: &[Vec<TokenId>],
        settings: &SamplingSettings,
        seed: u64,
        first_index: u64,
    ) -> Result<Vec<Sample>, BoxError> {
        Ok(generate(&self.model, prompts, settings, self.specials, seed, first_index, self.batch_size)?)
    }

    fn logprobs(
        &self,
        prompts: &[Vec<TokenId>],
        responses: &[Vec<TokenId>],
    ) -> Result<Vec<Vec<f32>>, BoxError> {
        Ok(response_logprobs(&self.model, prompts, responses, self.specials, self.batch_size)?)
    }
}
