//! `cargo xtask verify`: the paper's findings checked by number. Figure 1's checks are here and
//! read `fig1.json`; the other targets' checks ([`sweeps`]) are computed from a target's results
//! when `reproduce` writes them, into `<target>_checks.json`.

pub mod daa;
pub mod early_warning;
pub mod ensembles;
pub mod placement;
pub mod pooled;
pub mod sweeps;

use goodhart_laws::Form;
use serde::{Deserialize, Serialize};

use crate::records::{BonResult, Fig1};
use crate::stats::{
    by_resample, last_rise, overoptimisation_seen, trend, TrustedRange, Verdict, SIGNIFICANT_SE,
};

/// One finding, measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    /// What was measured and against what, for a person.
    pub detail: String,
    /// `false` when the check does not apply to these results (e.g. a preset too small for it):
    /// it then neither passes nor fails, and `detail` says why.
    #[serde(default = "yes")]
    pub applies: bool,
}

fn yes() -> bool {
    true
}

impl Check {
    /// Whether this check counts as a failure (it applies and did not pass).
    pub fn fails(&self) -> bool {
        self.applies && !self.passed
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = match (self.applies, self.passed) {
            (false, _) => "N/A ",
            (true, true) => "PASS",
            (true, false) => "FAIL",
        };
        write!(f, "{verdict}  {}: {}", self.name, self.detail)
    }
}

/// A check that applies, passed or not, with the numbers it read.
pub fn check(name: &str, passed: bool, detail: String) -> Check {
    Check { name: name.to_string(), passed, detail, applies: true }
}

/// A check that does not apply to these results, saying why.
pub fn not_applicable(name: &str, why: String) -> Check {
    Check { name: name.to_string(), passed: false, detail: why, applies: false }
}

/// `c`, or N/A when it reads curves beyond the range where their gold is trusted: `ranges` are
/// the curves' `(label, trusted range)` (`None`: fidelity not measured, nothing to gate on).
pub fn within_trust<'a>(
    c: Check,
    ranges: impl IntoIterator<Item = (&'a str, Option<&'a TrustedRange>)>,
) -> Check {
    if !c.applies {
        return c;
    }
    let beyond: Vec<String> = ranges
        .into_iter()
        .filter_map(|(label, t)| t.filter(|t| !t.covers_curve()).map(|t| format!("{label}: {t}")))
        .collect();
    if beyond.is_empty() {
        return c;
    }
    not_applicable(
        &c.name,
        format!(
            "reads curves beyond the gold's trusted range ({}); measured: {}",
            beyond.join("; "),
            c.detail
        ),
    )
}

/// Whether the gold holds along one curve: every point's fidelity at least the threshold.
pub fn trust_check(name: String, t: Option<&TrustedRange>) -> Check {
    match t {
        Some(t) => check(&name, t.covers_curve(), t.to_string()),
        None => not_applicable(&name, "the gold's fidelity was not measured (no rubric scores)".into()),
    }
}

/// F1's rule for every size but the smallest ([`overoptimisation_seen`]).
const RULE: &str =
    "must fall, or have its fitted peak beyond the range while its last segment still rises by > 2 se";

/// Lowest R^2 a fitted gold curve may have.
pub const MIN_R2_BON: f64 = 0.9;
pub const MIN_R2_RL: f64 = 0.8;
/// Evaluations a PPO curve needs before its peak for the rise to be resolved.
pub const MIN_EVALS_BEFORE_PEAK: usize = 8;

