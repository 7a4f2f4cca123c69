//! `cargo xtask bench`: our sampler, scorer and training step against the PyTorch twin, on the same
//! weights and shapes, in one invocation (issue "Throughput").
//!
//! For each preset of [`goodhart_policy::bench`] (`small`, `medium`) it measures, in tokens per
//! second: batched KV-cache sampling ([`goodhart_policy::generate`], temperature 1, on the CPU
//! engine) at B = 1, 64 and 256, and at B = 64 on burn's own KV cache (`generate_burn`, the path the
//! engine replaced); the forward pass used for scoring on 64 x 64 tokens, on the engine and on burn;
//! and one training step on 64 x 64 tokens
//! ([`goodhart_policy::lm_train_step`]: forward, cross-entropy, backward, global-norm clipping,
//! AdamW) on the autodiff device. It exports the same weights with a parity reference
//! (`target/goodhart-bench/<preset>.safetensors`), runs `benches/torch_twin.py --json` on them (the
//! twin exits with an error if its logits differ from ours, and so does this task), and prints one
//! table with the ratios ours / PyTorch.
//!
//! Timing, the same on both sides: one warm-up call, then repetitions until the per-workload budget
//! has passed (and at least a minimum number were made); the median repetition counts.
//!
//! The measurement runs in a release build: from a debug build of xtask (what `cargo xtask` runs)
//! this task re-runs itself with `cargo run --release` (with the backend's feature), unless `--here`
//! asks to measure the build at hand (on a machine without cargo, say).
//!
//! With `--backend wgpu|cuda` the same workloads run on burn on that device (the CPU engine is
//! not used there), and the twin is not run: it measures PyTorch on the CPU.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use burn::optim::AdamWConfig;
use burn::prelude::*;
use goodhart_core::SamplingSettings;
use goodhart_nn::Engine;
use goodhart_policy::bench::{self as workload, NEW_TOKENS, SAMPLE_BATCHES, SEQS, SEQ_LEN, SPECIALS};
use goodhart_policy::{generate, generate_burn, lm_train_step};
use serde_json::Value;

use crate::workspace_root;

mod roofline;

pub const USAGE: &str = "\
usage: cargo xtask bench [--quick] [--backend cpu|wgpu|cuda] [--precision f32|bf16] [--here] [--ppo]

Measures our sampler (B = 1, 64, 256), forward (64 x 64 tokens) and training step (64 x 64 tokens)
for the `small` and `medium` presets, then the PyTorch twin on the same weights, and prints the
ratios ours / PyTorch. About 2 minutes for ours and as much for PyTorch; --quick takes a fraction.

The twin runs under $GOODHART_PYTHON, else python3; without PyTorch only our numbers are printed.

  --backend B  measure on burn's wgpu or cuda backend (built with that cargo feature) instead of
               the CPU; sampling, forward and training then all run on burn, and no twin runs
  --precision P  f32 (default), or bf16 (fp32 accumulation; AMX or AVX512-BF16, an error
               elsewhere): our products in bf16, and the twin under torch.autocast(bfloat16)
  --here       measure in this build instead of re-running in a release build
  --ppo        measure only the PPO iteration (also measured, and shown, in a full run)
";

/// Largest max |logit difference| between the twin and us that still counts as the same model.
const PARITY_TOLERANCE: f64 = 1e-3;

/// How long each workload is repeated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Budget {
    /// Repetitions continue until this much time has passed...
    per_workload: Duration,
    /// ...and at least this many were made.
    min_reps: usize,
}

impl Budget {
    fn new(quick: bool) -> Self {
        if quick {
            Budget { per_workload: Duration::from_millis(1000), min_reps: 2 }
        } else {
            Budget { per_workload: Duration::from_secs(6), min_reps: 3 }
        }
    }
}

/// The timing of one workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Timing {
    median_s: f64,
    reps: usize,
}

/// One line of the table: a workload of a preset, our throughput and the twin's.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    preset: String,
    /// Key shared with the twin's JSON (`sample_b64`, `forward_64x64`, `train_64x64`).
    key: String,
    label: String,
    ours: f64,
    torch: Option<f64>,
}

