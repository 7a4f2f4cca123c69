//! The sampling distribution: temperature, top-k and top-p applied to logits, and a draw from it.
//!
//! The log-probability a sampler returns is that of the distribution it actually drew from (after
//! temperature and truncation). Returning the untruncated model's log-probabilities instead is the
//! usual cause of negative KL estimates in RLHF code: the samples then come from one distribution
//! and are scored under another.

use goodhart_core::{SamplingSettings, SplitMix64};

/// A bad sampling setting, named with its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SamplingError {
    #[error("temperature must be finite and >= 0 (0 = greedy), got {0}")]
    Temperature(f64),
    #[error("top_k must be >= 1, got 0")]
    TopK,
    #[error("top_p must be in (0, 1], got {0}")]
    TopP(f64),
    #[error("max_new_tokens must be >= 1, got 0")]
    MaxNewTokens,
}

/// Checks every field of `s`.
pub fn validate(s: &SamplingSettings) -> Result<(), SamplingError> {
    if !s.temperature.is_finite() || s.temperature < 0.0 {
        return Err(SamplingError::Temperature(s.temperature));
    }
    if s.top_k == Some(0) {
        return Err(SamplingError::TopK);
    }
    if let Some(p) = s.top_p {
        if !(p > 0.0 && p <= 1.0) {
            return Err(SamplingError::TopP(p));
        }
    }
    if s.max_new_tokens == 0 {
        return Err(SamplingError::MaxNewTokens);
    }
    Ok(())
}

/// Writes into `out` the log-probabilities of the distribution sampled from:
/// `log softmax(logits / T)`, restricted to the `top_k` most likely tokens, then to the smallest
/// set whose probability reaches `top_p`, renormalised. Excluded tokens get `-inf`.
/// Temperature 0 is greedy: log-probability 0 for the argmax, `-inf` elsewhere.
pub fn sampling_logprobs(logits: &[f32], s: &SamplingSettings, out: &mut Vec<f32>) {
    out.clear();
    if s.temperature == 0.0 {
        let best = argmax(logits);
        out.extend((0..logits.len()).map(|i| if i == best { 0.0 } else { f32::NEG_INFINITY }));
        return;
    }
    let inv_t = (1.0 / s.temperature) as f32;
    out.extend(logits.iter().map(|&l| l * inv_t));
    log_softmax_in_place(out);
    if s.top_k.is_none() && s.top_p.is_none_or(|p| p >= 1.0) {
        return;
    }
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_unstable_by(|&a, &b| out[b].total_cmp(&out[a]));
    let mut keep = s.top_k.unwrap_or(out.len()).min(out.len());
    if let Some(p) = s.top_p {
        let mut mass = 0.0f64;
        for (rank, &i) in order[..keep].iter().enumerate() {
            mass += (out[i] as f64).exp();
            if mass >= p {
                keep = rank + 1;
                break;
            }
        }
    }
    for &i in &order[keep..] {
        out[i] = f32::NEG_INFINITY;
    }
    log_softmax_in_place(out);
}

/// Numerically stable `x - logsumexp(x)`; `-inf` entries stay `-inf`.
pub fn log_softmax_in_place(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = x.iter().map(|&v| ((v - max) as f64).exp()).sum();
    let lse = max + sum.ln() as f32;
    for v in x.iter_mut() {
        *v -= lse;
    }
}

fn argmax(x: &[f32]) -> usize {
    x.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0)
}

/// Draws a token from log-probabilities by inverting the CDF at a uniform `u` in [0, 1).
/// Returns the token and its log-probability.
pub fn draw(logprobs: &[f32], u: f64) -> (usize, f32) {
    let mut acc = 0.0f64;
    let mut last_valid = 0;
    for (i, &lp) in logprobs.iter().enumerate() {
        if lp == f32::NEG_INFINITY {
            continue;
        }
        last_valid = i;
        acc += (lp as f64).exp();
        if u < acc {
            return (i, lp);
        }
    }
    (last_valid, logprobs[last_valid]) // rounding left u just above the total mass
}

