//! The world goodhart's experiments live in: a seeded synthetic instruction/response language, the
//! 'human' rubric that judges it, and the BPE tokenizer every model reads it with.
//!
//! # The language
//!
//! A prompt asks for a number of lines about a topic, and may ask for an adjective to use and a
//! verb to avoid: `write about ocean in three lines using calm without seems :`. The parts combine
//! into [`Prompt::COUNT`] (1,080) distinct prompts, split once, by a seeded permutation, into
//! training and held-out prompts ([`PromptSplit`], [`Split`]): everything a model is trained on
//! (the corpus, the RMs' comparisons, PPO's rollouts) uses training prompts, and every point of a
//! curve is measured on held-out ones. A response is a sequence of sentences of one shape,
//! `determiner noun verb (praise | really)* adjective .`, e.g. `the fish is great calm . a reef
//! looks warm .`. Eight topics have six nouns each.
//!
//! Responses come from a **noisy writer** ([`WriterConfig`]): each response draws a skill, and
//! better writers stay on topic, write the number of lines asked for, use the asked adjective,
//! avoid the forbidden verb and make fewer local mistakes (a dropped verb, swapped words, a
//! doubled word, a stray topic name). Enthusiasm, the number of praise words, is drawn
//! independently. A language model pretrained on this corpus reproduces the whole spread of
//! quality, which is what gives best-of-n and RL something to optimise.
//!
//! # The 'human' judgement
//!
//! [`Rubric`] plays the raters. Its features differ in reach, so that larger reward models can
//! capture more of it than small ones:
//!
//! - local: grammar (sentence shape), doubled words, the forbidden verb;
//! - long-range: answering what was asked (nouns of the prompt's topic, the asked adjective),
//!   counting (as many sentences as asked), not repeating nouns across sentences;
//! - **good up to a point**: praise scores `0.8 g - 0.1 g^2`, rising to `g = 4` and falling
//!   after; the asked adjective is good once or twice and penalised beyond.
//!
//! # Goodhart mechanisms
//!
//! The paper (section 4.3, after Manheim and Garrabrant) names four ways a proxy comes apart from
//! the goal under optimisation. Three are parts of this world, each switchable, so that their
//! effect can be measured and a control can switch them all off:
//!
//! - **extremal** ([`Rubric::extremal`]): features that are good up to a point. Under the initial
//!   policy most responses sit on the rising side (one or two praise words, the asked adjective
//!   at most once); a proxy trained on initial-policy samples learns 'more is better' and
//!   extrapolates it into exactly the rare stuffed responses that best-of-n and RL select.
//!   `shared/world-notes.md`: a rubric of monotone features gave no overoptimisation. Off: both
//!   terms stop at their best value, and the rubric is monotone in every feature.
//! - **causal** ([`WriterConfig::causal`]): skilled writers use the intensifier `really` more
//!   often, though the rubric ignores it. A proxy can learn the word as a shortcut to skill, and
//!   optimisation pushes it past the one use per response where the correlation held, into
//!   responses that are longer (truncated, hence ungrammatical) and double words. Off: the word
//!   is as frequent, independent of skill.
//! - **regressional**: a proxy is the gold plus error, from its finite capacity (the RM-size
//!   axis) and data, and from label noise on its comparisons (the experiment's
//!   `proxies.label_noise`; 0 turns the added noise off).
//!
//! (Adversarial Goodhart, an optimiser that acts on the proxy's measurement, has no part here.)
//!
//! The gold RM is trained on comparisons of a broader writer ([`WriterConfig::broad`]), which
//! stuffs praise, repeats the asked adjective and piles up intensifiers far more often, so the
//! ground truth knows what the rubric thinks of the extremes the initial policy rarely reaches.
//!
//! ```
//! use goodhart_world::{Rubric, World, WorldConfig};
//!
//! let world = World::new(WorldConfig::default()).unwrap();
//! let docs = world.documents(3, 42);
//! assert_eq!(docs, world.documents(3, 42)); // deterministic per seed
//! let rubric = Rubric::default();
//! let good = rubric.judge_text("write about ocean in two lines using calm :", "the fish is great calm . a reef looks warm .").unwrap();
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

/// Which side of the world's fixed prompt split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Prompts for everything that is trained: corpus, RM comparisons, calibration, PPO rollouts.
    Train,
    /// Prompts for every measured point: best-of-n pools and PPO's gold evaluations.
    HeldOut,
}

