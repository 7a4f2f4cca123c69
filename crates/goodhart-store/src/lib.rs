//! A content-addressed artifact store: one directory per stage and key.
//!
//! A stage's directory is `<root>/<stage>/<key>`, where the key is a hash of everything the stage's
//! output depends on (its config section and the keys of its inputs). A stage writes into a
//! temporary directory beside it and renames it into place when done, after writing
//! `stage.json` (what was computed, from what, and how long it took). So a directory that exists
//! is complete: an interrupted run leaves only a `*.partial.*` directory, which the next run
//! removes and recomputes, saying so.
//!
//! Several processes may share a store: a stage is computed under an exclusive lock on
//! `<key>.lock` beside its directory (`File::lock`, an `flock`), so one process computes it while
//! the others wait and then reuse it, and only the lock holder touches the key's partial
//! directory. The lock dies with its process, so a killed run never leaves a stage locked.
//!
//! `stage.json` lists every file of the stage with its size and SHA-256 ([`integrity`]); sizes
//! are checked whenever a stage is used and hashes on demand (`cargo xtask store verify`). A
//! stage that is not what was written is reported by name, moved aside to `<key>.damaged` and
//! recomputed, never used.
//!
//! ```
//! use goodhart_store::{key_of, Outcome, Stage, Store, StoreError};
//! let root = std::env::temp_dir().join(format!("goodhart-store-doc-{}", std::process::id()));
//! let store = Store::new(&root);
//! let inputs = ("corpus", 1);
//! let key = key_of(Stage::World, &inputs);
//! let (dir, outcome) = store.ensure(Stage::World, &key, &inputs, |tmp| {
//!     std::fs::write(tmp.join("x.txt"), "made once").map_err(|e| StoreError::io(tmp, e))
//! })?;
//! assert_eq!(outcome, Outcome::Computed);
//! assert_eq!(std::fs::read_to_string(dir.join("x.txt")).unwrap(), "made once");
//! // the same key again: found, not computed
//! let (_, again) = store.ensure(Stage::World, &key, &inputs, |_| -> Result<(), StoreError> {
//!     unreachable!("a stored stage is not computed twice")
//! })?;
//! assert_eq!(again, Outcome::Cached);
//! std::fs::remove_dir_all(&root).ok();
//! # Ok::<(), StoreError>(())
//! ```

mod cost;
mod error;
pub mod graph;
pub mod integrity;
pub mod inventory;
pub mod progress;
mod stage;

pub use error::{StageError, StoreError};
pub use stage::{Outcome, Stage};

use std::path::{Path, PathBuf};
use std::time::Instant;

use goodhart_core::precision::Precision;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use cost::{MatmulPeaks, StageCost};
use goodhart_core::fault::{self, Point};
pub use integrity::Health;

use crate::progress::{Event, Reporter};

/// The file that marks a stage directory as complete.
pub const STAGE_FILE: &str = "stage.json";

/// The key of a stage: the first 16 hex digits of the SHA-256 of its inputs' canonical JSON,
/// and of the precision in effect ([`goodhart_core::precision::current`]) for every stage but
/// the world's, whose numbers it changes (f32 adds nothing, so f32 keys are those of before).
pub fn key_of(stage: Stage, inputs: &impl Serialize) -> String {
    key_at(stage, inputs, goodhart_core::precision::current())
}

/// [`key_of`] at the precision `precision`.
pub fn key_at(stage: Stage, inputs: &impl Serialize, precision: Precision) -> String {
    match precision {
        Precision::Bf16 if stage != Stage::World => hash_of(&format!("{}@bf16", stage.name()), inputs),
        _ => hash_of(stage.name(), inputs),
    }
}

