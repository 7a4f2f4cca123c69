//! Fused CPU kernels for the transformer's training step, each with a hand-written backward pass
//! registered with burn's autodiff.
//!
//! burn's autodiff records a model as many small operations: LayerNorm is a dozen (mean,
//! subtract, square, mean, ...), attention another dozen (head splits that copy, scaling,
//! masking, softmax, two batched products), GELU calls `libm::erff` once per element, and
//! the log-softmax of the loss writes three `[B, T, V]` tensors. At our sizes each of those
//! costs more in dispatch, allocation and passes over memory than in arithmetic. Here each is
//! one operation whose forward and backward are plain loops (and `gemm` products for
//! attention), parallel over rows:
//!
//! | op | forward | saved for backward |
//! |---|---|---|
//! | [`linear`] | `x W + b` | `x`, `W` |
//! | [`gelu`] | `x Φ(x)` ([`crate::kernels::gelu`]) | `x` |
//! | [`layer_norm`] | `(x - μ) / σ · γ + β` | `x̂`, `1/σ` |
//! | [`causal_attention`] | heads of `[q|k|v]` → `softmax(q kᵀ/√Dh + mask) v` | `qkv`, the probabilities |
//! | [`token_logprobs`] | `logits[t] - logsumexp(logits)` | `logits`, the logsumexps |
//!
//! They run when the tensors live on the Flex CPU backend, with or without autodiff. On other
//! backends (wgpu, CUDA), or with `GOODHART_FUSED=0` in the environment, each falls back to the
//! same composition of burn operations that it replaces, so the model code calls them
//! unconditionally. Tests in `tests/fused.rs` hold values and gradients to that composition.
//!
//! The loops are compiled for AVX2 where the CPU has it, without fused multiply-add and
//! without reassociation, so the numbers do not depend on the CPU's vector width; sums over
//! rows (the γ, β and bias gradients) are taken in blocks of a fixed size, added in block order.

use std::borrow::Cow;
use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex, TensorMetadata};
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use gemm::Parallelism;
use rayon::prelude::*;

use crate::kernels::{self, exp, kernel, layer_norm_row, softmax_unnormalised, LN_EPS};

/// burn's CPU backend under autodiff, as `Device::flex().autodiff()` builds it.
type Ad = Autodiff<Flex>;

/// Rows per parallel task in the elementwise kernels (enough work to amortise a task).
const ROWS_PER_TASK: usize = 64;

// ---------------------------------------------------------------------------------------------
// Routing: a tensor on Flex (with or without autodiff), or somewhere else.

enum Route<const D: usize> {
    Autodiff(FloatTensor<Ad>),
    Flex(FlexTensor),
    Other(Tensor<D>),
}

/// `GOODHART_FUSED=0` in the environment turns the fused kernels off: every operation then runs
/// as the burn composition (to compare the two, or to rule the kernels out when debugging).
fn enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("GOODHART_FUSED").map_or(true, |v| v != "0"))
}

fn route<const D: usize>(x: Tensor<D>) -> Route<D> {
    if !enabled() {
        return Route::Other(x);
    }
    if let Ok(t) = x.clone().try_into_primitive::<Ad>() {
        return Route::Autodiff(t);
    }
    match x.clone().try_into_primitive::<Flex>() {
        Ok(t) => Route::Flex(t),
        Err(_) => Route::Other(x),
    }
}

/// The elements of an f32 tensor, row-major (borrowed when the tensor is already contiguous).
fn host(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(t.to_contiguous().as_slice::<f32>().expect("a contiguous f32 tensor").to_vec()),
    }
}

fn flex(data: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

// ---------------------------------------------------------------------------------------------
// GELU

/// `x Φ(x)` elementwise (the exact GELU, as burn's `gelu`).
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    match route(x) {
        Route::Autodiff(t) => Tensor::from_primitive::<Ad>(gelu_autodiff(t)),
        Route::Flex(t) => Tensor::from_primitive::<Flex>(gelu_forward(&t)),
        Route::Other(x) => burn::tensor::activation::gelu(x),
    }
}