/// How the [`Prompt::COUNT`] prompts are split: a permutation seeded by `seed`, whose first
/// `round(heldout_fraction * COUNT)` prompts are held out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptSplit {
    /// Share of the prompts held out from all training (every curve is measured on them).
    pub heldout_fraction: f64,
    /// Seed of the split.
    pub seed: u64,
}

impl Default for PromptSplit {
    fn default() -> Self {
        PromptSplit { heldout_fraction: 0.25, seed: 0x5_911 }
    }
}

/// Everything that can go wrong in the world crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorldError {
    #[error(
        "not a prompt of this world: {0:?} (expected `write about <topic> in <number> lines [using <adjective>] [without <verb>] :`)"
    )]
    BadPrompt(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is corrupt: {reason}")]
    CorruptArtifact { path: PathBuf, reason: String },
    #[error("world.split.heldout_fraction is {0}: use a value that leaves at least one prompt on each side, e.g. 0.25")]
    BadSplit(f64),
}

impl WorldError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        WorldError::Io { path: path.to_path_buf(), source }
    }
}

/// The world's settings: the writer, the rubric, the prompt split and the tokenizer size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorldConfig {
    /// How the writer's responses vary.
    pub writer: WriterConfig,
    /// The rubric's weights.
    pub rubric: Rubric,
    /// Which prompts are held out.
    pub split: PromptSplit,
    /// Tokens in the trained BPE vocabulary.
    pub vocab_size: usize,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            writer: WriterConfig::default(),
            rubric: Rubric::default(),
            split: PromptSplit::default(),
            vocab_size: 512,
        }
    }
}

impl WorldConfig {
    /// This world with the extremal and causal mechanisms switched as given (see the crate docs).
    pub fn with_mechanisms(mut self, extremal: bool, causal: bool) -> Self {
        self.rubric.extremal = extremal;
        self.writer.causal = causal;
        self
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

/// A seeded generator of prompts and documents, with its rubric and its prompt split.
#[derive(Debug, Clone)]
pub struct World {
    pub config: WorldConfig,
    train: Vec<Prompt>,
    heldout: Vec<Prompt>,
}

impl World {
    /// The world of `config`.
    ///
    /// # Errors
    /// [`WorldError::BadSplit`] when the split leaves one side empty.
    pub fn new(config: WorldConfig) -> Result<Self, WorldError> {
        let fraction = config.split.heldout_fraction;
        let heldout = (fraction * Prompt::COUNT as f64).round();
        if !(heldout >= 1.0 && heldout < Prompt::COUNT as f64) {
            return Err(WorldError::BadSplit(fraction));
        }
        let mut ids: Vec<usize> = (0..Prompt::COUNT).collect();
        SplitMix64::new(config.split.seed).shuffle(&mut ids);
        let mut prompts: Vec<Prompt> = ids.into_iter().map(Prompt::from_id).collect();
        let train = prompts.split_off(heldout as usize);
        Ok(World { config, train, heldout: prompts })
    }

    /// The distinct prompts of one side of the split, in the split's (seeded) order.
    pub fn split(&self, which: Split) -> &[Prompt] {
        match which {
            Split::Train => &self.train,
            Split::HeldOut => &self.heldout,
        }
    }

    /// `count` prompts of one side of the split, deterministic for `seed`: a seeded permutation
    /// of that side, repeated as often as `count` needs, so no prompt repeats before every one
    /// has been drawn.
    pub fn prompts(&self, which: Split, count: usize, seed: u64) -> Vec<Prompt> {
        let side = self.split(which);
        let mut rng = SplitMix64::new(seed);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let mut round = side.to_vec();
            rng.shuffle(&mut round);
            out.extend(round.into_iter().take(count - out.len()));
        }
        out
    }

    /// One uniformly random prompt of one side of the split.
    pub fn random_prompt(&self, which: Split, rng: &mut SplitMix64) -> Prompt {
        let side = self.split(which);
        side[rng.next_below(side.len() as u64) as usize]
    }

    /// `count` documents written by the (initial-policy) writer for training prompts,
    /// deterministic for `seed`.
    pub fn documents(&self, count: usize, seed: u64) -> Vec<Document> {
        self.documents_by(&self.config.writer, count, seed)
    }

    /// `count` documents written by `writer` for training prompts, deterministic for `seed`.
    pub fn documents_by(&self, writer: &WriterConfig, count: usize, seed: u64) -> Vec<Document> {
        let mut rng = SplitMix64::new(seed);
        (0..count)
            .map(|_| {
                let prompt = self.random_prompt(Split::Train, &mut rng);
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
