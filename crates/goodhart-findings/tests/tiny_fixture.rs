//! Figure 1's checks on the tiny run's `fig1.json` (blessed by `goodhart-repro`'s `fig1_tiny`
//! test), pinned in `tests/data/fig1_tiny_checks.json`: the verdicts the Python package's
//! `goodhart.findings` must reproduce, from the JSON and from the Parquet table. A change to a
//! check changes them: rerun with `GOODHART_BLESS=1` and say why in the commit.

use std::path::PathBuf;

use goodhart_findings::checks::fig1_checks;
use goodhart_findings::records::Fig1;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

#[test]
fn the_tiny_figures_checks_are_the_pinned_verdicts() {
    let text = std::fs::read_to_string(data("fig1_tiny.json")).unwrap();
    let fig: Fig1 = serde_json::from_str(&text).unwrap();
    let checks = fig1_checks(&fig);
    let rows: Vec<serde_json::Value> = checks
        .iter()
        .map(|c| serde_json::json!({"name": c.name, "applies": c.applies, "passed": c.passed, "detail": c.detail}))
        .collect();
    let pinned = data("fig1_tiny_checks.json");
    if std::env::var_os("GOODHART_BLESS").is_some() {
        std::fs::write(&pinned, serde_json::to_string_pretty(&rows).unwrap() + "\n").unwrap();
        return;
    }
    let expected: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&pinned).unwrap()).unwrap();
    assert_eq!(rows, expected, "figure 1's checks changed on the tiny fixture: rerun with GOODHART_BLESS=1");
    // the fixture exercises both kinds of gold-holds verdict the Python tests compare
    assert!(checks.iter().any(|c| c.name.starts_with("gold holds along bon")));
    assert!(checks.iter().any(|c| c.name.starts_with("gold holds along rl")));
}

/// The pooled trends read the same sizes as the per-seed ones: a seed whose fitted best-of-n
/// peaks all lie beyond its measured range is left out of the d* and R* trends (and named), not
/// fitted; with no seed left they are N/A, while alpha, beta and beta_RL still pool every seed.
#[test]
fn pooled_peak_trends_leave_out_seeds_whose_peaks_were_not_measured() {
    use goodhart_findings::checks::pooled::pooled_trends;
    let text = std::fs::read_to_string(data("fig1_tiny.json")).unwrap();
    let fig: Fig1 = serde_json::from_str(&text).unwrap();
    let mut beyond = fig.clone();
    for r in &mut beyond.results {
        r.peak_d = Some(1e9);
    }
    let seeds = vec![(1, beyond.clone()), (2, beyond.clone()), (3, beyond)];
    let checks = pooled_trends(&seeds);
    assert_eq!(checks.len(), 5, "{checks:?}");
    let find = |part: &str| checks.iter().find(|c| c.name.contains(part)).unwrap();
    for peak in ["peak d*", "peak gold R*"] {
        let c = find(peak);
        assert!(!c.applies && c.detail.contains("left out: seed 1"), "{c}");
    }
    assert!(find("alpha_bon").detail.contains("over seeds 1, 2, 3") || !find("alpha_bon").applies);
    assert!(find("beta_RL").name.contains("pooled over seeds"));
}
