//! The checks of the direct-alignment claim (Rafailov et al. 2024): DPO and IPO overoptimise
//! too, the gold rising and then falling as KL grows; and whether the paper's forms fit their
//! curves.

use goodhart_core::Estimate;
use serde::{Deserialize, Serialize};

use super::{check, not_applicable, within_trust, Check};
use crate::stats::{split_half_fall, SplitFall, TrustedRange, SIGNIFICANT_SE};

/// R^2 from which a fitted form counts as fitting (as for figure 1's RL fit).
pub const FITS_R2: f64 = 0.8;

/// The rise and the fall of one run's gold, each measured on prompts that did not choose the
/// peak: the peak is picked on the even-numbered evaluation prompts, the rise (peak minus the
/// first evaluation) and the fall (peak minus the last) are paired differences on the odd ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiseAndFall {
    pub rise: Estimate,
    pub fall: SplitFall,
}

impl RiseAndFall {
    /// From a row-major `[prompt, evaluation]` table of gold scores (at least two prompts).
    pub fn of(per_prompt: &[f64], cols: usize) -> Self {
        let fall = split_half_fall(per_prompt, cols);
        let prompts = per_prompt.len() / cols;
        let rise = Estimate::from_iterator(
            (1..prompts).step_by(2).map(|p| per_prompt[p * cols + fall.peak] - per_prompt[p * cols]),
        );
        RiseAndFall { rise, fall }
    }

    /// Over `R` runs of one cell (each a `[prompt, evaluation]` table over the same prompts):
    /// the peak chosen on the even prompts of their mean curve, each run's rise and fall measured
    /// on its odd prompts, and combined with the spread between runs
    /// ([`crate::stats::over_runs`], [`crate::stats::fall_over_runs`]).
    pub fn over_runs(tables: &[Vec<f64>], cols: usize) -> Self {
        if tables.len() == 1 {
            return Self::of(&tables[0], cols);
        }
        let fall = crate::stats::fall_over_runs(tables, cols);
        let rises: Vec<Estimate> = tables
            .iter()
            .map(|t| {
                let prompts = t.len() / cols;
                Estimate::from_iterator(
                    (1..prompts).step_by(2).map(|p| t[p * cols + fall.peak] - t[p * cols]),
                )
            })
            .collect();
        RiseAndFall { rise: crate::stats::over_runs(&rises), fall }
    }

    pub fn rises(&self) -> bool {
        self.rise.mean > SIGNIFICANT_SE * self.rise.se
    }
}

/// One run of the sweep, as the checks see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaaRun {
    /// `dpo` or `ipo`.
    pub loss: String,
    pub beta: f64,
    pub shape: RiseAndFall,
    /// R^2 of `d (alpha - beta ln d)` and of `d (alpha - beta d)` fitted to the gold (NaN where
    /// the fit failed).
    pub r2_rl: f64,
    pub r2_bon: f64,
    /// How far along the run's curve (the mean over its trajectories) the gold orders its points
    /// as the rubric does (`None` without rubric scores): a check that reads the curve beyond it
    /// is not applicable.
    #[serde(default)]
    pub trusted: Option<TrustedRange>,
}

