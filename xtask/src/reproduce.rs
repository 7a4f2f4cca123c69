//! `cargo xtask reproduce <target>`: runs a paper experiment end to end, reusing cached stages.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use goodhart_repro::report::write_fig1;
use goodhart_repro::targets::{reproduce, Target, TARGETS};
use goodhart_repro::{fig1::fig1, ExperimentConfig, Pipeline};

pub const USAGE: &str = "\
usage: cargo xtask reproduce <target> [--preset tiny|laptop|paper | --config FILE] [--set KEY=VALUE ...]
                               [--runs DIR] [--out DIR]

targets: fig1, fig2 .. fig26, table1, table2, all (`cargo xtask reproduce list` describes each)

options:
  --preset P   experiment size (default: laptop; tiny runs in seconds): the experiment file
               data/experiments/<P>.toml, built into the binary
  --config F   your own experiment file (start from a copy of data/experiments/laptop.toml); its
               results go to results/<target>/<file name>
  --gold G     learned (default: a gold RM trained on rubric labels) or rubric: the rubric itself
               as gold, the proxies' labels drawn from it by Bradley-Terry as often right as the
               learned gold's (gold.kind, gold.label_accuracy); results go to
               results/<target>/<preset>-gold-rubric
  --set K=V    override one setting by its dotted key, a TOML value: --set rl.ppo.lr=3e-4,
               --set 'proxies.sizes=[\"p1k\",\"p10k\"]' (repeatable); only the stages that read it
               are recomputed (see --dry-run); results go to results/<target>/<preset>-set-<hash>
  --runs DIR   artifact store shared by all targets (default: runs/<preset>, or
               runs/<preset>-<backend> off the CPU: stages do not record the backend)
  --out DIR    where results go (default: results/<target>/<preset>)
  --seed S     run seed S instead of seed 0 (any target): a seed resamples everything as in
               --seeds; results go to results/<target>/<preset>/seed-S unless --out is given.
               Settings were chosen on seed 0, so report verdicts from other seeds
  --seeds K    fig1 over K seeds, curves and coefficients aggregated with error bars (default 1);
               a seed resamples everything: world corpus, initial policy, gold, proxy LMs,
               proxy data, proxies, pools and PPO (the prompt split stays fixed)
  --resample optimisation
               with --seeds: resample only proxy data, proxies, pools and PPO (cheaper; world,
               policy, gold and proxy LMs shared by every seed)
  --backend B  cpu (default), or wgpu / cuda when built with that cargo feature:
               `cargo run -p xtask --features wgpu -- reproduce fig1 --backend wgpu`
  --jobs N     compute up to N of figure 1's independent stages at once (fig1 and the targets
               read off it), the cores shared between them (default: one per core, each
               on one thread); results are the same for every N
  --dry-run    print the plan (stages, cached or not, typical time) and its critical path (the
               least wall time with unlimited cores), and compute nothing; with
               --launcher slurm, write and print the sbatch scripts without submitting
  --launcher L local (default: this process) or slurm: fig1's cells as sbatch array jobs on the
               shared --runs directory, then a collect job; Slurm options: --partition P
               --time T --account A --gpus-per-task N --cpus-per-task N
";

struct Args {
    target: String,
    preset: String,
    config: Option<PathBuf>,
    sets: Vec<String>,
    gold: goodhart_repro::config::GoldKind,
    runs: Option<PathBuf>,
    out: Option<PathBuf>,
    dry_run: bool,
    seeds: u64,
    seed: u64,
    resample: goodhart_repro::seeds::Resample,
    backend: String,
    launcher: String,
    slurm: crate::slurm::SlurmOptions,
    jobs: usize,
}

