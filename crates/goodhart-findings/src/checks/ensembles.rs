//! The check of the ensembles' claim (Coste et al. 2023): optimising against an ensemble of
//! proxies reaches a higher gold peak than optimising against one of its members, stated as a
//! number: the ensemble's peak gold exceeds the single proxy's by more than
//! [`SIGNIFICANT_SE`] standard errors.

use goodhart_core::Estimate;

use super::sweeps::difference;
use super::{check, within_trust, Check};
use crate::stats::{TrustedRange, SIGNIFICANT_SE};

/// One optimisation curve's gold peak: the highest mean gold of its points.
#[derive(Debug, Clone, PartialEq)]
pub struct PeakCell {
    /// `bon` or `rl`.
    pub method: String,
    pub size: String,
    pub label_noise: f64,
    /// `single` (member 0 alone), `mean`, `wco` or `uwo`.
    pub objective: String,
    pub peak: Estimate,
    /// KL(pi || pi_init) at the peak.
    pub peak_kl: f64,
    /// How far along the curve the gold orders its points as the rubric does (`None`: not
    /// measured); the peak is the highest of the whole curve, so a check that reads it is not
    /// applicable unless the range covers the curve.
    pub trusted: Option<TrustedRange>,
}

impl PeakCell {
    /// The peak of the curve `(kl, gold)` (the first of equal maxima); `None` for no points.
    pub fn of(
        method: &str,
        size: &str,
        label_noise: f64,
        objective: &str,
        kl: &[f64],
        gold: &[Estimate],
    ) -> Option<Self> {
        let k = (0..gold.len()).reduce(|a, b| if gold[b].mean > gold[a].mean { b } else { a })?;
        Some(PeakCell {
            method: method.to_string(),
            size: size.to_string(),
            label_noise,
            objective: objective.to_string(),
            peak: gold[k],
            peak_kl: kl[k],
            trusted: None,
        })
    }
}

/// For every ensemble cell, whether its peak gold beats the single proxy's of the same method,
/// size and label noise by more than [`SIGNIFICANT_SE`] standard errors (independent errors;
/// both peaks are maxima over the same number of points, so the selection favours neither). Not
/// applicable where either curve goes beyond the gold's trusted range ([`within_trust`]).
pub fn ensemble_checks(cells: &[PeakCell]) -> Vec<Check> {
    let mut out = Vec::new();
    for e in cells.iter().filter(|c| c.objective != "single") {
        let single = cells.iter().find(|c| {
            c.objective == "single"
                && c.method == e.method
                && c.size == e.size
                && c.label_noise == e.label_noise
        });
        let name = format!(
            "ensembles {} {} noise {}: {} peak gold above the single proxy's",
            e.method, e.size, e.label_noise, e.objective
        );
        let Some(single) = single else {
            out.push(super::not_applicable(&name, "no single-proxy run of this cell".into()));
            continue;
        };
        let gain = difference(e.peak, single.peak);
        let passed = gain.mean > SIGNIFICANT_SE * gain.se;
        let ranges = [(e.objective.as_str(), e.trusted.as_ref()), ("single", single.trusted.as_ref())];
        out.push(within_trust(check(
            &name,
            passed,
            format!(
                "peak gold {:.3} (se {:.3}) at KL {:.2} against {:.3} (se {:.3}) at KL {:.2}: {:+.3} (se {:.3}), needs > {SIGNIFICANT_SE} se",
                e.peak.mean,
                e.peak.se,
                e.peak_kl,
                single.peak.mean,
                single.peak.se,
                single.peak_kl,
                gain.mean,
                gain.se
            ),
        ), ranges));
    }
    out
}

