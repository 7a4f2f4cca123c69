//! Stage 3: the gold reward model.

use goodhart_core::SplitMix64;
use goodhart_nn::Gpt;
use goodhart_rm::calibration::Calibration;
use goodhart_rm::pairs::{label_pairs, split_validation, Pair};
use goodhart_rm::{evaluate, score_raw, CalibratedRm};
use goodhart_world::Split;

use super::*;
use crate::plan;
use crate::store::{key_of, Stage};
use crate::ReproError;

impl Pipeline {
    /// Stage 3: the gold RM, trained on rubric-labelled comparisons of the broad writer, recentred
    /// and normalised on initial-policy samples.
    pub fn gold(&self, w: &WorldArtifacts, policy_key: &str, policy: &Gpt) -> Result<TrainedRm, ReproError> {
        let c = &self.config.gold;
        let inputs = plan::gold_inputs(&w.key, policy_key, c);
        let key = key_of(Stage::Gold, &inputs);
        let config = self.model_config(&c.size, w)?;
        if c.init_from_policy && c.size != self.config.policy.size {
            return Err(ReproError::Config(format!(
                "gold.init_from_policy needs gold.size == policy.size (got {} and {}): set one to the \
                 other or set init_from_policy = false",
                c.size, self.config.policy.size
            )));
        }
        let init = c.init_from_policy.then_some(policy);
        let (dir, outcome) = self.store.ensure(Stage::Gold, &key, &inputs, |tmp| {
            let writer = w.world.config.writer.broad();
            let mut rng = SplitMix64::new(c.train.seed ^ 0x601D);
            let (mut pairs, mut sa, mut sb) = (Vec::new(), Vec::new(), Vec::new());
            // The broad writer's longest responses (many praise words and intensifiers) can
            // exceed the models' context; such pairs are redrawn, so the gold sees `c.pairs`.
            while pairs.len() < c.pairs {
                let prompt = w.world.random_prompt(Split::Train, &mut rng);
                let (a, b) = (writer.respond(&prompt, &mut rng), writer.respond(&prompt, &mut rng));
                let text = prompt.text();
                let pair = Pair { prompt: w.encode(&text)?, a: w.encode(&a)?, b: w.encode(&b)? };
                if 1 + pair.prompt.len() + pair.a.len().max(pair.b.len()) > config.max_seq_len {
                    continue;
                }
                sa.push(w.world.judge(&text, &a).map_err(|e| ReproError::Artifact(e.to_string()))?.score);
                sb.push(w.world.judge(&text, &b).map_err(|e| ReproError::Artifact(e.to_string()))?.score);
                pairs.push(pair);
            }
            if c.policy_pairs > 0 {
                // Pairs of initial-policy samples, so that the gold knows the distribution the
                // proxies learn from (the broad writer alone covers what optimisation reaches).
                let seed = c.train.seed ^ 0x90_1D;
                let n = c.policy_pairs;
                let (prompts, a) = self.policy_samples(w, policy, n, seed, "gold data (a)")?;
                let b = self.responses(w, policy, &prompts, seed, n, "gold data (b)")?;
                for ((prompt, a), b) in prompts.into_iter().zip(a).zip(b) {
                    sa.push(w.rubric(&prompt, &a)?);
                    sb.push(w.rubric(&prompt, &b)?);
                    pairs.push(Pair { prompt, a, b });
                }
            }
            let (comps, _) = label_pairs(pairs, &sa, &sb, 0.0, c.train.seed);
            let (train, val) = split_validation(comps, 0.1, c.train.seed);
            let model =
                self.train_reward_model("training gold RM", &config, init, &train, &val, w, &c.train)?;
            let val_eval = evaluate(&model, &val, w.rm_specials(), BATCH);
            let (prompts, responses) = self.policy_samples(
                w,
                policy,
                c.calibration_samples,
                c.train.seed ^ 0xCA1,
                "gold calibration",
            )?;
            let raw = score_raw(&model, &prompts, &responses, w.rm_specials(), BATCH);
            let calibration = Calibration::gold(&raw)
                .ok_or(ReproError::Degenerate("the gold RM scores every initial-policy sample the same"))?;
            let rubric: Vec<f64> =
                prompts.iter().zip(&responses).map(|(p, r)| w.rubric(p, r)).collect::<Result<_, _>>()?;
            let rubric_offset = goodhart_core::Estimate::from_values(&rubric).mean;
            let rm = CalibratedRm {
                name: "gold".into(),
                model,
                calibration,
                specials: w.rm_specials(),
                batch_size: BATCH,
            };
            let mut report = RmReport::new(&c.size, &config, train.len(), val_eval, calibration);
            report.rubric_offset = Some(rubric_offset);
            save_rm(tmp, &rm, report)
        })?;
        self.load_trained(Stage::Gold, key, &c.size, &dir, outcome, |e| {
            format!("{}: agreement with the rubric {:.3}", c.size, e.val.accuracy)
        })
    }
}
