//! Percentile bootstrap intervals of column means over prompts.

use goodhart_core::{bootstrap, Interval};

#[cfg(test)]
use goodhart_core::SplitMix64;

/// Percentile bootstrap over rows: `values` is row-major `[rows, cols]` (one row per prompt);
/// each resample draws `rows` rows with replacement and takes each column's mean; the interval is
/// the `(1 - level)/2` and `(1 + level)/2` quantiles of those means (linear interpolation).
///
/// Deterministic for a given `seed` ([`goodhart_core::bootstrap`]).
pub fn bootstrap_mean_ci(
    values: &[f64],
    cols: usize,
    resamples: usize,
    level: f64,
    seed: u64,
) -> Vec<Interval> {
    assert!(cols > 0 && values.len() % cols == 0, "values must be a [rows, {cols}] matrix");
    assert!(resamples > 0 && level > 0.0 && level < 1.0, "need resamples > 0 and 0 < level < 1");
    let rows = values.len() / cols;
    let means: Vec<Vec<f64>> = bootstrap(rows, resamples, seed, |idx| {
        let mut sums = vec![0.0; cols];
        for &r in idx {
            for (s, v) in sums.iter_mut().zip(&values[r * cols..(r + 1) * cols]) {
                *s += v;
            }
        }
        sums.iter().map(|s| s / rows as f64).collect()
    });
    (0..cols)
        .map(|c| {
            let column: Vec<f64> = means.iter().map(|m| m[c]).collect();
            Interval::percentile(&column, level).unwrap_or(Interval { lo: f64::NAN, hi: f64::NAN })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_covers_the_mean_and_shrinks_with_rows() {
        let mut rng = SplitMix64::new(11);
        let small: Vec<f64> = (0..20).map(|_| rng.next_f64()).collect();
        let large: Vec<f64> = (0..2000).map(|_| rng.next_f64()).collect();
        let ci_small = bootstrap_mean_ci(&small, 1, 400, 0.95, 5)[0];
        let ci_large = bootstrap_mean_ci(&large, 1, 400, 0.95, 5)[0];
        let mean_large = large.iter().sum::<f64>() / 2000.0;
        assert!(ci_large.lo < mean_large && mean_large < ci_large.hi);
        assert!(ci_large.hi - ci_large.lo < 0.5 * (ci_small.hi - ci_small.lo));
        // A constant column has a zero-width interval.
        assert_eq!(bootstrap_mean_ci(&[2.0; 10], 2, 50, 0.9, 0)[1], Interval { lo: 2.0, hi: 2.0 });
    }
}
