//! Stage 1: the corpus, its tokenizer and the world that generated them.

use goodhart_policy::{Specials, TokenizedDoc};
use goodhart_world::{World, WorldTokenizer};

use super::*;
use crate::store::{key_of, Stage};
use crate::ReproError;

impl Pipeline {
    /// Stage 1: corpus and tokenizer.
    pub fn world(&self) -> Result<WorldArtifacts, ReproError> {
        let c = &self.config.world;
        let key = key_of(Stage::World, c);
        let world = World::new(c.world.clone()).map_err(|e| ReproError::Config(e.to_string()))?;
        let docs = world.documents(c.corpus_docs, c.seed);
        let (dir, outcome) = self.store.ensure(Stage::World, &key, c, |tmp| {
            let tok = WorldTokenizer::train(docs.iter().map(|d| d.text()), c.world.vocab_size)
                .map_err(|e| ReproError::Artifact(e.to_string()))?;
            tok.save(&tmp.join("tokenizer.json")).map_err(|e| ReproError::Artifact(e.to_string()))
        })?;
        let tokenizer = WorldTokenizer::load(&dir.join("tokenizer.json"))
            .map_err(|e| ReproError::Artifact(e.to_string()))?;
        let specials = Specials { pad: tokenizer.pad, bos: tokenizer.bos, eos: tokenizer.eos };
        let mut enc = Vec::with_capacity(docs.len());
        for d in &docs {
            let prompt = tokenizer.encode(&d.prompt).map_err(|e| ReproError::Artifact(e.to_string()))?;
            let response = tokenizer.encode(&d.response).map_err(|e| ReproError::Artifact(e.to_string()))?;
            enc.push(TokenizedDoc { prompt, response });
        }
        let val = enc.split_off(enc.len() - c.val_docs.min(enc.len() / 2));
        self.report_stage(
            Stage::World,
            outcome,
            &dir,
            &format!("{} documents, vocabulary {}", c.corpus_docs, tokenizer.vocab_size()),
        );
        Ok(WorldArtifacts { key, world, tokenizer, train: enc, val, specials })
    }
}
