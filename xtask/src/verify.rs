//! `cargo xtask verify fig1`: checks a reproduced figure's findings by number.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use goodhart_repro::fig1::Fig1;
use goodhart_repro::verify::{across_seeds, fig1_checks};

pub const USAGE: &str = "\
usage: cargo xtask verify <target> [--preset tiny|laptop|paper] [--out DIR]

Reads the results `cargo xtask reproduce <target>` wrote and checks the paper's findings, one line
per check with its number; exits non-zero if any fails.

When the results hold seeds (`reproduce fig1 --seeds K` wrote seed-1 .. seed-(K-1) beside seed 0),
the verdicts are those of seeds 1 .. K-1: settings were chosen looking at seed 0, so seed 0 is
shown for reference only. A check is reproduced when it passes on more than half of those seeds.

targets:
  controls (a) best-of-n and PPO against the gold itself: the rubric does not fall; (b) every
           Goodhart mechanism off: no gold curve falls
  fig1     every proxy size's gold curve gets a verdict (peaks and falls, peak beyond the
           measured range, no peak), on prompts that did not choose the peak; the proxy pulls
           away from the gold; R^2 of the fits; alpha_bon, d*, R* up and beta_bon, beta_RL down
           with RM size (bootstrap intervals over prompts); RL spends more KL than BoN for the
           same gold
";

pub fn run(args: &[String]) -> Result<()> {
    let (mut target, mut preset, mut out) = (None, "laptop".to_string(), None::<PathBuf>);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--preset" => preset = it.next().context("--preset needs a value")?.clone(),
            "--out" => out = Some(it.next().context("--out needs a value")?.into()),
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            flag if flag.starts_with('-') => bail!("unknown option {flag}\n\n{USAGE}"),
            t if target.is_none() => target = Some(t.to_string()),
            extra => bail!("unexpected argument {extra}\n\n{USAGE}"),
        }
    }
    let target = target.with_context(|| format!("which target?\n\n{USAGE}"))?;
    let out = out.unwrap_or_else(|| crate::workspace_root().join("results").join(&target).join(&preset));
    if target == "controls" {
        let path = out.join("controls.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{}: no results; run `cargo xtask reproduce controls --preset {preset}` first",
                path.display()
            )
        })?;
        let c: goodhart_repro::controls::Controls = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a controls result (re-run reproduce)", path.display()))?;
        let checks = goodhart_repro::controls::controls_checks(&c);
        return report(&checks, &path);
    }
    if target != "fig1" {
        bail!("no checks for {target:?} yet: `cargo xtask verify fig1` or `verify controls`");
    }
    let path = out.join("fig1.json");
    let checks = fig1_checks(&load(&path, &preset)?);
    let mut seeds = Vec::new();
    for s in 1.. {
        let seed_path = out.join(format!("seed-{s}")).join("fig1.json");
        if !seed_path.exists() {
            break;
        }
        seeds.push((s, fig1_checks(&load(&seed_path, &preset)?)));
    }
    if seeds.is_empty() {
        return report(&checks, &path);
    }
    println!(
        "verdicts on seeds 1..={} (settings were chosen on seed 0, shown for reference): {}",
        seeds.len(),
        out.display()
    );
    let across = across_seeds(&seeds);
    for c in &across {
        let reference = checks.iter().find(|r| r.name == c.name);
        print!("{c}");
        if let Some(r) = reference {
            println!("    seed 0 (reference): {} {}", if r.passed { "pass" } else { "fail" }, r.detail);
        }
    }
    let failed = across.iter().filter(|c| !c.reproduced).count();
    if failed > 0 {
        bail!("{failed} of {} checks not reproduced on seeds 1..={}", across.len(), seeds.len());
    }
    println!("all {} checks reproduced on seeds 1..={}", across.len(), seeds.len());
    Ok(())
}

fn report(checks: &[goodhart_repro::verify::Check], path: &std::path::Path) -> Result<()> {
    for c in checks {
        println!("{c}");
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    if failed > 0 {
        bail!("{failed} of {} checks failed ({})", checks.len(), path.display());
    }
    println!("all {} checks passed ({})", checks.len(), path.display());
    Ok(())
}

fn load(path: &std::path::Path, preset: &str) -> Result<Fig1> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "{}: no results to verify; run `cargo xtask reproduce fig1 --preset {preset}` first",
            path.display()
        )
    })?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a fig1 result (re-run reproduce to rewrite it)", path.display()))
}
