//! The fused CPU kernels (`goodhart_nn::fused`) against the compositions of burn operations they
//! replace: the same values and the same gradients, for random shapes and inputs.

use burn::nn::{LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::{gelu, log_softmax};
use goodhart_nn::fused;
use proptest::prelude::*;

/// Deterministic values in about [-scale, scale].
fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn tensor<const D: usize>(shape: [usize; D], seed: u64, scale: f32, device: &Device) -> Tensor<D> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(values(n, seed, scale), shape), device)
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// Largest |a - b| relative to 1 + the largest |b|.
fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = 1.0 + b.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max) / scale
}

const TOL: f32 = 2e-5;

/// `f` (fused) and `g` (reference) of an input that requires a gradient: their values, then the
/// gradients of `sum(out * weights)` with respect to the input.
fn compare<const D: usize, const E: usize>(
    input: Tensor<D>,
    f: impl Fn(Tensor<D>) -> Tensor<E>,
    g: impl Fn(Tensor<D>) -> Tensor<E>,
) -> (f32, f32) {
    let x = input.require_grad();
    let (yf, yg) = (f(x.clone()), g(x.clone()));
    let weights = tensor(yf.dims(), 99, 1.0, &yf.device());
    let value = rel_diff(&host(yf.clone()), &host(yg.clone()));
    let gf = (yf * weights.clone()).sum().backward();
    let gg = (yg * weights).sum().backward();
    let grad = rel_diff(&host(x.grad(&gf).unwrap()), &host(x.grad(&gg).unwrap()));
    (value, grad)
}

/// `b * t` random targets below `v`, as host ids and as a `[b, t]` tensor for burn's gather.
fn random_targets(b: usize, t: usize, v: usize, seed: u64, device: &Device) -> (Vec<u32>, Tensor<2, Int>) {
    let targets: Vec<u32> =
        values(b * t, seed + 3, 1.0).iter().map(|x| ((x + 1.0) * 0.5 * (v - 1) as f32) as u32).collect();
    let ids: Vec<i64> = targets.iter().map(|&x| x as i64).collect();
    (targets, Tensor::<2, Int>::from_data(TensorData::new(ids, [b, t]), device))
}

