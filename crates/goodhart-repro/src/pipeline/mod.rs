//! The stages of an experiment, each computed once per key and shared by every figure: one file
//! per stage, in pipeline order (`world`, `policy` with the proxies' LMs, `gold`, `proxy_data`,
//! `proxy`, `ensemble` for ensembles of proxies, `bon` for the pools and their scores, `rl`, `daa`
//! for direct alignment); this file holds what they share.

mod bon;
mod daa;
mod ensemble;
mod gold;
mod gold_rounds;
mod iterated;
mod policy;
mod proxy;
mod proxy_data;
mod rl;
pub mod rubric;
mod world;

pub use goodhart_findings::records::RmReport;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use goodhart_bon::{log_grid, BestOfN};
use goodhart_core::{Policy, TokenId};
use goodhart_nn::{Gpt, GptConfig};
use goodhart_policy::{LmPolicy, Specials, TokenizedDoc};
use goodhart_rm::calibration::Calibration;
use goodhart_rm::pairs::Comparison;
use goodhart_rm::{train_rm, CalibratedRm, RmEval, RmSpecials};
use goodhart_world::{Split, World, WorldTokenizer};
use serde::{Deserialize, Serialize};

pub use self::ensemble::{member_comparisons, EnsembleMembers, MemberData, MEMBER_SEED_STRIDE};
pub use self::gold::{Gold, GoldJudge, GoldModel};
pub use self::gold_rounds::{agreement, snapshot_steps, GoldRoundReport, RoundComparisons, Snapshot};
pub use self::iterated::{KeyedPolicy, Round, RoundSpec};
pub use self::policy::TrainedPolicy;
use crate::config::ExperimentConfig;
use crate::progress::{self, Event, Reporter, Task};
use crate::store::{Outcome, Stage, Store};
use crate::ReproError;
pub use rubric::{PoolScores, RubricScorer};

/// Prompts and one response to each, as tokens.
type Samples = (Vec<Vec<TokenId>>, Vec<Vec<TokenId>>);

/// The proxy-data stage's output under its key: comparisons of initial-policy samples labelled
/// by the gold, split into training and validation, and the gold's scores of their samples.
#[derive(Debug, Clone)]
pub struct ProxyData {
    pub key: String,
    pub train: Vec<Comparison>,
    pub val: Vec<Comparison>,
    /// The gold's score of every sample: each pair's first responses, then its second ones.
    pub gold_scores: Vec<f64>,
}

/// Rows per forward pass when sampling or scoring.
const BATCH: usize = 256;

/// The corpus, its tokenizer and the world that generated them.
pub struct WorldArtifacts {
    pub key: String,
    pub world: World,
    pub tokenizer: WorldTokenizer,
    pub train: Vec<TokenizedDoc>,
    pub val: Vec<TokenizedDoc>,
    pub specials: Specials,
}

impl WorldArtifacts {
    pub fn rm_specials(&self) -> RmSpecials {
        RmSpecials { pad: self.specials.pad, bos: self.specials.bos }
    }

    pub fn encode(&self, text: &str) -> Result<Vec<TokenId>, ReproError> {
        self.tokenizer.encode(text).map_err(|e| ReproError::Artifact(e.to_string()))
    }

    pub fn decode(&self, ids: &[TokenId]) -> Result<String, ReproError> {
        self.tokenizer.decode(ids).map_err(|e| ReproError::Artifact(e.to_string()))
    }

    /// `count` prompts of one side of the world's split (see [`World::prompts`]), as tokens.
    pub fn prompt_tokens(
        &self,
        split: Split,
        count: usize,
        seed: u64,
    ) -> Result<Vec<Vec<TokenId>>, ReproError> {
        self.world.prompts(split, count, seed).iter().map(|p| self.encode(&p.text())).collect()
    }

    /// The rubric's score of a (prompt, response) given as tokens.
    pub fn rubric(&self, prompt: &[TokenId], response: &[TokenId]) -> Result<f64, ReproError> {
        let (p, r) = (self.decode(prompt)?, self.decode(response)?);
        Ok(self.world.judge(&p, &r).map_err(|e| ReproError::Artifact(e.to_string()))?.score)
    }
}

/// A trained reward model with its key and validation numbers.
pub struct TrainedRm {
    pub key: String,
    pub size: String,
    pub rm: CalibratedRm,
    pub eval: RmReport,
}

