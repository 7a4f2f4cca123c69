//! Evaluating a policy as every optimiser that trains one does (PPO in `goodhart-ppo`, the direct
//! alignment algorithms in `goodhart-dpo`): samples to held-out prompts scored by the gold, the
//! optimised reward and the rubric, the sequence KL to the initial policy, on a log-spaced
//! schedule of steps; and the token layout and log-probabilities their training shares.

use burn::prelude::*;
use goodhart_core::{CurvePoint, Estimate, Method, Record, RewardModel, TokenId};
use goodhart_kl::{batch_kl_summary, KlError, KlSummary};
use goodhart_nn::Gpt;
use serde::{Deserialize, Serialize};

use crate::{generate, response_logprobs, PolicyError, Specials};

/// What can go wrong in an evaluation, each with the fix.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A reward function returned a non-finite score, or the wrong number of scores.
    #[error(
        "the {which} reward function returned {detail} at step {step}; it must return one finite \
         score per (prompt, response): check the reward model's calibration and inputs"
    )]
    BadReward { step: usize, which: &'static str, detail: String },
    /// Sampling or scoring with the policy failed (e.g. sequences longer than the context).
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A KL estimate could not be computed (non-finite log-probabilities).
    #[error(transparent)]
    Kl(#[from] KlError),
}

/// The steps (policy after that many updates) at which the gold is evaluated: 0, then
/// `round(2^(k / per_octave))` for k = 0, 1, ..., deduplicated, up to `total`, and `total`.
///
/// ```
/// use goodhart_policy::eval::eval_steps;
/// assert_eq!(eval_steps(20, 1), vec![0, 1, 2, 4, 8, 16, 20]);
/// assert_eq!(eval_steps(16, 2), vec![0, 1, 2, 3, 4, 6, 8, 11, 16]);
/// ```
pub fn eval_steps(total: usize, per_octave: usize) -> Vec<usize> {
    let mut steps = vec![0];
    let per_octave = per_octave.max(1) as f64;
    for k in 0.. {
        let s = 2f64.powf(k as f64 / per_octave).round() as usize;
        if s > total {
            break;
        }
        if steps.last() != Some(&s) {
            steps.push(s);
        }
    }
    if steps.last() != Some(&total) {
        steps.push(total);
    }
    steps
}

/// Scores with `rm` and checks there is one finite score per row.
pub fn checked_reward(
    rm: &dyn RewardModel,
    which: &'static str,
    step: usize,
    prompts: &[Vec<TokenId>],
    responses: &[Vec<TokenId>],
) -> Result<Vec<f64>, EvalError> {
    let scores = rm.score(prompts, responses).map_err(|e| EvalError::BadReward {
        step,
        which,
        detail: e.to_string(),
    })?;
    if scores.len() != responses.len() {
        let detail = format!("{} scores for {} responses", scores.len(), responses.len());
        return Err(EvalError::BadReward { step, which, detail });
    }
    if let Some((i, s)) = scores.iter().enumerate().find(|(_, s)| !s.is_finite()) {
        return Err(EvalError::BadReward { step, which, detail: format!("{s} for row {i}") });
    }
    Ok(scores)
}

/// Sequence KL estimates of responses from per-token log-probabilities.
pub fn sequence_kl(logprobs: &[Vec<f32>], ref_logprobs: &[Vec<f32>]) -> Result<KlSummary, KlError> {
    let len = logprobs.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let size = logprobs.len() * len;
    let (mut lp, mut lq, mut mask) = (vec![0.0f32; size], vec![0.0f32; size], vec![false; size]);
    for (i, (p, q)) in logprobs.iter().zip(ref_logprobs).enumerate() {
        lp[i * len..i * len + p.len()].copy_from_slice(p);
        lq[i * len..i * len + q.len()].copy_from_slice(q);
        mask[i * len..i * len + p.len()].fill(true);
    }
    batch_kl_summary(&lp, &lq, &mask, len)
}

/// A gold evaluation of the policy after `step` updates, on the held-out prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldEval {
    pub step: usize,
    /// Gold score, mean over the evaluation responses with its standard error.
    pub gold: Estimate,
    /// Proxy score of the same responses.
    pub proxy: Estimate,
    /// Rubric score of the same responses, when the inputs have a rubric.
    #[serde(default)]
    pub rubric: Option<Estimate>,
    /// How often the gold orders two of these responses as the rubric does (Kendall
    /// concordance, `goodhart_core::concordance`), when the inputs have a rubric.
    #[serde(default)]
    pub gold_rubric_concordance: Option<f64>,
    /// The gold score of each evaluation response, in prompt order (for tests of a fall that
    /// pick the peak on some prompts and measure the fall on others).
    #[serde(default)]
    pub gold_values: Vec<f64>,
    /// The rubric score of each evaluation response, in prompt order (empty without a rubric).
    #[serde(default)]
    pub rubric_values: Vec<f64>,
    /// Sequence KL(pi || pi_init), k3 per sequence (unbiased, non-negative); the record's `kl`.
    pub kl: Estimate,
    /// The same with k1 (unbiased, can be negative).
    pub kl_k1: Estimate,
    pub response_len: f64,
}

impl GoldEval {
    /// This evaluation as a curve point (`kl` = k3).
    pub fn to_point(&self) -> CurvePoint {
        CurvePoint {
            n: None,
            step: Some(self.step as u64),
            kl: self.kl.mean,
            kl_se: self.kl.se,
            proxy: self.proxy.mean,
            proxy_se: self.proxy.se,
            gold: self.gold.mean,
            gold_se: self.gold.se,
            rubric: self.rubric.map_or(f64::NAN, |r| r.mean),
            rubric_se: self.rubric.map_or(f64::NAN, |r| r.se),
            fidelity: self.gold_rubric_concordance.unwrap_or(f64::NAN),
        }
    }

