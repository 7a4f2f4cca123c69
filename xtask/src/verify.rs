//! `cargo xtask verify <target> | all`: checks reproduced results against the paper's findings.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use goodhart_findings::checks::{across_seeds, fig1_checks, Check};
use goodhart_repro::fig1::Fig1;
use goodhart_repro::targets::{checked, checks_file, Checked, Target};

use crate::reproduce::{default_out, results_label};

pub const USAGE: &str = "\
usage: cargo xtask verify <target>|all [--preset tiny|laptop|paper] [--gold learned|rubric] [--seed S]
                                      [--out DIR]

Reads the results `cargo xtask reproduce <target>` wrote and checks the paper's findings, one line
per check with its number, named by finding (F1 .. F9); exits non-zero if any check fails or a
target that carries checks has no results. A check that does not apply to these results (say, a
preset too small for it) prints N/A and why, and neither passes nor fails.

  --markdown   print the verdicts over seeds as Markdown tables, one row per check (for docs)
  --explain    print every check's definition (docs/checks.md): what it reads, when it passes or
               is N/A, and the unit test whose counter-example fails it
  --gold G     the results of `reproduce <target> --gold G` (rubric: the rubric as gold,
               results/<target>/<preset>-gold-rubric)
  --seed S     the results of `reproduce <target> --seed S` (results/<target>/<preset>/seed-S).
               Settings were chosen on seed 0: report verdicts from another seed
  --out DIR    where the results are (for `all`: DIR/<target>, as `reproduce all --out DIR`
               writes them)

fig1 results that hold seeds (`reproduce fig1 --seeds K`) are verified on seeds 1 .. K-1, seed 0
shown for reference; a check is reproduced when it passes on more than half of them; F3's
best-of-n trends are then also checked pooled over those seeds, their interval resampling the
seeds (each a whole world, gold and set of proxies) and their prompts. So is any
target whose results directory holds `seed-1/`, `seed-2/` .. (where `reproduce <target> --seed S`
writes by default).

targets with checks:
  fig1     F1 every proxy size's gold curve gets a verdict, proxy pulls away; F2 R^2 of the fits;
           F3 alpha_bon, d*, R* up and beta_bon, beta_RL down with RM size; F4 RL spends more KL
  fig7     F6 the larger policy gains less and peaks at about the same KL (best-of-n and PPO)
  fig8     F8 alpha_bon(gold) / alpha_bon(proxy) against the slope of gold on proxy
  fig9     F7 a KL penalty stops earlier on the same gold-vs-KL frontier
  fig13    F5 one epoch on 4D beats four epochs on D
  fig21    F5 more data, more gold; RMs at chance below a threshold
  fig26    F2 the accepted forms extrapolate better than the rejected ones
  iterated F9 k rounds beat one round at the same measured distance and label budget, by the
           paper's beta d ln k
  controls no fall without Goodhart (optimising the gold; every mechanism off)
  gold-controls  the gold controls alone (optimising the gold), without the second world
";

/// Every check's definition (docs/checks.md), for `verify --explain`.
const CHECKS: &str = include_str!("../../docs/checks.md");

struct Args {
    target: String,
    preset: String,
    gold: goodhart_repro::config::GoldKind,
    seed: u64,
    out: Option<PathBuf>,
    /// Print each target's verdicts over seeds as a Markdown table (one row per check).
    markdown: bool,
}

fn parse(args: &[String]) -> Result<Args> {
    let mut a = Args {
        target: String::new(),
        preset: "laptop".into(),
        gold: Default::default(),
        seed: 0,
        out: None,
        markdown: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--preset" => a.preset = it.next().context("--preset needs a value")?.clone(),
            "--out" => a.out = Some(it.next().context("--out needs a value")?.into()),
            "--gold" => a.gold = it.next().context("--gold needs a value")?.parse()?,
            "--seed" => {
                let v = it.next().context("--seed needs a value")?;
                a.seed = v.parse().with_context(|| format!("--seed {v}: give a whole number, 0 or more"))?;
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--markdown" => a.markdown = true,
            "--explain" => {
                print!("{CHECKS}");
                std::process::exit(0);
            }
            flag if flag.starts_with('-') => bail!("unknown option {flag}\n\n{USAGE}"),
            t if a.target.is_empty() => a.target = t.to_string(),
            extra => bail!("unexpected argument {extra}\n\n{USAGE}"),
        }
    }
    if a.target.is_empty() {
        bail!("which target?\n\n{USAGE}");
    }
    Ok(a)
}

