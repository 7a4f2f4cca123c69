//! [`GptConfig`]: the architecture hyper-parameters, named size presets and
//! parameter counting.

use serde::{Deserialize, Serialize};

use crate::NnError;

/// Names accepted by [`GptConfig::preset`], smallest first.
///
/// The number in the name is the target *non-embedding* parameter count
/// ([`GptConfig::non_embedding_params`]); the exact counts are listed in the
/// table on [`GptConfig::preset`].
pub const PRESETS: &[&str] =
    &["p100", "p300", "p1k", "p3k", "p10k", "p30k", "p100k", "p300k", "p1m", "p3m", "p10m", "p30m"];

/// Architecture of a decoder-only transformer (GPT-2 style, pre-LayerNorm).
///
/// Serialised as JSON (`config.json` in every checkpoint directory); all
/// fields are required.
///
/// Fixed choices that are *not* configurable: LayerNorm epsilon `1e-5`, exact (`erf`)
/// GELU in the MLP (PyTorch `nn.GELU()`), biases on every Linear of the trunk, no
/// dropout, learned absolute position embeddings, untied LM head without bias.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GptConfig {
    /// Number of token ids; token ids must lie in `0..vocab_size`.
    pub vocab_size: usize,
    /// Width of the residual stream (`D`).
    pub d_model: usize,
    /// Number of transformer blocks (`L`).
    pub n_layers: usize,
    /// Number of attention heads (`H`); must divide `d_model`.
    pub n_heads: usize,
    /// Hidden width of the MLP (`F`, usually `4 * d_model`).
    pub d_ff: usize,
    /// Number of learned positions; the longest sequence the model accepts.
    pub max_seq_len: usize,
}

impl GptConfig {
    /// A named size preset (see [`PRESETS`]) for the given vocabulary and
    /// context length. All presets use `d_ff = 4 * d_model` and a head width
    /// `d_model / n_heads` of 3 to 64. Depth never falls as size grows, so a
    /// larger preset is never a shallower model than a smaller one.
    ///
    /// | name    | `d_model` | `n_layers` | `n_heads` | non-embedding params |
    /// |---------|----------:|-----------:|----------:|---------------------:|
    /// | `p100`  |   3 |  1 | 1 |        153 |
    /// | `p300`  |   4 |  1 | 1 |        252 |
    /// | `p1k`   |   6 |  2 | 2 |      1 032 |
    /// | `p3k`   |  10 |  2 | 2 |      2 680 |
    /// | `p10k`  |  16 |  3 | 2 |      9 872 |
    /// | `p30k`  |  24 |  4 | 3 |     28 944 |
    /// | `p100k` |  40 |  5 | 5 |     98 680 |
    /// | `p300k` |  64 |  6 | 4 |    300 032 |
    /// | `p1m`   | 128 |  5 | 4 |    991 616 |
    /// | `p3m`   | 192 |  7 | 6 |  3 114 432 |
    /// | `p10m`  | 320 |  8 | 5 |  9 864 320 |
    /// | `p30m`  | 512 | 10 | 8 | 31 524 864 |
    ///
    /// The non-embedding count is `L * (12 D² + 13 D) + 2 D` and does not
    /// depend on the vocabulary or context length.
    ///
    /// # Errors
    /// [`NnError::UnknownPreset`] for a name not in [`PRESETS`].
    pub fn preset(name: &str, vocab_size: usize, max_seq_len: usize) -> Result<Self, NnError> {
        let (d_model, n_layers, n_heads) = match name {
            "p100" => (3, 1, 1),
            "p300" => (4, 1, 1),
            "p1k" => (6, 2, 2),
            "p3k" => (10, 2, 2),
            "p10k" => (16, 3, 2),
            "p30k" => (24, 4, 3),
            "p100k" => (40, 5, 5),
            "p300k" => (64, 6, 4),
            "p1m" => (128, 5, 4),
            "p3m" => (192, 7, 6),
            "p10m" => (320, 8, 5),
            "p30m" => (512, 10, 8),
            _ => return Err(NnError::UnknownPreset { name: name.to_string() }),
        };
        Ok(Self { vocab_size, d_model, n_layers, n_heads, d_ff: 4 * d_model, max_seq_len })
    }

    /// Width of one attention head, `d_model / n_heads`.
    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads
    }

    /// Checks that every size is positive and that `n_heads` divides `d_model`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] naming the offending field.
    pub fn validate(&self) -> Result<(), NnError> {
        let fields = [
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("d_ff", self.d_ff),
            ("max_seq_len", self.max_seq_len),
        ];
        for (name, value) in fields {
            if value == 0 {
                return Err(NnError::InvalidConfig { reason: format!("{name} must be > 0") });
            }
        }
        if !self.d_model.is_multiple_of(self.n_heads) {
            return Err(NnError::InvalidConfig {
                reason: format!("n_heads ({}) must divide d_model ({})", self.n_heads, self.d_model),
            });
        }
        Ok(())
    }

    /// Parameters of one transformer block:
    /// `ln1 (2D) + qkv (3D² + 3D) + proj (D² + D) + ln2 (2D) + fc1 (DF + F) + fc2 (FD + D)`.
    fn block_params(&self) -> usize {
        let (d, f) = (self.d_model, self.d_ff);
        2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * f + f) + (f * d + d)
    }

    /// Non-embedding parameter count, the number this project reports as
    /// "params" (the convention of Kaplan et al. 2020, used by OpenAI's
    /// scaling-law papers incl. Gao et al. 2022).
    ///
    /// Counts the transformer blocks and the final LayerNorm; excludes the
    /// token embedding, the position embedding and the vocabulary projection
    /// of the LM head ("all vocabulary and positional embeddings"), and the
    /// `D + 1` scalar head. It is therefore the same for a policy ([`crate::Gpt`])
    /// and a reward model ([`crate::ScalarModel`]) built from the same config,
    /// and independent of `vocab_size` and `max_seq_len`.
    pub fn non_embedding_params(&self) -> usize {
        self.n_layers * self.block_params() + 2 * self.d_model
    }

    /// All parameters of the trunk ([`crate::Transformer`]): non-embedding
    /// parameters plus token (`V·D`) and position (`T·D`) embeddings.
    pub fn trunk_params(&self) -> usize {
        self.non_embedding_params() + (self.vocab_size + self.max_seq_len) * self.d_model
    }

    /// All parameters of the language model [`crate::Gpt`]: trunk plus the
    /// `D·V` LM head (no bias). Report it beside [`Self::non_embedding_params`].
    /// Equals burn's `Module::num_params` of the built model.
    pub fn num_params(&self) -> usize {
        self.trunk_params() + self.d_model * self.vocab_size
    }

    /// All parameters of the reward model [`crate::ScalarModel`]: trunk plus
    /// the `D + 1` scalar head. Equals burn's `Module::num_params` of the built model.
    pub fn num_params_scalar(&self) -> usize {
        self.trunk_params() + self.d_model + 1
    }
}
