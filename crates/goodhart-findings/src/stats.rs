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

/// The mean of `R` independent runs' estimates of one quantity (R trajectories of PPO against
/// one proxy), with a standard error that holds the spread between runs: the between-run
/// standard error (sample sd of the R means over sqrt R), but never below the within-run one
/// (sqrt of the summed squared prompt-level errors, over R), so that a few runs that agree by
/// chance do not claim more precision than their prompts give. One run: its own estimate.
pub fn over_runs(estimates: &[Estimate]) -> Estimate {
    assert!(!estimates.is_empty(), "at least one run");
    let r = estimates.len();
    if r == 1 {
        return estimates[0];
    }
    let mean = estimates.iter().map(|e| e.mean).sum::<f64>() / r as f64;
    let between =
        (estimates.iter().map(|e| (e.mean - mean).powi(2)).sum::<f64>() / (r - 1) as f64 / r as f64).sqrt();
    let within = estimates.iter().map(|e| e.se * e.se).sum::<f64>().sqrt() / r as f64;
    Estimate { mean, se: between.max(within), n: estimates.iter().map(|e| e.n).sum() }
}

/// A fall after the peak over `R` runs of the same cell (PPO trajectories), each a row-major
/// `[prompt, point]` table of `cols` points over the same prompts. The peak is chosen on the
/// even-numbered prompts of the runs' mean curve; each run's fall (peak minus last point) is
/// measured on its odd-numbered prompts; the fall over runs is their mean with [`over_runs`]'s
/// standard error. So runs that disagree (one falling far, another not at all) give a wide
/// interval even when each one alone falls significantly. One run: [`split_half_fall`].
///
/// # Panics
/// If there is no table, the tables differ in shape, or a table has fewer than two prompts.
pub fn fall_over_runs(tables: &[Vec<f64>], cols: usize) -> SplitFall {
    assert!(!tables.is_empty(), "at least one run");
    if tables.len() == 1 {
        return split_half_fall(&tables[0], cols);
    }
    let len = tables[0].len();
    assert!(tables.iter().all(|t| t.len() == len), "runs over the same prompts and points");
    let mean: Vec<f64> =
        (0..len).map(|i| tables.iter().map(|t| t[i]).sum::<f64>() / tables.len() as f64).collect();
    let peak = split_half_fall(&mean, cols).peak;
    let per_run: Vec<Estimate> = tables
        .iter()
        .map(|t| {
            let prompts = t.len() / cols;
            Estimate::from_iterator(
                (1..prompts).step_by(2).map(|p| t[p * cols + peak] - t[p * cols + cols - 1]),
            )
        })
        .collect();
    let amount = over_runs(&per_run);
    let falls = peak + 1 < cols && amount.mean > SIGNIFICANT_SE * amount.se;
    SplitFall { peak, amount, falls }
}

/// Growth of `a / scale_a - b / scale_b` from the first point to the last, paired per prompt
/// (row-major `[prompt, point]` tables): for best-of-n, how far the proxy pulls away from the
/// gold, each in units of its own spread on the initial policy's samples (`scale_*`, their
/// standard deviations), so that a proxy calibrated on another scale than the gold's does not
/// pull away by its units alone.
pub fn gap_growth(a: &[f64], b: &[f64], cols: usize, scale_a: f64, scale_b: f64) -> Estimate {
    assert_eq!(a.len(), b.len(), "tables of equal shape");
    let prompts = a.len() / cols;
    let gap = |p: usize, j: usize| a[p * cols + j] / scale_a - b[p * cols + j] / scale_b;
    Estimate::from_iterator((0..prompts).map(|p| gap(p, cols - 1) - gap(p, 0)))
}

/// The (sample) standard deviation of every score of `pools` (the initial policy's samples).
pub fn pooled_sd(pools: &[Vec<f64>]) -> f64 {
    let all: Vec<f64> = pools.iter().flatten().copied().collect();
    let e = Estimate::from_values(&all);
    e.se * (all.len() as f64).sqrt()
}

