//! Early warning without the gold: signals computed only from what a practitioner logs during
//! PPO (the rollouts' KL, the policy's entropy, the proxy scores), each firing at the first step
//! its statistic reaches a threshold, scored against where the gold actually peaked.
//!
//! Each statistic is smoothed by a trailing mean over [`WINDOW`] steps (fewer at the start):
//! - `kl_acceleration`: the second difference of the rollout KL over spans of `s` steps, per
//!   step squared, `(KL(t) - 2 KL(t - s) + KL(t - 2s)) / s^2` (nats per step^2), with
//!   `s = min(WINDOW, t / 2)`, itself averaged over the last [`WINDOW`] steps where it is
//!   defined: the KL speeding up, defined from step 2 (the overoptimised runs' gold peaks came at
//!   steps 3-20, so a signal that waits for two full windows sees none of them);
//! - `entropy_collapse`: `1 - H(t) / H(0)`, the relative fall of the next-token entropy;
//! - `proxy_shift`: `(proxy(t) - proxy(0)) / sd(proxy at step 0)`, how far the proxy score
//!   distribution has moved, in initial standard deviations.
//!
//! Thresholds are chosen on one set of runs (seed 0) and scored on others (seeds 1..3):
//! a run that overoptimises (its gold falls significantly after its peak) should see the signal
//! fire at or before the peak step (`lead = peak - fire >= 0`); a run that does not (a control)
//! should not see it fire at all.

use serde::{Deserialize, Serialize};

use super::{check, not_applicable, within_trust, Check};

/// Steps in each trailing mean and difference span.
pub const WINDOW: usize = 5;

/// A practitioner's signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    KlAcceleration,
    EntropyCollapse,
    ProxyShift,
}

impl Signal {
    pub const ALL: [Signal; 3] = [Signal::KlAcceleration, Signal::EntropyCollapse, Signal::ProxyShift];

    pub fn name(self) -> &'static str {
        match self {
            Signal::KlAcceleration => "kl_acceleration",
            Signal::EntropyCollapse => "entropy_collapse",
            Signal::ProxyShift => "proxy_shift",
        }
    }
}

/// What a run logged at every PPO step, and where its gold peaked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunTrace {
    pub label: String,
    pub seed: u64,
    /// Rollout KL (k1), entropy, proxy mean and the proxy's standard deviation, per step.
    pub kl: Vec<f64>,
    pub entropy: Vec<f64>,
    pub proxy: Vec<f64>,
    pub proxy_sd0: f64,
    /// The step of the gold's peak, and whether the gold falls significantly after it.
    pub peak_step: usize,
    pub overoptimises: bool,
    /// How far along the run's gold curve the gold orders its evaluations as the rubric does
    /// (`None`: not measured): a run whose curve leaves it has a peak and a verdict the truth may
    /// not share.
    #[serde(default)]
    pub trusted: Option<crate::stats::TrustedRange>,
}

fn trailing_mean(x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|t| {
            let from = (t + 1).saturating_sub(WINDOW);
            x[from..=t].iter().sum::<f64>() / (t + 1 - from) as f64
        })
        .collect()
}

impl RunTrace {
    /// The signal's statistic at every step (NaN where it is not defined yet).
    pub fn statistic(&self, signal: Signal) -> Vec<f64> {
        let n = self.kl.len();
        match signal {
            Signal::KlAcceleration => {
                let kl = &self.kl;
                // defined from step 2; its trailing mean over the steps where it is defined
                let raw: Vec<f64> = (2..n)
                    .map(|t| {
                        let s = (t / 2).min(WINDOW);
                        (kl[t] - 2.0 * kl[t - s] + kl[t - 2 * s]) / (s * s) as f64
                    })
                    .collect();
                let smooth = trailing_mean(&raw);
                (0..n).map(|t| if t < 2 { f64::NAN } else { smooth[t - 2] }).collect()
            }
            Signal::EntropyCollapse => {
                let h = trailing_mean(&self.entropy);
                let h0 = self.entropy.first().copied().unwrap_or(f64::NAN);
                h.iter().map(|h| 1.0 - h / h0).collect()
            }
            Signal::ProxyShift => {
                let p = trailing_mean(&self.proxy);
                let p0 = self.proxy.first().copied().unwrap_or(f64::NAN);
                p.iter().map(|p| (p - p0) / self.proxy_sd0.max(1e-12)).collect()
            }
        }
    }

    /// The first step at which the signal's statistic reaches `threshold`.
    pub fn fires(&self, signal: Signal, threshold: f64) -> Option<usize> {
        self.statistic(signal).iter().position(|x| *x >= threshold)
    }
}

