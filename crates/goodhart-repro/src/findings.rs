//! The statistics behind `verify`'s verdicts: a fall measured on prompts that did not choose the
//! peak, a verdict for every proxy size, and coefficient trends over RM size with bootstrap
//! intervals. Each is a plain function of curves, so the unit tests can hand it a synthetic
//! curve that violates a finding and watch the check fail.

use goodhart_core::Estimate;
use goodhart_laws::{bootstrap_ci, log_linear_regression};
use serde::{Deserialize, Serialize};

/// How many standard errors a difference must exceed to count.
pub const SIGNIFICANT_SE: f64 = 2.0;

/// A fall after the peak, measured on fresh prompts: the peak is chosen on the even-numbered
/// prompts and the fall (value at the peak minus value at the last point, paired per prompt) is
/// measured on the odd-numbered ones, so picking the maximum of many noisy points does not
/// inflate it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitFall {
    /// Index of the point with the highest mean on the selecting half.
    pub peak: usize,
    /// Peak minus last value on the other half, mean and standard error over its prompts.
    pub amount: Estimate,
    /// The peak is not the last point and the fall exceeds [`SIGNIFICANT_SE`] standard errors.
    pub falls: bool,
}

/// [`SplitFall`] of a row-major `[prompt, point]` table with `cols` points per prompt.
///
/// # Panics
/// If the table has fewer than two prompts or `cols == 0`.
pub fn split_half_fall(per_prompt: &[f64], cols: usize) -> SplitFall {
    assert!(cols > 0 && per_prompt.len().is_multiple_of(cols), "a [prompt, point] table of {cols} columns");
    let prompts = per_prompt.len() / cols;
    assert!(prompts >= 2, "a split-half fall needs at least two prompts, got {prompts}");
    let row = |p: usize| &per_prompt[p * cols..(p + 1) * cols];
    let select: Vec<f64> = (0..cols)
        .map(|j| {
            let xs = (0..prompts).step_by(2).map(|p| row(p)[j]);
            Estimate::from_iterator(xs).mean
        })
        .collect();
    let peak = (0..cols).max_by(|&a, &b| select[a].total_cmp(&select[b])).expect("cols > 0");
    let amount = Estimate::from_iterator((1..prompts).step_by(2).map(|p| row(p)[peak] - row(p)[cols - 1]));
    let falls = peak + 1 < cols && amount.mean > SIGNIFICANT_SE * amount.se;
    SplitFall { peak, amount, falls }
}

/// Growth of `a - b` from the first point to the last, paired per prompt (row-major
/// `[prompt, point]` tables): for best-of-n, how far the proxy pulls away from the gold.
pub fn gap_growth(a: &[f64], b: &[f64], cols: usize) -> Estimate {
    assert_eq!(a.len(), b.len(), "tables of equal shape");
    let prompts = a.len() / cols;
    let gap = |p: usize, j: usize| a[p * cols + j] - b[p * cols + j];
    Estimate::from_iterator((0..prompts).map(|p| gap(p, cols - 1) - gap(p, 0)))
}

/// What one proxy size's gold curve shows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The measured gold falls after its peak ([`SplitFall::falls`]).
    PeaksAndFalls,
    /// No significant fall, but the fitted curve peaks beyond the largest measured distance.
    PeakBeyondRange { fitted_d: f64, measured_to: f64 },
    /// No significant fall, and the fitted curve peaks inside the range but so near its end that
    /// the fall it predicts there (`predicted_fall`) is below what the prompts resolve (2 se of
    /// the measured fall).
    PeakUnresolved { fitted_d: f64, measured_to: f64, predicted_fall: f64, resolution: f64 },
    /// No significant fall, and the fit puts no peak beyond the measured range: either no peak
    /// at all (`fitted_d` is `None`) or a peak inside it that the measurements do not bear out.
    NoPeak { fitted_d: Option<f64>, measured_to: f64 },
}

