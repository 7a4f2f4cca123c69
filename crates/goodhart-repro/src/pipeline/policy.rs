//! Stage 2: the pretrained initial policy, and the language models the proxies start from.

use goodhart_nn::Gpt;
use goodhart_policy::pretrain;

use super::*;
use super::{read_json, write_json};
use crate::plan;
use crate::progress::Task;
use crate::store::{key_of, Stage};
use crate::ReproError;

/// A pretrained policy under the key it is stored by: what every later stage takes, so that a
/// policy and its key never travel apart.
#[derive(Clone)]
pub struct TrainedPolicy {
    pub key: String,
    pub model: Gpt,
}

impl TrainedPolicy {
    /// This policy, borrowed (what iterated RLHF's rounds chain).
    pub fn keyed(&self) -> super::KeyedPolicy<'_> {
        super::KeyedPolicy { key: &self.key, model: &self.model }
    }
}

impl Pipeline {
    /// Stage 2: the pretrained initial policy.
    pub fn policy(&self, w: &WorldArtifacts) -> Result<TrainedPolicy, ReproError> {
        self.policy_with(w, &self.config.policy)
    }

    /// [`Pipeline::policy`] with other settings (the policy-size sweep).
    pub fn policy_with(
        &self,
        w: &WorldArtifacts,
        c: &crate::config::PolicyStage,
    ) -> Result<TrainedPolicy, ReproError> {
        Ok(self.language_model(Stage::Policy, w, c)?.0)
    }

    /// [`Pipeline::policy_with`] with the policy's last validation loss.
    pub fn policy_and_loss(
        &self,
        w: &WorldArtifacts,
        c: &crate::config::PolicyStage,
    ) -> Result<(TrainedPolicy, Option<f64>), ReproError> {
        self.language_model(Stage::Policy, w, c)
    }

    /// The pretrained LM a proxy of `size` starts from (`proxies.init_lm`): its key, the model
    /// and its final validation loss; `None` when proxies start from scratch.
    pub fn proxy_lm(
        &self,
        w: &WorldArtifacts,
        size: &str,
    ) -> Result<Option<(TrainedPolicy, Option<f64>)>, ReproError> {
        plan::proxy_lm_stage(&self.config, size).map(|c| self.language_model(Stage::Lm, w, &c)).transpose()
    }

    /// A language model pretrained on the world's corpus, stored under `stage`: its key, the
    /// model and its last validation loss.
    pub(super) fn language_model(
        &self,
        stage: Stage,
        w: &WorldArtifacts,
        c: &crate::config::PolicyStage,
    ) -> Result<(TrainedPolicy, Option<f64>), ReproError> {
        let inputs = plan::policy_inputs(&w.key, c);
        let key = key_of(stage, &inputs);
        let config = self.model_config(&c.size, w)?;
        let (dir, outcome) = self.store.ensure(stage, &key, &inputs, |tmp| {
            let pb = Task::start(
                &self.reporter,
                c.pretrain.steps as u64,
                &format!("pretraining {stage} {}", c.size),
            );
            let (model, logs) =
                pretrain(&config, &w.train, &w.val, w.specials, &c.pretrain, &self.device, |l| {
                    pb.inc(1);
                    if let Some(v) = l.val_loss {
                        pb.note(&format!(
                            "  step {:>5}  train {:.3}  val {:.3}",
                            l.step + 1,
                            l.train_loss,
                            v
                        ));
                    }
                })?;
            pb.finish();
            model.save(tmp.join("model"))?;
            write_json(&tmp.join("log.json"), &logs)
        })?;
        let model = Gpt::load(dir.join("model"), &self.device)?;
        let logs: Vec<goodhart_policy::PretrainLog> = read_json(&dir.join("log.json"))?;
        let val_loss = logs.iter().rev().find_map(|l| l.val_loss).map(f64::from);
        let loss = val_loss.map_or(String::new(), |v| format!(", val loss {v:.3}"));
        self.report_stage(
            stage,
            outcome,
            &dir,
            &format!("{} ({} params{loss})", c.size, config.non_embedding_params()),
        );
        Ok((TrainedPolicy { key, model }, val_loss))
    }
}