impl Row {
    /// Our throughput on a workload of `tokens` tokens that took `t`, printed as it is recorded.
    fn measured(preset: &str, key: String, label: String, tokens: usize, t: Timing) -> Row {
        let ours = tokens as f64 / t.median_s;
        eprintln!(
            "  ours  {preset:<7} {label:<14} {ours:>10.0} tok/s  (median of {}, {:.1} ms)",
            t.reps,
            t.median_s * 1e3
        );
        Row { preset: preset.into(), key, label, ours, torch: None }
    }
}

pub fn run(args: &[String]) -> Result<()> {
    let (mut quick, mut here, mut ppo_only, mut backend) = (false, false, false, goodhart_nn::Backend::Cpu);
    let mut precision = goodhart_nn::Precision::F32;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--here" => here = true,
            "--ppo" => ppo_only = true,
            "--precision" => {
                let value = it.next().context("--precision needs a value: f32 or bf16")?;
                precision = value.parse().map_err(anyhow::Error::msg)?;
            }
            "--backend" => {
                backend = it.next().context("--backend needs a value: cpu, wgpu or cuda")?.parse()?
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other}\n\n{USAGE}"),
        }
    }
    if cfg!(debug_assertions) && !here {
        eprintln!("bench: measuring in a release build (cargo run --release -p xtask -- bench)");
        let mut cmd = vec!["run", "--release", "--quiet", "--package", "xtask"];
        if backend != goodhart_nn::Backend::Cpu {
            cmd.extend(["--features", backend.name()]);
        }
        cmd.extend(["--", "bench"]);
        cmd.extend(args.iter().map(String::as_str));
        return crate::cargo(&cmd);
    }
    if goodhart_nn::use_precision(precision) != precision {
        bail!("--precision bf16: this CPU has neither AMX nor AVX512-BF16 (lscpu: amx_bf16, avx512_bf16); use f32");
    }
    if precision == goodhart_nn::Precision::Bf16 && backend != goodhart_nn::Backend::Cpu {
        bail!("--precision bf16 is for the CPU backend (burn's GPU backends keep their own precision)");
    }
    let device = backend.device()?;
    let budget = Budget::new(quick);
    let dir = workspace_root().join("target/goodhart-bench");

    if ppo_only {
        let rows = vec![measure_ppo(&device, budget)?];
        println!("\n{}", format_table(&header_ours(backend), &rows));
        return Ok(());
    }
    let mut rows = Vec::new();
    let mut exported = Vec::new();
    for (name, config) in workload::presets() {
        let path = dir.join(format!("{name}.safetensors"));
        rows.extend(measure_ours(name, &config, &path, &device, budget)?);
        exported.push(path);
    }

    let ppo_row = measure_ppo(&device, budget)?;
    let mut header = header_ours(backend);
    if backend != goodhart_nn::Backend::Cpu {
        rows.push(ppo_row);
        println!("\n{}", format_table(&header, &rows));
        println!("\n(the PyTorch twin runs on the CPU, so it is compared only with `--backend cpu`)");
        return Ok(());
    }
    let python = std::env::var("GOODHART_PYTHON").unwrap_or_else(|_| "python3".into());
    match torch_missing(&python) {
        Some(why) => {
            println!("\n{}", format_table(&header, &rows));
            println!("\n{}", roofline::report(&rows, &[], budget));
            println!(
                "\nPyTorch is not available to `{python}` ({why}), so only our numbers are shown. To compare:\n  \
                 python3 -m venv .venv-bench && .venv-bench/bin/pip install torch safetensors numpy\n  \
                 GOODHART_PYTHON=.venv-bench/bin/python cargo xtask bench"
            );
        }
        None => {
            let report = run_twin(&python, &exported, budget, precision)?;
            header.extend(header_torch(&report));
            merge_twin(&mut rows, &report)?;
            println!("\n{}", format_table(&header, &rows));
            println!("\n{}", roofline::report(&rows, &twin_matmul(&report), budget));
        }
    }
    println!("{}", format_table(&[], &[ppo_row]).trim_end());
    Ok(())
}