/// How a signal at one threshold did on a set of runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Overoptimising runs where it fired at or before the peak, after it, or never.
    pub early: usize,
    pub late: usize,
    pub missed: usize,
    /// Control runs (no significant fall) where it fired.
    pub false_alarms: usize,
    pub controls: usize,
    /// `peak - fire` of the early and late detections, in steps.
    pub leads: Vec<i64>,
}

impl Score {
    pub fn of(runs: &[RunTrace], signal: Signal, threshold: f64) -> Self {
        let mut s = Score { early: 0, late: 0, missed: 0, false_alarms: 0, controls: 0, leads: Vec::new() };
        for r in runs {
            let fire = r.fires(signal, threshold);
            if r.overoptimises {
                match fire {
                    Some(t) if t <= r.peak_step => s.early += 1,
                    Some(_) => s.late += 1,
                    None => s.missed += 1,
                }
                if let Some(t) = fire {
                    s.leads.push(r.peak_step as i64 - t as i64);
                }
            } else {
                s.controls += 1;
                s.false_alarms += usize::from(fire.is_some());
            }
        }
        s
    }

    /// What a threshold is chosen for: early detections minus false alarms.
    fn merit(&self) -> i64 {
        self.early as i64 - self.false_alarms as i64
    }

    /// The median lead of the detections, in steps.
    pub fn median_lead(&self) -> Option<f64> {
        let mut l = self.leads.clone();
        l.sort_unstable();
        (!l.is_empty()).then(|| {
            let m = l.len() / 2;
            if l.len() % 2 == 1 {
                l[m] as f64
            } else {
                (l[m - 1] + l[m]) as f64 / 2.0
            }
        })
    }
}

/// The threshold of `signal` that does best on `runs` (most early detections minus false
/// alarms; among equals the highest, the most conservative), chosen among the statistic's
/// observed values. `None` when no run has a defined statistic.
pub fn choose_threshold(runs: &[RunTrace], signal: Signal) -> Option<f64> {
    let mut candidates: Vec<f64> =
        runs.iter().flat_map(|r| r.statistic(signal)).filter(|x| x.is_finite()).collect();
    candidates.sort_by(f64::total_cmp);
    candidates.dedup();
    let mut best: Option<(i64, f64)> = None;
    for &t in &candidates {
        let m = Score::of(runs, signal, t).merit();
        if best.is_none_or(|(bm, _)| m >= bm) {
            best = Some((m, t));
        }
    }
    best.map(|(_, t)| t)
}

/// The claim, as a number: some signal, with its seed-0 threshold, fires at or before the peak
/// on at least two thirds of the overoptimising runs of the held-out seeds, with no false alarm
/// on their controls. Not applicable where a held-out run's gold curve (`held`) goes beyond the
/// gold's trusted range: its peak and whether it overoptimises are read off that curve.
pub fn early_warning_check(scored: &[(Signal, f64, Score)], held: &[RunTrace]) -> Check {
    let name = "early warning: a signal fixed on seed 0 fires before the gold peak on held-out seeds";
    let labels: Vec<String> = held.iter().map(|r| format!("seed {} {}", r.seed, r.label)).collect();
    let ranges: Vec<_> =
        labels.iter().map(String::as_str).zip(held.iter().map(|r| r.trusted.as_ref())).collect();
    within_trust(unchecked(name, scored), ranges)
}