/// The first 16 hex digits of the SHA-256 of `(tag, value)`'s canonical JSON.
pub fn hash_of(tag: &str, value: &impl Serialize) -> String {
    let json = serde_json::to_vec(&(tag, value)).expect("stage inputs serialise");
    let digest = Sha256::digest(&json);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The store rooted at a run directory.
#[derive(Clone)]
pub struct Store {
    root: PathBuf,
    reporter: Reporter,
    /// `stage/key` of every stage this store (and its clones) ensured or adopted.
    used: std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    /// Matrix-product rates by thread count, recorded with each computed stage.
    peaks: MatmulPeaks,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish_non_exhaustive()
    }
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store {
            root: root.into(),
            reporter: crate::progress::silent(),
            used: Default::default(),
            peaks: Default::default(),
        }
    }

    /// This store, sending its notes (a stage recomputed, leftovers removed) to `reporter`.
    pub fn with_reporter(mut self, reporter: Reporter) -> Self {
        self.reporter = reporter;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of `stage` with `key` (it may not exist yet).
    pub fn dir(&self, stage: Stage, key: &str) -> PathBuf {
        self.root.join(stage.name()).join(key)
    }

    /// True when `stage/key` was completed by an earlier run and its files have the sizes they
    /// were written with.
    pub fn is_done(&self, stage: Stage, key: &str) -> bool {
        matches!(self.health(stage, key, false), Health::Complete | Health::Unchecked)
    }

    /// [`Store::is_done`], and every file's SHA-256 is the one it was written with.
    pub fn is_intact(&self, stage: Stage, key: &str) -> bool {
        matches!(self.health(stage, key, true), Health::Complete | Health::Unchecked)
    }

    /// The state of `stage/key`: missing, complete, or damaged and why; with `hashes`, every
    /// file's SHA-256 is checked too, not only its size.
    pub fn health(&self, stage: Stage, key: &str, hashes: bool) -> Health {
        integrity::health(&self.dir(stage, key), hashes)
    }

    /// The median time completed stages of this kind took in this store (for plans), if any.
    pub fn typical_seconds(&self, stage: Stage) -> Option<f64> {
        let mut secs: Vec<f64> = std::fs::read_dir(self.root.join(stage.name()))
            .ok()?
            .filter_map(|e| std::fs::read(e.ok()?.path().join(STAGE_FILE)).ok())
            .filter_map(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok()?["seconds"].as_f64())
            .collect();
        secs.sort_unstable_by(f64::total_cmp);
        secs.get(secs.len() / 2).copied()
    }

    /// Returns the directory of `stage/key`, running `compute` into a fresh temporary directory
    /// first if it is not complete yet. `inputs` is recorded in `stage.json`.
    pub fn ensure<E: StageError>(
        &self,
        stage: Stage,
        key: &str,
        inputs: &impl Serialize,
        compute: impl FnOnce(&Path) -> Result<(), E>,
    ) -> Result<(PathBuf, Outcome), E> {
        let dir = self.dir(stage, key);
        self.note_used(stage, key);
        // every use checks every file's SHA-256: a stage damaged in place is recomputed, not
        // loaded (or refused by its loader)
        if self.is_intact(stage, key) {
            return Ok((dir, Outcome::Cached));
        }
        let parent = dir.parent().expect("stage dirs have a parent");
        std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
        // One process computes a stage; others wait for it and reuse its result. The lock is
        // released when `_lock` drops (or the process dies); a partial directory of this key
        // belongs to whoever holds the lock, so only the holder removes one.
        let _lock = self.lock(stage, key, parent)?;
        if self.is_intact(stage, key) {
            return Ok((dir, Outcome::Cached));
        }
        self.remove_partials(parent, key)?;
        if let Health::Damaged(why) = self.health(stage, key, true) {
            let aside = parent.join(format!("{key}.damaged"));
            (self.reporter)(Event::Note(&format!(
                "note: {stage}/{key} is damaged ({why}): moved aside to {}, recomputing it",
                aside.display()
            )));
            if aside.exists() {
                std::fs::remove_dir_all(&aside).map_err(|e| StoreError::io(&aside, e))?;
            }
            std::fs::rename(&dir, &aside).map_err(|e| StoreError::io(&aside, e))?;
        } else if dir.exists() {
            (self.reporter)(Event::Note(&format!(
                "note: {} has no {STAGE_FILE}: it is incomplete, recomputing it",
                dir.display()
            )));
            std::fs::remove_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        }
        let tmp = parent.join(format!("{key}.partial.{}", std::process::id()));
        std::fs::create_dir_all(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        let start = Instant::now();
        let flops_before = goodhart_core::flops::current();
        compute(&tmp).map_err(|e| e.in_stage(format!("{stage}/{key}")))?;
        if fault::fires(Point::MidStage, stage.name()) {
            fault::die(Point::MidStage, &format!("{stage}/{key}"));
        }
        let seconds = start.elapsed().as_secs_f64();
        let threads = rayon::current_num_threads();
        let cost = StageCost {
            seconds,
            matmul_flops: Some(goodhart_core::flops::current().saturating_sub(flops_before)),
            threads: Some(threads),
            peak_gflops: self.peak(threads),
        };
        let files = integrity::checksum_dir(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        let record = serde_json::json!({
            "stage": stage,
            "key": key,
            "files": files,
            "inputs": inputs,
            "seconds": seconds,
            "matmul_flops": cost.matmul_flops,
            "threads": cost.threads,
            "peak_gflops": cost.peak_gflops,
            "precision": goodhart_core::precision::current(),
            "goodhart_version": env!("CARGO_PKG_VERSION"),
        });
        let marker = tmp.join(STAGE_FILE);
        goodhart_core::write_atomic(&marker, &serde_json::to_vec_pretty(&record).expect("record serialises"))
            .map_err(|e| StoreError::io(&marker, e))?;
        goodhart_core::publish(&tmp, &dir).map_err(|e| StoreError::io(&dir, e))?;
        if fault::fires(Point::StageBoundary, "") {
            fault::die(Point::StageBoundary, &format!("after {stage}/{key}"));
        }
        Ok((dir, Outcome::Computed))
    }

    /// Moves a complete stage stored under `old` (a key an earlier version computed for the same
    /// work) to `key`, under `key`'s lock, when `key` is not complete yet; `stage.json` records
    /// the old key. Returns whether it did. A stage under `old` that another process is still
    /// writing has no `stage.json` yet and is left alone.
    pub fn adopt(&self, stage: Stage, old: &str, key: &str) -> Result<bool, StoreError> {
        if old == key || self.is_done(stage, key) || !self.is_done(stage, old) {
            return Ok(false);
        }
        let dir = self.dir(stage, key);
        let parent = dir.parent().expect("stage dirs have a parent");
        let _lock = self.lock(stage, key, parent)?;
        if self.is_done(stage, key) || !self.is_done(stage, old) {
            return Ok(false);
        }
        self.remove_partials(parent, key)?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        }
        let from = self.dir(stage, old);
        let marker = from.join(STAGE_FILE);
        let mut record: serde_json::Value = read_json(&marker)?;
        record["key"] = key.into();
        record["adopted_from"] = old.into();
        goodhart_core::write_atomic(&marker, &serde_json::to_vec_pretty(&record).expect("record serialises"))
            .map_err(|e| StoreError::io(&marker, e))?;
        goodhart_core::publish(&from, &dir).map_err(|e| StoreError::io(&dir, e))?;
        let line = format!("note: {stage}/{old} is now {stage}/{key} (the same work under its narrower key)");
        (self.reporter)(Event::Note(&line));
        Ok(true)
    }

    /// Takes the exclusive lock of `stage/key` (`<key>.lock` beside its directory), waiting, and
    /// saying so, while another process holds it.
    fn lock(&self, stage: Stage, key: &str, parent: &Path) -> Result<std::fs::File, StoreError> {
        let path = parent.join(format!("{key}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let line = format!("note: another process is computing {stage}/{key}; waiting for it");
                (self.reporter)(Event::Note(&line));
                file.lock().map_err(|e| StoreError::io(&path, e))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(StoreError::io(&path, e)),
        }
        Ok(file)
    }

    /// Removes temporary directories that interrupted runs left for `key`.
    fn remove_partials(&self, parent: &Path, key: &str) -> Result<(), StoreError> {
        let prefix = format!("{key}.partial.");
        for entry in std::fs::read_dir(parent).map_err(|e| StoreError::io(parent, e))? {
            let entry = entry.map_err(|e| StoreError::io(parent, e))?;
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let line = format!("note: removing {} left by an interrupted run", entry.path().display());
                (self.reporter)(Event::Note(&line));
                std::fs::remove_dir_all(entry.path()).map_err(|e| StoreError::io(&entry.path(), e))?;
            }
        }
        Ok(())
    }
}

/// Takes an exclusive lock on `dir/.lock` (an `flock`, released when the file is dropped or the
/// process dies), creating `dir`; waits for another holder, calling `waiting` once first. With the
/// lock held, removes temporary files ([`goodhart_core::temp_path`]) that an interrupted writer left in `dir`.
///
/// # Errors
/// Any error creating the directory, opening or locking the lock file, or removing a leftover.
pub fn lock_dir(dir: &Path, waiting: impl FnOnce()) -> std::io::Result<std::fs::File> {
    std::fs::create_dir_all(dir)?;
    let file =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(".lock"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            waiting();
            file.lock()?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_temp = name.rsplitn(3, '.').nth(2).is_some_and(|head| head.ends_with(".tmp"))
            && name.rsplit('.').take(2).all(|part| part.parse::<u64>().is_ok());
        if is_temp && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(file)
}

/// Writes JSON atomically and durably ([`goodhart_core::write_atomic`]).
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(value).expect("value serialises");
    goodhart_core::write_atomic(path, &bytes).map_err(|e| StoreError::io(path, e))
}

/// Reads JSON written by [`write_json`], naming the file if it is missing or corrupt.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, StoreError> {
    let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| StoreError::Corrupt { path: path.to_path_buf(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_directory_loses_its_leftover_temporaries_and_keeps_the_rest() {
        let dir = std::env::temp_dir().join(format!("goodhart-lockdir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let left = goodhart_core::temp_path(&dir.join("fig1.csv"));
        std::fs::write(&left, b"half").unwrap();
        std::fs::write(dir.join("fig1.csv"), b"kept").unwrap();
        std::fs::write(dir.join("notes.tmp.txt"), b"kept").unwrap();
        let lock = lock_dir(&dir, || panic!("nobody else holds it")).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".lock", "fig1.csv", "notes.tmp.txt"]);
        // a second holder waits (here: is told it would block)
        let other = std::fs::OpenOptions::new().write(true).open(dir.join(".lock")).unwrap();
        assert!(matches!(other.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
        drop(lock);
        assert!(other.try_lock().is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bf16_gives_every_neural_stage_a_key_of_its_own_and_leaves_f32_keys_alone() {
        let inputs = ("policy", 3);
        assert_eq!(
            key_at(Stage::World, &inputs, Precision::Bf16),
            key_at(Stage::World, &inputs, Precision::F32)
        );
        for stage in [Stage::Policy, Stage::Gold, Stage::Proxy, Stage::Rl, Stage::BonScores] {
            assert_ne!(
                key_at(stage, &inputs, Precision::Bf16),
                key_at(stage, &inputs, Precision::F32),
                "{stage}"
            );
            assert_eq!(key_at(stage, &inputs, Precision::F32), hash_of(stage.name(), &inputs), "{stage}");
        }
    }

    #[test]
    fn computes_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let key = key_of(Stage::World, &("a", 1));
        assert_eq!(key.len(), 16);
        assert_ne!(key, key_of(Stage::World, &("a", 2)));
        let mut runs = 0;
        for expected in [Outcome::Computed, Outcome::Cached] {
            let (d, outcome) = store
                .ensure(Stage::World, &key, &"inputs", |tmp| {
                    runs += 1;
                    std::fs::write(tmp.join("x"), "1").map_err(|e| StoreError::io(tmp, e))
                })
                .unwrap();
            assert_eq!(outcome, expected);
            assert_eq!(std::fs::read_to_string(d.join("x")).unwrap(), "1");
        }
        assert_eq!(runs, 1);
    }

    #[test]
    fn concurrent_callers_compute_a_stage_once_and_all_get_it() {
        let dir = tempfile::tempdir().unwrap();
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let outcomes: Vec<Outcome> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        // a store per caller, as separate processes would have
                        let store = Store::new(dir.path());
                        let (d, outcome) = store
                            .ensure(Stage::World, "k", &(), |tmp| {
                                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                std::thread::sleep(std::time::Duration::from_millis(200));
                                std::fs::write(tmp.join("x"), "1").map_err(|e| StoreError::io(tmp, e))
                            })
                            .unwrap();
                        assert_eq!(std::fs::read_to_string(d.join("x")).unwrap(), "1");
                        outcome
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1, "computed once");
        assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Computed).count(), 1);
    }

    #[test]
    fn a_stage_under_an_old_key_is_adopted_once_and_kept_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store
            .ensure(Stage::Rl, "old", &"inputs", |tmp| {
                std::fs::write(tmp.join("x.json"), "42").map_err(|e| StoreError::io(tmp, e))
            })
            .unwrap();
        assert!(!store.adopt(Stage::Rl, "missing", "new").unwrap(), "nothing to adopt");
        assert!(store.adopt(Stage::Rl, "old", "new").unwrap());
        assert!(store.is_done(Stage::Rl, "new") && !store.dir(Stage::Rl, "old").exists());
        assert_eq!(std::fs::read_to_string(store.dir(Stage::Rl, "new").join("x.json")).unwrap(), "42");
        let record: serde_json::Value = read_json(&store.dir(Stage::Rl, "new").join(STAGE_FILE)).unwrap();
        assert_eq!((record["key"].as_str(), record["adopted_from"].as_str()), (Some("new"), Some("old")));
        // once adopted, the new key is used as it is
        let (_, outcome) = store
            .ensure(Stage::Rl, "new", &"inputs", |_| -> Result<(), StoreError> { panic!("recomputed") })
            .unwrap();
        assert_eq!(outcome, Outcome::Cached);
        assert!(!store.adopt(Stage::Rl, "old", "new").unwrap());
    }

    #[test]
    fn failed_or_interrupted_work_is_redone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let err =
            store.ensure(Stage::World, "k", &(), |_| Err(StoreError::Artifact("boom".into()))).unwrap_err();
        assert!(err.to_string().contains("boom"));
        assert!(!store.is_done(Stage::World, "k"));
        // a directory without stage.json (say, copied half-way) is recomputed
        std::fs::create_dir_all(store.dir(Stage::World, "k")).unwrap();
        let (_, outcome) = store.ensure(Stage::World, "k", &(), |_| Ok::<(), StoreError>(())).unwrap();
        assert_eq!(outcome, Outcome::Computed);
        assert!(store.is_done(Stage::World, "k"));
        let leftovers: Vec<String> = std::fs::read_dir(dir.path().join("world"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| !name.ends_with(".lock"))
            .collect();
        assert_eq!(leftovers, ["k"], "partial directories are cleaned up");
    }

    /// What the damage tests store: a stage `gold/k` holding a 64-byte `model.bin`.
    fn write_model(tmp: &Path) -> Result<(), StoreError> {
        std::fs::write(tmp.join("model.bin"), [7u8; 64]).map_err(|e| StoreError::io(tmp, e))
    }

    /// A store with `gold/k` written by [`write_model`], and the path of its model.
    fn stored_model() -> (tempfile::TempDir, Store, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.ensure(Stage::Gold, "k", &(), write_model).unwrap();
        let model = store.dir(Stage::Gold, "k").join("model.bin");
        (dir, store, model)
    }

    #[test]
    fn a_damaged_stage_is_moved_aside_and_recomputed_never_used() {
        let (dir, store, model) = stored_model();
        let record: serde_json::Value = read_json(&store.dir(Stage::Gold, "k").join(STAGE_FILE)).unwrap();
        assert_eq!(record["files"][0]["size"], 64, "{record}");
        // truncated after it was written (a disk, a copy, a sync tool)
        std::fs::write(&model, [7u8; 10]).unwrap();
        assert!(!store.is_done(Stage::Gold, "k"));
        let notes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let heard = notes.clone();
        let store = store.with_reporter(std::sync::Arc::new(move |e: Event| {
            if let Event::Note(n) = e {
                heard.lock().unwrap().push(n.to_string());
            }
        }));
        let (_, outcome) = store.ensure(Stage::Gold, "k", &(), write_model).unwrap();
        assert_eq!(outcome, Outcome::Computed);
        assert_eq!(std::fs::read(&model).unwrap().len(), 64);
        let notes = notes.lock().unwrap();
        assert!(
            notes.iter().any(|n| n.contains("gold/k is damaged (model.bin has 10 bytes, 64 were written)")),
            "{notes:?}"
        );
        // the damaged copy is kept aside, not deleted
        assert_eq!(std::fs::read(dir.path().join("gold/k.damaged/model.bin")).unwrap().len(), 10);
    }

    #[test]
    fn a_stage_damaged_in_place_is_recomputed_when_used() {
        let (dir, store, model) = stored_model();
        // three bytes flipped, the size unchanged: a plan still counts it, a use does not
        let mut bytes = std::fs::read(&model).unwrap();
        bytes[3..6].iter_mut().for_each(|b| *b ^= 0xff);
        std::fs::write(&model, &bytes).unwrap();
        assert!(store.is_done(Stage::Gold, "k") && !store.is_intact(Stage::Gold, "k"));
        let (_, outcome) = store.ensure(Stage::Gold, "k", &(), write_model).unwrap();
        assert_eq!(outcome, Outcome::Computed);
        assert_eq!(std::fs::read(&model).unwrap(), [7u8; 64]);
        assert!(store.is_intact(Stage::Gold, "k"));
        assert_eq!(std::fs::read(dir.path().join("gold/k.damaged/model.bin")).unwrap(), bytes);
    }
}