fn gelu_forward(x: &FlexTensor) -> FlexTensor {
    let xs = host(x);
    let mut y = vec![0.0f32; xs.len()];
    y.par_chunks_mut(ROWS_PER_TASK * 256)
        .zip(xs.par_chunks(ROWS_PER_TASK * 256))
        .for_each(|(y, x)| gelu_kernel(y, x));
    flex(y, x.shape())
}

kernel! {
    /// `y = x Φ(x)`.
    fn gelu_kernel(y: &mut [f32], x: &[f32]) {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = kernels::gelu(v);
        }
    }
}

kernel! {
    /// `dx = g (Φ(x) + x φ(x))`, the derivative of `x Φ(x)` times the incoming gradient.
    fn gelu_grad_kernel(dx: &mut [f32], x: &[f32], g: &[f32]) {
        const PDF: f32 = 0.5 * std::f32::consts::FRAC_2_SQRT_PI * std::f32::consts::FRAC_1_SQRT_2;
        for ((o, &v), &gi) in dx.iter_mut().zip(x).zip(g) {
            let cdf = 0.5 * (1.0 + kernels::erf(v * std::f32::consts::FRAC_1_SQRT_2));
            *o = gi * (cdf + v * exp(-0.5 * v * v) * PDF);
        }
    }
}

#[derive(Debug)]
struct GeluBackward;

impl Backward<Flex, 1> for GeluBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let [Some(parent)] = ops.parents else { return };
        let (x, g) = (host(&ops.state), host(&grad));
        let mut dx = vec![0.0f32; x.len()];
        let chunk = ROWS_PER_TASK * 256;
        dx.par_chunks_mut(chunk)
            .zip(x.par_chunks(chunk))
            .zip(g.par_chunks(chunk))
            .for_each(|((dx, x), g)| gelu_grad_kernel(dx, x, g));
        grads.register::<Flex>(parent.id, flex(dx, ops.state.shape()));
    }
}

fn gelu_autodiff(x: FloatTensor<Ad>) -> FloatTensor<Ad> {
    let x_ = x.primitive();
    record(GeluBackward, [x.node()], |tracked| (gelu_forward(x_), tracked.then(|| x_.clone())))
}

/// Records an operation of `N` inputs (`nodes`) on the autodiff graph: `forward(tracked)` gives
/// the output and, when the graph tracks it, the state its backward pass reads.
fn record<O: Backward<Flex, N>, const N: usize>(
    op: O,
    nodes: [NodeGuard; N],
    forward: impl FnOnce(bool) -> (FlexTensor, Option<O::State>),
) -> FloatTensor<Ad> {
    match op.prepare::<NoCheckpointing>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let (y, state) = forward(true);
            prep.finish(state.expect("a tracked forward returns its state"), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(false).0),
    }
}

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

fn unroute<const D: usize>(r: Route<D>) -> Tensor<D> {
    match r {
        Route::Autodiff(t) => Tensor::from_primitive::<Ad>(t),
        Route::Flex(t) => Tensor::from_primitive::<Flex>(t),
        Route::Other(t) => t,
    }
}

/// The normalised rows `x̂` and `1/σ` per row, kept for the backward pass.
#[derive(Debug, Clone)]
struct Normalised {
    x_hat: Arc<Vec<f32>>,
    inv_std: Arc<Vec<f32>>,
    gamma: Arc<Vec<f32>>,
    shape: Shape,
}

/// `y = x̂ γ + β`; with `keep`, also `x̂` and `1/σ`.
fn layer_norm_forward(
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
            let (mut sum_g, mut sum_gx) = (0.0f32, 0.0f32);
            for (((&dyi, &xi), &gi), (dgi, dbi)) in
                dyr.iter().zip(xhr).zip(gamma).zip(dgamma.iter_mut().zip(dbeta.iter_mut()))
            {
                let g = dyi * gi;
                sum_g += g;
                sum_gx += g * xi;
                *dgi += dyi * xi;
                *dbi += dyi;
            }
            let (mean_g, mean_gx) = (sum_g / d as f32, sum_gx / d as f32);
            for (((o, &dyi), &xi), &gi) in dxr.iter_mut().zip(dyr).zip(xhr).zip(gamma) {
                *o = inv * (dyi * gi - mean_g - xi * mean_gx);
            }
        }
    }
}

#[derive(Debug)]
struct LayerNormBackward;

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