/// [`early_warning_check`]'s verdict, whatever the gold's trusted range.
fn unchecked(name: &str, scored: &[(Signal, f64, Score)]) -> Check {
    let runs = scored.first().map_or(0, |(_, _, s)| s.early + s.late + s.missed);
    if runs == 0 {
        return not_applicable(name, "no overoptimising run on the held-out seeds".into());
    }
    let good: Vec<String> = scored
        .iter()
        .filter(|(_, _, s)| 3 * s.early >= 2 * runs && s.false_alarms == 0)
        .map(|(sig, t, s)| format!("{} (threshold {t:.3}: {} of {runs} early)", sig.name(), s.early))
        .collect();
    let all: Vec<String> = scored
        .iter()
        .map(|(sig, _, s)| {
            format!(
                "{} {}/{runs} early, {} false alarms of {} controls",
                sig.name(),
                s.early,
                s.false_alarms,
                s.controls
            )
        })
        .collect();
    check(
        name,
        !good.is_empty(),
        format!(
            "{}; needs >= 2/3 early and no false alarm{}",
            all.join("; "),
            if good.is_empty() { String::new() } else { format!(": {}", good.join(", ")) }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run whose entropy falls from `collapse_at` on and whose gold peaks at `peak`.
    fn run(collapse_at: Option<usize>, peak: usize, overoptimises: bool) -> RunTrace {
        let n = 60;
        let entropy = (0..n).map(|t| if collapse_at.is_some_and(|c| t >= c) { 1.0 } else { 2.0 }).collect();
        RunTrace {
            label: "r".into(),
            seed: 0,
            kl: (0..n).map(|t| t as f64).collect(),
            entropy,
            proxy: vec![0.0; n],
            proxy_sd0: 1.0,
            peak_step: peak,
            overoptimises,
            trusted: None,
        }
    }

    #[test]
    fn statistics_follow_their_definitions() {
        let mut r = run(Some(10), 30, true);
        r.kl = (0..60).map(|t| (t * t) as f64).collect();
        r.proxy = (0..60).map(|t| t as f64 * 0.5).collect();
        // quadratic KL t^2: the second difference of trailing means over w-step spans is 2 w^2,
        // 2 per step^2; defined from step 2 (spans shorter than w before step 2w)
        let acc = r.statistic(Signal::KlAcceleration);
        assert!(acc[1].is_nan() && acc[2].is_finite() && acc[9].is_finite(), "{:?}", &acc[..12]);
        assert!((acc[30] - 2.0).abs() < 1e-9, "{:?}", &acc[..12]);
        // counter-example: a KL growing linearly does not accelerate, early or late
        r.kl = (0..60).map(|t| 3.0 * t as f64).collect();
        assert!(r.statistic(Signal::KlAcceleration).iter().skip(2).all(|a| a.abs() < 1e-9));
        // entropy halves: the trailing mean reaches 1 - 1/2 after WINDOW steps
        assert!((r.statistic(Signal::EntropyCollapse)[14] - 0.5).abs() < 1e-12);
        // proxy: trailing mean of 0.5 t at t = 20 is 0.5 * 18 = 9 sds
        assert!((r.statistic(Signal::ProxyShift)[20] - 9.0).abs() < 1e-12);
    }

    #[test]
    fn the_chosen_threshold_separates_overoptimisers_from_controls() {
        let runs = vec![run(Some(10), 30, true), run(Some(20), 40, true), run(None, 59, false)];
        let t = choose_threshold(&runs, Signal::EntropyCollapse).unwrap();
        let s = Score::of(&runs, Signal::EntropyCollapse, t);
        assert_eq!((s.early, s.missed, s.false_alarms), (2, 0, 0), "threshold {t}");
        assert!(s.median_lead().unwrap() > 0.0);
    }

    #[test]
    fn the_check_fails_on_late_signals_and_on_false_alarms() {
        // fires after every peak
        let late = vec![run(Some(40), 30, true), run(Some(50), 40, true), run(Some(45), 20, true)];
        let s = Score::of(&late, Signal::EntropyCollapse, 0.4);
        assert_eq!((s.early, s.late), (0, 3));
        assert!(early_warning_check(&[(Signal::EntropyCollapse, 0.4, s)], &late).fails());
        // fires early, but also on a control
        let noisy = vec![run(Some(10), 30, true), run(Some(10), 30, true), run(Some(10), 59, false)];
        let s = Score::of(&noisy, Signal::EntropyCollapse, 0.4);
        assert_eq!((s.early, s.false_alarms), (2, 1));
        assert!(early_warning_check(&[(Signal::EntropyCollapse, 0.4, s)], &noisy).fails());
        // and passes when early with no false alarm
        let good = vec![run(Some(10), 30, true), run(Some(12), 30, true), run(None, 59, false)];
        let s = Score::of(&good, Signal::EntropyCollapse, 0.4);
        assert!(early_warning_check(&[(Signal::EntropyCollapse, 0.4, s.clone())], &good).passed);
        // the same, one held-out run's gold parting from the rubric before its end: N/A
        let at = |mean: f64| goodhart_core::Estimate { mean, se: 0.05, n: 40 };
        let d = [0.0, 1.0, 2.0];
        let mut parted = good.clone();
        parted[1].trusted =
            crate::stats::order_trusted_range(&d, &[0.0, 1.0, 2.0].map(at), &[0.0, 1.0, -1.0].map(at));
        let c = early_warning_check(&[(Signal::EntropyCollapse, 0.4, s)], &parted);
        assert!(!c.applies && c.detail.contains("trusted range"), "{c}");
    }
}
