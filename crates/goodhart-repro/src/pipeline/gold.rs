//! Stage 3: the gold: a reward model trained on rubric labels, or the rubric itself.

use goodhart_core::{BoxError, RewardModel, SplitMix64, TokenId};
use goodhart_nn::Gpt;
use goodhart_rm::calibration::Calibration;
use goodhart_rm::pairs::{label_pairs, split_validation, temperature_for_accuracy, Comparison, Pair};
use goodhart_rm::{evaluate, score_raw, CalibratedRm, RmEval};
use goodhart_world::Split;

use super::read_json;
use super::*;
use crate::config::GoldKind;
use crate::plan;
use crate::store::{key_of, Stage};
use crate::ReproError;

/// The gold with its key: what labels the proxies' comparisons and what every curve is judged by.
pub struct Gold {
    pub key: String,
    pub eval: RmReport,
    pub model: GoldModel,
    /// The stage directories of the adversarial rounds that made it, first to last (empty for a
    /// gold trained once): each holds the round's comparisons.
    pub rounds: Vec<std::path::PathBuf>,
}

/// What scores for the gold. One per pipeline, so the learned variant's size is not worth a box.
#[allow(clippy::large_enum_variant)]
pub enum GoldModel {
    /// A reward model trained on rubric-labelled comparisons, calibrated.
    Learned(CalibratedRm),
    /// The rubric, normalised by the report's calibration (no model).
    Rubric,
}

impl Gold {
    /// The Bradley-Terry temperature of the gold's labels (0: hard labels, as the paper's).
    pub fn label_temperature(&self) -> f64 {
        self.eval.label_temperature.unwrap_or(0.0)
    }

    /// The gold's scores of `responses[i]` to `prompts[i]`.
    pub fn scores(
        &self,
        w: &WorldArtifacts,
        prompts: &[Vec<TokenId>],
        responses: &[Vec<TokenId>],
    ) -> Result<Vec<f64>, ReproError> {
        match &self.model {
            GoldModel::Learned(rm) => Ok(rm.score_batch(prompts, responses)),
            GoldModel::Rubric => prompts
                .iter()
                .zip(responses)
                .map(|(p, r)| Ok(self.eval.calibration.apply(w.rubric(p, r)?)))
                .collect(),
        }
    }

    /// The gold as a reward model over `w`'s tokens (the judge of an optimiser's run).
    pub fn judge<'a>(&'a self, w: &'a WorldArtifacts) -> GoldJudge<'a> {
        GoldJudge { gold: self, world: w }
    }
}

/// [`Gold`] as a [`RewardModel`].
pub struct GoldJudge<'a> {
    gold: &'a Gold,
    world: &'a WorldArtifacts,
}

impl RewardModel for GoldJudge<'_> {
    fn name(&self) -> &str {
        "gold"
    }

    fn num_params(&self) -> u64 {
        self.gold.eval.params
    }

    fn score(&self, prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Result<Vec<f64>, BoxError> {
        Ok(self.gold.scores(self.world, prompts, responses)?)
    }
}

impl Pipeline {
    /// Stage 3: the gold. Learned (`gold.kind = "learned"`): an RM trained on rubric-labelled
    /// comparisons of the broad writer and of the initial policy, recentred and normalised on
    /// initial-policy samples. The rubric (`"rubric"`): the rubric normalised on the same
    /// samples, its labels drawn at the temperature that gives `gold.label_accuracy`.
    /// With `gold.rounds`, the gold of the last adversarial round ([`Pipeline::gold_upto`]).
    pub fn gold(&self, w: &WorldArtifacts, policy: &TrainedPolicy) -> Result<Gold, ReproError> {
        self.gold_upto(w, policy, self.config.gold.round_count())
    }

    /// The gold after `rounds` adversarial rounds (0: as first trained).
    pub fn gold_upto(
        &self,
        w: &WorldArtifacts,
        policy: &TrainedPolicy,
        rounds: usize,
    ) -> Result<Gold, ReproError> {
        let mut gold = self.first_gold(w, policy)?;
        for r in 1..=rounds {
            gold = self.gold_round(w, policy, &gold, r)?;
        }
        Ok(gold)
    }

    /// The gold before any adversarial round.
    fn first_gold(&self, w: &WorldArtifacts, policy: &TrainedPolicy) -> Result<Gold, ReproError> {
        let (policy_key, policy) = (policy.key.as_str(), &policy.model);
        match self.config.gold.kind {
            GoldKind::Learned => self.learned_gold(w, policy_key, policy),
            GoldKind::Rubric => self.rubric_gold(w, policy_key, policy),
        }
    }