fn layer_norm_autodiff(
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

// ---------------------------------------------------------------------------------------------
// Linear layers

/// burn's `Linear::forward` (`x W + b` over the last dimension) as one operation: the bias
/// is the product's starting value, and the backward pass reads `W` and `x` transposed in
/// place instead of copying them, and takes one product for `dW` over all rows rather than one
/// per batch row.
pub fn linear<const D: usize>(x: Tensor<D>, l: &Linear) -> Tensor<D> {
    project(x, l.weight.val(), l.bias.as_ref().map(|b| b.val()))
}

/// [`linear`] from the weight `[D_in, D_out]` and the optional bias `[D_out]` themselves (burn's
/// functional `linear`).
pub fn project<const D: usize>(x: Tensor<D>, w: Tensor<2>, b: Option<Tensor<1>>) -> Tensor<D> {
    match (route(x), route(w), b.map(route)) {
        (Route::Autodiff(x), Route::Autodiff(w), Some(Route::Autodiff(b))) => {
            Tensor::from_primitive::<Ad>(linear_autodiff(x, w, Some(b)))
        }
        (Route::Autodiff(x), Route::Autodiff(w), None) => {
            Tensor::from_primitive::<Ad>(linear_autodiff(x, w, None))
        }
        (Route::Flex(x), Route::Flex(w), Some(Route::Flex(b))) => {
            Tensor::from_primitive::<Flex>(linear_forward(&x, &w, Some(&host(&b))))
        }
        (Route::Flex(x), Route::Flex(w), None) => {
            Tensor::from_primitive::<Flex>(linear_forward(&x, &w, None))
        }
        (x, w, b) => burn::tensor::module::linear(unroute(x), unroute(w), b.map(unroute)),
    }
}

fn linear_forward(x: &FlexTensor, w: &FlexTensor, bias: Option<&[f32]>) -> FlexTensor {
    let [k, n] = w.shape().dims::<2>();
    let (xs, ws) = (host(x), host(w));
    let rows = xs.len() / k;
    let mut out = match bias {
        Some(b) => b.repeat(rows),
        None => vec![0.0f32; rows * n],
    };
    gemm_with(rows, n, k, &mut out, n, bias.is_some(), &xs, (k, 1), &ws, (n, 1), 1.0, Parallelism::Rayon(0));
    let mut shape = x.shape();
    let last = shape.num_dims() - 1;
    shape[last] = n;
    flex(out, shape)
}

#[derive(Debug, Clone)]
struct LinearInputs {
    x: FlexTensor,
    w: FlexTensor,
}

/// `dx = dy Wᵀ`, `dW = xᵀ dy`, `db = Σ_rows dy`, each only where a parent wants it.
fn linear_grads(
    LinearInputs { x, w }: LinearInputs,
    grad: &FlexTensor,
    want: [bool; 3],
) -> (Option<FlexTensor>, Option<FlexTensor>, Option<FlexTensor>) {
    let [k, n] = w.shape().dims::<2>();
    let (xs, ws, dy) = (host(&x), host(&w), host(grad));
    let rows = dy.len() / n;
    let dx = want[0].then(|| {
        let mut dx = vec![0.0f32; rows * k];
        gemm_with(rows, k, n, &mut dx, k, false, &dy, (n, 1), &ws, (1, n), 1.0, Parallelism::Rayon(0));
        flex(dx, x.shape())
    });
    let dw = want[1].then(|| {
        let mut dw = vec![0.0f32; k * n];
        gemm_with(k, n, rows, &mut dw, n, false, &xs, (1, k), &dy, (n, 1), 1.0, Parallelism::Rayon(0));
        flex(dw, w.shape())
    });
    let db = want[2].then(|| {
        // Partial sums over blocks of rows, added in block order: the same numbers on any
        // number of threads.
        let partials: Vec<Vec<f32>> = dy
            .par_chunks(ROWS_PER_TASK * n)
            .map(|block| {
                let mut acc = vec![0.0f32; n];
                for row in block.chunks_exact(n) {
                    acc.iter_mut().zip(row).for_each(|(a, &g)| *a += g);
                }
                acc
            })
            .collect();
        let mut db = vec![0.0f32; n];
        for p in &partials {
            db.iter_mut().zip(p).for_each(|(a, &g)| *a += g);
        }
        flex(db, Shape::new([n]))
    });
    (dx, dw, db)
}

/// The backward pass of [`linear`]: parents `[x, W]`, or `[x, W, b]` with a bias.
#[derive(Debug)]
struct LinearBackward;

impl<const N: usize> Backward<Flex, N> for LinearBackward {
    type State = LinearInputs;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let want = [0, 1, 2].map(|i| ops.parents.get(i).is_some_and(Option::is_some));
        let (dx, dw, db) = linear_grads(ops.state, &grad, want);
        for (node, g) in ops.parents.into_iter().zip([dx, dw, db]) {
            if let (Some(node), Some(g)) = (node, g) {
                grads.register::<Flex>(node.id, g);
            }
        }
    }
}

