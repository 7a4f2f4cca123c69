//! Output heads on top of the trunk's hidden states: [`LmHead`] (next-token
//! logits, for policies) and [`ScalarHead`] (one number, for reward models).

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::module::linear;

use crate::init::Init;
use crate::transformer::INIT_STD;
use crate::GptConfig;

/// Vocabulary projection `D -> V`, no bias, not tied to the token embedding.
#[derive(Module, Debug)]
pub struct LmHead {
    /// `[D, V]` (burn layout: input features first).
    pub weight: Param<Tensor<2>>,
}

impl LmHead {
    pub(crate) fn new(config: &GptConfig, init: &Init, path: &str) -> Self {
        let shape = [config.d_model, config.vocab_size];
        Self { weight: init.normal(&format!("{path}.weight"), shape, INIT_STD) }
    }

    /// # Shapes
    /// - `hidden`: `[B, T, D]`
    /// - output: `[B, T, V]` logits
    pub fn forward(&self, hidden: Tensor<3>) -> Tensor<3> {
        crate::fused::project(hidden, self.weight.val(), None)
    }
}

/// Scalar projection `D -> 1` with bias.
///
/// Initialised with weight `N(0, 1/(D+1))` and zero bias, as in OpenAI's
/// `lm-human-preferences` reward models.
#[derive(Module, Debug)]
pub struct ScalarHead {
    /// `[D, 1]`.
    pub weight: Param<Tensor<2>>,
    /// `[1]`.
    pub bias: Param<Tensor<1>>,
}

impl ScalarHead {
    pub(crate) fn new(config: &GptConfig, init: &Init, path: &str) -> Self {
        let std = 1.0 / ((config.d_model + 1) as f64).sqrt();
        Self {
            weight: init.normal(&format!("{path}.weight"), [config.d_model, 1], std),
            bias: init.zeros([1]),
        }
    }

    /// # Shapes
    /// - `hidden`: `[B, D]`
    /// - output: `[B]`
    pub fn forward(&self, hidden: Tensor<2>) -> Tensor<1> {
        let [b, _] = hidden.dims();
        linear(hidden, self.weight.val(), Some(self.bias.val())).reshape([b])
    }
}
