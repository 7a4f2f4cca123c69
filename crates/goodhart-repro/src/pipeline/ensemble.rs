//! Ensembles of proxies: K members of one size, differing in the seed of the language model they
//! start from, of their head and of their batch order, and (a variant) in the comparisons they
//! train on.

use goodhart_core::SplitMix64;
use goodhart_rm::ensemble::{agreement, Objective};
use goodhart_rm::RmEval;

use super::*;
use crate::plan;
use crate::store::{key_of, Stage};
use crate::ReproError;

/// Member k's seeds are the proxies' seeds plus `k` times this: far from the small offsets that
/// `--seed` adds, so no member of one seed is a member of another.
pub const MEMBER_SEED_STRIDE: u64 = 7919;

/// What an ensemble's members train on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MemberData {
    /// Every member on all the comparisons (member 0 is the plain proxy).
    Same,
    /// Member k on its own random `fraction` of them, drawn with seed
    /// `proxies.train.seed + k * MEMBER_SEED_STRIDE`.
    Subset(f64),
    /// Every member on all the comparisons, each fine-tuned from member 0's pretrained language
    /// model (one shared initialisation, as WARM needs), differing in its head's seed and its
    /// batch order only.
    SharedInit,
}

/// Member `k`'s comparisons under `data`: all of `train`, or its own random subset (at least one
/// comparison), the same for the same `seed`.
pub fn member_comparisons(train: &[Comparison], data: MemberData, seed: u64) -> Vec<Comparison> {
    match data {
        MemberData::Same | MemberData::SharedInit => train.to_vec(),
        MemberData::Subset(fraction) => {
            let mut order: Vec<usize> = (0..train.len()).collect();
            SplitMix64::new(seed ^ 0x5AB5E7).shuffle(&mut order);
            let keep = ((train.len() as f64 * fraction).round() as usize).clamp(1, train.len().max(1));
            order.truncate(keep);
            // training order stays the comparisons' own; the subset is a set
            order.sort_unstable();
            order.into_iter().map(|i| train[i].clone()).collect()
        }
    }
}

/// One ensemble's trained members, with what they say about held-out comparisons.
pub struct EnsembleMembers {
    pub size: String,
    pub data: MemberData,
    /// The flip probability of the labels the members learned from.
    pub label_noise: f64,
    pub members: Vec<TrainedRm>,
    /// How often each pair of members orders the validation comparisons alike
    /// (`(i, j, agreement)`, i < j).
    pub agreement: Vec<(usize, usize, f64)>,
    /// Each member's calibrated scores of the chosen and of the rejected responses of every
    /// validation comparison, `[member][comparison]`.
    pub val_chosen: Vec<Vec<f64>>,
    pub val_rejected: Vec<Vec<f64>>,
}

impl EnsembleMembers {
    /// The mean pairwise agreement on held-out comparisons (1 when there is one member).
    pub fn mean_agreement(&self) -> f64 {
        if self.agreement.is_empty() {
            return 1.0;
        }
        self.agreement.iter().map(|a| a.2).sum::<f64>() / self.agreement.len() as f64
    }

    /// The key of the ensemble of these members under `objective`.
    pub fn key(&self, objective: Objective) -> String {
        let members: Vec<&str> = self.members.iter().map(|m| m.key.as_str()).collect();
        key_of(Stage::Proxy, &("ensemble", members, objective))
    }

    /// What the objective's ensemble scores on the validation comparisons (its margins'
    /// Bradley-Terry loss and accuracy), in a report like a single proxy's: parameters are one
    /// member's (the ensemble is plotted at its members' size), training pairs the members'.
    pub fn report(&self, objective: Objective) -> RmReport {
        let side = |scores: &[Vec<f64>]| {
            let views: Vec<&[f64]> = scores.iter().map(Vec::as_slice).collect();
            objective.combine_rows(&views).expect("members scored the same comparisons")
        };
        let (chosen, rejected) = (side(&self.val_chosen), side(&self.val_rejected));
        let margins: Vec<f64> = chosen.iter().zip(&rejected).map(|(c, r)| c - r).collect();
        let mut report = self.members[0].eval.clone();
        report.val = RmEval::from_margins(&margins);
        report
    }
}

