//! The Slurm launcher against a real Slurm: the tiny figure 1 submitted as array jobs, one job
//! cancelled mid-run (as a pre-emption would), the launch repeated, and the collected results
//! compared with a local run's. Without a cluster (`sinfo` fails) the test says how to get one and
//! passes: `.ci/run` brings up a one-node cluster with `.ci/slurm-up.sh` before the tests.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn xtask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
}

fn cluster_answers() -> bool {
    Command::new("sinfo").arg("-h").output().is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}

fn launch(runs: &Path, out: &Path) -> Vec<String> {
    let o = xtask()
        .args(["reproduce", "fig1", "--preset", "tiny", "--launcher", "slurm", "--runs"])
        .arg(runs)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{text}{}", String::from_utf8_lossy(&o.stderr));
    text.lines()
        .filter_map(|l| {
            l.strip_prefix("submitted ")?.split("job ").nth(1)?.split(' ').next().map(String::from)
        })
        .collect()
}

/// `squeue` rows (`<jobid> <state>`) of `ids` still in the queue.
fn queued(ids: &[String]) -> Vec<(String, String)> {
    let o = Command::new("squeue").args(["-h", "-o", "%i %T", "-j", &ids.join(",")]).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())))
        .collect()
}

fn wait_until_gone(ids: &[String], limit: Duration) {
    let start = Instant::now();
    while !queued(ids).is_empty() {
        assert!(start.elapsed() < limit, "jobs {ids:?} still queued after {limit:?}: {:?}", queued(ids));
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn tiny_fig1_through_slurm_survives_a_cancelled_job_and_equals_a_local_run() {
    if !cluster_answers() {
        eprintln!(
            "skipped: no Slurm cluster answers `sinfo`. To run this test, bring up a one-node \
             cluster as root with `.ci/slurm-up.sh` (Debian: slurmctld, slurmd, slurm-client, munge)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (runs_a, out_a) = (dir.path().join("runs-a"), dir.path().join("out-a"));
    let local = xtask()
        .args(["reproduce", "fig1", "--preset", "tiny", "--runs"])
        .arg(&runs_a)
        .arg("--out")
        .arg(&out_a)
        .output()
        .unwrap();
    assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));

    let (runs_b, out_b) = (dir.path().join("runs-b"), dir.path().join("out-b"));
    let first = launch(&runs_b, &out_b);
    assert_eq!(first.len(), 4, "base, proxy, rl, collect: {first:?}");
    // Cancel the first job once it runs (or while it waits): its dependants can then never run.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if queued(&first[..1]).iter().any(|(_, state)| state == "RUNNING") || queued(&first[..1]).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("scancel").args(&first).status().unwrap();
    wait_until_gone(&first, Duration::from_secs(60));

    // Launch again: whatever finished is skipped, the rest runs, and collect writes the results.
    let second = launch(&runs_b, &out_b);
    assert!(!second.is_empty());
    wait_until_gone(&second, Duration::from_secs(600));
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(read(&out_b.join("fig1.csv")), read(&out_a.join("fig1.csv")));
    assert_eq!(read(&out_b.join("fig1.json")), read(&out_a.join("fig1.json")));
}
