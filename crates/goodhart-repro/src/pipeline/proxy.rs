//! Stage 5: the proxy reward models.

use goodhart_core::TokenId;
use goodhart_rm::calibration::Calibration;
use goodhart_rm::pairs::Comparison;
use goodhart_rm::{evaluate, score_raw, CalibratedRm};

use super::*;
use crate::plan;
use crate::store::Stage;
use crate::ReproError;

impl Pipeline {
    /// Stage 5: one proxy RM of the sweep, recentred on initial-policy samples and recalibrated
    /// on its validation comparisons.
    pub fn proxy(&self, w: &WorldArtifacts, size: &str, data: &ProxyData) -> Result<TrainedRm, ReproError> {
        self.proxy_with(w, size, data, data.train.len(), &self.config.proxies.train)
    }

    /// [`Pipeline::proxy`] on the first `pairs` training comparisons with `cfg` (the data-size
    /// and epoch sweeps).
    #[allow(clippy::too_many_arguments)]
    pub fn proxy_with(
        &self,
        w: &WorldArtifacts,
        size: &str,
        data: &ProxyData,
        pairs: usize,
        cfg: &goodhart_rm::RmTrainConfig,
    ) -> Result<TrainedRm, ReproError> {
        let (data_key, train, val) = (&data.key, &data.train, &data.val);
        if pairs == 0 || pairs > train.len() {
            return Err(ReproError::Config(format!(
                "a proxy on {pairs} comparisons, but the proxy data has {}: use 1..={} (or raise proxies.pairs)",
                train.len(),
                train.len()
            )));
        }
        let lm = self.proxy_lm(w, size)?;
        self.train_proxy(w, size, &format!("proxy-{size}"), data_key, train, val, pairs, cfg, lm)
    }

    /// A proxy of `size` called `name`, trained with `cfg` on the first `pairs` comparisons of
    /// `train`, starting from `lm` (its key, the model and its validation loss) if given.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn train_proxy(
        &self,
        w: &WorldArtifacts,
        size: &str,
        name: &str,
        data_key: &str,
        train: &[Comparison],
        val: &[Comparison],
        pairs: usize,
        cfg: &goodhart_rm::RmTrainConfig,
        lm: Option<(TrainedPolicy, Option<f64>)>,
    ) -> Result<TrainedRm, ReproError> {
        let lm_key = lm.as_ref().map(|(lm, _)| lm.key.as_str());
        // The full split's key leaves out the count, so sweeps share fig1's proxies.
        let subset = (pairs < train.len()).then_some(pairs);
        let key = plan::proxy_key(data_key, size, cfg, subset, lm_key);
        let inputs = (data_key, size, cfg, pairs, lm_key);
        let train = &train[..pairs];
        let config = self.model_config(size, w)?;
        let (dir, outcome) = self.store.ensure(Stage::Proxy, &key, &inputs, |tmp| {
            let what = format!("training {name} on {pairs} pairs");
            let init = lm.as_ref().map(|(lm, _)| &lm.model);
            let model = self.train_reward_model(&what, &config, init, train, val, w, cfg)?;
            let (rm, val_eval) = calibrated(name, model, val, w.rm_specials());
            let mut report = super::rm_report(size, &config, train.len(), val_eval, rm.calibration);
            report.lm_val_loss = lm.as_ref().and_then(|(_, loss)| *loss);
            save_rm(tmp, &rm, report)
        })?;
        self.load_trained(Stage::Proxy, key, size, &dir, outcome, |e| {
            format!("{size}: val loss {:.4}, accuracy {:.3}", e.val.loss, e.val.accuracy)
        })
    }
}

/// A trained proxy model recentred on the validation comparisons' responses and recalibrated on
/// their margins ([`Calibration::proxy`]), with its validation evaluation.
pub(super) fn calibrated(
    name: &str,
    model: goodhart_nn::ScalarModel,
    val: &[Comparison],
    sp: goodhart_rm::RmSpecials,
) -> (CalibratedRm, goodhart_rm::RmEval) {
    let val_eval = evaluate(&model, val, sp, BATCH);
    let prompts: Vec<Vec<TokenId>> = val.iter().map(|c| c.prompt.clone()).collect();
    let side = |pick: fn(&Comparison) -> &Vec<TokenId>| -> Vec<f64> {
        score_raw(&model, &prompts, &val.iter().map(|c| pick(c).clone()).collect::<Vec<_>>(), sp, BATCH)
    };
    let (chosen, rejected) = (side(|c| &c.chosen), side(|c| &c.rejected));
    let margins: Vec<f64> = chosen.iter().zip(&rejected).map(|(a, b)| a - b).collect();
    let init: Vec<f64> = chosen.iter().chain(&rejected).copied().collect();
    let calibration = Calibration::proxy(&init, &margins, &vec![1.0; margins.len()]);
    (CalibratedRm { name: name.to_string(), model, calibration, specials: sp, batch_size: BATCH }, val_eval)
}