/// `{run}: the rise is resolved`: at least [`MIN_EVALS_BEFORE_PEAK`] evaluations before the
/// measured peak (`peak`, the index of the evaluation, which is `at`: "step 20"), so that a curve's rise is seen
/// and not only its fall.
pub fn rise_resolved(run: &str, peak: usize, at: &str) -> Check {
    check(
        &format!("{run}: the rise is resolved (>= {MIN_EVALS_BEFORE_PEAK} evaluations before the peak)"),
        peak >= MIN_EVALS_BEFORE_PEAK,
        format!("{peak} evaluations before the peak at {at}"),
    )
}
/// F4 for one proxy size, on the two curves' means (KL, gold): RL needs at least
/// [`MIN_KL_RATIO`] times best-of-n's KL to reach the same gold, read at a level 80% of the way
/// from where both start (the higher of their first gold means) to the lower of their peaks;
/// FAIL when there is no such level both climb to. Not gated by the trusted range (callers wrap
/// it in [`within_trust`]).
pub fn kl_spent_check(size: &str, bon_kl: &[f64], bon_gold: &[f64], rl_kl: &[f64], rl_gold: &[f64]) -> Check {
    let top = |g: &[f64]| g.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // 80% of the way from where both start to the lower of their peaks: a level both
    // optimisers must climb to (a level the start already holds would compare KL 0 with 0)
    let start = bon_gold.first().copied().unwrap_or(0.0).max(rl_gold.first().copied().unwrap_or(0.0));
    let target = start + 0.8 * (top(bon_gold).min(top(rl_gold)) - start);
    let name = format!("F4 rl {size}: more KL than best-of-n for the same gold");
    match (kl_to_reach(bon_kl, bon_gold, target), kl_to_reach(rl_kl, rl_gold, target)) {
        (Some(kb), Some(kr)) if target > start && kb > 0.0 => check(
            &name,
            kr >= MIN_KL_RATIO * kb,
            format!(
                "gold {target:.3} at KL {kr:.2} (RL) vs {kb:.2} (BoN): {:.1}x (needs >= {MIN_KL_RATIO}x)",
                kr / kb
            ),
        ),
        _ => check(
            &name,
            false,
            format!("no gold level above the start ({start:.3}) that both curves climb to ({target:.3})"),
        ),
    }
}

/// How many times more KL RL must spend than best-of-n to reach the same gold.
pub const MIN_KL_RATIO: f64 = 2.0;

/// The smallest KL at which a curve first reaches `target` (linear interpolation between
/// measured points), or `None` if it never does.
pub fn kl_to_reach(kl: &[f64], gold: &[f64], target: f64) -> Option<f64> {
    if gold.first().is_some_and(|&g| g >= target) {
        return kl.first().copied();
    }
    (1..gold.len()).find(|&i| gold[i] >= target).map(|i| {
        let t = (target - gold[i - 1]) / (gold[i] - gold[i - 1]);
        kl[i - 1] + t * (kl[i] - kl[i - 1])
    })
}

/// The evaluations (indices) whose mean KL is below the previous one's by more than
/// [`SIGNIFICANT_SE`] standard errors of the difference.
pub fn kl_dips(kl: &[goodhart_core::Estimate]) -> Vec<usize> {
    (1..kl.len())
        .filter(|&k| kl[k - 1].mean - kl[k].mean > SIGNIFICANT_SE * kl[k - 1].se.hypot(kl[k].se))
        .collect()
}

/// Whether `xs` falls strictly from each value to the next (a tie is not a fall).
pub fn falls_at_every_step(xs: &[f64]) -> bool {
    xs.windows(2).all(|w| w[1] < w[0])
}

/// The trend of one coefficient over RM size as a check: passes when its 90% bootstrap interval
/// lies on the paper's side of 0.
fn trend_check(
    name: &str,
    params: &[f64],
    values: &[f64],
    resampled: &[Vec<Option<f64>>],
    up: bool,
) -> Check {
    let want = if up { "> 0" } else { "< 0" };
    if params.len() < 2 {
        return not_applicable(name, format!("{} RM size; a trend needs two or more", params.len()));
    }
    match trend(params, values, resampled) {
        Some(t) => check(
            name,
            t.excludes_zero(up),
            format!(
                "slope {:+.4} per decade of RM parameters, 90% interval [{:+.4}, {:+.4}] over {} resamples of the prompts (needs the interval {want})",
                t.slope, t.lo, t.hi, t.resamples
            ),
        ),
        None => check(name, false, "cannot fit a trend (fewer than two sizes, or no resample fitted every size)".into()),
    }
}