/// WARM against the prediction ensemble of the same members (Ramé et al. 2024 claim weight
/// averaging is the more robust of the two): for every `warm` cell, whether its peak gold beats
/// the `mean-shared` cell's of the same method, size and label noise by more than
/// [`SIGNIFICANT_SE`] standard errors. N/A without that cell, or where either curve goes beyond
/// the gold's trusted range.
pub fn warm_checks(cells: &[PeakCell]) -> Vec<Check> {
    let mut out = Vec::new();
    for warm in cells.iter().filter(|c| c.objective == "warm") {
        let name = format!(
            "ensembles {} {} noise {}: WARM's peak gold above the prediction mean of the same members",
            warm.method, warm.size, warm.label_noise
        );
        let mean = cells.iter().find(|c| {
            c.objective == "mean-shared"
                && c.method == warm.method
                && c.size == warm.size
                && c.label_noise == warm.label_noise
        });
        let Some(mean) = mean else {
            out.push(super::not_applicable(&name, "no mean-shared run of this cell".into()));
            continue;
        };
        let gain = difference(warm.peak, mean.peak);
        let ranges = [("warm", warm.trusted.as_ref()), ("mean-shared", mean.trusted.as_ref())];
        out.push(within_trust(
            check(
                &name,
                gain.mean > SIGNIFICANT_SE * gain.se,
                format!(
                    "peak gold {:.3} (se {:.3}) at KL {:.2} against {:.3} (se {:.3}) at KL {:.2}: {:+.3} (se {:.3}), needs > {SIGNIFICANT_SE} se",
                    warm.peak.mean, warm.peak.se, warm.peak_kl, mean.peak.mean, mean.peak.se, mean.peak_kl, gain.mean, gain.se
                ),
            ),
            ranges,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(mean: f64, se: f64) -> Estimate {
        Estimate { mean, se, n: 100 }
    }

    fn cell(objective: &str, mean: f64, se: f64) -> PeakCell {
        PeakCell {
            method: "bon".into(),
            size: "p1k".into(),
            label_noise: 0.25,
            objective: objective.into(),
            peak: est(mean, se),
            peak_kl: 2.0,
            trusted: None,
        }
    }

    #[test]
    fn a_clearly_higher_ensemble_peak_passes() {
        let checks = ensemble_checks(&[cell("single", 1.0, 0.05), cell("mean", 1.5, 0.05)]);
        assert_eq!(checks.len(), 1);
        assert!(checks[0].passed, "{}", checks[0]);
    }

    #[test]
    fn a_gain_within_two_standard_errors_fails() {
        // 0.1 against se hypot(0.05, 0.05) = 0.071: 1.4 se
        let checks = ensemble_checks(&[cell("single", 1.0, 0.05), cell("wco", 1.1, 0.05)]);
        assert!(checks[0].fails(), "{}", checks[0]);
        // and an ensemble below the single proxy fails too
        let checks = ensemble_checks(&[cell("single", 1.0, 0.01), cell("uwo", 0.5, 0.01)]);
        assert!(checks[0].fails(), "{}", checks[0]);
    }

    #[test]
    fn cells_compare_only_within_method_size_and_noise() {
        let mut other_noise = cell("single", 0.0, 0.01);
        other_noise.label_noise = 0.0;
        let checks = ensemble_checks(&[other_noise, cell("mean", 1.0, 0.01)]);
        assert!(!checks[0].applies, "{}", checks[0]);
        let mut other_method = cell("single", 0.0, 0.01);
        other_method.method = "rl".into();
        let checks = ensemble_checks(&[other_method, cell("single", 2.0, 0.01), cell("mean", 1.0, 0.01)]);
        assert!(checks[0].fails(), "compared with the rl single run: {}", checks[0]);
    }

    #[test]
    fn the_peak_is_the_highest_point_with_its_kl() {
        let gold = [est(0.1, 0.01), est(0.7, 0.02), est(0.3, 0.01)];
        let p = PeakCell::of("bon", "p1k", 0.0, "mean", &[0.0, 1.5, 3.0], &gold).unwrap();
        assert_eq!((p.peak, p.peak_kl), (gold[1], 1.5));
        assert!(PeakCell::of("bon", "p1k", 0.0, "mean", &[], &[]).is_none());
    }

    #[test]
    fn a_peak_read_where_the_gold_is_not_trusted_is_not_applicable() {
        let d = [0.0, 1.0, 2.0];
        let gold = [est(0.0, 0.05), est(1.0, 0.05), est(2.0, 0.05)];
        let parted =
            crate::stats::order_trusted_range(&d, &gold, &[est(0.0, 0.05), est(1.0, 0.05), est(-1.0, 0.05)]);
        let mut ensemble = cell("mean", 1.5, 0.05);
        ensemble.trusted = parted;
        let checks = ensemble_checks(&[cell("single", 1.0, 0.05), ensemble.clone()]);
        assert!(!checks[0].applies && checks[0].detail.contains("mean:"), "{}", checks[0]);
        // the single proxy's curve gates the comparison too
        let mut single = cell("single", 1.0, 0.05);
        single.trusted = parted;
        ensemble.trusted = None;
        assert!(!ensemble_checks(&[single, ensemble])[0].applies);
    }

    #[test]
    fn warm_must_beat_the_prediction_mean_of_its_own_members() {
        let warm = |mean: f64| cell("warm", mean, 0.02);
        let shared = cell("mean-shared", 1.0, 0.02);
        assert!(warm_checks(&[warm(1.2), shared.clone()])[0].passed);
        // counter-examples: within noise of the prediction mean; below it
        assert!(warm_checks(&[warm(1.03), shared.clone()])[0].fails());
        assert!(warm_checks(&[warm(0.8), shared])[0].fails());
        // no prediction mean of the same members to compare with: N/A
        assert!(!warm_checks(&[warm(1.2), cell("mean", 1.0, 0.02)])[0].applies);
    }
}
