//! Parity of the plain-Rust inference [`Engine`] with the burn models it copies: full forward,
//! incremental decoding, reward-model scores. Weights are perturbed away from their
//! initialisation (unit-scale LayerNorm gains and biases, larger matrices) so that a wrong
//! LayerNorm, bias, position or head would show.

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::Distribution;
use goodhart_nn::{Engine, Gpt, GptConfig, ScalarModel};

/// Logits and scores agree with burn's to this absolute tolerance (f32 sums in another order).
const TOL: f32 = 2e-4;

fn config() -> GptConfig {
    GptConfig { vocab_size: 23, d_model: 24, n_layers: 2, n_heads: 3, d_ff: 40, max_seq_len: 20 }
}

/// Replaces every float parameter by draws from N(0, 0.3²) (seeded).
struct Perturb;

impl ModuleMapper for Perturb {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let t = param.val();
        let noise = Tensor::random(t.shape(), Distribution::Normal(0.0, 0.3), &t.device());
        Param::from_tensor(t + noise)
    }
}

fn gpt() -> Gpt {
    let device = Device::flex();
    device.seed(5);
    config().init_gpt(&device, 3).map(&mut Perturb)
}

fn scalar() -> ScalarModel {
    let device = Device::flex();
    device.seed(6);
    config().init_scalar(&device, 4).map(&mut Perturb)
}

fn token_rows(b: usize, t: usize) -> Vec<u32> {
    (0..b * t).map(|i| ((i * 7 + (i * i) % 11) % 23) as u32).collect()
}

fn int_tensor(ids: &[u32], b: usize) -> Tensor<2, Int> {
    let data: Vec<i32> = ids.iter().map(|&t| t as i32).collect();
    Tensor::from_data(TensorData::new(data, [b, ids.len() / b]), &Device::flex())
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn full_forward_matches_burn() {
    let model = gpt();
    // 9 x 18 tokens is enough work for the engine to split the rows across threads (unevenly).
    let (b, t) = (9, 18);
    let ids = token_rows(b, t);
    let reference = host(model.forward(int_tensor(&ids, b)));
    let ours = Engine::from_gpt(&model).logits(&ids, b);
    let spread = reference.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(spread > 1.0, "perturbed logits should be far from 0 (max |logit| {spread})");
    let diff = max_diff(&ours, &reference);
    assert!(diff < TOL, "max |engine - burn| = {diff}");
}

#[test]
fn incremental_decoding_matches_the_full_forward() {
    let model = gpt();
    let engine = Engine::from_gpt(&model);
    let (b, t, prompt) = (3, 12, 5);
    let ids = token_rows(b, t);
    let full = engine.logits(&ids, b);
    let v = config().vocab_size;
    let mut cache = engine.cache(b, t);
    let prefix: Vec<u32> = (0..b).flat_map(|r| ids[r * t..r * t + prompt].to_vec()).collect();
    let first = engine.decode(&prefix, &mut cache);
    for r in 0..b {
        for p in 0..prompt {
            let got = &first[(r * prompt + p) * v..(r * prompt + p + 1) * v];
            let want = &full[(r * t + p) * v..(r * t + p + 1) * v];
            assert!(max_diff(got, want) < 1e-5, "prefill row {r} position {p}");
        }
    }
    for p in prompt..t {
        let step: Vec<u32> = (0..b).map(|r| ids[r * t + p]).collect();
        let got = engine.decode(&step, &mut cache);
        for r in 0..b {
            let want = &full[(r * t + p) * v..(r * t + p + 1) * v];
            let diff = max_diff(&got[r * v..(r + 1) * v], want);
            assert!(diff < 1e-5, "step at position {p}, row {r}: {diff}");
        }
    }
    assert_eq!(cache.len(), t);
}

#[test]
fn reward_scores_match_burn_at_ragged_lengths() {
    let model = scalar();
    let (b, t) = (5, 14);
    let ids = token_rows(b, t);
    let lengths = [14usize, 1, 9, 13, 6];
    let lens: Vec<i32> = lengths.iter().map(|&l| l as i32).collect();
    let reference = host(
        model.forward(int_tensor(&ids, b), Tensor::from_data(TensorData::new(lens, [b]), &Device::flex())),
    );
    let ours = Engine::from_scalar(&model).scores(&ids, &lengths);
    let diff = max_diff(&ours, &reference);
    assert!(diff < TOL, "max |engine - burn| = {diff}");
    assert!(reference.iter().any(|s| s.abs() > 0.1), "scores should be far from 0");
}

#[test]
fn a_row_scores_the_same_alone_and_in_a_batch() {
    let engine = Engine::from_scalar(&scalar());
    let (b, t) = (6, 11);
    let ids = token_rows(b, t);
    let lengths = [11usize, 4, 7, 11, 2, 9];
    let batch = engine.scores(&ids, &lengths);
    for r in 0..b {
        let alone = engine.scores(&ids[r * t..(r + 1) * t], &lengths[r..r + 1]);
        assert!((alone[0] - batch[r]).abs() < 1e-5, "row {r}: {} alone vs {} in batch", alone[0], batch[r]);
    }
}

#[test]
#[should_panic(expected = "capacity")]
fn decoding_past_the_cache_capacity_panics() {
    let engine = Engine::from_gpt(&gpt());
    let mut cache = engine.cache(1, 3);
    engine.decode(&[1, 2, 3, 4], &mut cache);
}

#[test]
#[should_panic(expected = "reward model")]
fn a_policy_engine_has_no_scores() {
    Engine::from_gpt(&gpt()).scores(&[1, 2], &[2]);
}
