//! Architecture invariants that the manifests alone can show.

use std::process::Command;

use anyhow::{bail, Context, Result};

/// Crates that must stay usable from projects on any framework: the math, the findings' checks
/// that read results, and the artifact store.
pub const MATH_CRATES: [&str; 6] =
    ["goodhart-core", "goodhart-kl", "goodhart-bon", "goodhart-laws", "goodhart-findings", "goodhart-store"];

/// Dependencies the math crates must never pull in, directly or transitively.
pub const FORBIDDEN: [&str; 2] = ["burn", "polars"];

/// The crate of results as data (Parquet through polars, `analyze`): polars, but never burn, so
/// that the Python package can expose it without a deep-learning framework.
pub const DATA_CRATE: &str = "goodhart-data";

/// The optimisers that train a policy: each shares `goodhart_policy::eval`, neither depends on
/// the other.
pub const OPTIMISERS: [&str; 2] = ["goodhart-ppo", "goodhart-dpo"];

/// The figures: drawn from plain numbers, with no ML framework or dataframe under them.
pub const PLOT_CRATE: &str = "goodhart-plot";

/// The Python binding: the one crate allowed to depend on PyO3.
pub const BINDING_CRATE: &str = "goodhart-py";

/// Checks that no math crate depends on burn or polars, that the data crate does not depend on
/// burn, and that only the binding crate depends on PyO3 (`cargo tree`, normal dependencies).
pub fn check() -> Result<()> {
    let mut bad = Vec::new();
    let checks = MATH_CRATES
        .iter()
        .map(|k| (*k, &FORBIDDEN[..]))
        .chain([(DATA_CRATE, &FORBIDDEN[..1]), (PLOT_CRATE, &FORBIDDEN[..])]);
    for (krate, forbidden) in checks {
        let tree = cargo_tree(&["-p", krate])?;
        bad.extend(
            forbidden_in(&tree, forbidden).into_iter().map(|name| format!("{krate} depends on {name}")),
        );
    }
    for (krate, other) in [(OPTIMISERS[0], OPTIMISERS[1]), (OPTIMISERS[1], OPTIMISERS[0])] {
        let tree = cargo_tree(&["-p", krate])?;
        bad.extend(
            forbidden_in(&tree, &[other]).into_iter().map(|name| format!("{krate} depends on {name}")),
        );
    }
    // Every package whose tree holds PyO3: the inverted tree lists PyO3's dependents.
    let dependents = cargo_tree(&["--workspace", "--invert", "pyo3"])?;
    bad.extend(
        workspace_dependents(&dependents, BINDING_CRATE)
            .into_iter()
            .map(|name| format!("{name} depends on pyo3")),
    );
    let nn = crate::workspace_root().join("crates/goodhart-nn/src");
    let source = |path: &std::path::Path| {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    };
    let mut fused = Vec::new();
    for entry in std::fs::read_dir(nn.join("fused")).context("reading goodhart-nn/src/fused")? {
        let path = entry?.path();
        fused.push((path.display().to_string(), source(&path)?));
    }
    bad.extend(engine_and_fused_apart(&source(&nn.join("engine.rs"))?, &fused));
    if !bad.is_empty() {
        bail!(
            "architecture invariant broken (the math crates and {DATA_CRATE} must stay framework-free, \
             the optimisers must not depend on each other, and only {BINDING_CRATE} may use PyO3):\n  {}",
            bad.join("\n  ")
        );
    }
    println!("ok: {} depend on none of {}", MATH_CRATES.join(", "), FORBIDDEN.join(", "));
    println!("ok: {DATA_CRATE} does not depend on {}", FORBIDDEN[0]);
    println!("ok: {} do not depend on each other", OPTIMISERS.join(" and "));
    println!("ok: {PLOT_CRATE} depends on none of {}", FORBIDDEN.join(", "));
    println!("ok: only {BINDING_CRATE} depends on pyo3");
    println!("ok: goodhart-nn's engine and fused operations share kernels and products, not each other");
    // `cargo xtask` builds xtask's normal dependencies; the README's test command builds the
    // workspace (less the binding) with its dev-dependencies. Where a package gets other features
    // in one than in the other, it and everything above it compile twice.
    let alone = feature_sets(&tree_with(&["--edges", "normal,build", "-p", "xtask"])?);
    let tests = feature_sets(&tree_with(&[
        "--edges",
        "normal,build,dev",
        "--workspace",
        "--exclude",
        BINDING_CRATE,
    ])?);
    let differ = different_features(&alone, &tests);
    if !differ.is_empty() {
        bail!(
            "`cargo xtask` and `cargo test --workspace --exclude {BINDING_CRATE}` resolve other features \
             for:\n  {}\nso the test command compiles them (and what depends on them) again: ask for the \
             test build's features in xtask/Cargo.toml",
            differ.join("\n  ")
        );
    }
    println!("ok: `cargo xtask` and the test command build every shared package with the same features");
    Ok(())
}

/// The engine (inference) and the fused training operations import the shared `kernels` and
/// `products` and not each other: each import of one by the other, named.
fn engine_and_fused_apart(engine: &str, fused: &[(String, String)]) -> Vec<String> {
    let imports = |text: &str, module: &str| {
        text.lines().any(|l| {
            let l = l.trim_start();
            !l.starts_with("//")
                && (l.contains(&format!("crate::{module}::")) || l.contains(&format!("crate::{module};")))
        })
    };
    let mut bad = Vec::new();
    if imports(engine, "fused") {
        bad.push(
            "goodhart-nn's engine.rs imports crate::fused (share it through kernels or products)".to_string(),
        );
    }
    for (path, text) in fused {
        if imports(text, "engine") {
            bad.push(format!("{path} imports crate::engine (share it through kernels or products)"));
        }
    }
    bad
}