fn linear_autodiff(x: FloatTensor<Ad>, w: FloatTensor<Ad>, b: Option<FloatTensor<Ad>>) -> FloatTensor<Ad> {
    let inputs = LinearInputs { x: x.primitive().clone(), w: w.primitive().clone() };
    let bias = b.as_ref().map(|b| host(b.primitive()).into_owned());
    let forward = |tracked: bool| {
        let y = linear_forward(&inputs.x, &inputs.w, bias.as_deref());
        (y, tracked.then(|| inputs.clone()))
    };
    match b {
        Some(b) => record(LinearBackward, [x.node(), w.node(), b.node()], forward),
        None => record(LinearBackward, [x.node(), w.node()], forward),
    }
}

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
struct Attended {
    qkv: FlexTensor,
    probs: Arc<Vec<f32>>,
    n_heads: usize,
}

/// `out (m x n) = out + beta a b` (or `beta a b` unless `accumulate`), with `a` `m x k` and `b`
/// `k x n` given by their row and column strides (elements). Single-threaded: callers
/// parallelise over heads.
#[allow(clippy::too_many_arguments)]
fn gemm_strided(
    m: usize,
    n: usize,
    k: usize,
    out: &mut [f32],
    out_rs: usize,
    accumulate: bool,
    a: &[f32],
    a_strides: (usize, usize),
    b: &[f32],
    b_strides: (usize, usize),
    beta: f32,
) {
    gemm_with(m, n, k, out, out_rs, accumulate, a, a_strides, b, b_strides, beta, Parallelism::None)
}

