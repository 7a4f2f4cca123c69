//! `cargo xtask reproduce` as a user runs it: the tiny figure 1 end to end through the command
//! line, killed with SIGKILL at several points and resumed to the same results, and bad input
//! refused with a one-line error.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn xtask() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

fn reproduce(runs: &Path, out: &Path) -> Command {
    let mut cmd = xtask();
    cmd.args(["reproduce", "fig1", "--preset", "tiny", "--runs"]).arg(runs).arg("--out").arg(out);
    cmd
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn tiny_fig1_resumes_after_kill_9_to_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let (runs_a, out_a) = (dir.path().join("runs-a"), dir.path().join("out-a"));
    let done = reproduce(&runs_a, &out_a).output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    for file in ["fig1.csv", "fig1.json", "report.md", "config.json", "fig1.svg", "fig1.png"] {
        assert!(out_a.join(file).is_file(), "{file} missing");
    }
    let json: serde_json::Value = serde_json::from_str(&read(&out_a.join("fig1.json"))).unwrap();
    assert!(!json["results"].as_array().unwrap().is_empty() && !json["rl"].as_array().unwrap().is_empty());
    assert!(read(&out_a.join("fig1.csv")).lines().count() > 1);

    // Kill a second run at spread-out moments (each kill resumes the previous one), then let it
    // finish: the final data equal the uninterrupted run's.
    let (runs_b, out_b) = (dir.path().join("runs-b"), dir.path().join("out-b"));
    for ms in [150, 700, 400, 1500, 900, 2500] {
        let mut child = reproduce(&runs_b, &out_b).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
    }
    let done = reproduce(&runs_b, &out_b).output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert_eq!(read(&out_b.join("fig1.csv")), read(&out_a.join("fig1.csv")));
    assert_eq!(read(&out_b.join("fig1.json")), read(&out_a.join("fig1.json")));
    // no temporary directory survives a completed run
    for stage in std::fs::read_dir(&runs_b).unwrap() {
        for entry in std::fs::read_dir(stage.unwrap().path()).unwrap() {
            let name = entry.unwrap().file_name();
            assert!(!name.to_string_lossy().contains(".partial."), "{name:?} left behind");
        }
    }
}

#[test]
fn bad_input_is_a_one_line_error_and_a_failure() {
    for (args, needle) in [
        (&["reproduce", "fig99", "--preset", "tiny"][..], "unknown target"),
        (&["reproduce", "fig1", "--preset", "huge"][..], "unknown preset"),
        (&["reproduce", "fig1", "--bogus"][..], "unknown option"),
        (&["verify", "fig1", "--out", "/nonexistent/goodhart"][..], "no results to verify"),
    ] {
        let out = xtask().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.lines().next().unwrap_or("").contains(needle), "{args:?}: {err}");
    }
}

/// fig1 computed cell by cell in separate processes (as Slurm array tasks would), then collected,
/// gives the results of a local run; cells already in the store are no-ops.
#[test]
fn cells_run_separately_then_collected_equal_a_local_run() {
    let dir = tempfile::tempdir().unwrap();
    let (runs_a, out_a) = (dir.path().join("runs-a"), dir.path().join("out-a"));
    assert!(reproduce(&runs_a, &out_a).status().unwrap().success());
    let (runs_b, out_b) = (dir.path().join("runs-b"), dir.path().join("out-b"));
    // the tiny preset has one proxy and one RL size: cells base/0, proxy/0, rl/0
    for (level, index) in [("base", "0"), ("proxy", "0"), ("rl", "0"), ("rl", "0")] {
        let status = xtask()
            .args(["run-cell", "fig1", level, index, "--preset", "tiny", "--runs"])
            .arg(&runs_b)
            .status()
            .unwrap();
        assert!(status.success(), "cell {level}/{index}");
    }
    let bad =
        xtask().args(["run-cell", "fig1", "proxy", "7", "--preset", "tiny", "--runs"]).arg(&runs_b).output();
    assert!(!bad.unwrap().status.success(), "a cell that does not exist is an error");
    let mut collect = xtask();
    collect.args(["collect", "fig1", "--preset", "tiny", "--runs"]).arg(&runs_b).arg("--out").arg(&out_b);
    assert!(collect.status().unwrap().success());
    assert_eq!(read(&out_b.join("fig1.csv")), read(&out_a.join("fig1.csv")));
    // a slurm dry run over the full store has no cell left to run, only the collect job
    let plan = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["reproduce", "fig1", "--preset", "tiny", "--launcher", "slurm", "--dry-run", "--runs"])
        .arg(&runs_b)
        .arg("--out")
        .arg(&out_b)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(plan.status.success(), "{text}");
    for level in ["base", "proxy", "rl"] {
        assert!(text.contains(&format!("{level}: every cell is in the store, skipped")), "{text}");
    }
    assert!(text.contains("collect.sbatch") && text.contains("nothing submitted"), "{text}");
}

