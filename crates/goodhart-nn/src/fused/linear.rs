//! Linear layers, `x W + b`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Flex, TensorMetadata};
use burn::nn::Linear;
use burn::prelude::*;
use gemm::Parallelism;
use rayon::prelude::*;

use super::*;

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

pub(super) fn linear_forward(x: &FlexTensor, w: &FlexTensor, bias: Option<&[f32]>) -> FlexTensor {
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
pub(super) struct LinearInputs {
    x: FlexTensor,
    w: FlexTensor,
}

/// `dx = dy Wᵀ`, `dW = xᵀ dy`, `db = Σ_rows dy`, each only where a parent wants it.
pub(super) fn linear_grads(
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
pub(super) struct LinearBackward;

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

pub(super) fn linear_autodiff(
    x: FloatTensor<Ad>,
    w: FloatTensor<Ad>,
    b: Option<FloatTensor<Ad>>,
) -> FloatTensor<Ad> {
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
