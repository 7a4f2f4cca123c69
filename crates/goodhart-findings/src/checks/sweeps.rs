//! The checks of findings 2 (extrapolation), 5 (RM data), 6 (policy size), 7 (KL penalty),
//! 8 (regressional Goodhart) and 9 (iterated RLHF), each a function of plain numbers so that a
//! synthetic counter-example can make it fail.

use goodhart_core::Estimate;

use super::{check, not_applicable, within_trust, Check};
use crate::stats::{TrustedRange, SIGNIFICANT_SE};

/// Validation loss within this much of ln 2 counts as chance.
pub const CHANCE_MARGIN: f64 = 0.01;
/// An RM this far below ln 2 in validation loss has learnt something.
pub const LEARNT_MARGIN: f64 = 0.05;
/// How far apart two peak KLs may be (as a ratio) and still be "about the same".
pub const SAME_KL_RATIO: f64 = 2.0;

/// `a - b` with the standard error of independent estimates.
pub fn difference(a: Estimate, b: Estimate) -> Estimate {
    Estimate { mean: a.mean - b.mean, se: a.se.hypot(b.se), n: a.n.min(b.n) }
}

fn significant(e: Estimate) -> bool {
    e.mean > SIGNIFICANT_SE * e.se
}

fn est(e: Estimate) -> String {
    format!("{:+.3} (se {:.3})", e.mean, e.se)
}

/// One proxy of the data-size sweep.
#[derive(Debug, Clone)]
pub struct DataPoint {
    pub rm_size: String,
    pub pairs: usize,
    pub epochs: usize,
    pub val_loss: f64,
    /// Best-of-n gold near n = 1000.
    pub gold: Estimate,
    /// The best-of-n curve's trusted range, read up to the point `gold` is from
    /// ([`TrustedRange::read_to`]; `None`: not measured): the checks that read `gold` are not
    /// applicable where it lies beyond.
    pub trusted: Option<TrustedRange>,
}

/// Resamples of the data trend: each point's gold drawn from its estimate's normal distribution.
const DATA_TREND_RESAMPLES: usize = 1000;

/// Finding 5 on the data-size sweep: for every RM size, the gold near n = 1000 rises with the
/// data over every data size at which the proxy has learnt something (validation loss below
/// ln 2 - [`LEARNT_MARGIN`]): the slope per decade of comparisons, its 90% interval (from the
/// points' standard errors) above 0; so a sweep whose smallest size sits at chance cannot pass on
/// that point alone. And the sweep reaches below the threshold where RMs stay at chance (some
/// proxy within [`CHANCE_MARGIN`] of ln 2) as well as above it.
pub fn data_checks(points: &[DataPoint]) -> Vec<Check> {
    let mut out = Vec::new();
    let mut sizes: Vec<&str> = points.iter().map(|p| p.rm_size.as_str()).collect();
    sizes.dedup();
    let ln2 = std::f64::consts::LN_2;
    for size in sizes {
        let mut mine: Vec<&DataPoint> = points
            .iter()
            .filter(|p| p.rm_size == size && p.epochs == 1 && p.val_loss < ln2 - LEARNT_MARGIN)
            .collect();
        mine.sort_by_key(|p| p.pairs);
        mine.dedup_by_key(|p| p.pairs);
        let name = format!("F5 data {size}: more comparisons, more gold (n near 1000), above chance");
        if mine.len() < 2 {
            out.push(not_applicable(
                &name,
                format!("{} data size(s) where the proxy learnt anything (val loss < ln 2 - {LEARNT_MARGIN}); a trend needs two", mine.len()),
            ));
            continue;
        }
        let pairs: Vec<f64> = mine.iter().map(|p| p.pairs as f64).collect();
        let gold: Vec<f64> = mine.iter().map(|p| p.gold.mean).collect();
        let mut rng = goodhart_core::SplitMix64::new(0xDA7A);
        let resampled: Vec<Vec<Option<f64>>> = (0..DATA_TREND_RESAMPLES)
            .map(|_| mine.iter().map(|p| Some(p.gold.mean + p.gold.se * rng.next_gaussian())).collect())
            .collect();
        let listed: Vec<String> = mine.iter().map(|p| format!("{}: {}", p.pairs, est(p.gold))).collect();
        let labels: Vec<String> = mine.iter().map(|p| format!("{} pairs", p.pairs)).collect();
        let ranges = labels.iter().map(String::as_str).zip(mine.iter().map(|p| p.trusted.as_ref()));
        out.push(within_trust(match crate::stats::trend(&pairs, &gold, &resampled) {
            Some(t) => check(
                &name,
                t.excludes_zero(true),
                format!(
                    "slope {:+.4} per decade of comparisons, 90% interval [{:+.4}, {:+.4}] (needs > 0); gold by pairs {}",
                    t.slope,
                    t.lo,
                    t.hi,
                    listed.join(", ")
                ),
            ),
            None => check(&name, false, format!("cannot fit a trend to {}", listed.join(", "))),
        }, ranges));
    }
    let at_chance: Vec<String> = points
        .iter()
        .filter(|p| p.val_loss >= ln2 - CHANCE_MARGIN)
        .map(|p| format!("{} on {}", p.rm_size, p.pairs))
        .collect();
    let learnt = points.iter().filter(|p| p.val_loss < ln2 - LEARNT_MARGIN).count();
    let losses: Vec<String> =
        points.iter().map(|p| format!("{} x {}: {:.4}", p.rm_size, p.pairs, p.val_loss)).collect();
    // a threshold: for each RM size, every data size at chance lies below every one that learnt
    let mut sizes: Vec<&str> = points.iter().map(|p| p.rm_size.as_str()).collect();
    sizes.dedup();
    let inverted: Vec<String> = sizes
        .iter()
        .filter_map(|&size| {
            let mine: Vec<&DataPoint> =
                points.iter().filter(|p| p.rm_size == size && p.epochs == 1).collect();
            let chance_max =
                mine.iter().filter(|p| p.val_loss >= ln2 - CHANCE_MARGIN).map(|p| p.pairs).max()?;
            let learnt_min =
                mine.iter().filter(|p| p.val_loss < ln2 - LEARNT_MARGIN).map(|p| p.pairs).min()?;
            (chance_max > learnt_min)
                .then(|| format!("{size} at chance on {chance_max} but learnt on {learnt_min}"))
        })
        .collect();
    out.push(check(
        "F5 data: below a threshold RMs stay at chance",
        !at_chance.is_empty() && learnt > 0 && inverted.is_empty(),
        format!(
            "at chance (val loss >= ln 2 - {CHANCE_MARGIN}): {}; {learnt} below ln 2 - {LEARNT_MARGIN}{}; losses {}",
            if at_chance.is_empty() { "none (the sweep needs smaller data sizes)".into() } else { at_chance.join(", ") },
            if inverted.is_empty() { String::new() } else { format!("; no threshold: {}", inverted.join(", ")) },
            losses.join(", ")
        ),
    ));
    out
}

