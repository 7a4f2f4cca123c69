//! Stages 6 and 7: best-of-n pools and a reward model's scores of them.

use goodhart_bon::BestOfN;
use goodhart_policy::LmPolicy;
use goodhart_world::Split;

use super::*;
use super::{read_json, write_json};
use crate::plan;
use crate::progress::Task;
use crate::store::{key_of, Stage};
use crate::ReproError;

impl Pipeline {
    /// Stage 6: best-of-n pools, drawn once per policy and shared by every proxy.
    pub fn bon_pools(&self, w: &WorldArtifacts, policy: &TrainedPolicy) -> Result<Pools, ReproError> {
        let (policy_key, policy) = (policy.key.as_str(), &policy.model);
        let c = &self.config.bon;
        let inputs = plan::bon_pool_inputs(policy_key, c, &self.config.policy.sampling);
        let key = key_of(Stage::BonPool, &inputs);
        let (dir, outcome) = self.store.ensure(Stage::BonPool, &key, &inputs, |tmp| {
            let prompts = w.prompt_tokens(Split::HeldOut, c.prompts, c.seed)?;
            let pb = Task::start(&self.reporter, (c.prompts * c.pool) as u64, "sampling BoN pools");
            let lm = LmPolicy { model: policy.clone(), specials: w.specials, batch_size: BATCH };
            let settings = &self.config.policy.sampling;
            let bon = BestOfN::sample(&lm, prompts, c.pool, settings, c.seed, &self.bon_grid(), |_| {
                pb.inc(c.pool as u64)
            })
            .map_err(|e| ReproError::from_trait("sampling the best-of-n pools", e))?;
            pb.finish();
            let (prompts, responses) = bon.into_parts();
            let pools = Pools { key: key.clone(), prompts, responses };
            write_json(&tmp.join("pools.json"), &pools)
        })?;
        let pools = Pools { key, ..read_json(&dir.join("pools.json"))? };
        self.report_stage(
            Stage::BonPool,
            outcome,
            &dir,
            &format!("{} prompts x {} samples", c.prompts, c.pool),
        );
        Ok(pools)
    }

    /// Stage 7 for the gold: its scores of every pooled sample, `[prompt][sample]` (keyed like a
    /// trained RM's: by the pools and the gold's key).
    pub fn gold_scores(
        &self,
        w: &WorldArtifacts,
        pools: &Pools,
        gold: &Gold,
    ) -> Result<Vec<Vec<f64>>, ReproError> {
        let inputs = plan::bon_scores_inputs(&pools.key, &gold.key);
        let key = key_of(Stage::BonScores, &inputs);
        let (dir, outcome) = self.store.ensure(Stage::BonScores, &key, &inputs, |tmp| {
            let pb = Task::start(&self.reporter, pools.prompts.len() as u64, "scoring with gold");
            let mut scores = Vec::with_capacity(pools.prompts.len());
            for (prompt, pool) in pools.prompts.iter().zip(&pools.responses) {
                scores.push(gold.scores(w, &vec![prompt.clone(); pool.len()], pool)?);
                pb.inc(1);
            }
            pb.finish();
            write_json(&tmp.join("scores.json"), &scores)
        })?;
        self.report_stage(Stage::BonScores, outcome, &dir, "gold");
        read_json(&dir.join("scores.json"))
    }

    /// Stage 7: a reward model's scores of every pooled sample, `[prompt][sample]`.
    pub fn bon_scores(&self, pools: &Pools, rm: &TrainedRm) -> Result<Vec<Vec<f64>>, ReproError> {
        let inputs = plan::bon_scores_inputs(&pools.key, &rm.key);
        let key = key_of(Stage::BonScores, &inputs);
        let (dir, outcome) = self.store.ensure(Stage::BonScores, &key, &inputs, |tmp| {
            let pb = Task::start(
                &self.reporter,
                pools.prompts.len() as u64,
                &format!("scoring with {}", rm.rm.name),
            );
            let mut scores = Vec::with_capacity(pools.prompts.len());
            for (prompt, pool) in pools.prompts.iter().zip(&pools.responses) {
                scores.push(rm.rm.score_batch(&vec![prompt.clone(); pool.len()], pool));
                pb.inc(1);
            }
            pb.finish();
            write_json(&tmp.join("scores.json"), &scores)
        })?;
        self.report_stage(Stage::BonScores, outcome, &dir, &rm.rm.name);
        read_json(&dir.join("scores.json"))
    }
}
