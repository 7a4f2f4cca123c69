//! The checks of the kl-placement target (beyond the paper): where a KL penalty goes (k1 in the
//! reward as PPO does, k2 or k3 as a loss as GRPO does, k3 weighted by the ratio) and whether a
//! critic-free optimiser (GRPO) follows PPO. Each cell's frontier is read against a reference
//! cell's mean gold-vs-KL curve over its whole trajectories ([`frontier_shift`], se over
//! trajectories), so cells are compared at the same KL, whatever KL each stops at.
//!
//! On-policy, k1 in the reward, k2 as a loss and the weighted k3 follow the gradient of KL(pi ||
//! pi_init) and k3 as a loss that of the reverse KL (`goodhart_kl::placement_gradient`): the
//! unbiased placements are predicted to share k1's frontier; k3 as a loss is measured, with no
//! prediction of its direction, so it gets no verdict.

use super::sweeps::{frontier_shift, PenaltyRun};
use super::{check, not_applicable, within_trust, Check};
use crate::stats::{TrustedRange, SIGNIFICANT_SE};

/// One cell: a placement under an optimiser, at the target's coefficient.
#[derive(Debug, Clone)]
pub struct PlacementCell {
    /// `ppo` or `grpo`.
    pub optimiser: String,
    /// `none` (no penalty), `k1_in_reward`, `k2_as_loss`, `k3_as_loss`, `k3_importance_weighted`.
    pub placement: String,
    pub run: PenaltyRun,
    /// How far along the cell's mean curve the gold orders its points as the rubric does
    /// (`None`: not measured): a check that reads the cell is N/A unless it covers the curve.
    pub trusted: Option<TrustedRange>,
}

impl PlacementCell {
    fn is(&self, optimiser: &str, placement: &str) -> bool {
        self.optimiser == optimiser && self.placement == placement
    }

    /// How it reads in a report: "PPO, k2 as a loss".
    pub fn label(&self) -> String {
        format!("{}, {}", self.optimiser.to_uppercase(), self.placement.replace('_', " "))
    }
}

/// The checks, each a pair of cells: (name, the cell, its reference, whether it is a verdict).
const PAIRS: [(&str, (&str, &str), (&str, &str), bool); 5] = [
    (
        "kl-placement: k2 as a loss keeps k1-in-the-reward's frontier (both unbiased)",
        ("ppo", "k2_as_loss"),
        ("ppo", "k1_in_reward"),
        true,
    ),
    (
        "kl-placement: ratio-weighted k3 as a loss keeps k1-in-the-reward's frontier (both unbiased)",
        ("ppo", "k3_importance_weighted"),
        ("ppo", "k1_in_reward"),
        true,
    ),
    (
        "kl-placement: GRPO (no critic) keeps PPO's frontier, k1 in the reward",
        ("grpo", "k1_in_reward"),
        ("ppo", "k1_in_reward"),
        true,
    ),
    (
        "kl-placement: k3 as a loss (biased) against k1 in the reward, PPO (a measurement, no verdict)",
        ("ppo", "k3_as_loss"),
        ("ppo", "k1_in_reward"),
        false,
    ),
    (
        "kl-placement: GRPO, k3 as a loss against k1 in the reward (a measurement, no verdict)",
        ("grpo", "k3_as_loss"),
        ("grpo", "k1_in_reward"),
        false,
    ),
];

