//! The method's building blocks, in the order an iteration uses them: per-token rewards, GAE,
//! the adaptive KL coefficient, log-probabilities and entropy, the clipped policy and value
//! losses, values and explained variance.

use burn::prelude::*;
use goodhart_nn::ScalarModel;

use crate::KlPlacement;

/// Per-token rewards of one episode (Ziegler et al. 2019): a KL penalty at every token and the
/// reward model's score at the last one,
/// `r_t = -kl_coef * (log pi(a_t|s_t) - log pi_init(a_t|s_t)) + [t = L-1] * score`.
///
/// The penalty uses the k1 term, whose sum over the episode is the sequence-KL estimate; with
/// `kl_coef = 0` (the paper's default) the only reward is the score at the end.
pub fn token_rewards(logprobs: &[f32], ref_logprobs: &[f32], score: f64, kl_coef: f64, out: &mut [f32]) {
    for ((r, &lp), &lq) in out.iter_mut().zip(logprobs).zip(ref_logprobs) {
        *r = (-kl_coef * (lp as f64 - lq as f64)) as f32;
    }
    if let Some(last) = out.last_mut() {
        *last = (*last as f64 + score) as f32;
    }
}

/// Generalised advantage estimation (Schulman et al. 2016) over one terminal episode:
/// `delta_t = r_t + gamma * V_{t+1} - V_t` with `V_L = 0` after the last step, and
/// `A_t = delta_t + gamma * lambda * A_{t+1}`. Returns are `A_t + V_t`.
///
/// ```
/// let adv = goodhart_ppo::gae(&[0.0, 1.0], &[0.5, 0.5], 1.0, 0.5);
/// // delta = [0 + 0.5 - 0.5, 1 + 0 - 0.5] = [0, 0.5]; A_1 = 0.5, A_0 = 0 + 0.5 * 0.5
/// assert_eq!(adv, vec![0.25, 0.5]);
/// ```
pub fn gae(rewards: &[f32], values: &[f32], gamma: f64, lambda: f64) -> Vec<f32> {
    let mut out = vec![0.0; rewards.len()];
    gae_into(rewards, values, gamma, lambda, &mut out);
    out
}

/// [`gae`] into a caller's buffer (`out.len() == rewards.len() == values.len()`).
pub fn gae_into(rewards: &[f32], values: &[f32], gamma: f64, lambda: f64, out: &mut [f32]) {
    assert!(rewards.len() == values.len() && values.len() == out.len(), "one value per reward");
    let (mut next_value, mut lastgaelam) = (0.0f64, 0.0f64);
    for t in (0..rewards.len()).rev() {
        let delta = rewards[t] as f64 + gamma * next_value - values[t] as f64;
        lastgaelam = delta + gamma * lambda * lastgaelam;
        out[t] = lastgaelam as f32;
        next_value = values[t] as f64;
    }
}

/// The Ziegler et al. (2019) adaptive KL controller: returns the next coefficient,
/// `coef * (1 + clip(kl / target - 1, -0.2, 0.2) * n_steps / horizon)`.
pub fn adaptive_kl_coef(coef: f64, kl: f64, target: f64, horizon: f64, n_steps: usize) -> f64 {
    let proportional_error = (kl / target - 1.0).clamp(-0.2, 0.2);
    coef * (1.0 + proportional_error * n_steps as f64 / horizon)
}

/// `sum(x * mask) / sum(mask)`.
///
/// # Shapes
/// - `x`, `mask`: `[B, T]` → `[1]`
pub fn masked_mean(x: Tensor<2>, mask: Tensor<2>) -> Tensor<1> {
    (x * mask.clone()).sum().div(mask.sum())
}

/// The clipped surrogate objective and its diagnostics (all means over `mask`).
#[derive(Debug, Clone)]
pub struct PolicyLoss {
    /// `mean(max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps)))`, differentiable.
    pub pg_loss: Tensor<1>,
    /// `mean((ratio - 1) - log ratio)` (detached).
    pub approx_kl: Tensor<1>,
    /// `mean(|ratio - 1| > eps)` (detached).
    pub clipfrac: Tensor<1>,
}

/// PPO's clipped policy loss (Schulman et al. 2017, eq. 7, as a loss to minimise), with
/// `ratio = exp(newlogprob - oldlogprob)`.
///
/// # Shapes
/// - `newlogprob`, `oldlogprob`, `advantages`, `mask`: `[B, T]`; outputs `[1]`
pub fn clipped_policy_loss(
    newlogprob: Tensor<2>,
    oldlogprob: Tensor<2>,
    advantages: Tensor<2>,
    mask: Tensor<2>,
    clip_coef: f64,
) -> PolicyLoss {
    let logratio = newlogprob - oldlogprob;
    let ratio = logratio.clone().exp();
    let pg_loss1 = advantages.clone().neg() * ratio.clone();
    let pg_loss2 = advantages.neg() * ratio.clone().clamp(1.0 - clip_coef, 1.0 + clip_coef);
    let pg_loss = masked_mean(pg_loss1.max_pair(pg_loss2), mask.clone());

    let (ratio, logratio) = (ratio.detach(), logratio.detach());
    let approx_kl = masked_mean((ratio.clone().sub_scalar(1.0)) - logratio, mask.clone());
    let clipped = ratio.sub_scalar(1.0).abs().greater_elem(clip_coef).float();
    let clipfrac = masked_mean(clipped, mask);
    PolicyLoss { pg_loss, approx_kl, clipfrac }
}