/// [`gemm_strided`] with a choice of parallelism (`Rayon(0)`: every thread of rayon's pool).
#[allow(clippy::too_many_arguments)]
fn gemm_with(
    m: usize,
    n: usize,
    k: usize,
    out: &mut [f32],
    out_rs: usize,
    accumulate: bool,
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    b: &[f32],
    (b_rs, b_cs): (usize, usize),
    beta: f32,
    parallelism: Parallelism,
) {
    assert!(m == 0 || n == 0 || out.len() > (m - 1) * out_rs + n - 1);
    assert!(m == 0 || k == 0 || a.len() > (m - 1) * a_rs + (k - 1) * a_cs);
    assert!(k == 0 || n == 0 || b.len() > (k - 1) * b_rs + (n - 1) * b_cs);
    // SAFETY: the asserts above keep every element the strides reach inside its slice, and
    // `out` is a unique borrow, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            out_rs as isize,
            accumulate,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            1.0,
            beta,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Forward attention; returns `[B, T, D]` and, with `keep`, the probabilities.
fn attention_forward(qkv: &FlexTensor, n_heads: usize, keep: bool) -> (FlexTensor, Vec<f32>) {
    let [b, t, d3] = qkv.shape().dims::<3>();
    let (d, h) = (d3 / 3, n_heads);
    let dh = d / h;
    let scale = 1.0 / (dh as f32).sqrt();
    let x = host(qkv);
    let mut y = vec![0.0f32; b * t * d];
    let mut probs = vec![0.0f32; if keep { b * h * t * t } else { 0 }];
    let work = |(r, (y, p)): (usize, (&mut [f32], &mut [f32]))| {
        let x = &x[r * t * d3..(r + 1) * t * d3];
        let mut scratch = vec![0.0f32; if keep { 0 } else { t * t }];
        for head in 0..h {
            let s = if keep { &mut p[head * t * t..(head + 1) * t * t] } else { &mut scratch[..] };
            let (q, k, v) = (&x[head * dh..], &x[d + head * dh..], &x[2 * d + head * dh..]);
            // s = scale q kᵀ: q rows are strided by 3D; kᵀ reads k by columns.
            gemm_strided(t, t, dh, s, t, false, q, (d3, 1), k, (1, d3), scale);
            causal_softmax_kernel(s, t);
            gemm_strided(t, dh, t, &mut y[head * dh..], d, false, s, (t, 1), v, (d3, 1), 1.0);
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
    /// Softmax of each row `i` of the `t x t` scores over columns `0 ..= i`; later columns
    /// become 0.
    fn causal_softmax_kernel(s: &mut [f32], t: usize) {
        for (i, row) in s.chunks_exact_mut(t).enumerate() {
            let (seen, future) = row.split_at_mut(i + 1);
            let inv = 1.0 / softmax_unnormalised(seen);
            seen.iter_mut().for_each(|v| *v *= inv);
            future.fill(0.0);
        }
    }
}

kernel! {
    /// The softmax backward pass in place: `dS = P ∘ (dP - rowsum(P ∘ dP))` (zero wherever `P` is).
    fn softmax_grad_kernel(ds: &mut [f32], p: &[f32], t: usize) {
        for (dsr, pr) in ds.chunks_exact_mut(t).zip(p.chunks_exact(t)) {
            let dot = dsr.iter().zip(pr).map(|(&a, &b)| a * b).sum::<f32>();
            for (o, &pi) in dsr.iter_mut().zip(pr) {
                *o = pi * (*o - dot);
            }
        }
    }
}

#[derive(Debug)]
struct AttentionBackward;

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

fn attention_autodiff(qkv: FloatTensor<Ad>, n_heads: usize) -> FloatTensor<Ad> {
    let x = qkv.primitive();
    record(AttentionBackward, [qkv.node()], |tracked| {
        let (y, probs) = attention_forward(x, n_heads, tracked);
        (y, tracked.then(|| Attended { qkv: x.clone(), probs: Arc::new(probs), n_heads }))
    })
}

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
    let [b, t, v] = logits.dims();
    assert_eq!(targets.len(), b * t, "one target per position");
    assert!(targets.iter().all(|&x| (x as usize) < v), "a target token is outside the vocabulary of {v}");
    match route(logits) {
        Route::Autodiff(l) => Tensor::from_primitive::<Ad>(logprobs_autodiff(l, targets)),
        Route::Flex(l) => Tensor::from_primitive::<Flex>(logprobs_forward(&l, targets).0),
        Route::Other(logits) => {
            let ids: Vec<i64> = targets.iter().map(|&x| x as i64).collect();
            let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, t]), &logits.device());
            log_softmax(logits, 2).gather(2, ids.unsqueeze_dim::<3>(2)).squeeze_dim::<2>(2)
        }
    }
}

/// The log-probabilities `[B, T]` and each row's logsumexp.
fn logprobs_forward(logits: &FlexTensor, targets: &[u32]) -> (FlexTensor, Vec<f32>) {
    let [b, t, v] = logits.shape().dims::<3>();
    let l = host(logits);
    let mut lse = vec![0.0f32; b * t];
    lse.par_chunks_mut(ROWS_PER_TASK)
        .zip(l.par_chunks(ROWS_PER_TASK * v))
        .for_each(|(lse, l)| logsumexp_kernel(lse, l));
    let lp = targets.iter().enumerate().map(|(r, &tok)| l[r * v + tok as usize] - lse[r]).collect();
    (flex(lp, Shape::new([b, t])), lse)
}

kernel! {
    /// `lse[r] = log Σ_j exp(l[r, j])` for each row `r` of `l`.
    fn logsumexp_kernel(lse: &mut [f32], l: &[f32]) {
        let v = l.len() / lse.len().max(1);
        for (o, row) in lse.iter_mut().zip(l.chunks_exact(v)) {
            *o = kernels::logsumexp(row);
        }
    }
}

