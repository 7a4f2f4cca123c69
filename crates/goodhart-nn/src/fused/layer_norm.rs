//! LayerNorm over the last dimension.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Flex, TensorMetadata};
use burn::nn::LayerNorm;
use burn::prelude::*;
use rayon::prelude::*;

use crate::kernels::{self, kernel, layer_norm_row, LN_EPS};

use super::*;

// ---------------------------------------------------------------------------------------------
// LayerNorm

/// burn's `LayerNorm::forward` over the last dimension, as one operation, for LayerNorms built
/// with epsilon [`LN_EPS`] (every one in this crate; burn keeps the field private).
pub fn layer_norm<const D: usize>(x: Tensor<D>, ln: &LayerNorm) -> Tensor<D> {
    let beta = ln.beta.as_ref().map(|b| b.val());
    let Some(beta) = beta else { return ln.forward(x) };
    let gamma = ln.gamma.val();
    match (route(x), route(gamma), route(beta)) {
        (Route::Autodiff(x), Route::Autodiff(g), Route::Autodiff(b)) => {
            Tensor::from_primitive::<Ad>(layer_norm_autodiff(x, g, b, LN_EPS))
        }
        (Route::Flex(x), Route::Flex(g), Route::Flex(b)) => {
            let (y, _, _) = layer_norm_forward(&x, &host(&g), &host(&b), LN_EPS, false);
            Tensor::from_primitive::<Flex>(y)
        }
        (x, _, _) => ln.forward(unroute(x)),
    }
}

/// The normalised rows `x̂` and `1/σ` per row, kept for the backward pass.
#[derive(Debug, Clone)]
pub(super) struct Normalised {
    x_hat: Arc<Vec<f32>>,
    inv_std: Arc<Vec<f32>>,
    gamma: Arc<Vec<f32>>,
    shape: Shape,
}

/// `y = x̂ γ + β`; with `keep`, also `x̂` and `1/σ`.
pub(super) fn layer_norm_forward(
    x: &FlexTensor,
    gamma: &[f32],
    beta: &[f32],
    eps: f64,
    keep: bool,
) -> (FlexTensor, Vec<f32>, Vec<f32>) {
    let d = gamma.len();
    let xs = host(x);
    let rows = xs.len() / d;
    let mut y = vec![0.0f32; xs.len()];
    let mut x_hat = if keep { vec![0.0f32; xs.len()] } else { Vec::new() };
    let mut inv_std = vec![0.0f32; rows];
    let task = ROWS_PER_TASK * d;
    if keep {
        y.par_chunks_mut(task)
            .zip(x_hat.par_chunks_mut(task))
            .zip(inv_std.par_chunks_mut(ROWS_PER_TASK))
            .zip(xs.par_chunks(task))
            .for_each(|(((y, xh), is), x)| layer_norm_kernel(y, xh, is, x, gamma, beta, eps as f32));
    } else {
        y.par_chunks_mut(task)
            .zip(inv_std.par_chunks_mut(ROWS_PER_TASK))
            .zip(xs.par_chunks(task))
            .for_each(|((y, is), x)| layer_norm_kernel(y, &mut [], is, x, gamma, beta, eps as f32));
    }
    (flex(y, x.shape()), x_hat, inv_std)
}

kernel! {
    /// Rows of `y = x̂ γ + β`, with `1/σ` per row and, unless `x_hat` is empty, `x̂`.
    fn layer_norm_kernel(
        y: &mut [f32],
        x_hat: &mut [f32],
        inv_std: &mut [f32],
        x: &[f32],
        gamma: &[f32],
        beta: &[f32],
        eps: f32,
    ) {
        let d = gamma.len();
        for (r, (yr, xr)) in y.chunks_exact_mut(d).zip(x.chunks_exact(d)).enumerate() {
            let x_hat = if x_hat.is_empty() { &mut [][..] } else { &mut x_hat[r * d..(r + 1) * d] };
            inv_std[r] = layer_norm_row(yr, x_hat, xr, gamma, beta, eps);
        }
    }
}

