//! [`Transformer`]: the shared decoder-only trunk (embeddings, pre-LayerNorm
//! blocks, final LayerNorm), used by both the policy ([`crate::Gpt`]) and the
//! reward model ([`crate::ScalarModel`]).

use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::softmax;

use crate::fused;
use crate::kernels::LN_EPS;

use crate::init::Init;
use crate::kv_cache::LayerKv;
use crate::{GptConfig, KvCache};

/// Standard deviation of the initial weights (GPT-2).
pub(crate) const INIT_STD: f64 = 0.02;

/// A Linear layer `d_in -> d_out` with `N(0, std²)` weight and zero bias.
/// (burn's `Linear.weight` is `[d_in, d_out]`, the transpose of PyTorch's.)
fn linear(init: &Init, path: &str, d_in: usize, d_out: usize, std: f64) -> Linear {
    Linear {
        weight: init.normal(&format!("{path}.weight"), [d_in, d_out], std),
        bias: Some(init.zeros([d_out])),
    }
}

/// LayerNorm over `d` features, `gamma = 1`, `beta = 0`, epsilon [`LN_EPS`].
fn layer_norm(init: &Init, d: usize) -> LayerNorm {
    LayerNormConfig::new(d).with_epsilon(LN_EPS).init(init.device())
}

/// Causal multi-head self-attention with one fused QKV projection.
#[derive(Module, Debug)]
pub struct Attention {
    /// `D -> 3D`; output columns are `[q | k | v]`, each split into `H` heads of `Dh`.
    pub qkv: Linear,
    /// Output projection `D -> D`.
    pub proj: Linear,
    /// Number of heads (a constant, not a parameter).
    pub n_heads: usize,
}

impl Attention {
    fn new(config: &GptConfig, init: &Init, path: &str) -> Self {
        let d = config.d_model;
        let resid_std = INIT_STD / (2.0 * config.n_layers as f64).sqrt();
        Self {
            qkv: linear(init, &format!("{path}.qkv"), d, 3 * d, INIT_STD),
            proj: linear(init, &format!("{path}.proj"), d, d, resid_std),
            n_heads: config.n_heads,
        }
    }

    /// Attention of `x` (positions `start .. start + T`) over itself and, with a
    /// cache, over the cached positions `0 .. start`; writes the new keys and
    /// values into the cache.
    ///
    /// # Shapes
    /// - `x`: `[B, T, D]` (already layer-normed)
    /// - output: `[B, T, D]`
    pub(crate) fn forward(&self, x: Tensor<3>, cache: Option<(&mut LayerKv, usize)>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let (h, dh) = (self.n_heads, d / self.n_heads);
        let qkv = fused::linear(x, &self.qkv); // [B, T, 3D]
        let Some(cache) = cache else {
            // The whole sequence: one fused operation on the CPU (see `fused`).
            return fused::linear(fused::causal_attention(qkv, h), &self.proj);
        };
        let head = |i: usize| {
            qkv.clone().narrow(2, i * d, d).reshape([b, t, h, dh]).swap_dims(1, 2)
            // [B, H, T, Dh]
        };
        // Scale q rather than the [B, H, T, T_k] scores (fewer elements).
        let q = head(0).mul_scalar(1.0 / (dh as f64).sqrt());
        let (kv, start) = cache;
        let (k, v) = kv.append(start, head(1), head(2));
        let t_k = k.dims()[2];
        let scores = q.matmul(k.swap_dims(2, 3)); // [B, H, T, T_k]
                                                  // Query i (absolute position t_k - t + i) may see keys 0 ..= t_k - t + i.
                                                  // A single query is the last position and sees every key: no mask.
        let scores = if t > 1 {
            let mask = Tensor::<2, Bool>::tril_mask([t, t_k], (t_k - t) as i64, &scores.device());
            scores.mask_fill(mask.reshape([1, 1, t, t_k]), f32::NEG_INFINITY)
        } else {
            scores
        };
        let y = softmax(scores, 3).matmul(v); // [B, H, T, Dh]
        self.proj.forward(y.swap_dims(1, 2).reshape([b, t, d]))
    }
}

/// Position-wise MLP `D -> F -> D` with GELU.
#[derive(Module, Debug)]
pub struct Mlp {
    /// `D -> F`.
    pub fc1: Linear,
    /// `F -> D`.
    pub fc2: Linear,
}

impl Mlp {
    fn new(config: &GptConfig, init: &Init, path: &str) -> Self {
        let resid_std = INIT_STD / (2.0 * config.n_layers as f64).sqrt();
        Self {
            fc1: linear(init, &format!("{path}.fc1"), config.d_model, config.d_ff, INIT_STD),
            fc2: linear(init, &format!("{path}.fc2"), config.d_ff, config.d_model, resid_std),
        }
    }

    /// # Shapes
    /// - `x`: `[B, T, D]` → `[B, T, D]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        fused::linear(fused::gelu(fused::linear(x, &self.fc1)), &self.fc2)
    }
}

