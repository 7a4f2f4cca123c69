//! Bad input, tried systematically: command lines, impossible settings, bad tables and damaged
//! store entries and checkpoints, each with the exact error (or note) a user gets, and a check
//! that nothing already computed was removed.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::complete;

fn xtask(args: &[String], env: Option<(&str, &str)>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args).env_remove("GOODHART_FAULT");
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    cmd.output().expect("xtask runs")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The checkpoint directory of the one unfinished PPO run in `runs`.
fn last_checkpoint(runs: &Path) -> PathBuf {
    let run = std::fs::read_dir(runs.join("rl-checkpoints")).unwrap().flatten().next().unwrap().path();
    std::fs::read_dir(run).unwrap().flatten().next().unwrap().path()
}

/// A tiny figure 1 store, computed once.
fn prepared(dir: &Path) -> PathBuf {
    let runs = dir.join("runs");
    let args: Vec<String> = ["reproduce", "fig1", "--preset", "tiny", "--runs"]
        .iter()
        .map(|s| s.to_string())
        .chain([runs.display().to_string(), "--out".into(), dir.join("out").display().to_string()])
        .collect();
    let o = xtask(&args, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    runs
}

#[test]
fn each_bad_command_line_or_setting_is_one_exact_error_and_removes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let runs = prepared(dir.path());
    let before = complete(&runs);
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "prompt_id,proxy,gold\n").unwrap();
    let r = runs.display().to_string();
    // also a file where a directory is expected: root ignores permissions, so this is how an
    // unwritable results directory or store looks here
    let e = empty.display().to_string();
    fn with_set<'a>(runs: &'a str, s: &'a str) -> Vec<&'a str> {
        vec!["reproduce", "fig1", "--preset", "tiny", "--runs", runs, "--set", s]
    }
    let set = |s: &'static str| with_set(&r, s);
    let range = |s: &str, line: u32, key: &str, value: &str, allowed: &str| {
        format!("error: config: the config with --set {s}:{line}: {key} = {value} is out of range: {allowed}")
    };
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["reproduce", "fig99", "--runs", &r], "error: unknown target \"fig99\": `cargo xtask reproduce list` shows the targets".into()),
        (vec!["reproduce", "fig1", "--preset", "huge", "--runs", &r], "error: unknown preset \"huge\": use one of [\"tiny\", \"laptop\", \"paper\"]".into()),
        (vec!["reproduce", "fig1", "--bogus", "--runs", &r], "error: unknown option --bogus".into()),
        (vec!["reproduce", "fig1", "--seed", "x", "--runs", &r], "error: --seed x: give a whole number, 0 or more: invalid digit found in string".into()),
        (vec!["reproduce", "fig1", "--runs", &r, "--seed"], "error: --seed needs a value".into()),
        (vec!["reproduce", "fig1", "--preset", "tiny", "--runs", &r, "--backend", "tpu"], "error: unknown backend \"tpu\": use cpu, wgpu or cuda".into()),
        (vec!["reproduce", "fig1", "--preset", "tiny", "--runs", &r, "--launcher", "pbs"], "error: unknown launcher \"pbs\": local or slurm".into()),
        (vec!["reproduce", "fig7", "--preset", "tiny", "--runs", &r, "--seeds", "3"], "error: --seeds applies to fig1 (its sweeps have no seed axis yet): `cargo xtask reproduce fig1 --seeds 3`".into()),
        (vec!["reproduce", "fig1", "--runs", &r, "--config", "/nonexistent/x.toml"], "error: /nonexistent/x.toml: No such file or directory (os error 2)".into()),
        (set("bon.pool"), "error: config: --set \"bon.pool\": give key=value, e.g. --set rl.ppo.lr=3e-4".into()),
        (set("rl.ppo.lr=abc"), "error: config: --set rl.ppo.lr=abc: \"abc\" is not a TOML value (numbers as 3 or 0.5, text in quotes \"p1k\", lists as [\"p1k\", \"p10k\"])".into()),
        (set("nosuch.key=1"), "error: config: --set nosuch.key: unknown key `nosuch`".into()),
        (set("proxies.sizes=[\"p9z\"]"), range("proxies.sizes=[\"p9z\"]", 70, "proxies.sizes", "\"p9z\"", "one of p100, p300, p1k, p3k, p10k, p30k, p100k, p300k, p1m, p3m, p10m, p30m")),
        (set("rl.sizes=[\"p1k\"]"), range("rl.sizes=[\"p1k\"]", 93, "rl.sizes", "\"p1k\"", "one of proxies.sizes (p10k): PPO runs against a proxy figure 1 trains")),
        (set("proxies.sizes=[]"), range("proxies.sizes=[]", 70, "proxies.sizes", "[]", "at least one size")),
        (set("bon.pool=0"), range("bon.pool=0", 7, "bon.pool", "0", ">= 2")),
        (set("bon.prompts=1"), range("bon.prompts=1", 8, "bon.prompts", "1", ">= 2 (a fall is tested on half the prompts)")),
        (set("proxies.pairs=5"), range("proxies.pairs=5", 69, "proxies.pairs", "5", ">= 10 (10% are held out)")),
        (set("proxies.label_noise=0.5"), range("proxies.label_noise=0.5", 68, "proxies.label_noise", "0.5", "0 <= p < 0.5 (a flip probability)")),
        (set("rl.ppo.total_steps=0"), range("rl.ppo.total_steps=0", 115, "rl.ppo.total_steps", "0", ">= 1")),
        (set("rl.eval_prompts=1"), range("rl.eval_prompts=1", 91, "rl.eval_prompts", "1", ">= 2")),
        (set("policy.sampling.temperature=-1"), range("policy.sampling.temperature=-1", 65, "policy.sampling.temperature", "-1", "> 0 (1: the model's own distribution)")),
        (set("policy.sampling.top_p=1.5"), range("policy.sampling.top_p=1.5", 66, "policy.sampling.top_p", "1.5", "0 < p <= 1")),
        (set("policy.sampling.max_new_tokens=0"), range("policy.sampling.max_new_tokens=0", 64, "policy.sampling.max_new_tokens", "0", ">= 1")),
        (set("sweeps.iterated_d=0"), range("sweeps.iterated_d=0", 129, "sweeps.iterated_d", "0", "a distance > 0")),
        (set("sweeps.kl_penalties=[-0.1]"), range("sweeps.kl_penalties=[-0.1]", 132, "sweeps.kl_penalties", "-0.1", "finite and >= 0")),
        (set("world.world.split.heldout_fraction=1.0"), range("world.world.split.heldout_fraction=1.0", 161, "world.world.split.heldout_fraction", "1", "0 < f < 1")),
        (vec!["reproduce", "fig1", "--preset", "tiny", "--runs", &r, "--out", &e], format!("error: locking the results directory {e}: File exists (os error 17)")),
        (vec!["reproduce", "fig1", "--preset", "tiny", "--runs", &e], format!("error: {e}/world: Not a directory (os error 20)")),
        (vec!["verify", "fig1", "--out", "/nonexistent/goodhart"], "error: /nonexistent/goodhart/fig1.json: no results to verify; run `cargo xtask reproduce fig1 --preset laptop` first".into()),
        (vec!["verify", "fig99"], "error: unknown target \"fig99\": `cargo xtask reproduce list` shows the targets".into()),
        (vec!["verify", "fig1", "--seed", "-1"], "error: --seed -1: give a whole number, 0 or more: invalid digit found in string".into()),
        (vec!["analyze"], "error: which file?".into()),
        (vec!["test", "--help"], "error: `cargo xtask test` takes no options (runs the README's test command); got [\"--help\"]".into()),
        (vec!["analyze", "a.csv", "b.csv"], "error: one file at a time: \"b.csv\" follows \"a.csv\"".into()),
        (vec!["analyze", "/nonexistent/x.csv"], "error: /nonexistent/x.csv: No such file or directory (os error 2)".into()),
        (vec!["analyze", "/nonexistent/x.xlsx"], "error: /nonexistent/x.xlsx cannot be read as a table (unknown extension \"xlsx\": use .parquet, .csv, .jsonl or .ndjson)".into()),
        (vec!["analyze", &e], format!("error: {e}: the table has a header but no rows")),
        (vec!["analyze", "x.csv", "--max-n", "zero"], "error: --max-n zero: give a whole number".into()),
        (vec!["analyze", "x.csv", "--bogus"], "error: unknown option --bogus".into()),
        (vec!["store"], "error: which store command?".into()),
        (vec!["store", "frobnicate", "--runs", &r], "error: unknown store command \"frobnicate\": ls, verify or gc".into()),
        (vec!["store", "ls", "--runs", "/nonexistent/store"], "error: /nonexistent/store is not a store (no such directory): give --runs DIR or --preset P".into()),
        (vec!["store", "ls", "--preset", "huge"], "error: unknown preset \"huge\": use one of [\"tiny\", \"laptop\", \"paper\"]".into()),
        (vec!["run-cell", "fig2", "base", "0", "--runs", &r], "error: run-cell: only fig1 has cells, got \"fig2\"".into()),
        (vec!["run-cell", "fig1", "base", "x", "--preset", "tiny", "--runs", &r], "error: cell index \"x\" is not a number: invalid digit found in string".into()),
        (vec!["frob"], "error: unknown task `frob`".into()),
    ];
    assert!(cases.len() >= 40, "{}", cases.len());
    for (args, want) in &cases {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let o = xtask(&args, None);
        assert!(!o.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&o.stderr);
        let got = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_default();
        assert_eq!(got, want, "{args:?}\n{stderr}");
    }
    // a setting that makes training diverge: the stage, the step and the setting to change
    let o = xtask(&set("gold.train.lr=1e9").iter().map(|s| s.to_string()).collect::<Vec<_>>(), None);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let line = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_default();
    assert!(line.starts_with("error: computing gold/"), "{stderr}");
    assert!(
        line.ends_with(": the reward-model loss became NaN at step 2: lower the learning rate (now 959090909.0909091) or check the comparisons"),
        "{line}"
    );
    assert_eq!(complete(&runs), before, "a refused command removed nothing");
}