/// `cargo tree` with `args`, each package with its features: `name vX.Y.Z [f1,f2]` per line.
fn tree_with(args: &[&str]) -> Result<String> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["tree", "--prefix", "none", "--format", "{p} [{f}]"])
        .args(args)
        .current_dir(crate::workspace_root())
        .output()
        .with_context(|| format!("could not run cargo tree {}", args.join(" ")))?;
    if !out.status.success() {
        bail!("cargo tree {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Each package of a `{p} [{f}]` tree with the feature lists it appears with.
fn feature_sets(tree: &str) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut out: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    for line in tree.lines().filter(|l| !l.trim().is_empty()) {
        let Some((package, rest)) = line.split_once(" [") else { continue };
        let features = rest.rsplit_once(']').map_or("", |(f, _)| f);
        let package = package.trim_end_matches(" (*)").trim().to_string();
        out.entry(package).or_default().insert(features.to_string());
    }
    out
}

/// The packages of `alone` that `tests` builds with other features.
fn different_features(
    alone: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    tests: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Vec<String> {
    alone
        .iter()
        .filter(|(p, f)| tests.get(*p).is_some_and(|g| g != *f))
        .map(|(p, f)| format!("{p}: {f:?} against {:?}", tests[p]))
        .collect()
}

/// `cargo tree` of normal dependencies, one package name and version per line.
fn cargo_tree(selection: &[&str]) -> Result<String> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["tree", "--edges", "normal", "--prefix", "none", "--format", "{p}"])
        .args(selection)
        .current_dir(crate::workspace_root())
        .output()
        .with_context(|| format!("could not run cargo tree {}", selection.join(" ")))?;
    if !out.status.success() {
        bail!("cargo tree {} failed: {}", selection.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The packages of `tree` that are, or belong to, one of `forbidden` (`burn` matches `burn-core`).
fn forbidden_in(tree: &str, forbidden: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| forbidden.iter().any(|f| name == f || name.starts_with(&format!("{f}-"))))
        .map(str::to_string)
        .collect();
    found.dedup();
    found
}

/// The workspace packages (named `goodhart` or `goodhart-*`) in an inverted tree other than
/// `allowed`.
fn workspace_dependents(inverted: &str, allowed: &str) -> Vec<String> {
    let mut found: Vec<String> = inverted
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| (*name == "goodhart" || name.starts_with("goodhart-")) && *name != allowed)
        .map(str::to_string)
        .collect();
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_with_other_features_in_the_test_build_is_named() {
        let alone = feature_sets("burn v0.22.1 [default,std]\nfastrand v2.5.0 [alloc,std]\n");
        let same =
            feature_sets("burn v0.22.1 [default,std]\nfastrand v2.5.0 [alloc,std]\nproptest v1.12.0 [std]\n");
        assert!(different_features(&alone, &same).is_empty(), "a test-only package is no difference");
        let other = feature_sets("burn v0.22.1 [default,std]\nfastrand v2.5.0 [alloc,default,std]\n");
        let differ = different_features(&alone, &other);
        assert_eq!(differ.len(), 1);
        assert!(differ[0].starts_with("fastrand v2.5.0"), "{differ:?}");
    }

    #[test]
    fn a_framework_anywhere_in_the_tree_is_found() {
        let tree = "goodhart-kl v0.1.0 (/w/crates/goodhart-kl)\nthiserror v2.0.1\nburn-core v0.22.1\npolars v0.55.0\n";
        assert_eq!(forbidden_in(tree, &FORBIDDEN), vec!["burn-core", "polars"]);
        assert!(forbidden_in("goodhart-kl v0.1.0\nnalgebra v0.35.0\nburnt v1.0.0\n", &FORBIDDEN).is_empty());
    }

    #[test]
    fn the_engine_and_the_fused_operations_may_not_import_each_other() {
        let fused = vec![("fused/linear.rs".to_string(), "use crate::products::gemm_with;".to_string())];
        assert!(engine_and_fused_apart("use crate::products::attend_head;", &fused).is_empty());
        let bad = engine_and_fused_apart("use crate::fused::attend_head;", &fused);
        assert!(bad.len() == 1 && bad[0].contains("engine.rs imports crate::fused"), "{bad:?}");
        let back = vec![("fused/x.rs".to_string(), "let e = crate::engine::Engine::new(&m);".to_string())];
        assert!(engine_and_fused_apart("", &back)[0].contains("fused/x.rs imports crate::engine"));
        // a comment naming the other module is not an import
        assert!(engine_and_fused_apart("// see crate::fused::linear", &[]).is_empty());
    }

    #[test]
    fn only_the_binding_may_depend_on_pyo3() {
        let clean = "pyo3 v0.30.1\nnumpy v0.30.0\ngoodhart-py v0.1.0 (/w/crates/goodhart-py)\n";
        assert!(workspace_dependents(clean, BINDING_CRATE).is_empty());
        let leaked =
            "pyo3 v0.30.1\ngoodhart-data v0.1.0 (/w)\ngoodhart-py v0.1.0 (/w)\ngoodhart v0.1.0 (/w)\n";
        assert_eq!(workspace_dependents(leaked, BINDING_CRATE), vec!["goodhart", "goodhart-data"]);
    }
}
