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

use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::ops::{Backward, NodeGuard, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::prelude::*;

pub use crate::products::matmul;
use crate::products::{gemm_strided, gemm_with};

mod attention;
mod gelu;
mod layer_norm;
mod linear;
mod logprobs;

pub use attention::{attention_reference, causal_attention};
pub use gelu::gelu;
pub use layer_norm::layer_norm;
pub use linear::{linear, project};
pub use logprobs::{token_logprobs, token_logprobs_and_entropy};

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

/// The tensor a [`Route`] holds, back as a tensor.
fn unroute<const D: usize>(r: Route<D>) -> Tensor<D> {
    match r {
        Route::Autodiff(t) => Tensor::from_primitive::<Ad>(t),
        Route::Flex(t) => Tensor::from_primitive::<Flex>(t),
        Route::Other(t) => t,
    }
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
