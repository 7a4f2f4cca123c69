//! The rubric as a reward: what the gold stands for, scored on the same samples as the gold.

use goodhart_core::TokenId;

use crate::pipeline::{Pools, TrainedRm, WorldArtifacts};
use crate::ReproError;

/// The rubric as a reward: the 'human' score of a tokenised response, recentred by `offset` (the
/// rubric's mean over the gold's calibration samples, so it reads like the gold: 0 for the
/// initial policy).
pub struct RubricScorer<'a> {
    pub world: &'a WorldArtifacts,
    pub offset: f64,
}

impl<'a> RubricScorer<'a> {
    /// The rubric recentred like `gold` (whose stage recorded the offset).
    pub fn for_gold(world: &'a WorldArtifacts, gold: &TrainedRm) -> Result<Self, ReproError> {
        let offset = gold.eval.rubric_offset.ok_or_else(|| {
            ReproError::Artifact(format!(
                "the gold stage {} has no rubric offset: it predates the rubric curves; delete it to \
                 have it recomputed",
                gold.key
            ))
        })?;
        Ok(RubricScorer { world, offset })
    }

    /// Recentred rubric scores of every pooled sample, `[prompt][sample]`.
    pub fn pool_scores(&self, pools: &Pools) -> Result<Vec<Vec<f64>>, ReproError> {
        pools
            .prompts
            .iter()
            .zip(&pools.responses)
            .map(|(prompt, pool)| self.scores(&vec![prompt.clone(); pool.len()], pool))
            .collect()
    }

    /// Recentred rubric scores of `responses[i]` to `prompts[i]`.
    pub fn scores(
        &self,
        prompts: &[Vec<TokenId>],
        responses: &[Vec<TokenId>],
    ) -> Result<Vec<f64>, ReproError> {
        prompts.iter().zip(responses).map(|(p, r)| Ok(self.world.rubric(p, r)? - self.offset)).collect()
    }
}

impl goodhart_ppo::RewardFn for RubricScorer<'_> {
    /// Panics only on tokens the world's tokenizer cannot decode, which a policy of this world
    /// never samples.
    fn reward(&self, prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Vec<f64> {
        self.scores(prompts, responses).expect("responses of this world's policy decode")
    }
}