/// Finding 5, epochs (fig13): one epoch on 4D comparisons beats four epochs on D, judged twice:
/// in validation loss, and in the gold near n = 1000 (by more than [`SIGNIFICANT_SE`] se), each
/// reported. `one_by_4d` and `four_by_d` are the two proxies.
pub fn epochs_checks(one_by_4d: &DataPoint, four_by_d: &DataPoint) -> Vec<Check> {
    let gold = difference(one_by_4d.gold, four_by_d.gold);
    let ranges = [("1 epoch", one_by_4d.trusted.as_ref()), ("more epochs", four_by_d.trusted.as_ref())];
    vec![
        check(
            "F5 epochs: more data beats more epochs, in validation loss",
            one_by_4d.val_loss < four_by_d.val_loss,
            format!(
                "val loss 1 epoch x {} pairs {:.4} vs {} epochs x {} pairs {:.4}",
                one_by_4d.pairs, one_by_4d.val_loss, four_by_d.epochs, four_by_d.pairs, four_by_d.val_loss,
            ),
        ),
        within_trust(check(
            "F5 epochs: more data beats more epochs, in gold",
            significant(gold),
            format!(
                "gold near n = 1000: 1 epoch x {} pairs {} minus {} epochs x {} pairs {}: {} (needs > {SIGNIFICANT_SE} se)",
                one_by_4d.pairs,
                est(one_by_4d.gold),
                four_by_d.epochs,
                four_by_d.pairs,
                est(four_by_d.gold),
                est(gold)
            ),
        ), ranges),
    ]
}

/// One policy of the policy-size sweep, for one method: the gain from optimisation (the curve's
/// maximum minus its start, so each policy is measured from its own samples) and the KL there.
#[derive(Debug, Clone)]
pub struct PolicyPoint {
    pub size: String,
    pub params: u64,
    /// The policy's validation loss (nats per token; `None` when its stage has none).
    pub val_loss: Option<f64>,
    /// The rubric's mean score of its best-of-n pools (its samples before any optimisation).
    pub initial_rubric: Estimate,
    pub gain: Estimate,
    /// KL at the maximum, and whether the maximum is the last measured point (then the peak is
    /// not resolved).
    pub peak_kl: f64,
    pub peak_is_last: bool,
    /// The curve's trusted range (`None`: not measured): the gain is its maximum, read over the
    /// whole curve, so the checks are not applicable unless the range covers it.
    pub trusted: Option<TrustedRange>,
}

/// How much lower (nats per token) the larger policy's validation loss must be for it to count
/// as the better policy that finding 6 is about.
pub const POLICY_LOSS_MARGIN: f64 = 0.02;

