//! Token sequences for language modelling: `[bos] prompt response [eos]`, right-padded.

/// A document as token ids, prompt and response kept apart (RL and KL need the boundary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedDoc {
    pub prompt: Vec<u32>,
    pub response: Vec<u32>,
}

/// Special token ids the batches are built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Specials {
    pub pad: u32,
    pub bos: u32,
    pub eos: u32,
}

/// A right-padded next-token-prediction batch, row-major `[batch, seq_len]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LmBatch {
    pub batch: usize,
    pub seq_len: usize,
    /// `[bos] prompt response` (then padding).
    pub inputs: Vec<u32>,
    /// `prompt response [eos]` (then padding): `targets[t] = inputs[t + 1]`.
    pub targets: Vec<u32>,
    /// 1 where `targets` holds a real token, 0 on padding.
    pub mask: Vec<f32>,
}

/// Builds an [`LmBatch`] whose `seq_len` is the longest document's, capped at `max_len`
/// (longer documents are truncated at the end, so their `[eos]` is lost).
pub fn lm_batch(docs: &[&TokenizedDoc], sp: Specials, max_len: usize) -> LmBatch {
    let full = |d: &TokenizedDoc| {
        let mut s = Vec::with_capacity(d.prompt.len() + d.response.len() + 2);
        s.push(sp.bos);
        s.extend_from_slice(&d.prompt);
        s.extend_from_slice(&d.response);
        s.push(sp.eos);
        s
    };
    let seqs: Vec<Vec<u32>> = docs.iter().map(|d| full(d)).collect();
    let seq_len = seqs.iter().map(|s| s.len() - 1).max().unwrap_or(1).clamp(1, max_len);
    let b = seqs.len();
    let mut batch = LmBatch {
        batch: b,
        seq_len,
        inputs: vec![sp.pad; b * seq_len],
        targets: vec![sp.pad; b * seq_len],
        mask: vec![0.0; b * seq_len],
    };
    for (row, s) in seqs.iter().enumerate() {
        let n = (s.len() - 1).min(seq_len);
        let at = row * seq_len;
        batch.inputs[at..at + n].copy_from_slice(&s[..n]);
        batch.targets[at..at + n].copy_from_slice(&s[1..=n]);
        batch.mask[at..at + n].fill(1.0);
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_and_pads() {
        let sp = Specials { pad: 0, bos: 1, eos: 2 };
        let a = TokenizedDoc { prompt: vec![10, 11], response: vec![20] };
        let b = TokenizedDoc { prompt: vec![10], response: vec![] };
        let batch = lm_batch(&[&a, &b], sp, 16);
        assert_eq!(batch.seq_len, 4);
        assert_eq!(batch.inputs, vec![1, 10, 11, 20, 1, 10, 0, 0]);
        assert_eq!(batch.targets, vec![10, 11, 20, 2, 10, 2, 0, 0]);
        assert_eq!(batch.mask, vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
        let short = lm_batch(&[&a], sp, 2);
        assert_eq!((short.inputs, short.targets), (vec![1, 10], vec![10, 11]));
    }
}