/// Vocabulary and context of the laptop world, for the PPO row.
const PPO_VOCAB: usize = 276;
const PPO_MAX_SEQ_LEN: usize = 56;

/// One PPO iteration of the laptop preset (`PpoConfig::laptop`: 64 episodes of up to 40 tokens,
/// 4 epochs of 4 minibatches, a separate value model) on a p300k policy of the laptop world's
/// shape, against a closure reward (so the reward model's cost is not counted); tokens are
/// episodes x `max_new_tokens`.
fn measure_ppo(device: &Device, budget: Budget) -> Result<Row> {
    use goodhart_core::{FnReward, Method, Record, SplitMix64, TokenId};
    use goodhart_ppo::{PpoConfig, PpoInputs, PpoTrainer};
    let policy = goodhart_nn::GptConfig::preset("p300k", PPO_VOCAB, PPO_MAX_SEQ_LEN)?.init_gpt(device, 0);
    let config = PpoConfig::laptop();
    let mut rng = SplitMix64::new(5);
    let prompts: Vec<Vec<TokenId>> = (0..256)
        .map(|_| (0..11).map(|_| 3 + rng.next_below(PPO_VOCAB as u64 - 3) as TokenId).collect())
        .collect();
    let reward = FnReward::new("length", |_: &[Vec<TokenId>], r: &[Vec<TokenId>]| {
        r.iter().map(|r| r.len() as f64 / 40.0).collect()
    });
    let inputs = PpoInputs {
        prompts: &prompts,
        eval_prompts: &prompts[..8],
        proxy: &reward,
        gold: &reward,
        rubric: None,
        template: Record::new("bench", Method::Rl),
    };
    let mut trainer = PpoTrainer::new(config.clone(), &policy, SPECIALS)?;
    let mut failed = None;
    let t = measure(budget, || {
        if let Err(e) = trainer.train_step(&inputs) {
            failed.get_or_insert(e);
        }
    });
    if let Some(e) = failed {
        bail!("the PPO iteration failed: {e}");
    }
    let tokens = config.batch_size * config.max_new_tokens;
    Ok(Row::measured("laptop", "ppo_iteration".into(), "PPO iteration 64x40".into(), tokens, t))
}

/// Exports `config`'s seed-0 weights to `path` and measures our workloads on them on `device`
/// (on the CPU, sampling and the forward pass run on the engine, with burn's own paths beside).
fn measure_ours(
    name: &str,
    config: &goodhart_nn::GptConfig,
    path: &Path,
    device: &Device,
    budget: Budget,
) -> Result<Vec<Row>> {
    let on_cpu = *device == Device::flex();
    let device = device.clone();
    let model = config.init_gpt(&device, 0);
    // the parity reference in f32 whatever the products measured in: the twin checks its model
    // in f32 before it times anything
    let precision = goodhart_core::precision::current();
    goodhart_nn::use_precision(goodhart_nn::Precision::F32);
    let exported = model.export_twin(path, &workload::prompts(1)[0]);
    goodhart_nn::use_precision(precision);
    exported.context("exporting the weights for the PyTorch twin")?;
    let mut rows = Vec::new();
    let mut record = |key: String, label: String, tokens: usize, t: Timing| {
        rows.push(Row::measured(name, key, label, tokens, t));
    };

    let settings = SamplingSettings { max_new_tokens: NEW_TOKENS, ..Default::default() };
    for batch in SAMPLE_BATCHES {
        let prompts = workload::prompts(batch);
        let mut result = Ok(());
        let t = measure(budget, || {
            if let Err(e) = generate(&model, &prompts, &settings, SPECIALS, 0, 0, batch) {
                result = Err(e);
            }
        });
        result.context("sampling")?;
        record(format!("sample_b{batch}"), format!("sample B={batch}"), batch * NEW_TOKENS, t);
    }

    // burn's own KV-cache decoding, the path the engine replaced on the CPU (no twin row).
    if !on_cpu {
        return measure_training(name, config, &model, &device, budget, rows);
    }
    let prompts = workload::prompts(64);
    let mut result = Ok(());
    let t = measure(budget, || {
        if let Err(e) = generate_burn(&model, &prompts, &settings, SPECIALS, 0, 0, 64) {
            result = Err(e);
        }
    });
    result.context("sampling on burn")?;
    record("sample_b64_burn".into(), "sample B=64 burn".into(), 64 * NEW_TOKENS, t);

    let ids = workload::scoring_tokens(config.vocab_size);
    let engine = Engine::from_gpt(&model);
    let t = measure(budget, || {
        std::hint::black_box(engine.logits(&ids, SEQS));
    });
    record(format!("forward_{SEQS}x{SEQ_LEN}"), format!("forward {SEQS}x{SEQ_LEN}"), SEQS * SEQ_LEN, t);
    let ids: Vec<i32> = ids.iter().map(|&t| t as i32).collect();
    let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, [SEQS, SEQ_LEN]), &device);
    let t = measure(budget, || {
        model.forward(tokens.clone()).into_data();
    });
    record("forward_burn".into(), "forward burn".into(), SEQS * SEQ_LEN, t);
    measure_training(name, config, &model, &device, budget, rows)
}

