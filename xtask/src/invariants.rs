//! Architecture invariants that the manifests alone can show.

use std::process::Command;

use anyhow::{bail, Context, Result};

/// Crates that must stay usable from projects on any framework.
pub const MATH_CRATES: [&str; 3] = ["goodhart-kl", "goodhart-bon", "goodhart-laws"];

/// Dependencies the math crates must never pull in, directly or transitively.
pub const FORBIDDEN: [&str; 2] = ["burn", "polars"];

/// The crate of results as data (Parquet through polars, `analyze`): polars, but never burn, so
/// that the Python package can expose it without a deep-learning framework.
pub const DATA_CRATE: &str = "goodhart-data";

/// Checks that no math crate depends on burn or polars and that the data crate does not depend
/// on burn (`cargo tree`, normal dependencies).
pub fn check() -> Result<()> {
    let mut bad = Vec::new();
    let checks = MATH_CRATES.iter().map(|k| (*k, &FORBIDDEN[..])).chain([(DATA_CRATE, &FORBIDDEN[..1])]);
    for (krate, forbidden) in checks {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["tree", "--edges", "normal", "--prefix", "none", "--format", "{p}", "-p", krate])
            .current_dir(crate::workspace_root())
            .output()
            .with_context(|| format!("could not run cargo tree -p {krate}"))?;
        if !out.status.success() {
            bail!("cargo tree -p {krate} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            if forbidden.iter().any(|f| name == *f || name.starts_with(&format!("{f}-"))) {
                bad.push(format!("{krate} depends on {name}"));
            }
        }
    }
    if !bad.is_empty() {
        bail!(
            "architecture invariant broken (the math crates and {DATA_CRATE} must stay framework-free):\n  {}",
            bad.join("\n  ")
        );
    }
    println!("ok: {} depend on none of {}", MATH_CRATES.join(", "), FORBIDDEN.join(", "));
    println!("ok: {DATA_CRATE} does not depend on {}", FORBIDDEN[0]);
    Ok(())
}
