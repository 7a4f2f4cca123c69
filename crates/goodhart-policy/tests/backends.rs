//! Backend parity: the same tiny model and inputs give the same logits (within `LOGIT_TOL`) and,
//! under a fixed seed, the same sampled tokens on every compiled backend as on the CPU. Built with
//! only the default CPU backend it checks the CPU against itself (bit-exact determinism); `.ci/run`
//! also runs it with `--features wgpu` on a software Vulkan driver.

use burn::prelude::*;
use goodhart_core::SamplingSettings;
use goodhart_nn::{Backend, GptConfig};
use goodhart_policy::{generate, Specials};

const SP: Specials = Specials { pad: 0, bos: 1, eos: 2 };
/// Largest absolute logit difference allowed against the CPU (f32 kernels reorder sums).
const LOGIT_TOL: f32 = 1e-3;

fn config() -> GptConfig {
    GptConfig { vocab_size: 64, d_model: 32, n_layers: 2, n_heads: 4, d_ff: 128, max_seq_len: 32 }
}

fn logits(device: &Device) -> Vec<f32> {
    let model = config().init_gpt(device, 11);
    let tokens: Vec<i64> = (0..2 * 12).map(|i| (i * 7 + 3) % 64).collect();
    let input = Tensor::<2, Int>::from_data(TensorData::new(tokens, [2, 12]), device);
    model.forward(input).into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn samples(device: &Device) -> Vec<Vec<u32>> {
    let model = config().init_gpt(device, 11);
    let prompts: Vec<Vec<u32>> = (0..16).map(|i| vec![3 + i % 5, 9, 11 + i % 3]).collect();
    let s = SamplingSettings { max_new_tokens: 10, ..Default::default() };
    generate(&model, &prompts, &s, SP, 5, 0, 8).unwrap().into_iter().map(|x| x.response).collect()
}

#[test]
fn every_compiled_backend_matches_the_cpu() {
    let cpu = Device::flex();
    let (ref_logits, ref_samples) = (logits(&cpu), samples(&cpu));
    assert_eq!(logits(&cpu), ref_logits, "the CPU backend is deterministic");
    assert!(ref_logits.iter().all(|x| x.is_finite()));
    let compiled = Backend::compiled();
    assert_eq!(compiled[0], Backend::Cpu);
    // Every available backend is checked before an unavailable one fails the test, so that one
    // missing driver does not hide the others' results.
    let mut unavailable = Vec::new();
    for backend in compiled.into_iter().skip(1) {
        let device = match backend.device() {
            Ok(device) => device,
            Err(e) => {
                eprintln!("{backend}: unavailable: {e}");
                unavailable.push(backend);
                continue;
            }
        };
        let got = logits(&device);
        let worst = got.iter().zip(&ref_logits).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        eprintln!("{backend}: max |logit - cpu logit| = {worst:e} over {} logits", got.len());
        assert!(worst <= LOGIT_TOL, "{backend}: logits differ from the CPU's by {worst}");
        let same = samples(&device).iter().zip(&ref_samples).filter(|(a, b)| a == b).count();
        eprintln!("{backend}: {same}/{} sampled sequences identical to the CPU's", ref_samples.len());
        assert_eq!(same, ref_samples.len(), "{backend}: sampled tokens differ from the CPU's");
    }
    assert!(unavailable.is_empty(), "compiled in but unavailable here: {unavailable:?} (messages above)");
}

#[test]
fn a_backend_not_compiled_in_says_which_feature_to_build_with() {
    for backend in Backend::ALL.into_iter().filter(|b| !b.is_compiled()) {
        let err = backend.device().unwrap_err().to_string();
        assert!(err.contains(&format!("--features {}", backend.name())), "{err}");
    }
    assert!("tpu".parse::<Backend>().is_err());
    assert_eq!("flex".parse::<Backend>().unwrap(), Backend::Cpu);
}