/// Why `large` is not clearly the better policy, or `None` when it is: more parameters, a
/// validation loss lower by [`POLICY_LOSS_MARGIN`], and a higher initial rubric score by more than
/// [`SIGNIFICANT_SE`] standard errors.
pub fn not_clearly_better(main: &PolicyPoint, large: &PolicyPoint) -> Option<String> {
    if large.params <= main.params {
        return Some(format!(
            "the swept policy {} ({} params) is not larger than the main one {} ({}): set sweeps.policy_size",
            large.size, large.params, main.size, main.params
        ));
    }
    match (main.val_loss, large.val_loss) {
        (Some(m), Some(l)) if l <= m - POLICY_LOSS_MARGIN => {}
        (m, l) => {
            let show = |x: Option<f64>| x.map_or("unknown".to_string(), |x| format!("{x:.3}"));
            return Some(format!(
                "the larger policy {} is not clearly better: validation loss {} against {}'s {} (needs {POLICY_LOSS_MARGIN} lower): give it more pretraining (sweeps.policy_steps)",
                large.size,
                show(l),
                main.size,
                show(m)
            ));
        }
    }
    let better = difference(large.initial_rubric, main.initial_rubric);
    if !significant(better) {
        return Some(format!(
            "the larger policy {} is not clearly better: initial rubric score {} against {}'s {} (needs higher by > {SIGNIFICANT_SE} se)",
            large.size,
            est(large.initial_rubric),
            main.size,
            est(main.initial_rubric)
        ));
    }
    None
}

/// Finding 6 for one method: the larger policy gains less, and both peak at about the same KL
/// (within a factor [`SAME_KL_RATIO`]). Does not apply unless `large` is clearly the better
/// policy ([`not_clearly_better`]): otherwise the sweep cannot answer.
pub fn policy_checks(method: &str, main: &PolicyPoint, large: &PolicyPoint) -> Vec<Check> {
    let gains = format!("F6 {method}: the larger policy gains less");
    let same = format!("F6 {method}: both policies peak at about the same KL");
    if let Some(why) = not_clearly_better(main, large) {
        return vec![not_applicable(&gains, why.clone()), not_applicable(&same, why)];
    }
    let less = difference(main.gain, large.gain);
    let ranges =
        || [(main.size.as_str(), main.trusted.as_ref()), (large.size.as_str(), large.trusted.as_ref())];
    let mut out = vec![check(
        &gains,
        significant(less),
        format!(
            "gain {} (policy {}) minus {} (policy {}): {} (needs > {SIGNIFICANT_SE} se)",
            est(main.gain),
            main.size,
            est(large.gain),
            large.size,
            est(less)
        ),
    )];
    let ratio = large.peak_kl / main.peak_kl;
    let resolved = !main.peak_is_last && !large.peak_is_last;
    out.push(check(
        &same,
        resolved && ratio.is_finite() && (1.0 / SAME_KL_RATIO..=SAME_KL_RATIO).contains(&ratio),
        format!(
            "KL at the maximum {:.2} (policy {}) and {:.2} (policy {}): ratio {ratio:.2} (needs 1/{SAME_KL_RATIO} .. {SAME_KL_RATIO}{})",
            main.peak_kl,
            main.size,
            large.peak_kl,
            large.size,
            if resolved { "" } else { "; a maximum at the last point is not a resolved peak" }
        ),
    ));
    out.into_iter().map(|c| within_trust(c, ranges())).collect()
}

/// One cell of the KL-penalty sweep: its coefficient, its curve (KL and gold by evaluation, the
/// mean over its trajectories) and each trajectory's own curve.
#[derive(Debug, Clone)]
pub struct PenaltyRun {
    pub coef: f64,
    pub kl: Vec<f64>,
    pub gold: Vec<Estimate>,
    pub trajectories: Vec<crate::records::TrajectoryCurve>,
}

/// How far a penalised cell's trajectories lie above the unpenalised cell's mean gold-vs-KL curve
/// (`free`): per trajectory, the mean over its evaluations after the first, at KL inside `free`'s
/// range, of its gold minus `free`'s at the same KL (se: its points' and `free`'s combined, as
/// if independent); then over trajectories ([`crate::stats::over_runs`]). `None` when no
/// evaluation lies inside `free`'s range.
pub fn frontier_shift(free: &PenaltyRun, run: &PenaltyRun) -> Option<Estimate> {
    let per: Vec<Estimate> = run
        .trajectories
        .iter()
        .filter_map(|t| {
            let diffs: Vec<(f64, f64)> = t
                .kl
                .iter()
                .zip(&t.gold)
                .skip(1)
                .filter_map(|(&kl, g)| {
                    at_first_crossing(&free.kl, &free.gold, kl).map(|f| (g.mean - f.mean, g.se.hypot(f.se)))
                })
                .collect();
            let n = diffs.len() as f64;
            (n > 0.0).then(|| Estimate {
                mean: diffs.iter().map(|d| d.0).sum::<f64>() / n,
                se: diffs.iter().map(|d| d.1).sum::<f64>() / n,
                n: diffs.len(),
            })
        })
        .collect();
    (!per.is_empty()).then(|| crate::stats::over_runs(&per))
}

