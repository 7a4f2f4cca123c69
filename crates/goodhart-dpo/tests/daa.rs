//! DPO and IPO end to end on a toy task: a tiny random policy over 16 tokens, pairs that prefer
//! responses full of token 7, the gold a closure.

use burn::prelude::*;
use goodhart_core::{FnReward, Judges, Method, OptimisedRun, Optimiser, Record, SplitMix64, TokenId};
use goodhart_dpo::{pair_loss, DaaConfig, DaaLoss, DaaOptimiser, DaaTrainer, PreferencePair};
use goodhart_nn::{Gpt, GptConfig};
use goodhart_policy::Specials;

const SP: Specials = Specials { pad: 0, bos: 1, eos: 2 };
const TARGET: TokenId = 7;

fn policy() -> Gpt {
    let config =
        GptConfig { vocab_size: 16, d_model: 32, n_layers: 1, n_heads: 2, d_ff: 64, max_seq_len: 12 };
    config.init_gpt(&Device::flex(), 3)
}

fn tokens(rng: &mut SplitMix64, len: usize) -> Vec<TokenId> {
    (0..len).map(|_| 3 + rng.next_below(13) as TokenId).collect()
}

/// Pairs whose chosen response is mostly `TARGET` and whose rejected one is random, both ending
/// in `[eos]`.
fn pairs(n: usize, seed: u64) -> Vec<PreferencePair> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let prompt = tokens(&mut rng, 2);
            let mut chosen = vec![TARGET; 4];
            chosen[rng.next_below(4) as usize] = 3 + rng.next_below(13) as TokenId;
            chosen.push(SP.eos);
            let mut rejected = tokens(&mut rng, 4);
            rejected.push(SP.eos);
            PreferencePair { prompt, chosen, rejected }
        })
        .collect()
}

fn frac_target(_: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Vec<f64> {
    responses
        .iter()
        .map(|r| r.iter().filter(|&&t| t == TARGET).count() as f64 / r.len().max(1) as f64)
        .collect()
}

fn config(loss: DaaLoss, total_steps: usize) -> DaaConfig {
    DaaConfig {
        loss,
        beta: 0.5,
        total_steps,
        batch_size: 8,
        lr: 3e-3,
        weight_decay: 0.0,
        adam_eps: 1e-8,
        max_grad_norm: 1.0,
        seed: 5,
        eval_per_octave: 1,
        gen_batch_size: 16,
        max_new_tokens: 6,
    }
}

fn eval_prompts() -> Vec<Vec<TokenId>> {
    let mut rng = SplitMix64::new(99);
    (0..24).map(|_| tokens(&mut rng, 2)).collect()
}

#[test]
fn the_first_step_sees_the_loss_at_h_zero() {
    // before any update the policy is its reference: h = 0 for every pair
    for (loss, beta) in [(DaaLoss::Dpo, 0.5), (DaaLoss::Ipo, 0.25)] {
        let mut trainer = DaaTrainer::new(DaaConfig { beta, ..config(loss, 1) }, &policy(), SP).unwrap();
        let log = trainer.train_step(&pairs(32, 1)).unwrap();
        assert!(log.margin.abs() < 1e-4, "{loss}: {log:?}");
        assert!((log.loss - pair_loss(loss, beta, 0.0)).abs() < 1e-4, "{loss}: {log:?}");
    }
}

#[test]
fn training_prefers_the_chosen_responses_and_moves_away_from_the_reference() {
    // IPO's margin 1 / (2 beta) bounds how far it moves: a smaller beta lets it move as far
    for (loss, beta) in [(DaaLoss::Dpo, 0.5), (DaaLoss::Ipo, 0.1)] {
        let gold = FnReward::new("gold", frac_target);
        let mut opt = DaaOptimiser::new(
            DaaConfig { beta, ..config(loss, 40) },
            policy(),
            SP,
            pairs(256, 2),
            eval_prompts(),
            Record::new("toy", Method::Daa),
        );
        let out = opt.optimise(None, Judges::gold(&gold)).unwrap();
        assert!(out.complete);
        let (first, last) = (&out.evals[0], out.evals.last().unwrap());
        assert_eq!((first.step, last.step), (0, 40));
        assert!(first.kl.mean.abs() < 1e-6, "{loss}: KL at step 0 {:?}", first.kl);
        assert!(last.kl.mean > 0.1, "{loss}: the policy did not move: KL {:?}", last.kl);
        assert!(last.gold.mean > first.gold.mean + 0.1, "{loss}: gold {:?} -> {:?}", first.gold, last.gold);
        // the implicit reward of the policy's own samples: beta times their log-ratio, positive
        assert!(last.proxy.mean > 0.0, "{loss}: implicit reward {:?}", last.proxy);
        let tail = &out.logs[30..];
        let accuracy = tail.iter().map(|l| l.accuracy).sum::<f64>() / tail.len() as f64;
        assert!(accuracy > 0.9, "{loss}: late training accuracy {accuracy}");
        assert!(out.records.iter().all(|r| r.method == Method::Daa));
        assert_eq!(out.curve().points.len(), out.evals.len());
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let gold = FnReward::new("gold", frac_target);
    let run = || {
        let mut trainer = DaaTrainer::new(config(DaaLoss::Dpo, 6), &policy(), SP).unwrap();
        trainer
            .run(&pairs(40, 3), &eval_prompts(), &gold, None, &Record::new("toy", Method::Daa), |_| {
                std::ops::ControlFlow::Continue(())
            })
            .unwrap()
    };
    // (compared as JSON: the records' unmeasured rubric is NaN, which equals nothing)
    let json = |o: goodhart_dpo::DaaOutput| serde_json::to_string(&o).unwrap();
    assert_eq!(json(run()), json(run()));
}

#[test]
fn bad_inputs_are_refused_with_the_fix() {
    let gold = FnReward::new("gold", frac_target);
    let mut opt = DaaOptimiser::new(
        config(DaaLoss::Dpo, 2),
        policy(),
        SP,
        pairs(8, 4),
        eval_prompts(),
        Record::new("toy", Method::Daa),
    );
    let err = opt.optimise(Some(&gold), Judges::gold(&gold)).unwrap_err().to_string();
    assert!(err.contains("pass no proxy"), "{err}");
    let bad = DaaConfig { beta: 0.0, ..config(DaaLoss::Ipo, 2) };
    let err = DaaTrainer::new(bad, &policy(), SP).err().unwrap().to_string();
    assert_eq!(err, "invalid DaaConfig.beta: 0 must be finite and > 0");
    let mut trainer = DaaTrainer::new(config(DaaLoss::Dpo, 2), &policy(), SP).unwrap();
    let err = trainer.train_step(&[]).unwrap_err().to_string();
    assert!(err.contains("no preference pairs"), "{err}");
}
