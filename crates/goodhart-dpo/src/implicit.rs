//! The implicit reward model of a policy trained by a direct alignment algorithm.

use goodhart_core::{BoxError, RewardModel, TokenId};
use goodhart_nn::Gpt;
use goodhart_policy::{response_logprobs, Specials};

/// `beta (log pi(y|x) - log pi_ref(y|x))`, summed over the response's tokens: the reward that a
/// DPO-trained policy is optimal for (Rafailov et al. 2023), up to a function of the prompt.
pub struct ImplicitReward<'a> {
    policy: &'a Gpt,
    reference: &'a Gpt,
    beta: f64,
    specials: Specials,
    batch_size: usize,
}

impl<'a> ImplicitReward<'a> {
    pub fn new(
        policy: &'a Gpt,
        reference: &'a Gpt,
        beta: f64,
        specials: Specials,
        batch_size: usize,
    ) -> Self {
        ImplicitReward { policy, reference, beta, specials, batch_size }
    }
}

impl RewardModel for ImplicitReward<'_> {
    fn name(&self) -> &str {
        "implicit"
    }

    fn num_params(&self) -> u64 {
        0
    }

    fn score(&self, prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Result<Vec<f64>, BoxError> {
        let sp = self.specials;
        let lp = response_logprobs(self.policy, prompts, responses, sp, self.batch_size)?;
        let lq = response_logprobs(self.reference, prompts, responses, sp, self.batch_size)?;
        Ok(lp
            .iter()
            .zip(&lq)
            .map(|(p, q)| self.beta * p.iter().zip(q).map(|(a, b)| (a - b) as f64).sum::<f64>())
            .collect())
    }
}