kernel! {
    /// `dl[r, j] = g[r] (1[j = target[r]] - exp(l[r, j] - lse[r]))`.
    fn logprob_grad_kernel(dl: &mut [f32], l: &[f32], g: &[f32], lse: &[f32], targets: &[u32]) {
        let v = l.len() / g.len().max(1);
        for (r, (dr, lr)) in dl.chunks_exact_mut(v).zip(l.chunks_exact(v)).enumerate() {
            let (gr, lse_r) = (g[r], lse[r]);
            for (o, &x) in dr.iter_mut().zip(lr) {
                *o = -gr * exp(x - lse_r);
            }
            dr[targets[r] as usize] += gr;
        }
    }
}

#[derive(Debug, Clone)]
struct Chosen {
    logits: FlexTensor,
    lse: Arc<Vec<f32>>,
    targets: Arc<Vec<u32>>,
}

#[derive(Debug)]
struct LogprobsBackward;

impl Backward<Flex, 1> for LogprobsBackward {
    type State = Chosen;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let [Some(parent)] = ops.parents else { return };
        let Chosen { logits, lse, targets } = ops.state;
        let v = logits.shape().dims::<3>()[2];
        let (l, g) = (host(&logits), host(&grad));
        let mut dl = vec![0.0f32; l.len()];
        // d lp[r] / d logits[r, j] = 1[j = target] - softmax[r, j]
        let task = ROWS_PER_TASK * v;
        dl.par_chunks_mut(task)
            .zip(l.par_chunks(task))
            .zip(g.par_chunks(ROWS_PER_TASK))
            .zip(lse.par_chunks(ROWS_PER_TASK))
            .zip(targets.par_chunks(ROWS_PER_TASK))
            .for_each(|((((dl, l), g), lse), targets)| logprob_grad_kernel(dl, l, g, lse, targets));
        grads.register::<Flex>(parent.id, flex(dl, logits.shape()));
    }
}

fn logprobs_autodiff(logits: FloatTensor<Ad>, targets: &[u32]) -> FloatTensor<Ad> {
    let l = logits.primitive();
    record(LogprobsBackward, [logits.node()], |tracked| {
        let (lp, lse) = logprobs_forward(l, targets);
        let state = || Chosen { logits: l.clone(), lse: Arc::new(lse), targets: Arc::new(targets.to_vec()) };
        (lp, tracked.then(state))
    })
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
    let [b, t, v] = logits.dims();
    assert_eq!(targets.len(), b * t, "one target per position");
    assert!(targets.iter().all(|&x| (x as usize) < v), "a target token is outside the vocabulary of {v}");
    let both: Tensor<3> = match route(logits) {
        Route::Autodiff(l) => Tensor::from_primitive::<Ad>(logprob_entropy_autodiff(l, targets)),
        Route::Flex(l) => Tensor::from_primitive::<Flex>(logprob_entropy_forward(&l, targets).0),
        Route::Other(logits) => {
            let ids: Vec<i64> = targets.iter().map(|&x| x as i64).collect();
            let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, t]), &logits.device());
            let logp = log_softmax(logits, 2);
            let lp = logp.clone().gather(2, ids.unsqueeze_dim::<3>(2));
            let entropy = (logp.clone().exp() * logp).sum_dim(2).neg();
            Tensor::cat(vec![lp, entropy], 2)
        }
    };
    let lp = both.clone().slice([0..b, 0..t, 0..1]).squeeze_dim::<2>(2);
    let entropy = both.slice([0..b, 0..t, 1..2]).squeeze_dim::<2>(2);
    (lp, entropy)
}

/// `[B, T, 2]` (log-probability, entropy) and each row's logsumexp.
fn logprob_entropy_forward(logits: &FlexTensor, targets: &[u32]) -> (FlexTensor, Vec<f32>) {
    let [b, t, v] = logits.shape().dims::<3>();
    let l = host(logits);
    let mut lse = vec![0.0f32; b * t];
    let mut out = vec![0.0f32; b * t * 2];
    out.par_chunks_mut(ROWS_PER_TASK * 2)
        .zip(lse.par_chunks_mut(ROWS_PER_TASK))
        .zip(l.par_chunks(ROWS_PER_TASK * v))
        .zip(targets.par_chunks(ROWS_PER_TASK))
        .for_each(|(((out, lse), l), targets)| logprob_entropy_kernel(out, lse, l, targets));
    (flex(out, Shape::new([b, t, 2])), lse)
}