/// Per run: the gold rises and then falls (each by more than [`SIGNIFICANT_SE`] standard errors,
/// on prompts that did not pick the peak); per loss, at least one beta shows both; and whether
/// either of the paper's forms fits (R^2 >= [`FITS_R2`]). Each check reads whole curves: it is
/// not applicable where one of them goes beyond the gold's trusted range ([`within_trust`]).
pub fn daa_checks(runs: &[DaaRun]) -> Vec<Check> {
    let label = |r: &DaaRun| format!("{} beta {}", r.loss, r.beta);
    let labels: Vec<String> = runs.iter().map(label).collect();
    let ranges = |of: &dyn Fn(&DaaRun) -> bool| -> Vec<(String, Option<TrustedRange>)> {
        runs.iter().zip(&labels).filter(|(r, _)| of(r)).map(|(r, l)| (l.clone(), r.trusted)).collect()
    };
    let gated = |c: Check, ranges: &[(String, Option<TrustedRange>)]| {
        within_trust(c, ranges.iter().map(|(l, t)| (l.as_str(), t.as_ref())))
    };
    let mut out = Vec::new();
    for r in runs {
        let s = &r.shape;
        let mine = ranges(&|o: &DaaRun| std::ptr::eq(o, r));
        let check = |name: &str, passed: bool, detail: String| gated(check(name, passed, detail), &mine);
        out.push(check(
            &format!("dpo {} beta {}: the gold rises, then falls", r.loss, r.beta),
            s.rises() && s.fall.falls,
            format!(
                "rise to the peak {:+.3} (se {:.3}), fall from it to the end {:+.3} (se {:.3}), peak at evaluation {}; each needs > {SIGNIFICANT_SE} se",
                s.rise.mean, s.rise.se, s.fall.amount.mean, s.fall.amount.se, s.fall.peak
            ),
        ));
        out.push(gated(
            super::rise_resolved(
                &format!("dpo {} beta {}", r.loss, r.beta),
                s.fall.peak,
                &format!("evaluation {}", s.fall.peak),
            ),
            &mine,
        ));
        let best = r.r2_rl.max(r.r2_bon);
        out.push(check(
            &format!("dpo {} beta {}: one of the paper's forms fits the gold", r.loss, r.beta),
            best >= FITS_R2,
            format!(
                "R^2 of d(alpha - beta ln d) {:.3}, of d(alpha - beta d) {:.3}; needs >= {FITS_R2}",
                r.r2_rl, r.r2_bon
            ),
        ));
    }
    let mut losses: Vec<&str> = runs.iter().map(|r| r.loss.as_str()).collect();
    losses.dedup();
    for loss in losses {
        let name = format!("dpo {loss}: some beta overoptimises (rise and fall)");
        let mine: Vec<&DaaRun> = runs.iter().filter(|r| r.loss == loss).collect();
        if mine.is_empty() {
            out.push(not_applicable(&name, "no runs".into()));
            continue;
        }
        let of_loss = ranges(&|o: &DaaRun| o.loss == loss);
        let shown: Vec<String> = mine
            .iter()
            .filter(|r| r.shape.rises() && r.shape.fall.falls)
            .map(|r| r.beta.to_string())
            .collect();
        out.push(gated(
            check(
                &name,
                !shown.is_empty(),
                format!(
                    "{} of {} betas rise and fall{}",
                    shown.len(),
                    mine.len(),
                    if shown.is_empty() { String::new() } else { format!(": {}", shown.join(", ")) }
                ),
            ),
            &of_loss,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_that_disagree_do_not_rise_and_fall_together() {
        let mut rng = goodhart_core::SplitMix64::new(2);
        let mut table = |curve: &[f64]| -> Vec<f64> {
            (0..128)
                .flat_map(|_| curve.iter().map(|c| c + 0.05 * rng.next_gaussian()).collect::<Vec<_>>())
                .collect()
        };
        let agree: Vec<Vec<f64>> = (0..3).map(|_| table(&[0.0, 1.0, 0.2])).collect();
        let shape = RiseAndFall::over_runs(&agree, 3);
        assert!(shape.rises() && shape.fall.falls, "{shape:?}");
        // counter-example: each run alone rises and falls, by amounts that disagree widely
        let apart: Vec<Vec<f64>> =
            [[0.0, 0.1, 0.05], [0.0, 1.0, -1.0], [0.0, 3.0, 2.9]].iter().map(|c| table(c)).collect();
        for t in &apart {
            let alone = RiseAndFall::of(t, 3);
            assert!(alone.rises() && alone.fall.falls, "{alone:?}");
        }
        let shape = RiseAndFall::over_runs(&apart, 3);
        assert!(!(shape.rises() && shape.fall.falls), "{shape:?}");
        assert_eq!(RiseAndFall::over_runs(&apart[..1], 3), RiseAndFall::of(&apart[0], 3));
    }
    /// `[prompt, evaluation]` tables: every prompt follows `curve` plus its own offset and a
    /// little alternating noise.
    fn table(curve: &[f64], prompts: usize) -> Vec<f64> {
        (0..prompts)
            .flat_map(|p| {
                let offset = (p % 7) as f64 * 0.1;
                curve
                    .iter()
                    .enumerate()
                    .map(move |(j, c)| c + offset + if (p + j) % 2 == 0 { 0.01 } else { -0.01 })
            })
            .collect()
    }

    fn run(curve: &[f64], r2: f64) -> DaaRun {
        DaaRun {
            loss: "dpo".into(),
            beta: 0.1,
            shape: RiseAndFall::of(&table(curve, 40), curve.len()),
            r2_rl: r2,
            r2_bon: 0.2,
            trusted: None,
        }
    }

    #[test]
    fn a_rise_and_fall_passes() {
        // nine evaluations before the peak, then a fall: the rise is resolved
        let curve = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.6, 0.3];
        let checks = daa_checks(&[run(&curve, 0.9)]);
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
    }

    #[test]
    fn a_curve_that_only_rises_or_only_falls_fails() {
        let rising = daa_checks(&[run(&[0.0, 0.3, 0.6, 0.9, 1.2], 0.9)]);
        assert!(rising[0].fails(), "{}", rising[0]);
        assert!(rising[3].fails(), "no beta overoptimises: {}", rising[3]);
        let falling = daa_checks(&[run(&[1.0, 0.8, 0.5, 0.2, 0.0], 0.9)]);
        assert!(falling[0].fails(), "{}", falling[0]);
    }

    #[test]
    fn a_poor_fit_fails_the_form_check() {
        let checks = daa_checks(&[run(&[0.0, 0.5, 1.0, 0.6, 0.2], 0.5)]);
        assert!(checks[2].fails(), "{}", checks[2]);
        assert!(checks[0].passed);
    }

    #[test]
    fn a_run_read_beyond_the_golds_trusted_range_is_not_applicable() {
        let at = |mean: f64| Estimate { mean, se: 0.05, n: 40 };
        let d = [0.0, 1.0, 2.0, 3.0, 4.0];
        let gold = [0.0, 0.5, 1.0, 0.6, 0.2].map(at);
        // the rubric falls from the second point while the gold still climbs
        let parted = crate::stats::order_trusted_range(&d, &gold, &[0.0, 0.5, 0.1, -0.5, -1.0].map(at));
        let together = crate::stats::order_trusted_range(&d, &gold, &[0.0, 0.4, 0.9, 0.5, 0.1].map(at));
        let mut beyond = run(&[0.0, 0.5, 1.0, 0.6, 0.2], 0.9);
        beyond.trusted = parted;
        let checks = daa_checks(&[beyond.clone()]);
        assert!(checks.iter().all(|c| !c.applies), "{checks:?}");
        assert!(checks[0].detail.contains("trusted range"), "{}", checks[0]);
        beyond.trusted = together;
        let checks = daa_checks(&[beyond.clone()]);
        let resolved = |c: &&Check| c.name.contains("rise is resolved");
        assert!(checks.iter().filter(|c| !resolved(c)).all(|c| c.applies && c.passed), "{checks:?}");
        // a peak at the third of five evaluations: the rise is not resolved (8 asked)
        assert!(checks.iter().find(resolved).is_some_and(Check::fails), "{checks:?}");
        // a loss-level check reads every beta of the loss: one untrusted beta makes it N/A
        let mut other = beyond.clone();
        other.beta = 0.5;
        other.trusted = parted;
        let checks = daa_checks(&[beyond, other]);
        assert!(checks[0].applies && !checks[3].applies);
        assert!(!checks.last().unwrap().applies, "{}", checks.last().unwrap());
    }
}
