//! Checkpoints of a PPO run: written atomically, only the latest complete one kept.
//!
//! # Layout
//!
//! ```text
//! <dir>/ckpt-00000012/          a complete checkpoint after 12 PPO steps
//!          state.json           step, adaptive-KL coefficient, logs, gold evaluations, config,
//!                               fingerprints of the initial policy and of the prompts
//!          policy/              goodhart-nn checkpoint (config.json + model.bpk)
//!          value/               goodhart-nn checkpoint of the value model
//!          policy_optim.bpk     AdamW state of the policy (burnpack, keyed by parameter id)
//!          value_optim.bpk      AdamW state of the value model
//! <dir>/ckpt-00000016.tmp/      being written; never read, removed by the next run
//! ```
//!
//! A checkpoint is written into `ckpt-N.tmp` and renamed to `ckpt-N` once every file is in
//! place, so a directory named `ckpt-N` is always complete; older checkpoints are removed only
//! after the rename. Model checkpoints keep burn's parameter ids, which key the optimizer state,
//! so the restored AdamW moments land on the right parameters.
//!
//! # Exact floats
//!
//! A resumed run must reproduce the uninterrupted run bit for bit, so the floats in `state.json`
//! must survive the round trip exactly. `serde_json` without its `float_roundtrip` feature (which
//! this workspace cannot turn on without rebuilding burn) may parse a float one ulp off, so every
//! float is written as `{"$f64": "<shortest round-trip decimal>"}` and parsed back with Rust's
//! correctly rounded `str::parse::<f64>`.

use std::fs;
use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use goodhart_nn::{Gpt, NnError, ScalarModel};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{GoldEval, PpoConfig, PpoError, PpoStepLog};

const PREFIX: &str = "ckpt-";
const TMP_SUFFIX: &str = ".tmp";
const STATE_FILE: &str = "state.json";
const POLICY_DIR: &str = "policy";
const VALUE_DIR: &str = "value";
const POLICY_OPTIM: &str = "policy_optim.bpk";
const VALUE_OPTIM: &str = "value_optim.bpk";
/// Version of the checkpoint layout.
const FORMAT: u32 = 1;

/// Everything of a trainer's state that is not a tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TrainState {
    pub format: u32,
    pub config: PpoConfig,
    /// PPO steps done.
    pub step: usize,
    /// Current KL-penalty coefficient (changes under the adaptive controller).
    pub kl_coef: f64,
    pub init_fingerprint: u64,
    pub inputs_fingerprint: Option<u64>,
    pub logs: Vec<PpoStepLog>,
    pub evals: Vec<GoldEval>,
}

impl TrainState {
    pub fn new(config: PpoConfig, kl_coef: f64, init_fingerprint: u64) -> Self {
        TrainState {
            format: FORMAT,
            config,
            step: 0,
            kl_coef,
            init_fingerprint,
            inputs_fingerprint: None,
            logs: Vec::new(),
            evals: Vec::new(),
        }
    }
}

/// A checkpoint read back from disk.
pub(crate) struct Loaded {
    pub state: TrainState,
    /// On the plain device; the caller forks it onto the autodiff device.
    pub policy: Gpt,
    pub value: ScalarModel,
    pub policy_optim: ModuleOptimizer,
    pub value_optim: ModuleOptimizer,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PpoError + '_ {
    move |source| PpoError::Io { path: path.to_path_buf(), source }
}

fn nn_err(path: PathBuf) -> impl FnOnce(NnError) -> PpoError {
    move |e| match e {
        NnError::Io { path, source } => PpoError::Io { path, source },
        other => PpoError::CheckpointCorrupt { path, detail: other.to_string() },
    }
}

fn record_err(path: &Path) -> impl FnOnce(burn::store::RecordError) -> PpoError + '_ {
    move |e| PpoError::CheckpointCorrupt { path: path.to_path_buf(), detail: format!("{e:?}") }
}

/// The step of a complete checkpoint directory name (`ckpt-N`), if it is one.
fn parse_step(name: &str) -> Option<usize> {
    name.strip_prefix(PREFIX)?.parse().ok()
}

/// Complete checkpoints in `dir` as `(step, path)`, ascending; removes leftover `.tmp` dirs.
fn scan(dir: &Path) -> Result<Vec<(usize, PathBuf)>, PpoError> {
    let mut found = Vec::new();
    if !dir.is_dir() {
        return Ok(found);
    }
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with(PREFIX) && name.ends_with(TMP_SUFFIX) {
            // An interrupted write: never complete, safe to delete.
            fs::remove_dir_all(&path).map_err(io_err(&path))?;
        } else if let Some(step) = parse_step(&name) {
            found.push((step, path));
        }
    }
    found.sort();
    Ok(found)
}

/// The latest complete checkpoint in `dir`, if any.
pub(crate) fn latest(dir: &Path) -> Result<Option<PathBuf>, PpoError> {
    Ok(scan(dir)?.pop().map(|(_, path)| path))
}

