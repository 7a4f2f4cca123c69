//! [`Gpt`]: the language model (policy) = [`Transformer`] trunk + [`LmHead`].

use std::path::{Path, PathBuf};

use burn::prelude::*;

use crate::checkpoint;
use crate::init::Init;
use crate::{GptConfig, KvCache, LmHead, NnError, Transformer};

/// Decoder-only language model: trunk + untied vocabulary projection.
#[derive(Module, Debug)]
pub struct Gpt {
    pub trunk: Transformer,
    pub lm_head: LmHead,
    /// The architecture this model was built for (not a parameter).
    #[module(skip)]
    config: GptConfig,
}

impl GptConfig {
    /// Builds a [`Gpt`] with deterministic GPT-2-style initial weights: the
    /// same `(config, seed)` gives bit-identical weights on a given platform,
    /// independent of burn's global RNG (see [`crate`] docs, "Initialisation").
    ///
    /// Build on `device.autodiff()` to train, on a plain device for inference.
    ///
    /// # Panics
    /// If [`GptConfig::validate`] fails.
    pub fn init_gpt(&self, device: &Device, seed: u64) -> Gpt {
        Gpt::build(self, &Init::seeded(device, seed))
    }
}

impl Gpt {
    fn build(config: &GptConfig, init: &Init) -> Self {
        if let Err(e) = config.validate() {
            panic!("{e}");
        }
        Self {
            trunk: Transformer::new(config, init, "trunk"),
            lm_head: LmHead::new(config, init, "lm_head"),
            config: config.clone(),
        }
    }

    /// The architecture of this model.
    pub fn config(&self) -> &GptConfig {
        &self.config
    }

    /// Full causal forward pass.
    ///
    /// # Shapes
    /// - `tokens`: `[B, T]` token ids (right-padded), `T <= max_seq_len`
    /// - output: `[B, T, V]` logits; position `t` predicts token `t + 1`
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        self.lm_head.forward(self.trunk.forward(tokens))
    }

    /// Incremental forward pass with a [`KvCache`]: the first call usually
    /// takes the whole prompt (`T_new` = prompt length), later calls one
    /// token each. New tokens sit at positions `cache.len() ..`, attend to the
    /// cached keys/values and to each other (causally); the cache advances by
    /// `T_new`. Cost per new token is O(context); earlier positions are never
    /// recomputed.
    ///
    /// # Shapes
    /// - `tokens`: `[B, T_new]`, `B = cache.batch_size()`
    /// - output: `[B, T_new, V]` logits, equal (up to float rounding) to the
    ///   same positions of [`Self::forward`] over the whole sequence
    ///
    /// # Panics
    /// If the batch size differs from the cache's, or `cache.len() + T_new`
    /// exceeds the cache capacity.
    pub fn forward_cached(&self, tokens: Tensor<2, Int>, cache: &mut KvCache) -> Tensor<3> {
        self.lm_head.forward(self.trunk.forward_cached(tokens, cache))
    }

    /// Writes `dir/config.json` and `dir/model.bpk` (see [`crate::checkpoint`]).
    ///
    /// # Errors
    /// [`NnError::Io`] if the directory or files cannot be written.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<(), NnError> {
        checkpoint::save(self, &self.config, dir.as_ref())
    }

    /// Loads a checkpoint written by [`Gpt::save`] onto `device` (use
    /// `device.autodiff()` to continue training).
    ///
    /// # Errors
    /// [`NnError::MissingFile`], [`NnError::CorruptFile`] (unreadable config
    /// or weights), [`NnError::ConfigMismatch`] (weights of another shape or
    /// another model type), [`NnError::Io`].
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
        tensors.push(checkpoint::tensor_f32("lm_head.weight".into(), self.lm_head.weight.val().transpose()));
        checkpoint::write_safetensors(path.as_ref(), tensors, &self.config)
    }

    /// Exports the weights for a PyTorch twin ([`Self::export_safetensors`] at `path`) together
    /// with a parity reference: `reference_tokens` and this model's logits on them, written as
    /// JSON `{"tokens": [..], "logits": [..]}` (logits `[T, V]` flattened row-major) beside the
    /// weights, at `path` with the extension `reference.json`. The twin loads the weights, runs
    /// the tokens and must reproduce the logits. Returns the reference's path.
    ///
    /// # Errors
    /// [`NnError::Io`] if a file cannot be written.
    ///
    /// # Panics
    /// If `reference_tokens` is empty, longer than `max_seq_len` or holds an id outside the vocabulary.
    pub fn export_twin(&self, path: impl AsRef<Path>, reference_tokens: &[u32]) -> Result<PathBuf, NnError> {
        let path = path.as_ref();
        self.export_safetensors(path)?;
        let ids: Vec<i32> = reference_tokens.iter().map(|&t| t as i32).collect();
        let tokens = Tensor::<2, Int>::from_data(
            TensorData::new(ids, [1, reference_tokens.len()]),
            &self.lm_head.weight.device(),
        );
        let logits: Vec<f32> =
            self.forward(tokens).into_data().convert::<f32>().try_into_vec().expect("f32 logits");
        let reference = serde_json::json!({ "tokens": reference_tokens, "logits": logits });
        let reference_path = path.with_extension("reference.json");
        checkpoint::write_atomic(&reference_path, reference.to_string().as_bytes())?;
        Ok(reference_path)
    }
}