fn autodiff() -> Device {
    Device::flex().autodiff()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn gelu_matches_burn(rows in 1usize..70, cols in 1usize..40, seed in 0u64..1000) {
        let x = tensor([rows, cols], seed, 5.0, &autodiff());
        let (value, grad) = compare(x, fused::gelu, gelu);
        prop_assert!(value < TOL && grad < TOL, "value {value}, grad {grad}");
    }

    // From 3 features: with 2, LayerNorm's output is +-1 whatever its input, so the input's
    // gradient is 0 in exact arithmetic and both sides return rounding noise scaled by 1/sigma.
    #[test]
    fn layer_norm_matches_burn(b in 1usize..5, t in 1usize..30, d in 3usize..40, seed in 0u64..1000) {
        let device = autodiff();
        let mut ln = LayerNormConfig::new(d).init(&device);
        ln.gamma = ln.gamma.map(|_| tensor([d], seed + 1, 1.0, &device).add_scalar(1.0).require_grad());
        ln.beta = ln.beta.map(|p| p.map(|_| tensor([d], seed + 2, 1.0, &device).require_grad()));
        let x = tensor([b, t, d], seed, 3.0, &device);
        let (value, grad) = compare(x.clone(), |x| fused::layer_norm(x, &ln), |x| ln.forward(x));
        prop_assert!(value < TOL && grad < TOL, "value {value}, grad {grad}");
        // The parameters' gradients too.
        let weights = tensor([b, t, d], 7, 1.0, &device);
        let gf = (fused::layer_norm(x.clone(), &ln) * weights.clone()).sum().backward();
        let gg = (ln.forward(x) * weights).sum().backward();
        let gamma = ln.gamma.val();
        let beta = ln.beta.as_ref().unwrap().val();
        prop_assert!(rel_diff(&host(gamma.grad(&gf).unwrap()), &host(gamma.grad(&gg).unwrap())) < TOL);
        prop_assert!(rel_diff(&host(beta.grad(&gf).unwrap()), &host(beta.grad(&gg).unwrap())) < TOL);
    }

    #[test]
    fn linear_matches_burn(rows in 1usize..4, t in 1usize..40, d_in in 1usize..50, d_out in 1usize..50,
                           bias in any::<bool>(), seed in 0u64..1000) {
        let device = autodiff();
        let w = tensor([d_in, d_out], seed + 1, 0.5, &device).require_grad();
        let b = bias.then(|| tensor([d_out], seed + 2, 0.5, &device).require_grad());
        let x = tensor([rows, t, d_in], seed, 2.0, &device);
        let (value, grad) = compare(
            x.clone(),
            |x| fused::project(x, w.clone(), b.clone()),
            |x| burn::tensor::module::linear(x, w.clone(), b.clone()),
        );
        prop_assert!(value < TOL && grad < TOL, "value {value}, grad {grad}");
        let weights = tensor([rows, t, d_out], 7, 1.0, &device);
        let gf = (fused::project(x.clone(), w.clone(), b.clone()) * weights.clone()).sum().backward();
        let gg = (burn::tensor::module::linear(x, w.clone(), b.clone()) * weights).sum().backward();
        prop_assert!(rel_diff(&host(w.grad(&gf).unwrap()), &host(w.grad(&gg).unwrap())) < TOL);
        if let Some(b) = b {
            prop_assert!(rel_diff(&host(b.grad(&gf).unwrap()), &host(b.grad(&gg).unwrap())) < TOL);
        }
    }

    #[test]
    fn attention_matches_burn(b in 1usize..4, t in 1usize..24, heads in 1usize..4, dh in 1usize..9,
                              seed in 0u64..1000) {
        let d = heads * dh;
        let qkv = tensor([b, t, 3 * d], seed, 2.0, &autodiff());
        let (value, grad) = compare(
            qkv,
            |x| fused::causal_attention(x, heads),
            |x| fused::attention_reference(x, heads),
        );
        prop_assert!(value < TOL && grad < TOL, "value {value}, grad {grad}");
    }

    #[test]
    fn token_logprobs_match_burn(b in 1usize..4, t in 1usize..20, v in 2usize..60, seed in 0u64..1000) {
        let device = autodiff();
        let (targets, ids) = random_targets(b, t, v, seed, &device);
        let logits = tensor([b, t, v], seed, 6.0, &device);
        let (value, grad) = compare(
            logits,
            |l| fused::token_logprobs(l, &targets),
            |l| log_softmax(l, 2).gather(2, ids.clone().unsqueeze_dim::<3>(2)).squeeze_dim::<2>(2),
        );
        prop_assert!(value < TOL && grad < TOL, "value {value}, grad {grad}");
    }

    #[test]
    fn token_logprobs_and_entropy_match_burn(b in 1usize..4, t in 1usize..20, v in 2usize..60, seed in 0u64..1000) {
        let device = autodiff();
        let (targets, ids) = random_targets(b, t, v, seed, &device);
        let logits = tensor([b, t, v], seed, 6.0, &device);
        // Both outputs side by side, so the weighted sum's gradient flows through each.
        let (value, grad) = compare(
            logits,
            |l| {
                let (lp, h) = fused::token_logprobs_and_entropy(l, &targets);
                Tensor::cat(vec![lp, h], 1)
            },
            |l| {
                let logp = log_softmax(l, 2);
                let lp = logp.clone().gather(2, ids.clone().unsqueeze_dim::<3>(2)).squeeze_dim::<2>(2);
                let h = (logp.clone().exp() * logp).sum_dim(2).squeeze_dim::<2>(2).neg();
                Tensor::cat(vec![lp, h], 1)
            },
        );
        prop_assert!(value < TOL && grad < TOL, "value {value}, grad {grad}");
    }
}

#[test]
fn without_autodiff_the_fused_ops_give_the_same_values() {
    let device = Device::flex();
    let qkv = tensor([2, 9, 24], 5, 2.0, &device);
    let fast = host(fused::causal_attention(qkv.clone(), 4));
    assert!(rel_diff(&fast, &host(fused::attention_reference(qkv, 4))) < TOL);
    let x = tensor([3, 17], 6, 4.0, &device);
    assert!(rel_diff(&host(fused::gelu(x.clone())), &host(gelu(x))) < TOL);
    let l = Linear { weight: burn::module::Param::from_tensor(tensor([17, 5], 8, 1.0, &device)), bias: None };
    let x = tensor([3, 17], 9, 1.0, &device);
    assert!(rel_diff(&host(fused::linear(x.clone(), &l)), &host(l.forward(x))) < TOL);
}

#[test]
fn the_first_position_attends_only_to_itself() {
    // Causality: position 0's output is its own value vector, whatever the later positions hold.
    let device = autodiff();
    let (t, heads, dh) = (6, 2, 3);
    let d = heads * dh;
    let qkv = tensor([1, t, 3 * d], 11, 3.0, &device);
    let out = host(fused::causal_attention(qkv.clone(), heads));
    let x = host(qkv);
    for (o, v) in out[..d].iter().zip(&x[2 * d..3 * d]) {
        assert!((o - v).abs() < 1e-6, "{o} vs {v}");
    }
}

#[test]
#[should_panic(expected = "outside the vocabulary")]
fn a_target_outside_the_vocabulary_is_refused() {
    let logits = tensor([1, 2, 4], 1, 1.0, &Device::flex());
    fused::token_logprobs(logits, &[0, 4]);
}
