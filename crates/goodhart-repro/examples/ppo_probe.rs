//! Tries PPO settings against one stored proxy before committing a preset to them: prints every
//! step's proxy score, KL and losses, and the gold at the run's evaluation steps.
//!
//! `cargo run -p goodhart-repro --example ppo_probe -- <runs/laptop> <proxy dir> <gold dir> <lr> <steps> [batch]`
use std::ops::ControlFlow;
use std::time::Instant;

use burn::tensor::Device;
use goodhart_core::{Method, Record};
use goodhart_ppo::{PpoConfig, PpoInputs, PpoTrainer};
use goodhart_repro::{ExperimentConfig, Pipeline};
use goodhart_rm::CalibratedRm;
use goodhart_world::Split;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    goodhart_nn::keep_freed_memory();
    let a: Vec<String> = std::env::args().skip(1).collect();
    let [runs, proxy_dir, gold_dir, lr, steps, ..] = a.as_slice() else {
        return Err("usage: ppo_probe <runs dir> <proxy dir> <gold dir> <lr> <steps> [batch]".into());
    };
    let batch: usize = a.get(5).map_or(Ok(64), |s| s.parse())?;
    let pipe = Pipeline::new(ExperimentConfig::preset("laptop")?, runs, Device::flex())
        .with_reporter(goodhart_repro::progress::lines());
    let w = pipe.world()?;
    let policy = pipe.policy(&w)?.model;
    let proxy = CalibratedRm::load(&std::path::Path::new(proxy_dir).join("rm"), &pipe.device)?;
    let gold = CalibratedRm::load(&std::path::Path::new(gold_dir).join("rm"), &pipe.device)?;
    let prompts = w.prompt_tokens(Split::Train, 4096, 11)?;
    let eval_prompts = w.prompt_tokens(Split::HeldOut, 256, 12)?;
    let config = PpoConfig {
        lr: lr.parse()?,
        total_steps: steps.parse()?,
        batch_size: batch,
        eval_per_octave: 2,
        ..PpoConfig::laptop()
    };
    let inputs = PpoInputs {
        prompts: &prompts,
        eval_prompts: &eval_prompts,
        proxy: &proxy,
        gold: &gold,
        rubric: None,
        template: Record::new("probe", Method::Rl),
    };
    let mut trainer = PpoTrainer::new(config, &policy, w.specials)?;
    let start = Instant::now();
    let out = trainer.run(&inputs, |l| {
        println!(
            "step {:>4} {:>6.1}s proxy {:+.3} kl {:.2} ent {:.3} approx_kl {:.4} clip {:.3} len {:.1}",
            l.step,
            start.elapsed().as_secs_f64(),
            l.proxy.mean,
            l.kl_k1.mean,
            l.entropy,
            l.approx_kl,
            l.clipfrac,
            l.response_len
        );
        ControlFlow::Continue(())
    })?;
    for e in &out.evals {
        println!(
            "eval step {:>4}: KL {:.2} ({:.2})  gold {:+.3} ({:.3})  proxy {:+.3}",
            e.step, e.kl.mean, e.kl.se, e.gold.mean, e.gold.se, e.proxy.mean
        );
    }
    Ok(())
}
