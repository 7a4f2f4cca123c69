//! `--launcher slurm`: figure 1's cells as Slurm array jobs on a shared run directory.
//!
//! One `sbatch --array` script per level of cells (`base`, `proxy`, `rl`; see
//! `goodhart_repro::cells`), each waiting on the previous with `--dependency=afterok`, and a last
//! `collect` job that fits, draws and writes the results exactly as a local run does. Cells whose
//! stages are already in the store are left out, so resubmitting after a failure or pre-emption
//! runs only what is missing. Every task runs this same xtask binary: the run directory and the
//! binary must be on a filesystem the compute nodes share.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use goodhart_repro::cells::{pending_cells, Level};
use goodhart_repro::{ExperimentConfig, Store};

/// `sbatch` options from the command line.
#[derive(Debug, Default, Clone)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    pub time: Option<String>,
    pub account: Option<String>,
    pub gpus_per_task: Option<String>,
    pub cpus_per_task: Option<String>,
}

/// What to launch.
pub struct Launch<'a> {
    pub target: &'a goodhart_repro::targets::Target,
    pub preset: &'a str,
    pub backend: &'a str,
    pub runs: &'a Path,
    pub out: &'a Path,
    pub config: &'a ExperimentConfig,
    pub options: &'a SlurmOptions,
    pub dry_run: bool,
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
    p.canonicalize().with_context(|| format!("resolving {}", p.display()))
}

fn header(l: &Launch, name: &str, logs: &Path, array: Option<&[usize]>) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s += &format!("#SBATCH --job-name=goodhart-{}-{name}\n", l.target.name);
    match array {
        Some(cells) => {
            let ids: Vec<String> = cells.iter().map(|i| i.to_string()).collect();
            s += &format!("#SBATCH --array={}\n", ids.join(","));
            s += &format!("#SBATCH --output={}/{name}-%a.out\n", logs.display());
        }
        None => s += &format!("#SBATCH --output={}/{name}.out\n", logs.display()),
    }
    let o = l.options;
    for (flag, value) in [
        ("partition", &o.partition),
        ("time", &o.time),
        ("account", &o.account),
        ("gpus-per-task", &o.gpus_per_task),
        ("cpus-per-task", &o.cpus_per_task),
    ] {
        if let Some(v) = value {
            s += &format!("#SBATCH --{flag}={v}\n");
        }
    }
    s += "set -euo pipefail\n";
    s
}

/// Writes the scripts and (unless `dry_run`) submits them; prints what it did.
pub fn launch(l: &Launch) -> Result<()> {
    if !l.target.is_fig1() {
        bail!(
            "--launcher slurm runs fig1's cells; for {} launch fig1 first, then run `cargo xtask reproduce {}` \
             on the same --runs (its own sweep stages run in that process)",
            l.target.name,
            l.target.name
        );
    }
    let runs = absolute(l.runs)?;
    let out = absolute(l.out)?;
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let dir = runs.join("slurm").join(format!("{}-{stamp}", l.target.name));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let store = Store::new(&runs);
    let common = format!("--preset {} --runs {} --backend {}", l.preset, quote(&runs), l.backend);
    let mut scripts = Vec::new();
    for level in Level::ALL {
        let cells = pending_cells(l.config, &store, level);
        let level = level.name();
        if cells.is_empty() {
            println!("{level}: every cell is in the store, skipped");
            continue;
        }
        let mut s = header(l, level, &dir, Some(&cells));
        s += &format!(
            "exec {} run-cell {} {level} \"$SLURM_ARRAY_TASK_ID\" {common}\n",
            quote(&exe),
            l.target.name
        );
        scripts.push((level.to_string(), cells.len(), s));
    }
    let mut collect = header(l, "collect", &dir, None);
    collect += &format!("exec {} reproduce {} {common} --out {}\n", quote(&exe), l.target.name, quote(&out));
    scripts.push(("collect".into(), 1, collect));

    let mut previous: Option<String> = None;
    let mut ids = Vec::new();
    for (name, cells, text) in &scripts {
        let path = dir.join(format!("{name}.sbatch"));
        goodhart_core::write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        if l.dry_run {
            println!(
                "# {} ({cells} task(s)){}\n{text}",
                path.display(),
                previous.as_ref().map_or(String::new(), |p| format!(", after {p}"))
            );
            previous = Some(name.clone());
            continue;
        }
        let mut cmd = Command::new("sbatch");
        cmd.arg("--parsable");
        if let Some(p) = &previous {
            cmd.arg(format!("--dependency=afterok:{p}"));
        }
        let output = cmd.arg(&path).output().context("running sbatch: is Slurm installed and on PATH?")?;
        if !output.status.success() {
            bail!("sbatch {} failed: {}", path.display(), String::from_utf8_lossy(&output.stderr).trim());
        }
        let id = String::from_utf8_lossy(&output.stdout).trim().split(';').next().unwrap_or("").to_string();
        println!("submitted {name}: job {id} ({cells} task(s))");
        ids.push(id.clone());
        previous = Some(id);
    }
    if l.dry_run {
        println!("dry run: scripts written to {}, nothing submitted", dir.display());
    } else {
        println!("follow with: squeue -j {}", ids.join(","));
        println!("logs in {}; results will be in {}", dir.display(), out.display());
        println!("after a failure or pre-emption, run the same command again: finished cells are skipped");
        goodhart_core::write_atomic(&dir.join("jobs.txt"), ids.join("\n").as_bytes())?;
    }
    Ok(())
}