impl Verdict {
    /// The verdict of a curve measured up to `measured_to` whose fit peaks at `fitted_d` and
    /// predicts a fall of `predicted_fall` from there to `measured_to`.
    pub fn of(fall: &SplitFall, fitted_d: Option<f64>, predicted_fall: f64, measured_to: f64) -> Self {
        let resolution = SIGNIFICANT_SE * fall.amount.se;
        match fitted_d {
            _ if fall.falls => Verdict::PeaksAndFalls,
            Some(d) if d > measured_to => Verdict::PeakBeyondRange { fitted_d: d, measured_to },
            Some(d) if predicted_fall < resolution => {
                Verdict::PeakUnresolved { fitted_d: d, measured_to, predicted_fall, resolution }
            }
            fitted_d => Verdict::NoPeak { fitted_d, measured_to },
        }
    }

    /// Consistent with the paper's picture, in which every proxy peaks (beta > 0): it falls, or
    /// its fitted peak lies beyond what was measured.
    pub fn overoptimises(&self) -> bool {
        !matches!(self, Verdict::NoPeak { .. })
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::PeaksAndFalls => f.write_str("peaks and falls"),
            Verdict::PeakBeyondRange { fitted_d, measured_to } => write!(
                f,
                "peak beyond the measured range (fitted d* = {fitted_d:.2}, measured up to {measured_to:.2})"
            ),
            Verdict::PeakUnresolved { fitted_d, measured_to, predicted_fall, resolution } => write!(
                f,
                "peak too near the end of the range to see the fall (fitted d* = {fitted_d:.2}, measured up to {measured_to:.2}: the fit predicts a fall of {predicted_fall:.3}, the prompts resolve {resolution:.3})"
            ),
            Verdict::NoPeak { fitted_d: None, measured_to } => {
                write!(f, "no peak (fit has none; measured up to {measured_to:.2})")
            }
            Verdict::NoPeak { fitted_d: Some(d), measured_to } => write!(
                f,
                "no significant fall (fitted d* = {d:.2} inside the measured range up to {measured_to:.2})"
            ),
        }
    }
}

/// A coefficient's trend over RM size: the least-squares slope per decade of parameters, with a
/// 90% percentile interval from resamples of the prompts (the same resample for every size).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub slope: f64,
    pub lo: f64,
    pub hi: f64,
    /// Resamples in which every size had a value (the others are left out).
    pub resamples: usize,
}

impl Trend {
    /// The interval lies wholly above 0 (`up`) or below it.
    pub fn excludes_zero(&self, up: bool) -> bool {
        if up {
            self.lo > 0.0
        } else {
            self.hi < 0.0
        }
    }
}

/// The trend of `values[size]` over `params[size]`, with the interval from `resampled[r][size]`
/// (`None` where a resample's fit failed; such resamples are skipped). `None` when fewer than
/// two sizes or no usable resample.
pub fn trend(params: &[f64], values: &[f64], resampled: &[Vec<Option<f64>>]) -> Option<Trend> {
    if params.len() < 2 || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let slope = log_linear_regression(params, values).ok()?.slope;
    let slopes: Vec<f64> = resampled
        .iter()
        .filter_map(|row| row.iter().copied().collect::<Option<Vec<f64>>>())
        .filter(|row| row.len() == params.len() && row.iter().all(|v| v.is_finite()))
        .filter_map(|row| log_linear_regression(params, &row).ok().map(|l| l.slope))
        .collect();
    let goodhart_laws::Interval { lo, hi } = bootstrap_ci(&slopes, 0.9).ok()?;
    Some(Trend { slope, lo, hi, resamples: slopes.len() })
}

