//! Checkpoint directories (`config.json` + burnpack weights) and the
//! PyTorch-layout safetensors export.
//!
//! # Checkpoint directory
//!
//! | file          | content |
//! |---------------|---------|
//! | `config.json` | the [`GptConfig`] as JSON |
//! | `model.bpk`   | weights in burn's burnpack format (`Module::save_file`) |
//!
//! Each file is written to a temporary name in the same directory and then
//! renamed, so a reader never sees a half-written file. (The two files are
//! renamed one after the other: write each checkpoint to its own directory.)
//!
//! # Safetensors export (PyTorch layout)
//!
//! `export_safetensors` writes one float32 tensor per parameter, named like
//! the `state_dict` of a PyTorch twin with the same module tree
//! (`nn.Embedding`, `nn.LayerNorm`, `nn.Linear`; `nn.Linear` weights are
//! `[out, in]`, i.e. the transpose of burn's `[in, out]`):
//!
//! | safetensors name                         | shape      | burn parameter (layout)              |
//! |------------------------------------------|------------|--------------------------------------|
//! | `trunk.tok_emb.weight`                   | `[V, D]`   | `trunk.tok_emb.weight` (same)        |
//! | `trunk.pos_emb.weight`                   | `[T, D]`   | `trunk.pos_emb.weight` (same)        |
//! | `trunk.blocks.{i}.ln1.weight` / `.bias`  | `[D]`      | `….ln1.gamma` / `….ln1.beta`         |
//! | `trunk.blocks.{i}.attn.qkv.weight`       | `[3D, D]`  | `….attn.qkv.weight` `[D, 3D]`, transposed |
//! | `trunk.blocks.{i}.attn.qkv.bias`         | `[3D]`     | same                                 |
//! | `trunk.blocks.{i}.attn.proj.weight`      | `[D, D]`   | transposed                           |
//! | `trunk.blocks.{i}.attn.proj.bias`        | `[D]`      | same                                 |
//! | `trunk.blocks.{i}.ln2.weight` / `.bias`  | `[D]`      | `….ln2.gamma` / `….ln2.beta`         |
//! | `trunk.blocks.{i}.mlp.fc1.weight`        | `[F, D]`   | transposed                           |
//! | `trunk.blocks.{i}.mlp.fc1.bias`          | `[F]`      | same                                 |
//! | `trunk.blocks.{i}.mlp.fc2.weight`        | `[D, F]`   | transposed                           |
//! | `trunk.blocks.{i}.mlp.fc2.bias`          | `[D]`      | same                                 |
//! | `trunk.ln_f.weight` / `.bias`            | `[D]`      | `trunk.ln_f.gamma` / `.beta`         |
//! | `lm_head.weight` (LM only)               | `[V, D]`   | `lm_head.weight` `[D, V]`, transposed (no bias) |
//! | `head.weight` (scalar model only)        | `[1, D]`   | `head.weight` `[D, 1]`, transposed   |
//! | `head.bias` (scalar model only)          | `[1]`      | same                                 |
//!
//! The qkv output features are ordered `[q | k | v]`, each `H` heads of
//! `Dh = D / H` contiguous features (as in nanoGPT's `c_attn`). The header
//! metadata holds `"format": "pt"` and the config JSON under `"config"`.
//! The PyTorch twin must use `nn.GELU()` (exact erf form), LayerNorm eps `1e-5`,
//! pre-LN blocks and attention scaled by `1/sqrt(Dh)`.
//!
//! `Gpt::export_twin` writes the same file plus a parity reference beside it
//! (`<name>.reference.json`: token ids and goodhart's logits on them), which a
//! twin must reproduce before its numbers mean anything (`benches/torch_twin.py`).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use burn::store::RecordError;

use crate::{GptConfig, NnError, Transformer};

/// Name of the config file in a checkpoint directory.
pub const CONFIG_FILE: &str = "config.json";
/// Name of the weights file in a checkpoint directory.
pub const WEIGHTS_FILE: &str = "model.bpk";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> NnError + '_ {
    move |source| NnError::Io { path: path.to_path_buf(), source }
}

/// Writes `bytes` to `path` with [`goodhart_core::write_atomic`], naming `path` on error.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), NnError> {
    goodhart_core::write_atomic(path, bytes).map_err(io_err(path))
}

/// Saves `model` and its `config` into `dir` (created if needed).
pub(crate) fn save<M: Module>(model: &M, config: &GptConfig, dir: &Path) -> Result<(), NnError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    // Weights first, config last: a directory with a config.json is complete.
    let weights = dir.join(WEIGHTS_FILE);
    let tmp = goodhart_core::temp_path(&weights);
    model.clone().save_file(&tmp).map_err(|e| match e {
        RecordError::Io(detail) | RecordError::Validation(detail) => {
            NnError::Io { path: tmp.clone(), source: std::io::Error::other(detail) }
        }
    })?;
    goodhart_core::sync_file(&tmp).map_err(io_err(&tmp))?;
    goodhart_core::publish(&tmp, &weights).map_err(io_err(&weights))?;
    let json = serde_json::to_string_pretty(config).expect("GptConfig serialises to JSON");
    write_atomic(&dir.join(CONFIG_FILE), json.as_bytes())
}

