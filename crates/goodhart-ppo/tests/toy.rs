//! PPO end to end on a toy task: a tiny random policy over 16 tokens, rewarded for emitting
//! token 7. No trained reward model is needed: rewards are closures.

use std::ops::ControlFlow;

use burn::prelude::*;
use goodhart_core::{FnReward, Method, OptimisedRun, Record, SplitMix64, TokenId};
use goodhart_nn::{Gpt, GptConfig};
use goodhart_policy::Specials;
use goodhart_ppo::{run_ppo, PpoConfig, PpoError, PpoInputs, PpoTrainer};

const SP: Specials = Specials { pad: 0, bos: 1, eos: 2 };
const TARGET: TokenId = 7;

fn policy() -> Gpt {
    let config =
        GptConfig { vocab_size: 16, d_model: 32, n_layers: 1, n_heads: 2, d_ff: 64, max_seq_len: 12 };
    config.init_gpt(&Device::flex(), 3)
}

/// `n` prompts of 2 or 3 tokens from 3..16.
fn prompts(n: usize, seed: u64) -> Vec<Vec<TokenId>> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let len = 2 + rng.next_below(2) as usize;
            (0..len).map(|_| 3 + rng.next_below(13) as TokenId).collect()
        })
        .collect()
}

/// The proxy: the fraction of response tokens equal to `TARGET`.
fn frac_target(_: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Vec<f64> {
    responses
        .iter()
        .map(|r| r.iter().filter(|&&t| t == TARGET).count() as f64 / r.len().max(1) as f64)
        .collect()
}

/// The gold: likes the target token up to half of the response, dislikes more (Goodhart).
fn gold(p: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Vec<f64> {
    frac_target(p, responses).into_iter().map(|f| f.min(0.5) - 2.0 * (f - 0.5).max(0.0)).collect()
}

fn template() -> Record {
    let mut r = Record::new("toy", Method::Bon);
    r.rm_size = "closure".into();
    r.seed = 11;
    r
}

fn config(total_steps: usize) -> PpoConfig {
    PpoConfig { total_steps, seed: 11, ..PpoConfig::tiny() }
}

#[test]
fn kl_is_zero_before_any_update() {
    let (train, eval) = (prompts(64, 1), prompts(16, 2));
    let inputs = PpoInputs {
        prompts: &train,
        eval_prompts: &eval,
        proxy: &FnReward::new("proxy", frac_target),
        gold: &FnReward::new("gold", gold),
        rubric: None,
        template: template(),
    };
    let mut trainer = PpoTrainer::new(config(1), &policy(), SP).unwrap();
    let eval0 = trainer.evaluate(&inputs).unwrap();
    let log = trainer.train_step(&inputs).unwrap();
    assert_eq!(log.step, 0);
    for kl in [log.kl_k1, log.kl_k3, eval0.kl, eval0.kl_k1] {
        assert!(kl.mean.abs() < 1e-9 && kl.se.abs() < 1e-9, "{kl:?}");
    }
    // The first minibatch starts at ratio 1: the policy had not moved yet.
    assert!(log.approx_kl >= 0.0 && log.approx_kl < 0.1, "{log:?}");
    assert_eq!(trainer.step(), 1);
}

#[test]
fn ppo_raises_the_reward_and_moves_away_from_init() {
    let (train, eval) = (prompts(64, 1), prompts(32, 2));
    let inputs = PpoInputs {
        prompts: &train,
        eval_prompts: &eval,
        proxy: &FnReward::new("proxy", frac_target),
        gold: &FnReward::new("gold", gold),
        rubric: Some(&FnReward::new("rubric", gold)),
        template: template(),
    };
    let start = std::time::Instant::now();
    let out = run_ppo(&config(12), &policy(), SP, &inputs, None).unwrap();
    eprintln!("12 PPO steps in {:?}", start.elapsed());
    for log in &out.logs {
        eprintln!(
            "step {:2} proxy {:.3} kl_k3 {:.3} pg {:+.4} v {:.4} ent {:.3} akl {:.4} cf {:.3} ev {:?}",
            log.step,
            log.proxy.mean,
            log.kl_k3.mean,
            log.pg_loss,
            log.v_loss,
            log.entropy,
            log.approx_kl,
            log.clipfrac,
            log.explained_variance
        );
    }
    assert!(out.complete);
    let (first, last) = (&out.logs[0], out.logs.last().unwrap());
    assert!(first.proxy.mean < 0.2, "a random policy rarely says 7: {first:?}");
    assert!(
        last.proxy.mean > first.proxy.mean + 0.3,
        "proxy went from {} to {}",
        first.proxy.mean,
        last.proxy.mean
    );
    assert!(last.kl_k1.mean > 1.0 && last.kl_k1.mean > 5.0 * last.kl_k1.se, "{last:?}");

    // Gold records at steps 0, 1, 2, 4, 8, 12, with the template's fields kept.
    let steps: Vec<Option<u64>> = out.records.iter().map(|r| r.step).collect();
    assert_eq!(steps, [0, 1, 2, 4, 8, 12].map(Some));
    let (r0, rn) = (&out.records[0], out.records.last().unwrap());
    assert!(out.records.iter().all(|r| r.method == Method::Rl && r.rm_size == "closure" && r.seed == 11));
    assert!(r0.kl.abs() < 1e-9 && rn.kl > 1.0 && (rn.sqrt_kl - rn.kl.sqrt()).abs() < 1e-12);
    assert!(rn.proxy > r0.proxy + 0.3, "{r0:?} -> {rn:?}");
    assert!(rn.gold_se > 0.0 && rn.proxy_se > 0.0);
    // the rubric (here the gold itself) is recorded beside the gold, and agrees with it
    assert_eq!((rn.rubric, rn.rubric_se), (rn.gold, rn.gold_se));
    let last_eval = out.evals.last().unwrap();
    assert_eq!(last_eval.gold_values.len(), eval.len());
    let c = last_eval.gold_rubric_concordance.expect("a rubric was given");
    assert!(c == 1.0 || c.is_nan(), "a score agrees with itself on every pair it does not tie: {c}");
    assert_eq!(out.curve().points.len(), 6);
}

#[test]
fn resume_after_kill_gives_identical_records() {
    let (train, eval) = (prompts(64, 1), prompts(16, 2));
    let inputs = PpoInputs {
        prompts: &train,
        eval_prompts: &eval,
        proxy: &FnReward::new("proxy", frac_target),
        gold: &FnReward::new("gold", gold),
        rubric: None,
        template: template(),
    };
    let total = 5;
    let init = policy();
    let uninterrupted = run_ppo(&config(total), &init, SP, &inputs, None).unwrap();
    let json = |o: &goodhart_ppo::PpoOutput| {
        (serde_json::to_string(&o.records).unwrap(), serde_json::to_string(&o.logs).unwrap())
    };
    let expected = json(&uninterrupted);

    // Killed after `stop_after` steps with checkpoints every `every`: with every = 2 and 3 steps
    // done, step 2 is lost and recomputed on resume.
    for (every, stop_after) in [(1, 2), (2, 3)] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = PpoConfig { checkpoint_every: every, ..config(total) };
        {
            let mut trainer = PpoTrainer::with_checkpoints(cfg.clone(), &init, SP, dir.path()).unwrap();
            let partial = trainer
                .run(&inputs, |log| {
                    if log.step + 1 == stop_after {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                })
                .unwrap();
            assert!(!partial.complete);
            assert_eq!(partial.logs.len(), stop_after);
        } // the trainer is dropped: everything not in a checkpoint is lost
          // A torn write from the "killed" process.
        std::fs::create_dir_all(dir.path().join("ckpt-00000009.tmp/policy")).unwrap();
        std::fs::write(dir.path().join("ckpt-00000009.tmp/state.json"), "{").unwrap();

        let resumed = PpoTrainer::with_checkpoints(cfg.clone(), &init, SP, dir.path()).unwrap();
        assert_eq!(resumed.step(), stop_after / every * every, "resumed from the latest checkpoint");
        drop(resumed);
        let out = run_ppo(&cfg, &init, SP, &inputs, Some(dir.path())).unwrap();
        assert!(out.complete);
        assert_eq!(json(&out), expected, "checkpoint_every {every}, stopped after {stop_after}");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![format!("ckpt-{total:08}")], "only the latest checkpoint is kept");

        // Running again after completion does no work and returns the same output.
        let again = run_ppo(&cfg, &init, SP, &inputs, Some(dir.path())).unwrap();
        assert_eq!(json(&again), expected);

        // Another config cannot resume this checkpoint; a corrupt file is named.
        let other = PpoConfig { clip_coef: 0.3, ..cfg.clone() };
        let err = PpoTrainer::with_checkpoints(other, &init, SP, dir.path()).err().unwrap();
        assert!(
            matches!(err, PpoError::CheckpointMismatch { .. }) && err.to_string().contains("clip_coef"),
            "{err}"
        );
        let state = dir.path().join(format!("ckpt-{total:08}/state.json"));
        std::fs::write(&state, "{\"format\": 1, \"step\": ").unwrap();
        let err = PpoTrainer::with_checkpoints(cfg.clone(), &init, SP, dir.path()).err().unwrap();
        assert!(matches!(err, PpoError::CheckpointCorrupt { .. }), "{err}");
        assert!(err.to_string().contains(&state.display().to_string()), "{err}");
    }
}

#[test]
fn bad_inputs_and_rewards_are_reported() {
    let (train, eval) = (prompts(8, 1), prompts(4, 2));
    let nan = |_: &[Vec<TokenId>], r: &[Vec<TokenId>]| vec![f64::NAN; r.len()];
    let inputs = PpoInputs {
        prompts: &train,
        eval_prompts: &eval,
        proxy: &FnReward::new("nan", nan),
        gold: &FnReward::new("gold", gold),
        rubric: None,
        template: template(),
    };
    let err = run_ppo(&config(1), &policy(), SP, &inputs, None).unwrap_err();
    assert!(matches!(err, PpoError::BadReward { which: "proxy", step: 0, .. }), "{err}");
    let one = &eval[..1];
    let inputs = PpoInputs {
        prompts: &train,
        eval_prompts: one,
        proxy: &FnReward::new("proxy", frac_target),
        gold: &FnReward::new("gold", gold),
        rubric: None,
        template: template(),
    };
    let err = run_ppo(&config(1), &policy(), SP, &inputs, None).unwrap_err();
    assert!(err.to_string().contains("evaluation prompts"), "{err}");
}

#[test]
fn a_checkpoint_before_any_step_resumes_at_step_zero() {
    let dir = tempfile::tempdir().unwrap();
    let init = policy();
    let mut trainer = PpoTrainer::with_checkpoints(config(2), &init, SP, dir.path()).unwrap();
    let path = trainer.save_checkpoint().unwrap().expect("a checkpoint is written");
    assert!(path.ends_with("ckpt-00000000"));
    assert_eq!(trainer.save_checkpoint().unwrap(), None, "nothing changed since");
    let resumed = PpoTrainer::with_checkpoints(config(2), &init, SP, dir.path()).unwrap();
    assert_eq!((resumed.step(), resumed.logs().len()), (0, 0));
    // Another initial policy cannot continue it.
    let other = GptConfig { vocab_size: 16, d_model: 32, n_layers: 1, n_heads: 2, d_ff: 64, max_seq_len: 12 }
        .init_gpt(&Device::flex(), 4);
    let err = PpoTrainer::with_checkpoints(config(2), &other, SP, dir.path()).err().unwrap();
    assert!(err.to_string().contains("initial policy"), "{err}");
}

/// GRPO and every KL placement train; a penalty in the loss holds the KL back as one in the
/// reward does: each penalised run ends nearer `pi_init` than the unpenalised one.
#[test]
fn grpo_and_every_kl_placement_train_and_a_penalty_holds_the_kl_back() {
    use goodhart_ppo::{Advantages, KlPenalty, KlPlacement};
    let (train, eval) = (prompts(64, 1), prompts(16, 2));
    let inputs = PpoInputs {
        prompts: &train,
        eval_prompts: &eval,
        proxy: &FnReward::new("proxy", frac_target),
        gold: &FnReward::new("gold", gold),
        rubric: None,
        template: template(),
    };
    let final_kl = |c: &PpoConfig| {
        let out = run_ppo(c, &policy(), SP, &inputs, None).unwrap();
        let (first, last) = (&out.logs[0], out.logs.last().unwrap());
        (first.proxy.mean, last.proxy.mean, last.kl_k1.mean, last.explained_variance)
    };
    for advantages in [Advantages::Gae, Advantages::GroupRelative { group: 4 }] {
        let free = PpoConfig { advantages, ..config(12) };
        let (p0, p1, free_kl, ev) = final_kl(&free);
        assert!(p1 > p0 + 0.2, "{advantages:?}: proxy {p0} -> {p1}");
        assert_eq!(ev.is_none(), advantages != Advantages::Gae, "GRPO trains no value model");
        for placement in KlPlacement::ALL {
            let penalised = PpoConfig {
                kl_penalty: KlPenalty::Fixed { coef: 2.0 },
                kl_placement: placement,
                ..free.clone()
            };
            let (_, _, kl, _) = final_kl(&penalised);
            assert!(
                kl < 0.8 * free_kl,
                "{advantages:?} {placement:?}: KL {kl} against {free_kl} unpenalised"
            );
        }
    }
}