impl TrainedRm {
    /// This reward model as what an optimiser runs against.
    pub fn as_proxy(&self) -> ProxyRef<'_> {
        ProxyRef { key: &self.key, size: &self.size, report: &self.eval, rm: &self.rm }
    }
}

/// What an optimiser runs against: a reward model with the key and the report that name it in
/// the store and in records (one trained proxy, or an ensemble of them).
#[derive(Clone, Copy)]
pub struct ProxyRef<'a> {
    pub key: &'a str,
    pub size: &'a str,
    pub report: &'a RmReport,
    pub rm: &'a dyn goodhart_core::RewardModel,
}

/// The report of a reward model of architecture `config` trained on `train_pairs` comparisons.
fn rm_report(
    size: &str,
    config: &GptConfig,
    train_pairs: usize,
    val: RmEval,
    calibration: Calibration,
) -> RmReport {
    RmReport {
        size: size.to_string(),
        params: config.non_embedding_params() as u64,
        total_params: config.num_params_scalar() as u64,
        train_pairs,
        val,
        calibration,
        lm_val_loss: None,
        rubric_offset: None,
        label_temperature: None,
    }
}

/// Writes a trained reward model (`rm/`) and its report (`report.json`) into a stage directory.
fn save_rm(dir: &Path, rm: &CalibratedRm, report: RmReport) -> Result<(), ReproError> {
    rm.save(&dir.join("rm"))?;
    write_json(&dir.join("report.json"), &report)
}

/// Best-of-n pools: per prompt, `pool` responses of the initial policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pools {
    /// The key the pools are stored by (not part of `pools.json`).
    #[serde(skip)]
    pub key: String,
    pub prompts: Vec<Vec<TokenId>>,
    /// `responses[p][i]`: the i-th sample for prompt p.
    pub responses: Vec<Vec<Vec<TokenId>>>,
}

impl Pools {
    /// Best-of-n over these pools with the grid `grid`.
    ///
    /// # Errors
    /// When a pool is smaller than the grid's largest n, or the grid is invalid.
    pub fn best_of_n(&self, grid: &[u64]) -> Result<BestOfN<'_>, ReproError> {
        BestOfN::new(&self.prompts[..], &self.responses[..], grid)
            .map_err(|e| ReproError::from_trait("best-of-n pools", e))
    }
}

/// The stages figure 1 and the targets built on it start from: world, initial policy, gold,
/// proxy data, best-of-n pools and the gold's scores of them.
pub struct Base {
    pub w: WorldArtifacts,
    pub policy: TrainedPolicy,
    pub gold: Gold,
    pub data: ProxyData,
    pub pools: Pools,
    pub gold_scores: Vec<Vec<f64>>,
    /// The rubric's recentred scores of every pooled sample, `[prompt][sample]`.
    pub rubric_scores: Vec<Vec<f64>>,
}

/// [`goodhart_store::write_json`], failing as the pipeline does.
pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), ReproError> {
    Ok(goodhart_store::write_json(path, value)?)
}

/// [`goodhart_store::read_json`], failing as the pipeline does.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ReproError> {
    Ok(goodhart_store::read_json(path)?)
}

/// An experiment's pipeline over a store.
#[derive(Clone)]
pub struct Pipeline {
    pub config: ExperimentConfig,
    pub store: Store,
    pub device: Device,
    /// Where progress goes ([`progress::silent`] unless set with [`Pipeline::with_reporter`]).
    pub reporter: Reporter,
}

impl Pipeline {
    /// A pipeline of `config` storing under `runs`. Sets the process's matrix-product precision
    /// to the config's where the CPU can (`goodhart_nn::use_precision`): one precision per
    /// process, so pipelines of different precisions want different processes.
    pub fn new(config: ExperimentConfig, runs: impl Into<PathBuf>, device: Device) -> Self {
        goodhart_nn::use_precision(config.precision);
        Pipeline { config, store: Store::new(runs), device, reporter: progress::silent() }
    }

    /// This pipeline, reporting its progress (and its store's notes) to `reporter`.
    pub fn with_reporter(mut self, reporter: Reporter) -> Self {
        self.store = self.store.with_reporter(reporter.clone());
        self.reporter = reporter;
        self
    }

    fn report_stage(&self, stage: Stage, outcome: Outcome, dir: &Path, detail: &str) {
        (self.reporter)(Event::Stage { stage, outcome, dir, detail });
    }

