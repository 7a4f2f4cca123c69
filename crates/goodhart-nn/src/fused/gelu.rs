//! GELU, `x Φ(x)`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Flex, TensorMetadata};
use burn::prelude::*;
use rayon::prelude::*;

use crate::kernels::{self, exp, kernel};

use super::*;

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

pub(super) fn gelu_forward(x: &FlexTensor) -> FlexTensor {
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
pub(super) struct GeluBackward;

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

pub(super) fn gelu_autodiff(x: FloatTensor<Ad>) -> FloatTensor<Ad> {
    let x_ = x.primitive();
    record(GeluBackward, [x.node()], |tracked| (gelu_forward(x_), tracked.then(|| x_.clone())))
}
