//! Sampling throughput (new tokens per second) of the policy's batched KV-cache sampler, and the
//! forward pass used for scoring, each on the CPU inference engine (`goodhart::nn::Engine`, what
//! `generate` and the reward models use on the CPU) and on burn's own path, at the shapes of the throughput issue (models and shapes:
//! `goodhart::policy::bench`):
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
//!
//! `cargo xtask bench` runs both, plus the training step, and prints the ratios.

use std::path::PathBuf;

use burn::prelude::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use goodhart::core::SamplingSettings;
use goodhart::nn::Engine;
use goodhart::policy::bench::{self as workload, NEW_TOKENS, SAMPLE_BATCHES, SEQS, SEQ_LEN, SPECIALS};
use goodhart::policy::{generate, generate_burn};

fn bench(c: &mut Criterion) {
    goodhart::nn::keep_freed_memory();
    let device = Device::flex();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/goodhart-bench");
    for (name, config) in workload::presets() {
        let model = config.init_gpt(&device, 0);
        model
            .export_twin(dir.join(format!("{name}.safetensors")), &workload::prompts(1)[0])
            .expect("export the weights for the PyTorch twin");
        let settings = SamplingSettings { max_new_tokens: NEW_TOKENS, ..Default::default() };

        let mut group = c.benchmark_group(format!("sample_{name}"));
        group.sample_size(10);
        for batch in SAMPLE_BATCHES {
            let prompts = workload::prompts(batch);
            group.throughput(Throughput::Elements((batch * NEW_TOKENS) as u64));
            group.bench_with_input(BenchmarkId::new("new_tokens", batch), &prompts, |b, prompts| {
                b.iter(|| generate(&model, prompts, &settings, SPECIALS, 0, 0, batch).unwrap())
            });
        }
        let prompts = workload::prompts(64);
        group.throughput(Throughput::Elements((64 * NEW_TOKENS) as u64));
        group.bench_with_input(BenchmarkId::new("new_tokens_burn", 64), &prompts, |b, prompts| {
            b.iter(|| generate_burn(&model, prompts, &settings, SPECIALS, 0, 0, 64).unwrap())
        });
        group.finish();

        let mut group = c.benchmark_group(format!("forward_{name}"));
        group.sample_size(10);
        let ids = workload::scoring_tokens(config.vocab_size);
        let engine = Engine::from_gpt(&model);
        group.throughput(Throughput::Elements((SEQS * SEQ_LEN) as u64));
        group.bench_function("tokens_64x64", |b| b.iter(|| engine.logits(&ids, SEQS)));
        let ids: Vec<i32> = ids.iter().map(|&t| t as i32).collect();
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, [SEQS, SEQ_LEN]), &device);
        group.bench_function("tokens_64x64_burn", |b| b.iter(|| model.forward(tokens.clone()).into_data()));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
