//! Figure 1's coefficient and peak trends pooled over seeds, with seed-level resampling: one regression on
//! log RM size through every seed's coefficients, its interval from resampling the seeds (each a
//! whole world, policy, gold, set of proxies and pools) and, within each drawn seed, one of its
//! prompt resamples. A per-seed trend's interval covers only the prompts; this one covers the
//! training of everything a seed draws as well.

use goodhart_core::SplitMix64;
use goodhart_laws::{bootstrap_ci, log_linear_regression};

use goodhart_laws::Form;

use super::{bon_coefficient, check, not_applicable, peak_inside, within_trust, Check};
use crate::records::{BonResult, Fig1};

/// Resamples of the seeds behind each pooled interval.
pub const POOLED_RESAMPLES: usize = 2000;

/// One coefficient of every size of one seed: its point estimate and its prompt resamples
/// (`None` where a resample's fit failed), with the sizes' parameter counts.
struct SeedCoefficients {
    params: Vec<f64>,
    points: Vec<f64>,
    resampled: Vec<Vec<Option<f64>>>,
}

fn coefficients(results: &[&BonResult], coef: fn(f64, f64) -> Option<f64>) -> SeedCoefficients {
    let params = results.iter().map(|r| r.proxy.params as f64).collect();
    let (points, columns): (Vec<f64>, Vec<Vec<Option<f64>>>) =
        results.iter().map(|r| bon_coefficient(coef, r)).unzip();
    SeedCoefficients { params, points, resampled: crate::stats::by_resample(&columns) }
}

/// The pooled slope of `values` on log10 `params` (every seed's sizes together).
fn pooled_slope(rows: &[(&[f64], Vec<f64>)]) -> Option<f64> {
    let (x, y): (Vec<f64>, Vec<f64>) =
        rows.iter().flat_map(|(p, v)| p.iter().copied().zip(v.iter().copied())).unzip();
    if y.iter().any(|v| !v.is_finite()) {
        return None;
    }
    log_linear_regression(&x, &y).ok().map(|l| l.slope)
}

/// The pooled trend of a coefficient over `seeds` and its 90% interval from seed-level
/// resampling: `(slope, lo, hi, resamples used)`. `None` with fewer than two seeds or sizes.
fn pooled_trend(seeds: &[SeedCoefficients], resamples: usize, seed: u64) -> Option<(f64, f64, f64, usize)> {
    if seeds.len() < 2 || seeds.iter().any(|s| s.params.len() < 2) {
        return None;
    }
    let slope = pooled_slope(&seeds.iter().map(|s| (&s.params[..], s.points.clone())).collect::<Vec<_>>())?;
    let mut rng = SplitMix64::new(seed);
    let mut slopes = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let drawn: Option<Vec<(&[f64], Vec<f64>)>> = (0..seeds.len())
            .map(|_| {
                let s = &seeds[rng.next_below(seeds.len() as u64) as usize];
                let usable: Vec<&Vec<Option<f64>>> = s
                    .resampled
                    .iter()
                    .filter(|row| row.iter().all(|v| v.is_some_and(f64::is_finite)))
                    .collect();
                if usable.is_empty() {
                    return None;
                }
                let row = usable[rng.next_below(usable.len() as u64) as usize];
                Some((&s.params[..], row.iter().map(|v| v.unwrap_or(f64::NAN)).collect()))
            })
            .collect();
        if let Some(slope) = drawn.and_then(|rows| pooled_slope(&rows)) {
            slopes.push(slope);
        }
    }
    let ci = bootstrap_ci(&slopes, 0.9).ok()?;
    Some((slope, ci.lo, ci.hi, slopes.len()))
}

/// One pooled trend's input: every seed's sizes (those `keep` admits), its checks' name and
/// direction, and the curves it reads (for the trusted-range gate).
struct Pooled<'a> {
    name: &'a str,
    up: bool,
    per_seed: Vec<(u64, SeedCoefficients)>,
    /// Seeds left out for having fewer than two admitted sizes, with why.
    left_out: Vec<String>,
    ranges: Vec<(String, Option<&'a crate::stats::TrustedRange>)>,
}

fn pooled_check(p: Pooled<'_>) -> Check {
    let ids: Vec<String> = p.per_seed.iter().map(|(s, _)| s.to_string()).collect();
    let seeds: Vec<SeedCoefficients> = p.per_seed.into_iter().map(|(_, c)| c).collect();
    let left_out =
        if p.left_out.is_empty() { String::new() } else { format!("; left out: {}", p.left_out.join(", ")) };
    let c = match pooled_trend(&seeds, POOLED_RESAMPLES, 0x5EED) {
        Some((slope, lo, hi, used)) => check(
            p.name,
            if p.up { lo > 0.0 } else { hi < 0.0 },
            format!(
                "slope {slope:+.4} per decade over seeds {}, 90% interval [{lo:+.4}, {hi:+.4}] over {used} resamples of the seeds and their prompts (needs the interval {}){left_out}",
                ids.join(", "),
                if p.up { "> 0" } else { "< 0" }
            ),
        ),
        None => not_applicable(
            p.name,
            format!("needs two seeds with two sizes each; seeds: {}{left_out}", ids.join(", ")),
        ),
    };
    within_trust(c, p.ranges.iter().map(|(l, t)| (l.as_str(), *t)))
}

