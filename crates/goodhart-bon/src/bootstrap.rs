use goodhart_core::{quantile_sorted, SplitMix64};

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

/// Percentile bootstrap over rows: `values` is row-major `[rows, cols]` (one row per prompt);
/// each resample draws `rows` rows with replacement and takes each column's mean; the interval is
/// the `(1 - level)/2` and `(1 + level)/2` quantiles of those means (linear interpolation).
///
/// Deterministic for a given `seed` (SplitMix64).
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
    let mut rng = SplitMix64::new(seed);
    let mut means = vec![Vec::with_capacity(resamples); cols];
    let mut sums = vec![0.0; cols];
    for _ in 0..resamples {
        sums.fill(0.0);
        for _ in 0..rows {
            let r = rng.next_below(rows as u64) as usize;
            for (s, v) in sums.iter_mut().zip(&values[r * cols..(r + 1) * cols]) {
                *s += v;
            }
        }
        for (m, s) in means.iter_mut().zip(&sums) {
            m.push(s / rows as f64);
        }
    }
    means
        .into_iter()
        .map(|mut m| {
            m.sort_unstable_by(f64::total_cmp);
            Interval {
                lo: quantile_sorted(&m, (1.0 - level) / 2.0),
                hi: quantile_sorted(&m, (1.0 + level) / 2.0),
            }
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
