//! Batched sampling with the KV cache, and log-probability scoring of given responses.
//!
//! On the CPU both run on [`goodhart_nn::Engine`] (plain Rust, the same function as the burn
//! model, held to it by parity tests); on other backends, and in [`generate_burn`], on burn.

use burn::prelude::*;
use goodhart_core::{Sample, SamplingSettings, TokenId};
use goodhart_nn::{Engine, EngineCache, Gpt, KvCache};
use rayon::prelude::*;

use crate::data::Specials;
use crate::sampling::{draw, sampling_logprobs, sequence_rng, validate};
use crate::PolicyError;

/// Rows per parallel task when drawing the next tokens (a row is one softmax over the vocabulary).
const SAMPLING_ROWS_PER_TASK: usize = 16;

/// Token ids as an `[rows, cols]` Int tensor.
pub(crate) fn int_tensor(ids: &[u32], rows: usize, cols: usize, device: &Device) -> Tensor<2, Int> {
    let data: Vec<i32> = ids.iter().map(|&t| t as i32).collect();
    Tensor::from_data(TensorData::new(data, [rows, cols]), device)
}

fn check_vocab(ids: &[u32], vocab: usize) -> Result<(), PolicyError> {
    match ids.iter().find(|&&t| t as usize >= vocab) {
        Some(&id) => Err(PolicyError::TokenOutOfRange { id, vocab }),
        None => Ok(()),
    }
}

/// Samples one response per prompt: `[bos] prompt` is fed once through the cache, then one token
/// per step until every row has produced `[eos]` or `max_new_tokens` tokens.
///
/// Response `i` (in input order) draws from the stream `sequence_rng(seed, first_index + i)`, so it
/// does not depend on `batch_size` or on which other prompts are in the call. A response includes
/// its `[eos]` if it produced one. Prompts of equal length are batched together, at most
/// `batch_size` rows at a time.
///
/// On the CPU backend this decodes with [`Engine`]; elsewhere with burn, as [`generate_burn`].
pub fn generate(
    model: &Gpt,
    prompts: &[Vec<TokenId>],
    settings: &SamplingSettings,
    sp: Specials,
    seed: u64,
    first_index: u64,
    batch_size: usize,
) -> Result<Vec<Sample>, PolicyError> {
    let engine = cpu_engine(model);
    generate_on(model, engine.as_ref(), prompts, settings, sp, seed, first_index, batch_size)
}

/// [`generate`] on burn's own forward pass and [`KvCache`] whatever the backend: the reference
/// that the engine's samples are tested against, and the path of the GPU backends.
pub fn generate_burn(
    model: &Gpt,
    prompts: &[Vec<TokenId>],
    settings: &SamplingSettings,
    sp: Specials,
    seed: u64,
    first_index: u64,
    batch_size: usize,
) -> Result<Vec<Sample>, PolicyError> {
    generate_on(model, None, prompts, settings, sp, seed, first_index, batch_size)
}

/// The plain-Rust engine of `model` when it lives on the CPU backend.
fn cpu_engine(model: &Gpt) -> Option<Engine> {
    (model.lm_head.weight.device() == Device::flex()).then(|| Engine::from_gpt(model))
}

