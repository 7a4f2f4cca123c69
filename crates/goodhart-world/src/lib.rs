//! The world goodhart's experiments live in: a seeded synthetic instruction/response language, the
//! 'human' rubric that judges it, and the BPE tokenizer every model reads it with.
//!
//! # The language
//!
//! A prompt asks for a number of lines about a topic: `write about ocean in three lines :`. A
//! response is a sequence of sentences of one shape, `determiner noun verb praise* adjective .`,
//! e.g. `the fish is great calm . a reef looks warm .`. Eight topics have six nouns each.
//!
//! Responses come from a **noisy writer** ([`WriterConfig`]): each response draws a skill, and
//! better writers stay on topic, write the number of lines asked for and make fewer local mistakes
//! (a dropped verb, swapped words, a doubled word, a stray topic name). Enthusiasm, the number of
//! praise words, is drawn independently. A language model pretrained on this corpus reproduces the
//! whole spread of quality, which is what gives best-of-n and RL something to optimise.
//!
//! # The 'human' judgement
//!
//! [`Rubric`] plays the raters. Its features differ in reach, so that larger reward models can
//! capture more of it than small ones:
//!
//! - local: grammar (sentence shape), doubled words;
//! - long-range: answering what was asked (nouns of the prompt's topic), counting (as many
//!   sentences as asked), not repeating nouns across sentences;
//! - **good up to a point**: praise scores `0.8 g - 0.1 g^2`, rising to `g = 4` and falling after.
//!
//! The last feature is what makes overoptimisation appear (`shared/world-notes.md`: a rubric of
//! monotone features gave none). Under the initial policy most responses have one or two praise
//! words, on the rising side, and stuffed responses are rare but reachable; a proxy trained on
//! initial-policy samples learns 'more praise is better' and extrapolates it into exactly the rare
//! stuffed responses that best-of-n and RL select (extremal Goodhart). The gold RM is trained on a
//! broader writer ([`WriterConfig::broad`]), so the ground truth knows stuffing is bad.
//!
//! ```
//! use goodhart_world::{Rubric, World, WorldConfig};
//!
//! let world = World::new(WorldConfig::default());
//! let docs = world.documents(3, 42);
//! assert_eq!(docs, world.documents(3, 42)); // deterministic per seed
//! let rubric = Rubric::default();
//! let good = rubric.judge_text("write about ocean in two lines :", "the fish is great calm . a reef looks warm .").unwrap();
//! let bad = rubric.judge_text("write about ocean in two lines :", "the cow cow is . the cow").unwrap();
//! assert!(good.score > bad.score);
//! ```

mod rubric;
mod tokenizer;
pub mod vocab;
mod writer;

use std::path::{Path, PathBuf};

use goodhart_core::SplitMix64;
use serde::{Deserialize, Serialize};

pub use rubric::{Judgement, Rubric};
pub use tokenizer::{WorldTokenizer, BOS, EOS, PAD};
pub use writer::{Prompt, WriterConfig};

/// Everything that can go wrong in the world crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorldError {
    #[error("not a prompt of this world: {0:?} (expected `write about <topic> in <number> lines :`)")]
    BadPrompt(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is corrupt: {reason}")]
    CorruptArtifact { path: PathBuf, reason: String },
}

impl WorldError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        WorldError::Io { path: path.to_path_buf(), source }
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename, so a reader
/// never sees half a file and a crash leaves the old file (or none).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WorldError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| WorldError::io(dir, e))?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| WorldError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| WorldError::io(path, e))
}

/// The world's settings: the writer, the rubric and the tokenizer size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorldConfig {
    pub writer: WriterConfig,
    pub rubric: Rubric,
    pub vocab_size: usize,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig { writer: WriterConfig::default(), rubric: Rubric::default(), vocab_size: 512 }
    }
}

/// One (prompt, response) document of the corpus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub prompt: String,
    pub response: String,
}

impl Document {
    /// The document as one line of text: prompt, then response.
    pub fn text(&self) -> String {
        format!("{} {}", self.prompt, self.response)
    }
}

/// A seeded generator of prompts and documents, with its rubric.
#[derive(Debug, Clone)]
pub struct World {
    pub config: WorldConfig,
}

impl World {
    pub fn new(config: WorldConfig) -> Self {
        World { config }
    }

    /// `count` random prompts, deterministic for `seed`.
    pub fn prompts(&self, count: usize, seed: u64) -> Vec<Prompt> {
        let mut rng = SplitMix64::new(seed);
        (0..count).map(|_| Prompt::random(&mut rng)).collect()
    }

    /// `count` documents written by the (initial-policy) writer, deterministic for `seed`.
    pub fn documents(&self, count: usize, seed: u64) -> Vec<Document> {
        self.documents_by(&self.config.writer, count, seed)
    }

    /// `count` documents written by `writer`, deterministic for `seed`.
    pub fn documents_by(&self, writer: &WriterConfig, count: usize, seed: u64) -> Vec<Document> {
        let mut rng = SplitMix64::new(seed);
        (0..count)
            .map(|_| {
                let prompt = Prompt::random(&mut rng);
                Document { prompt: prompt.text(), response: writer.respond(&prompt, &mut rng) }
            })
            .collect()
    }

    /// The rubric's score of a response to a prompt given as text.
    pub fn judge(&self, prompt: &str, response: &str) -> Result<Judgement, WorldError> {
        self.config.rubric.judge_text(prompt, response)
    }
}

#[cfg(test)]
mod tests;
