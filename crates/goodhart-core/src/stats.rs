use serde::{Deserialize, Serialize};

/// A sample mean with its standard error: `mean = (1/n) sum x_i`,
/// `se = sqrt(s^2 / n)` with the unbiased sample variance `s^2 = sum (x_i - mean)^2 / (n - 1)`.
///
/// With fewer than two values the standard error is undefined and reported as `NaN`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub mean: f64,
    pub se: f64,
    pub n: usize,
}

impl Estimate {
    /// Mean and standard error of `values` (Welford's algorithm, numerically stable).
    pub fn from_values(values: &[f64]) -> Self {
        Self::from_iterator(values.iter().copied())
    }

    /// Mean and standard error of the values an iterator yields.
    pub fn from_iterator(values: impl IntoIterator<Item = f64>) -> Self {
        let (mut n, mut mean, mut m2) = (0usize, 0.0f64, 0.0f64);
        for x in values {
            n += 1;
            let delta = x - mean;
            mean += delta / n as f64;
            m2 += delta * (x - mean);
        }
        let (mean, se) = match n {
            0 => (f64::NAN, f64::NAN),
            1 => (mean, f64::NAN),
            _ => (mean, (m2 / (n - 1) as f64 / n as f64).sqrt()),
        };
        Estimate { mean, se, n }
    }
}

/// A two-sided confidence interval `[lo, hi]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    /// The percentile interval of `samples` at confidence `level` (e.g. 0.9): their
    /// `(1 - level)/2` and `(1 + level)/2` quantiles, linearly interpolated between order
    /// statistics. `None` for no samples, a non-finite one, or `level` outside (0, 1).
    ///
    /// ```
    /// use goodhart_core::Interval;
    /// let ci = Interval::percentile(&[3.0, 1.0, 2.0], 0.5).unwrap();
    /// assert_eq!(ci, Interval { lo: 1.5, hi: 2.5 });
    /// assert!(ci.contains(2.0) && !ci.contains(0.0) && ci.excludes_zero());
    /// ```
    pub fn percentile(samples: &[f64], level: f64) -> Option<Interval> {
        if samples.is_empty() || !(level > 0.0 && level < 1.0) || samples.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let tail = (1.0 - level) / 2.0;
        Some(Interval { lo: quantile_sorted(&sorted, tail), hi: quantile_sorted(&sorted, 1.0 - tail) })
    }

    /// Whether `x` lies in the interval (ends included).
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }

    /// Whether the interval lies wholly on one side of 0.
    pub fn excludes_zero(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }
}

/// Nonparametric bootstrap over units: `resamples` times, draws `units` indices uniformly with
/// replacement and applies `stat` to them; returns the statistics in order. Resampling whole
/// units (prompts, seeds, reward models) keeps the correlation within a unit. Deterministic given
/// `seed` ([`SplitMix64`](crate::SplitMix64)); with `units == 0` each resample is empty.
///
/// ```
/// use goodhart_core::{bootstrap, Interval};
/// let x = [1.0, 2.0, 3.0, 4.0];
/// let means = bootstrap(x.len(), 200, 7, |idx| idx.iter().map(|&i| x[i]).sum::<f64>() / 4.0);
/// let ci = Interval::percentile(&means, 0.9).unwrap();
/// assert!(ci.contains(2.5));
/// ```
pub fn bootstrap<T>(
    units: usize,
    resamples: usize,
    seed: u64,
    mut stat: impl FnMut(&[usize]) -> T,
) -> Vec<T> {
    let mut rng = crate::SplitMix64::new(seed);
    let mut indices = vec![0usize; units];
    (0..resamples)
        .map(|_| {
            for slot in indices.iter_mut() {
                *slot = rng.next_below(units as u64) as usize;
            }
            stat(&indices)
        })
        .collect()
}

/// Quantile `q` (in [0, 1]) of ascending `sorted` data, interpolating linearly between order
/// statistics: position `q (n - 1)`. Used for percentile bootstrap intervals and reports.
///
/// # Panics
/// If `sorted` is empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    assert!(!sorted.is_empty(), "quantile of no data");
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// How often `a` orders two items as `b` does: over all pairs `i < j` that `b` does not tie,
/// the share that `a` orders the same way, a tie in `a` counting half. 1 is perfect agreement,
/// 0.5 chance, 0 perfect reversal; NaN when `b` ties every pair.
///
/// # Panics
/// If the slices differ in length.
pub fn concordance(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "concordance of {} and {} values", a.len(), b.len());
    let (mut agree, mut pairs) = (0.0, 0usize);
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            if let Some(x) = pair_agreement((a[i], a[j]), (b[i], b[j])) {
                agree += x;
                pairs += 1;
            }
        }
    }
    agree / pairs as f64
}