#[allow(clippy::too_many_arguments)]
fn generate_on(
    model: &Gpt,
    engine: Option<&Engine>,
    prompts: &[Vec<TokenId>],
    settings: &SamplingSettings,
    sp: Specials,
    seed: u64,
    first_index: u64,
    batch_size: usize,
) -> Result<Vec<Sample>, PolicyError> {
    validate(settings)?;
    let cfg = model.config();
    let mut out: Vec<Option<Sample>> = vec![None; prompts.len()];
    let mut by_len: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, p) in prompts.iter().enumerate() {
        check_vocab(p, cfg.vocab_size)?;
        by_len.entry(p.len()).or_default().push(i);
    }
    for (&plen, rows) in &by_len {
        let ctx = plen + 1; // [bos] + prompt
        let needed = ctx + settings.max_new_tokens;
        if needed > cfg.max_seq_len + 1 {
            return Err(PolicyError::TooLong {
                needed,
                prompt: plen,
                new: settings.max_new_tokens,
                max: cfg.max_seq_len,
            });
        }
        // The last sampled token never needs to be fed back, so the cache holds ctx + max_new - 1.
        let capacity = (ctx + settings.max_new_tokens - 1).min(cfg.max_seq_len);
        for chunk in rows.chunks(batch_size.max(1)) {
            let b = chunk.len();
            let mut decoder: Box<dyn Decode + '_> = match engine {
                Some(engine) => Box::new(EngineDecode { engine, cache: engine.cache(b, capacity), b }),
                None => {
                    let device = model.lm_head.weight.device();
                    Box::new(BurnDecode {
                        model,
                        cache: KvCache::with_capacity(cfg, b, capacity, &device),
                        device,
                    })
                }
            };
            let samples = sample_chunk(
                &mut *decoder,
                cfg.vocab_size,
                prompts,
                chunk,
                ctx,
                settings,
                sp,
                seed,
                first_index,
            );
            for (&i, s) in chunk.iter().zip(samples) {
                out[i] = Some(s);
            }
        }
    }
    Ok(out.into_iter().map(|s| s.expect("every prompt was sampled")).collect())
}

/// What the sampling loop needs from a model: the logits `[B, V]` of each row's last position,
/// after the prompt and after each one-token step.
trait Decode {
    /// Feeds `tokens` `[B, ctx]` through an empty cache.
    fn prefill(&mut self, tokens: &[u32], ctx: usize) -> Vec<f32>;
    /// Feeds one token per row.
    fn step(&mut self, next: &[u32]) -> Vec<f32>;
}

struct BurnDecode<'a> {
    model: &'a Gpt,
    cache: KvCache,
    device: Device,
}

impl Decode for BurnDecode<'_> {
    fn prefill(&mut self, tokens: &[u32], ctx: usize) -> Vec<f32> {
        let b = tokens.len() / ctx;
        let logits = self.model.forward_cached(int_tensor(tokens, b, ctx, &self.device), &mut self.cache);
        let [_, _, v] = logits.dims();
        host_f32(logits.slice(s![.., (ctx - 1).., ..]).reshape([b, v]))
    }

    fn step(&mut self, next: &[u32]) -> Vec<f32> {
        let b = next.len();
        host_f32(self.model.forward_cached(int_tensor(next, b, 1, &self.device), &mut self.cache))
    }
}

struct EngineDecode<'a> {
    engine: &'a Engine,
    cache: EngineCache,
    b: usize,
}

impl Decode for EngineDecode<'_> {
    fn prefill(&mut self, tokens: &[u32], ctx: usize) -> Vec<f32> {
        let logits = self.engine.decode(tokens, &mut self.cache);
        let v = logits.len() / (self.b * ctx);
        (0..self.b)
            .flat_map(|r| logits[(r * ctx + ctx - 1) * v..(r * ctx + ctx) * v].iter().copied())
            .collect()
    }

    fn step(&mut self, next: &[u32]) -> Vec<f32> {
        self.engine.decode(next, &mut self.cache)
    }
}

fn host_f32<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 logits")
}

