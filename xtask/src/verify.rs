//! `cargo xtask verify fig1`: checks a reproduced figure's findings by number.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use goodhart_repro::fig1::Fig1;
use goodhart_repro::verify::fig1_checks;

pub const USAGE: &str = "\
usage: cargo xtask verify <target> [--preset tiny|laptop|paper] [--out DIR]

Reads the results `cargo xtask reproduce <target>` wrote and checks the paper's findings, one line
per check with its number; exits non-zero if any fails.

targets:
  fig1     gold peaks and falls for the smaller proxies (BoN and RL) while proxy rises; R^2 of the
           fits; alpha_bon up, beta_bon and beta_RL down with RM size; RL spends more KL than BoN
           for the same gold
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
    if target != "fig1" {
        bail!("no checks for {target:?} yet: `cargo xtask verify fig1`");
    }
    let out = out.unwrap_or_else(|| crate::workspace_root().join("results").join(&target).join(&preset));
    let path = out.join("fig1.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: no results to verify; run `cargo xtask reproduce fig1 --preset {preset}` first",
            path.display()
        )
    })?;
    let fig: Fig1 = serde_json::from_str(&text).with_context(|| {
        format!("{} is not a fig1 result (re-run reproduce to rewrite it)", path.display())
    })?;
    let checks = fig1_checks(&fig);
    for c in &checks {
        println!("{c}");
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    if failed > 0 {
        bail!("{failed} of {} checks failed ({})", checks.len(), path.display());
    }
    println!("all {} checks passed ({})", checks.len(), path.display());
    Ok(())
}
