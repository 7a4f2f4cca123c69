//! The trainer: the policy, its frozen reference, one optimiser step on a minibatch of pairs,
//! evaluations at log-spaced steps, the loop.

use std::ops::ControlFlow;

use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::TensorData;
use goodhart_core::{Curve, Method, Record, RewardModel, TokenId};
use goodhart_nn::{clip_global_norm, Gpt};
use goodhart_policy::eval::{eval_steps, evaluate_policy, logprobs_and_entropy, GoldEval, Judged, Layout};
use goodhart_policy::{response_logprobs, Specials};
use serde::{Deserialize, Serialize};

use crate::{batch_loss, DaaConfig, DaaError, ImplicitReward};

/// A prompt with a preferred (`chosen`) and a dispreferred (`rejected`) response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreferencePair {
    pub prompt: Vec<TokenId>,
    pub chosen: Vec<TokenId>,
    pub rejected: Vec<TokenId>,
}

/// What one optimiser step did, over its minibatch of pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaaStepLog {
    pub step: usize,
    /// The minibatch's mean loss before the update.
    pub loss: f64,
    /// Mean `h` (chosen minus rejected log-ratio to the reference) and the fraction of pairs
    /// with `h > 0` (the implicit reward model's training accuracy).
    pub margin: f64,
    pub accuracy: f64,
    /// Mean log-ratio `log pi - log pi_ref` of the chosen and of the rejected responses.
    pub chosen_logratio: f64,
    pub rejected_logratio: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

/// A run's result: the evaluations as records, the evaluations and every step's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaaOutput {
    pub records: Vec<Record>,
    pub evals: Vec<GoldEval>,
    pub logs: Vec<DaaStepLog>,
    /// Whether the run reached `total_steps` (false when the observer stopped it).
    pub complete: bool,
}

impl goodhart_core::OptimisedRun for DaaOutput {
    fn curve(&self) -> Curve {
        Curve { method: Method::Daa, points: self.evals.iter().map(GoldEval::to_point).collect() }
    }
}

/// Salts of the random streams of one seed.
const ORDER_SALT: u64 = 0xDAA0_0000_0000_0001;
const EVAL_SALT: u64 = 0xDAA0_0000_0000_0002;

/// A direct-alignment run in progress.
///
/// Step `s` trains on pairs `s * batch_size ..` of a sequence of epochs, each a permutation of
/// the pairs drawn from `(seed, epoch)`; evaluations sample with their own stream from index 0
/// at every evaluation (common random numbers, as PPO's). No global RNG: the same seed and
/// backend give the same numbers.
pub struct DaaTrainer {
    config: DaaConfig,
    specials: Specials,
    device: Device,
    /// The frozen reference `pi_ref` (plain device).
    reference: Gpt,
    /// The policy being trained (autodiff device).
    policy: Gpt,
    optim: ModuleOptimizer,
    step: usize,
    logs: Vec<DaaStepLog>,
    evals: Vec<GoldEval>,
    /// The epoch whose permutation `order` holds.
    epoch: Option<u64>,
    order: Vec<usize>,
}

impl DaaTrainer {
    /// A fresh run from `init_policy`, which is also the frozen reference.
    ///
    /// # Errors
    /// [`DaaError::InvalidConfig`] if the config does not validate.
    pub fn new(config: DaaConfig, init_policy: &Gpt, specials: Specials) -> Result<Self, DaaError> {
        config.validate()?;
        let reference = init_policy.valid();
        let device = reference.lm_head.weight.device();
        let policy = reference.clone().fork(&device.clone().autodiff()).train();
        let optim = AdamWConfig::new()
            .with_weight_decay(config.weight_decay as f32)
            .with_epsilon(config.adam_eps as f32)
            .init();
        Ok(DaaTrainer {
            config,
            specials,
            device,
            reference,
            policy,
            optim,
            step: 0,
            logs: Vec::new(),
            evals: Vec::new(),
            epoch: None,
            order: Vec::new(),
        })
    }

    pub fn step(&self) -> usize {
        self.step
    }

    pub fn logs(&self) -> &[DaaStepLog] {
        &self.logs
    }

    /// An inference copy of the current policy.
    pub fn policy(&self) -> Gpt {
        self.policy.valid()
    }

    /// The indices of the pairs of step `step`.
    fn batch(&mut self, step: usize, pairs: usize) -> Vec<usize> {
        let b = self.config.batch_size;
        (step * b..(step + 1) * b)
            .map(|k| {
                let epoch = (k / pairs) as u64;
                if self.epoch != Some(epoch) {
                    let mut rng =
                        goodhart_policy::sampling::sequence_rng(self.config.seed ^ ORDER_SALT, epoch);
                    self.order = (0..pairs).collect();
                    rng.shuffle(&mut self.order);
                    self.epoch = Some(epoch);
                }
                self.order[k % pairs]
            })
            .collect()
    }

