//! Every `cargo xtask ...` command the README, ARCHITECTURE.md and docs/ quote names a task that
//! exists, a target that exists (or a placeholder such as `<target>`), and only options that the
//! task's own `--help` lists: a renamed flag or target fails here, not for a reader.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn xtask(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).output().expect("xtask runs");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The quoted commands of `text`: inline code spans and lines of code blocks that start with
/// `cargo xtask`, as their words after `cargo xtask`.
fn commands(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut push = |s: &str| {
        let words: Vec<String> = s.split_whitespace().skip(2).map(str::to_string).collect();
        out.push(words);
    };
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("cargo xtask ") {
            push(t.split(" #").next().unwrap_or(t));
        }
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 && span.starts_with("cargo xtask ") {
                push(span);
            }
        }
    }
    out
}

/// The tasks that print their options for `--help` (the others would run).
const WITH_HELP: [&str; 5] = ["reproduce", "verify", "analyze", "store", "bench"];

/// A placeholder or an elision, not a literal word: `<target>`, `...`, `S`, `N`.
fn placeholder(word: &str) -> bool {
    word.starts_with('<')
        || word.contains("...")
        || word.len() == 1 && word.chars().all(|c| c.is_ascii_uppercase())
}

#[test]
fn every_quoted_xtask_command_names_a_real_task_target_and_options() {
    let help = xtask(&["help"]);
    let tasks: Vec<&str> = help
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(tasks.contains(&"reproduce") && tasks.contains(&"verify"), "{help}");
    let targets_text = xtask(&["reproduce", "list"]);
    let targets: Vec<&str> = targets_text.lines().filter_map(|l| l.split_whitespace().next()).collect();
    let mut files = vec![root().join("README.md"), root().join("ARCHITECTURE.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let mut checked = 0;
    let mut problems = Vec::new();
    let mut help_of = std::collections::HashMap::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for words in commands(&text) {
            let shown = format!("{}: `cargo xtask {}`", file.display(), words.join(" "));
            let Some(task) = words.first() else { continue };
            if placeholder(task) {
                continue;
            }
            if !tasks.contains(&task.as_str()) {
                problems.push(format!("{shown}: no task {task:?}"));
                continue;
            }
            checked += 1;
            let flags: Vec<&str> = words[1..]
                .iter()
                .map(|w| w.split('=').next().unwrap_or(w))
                .filter(|w| w.starts_with("--"))
                .collect();
            if !flags.is_empty() {
                // only the tasks whose `--help` prints their options (`test` and `invariants` run)
                if !WITH_HELP.contains(&task.as_str()) {
                    problems.push(format!("{shown}: options on a task that takes none"));
                    continue;
                }
                let options = help_of.entry(task.clone()).or_insert_with(|| xtask(&[task, "--help"]));
                for flag in flags.into_iter().filter(|f| !options.contains(f)) {
                    problems.push(format!("{shown}: `{task} --help` lists no {flag}"));
                }
            }
            if matches!(task.as_str(), "reproduce" | "verify") {
                if let Some(target) = words.get(1).filter(|w| !w.starts_with("--") && !placeholder(w)) {
                    let known =
                        targets.contains(&target.as_str()) || ["all", "list"].contains(&target.as_str());
                    if !known {
                        problems.push(format!("{shown}: no target {target:?}"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "quoted commands that would not run:\n  {}", problems.join("\n  "));
    assert!(checked >= 30, "only {checked} commands found: is the extraction broken?");
}

#[test]
fn the_extraction_finds_inline_and_block_commands_and_a_wrong_flag_would_show() {
    let text =
        "Run `cargo xtask verify fig1 --gold rubric` then\n```sh\ncargo xtask bench --quick  # fast\n```";
    let found = commands(text);
    assert_eq!(found, vec![vec!["verify", "fig1", "--gold", "rubric"], vec!["bench", "--quick"]]);
    assert!(!xtask(&["bench", "--help"]).contains("--no-such-flag"));
    assert!(placeholder("<target>") && placeholder("S") && !placeholder("fig1"));
}
