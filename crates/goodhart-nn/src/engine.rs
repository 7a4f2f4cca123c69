//! [`Engine`]: inference for a trained [`Gpt`] or [`ScalarModel`] in plain Rust on the CPU.
//!
//! Training runs on burn's autodiff; sampling and scoring, which dominate best-of-n and PPO, run
//! here, the way RLHF stacks put a fast inference engine beside the trainer. The engine copies the
//! weights out of the burn model (a few MB at our sizes) and computes the same function as
//! [`Transformer::forward`](crate::Transformer::forward) and its heads: token + position
//! embedding, pre-LayerNorm blocks (fused QKV, causal softmax attention, GELU MLP), final
//! LayerNorm. Matrix products go to the `gemm` crate (the one burn's CPU backend uses); attention,
//! LayerNorm and GELU are fused loops over rows, so a decoding step makes no tensor allocations
//! and no per-op dispatch. Parity with the burn forward is tested (`tests/engine.rs`).
//!
//! Like [`KvCache`](crate::KvCache), one [`EngineCache`] holds keys and values for a batch of
//! rows that share positions.

use std::sync::OnceLock;

use burn::prelude::*;
use gemm::Parallelism;
use rayon::prelude::*;

use crate::bf16::PackedB;
use crate::kernels::{dot, gelu, layer_norm_row, softmax_unnormalised, LN_EPS};
use crate::products::attend_head;
use crate::{Gpt, GptConfig, ScalarModel, Transformer};

/// Calls with at least this many multiply-adds split their rows across threads.
const PARALLEL_MACS: usize = 1 << 20;

/// A dense layer `y = x W + b` with `W` stored `[d_in, d_out]` row-major (burn's layout).
#[derive(Debug, Clone)]
struct Dense {
    w: Vec<f32>,
    b: Option<Vec<f32>>,
    d_in: usize,
    d_out: usize,
    /// `w` rounded and laid out for the bf16 units, on first use in bf16.
    bf16: OnceLock<PackedB>,
}

impl Dense {
    fn new(w: Vec<f32>, b: Option<Vec<f32>>, d_in: usize, d_out: usize) -> Self {
        Dense { w, b, d_in, d_out, bf16: OnceLock::new() }
    }
}

#[derive(Debug, Clone)]
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

#[derive(Debug, Clone)]
struct Layer {
    ln1: Norm,
    qkv: Dense,
    proj: Dense,
    ln2: Norm,
    fc1: Dense,
    fc2: Dense,
}

#[derive(Debug, Clone)]
enum Head {
    /// Vocabulary logits.
    Lm(Dense),
    /// One number per sequence.
    Scalar(Dense),
}

/// The weights of a [`Gpt`] or [`ScalarModel`] on the host, and the forward pass over them.
#[derive(Debug, Clone)]
pub struct Engine {
    config: GptConfig,
    tok_emb: Vec<f32>,
    pos_emb: Vec<f32>,
    layers: Vec<Layer>,
    ln_f: Norm,
    head: Head,
}

/// Keys and values of every layer for a batch of rows decoded together (layout
/// `[layer][B, H, capacity, Dh]`).
#[derive(Debug, Clone)]
pub struct EngineCache {
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    batch: usize,
    capacity: usize,
    len: usize,
}

impl EngineCache {
    /// Number of positions already processed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no position has been processed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Batch size the cache was allocated for.
    pub fn batch_size(&self) -> usize {
        self.batch
    }
}

/// One thread's share of [`Engine::trunk`]: some rows' tokens, their outputs, and their part of
/// every layer's keys and values.
struct Block<'a> {
    tokens: &'a [u32],
    out: &'a mut [f32],
    k: Vec<&'a mut [f32]>,
    v: Vec<&'a mut [f32]>,
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 weights")
}

fn dense(l: &burn::nn::Linear) -> Dense {
    let [d_in, d_out] = l.weight.dims();
    Dense::new(host(l.weight.val()), l.bias.as_ref().map(|b| host(b.val())), d_in, d_out)
}

