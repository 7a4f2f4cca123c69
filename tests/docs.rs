//! The docs must tell the truth about the code: these checks fail when they drift apart.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: impl AsRef<Path>) -> String {
    let path = root().join(path);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn crate_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The test command in the README's "Run the tests" section.
fn readme_test_command() -> String {
    let readme = read("README.md");
    let section = readme.split("## Run the tests").nth(1).expect("README has a 'Run the tests' section");
    let block = section.split("```sh").nth(1).expect("a ```sh block follows it");
    block.split("```").next().unwrap().trim().to_string()
}

#[test]
fn ci_runs_the_readme_test_command() {
    let cmd = readme_test_command();
    assert!(cmd.starts_with("cargo test"), "README test command: {cmd}");
    let ci = read(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == cmd),
        ".ci/run must run the README's test command `{cmd}` on a line of its own"
    );
}

#[test]
fn architecture_has_a_heading_per_crate() {
    let arch = read("ARCHITECTURE.md");
    for name in crate_names() {
        assert!(arch.contains(&format!("### `{name}`")), "ARCHITECTURE.md lacks a `### `{name}`` heading");
    }
}

#[test]
fn every_crate_opens_with_a_doc_and_a_doctest() {
    for name in crate_names() {
        let lib = read(format!("crates/{name}/src/lib.rs"));
        // The published crates take their crate doc from their README, so crates.io shows it too.
        let doc: String = if lib.starts_with("#![doc = include_str!(\"../README.md\")]") {
            read(format!("crates/{name}/README.md"))
        } else {
            assert!(lib.starts_with("//!"), "crates/{name}/src/lib.rs must open with a crate doc (//!)");
            lib.lines().take_while(|l| l.starts_with("//!")).collect::<Vec<_>>().join("\n")
        };
        assert!(doc.contains("```"), "the crate doc of {name} has no doctest");
    }
}

#[test]
fn facade_reexports_every_crate() {
    let lib = read("src/lib.rs");
    // The Python binding (an extension module, no Rust API) is not a library to re-export.
    for name in crate_names().into_iter().filter(|n| n != "goodhart-py") {
        let ident = name.replace('-', "_");
        assert!(lib.contains(&format!("pub use {ident}")), "src/lib.rs does not re-export {name}");
    }
}

/// Every line of the ```rust block in `section` of docs/library.md is a line of the example it
/// quotes.
fn assert_readme_quotes(section_heading: &str, example: &str) {
    let readme = read("docs/library.md");
    let section = readme.split(section_heading).nth(1).expect("docs/library.md has the section");
    let block = section.split("```rust").nth(1).expect("a ```rust block").split("```").next().unwrap();
    let text = read(example);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
        assert!(lines.contains(&line), "README line not in {example}: {line}");
    }
}

#[test]
fn the_readme_quotes_the_own_reward_example() {
    assert_readme_quotes("## Optimise your own reward", "crates/goodhart-ppo/examples/own_reward.rs");
}

#[test]
fn the_readme_quotes_the_math_example() {
    assert_readme_quotes("## Use the math on its own", "crates/goodhart-bon/examples/math_on_its_own.rs");
}

/// File paths the docs cite in backticks exist (at the root, or inside some crate for paths
/// given relative to it), and the README sections they cite by name are headings.
#[test]
fn cited_paths_and_sections_exist() {
    let crates = crate_names();
    let exts = [".rs", ".md", ".toml", ".py", ".sh", ".json"];
    let pages = doc_pages();
    let docs = ["README.md", "ARCHITECTURE.md", "data/README.md"].map(String::from);
    for doc in docs.iter().chain(&pages) {
        let text = read(doc);
        for (i, quoted) in text.split('`').enumerate() {
            if i % 2 == 0 || quoted.contains(' ') || quoted.contains('*') || quoted.contains('<') {
                continue;
            }
            let path = quoted.split(':').next().unwrap();
            if path.contains('=') {
                continue;
            }
            // Outputs (results, runs, build products) and paths outside the repository are not cited files.
            let generated = ["results/", "runs/", "target/", "/", "~", "../", "$"];
            if !path.contains('/')
                || !exts.iter().any(|e| path.ends_with(e))
                || generated.iter().any(|g| path.starts_with(g))
            {
                continue;
            }
            let found = root().join(path).exists()
                || root().join("crates").join(path).exists()
                || crates.iter().any(|c| root().join("crates").join(c).join(path).exists());
            assert!(found, "{doc} cites `{quoted}`, which does not exist");
        }
    }
    let readme = read("README.md");
    let headings: Vec<&str> =
        readme.lines().filter_map(|l| l.strip_prefix("## ").or_else(|| l.strip_prefix("### "))).collect();
    let mut docs: Vec<String> = vec!["README.md".into(), "ARCHITECTURE.md".into(), ".ci/run".into()];
    docs.extend(pages.iter().cloned());
    docs.extend(rust_sources(&root().join("crates")));
    docs.extend(rust_sources(&root().join("xtask")));
    for doc in &docs {
        let text = read(doc);
        // `docs/<page>.md, "Section"` (or a Markdown link to the page, then the section): the
        // page exists and has that heading
        for (i, cite) in text.split("docs/").enumerate().skip(1) {
            let Some((page, rest)) = cite.split_once(".md") else { continue };
            if page.is_empty() || !page.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                continue;
            }
            let path = format!("docs/{page}.md");
            assert!(root().join(&path).exists(), "{doc} cites {path}, which does not exist (citation {i})");
            let rest = rest.strip_prefix(')').unwrap_or(rest);
            if let Some(section) = rest.strip_prefix(", \"").and_then(|r| r.split('"').next()) {
                let page_text = read(&path);
                let is_heading = page_text
                    .lines()
                    .filter_map(|l| l.strip_prefix('#'))
                    .any(|h| h.trim_start_matches('#').trim() == section);
                assert!(is_heading, "{doc} cites {path}, \"{section}\", which is not a heading there");
            }
        }
        for cite in text.split("README, \"").skip(1).chain(text.split("README's \"").skip(1)) {
            let name = cite.split('"').next().unwrap();
            assert!(
                headings.iter().any(|h| h.trim() == name),
                "{doc} cites the README section \"{name}\", which is not a heading"
            );
        }
    }
}

/// Every page under `docs/`, relative to the workspace root.
fn doc_pages() -> Vec<String> {
    let mut pages: Vec<String> = fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| format!("docs/{}", e.unwrap().file_name().into_string().unwrap()))
        .filter(|p| p.ends_with(".md"))
        .collect();
    pages.sort();
    pages
}

#[test]
fn the_readme_is_a_front_door_that_links_every_page() {
    let readme = read("README.md");
    let lines = readme.lines().count();
    assert!(lines <= 250, "README.md has {lines} lines: move detail into a docs/ page");
    for page in doc_pages() {
        assert!(readme.contains(&format!("]({page})")), "README.md does not link {page}");
    }
    // every relative Markdown link of the README and the pages leads to a file
    for doc in std::iter::once("README.md".to_string()).chain(doc_pages()) {
        let text = read(&doc);
        let base = Path::new(&doc).parent().unwrap().to_path_buf();
        for link in text.split("](").skip(1).filter_map(|l| l.split(')').next()) {
            if link.contains("://") || link.starts_with('#') {
                continue;
            }
            let target = link.split('#').next().unwrap();
            assert!(root().join(&base).join(target).exists(), "{doc} links {link}, which does not exist");
        }
    }
}

/// Every `.rs` file under `dir`, relative to the workspace root.
fn rust_sources(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(root()).unwrap().to_string_lossy().into_owned());
        }
    }
    out
}
