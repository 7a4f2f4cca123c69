//! Stage 8: PPO against a proxy.

use goodhart_core::{Judges, Optimiser, Record};
use goodhart_ppo::{PpoOptimiser, PpoOutput, PpoProgress};
use goodhart_world::Split;

use super::rubric::RubricScorer;
use super::*;
use super::{read_json, write_json};
use crate::plan;
use crate::progress::Task;
use crate::store::{key_of, Stage};
use crate::ReproError;

impl Pipeline {
    /// Every PPO trajectory of one cell (`c.trajectories` runs against `proxy`, see
    /// [`crate::config::RlStage::trajectory`]), each its own stage.
    pub fn rl_trajectories(
        &self,
        w: &WorldArtifacts,
        policy: &TrainedPolicy,
        proxy: ProxyRef<'_>,
        gold: &Gold,
        c: &crate::config::RlStage,
    ) -> Result<Vec<PpoOutput>, ReproError> {
        (0..c.trajectories.max(1))
            .map(|r| self.rl_against(w, policy, proxy, gold, &c.trajectory(r)))
            .collect()
    }

    /// Stage 8: PPO against any reward model with a key (one proxy, an ensemble, the gold), the
    /// gold evaluated at log-spaced steps. Checkpoints go to `rl-checkpoints/<key>/` (outside the
    /// stage's temporary directory) so that an interrupted run resumes where it stopped; they are
    /// removed once the stage is complete.
    pub fn rl_against(
        &self,
        w: &WorldArtifacts,
        policy: &TrainedPolicy,
        proxy: ProxyRef<'_>,
        gold: &Gold,
        c: &crate::config::RlStage,
    ) -> Result<PpoOutput, ReproError> {
        let (policy_key, policy) = (policy.key.as_str(), &policy.model);
        let inputs = plan::rl_inputs(policy_key, proxy.key, &gold.key, c);
        let key = key_of(Stage::Rl, &inputs);
        let legacy = key_of(Stage::Rl, &plan::legacy_rl_inputs(policy_key, proxy.key, &gold.key, c));
        self.store.adopt(Stage::Rl, &legacy, &key)?;
        let checkpoints = self.store.root().join("rl-checkpoints").join(&key);
        let old_checkpoints = self.store.root().join("rl-checkpoints").join(&legacy);
        if !checkpoints.exists() && old_checkpoints.is_dir() {
            // a run interrupted under the old key resumes under the new one
            std::fs::rename(&old_checkpoints, &checkpoints).map_err(|e| ReproError::io(&checkpoints, e))?;
        }
        let (dir, outcome) = self.store.ensure(Stage::Rl, &key, &inputs, |tmp| {
            let prompts = w.prompt_tokens(Split::Train, c.train_prompts, c.prompt_seed)?;
            let eval_prompts = w.prompt_tokens(Split::HeldOut, c.eval_prompts, c.prompt_seed ^ 0xE7A1)?;
            let mut template = Record::new(crate::FIG1, goodhart_core::Method::Rl);
            template.rm_size = proxy.size.to_string();
            template.rm_params = proxy.report.params;
            template.data_size = proxy.report.train_pairs as u64;
            template.policy_size = self.config.policy.size.clone();
            template.kl_penalty = c.ppo.kl_penalty.initial_coef();
            template.seed = c.ppo.seed;
            let rubric = RubricScorer::for_gold(w, gold)?;
            let pb =
                Task::start(&self.reporter, c.ppo.total_steps as u64, &format!("PPO vs {}", proxy.rm.name()));
            let (bar_, name) = (pb.clone(), proxy.rm.name().to_string());
            let every = (c.ppo.total_steps / 10).max(1);
            let mut ppo =
                PpoOptimiser::new(c.ppo.clone(), policy.clone(), w.specials, prompts, eval_prompts, template)
                    .with_checkpoints(&checkpoints)
                    .with_observer(move |event| {
                        match event {
                            PpoProgress::Started { step } => {
                                if step > 0 {
                                    bar_.note(&format!("note: resuming PPO against {name} from step {step}"));
                                }
                                bar_.set_position(step as u64);
                            }
                            PpoProgress::Step(l) => {
                                bar_.inc(1);
                                if (l.step + 1) % every == 0 {
                                    let (step, proxy, kl) = (l.step + 1, l.proxy.mean, l.kl_k1.mean);
                                    let (entropy, clipfrac) = (l.entropy, l.clipfrac);
                                    bar_.note(&format!(
                                        "  PPO vs {name}: step {step:>5}  proxy {proxy:.3}  KL {kl:.2}  \
                                     entropy {entropy:.3}  clipfrac {clipfrac:.3}"
                                    ));
                                }
                            }
                        }
                        std::ops::ControlFlow::Continue(())
                    });
            let gold_judge = gold.judge(w);
            let judges = Judges { gold: &gold_judge, rubric: Some(&rubric) };
            let output = ppo
                .optimise(Some(proxy.rm), judges)
                .map_err(|e| ReproError::from_trait(format!("PPO against {}", proxy.rm.name()), e))?;
            pb.finish();
            write_json(&tmp.join("ppo.json"), &output)
        })?;
        // the stage is complete; another process that waited for it may be removing them too
        match std::fs::remove_dir_all(&checkpoints) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(ReproError::io(&checkpoints, e))
            }
            _ => {}
        }
        let output: PpoOutput = read_json(&dir.join("ppo.json"))?;
        let last = output.evals.last();
        self.report_stage(
            Stage::Rl,
            outcome,
            &dir,
            &format!(
                "vs {}: KL {:.2}, gold {:.3}, proxy {:.3} after {} steps",
                proxy.rm.name(),
                last.map_or(0.0, |e| e.kl.mean),
                last.map_or(0.0, |e| e.gold.mean),
                last.map_or(0.0, |e| e.proxy.mean),
                c.ppo.total_steps
            ),
        );
        Ok(output)
    }
}
