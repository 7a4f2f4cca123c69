//! Policy tests on tiny models: pretraining learns, sampling is exact and reproducible.

use burn::prelude::*;
use goodhart_core::SamplingSettings;
use goodhart_nn::GptConfig;
use goodhart_policy::{
    generate, generate_burn, pretrain, response_logprobs, PolicyError, PretrainConfig, Specials, TokenizedDoc,
};
use goodhart_world::{World, WorldConfig, WorldTokenizer};

const SP: Specials = Specials { pad: 0, bos: 1, eos: 2 };

fn tiny_config(vocab: usize) -> GptConfig {
    GptConfig { vocab_size: vocab, d_model: 32, n_layers: 2, n_heads: 2, d_ff: 64, max_seq_len: 48 }
}

fn corpus(n: usize, seed: u64) -> (WorldTokenizer, Vec<TokenizedDoc>) {
    let world = World::new(WorldConfig::default()).unwrap();
    let docs = world.documents(n, seed);
    let tok = WorldTokenizer::train(docs.iter().map(|d| d.text()), 256).unwrap();
    let enc = docs
        .iter()
        .map(|d| TokenizedDoc {
            prompt: tok.encode(&d.prompt).unwrap(),
            response: tok.encode(&d.response).unwrap(),
        })
        .collect();
    (tok, enc)
}

#[test]
fn pretraining_lowers_validation_loss() {
    let (tok, docs) = corpus(1200, 1);
    let (train, val) = docs.split_at(1000);
    let cfg = PretrainConfig { steps: 80, eval_every: 40, ..PretrainConfig::tiny() };
    let config = tiny_config(tok.vocab_size());
    let device = Device::flex();
    let untrained = goodhart_policy::validation_loss(&config.init_gpt(&device, cfg.seed), val, SP, 64);
    let (_, logs) = pretrain(&config, train, val, SP, &cfg, &device, |_| {}).unwrap();
    let last = logs.last().unwrap().val_loss.unwrap();
    assert!(untrained > 4.0, "an untrained model is near ln V: {untrained}");
    eprintln!("validation loss {untrained} -> {last}");
    assert!(last < 0.6 * untrained, "validation loss {untrained} -> {last}");
    assert_eq!(logs.iter().filter(|l| l.val_loss.is_some()).count(), 2);
}

#[test]
fn samples_are_reproducible_and_independent_of_batching() {
    let device = Device::flex();
    let model = tiny_config(64).init_gpt(&device, 3);
    let prompts: Vec<Vec<u32>> = (0..10).map(|i| vec![5 + i % 3, 9, 11 + (i % 2)]).collect();
    let s = SamplingSettings { max_new_tokens: 12, ..Default::default() };
    let a = generate(&model, &prompts, &s, SP, 7, 0, 4).unwrap();
    let b = generate(&model, &prompts, &s, SP, 7, 0, 10).unwrap();
    assert_eq!(a, b);
    let c = generate(&model, &prompts, &s, SP, 8, 0, 4).unwrap();
    assert_ne!(a, c);
    // The sample at index 3 is the same whether it is drawn alone or with the others.
    let alone = generate(&model, &prompts[3..4], &s, SP, 7, 3, 1).unwrap();
    assert_eq!(alone[0], a[3]);
    // Rows draw their tokens on several threads in a large batch: the same samples as one
    // thread drawing them in small batches.
    let many: Vec<Vec<u32>> = (0..40).map(|i| vec![5 + i % 3, 9 + i % 5, 11 + (i % 2)]).collect();
    let pool = |threads| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let wide = pool(3).install(|| generate(&model, &many, &s, SP, 7, 0, 40).unwrap());
    let narrow = pool(1).install(|| generate(&model, &many, &s, SP, 7, 0, 5).unwrap());
    assert_eq!(wide, narrow);
    for x in &a {
        assert_eq!(x.response.len(), x.logprobs.len());
        assert!(x.response.len() <= 12);
        let eos_at = x.response.iter().position(|&t| t == SP.eos);
        assert!(eos_at.is_none_or(|i| i == x.response.len() - 1), "nothing after [eos]");
    }
}

