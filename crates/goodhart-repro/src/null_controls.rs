//! Controls of the pipeline rather than of the world: best-of-n against proxies made of the
//! gold's own pool scores, where the answer is known before anything is measured.
//!
//! - **Proxy = gold.** Best-of-n against the score it is judged by cannot fall: the expected best
//!   of n of a score rises with n. A fall here is a bug in the estimator or the fall test.
//! - **Proxy = gold + independent noise** (regressional Goodhart only, noise of the gold's own
//!   spread). The gold still cannot fall (conditioned on the proxy, the gold's expectation rises
//!   with it), and alpha_bon(gold) / alpha_bon(proxy) must equal the shrinkage
//!   Cov(gold, proxy) / Var(proxy) (finding 8's prediction holds exactly here).

use goodhart_bon::{BonEstimator, PromptPool};
use goodhart_core::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::fig1::{regressional, Regressional};
use crate::ReproError;
use goodhart_findings::checks::{check, Check};
use goodhart_findings::stats::{split_half_fall, SplitFall, SIGNIFICANT_SE};

/// The null controls' measurements.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NullControls {
    /// The gold's fall with the gold itself as proxy.
    pub gold_as_proxy: SplitFall,
    /// The gold's fall with the gold plus noise as proxy.
    pub noisy_gold: SplitFall,
    /// Finding 8's two numbers for the noisy proxy.
    pub noisy_regressional: Regressional,
}

/// Runs both null controls on the pools' gold scores (`[prompt][sample]`) over the grid `ns`.
///
/// # Errors
/// When the pools do not fit the grid or a score is not finite.
pub fn null_controls(
    gold: &[Vec<f64>],
    ns: &[u64],
    resamples: usize,
    seed: u64,
) -> Result<NullControls, ReproError> {
    let spread = goodhart_findings::stats::pooled_sd(gold);
    let mut rng = SplitMix64::new(seed ^ 0x4E11);
    let noisy: Vec<Vec<f64>> =
        gold.iter().map(|g| g.iter().map(|x| x + spread * rng.next_gaussian()).collect()).collect();
    let estimator = BonEstimator::new(ns).map_err(|e| ReproError::Config(format!("null controls: {e}")))?;
    let curves = |proxy: &[Vec<f64>]| {
        let pools: Vec<PromptPool<'_>> = proxy.iter().zip(gold).map(|(p, g)| PromptPool::new(p, g)).collect();
        estimator.estimate(&pools).map_err(|e| ReproError::Artifact(format!("null controls: {e}")))
    };
    let itself = curves(gold)?;
    let with_noise = curves(&noisy)?;
    Ok(NullControls {
        gold_as_proxy: split_half_fall(&itself.per_prompt_gold, ns.len()),
        noisy_gold: split_half_fall(&with_noise.per_prompt_gold, ns.len()),
        noisy_regressional: regressional(&noisy, gold, &with_noise, resamples, seed),
    })
}

/// The null controls' checks: no fall in either, and the shrinkage Cov(gold, proxy) / Var(proxy)
/// inside the 90% interval of the noisy proxy's alpha ratio.
pub fn null_checks(n: &NullControls) -> Vec<Check> {
    let fall = |f: &SplitFall| {
        format!(
            "peak - last on the other half of the prompts {:.3} (se {:.3}; a fall is > {SIGNIFICANT_SE} se)",
            f.amount.mean, f.amount.se
        )
    };
    let r = &n.noisy_regressional;
    let agree = r.alpha_ratio_ci.0 <= r.slope && r.slope <= r.alpha_ratio_ci.1;
    vec![
        check("null control: proxy = gold, the gold does not fall", !n.gold_as_proxy.falls, fall(&n.gold_as_proxy)),
        check("null control: proxy = gold + noise, the gold does not fall", !n.noisy_gold.falls, fall(&n.noisy_gold)),
        check(
            "null control: proxy = gold + noise, alpha ratio equals the shrinkage",
            agree,
            format!(
                "alpha_bon(gold) / alpha_bon(proxy) {:.3} [90% {:.3}, {:.3}] against Cov(gold, proxy) / Var(proxy) {:.3} (must lie in the ratio's interval)",
                r.alpha_ratio, r.alpha_ratio_ci.0, r.alpha_ratio_ci.1, r.slope
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pools(prompts: usize, size: usize, f: impl Fn(f64) -> f64) -> Vec<Vec<f64>> {
        let mut rng = SplitMix64::new(3);
        (0..prompts).map(|_| (0..size).map(|_| f(rng.next_gaussian())).collect()).collect()
    }

    #[test]
    fn a_sound_pipeline_passes_both_null_controls() {
        let gold = pools(64, 256, |x| x);
        let n = null_controls(&gold, &goodhart_bon::log_grid(256, 8), 200, 1).unwrap();
        assert!(null_checks(&n).iter().all(|c| c.passed), "{:#?}", null_checks(&n));
        // noise of the gold's own spread: the shrinkage is about one half
        assert!((n.noisy_regressional.slope - 0.5).abs() < 0.05, "{n:?}");
    }

    #[test]
    fn a_fall_or_a_wrong_ratio_fails_them() {
        let gold = pools(64, 256, |x| x);
        let mut n = null_controls(&gold, &goodhart_bon::log_grid(256, 8), 200, 1).unwrap();
        // counter-examples: a pipeline that made the gold fall, and one whose fits are off by 2x
        n.noisy_gold =
            SplitFall { peak: 2, amount: goodhart_core::Estimate { mean: 0.5, se: 0.1, n: 32 }, falls: true };
        n.noisy_regressional.alpha_ratio *= 2.0;
        n.noisy_regressional.alpha_ratio_ci =
            (n.noisy_regressional.alpha_ratio_ci.0 * 2.0, n.noisy_regressional.alpha_ratio_ci.1 * 2.0);
        let checks = null_checks(&n);
        assert!(checks[0].passed);
        assert!(!checks[1].passed && !checks[2].passed, "{checks:#?}");
        // and a pipeline that made the gold fall when the gold itself is the proxy
        n.gold_as_proxy = n.noisy_gold;
        assert!(null_checks(&n)[0].fails());
    }
}
