//! Your own reward, optimised by best-of-n and by PPO through goodhart's public traits.
//!
//! The proxy is a closure (the share of response tokens equal to 7: "say 7 a lot"), wrapped in
//! `FnReward`; the gold is a type of its own that implements `RewardModel` (it likes that token up
//! to a quarter of the response and dislikes more of it), as your reward model would. Both
//! optimisers take them as `&dyn RewardModel` and report the gold along their curves, so the
//! overoptimisation of the proxy shows on the gold. The policy is a small random transformer; put
//! your own there.
//!
//! ```text
//! cargo run --release -p goodhart-ppo --example own_reward
//! ```

use burn::prelude::*;
use goodhart_bon::{log_grid, BestOfN};
use goodhart_core::{
    BoxError, Curve, FnReward, Judges, Method, OptimisedRun, Optimiser, Record, RewardModel,
    SamplingSettings, TokenId,
};
use goodhart_nn::GptConfig;
use goodhart_policy::{LmPolicy, Specials};
use goodhart_ppo::{PpoConfig, PpoOptimiser};

/// How much to run.
pub struct Settings {
    /// Prompts of best-of-n and of PPO's evaluations.
    pub prompts: usize,
    /// Samples per best-of-n prompt (the largest n).
    pub pool: usize,
    /// PPO iterations.
    pub ppo_steps: usize,
}

const TARGET: TokenId = 7;

/// The share of a response's tokens equal to `TARGET`.
fn share(response: &[TokenId]) -> f64 {
    response.iter().filter(|&&t| t == TARGET).count() as f64 / response.len().max(1) as f64
}

/// The gold: `TARGET` is good up to `cap` of the response, and twice as bad beyond it.
struct CappedShare {
    cap: f64,
}

impl RewardModel for CappedShare {
    fn name(&self) -> &str {
        "gold"
    }

    fn num_params(&self) -> u64 {
        0
    }

    fn score(&self, _prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Result<Vec<f64>, BoxError> {
        Ok(responses.iter().map(|r| share(r).min(self.cap) - 2.0 * (share(r) - self.cap).max(0.0)).collect())
    }
}

/// Best-of-n and PPO against the closure proxy, judged by the capped gold.
pub fn run(s: &Settings) -> Result<(Curve, Curve), BoxError> {
    let proxy = FnReward::new("share of 7", |_: &[Vec<TokenId>], r: &[Vec<TokenId>]| {
        r.iter().map(|r| share(r)).collect()
    });
    let gold = CappedShare { cap: 0.25 };

    let specials = Specials { pad: 0, bos: 1, eos: 2 };
    let config =
        GptConfig { vocab_size: 16, d_model: 32, n_layers: 1, n_heads: 2, d_ff: 64, max_seq_len: 12 };
    let policy = config.init_gpt(&Device::flex(), 3);
    // Two-token prompts; the evaluation prompts start with tokens the training ones never do.
    let prompt = |i: usize, first: TokenId| vec![first + (i % 5) as TokenId, 3 + (i % 11) as TokenId];
    let train: Vec<Vec<TokenId>> = (0..64).map(|i| prompt(i, 3)).collect();
    let held_out: Vec<Vec<TokenId>> = (0..s.prompts).map(|i| prompt(i, 9)).collect();

    // Best-of-n: pools drawn once from the initial policy, the curve read off the estimator.
    let lm = LmPolicy { model: policy.clone(), specials, batch_size: 64 };
    let sampling = SamplingSettings { max_new_tokens: 6, ..SamplingSettings::default() };
    let grid = log_grid(s.pool as u64, 6);
    let mut bon = BestOfN::sample(&lm, held_out.clone(), s.pool, &sampling, 0, &grid, |_| {})?;
    let bon_curve = bon.optimise(Some(&proxy), Judges::gold(&gold))?.curve();

    // PPO from the same initial policy.
    let ppo_config = PpoConfig { total_steps: s.ppo_steps, seed: 11, ..PpoConfig::tiny() };
    let template = Record::new("own-reward", Method::Rl);
    let mut ppo = PpoOptimiser::new(ppo_config, policy, specials, train, held_out, template);
    let ppo_curve = ppo.optimise(Some(&proxy), Judges::gold(&gold))?.curve();
    Ok((bon_curve, ppo_curve))
}

#[allow(dead_code)]
fn main() -> Result<(), BoxError> {
    let (bon, ppo) = run(&Settings { prompts: 64, pool: 256, ppo_steps: 60 })?;
    for (name, curve) in [("best-of-n", bon), ("PPO", ppo)] {
        println!("{name}:\n  {:>6} {:>8} {:>8} {:>8}", "n/step", "KL", "proxy", "gold");
        for p in &curve.points {
            let x = p.n.or(p.step).unwrap_or(0);
            println!("  {x:>6} {:>8.3} {:>8.3} {:>8.3}", p.kl, p.proxy, p.gold);
        }
    }
    Ok(())
}