/// On the CPU, `generate` decodes with the plain-Rust engine; it draws the same tokens as burn's
/// own forward pass and KV cache under the same seed, with the same log-probabilities.
#[test]
fn the_engine_samples_what_burn_samples() {
    let device = Device::flex();
    let model = tiny_config(64).init_gpt(&device, 21);
    let prompts: Vec<Vec<u32>> = (0..32).map(|i| vec![3 + i % 7, 9, 11 + i % 4, 5 + i % 3]).collect();
    let s = SamplingSettings { max_new_tokens: 24, ..Default::default() };
    let fast = generate(&model, &prompts, &s, SP, 9, 0, 16).unwrap();
    let reference = generate_burn(&model, &prompts, &s, SP, 9, 0, 16).unwrap();
    let mut tokens = 0;
    for (a, b) in fast.iter().zip(&reference) {
        assert_eq!(a.response, b.response, "sampled tokens differ between the engine and burn");
        for (x, y) in a.logprobs.iter().zip(&b.logprobs) {
            assert!((x - y).abs() < 1e-4, "log-probability {x} (engine) vs {y} (burn)");
        }
        tokens += a.response.len();
    }
    assert!(tokens > 32 * 5, "long enough responses to compare ({tokens} tokens)");
}

/// The log-probabilities returned by the sampler (temperature 1, untruncated) are those of the
/// model: scoring the same responses with a full forward pass gives the same numbers.
#[test]
fn sampled_logprobs_equal_scored_logprobs() {
    let device = Device::flex();
    let model = tiny_config(64).init_gpt(&device, 11);
    let prompts: Vec<Vec<u32>> = (0..6).map(|i| vec![3 + i, 4, 5]).collect();
    let s = SamplingSettings { max_new_tokens: 20, ..Default::default() };
    let samples = generate(&model, &prompts, &s, SP, 1, 0, 6).unwrap();
    let responses: Vec<Vec<u32>> = samples.iter().map(|x| x.response.clone()).collect();
    let scored = response_logprobs(&model, &prompts, &responses, SP, 4).unwrap();
    for (x, lp) in samples.iter().zip(&scored) {
        for (a, b) in x.logprobs.iter().zip(lp) {
            assert!((a - b).abs() < 1e-4, "sampled {a} vs scored {b}");
        }
    }
    // So KL(pi || pi) estimated with k1 from these is exactly zero up to rounding.
    let k1: f32 =
        samples.iter().zip(&scored).flat_map(|(x, lp)| x.logprobs.iter().zip(lp).map(|(a, b)| a - b)).sum();
    assert!(k1.abs() < 1e-3);
}

/// Chi-square goodness of fit on a tiny vocabulary: the first sampled token's frequencies match
/// the probabilities the sampler reports (fixed seed; 99.9th percentile of chi-square(15) = 37.7).
#[test]
fn sampled_token_frequencies_match_returned_probabilities() {
    let device = Device::flex();
    let vocab = 16;
    let model =
        GptConfig { vocab_size: vocab, d_model: 16, n_layers: 1, n_heads: 2, d_ff: 32, max_seq_len: 8 }
            .init_gpt(&device, 5);
    let n = 8000;
    let prompts = vec![vec![3u32, 4]; n];
    let s = SamplingSettings { max_new_tokens: 1, temperature: 1.3, ..Default::default() };
    let samples = generate(&model, &prompts, &s, SP, 2024, 0, 1000).unwrap();
    let mut counts = vec![0f64; vocab];
    let mut prob = vec![f64::NAN; vocab];
    for x in &samples {
        let t = x.response[0] as usize;
        counts[t] += 1.0;
        prob[t] = (x.logprobs[0] as f64).exp();
    }
    let seen: f64 = prob.iter().filter(|p| p.is_finite()).sum();
    assert!(seen > 0.99, "nearly every token should be seen, mass seen {seen}");
    let chi2: f64 = counts
        .iter()
        .zip(&prob)
        .filter(|(_, p)| p.is_finite())
        .map(|(c, p)| (c - n as f64 * p).powi(2) / (n as f64 * p))
        .sum();
    assert!(chi2 < 37.7, "chi2 = {chi2}, counts {counts:?}");
    // and temperature really changed the distribution relative to T = 1
    let t1 = response_logprobs(&model, &prompts[..1], &[samples[0].response.clone()], SP, 1).unwrap();
    assert!((t1[0][0] - samples[0].logprobs[0]).abs() > 1e-4);
}