/// Whether a best-of-n curve's fitted peak lies inside its measured range and, where the gold's
/// fidelity was measured, inside its trusted range.
pub(crate) fn peak_inside(r: &BonResult) -> bool {
    peak_measured(r.peak_d, r.kl.last().map_or(0.0, |k| k.sqrt()), r.trusted.as_ref())
}

/// A fitted peak at `peak_d` on a curve measured to `measured_to` with the gold trusted over
/// `trusted` (`None`: fidelity not measured) lies where the curve was measured and trusted.
fn peak_measured(peak_d: Option<f64>, measured_to: f64, trusted: Option<&TrustedRange>) -> bool {
    let trusted_to = trusted.map_or(f64::INFINITY, |t| t.up_to);
    peak_d.is_some_and(|d| d <= measured_to && d <= trusted_to)
}

/// A coefficient of a best-of-n fit `(alpha, beta)`.
pub fn bon_coefficient(f: fn(f64, f64) -> Option<f64>, r: &BonResult) -> (f64, Vec<Option<f64>>) {
    let point = f(r.alpha_bon, r.beta_bon).unwrap_or(f64::NAN);
    (point, r.bootstrap_fits.iter().map(|p| p.and_then(|(a, b)| f(a, b))).collect())
}

/// Every check of figure 1, in a fixed order, each named by the paper's finding (F1..F4, as
/// numbered in `shared/paper-spec.md`). Every proxy size gets a verdict. Coefficient trends
/// need at least two sizes; RL checks fail, and say so, when the figure has no RL runs.
pub fn fig1_checks(f: &Fig1) -> Vec<Check> {
    let mut out = Vec::new();
    let losses: Vec<f64> = f.results.iter().map(|r| r.proxy.val.loss).collect();
    let listed: Vec<String> =
        f.results.iter().map(|r| format!("{} {:.4}", r.proxy.size, r.proxy.val.loss)).collect();
    let params: Vec<f64> = f.results.iter().map(|r| r.proxy.params as f64).collect();
    let name = "proxies: validation loss falls with RM size (trend on log size, 90% interval below 0)";
    out.push(match crate::stats::ols_trend(&params, &losses) {
        Some(t) => check(
            name,
            t.excludes_zero(false),
            format!("{}; slope {:.4} per decade [{:.4}, {:.4}]", listed.join(", "), t.slope, t.lo, t.hi),
        ),
        None => not_applicable(name, format!("{}: a trend needs 3 sizes", listed.join(", "))),
    });
    // like for like: the same pairs of initial-policy samples, held-out prompts (results that
    // predate it: each model's own validation pairs)
    let held_out: Option<Vec<f64>> = f.results.iter().map(|r| r.proxy_gold_agreement_held_out).collect();
    match (f.gold_rubric_agreement_held_out, held_out) {
        (Some(gold), Some(proxies)) if !proxies.is_empty() => {
            let best = proxies.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            out.push(check(
                "gold agrees with the rubric better than any proxy with the gold",
                gold > best,
                format!(
                    "on the same pairs of initial-policy samples to held-out prompts: gold with the rubric {gold:.3}, best proxy with the gold {best:.3} (on their own validation pairs: gold {:.3})",
                    f.gold.val.accuracy
                ),
            ));
        }
        _ => {
            let best = f.results.iter().map(|r| r.proxy.val.accuracy).fold(f64::NEG_INFINITY, f64::max);
            out.push(check(
                "gold agrees with the rubric better than any proxy with the gold",
                f.gold.val.accuracy > best,
                format!(
                    "on each model's own validation pairs: gold {:.3}, best proxy {best:.3}",
                    f.gold.val.accuracy
                ),
            ));
        }
    }
    // F1, best-of-n: every size gets a verdict. The paper finds a peak (beta > 0) at every size,
    // reached within its measured range by the smaller proxies; so the smallest must fall here,
    // and every other size must fall or have its fitted peak beyond the measured range.
    for (i, r) in f.results.iter().enumerate() {
        let smallest = i == 0;
        let rise = last_rise(&r.gold);
        let passed = if smallest {
            r.verdict == Verdict::PeaksAndFalls
        } else {
            overoptimisation_seen(&r.verdict, rise)
        };
        // what reaching a peak beyond the range would take: pools grow linearly with n
        let reach = match r.verdict {
            Verdict::PeakBeyondRange { fitted_d, .. } => goodhart_kl::n_for_kl_bon(fitted_d * fitted_d)
                .map(|n| {
                    let pool = r.ns.last().copied().unwrap_or(1) as f64;
                    format!(" (reaching it takes n = {n:.0}: pools {:.1}x larger)", n / pool)
                })
                .unwrap_or_default(),
            _ => String::new(),
        };
        let range = [(r.proxy.size.as_str(), r.trusted.as_ref())];
        out.push(trust_check(format!("gold holds along bon {}", r.proxy.size), r.trusted.as_ref()));
        out.push(within_trust(check(
            &format!("F1 bon {}: gold peaks (paper: every size)", r.proxy.size),
            passed,
            format!(
                "{}{reach}; peak - last gold on the other half of the prompts {:.3} (se {:.3}; a fall needs > {SIGNIFICANT_SE} se); last segment {:+.3} (se {:.3}); {}",
                r.verdict,
                r.fall.amount.mean,
                r.fall.amount.se,
                rise.mean,
                rise.se,
                if smallest { "the smallest proxy must peak and fall" } else { RULE }
            ),
        ), range));
        out.push(within_trust(check(
            &format!("F1 bon {}: proxy pulls away from gold", r.proxy.size),
            r.gap_growth.mean > SIGNIFICANT_SE * r.gap_growth.se,
            format!(
                "(proxy - gold) at the largest n minus at n = 1: {:.3} (se {:.3}, needs > {SIGNIFICANT_SE} se)",
                r.gap_growth.mean, r.gap_growth.se
            ),
        ), range));
    }
    let bon_ranges = || f.results.iter().map(|r| (r.proxy.size.as_str(), r.trusted.as_ref()));
    let min_r2 = f.results.iter().map(|r| r.r2).fold(f64::INFINITY, f64::min);
    out.push(within_trust(
        check(
            "F2 bon fits: R^2 of d(alpha - beta d)",
            min_r2 >= MIN_R2_BON,
            format!("lowest R^2 {min_r2:.3} (needs >= {MIN_R2_BON})"),
        ),
        bon_ranges(),
    ));
    let params: Vec<f64> = f.results.iter().map(|r| r.proxy.params as f64).collect();
    let bon_trend = |name: &str, coef: fn(f64, f64) -> Option<f64>, up: bool| {
        let (points, columns): (Vec<f64>, Vec<Vec<Option<f64>>>) =
            f.results.iter().map(|r| bon_coefficient(coef, r)).unzip();
        within_trust(trend_check(name, &params, &points, &by_resample(&columns), up), bon_ranges())
    };
    out.push(bon_trend("F3 alpha_bon rises with RM size", |a, _| Some(a), true));
    out.push(bon_trend("F3 beta_bon falls with RM size", |_, b| Some(b), false));
    // the peaks' trends read only sizes whose fitted peak was measured and trusted, not a peak
    // the fit puts beyond the curve
    let inside: Vec<&BonResult> = f.results.iter().filter(|r| peak_inside(r)).collect();
    let left_out: Vec<&str> =
        f.results.iter().filter(|r| !peak_inside(r)).map(|r| r.proxy.size.as_str()).collect();
    let peak_trend = |name: &str, coef: fn(f64, f64) -> Option<f64>| {
        if inside.len() < 2 {
            return not_applicable(
                name,
                format!(
                    "needs two sizes whose fitted peak lies inside the measured, trusted range; {} of {} do (left out: {})",
                    inside.len(),
                    f.results.len(),
                    left_out.join(", ")
                ),
            );
        }
        let params: Vec<f64> = inside.iter().map(|r| r.proxy.params as f64).collect();
        let (points, columns): (Vec<f64>, Vec<Vec<Option<f64>>>) =
            inside.iter().map(|r| bon_coefficient(coef, r)).unzip();
        let mut c = trend_check(name, &params, &points, &by_resample(&columns), true);
        if !left_out.is_empty() {
            c.detail.push_str(&format!(
                "; over the sizes whose peak was measured (left out: {})",
                left_out.join(", ")
            ));
        }
        within_trust(c, inside.iter().map(|r| (r.proxy.size.as_str(), r.trusted.as_ref())))
    };
    out.push(peak_trend("F3 bon peak d* rises with RM size", |a, b| Form::Bon.peak(&[a, b]).map(|p| p.d)));
    out.push(peak_trend("F3 bon peak gold R* rises with RM size", |a, b| {
        Form::Bon.peak(&[a, b]).map(|p| p.r)
    }));
    if f.rl.is_empty() {
        out.push(check("rl", false, "no RL runs in these results (rl.sizes is empty)".into()));
        return out;
    }
    for (i, r) in f.rl.iter().enumerate() {
        let smallest = i == 0;
        let rise = last_rise(&r.gold);
        let passed = if smallest {
            r.verdict == Verdict::PeaksAndFalls
        } else {
            overoptimisation_seen(&r.verdict, rise)
        } && r.proxy_rises;
        out.push(trust_check(format!("gold holds along rl {}", r.proxy.size), r.trusted.as_ref()));
        out.push(within_trust(check(
            &format!("F1 rl {}: gold peaks while proxy rises (paper: every size)", r.proxy.size),
            passed,
            format!(
                "{}; peak - last gold on the other half of the prompts {:.3} (se {:.3}, over {} trajectories); last segment {:+.3} (se {:.3}); proxy {:.3} -> {:.3} at KL {:.1} (must rise by > 2 se); {}",
                r.verdict,
                r.fall.amount.mean,
                r.fall.amount.se,
                r.trajectories,
                rise.mean,
                rise.se,
                r.proxy_score[0].mean,
                r.proxy_score.last().map_or(f64::NAN, |e| e.mean),
                r.kl_reached,
                if smallest { "the smallest proxy must peak and fall" } else { RULE }
            ),
        ), [(r.proxy.size.as_str(), r.trusted.as_ref())]));
    }
    let rl_ranges = || f.rl.iter().map(|r| (r.proxy.size.as_str(), r.trusted.as_ref()));
    for r in &f.rl {
        let dips: Vec<String> = kl_dips(&r.kl)
            .into_iter()
            .map(|k| format!("step {}: {:.2} -> {:.2}", r.steps[k], r.kl[k - 1].mean, r.kl[k].mean))
            .collect();
        out.push(check(
            &format!("rl {}: KL never falls between evaluations", r.proxy.size),
            dips.is_empty(),
            if dips.is_empty() {
                format!("{} evaluations, KL {:.2} -> {:.2}", r.steps.len(), r.kl[0].mean, r.kl_reached)
            } else {
                format!("falls by more than {SIGNIFICANT_SE} se at {}", dips.join(", "))
            },
        ));
        out.push(rise_resolved(
            &format!("rl {}", r.proxy.size),
            r.fall.peak,
            &format!("step {}", r.steps[r.fall.peak]),
        ));
    }
    let min_r2 = f.rl.iter().map(|r| r.r2).fold(f64::INFINITY, f64::min);
    out.push(within_trust(
        check(
            "F2 rl fits: R^2 of d(alpha - beta ln d)",
            min_r2 >= MIN_R2_RL,
            format!("lowest R^2 {min_r2:.3} (needs >= {MIN_R2_RL})"),
        ),
        rl_ranges(),
    ));
    let rl_params: Vec<f64> = f.rl.iter().map(|r| r.proxy.params as f64).collect();
    let betas: Vec<f64> = f.rl.iter().map(|r| r.beta_rl_shared).collect();
    let columns: Vec<Vec<Option<f64>>> = f.rl.iter().map(|r| r.bootstrap_beta_shared.clone()).collect();
    out.push(within_trust(
        trend_check(
            "F3 beta_RL (shared alpha) falls with RM size",
            &rl_params,
            &betas,
            &by_resample(&columns),
            false,
        ),
        rl_ranges(),
    ));
    for r in &f.rl {
        let Some(bon) = f.results.iter().find(|b| b.proxy.size == r.proxy.size) else {
            continue;
        };
        let bon_gold: Vec<f64> = bon.gold.iter().map(|e| e.mean).collect();
        let rl_gold: Vec<f64> = r.gold.iter().map(|e| e.mean).collect();
        let rl_kl: Vec<f64> = r.kl.iter().map(|e| e.mean).collect();
        let ranges = [("bon", bon.trusted.as_ref()), ("rl", r.trusted.as_ref())];
        out.push(within_trust(kl_spent_check(&r.proxy.size, &bon.kl, &bon_gold, &rl_kl, &rl_gold), ranges));
    }
    out
}