fn norm(l: &burn::nn::LayerNorm) -> Norm {
    let gamma = host(l.gamma.val());
    let beta = l.beta.as_ref().map(|b| host(b.val())).unwrap_or_else(|| vec![0.0; gamma.len()]);
    Norm { gamma, beta }
}

impl Engine {
    /// The engine of a policy: [`Engine::logits`] and [`Engine::decode`] give its logits.
    pub fn from_gpt(model: &Gpt) -> Self {
        let [d_in, d_out] = model.lm_head.weight.dims();
        let head = Head::Lm(Dense::new(host(model.lm_head.weight.val()), None, d_in, d_out));
        Self::build(model.config(), &model.trunk, head)
    }

    /// The engine of a reward model: [`Engine::scores`] gives its raw scores.
    pub fn from_scalar(model: &ScalarModel) -> Self {
        let head = Dense::new(
            host(model.head.weight.val()),
            Some(host(model.head.bias.val())),
            model.config().d_model,
            1,
        );
        Self::build(model.config(), &model.trunk, Head::Scalar(head))
    }

    fn build(config: &GptConfig, trunk: &Transformer, head: Head) -> Self {
        let layers = trunk
            .blocks
            .iter()
            .map(|b| Layer {
                ln1: norm(&b.ln1),
                qkv: dense(&b.attn.qkv),
                proj: dense(&b.attn.proj),
                ln2: norm(&b.ln2),
                fc1: dense(&b.mlp.fc1),
                fc2: dense(&b.mlp.fc2),
            })
            .collect();
        Self {
            config: config.clone(),
            tok_emb: host(trunk.tok_emb.weight.val()),
            pos_emb: host(trunk.pos_emb.weight.val()),
            layers,
            ln_f: norm(&trunk.ln_f),
            head,
        }
    }

    /// The architecture.
    pub fn config(&self) -> &GptConfig {
        &self.config
    }

    /// An empty cache for `batch` rows of up to `capacity` positions.
    ///
    /// # Panics
    /// If `capacity` is 0 or exceeds `max_seq_len`.
    pub fn cache(&self, batch: usize, capacity: usize) -> EngineCache {
        assert!(
            capacity > 0 && capacity <= self.config.max_seq_len,
            "EngineCache capacity {capacity} must be in 1..={} (max_seq_len)",
            self.config.max_seq_len
        );
        let size = batch * self.config.d_model * capacity;
        EngineCache {
            k: vec![vec![0.0; size]; self.config.n_layers],
            v: vec![vec![0.0; size]; self.config.n_layers],
            batch,
            capacity,
            len: 0,
        }
    }

    /// Logits `[B, T, V]` (row-major) of right-padded `tokens` `[B, T]`, as
    /// [`Gpt::forward`]; position `t` predicts token `t + 1`.
    ///
    /// # Panics
    /// If this is a reward model's engine, or a token is out of the vocabulary, or `T` exceeds
    /// `max_seq_len`.
    pub fn logits(&self, tokens: &[u32], batch: usize) -> Vec<f32> {
        let t = tokens.len() / batch.max(1);
        let mut cache = self.cache(batch, t.max(1));
        self.decode(tokens, &mut cache)
    }

    /// Incremental forward pass, as [`Gpt::forward_cached`]: `tokens` `[B, T_new]` at positions
    /// `cache.len() ..`, attending to the cached positions and to each other causally. Returns
    /// logits `[B, T_new, V]` and advances the cache.
    ///
    /// # Panics
    /// If this is a reward model's engine, the batch differs from the cache's, or the cache
    /// would overflow.
    pub fn decode(&self, tokens: &[u32], cache: &mut EngineCache) -> Vec<f32> {
        let Head::Lm(head) = &self.head else { panic!("Engine::decode needs a policy (Gpt) engine") };
        self.trunk(tokens, cache, Some(head))
    }

