//! `cargo xtask store ls | verify | gc`: what an artifact store holds, whether it is intact, and
//! removing what no run uses.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use goodhart_repro::plan::fig1_plan;
use goodhart_repro::store::integrity::Health;
use goodhart_repro::store::inventory::{Entry, Kind};
use goodhart_repro::store::StageCost;
use goodhart_repro::{ExperimentConfig, Store, PRESETS};

pub const USAGE: &str = "\
usage: cargo xtask store ls|verify|gc [--preset P | --runs DIR] [--yes]

  ls       every stage of the store: stage, key, status, size, age
  verify   checks every file of every stage against the size and SHA-256 that stage.json
           recorded when it was written; exits 1 if any stage is damaged (the next run that needs
           a damaged stage moves it aside to <key>.damaged and recomputes it)
  gc       lists what no run uses: stages whose keys no preset's figure 1 plan holds and no run
           recorded (each `reproduce` records the keys it used in <store>/refs/), partial
           directories no process is writing, damaged copies, checkpoints of finished or
           unreferenced PPO runs; deletes them with --yes. Run the targets you want to keep once
           first (cached, seconds) if the store predates refs/

  --preset P   the store of preset P, runs/<P> (default laptop)
  --runs DIR   another store
";

fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn human_age(s: f64) -> String {
    match s {
        s if s >= 86_400.0 => format!("{:.0} d", s / 86_400.0),
        s if s >= 3_600.0 => format!("{:.0} h", s / 3_600.0),
        s if s >= 60.0 => format!("{:.0} min", s / 60.0),
        s => format!("{s:.0} s"),
    }
}

fn status(e: &Entry) -> String {
    match &e.kind {
        Kind::Stage(Health::Complete) => "ok".into(),
        Kind::Stage(Health::Unchecked) => "ok (no checksums: written before they were recorded)".into(),
        Kind::Stage(Health::Missing) => "incomplete (no stage.json)".into(),
        Kind::Stage(Health::Damaged(why)) => format!("DAMAGED: {why}"),
        Kind::Partial => "partial (being written, or left by an interrupted run)".into(),
        Kind::Damaged => "damaged copy, moved aside".into(),
        Kind::Checkpoints => "PPO checkpoints".into(),
    }
}

pub fn run(args: &[String]) -> Result<()> {
    let Some(command) = args.first() else { bail!("which store command?\n\n{USAGE}") };
    let (mut preset, mut runs, mut yes) = ("laptop".to_string(), None::<PathBuf>, false);
    let mut it = args[1..].iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--preset" => preset = it.next().context("--preset needs a value")?.clone(),
            "--runs" => runs = Some(it.next().context("--runs needs a value")?.into()),
            "--yes" => yes = true,
            other => bail!("unknown option {other}\n\n{USAGE}"),
        }
    }
    if !PRESETS.contains(&preset.as_str()) {
        bail!("unknown preset {preset:?}: use one of {PRESETS:?}");
    }
    let root = runs.unwrap_or_else(|| crate::workspace_root().join("runs").join(&preset));
    if !root.is_dir() {
        bail!("{} is not a store (no such directory): give --runs DIR or --preset P", root.display());
    }
    let store = Store::new(&root);
    match command.as_str() {
        "ls" => ls(&store),
        "verify" => verify(&store),
        "gc" => gc(&store, yes),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown store command {other:?}: ls, verify or gc\n\n{USAGE}"),
    }
}

/// A stage's matrix-product rate and its fraction of the rate at start, as `ls` shows them.
pub fn rate(cost: &StageCost) -> String {
    match (cost.gflops(), cost.of_peak()) {
        (Some(g), Some(f)) => {
            format!("{g:>6.1} GFLOP/s ({:>3.0}% of {:.0})", 100.0 * f, cost.peak_gflops.unwrap_or(0.0))
        }
        (Some(g), None) => format!("{g:>6.1} GFLOP/s            "),
        _ => format!("{:<27}", "(not recorded)"),
    }
}

