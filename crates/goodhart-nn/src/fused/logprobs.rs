//! Log-probabilities of chosen tokens, with the entropy of each distribution when asked.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Flex, TensorMetadata};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rayon::prelude::*;

use crate::kernels::{self, exp, kernel};

use super::*;

// ---------------------------------------------------------------------------------------------
// Log-probabilities of chosen tokens

/// `log softmax(logits)[.., targets]`: the log-probability of each target token.
///
/// # Shapes
/// - `logits`: `[B, T, V]`; `targets`: `B * T` token ids, row-major
/// - output: `[B, T]`
///
/// # Panics
/// If `targets` has the wrong length or a target is not below `V`.
pub fn token_logprobs(logits: Tensor<3>, targets: &[u32]) -> Tensor<2> {
    let [b, t, _] = logits.dims();
    chosen(logits, targets, false).reshape([b, t])
}

/// The log-probability of each target token and the entropy of each next-token distribution,
/// as one operation (PPO's loss needs both; the logsumexp is computed once):
/// `lp = logits[t] - logsumexp(logits)`, `H = logsumexp(logits) - Σ_j p_j logits_j`.
/// The backward pass adds `g_lp (1[j = t] - p_j) - g_H p_j (log p_j + H)`.
///
/// - `logits`: `[B, T, V]`; `targets`: `B * T` token ids, row-major
/// - output: (`[B, T]`, `[B, T]`)
///
/// # Panics
/// If `targets` has the wrong length or a target is not below `V`.
pub fn token_logprobs_and_entropy(logits: Tensor<3>, targets: &[u32]) -> (Tensor<2>, Tensor<2>) {
    let [b, t, _] = logits.dims();
    let both = chosen(logits, targets, true);
    let lp = both.clone().slice([0..b, 0..t, 0..1]).reshape([b, t]);
    let entropy = both.slice([0..b, 0..t, 1..2]).reshape([b, t]);
    (lp, entropy)
}

/// `[B, T, w]`: the log-probability of each target and, with `entropy` (`w = 2`), the entropy.
pub(super) fn chosen(logits: Tensor<3>, targets: &[u32], entropy: bool) -> Tensor<3> {
    let [b, t, v] = logits.dims();
    assert_eq!(targets.len(), b * t, "one target per position");
    assert!(targets.iter().all(|&x| (x as usize) < v), "a target token is outside the vocabulary of {v}");
    match route(logits) {
        Route::Autodiff(l) => Tensor::from_primitive::<Ad>(chosen_autodiff(l, targets, entropy)),
        Route::Flex(l) => Tensor::from_primitive::<Flex>(chosen_forward(&l, targets, entropy).0),
        Route::Other(logits) => {
            let ids: Vec<i64> = targets.iter().map(|&x| x as i64).collect();
            let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, t]), &logits.device());
            let logp = log_softmax(logits, 2);
            let lp = logp.clone().gather(2, ids.unsqueeze_dim::<3>(2));
            if !entropy {
                return lp;
            }
            Tensor::cat(vec![lp, (logp.clone().exp() * logp).sum_dim(2).neg()], 2)
        }
    }
}

/// `[B, T, w]` as [`chosen`] describes it, and each row's logsumexp.
pub(super) fn chosen_forward(logits: &FlexTensor, targets: &[u32], entropy: bool) -> (FlexTensor, Vec<f32>) {
    let [b, t, v] = logits.shape().dims::<3>();
    let w = if entropy { 2 } else { 1 };
    let l = host(logits);
    let mut lse = vec![0.0f32; b * t];
    let mut out = vec![0.0f32; b * t * w];
    out.par_chunks_mut(ROWS_PER_TASK * w)
        .zip(lse.par_chunks_mut(ROWS_PER_TASK))
        .zip(l.par_chunks(ROWS_PER_TASK * v))
        .zip(targets.par_chunks(ROWS_PER_TASK))
        .for_each(|(((out, lse), l), targets)| chosen_kernel(out, lse, l, targets));
    (flex(out, Shape::new([b, t, w])), lse)
}

