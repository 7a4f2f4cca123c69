//! What can go wrong in the store, and how a caller's own error carries the stage it happened in.

use std::path::{Path, PathBuf};

/// An error of the store itself: a file that could not be read or written, a stage record that
/// does not parse, a stage whose computation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is corrupt ({reason}): delete its stage directory to have it recomputed")]
    Corrupt { path: PathBuf, reason: String },
    #[error("artifact: {0}")]
    Artifact(String),
    /// What went wrong while a stage was computed, and which stage (it is not marked complete).
    #[error("computing {stage}: {source}")]
    InStage { stage: String, source: Box<StoreError> },
}

impl StoreError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io { path: path.to_path_buf(), source }
    }
}

/// An error type that [`crate::Store::ensure`]'s computations may fail with: it holds the store's
/// own errors and can say which stage it came from (once: an error already tagged with its
/// stage, from a stage computed inside another, keeps the inner stage).
pub trait StageError: From<StoreError> {
    /// This error, tagged as having happened while computing `stage` (`<stage>/<key>`).
    fn in_stage(self, stage: String) -> Self;
}

impl StageError for StoreError {
    fn in_stage(self, stage: String) -> Self {
        match self {
            already @ StoreError::InStage { .. } => already,
            e => StoreError::InStage { stage, source: Box::new(e) },
        }
    }
}
