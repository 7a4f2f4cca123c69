//! Causal self-attention from the fused QKV projection.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Flex, TensorMetadata};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use rayon::prelude::*;

use crate::kernels::{self, kernel};
use crate::products::attend_head;

use super::*;

// ---------------------------------------------------------------------------------------------
// Causal self-attention

/// Causal multi-head attention from the fused projection `qkv` (`[B, T, 3D]`, columns
/// `[q | k | v]`, each `n_heads` heads of `Dh`) to the concatenated heads `[B, T, D]`:
/// `softmax(q kᵀ / √Dh + causal mask) v` per head.
pub fn causal_attention(qkv: Tensor<3>, n_heads: usize) -> Tensor<3> {
    match route(qkv) {
        Route::Autodiff(t) => Tensor::from_primitive::<Ad>(attention_autodiff(t, n_heads)),
        Route::Flex(t) => Tensor::from_primitive::<Flex>(attention_forward(&t, n_heads, false).0),
        Route::Other(qkv) => attention_reference(qkv, n_heads),
    }
}

/// The composition of burn operations that [`causal_attention`] replaces (and the path on
/// backends other than Flex).
pub fn attention_reference(qkv: Tensor<3>, n_heads: usize) -> Tensor<3> {
    let [b, t, d3] = qkv.dims();
    let (d, h) = (d3 / 3, n_heads);
    let dh = d / h;
    let head = |i: usize| qkv.clone().narrow(2, i * d, d).reshape([b, t, h, dh]).swap_dims(1, 2);
    let q = head(0).mul_scalar(1.0 / (dh as f64).sqrt());
    let scores = q.matmul(head(1).swap_dims(2, 3)); // [B, H, T, T]
    let mask = Tensor::<2, Bool>::tril_mask([t, t], 0, &scores.device());
    let scores = scores.mask_fill(mask.reshape([1, 1, t, t]), f32::NEG_INFINITY);
    softmax(scores, 3).matmul(head(2)).swap_dims(1, 2).reshape([b, t, d])
}

/// What the attention backward needs: the input and the probabilities `[B, H, T, T]`.
#[derive(Debug, Clone)]
pub(super) struct Attended {
    qkv: FlexTensor,
    probs: Arc<Vec<f32>>,
    n_heads: usize,
}

/// Forward attention; returns `[B, T, D]` and, with `keep`, the probabilities.
pub(super) fn attention_forward(qkv: &FlexTensor, n_heads: usize, keep: bool) -> (FlexTensor, Vec<f32>) {
    let [b, t, d3] = qkv.shape().dims::<3>();
    let (d, h) = (d3 / 3, n_heads);
    let dh = d / h;
    let x = host(qkv);
    let mut y = vec![0.0f32; b * t * d];
    let mut probs = vec![0.0f32; if keep { b * h * t * t } else { 0 }];
    let work = |(r, (y, p)): (usize, (&mut [f32], &mut [f32]))| {
        let x = &x[r * t * d3..(r + 1) * t * d3];
        let mut scratch = vec![0.0f32; if keep { 0 } else { t * t }];
        for head in 0..h {
            let s = if keep { &mut p[head * t * t..(head + 1) * t * t] } else { &mut scratch[..] };
            attend_head(x, t, n_heads, head, s, &mut y[head * dh..]);
        }
    };
    if keep {
        y.par_chunks_mut(t * d).zip(probs.par_chunks_mut(h * t * t)).enumerate().for_each(work);
    } else {
        y.par_chunks_mut(t * d).enumerate().for_each(|(r, y)| work((r, (y, &mut []))));
    }
    (flex(y, Shape::new([b, t, d])), probs)
}

kernel! {
    /// The softmax backward pass in place: `dS = P ∘ (dP - rowsum(P ∘ dP))` (zero wherever `P` is).
    fn softmax_grad_kernel(ds: &mut [f32], p: &[f32], t: usize) {
        for (dsr, pr) in ds.chunks_exact_mut(t).zip(p.chunks_exact(t)) {
            let dot = kernels::dot(dsr, pr);
            for (o, &pi) in dsr.iter_mut().zip(pr) {
                *o = pi * (*o - dot);
            }
        }
    }
}

#[derive(Debug)]
pub(super) struct AttentionBackward;

impl Backward<Flex, 1> for AttentionBackward {
    type State = Attended;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let [Some(parent)] = ops.parents else { return };
        let Attended { qkv, probs, n_heads } = ops.state;
        let [b, t, d3] = qkv.shape().dims::<3>();
        let (d, h) = (d3 / 3, n_heads);
        let dh = d / h;
        let scale = 1.0 / (dh as f32).sqrt();
        let (x, dy) = (host(&qkv), host(&grad));
        let mut dx = vec![0.0f32; b * t * d3];
        dx.par_chunks_mut(t * d3).enumerate().for_each(|(r, dx)| {
            let x = &x[r * t * d3..(r + 1) * t * d3];
            let dy = &dy[r * t * d..(r + 1) * t * d];
            let mut ds = vec![0.0f32; t * t];
            for head in 0..h {
                let p = &probs[(r * h + head) * t * t..(r * h + head + 1) * t * t];
                let (q, k, v) = (&x[head * dh..], &x[d + head * dh..], &x[2 * d + head * dh..]);
                let dyh = &dy[head * dh..];
                // dP = dy vᵀ
                gemm_strided(t, t, dh, &mut ds, t, false, dyh, (d, 1), v, (1, d3), 1.0);
                // dv = Pᵀ dy
                gemm_strided(t, dh, t, &mut dx[2 * d + head * dh..], d3, false, p, (1, t), dyh, (d, 1), 1.0);
                // dS = P ∘ (dP - rowsum(P ∘ dP)), zero above the diagonal with P.
                softmax_grad_kernel(&mut ds, p, t);
                // dq = scale dS k, dk = scale dSᵀ q
                gemm_strided(t, dh, t, &mut dx[head * dh..], d3, false, &ds, (t, 1), k, (d3, 1), scale);
                gemm_strided(t, dh, t, &mut dx[d + head * dh..], d3, false, &ds, (1, t), q, (d3, 1), scale);
            }
        });
        grads.register::<Flex>(parent.id, flex(dx, qkv.shape()));
    }
}

pub(super) fn attention_autodiff(qkv: FloatTensor<Ad>, n_heads: usize) -> FloatTensor<Ad> {
    let x = qkv.primitive();
    record(AttentionBackward, [qkv.node()], |tracked| {
        let (y, probs) = attention_forward(x, n_heads, tracked);
        (y, tracked.then(|| Attended { qkv: x.clone(), probs: Arc::new(probs), n_heads }))
    })
}
