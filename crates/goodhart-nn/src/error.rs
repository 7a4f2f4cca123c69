//! [`NnError`]: everything that can go wrong outside of tensor shape bugs
//! (which panic, as in burn).

use std::path::PathBuf;

/// Errors of configuration and checkpoint I/O. Every file error names the
/// file and says how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NnError {
    /// [`crate::GptConfig::preset`] got a name not in [`crate::PRESETS`].
    #[error("unknown model preset {name:?}; use one of {:?}", crate::PRESETS)]
    UnknownPreset { name: String },

    /// A backend name that is not `cpu`, `wgpu` or `cuda`.
    #[error("unknown backend {name:?}: use cpu, wgpu or cuda")]
    UnknownBackend { name: String },

    /// A backend this build does not include.
    #[error(
        "backend {backend} is not compiled in: rebuild with `--features {feature}` \
         (e.g. `cargo run -p xtask --features {feature} -- reproduce fig1 --backend {backend}`)"
    )]
    BackendNotCompiled { backend: &'static str, feature: &'static str },

    /// A backend that is compiled in but cannot run here.
    #[error("backend {backend} cannot start: {why}; {fix}")]
    BackendUnavailable { backend: &'static str, why: String, fix: &'static str },

    /// A [`crate::GptConfig`] with a zero size or `n_heads` not dividing `d_model`.
    #[error("invalid GptConfig: {reason}")]
    InvalidConfig { reason: String },

    /// A checkpoint file does not exist.
    #[error(
        "missing file {}: expected a checkpoint directory written by `save` \
         (containing config.json and model.bpk); check the path",
        .path.display()
    )]
    MissingFile { path: PathBuf },

    /// A checkpoint file exists but cannot be parsed.
    #[error(
        "corrupt file {}: {detail}; the file is damaged or not written by goodhart-nn, \
         re-save the checkpoint or restore it from a copy",
        .path.display()
    )]
    CorruptFile { path: PathBuf, detail: String },

    /// The weights do not fit the architecture in `config.json`, or belong to
    /// another kind of model (e.g. an LM checkpoint loaded as a scalar model).
    #[error(
        "weights {} do not match config {}: {detail}; the two files come from different \
         models (or an LM checkpoint was loaded as a reward model, or vice versa): \
         save the model again, or load it with the model type and config it was saved with",
        .weights.display(),
        .config.display()
    )]
    ConfigMismatch { config: PathBuf, weights: PathBuf, detail: String },

    /// An operating-system I/O error (permissions, full disk, ...).
    #[error("I/O error on {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