/// The random stream of one sequence: a function of the run's seed and the sequence's index only,
/// so a sample does not depend on how sequences were batched.
pub fn sequence_rng(seed: u64, index: u64) -> SplitMix64 {
    let mut mix = SplitMix64::new(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    SplitMix64::new(mix.next_u64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn settings(temperature: f64, top_k: Option<usize>, top_p: Option<f64>) -> SamplingSettings {
        SamplingSettings { temperature, top_k, top_p, max_new_tokens: 8 }
    }

    #[test]
    fn truncation_keeps_the_most_likely_and_renormalises() {
        let logits = [2.0f32, 1.0, 0.0, -1.0];
        let mut out = Vec::new();
        sampling_logprobs(&logits, &settings(1.0, Some(2), None), &mut out);
        assert!(out[2].is_infinite() && out[3].is_infinite());
        let z = (2.0f32.exp() + 1.0f32.exp()).ln();
        assert!((out[0] - (2.0 - z)).abs() < 1e-6 && (out[1] - (1.0 - z)).abs() < 1e-6);
        // top_p = 0.5: the first token alone has probability 0.64 >= 0.5
        sampling_logprobs(&logits, &settings(1.0, None, Some(0.5)), &mut out);
        assert_eq!(out[0], 0.0);
        assert!(out[1..].iter().all(|v| v.is_infinite()));
        sampling_logprobs(&logits, &settings(0.0, None, None), &mut out);
        assert_eq!(draw(&out, 0.999), (0, 0.0));
    }

    #[test]
    fn invalid_settings_are_named() {
        assert_eq!(validate(&settings(-1.0, None, None)), Err(SamplingError::Temperature(-1.0)));
        assert_eq!(validate(&settings(1.0, Some(0), None)), Err(SamplingError::TopK));
        assert_eq!(validate(&settings(1.0, None, Some(1.5))), Err(SamplingError::TopP(1.5)));
        assert!(validate(&settings(0.7, Some(5), Some(0.9))).is_ok());
    }

    proptest! {
        /// The returned distribution is normalised, and truncation only removes tokens.
        #[test]
        fn distribution_is_normalised(
            logits in prop::collection::vec(-8.0f32..8.0, 2..40),
            t in 0.2f64..3.0, k in prop::option::of(1usize..40), p in prop::option::of(0.05f64..1.0),
        ) {
            let mut out = Vec::new();
            sampling_logprobs(&logits, &settings(t, k, p), &mut out);
            let mass: f64 = out.iter().map(|&v| (v as f64).exp()).sum();
            prop_assert!((mass - 1.0).abs() < 1e-4, "mass {mass}");
            let kept = out.iter().filter(|v| v.is_finite()).count();
            prop_assert!(kept >= 1 && kept <= k.unwrap_or(logits.len()));
        }

        /// Chi-square goodness of fit: tokens drawn with `draw` follow the returned probabilities.
        #[test]
        fn draws_follow_the_returned_probabilities(
            logits in prop::collection::vec(-2.0f32..2.0, 3..8), seed in any::<u64>(),
        ) {
            let mut lp = Vec::new();
            sampling_logprobs(&logits, &settings(1.0, None, None), &mut lp);
            let n = 20_000;
            let mut counts = vec![0f64; lp.len()];
            let mut rng = SplitMix64::new(seed);
            for _ in 0..n {
                let (tok, l) = draw(&lp, rng.next_f64());
                prop_assert_eq!(l, lp[tok]);
                counts[tok] += 1.0;
            }
            let chi2: f64 = counts.iter().zip(&lp).map(|(c, &l)| {
                let e = n as f64 * (l as f64).exp();
                (c - e).powi(2) / e
            }).sum();
            // df <= 6: the 99.99th percentile of chi-square(6) is 27.9
            prop_assert!(chi2 < 27.9, "chi2 = {chi2}");
        }
    }
}