/// The forward pass on burn (away from the CPU, where the engine does not run) and the training
/// step, appended to `rows`.
fn measure_training(
    name: &str,
    config: &goodhart_nn::GptConfig,
    model: &goodhart_nn::Gpt,
    device: &Device,
    budget: Budget,
    mut rows: Vec<Row>,
) -> Result<Vec<Row>> {
    let mut record = |key: String, label: String, tokens: usize, t: Timing| {
        rows.push(Row::measured(name, key, label, tokens, t));
    };
    if *device != Device::flex() {
        let ids: Vec<i32> = workload::scoring_tokens(config.vocab_size).iter().map(|&t| t as i32).collect();
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, [SEQS, SEQ_LEN]), device);
        let t = measure(budget, || {
            model.forward(tokens.clone()).into_data();
        });
        record(format!("forward_{SEQS}x{SEQ_LEN}"), format!("forward {SEQS}x{SEQ_LEN}"), SEQS * SEQ_LEN, t);
    }

    // The same weights on the autodiff device; AdamW and clipping as in pretraining.
    let mut trainee = Some(config.init_gpt(&device.clone().autodiff(), 0));
    let mut optim = AdamWConfig::new().with_weight_decay(0.01).init();
    let batch = workload::train_batch(config.vocab_size);
    let mut last_loss = 0.0f32;
    let t = measure(budget, || {
        let (next, stats) = lm_train_step(trainee.take().expect("model"), &mut optim, &batch, 1e-3, 1.0);
        trainee = Some(next);
        last_loss = stats.loss;
    });
    ensure!(last_loss.is_finite(), "the training step's loss became {last_loss}");
    record(format!("train_{SEQS}x{SEQ_LEN}"), format!("train {SEQS}x{SEQ_LEN}"), SEQS * SEQ_LEN, t);
    Ok(rows)
}

/// One warm-up call of `f`, then calls until `budget` has passed and at least `min_reps` were made.
pub(crate) fn measure(budget: Budget, mut f: impl FnMut()) -> Timing {
    f();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < budget.min_reps || start.elapsed() < budget.per_workload {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
    }
    Timing { median_s: median(&mut times), reps: times.len() }
}

/// The median (mean of the middle two for an even count). Panics on an empty slice.
fn median(xs: &mut [f64]) -> f64 {
    assert!(!xs.is_empty(), "median of nothing");
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// `None` if `python` can import the twin's dependencies, else why not.
fn torch_missing(python: &str) -> Option<String> {
    let probe = Command::new(python).args(["-c", "import torch, safetensors.torch"]).output();
    match probe {
        Err(e) => Some(format!("cannot run it: {e}")),
        Ok(out) if out.status.success() => None,
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Some(stderr.lines().last().unwrap_or("import failed").trim().to_string())
        }
    }
}

