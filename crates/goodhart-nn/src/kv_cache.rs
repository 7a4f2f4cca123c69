//! [`KvCache`]: preallocated per-layer keys and values for incremental decoding.

use burn::prelude::*;

use crate::GptConfig;

/// Keys and values of every attention layer for the positions decoded so far.
///
/// Per layer, keys and values are preallocated as `[B, H, T_cap, Dh]` tensors
/// (`T_cap` = capacity, at most `max_seq_len`). A forward pass over `T_new`
/// tokens writes their keys/values in place at positions
/// `len() .. len() + T_new` (`slice_assign` on a uniquely owned buffer, so no
/// copy of the cache) and the queries attend to the *view* `[.., .., 0..len()+T_new, ..]`,
/// so work per new token is O(context), never O(capacity), and earlier
/// positions are never recomputed. Positions `>= len()` hold stale values
/// (after [`KvCache::reset`]) or zeros and are never read.
///
/// All rows of the batch share one length: the cache assumes every row's
/// prompt has the same number of tokens (positions are shared). With ragged
/// prompts, group rows by length or decode them separately.
///
/// The cache is meant for inference: create it on a plain (non-autodiff)
/// device and use a model on that device (`model.valid()`). On an autodiff
/// device it still computes the right values but records a graph and copies.
#[derive(Debug)]
pub struct KvCache {
    layers: Vec<LayerKv>,
    len: usize,
    batch: usize,
    capacity: usize,
}

/// One layer's buffers. `Option` only so that the tensors can be moved out,
/// updated in place and moved back (keeping them uniquely owned).
#[derive(Debug)]
pub(crate) struct LayerKv {
    k: Option<Tensor<4>>,
    v: Option<Tensor<4>>,
}

impl KvCache {
    /// An empty cache for `batch` sequences of up to `config.max_seq_len` tokens.
    pub fn new(config: &GptConfig, batch: usize, device: &Device) -> Self {
        Self::with_capacity(config, batch, config.max_seq_len, device)
    }

    /// An empty cache for `batch` sequences of up to `capacity` tokens
    /// (saves memory when prompt + completion is shorter than `max_seq_len`).
    ///
    /// # Panics
    /// If `capacity` is 0 or exceeds `config.max_seq_len`.
    pub fn with_capacity(config: &GptConfig, batch: usize, capacity: usize, device: &Device) -> Self {
        assert!(
            capacity > 0 && capacity <= config.max_seq_len,
            "KvCache capacity {capacity} must be in 1..={} (max_seq_len)",
            config.max_seq_len
        );
        let shape = [batch, config.n_heads, capacity, config.head_dim()];
        let layers = (0..config.n_layers)
            .map(|_| LayerKv { k: Some(Tensor::zeros(shape, device)), v: Some(Tensor::zeros(shape, device)) })
            .collect();
        Self { layers, len: 0, batch, capacity }
    }

    /// Number of positions already processed (the next token's position).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no position has been processed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum number of positions the cache can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Batch size the cache was allocated for.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// Forget all positions (keeps the buffers; stale values are never read).
    pub fn reset(&mut self) {
        self.len = 0;
    }

    /// Checks that `t_new` more positions of a `[batch, _]` input fit, and
    /// returns the position of the first new token.
    pub(crate) fn begin(&self, batch: usize, t_new: usize) -> usize {
        assert_eq!(batch, self.batch, "KvCache was allocated for batch {}, got {batch}", self.batch);
        assert!(
            self.len + t_new <= self.capacity,
            "KvCache overflow: {} cached + {t_new} new positions > capacity {}",
            self.len,
            self.capacity
        );
        self.len
    }

    /// Layer `i`'s buffers.
    pub(crate) fn layer(&mut self, i: usize) -> &mut LayerKv {
        &mut self.layers[i]
    }

    /// Marks `t_new` positions as filled (after every layer has written them).
    pub(crate) fn advance(&mut self, t_new: usize) {
        self.len += t_new;
    }
}

impl LayerKv {
    /// Writes `k_new`, `v_new` at positions `start..start + T_new` and returns
    /// views of the filled prefix `0..start + T_new` (no copy).
    ///
    /// # Shapes
    /// - `k_new`, `v_new`: `[B, H, T_new, Dh]`
    /// - returns `(k, v)`: `[B, H, start + T_new, Dh]` each
    pub(crate) fn append(
        &mut self,
        start: usize,
        k_new: Tensor<4>,
        v_new: Tensor<4>,
    ) -> (Tensor<4>, Tensor<4>) {
        let [b, h, t_new, dh] = k_new.dims();
        let end = start + t_new;
        let write = |buf: &mut Option<Tensor<4>>, new: Tensor<4>| {
            // Move out so the buffer is uniquely owned: Flex then writes in place.
            let full = buf
                .take()
                .expect("KvCache buffer present")
                .slice_assign([0..b, 0..h, start..end, 0..dh], new);
            let view = full.clone().slice([0..b, 0..h, 0..end, 0..dh]);
            *buf = Some(full);
            view
        };
        let k = write(&mut self.k, k_new);
        let v = write(&mut self.v, v_new);
        (k, v)
    }
}
