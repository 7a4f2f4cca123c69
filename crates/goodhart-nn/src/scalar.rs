//! [`ScalarModel`]: the reward model = [`Transformer`] trunk + [`ScalarHead`]
//! read at the last real token.

use std::path::Path;

use burn::prelude::*;

use crate::checkpoint;
use crate::init::Init;
use crate::{GptConfig, NnError, ScalarHead, Transformer};

/// Sequence-to-scalar model (reward model): one number per sequence, read
/// from the hidden state of its last real token.
#[derive(Module, Debug)]
pub struct ScalarModel {
    pub trunk: Transformer,
    pub head: ScalarHead,
    /// The architecture this model was built for (not a parameter).
    #[module(skip)]
    config: GptConfig,
}

impl GptConfig {
    /// Builds a [`ScalarModel`] with deterministic initial weights. Its trunk
    /// is identical to the trunk of [`GptConfig::init_gpt`] with the same seed.
    ///
    /// # Panics
    /// If [`GptConfig::validate`] fails.
    pub fn init_scalar(&self, device: &Device, seed: u64) -> ScalarModel {
        ScalarModel::build(self, &Init::seeded(device, seed))
    }
}

impl ScalarModel {
    fn build(config: &GptConfig, init: &Init) -> Self {
        if let Err(e) = config.validate() {
            panic!("{e}");
        }
        Self {
            trunk: Transformer::new(config, init, "trunk"),
            head: ScalarHead::new(config, init, "head"),
            config: config.clone(),
        }
    }

    /// The architecture of this model.
    pub fn config(&self) -> &GptConfig {
        &self.config
    }

    /// One scalar per sequence, read at position `lengths[b] - 1`.
    ///
    /// Sequences are right-padded; because attention is causal, the output
    /// does not depend on the pad tokens (see [`Transformer`]).
    ///
    /// # Shapes
    /// - `tokens`: `[B, T]` token ids, right-padded
    /// - `lengths`: `[B]` number of real tokens per row, each in `1..=T`
    /// - output: `[B]`
    ///
    /// # Panics
    /// A length outside `1..=T` is an out-of-range gather (backend panic).
    pub fn forward(&self, tokens: Tensor<2, Int>, lengths: Tensor<1, Int>) -> Tensor<1> {
        let hidden = self.trunk.forward(tokens); // [B, T, D]
        let [b, _, d] = hidden.dims();
        let index = lengths.sub_scalar(1).reshape([b, 1, 1]).expand([b, 1, d]);
        let last = hidden.gather(1, index).reshape([b, d]); // [B, D]
        self.head.forward(last)
    }

    /// Writes `dir/config.json` and `dir/model.bpk` (see [`crate::checkpoint`]).
    ///
    /// # Errors
    /// [`NnError::Io`] if the directory or files cannot be written.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<(), NnError> {
        checkpoint::save(self, &self.config, dir.as_ref())
    }

    /// Loads a checkpoint written by [`ScalarModel::save`] onto `device`.
    ///
    /// # Errors
    /// As [`crate::Gpt::load`]; loading an LM checkpoint gives
    /// [`NnError::ConfigMismatch`].
    pub fn load(dir: impl AsRef<Path>, device: &Device) -> Result<Self, NnError> {
        let dir = dir.as_ref();
        let config = checkpoint::load_config(dir)?;
        checkpoint::load_weights(Self::build(&config, &Init::lazy(device)), dir)
    }

    /// Exports the weights as a float32 safetensors file in PyTorch layout
    /// (names and shapes: [`crate::checkpoint`]).
    ///
    /// # Errors
    /// [`NnError::Io`] if the file cannot be written.
    pub fn export_safetensors(&self, path: impl AsRef<Path>) -> Result<(), NnError> {
        let mut tensors = checkpoint::trunk_torch(&self.trunk);
        tensors.push(checkpoint::tensor_f32("head.weight".into(), self.head.weight.val().transpose()));
        tensors.push(checkpoint::tensor_f32("head.bias".into(), self.head.bias.val()));
        checkpoint::write_safetensors(path.as_ref(), tensors, &self.config)
    }
}