kernel! {
    /// Per row `r` of `l`: `lse[r]`, then `out[r] = l[r, target] - lse[r]` and, when `out` has
    /// two columns per row, the entropy `lse[r] - Σ_j p_j l[r, j]` beside it.
    fn chosen_kernel(out: &mut [f32], lse: &mut [f32], l: &[f32], targets: &[u32]) {
        let v = l.len() / lse.len().max(1);
        let w = out.len() / lse.len().max(1);
        for (r, (o, row)) in lse.iter_mut().zip(l.chunks_exact(v)).enumerate() {
            *o = kernels::logsumexp(row);
            out[w * r] = row[targets[r] as usize] - *o;
            if w == 2 {
                let lse = *o;
                out[w * r + 1] = lse - kernels::sum_map(row, |x| exp(x - lse) * x);
            }
        }
    }
}

kernel! {
    /// `dl[r, j] = g_lp[r] (1[j = target[r]] - p_j)`, minus `g_H[r] p_j (log p_j + H[r])` when
    /// the rows of `g` and `out` hold (log-probability, entropy) pairs.
    fn chosen_grad_kernel(dl: &mut [f32], l: &[f32], g: &[f32], out: &[f32], lse: &[f32], targets: &[u32]) {
        let v = l.len() / lse.len().max(1);
        let w = g.len() / lse.len().max(1);
        for (r, (dr, lr)) in dl.chunks_exact_mut(v).zip(l.chunks_exact(v)).enumerate() {
            let (g_lp, lse_r) = (g[w * r], lse[r]);
            if w == 2 {
                let (g_h, h) = (g[w * r + 1], out[w * r + 1]);
                for (o, &x) in dr.iter_mut().zip(lr) {
                    let logp = x - lse_r;
                    let p = exp(logp);
                    *o = -g_lp * p - g_h * p * (logp + h);
                }
            } else {
                for (o, &x) in dr.iter_mut().zip(lr) {
                    *o = -g_lp * exp(x - lse_r);
                }
            }
            dr[targets[r] as usize] += g_lp;
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Chosen {
    logits: FlexTensor,
    /// The forward output, `[B, T, w]` (the entropy's gradient reads `H`).
    out: Arc<Vec<f32>>,
    lse: Arc<Vec<f32>>,
    targets: Arc<Vec<u32>>,
}

#[derive(Debug)]
pub(super) struct ChosenBackward;

impl Backward<Flex, 1> for ChosenBackward {
    type State = Chosen;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let [Some(parent)] = ops.parents else { return };
        let Chosen { logits, out, lse, targets } = ops.state;
        let v = logits.shape().dims::<3>()[2];
        let (l, g) = (host(&logits), host(&grad));
        let w = g.len() / lse.len().max(1);
        let mut dl = vec![0.0f32; l.len()];
        let task = ROWS_PER_TASK * v;
        dl.par_chunks_mut(task)
            .zip(l.par_chunks(task))
            .zip(g.par_chunks(ROWS_PER_TASK * w))
            .zip(out.par_chunks(ROWS_PER_TASK * w))
            .zip(lse.par_chunks(ROWS_PER_TASK))
            .zip(targets.par_chunks(ROWS_PER_TASK))
            .for_each(|(((((dl, l), g), out), lse), targets)| {
                chosen_grad_kernel(dl, l, g, out, lse, targets)
            });
        grads.register::<Flex>(parent.id, flex(dl, logits.shape()));
    }
}

pub(super) fn chosen_autodiff(logits: FloatTensor<Ad>, targets: &[u32], entropy: bool) -> FloatTensor<Ad> {
    let l = logits.primitive();
    record(ChosenBackward, [logits.node()], |tracked| {
        let (out, lse) = chosen_forward(l, targets, entropy);
        let state = || Chosen {
            logits: l.clone(),
            out: Arc::new(host(&out).into_owned()),
            lse: Arc::new(lse),
            targets: Arc::new(targets.to_vec()),
        };
        (out.clone(), tracked.then(state))
    })
}