    /// Raw scores of right-padded `tokens` `[B, T]` read at positions `lengths[b] - 1`, as
    /// [`ScalarModel::forward`].
    ///
    /// # Panics
    /// If this is a policy's engine, or a length is outside `1..=T`.
    pub fn scores(&self, tokens: &[u32], lengths: &[usize]) -> Vec<f32> {
        let Head::Scalar(head) = &self.head else { panic!("Engine::scores needs a reward model engine") };
        let b = lengths.len();
        let t = tokens.len() / b.max(1);
        let d = self.config.d_model;
        let mut cache = self.cache(b, t.max(1));
        let hidden = self.trunk(tokens, &mut cache, None);
        lengths
            .iter()
            .enumerate()
            .map(|(r, &len)| {
                assert!((1..=t).contains(&len), "length {len} outside 1..={t}");
                let h = &hidden[(r * t + len - 1) * d..(r * t + len) * d];
                let bias = head.b.as_ref().map_or(0.0, |b| b[0]);
                bias + dot(h, &head.w)
            })
            .collect()
    }

    /// Final-LayerNormed hidden states `[B, T_new, D]` of `tokens` `[B, T_new]` at positions
    /// `cache.len() ..`, or with `head` its outputs `[B, T_new, d_out]`; writes the new keys and
    /// values and advances the cache.
    ///
    /// Rows of the batch never interact, so a large batch is split into one block of rows per
    /// thread, each running the whole network single-threaded: one synchronisation per call
    /// instead of one per operation (which at these sizes costs more than it saves).
    fn trunk(&self, tokens: &[u32], cache: &mut EngineCache, head: Option<&Dense>) -> Vec<f32> {
        let c = &self.config;
        let b = cache.batch;
        assert!(
            b > 0 && tokens.len().is_multiple_of(b),
            "{} tokens do not split into {b} rows",
            tokens.len()
        );
        let t_new = tokens.len() / b;
        let start = cache.len;
        assert!(
            start + t_new <= cache.capacity,
            "EngineCache overflow: {start} cached + {t_new} new positions > capacity {}",
            cache.capacity
        );
        if let Some(&tok) = tokens.iter().find(|&&t| t as usize >= c.vocab_size) {
            panic!("token {tok} outside the vocabulary of {}", c.vocab_size);
        }
        let width = head.map_or(c.d_model, |h| h.d_out);
        let mut out = vec![0.0f32; b * t_new * width];
        let row_stride = c.d_model * cache.capacity; // one batch row of one layer's cache
        let macs_per_token = 12 * c.d_model * c.d_model + width * c.d_model;
        let threads = rayon::current_num_threads().min(b);
        let per =
            if threads > 1 && b * t_new * macs_per_token >= PARALLEL_MACS { b.div_ceil(threads) } else { b };
        let mut k_blocks: Vec<_> = cache.k.iter_mut().map(|k| k.chunks_mut(per * row_stride)).collect();
        let mut v_blocks: Vec<_> = cache.v.iter_mut().map(|v| v.chunks_mut(per * row_stride)).collect();
        let jobs: Vec<Block<'_>> = tokens
            .chunks(per * t_new)
            .zip(out.chunks_mut(per * t_new * width))
            .map(|(tokens, out)| Block {
                tokens,
                out,
                k: k_blocks.iter_mut().map(|it| it.next().expect("a cache block per row block")).collect(),
                v: v_blocks.iter_mut().map(|it| it.next().expect("a cache block per row block")).collect(),
            })
            .collect();
        let capacity = cache.capacity;
        let run = |job: Block<'_>| self.rows(job, t_new, start, capacity, head);
        if jobs.len() > 1 {
            jobs.into_par_iter().for_each(run);
        } else {
            jobs.into_iter().for_each(run);
        }
        cache.len += t_new;
        out
    }

