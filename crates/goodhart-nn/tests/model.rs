//! Behavioural tests of the model: KV cache, causality, padding, determinism,
//! parameter counts and a few training steps. Tiny configs on `Device::flex()`.

use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use goodhart_nn::{Gpt, GptConfig, KvCache, ScalarModel, PRESETS};
use proptest::prelude::*;

const VOCAB: usize = 17;

fn tiny() -> GptConfig {
    GptConfig { vocab_size: VOCAB, d_model: 16, n_layers: 2, n_heads: 4, d_ff: 32, max_seq_len: 24 }
}

fn tokens(rows: &[Vec<i64>], device: &Device) -> Tensor<2, Int> {
    let (b, t) = (rows.len(), rows[0].len());
    let flat: Vec<i64> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [b, t]), device)
}

fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

/// Deterministic pseudo-random token rows.
fn rows(b: usize, t: usize, salt: i64) -> Vec<Vec<i64>> {
    (0..b)
        .map(|r| {
            (0..t)
                .map(|i| (i as i64 * 7 + r as i64 * 5 + salt * 3 + (i as i64 * i as i64) % 5) % VOCAB as i64)
                .collect()
        })
        .collect()
}

/// (a) KV-cache decoding equals the full forward pass: a prompt of 5 tokens
/// processed at once, then 10 single-token steps, compared with one full
/// forward over the 15 tokens. Tolerance: max |Δlogit| < 1e-4 (the paths
/// differ only in float summation order; observed ~1e-6).
#[test]
fn kv_cache_decoding_matches_full_forward() {
    let device = Device::flex();
    let config = tiny();
    let model = config.init_gpt(&device, 3);
    let seq = tokens(&rows(3, 15, 1), &device);
    let full = model.forward(seq.clone()); // [3, 15, V]

    let mut cache = KvCache::new(&config, 3, &device);
    let mut pieces = vec![model.forward_cached(seq.clone().slice([0..3, 0..5]), &mut cache)];
    for p in 5..15 {
        pieces.push(model.forward_cached(seq.clone().slice([0..3, p..p + 1]), &mut cache));
    }
    assert_eq!(cache.len(), 15);
    let cached = Tensor::cat(pieces, 1);
    assert_eq!(cached.dims(), [3, 15, VOCAB]);
    let diff = max_abs_diff(full.clone(), cached);
    assert!(diff < 1e-4, "max |full - cached| = {diff}");

    // Reuse after reset, with uneven chunks (1 token, then 6, then 8).
    cache.reset();
    assert!(cache.is_empty());
    let mut pieces = vec![];
    for (a, b) in [(0, 1), (1, 7), (7, 15)] {
        pieces.push(model.forward_cached(seq.clone().slice([0..3, a..b]), &mut cache));
    }
    let diff = max_abs_diff(full, Tensor::cat(pieces, 1));
    assert!(diff < 1e-4, "after reset: max |full - cached| = {diff}");
}

/// The cache refuses to overflow its capacity.
#[test]
#[should_panic(expected = "KvCache overflow")]
fn kv_cache_overflow_panics() {
    let device = Device::flex();
    let config = tiny();
    let model = config.init_gpt(&device, 0);
    let mut cache = KvCache::with_capacity(&config, 1, 4, &device);
    let _ = model.forward_cached(tokens(&rows(1, 3, 0), &device), &mut cache);
    let _ = model.forward_cached(tokens(&rows(1, 2, 0), &device), &mut cache);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// (b) Causality: changing the token at position `k` leaves the logits at
    /// positions `< k` unchanged (|Δ| < 1e-6) and changes position `k`.
    #[test]
    fn earlier_logits_ignore_later_tokens(
        seq in prop::collection::vec(0..VOCAB as i64, 12),
        k in 1usize..12,
        delta in 1..VOCAB as i64,
    ) {
        let device = Device::flex();
        let model = tiny().init_gpt(&device, 11);
        let mut changed = seq.clone();
        changed[k] = (changed[k] + delta) % VOCAB as i64;
        let a = model.forward(tokens(&[seq], &device));
        let b = model.forward(tokens(&[changed], &device));
        let before = max_abs_diff(a.clone().slice([0..1, 0..k]), b.clone().slice([0..1, 0..k]));
        prop_assert!(before < 1e-6, "positions < {k} changed by {before}");
        let at = max_abs_diff(a.slice([0..1, k..k + 1]), b.slice([0..1, k..k + 1]));
        prop_assert!(at > 1e-6, "position {k} did not react to its own token");
    }

    /// (c) Right padding: a sequence's reward equals its reward when padded
    /// with arbitrary tokens to a longer length (|Δ| < 1e-5; the padded batch
    /// has other matmul shapes, hence other rounding).
    #[test]
    fn scalar_output_ignores_right_padding(
        seq in prop::collection::vec(0..VOCAB as i64, 1..10),
        pad in prop::collection::vec(0..VOCAB as i64, 1..12),
    ) {
        let device = Device::flex();
        let rm = tiny().init_scalar(&device, 5);
        let len = seq.len();
        let plain = rm.forward(tokens(std::slice::from_ref(&seq), &device), Tensor::from_ints([len as i32], &device));
        let mut padded = seq;
        padded.extend(&pad);
        // Batch it with a full-length row, as a trainer would.
        let other: Vec<i64> = (0..padded.len() as i64).map(|i| (i * 3) % VOCAB as i64).collect();
        let lengths = Tensor::from_ints([len as i32, other.len() as i32], &device);
        let both = rm.forward(tokens(&[padded, other], &device), lengths);
        let diff = max_abs_diff(plain, both.narrow(0, 0, 1));
        prop_assert!(diff < 1e-5, "padding changed the reward by {diff}");
    }
}