fn parse(args: &[String]) -> Result<Args> {
    let mut it = args.iter();
    let mut a = Args {
        target: String::new(),
        preset: "laptop".into(),
        config: None,
        sets: Vec::new(),
        gold: Default::default(),
        runs: None,
        out: None,
        dry_run: false,
        seeds: 1,
        seed: 0,
        resample: goodhart_repro::seeds::Resample::All,
        backend: "cpu".into(),
        launcher: "local".into(),
        slurm: Default::default(),
        jobs: goodhart_repro::schedule::default_jobs(cores()),
    };
    while let Some(arg) = it.next() {
        let mut value =
            |name: &str| it.next().cloned().with_context(|| format!("{name} needs a value\n\n{USAGE}"));
        match arg.as_str() {
            "--preset" => a.preset = value("--preset")?,
            "--config" => a.config = Some(value("--config")?.into()),
            "--set" => a.sets.push(value("--set")?),
            "--gold" => a.gold = value("--gold")?.parse()?,
            "--runs" => a.runs = Some(value("--runs")?.into()),
            "--out" => a.out = Some(value("--out")?.into()),
            "--dry-run" => a.dry_run = true,
            "--backend" => a.backend = value("--backend")?,
            "--launcher" => a.launcher = value("--launcher")?,
            "--partition" => a.slurm.partition = Some(value("--partition")?),
            "--time" => a.slurm.time = Some(value("--time")?),
            "--account" => a.slurm.account = Some(value("--account")?),
            "--gpus-per-task" => a.slurm.gpus_per_task = Some(value("--gpus-per-task")?),
            "--cpus-per-task" => a.slurm.cpus_per_task = Some(value("--cpus-per-task")?),
            "--resample" => {
                a.resample = match value("--resample")?.as_str() {
                    "all" => goodhart_repro::seeds::Resample::All,
                    "optimisation" | "optimization" => goodhart_repro::seeds::Resample::Optimisation,
                    other => bail!("--resample {other}: use all (the default) or optimisation"),
                }
            }
            "--jobs" => {
                let v = value("--jobs")?;
                a.jobs = v
                    .parse()
                    .ok()
                    .filter(|j| *j >= 1)
                    .with_context(|| format!("--jobs {v}: give a whole number of jobs, 1 or more"))?;
            }
            "--seed" => {
                let v = value("--seed")?;
                a.seed = v.parse().with_context(|| format!("--seed {v}: give a whole number, 0 or more"))?;
            }
            "--seeds" => {
                let v = value("--seeds")?;
                a.seeds = v
                    .parse()
                    .ok()
                    .filter(|k| *k >= 1)
                    .with_context(|| format!("--seeds {v}: give a whole number of seeds, 1 or more"))?;
            }
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
    if a.seed > 0 && a.seeds > 1 {
        bail!("--seed {} and --seeds {}: give one (--seeds K runs seeds 0..K)", a.seed, a.seeds);
    }
    Ok(a)
}

/// Says what the matrix products multiply in, and why when it is not what was asked.
pub(crate) fn report_precision(requested: goodhart_nn::Precision) {
    let effective = goodhart_core::precision::current();
    match (requested, goodhart_nn::bf16::unit()) {
        (goodhart_nn::Precision::Bf16, Some(unit)) => eprintln!("precision: bf16 on {unit}, fp32 accumulation"),
        (goodhart_nn::Precision::Bf16, None) => eprintln!(
            "precision: {effective}: bf16 was asked for, but this CPU has neither AMX nor AVX512-BF16 (the numbers and stage keys are f32's)"
        ),
        _ => eprintln!("precision: {effective}"),
    }
}

/// The cores this process may use.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Computes figure 1's stages that are not in the store yet, up to `jobs` at once, and says how
/// long they took; the targets then read them from the store.
fn precompute(pipeline: &Pipeline, jobs: usize) -> Result<()> {
    let plan = goodhart_repro::plan::fig1_plan(&pipeline.config, &pipeline.store);
    let todo = plan.iter().filter(|s| !s.cached).count();
    if todo == 0 {
        return Ok(());
    }
    let cores = cores();
    let jobs = jobs.min(todo);
    let threads = goodhart_repro::schedule::threads_per_job(cores, jobs);
    if jobs > 1 {
        eprintln!("computing {todo} stages, up to {jobs} at once (threads per job: {threads:?})");
    }
    // the shares differ by at most one thread, largest first: each count once
    let mut counts = threads;
    counts.dedup();
    let peaks: Vec<(usize, f64)> = counts.into_iter().map(|t| (t, matmul_peak(t))).collect();
    let rates: Vec<String> = peaks.iter().map(|(t, g)| format!("{g:.0} GFLOP/s on {t} thread(s)")).collect();
    eprintln!("matrix product at start: {}", rates.join(", "));
    let scheduled = Pipeline { store: pipeline.store.clone().with_matmul_peaks(peaks), ..pipeline.clone() };
    let t = goodhart_repro::schedule::run_plan(&scheduled, &plan, jobs, cores, &crate::progress::jobs())?;
    let busy: f64 = t.stages.iter().map(|(_, _, s)| s).sum();
    eprintln!(
        "{} stages in {:.0} s with {jobs} job{} ({busy:.0} s of stage time, {:.2} at once on average)",
        t.stages.len(),
        t.wall_s,
        if jobs == 1 { "" } else { "s" },
        busy / t.wall_s.max(1e-9)
    );
    let mut slowest = t.stages.clone();
    slowest.sort_by(|a, b| b.2.total_cmp(&a.2));
    eprintln!("slowest stages (matrix products' rate over the stage, and of the rate at start):");
    for (i, _, seconds) in slowest.into_iter().take(5) {
        let cost = pipeline.store.cost(plan[i].stage, &plan[i].key).unwrap_or_default();
        eprintln!("  {seconds:>7.1} s  {}  {}", crate::store::rate(&cost), plan[i].what);
    }
    Ok(())
}

/// The matrix product's rate on `threads` threads now, in GFLOP/s: a 2048 x 384 x 384 product
/// (the size of a laptop model's layer over a batch), the median of 15 after 3 to warm up.
fn matmul_peak(threads: usize) -> f64 {
    let (m, n, k) = (2048, 384, 384);
    let a: Vec<f32> = (0..m * k).map(|i| ((i % 97) as f32 - 48.0) * 1e-2).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i % 89) as f32 - 44.0) * 1e-2).collect();
    let mut out = vec![0.0f32; m * n];
    let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() else { return f64::NAN };
    let mut times: Vec<f64> = pool.install(|| {
        (0..18)
            .map(|_| {
                let t = Instant::now();
                goodhart_nn::fused::matmul(m, n, k, &a, &b, &mut out);
                t.elapsed().as_secs_f64()
            })
            .skip(3)
            .collect()
    });
    times.sort_by(f64::total_cmp);
    2.0 * (m * n * k) as f64 / times[times.len() / 2] / 1e9
}