    /// This evaluation as a results row: `template` with `method = Rl` and the point filled in.
    pub fn to_record(&self, template: &Record) -> Record {
        let mut row = template.clone().with_point(&self.to_point());
        row.method = Method::Rl;
        row
    }
}

/// What an evaluation scores a policy's responses with: the held-out prompts, the reward the
/// policy is optimised against (the record's `proxy` column), the gold and the rubric.
pub struct Judged<'a> {
    pub prompts: &'a [Vec<TokenId>],
    pub scored: &'a dyn goodhart_core::RewardModel,
    pub gold: &'a dyn goodhart_core::RewardModel,
    pub rubric: Option<&'a dyn goodhart_core::RewardModel>,
}

/// Evaluates `policy` after `step` updates: one response per prompt of `judges.prompts`
/// (sampled with `seed` from stream 0, the same streams at every evaluation), scored by the
/// gold, the optimised reward and the rubric, and the sequence KL to `init_policy` (k3 and k1).
/// Shared by every optimiser that trains a policy (PPO here, the direct alignment algorithms
/// in `goodhart-dpo`).
///
/// # Errors
/// [`EvalError::BadReward`], sampling or KL errors.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_policy(
    policy: &Gpt,
    init_policy: &Gpt,
    step: usize,
    judges: &Judged<'_>,
    sampling: &goodhart_core::SamplingSettings,
    sp: Specials,
    seed: u64,
    gen_batch_size: usize,
) -> Result<GoldEval, EvalError> {
    let prompts = judges.prompts;
    let samples = generate(policy, prompts, sampling, sp, seed, 0, gen_batch_size)?;
    let responses: Vec<Vec<TokenId>> = samples.into_iter().map(|s| s.response).collect();
    let logprobs = response_logprobs(policy, prompts, &responses, sp, gen_batch_size)?;
    let ref_logprobs = response_logprobs(init_policy, prompts, &responses, sp, gen_batch_size)?;
    let kl = sequence_kl(&logprobs, &ref_logprobs)?;
    let gold = checked_reward(judges.gold, "gold", step, prompts, &responses)?;
    let proxy = checked_reward(judges.scored, "proxy", step, prompts, &responses)?;
    let rubric = judges.rubric.map(|r| checked_reward(r, "rubric", step, prompts, &responses)).transpose()?;
    let tokens: usize = responses.iter().map(Vec::len).sum();
    Ok(GoldEval {
        step,
        gold: Estimate::from_values(&gold),
        proxy: Estimate::from_values(&proxy),
        rubric: rubric.as_deref().map(Estimate::from_values),
        gold_rubric_concordance: rubric.as_deref().map(|r| goodhart_core::concordance(&gold, r)),
        gold_values: gold,
        rubric_values: rubric.unwrap_or_default(),
        kl: kl.k3,
        kl_k1: kl.k1,
        response_len: tokens as f64 / responses.len() as f64,
    })
}

/// Right-padded `[bos] prompt response` rows for next-token prediction: `inputs[t]` is followed
/// by `targets[t]`; response token `j` of row `r` is the target at flat index `starts[r] + j`
/// (the position whose hidden state is the state `s_j` that emitted it).
pub struct Layout {
    pub rows: usize,
    /// Columns: the longest `prompt + response` of the rows.
    pub len: usize,
    pub inputs: Vec<i32>,
    pub targets: Vec<i32>,
    pub starts: Vec<usize>,
}

impl Layout {
    /// The rows `rows` of `(prompts[e], responses[e])`.
    pub fn new(prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>], rows: &[usize], sp: Specials) -> Self {
        let len = rows.iter().map(|&e| prompts[e].len() + responses[e].len()).max().unwrap_or(1).max(1);
        let mut inputs = vec![sp.pad as i32; rows.len() * len];
        let mut targets = vec![sp.pad as i32; rows.len() * len];
        let mut starts = Vec::with_capacity(rows.len());
        for (r, &e) in rows.iter().enumerate() {
            let at = r * len;
            let n = prompts[e].len() + responses[e].len();
            inputs[at] = sp.bos as i32;
            for (k, &tok) in prompts[e].iter().chain(&responses[e]).enumerate() {
                targets[at + k] = tok as i32;
                if k + 1 < n {
                    inputs[at + k + 1] = tok as i32;
                }
            }
            starts.push(at + prompts[e].len());
        }
        Layout { rows: rows.len(), len, inputs, targets, starts }
    }

    /// The inputs `[rows, len]` on `device` (moving the buffer there).
    pub fn inputs(&mut self, device: &Device) -> Tensor<2, Int> {
        Tensor::<2, Int>::from_data(
            TensorData::new(std::mem::take(&mut self.inputs), [self.rows, self.len]),
            device,
        )
    }
}

/// Log-probabilities of the taken tokens and the entropy of each next-token distribution, as
/// one fused operation ([`goodhart_nn::fused::token_logprobs_and_entropy`]; burn's composition
/// off the CPU).
///
/// # Shapes
/// - `logits`: `[B, T, V]`, `targets`: `B * T` ids, row-major → (`[B, T]`, `[B, T]`)
pub fn logprobs_and_entropy(logits: Tensor<3>, targets: &[u32]) -> (Tensor<2>, Tensor<2>) {
    goodhart_nn::fused::token_logprobs_and_entropy(logits, targets)
}
