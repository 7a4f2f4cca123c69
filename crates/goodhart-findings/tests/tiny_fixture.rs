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
