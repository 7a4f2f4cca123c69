//! Runs the benchmark's sampling workload (B prompts, [`NEW_TOKENS`] new tokens each, on the
//! engine) in a loop, for profiling it: `cargo run --release -p goodhart-policy --example
//! sample_batches -- [small|medium] [batch] [repetitions]` under `perf record`. Prints new tokens
//! per second.

use std::time::Instant;

use burn::prelude::*;
use goodhart_core::SamplingSettings;
use goodhart_policy::bench::{presets, prompts, NEW_TOKENS, SPECIALS};
use goodhart_policy::generate;

fn main() {
    goodhart_nn::keep_freed_memory();
    let args: Vec<String> = std::env::args().collect();
    let preset = args.get(1).map_or("medium", String::as_str);
    let batch: usize = args.get(2).map_or(256, |s| s.parse().expect("batch: a whole number"));
    let reps: usize = args.get(3).map_or(5, |s| s.parse().expect("repetitions: a whole number"));
    let Some((_, config)) = presets().into_iter().find(|(name, _)| *name == preset) else {
        panic!("preset: small or medium");
    };
    let model = config.init_gpt(&Device::flex(), 0);
    let prompts = prompts(batch);
    let settings = SamplingSettings { max_new_tokens: NEW_TOKENS, ..Default::default() };
    let start = Instant::now();
    for _ in 0..reps {
        generate(&model, &prompts, &settings, SPECIALS, 0, 0, batch).expect("sampling");
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{preset} B={batch}: {:.1} ms per batch, {:.0} new tok/s",
        seconds * 1e3 / reps as f64,
        (batch * NEW_TOKENS * reps) as f64 / seconds
    );
}