/// The KL penalty as a loss term (before its coefficient), a mean over `mask`, for the
/// placements that put it in the loss; `None` for [`KlPlacement::K1InReward`], whose penalty is in
/// the rewards ([`token_rewards`]). With `log r = ref - new`:
/// k2 `0.5 (log r)^2`, k3 `exp(log r) - 1 - log r`, weighted k3 `exp(new - old) * k3`.
///
/// # Shapes
/// - `newlogprob`, `oldlogprob`, `ref_logprob`, `mask`: `[B, T]` → `[1]`
pub fn kl_loss(
    placement: KlPlacement,
    newlogprob: Tensor<2>,
    oldlogprob: Tensor<2>,
    ref_logprob: Tensor<2>,
    mask: Tensor<2>,
) -> Option<Tensor<1>> {
    // zero outside responses, where neither log-probability means anything (exp would overflow)
    let log_r = || (ref_logprob.clone() - newlogprob.clone()) * mask.clone();
    let k3 = || log_r().exp().sub_scalar(1.0) - log_r();
    let per_token = match placement {
        KlPlacement::K1InReward => return None,
        KlPlacement::K2AsLoss => log_r().square().mul_scalar(0.5),
        KlPlacement::K3AsLoss => k3(),
        KlPlacement::K3ImportanceWeighted => ((newlogprob.clone() - oldlogprob) * mask.clone()).exp() * k3(),
    };
    Some(masked_mean(per_token, mask))
}

/// Group-relative advantages (GRPO): `rewards` holds consecutive groups of `group` episodes (one
/// prompt each); each episode's advantage is its reward minus its group's mean over the group's
/// standard deviation (unbiased) plus 1e-8. A group whose rewards are all equal gets 0.
///
/// ```
/// let a = goodhart_ppo::group_advantages(&[1.0, 3.0, 5.0, 5.0], 2);
/// // group 1: mean 2, sd sqrt(2); group 2: no spread
/// assert!((a[0] + 0.7071).abs() < 1e-4 && (a[1] - 0.7071).abs() < 1e-4 && a[2] == 0.0 && a[3] == 0.0);
/// ```
pub fn group_advantages(rewards: &[f64], group: usize) -> Vec<f64> {
    assert!(group >= 2 && rewards.len().is_multiple_of(group), "whole groups of >= 2 episodes");
    let mut out = Vec::with_capacity(rewards.len());
    for g in rewards.chunks(group) {
        let mean = g.iter().sum::<f64>() / group as f64;
        let sd = (g.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (group - 1) as f64).sqrt();
        out.extend(g.iter().map(|r| (r - mean) / (sd + 1e-8)));
    }
    out
}

/// PPO's value loss `0.5 * mean(max((V - R)^2, (V_clip - R)^2))` with
/// `V_clip = V_old + clip(V - V_old, -c, c)`; without `clip`, `0.5 * mean((V - R)^2)`.
///
/// # Shapes
/// - `newvalue`, `oldvalue`, `returns`, `mask`: `[B, T]` → `[1]`
pub fn clipped_value_loss(
    newvalue: Tensor<2>,
    oldvalue: Tensor<2>,
    returns: Tensor<2>,
    mask: Tensor<2>,
    clip: Option<f64>,
) -> Tensor<1> {
    let v_loss_unclipped = (newvalue.clone() - returns.clone()).square();
    let v_loss = match clip {
        Some(c) => {
            let v_clipped = oldvalue.clone() + (newvalue - oldvalue).clamp(-c, c);
            let v_loss_clipped = (v_clipped - returns).square();
            v_loss_unclipped.max_pair(v_loss_clipped)
        }
        None => v_loss_unclipped,
    };
    masked_mean(v_loss, mask).mul_scalar(0.5)
}

/// Per-token values: the value model's scalar head at every position.
///
/// # Shapes
/// - `tokens`: `[B, T]` → `[B, T]`
pub fn token_values(value: &ScalarModel, tokens: Tensor<2, Int>) -> Tensor<2> {
    let hidden = value.trunk.forward(tokens); // [B, T, D]
    let [b, t, d] = hidden.dims();
    value.head.forward(hidden.reshape([b * t, d])).reshape([b, t])
}

/// `1 - Var(returns - values) / Var(returns)`; `None` when the returns have no variance.
pub fn explained_variance(values: &[f32], returns: &[f32]) -> Option<f64> {
    let var = |xs: &mut dyn Iterator<Item = f64>| {
        let v: Vec<f64> = xs.collect();
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len().max(1) as f64
    };
    let var_y = var(&mut returns.iter().map(|&r| r as f64));
    let var_res = var(&mut returns.iter().zip(values).map(|(&r, &v)| r as f64 - v as f64));
    (var_y > 0.0).then(|| 1.0 - var_res / var_y)
}
