//! Training helpers burn does not provide in the form the paper's methods need.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

/// Global gradient-norm clipping, as PyTorch's `clip_grad_norm_`: if the L2 norm of all gradients
/// together exceeds `max_norm`, every gradient is scaled by `max_norm / norm`. Returns the norm
/// before clipping.
///
/// burn's `GradientClippingConfig::Norm` clips each parameter tensor on its own, which is a
/// different method; PPO and the paper's training use the global norm.
pub fn clip_global_norm<M: Module>(model: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let mut visitor = GradNorm { grads, sq: 0.0, scale: None };
    model.visit(&mut visitor);
    let norm = visitor.sq.sqrt();
    if norm > max_norm {
        visitor.scale = Some((max_norm / (norm + 1e-6)) as f32);
        model.visit(&mut visitor);
    }
    norm
}

struct GradNorm<'a> {
    grads: &'a mut GradientsParams,
    sq: f64,
    scale: Option<f32>,
}

impl ModuleVisitor for GradNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        match self.scale {
            None => {
                if let Some(g) = self.grads.get::<D>(param.id) {
                    self.sq += g.square().sum().into_scalar::<f32>() as f64;
                }
            }
            Some(s) => {
                if let Some(g) = self.grads.remove::<D>(param.id) {
                    self.grads.register::<D>(param.id, g.mul_scalar(s));
                }
            }
        }
    }
}
