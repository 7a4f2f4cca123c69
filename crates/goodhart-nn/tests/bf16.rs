//! The process-wide bf16 switch, end to end: the engine's logits and the fused training ops move
//! by bf16's rounding and no more, a row's numbers stay independent of its batch, and the same
//! inputs give the same numbers twice. Its own test binary, because the precision is
//! process-wide: the other tests of the crate run in f32 beside each other.

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::Distribution;
use goodhart_nn::{use_precision, Engine, Gpt, GptConfig, Precision};

fn config() -> GptConfig {
    GptConfig { vocab_size: 40, d_model: 64, n_layers: 2, n_heads: 4, d_ff: 128, max_seq_len: 24 }
}

struct Perturb;

impl ModuleMapper for Perturb {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let t = param.val();
        let noise = Tensor::random(t.shape(), Distribution::Normal(0.0, 0.1), &t.device());
        Param::from_tensor((t + noise).detach())
    }
}

fn gpt(device: &Device) -> Gpt {
    device.seed(5);
    config().init_gpt(device, 3).map(&mut Perturb)
}

fn tokens(b: usize, t: usize) -> Vec<u32> {
    (0..b * t).map(|i| ((i * 7 + (i * i) % 13) % 40) as u32).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// The loss's gradient norm over the model, through the fused linear and attention ops.
fn grad_norm(model: &Gpt, ids: &[u32], b: usize) -> f32 {
    let data: Vec<i32> = ids.iter().map(|&t| t as i32).collect();
    let device = Device::flex().autodiff();
    let x = Tensor::<2, Int>::from_data(TensorData::new(data, [b, ids.len() / b]), &device);
    let loss = model.forward(x).powf_scalar(2.0).mean();
    let grads = loss.backward();
    let w = model.lm_head.weight.val();
    let g = w.grad(&grads).expect("the head's weight has a gradient");
    g.powf_scalar(2.0).sum().into_scalar::<f32>().sqrt()
}

#[test]
fn bf16_moves_numbers_by_its_rounding_and_keeps_rows_independent() {
    let Some(unit) = goodhart_nn::bf16::unit() else {
        assert_eq!(use_precision(Precision::Bf16), Precision::F32, "no unit: bf16 falls back to f32");
        eprintln!("no AMX or AVX512-BF16 here: the bf16 path is tested where the CPU has one");
        return;
    };
    let device = Device::flex();
    let model = gpt(&device);
    let engine = Engine::from_gpt(&model);
    let (b, t) = (5, 20);
    let ids = tokens(b, t);

    assert_eq!(use_precision(Precision::F32), Precision::F32);
    let f32_logits = engine.logits(&ids, b);
    let trainee = gpt(&Device::flex().autodiff());
    let f32_grad = grad_norm(&trainee, &ids, b);

    assert_eq!(use_precision(Precision::Bf16), Precision::Bf16, "{unit} is present");
    assert_eq!(goodhart_core::precision::current(), Precision::Bf16);
    let bf16_logits = engine.logits(&ids, b);
    let again = Engine::from_gpt(&model).logits(&ids, b);
    assert_eq!(bf16_logits, again, "the same inputs give the same bf16 numbers");
    let diff = max_diff(&f32_logits, &bf16_logits);
    let scale = f32_logits.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    // bf16 keeps 8 significant bits: products move by ~2^-9 relative, summed over d
    assert!(diff > 0.0, "bf16 changed nothing: the switch did not reach the engine");
    assert!(diff < 0.05 * scale, "bf16 logits differ from f32 by {diff} (scale {scale})");

    // row 3 alone gives the numbers it gets in its batch
    let row = &ids[3 * t..4 * t];
    let alone = engine.logits(row, 1);
    let v = config().vocab_size;
    assert_eq!(alone, bf16_logits[3 * t * v..4 * t * v], "a row's bf16 logits depend on its batch");

    let bf16_grad = grad_norm(&trainee, &ids, b);
    assert!(bf16_grad.is_finite() && bf16_grad != f32_grad, "bf16 did not reach training: {bf16_grad}");
    assert!((bf16_grad - f32_grad).abs() < 0.05 * f32_grad, "gradient norm {bf16_grad} vs f32 {f32_grad}");
    use_precision(Precision::F32);
}