kernel! {
    /// Per row `r` of `l`: `lse[r]`, then `out[r] = (l[r, target] - lse[r], lse[r] - Σ_j p_j l[r, j])`.
    fn logprob_entropy_kernel(out: &mut [f32], lse: &mut [f32], l: &[f32], targets: &[u32]) {
        let v = l.len() / lse.len().max(1);
        for (r, (o, row)) in lse.iter_mut().zip(l.chunks_exact(v)).enumerate() {
            *o = kernels::logsumexp(row);
            let mean_logit = row.iter().map(|&x| exp(x - *o) * x).sum::<f32>();
            out[2 * r] = row[targets[r] as usize] - *o;
            out[2 * r + 1] = *o - mean_logit;
        }
    }
}

kernel! {
    /// `dl[r, j] = g_lp[r] (1[j = target[r]] - p_j) - g_H[r] p_j (log p_j + H[r])`, with `g` and
    /// `both` interleaved per row as (log-probability, entropy).
    fn logprob_entropy_grad_kernel(dl: &mut [f32], l: &[f32], g: &[f32], both: &[f32], lse: &[f32], targets: &[u32]) {
        let v = l.len() / lse.len().max(1);
        for (r, (dr, lr)) in dl.chunks_exact_mut(v).zip(l.chunks_exact(v)).enumerate() {
            let (g_lp, g_h, h, lse_r) = (g[2 * r], g[2 * r + 1], both[2 * r + 1], lse[r]);
            for (o, &x) in dr.iter_mut().zip(lr) {
                let logp = x - lse_r;
                let p = exp(logp);
                *o = -g_lp * p - g_h * p * (logp + h);
            }
            dr[targets[r] as usize] += g_lp;
        }
    }
}

#[derive(Debug, Clone)]
struct ChosenWithEntropy {
    logits: FlexTensor,
    both: Arc<Vec<f32>>,
    lse: Arc<Vec<f32>>,
    targets: Arc<Vec<u32>>,
}

#[derive(Debug)]
struct LogprobEntropyBackward;

impl Backward<Flex, 1> for LogprobEntropyBackward {
    type State = ChosenWithEntropy;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let [Some(parent)] = ops.parents else { return };
        let ChosenWithEntropy { logits, both, lse, targets } = ops.state;
        let v = logits.shape().dims::<3>()[2];
        let (l, g) = (host(&logits), host(&grad));
        let mut dl = vec![0.0f32; l.len()];
        let task = ROWS_PER_TASK * v;
        dl.par_chunks_mut(task)
            .zip(l.par_chunks(task))
            .zip(g.par_chunks(ROWS_PER_TASK * 2))
            .zip(both.par_chunks(ROWS_PER_TASK * 2))
            .zip(lse.par_chunks(ROWS_PER_TASK))
            .zip(targets.par_chunks(ROWS_PER_TASK))
            .for_each(|(((((dl, l), g), both), lse), targets)| {
                logprob_entropy_grad_kernel(dl, l, g, both, lse, targets)
            });
        grads.register::<Flex>(parent.id, flex(dl, logits.shape()));
    }
}

fn logprob_entropy_autodiff(logits: FloatTensor<Ad>, targets: &[u32]) -> FloatTensor<Ad> {
    let l = logits.primitive();
    record(LogprobEntropyBackward, [logits.node()], |tracked| {
        let (both, lse) = logprob_entropy_forward(l, targets);
        let state = || ChosenWithEntropy {
            logits: l.clone(),
            both: Arc::new(host(&both).into_owned()),
            lse: Arc::new(lse),
            targets: Arc::new(targets.to_vec()),
        };
        (both.clone(), tracked.then(state))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn exp_is_within_two_ulp_of_libm(x in -87.0f32..88.0) {
            let (got, want) = (exp(x), x.exp());
            prop_assert!((got - want).abs() <= 2.0 * f32::EPSILON * want, "exp({x}) = {got}, libm {want}");
        }

        #[test]
        fn exp_is_monotone_and_clamped(x in -200.0f32..200.0, dx in 0.0f32..1.0) {
            prop_assert!(exp(x + dx) >= exp(x) * (1.0 - 4.0 * f32::EPSILON));
            prop_assert!(exp(x).is_finite() && exp(x) > 0.0);
        }
    }

    #[test]
    fn exp_of_zero_is_one() {
        assert_eq!(exp(0.0), 1.0);
    }
}