/// `ys` where `xs` first reaches `x` (linear between points; the larger se of the two), or
/// `None` if it never does.
pub fn at_first_crossing(xs: &[f64], ys: &[Estimate], x: f64) -> Option<Estimate> {
    let i = xs.iter().position(|&v| v >= x)?;
    if i == 0 {
        return Some(ys[0]);
    }
    let t = (x - xs[i - 1]) / (xs[i] - xs[i - 1]);
    let (a, b) = (ys[i - 1], ys[i]);
    Some(Estimate { mean: a.mean + t * (b.mean - a.mean), se: a.se.max(b.se), n: a.n.min(b.n) })
}

/// Finding 7: a KL penalty stops training earlier (the final KL falls as the coefficient grows)
/// and does not move the gold-vs-KL frontier: every penalised cell's whole trajectories lie
/// within [`SIGNIFICANT_SE`] se of the unpenalised cell's mean curve at the same KL
/// ([`frontier_shift`], se over trajectories).
pub fn kl_penalty_checks(runs: &[PenaltyRun]) -> Vec<Check> {
    let stops = "F7 KL penalty: a larger penalty stops at a smaller KL";
    let frontier = "F7 KL penalty: the gold-vs-KL frontier does not move";
    let mut sorted: Vec<&PenaltyRun> = runs.iter().filter(|r| !r.kl.is_empty()).collect();
    sorted.sort_by(|a, b| a.coef.total_cmp(&b.coef));
    let Some(free) = sorted.first().filter(|r| r.coef == 0.0) else {
        let why = "the sweep has no unpenalised run (add 0 to sweeps.kl_penalties)".to_string();
        return vec![not_applicable(stops, why.clone()), not_applicable(frontier, why)];
    };
    if sorted.len() < 2 {
        let why = "the sweep has no penalised run".to_string();
        return vec![not_applicable(stops, why.clone()), not_applicable(frontier, why)];
    }
    let last = |r: &PenaltyRun| *r.kl.last().expect("non-empty");
    let finals: Vec<f64> = sorted.iter().map(|r| last(r)).collect();
    let listed: Vec<String> = sorted.iter().map(|r| format!("{}: {:.2}", r.coef, last(r))).collect();
    let mut out = vec![check(
        stops,
        super::falls_at_every_step(&finals),
        format!("final KL by coefficient {}", listed.join(", ")),
    )];
    let mut ok = true;
    let mut parts = Vec::new();
    for r in &sorted[1..] {
        match frontier_shift(free, r) {
            Some(shift) => {
                ok &= shift.mean.abs() <= SIGNIFICANT_SE * shift.se;
                parts.push(format!("{}: {} over {} trajectories", r.coef, est(shift), r.trajectories.len()));
            }
            None => {
                ok = false;
                parts.push(format!("{}: no evaluation inside the unpenalised run's KL range", r.coef));
            }
        }
    }
    out.push(check(
        frontier,
        ok,
        format!(
            "penalised trajectories' gold minus the unpenalised mean curve at the same KL, averaged over their evaluations: {} (each needs |shift| <= {SIGNIFICANT_SE} se)",
            parts.join("; ")
        ),
    ));
    out
}

/// One proxy size's regressional reading (finding 8): the slope of gold on proxy over
/// initial-policy samples and the ratio alpha_bon(gold) / alpha_bon(proxy), each with a 90%
/// bootstrap interval over prompts.
#[derive(Debug, Clone)]
pub struct RegressionalPoint {
    pub size: String,
    pub slope: f64,
    pub slope_ci: (f64, f64),
    pub alpha_ratio: f64,
    pub alpha_ratio_ci: (f64, f64),
}

impl RegressionalPoint {
    /// The slope and the ratio, each as `value [lo, hi]`.
    pub fn intervals(&self) -> (String, String) {
        let show = |v: f64, (lo, hi): (f64, f64)| format!("{v:.3} [{lo:.3}, {hi:.3}]");
        (show(self.slope, self.slope_ci), show(self.alpha_ratio, self.alpha_ratio_ci))
    }
}

/// Fewest RM sizes whose intervals must overlap for finding 8.
pub const MIN_OVERLAPPING_SIZES: usize = 3;