    fn rubric_gold(&self, w: &WorldArtifacts, policy_key: &str, policy: &Gpt) -> Result<Gold, ReproError> {
        let c = &self.config.gold;
        let accuracy = c.label_accuracy.ok_or_else(|| {
            ReproError::Config("gold.kind = \"rubric\" needs gold.label_accuracy in (0.5, 1]".into())
        })?;
        let inputs = plan::gold_inputs(&w.key, policy_key, c);
        let key = key_of(Stage::Gold, &inputs);
        let (dir, outcome) = self.store.ensure(Stage::Gold, &key, &inputs, |tmp| {
            // pairs of initial-policy samples to the same prompt, as the proxies' data is drawn
            let seed = c.train.seed ^ 0xCA1;
            let half = c.calibration_samples.div_ceil(2);
            let (prompts, a) = self.policy_samples(w, policy, half, seed, "rubric gold calibration (a)")?;
            let b = self.responses(w, policy, &prompts, seed, half, "rubric gold calibration (b)")?;
            let rubric = |r: &[Vec<TokenId>]| -> Result<Vec<f64>, ReproError> {
                prompts.iter().zip(r).map(|(p, r)| w.rubric(p, r)).collect()
            };
            let (ra, rb) = (rubric(&a)?, rubric(&b)?);
            let raw: Vec<f64> = ra.iter().chain(&rb).copied().collect();
            let calibration = Calibration::gold(&raw)
                .ok_or(ReproError::Degenerate("the rubric scores every initial-policy sample the same"))?;
            let margins: Vec<f64> =
                ra.iter().zip(&rb).map(|(x, y)| calibration.apply(*x) - calibration.apply(*y)).collect();
            let temperature = temperature_for_accuracy(&margins, accuracy)
                .ok_or(ReproError::Degenerate("every calibration pair ties in rubric score"))?;
            // what the rubric itself scores on its own labels: their accuracy, and the
            // Bradley-Terry loss of the true preference probabilities (the labels' entropy)
            let probs: Vec<f64> = margins
                .iter()
                .filter(|m| **m != 0.0)
                .map(|m| goodhart_rm::pairs::prefer_probability(m.abs(), temperature))
                .collect();
            let entropy = |p: f64| -(p * p.max(1e-300).ln() + (1.0 - p) * (1.0 - p).max(1e-300).ln());
            let val = RmEval {
                loss: probs.iter().map(|&p| entropy(p)).sum::<f64>() / probs.len().max(1) as f64,
                accuracy,
                pairs: probs.len(),
            };
            let report = RmReport {
                size: "rubric".into(),
                params: 0,
                total_params: 0,
                train_pairs: 0,
                val,
                calibration,
                lm_val_loss: None,
                rubric_offset: Some(calibration.shift),
                label_temperature: Some(temperature),
            };
            write_json(&tmp.join("report.json"), &report)
        })?;
        let eval: RmReport = read_json(&dir.join("report.json"))?;
        self.report_stage(
            Stage::Gold,
            outcome,
            &dir,
            &format!(
                "the rubric as gold: labels at temperature {:.3} agree with it on {:.3} of policy pairs",
                eval.label_temperature.unwrap_or(0.0),
                eval.val.accuracy
            ),
        );
        Ok(Gold { key, eval, model: GoldModel::Rubric, rounds: Vec::new() })
    }

    fn learned_gold(&self, w: &WorldArtifacts, policy_key: &str, policy: &Gpt) -> Result<Gold, ReproError> {
        let c = self.config.gold.first_round();
        let inputs = plan::gold_inputs(&w.key, policy_key, &c);
        let key = key_of(Stage::Gold, &inputs);
        let (dir, outcome) = self.store.ensure(Stage::Gold, &key, &inputs, |tmp| {
            let (train, val) = self.first_gold_data(w, policy)?;
            let (rm, report) = self.fit_gold("training gold RM", w, policy, &train, &val)?;
            save_rm(tmp, &rm, report)
        })?;
        let TrainedRm { key, rm, eval, .. } =
            self.load_trained(Stage::Gold, key, &c.size, &dir, outcome, |e| {
                format!("{}: agreement with the rubric {:.3}", c.size, e.val.accuracy)
            })?;
        Ok(Gold { key, eval, model: GoldModel::Learned(rm), rounds: Vec::new() })
    }

    /// The learned gold's first comparisons, labelled by the rubric and split 90/10: pairs of the
    /// broad writer's responses and pairs of initial-policy samples.
    pub(super) fn first_gold_data(
        &self,
        w: &WorldArtifacts,
        policy: &Gpt,
    ) -> Result<(Vec<Comparison>, Vec<Comparison>), ReproError> {
        let c = &self.config.gold;
        let max_seq_len = self.model_config(&c.size, w)?.max_seq_len;
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
            if 1 + pair.prompt.len() + pair.a.len().max(pair.b.len()) > max_seq_len {
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
        Ok(split_validation(comps, 0.1, c.train.seed))
    }

    /// Trains a learned gold on `train` (from the initial policy when `gold.init_from_policy`),
    /// then recentres and normalises it on initial-policy samples.
    pub(super) fn fit_gold(
        &self,
        what: &str,
        w: &WorldArtifacts,
        policy: &Gpt,
        train: &[Comparison],
        val: &[Comparison],
    ) -> Result<(CalibratedRm, RmReport), ReproError> {
        let c = &self.config.gold;
        let config = self.model_config(&c.size, w)?;
        if c.init_from_policy && c.size != self.config.policy.size {
            return Err(ReproError::Config(format!(
                "gold.init_from_policy needs gold.size == policy.size (got {} and {}): set one to the \
                 other or set init_from_policy = false",
                c.size, self.config.policy.size
            )));
        }
        let init = c.init_from_policy.then_some(policy);
        let model = self.train_reward_model(what, &config, init, train, val, w, &c.train)?;
        let val_eval = evaluate(&model, val, w.rm_specials(), BATCH);
        let (prompts, responses) =
            self.policy_samples(w, policy, c.calibration_samples, c.train.seed ^ 0xCA1, "gold calibration")?;
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
        let mut report = super::rm_report(&c.size, &config, train.len(), val_eval, calibration);
        report.rubric_offset = Some(rubric_offset);
        Ok((rm, report))
    }
}
