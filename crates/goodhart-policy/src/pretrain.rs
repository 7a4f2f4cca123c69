//! Pretraining the initial policy: next-token prediction on the world's corpus.

use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use goodhart_core::SplitMix64;
use goodhart_nn::{clip_global_norm, Gpt, GptConfig};
use serde::{Deserialize, Serialize};

use crate::data::{lm_batch, LmBatch, Specials, TokenizedDoc};
use crate::generate::int_tensor;
use crate::PolicyError;

/// Every hyperparameter of pretraining, with presets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainConfig {
    /// Optimiser steps.
    pub steps: usize,
    /// Documents per step.
    pub batch_size: usize,
    /// Peak learning rate of AdamW (linear warmup, then cosine decay to 10%).
    pub lr: f64,
    /// Steps of linear learning-rate warmup.
    pub warmup_steps: usize,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
    /// Validation loss every this many steps (and at the end).
    pub eval_every: usize,
    /// Seed of the initial weights and of batch order.
    pub seed: u64,
}

impl PretrainConfig {
    /// Seconds, for tests.
    pub fn tiny() -> Self {
        PretrainConfig {
            steps: 60,
            batch_size: 16,
            lr: 3e-3,
            warmup_steps: 5,
            weight_decay: 0.01,
            grad_clip: 1.0,
            eval_every: 20,
            seed: 0,
        }
    }

    /// Minutes on a laptop CPU.
    pub fn laptop() -> Self {
        PretrainConfig {
            steps: 1500,
            batch_size: 64,
            lr: 2e-3,
            warmup_steps: 100,
            weight_decay: 0.01,
            grad_clip: 1.0,
            eval_every: 250,
            seed: 0,
        }
    }

    /// Learning rate at `step`: linear warmup to `lr`, then cosine decay to `0.1 lr`.
    pub fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = (self.steps - self.warmup_steps).max(1) as f64;
        let progress = ((step - self.warmup_steps) as f64 / span).min(1.0);
        self.lr * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
    }
}

/// One logged step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PretrainLog {
    pub step: usize,
    pub lr: f64,
    pub train_loss: f32,
    pub grad_norm: f64,
    pub val_loss: Option<f32>,
}

/// Mean masked cross-entropy (nats per token) of a batch, differentiable.
pub fn lm_loss(model: &Gpt, batch: &LmBatch, device: &Device) -> Tensor<1> {
    let (b, t) = (batch.batch, batch.seq_len);
    let logits = model.forward(int_tensor(&batch.inputs, b, t, device));
    let lp = goodhart_nn::fused::token_logprobs(logits, &batch.targets);
    let mask = Tensor::<2>::from_data(TensorData::new(batch.mask.clone(), [b, t]), device);
    let tokens = batch.mask.iter().sum::<f32>().max(1.0);
    (lp * mask).sum().neg().div_scalar(tokens)
}

/// What one [`lm_train_step`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LmStepStats {
    /// The batch's mean masked cross-entropy before the step (nats per token).
    pub loss: f32,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

/// One optimiser step of next-token prediction, as [`pretrain()`] takes it: forward,
/// [`lm_loss`] (masked cross-entropy), backward, global-norm clipping at `grad_clip`
/// ([`clip_global_norm`]), then `optim` (AdamW in pretraining) at learning rate `lr`.
///
/// `model` must live on an autodiff device (`device.autodiff()`). The loss is returned as it
/// came, even if it is not finite: the caller decides whether that is an error.
pub fn lm_train_step(
    model: Gpt,
    optim: &mut ModuleOptimizer,
    batch: &LmBatch,
    lr: f64,
    grad_clip: f64,
) -> (Gpt, LmStepStats) {
    let device = model.lm_head.weight.device();
    let loss = lm_loss(&model, batch, &device);
    let train_loss: f32 = loss.clone().into_scalar::<f32>();
    let mut grads = GradientsParams::from_grads(loss.backward(), &model);
    let grad_norm = clip_global_norm(&model, &mut grads, grad_clip);
    let model = optim.step(lr, model, grads);
    (model, LmStepStats { loss: train_loss, grad_norm })
}

/// Mean cross-entropy per token over `docs` (inference mode), in batches of `batch_size`.
pub fn validation_loss(model: &Gpt, docs: &[TokenizedDoc], sp: Specials, batch_size: usize) -> f32 {
    let device = model.lm_head.weight.device();
    let max_len = model.config().max_seq_len;
    let (mut total, mut tokens) = (0.0f64, 0.0f64);
    for chunk in docs.chunks(batch_size.max(1)) {
        let refs: Vec<&TokenizedDoc> = chunk.iter().collect();
        let batch = lm_batch(&refs, sp, max_len);
        let n: f32 = batch.mask.iter().sum();
        let loss: f32 = lm_loss(model, &batch, &device).into_scalar::<f32>();
        total += (loss * n) as f64;
        tokens += n as f64;
    }
    (total / tokens.max(1.0)) as f32
}

/// Pretrains a fresh model of `config` on `train` and returns it (on `device`, inference mode)
/// with its log. `on_log` sees every step, e.g. to drive a progress bar.
pub fn pretrain(
    config: &GptConfig,
    train: &[TokenizedDoc],
    val: &[TokenizedDoc],
    sp: Specials,
    cfg: &PretrainConfig,
    device: &Device,
    mut on_log: impl FnMut(&PretrainLog),
) -> Result<(Gpt, Vec<PretrainLog>), PolicyError> {
    if train.is_empty() {
        return Err(PolicyError::Empty { what: "the pretraining corpus", fix: "generate documents first" });
    }
    let ad = device.clone().autodiff();
    let mut model = config.init_gpt(&ad, cfg.seed);
    let mut optim = AdamWConfig::new().with_weight_decay(cfg.weight_decay as f32).init();
    let mut rng = SplitMix64::new(cfg.seed ^ 0x05EE_D0FB_A7C4);
    let mut logs = Vec::with_capacity(cfg.steps);
    for step in 0..cfg.steps {
        let docs: Vec<&TokenizedDoc> =
            (0..cfg.batch_size).map(|_| &train[rng.next_below(train.len() as u64) as usize]).collect();
        let batch = lm_batch(&docs, sp, config.max_seq_len);
        let lr = cfg.lr_at(step);
        let (next, stats) = lm_train_step(model, &mut optim, &batch, lr, cfg.grad_clip);
        let LmStepStats { loss: train_loss, grad_norm } = stats;
        if !train_loss.is_finite() {
            return Err(PolicyError::NonFiniteLoss { step, value: train_loss, lr });
        }
        model = next;
        let last = step + 1 == cfg.steps;
        let val_loss = ((step + 1) % cfg.eval_every.max(1) == 0 || last)
            .then(|| validation_loss(&model.valid(), val, sp, 64))
            .filter(|_| !val.is_empty());
        let log = PretrainLog { step, lr, train_loss, grad_norm, val_loss };
        on_log(&log);
        logs.push(log);
    }
    Ok((model.valid(), logs))
}
