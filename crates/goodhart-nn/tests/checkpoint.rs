//! (e) Checkpoints: round trip, error messages, safetensors export.

use std::fs;

use burn::prelude::*;
use goodhart_nn::checkpoint::{CONFIG_FILE, WEIGHTS_FILE};
use goodhart_nn::{Gpt, GptConfig, NnError, ScalarModel};

fn tiny() -> GptConfig {
    GptConfig { vocab_size: 13, d_model: 8, n_layers: 2, n_heads: 2, d_ff: 24, max_seq_len: 10 }
}

fn batch(device: &Device) -> Tensor<2, Int> {
    Tensor::from_ints([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 0, 0]], device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn save_load_round_trip_gives_identical_outputs() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let model = tiny().init_gpt(&device, 9);
    model.save(dir.path().join("lm")).unwrap();
    // Saving again over an existing checkpoint works (atomic replace), no temp files left.
    model.save(dir.path().join("lm")).unwrap();
    let mut files: Vec<_> = fs::read_dir(dir.path().join("lm"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, [CONFIG_FILE, WEIGHTS_FILE]);

    let loaded = Gpt::load(dir.path().join("lm"), &device).unwrap();
    assert_eq!(loaded.config(), model.config());
    assert_eq!(values(loaded.forward(batch(&device))), values(model.forward(batch(&device))));

    // Loading onto the autodiff device gives a trainable model with the same weights.
    let ad = Gpt::load(dir.path().join("lm"), &device.clone().autodiff()).unwrap();
    assert!(ad.lm_head.weight.val().is_autodiff());
    assert_eq!(values(ad.lm_head.weight.val().inner()), values(model.lm_head.weight.val()));
    let loss = ad.forward(batch(&device).to_device(&device.clone().autodiff())).square().mean();
    let grads = loss.backward();
    assert!(ad.lm_head.weight.val().grad(&grads).is_some(), "loaded weights get gradients");
    assert!(ad.trunk.blocks[0].attn.qkv.weight.val().grad(&grads).is_some());

    let rm = tiny().init_scalar(&device, 4);
    rm.save(dir.path().join("rm")).unwrap();
    let rm2 = ScalarModel::load(dir.path().join("rm"), &device).unwrap();
    let lengths = Tensor::<1, Int>::from_ints([6, 4], &device);
    assert_eq!(
        values(rm2.forward(batch(&device), lengths.clone())),
        values(rm.forward(batch(&device), lengths))
    );
}

#[test]
fn corrupt_weights_error_names_the_file() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    tiny().init_gpt(&device, 0).save(dir.path()).unwrap();
    let weights = dir.path().join(WEIGHTS_FILE);

    fs::write(&weights, b"definitely not a burnpack file").unwrap();
    let err = Gpt::load(dir.path(), &device).unwrap_err();
    assert!(matches!(err, NnError::CorruptFile { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&weights.display().to_string()), "{msg}");

    // Truncated file.
    tiny().init_gpt(&device, 0).save(dir.path()).unwrap();
    let bytes = fs::read(&weights).unwrap();
    fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let err = Gpt::load(dir.path(), &device).unwrap_err();
    assert!(err.to_string().contains(&weights.display().to_string()), "{err}");
}

#[test]
fn missing_and_corrupt_config_errors_name_the_file() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let err = Gpt::load(dir.path().join("nope"), &device).unwrap_err();
    assert!(matches!(err, NnError::MissingFile { .. }), "{err:?}");
    assert!(err.to_string().contains("config.json"), "{err}");

    tiny().init_gpt(&device, 0).save(dir.path()).unwrap();
    let config = dir.path().join(CONFIG_FILE);
    fs::write(&config, "{ \"vocab_size\": 13 ").unwrap();
    let err = Gpt::load(dir.path(), &device).unwrap_err();
    assert!(matches!(err, NnError::CorruptFile { .. }), "{err:?}");
    assert!(err.to_string().contains(&config.display().to_string()), "{err}");

    fs::remove_file(dir.path().join(WEIGHTS_FILE)).unwrap();
    fs::write(&config, serde_json::to_string(&tiny()).unwrap()).unwrap();
    let err = Gpt::load(dir.path(), &device).unwrap_err();
    assert!(matches!(err, NnError::MissingFile { .. }), "{err:?}");
    assert!(err.to_string().contains(WEIGHTS_FILE), "{err}");
}