    /// [`Engine::trunk`] on one block of rows, single-threaded; the loops between matrix products
    /// compiled for AVX-512 or AVX2 where the CPU has them (same numbers: no reassociation, no
    /// fused multiply-add, so only the vector width differs).
    fn rows(&self, job: Block<'_>, t_new: usize, start: usize, capacity: usize, head: Option<&Dense>) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { self.rows_avx512(job, t_new, start, capacity, head) };
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { self.rows_avx2(job, t_new, start, capacity, head) };
        }
        self.rows_body(job, t_new, start, capacity, head)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn rows_avx512(
        &self,
        job: Block<'_>,
        t_new: usize,
        start: usize,
        capacity: usize,
        head: Option<&Dense>,
    ) {
        self.rows_body(job, t_new, start, capacity, head)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn rows_avx2(
        &self,
        job: Block<'_>,
        t_new: usize,
        start: usize,
        capacity: usize,
        head: Option<&Dense>,
    ) {
        self.rows_body(job, t_new, start, capacity, head)
    }

    #[inline(always)]
    fn rows_body(
        &self,
        mut job: Block<'_>,
        t_new: usize,
        start: usize,
        capacity: usize,
        head: Option<&Dense>,
    ) {
        let c = &self.config;
        let d = c.d_model;
        let n = job.tokens.len();
        let mut x = vec![0.0f32; n * d];
        for (i, (row, &tok)) in x.chunks_exact_mut(d).zip(job.tokens).enumerate() {
            let tok = tok as usize;
            let pos = start + i % t_new;
            let (te, pe) = (&self.tok_emb[tok * d..(tok + 1) * d], &self.pos_emb[pos * d..(pos + 1) * d]);
            for ((o, &a), &p) in row.iter_mut().zip(te).zip(pe) {
                *o = a + p;
            }
        }
        let mut h = vec![0.0f32; n * d];
        let mut qkv = vec![0.0f32; n * 3 * d];
        let mut att = vec![0.0f32; n * d];
        let mut ff = vec![0.0f32; n * c.d_ff];
        for (i, layer) in self.layers.iter().enumerate() {
            layer_norm(&x, &layer.ln1, &mut h, d);
            matmul(&h, n, &layer.qkv, &mut qkv, false);
            self.attention(&qkv, job.k[i], job.v[i], &mut att, t_new, start, capacity);
            matmul(&att, n, &layer.proj, &mut x, true);
            layer_norm(&x, &layer.ln2, &mut h, d);
            matmul(&h, n, &layer.fc1, &mut ff, false);
            gelu_in_place(&mut ff);
            matmul(&ff, n, &layer.fc2, &mut x, true);
        }
        match head {
            Some(head) => {
                layer_norm(&x, &self.ln_f, &mut h, d);
                matmul(&h, n, head, job.out, false);
            }
            None => layer_norm(&x, &self.ln_f, job.out, d),
        }
    }

    /// Writes the new keys and values into the cache, then causal attention of the new queries
    /// over positions `0 ..= start + i`; `out` gets the heads concatenated, `[B, T_new, D]`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn attention(
        &self,
        qkv: &[f32],
        k_cache: &mut [f32],
        v_cache: &mut [f32],
        out: &mut [f32],
        t_new: usize,
        start: usize,
        capacity: usize,
    ) {
        let d = self.config.d_model;
        let h = self.config.n_heads;
        let dh = d / h;
        let row_stride = h * capacity * dh; // one batch row of a layer's cache
        for (r, (kc, vc)) in
            k_cache.chunks_exact_mut(row_stride).zip(v_cache.chunks_exact_mut(row_stride)).enumerate()
        {
            for t in 0..t_new {
                let src = &qkv[(r * t_new + t) * 3 * d..];
                for head in 0..h {
                    let at = (head * capacity + start + t) * dh;
                    kc[at..at + dh].copy_from_slice(&src[d + head * dh..d + (head + 1) * dh]);
                    vc[at..at + dh].copy_from_slice(&src[2 * d + head * dh..2 * d + (head + 1) * dh]);
                }
            }
        }
        if start == 0 && t_new > 1 {
            // A prompt from position 0 (scoring, prefill): every query attends to keys of this
            // same block, so each head is two matrix products over the fresh q, k, v rather than
            // a dot product per (query, key) pair.
            let mut s = vec![0.0f32; t_new * t_new];
            for (r, out_row) in out.chunks_exact_mut(t_new * d).enumerate() {
                let x = &qkv[r * t_new * 3 * d..(r + 1) * t_new * 3 * d];
                for head in 0..h {
                    attend_head(x, t_new, h, head, &mut s, &mut out_row[head * dh..]);
                }
            }
            return;
        }
        let scale = 1.0 / (dh as f32).sqrt();
        let (k_cache, v_cache) = (&*k_cache, &*v_cache);
        // a loop, not a closure: a closure is a function of its own, compiled without the
        // caller's AVX2 or AVX-512 (it ran as SSE2 code, a tenth of the bench's samples)
        for (r, out_row) in out.chunks_exact_mut(t_new * d).enumerate() {
            let mut scores = vec![0.0f32; start + t_new];
            let mut q = vec![0.0f32; dh];
            for t in 0..t_new {
                let src = &qkv[(r * t_new + t) * 3 * d..];
                let keys = start + t + 1;
                for head in 0..h {
                    for (qi, &s) in q.iter_mut().zip(&src[head * dh..(head + 1) * dh]) {
                        *qi = s * scale;
                    }
                    let base = r * row_stride + head * capacity * dh;
                    for (j, s) in scores[..keys].iter_mut().enumerate() {
                        *s = dot(&q, &k_cache[base + j * dh..base + (j + 1) * dh]);
                    }
                    let sum = softmax_unnormalised(&mut scores[..keys]);
                    let o = &mut out_row[t * d + head * dh..t * d + (head + 1) * dh];
                    o.fill(0.0);
                    for (j, &p) in scores[..keys].iter().enumerate() {
                        let v = &v_cache[base + j * dh..base + (j + 1) * dh];
                        for (oi, &vi) in o.iter_mut().zip(v) {
                            *oi += p * vi;
                        }
                    }
                    let inv = 1.0 / sum;
                    for oi in o.iter_mut() {
                        *oi *= inv;
                    }
                }
            }
        }
    }
}

