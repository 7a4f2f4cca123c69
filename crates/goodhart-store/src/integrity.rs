//! What a complete stage holds: the size and SHA-256 of every file, recorded in `stage.json`
//! when the stage is written; sizes checked when a run plans, hashes whenever a stage is used (and
//! by `cargo xtask store verify`).

use std::io::Read as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::STAGE_FILE;

/// One file of a stage: its path inside the stage directory (`/`-separated), size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// The state of a stage directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// No directory, or one without `stage.json` (never completed).
    Missing,
    /// Complete, its files of the recorded sizes (and hashes, when checked).
    Complete,
    /// Complete, written before stages recorded their files: nothing to check it against.
    Unchecked,
    /// Marked complete but not what was written: why.
    Damaged(String),
}

/// Every file under `dir` except `stage.json`, sorted by path, with its size and SHA-256.
pub fn checksum_dir(dir: &Path) -> std::io::Result<Vec<FileSum>> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<FileSum>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(root, &path, out)?;
            continue;
        }
        let rel = path.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
        if rel == STAGE_FILE {
            continue;
        }
        let size = entry.metadata()?.len();
        out.push(FileSum { path: rel, size, sha256: sha256_file(&path)? });
    }
    Ok(())
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks the stage directory `dir` against its `stage.json`: that the record parses, and that
/// every recorded file is there with its size (and, with `hashes`, its SHA-256).
pub fn health(dir: &Path, hashes: bool) -> Health {
    let marker = dir.join(STAGE_FILE);
    let Ok(bytes) = std::fs::read(&marker) else {
        return Health::Missing;
    };
    let record: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return Health::Damaged(format!("{STAGE_FILE} is not valid JSON ({e})")),
    };
    if !record.is_object() || record.get("key").is_none() {
        return Health::Damaged(format!("{STAGE_FILE} is not a stage record"));
    }
    let Some(files) = record.get("files") else {
        return Health::Unchecked;
    };
    let files: Vec<FileSum> = match serde_json::from_value(files.clone()) {
        Ok(f) => f,
        Err(e) => return Health::Damaged(format!("{STAGE_FILE} lists its files wrongly ({e})")),
    };
    for f in &files {
        let path = dir.join(&f.path);
        let size = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(_) => return Health::Damaged(format!("{} is missing", f.path)),
        };
        if size != f.size {
            return Health::Damaged(format!("{} has {size} bytes, {} were written", f.path, f.size));
        }
        if hashes {
            match sha256_file(&path) {
                Ok(h) if h == f.sha256 => {}
                Ok(_) => {
                    return Health::Damaged(format!(
                        "{} does not have the SHA-256 it was written with",
                        f.path
                    ))
                }
                Err(e) => return Health::Damaged(format!("{} cannot be read ({e})", f.path)),
            }
        }
    }
    Health::Complete
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(dir: &Path) {
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.bin"), b"0123456789").unwrap();
        std::fs::write(dir.join("sub/b.json"), b"{}").unwrap();
        let files = checksum_dir(dir).unwrap();
        let record = serde_json::json!({"key": "k", "files": files});
        std::fs::write(dir.join(STAGE_FILE), serde_json::to_vec(&record).unwrap()).unwrap();
    }

    #[test]
    fn a_stage_as_written_is_complete_and_each_kind_of_damage_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        stage(&dir);
        let files = checksum_dir(&dir).unwrap();
        assert_eq!(files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["a.bin", "sub/b.json"]);
        assert_eq!(files[0].size, 10);
        // SHA-256 of "0123456789"
        assert_eq!(files[0].sha256, "84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882");
        assert_eq!(health(&dir, true), Health::Complete);

        // same size, other bytes: only the hash sees it
        std::fs::write(dir.join("a.bin"), b"0123456780").unwrap();
        assert_eq!(health(&dir, false), Health::Complete);
        assert!(
            matches!(health(&dir, true), Health::Damaged(r) if r.contains("a.bin does not have the SHA-256"))
        );
        // truncated: the size check sees it
        std::fs::write(dir.join("a.bin"), b"01234").unwrap();
        assert_eq!(health(&dir, false), Health::Damaged("a.bin has 5 bytes, 10 were written".into()));
        std::fs::remove_file(dir.join("sub/b.json")).unwrap();
        stage(&dir);
        std::fs::remove_file(dir.join("sub/b.json")).unwrap();
        assert_eq!(health(&dir, false), Health::Damaged("sub/b.json is missing".into()));
        // a damaged record
        std::fs::write(dir.join(STAGE_FILE), b"{\"key\": \"k\", \"fil").unwrap();
        assert!(matches!(health(&dir, false), Health::Damaged(r) if r.contains("not valid JSON")));
        // a record from before checksums, and no record
        std::fs::write(dir.join(STAGE_FILE), b"{\"key\": \"k\"}").unwrap();
        assert_eq!(health(&dir, true), Health::Unchecked);
        std::fs::remove_file(dir.join(STAGE_FILE)).unwrap();
        assert_eq!(health(&dir, true), Health::Missing);
    }
}
