//! `cargo xtask seed-llvm [--llvm DIR]`: lets the `cuda` feature build offline against a system
//! LLVM instead of the prebuilt one that burn's CUDA backend downloads.
//!
//! burn 0.22's CUDA backend reaches `cubecl-llvm`, whose build depends on `tracel-llvm-bundler`.
//! That build script downloads a prebuilt LLVM 23.1 into `$XDG_DATA_HOME/tracel/tracel-llvm-23.1.0-4`
//! (`~/.local/share/...`) unless the directory already holds the marker `.tracel-llvm-installed`;
//! then `cubecl-llvm` links whatever `bin/llvm-config --link-static` there names. This task makes
//! that directory point at an installed LLVM (`include` and `lib` as links, `bin/llvm-config` a
//! wrapper of the installed one) and writes the marker, so the build uses it and downloads
//! nothing. The wrapper exists because a system `llvm-config --system-libs` may name a library by
//! its path (`/usr/lib/x86_64-linux-gnu/libz3.so`), which the bundler passes on as `-llibz3`; the
//! wrapper turns such paths into `-lz3`.
//!
//! Measured: Debian 12's `llvm-22-dev`, `libpolly-22-dev` and `libzstd-dev` (from the registries
//! our machines reach) build and link the `cuda` feature (see the README for what ran on a GPU).

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
static libraries. On Debian 12: apt-get install llvm-22-dev libpolly-22-dev libzstd-dev.
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
             (Debian 12: apt-get install llvm-22-dev libpolly-22-dev libzstd-dev) or pass --llvm DIR",
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
    println!("now: cargo build -p xtask --features cuda   (no download; if the cuda build ran before, first");
    println!("     `cargo clean -p cubecl-llvm` so that its build script reads the new llvm-config)");
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

/// Makes `bundle` a directory of links to `llvm`'s `include` and `lib`, an `llvm-config` wrapper
/// in `bin`, and the marker. Refuses to touch a real (downloaded) bundle.
fn seed(bundle: &Path, llvm: &Path) -> Result<PathBuf> {
    let ours = bundle.join("bin").join(WRAPPER_TAG_FILE).exists() || bundle.join("lib").is_symlink();
    if bundle.join(MARKER).exists() && !ours {
        bail!("{} already holds a downloaded LLVM; remove it first to seed a system one", bundle.display());
    }
    std::fs::create_dir_all(bundle).with_context(|| format!("creating {}", bundle.display()))?;
    for part in ["include", "lib"] {
        let link = bundle.join(part);
        if link.is_symlink() {
            std::fs::remove_file(&link)?;
        }
        std::os::unix::fs::symlink(llvm.join(part), &link)
            .with_context(|| format!("linking {} to {}", link.display(), llvm.join(part).display()))?;
    }
    let bin = bundle.join("bin");
    if bin.is_symlink() {
        std::fs::remove_file(&bin)?; // an earlier seed linked the whole directory
    }
    std::fs::create_dir_all(&bin)?;
    let script = bin.join("llvm-config");
    std::fs::write(&script, wrapper(&llvm.join("bin/llvm-config")))
        .with_context(|| format!("writing {}", script.display()))?;
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    std::fs::write(bin.join(WRAPPER_TAG_FILE), llvm.display().to_string())?;
    std::fs::write(bundle.join(MARKER), b"").context("writing the marker")?;
    Ok(bundle.to_path_buf())
}

/// Names the LLVM a seeded bundle wraps (and tells a seeded bundle from a downloaded one).
const WRAPPER_TAG_FILE: &str = "seeded-from";

/// A shell script that runs `real` with its arguments and rewrites `/path/libNAME.so` to
/// `-lNAME` in what it prints.
fn wrapper(real: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         # Written by `cargo xtask seed-llvm`: {real}, with libraries named by path given as -l flags.\n\
         out=$('{real}' \"$@\") || exit $?\n\
         printf '%s\\n' \"$out\" | sed -E 's#(^| )/[^ ]*/lib([A-Za-z0-9_+.-]+)\\.so#\\1-l\\2#g'\n",
        real = real.display()
    )
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
        let script = std::fs::read_to_string(bundle.join("bin/llvm-config")).unwrap();
        assert!(script.contains(&newest.join("bin/llvm-config").display().to_string()), "{script}");
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

#[cfg(test)]
mod wrapper_tests {
    use super::*;

    #[test]
    fn the_wrapper_turns_library_paths_into_link_flags() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real-llvm-config");
        std::fs::write(
            &real,
            "#!/bin/sh\necho \"-lrt -ldl /usr/lib/x86_64-linux-gnu/libz3.so -lz -lxml2 $1\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&real, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let script = tmp.path().join("llvm-config");
        std::fs::write(&script, wrapper(&real)).unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let out = std::process::Command::new(&script).arg("--system-libs").output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "-lrt -ldl -lz3 -lz -lxml2 --system-libs");
    }
}