/// Pre-LayerNorm transformer block:
/// `x + attn(ln1(x))`, then `x + mlp(ln2(x))`.
#[derive(Module, Debug)]
pub struct Block {
    pub ln1: LayerNorm,
    pub attn: Attention,
    pub ln2: LayerNorm,
    pub mlp: Mlp,
}

impl Block {
    fn new(config: &GptConfig, init: &Init, path: &str) -> Self {
        Self {
            ln1: layer_norm(init, config.d_model),
            attn: Attention::new(config, init, &format!("{path}.attn")),
            ln2: layer_norm(init, config.d_model),
            mlp: Mlp::new(config, init, &format!("{path}.mlp")),
        }
    }

    /// # Shapes
    /// - `x`: `[B, T, D]` → `[B, T, D]`
    pub(crate) fn forward(&self, x: Tensor<3>, cache: Option<(&mut LayerKv, usize)>) -> Tensor<3> {
        let x = x.clone() + self.attn.forward(fused::layer_norm(x, &self.ln1), cache);
        x.clone() + self.mlp.forward(fused::layer_norm(x, &self.ln2))
    }
}

/// The decoder-only trunk: token + learned position embedding, `n_layers`
/// pre-LayerNorm [`Block`]s, final LayerNorm.
///
/// Padding: sequences are **right-padded**. Attention is causal, so a real
/// token at position `i` only sees positions `<= i`, which are all real;
/// pads after the end can change only the (ignored) outputs at pad positions.
/// Hence no key-padding mask is needed, as long as callers read outputs only
/// at real positions (e.g. [`crate::ScalarModel`] reads position `len - 1`,
/// LM losses mask pad targets).
#[derive(Module, Debug)]
pub struct Transformer {
    /// Token embedding `[V, D]`.
    pub tok_emb: Embedding,
    /// Learned absolute position embedding `[T_max, D]`.
    pub pos_emb: Embedding,
    pub blocks: Vec<Block>,
    /// Final LayerNorm, applied before any head.
    pub ln_f: LayerNorm,
}

impl Transformer {
    /// Builds the trunk; `path` is the module path prefix of its parameters
    /// (used to derive each parameter's RNG stream).
    pub(crate) fn new(config: &GptConfig, init: &Init, path: &str) -> Self {
        let d = config.d_model;
        Self {
            tok_emb: Embedding {
                weight: init.normal(&format!("{path}.tok_emb.weight"), [config.vocab_size, d], INIT_STD),
            },
            pos_emb: Embedding {
                weight: init.normal(&format!("{path}.pos_emb.weight"), [config.max_seq_len, d], INIT_STD),
            },
            blocks: (0..config.n_layers)
                .map(|i| Block::new(config, init, &format!("{path}.blocks.{i}")))
                .collect(),
            ln_f: layer_norm(init, d),
        }
    }

    /// Embeddings of `tokens` placed at positions `start .. start + T`.
    fn embed(&self, tokens: Tensor<2, Int>, start: usize) -> Tensor<3> {
        let [_, t] = tokens.dims();
        let [max_len, d]: [usize; 2] = self.pos_emb.weight.shape().dims();
        assert!(start + t <= max_len, "sequence of {} positions exceeds max_seq_len {max_len}", start + t);
        // A slice of the position table is a zero-copy view; it broadcasts over B.
        let pos = self.pos_emb.weight.val().slice([start..start + t, 0..d]).reshape([1, t, d]);
        self.tok_emb.forward(tokens) + pos
    }

    /// Full causal forward pass.
    ///
    /// # Shapes
    /// - `tokens`: `[B, T]` token ids, `T <= max_seq_len`
    /// - output: `[B, T, D]` final-LayerNormed hidden states
    ///
    /// # Panics
    /// If `T > max_seq_len`.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let mut x = self.embed(tokens, 0);
        for block in &self.blocks {
            x = block.forward(x, None);
        }
        fused::layer_norm(x, &self.ln_f)
    }

    /// Incremental forward pass: processes `T_new` tokens at positions
    /// `cache.len() ..`, attending to the cached keys/values and to themselves,
    /// then advances the cache.
    ///
    /// # Shapes
    /// - `tokens`: `[B, T_new]`, `B = cache.batch_size()`
    /// - output: `[B, T_new, D]`, equal (up to float rounding) to positions
    ///   `cache.len() .. cache.len() + T_new` of [`Self::forward`] over the whole sequence
    ///
    /// # Panics
    /// If the batch size differs from the cache's or the cache would overflow.
    pub fn forward_cached(&self, tokens: Tensor<2, Int>, cache: &mut KvCache) -> Tensor<3> {
        let [b, t_new] = tokens.dims();
        let start = cache.begin(b, t_new);
        let mut x = self.embed(tokens, start);
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(x, Some((cache.layer(i), start)));
        }
        cache.advance(t_new);
        fused::layer_norm(x, &self.ln_f)
    }
}
