//! Stage 4: comparisons of initial-policy samples, labelled by the gold.

use goodhart_rm::pairs::{label_pairs, label_pairs_bt, split_validation, Comparison, Pair};

use super::*;
use super::{read_json, write_json};
use crate::plan;
use crate::store::{key_of, Stage};
use crate::ReproError;

impl Pipeline {
    /// Stage 4: comparisons of initial-policy samples, hard-labelled by the gold.
    pub fn proxy_data(
        &self,
        w: &WorldArtifacts,
        policy: &TrainedPolicy,
        gold: &Gold,
    ) -> Result<ProxyData, ReproError> {
        self.proxy_data_with(w, policy, gold, &self.config.proxies)
    }

    /// [`Pipeline::proxy_data`] with other proxy settings (the ensembles' label noise).
    pub fn proxy_data_with(
        &self,
        w: &WorldArtifacts,
        policy: &TrainedPolicy,
        gold: &Gold,
        c: &crate::config::ProxyStage,
    ) -> Result<ProxyData, ReproError> {
        let (policy_key, policy) = (policy.key.as_str(), &policy.model);
        let inputs = plan::proxy_data_inputs(policy_key, &gold.key, c);
        let key = key_of(Stage::ProxyData, &inputs);
        let (dir, outcome) = self.store.ensure(Stage::ProxyData, &key, &inputs, |tmp| {
            let seed = c.train.seed ^ 0xDA7A;
            let (prompts, a) = self.policy_samples(w, policy, c.pairs, seed, "sampling proxy data (a)")?;
            // the second response of each pair: same prompts, another stream of samples
            let b = self.responses(w, policy, &prompts, seed, c.pairs, "sampling proxy data (b)")?;
            let sa = gold.scores(w, &prompts, &a)?;
            let sb = gold.scores(w, &prompts, &b)?;
            let pairs =
                prompts.into_iter().zip(a).zip(b).map(|((prompt, a), b)| Pair { prompt, a, b }).collect();
            // a learned gold labels by its own order (the paper's hard labels); the rubric as
            // gold by Bradley-Terry draws at its temperature
            let (comps, stats) = match gold.label_temperature() {
                t if t > 0.0 => label_pairs_bt(pairs, &sa, &sb, t, c.label_noise, c.train.seed),
                _ => label_pairs(pairs, &sa, &sb, c.label_noise, c.train.seed),
            };
            let (train, val) = split_validation(comps, 0.1, c.train.seed);
            let init_scores: Vec<f64> = sa.iter().chain(&sb).copied().collect();
            write_json(&tmp.join("comparisons.json"), &(train, val, stats))?;
            write_json(&tmp.join("gold_scores.json"), &init_scores)
        })?;
        let (train, val, _stats): (Vec<Comparison>, Vec<Comparison>, goodhart_rm::pairs::LabelStats) =
            read_json(&dir.join("comparisons.json"))?;
        let gold_scores: Vec<f64> = read_json(&dir.join("gold_scores.json"))?;
        self.report_stage(
            Stage::ProxyData,
            outcome,
            &dir,
            &format!("{} train / {} validation comparisons", train.len(), val.len()),
        );
        Ok(ProxyData { key, train, val, gold_scores })
    }
}