/// Whether a curve shows the overoptimisation the paper finds at every RM size: its gold falls
/// after the peak ([`Verdict::PeaksAndFalls`]), or its fitted peak lies beyond the measured range
/// *and* the curve is still rising over its last segment by more than [`SIGNIFICANT_SE`]
/// standard errors (`last_rise`: the last point minus the one before), so that a curve that has
/// flattened cannot pass on its fit alone. A fitted peak inside the range with no observed fall
/// fails, however near the end it lies.
pub fn overoptimisation_seen(verdict: &Verdict, last_rise: Estimate) -> bool {
    match verdict {
        Verdict::PeaksAndFalls => true,
        Verdict::PeakBeyondRange { .. } => last_rise.mean > SIGNIFICANT_SE * last_rise.se,
        Verdict::PeakUnresolved { .. } | Verdict::NoPeak { .. } => false,
    }
}

/// The last point of a curve minus the one before, with the standard error of the difference
/// (the points' errors combined as independent; NaN for fewer than two points, which no rise
/// passes).
pub fn last_rise(curve: &[Estimate]) -> Estimate {
    let [.., a, b] = curve else { return Estimate { mean: f64::NAN, se: f64::NAN, n: 0 } };
    Estimate { mean: b.mean - a.mean, se: a.se.hypot(b.se), n: a.n.min(b.n) }
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

/// A reference line for the fidelity panels (how often the gold orders two optimised samples as
/// the rubric does): halfway between a coin and a judge that never errs. It decided the trusted
/// range until round 3; the range now follows [`order_trusted_range`].
pub const MIN_FIDELITY: f64 = 0.75;

/// What decides how far along a curve the gold is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustRule {
    /// Every point's pairwise fidelity at least the threshold: ranges stored before round 3's
    /// order rule (read back and shown, no longer computed).
    #[default]
    Fidelity,
    /// The gold orders the curve's points (the optimised policies) as the rubric does
    /// ([`order_trusted_range`]).
    Order,
}

/// How far along a curve the gold can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrustedRange {
    /// The largest measured `d` up to which the rule holds at every point (0 when the first
    /// point already fails it).
    pub up_to: f64,
    /// The largest `d` measured.
    pub measured_to: f64,
    /// Fidelity: the lowest fidelity of the points beyond `up_to`. Order: the largest
    /// disagreement beyond it, in standard errors (the smaller of the gold's and the rubric's
    /// opposite moves). NaN when every point is trusted.
    #[serde(with = "goodhart_core::nan_as_null")]
    pub worst_beyond: f64,
    /// Fidelity: the least fidelity trusted. Order: the standard errors each of gold and rubric
    /// must move, in opposite directions, to count as a disagreement.
    pub threshold: f64,
    #[serde(default)]
    pub rule: TrustRule,
}

impl TrustedRange {
    /// Every measured point is trusted.
    pub fn covers_curve(&self) -> bool {
        self.up_to >= self.measured_to
    }

    /// The range of the curve read only up to `d` (a check that reads one point, or the curve
    /// up to a distance): it covers that part when the gold is trusted up to `d`.
    pub fn read_to(self, d: f64) -> Self {
        TrustedRange { measured_to: self.measured_to.min(d), ..self }
    }
}

impl std::fmt::Display for TrustedRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.rule == TrustRule::Order {
            return if self.covers_curve() {
                write!(
                    f,
                    "gold trusted over the whole curve (it orders every two points as the rubric does, up to d = {:.2})",
                    self.measured_to
                )
            } else {
                write!(
                    f,
                    "gold trusted only up to d = {:.2} of {:.2} (beyond, gold and rubric move apart by {:.1} se, threshold {:.1})",
                    self.up_to, self.measured_to, self.worst_beyond, self.threshold
                )
            };
        }
        if self.covers_curve() {
            write!(
                f,
                "gold trusted over the whole curve (fidelity >= {:.2} up to d = {:.2})",
                self.threshold, self.measured_to
            )
        } else {
            write!(
                f,
                "gold trusted only up to d = {:.2} of {:.2} (fidelity falls to {:.2} beyond, threshold {:.2})",
                self.up_to, self.measured_to, self.worst_beyond, self.threshold
            )
        }
    }
}