/// F3's trends over `seeds` (every seed's figure 1), pooled: alpha_bon up, beta_bon down, the
/// best-of-n peak's d* and R* up (each seed's sizes whose fitted peak lies inside the measured,
/// trusted range, as the per-seed check; a seed with fewer than two such sizes is left out and
/// named), beta_RL (shared alpha) down. Each passes when its seed-level 90% interval lies on the
/// paper's side of 0, and is N/A where some curve it reads leaves the gold's trusted range.
pub fn pooled_trends(seeds: &[(u64, Fig1)]) -> Vec<Check> {
    type Coefficient = fn(f64, f64) -> Option<f64>;
    let bon: [(&str, Coefficient, bool, bool); 4] = [
        (
            "F3 alpha_bon rises with RM size, pooled over seeds (seed-level resampling)",
            |a, _| Some(a),
            true,
            false,
        ),
        (
            "F3 beta_bon falls with RM size, pooled over seeds (seed-level resampling)",
            |_, b| Some(b),
            false,
            false,
        ),
        (
            "F3 bon peak d* rises with RM size, pooled over seeds (seed-level resampling)",
            |a, b| Form::Bon.peak(&[a, b]).map(|p| p.d),
            true,
            true,
        ),
        (
            "F3 bon peak gold R* rises with RM size, pooled over seeds (seed-level resampling)",
            |a, b| Form::Bon.peak(&[a, b]).map(|p| p.r),
            true,
            true,
        ),
    ];
    let mut out: Vec<Check> = bon
        .into_iter()
        .map(|(name, coef, up, peaks_only)| {
            let (mut per_seed, mut left_out, mut ranges) = (Vec::new(), Vec::new(), Vec::new());
            for (s, f) in seeds {
                let kept: Vec<&BonResult> =
                    f.results.iter().filter(|r| !peaks_only || peak_inside(r)).collect();
                if kept.len() < 2 {
                    let what = if peaks_only { "sizes with a measured, trusted peak" } else { "sizes" };
                    left_out.push(format!("seed {s} ({} {what})", kept.len()));
                    continue;
                }
                ranges
                    .extend(kept.iter().map(|r| (format!("seed {s} {}", r.proxy.size), r.trusted.as_ref())));
                per_seed.push((*s, coefficients(&kept, coef)));
            }
            pooled_check(Pooled { name, up, per_seed, left_out, ranges })
        })
        .collect();
    // beta_RL of the shared-alpha fit, each seed's PPO sizes (a seed with fewer than two, or
    // without a fit, left out and named)
    let (mut per_seed, mut ranges, mut left_out) = (Vec::new(), Vec::new(), Vec::new());
    for (s, f) in seeds {
        if f.rl.len() < 2 || f.rl.iter().any(|r| !r.beta_rl_shared.is_finite()) {
            left_out.push(format!(
                "seed {s} ({} PPO sizes with a fit)",
                f.rl.iter().filter(|r| r.beta_rl_shared.is_finite()).count()
            ));
            continue;
        }
        let columns: Vec<Vec<Option<f64>>> = f.rl.iter().map(|r| r.bootstrap_beta_shared.clone()).collect();
        per_seed.push((
            *s,
            SeedCoefficients {
                params: f.rl.iter().map(|r| r.proxy.params as f64).collect(),
                points: f.rl.iter().map(|r| r.beta_rl_shared).collect(),
                resampled: crate::stats::by_resample(&columns),
            },
        ));
        ranges.extend(f.rl.iter().map(|r| (format!("seed {s} rl {}", r.proxy.size), r.trusted.as_ref())));
    }
    out.push(pooled_check(Pooled {
        name: "F3 beta_RL (shared alpha) falls with RM size, pooled over seeds (seed-level resampling)",
        up: false,
        per_seed,
        left_out,
        ranges,
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seed whose coefficient is `intercept + slope log10 N` at three sizes, with prompt
    /// resamples scattered by `noise` around it.
    fn seed(intercept: f64, slope: f64, noise: f64, rng_seed: u64) -> SeedCoefficients {
        let params = vec![1e3, 1e4, 1e5];
        let points: Vec<f64> = params.iter().map(|p: &f64| intercept + slope * p.log10()).collect();
        let mut rng = SplitMix64::new(rng_seed);
        let resampled = (0..200)
            .map(|_| points.iter().map(|v| Some(v + noise * rng.next_gaussian())).collect())
            .collect();
        SeedCoefficients { params, points, resampled }
    }

    #[test]
    fn seeds_that_agree_give_a_trend_and_seeds_that_disagree_do_not() {
        // three seeds falling alike: the pooled interval lies below 0
        let agree = [seed(1.0, -0.1, 0.01, 1), seed(1.1, -0.1, 0.01, 2), seed(0.9, -0.1, 0.01, 3)];
        let (slope, _, hi, used) = pooled_trend(&agree, 500, 7).unwrap();
        assert!((slope + 0.1).abs() < 1e-9 && hi < 0.0 && used == 500, "{slope} {hi}");
        // the counter-example: each seed's own prompt intervals are tight, but one seed rises
        // as steeply as the others fall, so resampling the seeds straddles 0
        let disagree = [seed(1.0, -0.1, 0.01, 1), seed(1.0, -0.1, 0.01, 2), seed(0.0, 0.25, 0.01, 3)];
        let (_, lo, hi, _) = pooled_trend(&disagree, 500, 7).unwrap();
        assert!(lo < 0.0 && hi > 0.0, "[{lo}, {hi}]");
        // one seed is no pool
        assert!(pooled_trend(&agree[..1], 500, 7).is_none());
    }
}
