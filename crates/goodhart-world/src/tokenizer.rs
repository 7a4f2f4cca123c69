//! The world's BPE tokenizer, trained with the `tokenizers` crate and saved as `tokenizer.json`.

use std::path::Path;
use std::str::FromStr;

use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{AddedToken, Tokenizer, TokenizerBuilder};

use crate::WorldError;

/// Special tokens, in id order: padding, beginning and end of sequence.
pub const PAD: &str = "<pad>";
pub const BOS: &str = "<bos>";
pub const EOS: &str = "<eos>";

/// A trained BPE tokenizer with the ids of its special tokens.
///
/// Pre-tokenisation is Metaspace (a word boundary becomes `▁`, as in SentencePiece), which
/// round-trips space-separated text exactly and needs no regex engine.
#[derive(Clone)]
pub struct WorldTokenizer {
    inner: Tokenizer,
    pub pad: u32,
    pub bos: u32,
    pub eos: u32,
}

impl std::fmt::Debug for WorldTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorldTokenizer").field("vocab_size", &self.vocab_size()).finish()
    }
}

fn tk_err(e: tokenizers::Error) -> WorldError {
    WorldError::Tokenizer(e.to_string())
}

impl WorldTokenizer {
    /// Trains a BPE vocabulary of (at most) `vocab_size` tokens on `texts`.
    pub fn train<I, S>(texts: I, vocab_size: usize) -> Result<Self, WorldError>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
    {
        let metaspace = Metaspace::new('▁', PrependScheme::Always, true);
        let mut trainer = BpeTrainerBuilder::new()
            .vocab_size(vocab_size)
            .min_frequency(2)
            .show_progress(false)
            .special_tokens(vec![
                AddedToken::from(PAD, true),
                AddedToken::from(BOS, true),
                AddedToken::from(EOS, true),
            ])
            .build();
        let mut tokenizer = TokenizerBuilder::<
            BPE,
            NormalizerWrapper,
            PreTokenizerWrapper,
            PostProcessorWrapper,
            DecoderWrapper,
        >::new()
        .with_model(BPE::default())
        .with_normalizer(None)
        .with_pre_tokenizer(Some(PreTokenizerWrapper::Metaspace(metaspace.clone())))
        .with_post_processor(None)
        .with_decoder(Some(DecoderWrapper::Metaspace(metaspace)))
        .build()
        .map_err(tk_err)?;
        tokenizer.train(&mut trainer, texts).map_err(tk_err)?;
        let json = tokenizer.to_string(false).map_err(tk_err)?;
        Self::from_json(&json)
    }

    fn from_json(json: &str) -> Result<Self, WorldError> {
        let inner = Tokenizer::from_str(json).map_err(tk_err)?;
        let id = |t: &str| {
            inner.token_to_id(t).ok_or_else(|| WorldError::Tokenizer(format!("special token {t} is missing")))
        };
        Ok(WorldTokenizer { pad: id(PAD)?, bos: id(BOS)?, eos: id(EOS)?, inner })
    }

    /// Loads a `tokenizer.json` written by [`WorldTokenizer::save`].
    pub fn load(path: &Path) -> Result<Self, WorldError> {
        let json = std::fs::read_to_string(path).map_err(|e| WorldError::io(path, e))?;
        Self::from_json(&json).map_err(|e| WorldError::CorruptArtifact {
            path: path.to_path_buf(),
            reason: format!("{e}; delete it to have it retrained"),
        })
    }

    /// Saves as `tokenizer.json` (atomically: a temporary file, then a rename).
    pub fn save(&self, path: &Path) -> Result<(), WorldError> {
        let json = self.inner.to_string(true).map_err(tk_err)?;
        goodhart_core::write_atomic(path, json.as_bytes()).map_err(|e| WorldError::io(path, e))
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Token ids of `text` (no special tokens added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, WorldError> {
        Ok(self.inner.encode(text, false).map_err(tk_err)?.get_ids().to_vec())
    }

    /// Text of `ids`, special tokens skipped.
    pub fn decode(&self, ids: &[u32]) -> Result<String, WorldError> {
        self.inner.decode(ids, true).map_err(tk_err)
    }
}