/// Runs `benches/torch_twin.py --json` on the exported weights; fails if the twin fails (a parity
/// failure among others) or reports no parity check.
fn run_twin(
    python: &str,
    paths: &[PathBuf],
    budget: Budget,
    precision: goodhart_nn::Precision,
) -> Result<Value> {
    let script = workspace_root().join("benches/torch_twin.py");
    let out = Command::new(python)
        .arg(&script)
        .arg("--json")
        .args((precision == goodhart_nn::Precision::Bf16).then_some("--bf16"))
        .args(["--budget", &format!("{}", budget.per_workload.as_secs_f64())])
        .args(["--min-reps", &budget.min_reps.to_string()])
        .args(paths)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("could not run {python} {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "the PyTorch twin failed ({}); its message is above. If it reports a logit difference, \
             the twin and goodhart-nn no longer compute the same model, and no ratio means anything",
            out.status
        );
    }
    let report: Value = serde_json::from_slice(&out.stdout).context("reading the twin's --json output")?;
    for preset in report["presets"].as_array().context("twin JSON: no `presets`")? {
        let name = preset["name"].as_str().unwrap_or("?");
        match preset["parity_max_abs_diff"].as_f64() {
            Some(diff) if diff <= PARITY_TOLERANCE => {}
            Some(diff) => bail!("PARITY FAILED for {name}: the twin's logits differ from ours by {diff}"),
            None => bail!("PARITY NOT CHECKED for {name}: the twin found no reference logits"),
        }
    }
    Ok(report)
}

/// Fills the `torch` column from the twin's report (matched on preset and workload key).
fn merge_twin(rows: &mut [Row], report: &Value) -> Result<()> {
    let presets = report["presets"].as_array().context("twin JSON: no `presets`")?;
    for row in rows {
        let preset = presets.iter().find(|p| p["name"].as_str() == Some(row.preset.as_str()));
        row.torch = preset.and_then(|p| p["workloads"][&row.key]["tok_per_s"].as_f64());
    }
    Ok(())
}

/// PyTorch's matrix-product rate on each preset's shapes, from the twin's report.
fn twin_matmul(report: &Value) -> Vec<(String, f64)> {
    let presets = report["presets"].as_array().map(Vec::as_slice).unwrap_or_default();
    presets
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?.to_string(), p["matmul_gflops"].as_f64()?)))
        .collect()
}

fn header_ours(backend: goodhart_nn::Backend) -> Vec<String> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| cpu_model(&s));
    let threads = std::thread::available_parallelism().map_or(0, |n| n.get());
    let burn = std::fs::read_to_string(workspace_root().join("Cargo.lock"))
        .ok()
        .and_then(|lock| locked_version(&lock, "burn"))
        .unwrap_or_else(|| "?".into());
    let rayon =
        std::env::var("RAYON_NUM_THREADS").map(|n| format!(", RAYON_NUM_THREADS={n}")).unwrap_or_default();
    vec![
        format!("machine: {}, {threads} threads available", cpu.as_deref().unwrap_or("unknown CPU")),
        match backend {
            goodhart_nn::Backend::Cpu => {
                format!(
                    "ours:    burn {burn}, Flex CPU backend, {} build, {threads} threads{rayon}, matrix products in {}",
                    if cfg!(debug_assertions) { "debug" } else { "release" },
                    match goodhart_nn::bf16::in_effect() {
                        Some(unit) => format!("bf16 on {unit}"),
                        None => "f32".to_string(),
                    }
                )
            }
            other => {
                format!("ours:    burn {burn}, {other} backend (sampling, forward and training on burn)")
            }
        },
    ]
}

fn header_torch(report: &Value) -> Vec<String> {
    let parity: Vec<String> = report["presets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let diff = p["parity_max_abs_diff"].as_f64().unwrap_or(f64::NAN);
            format!("{} {diff:.1e}", p["name"].as_str().unwrap_or("?"))
        })
        .collect();
    vec![format!(
        "PyTorch: {} eager{}, {} threads (torch.get_num_threads); parity max |logit diff| (f32): {}",
        report["torch"].as_str().unwrap_or("?"),
        if report["bf16"].as_bool() == Some(true) { " under autocast(bfloat16)" } else { "" },
        report["threads"].as_u64().map_or("?".into(), |n| n.to_string()),
        parity.join(", ")
    )]
}