/// (d) Same seed => identical weights and logits; different seed => different.
/// A Gpt and a ScalarModel with the same seed share the trunk.
#[test]
fn init_is_deterministic_per_seed() {
    let device = Device::flex();
    let config = tiny();
    let x = tokens(&rows(2, 9, 4), &device);
    let a = config.init_gpt(&device, 1234);
    // Draw from burn's global RNG in between: must not matter.
    let _noise = Tensor::<2>::random([64, 64], burn::tensor::Distribution::Default, &device);
    let b = config.init_gpt(&device, 1234);
    let c = config.init_gpt(&device, 1235);
    let la = values(a.forward(x.clone()));
    assert_eq!(la, values(b.forward(x.clone())), "same seed, different logits");
    assert_ne!(la, values(c.forward(x.clone())), "different seed, same logits");
    assert_eq!(values(a.lm_head.weight.val()), values(b.lm_head.weight.val()));
    assert_ne!(values(a.lm_head.weight.val()), values(c.lm_head.weight.val()));

    let rm = config.init_scalar(&device, 1234);
    let trunk_gpt = values(a.trunk.forward(x.clone()));
    assert_eq!(trunk_gpt, values(rm.trunk.forward(x)), "same seed, different trunks");

    // The model on the autodiff device starts from the same weights.
    let ad = config.init_gpt(&device.clone().autodiff(), 1234);
    assert_eq!(values(ad.lm_head.weight.val().inner()), values(a.lm_head.weight.val()));
}

/// (f) Parameter counts: config formulas == hand-computed formula == burn's
/// `Module::num_params` of the built models; preset table as documented.
#[test]
fn parameter_counts_match_formula() {
    let device = Device::flex();
    let expected_non_emb =
        [153, 252, 1_032, 2_680, 9_872, 28_944, 98_680, 300_032, 991_616, 3_114_432, 9_864_320, 31_524_864];
    for (name, want) in PRESETS.iter().zip(expected_non_emb) {
        let c = GptConfig::preset(name, 50, 64).unwrap();
        c.validate().unwrap();
        let (v, t, d, l, f) = (c.vocab_size, c.max_seq_len, c.d_model, c.n_layers, c.d_ff);
        assert_eq!(f, 4 * d);
        // Per block: ln1 + qkv + proj + ln2 + fc1 + fc2 = 12 D² + 13 D when F = 4D.
        let non_emb = l * (12 * d * d + 13 * d) + 2 * d;
        assert_eq!(c.non_embedding_params(), non_emb, "{name}");
        assert_eq!(non_emb, want, "{name} differs from the documented table");
        assert_eq!(c.trunk_params(), non_emb + v * d + t * d, "{name}");
        assert_eq!(c.num_params(), non_emb + v * d + t * d + d * v, "{name}");
        assert_eq!(c.num_params_scalar(), non_emb + v * d + t * d + d + 1, "{name}");
        if c.non_embedding_params() < 2_000_000 {
            // num_params does not materialise the (lazy) weights, but init does; keep it small.
            assert_eq!(c.init_gpt(&device, 0).num_params(), c.num_params(), "{name}");
            assert_eq!(c.init_scalar(&device, 0).num_params(), c.num_params_scalar(), "{name}");
        }
    }
    assert!(GptConfig::preset("p5k", 10, 10).is_err());
    let mut bad = tiny();
    bad.n_heads = 5;
    assert!(bad.validate().is_err());
}

/// (g) Gradients flow: a few AdamW steps on a tiny repeated sequence lower the
/// LM cross-entropy (to below half of the initial value).
#[test]
fn training_steps_lower_the_loss() {
    let device = Device::flex().autodiff();
    let config = tiny();
    let mut model: Gpt = config.init_gpt(&device, 0);
    let seq: Vec<i64> = (0..17).map(|i| i % 6).collect(); // 0 1 2 3 4 5 0 1 ...
    let batch = tokens(&[seq.clone(), seq.clone()], &device);
    let inputs = batch.clone().slice([0..2, 0..16]);
    let targets = batch.slice([0..2, 1..17]);
    let mut optim = AdamWConfig::new().init();
    let mut losses = vec![];
    for _ in 0..25 {
        let logits = model.forward(inputs.clone());
        let loss = log_softmax(logits, 2).gather(2, targets.clone().unsqueeze_dim::<3>(2)).neg().mean();
        losses.push(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    let (first, last) = (losses[0], *losses.last().unwrap());
    assert!((first - (VOCAB as f32).ln()).abs() < 0.5, "initial loss {first} far from ln V");
    assert!(last < 0.5 * first, "loss did not drop enough: {losses:?}");

    // The trained weights work on the inference path too.
    let plain = model.valid();
    let logits = plain.forward(inputs.inner());
    assert_eq!(logits.dims(), [2, 16, VOCAB]);
}

/// ScalarModel gradients flow to both trunk and head.
#[test]
fn scalar_model_is_trainable() {
    let device = Device::flex().autodiff();
    let mut rm: ScalarModel = tiny().init_scalar(&device, 0);
    let x = tokens(&rows(4, 8, 2), &device);
    let lengths = Tensor::<1, Int>::from_ints([8, 5, 3, 1], &device);
    let target = Tensor::<1>::from_floats([1.0, -1.0, 2.0, 0.5], &device);
    let mut optim = AdamWConfig::new().init();
    let mut losses = vec![];
    for _ in 0..20 {
        let loss = (rm.forward(x.clone(), lengths.clone()) - target.clone()).square().mean();
        losses.push(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &rm);
        rm = optim.step(1e-2, rm, grads);
    }
    assert!(losses[19] < 0.5 * losses[0], "{losses:?}");
}