/// Finding 8: with pure regressional Goodhart the best-of-n gold curve is the proxy curve scaled
/// by the regression slope, so alpha_bon(gold) / alpha_bon(proxy) equals the slope. Holds when
/// the two intervals overlap for at least [`MIN_OVERLAPPING_SIZES`] sizes.
pub fn regressional_check(points: &[RegressionalPoint]) -> Check {
    let name =
        "F8 regressional Goodhart: alpha_bon(gold) / alpha_bon(proxy) matches the slope of gold on proxy";
    if points.len() < MIN_OVERLAPPING_SIZES {
        return not_applicable(
            name,
            format!("{} RM sizes; the check needs {MIN_OVERLAPPING_SIZES}", points.len()),
        );
    }
    let overlap = |a: (f64, f64), b: (f64, f64)| a.0 <= b.1 && b.0 <= a.1;
    let rows: Vec<String> = points
        .iter()
        .map(|p| {
            let (slope, ratio) = p.intervals();
            let apart = if overlap(p.slope_ci, p.alpha_ratio_ci) { "" } else { " (apart)" };
            format!("{} slope {slope} ratio {ratio}{apart}", p.size)
        })
        .collect();
    let n = points.iter().filter(|p| overlap(p.slope_ci, p.alpha_ratio_ci)).count();
    check(
        name,
        n >= MIN_OVERLAPPING_SIZES,
        format!(
            "intervals overlap for {n} of {} sizes (needs {MIN_OVERLAPPING_SIZES}): {}",
            points.len(),
            rows.join("; ")
        ),
    )
}

/// How far, in se, a measured gain may sit from the paper's beta d ln k and still agree with it.
pub const PREDICTION_SE: f64 = 2.0;

/// Finding 9, two checks on the largest k at the same label budget, both read at the same measured
/// sqrt(KL(pi_k || pi_init)) on the one-round run's mean curve: k rounds gain over one round by
/// more than [`SIGNIFICANT_SE`] se, and the gain agrees with the paper's beta d ln k within
/// [`PREDICTION_SE`] se. N/A when the k-round run went past the one-round run, or where the gold
/// is not trusted along what the checks read (`trusted`: each reading's label and its trusted
/// range, the one-round curve's cut at the distance it is read to; [`within_trust`]).
pub fn iterated_checks(
    k: usize,
    gain: crate::records::Gain,
    trusted: &[(String, Option<TrustedRange>)],
) -> Vec<Check> {
    let gated = |c: Check| within_trust(c, trusted.iter().map(|(l, t)| (l.as_str(), t.as_ref())));
    let name = "F9 iterated RLHF: k rounds beat one round at the same measured distance and label budget";
    let size = "F9 iterated RLHF: the gain is the paper's beta d ln k";
    if k < 2 {
        let why = "no run with more than one round (sweeps.iterated_rounds)";
        return vec![not_applicable(name, why.into()), not_applicable(size, why.into())];
    }
    let Some(g) = gain.at_measured else {
        let why = format!(
            "k = {k} ended beyond the one-round run's largest measured sqrt KL to pi_init: no one-round gold to compare at"
        );
        return vec![not_applicable(name, why.clone()), not_applicable(size, why)];
    };
    let on_sum = gain.at_sum.map_or("past the one-round run".into(), est);
    let off = (g.mean - gain.predicted).abs();
    // the gain's and the prediction's uncertainty (beta's, over the one-round fit's resamples)
    let apart_se = g.se.hypot(gain.predicted_se);
    [
        check(
            name,
            significant(g),
            format!(
                "k = {k}: gain at the same measured sqrt KL {} (needs > {SIGNIFICANT_SE} se); at the same sum of round distances {on_sum}",
                est(g)
            ),
        ),
        check(
            size,
            apart_se > 0.0 && off <= PREDICTION_SE * apart_se,
            format!(
                "k = {k}: measured gain {} against predicted {:+.3} (se {:.3}, from beta's): {:.1} se apart (agrees within {PREDICTION_SE} se of both)",
                est(g),
                gain.predicted,
                gain.predicted_se,
                if apart_se > 0.0 { off / apart_se } else { f64::INFINITY }
            ),
        ),
    ]
    .into_iter()
    .map(gated)
    .collect()
}