fn ls(store: &Store) -> Result<()> {
    let entries = store.entries(false)?;
    println!("store: {}", store.root().display());
    println!(
        "{:<14} {:<17} {:>10} {:>7} {:>9}  {:<27}  status",
        "stage", "key", "size", "age", "took", "matrix products"
    );
    for e in &entries {
        let took = e.cost.as_ref().map_or("".into(), |c| format!("{:.1} s", c.seconds));
        println!(
            "{:<14} {:<17} {:>10} {:>7} {took:>9}  {}  {}",
            e.stage,
            e.key,
            human_bytes(e.bytes),
            human_age(e.age_s),
            e.cost.as_ref().map_or(format!("{:<27}", ""), rate),
            status(e)
        );
    }
    let total: u64 = entries.iter().map(|e| e.bytes).sum();
    println!("{} entries, {}", entries.len(), human_bytes(total));
    let mut timed: Vec<(&Entry, &StageCost)> =
        entries.iter().filter_map(|e| Some((e, e.cost.as_ref()?))).collect();
    timed.sort_by(|a, b| b.1.seconds.total_cmp(&a.1.seconds));
    if !timed.is_empty() {
        println!("slowest stages:");
        for (e, c) in timed.into_iter().take(5) {
            println!("  {:>8.1} s  {}  {}", c.seconds, rate(c), e.id());
        }
    }
    Ok(())
}

fn verify(store: &Store) -> Result<()> {
    let entries = store.entries(true)?;
    let count = |f: &dyn Fn(&Kind) -> bool| entries.iter().filter(|e| f(&e.kind)).count();
    for e in entries.iter().filter(|e| matches!(e.kind, Kind::Stage(Health::Damaged(_)))) {
        println!("DAMAGED  {}: {}", e.id(), status(e));
    }
    let ok = count(&|k| *k == Kind::Stage(Health::Complete));
    let unchecked = count(&|k| *k == Kind::Stage(Health::Unchecked));
    let damaged = count(&|k| matches!(k, Kind::Stage(Health::Damaged(_))));
    println!(
        "{}: {ok} stages intact (every file's size and SHA-256), {unchecked} without checksums (written before they were recorded), {damaged} damaged",
        store.root().display()
    );
    if damaged > 0 {
        bail!("{damaged} damaged stage(s): the next run that needs one moves it aside and recomputes it");
    }
    Ok(())
}

/// The keys some preset's figure 1 plan or some recorded run holds.
fn wanted(store: &Store) -> Result<BTreeSet<String>> {
    let mut keys = store.referenced()?;
    for preset in PRESETS {
        let config = ExperimentConfig::preset(preset)?;
        for s in fig1_plan(&config, store) {
            keys.insert(format!("{}/{}", s.stage, s.key));
            if let Some(old) = s.legacy_key {
                keys.insert(format!("{}/{old}", s.stage));
            }
        }
    }
    Ok(keys)
}

fn gc(store: &Store, yes: bool) -> Result<()> {
    let wanted = wanted(store)?;
    let unwanted = |e: &Entry| match &e.kind {
        Kind::Stage(_) => !wanted.contains(&e.id()),
        Kind::Partial | Kind::Damaged => true,
        // an unfinished run's checkpoints are wanted while its key is and it is not complete
        Kind::Checkpoints => {
            let rl = format!("rl/{}", e.key);
            !wanted.contains(&rl) || store.is_done(goodhart_repro::Stage::Rl, &e.key)
        }
    };
    let entries = store.entries(false)?;
    let doomed: Vec<&Entry> = entries.iter().filter(|e| unwanted(e)).collect();
    let total: u64 = doomed.iter().map(|e| e.bytes).sum();
    for e in &doomed {
        let verb = if yes { "deleting" } else { "would delete" };
        println!("{verb} {:<32} {:>10}  {}", e.id(), human_bytes(e.bytes), status(e));
    }
    if !yes {
        println!(
            "{} of {} entries ({}) are used by no preset's figure 1 and no recorded run; `store gc --yes` deletes them",
            doomed.len(),
            entries.len(),
            human_bytes(total)
        );
        return Ok(());
    }
    let (mut deleted, mut freed, mut busy) = (0, 0, 0);
    for e in doomed {
        if store.remove_entry(e)? {
            (deleted, freed) = (deleted + 1, freed + e.bytes);
        } else {
            println!("kept {} (another process holds its lock)", e.id());
            busy += 1;
        }
    }
    println!("deleted {deleted} entries, {}; kept {busy} busy ones", human_bytes(freed));
    Ok(())
}