/// Transposes per-size resample columns (`columns[size][r]`) into rows (`[r][size]`), the shape
/// [`trend`] takes; columns of unequal length are cut to the shortest.
pub fn by_resample(columns: &[Vec<Option<f64>>]) -> Vec<Vec<Option<f64>>> {
    let n = columns.iter().map(Vec::len).min().unwrap_or(0);
    (0..n).map(|r| columns.iter().map(|c| c[r]).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use goodhart_core::SplitMix64;

    /// `prompts` rows of `curve` plus noise of scale `noise`.
    fn table(curve: &[f64], prompts: usize, noise: f64, seed: u64) -> Vec<f64> {
        let mut rng = SplitMix64::new(seed);
        (0..prompts)
            .flat_map(|_| curve.iter().map(|c| c + noise * rng.next_gaussian()).collect::<Vec<_>>())
            .collect()
    }

    #[test]
    fn a_real_fall_is_found() {
        let curve = [0.0, 0.5, 1.0, 0.8, 0.3];
        let f = split_half_fall(&table(&curve, 128, 0.3, 1), curve.len());
        assert_eq!(f.peak, 2);
        assert!(f.falls && (f.amount.mean - 0.7).abs() < 0.15, "{f:?}");
    }

    #[test]
    fn a_flat_noisy_curve_does_not_fall() {
        // Counter-example: no fall, only noise. Taking the maximum of many noisy points and
        // testing it against the last on the same prompts would often call this a fall.
        let curve = [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let mut found = 0;
        for seed in 0..40 {
            found += usize::from(split_half_fall(&table(&curve, 128, 1.0, seed), curve.len()).falls);
        }
        assert!(found <= 3, "{found} of 40 flat curves called a fall");
    }

    #[test]
    fn a_rising_curve_does_not_fall() {
        let curve = [0.0, 0.5, 1.0, 1.5];
        let f = split_half_fall(&table(&curve, 64, 0.2, 3), curve.len());
        assert_eq!(f.peak, 3);
        assert!(!f.falls);
    }

    #[test]
    fn verdicts_name_what_was_seen() {
        let falls = SplitFall { peak: 2, amount: Estimate { mean: 1.0, se: 0.1, n: 64 }, falls: true };
        let flat = SplitFall { peak: 4, amount: Estimate { mean: 0.0, se: 0.1, n: 64 }, falls: false };
        assert_eq!(Verdict::of(&falls, Some(1.0), 0.5, 2.0), Verdict::PeaksAndFalls);
        let beyond = Verdict::of(&flat, Some(3.0), 0.0, 2.0);
        assert_eq!(beyond, Verdict::PeakBeyondRange { fitted_d: 3.0, measured_to: 2.0 });
        assert!(beyond.overoptimises() && beyond.to_string().contains("d* = 3.00"));
        // a peak near the end whose predicted fall (0.05) is below the resolution (0.2)
        let near = Verdict::of(&flat, Some(1.9), 0.05, 2.0);
        assert!(matches!(near, Verdict::PeakUnresolved { .. }) && near.overoptimises(), "{near}");
        // counter-examples: no fall and no peak ahead; a predicted fall of 0.5 that is not there
        assert!(!Verdict::of(&flat, None, 0.0, 2.0).overoptimises());
        let inside = Verdict::of(&flat, Some(1.0), 0.5, 2.0);
        assert!(!inside.overoptimises() && inside.to_string().contains("no significant fall"));
    }

    #[test]
    fn gap_growth_is_paired_per_prompt() {
        let proxy = [0.0, 1.0, 2.0, 0.0, 2.0, 4.0];
        let gold = [0.0, 0.5, 0.5, 0.0, 1.0, 1.0];
        let g = gap_growth(&proxy, &gold, 3);
        assert_eq!(g.mean, 2.25);
        // counter-example: proxy and gold move together, no gap opens
        assert_eq!(gap_growth(&proxy, &proxy, 3).mean, 0.0);
    }

    #[test]
    fn trends_have_intervals_that_can_include_zero() {
        let params = [1e3, 1e4, 1e5];
        let rising: Vec<Vec<Option<f64>>> =
            (0..200).map(|r| vec![Some(1.0), Some(1.5 + 0.001 * r as f64), Some(2.0)]).collect();
        let t = trend(&params, &[1.0, 1.5, 2.0], &rising).unwrap();
        assert!((t.slope - 0.5).abs() < 1e-9 && t.excludes_zero(true) && !t.excludes_zero(false), "{t:?}");
        // counter-example: the point estimate rises, but the resamples scatter around flat
        let mut rng = SplitMix64::new(9);
        let noisy: Vec<Vec<Option<f64>>> =
            (0..200).map(|_| (0..3).map(|_| Some(rng.next_gaussian())).collect()).collect();
        let t = trend(&params, &[1.0, 1.5, 2.0], &noisy).unwrap();
        assert!(!t.excludes_zero(true), "{t:?}");
        // failed fits are skipped, not counted
        let gaps = vec![vec![Some(1.0), None, Some(2.0)]; 5];
        assert!(trend(&params, &[1.0, 1.5, 2.0], &gaps).is_none());
        assert_eq!(
            by_resample(&[vec![Some(1.0), Some(2.0)], vec![Some(3.0)]]),
            vec![vec![Some(1.0), Some(3.0)]]
        );
    }
}
