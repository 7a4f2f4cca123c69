//! `cargo xtask store`: a tiny store verified, damaged and repaired by the next run, and what no
//! run uses listed and removed.

use std::path::Path;
use std::process::Command;

fn xtask(args: &[&str], paths: &[&Path]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args);
    for p in paths {
        cmd.arg(p);
    }
    cmd.output().expect("xtask runs")
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn a_damaged_stage_is_found_by_verify_and_recomputed_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let (runs, out) = (dir.path().join("runs"), dir.path().join("out"));
    let run =
        || xtask(&["reproduce", "fig1", "--preset", "tiny", "--out"], &[&out, Path::new("--runs"), &runs]);
    let first = run();
    assert!(first.status.success(), "{}", text(&first));
    let csv = std::fs::read_to_string(out.join("fig1.csv")).unwrap();
    let verify = xtask(&["store", "verify", "--runs"], &[&runs]);
    assert!(verify.status.success() && text(&verify).contains(" 0 damaged"), "{}", text(&verify));

    // truncate the proxy's largest file
    let proxy_dir =
        std::fs::read_dir(runs.join("proxy")).unwrap().flatten().find(|e| e.path().is_dir()).unwrap().path();
    let victim = std::fs::read_dir(&proxy_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file() && e.file_name() != "stage.json")
        .max_by_key(|e| e.metadata().unwrap().len())
        .unwrap()
        .path();
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() / 2]).unwrap();
    let verify = xtask(&["store", "verify", "--runs"], &[&runs]);
    assert!(!verify.status.success());
    let name = victim.file_name().unwrap().to_string_lossy().to_string();
    assert!(text(&verify).contains("DAMAGED  proxy/") && text(&verify).contains(&name), "{}", text(&verify));

    // the next run moves it aside, recomputes it, and gets the same numbers
    let again = run();
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("is damaged (") && text(&again).contains("recomputing it"),
        "{}",
        text(&again)
    );
    assert_eq!(std::fs::read_to_string(out.join("fig1.csv")).unwrap(), csv);
    let key = proxy_dir.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        proxy_dir.with_file_name(format!("{key}.damaged")).join(&name).is_file(),
        "the damaged copy is kept aside"
    );

    // gc: the run's stages are kept; the damaged copy and a stray key are not
    std::fs::create_dir_all(runs.join("gold/0123456789abcdef")).unwrap();
    std::fs::write(runs.join("gold/0123456789abcdef/stage.json"), "{\"key\": \"0123456789abcdef\"}").unwrap();
    let dry = xtask(&["store", "gc", "--runs"], &[&runs]);
    let listed = text(&dry);
    assert!(
        listed.contains("would delete gold/0123456789abcdef") && listed.contains("damaged copy"),
        "{listed}"
    );
    assert_eq!(listed.matches("would delete").count(), 2, "{listed}");
    assert!(runs.join("gold/0123456789abcdef").exists(), "a dry run deletes nothing");
    let gc = xtask(&["store", "gc", "--yes", "--runs"], &[&runs]);
    assert!(gc.status.success() && text(&gc).contains("deleted 2 entries"), "{}", text(&gc));
    assert!(!runs.join("gold/0123456789abcdef").exists());
    let cached = run();
    assert!(cached.status.success());
    assert!(!text(&cached).contains("recomputing"), "{}", text(&cached));
    let ls = xtask(&["store", "ls", "--runs"], &[&runs]);
    assert!(text(&ls).contains("world") && !text(&ls).contains("DAMAGED"), "{}", text(&ls));
}
