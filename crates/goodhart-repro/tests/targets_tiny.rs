//! One smoke test per `cargo xtask reproduce` target at the tiny preset: it runs, writes its
//! report, rows and JSON (and figure, where it draws one), they parse and hold data. The targets share one
//! artifact store, as they do for a user, so figure 1's stages are computed once.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use burn::prelude::Device;
use goodhart_repro::targets::{reproduce, target, Family, TARGETS};
use goodhart_repro::{ExperimentConfig, Pipeline};

/// The shared store, in cargo's per-target scratch directory (emptied at the first use of each
/// run, so runs do not pile up); one target at a time (stages must not race on a key).
fn store() -> &'static Mutex<PathBuf> {
    static STORE: OnceLock<Mutex<PathBuf>> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("targets-tiny");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        Mutex::new(dir)
    })
}

fn smoke(name: &str) {
    let t = target(name).unwrap_or_else(|e| panic!("{e}"));
    let target = t.name;
    let runs = store().lock().unwrap_or_else(|e| e.into_inner());
    let config = ExperimentConfig::preset("tiny").unwrap();
    let pipeline = Pipeline::new(config, runs.as_path(), Device::flex());
    let result = reproduce(t, &pipeline).unwrap_or_else(|e| panic!("{target}: {e}"));
    let out = tempfile::tempdir().unwrap();
    result.write(out.path(), "{}").unwrap();
    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(report.starts_with(&format!("# {target}")), "{target}: {report}");
    // every Markdown table starts with a header and its separator: no rows cut off from them
    let lines: Vec<&str> = report.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let starts_table = l.starts_with('|') && (i == 0 || !lines[i - 1].starts_with('|'));
        if starts_table {
            let next = lines.get(i + 1).copied().unwrap_or("");
            assert!(
                next.starts_with("|---"),
                "{target}: a table row without its header, line {}: {l}",
                i + 1
            );
        }
    }
    // the data behind a figure is in its files: rows in the CSV, and JSON that is not empty
    let csv = out.path().join(format!("{target}.csv"));
    // the tables and the diagram: JSON, but no curve rows
    if matches!(t.family, Family::Tables(_)) {
        assert!(
            result.records.is_empty() && !csv.exists(),
            "{target}: a table has no CSV rather than an empty one"
        );
    } else {
        assert!(!result.records.is_empty(), "{target} has no rows");
        let csv = std::fs::read_to_string(csv).unwrap();
        assert_eq!(csv.lines().count(), 1 + result.records.len(), "{target}");
        let parquet =
            goodhart_repro::table::read_parquet(&out.path().join(format!("{target}.parquet"))).unwrap();
        assert_eq!(parquet.height(), result.records.len(), "{target}.parquet");
    }
    // fits: written when some curve could be fitted, never as an empty table
    let fits_file = out.path().join(format!("{target}_fits.parquet"));
    assert_eq!(fits_file.exists(), !result.fits.is_empty(), "{target}");
    if fits_file.exists() {
        let fits = goodhart_repro::table::read_parquet(&fits_file).unwrap();
        assert_eq!(fits.height(), result.fits.len(), "{target}_fits.parquet");
    }
    let value = result.json_value();
    let empty = match &value {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        _ => false,
    };
    // fig26 cuts each curve at 0.77 of its range: the tiny curves may be too short to fit there
    assert!(!empty || target == "fig26", "{target}.json holds no data: {}", result.json);
    assert_eq!(std::fs::read_to_string(out.path().join(format!("{target}.json"))).unwrap(), result.json);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join(format!("{target}.json"))).unwrap())
            .unwrap();
    // (parsed floats may differ in the last bit: compare the shape)
    assert_eq!(json.is_array(), value.is_array(), "{target}");
    assert_eq!(json.as_array().map(Vec::len), value.as_array().map(Vec::len), "{target}");
    if result.figure.is_some() {
        let svg = std::fs::read_to_string(out.path().join(format!("{target}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{target}");
        assert!(std::fs::read(out.path().join(format!("{target}.png"))).unwrap().starts_with(b"\x89PNG"));
    }
}

macro_rules! smoke_tests {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { smoke(stringify!($name)); })*
        /// Every target has a smoke test here (fig1 has its own test file).
        #[test]
        fn every_target_has_a_smoke_test() {
            let tested = [$(stringify!($name)),*, "early-warning", "gold-controls", "bon-family", "kl-placement"];
            for t in TARGETS.iter().filter(|t| !t.is_fig1()) {
                assert!(tested.contains(&t.name), "no smoke test for {}", t.name);
            }
        }
    };
}

smoke_tests!(
    fig2, fig3, fig4, fig5, fig6, fig7, fig8, fig9, fig10, fig11, fig12, fig13, fig14, fig15, fig16, fig17,
    fig18, fig19, fig20, fig21, fig22, fig23, fig24, fig25, fig26, iterated, table1, table2, controls,
    ensembles, dpo,
);

/// (a name with a hyphen, so not in the macro's list)
#[test]
fn bon_family() {
    smoke("bon-family");
}

#[test]
fn gold_controls() {
    smoke("gold-controls");
}

#[test]
fn early_warning() {
    smoke("early-warning");
}

#[test]
fn kl_placement() {
    smoke("kl-placement");
}

#[test]
fn an_unknown_target_is_a_clear_error() {
    let err = target("fig99").expect_err("fig99 is not a target").to_string();
    assert!(err.contains("fig99") && err.contains("fig26"), "{err}");
}