/// `out = x W + b`, or `out += x W + b` when `accumulate` (a residual connection).
/// `x` is `[n, d_in]`, `out` `[n, d_out]`, both row-major.
fn matmul(x: &[f32], n: usize, l: &Dense, out: &mut [f32], accumulate: bool) {
    debug_assert_eq!(x.len(), n * l.d_in);
    debug_assert_eq!(out.len(), n * l.d_out);
    if n == 1 {
        // gemm takes a matrix-vector path for one row that rounds differently from its
        // matrix-matrix kernels; two rows keep a row's numbers independent of its batch.
        let mut out2 = out.repeat(2);
        matmul(&x.repeat(2), 2, l, &mut out2, accumulate);
        out.copy_from_slice(&out2[..l.d_out]);
        return;
    }
    goodhart_core::flops::add(2 * (n * l.d_in * l.d_out) as u64);
    match (&l.b, accumulate) {
        (Some(b), true) => {
            out.chunks_exact_mut(l.d_out).for_each(|row| row.iter_mut().zip(b).for_each(|(o, &bi)| *o += bi))
        }
        (Some(b), false) => out.chunks_exact_mut(l.d_out).for_each(|row| row.copy_from_slice(b)),
        (None, true) => {}
        (None, false) => out.fill(0.0),
    }
    if let Some(unit) = crate::bf16::in_effect() {
        let w = l.bf16.get_or_init(|| PackedB::new(l.d_in, l.d_out, &l.w, (l.d_out, 1), false));
        crate::bf16::gemm_packed(unit, n, out, l.d_out, true, x, (l.d_in, 1), w, 1.0, false);
        return;
    }
    // SAFETY: the pointers and strides describe `x` as an n x d_in, `l.w` as a d_in x d_out and
    // `out` as an n x d_out row-major matrix; the lengths are checked above (and by construction
    // in callers), and `out` does not alias the inputs.
    unsafe {
        gemm::gemm(
            n,
            l.d_out,
            l.d_in,
            out.as_mut_ptr(),
            1,
            l.d_out as isize,
            true,
            x.as_ptr(),
            1,
            l.d_in as isize,
            l.w.as_ptr(),
            1,
            l.d_out as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

#[inline(always)]
fn layer_norm(x: &[f32], l: &Norm, out: &mut [f32], d: usize) {
    for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        layer_norm_row(or, &mut [], xr, &l.gamma, &l.beta, LN_EPS as f32);
    }
}

#[inline(always)]
fn gelu_in_place(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = gelu(*v);
    }
}
