//! A trained reward model with its calibration constants: what every experiment scores with.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use goodhart_core::{BoxError, RewardModel, TokenId};
use goodhart_nn::ScalarModel;
use serde::{Deserialize, Serialize};

use crate::calibration::Calibration;
use crate::train::{score_raw, RmSpecials};
use crate::RmError;

/// The file beside the weights that holds the name, calibration and special tokens.
pub const RM_FILE: &str = "rm.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RmMeta {
    name: String,
    calibration: Calibration,
    specials: RmSpecials,
}

/// A reward model ready to score: `score = scale * (raw - shift)` (see [`Calibration`]).
#[derive(Debug, Clone)]
pub struct CalibratedRm {
    pub name: String,
    pub model: ScalarModel,
    pub calibration: Calibration,
    pub specials: RmSpecials,
    /// Rows per forward pass when scoring.
    pub batch_size: usize,
}

impl CalibratedRm {
    /// Calibrated scores of `(prompt, response)` rows.
    pub fn score_batch(&self, prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Vec<f64> {
        score_raw(&self.model, prompts, responses, self.specials, self.batch_size)
            .into_iter()
            .map(|r| self.calibration.apply(r))
            .collect()
    }

    /// Saves weights, config and `rm.json` into `dir` (each file written atomically).
    pub fn save(&self, dir: &Path) -> Result<(), RmError> {
        self.model.save(dir)?;
        let meta = RmMeta { name: self.name.clone(), calibration: self.calibration, specials: self.specials };
        let json = serde_json::to_vec_pretty(&meta).expect("rm.json serialises");
        let path = dir.join(RM_FILE);
        goodhart_core::write_atomic(&path, &json).map_err(|e| RmError::Io { path, source: e })
    }

    /// Loads a reward model saved by [`CalibratedRm::save`].
    pub fn load(dir: &Path, device: &Device) -> Result<Self, RmError> {
        let path: PathBuf = dir.join(RM_FILE);
        let text =
            std::fs::read_to_string(&path).map_err(|e| RmError::Io { path: path.clone(), source: e })?;
        let meta: RmMeta = serde_json::from_str(&text)
            .map_err(|e| RmError::Corrupt { path: path.clone(), reason: e.to_string() })?;
        let model = ScalarModel::load(dir, device)?;
        Ok(CalibratedRm {
            name: meta.name,
            model,
            calibration: meta.calibration,
            specials: meta.specials,
            batch_size: 256,
        })
    }
}

impl RewardModel for CalibratedRm {
    fn name(&self) -> &str {
        &self.name
    }

    fn num_params(&self) -> u64 {
        self.model.config().non_embedding_params() as u64
    }

    fn score(&self, prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Result<Vec<f64>, BoxError> {
        Ok(self.score_batch(prompts, responses))
    }
}
