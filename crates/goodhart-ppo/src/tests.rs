//! Unit tests of the PPO building blocks and configs.
use crate::config::*;
use crate::losses::*;
use crate::rollout::*;
use crate::trainer::*;
use burn::prelude::*;
use goodhart_policy::eval::{eval_steps, logprobs_and_entropy, Layout};
use goodhart_policy::Specials;

fn tensor(rows: &[&[f32]], device: &Device) -> Tensor<2> {
    let (b, t) = (rows.len(), rows[0].len());
    Tensor::from_data(TensorData::new(rows.concat(), [b, t]), device)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-5
}

/// GAE on a 3-step episode, gamma = 0.9, lambda = 0.8, by hand:
/// r = [1, 0, 2], V = [0.5, 1.0, 1.5], V_3 = 0 (terminal).
/// delta_2 = 2 + 0.9*0 - 1.5 = 0.5
/// delta_1 = 0 + 0.9*1.5 - 1.0 = 0.35
/// delta_0 = 1 + 0.9*1.0 - 0.5 = 1.4
/// A_2 = 0.5
/// A_1 = 0.35 + 0.72*0.5 = 0.71
/// A_0 = 1.4 + 0.72*0.71 = 1.9112
#[test]
fn gae_matches_hand_computation() {
    let adv = gae(&[1.0, 0.0, 2.0], &[0.5, 1.0, 1.5], 0.9, 0.8);
    let expected = [1.9112, 0.71, 0.5];
    for (a, e) in adv.iter().zip(expected) {
        assert!(close(*a as f64, e), "{adv:?} vs {expected:?}");
    }
    // lambda = 1, gamma = 1: advantages are reward-to-go minus value.
    let adv = gae(&[1.0, 0.0, 2.0], &[0.5, 1.0, 1.5], 1.0, 1.0);
    assert_eq!(adv, vec![2.5, 1.0, 0.5]);
    // lambda = 0: one-step TD errors.
    let adv = gae(&[1.0, 0.0, 2.0], &[0.5, 1.0, 1.5], 0.9, 0.0);
    assert!(close(adv[0] as f64, 1.4) && close(adv[1] as f64, 0.35) && close(adv[2] as f64, 0.5));
}

#[test]
fn rewards_put_the_score_last_and_penalise_kl() {
    let mut out = [0.0f32; 3];
    token_rewards(&[-1.0, -2.0, -0.5], &[-1.5, -2.0, -1.0], 3.0, 0.1, &mut out);
    // penalties: -0.1*0.5, -0.1*0, -0.1*0.5; the score on the last token
    let expected = [-0.05, 0.0, 2.95];
    assert!(out.iter().zip(expected).all(|(a, e)| close(*a as f64, e)), "{out:?}");
    token_rewards(&[-1.0, -2.0], &[-3.0, -4.0], 1.5, 0.0, &mut out[..2]);
    assert_eq!(&out[..2], &[0.0, 1.5]);
}

/// Ratios e^{0.5} = 1.6487, e^{0} = 1, e^{-0.5} = 0.6065, e^{0.1} = 1.1052 (masked out: 4th).
/// clip 0.2; advantages [1, -1, -2, 5]:
/// token 0: A = 1,  max(-1.6487, -1.2) = -1.2
/// token 1: A = -1, max(1, 1) = 1
/// token 2: A = -2, max(2*0.6065, 2*0.8) = 1.6
/// pg_loss = (-1.2 + 1 + 1.6) / 3 = 0.46667
/// approx_kl = ((0.6487 - 0.5) + 0 + (-0.3935 + 0.5)) / 3 = (0.14872 + 0.10653) / 3 = 0.085085
/// clipfrac = (1 + 0 + 1) / 3
#[test]
fn clipped_policy_loss_matches_hand_computation() {
    let device = Device::flex();
    let new = tensor(&[&[0.5, 0.0], &[-0.5, 0.1]], &device);
    let old = tensor(&[&[0.0, 0.0], &[0.0, 0.0]], &device);
    let adv = tensor(&[&[1.0, -1.0], &[-2.0, 5.0]], &device);
    let mask = tensor(&[&[1.0, 1.0], &[1.0, 0.0]], &device);
    let pl = clipped_policy_loss(new, old, adv, mask, 0.2);
    assert!(close(scalar(&pl.pg_loss), 1.4 / 3.0), "{}", scalar(&pl.pg_loss));
    let akl = ((0.5f64.exp() - 1.0 - 0.5) + ((-0.5f64).exp() - 1.0 + 0.5)) / 3.0;
    assert!(close(scalar(&pl.approx_kl), akl), "{} vs {akl}", scalar(&pl.approx_kl));
    assert!(close(scalar(&pl.clipfrac), 2.0 / 3.0));
}

