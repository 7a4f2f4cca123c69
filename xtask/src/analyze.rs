//! `cargo xtask analyze <file>`: your own best-of-n pools or PPO logs through goodhart's
//! estimator, fits, figure and report (the library function is `goodhart_data::analyze`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use goodhart_data::input::read_table;
use goodhart_data::{analyze, write_analysis, AnalyzeOptions, Runs};

pub const USAGE: &str = "\
usage: cargo xtask analyze <file> [--out DIR] [--max-n N] [--grid-points K] [--bootstrap B] [--seed S]

Reads a table of your own runs (.parquet, .csv, .jsonl or .ndjson) and writes what `reproduce`
writes for a target: analysis.csv and analysis.parquet (curve points), analysis_fits.parquet
(fits with 90% bootstrap intervals and peaks), report.md, analysis.svg / .png, options.json.

Best-of-n pools, one row per sample: prompt_id, proxy, gold; optional sample_id (unique within a
prompt), and logp_policy with logp_ref or a kl column (the sampled policy's KL from the
reference, reported beside the curves). Curves by the unbiased estimator, KL = ln n - (n - 1)/n,
fitted with d (alpha - beta d).
PPO logs, one row per logged step: step, kl, proxy, gold; optional run (one curve per run).
Fitted with d (alpha - beta ln d).

  --out DIR          where results go (default: results/analyze/<file name without extension>)
  --max-n N          the largest n (default: the smallest pool)
  --grid-points K    about K log-spaced n from 1 to the largest (default 12)
  --bootstrap B      resamples for the intervals (default 200)
  --seed S           seed of the resampling (default 0)

Examples: data/examples/bon_pools.csv, data/examples/ppo_log.jsonl.
";

fn number<T: std::str::FromStr>(flag: &str, value: Option<&String>) -> Result<T> {
    let v = value.with_context(|| format!("{flag} needs a value"))?;
    v.parse().map_err(|_| anyhow::anyhow!("{flag} {v}: give a whole number"))
}

pub fn run(args: &[String]) -> Result<()> {
    let mut opts = AnalyzeOptions::default();
    let (mut file, mut out): (Option<PathBuf>, Option<PathBuf>) = (None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--out" => out = Some(it.next().context("--out needs a value")?.into()),
            "--max-n" => opts.max_n = Some(number("--max-n", it.next())?),
            "--grid-points" => opts.grid_points = number("--grid-points", it.next())?,
            "--bootstrap" => opts.bootstrap = number("--bootstrap", it.next())?,
            "--seed" => opts.seed = number("--seed", it.next())?,
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            flag if flag.starts_with("--") => bail!("unknown option {flag}\n\n{USAGE}"),
            path if file.is_none() => file = Some(path.into()),
            extra => bail!("one file at a time: {extra:?} follows {:?}\n\n{USAGE}", file.unwrap_or_default()),
        }
    }
    let Some(file) = file else { bail!("which file?\n\n{USAGE}") };
    let out = out.unwrap_or_else(|| default_out(&file));
    eprintln!("analyze: reading {}", file.display());
    let runs = Runs::from_table(&read_table(&file)?)?;
    match &runs {
        Runs::Samples(p) => eprintln!("analyze: best-of-n pools, {} prompts", p.prompts.len()),
        Runs::Ppo(log) => eprintln!("analyze: PPO log, {} run(s)", log.runs.len()),
    }
    let analysis = analyze(&runs, &opts)?;
    write_analysis(&out, &analysis, &opts)?;
    for f in &analysis.fits {
        let curve = if f.rm_size.is_empty() { "best-of-n" } else { &f.rm_size };
        println!(
            "{curve} {}: {} alpha {:.4} [{:.4}, {:.4}], beta {:.4} [{:.4}, {:.4}], R^2 {:.3}; measured peak {:.4} at d = {:.3}",
            f.score, f.form, f.alpha, f.alpha_lo, f.alpha_hi, f.beta, f.beta_lo, f.beta_hi, f.r2, f.measured_peak_score, f.measured_peak_d
        );
    }
    eprintln!("analyze: results in {}", out.display());
    Ok(())
}

fn default_out(file: &Path) -> PathBuf {
    let stem = file.file_stem().map_or("table".into(), |s| s.to_string_lossy().into_owned());
    crate::workspace_root().join("results").join("analyze").join(stem)
}
