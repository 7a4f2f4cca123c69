//! `cargo xtask seed-llvm [--llvm DIR]`: lets the `cuda` feature build offline against a system
//! LLVM instead of the prebuilt one that burn's CUDA backend downloads.
//!
//! burn 0.22's CUDA backend reaches `cubecl-llvm`, whose build depends on `tracel-llvm-bundler`.
//! That build script downloads a prebuilt LLVM 23.1 into `$XDG_DATA_HOME/tracel/tracel-llvm-23.1.0-4`
//! (`~/.local/share/...`) unless the directory already holds the marker `.tracel-llvm-installed`;
//! then `cubecl-llvm` links whatever `bin/llvm-config --link-static` there names. This task makes
//! that directory point at an installed LLVM (`bin`, `include` and `lib` as links) and writes the
//! marker, so the build uses it and downloads nothing.
//!
//! Measured: Debian 12's `llvm-22-dev` and `libpolly-22-dev` (from the registries our machines
//! reach) build and link the `cuda` feature, and the binaries ran on an H200 (see the README).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The bundle that burn 0.22.1's `tracel-llvm-bundler` 23.1.0-4 looks for.
const BUNDLE: &str = "tracel-llvm-23.1.0-4";
const MARKER: &str = ".tracel-llvm-installed";

pub const USAGE: &str = "\
usage: cargo xtask seed-llvm [--llvm DIR]

Points burn's CUDA build at an installed LLVM instead of downloading one: links DIR's bin, include
and lib into $XDG_DATA_HOME/tracel/tracel-llvm-23.1.0-4 (default ~/.local/share/...) and writes the
marker that tells the bundler it is installed. DIR defaults to the newest /usr/lib/llvm-N with
static libraries. On Debian 12: apt-get install llvm-22-dev libpolly-22-dev.
";

pub fn run(args: &[String]) -> Result<()> {
    let mut llvm: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--llvm" => llvm = Some(it.next().context("--llvm needs a directory")?.into()),
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other}\n\n{USAGE}"),
        }
    }
    let llvm = match llvm {
        Some(dir) => dir,
        None => newest_system_llvm(Path::new("/usr/lib")).context(
            "no /usr/lib/llvm-N with bin/llvm-config and static libraries; install one \
             (Debian 12: apt-get install llvm-22-dev libpolly-22-dev) or pass --llvm DIR",
        )?,
    };
    check_llvm(&llvm)?;
    let data = match std::env::var_os("XDG_DATA_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME").context("neither XDG_DATA_HOME nor HOME is set")?)
            .join(".local/share"),
    };
    let bundle = seed(&data.join("tracel").join(BUNDLE), &llvm)?;
    println!("seeded {} -> {}", bundle.display(), llvm.display());
    println!("now: cargo build -p xtask --features cuda   (no download)");
    Ok(())
}

/// `/usr/lib/llvm-N` with the largest N that has `bin/llvm-config` and `lib/libLLVMCore.a`.
fn newest_system_llvm(lib: &Path) -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(lib)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n: u32 = name.strip_prefix("llvm-")?.parse().ok()?;
            check_llvm(&e.path()).is_ok().then(|| (n, e.path()))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

fn check_llvm(dir: &Path) -> Result<()> {
    for need in ["bin/llvm-config", "include/llvm-c/Core.h", "lib/libLLVMCore.a"] {
        if !dir.join(need).exists() {
            bail!("{} has no {need}: not an LLVM install with static libraries", dir.display());
        }
    }
    Ok(())
}

/// Makes `bundle` a directory of links to `llvm`'s `bin`, `include` and `lib` plus the marker.
/// Refuses to touch a real (downloaded) bundle.
fn seed(bundle: &Path, llvm: &Path) -> Result<PathBuf> {
    if bundle.join(MARKER).exists() && !bundle.join("bin").is_symlink() {
        bail!("{} already holds a downloaded LLVM; remove it first to seed a system one", bundle.display());
    }
    std::fs::create_dir_all(bundle).with_context(|| format!("creating {}", bundle.display()))?;
    for part in ["bin", "include", "lib"] {
        let link = bundle.join(part);
        if link.is_symlink() {
            std::fs::remove_file(&link)?;
        }
        std::os::unix::fs::symlink(llvm.join(part), &link)
            .with_context(|| format!("linking {} to {}", link.display(), llvm.join(part).display()))?;
    }
    std::fs::write(bundle.join(MARKER), b"").context("writing the marker")?;
    Ok(bundle.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_llvm(root: &Path, name: &str) -> PathBuf {
        let dir = root.join(name);
        for f in ["bin/llvm-config", "include/llvm-c/Core.h", "lib/libLLVMCore.a"] {
            std::fs::create_dir_all(dir.join(f).parent().unwrap()).unwrap();
            std::fs::write(dir.join(f), b"").unwrap();
        }
        dir
    }

    #[test]
    fn picks_the_newest_complete_llvm_and_links_it() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("lib");
        fake_llvm(&lib, "llvm-19");
        let newest = fake_llvm(&lib, "llvm-22");
        std::fs::create_dir_all(lib.join("llvm-23/bin")).unwrap(); // incomplete: skipped
        assert_eq!(newest_system_llvm(&lib), Some(newest.clone()));

        let bundle = tmp.path().join("data/tracel").join(BUNDLE);
        seed(&bundle, &newest).unwrap();
        assert!(bundle.join(MARKER).exists());
        assert_eq!(std::fs::read_link(bundle.join("lib")).unwrap(), newest.join("lib"));
        seed(&bundle, &newest).unwrap(); // again: the links are replaced, not an error
    }

    #[test]
    fn a_downloaded_bundle_is_left_alone_and_a_bad_dir_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let bundle = tmp.path().join(BUNDLE);
        std::fs::create_dir_all(bundle.join("bin")).unwrap();
        std::fs::write(bundle.join(MARKER), b"").unwrap();
        let err = seed(&bundle, tmp.path()).unwrap_err().to_string();
        assert!(err.contains("already holds a downloaded LLVM"), "{err}");
        let err = check_llvm(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("bin/llvm-config"), "{err}");
    }
}
