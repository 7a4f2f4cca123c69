//! Comparisons: pairs of responses to the same prompt, hard-labelled by a judge.

use goodhart_core::{SplitMix64, TokenId};
use serde::{Deserialize, Serialize};

/// One hard-labelled comparison: the judge preferred `chosen` to `rejected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub prompt: Vec<TokenId>,
    pub chosen: Vec<TokenId>,
    pub rejected: Vec<TokenId>,
}

/// Two unlabelled responses to one prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    pub prompt: Vec<TokenId>,
    pub a: Vec<TokenId>,
    pub b: Vec<TokenId>,
}

/// How many pairs labelling kept and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LabelStats {
    pub kept: usize,
    pub ties_dropped: usize,
    pub flipped: usize,
}

/// Hard labels as in the paper: the response with the higher judge score is preferred. Pairs the
/// judge scores equally carry no preference and are dropped. With probability `flip_prob` a label
/// is flipped (label noise), deterministically for `seed`.
pub fn label_pairs(
    pairs: Vec<Pair>,
    score_a: &[f64],
    score_b: &[f64],
    flip_prob: f64,
    seed: u64,
) -> (Vec<Comparison>, LabelStats) {
    assert!(pairs.len() == score_a.len() && pairs.len() == score_b.len(), "one score per response");
    assert!((0.0..=1.0).contains(&flip_prob), "flip_prob must be a probability, got {flip_prob}");
    let mut rng = SplitMix64::new(seed);
    let mut stats = LabelStats::default();
    let mut out = Vec::with_capacity(pairs.len());
    for ((pair, &sa), &sb) in pairs.into_iter().zip(score_a).zip(score_b) {
        let flip = rng.next_f64() < flip_prob; // drawn for every pair: the stream does not depend on ties
        if sa == sb {
            stats.ties_dropped += 1;
            continue;
        }
        let a_wins = (sa > sb) != flip;
        stats.flipped += usize::from(flip);
        let Pair { prompt, a, b } = pair;
        let (chosen, rejected) = if a_wins { (a, b) } else { (b, a) };
        out.push(Comparison { prompt, chosen, rejected });
        stats.kept += 1;
    }
    (out, stats)
}

/// Splits off a validation set of `round(val_fraction * len)` comparisons, chosen at random for
/// `seed` (the paper holds out 10%). Returns `(train, validation)`.
pub fn split_validation<T>(items: Vec<T>, val_fraction: f64, seed: u64) -> (Vec<T>, Vec<T>) {
    assert!((0.0..1.0).contains(&val_fraction), "val_fraction must be in [0, 1)");
    let n = items.len();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64::new(seed);
    for i in (1..n).rev() {
        order.swap(i, rng.next_below(i as u64 + 1) as usize);
    }
    let n_val = (val_fraction * n as f64).round() as usize;
    let mut is_val = vec![false; n];
    for &i in &order[..n_val] {
        is_val[i] = true;
    }
    let (mut train, mut val) = (Vec::with_capacity(n - n_val), Vec::with_capacity(n_val));
    for (item, v) in items.into_iter().zip(is_val) {
        if v {
            val.push(item)
        } else {
            train.push(item)
        }
    }
    (train, val)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(i: u32) -> Pair {
        Pair { prompt: vec![i], a: vec![1], b: vec![2] }
    }

    #[test]
    fn higher_score_wins_and_ties_are_dropped() {
        let (c, s) = label_pairs(vec![pair(0), pair(1), pair(2)], &[1.0, 0.0, 5.0], &[0.0, 2.0, 5.0], 0.0, 1);
        assert_eq!(s, LabelStats { kept: 2, ties_dropped: 1, flipped: 0 });
        assert_eq!((c[0].chosen.clone(), c[1].chosen.clone()), (vec![1], vec![2]));
    }

    #[test]
    fn flip_rate_matches_the_noise_level() {
        let n = 20_000;
        let pairs: Vec<Pair> = (0..n).map(pair).collect();
        let (c, s) = label_pairs(pairs, &vec![1.0; n as usize], &vec![0.0; n as usize], 0.25, 9);
        let wrong = c.iter().filter(|c| c.chosen == vec![2]).count();
        assert_eq!(wrong, s.flipped);
        assert!((wrong as f64 / n as f64 - 0.25).abs() < 0.01, "{wrong}");
    }

    #[test]
    fn validation_split_is_a_deterministic_partition() {
        let (train, val) = split_validation((0..1000).collect::<Vec<_>>(), 0.1, 3);
        assert_eq!((train.len(), val.len()), (900, 100));
        let mut all: Vec<i32> = train.iter().chain(&val).copied().collect();
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(split_validation((0..1000).collect::<Vec<_>>(), 0.1, 3).1, val);
        assert_ne!(split_validation((0..1000).collect::<Vec<_>>(), 0.1, 4).1, val);
    }
}