#[test]
fn bad_requests_are_named() {
    let device = Device::flex();
    let model = tiny_config(64).init_gpt(&device, 0);
    let long = SamplingSettings { max_new_tokens: 60, ..Default::default() };
    let err = generate(&model, &[vec![3, 4]], &long, SP, 0, 0, 1).unwrap_err();
    assert!(matches!(err, PolicyError::TooLong { max: 48, .. }), "{err}");
    let err = generate(&model, &[vec![300]], &SamplingSettings::default(), SP, 0, 0, 1).unwrap_err();
    assert!(err.to_string().contains("300"), "{err}");
    let bad_t = SamplingSettings { temperature: -1.0, ..Default::default() };
    assert!(generate(&model, &[vec![3]], &bad_t, SP, 0, 0, 1)
        .unwrap_err()
        .to_string()
        .contains("temperature"));
}

/// The three log-probability paths agree to 1e-5: the engine's (inference on the CPU), the fused
/// operation with its entropy output (training), and burn's composition (the path off the CPU).
#[test]
fn the_three_logprob_paths_agree() {
    use burn::tensor::activation::log_softmax;
    let device = Device::flex();
    let model = tiny_config(64).init_gpt(&device, 13);
    let prompts: Vec<Vec<u32>> = (0..5).map(|i| vec![3 + i, 7, 11 + i]).collect();
    let responses: Vec<Vec<u32>> =
        (0..5).map(|i| (0..(4 + 3 * i)).map(|k| 3 + (k * 7 + i) % 60).collect()).collect();
    let engine = response_logprobs(&model, &prompts, &responses, SP, 8).unwrap();

    // The same rows as one right-padded batch: inputs [bos] prompt response[..-1], targets shifted.
    let seqs: Vec<Vec<u32>> =
        prompts.iter().zip(&responses).map(|(p, r)| [vec![SP.bos], p.clone(), r.clone()].concat()).collect();
    let (b, t) = (seqs.len(), seqs.iter().map(|s| s.len() - 1).max().unwrap());
    let (mut inputs, mut targets) = (vec![SP.pad as i64; b * t], vec![SP.pad; b * t]);
    for (r, s) in seqs.iter().enumerate() {
        for k in 0..s.len() - 1 {
            inputs[r * t + k] = s[k] as i64;
            targets[r * t + k] = s[k + 1];
        }
    }
    let logits = model.forward(Tensor::<2, Int>::from_data(TensorData::new(inputs, [b, t]), &device));
    let (fused_lp, fused_h) = goodhart_nn::fused::token_logprobs_and_entropy(logits.clone(), &targets);
    let ids: Vec<i64> = targets.iter().map(|&x| x as i64).collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, t]), &device);
    let logp = log_softmax(logits, 2);
    let burn_lp = logp.clone().gather(2, ids.unsqueeze_dim::<3>(2)).squeeze_dim::<2>(2);
    let burn_h = (logp.clone().exp() * logp).sum_dim(2).squeeze_dim::<2>(2).neg();
    let host = |x: Tensor<2>| x.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    let (fused_lp, fused_h, burn_lp, burn_h) = (host(fused_lp), host(fused_h), host(burn_lp), host(burn_h));
    let mut worst = 0.0f32;
    for (r, (p, lp)) in prompts.iter().zip(&engine).enumerate() {
        for (j, &e) in lp.iter().enumerate() {
            let k = r * t + p.len() + j; // the position whose target is response token j
            for d in [e - fused_lp[k], e - burn_lp[k], fused_lp[k] - burn_lp[k]] {
                worst = worst.max(d.abs());
            }
        }
    }
    let worst_h = fused_h.iter().zip(&burn_h).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "log-probabilities differ by up to {worst}");
    assert!(worst_h < 1e-5, "entropies differ by up to {worst_h}");
}