/// What one target's verification found.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    not_applicable: usize,
    not_run: Vec<String>,
    /// Missing results are an error rather than a "not run" line.
    strict: bool,
    /// Verdicts over seeds as Markdown table rows.
    markdown: bool,
}

impl Tally {
    fn not_run(&mut self, target: &str, path: &Path, reproduce: &str) -> Result<()> {
        if self.strict {
            bail!("{}: no results to verify; run {reproduce} first", path.display());
        }
        println!("NOT RUN  {target}: no {} ({reproduce} writes it)", path.display());
        self.not_run.push(target.to_string());
        Ok(())
    }

    /// Verdicts over seeds 1.. (`seeds`), seed 0's checks (`reference`) shown beside them: a
    /// check is reproduced when it passes on more than half of the seeds.
    fn add_seeds(&mut self, dir: &Path, reference: &[Check], seeds: &[(u64, Vec<Check>)]) {
        let reference_note = if reference.is_empty() {
            "settings were chosen on seed 0, not run here"
        } else {
            "settings were chosen on seed 0, shown for reference"
        };
        let ids: Vec<u64> = seeds.iter().map(|(s, _)| *s).collect();
        let listed: Vec<String> = ids.iter().map(u64::to_string).collect();
        println!("verdicts on seeds {} ({reference_note}): {}", listed.join(", "), dir.display());
        let has_reference = !reference.is_empty();
        if self.markdown {
            let columns: Vec<String> = has_reference
                .then(|| "seed 0 (ref)".to_string())
                .into_iter()
                .chain(ids.iter().map(|s| format!("seed {s}")))
                .collect();
            println!("\n| check | {} | over seeds |", columns.join(" | "));
            println!("|---|{}---|", "---|".repeat(columns.len()));
        }
        for c in &across_seeds(seeds) {
            let seed0 = reference.iter().find(|r| r.name == c.name);
            if self.markdown {
                let outcome = |r: &Check| {
                    if !r.applies {
                        "N/A"
                    } else if r.passed {
                        "pass"
                    } else {
                        "FAIL"
                    }
                };
                let first = has_reference.then(|| seed0.map_or("-", outcome));
                println!("{}", c.markdown_row(&ids, first));
            } else {
                print!("{c}");
                if let Some(r) = seed0 {
                    println!(
                        "    seed 0 (reference): {} {}",
                        if r.passed { "pass" } else { "fail" },
                        r.detail
                    );
                }
            }
            if c.applies_nowhere() {
                self.not_applicable += 1;
            } else if c.reproduced {
                self.passed += 1;
            } else {
                self.failed += 1;
            }
        }
    }

    fn add(&mut self, checks: &[Check]) {
        for c in checks {
            println!("{c}");
            match (c.applies, c.passed) {
                (false, _) => self.not_applicable += 1,
                (true, true) => self.passed += 1,
                (true, false) => self.failed += 1,
            }
        }
    }
}

pub fn run(args: &[String]) -> Result<()> {
    let a = parse(args)?;
    let root = crate::workspace_root();
    let targets: Vec<&'static Target> = if a.target == "all" {
        checked().filter(|t| t.in_all()).collect()
    } else if let Ok(t) = goodhart_repro::targets::target(&a.target) {
        vec![t]
    } else {
        bail!("unknown target {:?}: `cargo xtask reproduce list` shows the targets", a.target);
    };
    let mut tally = Tally { markdown: a.markdown, ..Tally::default() };
    for &t in &targets {
        let target = t.name;
        let dir = match &a.out {
            Some(dir) if targets.len() > 1 => dir.join(target),
            Some(dir) => dir.clone(),
            None => default_out(&root, target, &results_label(a.preset.clone(), a.gold, &[]), a.seed),
        };
        if targets.len() > 1 {
            println!("== {target} ({})", dir.display());
        }
        // one target without results is an error; `all` lists every target it could not check
        tally.strict = targets.len() == 1;
        verify_target(t, &dir, &a, &mut tally)?;
    }
    let total = tally.passed + tally.failed + tally.not_applicable;
    println!(
        "{total} checks: {} passed, {} failed, {} not applicable{}",
        tally.passed,
        tally.failed,
        tally.not_applicable,
        if tally.not_run.is_empty() {
            String::new()
        } else {
            format!("; not run: {}", tally.not_run.join(", "))
        }
    );
    if tally.failed > 0 || !tally.not_run.is_empty() {
        bail!("verification failed");
    }
    Ok(())
}

