//! Decoder-only transformer (GPT) on [burn](https://burn.dev) 0.22 for the
//! *goodhart* workspace, which reproduces Gao, Schulman & Hilton (2022),
//! "Scaling Laws for Reward Model Overoptimization", on CPU.
//!
//! Policies and reward models share one trunk:
//!
//! * [`Gpt`] = [`Transformer`] + [`LmHead`]: next-token logits (policy,
//!   reference policy, "gold" generator).
//! * [`ScalarModel`] = [`Transformer`] + [`ScalarHead`]: one scalar per
//!   sequence (proxy and gold reward models).
//!
//! # Model layout
//!
//! GPT-2 style, pre-LayerNorm (sizes: [`GptConfig`]; `B` batch, `T` positions,
//! `D` = `d_model`, `H` heads of `Dh = D/H`, `F` = `d_ff`, `V` = `vocab_size`):
//!
//! ```text
//! tokens [B,T] ─ tok_emb [V,D] + pos_emb [T_max,D] ─▶ x [B,T,D]
//! repeat n_layers:  x = x + attn(ln1(x))     causal MHA, fused qkv D→3D, proj D→D
//!                   x = x + mlp(ln2(x))      fc1 D→F, GELU, fc2 F→D
//! ln_f(x) [B,T,D] ─┬─ LmHead  D→V (no bias)            → logits [B,T,V]
//!                  └─ ScalarHead D→1 at position len-1 → reward [B]
//! ```
//!
//! Every forward documents its tensor shapes in a `# Shapes` section.
//! Heads are separate modules and all fields are public, so other
//! compositions (e.g. a per-token value head) are one line:
//! `model.head.forward(..)` on `model.trunk.forward(tokens)`.
//!
//! # KV cache
//!
//! [`KvCache`] preallocates, per layer, keys and values as `[B, H, T_cap, Dh]`
//! tensors. [`Gpt::forward_cached`] embeds the new tokens at positions
//! `cache.len() ..`, writes their keys/values in place (`slice_assign` on a
//! uniquely owned buffer: no copy of the cache) and attends over the view of
//! the filled prefix `0 .. len + T_new`, so one decoding step costs O(context)
//! and never recomputes earlier positions. Positions past `len()` are never
//! read (a causal mask offset by the cache length handles `T_new > 1`; a
//! single new token needs no mask). The state is passed explicitly:
//!
//! ```
//! # use burn::prelude::*;
//! # use goodhart_nn::{GptConfig, KvCache};
//! # let device = Device::flex();
//! # let config = GptConfig { vocab_size: 11, d_model: 8, n_layers: 1, n_heads: 2, d_ff: 16, max_seq_len: 8 };
//! # let model = config.init_gpt(&device, 0);
//! let mut cache = KvCache::new(&config, 2, &device);
//! let prompt = Tensor::<2, Int>::from_ints([[1, 2, 3], [4, 5, 6]], &device);
//! let logits = model.forward_cached(prompt, &mut cache); // [2, 3, V]
//! let next = logits.slice([0..2, 2..3]).argmax(2).reshape([2, 1]); // greedy, [2, 1]
//! let logits = model.forward_cached(next, &mut cache); // [2, 1, V]
//! assert_eq!(cache.len(), 4);
//! # assert_eq!(logits.dims(), [2, 1, 11]);
//! ```
//!
//! All rows of a cached batch share one length (same prompt length).
//!
//! # Padding invariant
//!
//! Batches are **right-padded**. Attention is causal, so a real token at
//! position `i` attends only to positions `<= i`, all of which are real: the
//! outputs at real positions do not depend on the pads, and no key-padding
//! mask is needed. Callers must only read outputs at real positions:
//! [`ScalarModel::forward`] reads position `lengths[b] - 1`, and LM losses
//! must mask targets at pad positions.
//!
//! # Parameter counts
//!
//! The project reports [`GptConfig::non_embedding_params`] as a model's
//! "params": the Kaplan et al. (2020) convention used by OpenAI's scaling-law
//! papers, which excludes the token and position embeddings and the
//! vocabulary projection (the LM head), and here also the `D + 1` scalar
//! head, so a policy and a reward model of the same preset have the same
//! "params". Report the total beside it: [`GptConfig::num_params`] (LM) or
//! [`GptConfig::num_params_scalar`] (reward model). Named size presets from
//! ~10k to ~30M non-embedding parameters: [`PRESETS`], [`GptConfig::preset`].
//!
//! # Initialisation
//!
//! [`GptConfig::init_gpt`] / [`GptConfig::init_scalar`] draw the initial
//! weights on the host from a SplitMix64 stream seeded by `(seed, parameter
//! path)`, not from burn's process-global, lazily used RNG: the same seed gives
//! bit-identical weights regardless of what else runs, and the trunk of an LM
//! and of a reward model with the same seed are identical. Scheme (GPT-2):
//! weights `N(0, 0.02²)`, residual projections (`attn.proj`, `mlp.fc2`)
//! `N(0, (0.02/√(2L))²)`, biases 0, LayerNorm `γ = 1, β = 0`; scalar head
//! `N(0, 1/(D+1))`.
//!
//! # Checkpoints
//!
//! `save(dir)` writes `config.json` and `model.bpk` (burnpack), each
//! atomically; `load(dir, &device)` reads them back, with [`NnError`]s that
//! name the file and the fix. `export_safetensors(path)` writes PyTorch-layout
//! weights for a PyTorch twin; the name mapping is in [`checkpoint`].
//!
//! # Training
//!
//! Build (or load) the model on `device.autodiff()`; use `model.valid()` for
//! inference copies (rollouts, reference model) and the KV cache.
//!
//! The model is written with the operations of [`fused`] (linear layers,
//! LayerNorm, GELU, causal attention, log-probabilities of chosen tokens): on
//! the Flex CPU backend each is one recorded operation with a hand-written
//! backward pass, elsewhere the burn composition it replaces.
//!
//! # Example
//!
//! ```
//! use burn::prelude::*;
//! use goodhart_nn::{GptConfig, ScalarModel};
//!
//! let device = Device::flex();
//! let config = GptConfig::preset("p10k", 32, 16).unwrap();
//! assert_eq!(config.non_embedding_params(), 9_872);
//!
//! let model = config.init_gpt(&device, 42);
//! let tokens = Tensor::<2, Int>::from_ints([[1, 2, 3, 4], [5, 6, 0, 0]], &device);
//! let logits = model.forward(tokens.clone());
//! assert_eq!(logits.dims(), [2, 4, 32]);
//!
//! let rm: ScalarModel = config.init_scalar(&device, 7);
//! let lengths = Tensor::<1, Int>::from_ints([4, 2], &device);
//! assert_eq!(rm.forward(tokens, lengths).dims(), [2]);
//! ```

mod alloc;
mod backend;
pub mod bf16;
pub mod checkpoint;
mod config;
mod engine;
mod error;
pub mod fused;
mod gpt;
mod heads;
mod init;
pub mod kernels;
mod kv_cache;
mod optim;
mod products;
mod scalar;
mod transformer;

pub use alloc::keep_freed_memory;
pub use backend::Backend;
pub use bf16::use_precision;
pub use config::{GptConfig, PRESETS};
pub use engine::{Engine, EngineCache};
pub use error::NnError;
pub use goodhart_core::precision::Precision;
pub use gpt::Gpt;
pub use heads::{LmHead, ScalarHead};
pub use kernels::erf;
pub use kv_cache::KvCache;
pub use optim::clip_global_norm;
pub use scalar::ScalarModel;
pub use transformer::{Attention, Block, Mlp, Transformer};