    /// The [`Base`] stages, in order (each computed once, then read from the store).
    pub fn base(&self) -> Result<Base, ReproError> {
        let w = self.world()?;
        let policy = self.policy(&w)?;
        let gold = self.gold(&w, &policy)?;
        let data = self.proxy_data(&w, &policy, &gold)?;
        let pools = self.bon_pools(&w, &policy)?;
        let gold_scores = self.gold_scores(&w, &pools, &gold)?;
        let rubric_scores = RubricScorer::for_gold(&w, &gold)?.pool_scores(&pools)?;
        Ok(Base { w, policy, gold, data, pools, gold_scores, rubric_scores })
    }

    pub(super) fn model_config(&self, size: &str, w: &WorldArtifacts) -> Result<GptConfig, ReproError> {
        Ok(GptConfig::preset(size, w.tokenizer.vocab_size(), self.config.policy.max_seq_len)?)
    }

    /// `n` samples of the policy for training prompts (prompt tokens, response tokens).
    pub(super) fn policy_samples(
        &self,
        w: &WorldArtifacts,
        policy: &Gpt,
        n: usize,
        seed: u64,
        what: &str,
    ) -> Result<Samples, ReproError> {
        let prompts: Vec<Vec<TokenId>> = w.prompt_tokens(Split::Train, n, seed)?;
        let responses = self.responses(w, policy, &prompts, seed, 0, what)?;
        Ok((prompts, responses))
    }

    /// One response per prompt; response `i` draws from stream `first + i` of `seed`.
    pub(super) fn responses(
        &self,
        w: &WorldArtifacts,
        policy: &Gpt,
        prompts: &[Vec<TokenId>],
        seed: u64,
        first: usize,
        what: &str,
    ) -> Result<Vec<Vec<TokenId>>, ReproError> {
        let pb = Task::start(&self.reporter, prompts.len() as u64, what);
        let lm = LmPolicy { model: policy.clone(), specials: w.specials, batch_size: BATCH };
        let mut responses = Vec::with_capacity(prompts.len());
        for (k, chunk) in prompts.chunks(BATCH).enumerate() {
            let index = (first + k * BATCH) as u64;
            let samples = lm
                .sample(chunk, &self.config.policy.sampling, seed, index)
                .map_err(|e| ReproError::from_trait(what, e))?;
            responses.extend(samples.into_iter().map(|s| s.response));
            pb.inc(chunk.len() as u64);
        }
        pb.finish();
        Ok(responses)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn train_reward_model(
        &self,
        what: &str,
        config: &GptConfig,
        init_from: Option<&Gpt>,
        train: &[Comparison],
        val: &[Comparison],
        w: &WorldArtifacts,
        cfg: &goodhart_rm::RmTrainConfig,
    ) -> Result<goodhart_nn::ScalarModel, ReproError> {
        let steps = train.len().div_ceil(cfg.batch_size) * cfg.epochs;
        let pb = Task::start(&self.reporter, steps as u64, what);
        let (model, _) = train_rm(config, init_from, train, val, w.rm_specials(), cfg, &self.device, |l| {
            pb.inc(1);
            if let Some(v) = l.val {
                pb.note(&format!(
                    "  {what}: epoch {}  val loss {:.4}  acc {:.3}",
                    l.epoch + 1,
                    v.loss,
                    v.accuracy
                ));
            }
        })?;
        pb.finish();
        Ok(model)
    }

    /// Reads a reward model's stage directory (written by `save_rm`) and prints its summary.
    pub(super) fn load_trained(
        &self,
        stage: Stage,
        key: String,
        size: &str,
        dir: &Path,
        outcome: Outcome,
        detail: impl FnOnce(&RmReport) -> String,
    ) -> Result<TrainedRm, ReproError> {
        let rm = CalibratedRm::load(&dir.join("rm"), &self.device)?;
        let eval: RmReport = read_json(&dir.join("report.json"))?;
        self.report_stage(stage, outcome, dir, &detail(&eval));
        Ok(TrainedRm { key, size: size.to_string(), rm, eval })
    }

    /// The grid of n of best-of-n (log-spaced up to the pool size).
    pub fn bon_grid(&self) -> Vec<u64> {
        log_grid(self.config.bon.pool as u64, self.config.bon.grid_points)
    }
}