/// Reads and validates `dir/config.json`.
pub(crate) fn load_config(dir: &Path) -> Result<GptConfig, NnError> {
    let path = dir.join(CONFIG_FILE);
    if !path.is_file() {
        return Err(NnError::MissingFile { path });
    }
    let text = fs::read_to_string(&path).map_err(io_err(&path))?;
    let config: GptConfig = serde_json::from_str(&text)
        .map_err(|e| NnError::CorruptFile { path: path.clone(), detail: e.to_string() })?;
    config.validate().map_err(|e| NnError::CorruptFile { path: path.clone(), detail: e.to_string() })?;
    Ok(config)
}

/// Loads `dir/model.bpk` into `skeleton` (a model built for the config of `dir`).
pub(crate) fn load_weights<M: Module>(skeleton: M, dir: &Path) -> Result<M, NnError> {
    let path = dir.join(WEIGHTS_FILE);
    if !path.is_file() {
        return Err(NnError::MissingFile { path });
    }
    skeleton.try_load_file(&path).map_err(|e| match e {
        RecordError::Io(detail) => NnError::CorruptFile { path, detail },
        RecordError::Validation(detail) => NnError::ConfigMismatch {
            config: dir.join(CONFIG_FILE),
            weights: path,
            detail: shorten(detail, 400),
        },
    })
}

/// Cuts burn's per-tensor error list (one entry per mismatched tensor) to `max` chars.
fn shorten(detail: String, max: usize) -> String {
    match detail.char_indices().nth(max) {
        None => detail,
        Some((cut, _)) => format!("{} ... ({} more bytes)", &detail[..cut], detail.len() - cut),
    }
}

/// One exported tensor: PyTorch name, shape, row-major float32 values.
pub(crate) type NamedTensor = (String, Vec<usize>, Vec<f32>);

pub(crate) fn tensor_f32<const D: usize>(name: String, t: Tensor<D>) -> NamedTensor {
    let shape = t.dims().to_vec();
    let values = t.into_data().convert::<f32>().try_into_vec::<f32>().expect("float tensor converts to f32");
    (name, shape, values)
}

fn linear_torch(out: &mut Vec<NamedTensor>, name: &str, l: &Linear) {
    out.push(tensor_f32(format!("{name}.weight"), l.weight.val().transpose()));
    if let Some(b) = &l.bias {
        out.push(tensor_f32(format!("{name}.bias"), b.val()));
    }
}

fn layer_norm_torch(out: &mut Vec<NamedTensor>, name: &str, ln: &LayerNorm) {
    out.push(tensor_f32(format!("{name}.weight"), ln.gamma.val()));
    if let Some(b) = &ln.beta {
        out.push(tensor_f32(format!("{name}.bias"), b.val()));
    }
}

/// The trunk's tensors in PyTorch layout, names prefixed by `trunk.`.
pub(crate) fn trunk_torch(trunk: &Transformer) -> Vec<NamedTensor> {
    let mut out = vec![
        tensor_f32("trunk.tok_emb.weight".into(), trunk.tok_emb.weight.val()),
        tensor_f32("trunk.pos_emb.weight".into(), trunk.pos_emb.weight.val()),
    ];
    for (i, b) in trunk.blocks.iter().enumerate() {
        let p = format!("trunk.blocks.{i}");
        layer_norm_torch(&mut out, &format!("{p}.ln1"), &b.ln1);
        linear_torch(&mut out, &format!("{p}.attn.qkv"), &b.attn.qkv);
        linear_torch(&mut out, &format!("{p}.attn.proj"), &b.attn.proj);
        layer_norm_torch(&mut out, &format!("{p}.ln2"), &b.ln2);
        linear_torch(&mut out, &format!("{p}.mlp.fc1"), &b.mlp.fc1);
        linear_torch(&mut out, &format!("{p}.mlp.fc2"), &b.mlp.fc2);
    }
    layer_norm_torch(&mut out, "trunk.ln_f", &trunk.ln_f);
    out
}

/// Writes `tensors` as a float32 safetensors file, atomically.
///
/// Format: little-endian `u64` header length, JSON header
/// `{name: {dtype, shape, data_offsets}, "__metadata__": {..}}` padded with
/// spaces to a multiple of 8 bytes, then the raw little-endian data in header
/// order (names sorted).
pub(crate) fn write_safetensors(
    path: &Path,
    mut tensors: Vec<NamedTensor>,
    config: &GptConfig,
) -> Result<(), NnError> {
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut header = serde_json::Map::new();
    let mut metadata = BTreeMap::new();
    metadata.insert("format", "pt".to_string());
    metadata.insert("producer", "goodhart-nn".to_string());
    metadata.insert("config", serde_json::to_string(config).expect("config serialises"));
    header.insert("__metadata__".into(), serde_json::to_value(metadata).expect("metadata"));
    let mut offset = 0usize;
    for (name, shape, values) in &tensors {
        let end = offset + 4 * values.len();
        header.insert(
            name.clone(),
            serde_json::json!({ "dtype": "F32", "shape": shape, "data_offsets": [offset, end] }),
        );
        offset = end;
    }
    let mut header = serde_json::to_vec(&header).expect("header serialises");
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&header);
    for (_, _, values) in &tensors {
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    write_atomic(path, &bytes)
}
