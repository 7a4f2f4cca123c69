//! Bradley-Terry training of a reward model on hard-labelled comparisons.

use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;
use goodhart_core::{RmEval, SplitMix64, TokenId};
use goodhart_nn::{clip_global_norm, Gpt, GptConfig, ScalarModel};
use serde::{Deserialize, Serialize};

use crate::pairs::Comparison;
use crate::RmError;

/// Special token ids (`[bos] prompt response` is what an RM reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RmSpecials {
    pub pad: TokenId,
    pub bos: TokenId,
}

/// Every hyperparameter of reward-model training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RmTrainConfig {
    /// Passes over the training comparisons.
    pub epochs: usize,
    /// Comparisons per step (the paper: 64).
    pub batch_size: usize,
    /// Peak AdamW learning rate (linear warmup over 5% of steps, then linear decay to 10%).
    pub lr: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
    /// Seed of the head's initial weights (and the trunk's when not initialised from an LM) and
    /// of the batch order.
    pub seed: u64,
}

impl RmTrainConfig {
    pub fn tiny() -> Self {
        RmTrainConfig { epochs: 2, batch_size: 32, lr: 2e-3, weight_decay: 0.01, grad_clip: 1.0, seed: 0 }
    }

    pub fn laptop() -> Self {
        RmTrainConfig { epochs: 2, batch_size: 64, lr: 1e-3, weight_decay: 0.01, grad_clip: 1.0, seed: 0 }
    }

    fn lr_at(&self, step: usize, total: usize) -> f64 {
        let warmup = (total / 20).max(1);
        if step < warmup {
            return self.lr * (step + 1) as f64 / warmup as f64;
        }
        let progress = (step - warmup) as f64 / (total - warmup).max(1) as f64;
        self.lr * (1.0 - 0.9 * progress.min(1.0))
    }
}

/// One logged training step (validation at the end of each epoch).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RmLog {
    pub step: usize,
    pub epoch: usize,
    pub lr: f64,
    pub train_loss: f32,
    pub val: Option<RmEval>,
}

/// Right-padded `[bos] prompt response` rows and their lengths.
pub(crate) fn rm_batch(
    rows: &[(&[TokenId], &[TokenId])],
    sp: RmSpecials,
    device: &Device,
) -> (Tensor<2, Int>, Tensor<1, Int>) {
    let (ids, lengths) = host_batch(rows, sp);
    let (b, t) = (lengths.len(), ids.len() / lengths.len().max(1));
    let ids: Vec<i32> = ids.into_iter().map(|x| x as i32).collect();
    let lengths: Vec<i32> = lengths.into_iter().map(|x| x as i32).collect();
    (
        Tensor::from_data(TensorData::new(ids, [b, t]), device),
        Tensor::from_data(TensorData::new(lengths, [b]), device),
    )
}

/// [`rm_batch`] on the host: row-major ids `[B, T]` and lengths.
fn host_batch(rows: &[(&[TokenId], &[TokenId])], sp: RmSpecials) -> (Vec<u32>, Vec<usize>) {
    let t = rows.iter().map(|(p, r)| 1 + p.len() + r.len()).max().unwrap_or(1);
    let mut ids = vec![sp.pad; rows.len() * t];
    let mut lengths = Vec::with_capacity(rows.len());
    for (i, (p, r)) in rows.iter().enumerate() {
        let row = &mut ids[i * t..];
        row[0] = sp.bos;
        for (k, &tok) in p.iter().chain(r.iter()).enumerate() {
            row[1 + k] = tok;
        }
        lengths.push(1 + p.len() + r.len());
    }
    (ids, lengths)
}

/// The `B` chosen rows, then the `B` rejected rows, of a batch of comparisons.
fn pair_rows<'a>(batch: &[&'a Comparison]) -> Vec<(&'a [TokenId], &'a [TokenId])> {
    let mut rows: Vec<(&[TokenId], &[TokenId])> =
        batch.iter().map(|c| (&c.prompt[..], &c.chosen[..])).collect();
    rows.extend(batch.iter().map(|c| (&c.prompt[..], &c.rejected[..])));
    rows
}

/// Raw scores `r(chosen)` and `r(rejected)` for a batch of comparisons: one forward over all
/// `2B` sequences.
fn pair_scores(
    model: &ScalarModel,
    batch: &[&Comparison],
    sp: RmSpecials,
    device: &Device,
) -> (Tensor<1>, Tensor<1>) {
    let (ids, lengths) = rm_batch(&pair_rows(batch), sp, device);
    let r = model.forward(ids, lengths);
    let b = batch.len();
    (r.clone().slice(0..b), r.slice(b..2 * b))
}

/// Bradley-Terry loss `mean -log sigmoid(r_chosen - r_rejected)`.
pub fn bt_loss(chosen: Tensor<1>, rejected: Tensor<1>) -> Tensor<1> {
    log_sigmoid(chosen - rejected).mean().neg()
}

