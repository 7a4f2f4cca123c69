//! Reward-model tests on tiny models: they learn, recentre, and survive a save/load.

use burn::prelude::*;
use goodhart_core::{RewardModel, SplitMix64};
use goodhart_nn::{Gpt, GptConfig};
use goodhart_rm::calibration::Calibration;
use goodhart_rm::pairs::{label_pairs, split_validation, Pair};
use goodhart_rm::{evaluate, score_raw, train_rm, CalibratedRm, RmError, RmSpecials, RmTrainConfig};

const SP: RmSpecials = RmSpecials { pad: 0, bos: 1 };
const VOCAB: usize = 24;

fn config() -> GptConfig {
    GptConfig { vocab_size: VOCAB, d_model: 32, n_layers: 2, n_heads: 2, d_ff: 64, max_seq_len: 24 }
}

fn random_response(rng: &mut SplitMix64) -> Vec<u32> {
    let len = 3 + rng.next_below(8) as usize;
    (0..len).map(|_| 3 + rng.next_below(VOCAB as u64 - 3) as u32).collect()
}

/// The preference: more copies of token 7 is better (a simple, separable judgement).
fn judge(response: &[u32]) -> f64 {
    response.iter().filter(|&&t| t == 7).count() as f64
}

fn pairs(n: usize, seed: u64) -> Vec<Pair> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| Pair { prompt: vec![4, 5], a: random_response(&mut rng), b: random_response(&mut rng) })
        .collect()
}

fn labelled(n: usize, seed: u64) -> Vec<goodhart_rm::pairs::Comparison> {
    let ps = pairs(n, seed);
    let sa: Vec<f64> = ps.iter().map(|p| judge(&p.a)).collect();
    let sb: Vec<f64> = ps.iter().map(|p| judge(&p.b)).collect();
    label_pairs(ps, &sa, &sb, 0.0, seed).0
}

#[test]
fn learns_a_separable_preference_and_recentres() {
    let device = Device::flex();
    let (train, val) = split_validation(labelled(3000, 1), 0.1, 1);
    let cfg = RmTrainConfig { epochs: 3, ..RmTrainConfig::tiny() };
    let (model, logs) = train_rm(&config(), None, &train, &val, SP, &cfg, &device, |_| {}).unwrap();
    let last = logs.iter().rev().find_map(|l| l.val).unwrap();
    assert!(last.accuracy > 0.85 && last.loss < 0.45, "validation {last:?} (chance: 0.5, ln 2)");
    assert_eq!(logs.iter().filter(|l| l.val.is_some()).count(), 3, "one validation per epoch");

    // Recentring: constants from one sample of 'initial-policy' responses centre a fresh sample.
    let mut rng = SplitMix64::new(99);
    let sample = |rng: &mut SplitMix64, n| (0..n).map(|_| random_response(rng)).collect::<Vec<_>>();
    let (fit_set, fresh) = (sample(&mut rng, 2000), sample(&mut rng, 2000));
    let prompts = vec![vec![4u32, 5]; 2000];
    let raw_fit = score_raw(&model, &prompts, &fit_set, SP, 256);
    let gold = Calibration::gold(&raw_fit).unwrap();
    let fresh_scores: Vec<f64> =
        score_raw(&model, &prompts, &fresh, SP, 256).iter().map(|&r| gold.apply(r)).collect();
    let mean = fresh_scores.iter().sum::<f64>() / 2000.0;
    let sd = (fresh_scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / 1999.0).sqrt();
    assert!(mean.abs() < 3.0 * sd / 2000f64.sqrt(), "recentred mean {mean} (sd {sd})");
    assert!((sd - 1.0).abs() < 0.1, "unit variance on the initial distribution: {sd}");
}

#[test]
fn a_comparison_longer_than_the_context_is_named() {
    let mut train = labelled(20, 3);
    train[2].rejected = vec![8; 30]; // 1 + 2 + 30 positions, context 24
    let cfg = RmTrainConfig::tiny();
    let err = train_rm(&config(), None, &train, &[], SP, &cfg, &Device::flex(), |_| {}).unwrap_err();
    assert!(matches!(err, RmError::TooLong { index: 2, tokens: 33, max_seq_len: 24 }), "{err}");
    assert!(err.to_string().contains("raise max_seq_len"), "{err}");
}

#[test]
fn lm_initialisation_copies_the_trunk_and_must_match() {
    let device = Device::flex();
    let val = labelled(400, 5);
    let e = evaluate(&config().init_scalar(&device, 0), &val, SP, 64);
    assert_eq!(e.pairs, val.len());
    let other = GptConfig { d_model: 16, ..config() }.init_gpt(&device, 0);
    let err = train_rm(&config(), Some(&other), &val, &[], SP, &RmTrainConfig::tiny(), &device, |_| {})
        .unwrap_err();
    assert!(matches!(err, RmError::InitMismatch { .. }), "{err}");
    // initialising from a pretrained LM copies its trunk
    let lm: Gpt = config().init_gpt(&device, 42);
    let (rm, _) = train_rm(
        &config(),
        Some(&lm),
        &val[..32],
        &[],
        SP,
        &RmTrainConfig { epochs: 0, ..RmTrainConfig::tiny() },
        &device,
        |_| {},
    )
    .unwrap();
    let a: Vec<f32> = rm.trunk.tok_emb.weight.val().into_data().convert::<f32>().try_into_vec().unwrap();
    let b: Vec<f32> = lm.trunk.tok_emb.weight.val().into_data().convert::<f32>().try_into_vec().unwrap();
    assert_eq!(a, b);
}

#[test]
fn save_load_round_trip_and_corrupt_files_are_named() {
    let device = Device::flex();
    let rm = CalibratedRm {
        name: "proxy-test".into(),
        model: config().init_scalar(&device, 3),
        calibration: Calibration { shift: 0.25, scale: 2.0 },
        specials: SP,
        batch_size: 7,
    };
    let dir = tempfile::tempdir().unwrap();
    rm.save(dir.path()).unwrap();
    let back = CalibratedRm::load(dir.path(), &device).unwrap();
    let ps = pairs(20, 2);
    let prompts: Vec<Vec<u32>> = ps.iter().map(|p| p.prompt.clone()).collect();
    let responses: Vec<Vec<u32>> = ps.iter().map(|p| p.a.clone()).collect();
    assert_eq!(rm.score(&prompts, &responses).unwrap(), back.score(&prompts, &responses).unwrap());
    assert_eq!((back.name(), back.calibration), ("proxy-test", rm.calibration));
    assert_eq!(back.num_params() as usize, config().non_embedding_params());

    std::fs::write(dir.path().join("rm.json"), "{").unwrap();
    let err = CalibratedRm::load(dir.path(), &device).unwrap_err().to_string();
    assert!(err.contains("rm.json") && err.contains("corrupt"), "{err}");
    rm.save(dir.path()).unwrap();
    std::fs::write(dir.path().join("model.bpk"), b"garbage").unwrap();
    let err = CalibratedRm::load(dir.path(), &device).unwrap_err().to_string();
    assert!(err.contains("model.bpk"), "{err}");
}