/// One check over the evaluation seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedCheck {
    pub name: String,
    /// `(seed, passed, detail)` for every seed where the check applies.
    pub per_seed: Vec<(u64, bool, String)>,
    /// `(seed, why)` for every seed where it does not apply.
    pub not_applicable: Vec<(u64, String)>,
    /// Passed on a majority of the seeds where it applies (2 of 3); false where it applies on
    /// none.
    pub reproduced: bool,
}

impl SeedCheck {
    /// The check applies on no seed: no verdict.
    pub fn applies_nowhere(&self) -> bool {
        self.per_seed.is_empty()
    }
}

impl std::fmt::Display for SeedCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let passed = self.per_seed.iter().filter(|s| s.1).count();
        if self.applies_nowhere() {
            writeln!(f, "NOT APPLICABLE  {}: on none of {} seeds", self.name, self.not_applicable.len())?;
        } else {
            let verdict = if self.reproduced { "REPRODUCED" } else { "NOT REPRODUCED" };
            writeln!(f, "{verdict}  {}: passed on {passed} of {} seeds", self.name, self.per_seed.len())?;
        }
        let mut rows: Vec<(u64, &str, &str)> = self
            .per_seed
            .iter()
            .map(|(seed, ok, detail)| (*seed, if *ok { "pass" } else { "fail" }, detail.as_str()))
            .chain(self.not_applicable.iter().map(|(seed, why)| (*seed, "n/a", why.as_str())))
            .collect();
        rows.sort_by_key(|r| r.0);
        for (seed, verdict, detail) in rows {
            writeln!(f, "    seed {seed}: {verdict} {detail}")?;
        }
        Ok(())
    }
}

