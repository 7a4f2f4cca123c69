//! The stages of an experiment, each computed once per key and shared by every figure.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use goodhart_bon::{log_grid, BestOfN};
use goodhart_core::{Judges, Optimiser, Policy, Record, SplitMix64, TokenId};
use goodhart_nn::{Gpt, GptConfig};
use goodhart_policy::{pretrain, LmPolicy, Specials, TokenizedDoc};
use goodhart_ppo::{PpoOptimiser, PpoOutput, PpoProgress};
use goodhart_rm::calibration::Calibration;
use goodhart_rm::pairs::{label_pairs, split_validation, Comparison, Pair};
use goodhart_rm::{evaluate, score_raw, train_rm, CalibratedRm, RmEval, RmSpecials};
use goodhart_world::{Split, World, WorldTokenizer};
use serde::{Deserialize, Serialize};

use crate::config::ExperimentConfig;
use crate::plan;
use crate::progress::{self, Event, Reporter, Task};
pub use crate::rubric::{PoolScores, RubricScorer};
use crate::store::{key_of, read_json, write_json, Outcome, Stage, Store};
use crate::ReproError;

/// Prompts and one response to each, as tokens.
type Samples = (Vec<Vec<TokenId>>, Vec<Vec<TokenId>>);

/// The proxy-data stage's output: its key, training and validation comparisons, and the gold's
/// scores of every sample in them.
pub type ProxyData = (String, Vec<Comparison>, Vec<Comparison>, Vec<f64>);

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

/// What a reward model's directory records about its quality.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RmReport {
    pub size: String,
    pub params: u64,
    pub total_params: u64,
    pub train_pairs: usize,
    pub val: RmEval,
    /// For the gold: agreement with the rubric on held-out pairs (its validation accuracy).
    pub calibration: Calibration,
    /// The validation loss (nats per token) of the pretrained LM the RM started from, if it
    /// started from one that is not the policy.
    #[serde(default)]
    pub lm_val_loss: Option<f64>,
    /// For the gold: the rubric's mean score of the calibration samples, so the rubric can be
    /// recentred on the same initial-policy samples as the gold (see [`RubricScorer`]).
    #[serde(default)]
    pub rubric_offset: Option<f64>,
}

impl RmReport {
    fn new(
        size: &str,
        config: &GptConfig,
        train_pairs: usize,
        val: RmEval,
        calibration: Calibration,
    ) -> Self {
        RmReport {
            size: size.to_string(),
            params: config.non_embedding_params() as u64,
            total_params: config.num_params_scalar() as u64,
            train_pairs,
            val,
            calibration,
            lm_val_loss: None,
            rubric_offset: None,
        }
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
    pub prompts: Vec<Vec<TokenId>>,
    /// `responses[p][i]`: the i-th sample for prompt p.
    pub responses: Vec<Vec<Vec<TokenId>>>,
}

impl Pools {
    /// Best-of-n over these pools with the grid `grid`.
    ///
    /// # Errors
    /// When a pool is smaller than the grid's largest n, or the grid is invalid.
    pub fn best_of_n(&self, grid: &[u64]) -> Result<BestOfN, ReproError> {
        BestOfN::new(self.prompts.clone(), self.responses.clone(), grid)
            .map_err(|e| ReproError::from_trait("best-of-n pools", e))
    }
}

/// The stages figure 1 and the targets built on it start from: world, initial policy, gold,
/// proxy data, best-of-n pools and the gold's scores of them.
pub struct Base {
    pub w: WorldArtifacts,
    pub policy_key: String,
    pub policy: Gpt,
    pub gold: TrainedRm,
    pub data_key: String,
    pub train: Vec<Comparison>,
    pub val: Vec<Comparison>,
    pub pool_key: String,
    pub pools: Pools,
    pub gold_scores: Vec<Vec<f64>>,
    /// The rubric's recentred scores of every pooled sample, `[prompt][sample]`.
    pub rubric_scores: Vec<Vec<f64>>,
}

/// An experiment's pipeline over a store.
pub struct Pipeline {
    pub config: ExperimentConfig,
    pub store: Store,
    pub device: Device,
    /// Where progress goes ([`progress::silent`] unless set with [`Pipeline::with_reporter`]).
    pub reporter: Reporter,
}

impl Pipeline {
    pub fn new(config: ExperimentConfig, runs: impl Into<PathBuf>, device: Device) -> Self {
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
        let (policy_key, policy) = self.policy(&w)?;
        let gold = self.gold(&w, &policy_key, &policy)?;
        let (data_key, train, val, _) = self.proxy_data(&w, &policy_key, &policy, &gold)?;
        let (pool_key, pools) = self.bon_pools(&w, &policy_key, &policy)?;
        let gold_scores = self.bon_scores(&pool_key, &pools, &gold)?;
        let rubric_scores = RubricScorer::for_gold(&w, &gold)?.pool_scores(&pools)?;
        Ok(Base {
            w,
            policy_key,
            policy,
            gold,
            data_key,
            train,
            val,
            pool_key,
            pools,
            gold_scores,
            rubric_scores,
        })
    }

