//! The fixed workloads of the throughput benchmarks, in one place so that `cargo bench --bench
//! sampling`, `cargo xtask bench` and the PyTorch twin (`benches/torch_twin.py`) measure the same
//! models on the same shapes.
//!
//! | preset | vocab | d_model | layers | heads | context | parameters in all |
//! |---|---|---|---|---|---|---|
//! | `small` | 512 | 128 | 2 | 4 | 64 | 0.54M |
//! | `medium` | 512 | 256 | 4 | 4 | 64 | 3.4M |
//!
//! - sampling: `[bos]` + a [`PROMPT_LEN`]-token prompt, then [`NEW_TOKENS`] new tokens at
//!   temperature 1, at each batch size of [`SAMPLE_BATCHES`]; the end token ([`SPECIALS`]) lies
//!   outside the vocabulary, so every row decodes the full length;
//! - forward (scoring) and one training step: [`SEQS`] sequences of [`SEQ_LEN`] tokens
//!   ([`scoring_tokens`], [`train_batch`]).

use goodhart_nn::GptConfig;

use crate::data::{LmBatch, Specials};

/// Prompt tokens per sampled sequence (after `[bos]`).
pub const PROMPT_LEN: usize = 8;
/// New tokens per sampled sequence: `1 + PROMPT_LEN + NEW_TOKENS - 1` fills the context of 64.
pub const NEW_TOKENS: usize = 56;
/// Batch sizes of the sampling benchmark.
pub const SAMPLE_BATCHES: [usize; 3] = [1, 64, 256];
/// Sequences in the forward and training batches.
pub const SEQS: usize = 64;
/// Tokens per sequence in the forward and training batches.
pub const SEQ_LEN: usize = 64;
/// An end token outside the vocabulary: every row decodes all [`NEW_TOKENS`].
pub const SPECIALS: Specials = Specials { pad: 0, bos: 1, eos: u32::MAX };

/// The two model sizes, by name (`small`, `medium`).
pub fn presets() -> [(&'static str, GptConfig); 2] {
    let cfg = |d_model, n_layers| GptConfig {
        vocab_size: 512,
        d_model,
        n_layers,
        n_heads: 4,
        d_ff: 4 * d_model,
        max_seq_len: 64,
    };
    [("small", cfg(128, 2)), ("medium", cfg(256, 4))]
}

/// `batch` deterministic prompts of [`PROMPT_LEN`] tokens (row 0 is also the parity reference
/// exported for the twin).
pub fn prompts(batch: usize) -> Vec<Vec<u32>> {
    (0..batch).map(|b| (0..PROMPT_LEN).map(|t| (3 + 7 * b + 13 * t) as u32 % 512).collect()).collect()
}

/// The forward benchmark's input: [`SEQS`] x [`SEQ_LEN`] token ids, row-major.
pub fn scoring_tokens(vocab_size: usize) -> Vec<u32> {
    (0..SEQS * SEQ_LEN).map(|i| (i * 31 % vocab_size) as u32).collect()
}

/// The training benchmark's batch: [`SEQS`] x [`SEQ_LEN`] inputs, every target real.
pub fn train_batch(vocab_size: usize) -> LmBatch {
    let ids: Vec<u32> = (0..SEQS * (SEQ_LEN + 1)).map(|i| (i * 31 % vocab_size) as u32).collect();
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    for row in ids.chunks(SEQ_LEN + 1) {
        inputs.extend_from_slice(&row[..SEQ_LEN]);
        targets.extend_from_slice(&row[1..]);
    }
    LmBatch { batch: SEQS, seq_len: SEQ_LEN, inputs, targets, mask: vec![1.0; SEQS * SEQ_LEN] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_fit_the_presets() {
        for (_, config) in presets() {
            config.validate().unwrap();
            assert_eq!(1 + PROMPT_LEN + NEW_TOKENS - 1, config.max_seq_len);
            assert!(prompts(3).iter().flatten().all(|&t| (t as usize) < config.vocab_size));
            let batch = train_batch(config.vocab_size);
            assert_eq!((batch.inputs.len(), batch.targets.len()), (SEQS * SEQ_LEN, SEQS * SEQ_LEN));
            assert_eq!(batch.inputs[1..SEQ_LEN], batch.targets[..SEQ_LEN - 1]);
        }
    }
}