/// The experiment the arguments name, and the label of its results folder: the preset's name,
/// or the experiment file's name, with `-set-<hash>` when settings are overridden.
fn experiment(a: &Args) -> Result<(ExperimentConfig, String)> {
    let (base, label) = match &a.config {
        Some(path) => {
            let stem = path.file_stem().map_or("config".into(), |s| s.to_string_lossy().into_owned());
            (ExperimentConfig::from_file(path)?, stem)
        }
        None => (ExperimentConfig::preset(&a.preset)?, a.preset.clone()),
    };
    // the rubric as gold needs no teaching: the experiment's gold rounds do not apply to it
    let mut base = base;
    if !a.gold.is_learned() {
        base.gold.rounds = None;
    }
    // the gold's overrides first: a --set of the same key wins
    let sets: Vec<String> = a.gold.overrides().into_iter().chain(a.sets.iter().cloned()).collect();
    let config = base.with_overrides(&sets)?.with_seed_resampling(a.seed, a.resample);
    Ok((config, results_label(label, a.gold, &a.sets)))
}

/// The results folder's name: the preset's or the experiment file's name, `-gold-rubric` with
/// the rubric as gold, and `-set-<hash>` when settings are overridden.
pub fn results_label(base: String, gold: goodhart_repro::config::GoldKind, sets: &[String]) -> String {
    let mut label = base;
    if !gold.is_learned() {
        label.push_str(&format!("-gold-{gold}"));
    }
    if !sets.is_empty() {
        label.push_str(&format!("-set-{}", &goodhart_repro::store::hash_of("set", &sets)[..8]));
    }
    label
}