/// Every check of the target: a verdict passes when the cell's trajectories lie within
/// [`SIGNIFICANT_SE`] se of the reference's mean curve at the same KL (averaged over the
/// evaluations after the first inside the reference's KL range); it is N/A when either cell is
/// missing, no evaluation lies inside that range, or either cell's curve leaves the gold's trusted
/// range (only the two cells it reads gate it). The measurements are never verdicts.
pub fn placement_checks(cells: &[PlacementCell]) -> Vec<Check> {
    let find = |(o, p): (&str, &str)| cells.iter().find(|c| c.is(o, p));
    PAIRS
        .iter()
        .map(|&(name, cell, reference, verdict)| {
            let (Some(c), Some(r)) = (find(cell), find(reference)) else {
                return not_applicable(name, format!("the target has no {} or no {} cell", cell.1, reference.1));
            };
            let Some(shift) = frontier_shift(&r.run, &c.run) else {
                return not_applicable(
                    name,
                    format!("no evaluation of {} lies inside {}'s KL range", c.label(), r.label()),
                );
            };
            let detail = format!(
                "{} minus {}'s mean curve at the same KL: {:+.3} (se {:.3}) over {} trajectories, KL reached {:.2} against {:.2}",
                c.label(),
                r.label(),
                shift.mean,
                shift.se,
                c.run.trajectories.len(),
                c.run.kl.last().copied().unwrap_or(f64::NAN),
                r.run.kl.last().copied().unwrap_or(f64::NAN),
            );
            if !verdict {
                return not_applicable(name, detail);
            }
            let (cl, rl) = (c.label(), r.label());
            let ranges = [(cl.as_str(), c.trusted.as_ref()), (rl.as_str(), r.trusted.as_ref())];
            within_trust(check(name, shift.mean.abs() <= SIGNIFICANT_SE * shift.se, detail), ranges)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use goodhart_core::Estimate;

    use super::*;
    use crate::records::TrajectoryCurve;

    fn cell(optimiser: &str, placement: &str, kl: &[f64], golds: &[Vec<f64>]) -> PlacementCell {
        let e = |g: f64| Estimate { mean: g, se: 0.05, n: 100 };
        let trajectories: Vec<TrajectoryCurve> = golds
            .iter()
            .map(|g| TrajectoryCurve { kl: kl.to_vec(), gold: g.iter().map(|&g| e(g)).collect() })
            .collect();
        let gold =
            (0..kl.len()).map(|k| e(golds.iter().map(|g| g[k]).sum::<f64>() / golds.len() as f64)).collect();
        PlacementCell {
            optimiser: optimiser.into(),
            placement: placement.into(),
            run: PenaltyRun { coef: 0.1, kl: kl.to_vec(), gold, trajectories },
            trusted: None,
        }
    }

    fn along(optimiser: &str, placement: &str) -> PlacementCell {
        cell(
            optimiser,
            placement,
            &[0.0, 1.0, 2.0],
            &[vec![0.0, 0.55, 0.6], vec![0.0, 0.45, 0.7], vec![0.0, 0.5, 0.65]],
        )
    }

    #[test]
    fn placements_on_one_frontier_pass_and_one_above_it_fails() {
        let reference = cell("ppo", "k1_in_reward", &[0.0, 1.0, 4.0, 9.0], &[vec![0.0, 0.5, 0.8, 0.6]]);
        let on = [reference.clone(), along("ppo", "k2_as_loss"), along("ppo", "k3_importance_weighted")];
        let c = placement_checks(&on);
        assert!(c[0].passed && c[1].passed, "{c:?}");
        // counter-example: k2's trajectories above the frontier along their whole length
        let above = cell(
            "ppo",
            "k2_as_loss",
            &[0.0, 1.0, 2.0],
            &[vec![0.0, 0.9, 0.9], vec![0.0, 0.95, 0.9], vec![0.0, 0.85, 0.95]],
        );
        let c = placement_checks(&[reference.clone(), above]);
        assert!(c[0].fails(), "{c:?}");
        // GRPO with no PPO cell to compare: N/A, not passed
        let c = placement_checks(&[along("grpo", "k1_in_reward")]);
        assert!(c.iter().all(|c| !c.applies), "{c:?}");
        // a cell no check reads (the unpenalised run) leaving the trusted range gates nothing
        let at = |mean: f64| Estimate { mean, se: 0.05, n: 40 };
        let parted = crate::stats::order_trusted_range(
            &[0.0, 1.0, 2.0],
            &[0.0, 1.0, 2.0].map(at),
            &[0.0, 1.0, -1.0].map(at),
        );
        let mut free = along("ppo", "none");
        free.trusted = parted;
        let mut untrusted_k2 = along("ppo", "k2_as_loss");
        untrusted_k2.trusted = parted;
        let c = placement_checks(&[free, reference.clone(), along("ppo", "k2_as_loss")]);
        assert!(c[0].passed, "{c:?}");
        // ... while the cell a check reads does
        let c = placement_checks(&[reference.clone(), untrusted_k2]);
        assert!(!c[0].applies && c[0].detail.contains("trusted range"), "{c:?}");
        // a measurement never passes or fails, even far off the frontier
        let k3 = cell("ppo", "k3_as_loss", &[0.0, 1.0, 2.0], &[vec![0.0, 2.0, 2.0], vec![0.0, 2.1, 2.0]]);
        let c = placement_checks(&[reference, k3]);
        assert!(!c[3].applies && c[3].detail.contains("+1."), "{c:?}");
    }
}