/// Damaged store entries and checkpoints: each named in one note or error line, and nothing else
/// the store holds removed.
#[test]
fn damaged_entries_and_checkpoints_are_named_and_nothing_else_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let base = prepared(dir.path());
    let rl_key = std::fs::read_dir(base.join("rl"))
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    // PPO killed after its last checkpoint, before the stage is complete: checkpoints remain
    let stopped = dir.path().join("stopped");
    copy_dir(&base, &stopped);
    std::fs::remove_dir_all(stopped.join("rl").join(&rl_key)).unwrap();
    let run = |runs: &Path, fault: Option<&str>| {
        let args: Vec<String> = ["reproduce", "fig1", "--preset", "tiny", "--runs"]
            .iter()
            .map(|s| s.to_string())
            .chain([runs.display().to_string(), "--out".into(), dir.path().join("o").display().to_string()])
            .collect();
        xtask(&args, fault.map(|f| ("GOODHART_FAULT", f)))
    };
    assert_eq!(run(&stopped, Some("mid-stage:rl")).status.code(), Some(goodhart_core::fault::FAULT_EXIT));
    let c = last_checkpoint(&stopped).display().to_string();

    type Damage = Box<dyn Fn(&Path)>;
    let file_in = |runs: &Path, stage: &str, name: &str| -> PathBuf {
        let key = std::fs::read_dir(runs.join(stage))
            .unwrap()
            .flatten()
            .find(|e| e.path().is_dir())
            .unwrap()
            .path();
        key.join(name)
    };
    let cases: Vec<(&str, bool, Damage, String)> = vec![
        (
            "a stage.json that is not JSON",
            false,
            Box::new(move |runs| std::fs::write(file_in(runs, "gold", "stage.json"), "{\"key\": ").unwrap()),
            "is damaged (stage.json is not valid JSON (EOF while parsing a value at line 1 column 8)): moved aside to".into(),
        ),
        (
            "a stage.json that is not a stage record",
            false,
            Box::new(move |runs| std::fs::write(file_in(runs, "policy", "stage.json"), "[1, 2]").unwrap()),
            "is damaged (stage.json is not a stage record): moved aside to".into(),
        ),
        (
            "a stage.json removed",
            false,
            Box::new(move |runs| std::fs::remove_file(file_in(runs, "proxy-data", "stage.json")).unwrap()),
            "has no stage.json: it is incomplete, recomputing it".into(),
        ),
        (
            "a model file truncated",
            false,
            Box::new(move |runs| {
                let f = file_in(runs, "proxy", "rm/model.bpk");
                let len = std::fs::metadata(&f).unwrap().len();
                std::fs::OpenOptions::new().write(true).open(&f).unwrap().set_len(len / 2).unwrap();
            }),
            "rm/model.bpk has ".into(),
        ),
        (
            "a file of a stage deleted",
            false,
            Box::new(move |runs| std::fs::remove_file(file_in(runs, "proxy", "rm/config.json")).unwrap()),
            "is damaged (rm/config.json is missing): moved aside to".into(),
        ),
        (
            "a PPO checkpoint's state that is not JSON",
            true,
            Box::new(|runs| {
                let step = last_checkpoint(runs);
                std::fs::write(step.join("state.json"), "{\"step\": 4, \"bad").unwrap();
            }),
            format!("error: computing rl/{rl_key}: corrupt checkpoint file {c}/state.json: "),
        ),
        (
            "a PPO checkpoint's weights of the wrong shape",
            true,
            Box::new(|runs| {
                let step = last_checkpoint(runs);
                let cfg = step.join("policy/config.json");
                let text = std::fs::read_to_string(&cfg).unwrap();
                let wider = text.replace("\"d_model\": 16", "\"d_model\": 32");
                assert_ne!(text, wider, "the tiny policy has d_model 16");
                std::fs::write(&cfg, wider).unwrap();
            }),
            format!("error: computing rl/{rl_key}: corrupt checkpoint file {c}/policy: weights {c}/policy/model.bpk do not match config {c}/policy/config.json: "),
        ),
        (
            "a PPO checkpoint's weights truncated",
            true,
            Box::new(|runs| {
                let step = last_checkpoint(runs);
                std::fs::OpenOptions::new().write(true).open(step.join("value/model.bpk")).unwrap().set_len(100).unwrap();
            }),
            format!("error: computing rl/{rl_key}: corrupt checkpoint file {c}/value: corrupt file {c}/value/model.bpk: "),
        ),
    ];
    for (k, (what, checkpoint, damage, want)) in cases.iter().enumerate() {
        // each case on its own copy, at the same path as the stopped store for checkpoints
        let runs =
            if *checkpoint { dir.path().join("stopped-copy") } else { dir.path().join(format!("case-{k}")) };
        let _ = std::fs::remove_dir_all(&runs);
        copy_dir(if *checkpoint { &stopped } else { &base }, &runs);
        let intact = complete(&runs);
        damage(&runs);
        let o = run(&runs, None);
        let stderr = String::from_utf8_lossy(&o.stderr);
        let want = want.replace(&stopped.display().to_string(), &runs.display().to_string());
        assert!(stderr.lines().any(|l| l.contains(&want)), "{what}: expected a line with {want:?}\n{stderr}");
        if *checkpoint {
            assert!(!o.status.success(), "{what}: a damaged checkpoint is not used");
            assert!(stderr.contains("delete this checkpoint directory"), "{what}: the fix is named");
            assert_eq!(complete(&runs), intact, "{what}: nothing removed");
        } else {
            assert!(o.status.success(), "{what}: {stderr}");
            // the damaged stage recomputed, every other one untouched
            assert_eq!(complete(&runs), intact, "{what}: every stage complete and intact");
        }
    }
}