/// Loss and accuracy on comparisons (inference mode); ties in score count as half right.
pub fn evaluate(model: &ScalarModel, comps: &[Comparison], sp: RmSpecials, batch_size: usize) -> RmEval {
    let device = model.head.weight.device();
    let engine = (device == Device::flex()).then(|| goodhart_nn::Engine::from_scalar(model));
    let mut margins = Vec::with_capacity(comps.len());
    for chunk in comps.chunks(batch_size.max(1)) {
        let refs: Vec<&Comparison> = chunk.iter().collect();
        let margin: Vec<f32> = match &engine {
            Some(engine) => {
                let (ids, lengths) = host_batch(&pair_rows(&refs), sp);
                let s = engine.scores(&ids, &lengths);
                let (c, r) = s.split_at(refs.len());
                c.iter().zip(r).map(|(c, r)| c - r).collect()
            }
            None => {
                let (c, r) = pair_scores(model, &refs, sp, &device);
                (c - r).into_data().convert::<f32>().try_into_vec().expect("f32 scores")
            }
        };
        margins.extend(margin.into_iter().map(f64::from));
    }
    RmEval::from_margins(&margins)
}

/// Trains a reward model of `config` on `train` and returns it in inference mode with its log.
///
/// With `init_from = Some(lm)` the trunk starts from a pretrained language model of the same
/// architecture (as in the paper); otherwise from the seeded random initialisation.
#[allow(clippy::too_many_arguments)]
pub fn train_rm(
    config: &GptConfig,
    init_from: Option<&Gpt>,
    train: &[Comparison],
    val: &[Comparison],
    sp: RmSpecials,
    cfg: &RmTrainConfig,
    device: &Device,
    mut on_log: impl FnMut(&RmLog),
) -> Result<(ScalarModel, Vec<RmLog>), RmError> {
    if train.is_empty() {
        return Err(RmError::NoData);
    }
    for (index, c) in train.iter().chain(val).enumerate() {
        let tokens = 1 + c.prompt.len() + c.chosen.len().max(c.rejected.len());
        if tokens > config.max_seq_len {
            return Err(RmError::TooLong { index, tokens, max_seq_len: config.max_seq_len });
        }
    }
    let mut model = config.init_scalar(device, cfg.seed);
    if let Some(lm) = init_from {
        if lm.config() != config {
            return Err(RmError::InitMismatch {
                lm: format!("{:?}", lm.config()),
                rm: format!("{config:?}"),
            });
        }
        model.trunk = lm.trunk.clone();
    }
    let ad = device.clone().autodiff();
    let mut model = model.fork(&ad).train();
    let mut optim = AdamWConfig::new().with_weight_decay(cfg.weight_decay as f32).init();
    let mut rng = SplitMix64::new(cfg.seed ^ 0xB7_5EED);
    let steps_per_epoch = train.len().div_ceil(cfg.batch_size.max(1));
    let total = steps_per_epoch * cfg.epochs;
    let mut logs = Vec::with_capacity(total);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut step = 0;
    for epoch in 0..cfg.epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.next_below(i as u64 + 1) as usize);
        }
        for (k, chunk) in order.chunks(cfg.batch_size.max(1)).enumerate() {
            let batch: Vec<&Comparison> = chunk.iter().map(|&i| &train[i]).collect();
            let (c, r) = pair_scores(&model, &batch, sp, &ad);
            let loss = bt_loss(c, r);
            let train_loss = loss.clone().into_scalar::<f32>();
            let lr = cfg.lr_at(step, total);
            if !train_loss.is_finite() {
                return Err(RmError::NonFiniteLoss { step, value: train_loss, lr });
            }
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            clip_global_norm(&model, &mut grads, cfg.grad_clip);
            model = optim.step(lr, model, grads);
            let end_of_epoch = k + 1 == steps_per_epoch;
            let val = (end_of_epoch && !val.is_empty()).then(|| evaluate(&model.valid(), val, sp, 128));
            let log = RmLog { step, epoch, lr, train_loss, val };
            on_log(&log);
            logs.push(log);
            step += 1;
        }
    }
    Ok((model.valid(), logs))
}

/// Raw (uncalibrated) scores of `(prompt, response)` rows, in batches of `batch_size`.
pub fn score_raw(
    model: &ScalarModel,
    prompts: &[Vec<TokenId>],
    responses: &[Vec<TokenId>],
    sp: RmSpecials,
    batch_size: usize,
) -> Vec<f64> {
    assert_eq!(prompts.len(), responses.len(), "one response per prompt");
    let device = model.head.weight.device();
    // On the CPU, the plain-Rust engine (same function, parity-tested in goodhart-nn).
    let engine = (device == Device::flex()).then(|| goodhart_nn::Engine::from_scalar(model));
    let mut out = Vec::with_capacity(prompts.len());
    let idx: Vec<usize> = (0..prompts.len()).collect();
    for chunk in idx.chunks(batch_size.max(1)) {
        let rows: Vec<(&[TokenId], &[TokenId])> =
            chunk.iter().map(|&i| (&prompts[i][..], &responses[i][..])).collect();
        if let Some(engine) = &engine {
            let (ids, lengths) = host_batch(&rows, sp);
            out.extend(engine.scores(&ids, &lengths).into_iter().map(f64::from));
            continue;
        }
        let (ids, lengths) = rm_batch(&rows, sp, &device);
        let r: Vec<f32> =
            model.forward(ids, lengths).into_data().convert::<f32>().try_into_vec().expect("f32 scores");
        out.extend(r.into_iter().map(f64::from));
    }
    out
}