fn verify_target(t: &Target, dir: &Path, a: &Args, tally: &mut Tally) -> Result<()> {
    let target = t.name;
    let seed_flag = if a.seed > 0 { format!(" --seed {}", a.seed) } else { String::new() };
    let gold_flag = if a.gold.is_learned() { String::new() } else { format!(" --gold {}", a.gold) };
    let reproduce = format!("`cargo xtask reproduce {target} --preset {}{gold_flag}{seed_flag}`", a.preset);
    match t.checked {
        Checked::Fig1 => {
            let path = dir.join("fig1.json");
            if !path.exists() && !seeds_without_seed_0(dir, "fig1.json") {
                return tally.not_run(target, &path, &reproduce);
            }
            fig1(dir, &path, tally)
        }
        Checked::Controls => {
            let path = dir.join(format!("{target}.json"));
            let Some(text) = read_or_not_run(target, &path, &reproduce, tally)? else {
                return Ok(());
            };
            let c: goodhart_repro::controls::Controls = serde_json::from_str(&text).with_context(|| {
                format!("{} is not a controls result: re-run {reproduce}", path.display())
            })?;
            tally.add(&goodhart_repro::controls::controls_checks(&c));
            Ok(())
        }
        Checked::ChecksFile => {
            let file = checks_file(target);
            let path = dir.join(&file);
            let parse = |text: &str, path: &Path| -> Result<Vec<Check>> {
                serde_json::from_str(text).with_context(|| {
                    format!("{} is not a list of checks: re-run {reproduce}", path.display())
                })
            };
            let checks = if seeds_without_seed_0(dir, &file) {
                Vec::new()
            } else {
                let Some(text) = read_or_not_run(target, &path, &reproduce, tally)? else {
                    return Ok(());
                };
                parse(&text, &path)?
            };
            let read = |path: &Path| -> Result<Vec<Check>> {
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                parse(&text, path)
            };
            with_seeds(dir, &file, checks, read, tally)
        }
        Checked::No => {
            println!("{target} carries no checks of the paper's findings (`cargo xtask verify all` runs every check)");
            Ok(())
        }
    }
}

fn read_or_not_run(target: &str, path: &Path, reproduce: &str, tally: &mut Tally) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tally.not_run(target, path, reproduce)?;
            Ok(None)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The seeds 1..=64 whose results `dir` holds (`seed-S/<file>`), in order: a seed still running
/// (or never run) between two others leaves a gap, not an end.
fn seed_dirs(dir: &Path, file: &str) -> Vec<u64> {
    (1..=64).filter(|s| dir.join(format!("seed-{s}")).join(file).exists()).collect()
}

/// Whether `dir` holds results of seeds 1.. (`seed-S/<file>`) but none of seed 0: the verdicts
/// are then read from those seeds with no reference column.
fn seeds_without_seed_0(dir: &Path, file: &str) -> bool {
    !dir.join(file).exists() && !seed_dirs(dir, file).is_empty()
}

/// Figure 1's checks; across seeds 1 .. K-1 when `reproduce fig1 --seeds K` wrote them.
fn fig1(dir: &Path, path: &Path, tally: &mut Tally) -> Result<()> {
    let checks = if path.exists() { fig1_checks(&load(path)?) } else { Vec::new() };
    with_seeds(dir, "fig1.json", checks, |p| Ok(fig1_checks(&load(p)?)), tally)?;
    // F3's trends once more, pooled over the seeds with the seeds themselves resampled
    let seeds: Vec<(u64, Fig1)> = seed_dirs(dir, "fig1.json")
        .into_iter()
        .map(|s| load(&dir.join(format!("seed-{s}")).join("fig1.json")).map(|f| (s, f)))
        .collect::<Result<_>>()?;
    if seeds.len() >= 2 {
        println!("pooled over seeds 1..={} (one regression, seeds and prompts resampled):", seeds.len());
        tally.add(&goodhart_findings::checks::pooled::pooled_trends(&seeds));
    }
    Ok(())
}

/// Seed 0's `checks`, or, when `dir` holds `seed-1/<file>`, `seed-2/<file>` .. (where
/// `reproduce --seed S` and `fig1 --seeds` write), each check's verdict over those seeds.
fn with_seeds(
    dir: &Path,
    file: &str,
    checks: Vec<Check>,
    checks_of: impl Fn(&Path) -> Result<Vec<Check>>,
    tally: &mut Tally,
) -> Result<()> {
    let mut seeds = Vec::new();
    for s in seed_dirs(dir, file) {
        seeds.push((s, checks_of(&dir.join(format!("seed-{s}")).join(file))?));
    }
    if seeds.is_empty() {
        tally.add(&checks);
    } else {
        tally.add_seeds(dir, &checks, &seeds);
    }
    Ok(())
}

fn load(path: &Path) -> Result<Fig1> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a fig1 result (re-run reproduce to rewrite it)", path.display()))
}