    /// Stage 1: corpus and tokenizer.
    pub fn world(&self) -> Result<WorldArtifacts, ReproError> {
        let c = &self.config.world;
        let key = key_of(Stage::World, c);
        let world = World::new(c.world.clone()).map_err(|e| ReproError::Config(e.to_string()))?;
        let docs = world.documents(c.corpus_docs, c.seed);
        let (dir, outcome) = self.store.ensure(Stage::World, &key, c, |tmp| {
            let tok = WorldTokenizer::train(docs.iter().map(|d| d.text()), c.world.vocab_size)
                .map_err(|e| ReproError::Artifact(e.to_string()))?;
            tok.save(&tmp.join("tokenizer.json")).map_err(|e| ReproError::Artifact(e.to_string()))
        })?;
        let tokenizer = WorldTokenizer::load(&dir.join("tokenizer.json"))
            .map_err(|e| ReproError::Artifact(e.to_string()))?;
        let specials = Specials { pad: tokenizer.pad, bos: tokenizer.bos, eos: tokenizer.eos };
        let mut enc = Vec::with_capacity(docs.len());
        for d in &docs {
            let prompt = tokenizer.encode(&d.prompt).map_err(|e| ReproError::Artifact(e.to_string()))?;
            let response = tokenizer.encode(&d.response).map_err(|e| ReproError::Artifact(e.to_string()))?;
            enc.push(TokenizedDoc { prompt, response });
        }
        let val = enc.split_off(enc.len() - c.val_docs.min(enc.len() / 2));
        self.report_stage(
            Stage::World,
            outcome,
            &dir,
            &format!("{} documents, vocabulary {}", c.corpus_docs, tokenizer.vocab_size()),
        );
        Ok(WorldArtifacts { key, world, tokenizer, train: enc, val, specials })
    }

    fn model_config(&self, size: &str, w: &WorldArtifacts) -> Result<GptConfig, ReproError> {
        Ok(GptConfig::preset(size, w.tokenizer.vocab_size(), self.config.policy.max_seq_len)?)
    }

    /// Stage 2: the pretrained initial policy.
    pub fn policy(&self, w: &WorldArtifacts) -> Result<(String, Gpt), ReproError> {
        self.policy_with(w, &self.config.policy)
    }

    /// [`Pipeline::policy`] with other settings (the policy-size sweep).
    pub fn policy_with(
        &self,
        w: &WorldArtifacts,
        c: &crate::config::PolicyStage,
    ) -> Result<(String, Gpt), ReproError> {
        let (key, model, _) = self.language_model(Stage::Policy, w, c)?;
        Ok((key, model))
    }

    /// The pretrained LM a proxy of `size` starts from (`proxies.init_lm`): its key, the model
    /// and its final validation loss; `None` when proxies start from scratch.
    pub fn proxy_lm(
        &self,
        w: &WorldArtifacts,
        size: &str,
    ) -> Result<Option<(String, Gpt, Option<f64>)>, ReproError> {
        plan::proxy_lm_stage(&self.config, size).map(|c| self.language_model(Stage::Lm, w, &c)).transpose()
    }