/// V_old = [1, 1, 0], V = [1.5, 0.9, 3], R = [2, 0, 1], clip 0.2 (4th masked out):
/// token 0: V_clip = 1.2; max((1.5-2)^2, (1.2-2)^2) = max(0.25, 0.64) = 0.64
/// token 1: V_clip = 0.9; max(0.81, 0.81) = 0.81
/// token 2: V_clip = 0.2; max((3-1)^2, (0.2-1)^2) = max(4, 0.64) = 4
/// clipped: 0.5 * (0.64 + 0.81 + 4) / 3 = 0.908333; unclipped: 0.5 * (0.25 + 0.81 + 4) / 3 = 0.843333
#[test]
fn clipped_value_loss_matches_hand_computation() {
    let device = Device::flex();
    let new = tensor(&[&[1.5, 0.9], &[3.0, 7.0]], &device);
    let old = tensor(&[&[1.0, 1.0], &[0.0, 0.0]], &device);
    let ret = tensor(&[&[2.0, 0.0], &[1.0, 0.0]], &device);
    let mask = tensor(&[&[1.0, 1.0], &[1.0, 0.0]], &device);
    let clipped = clipped_value_loss(new.clone(), old.clone(), ret.clone(), mask.clone(), Some(0.2));
    assert!(close(scalar(&clipped), 0.5 * 5.45 / 3.0), "{}", scalar(&clipped));
    let plain = clipped_value_loss(new, old, ret, mask, None);
    assert!(close(scalar(&plain), 0.5 * 5.06 / 3.0), "{}", scalar(&plain));
}

#[test]
fn entropy_of_uniform_logits_is_log_v() {
    let device = Device::flex();
    let logits = Tensor::<3>::zeros([1, 2, 4], &device);
    let (lp, ent) = logprobs_and_entropy(logits, &[1, 3]);
    let lp: Vec<f32> = lp.into_data().try_into_vec().unwrap();
    let ent: Vec<f32> = ent.into_data().try_into_vec().unwrap();
    assert!(lp.iter().all(|&x| close(x as f64, -(4f64.ln()))));
    assert!(ent.iter().all(|&x| close(x as f64, 4f64.ln())));
}

#[test]
fn adaptive_controller_moves_towards_the_target() {
    // KL above target: the error is clipped to +0.2; 64 episodes over a horizon of 10000.
    let up = adaptive_kl_coef(0.1, 12.0, 6.0, 10_000.0, 64);
    assert!(close(up, 0.1 * (1.0 + 0.2 * 64.0 / 10_000.0)));
    let down = adaptive_kl_coef(0.1, 5.4, 6.0, 10_000.0, 64);
    assert!(close(down, 0.1 * (1.0 - 0.1 * 64.0 / 10_000.0)));
}

#[test]
fn layout_aligns_response_tokens_with_their_states() {
    let sp = Specials { pad: 0, bos: 1, eos: 2 };
    let prompts = vec![vec![5, 6], vec![7]];
    let responses = vec![vec![8, 2], vec![9, 10, 11]];
    let l = Layout::new(&prompts, &responses, &[0, 1], sp);
    assert_eq!(l.len, 4);
    assert_eq!(l.inputs, vec![1, 5, 6, 8, 1, 7, 9, 10]);
    assert_eq!(l.targets, vec![5, 6, 8, 2, 7, 9, 10, 11]);
    assert_eq!(l.starts, vec![2, 5]); // targets[2..4] = [8, 2]; targets[5..8] = [9, 10, 11]
}

