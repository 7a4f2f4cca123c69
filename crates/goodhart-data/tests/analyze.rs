//! `analyze` on the shipped examples and on malformed tables.

use std::path::{Path, PathBuf};

use goodhart_bon::{log_grid, BonEstimator, PromptPool};
use goodhart_data::input::{parse_csv, parse_json_lines, read_table};
use goodhart_data::{analyze, write_analysis, AnalyzeOptions, Runs};
use proptest::prelude::*;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/examples").join(name)
}

/// The example's pools, read without goodhart-data: `prompt_id,sample_id,proxy,gold` lines.
fn pools_by_hand(path: &Path) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let (mut ids, mut proxy, mut gold): (Vec<String>, Vec<Vec<f64>>, Vec<Vec<f64>>) = Default::default();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if ids.last().map(String::as_str) != Some(f[0]) {
            ids.push(f[0].to_string());
            proxy.push(Vec::new());
            gold.push(Vec::new());
        }
        proxy.last_mut().unwrap().push(f[2].parse().unwrap());
        gold.last_mut().unwrap().push(f[3].parse().unwrap());
    }
    (proxy, gold)
}

#[test]
fn the_best_of_n_example_gives_the_estimators_curves_and_overoptimises() {
    let path = example("bon_pools.csv");
    let runs = Runs::from_table(&read_table(&path).unwrap()).unwrap();
    let opts = AnalyzeOptions::default();
    let a = analyze(&runs, &opts).unwrap();
    let (proxy, gold) = pools_by_hand(&path);
    let pools: Vec<PromptPool> = proxy.iter().zip(&gold).map(|(p, g)| PromptPool::new(p, g)).collect();
    let want = BonEstimator::new(&log_grid(64, opts.grid_points)).unwrap().estimate(&pools).unwrap();
    assert_eq!(a.records.len(), want.ns.len());
    for (r, k) in a.records.iter().zip(0..) {
        assert_eq!(r.n, Some(want.ns[k]));
        // recentred on n = 1, the mean over all samples
        assert!((r.gold - (want.gold[k].mean - want.gold[0].mean)).abs() < 1e-12);
        assert!((r.proxy - (want.proxy[k].mean - want.proxy[0].mean)).abs() < 1e-12);
        assert!((r.gold_se - want.gold[k].se).abs() < 1e-12);
    }
    assert_eq!((a.prompts, a.pool_sizes), (100, (64, 64)));
    // the example is built to overoptimise: the gold peaks inside the grid, the proxy keeps rising
    let gold_fit = a.fits.iter().find(|f| f.score == "gold").unwrap();
    assert!(gold_fit.measured_peak_d > 0.0 && gold_fit.measured_peak_d < gold_fit.max_d, "{gold_fit:?}");
    assert!(
        gold_fit.beta_lo > 0.0 && gold_fit.alpha_lo <= gold_fit.alpha && gold_fit.alpha <= gold_fit.alpha_hi,
        "{gold_fit:?}"
    );
    let last = a.records.last().unwrap();
    assert!(last.proxy > a.records[a.records.len() / 2].proxy);
}

#[test]
fn the_ppo_example_recovers_the_laws_it_was_drawn_from() {
    let runs = Runs::from_table(&read_table(&example("ppo_log.jsonl")).unwrap()).unwrap();
    let a = analyze(&runs, &AnalyzeOptions::default()).unwrap();
    assert_eq!(a.kind, "ppo");
    for (run, alpha, beta) in [("p3k", 1.0, 0.5), ("p30k", 1.2, 0.45)] {
        let f = a.fits.iter().find(|f| f.rm_size == run && f.score == "gold").unwrap();
        assert!((f.alpha - alpha).abs() < 0.05 && (f.beta - beta).abs() < 0.05, "{run}: {f:?}");
        assert!(f.alpha_lo < f.alpha_hi && f.form == "rl");
        assert_eq!(a.records.iter().filter(|r| r.rm_size == run).count(), 41);
    }
}