/// How a judge's order of one pair agrees with a reference's: `None` when the reference ties
/// (there is no order to agree with), 1 when the judge orders the pair the same way, 0.5 when the
/// judge ties, 0 when it reverses it. [`concordance`] averages it over every pair.
pub fn pair_agreement(judge: (f64, f64), reference: (f64, f64)) -> Option<f64> {
    let by_reference = reference.0.total_cmp(&reference.1);
    if by_reference.is_eq() {
        return None;
    }
    let by_judge = judge.0.total_cmp(&judge.1);
    Some(if by_judge == by_reference {
        1.0
    } else if by_judge.is_eq() {
        0.5
    } else {
        0.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn concordance_of_known_orders() {
        let b = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(concordance(&[10.0, 20.0, 30.0, 40.0], &b), 1.0);
        assert_eq!(concordance(&[4.0, 3.0, 2.0, 1.0], &b), 0.0);
        assert_eq!(concordance(&[1.0, 1.0, 1.0, 1.0], &b), 0.5);
        // one swapped neighbour pair out of six
        assert!((concordance(&[2.0, 1.0, 3.0, 4.0], &b) - 5.0 / 6.0).abs() < 1e-12);
        assert!(concordance(&[1.0, 2.0], &[5.0, 5.0]).is_nan());
    }

    proptest! {
        #[test]
        fn concordance_is_symmetric_under_reversal(xs in prop::collection::vec(-5i32..5, 2..30), ys in prop::collection::vec(-5i32..5, 30)) {
            let a: Vec<f64> = xs.iter().map(|&x| x as f64).collect();
            let b: Vec<f64> = ys[..a.len()].iter().map(|&y| y as f64).collect();
            let neg: Vec<f64> = a.iter().map(|x| -x).collect();
            let c = concordance(&a, &b);
            prop_assume!(c.is_finite());
            prop_assert!((0.0..=1.0).contains(&c));
            prop_assert!((c + concordance(&neg, &b) - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn known_values() {
        let e = Estimate::from_values(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(e.n, 4);
        assert!((e.mean - 2.5).abs() < 1e-12);
        // s^2 = 5/3, se = sqrt(5/12)
        assert!((e.se - (5.0f64 / 12.0).sqrt()).abs() < 1e-12);
        assert!(Estimate::from_values(&[]).mean.is_nan());
        assert!(Estimate::from_values(&[7.0]).se.is_nan());
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile_sorted(&[0.0, 10.0], 0.25), 2.5);
        assert_eq!(quantile_sorted(&[4.0], 0.9), 4.0);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0], 1.0), 3.0);
    }

    proptest! {
        #[test]
        fn matches_two_pass_formula(xs in prop::collection::vec(-1e3f64..1e3, 2..64)) {
            let e = Estimate::from_values(&xs);
            let n = xs.len() as f64;
            let mean = xs.iter().sum::<f64>() / n;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
            prop_assert!((e.mean - mean).abs() <= 1e-9 * (1.0 + mean.abs()));
            prop_assert!((e.se - (var / n).sqrt()).abs() <= 1e-7 * (1.0 + var.sqrt()));
        }
    }
}

/// `-ln sigmoid(x) = ln(1 + e^-x)`, without overflow for large |x|: the Bradley-Terry loss of a
/// score margin `x` (reward models) and DPO's loss of `beta h`.
pub fn neg_log_sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        (-x).exp().ln_1p()
    } else {
        -x + x.exp().ln_1p()
    }
}

#[cfg(test)]
mod neg_log_sigmoid_tests {
    use super::neg_log_sigmoid;

    #[test]
    fn matches_the_formula_and_stays_finite() {
        for x in [-3.0f64, -0.5, 0.0, 0.7, 4.0] {
            let direct = -(1.0 / (1.0 + (-x).exp())).ln();
            assert!((neg_log_sigmoid(x) - direct).abs() < 1e-12, "{x}");
        }
        assert!((neg_log_sigmoid(0.0) - 2f64.ln()).abs() < 1e-15);
        assert!((neg_log_sigmoid(-1000.0) - 1000.0).abs() < 1e-9);
        assert!(neg_log_sigmoid(1000.0) >= 0.0 && neg_log_sigmoid(1000.0) < 1e-300);
    }
}
