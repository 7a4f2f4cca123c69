//! Direct alignment: DPO or IPO from the initial policy on the proxies' gold-labelled
//! comparisons, evaluated on PPO's held-out prompts.

use std::ops::ControlFlow;

use goodhart_core::{Judges, Method, Optimiser, Record};
use goodhart_dpo::{DaaLoss, DaaOptimiser, DaaOutput, PreferencePair};
use goodhart_world::Split;

use super::*;
use super::{read_json, write_json};
use crate::progress::Task;
use crate::store::{key_of, Stage};
use crate::ReproError;

impl Pipeline {
    /// Every run of one (loss, beta) cell of direct alignment from `policy` (also its frozen
    /// reference) on the training comparisons of the proxy data `data`, the gold and rubric
    /// evaluated at log-spaced steps on the held-out prompts PPO evaluates on:
    /// `dpo.trajectories` runs, run r with seed `dpo.seed + 1009 r`, each its own stage.
    pub fn daa_trajectories(
        &self,
        w: &WorldArtifacts,
        policy: &TrainedPolicy,
        gold: &Gold,
        data: &ProxyData,
        loss: DaaLoss,
        beta: f64,
    ) -> Result<Vec<DaaOutput>, ReproError> {
        (0..self.config.dpo.trajectories.max(1))
            .map(|r| self.daa_trajectory(w, policy, gold, data, loss, beta, r))
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn daa_trajectory(
        &self,
        w: &WorldArtifacts,
        policy: &TrainedPolicy,
        gold: &Gold,
        data: &ProxyData,
        loss: DaaLoss,
        beta: f64,
        trajectory: usize,
    ) -> Result<DaaOutput, ReproError> {
        let (policy_key, policy) = (policy.key.as_str(), &policy.model);
        let (data_key, train) = (&data.key, &data.train);
        let rl = &self.config.rl;
        let mut cfg = self.config.dpo.run(loss, beta, rl.ppo.gen_batch_size, rl.ppo.max_new_tokens);
        cfg.seed = cfg.seed.wrapping_add(crate::config::TRAJECTORY_SEED_STRIDE * trajectory as u64);
        let inputs = (policy_key, data_key, &gold.key, &cfg, rl.eval_prompts, rl.prompt_seed);
        let key = key_of(Stage::Daa, &inputs);
        let (dir, outcome) = self.store.ensure(Stage::Daa, &key, &inputs, |tmp| {
            let pairs: Vec<PreferencePair> = train
                .iter()
                .map(|c| PreferencePair {
                    prompt: c.prompt.clone(),
                    chosen: c.chosen.clone(),
                    rejected: c.rejected.clone(),
                })
                .collect();
            // PPO's evaluation prompts (`Pipeline::rl_against`), so the curves share their x-axis
            let eval_prompts = w.prompt_tokens(Split::HeldOut, rl.eval_prompts, rl.prompt_seed ^ 0xE7A1)?;
            let mut template = Record::new(loss.to_string(), Method::Daa);
            template.data_size = pairs.len() as u64;
            template.policy_size = self.config.policy.size.clone();
            template.kl_penalty = beta;
            template.seed = cfg.seed;
            let rubric = RubricScorer::for_gold(w, gold)?;
            let what = format!("{loss} beta {beta}");
            let pb = Task::start(&self.reporter, cfg.total_steps as u64, &what);
            let (bar, every) = (pb.clone(), (cfg.total_steps / 10).max(1));
            let mut opt =
                DaaOptimiser::new(cfg.clone(), policy.clone(), w.specials, pairs, eval_prompts, template)
                    .with_observer(move |l| {
                        bar.inc(1);
                        if (l.step + 1) % every == 0 {
                            bar.note(&format!(
                                "  {what}: step {:>5}  loss {:.4}  margin {:.3}  accuracy {:.3}",
                                l.step + 1,
                                l.loss,
                                l.margin,
                                l.accuracy
                            ));
                        }
                        ControlFlow::Continue(())
                    });
            let gold_judge = gold.judge(w);
            let judges = Judges { gold: &gold_judge, rubric: Some(&rubric) };
            let output = opt
                .optimise(None, judges)
                .map_err(|e| ReproError::from_trait(format!("{loss} at beta {beta}"), e))?;
            pb.finish();
            write_json(&tmp.join("daa.json"), &output)
        })?;
        let output: DaaOutput = read_json(&dir.join("daa.json"))?;
        let last = output.evals.last();
        self.report_stage(
            Stage::Daa,
            outcome,
            &dir,
            &format!(
                "{loss} beta {beta}: KL {:.2}, gold {:.3} after {} steps",
                last.map_or(0.0, |e| e.kl.mean),
                last.map_or(0.0, |e| e.gold.mean),
                cfg.total_steps
            ),
        );
        Ok(output)
    }
}
