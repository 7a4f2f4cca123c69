//! A rollout's per-token storage and its minibatches on the training device.

use burn::prelude::*;
use goodhart_core::TokenId;
use goodhart_kl::KlSummary;
use goodhart_policy::Specials;

use crate::*;

/// One rollout, per-token quantities flattened: token `j` of episode `e` is at `offsets[e] + j`.
pub(crate) struct Rollout {
    pub(crate) prompts: Vec<Vec<TokenId>>,
    pub(crate) responses: Vec<Vec<TokenId>>,
    pub(crate) offsets: Vec<usize>,
    /// Proxy score per episode.
    pub(crate) scores: Vec<f64>,
    /// Sequence KL(pi || pi_init) of the episodes.
    pub(crate) kl: KlSummary,
    /// `log pi_old(a_t | s_t)`.
    pub(crate) logprobs: Vec<f32>,
    /// `log pi_init(a_t | s_t)`.
    pub(crate) ref_logprobs: Vec<f32>,
    /// `V(s_t)` from the value model before the update (zeros under GRPO, which has none).
    pub(crate) values: Vec<f32>,
    pub(crate) advantages: Vec<f32>,
    pub(crate) returns: Vec<f32>,
}

/// A minibatch on the training device. Per-token tensors are `[M, T]`, zero outside responses.
pub(crate) struct Minibatch {
    pub(crate) inputs: Tensor<2, Int>,
    /// The next token at every position, row-major `[M, T]`, on the host (the fused
    /// log-probability operation reads them there).
    pub(crate) targets: Vec<u32>,
    /// 1 at response tokens, 0 at prompt and padding positions.
    pub(crate) mask: Tensor<2>,
    pub(crate) logprobs: Tensor<2>,
    pub(crate) ref_logprobs: Tensor<2>,
    pub(crate) advantages: Tensor<2>,
    pub(crate) returns: Tensor<2>,
    pub(crate) values: Tensor<2>,
}

impl Rollout {
    pub(crate) fn minibatch(
        &self,
        rows: &[usize],
        sp: Specials,
        norm_adv: bool,
        device: &Device,
    ) -> Minibatch {
        let mut layout = Layout::new(&self.prompts, &self.responses, rows, sp);
        let size = rows.len() * layout.len;
        let mut mask = vec![0.0f32; size];
        let mut logprobs = vec![0.0f32; size];
        let mut ref_logprobs = vec![0.0f32; size];
        let mut advantages = vec![0.0f32; size];
        let mut returns = vec![0.0f32; size];
        let mut values = vec![0.0f32; size];
        for (r, &e) in rows.iter().enumerate() {
            let span = self.offsets[e]..self.offsets[e + 1];
            let at = layout.starts[r]..layout.starts[r] + span.len();
            mask[at.clone()].fill(1.0);
            logprobs[at.clone()].copy_from_slice(&self.logprobs[span.clone()]);
            ref_logprobs[at.clone()].copy_from_slice(&self.ref_logprobs[span.clone()]);
            advantages[at.clone()].copy_from_slice(&self.advantages[span.clone()]);
            returns[at.clone()].copy_from_slice(&self.returns[span.clone()]);
            values[at].copy_from_slice(&self.values[span]);
        }
        if norm_adv {
            normalize_masked(&mut advantages, &mask);
        }
        let targets = layout.targets.iter().map(|&t| t as u32).collect();
        let inputs = layout.inputs(device);
        let shape = [rows.len(), layout.len];
        let float = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, shape), device);
        Minibatch {
            inputs,
            targets,
            mask: float(mask),
            logprobs: float(logprobs),
            ref_logprobs: float(ref_logprobs),
            advantages: float(advantages),
            returns: float(returns),
            values: float(values),
        }
    }
}

/// `(x - mean) / (std + 1e-8)` over the entries where `mask` is 1 (unbiased std, as
/// `torch.std`); other entries are left as they are.
pub(crate) fn normalize_masked(x: &mut [f32], mask: &[f32]) {
    let valid = || x.iter().zip(mask).filter(|(_, &m)| m > 0.0).map(|(&v, _)| v as f64);
    let n = valid().count();
    if n == 0 {
        return;
    }
    let mean = valid().sum::<f64>() / n as f64;
    let var = valid().map(|v| (v - mean).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64;
    let std = var.sqrt();
    for (v, &m) in x.iter_mut().zip(mask) {
        if m > 0.0 {
            *v = ((*v as f64 - mean) / (std + 1e-8)) as f32;
        }
    }
}