#[allow(clippy::too_many_arguments)]
fn sample_chunk(
    decoder: &mut dyn Decode,
    vocab: usize,
    prompts: &[Vec<TokenId>],
    rows: &[usize],
    ctx: usize,
    settings: &SamplingSettings,
    sp: Specials,
    seed: u64,
    first_index: u64,
) -> Vec<Sample> {
    let b = rows.len();
    let mut input = Vec::with_capacity(b * ctx);
    for &i in rows {
        input.push(sp.bos);
        input.extend_from_slice(&prompts[i]);
    }
    let mut host = decoder.prefill(&input, ctx);

    let mut rngs: Vec<_> = rows.iter().map(|&i| sequence_rng(seed, first_index + i as u64)).collect();
    let mut samples: Vec<Sample> = rows
        .iter()
        .map(|&i| Sample { prompt: prompts[i].clone(), response: Vec::new(), logprobs: Vec::new() })
        .collect();
    let mut done = vec![false; b];
    for step in 0..settings.max_new_tokens {
        let mut next = vec![sp.pad; b];
        // Each row draws from its own random stream, so the rows sample on every thread and a
        // row's token does not depend on which thread drew it.
        samples
            .par_iter_mut()
            .zip(rngs.par_iter_mut())
            .zip(done.par_iter_mut())
            .zip(next.par_iter_mut())
            .zip(host.par_chunks(vocab))
            .with_min_len(SAMPLING_ROWS_PER_TASK)
            .for_each_init(
                || Vec::with_capacity(vocab),
                |dist, ((((sample, rng), done), next), logits)| {
                    if *done {
                        return;
                    }
                    sampling_logprobs(logits, settings, dist);
                    let (tok, lp) = draw(dist, rng.next_f64());
                    sample.response.push(tok as TokenId);
                    sample.logprobs.push(lp);
                    *next = tok as TokenId;
                    *done = tok as TokenId == sp.eos;
                },
            );
        if done.iter().all(|&d| d) || step + 1 == settings.max_new_tokens {
            break;
        }
        host = decoder.step(&next);
    }
    samples
}

/// Per-token log-probabilities `log pi(response[t] | prompt, response[..t])` of given responses,
/// under the full (untruncated, temperature 1) model distribution, in batches of `batch_size`.
pub fn response_logprobs(
    model: &Gpt,
    prompts: &[Vec<TokenId>],
    responses: &[Vec<TokenId>],
    sp: Specials,
    batch_size: usize,
) -> Result<Vec<Vec<f32>>, PolicyError> {
    assert_eq!(prompts.len(), responses.len(), "one response per prompt");
    let cfg = model.config();
    let device = model.lm_head.weight.device();
    let engine = cpu_engine(model);
    let mut out = Vec::with_capacity(prompts.len());
    let idx: Vec<usize> = (0..prompts.len()).collect();
    for chunk in idx.chunks(batch_size.max(1)) {
        let mut seqs = Vec::with_capacity(chunk.len());
        for &i in chunk {
            check_vocab(&prompts[i], cfg.vocab_size)?;
            check_vocab(&responses[i], cfg.vocab_size)?;
            let needed = 1 + prompts[i].len() + responses[i].len();
            if needed > cfg.max_seq_len + 1 {
                return Err(PolicyError::TooLong {
                    needed,
                    prompt: prompts[i].len(),
                    new: responses[i].len(),
                    max: cfg.max_seq_len,
                });
            }
            let mut s = vec![sp.bos];
            s.extend_from_slice(&prompts[i]);
            s.extend_from_slice(&responses[i]);
            seqs.push(s);
        }
        // inputs are the sequence without its last token; the target at t is token t + 1.
        let t = seqs.iter().map(|s| s.len() - 1).max().unwrap_or(1).max(1);
        let b = seqs.len();
        let mut inputs = vec![sp.pad; b * t];
        let mut targets = vec![sp.pad; b * t];
        for (r, s) in seqs.iter().enumerate() {
            let n = s.len() - 1;
            inputs[r * t..r * t + n].copy_from_slice(&s[..n]);
            targets[r * t..r * t + n].copy_from_slice(&s[1..]);
        }
        if let Some(engine) = &engine {
            let v = cfg.vocab_size;
            let logits = engine.logits(&inputs, b);
            for (r, &i) in chunk.iter().enumerate() {
                let start = r * t + prompts[i].len(); // target index of the first response token
                out.push(
                    (start..start + responses[i].len())
                        .map(|k| {
                            let row = &logits[k * v..(k + 1) * v];
                            row[targets[k] as usize] - goodhart_nn::kernels::logsumexp(row)
                        })
                        .collect(),
                );
            }
            continue;
        }
        let logits = model.forward(int_tensor(&inputs, b, t, &device));
        let lp = goodhart_nn::fused::token_logprobs(logits, &targets);
        let host: Vec<f32> = lp.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 logprobs");
        for (r, &i) in chunk.iter().enumerate() {
            let start = r * t + prompts[i].len(); // target index of the first response token
            out.push(host[start..start + responses[i].len()].to_vec());
        }
    }
    Ok(out)
}