/// Four processes on one empty store (two terminals, or a local run beside a cluster job): each
/// stage is computed by one of them while the others wait, and all four finish with the same
/// results.
#[test]
fn concurrent_runs_on_one_store_all_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let children: Vec<_> =
        (0..4).map(|i| reproduce(&runs, &tmp.path().join(format!("out{i}"))).spawn().unwrap()).collect();
    // each process reports every stage as `[computed] <stage> ...` or `[cached  ] <stage> ...`
    let mut computed: Vec<String> = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        computed.extend(stderr.lines().filter_map(|l| l.strip_prefix("[computed] ")).map(|l| {
            // the stage and the path of its directory, which names the key
            let stage = l.split_whitespace().next().unwrap_or_default();
            let key = l.rsplit('/').next().unwrap_or_default().trim_end_matches(')');
            format!("{stage}/{key}")
        }));
    }
    computed.sort();
    let unique: std::collections::BTreeSet<&String> = computed.iter().collect();
    assert_eq!(computed.len(), unique.len(), "a stage was computed twice: {computed:?}");
    let solo_dir = tmp.path().join("solo");
    let solo = reproduce(&solo_dir.join("runs"), &solo_dir.join("out")).output().unwrap();
    let solo_stderr = String::from_utf8_lossy(&solo.stderr);
    let solo_stages = solo_stderr.lines().filter(|l| l.starts_with("[computed] ")).count();
    assert_eq!(
        computed.len(),
        solo_stages,
        "every stage computed exactly once across the four: {computed:?}"
    );
    let want = read(&solo_dir.join("out/fig1.csv"));
    for i in 0..4 {
        assert_eq!(read(&tmp.path().join(format!("out{i}/fig1.csv"))), want, "run {i} against a solo run");
    }
}

/// A target's checks written for seed 0 and seeds 1..3 (`<dir>/seed-S`, where `reproduce --seed
/// S` writes): verify gives each check its verdict over seeds 1..3, a majority reproducing it.
#[test]
fn verify_counts_a_targets_checks_over_its_seed_directories() {
    let dir = tempfile::tempdir().unwrap();
    let check = |name: &str, passed: bool| serde_json::json!({ "name": name, "passed": passed, "detail": "d", "applies": true });
    let write = |sub: &str, a: bool, b: bool| {
        let d = dir.path().join(sub);
        std::fs::create_dir_all(&d).unwrap();
        let checks = serde_json::json!([check("gain a", a), check("gain b", b)]);
        std::fs::write(d.join("ensembles_checks.json"), checks.to_string()).unwrap();
    };
    let verify = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["verify", "ensembles"])
            .args(extra)
            .arg("--out")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    // seed 0 passes both (where settings were chosen); seeds 1..3: a on 2 of 3, b on 1 of 3
    write("", true, true);
    write("seed-1", true, false);
    write("seed-2", false, true);
    write("seed-3", true, false);
    let out = verify(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "b is not reproduced, so verify fails: {stdout}");
    assert!(stdout.contains("verdicts on seeds 1, 2, 3"), "{stdout}");
    assert!(stdout.contains("REPRODUCED  gain a: passed on 2 of 3 seeds"), "{stdout}");
    assert!(stdout.contains("NOT REPRODUCED  gain b: passed on 1 of 3 seeds"), "{stdout}");
    assert!(stdout.contains("2 checks: 1 passed, 1 failed"), "{stdout}");

    // seeds 1..3 without seed 0 (never run there): the same verdicts, no reference column
    std::fs::remove_file(dir.path().join("ensembles_checks.json")).unwrap();
    let out = verify(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("seed 0, not run here") && !stdout.contains("seed 0 (reference)"), "{stdout}");
    assert!(stdout.contains("2 checks: 1 passed, 1 failed"), "{stdout}");
    // a seed missing between two others (still running) leaves a gap: seeds 1 and 3 are read
    std::fs::remove_dir_all(dir.path().join("seed-2")).unwrap();
    let out = verify(&["--markdown"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("verdicts on seeds 1, 3"), "{stdout}");
    assert!(stdout.contains("| check | seed 1 | seed 3 | over seeds |"), "{stdout}");
    assert!(stdout.contains("| gain a | pass | pass | reproduced (2 of 2 seeds) |"), "{stdout}");
    write("seed-2", false, true);
    write("", true, true);

    // without the seed directories, seed 0's own checks are the verdicts
    for s in 1..=3 {
        std::fs::remove_dir_all(dir.path().join(format!("seed-{s}"))).unwrap();
    }
    let out = verify(&[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

/// The laptop preset teaches its gold in rounds; the rubric as gold drops them (it needs no
/// teaching), so `--gold rubric` plans the laptop figure instead of refusing its config.
#[test]
fn the_rubric_as_gold_plans_the_laptop_figure_without_gold_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["reproduce", "fig1", "--preset", "laptop", "--gold", "rubric", "--dry-run", "--runs"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (out, err) = (String::from_utf8_lossy(&plan.stdout), String::from_utf8_lossy(&plan.stderr));
    assert!(plan.status.success(), "{err}");
    assert!(out.contains("the rubric as gold") && !out.contains("gold-round"), "{out}");
    // the learned gold's plan has its rounds
    let learned = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["reproduce", "fig1", "--preset", "laptop", "--dry-run", "--runs"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&learned.stdout).contains("gold-round"));
}