impl Pipeline {
    /// The ensemble of `size` on the proxy data `comparisons` (labelled with flip probability
    /// `label_noise`): `members` proxies trained on `data` of them (with [`MemberData::Same`]
    /// member 0 is the plain proxy of those comparisons), and their agreement on the validation
    /// comparisons.
    pub fn ensemble_members(
        &self,
        w: &WorldArtifacts,
        size: &str,
        label_noise: f64,
        members: usize,
        data: MemberData,
        comparisons: &ProxyData,
    ) -> Result<EnsembleMembers, ReproError> {
        let mut trained = Vec::with_capacity(members);
        for k in 0..members as u64 {
            trained.push(self.ensemble_member(w, size, k, data, comparisons)?);
        }
        let val = &comparisons.val;
        let prompts: Vec<Vec<goodhart_core::TokenId>> = val.iter().map(|c| c.prompt.clone()).collect();
        let chosen: Vec<Vec<goodhart_core::TokenId>> = val.iter().map(|c| c.chosen.clone()).collect();
        let rejected: Vec<Vec<goodhart_core::TokenId>> = val.iter().map(|c| c.rejected.clone()).collect();
        let val_chosen: Vec<Vec<f64>> = trained.iter().map(|m| m.rm.score_batch(&prompts, &chosen)).collect();
        let val_rejected: Vec<Vec<f64>> =
            trained.iter().map(|m| m.rm.score_batch(&prompts, &rejected)).collect();
        let val_margins: Vec<Vec<f64>> = val_chosen
            .iter()
            .zip(&val_rejected)
            .map(|(c, r)| c.iter().zip(r).map(|(c, r)| c - r).collect())
            .collect();
        let mut pairs = Vec::new();
        for i in 0..val_margins.len() {
            for j in i + 1..val_margins.len() {
                if let Some(a) = agreement(&val_margins[i], &val_margins[j]) {
                    pairs.push((i, j, a));
                }
            }
        }
        Ok(EnsembleMembers {
            size: size.to_string(),
            data,
            label_noise,
            members: trained,
            agreement: pairs,
            val_chosen,
            val_rejected,
        })
    }

    /// Member `k` of an ensemble of `size`: a proxy whose training seed (head and batch order) is
    /// the proxies' plus `k * MEMBER_SEED_STRIDE`, and so is its language model's pretraining
    /// seed except under [`MemberData::SharedInit`] (member 0's LM for every member), trained on
    /// `data` (member 0 on all the data is the plain proxy, shared with figure 1 on its data).
    pub fn ensemble_member(
        &self,
        w: &WorldArtifacts,
        size: &str,
        k: u64,
        data: MemberData,
        comparisons: &ProxyData,
    ) -> Result<TrainedRm, ReproError> {
        let (data_key, train, val) = (&comparisons.key, &comparisons.train[..], &comparisons.val);
        let offset = k.wrapping_mul(MEMBER_SEED_STRIDE);
        let mut cfg = self.config.proxies.train.clone();
        cfg.seed = cfg.seed.wrapping_add(offset);
        let (name, data_key, train) = match data {
            MemberData::Same => {
                let name = if k == 0 { format!("proxy-{size}") } else { format!("proxy-{size}-m{k}") };
                (name, data_key.to_string(), std::borrow::Cow::Borrowed(train))
            }
            MemberData::Subset(fraction) => (
                format!("proxy-{size}-s{k}"),
                key_of(Stage::ProxyData, &(data_key, "subset", fraction, cfg.seed)),
                std::borrow::Cow::Owned(member_comparisons(train, data, cfg.seed)),
            ),
            MemberData::SharedInit => {
                let name = if k == 0 { format!("proxy-{size}") } else { format!("proxy-{size}-w{k}") };
                (name, data_key.to_string(), std::borrow::Cow::Borrowed(train))
            }
        };
        // the shared-initialisation members keep member 0's language model
        let lm_offset = if data == MemberData::SharedInit { 0 } else { offset };
        let lm = plan::proxy_lm_stage(&self.config, size)
            .map(|mut c| {
                c.pretrain.seed = c.pretrain.seed.wrapping_add(lm_offset);
                self.language_model(Stage::Lm, w, &c)
            })
            .transpose()?;
        self.train_proxy(w, size, &name, &data_key, &train, val, train.len(), &cfg, lm)
    }