/// `runs/<preset>` on the CPU, `runs/<preset>-<backend>` otherwise: stage keys name settings, not
/// the backend, and floats differ across backends, so each backend gets its own default store.
fn default_runs(root: &std::path::Path, a: &Args, config: &ExperimentConfig) -> PathBuf {
    // an experiment file or --set shares its preset's store: unchanged stages are reused
    match a.backend.as_str() {
        "cpu" | "flex" => root.join("runs").join(&config.preset),
        other => root.join("runs").join(format!("{}-{other}", config.preset)),
    }
}

pub fn run(args: &[String]) -> Result<()> {
    let a = parse(args)?;
    let (config, label) = experiment(&a)?;
    let root = crate::workspace_root();
    let runs = a.runs.clone().unwrap_or_else(|| default_runs(&root, &a, &config));
    let started = Instant::now();
    let config_json = serde_json::to_string_pretty(&config)?;
    if a.target == "list" {
        for t in TARGETS {
            println!("{:<8} {}", t.name, t.what);
        }
        return Ok(());
    }
    let targets: Vec<&'static Target> = if a.target == "all" {
        TARGETS.iter().filter(|t| t.in_all()).collect()
    } else if let Ok(t) = goodhart_repro::targets::target(&a.target) {
        vec![t]
    } else {
        bail!("unknown target {:?}: `cargo xtask reproduce list` shows the targets\n\n{USAGE}", a.target);
    };
    let backend: goodhart_nn::Backend = a.backend.parse()?;
    let pipeline = Pipeline::new(config, &runs, backend.device()?).with_reporter(crate::progress::terminal());
    eprintln!("backend: {backend} (compiled in: {:?})", goodhart_nn::Backend::compiled());
    report_precision(pipeline.config.precision);
    match a.launcher.as_str() {
        "local" => {}
        "slurm" => {
            if a.seed > 0 {
                bail!(
                    "--seed with --launcher slurm: the sbatch scripts run seed 0 only; run seed {} locally",
                    a.seed
                );
            }
            let out = a.out.clone().unwrap_or_else(|| root.join("results").join(&a.target).join(&label));
            let [target] = targets[..] else {
                bail!("--launcher slurm runs one target; `all` runs locally");
            };
            return crate::slurm::launch(&crate::slurm::Launch {
                target,
                preset: &a.preset,
                backend: &a.backend,
                runs: &runs,
                out: &out,
                config: &pipeline.config,
                options: &a.slurm,
                dry_run: a.dry_run,
            });
        }
        other => bail!("unknown launcher {other:?}: local or slurm"),
    }
    if a.dry_run {
        return dry_run(&pipeline, &targets, a.jobs);
    }
    if a.seeds > 1 {
        if !matches!(targets[..], [t] if t.is_fig1()) {
            bail!("--seeds applies to fig1 (its sweeps have no seed axis yet): `cargo xtask reproduce fig1 --seeds {}`", a.seeds);
        }
        let out = a
            .out
            .clone()
            .unwrap_or_else(|| root.join("results").join(goodhart_repro::targets::FIG1).join(&label));
        return seeds(&pipeline, a.seeds, a.resample, &out, &runs, &label, started, a.jobs);
    }
    if targets.iter().any(|t| t.reads_fig1()) {
        precompute(&pipeline, a.jobs)?;
    }
    for &t in &targets {
        let target = t.name;
        let out = match &a.out {
            Some(dir) if targets.len() > 1 => dir.join(target),
            Some(dir) => dir.clone(),
            None => default_out(&root, target, &label, a.seed),
        };
        let _results = lock_results(&out)?;
        one(t, &pipeline, &out, &config_json)?;
        // the keys this run used, so that `store gc` keeps them
        pipeline.store.write_refs(&format!("{target}-{label}-seed{}", a.seed))?;
        eprintln!("{target}: results in {}", out.display());
    }
    eprintln!("done in {:.1?}", started.elapsed());
    Ok(())
}