/// The CPU's `model name` from the text of `/proc/cpuinfo`.
pub(crate) fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_string())
    })
}

/// The version of `package` in the text of a `Cargo.lock` (the first entry of that name).
fn locked_version(lock: &str, package: &str) -> Option<String> {
    let entry = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    lines.find(|l| l.trim() == entry)?;
    let version = lines.next()?.trim().strip_prefix("version = \"")?;
    Some(version.trim_end_matches('"').to_string())
}

/// The header lines, then one line per row: workload, ours, PyTorch, ours / PyTorch.
fn format_table(header: &[String], rows: &[Row]) -> String {
    let mut out = String::new();
    for line in header {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(
        "tokens per second (new tokens for sampling), median of repetitions; ratio > 1: ours faster\n\n",
    );
    out.push_str(&format!(
        "{:<24} {:>13} {:>16} {:>13}\n",
        "workload", "ours (tok/s)", "PyTorch (tok/s)", "ours/PyTorch"
    ));
    for row in rows {
        let workload = format!("{:<6} {}", row.preset, row.label);
        let (torch, ratio) = match row.torch {
            Some(t) => (format!("{t:.0}"), format!("{:.2}", row.ours / t)),
            None => ("-".into(), "-".into()),
        };
        out.push_str(&format!("{workload:<24} {:>13.0} {torch:>16} {ratio:>13}\n", row.ours));
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [7.0]), 7.0);
    }

    #[test]
    fn reads_the_cpu_model_and_a_locked_version() {
        let cpuinfo =
            "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor : 0\n"), None);
        let lock = "[[package]]\nname = \"burn-core\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"burn\"\nversion = \"0.22.1\"\n";
        assert_eq!(locked_version(lock, "burn").as_deref(), Some("0.22.1"));
        assert_eq!(locked_version(lock, "torch"), None);
    }

    #[test]
    fn table_shows_ratios_and_dashes_without_pytorch() {
        let row = |key: &str, ours, torch| Row {
            preset: "small".into(),
            key: key.into(),
            label: key.replace('_', " "),
            ours,
            torch,
        };
        let rows = [row("sample_b64", 5000.0, Some(20000.0)), row("train_64x64", 1234.4, None)];
        let table = format_table(&["machine: test".into()], &rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "machine: test");
        assert!(lines[3].starts_with("workload") && lines[3].ends_with("ours/PyTorch"));
        let cells = |i: usize| lines[i].split_whitespace().collect::<Vec<_>>();
        assert_eq!(cells(4), ["small", "sample", "b64", "5000", "20000", "0.25"]);
        assert_eq!(cells(5), ["small", "train", "64x64", "1234", "-", "-"]);
    }

    #[test]
    fn twin_numbers_are_matched_by_preset_and_key() {
        let report = serde_json::json!({ "presets": [
            { "name": "medium", "workloads": { "sample_b1": { "tok_per_s": 10.0 } } },
            { "name": "small", "workloads": { "sample_b1": { "tok_per_s": 40.0 } } },
        ]});
        let mut rows = vec![Row {
            preset: "small".into(),
            key: "sample_b1".into(),
            label: "sample B=1".into(),
            ours: 20.0,
            torch: None,
        }];
        merge_twin(&mut rows, &report).unwrap();
        assert_eq!(rows[0].torch, Some(40.0));
    }

    #[test]
    fn twin_matmul_rates_are_read_per_preset() {
        let report = serde_json::json!({ "presets": [
            { "name": "small", "matmul_gflops": 301.5, "workloads": {} },
            { "name": "medium", "workloads": {} },
        ]});
        assert_eq!(twin_matmul(&report), vec![("small".to_string(), 301.5)]);
    }
}