    /// WARM: the parameter-wise mean of `ens`'s members (which must share their initialisation:
    /// [`MemberData::SharedInit`] members of a size that starts from a pretrained language model),
    /// recalibrated on `comparisons`' validation split as a proxy is; a stage of its own.
    ///
    /// # Errors
    /// [`ReproError::Config`] when the members do not share an initialisation.
    pub fn warm(
        &self,
        w: &WorldArtifacts,
        ens: &EnsembleMembers,
        comparisons: &ProxyData,
    ) -> Result<TrainedRm, ReproError> {
        if ens.data != MemberData::SharedInit || plan::proxy_lm_stage(&self.config, &ens.size).is_none() {
            return Err(ReproError::Config(format!(
                "WARM averages members fine-tuned from one pretrained language model: {}'s members do not \
                 share one (set proxies.init_lm and use shared-initialisation members)",
                ens.size
            )));
        }
        let members: Vec<&str> = ens.members.iter().map(|m| m.key.as_str()).collect();
        let inputs = ("warm", &members);
        let key = key_of(Stage::Proxy, &inputs);
        let config = self.model_config(&ens.size, w)?;
        let name = format!("warm-{}", ens.size);
        let (dir, outcome) = self.store.ensure(Stage::Proxy, &key, &inputs, |tmp| {
            let models: Vec<&goodhart_nn::ScalarModel> = ens.members.iter().map(|m| &m.rm.model).collect();
            let model = goodhart_rm::warm::average_weights(&models)
                .map_err(|e| ReproError::Config(format!("WARM of {}: {e}", ens.size)))?;
            let (rm, val_eval) = super::proxy::calibrated(&name, model, &comparisons.val, w.rm_specials());
            let train_pairs = ens.members[0].eval.train_pairs;
            save_rm(tmp, &rm, rm_report(&ens.size, &config, train_pairs, val_eval, rm.calibration))
        })?;
        self.load_trained(Stage::Proxy, key, &ens.size, &dir, outcome, |e| {
            format!(
                "WARM of {} members: val loss {:.4}, accuracy {:.3}",
                members.len(),
                e.val.loss,
                e.val.accuracy
            )
        })
    }

    /// The proxy comparisons labelled with flip probability `label_noise` (figure 1's when it
    /// equals `proxies.label_noise`).
    pub fn noisy_proxy_data(
        &self,
        w: &WorldArtifacts,
        policy: &TrainedPolicy,
        gold: &Gold,
        label_noise: f64,
    ) -> Result<ProxyData, ReproError> {
        let mut c = self.config.proxies.clone();
        c.label_noise = label_noise;
        self.proxy_data_with(w, policy, gold, &c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comparisons(n: usize) -> Vec<Comparison> {
        (0..n as u32)
            .map(|i| Comparison { prompt: vec![i], chosen: vec![i, 1], rejected: vec![i, 2] })
            .collect()
    }

    fn ids(cs: &[Comparison]) -> Vec<u32> {
        cs.iter().map(|c| c.prompt[0]).collect()
    }

    #[test]
    fn subsets_are_distinct_sized_sets_that_repeat_with_their_seed() {
        let train = comparisons(1000);
        assert_eq!(ids(&member_comparisons(&train, MemberData::Same, 3)), ids(&train));
        let a = ids(&member_comparisons(&train, MemberData::Subset(0.5), 1));
        let b = ids(&member_comparisons(&train, MemberData::Subset(0.5), 1 + MEMBER_SEED_STRIDE));
        assert_eq!(a.len(), 500);
        assert!(a.windows(2).all(|w| w[0] < w[1]), "a subset without repeats, in the data's order");
        assert_eq!(a, ids(&member_comparisons(&train, MemberData::Subset(0.5), 1)), "same seed, same subset");
        let shared = a.iter().filter(|i| b.contains(i)).count();
        // two independent halves share about a quarter of the data
        assert!((200..300).contains(&shared), "{shared} of 500 shared");
        assert_eq!(member_comparisons(&comparisons(3), MemberData::Subset(0.01), 1).len(), 1);
        assert_eq!(member_comparisons(&train, MemberData::Subset(1.0), 9).len(), 1000);
    }
}