/// Finding 2, extrapolation: fitted on the small-d half, each accepted form predicts the large-d
/// half at least as well as the rejected form, on a majority of the curves. `errors` holds
/// (curve, RMSE of the accepted form, RMSE of the rejected form).
pub fn extrapolation_check(
    method: &str,
    accepted: &str,
    rejected: &str,
    errors: &[(String, f64, f64)],
) -> Check {
    let name = format!("F2 {method} extrapolation: {accepted} predicts large d better than {rejected}");
    if errors.is_empty() {
        return not_applicable(&name, "no curve had points beyond the fitted range to predict".into());
    }
    let wins = errors.iter().filter(|(_, a, r)| a <= r).count();
    let rows: Vec<String> = errors.iter().map(|(c, a, r)| format!("{c}: {a:.3} vs {r:.3}")).collect();
    check(
        &name,
        2 * wins > errors.len(),
        format!(
            "RMSE beyond the cut, accepted vs rejected: {} ({wins} of {} curves)",
            rows.join(", "),
            errors.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(mean: f64, se: f64) -> Estimate {
        Estimate { mean, se, n: 100 }
    }

    fn dp(size: &str, pairs: usize, epochs: usize, val_loss: f64, gold: f64) -> DataPoint {
        DataPoint { rm_size: size.into(), pairs, epochs, val_loss, gold: e(gold, 0.05), trusted: None }
    }

    #[test]
    fn more_data_must_mean_more_gold_and_the_sweep_must_reach_chance() {
        let good =
            [dp("p3k", 100, 1, 0.69, 0.0), dp("p3k", 1_000, 1, 0.55, 0.2), dp("p3k", 10_000, 1, 0.40, 0.5)];
        let c = data_checks(&good);
        assert!(c.iter().all(|c| c.passed), "{c:?}");
        // counter-examples: the gold does not rise above chance; no proxy at chance
        let flat =
            [dp("p3k", 100, 1, 0.69, 0.3), dp("p3k", 1_000, 1, 0.55, 0.31), dp("p3k", 10_000, 1, 0.40, 0.32)];
        assert!(data_checks(&flat)[0].fails());
        // the round-2 sweep's shape: the least data at chance and the rest flat passes no longer
        let chance_only =
            [dp("p3k", 100, 1, 0.693, -0.5), dp("p3k", 1_000, 1, 0.55, 0.3), dp("p3k", 10_000, 1, 0.40, 0.3)];
        assert!(data_checks(&chance_only)[0].fails(), "{:?}", data_checks(&chance_only));
        // one size above chance is too few for a trend
        assert!(!data_checks(&[dp("p3k", 100, 1, 0.69, 0.0), dp("p3k", 10_000, 1, 0.40, 0.5)])[0].applies);
        let never_chance = [dp("p3k", 100, 1, 0.60, 0.0), dp("p3k", 10_000, 1, 0.40, 0.5)];
        assert!(data_checks(&never_chance)[1].fails());
        let never_learns = [dp("p3k", 100, 1, 0.693, 0.0), dp("p3k", 10_000, 1, 0.69, 0.5)];
        assert!(data_checks(&never_learns)[1].fails());
        // chance above the data that learnt is no threshold
        let inverted =
            [dp("p3k", 100, 1, 0.40, 0.0), dp("p3k", 1_000, 1, 0.55, 0.2), dp("p3k", 10_000, 1, 0.693, 0.5)];
        let c = data_checks(&inverted);
        assert!(c[1].fails() && c[1].detail.contains("no threshold"), "{c:?}");
    }

    #[test]
    fn more_epochs_winning_fails_the_epochs_check() {
        assert!(epochs_checks(&dp("p3k", 400, 1, 0.50, 0.3), &dp("p3k", 100, 4, 0.60, 0.1))
            .iter()
            .all(|c| c.passed));
        let loss = epochs_checks(&dp("p3k", 400, 1, 0.60, 0.3), &dp("p3k", 100, 4, 0.50, 0.1));
        assert!(loss[0].fails() && loss[1].passed);
        // counter-example: lower loss, but the gold went the other way
        let gold = epochs_checks(&dp("p3k", 400, 1, 0.50, 0.1), &dp("p3k", 100, 4, 0.60, 0.3));
        assert!(gold[0].passed && gold[1].fails());
        // a gold read beyond its trusted range: the gold check is N/A, the loss check still read
        let at = |mean: f64| Estimate { mean, se: 0.02, n: 40 };
        let d = [0.0, 1.0, 2.0];
        let parted =
            crate::stats::order_trusted_range(&d, &[0.0, 1.0, 2.0].map(at), &[0.0, 1.0, -1.0].map(at));
        let (mut one, four) = (dp("p3k", 400, 1, 0.50, 0.3), dp("p3k", 100, 4, 0.60, 0.1));
        one.trusted = parted.map(|t| t.read_to(2.0));
        let beyond = epochs_checks(&one, &four);
        assert!(beyond[0].passed && !beyond[1].applies, "{beyond:?}");
        // ... and read at a point inside it, it applies
        one.trusted = parted.map(|t| t.read_to(1.0));
        assert!(epochs_checks(&one, &four)[1].passed);
    }

    /// A policy whose loss and initial rubric score improve with its size.
    fn pp(size: &str, params: u64, gain: f64, peak_kl: f64) -> PolicyPoint {
        PolicyPoint {
            size: size.into(),
            params,
            val_loss: Some(1.5 - params as f64 / 1e7),
            initial_rubric: e(params as f64 / 1e6, 0.01),
            gain: e(gain, 0.05),
            peak_kl,
            peak_is_last: false,
            trusted: None,
        }
    }

    #[test]
    fn a_larger_policy_that_is_not_better_cannot_answer_finding_6() {
        let main = pp("p300k", 300_000, 0.8, 4.0);
        assert!(not_clearly_better(&main, &pp("p1m", 1_000_000, 0.4, 5.0)).is_none());
        // counter-examples: the round-2 pair (validation loss 1.363 against 1.373), and a larger
        // policy whose samples the rubric does not score higher
        let close = PolicyPoint { val_loss: Some(1.363), ..pp("p1m", 1_000_000, 0.4, 5.0) };
        let main_close = PolicyPoint { val_loss: Some(1.373), ..main.clone() };
        let c = policy_checks("bon", &main_close, &close);
        assert!(c.iter().all(|c| !c.applies) && c[0].detail.contains("not clearly better"), "{c:?}");
        let mut same_rubric = pp("p1m", 1_000_000, 0.4, 5.0);
        same_rubric.initial_rubric = main.initial_rubric;
        assert!(not_clearly_better(&main, &same_rubric).is_some_and(|w| w.contains("rubric")));
    }

    #[test]
    fn a_larger_policy_must_gain_less_and_peak_at_a_similar_kl() {
        let c = policy_checks("bon", &pp("p300k", 300_000, 0.8, 4.0), &pp("p1m", 1_000_000, 0.4, 5.0));
        assert!(c.iter().all(|c| c.passed), "{c:?}");
        // the same, the larger policy's curve read beyond the gold's trusted range: N/A
        let at = |mean: f64| Estimate { mean, se: 0.02, n: 40 };
        let d = [0.0, 1.0, 2.0];
        let mut large = pp("p1m", 1_000_000, 0.4, 5.0);
        large.trusted =
            crate::stats::order_trusted_range(&d, &[0.0, 1.0, 2.0].map(at), &[0.0, 1.0, -1.0].map(at));
        let c = policy_checks("bon", &pp("p300k", 300_000, 0.8, 4.0), &large);
        assert!(c.iter().all(|c| !c.applies && c.detail.contains("p1m")), "{c:?}");
        let more = policy_checks("bon", &pp("p300k", 300_000, 0.4, 4.0), &pp("p1m", 1_000_000, 0.8, 5.0));
        assert!(more[0].fails(), "the larger policy gaining more is a counter-example");
        let far = policy_checks("bon", &pp("p300k", 300_000, 0.8, 1.0), &pp("p1m", 1_000_000, 0.4, 5.0));
        assert!(far[1].fails(), "peaks 5x apart");
        let mut unresolved = pp("p1m", 1_000_000, 0.4, 5.0);
        unresolved.peak_is_last = true;
        assert!(policy_checks("bon", &pp("p300k", 300_000, 0.8, 4.0), &unresolved)[1].fails());
        let smaller = policy_checks("bon", &pp("p300k", 300_000, 0.8, 4.0), &pp("p100k", 100_000, 0.4, 4.0));
        assert!(smaller.iter().all(|c| !c.applies && !c.fails()), "a smaller policy makes it not apply");
    }

    fn run(coef: f64, kl: &[f64], gold: &[f64]) -> PenaltyRun {
        runs(coef, kl, &[gold.to_vec()])
    }

    /// A cell of several trajectories on one KL schedule, its curve their mean.
    fn runs(coef: f64, kl: &[f64], golds: &[Vec<f64>]) -> PenaltyRun {
        let trajectories: Vec<crate::records::TrajectoryCurve> = golds
            .iter()
            .map(|g| crate::records::TrajectoryCurve {
                kl: kl.to_vec(),
                gold: g.iter().map(|&g| e(g, 0.05)).collect(),
            })
            .collect();
        let gold = (0..kl.len())
            .map(|k| crate::stats::over_runs(&trajectories.iter().map(|t| t.gold[k]).collect::<Vec<_>>()))
            .collect();
        PenaltyRun { coef, kl: kl.to_vec(), gold, trajectories }
    }

    #[test]
    fn the_frontier_is_read_along_whole_trajectories() {
        let free = run(0.0, &[0.0, 1.0, 4.0, 9.0], &[0.0, 0.5, 0.8, 0.6]);
        // three trajectories along the frontier, with some spread
        let along =
            runs(0.5, &[0.0, 1.0, 2.0], &[vec![0.0, 0.55, 0.6], vec![0.0, 0.45, 0.7], vec![0.0, 0.5, 0.65]]);
        assert!(frontier_shift(&free, &along).is_some_and(|s| s.mean.abs() <= 2.0 * s.se));
        assert!(kl_penalty_checks(&[free.clone(), along])[1].passed);
        // counter-example: every trajectory above the frontier along its whole length, though the
        // last point alone (0.7 against 0.65) is within noise
        let above =
            runs(0.5, &[0.0, 1.0, 2.0], &[vec![0.0, 0.9, 0.7], vec![0.0, 0.95, 0.7], vec![0.0, 0.85, 0.7]]);
        assert!(kl_penalty_checks(&[free.clone(), above])[1].fails());
        // a cell entirely past the unpenalised run's range cannot be compared
        let past = run(0.5, &[0.0, 10.0, 12.0], &[0.0, 0.5, 0.5]);
        assert!(frontier_shift(&free, &past).is_none());
    }

    #[test]
    fn a_penalty_must_stop_earlier_on_the_same_frontier() {
        let free = run(0.0, &[0.0, 1.0, 4.0, 9.0], &[0.0, 0.5, 0.8, 0.6]);
        let on_frontier = run(0.5, &[0.0, 1.0, 2.0], &[0.0, 0.5, 0.65]);
        let c = kl_penalty_checks(&[free.clone(), on_frontier.clone()]);
        assert!(c.iter().all(|c| c.passed), "{c:?}");
        // counter-examples: the penalised run goes further; it ends above the frontier
        let further = run(0.5, &[0.0, 2.0, 10.0], &[0.0, 0.6, 0.6]);
        assert!(kl_penalty_checks(&[free.clone(), further])[0].fails());
        let above = run(0.5, &[0.0, 1.0, 2.0], &[0.0, 0.5, 1.2]);
        assert!(kl_penalty_checks(&[free.clone(), above])[1].fails());
        assert!(!kl_penalty_checks(&[on_frontier])[0].applies, "no unpenalised run");
        assert_eq!(at_first_crossing(&free.kl, &free.gold, 2.5).map(|g| g.mean), Some(0.65));
    }

    fn rp(slope: (f64, f64), ratio: (f64, f64)) -> RegressionalPoint {
        RegressionalPoint {
            size: "p".into(),
            slope: (slope.0 + slope.1) / 2.0,
            slope_ci: slope,
            alpha_ratio: (ratio.0 + ratio.1) / 2.0,
            alpha_ratio_ci: ratio,
        }
    }

    #[test]
    fn regressional_goodhart_needs_three_overlapping_sizes() {
        let close = rp((0.5, 0.7), (0.6, 0.9));
        let apart = rp((0.5, 0.6), (0.8, 0.9));
        assert!(regressional_check(&[close.clone(), close.clone(), close.clone()]).passed);
        assert!(regressional_check(&[close.clone(), close.clone(), apart.clone()]).fails());
        assert!(!regressional_check(&[close.clone(), close]).applies);
    }

    #[test]
    fn iterated_rlhf_must_gain_beyond_its_noise_and_by_the_predicted_amount() {
        use crate::records::Gain;
        let g = |at_measured: Option<Estimate>, predicted: f64| Gain {
            at_measured,
            at_sum: None,
            predicted,
            predicted_se: 0.0,
        };
        let passed = |c: Vec<Check>| c.iter().map(|c| c.passed).collect::<Vec<_>>();
        assert_eq!(passed(iterated_checks(4, g(Some(e(0.5, 0.1)), 0.6), &[])), [true, true]);
        // counter-examples: within noise; a gain far from beta d ln k; a loss
        assert_eq!(passed(iterated_checks(4, g(Some(e(0.1, 0.1)), 0.1), &[])), [false, true]);
        assert_eq!(passed(iterated_checks(4, g(Some(e(0.5, 0.1)), 1.5), &[])), [true, false]);
        // the same distance from a prediction whose beta is uncertain: within both errors
        let uncertain = Gain { predicted_se: 0.5, ..g(Some(e(0.5, 0.1)), 1.5) };
        assert_eq!(passed(iterated_checks(4, uncertain, &[])), [true, true]);
        assert!(iterated_checks(4, g(Some(e(-0.5, 0.1)), 0.6), &[]).iter().all(|c| c.fails()));
        // beyond the one-round run, or one round only: nothing to compare
        assert!(iterated_checks(4, g(None, 0.6), &[]).iter().all(|c| !c.applies));
        assert!(iterated_checks(1, g(None, 0.6), &[]).iter().all(|c| !c.applies));
        // a gain that passes, read where the gold is not trusted: N/A, the measurement shown
        let at = |mean: f64| Estimate { mean, se: 0.05, n: 40 };
        let d = [0.0, 1.0, 2.0];
        let parted =
            crate::stats::order_trusted_range(&d, &[0.0, 1.0, 2.0].map(at), &[0.0, 1.0, -1.0].map(at));
        let held = crate::stats::order_trusted_range(&d, &[0.0, 1.0, 2.0].map(at), &[0.0, 1.0, 1.5].map(at));
        let gate = |t| [("k rounds".to_string(), t)];
        let beyond = iterated_checks(4, g(Some(e(0.5, 0.1)), 0.6), &gate(parted));
        assert!(beyond.iter().all(|c| !c.applies && c.detail.contains("gain")), "{beyond:?}");
        assert_eq!(passed(iterated_checks(4, g(Some(e(0.5, 0.1)), 0.6), &gate(held))), [true, true]);
    }

    #[test]
    fn the_rejected_form_winning_fails_extrapolation() {
        let won = [("a".to_string(), 0.1, 0.2), ("b".to_string(), 0.1, 0.3), ("c".to_string(), 0.4, 0.3)];
        assert!(extrapolation_check("rl", "Rl", "RlLog1p", &won).passed);
        let lost = [("a".to_string(), 0.3, 0.2), ("b".to_string(), 0.1, 0.3), ("c".to_string(), 0.4, 0.3)];
        assert!(extrapolation_check("rl", "Rl", "RlLog1p", &lost).fails());
        assert!(!extrapolation_check("rl", "Rl", "RlLog1p", &[]).applies);
    }
}