/// Writes a checkpoint of `state.step` into `dir` and removes the older ones.
pub(crate) fn save(
    dir: &Path,
    state: &TrainState,
    policy: &Gpt,
    value: &ScalarModel,
    policy_optim: &ModuleOptimizer,
    value_optim: &ModuleOptimizer,
) -> Result<PathBuf, PpoError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let name = format!("{PREFIX}{:08}", state.step);
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
    policy.valid().save(tmp.join(POLICY_DIR)).map_err(nn_err(tmp.join(POLICY_DIR)))?;
    value.valid().save(tmp.join(VALUE_DIR)).map_err(nn_err(tmp.join(VALUE_DIR)))?;
    let path = tmp.join(POLICY_OPTIM);
    policy_optim.save(&path).map_err(|e| write_err(&path, e))?;
    let path = tmp.join(VALUE_OPTIM);
    value_optim.save(&path).map_err(|e| write_err(&path, e))?;
    let path = tmp.join(STATE_FILE);
    goodhart_core::write_atomic(&path, to_exact_json(state).as_bytes()).map_err(io_err(&path))?;
    // Make the files durable before the rename publishes them.
    for file in [POLICY_OPTIM, VALUE_OPTIM] {
        let path = tmp.join(file);
        goodhart_core::sync_file(&path).map_err(io_err(&path))?;
    }

    let target = dir.join(&name);
    let old = dir.join(format!("{name}.old{TMP_SUFFIX}"));
    if target.exists() {
        // Re-saving the same step (e.g. after the final evaluation): move the old one aside first.
        fs::rename(&target, &old).map_err(io_err(&target))?;
    }
    goodhart_core::publish(&tmp, &target).map_err(io_err(&target))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(io_err(&old))?;
    }
    for (step, path) in scan(dir)? {
        if step != state.step {
            fs::remove_dir_all(&path).map_err(io_err(&path))?;
        }
    }
    Ok(target)
}

fn write_err(path: &Path, e: burn::store::RecordError) -> PpoError {
    PpoError::Io { path: path.to_path_buf(), source: std::io::Error::other(format!("{e:?}")) }
}

/// Reads the checkpoint at `path` (a `ckpt-N` directory). The optimizers passed in are fresh
/// ones built from the config; their state is replaced by the saved one.
pub(crate) fn load(
    path: &Path,
    device: &Device,
    policy_optim: ModuleOptimizer,
    value_optim: ModuleOptimizer,
) -> Result<Loaded, PpoError> {
    let state_path = path.join(STATE_FILE);
    let text = fs::read_to_string(&state_path).map_err(io_err(&state_path))?;
    let state: TrainState = from_exact_json(&text)
        .map_err(|detail| PpoError::CheckpointCorrupt { path: state_path.clone(), detail })?;
    if state.format != FORMAT {
        return Err(PpoError::CheckpointCorrupt {
            path: state_path,
            detail: format!("checkpoint format {} (this version reads {FORMAT})", state.format),
        });
    }
    let policy = Gpt::load(path.join(POLICY_DIR), device).map_err(nn_err(path.join(POLICY_DIR)))?;
    let value = ScalarModel::load(path.join(VALUE_DIR), device).map_err(nn_err(path.join(VALUE_DIR)))?;
    let file = path.join(POLICY_OPTIM);
    let policy_optim = policy_optim.load(&file).map_err(record_err(&file))?;
    let file = path.join(VALUE_OPTIM);
    let value_optim = value_optim.load(&file).map_err(record_err(&file))?;
    Ok(Loaded { state, policy, value, policy_optim, value_optim })
}

/// JSON in which every float is `{"$f64": "<decimal>"}`, exact on the way back.
pub(crate) fn to_exact_json<T: Serialize>(value: &T) -> String {
    fn tag(v: Value) -> Value {
        match v {
            Value::Number(n) if n.is_f64() => {
                let x = n.as_f64().expect("an f64 number");
                serde_json::json!({ "$f64": format!("{x:?}") })
            }
            Value::Array(a) => Value::Array(a.into_iter().map(tag).collect()),
            Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, tag(v))).collect()),
            other => other,
        }
    }
    let value = serde_json::to_value(value).expect("checkpoint state serialises");
    serde_json::to_string_pretty(&tag(value)).expect("JSON values serialise")
}

/// Inverse of [`to_exact_json`].
pub(crate) fn from_exact_json<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    fn untag(v: Value) -> Result<Value, String> {
        match v {
            Value::Object(m) if m.len() == 1 && m.contains_key("$f64") => {
                let s = m["$f64"].as_str().ok_or("a \"$f64\" entry that is not a string")?;
                let x: f64 = s.parse().map_err(|e| format!("bad float {s:?}: {e}"))?;
                serde_json::Number::from_f64(x)
                    .map(Value::Number)
                    .ok_or_else(|| format!("non-finite float {s:?}"))
            }
            Value::Array(a) => a.into_iter().map(untag).collect::<Result<_, _>>().map(Value::Array),
            Value::Object(m) => m
                .into_iter()
                .map(|(k, v)| untag(v).map(|v| (k, v)))
                .collect::<Result<_, _>>()
                .map(Value::Object),
            other => Ok(other),
        }
    }
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    serde_json::from_value(untag(value)?).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_round_trip_exactly() {
        // Values with 17 significant digits, where a best-effort parser can be one ulp off.
        let xs: Vec<f64> = (1..2000u64).map(|i| (i as f64 * 0.123_456_789_012_345_67).sin() / 3.0).collect();
        let back: Vec<f64> = from_exact_json(&to_exact_json(&xs)).unwrap();
        assert!(xs.iter().zip(&back).all(|(a, b)| a.to_bits() == b.to_bits()));
        let ints: (u64, Option<f64>, String) = (u64::MAX, None, "$f64".into());
        assert_eq!(from_exact_json::<(u64, Option<f64>, String)>(&to_exact_json(&ints)).unwrap(), ints);
    }

    #[test]
    fn step_names() {
        assert_eq!(parse_step("ckpt-00000012"), Some(12));
        assert_eq!(parse_step("ckpt-00000012.tmp"), None);
        assert_eq!(parse_step("other"), None);
    }
}