    /// A language model pretrained on the world's corpus, stored under `stage`: its key, the
    /// model and its last validation loss.
    fn language_model(
        &self,
        stage: Stage,
        w: &WorldArtifacts,
        c: &crate::config::PolicyStage,
    ) -> Result<(String, Gpt, Option<f64>), ReproError> {
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
        Ok((key, model, val_loss))
    }

    /// `n` samples of the policy for training prompts (prompt tokens, response tokens).
    fn policy_samples(
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
    fn responses(
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

    #[allow(clippy::too_many_arguments)]
    fn train_reward_model(
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

    /// Stage 4: comparisons of initial-policy samples, hard-labelled by the gold.
    pub fn proxy_data(
        &self,
        w: &WorldArtifacts,
        policy_key: &str,
        policy: &Gpt,
        gold: &TrainedRm,
    ) -> Result<ProxyData, ReproError> {
        let c = &self.config.proxies;
        let inputs = plan::proxy_data_inputs(policy_key, &gold.key, c);
        let key = key_of(Stage::ProxyData, &inputs);
        let (dir, outcome) = self.store.ensure(Stage::ProxyData, &key, &inputs, |tmp| {
            let seed = c.train.seed ^ 0xDA7A;
            let (prompts, a) = self.policy_samples(w, policy, c.pairs, seed, "sampling proxy data (a)")?;
            // the second response of each pair: same prompts, another stream of samples
            let b = self.responses(w, policy, &prompts, seed, c.pairs, "sampling proxy data (b)")?;
            let sa = gold.rm.score_batch(&prompts, &a);
            let sb = gold.rm.score_batch(&prompts, &b);
            let pairs =
                prompts.into_iter().zip(a).zip(b).map(|((prompt, a), b)| Pair { prompt, a, b }).collect();
            let (comps, stats) = label_pairs(pairs, &sa, &sb, c.label_noise, c.train.seed);
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
        Ok((key, train, val, gold_scores))
    }

    /// Stage 5: one proxy RM of the sweep, recentred on initial-policy samples and recalibrated
    /// on its validation comparisons.
    pub fn proxy(
        &self,
        w: &WorldArtifacts,
        size: &str,
        data_key: &str,
        train: &[Comparison],
        val: &[Comparison],
    ) -> Result<TrainedRm, ReproError> {
        self.proxy_with(w, size, data_key, train, val, train.len(), &self.config.proxies.train)
    }

    /// [`Pipeline::proxy`] on the first `pairs` training comparisons with `cfg` (the data-size
    /// and epoch sweeps).
    #[allow(clippy::too_many_arguments)]
    pub fn proxy_with(
        &self,
        w: &WorldArtifacts,
        size: &str,
        data_key: &str,
        train: &[Comparison],
        val: &[Comparison],
        pairs: usize,
        cfg: &goodhart_rm::RmTrainConfig,
    ) -> Result<TrainedRm, ReproError> {
        if pairs == 0 || pairs > train.len() {
            return Err(ReproError::Config(format!(
                "a proxy on {pairs} comparisons, but the proxy data has {}: use 1..={} (or raise proxies.pairs)",
                train.len(),
                train.len()
            )));
        }
        let lm = self.proxy_lm(w, size)?;
        let lm_key = lm.as_ref().map(|(key, _, _)| key.as_str());
        // The full split's key leaves out the count, so sweeps share fig1's proxies.
        let subset = (pairs < train.len()).then_some(pairs);
        let key = plan::proxy_key(data_key, size, cfg, subset, lm_key);
        let inputs = (data_key, size, cfg, pairs, lm_key);
        let train = &train[..pairs];
        let config = self.model_config(size, w)?;
        let (dir, outcome) = self.store.ensure(Stage::Proxy, &key, &inputs, |tmp| {
            let what = format!("training proxy {size} on {pairs} pairs");
            let init = lm.as_ref().map(|(_, model, _)| model);
            let model = self.train_reward_model(&what, &config, init, train, val, w, cfg)?;
            let val_eval = evaluate(&model, val, w.rm_specials(), BATCH);
            let sp = w.rm_specials();
            let prompts: Vec<Vec<TokenId>> = val.iter().map(|c| c.prompt.clone()).collect();
            let chosen = score_raw(
                &model,
                &prompts,
                &val.iter().map(|c| c.chosen.clone()).collect::<Vec<_>>(),
                sp,
                BATCH,
            );
            let rejected = score_raw(
                &model,
                &prompts,
                &val.iter().map(|c| c.rejected.clone()).collect::<Vec<_>>(),
                sp,
                BATCH,
            );
            let margins: Vec<f64> = chosen.iter().zip(&rejected).map(|(a, b)| a - b).collect();
            let init: Vec<f64> = chosen.iter().chain(&rejected).copied().collect();
            let calibration = Calibration::proxy(&init, &margins, &vec![1.0; margins.len()]);
            let rm = CalibratedRm {
                name: format!("proxy-{size}"),
                model,
                calibration,
                specials: sp,
                batch_size: BATCH,
            };
            let mut report = RmReport::new(size, &config, train.len(), val_eval, calibration);
            report.lm_val_loss = lm.as_ref().and_then(|(_, _, loss)| *loss);
            save_rm(tmp, &rm, report)
        })?;
        self.load_trained(Stage::Proxy, key, size, &dir, outcome, |e| {
            format!("{size}: val loss {:.4}, accuracy {:.3}", e.val.loss, e.val.accuracy)
        })
    }

    /// Reads a reward model's stage directory (written by `save_rm`) and prints its summary.
    fn load_trained(
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

    /// Stage 6: best-of-n pools, drawn once per policy and shared by every proxy.
    pub fn bon_pools(
        &self,
        w: &WorldArtifacts,
        policy_key: &str,
        policy: &Gpt,
    ) -> Result<(String, Pools), ReproError> {
        let c = &self.config.bon;
        let inputs = plan::bon_pool_inputs(policy_key, c, &self.config.policy.sampling);
        let key = key_of(Stage::BonPool, &inputs);
        let (dir, outcome) = self.store.ensure(Stage::BonPool, &key, &inputs, |tmp| {
            let prompts = w.prompt_tokens(Split::HeldOut, c.prompts, c.seed)?;
            let pb = Task::start(&self.reporter, (c.prompts * c.pool) as u64, "sampling BoN pools");
            let lm = LmPolicy { model: policy.clone(), specials: w.specials, batch_size: BATCH };
            let settings = &self.config.policy.sampling;
            let bon = BestOfN::sample(&lm, prompts, c.pool, settings, c.seed, &self.bon_grid(), |_| {
                pb.inc(c.pool as u64)
            })
            .map_err(|e| ReproError::from_trait("sampling the best-of-n pools", e))?;
            pb.finish();
            let pools = Pools { prompts: bon.prompts().to_vec(), responses: bon.responses().to_vec() };
            write_json(&tmp.join("pools.json"), &pools)
        })?;
        let pools: Pools = read_json(&dir.join("pools.json"))?;
        self.report_stage(
            Stage::BonPool,
            outcome,
            &dir,
            &format!("{} prompts x {} samples", c.prompts, c.pool),
        );
        Ok((key, pools))
    }

    /// Stage 7: a reward model's scores of every pooled sample, `[prompt][sample]`.
    pub fn bon_scores(
        &self,
        pool_key: &str,
        pools: &Pools,
        rm: &TrainedRm,
    ) -> Result<Vec<Vec<f64>>, ReproError> {
        let inputs = plan::bon_scores_inputs(pool_key, &rm.key);
        let key = key_of(Stage::BonScores, &inputs);
        let (dir, outcome) = self.store.ensure(Stage::BonScores, &key, &inputs, |tmp| {
            let pb = Task::start(
                &self.reporter,
                pools.prompts.len() as u64,
                &format!("scoring with {}", rm.rm.name),
            );
            let mut scores = Vec::with_capacity(pools.prompts.len());
            for (prompt, pool) in pools.prompts.iter().zip(&pools.responses) {
                scores.push(rm.rm.score_batch(&vec![prompt.clone(); pool.len()], pool));
                pb.inc(1);
            }
            pb.finish();
            write_json(&tmp.join("scores.json"), &scores)
        })?;
        self.report_stage(Stage::BonScores, outcome, &dir, &rm.rm.name);
        read_json(&dir.join("scores.json"))
    }

    /// Stage 8: PPO against one proxy, the gold evaluated at log-spaced steps. Checkpoints go to
    /// `rl-checkpoints/<key>/` (outside the stage's temporary directory) so that an interrupted
    /// run resumes where it stopped; they are removed once the stage is complete.
    pub fn rl(
        &self,
        w: &WorldArtifacts,
        policy_key: &str,
        policy: &Gpt,
        proxy: &TrainedRm,
        gold: &TrainedRm,
    ) -> Result<PpoOutput, ReproError> {
        self.rl_with(w, policy_key, policy, proxy, gold, &self.config.rl)
    }

    /// [`Pipeline::rl`] with other RL settings (the KL-penalty sweep).
    pub fn rl_with(
        &self,
        w: &WorldArtifacts,
        policy_key: &str,
        policy: &Gpt,
        proxy: &TrainedRm,
        gold: &TrainedRm,
        c: &crate::config::RlStage,
    ) -> Result<PpoOutput, ReproError> {
        let inputs = plan::rl_inputs(policy_key, &proxy.key, &gold.key, c);
        let key = key_of(Stage::Rl, &inputs);
        let checkpoints = self.store.root().join("rl-checkpoints").join(&key);
        let (dir, outcome) = self.store.ensure(Stage::Rl, &key, &inputs, |tmp| {
            let prompts = w.prompt_tokens(Split::Train, c.train_prompts, c.prompt_seed)?;
            let eval_prompts = w.prompt_tokens(Split::HeldOut, c.eval_prompts, c.prompt_seed ^ 0xE7A1)?;
            let mut template = Record::new("fig1", goodhart_core::Method::Rl);
            template.rm_size = proxy.size.clone();
            template.rm_params = proxy.eval.params;
            template.data_size = proxy.eval.train_pairs as u64;
            template.policy_size = self.config.policy.size.clone();
            template.kl_penalty = c.ppo.kl_penalty.initial_coef();
            template.seed = c.ppo.seed;
            let rubric = RubricScorer::for_gold(w, gold)?;
            let pb = Task::start(&self.reporter, c.ppo.total_steps as u64, &format!("PPO vs {}", proxy.rm.name));
            let (bar_, name) = (pb.clone(), proxy.rm.name.clone());
            let every = (c.ppo.total_steps / 10).max(1);
            let mut ppo = PpoOptimiser::new(c.ppo.clone(), policy.clone(), w.specials, prompts, eval_prompts, template)
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
                                bar_.note(&format!(
                                        "  PPO vs {name}: step {:>5}  proxy {:.3}  KL {:.2}  entropy {:.3}  clipfrac {:.3}",
                                        l.step + 1,
                                        l.proxy.mean,
                                        l.kl_k1.mean,
                                        l.entropy,
                                        l.clipfrac
                                    ),
                                );
                            }
                        }
                    }
                    std::ops::ControlFlow::Continue(())
                });
            let judges = Judges { gold: &gold.rm, rubric: Some(&rubric) };
            let output = ppo
                .optimise(Some(&proxy.rm), judges)
                .map_err(|e| ReproError::from_trait(format!("PPO against {}", proxy.rm.name), e))?;
            pb.finish();
            write_json(&tmp.join("ppo.json"), &output)
        })?;
        if checkpoints.exists() {
            std::fs::remove_dir_all(&checkpoints).map_err(|e| ReproError::io(&checkpoints, e))?;
        }
        let output: PpoOutput = read_json(&dir.join("ppo.json"))?;
        let last = output.evals.last();
        self.report_stage(
            Stage::Rl,
            outcome,
            &dir,
            &format!(
                "vs {}: KL {:.2}, gold {:.3}, proxy {:.3} after {} steps",
                proxy.rm.name,
                last.map_or(0.0, |e| e.kl.mean),
                last.map_or(0.0, |e| e.gold.mean),
                last.map_or(0.0, |e| e.proxy.mean),
                c.ppo.total_steps
            ),
        );
        Ok(output)
    }
}