#[test]
fn config_mismatch_is_a_clear_error() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    tiny().init_gpt(&device, 0).save(dir.path()).unwrap();

    // config.json of another width next to the weights.
    let other = GptConfig { d_model: 12, ..tiny() };
    fs::write(dir.path().join(CONFIG_FILE), serde_json::to_string(&other).unwrap()).unwrap();
    let err = Gpt::load(dir.path(), &device).unwrap_err();
    assert!(matches!(err, NnError::ConfigMismatch { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(WEIGHTS_FILE) && msg.contains(CONFIG_FILE), "{msg}");
    assert!(msg.contains("shape"), "detail should say what differs: {msg}");
    assert!(msg.len() < 1000, "detail is shortened: {msg}");

    // An LM checkpoint loaded as a reward model.
    fs::write(dir.path().join(CONFIG_FILE), serde_json::to_string(&tiny()).unwrap()).unwrap();
    let err = ScalarModel::load(dir.path(), &device).unwrap_err();
    assert!(matches!(err, NnError::ConfigMismatch { .. }), "{err:?}");
}

/// Parses a safetensors file: header JSON and the f32 data of one tensor.
fn read_safetensors(path: &std::path::Path) -> (serde_json::Value, Vec<u8>) {
    let bytes = fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(n % 8, 0, "header is padded to 8 bytes");
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    (header, bytes[8 + n..].to_vec())
}

fn tensor_of(header: &serde_json::Value, data: &[u8], name: &str) -> (Vec<usize>, Vec<f32>) {
    let entry = &header[name];
    assert_eq!(entry["dtype"], "F32", "{name}");
    let shape: Vec<usize> = serde_json::from_value(entry["shape"].clone()).unwrap();
    let [a, b]: [usize; 2] = serde_json::from_value(entry["data_offsets"].clone()).unwrap();
    let v = data[a..b].chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    (shape, v)
}

#[test]
fn safetensors_export_uses_pytorch_layout() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let c = tiny();
    let (v, t, d, f) = (c.vocab_size, c.max_seq_len, c.d_model, c.d_ff);
    let model = c.init_gpt(&device, 2);
    let path = dir.path().join("sub/lm.safetensors");
    model.export_safetensors(&path).unwrap();
    let (header, data) = read_safetensors(&path);

    let names: Vec<&String> = header.as_object().unwrap().keys().filter(|k| *k != "__metadata__").collect();
    assert_eq!(names.len(), 2 + 2 * 12 + 2 + 1, "{names:?}");
    let total: usize = names.iter().map(|n| tensor_of(&header, &data, n).1.len()).sum();
    assert_eq!(total, c.num_params());
    assert_eq!(data.len(), 4 * total, "no holes in the data section");
    assert_eq!(header["__metadata__"]["format"], "pt");

    let shape = |n: &str| tensor_of(&header, &data, n).0;
    assert_eq!(shape("trunk.tok_emb.weight"), [v, d]);
    assert_eq!(shape("trunk.pos_emb.weight"), [t, d]);
    assert_eq!(shape("trunk.blocks.1.ln1.weight"), [d]);
    assert_eq!(shape("trunk.blocks.1.attn.qkv.weight"), [3 * d, d]);
    assert_eq!(shape("trunk.blocks.1.attn.qkv.bias"), [3 * d]);
    assert_eq!(shape("trunk.blocks.1.mlp.fc1.weight"), [f, d]);
    assert_eq!(shape("trunk.blocks.1.mlp.fc2.weight"), [d, f]);
    assert_eq!(shape("trunk.ln_f.bias"), [d]);
    assert_eq!(shape("lm_head.weight"), [v, d]);

    // Torch weight [out, in] is the transpose of burn's [in, out].
    let burn_w = values(model.trunk.blocks[1].attn.qkv.weight.val()); // [d, 3d]
    let (_, torch_w) = tensor_of(&header, &data, "trunk.blocks.1.attn.qkv.weight"); // [3d, d]
    for i in 0..d {
        for o in 0..3 * d {
            assert_eq!(torch_w[o * d + i], burn_w[i * 3 * d + o]);
        }
    }
    let (_, emb) = tensor_of(&header, &data, "trunk.tok_emb.weight");
    assert_eq!(emb, values(model.trunk.tok_emb.weight.val()));

    let rm = c.init_scalar(&device, 2);
    let path = dir.path().join("rm.safetensors");
    rm.export_safetensors(&path).unwrap();
    let (header, data) = read_safetensors(&path);
    assert_eq!(tensor_of(&header, &data, "head.weight").0, [1, d]);
    assert_eq!(tensor_of(&header, &data, "head.bias").0, [1]);
    assert!(header.get("lm_head.weight").is_none());
}