kernel! {
    /// Rows of the LayerNorm backward pass: `dx = (1/σ) (g - mean(g) - x̂ mean(g x̂))` with
    /// `g = dy γ`; adds the rows' `dy x̂` to `dgamma` and `dy` to `dbeta`.
    #[allow(clippy::too_many_arguments)]
    fn layer_norm_grad_kernel(
        dx: &mut [f32],
        dgamma: &mut [f32],
        dbeta: &mut [f32],
        dy: &[f32],
        x_hat: &[f32],
        inv_std: &[f32],
        gamma: &[f32],
    ) {
        let d = gamma.len();
        let rows = dx.chunks_exact_mut(d).zip(dy.chunks_exact(d)).zip(x_hat.chunks_exact(d));
        for (((dxr, dyr), xhr), &inv) in rows.zip(inv_std) {
            for ((&dyi, &xi), (dgi, dbi)) in dyr.iter().zip(xhr).zip(dgamma.iter_mut().zip(dbeta.iter_mut())) {
                *dgi += dyi * xi;
                *dbi += dyi;
            }
            let (sum_g, sum_gx) = (kernels::dot(dyr, gamma), kernels::dot3(dyr, gamma, xhr));
            let (mean_g, mean_gx) = (sum_g / d as f32, sum_gx / d as f32);
            for (((o, &dyi), &xi), &gi) in dxr.iter_mut().zip(dyr).zip(xhr).zip(gamma) {
                *o = inv * (dyi * gi - mean_g - xi * mean_gx);
            }
        }
    }
}

#[derive(Debug)]
pub(super) struct LayerNormBackward;

impl Backward<Flex, 3> for LayerNormBackward {
    type State = Normalised;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let [x_node, gamma_node, beta_node] = ops.parents;
        let Normalised { x_hat, inv_std, gamma, shape } = ops.state;
        let d = gamma.len();
        let dy = host(&grad);
        let task = ROWS_PER_TASK * d;
        let mut dx = vec![0.0f32; dy.len()];
        // One partial (dγ, dβ) per task, summed in task order below.
        let partials: Vec<(Vec<f32>, Vec<f32>)> = dx
            .par_chunks_mut(task)
            .zip(dy.par_chunks(task))
            .zip(x_hat.par_chunks(task))
            .zip(inv_std.par_chunks(ROWS_PER_TASK))
            .map(|(((dx, dy), xh), is)| {
                let (mut dg, mut db) = (vec![0.0f32; d], vec![0.0f32; d]);
                layer_norm_grad_kernel(dx, &mut dg, &mut db, dy, xh, is, &gamma);
                (dg, db)
            })
            .collect();
        if let Some(node) = x_node {
            grads.register::<Flex>(node.id, flex(dx, shape));
        }
        let (mut dg, mut db) = (vec![0.0f32; d], vec![0.0f32; d]);
        for (pg, pb) in &partials {
            dg.iter_mut().zip(pg).for_each(|(a, b)| *a += b);
            db.iter_mut().zip(pb).for_each(|(a, b)| *a += b);
        }
        if let Some(node) = gamma_node {
            grads.register::<Flex>(node.id, flex(dg, Shape::new([d])));
        }
        if let Some(node) = beta_node {
            grads.register::<Flex>(node.id, flex(db, Shape::new([d])));
        }
    }
}

pub(super) fn layer_norm_autodiff(
    x: FloatTensor<Ad>,
    gamma: FloatTensor<Ad>,
    beta: FloatTensor<Ad>,
    eps: f64,
) -> FloatTensor<Ad> {
    let (g, b) = (host(gamma.primitive()).into_owned(), host(beta.primitive()));
    let x_ = x.primitive();
    record(LayerNormBackward, [x.node(), gamma.node(), beta.node()], |tracked| {
        let (y, x_hat, inv_std) = layer_norm_forward(x_, &g, &b, eps, tracked);
        let state = || Normalised {
            x_hat: Arc::new(x_hat),
            inv_std: Arc::new(inv_std),
            gamma: Arc::new(g),
            shape: x_.shape(),
        };
        (y, tracked.then(state))
    })
}
