//! `cargo xtask <task>`: goodhart's task runner (the alias lives in `.cargo/config.toml`).
//!
//! One module per task. Tasks shell out to cargo, so they run exactly what a user would type.

mod analyze;
mod bench;
mod invariants;
mod progress;
mod reproduce;
mod seed_llvm;
mod slurm;
mod store;
mod verify;

use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  reproduce    run a paper experiment: `cargo xtask reproduce fig1 [--preset tiny|laptop]`
  run-cell     one cell of fig1 (what a Slurm array task runs): `run-cell fig1 <base|proxy|rl> <i>`
  analyze      your own best-of-n pools or PPO logs, fitted and drawn: `analyze data/examples/bon_pools.csv`
  collect      fit, draw and report from a store the cells filled (= reproduce, everything cached)
  verify       check a reproduced figure's findings: `cargo xtask verify fig1 [--preset P]`
  store        an artifact store: `store ls|verify|gc [--preset P | --runs DIR] [--yes]`
  test         run the test suite exactly as CI does (the README's test command)
  invariants   check the architecture invariants (math crates pull in no burn or polars)
  bench        throughput of our sampler, scorer and training step vs the PyTorch twin: `bench [--quick]`
  seed-llvm    build the `cuda` feature offline against an installed LLVM: `seed-llvm [--llvm DIR]`
  help         print this message
";

fn main() -> ExitCode {
    // Reuse freed memory instead of faulting it in again for every tensor (about 2x on training).
    goodhart_nn::keep_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, leaving out a cause whose text the line already holds
/// (errors that print their source, as `path: source` does).
fn message(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line
}

fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        // the two tasks without options: anything after them is a mistake, not a reason to run
        Some(task @ ("test" | "invariants")) if args.len() > 1 => {
            let what =
                if task == "test" { "runs the README's test command" } else { "checks the invariants" };
            bail!("`cargo xtask {task}` takes no options ({what}); got {:?}", &args[1..])
        }
        Some("test") => cargo(&TEST_COMMAND[1..]),
        Some("invariants") => invariants::check(),
        Some("bench") => bench::run(&args[1..]),
        Some("seed-llvm") => seed_llvm::run(&args[1..]),
        Some("reproduce") => reproduce::run(&args[1..]),
        Some("verify") => verify::run(&args[1..]),
        Some("analyze") => analyze::run(&args[1..]),
        Some("store") => store::run(&args[1..]),
        Some("run-cell") => reproduce::run_cell(&args[1..]),
        Some("collect") => reproduce::run(&args[1..]),
        Some("help" | "-h" | "--help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown task `{other}`\n\n{USAGE}"),
    }
}

/// Runs `cargo <args>` from the workspace root and fails if it fails.
/// The README's test command, what CI runs (`goodhart-py` is built and tested as a wheel).
pub(crate) const TEST_COMMAND: [&str; 5] = ["cargo", "test", "--workspace", "--exclude", "goodhart-py"];

pub(crate) fn cargo(args: &[&str]) -> Result<()> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("could not run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

pub(crate) fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    /// `cargo xtask test` runs exactly the README's test command (which the docs test keeps
    /// equal to CI's).
    #[test]
    fn the_test_task_runs_the_readmes_test_command() {
        let readme = std::fs::read_to_string(super::workspace_root().join("README.md")).unwrap();
        let command = super::TEST_COMMAND.join(" ");
        assert!(readme.lines().any(|l| l.trim() == command), "README has no line `{command}`");
    }
}
