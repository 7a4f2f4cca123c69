//! `cargo xtask reproduce <target>`: runs a paper experiment end to end, reusing cached stages.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::prelude::Device;
use goodhart_repro::report::write_fig1;
use goodhart_repro::targets::{is_target, reproduce, TARGETS};
use goodhart_repro::{fig1::fig1, ExperimentConfig, Pipeline};

pub const USAGE: &str = "\
usage: cargo xtask reproduce <target> [--preset tiny|laptop|paper] [--runs DIR] [--out DIR]

targets: fig1, fig2 .. fig26, table1, table2, all (`cargo xtask reproduce list` describes each)

options:
  --preset P   experiment size (default: laptop; tiny runs in seconds)
  --runs DIR   artifact store shared by all targets (default: runs/<preset>)
  --out DIR    where results go (default: results/<target>/<preset>)
";

struct Args {
    target: String,
    preset: String,
    runs: Option<PathBuf>,
    out: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Args> {
    let mut it = args.iter();
    let mut a = Args { target: String::new(), preset: "laptop".into(), runs: None, out: None };
    while let Some(arg) = it.next() {
        let mut value =
            |name: &str| it.next().cloned().with_context(|| format!("{name} needs a value\n\n{USAGE}"));
        match arg.as_str() {
            "--preset" => a.preset = value("--preset")?,
            "--runs" => a.runs = Some(value("--runs")?.into()),
            "--out" => a.out = Some(value("--out")?.into()),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            flag if flag.starts_with('-') => bail!("unknown option {flag}\n\n{USAGE}"),
            target if a.target.is_empty() => a.target = target.to_string(),
            extra => bail!("unexpected argument {extra}\n\n{USAGE}"),
        }
    }
    if a.target.is_empty() {
        bail!("which target?\n\n{USAGE}");
    }
    Ok(a)
}

pub fn run(args: &[String]) -> Result<()> {
    let a = parse(args)?;
    let config = ExperimentConfig::preset(&a.preset)?;
    let root = crate::workspace_root();
    let runs = a.runs.unwrap_or_else(|| root.join("runs").join(&a.preset));
    let started = Instant::now();
    let config_json = serde_json::to_string_pretty(&config)?;
    let pipeline = Pipeline::new(config, &runs, Device::flex());
    if a.target == "list" {
        for (t, what) in TARGETS {
            println!("{t:<8} {what}");
        }
        return Ok(());
    }
    let targets: Vec<String> = if a.target == "all" {
        TARGETS.iter().map(|(t, _)| t.to_string()).collect()
    } else if is_target(&a.target) {
        vec![a.target.clone()]
    } else {
        bail!("unknown target {:?}: `cargo xtask reproduce list` shows the targets\n\n{USAGE}", a.target);
    };
    for target in &targets {
        let out = match &a.out {
            Some(dir) if targets.len() > 1 => dir.join(target),
            Some(dir) => dir.clone(),
            None => root.join("results").join(target).join(&a.preset),
        };
        one(target, &pipeline, &out, &config_json)?;
        eprintln!("{target}: results in {}", out.display());
    }
    eprintln!("done in {:.1?}", started.elapsed());
    Ok(())
}

fn one(target: &str, pipeline: &Pipeline, out: &std::path::Path, config_json: &str) -> Result<()> {
    match target {
        "fig1" => {
            let fig = fig1(&pipeline)?;
            write_fig1(out, &fig, config_json)?;
            // the tables of fits, without the per-point curve tables
            let report = goodhart_repro::report::fig1_markdown(&fig);
            print!("{}", report.split("## Curves").next().unwrap_or_default());
            if let Some(rl) = report.split_once("## fig1b").map(|(_, rl)| rl) {
                print!("## fig1b{}", rl.split("### PPO vs").next().unwrap_or_default());
            }
        }
        other => {
            let result = reproduce(other, pipeline)?;
            result.write(out, config_json)?;
            print!("{}", result.markdown);
        }
    }
    Ok(())
}
