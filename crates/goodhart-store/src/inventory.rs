//! What a store holds and which of it is still wanted: every stage directory with its size, age
//! and health; the keys each run used (`refs/<run>.json`); and garbage collection of the rest
//! (`cargo xtask store ls | verify | gc`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::integrity::{self, Health};
use crate::StoreError;
use crate::{Stage, Store};

/// The directory of PPO's checkpoints, one per `rl` key of an unfinished run.
pub const CHECKPOINTS: &str = "rl-checkpoints";
/// The directory of the records of which keys each run used.
pub const REFS: &str = "refs";

/// What a directory of the store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A stage directory `<stage>/<key>` (complete, damaged or incomplete: see its health).
    Stage(Health),
    /// `<key>.partial.<pid>`: a stage being written, or left by an interrupted run.
    Partial,
    /// `<key>.damaged`: a damaged stage moved aside.
    Damaged,
    /// `rl-checkpoints/<key>`: an unfinished PPO run's checkpoints.
    Checkpoints,
}

/// One directory of the store.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The stage's directory name (`rl-checkpoints` for checkpoints).
    pub stage: String,
    /// The key it belongs to.
    pub key: String,
    pub path: PathBuf,
    pub kind: Kind,
    pub bytes: u64,
    /// Seconds since it last changed.
    pub age_s: f64,
    /// What computing it cost, for a complete stage.
    pub cost: Option<super::StageCost>,
}

impl Entry {
    /// `stage/key`, as refs name it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.stage, self.key)
    }
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

fn age_s(path: &Path) -> f64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Store {
    /// Every stage, partial, damaged and checkpoint directory of the store, by stage then key.
    /// With `hashes`, a stage's health checks every file's SHA-256, not only its size.
    ///
    /// # Errors
    /// [`StoreError::Io`] if a stage directory cannot be listed.
    pub fn entries(&self, hashes: bool) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        let names = Stage::ALL.iter().map(|s| s.name()).chain([CHECKPOINTS]);
        for stage in names {
            let parent = self.root().join(stage);
            let Ok(list) = std::fs::read_dir(&parent) else { continue };
            let mut found: Vec<(String, PathBuf)> = Vec::new();
            for e in list {
                let e = e.map_err(|e| StoreError::io(&parent, e))?;
                if e.file_type().map_err(|err| StoreError::io(&e.path(), err))?.is_dir() {
                    found.push((e.file_name().to_string_lossy().into_owned(), e.path()));
                }
            }
            found.sort();
            for (name, path) in found {
                let (key, kind) = if stage == CHECKPOINTS {
                    (name.clone(), Kind::Checkpoints)
                } else if let Some((key, _)) = name.split_once(".partial.") {
                    (key.to_string(), Kind::Partial)
                } else if let Some(key) = name.strip_suffix(".damaged") {
                    (key.to_string(), Kind::Damaged)
                } else {
                    (name.clone(), Kind::Stage(integrity::health(&path, hashes)))
                };
                let (bytes, age_s) = (dir_size(&path), age_s(&path));
                let cost = matches!(kind, Kind::Stage(_)).then(|| super::cost::read_cost(&path)).flatten();
                out.push(Entry { stage: stage.to_string(), key, path, kind, bytes, age_s, cost });
            }
        }
        Ok(out)
    }

    /// Notes that this run used `stage/key` (see [`Store::write_refs`]).
    pub(super) fn note_used(&self, stage: Stage, key: &str) {
        self.used.lock().unwrap_or_else(|e| e.into_inner()).insert(format!("{stage}/{key}"));
    }

    /// Records the keys this store has used so far as `refs/<run>.json` (replacing an earlier
    /// record of the same run), so that `store gc` keeps them.
    ///
    /// # Errors
    /// [`StoreError::Io`] if the record cannot be written.
    pub fn write_refs(&self, run: &str) -> Result<(), StoreError> {
        let used: Vec<String> = self.used.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
        let path = self.root().join(REFS).join(format!("{run}.json"));
        super::write_json(&path, &used)
    }

    /// Every `stage/key` some run recorded in `refs/`.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] naming a record that is not a list of keys.
    pub fn referenced(&self) -> Result<BTreeSet<String>, StoreError> {
        let mut keys = BTreeSet::new();
        let Ok(list) = std::fs::read_dir(self.root().join(REFS)) else { return Ok(keys) };
        for e in list.flatten() {
            if e.path().extension().is_some_and(|x| x == "json") {
                keys.extend(super::read_json::<Vec<String>>(&e.path())?);
            }
        }
        Ok(keys)
    }

    /// Deletes `entry` if no process holds its key's lock (a busy key is left, and `false`
    /// returned): a partial directory belongs to whoever holds the lock.
    ///
    /// # Errors
    /// [`StoreError::Io`] if the lock cannot be opened or the directory removed.
    pub fn remove_entry(&self, entry: &Entry) -> Result<bool, StoreError> {
        let stage = if entry.kind == Kind::Checkpoints { "rl" } else { entry.stage.as_str() };
        let lock_path = self.root().join(stage).join(format!("{}.lock", entry.key));
        let lock = match std::fs::OpenOptions::new().write(true).open(&lock_path) {
            Ok(file) => match file.try_lock() {
                Ok(()) => Some(file),
                Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
                Err(std::fs::TryLockError::Error(e)) => return Err(StoreError::io(&lock_path, e)),
            },
            Err(_) => None, // never locked: made before stage locks, or by adoption
        };
        std::fs::remove_dir_all(&entry.path).map_err(|e| StoreError::io(&entry.path, e))?;
        drop(lock);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_refs_and_removal_of_what_no_run_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let write = |tmp: &Path| std::fs::write(tmp.join("x"), b"abc").map_err(|e| StoreError::io(tmp, e));
        store.ensure(Stage::Gold, "kept", &(), write).unwrap();
        std::fs::create_dir_all(dir.path().join("gold/old.partial.999")).unwrap();
        std::fs::create_dir_all(dir.path().join("rl-checkpoints/gone")).unwrap();
        store.write_refs("fig1-tiny").unwrap();
        let other = Store::new(dir.path());
        other.ensure(Stage::Gold, "unused", &(), write).unwrap();

        let entries = store.entries(true).unwrap();
        let ids: Vec<(String, Kind)> = entries.iter().map(|e| (e.id(), e.kind.clone())).collect();
        assert_eq!(
            ids,
            [
                ("gold/kept".to_string(), Kind::Stage(Health::Complete)),
                ("gold/old".to_string(), Kind::Partial),
                ("gold/unused".to_string(), Kind::Stage(Health::Complete)),
                ("rl-checkpoints/gone".to_string(), Kind::Checkpoints),
            ]
        );
        assert!(entries[0].bytes >= 3);
        let referenced = store.referenced().unwrap();
        assert_eq!(referenced.iter().collect::<Vec<_>>(), ["gold/kept"]);
        for e in entries.iter().filter(|e| !referenced.contains(&e.id())) {
            assert!(store.remove_entry(e).unwrap(), "{e:?}");
        }
        let left: Vec<String> = store.entries(false).unwrap().iter().map(Entry::id).collect();
        assert_eq!(left, ["gold/kept"]);

        // a key whose lock another process holds is left alone
        other.ensure(Stage::Gold, "busy", &(), write).unwrap();
        let lock = std::fs::OpenOptions::new().write(true).open(dir.path().join("gold/busy.lock")).unwrap();
        lock.lock().unwrap();
        let busy = store.entries(false).unwrap().into_iter().find(|e| e.key == "busy").unwrap();
        assert!(!store.remove_entry(&busy).unwrap());
        assert!(busy.path.exists());
    }
}
