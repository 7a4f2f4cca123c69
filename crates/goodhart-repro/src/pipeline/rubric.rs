//! The reward models the pipeline makes besides the trained ones: the rubric (what the gold
//! stands for, scored on the same samples as the gold) and a table of stored pool scores.

use goodhart_core::{BoxError, RewardModel, TokenId};

use super::{Gold, Pools, WorldArtifacts};
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
    pub fn for_gold(world: &'a WorldArtifacts, gold: &Gold) -> Result<Self, ReproError> {
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

impl RewardModel for RubricScorer<'_> {
    fn name(&self) -> &str {
        "rubric"
    }

    fn num_params(&self) -> u64 {
        0
    }

    fn score(&self, prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Result<Vec<f64>, BoxError> {
        Ok(self.scores(prompts, responses)?)
    }
}

/// A reward model given as the table of its scores of the best-of-n pools (the `bon-scores`
/// stage's output): best-of-n runs through [`goodhart_core::Optimiser`] against it without
/// scoring a pool twice. A batch that is not one of the pools is an error.
pub struct PoolScores<'a> {
    name: String,
    pools: &'a Pools,
    scores: &'a [Vec<f64>],
}

impl<'a> PoolScores<'a> {
    /// `scores[p][i]`: the score of `pools.responses[p][i]`.
    pub fn new(name: impl Into<String>, pools: &'a Pools, scores: &'a [Vec<f64>]) -> Self {
        PoolScores { name: name.into(), pools, scores }
    }
}

impl RewardModel for PoolScores<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn num_params(&self) -> u64 {
        0
    }

    fn score(&self, prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Result<Vec<f64>, BoxError> {
        let pool = (0..self.pools.prompts.len()).find(|&p| {
            prompts.iter().all(|q| *q == self.pools.prompts[p]) && self.pools.responses[p] == responses
        });
        match pool {
            Some(p) => Ok(self.scores[p].clone()),
            None => Err(format!(
                "{} has stored scores of the best-of-n pools only; this batch of {} samples is not one of them",
                self.name,
                responses.len()
            )
            .into()),
        }
    }
}