/// Locks a results directory for this process (others writing the same one wait) and clears the
/// temporary files an interrupted run left in it.
fn lock_results(out: &std::path::Path) -> Result<std::fs::File> {
    goodhart_repro::store::lock_dir(out, || {
        eprintln!("note: another process is writing {}; waiting for it", out.display())
    })
    .with_context(|| format!("locking the results directory {}", out.display()))
}

/// `results/<target>/<preset>`, and its `seed-S` folder for a seed S > 0 (where `--seeds` puts
/// seed S too, and where `verify` looks).
pub fn default_out(root: &std::path::Path, target: &str, preset: &str, seed: u64) -> PathBuf {
    let dir = root.join("results").join(target).join(preset);
    if seed == 0 {
        dir
    } else {
        dir.join(format!("seed-{seed}"))
    }
}

#[allow(clippy::too_many_arguments)]
/// fig1 for seeds 0..k on the same store: seed 0 in `out`, seed s in `out/seed-s`, the aggregate
/// in `out/fig1_seeds.*`.
fn seeds(
    pipeline: &Pipeline,
    k: u64,
    resample: goodhart_repro::seeds::Resample,
    out: &std::path::Path,
    runs: &std::path::Path,
    label: &str,
    started: Instant,
    jobs: usize,
) -> Result<()> {
    use goodhart_repro::seeds::{aggregate, figure, markdown};
    let _results = lock_results(out)?;
    let mut figs = Vec::new();
    let ids: Vec<u64> = (0..k).collect();
    for &s in &ids {
        eprintln!("== seed {s} of {k}");
        let config = pipeline.config.with_seed_resampling(s, resample);
        let config_json = serde_json::to_string_pretty(&config)?;
        let p = Pipeline::new(config, runs, pipeline.device.clone()).with_reporter(pipeline.reporter.clone());
        precompute(&p, jobs)?;
        let fig = fig1(&p)?;
        let dir = if s == 0 { out.to_path_buf() } else { out.join(format!("seed-{s}")) };
        write_fig1(&dir, &fig, &config_json)?;
        p.store.write_refs(&format!("{}-{label}-seed{s}", goodhart_repro::targets::FIG1))?;
        figs.push(fig);
    }
    let agg = aggregate(&ids, resample, &figs);
    let text = markdown(&agg);
    let write = |name: &str, body: &str| {
        goodhart_core::write_atomic(&out.join(name), body.as_bytes())
            .with_context(|| format!("writing {name}"))
    };
    write("fig1_seeds.md", &text)?;
    write("fig1_seeds.json", &serde_json::to_string_pretty(&agg)?)?;
    let fig = figure(&agg);
    goodhart_plot::write_svg(&fig, &out.join("fig1_seeds.svg"))?;
    goodhart_plot::write_png(&fig, &out.join("fig1_seeds.png"))?;
    print!("{text}");
    eprintln!("done in {:.1?}: results in {}", started.elapsed(), out.display());
    Ok(())
}