    /// One optimiser step on the next minibatch of `pairs`. Appends and returns its log.
    ///
    /// # Errors
    /// [`DaaError::NonFiniteLoss`], or scoring errors of the reference.
    pub fn train_step(&mut self, pairs: &[PreferencePair]) -> Result<DaaStepLog, DaaError> {
        if pairs.is_empty() {
            return Err(DaaError::BadInput { what: "no preference pairs", fix: "pass at least one pair" });
        }
        let (cfg, sp, step) = (self.config.clone(), self.specials, self.step);
        let rows = self.batch(step, pairs.len());
        let b = rows.len();
        // chosen rows first, then rejected rows, in one forward pass
        let prompts: Vec<Vec<TokenId>> = rows.iter().chain(&rows).map(|&i| pairs[i].prompt.clone()).collect();
        let responses: Vec<Vec<TokenId>> = rows
            .iter()
            .map(|&i| pairs[i].chosen.clone())
            .chain(rows.iter().map(|&i| pairs[i].rejected.clone()))
            .collect();
        let reference: Vec<f32> =
            response_logprobs(&self.reference, &prompts, &responses, sp, cfg.gen_batch_size)?
                .iter()
                .map(|lp| lp.iter().sum())
                .collect();
        let all: Vec<usize> = (0..2 * b).collect();
        let mut layout = Layout::new(&prompts, &responses, &all, sp);
        let mut mask = vec![0.0f32; 2 * b * layout.len];
        for (r, response) in responses.iter().enumerate() {
            mask[layout.starts[r]..layout.starts[r] + response.len()].fill(1.0);
        }
        let ad = self.device.clone().autodiff();
        let targets: Vec<u32> = layout.targets.iter().map(|&t| t as u32).collect();
        let len = layout.len;
        let inputs = layout.inputs(&ad);
        let logits = self.policy.forward(inputs);
        let (logprobs, _entropy) = logprobs_and_entropy(logits, &targets);
        let mask = Tensor::<2>::from_data(TensorData::new(mask, [2 * b, len]), &ad);
        let sequence: Tensor<1> = (logprobs * mask).sum_dim(1).reshape([2 * b]);
        let chosen = sequence.clone().slice(0..b);
        let rejected = sequence.clone().slice(b..2 * b);
        let on = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), &ad);
        let (ref_chosen, ref_rejected) = (on(&reference[..b]), on(&reference[b..]));
        let loss = batch_loss(cfg.loss, cfg.beta, chosen, rejected, ref_chosen, ref_rejected);
        let loss_value = loss.clone().into_scalar::<f32>() as f64;
        if !loss_value.is_finite() {
            return Err(DaaError::NonFiniteLoss { step, loss: cfg.loss, value: loss_value, lr: cfg.lr });
        }
        let seq: Vec<f32> =
            sequence.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 log-probabilities");
        let ratio = |r: usize| (seq[r] - reference[r]) as f64;
        let h: Vec<f64> = (0..b).map(|i| ratio(i) - ratio(b + i)).collect();
        let mut grads = GradientsParams::from_grads(loss.backward(), &self.policy);
        let grad_norm = clip_global_norm(&self.policy, &mut grads, cfg.max_grad_norm);
        self.policy = self.optim.step(cfg.lr, self.policy.clone(), grads);
        let mean = |xs: &mut dyn Iterator<Item = f64>| xs.sum::<f64>() / b as f64;
        let log = DaaStepLog {
            step,
            loss: loss_value,
            margin: mean(&mut h.iter().copied()),
            accuracy: mean(&mut h.iter().map(|&h| f64::from(u8::from(h > 0.0)))),
            chosen_logratio: mean(&mut (0..b).map(ratio)),
            rejected_logratio: mean(&mut (b..2 * b).map(ratio)),
            grad_norm,
        };
        self.logs.push(log.clone());
        self.step += 1;
        Ok(log)
    }

    /// The gold, the rubric and the policy's implicit reward of one response per held-out
    /// prompt, and the sequence KL to the reference (k3 and k1), after the steps done so far.
    ///
    /// # Errors
    /// Sampling or scoring errors, a non-finite score.
    pub fn evaluate(
        &self,
        eval_prompts: &[Vec<TokenId>],
        gold: &dyn RewardModel,
        rubric: Option<&dyn RewardModel>,
    ) -> Result<GoldEval, DaaError> {
        let cfg = &self.config;
        let policy = self.policy();
        let implicit =
            ImplicitReward::new(&policy, &self.reference, cfg.beta, self.specials, cfg.gen_batch_size);
        let judges = Judged { prompts: eval_prompts, scored: &implicit, gold, rubric };
        Ok(evaluate_policy(
            &policy,
            &self.reference,
            self.step,
            &judges,
            &cfg.sampling(),
            self.specials,
            cfg.seed ^ EVAL_SALT,
            cfg.gen_batch_size,
        )?)
    }

    /// Trains to `total_steps`, evaluating at every step of [`eval_steps`]; `on_step` sees each
    /// step's log and may stop the run (its output is then incomplete).
    ///
    /// # Errors
    /// Too few inputs, a non-finite loss, sampling or scoring errors.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        pairs: &[PreferencePair],
        eval_prompts: &[Vec<TokenId>],
        gold: &dyn RewardModel,
        rubric: Option<&dyn RewardModel>,
        template: &Record,
        mut on_step: impl FnMut(&DaaStepLog) -> ControlFlow<()>,
    ) -> Result<DaaOutput, DaaError> {
        if eval_prompts.len() < 2 {
            return Err(DaaError::BadInput {
                what: "fewer than 2 evaluation prompts",
                fix: "pass at least 2 held-out prompts (standard errors need two responses)",
            });
        }
        let total = self.config.total_steps;
        let schedule = eval_steps(total, self.config.eval_per_octave);
        let mut complete = true;
        loop {
            let step = self.step;
            if schedule.contains(&step) && self.evals.last().is_none_or(|e| e.step != step) {
                let eval = self.evaluate(eval_prompts, gold, rubric)?;
                self.evals.push(eval);
            }
            if step == total {
                break;
            }
            let log = self.train_step(pairs)?;
            if on_step(&log).is_break() {
                complete = false;
                break;
            }
        }
        let records = self
            .evals
            .iter()
            .map(|e| {
                let mut r = e.to_record(template);
                r.method = Method::Daa;
                r
            })
            .collect();
        Ok(DaaOutput { records, evals: self.evals.clone(), logs: self.logs.clone(), complete })
    }
}