impl SeedCheck {
    /// One row of a Markdown table with a column per seed of `seeds` (`pass`, `FAIL`, `N/A` or
    /// `-` where the seed has no such check) and the verdict: `| name | seed columns | verdict |`.
    /// `reference` (seed 0's outcome, where settings were chosen) goes first when given.
    pub fn markdown_row(&self, seeds: &[u64], reference: Option<&str>) -> String {
        let cell = |seed: u64| {
            if let Some(r) = self.per_seed.iter().find(|r| r.0 == seed) {
                if r.1 {
                    "pass"
                } else {
                    "FAIL"
                }
            } else if self.not_applicable.iter().any(|r| r.0 == seed) {
                "N/A"
            } else {
                "-"
            }
        };
        let passed = self.per_seed.iter().filter(|r| r.1).count();
        let verdict = if self.applies_nowhere() {
            "not applicable".to_string()
        } else {
            let word = if self.reproduced { "reproduced" } else { "not reproduced" };
            format!("{word} ({passed} of {} seeds)", self.per_seed.len())
        };
        let mut cells: Vec<String> = reference.into_iter().map(str::to_string).collect();
        cells.extend(seeds.iter().map(|&s| cell(s).to_string()));
        format!("| {} | {} | {verdict} |", self.name.replace('|', "\\|"), cells.join(" | "))
    }
}

