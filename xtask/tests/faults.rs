//! The fault-injection walk (`GOODHART_FAULT`, see `goodhart_core::fault`): the tiny figure 1
//! is killed in the middle of a write and between a write and its rename for every writer, run
//! out of disk space, killed inside stages and at every stage boundary in turn, and resumed each
//! time on the same store; nothing completed is ever lost, no stage is marked complete that is
//! not, and the final results equal an uninterrupted run's.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use goodhart_core::fault::FAULT_EXIT;

mod common;
use common::complete;

fn reproduce(runs: &Path, out: &Path, fault: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    // one job: with two, a second stage can be published between the first's boundary and the
    // kill, and the walk's "one stage per run" would depend on timing
    cmd.args(["reproduce", "fig1", "--preset", "tiny", "--jobs", "1", "--runs"])
        .arg(runs)
        .arg("--out")
        .arg(out);
    match fault {
        Some(f) => cmd.env("GOODHART_FAULT", f),
        None => cmd.env_remove("GOODHART_FAULT"),
    };
    cmd.output().expect("xtask runs")
}

#[test]
fn every_fault_resumes_to_the_uninterrupted_results_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (runs_a, out_a) = (dir.path().join("runs-a"), dir.path().join("out-a"));
    let clean = reproduce(&runs_a, &out_a, None);
    assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stderr));

    let stages = complete(&runs_a).len();
    let mut table = vec![("fault".to_string(), "outcome".to_string())];

    // every stage boundary in turn, on an empty store: each run completes one stage and is killed
    let (runs_w, out_w) = (dir.path().join("runs-walk"), dir.path().join("out-walk"));
    let mut kills = 0;
    loop {
        let before = complete(&runs_w);
        let o = reproduce(&runs_w, &out_w, Some("stage-boundary:1"));
        let after = complete(&runs_w);
        assert!(after.is_superset(&before));
        if o.status.success() {
            break;
        }
        assert_eq!(o.status.code(), Some(FAULT_EXIT), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(after.len(), before.len() + 1, "one stage per run");
        kills += 1;
        assert!(kills <= stages, "the walk does not end");
    }
    assert_eq!(kills, stages, "killed once at every stage boundary");
    table.push((format!("stage-boundary, each of {stages}"), "killed, resumed".to_string()));
    assert_eq!(
        std::fs::read(out_w.join("fig1.csv")).unwrap(),
        std::fs::read(out_a.join("fig1.csv")).unwrap()
    );

    let (runs, out) = (dir.path().join("runs"), dir.path().join("out"));
    // in pipeline order, so that each writer still has a write ahead of it
    let stage_faults = [
        "mid-write:stage.json",
        "before-rename:stage.json",
        "mid-write:model.bpk",
        "before-rename:model.bpk",
        "enospc:config.json",
        "mid-write:config.json",
        "before-rename:config.json",
        "mid-stage:gold",
        "enospc:stage.json",
        "mid-stage:proxy",
        "mid-write:state.json",
        "before-rename:state.json",
        "enospc:state.json",
        "mid-stage:rl",
    ];
    let result_faults =
        ["mid-write:fig1.parquet", "before-rename:fig1.csv", "enospc:fig1_fits.parquet", "mid-write:refs/"];
    let mut done = BTreeSet::new();
    let mut step = |fault: &str, table: &mut Vec<(String, String)>| -> bool {
        let o = reproduce(&runs, &out, Some(fault));
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        let outcome = match o.status.code() {
            Some(0) => "no fault: the run finished".to_string(),
            Some(c) if c == FAULT_EXIT => {
                assert!(stderr.contains("fault injected: "), "{fault}: {stderr}");
                "killed".to_string()
            }
            Some(1) if fault.starts_with("enospc") => {
                assert!(stderr.contains("No space left on device"), "{fault}: {stderr}");
                assert_eq!(stderr.matches("No space left on device").count(), 1, "one clear line: {stderr}");
                "refused: no space, the path named".to_string()
            }
            other => panic!("{fault}: unexpected exit {other:?}: {stderr}"),
        };
        let now = complete(&runs);
        assert!(now.is_superset(&done), "{fault} lost {:?}", done.difference(&now).collect::<Vec<_>>());
        done = now;
        table.push((fault.to_string(), outcome));
        o.status.success()
    };
    for fault in stage_faults {
        assert!(!step(fault, &mut table), "{fault} never fired: its writer was not reached");
    }
    assert!(step("stage-boundary:99", &mut table), "the stages left finish");
    for fault in result_faults {
        assert!(!step(fault, &mut table), "{fault} never fired");
    }
    let finished = reproduce(&runs, &out, None);
    assert!(finished.status.success(), "{}", String::from_utf8_lossy(&finished.stderr));
    for file in ["fig1.csv", "fig1.parquet", "fig1_fits.parquet", "fig1.json"] {
        assert_eq!(
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(out_a.join(file)).unwrap(),
            "{file}"
        );
    }
    // the results directory holds what an uninterrupted run writes, no leftover temporaries
    let names = |d: &Path| {
        let mut n: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&out), names(&out_a));
    assert_eq!(complete(&runs), complete(&runs_a), "the same stages, all intact");
    for (fault, outcome) in &table {
        println!("| {fault} | {outcome} |");
    }
}

/// Unmounts a tmpfs when the test ends, passed or failed.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A real full disk: a small tmpfs where this machine allows mounting one (root with
/// CAP_SYS_ADMIN), otherwise the test says why it did not run. The run fails with one error
/// naming the path, every stage marked complete is intact, and the same store resumes once the
/// disk has room, to an uninterrupted run's results.
#[test]
fn a_full_disk_stops_the_run_cleanly_and_it_resumes_with_space() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("disk");
    std::fs::create_dir_all(&mount).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=600k", "tmpfs"])
        .arg(&mount)
        .output()
        .map(|o| o.status.success().then_some(()).ok_or(String::from_utf8_lossy(&o.stderr).into_owned()))
        .map_err(|e| e.to_string())
        .and_then(|r| r);
    if let Err(why) = ok {
        println!("skipped: cannot mount a tmpfs here ({}); the ENOSPC hook covers full disks", why.trim());
        return;
    }
    let _unmount = Mounted(mount.clone());
    let (runs, out) = (mount.join("runs"), dir.path().join("out"));
    let full = reproduce(&runs, &out, None);
    assert_eq!(full.status.code(), Some(1), "{}", String::from_utf8_lossy(&full.stderr));
    let stderr = String::from_utf8_lossy(&full.stderr);
    let error: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(error.len(), 1, "{stderr}");
    assert!(
        error[0].contains(&runs.display().to_string()) && error[0].contains("No space left on device"),
        "{stderr}"
    );
    let done = complete(&runs);
    assert!(!done.is_empty(), "some stages fit before the disk filled");
    let grown = Command::new("mount").args(["-o", "remount,size=16m"]).arg(&mount).status().unwrap();
    assert!(grown.success());
    let resumed = reproduce(&runs, &out, None);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert!(complete(&runs).is_superset(&done));
    let (runs_a, out_a) = (dir.path().join("runs-a"), dir.path().join("out-a"));
    assert!(reproduce(&runs_a, &out_a, None).status.success());
    assert_eq!(std::fs::read(out.join("fig1.csv")).unwrap(), std::fs::read(out_a.join("fig1.csv")).unwrap());
}
