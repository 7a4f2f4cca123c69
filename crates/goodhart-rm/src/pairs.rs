//! Comparisons: pairs of responses to the same prompt, labelled by a judge (hard labels, or
//! Bradley-Terry draws at a temperature).

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

/// Labels drawn by Bradley-Terry: `a` is preferred with probability
/// `p = sigmoid((score_a - score_b) / temperature)`, then flipped with probability `flip_prob`
/// (label noise on top), deterministically for `seed`; at temperature 0 and no flips these are
/// the hard labels of [`label_pairs`]. Pairs the judge scores equally carry no preference and
/// are dropped, as there. `flipped` counts the labels that went against the judge's order.
pub fn label_pairs_bt(
    pairs: Vec<Pair>,
    score_a: &[f64],
    score_b: &[f64],
    temperature: f64,
    flip_prob: f64,
    seed: u64,
) -> (Vec<Comparison>, LabelStats) {
    assert!((0.0..=1.0).contains(&flip_prob), "flip_prob must be a probability, got {flip_prob}");
    assert!(pairs.len() == score_a.len() && pairs.len() == score_b.len(), "one score per response");
    assert!(temperature >= 0.0 && temperature.is_finite(), "temperature must be >= 0, got {temperature}");
    let mut rng = SplitMix64::new(seed ^ 0xB7);
    let mut stats = LabelStats::default();
    let mut out = Vec::with_capacity(pairs.len());
    for ((pair, &sa), &sb) in pairs.into_iter().zip(score_a).zip(score_b) {
        let u = rng.next_f64(); // drawn for every pair: the stream does not depend on ties
        if sa == sb {
            stats.ties_dropped += 1;
            continue;
        }
        let p = prefer_probability(sa - sb, temperature);
        let a_wins = u < (1.0 - flip_prob) * p + flip_prob * (1.0 - p);
        stats.flipped += usize::from(a_wins != (sa > sb));
        let Pair { prompt, a, b } = pair;
        let (chosen, rejected) = if a_wins { (a, b) } else { (b, a) };
        out.push(Comparison { prompt, chosen, rejected });
        stats.kept += 1;
    }
    (out, stats)
}

/// The Bradley-Terry probability that the response scoring `margin` more is preferred, at
/// `temperature` (0: 1 for a positive margin, 0 for a negative one).
pub fn prefer_probability(margin: f64, temperature: f64) -> f64 {
    if temperature == 0.0 {
        return if margin > 0.0 {
            1.0
        } else if margin < 0.0 {
            0.0
        } else {
            0.5
        };
    }
    1.0 / (1.0 + (-margin / temperature).exp())
}

/// How often Bradley-Terry labels at `temperature` agree with the judge's order, in expectation,
/// on pairs whose score differences are `margins` (zeros, which carry no order, left out).
pub fn expected_label_accuracy(margins: &[f64], temperature: f64) -> f64 {
    let ordered: Vec<f64> = margins.iter().map(|m| m.abs()).filter(|m| *m > 0.0).collect();
    ordered.iter().map(|&m| prefer_probability(m, temperature)).sum::<f64>() / ordered.len() as f64
}

/// The temperature at which Bradley-Terry labels agree with the judge on a fraction `accuracy`
/// of the pairs with score differences `margins` ([`expected_label_accuracy`] is decreasing in
/// the temperature, from 1 at 0 towards 1/2). `accuracy = 1` gives 0 (hard labels). `None` when
/// no margin is non-zero or `accuracy` is not in (1/2, 1].
pub fn temperature_for_accuracy(margins: &[f64], accuracy: f64) -> Option<f64> {
    if !(accuracy > 0.5 && accuracy <= 1.0 && margins.iter().any(|m| *m != 0.0 && m.is_finite())) {
        return None;
    }
    if accuracy == 1.0 {
        return Some(0.0);
    }
    // bisection on ln(temperature): bracket first, then halve
    let (mut lo, mut hi) = (-30.0f64, 30.0f64);
    let acc = |log_t: f64| expected_label_accuracy(margins, log_t.exp());
    if acc(lo) < accuracy {
        return Some(lo.exp());
    }
    if acc(hi) > accuracy {
        return Some(hi.exp());
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if acc(mid) > accuracy {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some((0.5 * (lo + hi)).exp())
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
    use proptest::prelude::*;

    #[test]
    fn bradley_terry_labels_at_temperature_zero_are_the_hard_labels() {
        let pairs: Vec<Pair> = (0..50).map(pair).collect();
        let sa: Vec<f64> = (0..50).map(|i| (i % 7) as f64).collect();
        let sb: Vec<f64> = (0..50).map(|i| (i % 5) as f64).collect();
        let (hard, hs) = label_pairs(pairs.clone(), &sa, &sb, 0.0, 3);
        let (bt, bs) = label_pairs_bt(pairs, &sa, &sb, 0.0, 0.0, 3);
        assert_eq!(hard, bt);
        assert_eq!((hs.kept, hs.ties_dropped, bs.flipped), (bs.kept, bs.ties_dropped, 0));
    }

    #[test]
    fn bradley_terry_labels_agree_as_often_as_the_temperature_says() {
        let mut rng = SplitMix64::new(4);
        let n = 4000;
        let sa: Vec<f64> = (0..n).map(|_| rng.next_gaussian()).collect();
        let sb: Vec<f64> = (0..n).map(|_| rng.next_gaussian()).collect();
        let margins: Vec<f64> = sa.iter().zip(&sb).map(|(a, b)| a - b).collect();
        let t = temperature_for_accuracy(&margins, 0.8).unwrap();
        assert!((expected_label_accuracy(&margins, t) - 0.8).abs() < 1e-9, "{t}");
        let pairs: Vec<Pair> = (0..n as u32).map(pair).collect();
        let (_, stats) = label_pairs_bt(pairs.clone(), &sa, &sb, t, 0.0, 9);
        let agree = 1.0 - stats.flipped as f64 / stats.kept as f64;
        // 4000 labels: se about 0.006
        assert!((agree - 0.8).abs() < 0.025, "{agree}");
        // a quarter of the labels flipped on top: 0.8 * 0.75 + 0.2 * 0.25 = 0.65
        let (_, stats) = label_pairs_bt(pairs, &sa, &sb, t, 0.25, 9);
        let agree = 1.0 - stats.flipped as f64 / stats.kept as f64;
        assert!((agree - 0.65).abs() < 0.025, "{agree}");
        // counter-examples: hard labels agree always, an accuracy of a coin has no temperature
        assert_eq!(temperature_for_accuracy(&margins, 1.0), Some(0.0));
        assert!(temperature_for_accuracy(&margins, 0.5).is_none());
        assert!(temperature_for_accuracy(&[0.0, 0.0], 0.8).is_none());
    }

    proptest! {
        /// The expected accuracy falls with the temperature and stays within [1/2, 1].
        #[test]
        fn expected_accuracy_is_decreasing_in_temperature(
            margins in proptest::collection::vec(-3.0f64..3.0, 1..40),
            t in 0.01f64..10.0,
        ) {
            prop_assume!(margins.iter().any(|m| *m != 0.0));
            let (a, b) = (expected_label_accuracy(&margins, t), expected_label_accuracy(&margins, 2.0 * t));
            prop_assert!(b <= a + 1e-12 && (0.5..=1.0).contains(&a) && b >= 0.5);
        }
    }

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