/// How far along a curve the gold orders its points as the rubric does: points in order of `d`,
/// the gold trusted up to the point before the first one whose gold and rubric moved in opposite
/// directions, each by more than [`SIGNIFICANT_SE`] standard errors (of the difference of two
/// points' means), from some earlier point. A policy the gold ranks above another that the truth
/// ranks below is where the gold misleads an optimiser; pairwise fidelity among one policy's
/// samples falls also where gold and rubric rise together, as the samples a score selects differ
/// mostly by its own errors (laptop seed 0, docs/results-laptop.md, "A gold that holds").
/// `None` without rubric scores.
pub fn order_trusted_range(d: &[f64], gold: &[Estimate], rubric: &[Estimate]) -> Option<TrustedRange> {
    if d.is_empty() || rubric.len() != d.len() || gold.len() != d.len() {
        return None;
    }
    let mut order: Vec<usize> = (0..d.len()).collect();
    order.sort_by(|&a, &b| d[a].total_cmp(&d[b]));
    let measured_to = d.iter().copied().fold(0.0, f64::max);
    // how far the two move apart from i to j, in se (0 unless in opposite directions)
    let apart = |i: usize, j: usize| -> f64 {
        let (dg, dr) = (gold[j].mean - gold[i].mean, rubric[j].mean - rubric[i].mean);
        let (sg, sr) = (gold[i].se.hypot(gold[j].se), rubric[i].se.hypot(rubric[j].se));
        if dg * dr >= 0.0 || !(sg > 0.0 && sr > 0.0) {
            return 0.0;
        }
        (dg.abs() / sg).min(dr.abs() / sr)
    };
    let first_bad = (1..order.len()).find(|&k| (0..k).any(|m| apart(order[m], order[k]) > SIGNIFICANT_SE));
    let (up_to, worst_beyond) = match first_bad {
        None => (measured_to, f64::NAN),
        Some(k) => {
            let worst = (k..order.len())
                .flat_map(|b| (0..b).map(move |a| (a, b)))
                .map(|(a, b)| apart(order[a], order[b]))
                .fold(0.0, f64::max);
            (d[order[k - 1]], worst)
        }
    };
    Some(TrustedRange { up_to, measured_to, worst_beyond, threshold: SIGNIFICANT_SE, rule: TrustRule::Order })
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

/// The 95th percentile of Student's t with `df` degrees of freedom (a two-sided 90% interval).
fn t_90(df: usize) -> f64 {
    const T: [f64; 10] = [6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812];
    match df {
        0 => f64::INFINITY,
        1..=10 => T[df - 1],
        11..=20 => 1.76,
        21..=40 => 1.70,
        _ => 1.645,
    }
}

/// The least-squares trend of `values[size]` on log10 `params[size]`, with the 90% interval of
/// its slope from the residuals (Student's t, n - 2 degrees of freedom; `resamples` 0), for a
/// quantity measured once per size, such as a proxy's validation loss. `None` below three
/// sizes or with a non-finite value.
pub fn ols_trend(params: &[f64], values: &[f64]) -> Option<Trend> {
    let n = params.len();
    if n < 3 || values.len() != n || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let fit = log_linear_regression(params, values).ok()?;
    let x: Vec<f64> = params.iter().map(|p| p.log10()).collect();
    let mean = x.iter().sum::<f64>() / n as f64;
    let sxx: f64 = x.iter().map(|x| (x - mean).powi(2)).sum();
    let residual: f64 = x.iter().zip(values).map(|(x, y)| (y - fit.intercept - fit.slope * x).powi(2)).sum();
    let se = (residual / (n - 2) as f64 / sxx).sqrt();
    let half = t_90(n - 2) * se;
    Some(Trend { slope: fit.slope, lo: fit.slope - half, hi: fit.slope + half, resamples: 0 })
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

    #[test]
    fn a_loss_trend_falls_through_one_flat_step_but_not_through_noise() {
        let params = [1e3, 3e3, 1e4, 3e4, 1e5];
        // a fresh clone's seed 0 at the laptop preset: p3k below p10k, the trend still falls
        let t = ols_trend(&params, &[0.362, 0.349, 0.352, 0.273, 0.192]).unwrap();
        assert!(t.excludes_zero(false), "{t:?}");
        // the counter-example: no trend, only scatter
        let t = ols_trend(&params, &[0.35, 0.30, 0.36, 0.31, 0.34]).unwrap();
        assert!(!t.excludes_zero(false), "{t:?}");
        // a perfect line has no width; two sizes give no interval
        let t = ols_trend(&params, &[0.5, 0.45, 0.4, 0.35, 0.3]).unwrap();
        assert!(t.hi - t.lo < 0.2 && t.excludes_zero(false));
        assert!(ols_trend(&params[..2], &[0.4, 0.3]).is_none());
    }

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
    fn runs_that_disagree_do_not_fall_together() {
        let curve = [0.0, 0.5, 1.0, 0.8, 0.3];
        let runs: Vec<Vec<f64>> = (0..3).map(|r| table(&curve, 128, 0.3, 10 + r)).collect();
        let f = fall_over_runs(&runs, curve.len());
        assert!(f.falls && f.peak == 2 && (f.amount.mean - 0.7).abs() < 0.15, "{f:?}");
        // counter-example: three trajectories that each fall significantly when read alone, by
        // 0.1, 1.0 and 2.5: their spread is wider than their mean fall
        let falls = [0.9, 0.0, -1.5];
        let runs: Vec<Vec<f64>> = falls
            .iter()
            .enumerate()
            .map(|(r, last)| table(&[0.0, 0.5, 1.0, 1.0, *last], 256, 0.05, r as u64))
            .collect();
        for run in &runs {
            assert!(split_half_fall(run, 5).falls, "each run alone falls");
        }
        let f = fall_over_runs(&runs, 5);
        assert!(!f.falls, "{f:?}");
        // a single run is read as before
        assert_eq!(fall_over_runs(&runs[..1], 5), split_half_fall(&runs[0], 5));
    }

    #[test]
    fn the_error_over_runs_holds_the_spread_between_them() {
        let e = |mean: f64, se: f64| Estimate { mean, se, n: 100 };
        let spread = over_runs(&[e(0.0, 0.01), e(1.0, 0.01), e(2.0, 0.01)]);
        assert_eq!(spread.mean, 1.0);
        assert!((spread.se - 1.0 / 3f64.sqrt()).abs() < 1e-12, "{spread:?}");
        // counter-example: runs that agree exactly keep their prompts' error, not zero
        let agree = over_runs(&[e(1.0, 0.3), e(1.0, 0.3), e(1.0, 0.3)]);
        assert!((agree.se - 0.3 / 3f64.sqrt()).abs() < 1e-12, "{agree:?}");
        assert_eq!(over_runs(&[e(0.4, 0.2)]), e(0.4, 0.2));
    }

    #[test]
    fn gap_growth_is_paired_per_prompt() {
        let proxy = [0.0, 1.0, 2.0, 0.0, 2.0, 4.0];
        let gold = [0.0, 0.5, 0.5, 0.0, 1.0, 1.0];
        let g = gap_growth(&proxy, &gold, 3, 1.0, 1.0);
        assert_eq!(g.mean, 2.25);
        // counter-example: proxy and gold move together, no gap opens
        assert_eq!(gap_growth(&proxy, &proxy, 3, 1.0, 1.0).mean, 0.0);
        // counter-example: a proxy on twice the gold's scale, in step with it, opens no gap in
        // units of each one's spread
        let doubled: Vec<f64> = gold.iter().map(|g| 2.0 * g).collect();
        assert!(gap_growth(&doubled, &gold, 3, 1.0, 1.0).mean > 0.0);
        assert_eq!(gap_growth(&doubled, &gold, 3, 2.0, 1.0).mean, 0.0);
        // the sample standard deviation: four values 1 from their mean, over n - 1 = 3
        assert!((pooled_sd(&[vec![1.0, 3.0], vec![1.0, 3.0]]) - (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn a_peak_beyond_the_range_counts_only_while_the_curve_still_rises() {
        let e = |mean: f64, se: f64| Estimate { mean, se, n: 64 };
        let beyond = Verdict::PeakBeyondRange { fitted_d: 3.0, measured_to: 2.0 };
        let rising = last_rise(&[e(0.0, 0.0), e(1.0, 0.05), e(1.5, 0.05)]);
        assert!(overoptimisation_seen(&beyond, rising));
        // counter-example: the same fitted peak on a curve that has gone flat at the end
        let flat = last_rise(&[e(0.0, 0.0), e(1.0, 0.05), e(1.02, 0.05)]);
        assert!(!overoptimisation_seen(&beyond, flat));
        // a fitted peak inside the range without an observed fall fails, near the end or not
        let near = Verdict::PeakUnresolved {
            fitted_d: 1.9,
            measured_to: 2.0,
            predicted_fall: 0.01,
            resolution: 0.1,
        };
        assert!(!overoptimisation_seen(&near, rising));
        assert!(overoptimisation_seen(&Verdict::PeaksAndFalls, flat));
        assert!(!overoptimisation_seen(&beyond, last_rise(&[e(1.0, 0.1)])), "one point shows no rise");
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

    fn es(means: &[f64]) -> Vec<Estimate> {
        means.iter().map(|&mean| Estimate { mean, se: 0.1, n: 100 }).collect()
    }

    #[test]
    fn the_gold_is_trusted_while_it_orders_the_curves_points_as_the_rubric_does() {
        let d = [0.0, 0.5, 1.0, 1.5, 2.0];
        // rising and falling together, or apart within noise: trusted to the end
        let together =
            order_trusted_range(&d, &es(&[0.0, 1.0, 1.5, 1.0, 0.5]), &es(&[0.0, 2.0, 3.0, 2.0, 1.0]))
                .unwrap();
        assert!(together.covers_curve(), "{together}");
        let noisy =
            order_trusted_range(&d, &es(&[0.0, 0.2, 0.4, 0.6, 0.8]), &es(&[0.0, 0.1, 0.0, -0.1, 0.0]))
                .unwrap();
        assert!(noisy.covers_curve(), "{noisy}");
        // the gold climbs on while the rubric collapses from d = 1.5: trusted up to d = 1.0
        let hacked =
            order_trusted_range(&d, &es(&[0.0, 1.0, 1.2, 1.4, 1.6]), &es(&[0.0, 1.5, 1.6, 0.5, -3.0]))
                .unwrap();
        assert_eq!(hacked.up_to, 1.0, "{hacked}");
        assert!(
            hacked.worst_beyond > SIGNIFICANT_SE && hacked.to_string().contains("move apart"),
            "{hacked}"
        );
        // the reverse (gold falls, rubric rises) is a disagreement too; no rubric: not measured
        let reverse = order_trusted_range(&d[..2], &es(&[0.0, -1.0]), &es(&[0.0, 1.0])).unwrap();
        assert_eq!(reverse.up_to, 0.0);
        assert!(order_trusted_range(&d, &es(&[0.0; 5]), &[]).is_none());
        // stored ranges written before the rule existed read as fidelity ranges
        let old: TrustedRange =
            serde_json::from_str(r#"{"up_to":1.0,"measured_to":2.0,"worst_beyond":0.6,"threshold":0.75}"#)
                .unwrap();
        assert_eq!(old.rule, TrustRule::Fidelity);
    }

    proptest::proptest! {
        #[test]
        fn a_gold_equal_to_the_rubric_up_to_a_rising_map_is_trusted_everywhere(
            r in proptest::collection::vec(-3.0f64..3.0, 2..20), scale in 0.1f64..5.0, shift in -2.0f64..2.0,
        ) {
            let d: Vec<f64> = (0..r.len()).map(|i| i as f64).collect();
            let gold: Vec<f64> = r.iter().map(|x| scale * x + shift).collect();
            let t = order_trusted_range(&d, &es(&gold), &es(&r)).unwrap();
            proptest::prop_assert!(t.covers_curve());
        }
    }
}
