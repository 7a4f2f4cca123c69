//! `cargo xtask analyze` on the shipped examples: the curves it writes equal the library's
//! estimator on the same pools, read here without goodhart-data; bad input is one clear line.

use std::path::{Path, PathBuf};
use std::process::Command;

use goodhart_bon::{log_grid, BonEstimator, PromptPool};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/examples").join(name)
}

fn analyze(file: &Path, out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("analyze")
        .arg(file)
        .arg("--out")
        .arg(out)
        .output()
        .expect("xtask runs")
}

#[test]
fn analyze_writes_the_estimators_curves_for_the_example_pools() {
    let tmp = tempfile::tempdir().unwrap();
    let file = example("bon_pools.csv");
    let out = analyze(&file, tmp.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("best-of-n gold: bon alpha"), "{stdout}");

    // the pools, by hand: prompt_id,sample_id,proxy,gold in prompt order
    let (mut ids, mut proxy, mut gold): (Vec<String>, Vec<Vec<f64>>, Vec<Vec<f64>>) = Default::default();
    for line in std::fs::read_to_string(&file).unwrap().lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if ids.last().map(String::as_str) != Some(f[0]) {
            ids.push(f[0].into());
            proxy.push(Vec::new());
            gold.push(Vec::new());
        }
        proxy.last_mut().unwrap().push(f[2].parse::<f64>().unwrap());
        gold.last_mut().unwrap().push(f[3].parse::<f64>().unwrap());
    }
    let pools: Vec<PromptPool> = proxy.iter().zip(&gold).map(|(p, g)| PromptPool::new(p, g)).collect();
    let want = BonEstimator::new(&log_grid(64, 12)).unwrap().estimate(&pools).unwrap();

    let frame = goodhart_data::table::read_parquet(&tmp.path().join("analysis.parquet")).unwrap();
    let n = frame.column("n").unwrap().u64().unwrap();
    let (g, p, kl) = (
        frame.column("gold").unwrap().f64().unwrap(),
        frame.column("proxy").unwrap().f64().unwrap(),
        frame.column("kl").unwrap().f64().unwrap(),
    );
    assert_eq!(frame.height(), want.ns.len());
    for k in 0..want.ns.len() {
        assert_eq!(n.get(k), Some(want.ns[k]));
        // recentred on n = 1, as reproduce's curves start at 0
        let (gold_k, proxy_k) =
            (want.gold[k].mean - want.gold[0].mean, want.proxy[k].mean - want.proxy[0].mean);
        assert!((g.get(k).unwrap() - gold_k).abs() < 1e-9, "gold at n = {}", want.ns[k]);
        assert!((p.get(k).unwrap() - proxy_k).abs() < 1e-9, "proxy at n = {}", want.ns[k]);
        assert!((kl.get(k).unwrap() - want.kl[k]).abs() < 1e-12);
    }
    for f in ["analysis.csv", "analysis_fits.parquet", "report.md", "analysis.svg", "analysis.png"] {
        assert!(tmp.path().join(f).is_file(), "{f}");
    }
}

#[test]
fn analyze_fits_each_run_of_a_ppo_log() {
    let tmp = tempfile::tempdir().unwrap();
    let out = analyze(&example("ppo_log.jsonl"), tmp.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("p3k gold: rl") && stdout.contains("p30k gold: rl"), "{stdout}");
}

#[test]
fn a_bad_table_is_one_line_naming_the_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, "prompt_id,proxy,gold\na,1,0\na,oops,1\n").unwrap();
    let out = analyze(&bad, &tmp.path().join("out"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.csv, line 3, column `proxy`: \"oops\" is not a number"), "{stderr}");
    assert!(!tmp.path().join("out").exists(), "nothing written for a table that was refused");
}