/// The checks of several seeds, matched by name: a check is reproduced when it passes on more
/// than half of the seeds where it applies; one that applies on no seed is kept, with each seed's
/// reason, and gives no verdict. Seeds are the evaluation seeds (not the one settings were chosen
/// on); checks keep the order of their first appearance.
pub fn across_seeds(per_seed: &[(u64, Vec<Check>)]) -> Vec<SeedCheck> {
    let mut out: Vec<SeedCheck> = Vec::new();
    for (seed, checks) in per_seed {
        for c in checks {
            let i = match out.iter().position(|s| s.name == c.name) {
                Some(i) => i,
                None => {
                    out.push(SeedCheck {
                        name: c.name.clone(),
                        per_seed: Vec::new(),
                        not_applicable: Vec::new(),
                        reproduced: false,
                    });
                    out.len() - 1
                }
            };
            if c.applies {
                out[i].per_seed.push((*seed, c.passed, c.detail.clone()));
            } else {
                out[i].not_applicable.push((*seed, c.detail.clone()));
            }
        }
    }
    for s in &mut out {
        let passed = s.per_seed.iter().filter(|r| r.1).count();
        s.reproduced = !s.per_seed.is_empty() && passed > s.per_seed.len() / 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peak_before_the_eighth_evaluation_leaves_the_rise_unresolved() {
        assert!(rise_resolved("rl p1k", 8, "step 20").passed);
        let early = rise_resolved("rl p1k", 2, "step 3");
        assert!(early.fails() && early.detail.contains("2 evaluations before the peak at step 3"), "{early}");
    }

    #[test]
    fn a_seed_check_is_one_markdown_row_per_seed_and_a_verdict() {
        let c = |passed: bool| check("F1 x", passed, String::new());
        let na = not_applicable("F1 x", "beyond the range".into());
        let seeds = vec![(1, vec![c(true)]), (2, vec![na]), (3, vec![c(false)])];
        let row = across_seeds(&seeds)[0].markdown_row(&[1, 2, 3, 4], Some("pass"));
        assert_eq!(row, "| F1 x | pass | pass | N/A | FAIL | - | not reproduced (1 of 2 seeds) |");
    }

    #[test]
    fn a_check_is_reproduced_on_a_majority_of_seeds_only() {
        let c = |name: &str, passed: bool| check(name, passed, String::new());
        let seeds = vec![
            (1, vec![c("a", true), c("b", true)]),
            (2, vec![c("a", true), c("b", false)]),
            (3, vec![c("a", false), c("b", false)]),
        ];
        let out = across_seeds(&seeds);
        assert_eq!(out.len(), 2);
        assert!(out[0].reproduced, "2 of 3");
        assert!(!out[1].reproduced, "1 of 3 is a counter-example");
        assert!(out[1].to_string().starts_with("NOT REPRODUCED  b: passed on 1 of 3 seeds"));
        assert!(!across_seeds(&[(1, vec![c("x", true)]), (2, vec![c("x", false)])])[0].reproduced, "1 of 2");
        // a check N/A on every seed is kept and gives no verdict; N/A seeds are left out of the count
        let na = |name: &str| not_applicable(name, "beyond the trusted range".into());
        let out = across_seeds(&[
            (1, vec![na("n"), c("m", true)]),
            (2, vec![na("n"), na("m")]),
            (3, vec![na("n"), c("m", false)]),
        ]);
        assert!(out[0].applies_nowhere() && !out[0].reproduced, "{:?}", out[0]);
        assert!(out[0].to_string().starts_with("NOT APPLICABLE  n: on none of 3 seeds"), "{}", out[0]);
        assert!(out[0].to_string().contains("seed 2: n/a beyond the trusted range"));
        assert!(!out[1].reproduced && out[1].to_string().contains("passed on 1 of 2 seeds"), "{}", out[1]);
    }

    /// A curve whose gold and rubric rise together, and one whose rubric collapses from d = 2
    /// while the gold climbs on (trusted up to d = 1).
    fn ranges(d: &[f64]) -> (TrustedRange, TrustedRange) {
        let es = |m: &[f64]| {
            m.iter().map(|&mean| goodhart_core::Estimate { mean, se: 0.05, n: 100 }).collect::<Vec<_>>()
        };
        let rising = es(&[0.0, 1.0, 2.0, 3.0]);
        let faithful = crate::stats::order_trusted_range(d, &rising, &rising).unwrap();
        let broken = crate::stats::order_trusted_range(d, &rising, &es(&[0.0, 1.0, -1.0, -2.0])).unwrap();
        (faithful, broken)
    }

    #[test]
    fn a_peak_trend_reads_only_peaks_that_were_measured_and_trusted() {
        let d = [0.0, 1.0, 2.0, 3.0];
        let (trusted, broken) = (ranges(&d).0, ranges(&d).1);
        assert!(peak_measured(Some(2.5), 3.0, Some(&trusted)));
        assert!(peak_measured(Some(2.5), 3.0, None));
        // counter-examples: a fitted peak beyond the curve, one past where the gold holds, none
        assert!(!peak_measured(Some(3.5), 3.0, Some(&trusted)));
        assert!(!peak_measured(Some(2.5), 3.0, Some(&broken)));
        assert!(!peak_measured(None, 3.0, None));
    }

    #[test]
    fn a_check_that_reads_beyond_the_trusted_range_is_not_applicable() {
        let d = [0.0, 1.0, 2.0, 3.0];
        let (faithful, broken) = ranges(&d);
        let passing = || check("F1 bon p1k: gold peaks", true, "peaks and falls".into());
        let kept = within_trust(passing(), [("p1k", Some(&faithful)), ("p3k", None)]);
        assert!(kept.applies && kept.passed);
        // counter-example: the same passing check on a curve whose gold breaks at d = 2
        let gated = within_trust(passing(), [("p1k", Some(&faithful)), ("p10k", Some(&broken))]);
        assert!(!gated.applies && !gated.fails(), "{gated}");
        assert!(
            gated.to_string().starts_with("N/A")
                && gated.detail.contains("p10k: gold trusted only up to d = 1.00")
        );
        assert!(trust_check("gold holds".into(), Some(&broken)).fails());
        assert!(!trust_check("gold holds".into(), None).applies);
    }

    #[test]
    fn kl_that_steps_back_beyond_its_noise_is_a_dip() {
        let e = |mean: f64, se: f64| goodhart_core::Estimate { mean, se, n: 256 };
        assert!(kl_dips(&[e(0.0, 0.0), e(1.0, 0.1), e(2.0, 0.2), e(1.9, 0.2)]).is_empty(), "within noise");
        // counter-example: a step back of 1.0 with se 0.2 each
        assert_eq!(kl_dips(&[e(0.0, 0.0), e(3.0, 0.2), e(2.0, 0.2), e(4.0, 0.2)]), vec![2]);
    }

    #[test]
    fn a_tie_or_a_rise_is_not_a_fall() {
        assert!(falls_at_every_step(&[0.5, 0.4, 0.3]));
        assert!(falls_at_every_step(&[0.5]));
        assert!(!falls_at_every_step(&[0.5, 0.5, 0.3]));
        assert!(!falls_at_every_step(&[0.5, 0.4, 0.41]));
    }

    #[test]
    fn kl_to_reach_interpolates_the_first_crossing() {
        let kl = [0.0, 1.0, 2.0, 4.0];
        let gold = [0.0, 0.5, 1.0, 0.2];
        assert_eq!(kl_to_reach(&kl, &gold, 0.75), Some(1.5));
        assert_eq!(kl_to_reach(&kl, &gold, 0.0), Some(0.0));
        assert_eq!(kl_to_reach(&kl, &gold, 1.01), None);
    }
}