fn dry_run(pipeline: &Pipeline, targets: &[&Target], jobs: usize) -> Result<()> {
    let plan = goodhart_repro::plan::fig1_plan(&pipeline.config, &pipeline.store);
    println!("store: {}", pipeline.store.root().display());
    println!("{:<11} {:<17} {:<9} {:>9}  what", "stage", "key", "status", "typical");
    for s in &plan {
        let status = if s.cached { "cached" } else { "compute" };
        let typical = s.estimate_s.map_or("?".into(), |t| format!("{t:.0} s"));
        println!("{:<11} {:<17} {:<9} {:>9}  {}", s.stage, s.key, status, typical, s.what);
    }
    let todo = plan.iter().filter(|s| !s.cached).filter_map(|s| s.estimate_s).sum::<f64>() + 0.0;
    let unknown = plan.iter().filter(|s| !s.cached && s.estimate_s.is_none()).count();
    println!(
        "{} of {} stages to compute, ~{todo:.0} s from this store's timings{}",
        plan.iter().filter(|s| !s.cached).count(),
        plan.len(),
        if unknown > 0 { format!(" plus {unknown} never timed here") } else { String::new() }
    );
    let cp = goodhart_repro::schedule::critical_path(&plan);
    if !cp.stages.is_empty() {
        let chain: Vec<String> = cp
            .stages
            .iter()
            .map(|&i| format!("{} ({:.0} s)", plan[i].what, plan[i].estimate_s.unwrap_or(0.0)))
            .collect();
        println!("critical path, the least wall time with unlimited cores: ~{:.0} s", cp.seconds);
        println!("  {}", chain.join("\n  -> "));
        println!(
            "with --jobs N: at least max(critical path, work / N) = ~{:.0} s for N = {jobs}, ~{:.0} s for N = 4 \
             (stages sharing the cores each run slower)",
            cp.bound_with(jobs),
            cp.bound_with(4)
        );
    }
    let others: Vec<&&Target> = targets.iter().filter(|t| !t.is_fig1()).collect();
    if !others.is_empty() {
        println!("figure 1's stages serve every target; these add their sweeps' stages on demand:");
        for t in others {
            println!("  {:<8} {}", t.name, t.what);
        }
    }
    Ok(())
}

fn one(t: &Target, pipeline: &Pipeline, out: &std::path::Path, config_json: &str) -> Result<()> {
    // every target, figure 1 included, through one output: written, then its summary printed
    let result = reproduce(t, pipeline)?;
    result.write(out, config_json)?;
    print!("{}", result.summary);
    Ok(())
}

/// `cargo xtask run-cell fig1 <level> <index> [--preset P] [--runs DIR] [--backend B]`: one cell of
/// figure 1 (what a Slurm array task runs).
pub fn run_cell(args: &[String]) -> Result<()> {
    let [target, level, index, rest @ ..] = args else {
        bail!("usage: cargo xtask run-cell fig1 <base|proxy|rl> <index> [--preset P] [--runs DIR] [--backend B]");
    };
    if !goodhart_repro::targets::target(target).is_ok_and(|t| t.is_fig1()) {
        bail!("run-cell: only fig1 has cells, got {target:?}");
    }
    let mut forwarded = vec![target.clone()];
    forwarded.extend(rest.iter().cloned());
    let a = parse(&forwarded)?;
    let (config, _) = experiment(&a)?;
    let runs = a.runs.clone().unwrap_or_else(|| default_runs(&crate::workspace_root(), &a, &config));
    let backend: goodhart_nn::Backend = a.backend.parse()?;
    let pipeline = Pipeline::new(config, &runs, backend.device()?).with_reporter(crate::progress::terminal());
    let index: usize = index.parse().with_context(|| format!("cell index {index:?} is not a number"))?;
    let started = Instant::now();
    let level: goodhart_repro::cells::Level = level.parse()?;
    goodhart_repro::cells::run_cell(&pipeline, level, index)?;
    eprintln!("cell {level}/{index} done in {:.1?}", started.elapsed());
    Ok(())
}
