//! docs/library.md, "Use the math on its own", compiled and run: best-of-n curves from scored pools
//! and the paper's best-of-n law fitted to their gold, with goodhart-bon and goodhart-laws only.
//!
//! `cargo run -p goodhart-bon --example math_on_its_own`

use goodhart_bon::{BonEstimator, PromptPool};
use goodhart_laws::{fit, FitOptions, Form};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 50 prompts x 64 samples: the proxy is the gold plus an error that grows with the proxy's
    // own score, so the best of many is worse by the gold (a deterministic toy, no RNG crate).
    let scores: Vec<(Vec<f64>, Vec<f64>)> = (0..50)
        .map(|p| {
            let proxy: Vec<f64> = (0..64).map(|i| ((i * 37 + p * 11) % 64) as f64 / 16.0).collect();
            let gold = proxy
                .iter()
                .enumerate()
                .map(|(i, x)| x - 0.12 * x * x + ((i * p) % 7) as f64 * 0.05)
                .collect();
            (proxy, gold)
        })
        .collect();
    let pools: Vec<PromptPool<'_>> =
        scores.iter().map(|(proxy, gold)| PromptPool::new(proxy, gold)).collect();

    let est = BonEstimator::new(&[1, 2, 4, 8, 16, 32, 64])?;
    let curves = est.estimate(&pools)?; // one PromptPool { proxy, gold } per prompt
    let d: Vec<f64> = curves.kl.iter().map(|k| k.sqrt()).collect();
    let gold: Vec<f64> = curves.gold.iter().map(|g| g.mean - curves.gold[0].mean).collect(); // from 0
    let law = fit(Form::Bon, &d, &gold, &FitOptions::default())?; // alpha_bon, beta_bon, R^2
    println!("alpha {:.3}, beta {:.3}, R^2 {:.3}, peak {:?}", law.alpha(), law.beta(), law.r2, law.peak());
    Ok(())
}
