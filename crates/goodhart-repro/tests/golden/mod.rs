//! Golden files: a run's records compared with the ones blessed into `tests/golden/`.
//!
//! Floating-point results depend on the instruction set the matrix kernels pick at run time
//! (AVX-512 and AVX2 round differently), so a golden file records the signature of the machine
//! that blessed it. On a machine with the same signature every field must match byte for byte;
//! on another, identifying columns must match and each number must lie within 3 standard errors
//! (its row's `_se` column; KL, which has none, within 5%) of the blessed one, which still
//! catches a refactor that changes what is computed. `GOODHART_BLESS=1` rewrites the file.

use std::path::PathBuf;

/// The columns that identify a row (everything before `kl`).
const KEY_COLUMNS: usize = 10;

/// The kernel-relevant instruction sets of this machine.
pub fn signature() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let mut s = String::from("x86_64");
        if std::arch::is_x86_feature_detected!("avx512f") {
            s.push_str("+avx512f");
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            s.push_str("+avx2");
        }
        if std::arch::is_x86_feature_detected!("fma") {
            s.push_str("+fma");
        }
        s
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH.to_string()
    }
}

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

/// Compares `csv` (a header line and rows) with the golden file `name`, or blesses it.
pub fn check(name: &str, csv: &str) {
    let file = path(name);
    let sig = signature();
    if std::env::var_os("GOODHART_BLESS").is_some() {
        std::fs::write(&file, format!("# signature: {sig}\n{csv}")).unwrap();
        eprintln!("blessed {}", file.display());
        return;
    }
    let golden = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!("golden file {} unreadable ({e}); run with GOODHART_BLESS=1 to create it", file.display())
    });
    let (first, expected) = golden.split_once('\n').expect("a signature line");
    let blessed_sig = first.strip_prefix("# signature: ").expect("a `# signature:` first line");
    if let Err(why) = compare(expected, csv, blessed_sig == sig) {
        panic!(
            "{} differs from this run ({why}); blessed on {blessed_sig}, this machine {sig}. \
             If the change is intended, rerun with GOODHART_BLESS=1 and say why in the commit.",
            file.display()
        );
    }
}

/// Byte equality when `exact`; otherwise equal keys and numbers within 3 standard errors.
pub fn compare(expected: &str, actual: &str, exact: bool) -> Result<(), String> {
    if exact {
        return match expected.lines().zip(actual.lines()).position(|(a, b)| a != b) {
            Some(i) => Err(format!(
                "line {}: expected\n  {}\nfound\n  {}",
                i + 1,
                expected.lines().nth(i).unwrap(),
                actual.lines().nth(i).unwrap()
            )),
            None if expected.lines().count() != actual.lines().count() => {
                Err(format!("{} lines expected, {} found", expected.lines().count(), actual.lines().count()))
            }
            None => Ok(()),
        };
    }
    let (e_lines, a_lines): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    if e_lines.len() != a_lines.len() || e_lines.first() != a_lines.first() {
        return Err(format!("{} lines expected, {} found, or another header", e_lines.len(), a_lines.len()));
    }
    let header: Vec<&str> = e_lines[0].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for (i, (e, a)) in e_lines.iter().zip(&a_lines).enumerate().skip(1) {
        let (e, a): (Vec<&str>, Vec<&str>) = (e.split(',').collect(), a.split(',').collect());
        if e[..KEY_COLUMNS] != a[..KEY_COLUMNS] {
            return Err(format!(
                "line {}: key {:?} expected, {:?} found",
                i + 1,
                &e[..KEY_COLUMNS],
                &a[..KEY_COLUMNS]
            ));
        }
        let num = |row: &[&str], c: usize| row[c].parse::<f64>().unwrap_or(f64::NAN);
        let columns = [
            ("gold", Some("gold_se")),
            ("proxy", Some("proxy_se")),
            ("rubric", Some("rubric_se")),
            ("kl", None),
        ];
        for (value, se) in columns {
            let (x, y) = (num(&e, col(value)), num(&a, col(value)));
            // The CSV has no standard error of KL: it must agree within 5%.
            let tol = se.map_or(0.05 * (1.0 + x.abs()), |se| 3.0 * num(&e, col(se))) + 1e-9;
            if !((x - y).abs() <= tol || (x.is_nan() && y.is_nan())) {
                return Err(format!("line {}: {value} {x} expected, {y} found (tolerance {tol:.3e})", i + 1));
            }
        }
    }
    Ok(())
}

#[test]
fn the_comparison_rejects_a_changed_number_and_a_changed_key() {
    let header = "experiment,method,rm_size,rm_params,data_size,policy_size,kl_penalty,seed,n,step,kl,sqrt_kl,gold,gold_se,proxy,proxy_se,rubric,rubric_se";
    let row =
        |gold: f64, n: u32| format!("fig1,bon,p1k,1,2,p3,0,0,{n},,0.5,0.7,{gold},0.01,0.2,0.01,0.1,0.01");
    let base = format!("{header}\n{}\n", row(0.3, 4));
    assert!(compare(&base, &base, true).is_ok());
    assert!(compare(&base, &format!("{header}\n{}\n", row(0.3000001, 4)), true).is_err());
    assert!(compare(&base, &format!("{header}\n{}\n", row(0.3000001, 4)), false).is_ok());
    assert!(compare(&base, &format!("{header}\n{}\n", row(0.5, 4)), false).is_err());
    assert!(compare(&base, &format!("{header}\n{}\n", row(0.3, 8)), false).is_err());
    assert!(compare(&base, &format!("{header}\n"), false).is_err());
    // KL has no standard error column: 0.5 -> 0.6 is beyond its 5% tolerance.
    assert!(compare(&base, &base.replace(",0.5,0.7,", ",0.6,0.7,"), false).is_err());
    assert!(compare(&base, &base.replace(",0.5,0.7,", ",0.51,0.7,"), false).is_ok());
}