#[test]
fn explained_variance_and_normalisation() {
    assert_eq!(explained_variance(&[1.0, 2.0], &[1.0, 2.0]), Some(1.0));
    assert_eq!(explained_variance(&[0.0, 0.0], &[1.0, 1.0]), None);
    let mut x = [1.0f32, 2.0, 3.0, 100.0];
    normalize_masked(&mut x, &[1.0, 1.0, 1.0, 0.0]);
    assert!(close(x[0] as f64, -1.0) && close(x[1] as f64, 0.0) && close(x[2] as f64, 1.0));
    assert_eq!(x[3], 100.0);
}

#[test]
fn presets_validate_and_bad_fields_are_named() {
    for c in [PpoConfig::tiny(), PpoConfig::laptop(), PpoConfig::paper()] {
        c.validate().unwrap();
    }
    assert_eq!(PpoConfig::paper().minibatch_size(), 2);
    let err = PpoConfig { num_minibatches: 5, ..PpoConfig::tiny() }.validate().unwrap_err();
    assert!(err.to_string().contains("PpoConfig.num_minibatches"), "{err}");
    let err = PpoConfig { gae_lambda: 1.5, ..PpoConfig::tiny() }.validate().unwrap_err();
    assert!(err.to_string().contains("PpoConfig.gae_lambda"), "{err}");
    let kl = KlPenalty::Adaptive { init_coef: 0.1, target: 0.0, horizon: 1e4 };
    let err = PpoConfig { kl_penalty: kl, ..PpoConfig::tiny() }.validate().unwrap_err();
    assert!(err.to_string().contains("kl_penalty.target"), "{err}");
    let json = serde_json::to_string(&PpoConfig::laptop()).unwrap();
    assert_eq!(serde_json::from_str::<PpoConfig>(&json).unwrap(), PpoConfig::laptop());
}

#[test]
fn resume_conflicts_name_the_fields() {
    let a = PpoConfig::tiny();
    assert_eq!(a.resume_conflict(&PpoConfig { checkpoint_every: 7, total_steps: 99, ..a.clone() }), None);
    let msg = a.resume_conflict(&PpoConfig { lr: 1.0, ..a.clone() }).unwrap();
    assert!(msg.contains("lr") && !msg.contains("vf_lr"), "{msg}");
    // a field left out at its default on one side only still conflicts, either way round
    let grpo = PpoConfig { advantages: Advantages::GroupRelative { group: 4 }, ..a.clone() };
    assert!(a.resume_conflict(&grpo).is_some_and(|m| m.contains("advantages")));
    assert!(grpo.resume_conflict(&a).is_some_and(|m| m.contains("advantages")));
}

#[test]
fn eval_schedule_is_log_spaced() {
    assert_eq!(eval_steps(1, 1), vec![0, 1]);
    assert_eq!(eval_steps(5, 1), vec![0, 1, 2, 4, 5]);
    assert_eq!(eval_steps(8, 1), vec![0, 1, 2, 4, 8]);
}

proptest::proptest! {
    #[test]
    fn warmup_ramps_the_learning_rates_up_to_theirs_and_no_warmup_changes_nothing(
        warmup in 0usize..50, step in 0usize..200, anneal in proptest::bool::ANY,
    ) {
        let base = PpoConfig { total_steps: 200, anneal_lr: anneal, ..PpoConfig::laptop() };
        let warm = PpoConfig { warmup_steps: warmup, ..base.clone() };
        let (lr, vf) = warm.lr_at(step);
        let (lr0, vf0) = base.lr_at(step);
        proptest::prop_assert!(lr <= lr0 && vf <= vf0 && lr > 0.0 || (anneal && lr0 == 0.0));
        if step + 1 >= warmup {
            proptest::prop_assert_eq!((lr, vf), (lr0, vf0));
        } else if !anneal {
            // strictly below the full rate during warmup, and rising step by step
            proptest::prop_assert!(lr < lr0 && warm.lr_at(step + 1).0 > lr);
        }
    }
}

#[test]
fn no_warmup_leaves_a_configs_key_as_it_was() {
    let json = serde_json::to_string(&PpoConfig::laptop()).unwrap();
    assert!(!json.contains("warmup"), "{json}");
    let warm = PpoConfig { warmup_steps: 30, ..PpoConfig::laptop() };
    assert_eq!(warm.lr_at(0).0, PpoConfig::laptop().lr / 30.0);
}

