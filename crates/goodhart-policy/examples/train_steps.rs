//! Runs the benchmark's training step (64 x 64 tokens: forward, cross-entropy, backward, clipping,
//! AdamW) in a loop, for profiling it: `cargo run --release -p goodhart-policy --example train_steps
//! -- [small|medium|p300k|...] [steps]` under `perf record`. Prints the mean step time, the last loss, and
//! how a step splits into forward and loss, backward, clipping and AdamW.

use std::time::Instant;

use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use goodhart_nn::GptConfig;
use goodhart_policy::bench::{presets, train_batch};
use goodhart_policy::{lm_loss, lm_train_step};

fn main() {
    goodhart_nn::keep_freed_memory();
    let args: Vec<String> = std::env::args().collect();
    let preset = args.get(1).map_or("small", String::as_str);
    let steps: usize = args.get(2).map_or(30, |s| s.parse().expect("steps: a whole number"));
    let config = match presets().into_iter().find(|(name, _)| *name == preset) {
        Some((_, config)) => config,
        // A model preset of the experiments (`p300k`, ...) on the benchmark's vocabulary and length.
        None => GptConfig::preset(preset, 512, 64).expect("preset: small, medium or p1k .. p30m"),
    };
    let device = Device::flex().autodiff();
    let mut model = Some(config.init_gpt(&device, 0));
    let mut optim = AdamWConfig::new().with_weight_decay(0.01).init();
    let batch = train_batch(config.vocab_size);
    let mut loss = 0.0;
    let start = Instant::now();
    for _ in 0..steps {
        let (next, stats) = lm_train_step(model.take().expect("model"), &mut optim, &batch, 1e-3, 1.0);
        model = Some(next);
        loss = stats.loss;
    }
    let per_step = start.elapsed().as_secs_f64() / steps as f64;
    // Where a step's time goes: the same step taken apart.
    let mut parts = [0.0f64; 4];
    for _ in 0..steps {
        let m = model.take().expect("model");
        let t0 = Instant::now();
        let loss_t = lm_loss(&m, &batch, &device);
        let _: f32 = loss_t.clone().into_scalar::<f32>();
        let t1 = Instant::now();
        let mut grads = GradientsParams::from_grads(loss_t.backward(), &m);
        let t2 = Instant::now();
        goodhart_nn::clip_global_norm(&m, &mut grads, 1.0);
        let t3 = Instant::now();
        model = Some(optim.step(1e-3, m, grads));
        let t4 = Instant::now();
        for (p, (a, b)) in parts.iter_mut().zip([(t0, t1), (t1, t2), (t2, t3), (t3, t4)]) {
            *p += (b - a).as_secs_f64() * 1e3 / steps as f64;
        }
    }
    println!(
        "forward+loss {:.1} ms, backward {:.1} ms, clip {:.1} ms, AdamW {:.1} ms",
        parts[0], parts[1], parts[2], parts[3]
    );
    let tokens = (batch.mask.len()) as f64;
    println!("{preset}: {:.1} ms/step, {:.0} tok/s, last loss {loss:.4}", per_step * 1e3, tokens / per_step);
}
