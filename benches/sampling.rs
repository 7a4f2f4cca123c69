//! Sampling throughput (new tokens per second) of the policy's batched KV-cache sampler, and the
//! forward pass used for scoring, at the shapes of the throughput issue:
//!
//! | preset | vocab | d_model | layers | heads | context |
//! |---|---|---|---|---|---|
//! | `small` (0.54M params in all) | 512 | 128 | 2 | 4 | 64 |
//! | `medium` (3.4M) | 512 | 256 | 4 | 4 | 64 |
//!
//! Each sample is an 8-token prompt plus 56 new tokens (the end token is never produced, so every
//! row decodes the full length). Before timing, the weights are exported to
//! `target/goodhart-bench/<preset>.safetensors` with a reference input and its logits, so the
//! PyTorch twin (`benches/torch_twin.py`) measures the same model on the same machine:
//!
//! ```text
//! cargo bench --bench sampling
//! python3 benches/torch_twin.py target/goodhart-bench/small.safetensors target/goodhart-bench/medium.safetensors
//! ```

use std::path::PathBuf;

use burn::prelude::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use goodhart::core::SamplingSettings;
use goodhart::nn::{Gpt, GptConfig};
use goodhart::policy::{generate, Specials};

const PROMPT: usize = 8;
const NEW: usize = 56;
/// An end token outside the vocabulary: every row decodes all `NEW` tokens.
const SPECIALS: Specials = Specials { pad: 0, bos: 1, eos: u32::MAX };

fn presets() -> [(&'static str, GptConfig); 2] {
    let cfg = |d_model, n_layers| GptConfig {
        vocab_size: 512,
        d_model,
        n_layers,
        n_heads: 4,
        d_ff: 4 * d_model,
        max_seq_len: 64,
    };
    [("small", cfg(128, 2)), ("medium", cfg(256, 4))]
}

fn prompts(batch: usize) -> Vec<Vec<u32>> {
    (0..batch).map(|b| (0..PROMPT).map(|t| (3 + 7 * b + 13 * t) as u32 % 512).collect()).collect()
}

/// Exports the weights and a reference forward pass for the PyTorch twin's parity check.
fn export_for_twin(name: &str, model: &Gpt) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/goodhart-bench");
    std::fs::create_dir_all(&dir).expect("create target/goodhart-bench");
    model.export_safetensors(dir.join(format!("{name}.safetensors"))).expect("export weights");
    let tokens: Vec<u32> = prompts(1).remove(0);
    let device = model.lm_head.weight.device();
    let ids = Tensor::<2, Int>::from_data(
        TensorData::new(tokens.iter().map(|&t| t as i32).collect(), [1, PROMPT]),
        &device,
    );
    let logits: Vec<f32> = model.forward(ids).into_data().convert::<f32>().try_into_vec().expect("f32");
    let reference = serde_json::json!({ "tokens": tokens, "logits": logits });
    std::fs::write(dir.join(format!("{name}.reference.json")), reference.to_string())
        .expect("write reference");
}

fn bench(c: &mut Criterion) {
    let device = Device::flex();
    for (name, config) in presets() {
        let model = config.init_gpt(&device, 0);
        export_for_twin(name, &model);
        let settings = SamplingSettings { max_new_tokens: NEW, ..Default::default() };

        let mut group = c.benchmark_group(format!("sample_{name}"));
        group.sample_size(10);
        for batch in [1usize, 64, 256] {
            let prompts = prompts(batch);
            group.throughput(Throughput::Elements((batch * NEW) as u64));
            group.bench_with_input(BenchmarkId::new("new_tokens", batch), &prompts, |b, prompts| {
                b.iter(|| generate(&model, prompts, &settings, SPECIALS, 0, 0, batch).unwrap())
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("forward_{name}"));
        group.sample_size(10);
        let ids: Vec<i32> = (0..64 * 64).map(|i| i * 31 % 512).collect();
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, [64, 64]), &device);
        group.throughput(Throughput::Elements(64 * 64));
        group.bench_function("tokens_64x64", |b| b.iter(|| model.forward(tokens.clone()).into_data()));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