/// new = [-1, -2], old = [-1.5, -2], ref = [-1.5, -1] (second row masked out):
/// log r = ref - new = [-0.5, 1]; k2 = 0.5 log r^2 = [0.125, 0.5]; k3 = e^{log r} - 1 - log r =
/// [0.10653, 0.71828]; weighted k3: ratio e^{new - old} = [e^{0.5}, 1].
#[test]
fn kl_losses_match_hand_computation() {
    let device = Device::flex();
    let new = tensor(&[&[-1.0, -2.0], &[0.0, 0.0]], &device);
    let old = tensor(&[&[-1.5, -2.0], &[0.0, 0.0]], &device);
    let reference = tensor(&[&[-1.5, -1.0], &[3.0, 3.0]], &device);
    let mask = tensor(&[&[1.0, 1.0], &[0.0, 0.0]], &device);
    let loss = |p| kl_loss(p, new.clone(), old.clone(), reference.clone(), mask.clone()).map(|t| scalar(&t));
    let k3 = [(-0.5f64).exp() - 1.0 + 0.5, 1f64.exp() - 2.0];
    assert_eq!(loss(KlPlacement::K1InReward), None, "k1's penalty is in the rewards");
    assert!(close(loss(KlPlacement::K2AsLoss).unwrap(), (0.125 + 0.5) / 2.0));
    assert!(close(loss(KlPlacement::K3AsLoss).unwrap(), (k3[0] + k3[1]) / 2.0));
    let weighted = (0.5f64.exp() * k3[0] + k3[1]) / 2.0;
    assert!(close(loss(KlPlacement::K3ImportanceWeighted).unwrap(), weighted));
    // outside the responses nothing counts, however far apart the log-probabilities are there
    let far = tensor(&[&[-1.5, -1.0], &[200.0, 300.0]], &device);
    let value =
        kl_loss(KlPlacement::K3AsLoss, new.clone(), old.clone(), far, mask.clone()).map(|t| scalar(&t));
    assert!(close(value.unwrap(), (k3[0] + k3[1]) / 2.0), "{value:?}");
}

#[test]
fn the_default_placement_and_advantages_leave_a_configs_key_as_it_was() {
    let json = serde_json::to_string(&PpoConfig::laptop()).unwrap();
    assert!(!json.contains("kl_placement") && !json.contains("advantages"), "{json}");
    let grpo = PpoConfig {
        kl_placement: KlPlacement::K3AsLoss,
        advantages: Advantages::GroupRelative { group: 4 },
        ..PpoConfig::laptop()
    };
    let json = serde_json::to_string(&grpo).unwrap();
    assert!(json.contains(r#""kl_placement":{"kind":"k3_as_loss"}"#), "{json}");
    assert!(json.contains(r#""advantages":{"kind":"group_relative","group":4}"#), "{json}");
    assert_eq!(serde_json::from_str::<PpoConfig>(&json).unwrap(), grpo);
    for group in [1, 5] {
        let bad = PpoConfig { advantages: Advantages::GroupRelative { group }, ..PpoConfig::laptop() };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("advantages.group"), "{err}");
    }
    for p in KlPlacement::ALL {
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, format!(r#"{{"kind":"{}"}}"#, p.name()));
    }
}

proptest::proptest! {
    #[test]
    fn group_advantages_are_standardised_within_each_group_and_blind_to_its_scale(
        rewards in proptest::collection::vec(-5.0f64..5.0, 12), scale in 0.1f64..10.0, shift in -3.0f64..3.0,
    ) {
        let a = group_advantages(&rewards, 4);
        for g in a.chunks(4) {
            let mean = g.iter().sum::<f64>() / 4.0;
            let var = g.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 3.0;
            proptest::prop_assert!(mean.abs() < 1e-9, "{g:?}");
            proptest::prop_assert!((var - 1.0).abs() < 1e-6 || var < 1e-9, "{g:?}");
        }
        let moved: Vec<f64> = rewards.iter().map(|r| scale * r + shift).collect();
        for (x, y) in a.iter().zip(group_advantages(&moved, 4)) {
            proptest::prop_assert!((x - y).abs() < 1e-6, "{x} vs {y}");
        }
    }
}