#[test]
fn an_analysis_is_written_as_reproduce_writes_a_target() {
    let runs = Runs::from_table(&read_table(&example("bon_pools.csv")).unwrap()).unwrap();
    let opts = AnalyzeOptions { bootstrap: 20, ..AnalyzeOptions::default() };
    let a = analyze(&runs, &opts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_analysis(dir.path(), &a, &opts).unwrap();
    for f in [
        "analysis.csv",
        "analysis.parquet",
        "analysis_fits.parquet",
        "analysis.json",
        "report.md",
        "analysis.svg",
        "analysis.png",
        "options.json",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let fits = goodhart_data::table::read_parquet(&dir.path().join("analysis_fits.parquet")).unwrap();
    let names: Vec<String> = fits.schema().iter().map(|(n, _)| n.to_string()).collect();
    let want: Vec<String> = goodhart_data::fits::fits_schema().iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(names, want);
    assert_eq!(fits.height(), 2);
    let report = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(report.contains("over 100 prompts") && report.contains("| gold | bon |"), "{report}");
}

/// Malformed tables, each with the message a user gets.
#[test]
fn malformed_tables_are_named_by_line_and_column() {
    let csv = |s: &str| parse_csv(s, "t.csv").and_then(|t| Runs::from_table(&t));
    let jsonl = |s: &str| parse_json_lines(s, "t.jsonl").and_then(|t| Runs::from_table(&t));
    let analysed = |s: &str, max_n: Option<u64>| {
        let runs = csv(s)?;
        analyze(&runs, &AnalyzeOptions { max_n, ..AnalyzeOptions::default() }).map(|_| ())
    };
    let pools = "prompt_id,proxy,gold\na,1,0\na,2,1\na,3,0\na,4,2\nb,1,1\nb,0,0\nb,2,1\nb,3,0\n";
    let cases: Vec<(&str, Result<(), goodhart_data::DataError>, &str)> = vec![
        ("no id column", csv("proxy,gold\n1,2\n").map(|_| ()),
         "t.csv: no column `prompt_id`; a best-of-n table has the columns prompt_id, proxy, gold (optional: sample_id; logp_policy with logp_ref, or kl); a PPO log has step, kl, proxy, gold (optional: run) (found: proxy, gold)"),
        ("no gold column", csv("prompt_id,proxy\na,1\n").map(|_| ()),
         "t.csv: no column `gold`; a best-of-n table has the columns prompt_id, proxy, gold (optional: sample_id; logp_policy with logp_ref, or kl); a PPO log has step, kl, proxy, gold (optional: run) (found: prompt_id, proxy)"),
        ("a PPO log without kl", csv("step,proxy,gold\n0,0,0\n").map(|_| ()),
         "t.csv: no column `kl`; a best-of-n table has the columns prompt_id, proxy, gold (optional: sample_id; logp_policy with logp_ref, or kl); a PPO log has step, kl, proxy, gold (optional: run) (found: step, proxy, gold)"),
        ("a score that is not a number", csv("prompt_id,proxy,gold\na,1,0\na,high,1\n").map(|_| ()),
         "t.csv, line 3, column `proxy`: \"high\" is not a number"),
        ("a NaN score", csv("prompt_id,proxy,gold\na,1,0\nb,1,NaN\n").map(|_| ()),
         "t.csv, line 3, column `gold`: NaN is not a finite number (did a model diverge?)"),
        ("an infinite score", jsonl("{\"prompt_id\":\"a\",\"proxy\":1,\"gold\":0}\n{\"prompt_id\":\"a\",\"proxy\":\"inf\",\"gold\":0}\n").map(|_| ()),
         "t.jsonl, line 2, column `proxy`: inf is not a finite number (did a model diverge?)"),
        ("an empty score", csv("prompt_id,proxy,gold\na,1,0\na,,1\n").map(|_| ()),
         "t.csv, line 3, column `proxy`: empty; every row needs a value of `proxy`"),
        ("an empty id", csv("prompt_id,proxy,gold\n,1,0\n").map(|_| ()),
         "t.csv, line 2, column `prompt_id`: empty; every row needs a `prompt_id`"),
        ("a duplicated sample id", csv("prompt_id,sample_id,proxy,gold\na,0,1,0\na,1,2,1\nb,0,1,1\na,1,3,0\n").map(|_| ()),
         "t.csv, line 5, column `sample_id`: prompt \"a\" has sample_id \"1\" twice (first at line 3); ids must be unique within a prompt"),
        ("a duplicated step", csv("run,step,kl,proxy,gold\nx,0,0,0,0\nx,10,1,1,1\ny,10,1,1,1\nx,10,2,2,1\n").map(|_| ()),
         "t.csv, line 5, column `step`: run \"x\" logs step 10 twice (first at line 3); one row per step"),
        ("a fractional step", csv("step,kl,proxy,gold\n1.5,0,0,0\n").map(|_| ()),
         "t.csv, line 2, column `step`: 1.5 is not a step count (a whole number >= 0)"),
        ("a row with a missing field", csv("prompt_id,proxy,gold\na,1\n").map(|_| ()),
         "t.csv, line 2, column `gold`: 2 fields, but the header has 3"),
        ("an unclosed quote", csv("prompt_id,proxy,gold\n\"a,1,0\n").map(|_| ()),
         "t.csv, line 2, column ``: a quoted field is never closed: end it with \""),
        ("a header and no rows", csv("prompt_id,proxy,gold\n").map(|_| ()),
         "t.csv: the table has a header but no rows"),
        ("one prompt", csv("prompt_id,proxy,gold\na,1,0\na,2,1\n").map(|_| ()),
         "t.csv: all 2 samples belong to one prompt (\"a\"); intervals and the split-half checks resample prompts, so give at least 2"),
        ("logp_policy without logp_ref", csv("prompt_id,proxy,gold,logp_policy\na,1,0,-3\n").map(|_| ()),
         "t.csv: no column `logp_ref`; logp_policy and logp_ref come together: the log-probabilities of each sample under the sampled policy and under the reference (found: prompt_id, proxy, gold, logp_policy)"),
        ("a JSON line that is not an object", jsonl("{\"prompt_id\":\"a\",\"proxy\":1,\"gold\":0}\n[1, 2]\n").map(|_| ()),
         "t.jsonl, line 2, column ``: not a JSON object; each line is one row, {\"column\": value, ...}"),
        ("a nested JSON value", jsonl("{\"prompt_id\":\"a\",\"proxy\":[1],\"gold\":0}\n").map(|_| ()),
         "t.jsonl, line 1, column `proxy`: [1] is not a number or a string"),
        ("more n than samples", analysed(pools, Some(8)),
         "t.csv: prompt \"a\" (first at line 2) has 4 samples, but n = 8 was asked: best-of-n needs n from 2 up to the smallest pool; give every prompt at least 8 samples or ask for a smaller max n"),
        ("pools of one sample", analysed("prompt_id,proxy,gold\na,1,0\nb,2,1\n", None),
         "t.csv: prompt \"a\" (first at line 2) has 1 samples, but n = 1 was asked: best-of-n needs n from 2 up to the smallest pool; give every prompt at least 2 samples or ask for a smaller max n"),
        ("a largest n below 2", analysed(pools, Some(1)),
         "t.csv: a largest n of 1 was asked: best-of-n curves need n up to at least 2"),
        ("too few n to fit", analysed("prompt_id,proxy,gold\na,1,0\na,2,1\nb,0,0\nb,1,1\n", None),
         "t.csv: the grid of n has 2 values ([1, 2]); the fit of d (alpha - beta d) needs 3: ask for more grid points or larger pools"),
        ("a PPO run that never moves", csv("step,kl,proxy,gold\n0,0,0,0\n10,0,1,0\n20,0.5,1,1\n").and_then(|r| analyze(&r, &AnalyzeOptions::default())).map(|_| ()),
         "t.csv: run \"run\" has 1 steps with KL > 0; the fit of d (alpha - beta ln d) needs at least 2"),
    ];
    assert!(cases.len() >= 20);
    for (what, got, want) in cases {
        let got = got.expect_err(what).to_string();
        assert_eq!(got, want, "{what}");
    }
    let unknown = read_table(Path::new("results.xlsx")).unwrap_err().to_string();
    assert_eq!(unknown, "results.xlsx cannot be read as a table (unknown extension \"xlsx\": use .parquet, .csv, .jsonl or .ndjson)");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the scores, best-of-1 is each pool's mean, averaged over prompts (the offset the
    /// curves are recentred by, so they start at 0), and every KL is ln n - (n - 1) / n.
    #[test]
    fn best_of_one_is_the_pool_mean_and_kl_is_kl_bon(
        scores in prop::collection::vec(prop::collection::vec((-5.0f64..5.0, -5.0f64..5.0), 8..20), 2..6)
    ) {
        let mut csv = String::from("prompt_id,proxy,gold\n");
        for (p, pool) in scores.iter().enumerate() {
            for (x, y) in pool {
                csv.push_str(&format!("{p},{x},{y}\n"));
            }
        }
        let runs = Runs::from_table(&parse_csv(&csv, "p.csv").unwrap()).unwrap();
        let a = analyze(&runs, &AnalyzeOptions { bootstrap: 5, ..AnalyzeOptions::default() }).unwrap();
        let mean_gold = scores.iter().map(|pool| pool.iter().map(|s| s.1).sum::<f64>() / pool.len() as f64).sum::<f64>()
            / scores.len() as f64;
        prop_assert_eq!(a.records[0].n, Some(1));
        prop_assert!((a.offsets[0].1 - mean_gold).abs() < 1e-9);
        prop_assert_eq!(a.records[0].gold, 0.0);
        for r in &a.records {
            let n = r.n.unwrap() as f64;
            prop_assert!((r.kl - (n.ln() - (n - 1.0) / n)).abs() < 1e-12);
        }
    }
}
