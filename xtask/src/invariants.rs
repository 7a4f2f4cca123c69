//! Architecture invariants that the manifests alone can show.

use std::process::Command;

use anyhow::{bail, Context, Result};

/// Crates that must stay usable from projects on any framework.
pub const MATH_CRATES: [&str; 3] = ["goodhart-kl", "goodhart-bon", "goodhart-laws"];

/// Dependencies the math crates must never pull in, directly or transitively.
pub const FORBIDDEN: [&str; 2] = ["burn", "polars"];

/// Checks that no math crate depends on burn or polars (`cargo tree`, normal dependencies).
pub fn check() -> Result<()> {
    let mut bad = Vec::new();
    for krate in MATH_CRATES {
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
            if FORBIDDEN.iter().any(|f| name == *f || name.starts_with(&format!("{f}-"))) {
                bad.push(format!("{krate} depends on {name}"));
            }
        }
    }
    if !bad.is_empty() {
        bail!(
            "architecture invariant broken (the math crates must stay framework-free):\n  {}",
            bad.join("\n  ")
        );
    }
    println!("ok: {} depend on none of {}", MATH_CRATES.join(", "), FORBIDDEN.join(", "));
    Ok(())
}
