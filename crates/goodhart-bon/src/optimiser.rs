//! Best-of-n as an [`Optimiser`]: a pool of samples per prompt, drawn once from the initial
//! policy and owned by the optimiser; each optimisation scores the pools with the proxy and the
//! judges and reads the whole curve off the unbiased estimator.

use goodhart_core::{
    BoxError, Curve, CurvePoint, Judges, Method, OptimisedRun, Optimiser, Policy, RewardModel,
    SamplingSettings, TokenId,
};

use std::borrow::Cow;

use crate::{bon_fidelity, BonCurves, BonEstimator, PromptPool};

/// Best-of-n choices drawn per prompt to measure the gold's fidelity to the rubric at each n.
const FIDELITY_DRAWS: usize = 16;
/// The seed of those draws (fixed: the same pools give the same fidelity).
const FIDELITY_SEED: u64 = 0xF1DE_117E;

/// Best-of-n over pools of samples, one pool per prompt, and a grid of n. It owns its pools
/// (when it drew them) or borrows them (pools that live elsewhere, such as a stored stage's).
#[derive(Debug, Clone)]
pub struct BestOfN<'a> {
    prompts: Cow<'a, [Vec<TokenId>]>,
    responses: Cow<'a, [Vec<Vec<TokenId>>]>,
    estimator: BonEstimator,
}

impl<'a> BestOfN<'a> {
    /// Best-of-n over given pools: `responses[p]` are samples of the initial policy for
    /// `prompts[p]`. Every pool must hold at least the grid's largest n.
    ///
    /// # Errors
    /// When the grid is invalid, the lengths differ, or a pool is smaller than the largest n.
    pub fn new(
        prompts: impl Into<Cow<'a, [Vec<TokenId>]>>,
        responses: impl Into<Cow<'a, [Vec<Vec<TokenId>>]>>,
        grid: &[u64],
    ) -> Result<Self, BoxError> {
        let (prompts, responses) = (prompts.into(), responses.into());
        let estimator = BonEstimator::new(grid)?;
        if prompts.len() != responses.len() {
            return Err(
                format!("{} prompts but {} pools of responses", prompts.len(), responses.len()).into()
            );
        }
        let max_n = *grid.iter().max().expect("the estimator rejects an empty grid");
        if let Some((p, pool)) = responses.iter().enumerate().find(|(_, r)| (r.len() as u64) < max_n) {
            return Err(format!(
                "pool {p} has {} samples, fewer than the grid's largest n {max_n}",
                pool.len()
            )
            .into());
        }
        Ok(BestOfN { prompts, responses, estimator })
    }

    /// Draws a pool of `pool` samples per prompt from `policy`: sample `i` of prompt `p` uses
    /// the random stream `(seed, p * pool + i)`. `progress` is called after each prompt's pool.
    ///
    /// # Errors
    /// As [`BestOfN::new`], and the policy's sampling errors.
    pub fn sample(
        policy: &dyn Policy,
        prompts: Vec<Vec<TokenId>>,
        pool: usize,
        settings: &SamplingSettings,
        seed: u64,
        grid: &[u64],
        mut progress: impl FnMut(usize),
    ) -> Result<BestOfN<'static>, BoxError> {
        let mut responses = Vec::with_capacity(prompts.len());
        for (p, prompt) in prompts.iter().enumerate() {
            let batch = vec![prompt.clone(); pool];
            let samples = policy.sample(&batch, settings, seed, (p * pool) as u64)?;
            responses.push(samples.into_iter().map(|s| s.response).collect());
            progress(p + 1);
        }
        BestOfN::new(prompts, responses, grid)
    }

    /// The prompts, one per pool.
    pub fn prompts(&self) -> &[Vec<TokenId>] {
        &self.prompts
    }

    /// The pools, `[prompt][sample]`.
    pub fn responses(&self) -> &[Vec<Vec<TokenId>>] {
        &self.responses
    }

    /// The prompts and the pools, owned.
    pub fn into_parts(self) -> (Vec<Vec<TokenId>>, Vec<Vec<Vec<TokenId>>>) {
        (self.prompts.into_owned(), self.responses.into_owned())
    }

    /// The grid of n.
    pub fn grid(&self) -> Vec<u64> {
        self.estimator.ns()
    }

    /// `rm`'s score of every pooled sample, `[prompt][sample]`, one call per prompt.
    ///
    /// # Errors
    /// The reward model's own, or a wrong number of scores, or a score that is not finite.
    pub fn scores(&self, rm: &dyn RewardModel) -> Result<Vec<Vec<f64>>, BoxError> {
        self.prompts
            .iter()
            .zip(self.responses.iter())
            .enumerate()
            .map(|(p, (prompt, pool))| {
                let scores = rm.score(&vec![prompt.clone(); pool.len()], pool)?;
                if scores.len() != pool.len() {
                    return Err(format!(
                        "{} gave {} scores for the {} samples of pool {p}",
                        rm.name(),
                        scores.len(),
                        pool.len()
                    )
                    .into());
                }
                if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
                    return Err(format!("{} scored sample {i} of pool {p} {}", rm.name(), scores[i]).into());
                }
                Ok(scores)
            })
            .collect()
    }
}

impl Optimiser for BestOfN<'_> {
    type Run = BonCurves;

    /// Scores the pools with the proxy, the gold and the rubric (if any, as the estimator's extra
    /// column) and estimates every n of the grid.
    fn optimise(
        &mut self,
        proxy: Option<&dyn RewardModel>,
        judges: Judges<'_>,
    ) -> Result<BonCurves, BoxError> {
        let proxy = proxy.ok_or("best-of-n needs a proxy reward model to pick the best sample by")?;
        let proxy = self.scores(proxy)?;
        let gold = self.scores(judges.gold)?;
        let rubric = judges.rubric.map(|r| self.scores(r)).transpose()?;
        let pools: Vec<PromptPool<'_>> = proxy
            .iter()
            .zip(&gold)
            .enumerate()
            .map(|(i, (p, g))| {
                let pool = PromptPool::new(p, g);
                rubric.as_ref().map_or(pool, |r| pool.with_extra(&r[i]))
            })
            .collect();
        let mut curves = self.estimator.estimate(&pools)?;
        if rubric.is_some() {
            curves.fidelity = Some(bon_fidelity(&pools, &curves.ns, FIDELITY_DRAWS, FIDELITY_SEED)?);
        }
        Ok(curves)
    }
}

impl OptimisedRun for BonCurves {
    /// KL of each point is the analytic `kl_bon(n)`, so its standard error is 0; the rubric is
    /// the estimator's extra column (NaN without one).
    fn curve(&self) -> Curve {
        let points = (0..self.ns.len())
            .map(|k| {
                let rubric = self.extra.as_ref().map(|e| e[k]);
                CurvePoint {
                    n: Some(self.ns[k]),
                    step: None,
                    kl: self.kl[k],
                    kl_se: 0.0,
                    proxy: self.proxy[k].mean,
                    proxy_se: self.proxy[k].se,
                    gold: self.gold[k].mean,
                    gold_se: self.gold[k].se,
                    rubric: rubric.map_or(f64::NAN, |r| r.mean),
                    rubric_se: rubric.map_or(f64::NAN, |r| r.se),
                    fidelity: self.fidelity.as_ref().map_or(f64::NAN, |f| f[k]),
                }
            })
            .collect();
        Curve { method: Method::Bon, points }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goodhart_core::{FnReward, Sample, SplitMix64};

    /// A policy over one-token responses 0..10, uniform; row `i` uses the stream `first + i`.
    struct Uniform;
    impl Policy for Uniform {
        fn sample(
            &self,
            prompts: &[Vec<TokenId>],
            _: &SamplingSettings,
            seed: u64,
            first: u64,
        ) -> Result<Vec<Sample>, BoxError> {
            Ok(prompts
                .iter()
                .enumerate()
                .map(|(i, p)| Sample {
                    prompt: p.clone(),
                    response: vec![SplitMix64::new(seed ^ (first + i as u64)).next_below(10) as u32],
                    logprobs: vec![-(10f32).ln()],
                })
                .collect())
        }
        fn logprobs(&self, _: &[Vec<TokenId>], r: &[Vec<TokenId>]) -> Result<Vec<Vec<f32>>, BoxError> {
            Ok(r.iter().map(|x| vec![-(10f32).ln(); x.len()]).collect())
        }
    }

    fn token_reward(f: fn(u32) -> f64) -> FnReward<impl Fn(&[Vec<TokenId>], &[Vec<TokenId>]) -> Vec<f64>> {
        FnReward::new("rm", move |_: &[Vec<TokenId>], r: &[Vec<TokenId>]| r.iter().map(|x| f(x[0])).collect())
    }

    #[test]
    fn overoptimises_a_proxy_that_disagrees_at_the_top() {
        // proxy: higher token is better; gold agrees up to 6, then disagrees (extremal Goodhart).
        let proxy = token_reward(|t| t as f64);
        let gold = token_reward(|t| if t <= 6 { t as f64 } else { 12.0 - t as f64 });
        let rubric = token_reward(|t| -(t as f64));
        let settings = SamplingSettings::default();
        let mut bon =
            BestOfN::sample(&Uniform, vec![vec![1]; 50], 200, &settings, 3, &[1, 2, 4, 16, 200], |_| {})
                .unwrap();
        let run = bon.optimise(Some(&proxy), Judges { gold: &gold, rubric: Some(&rubric) }).unwrap();
        let curve = run.curve();
        let gold: Vec<f64> = curve.points.iter().map(|p| p.gold).collect();
        let proxy: Vec<f64> = curve.points.iter().map(|p| p.proxy).collect();
        let rubric: Vec<f64> = curve.points.iter().map(|p| p.rubric).collect();
        assert!(proxy.windows(2).all(|w| w[1] >= w[0]), "{proxy:?}");
        assert!(rubric.windows(2).all(|w| w[1] <= w[0]), "the rubric is minus the proxy: {rubric:?}");
        assert!(gold[1] > gold[0] && gold[4] < gold[2], "gold rises then falls: {gold:?}");
        assert_eq!(curve.method, Method::Bon);
        assert!((curve.points[4].kl - goodhart_kl::kl_bon(200).unwrap()).abs() < 1e-12);
    }

    #[test]
    fn needs_a_proxy_and_pools_as_large_as_the_grid() {
        let gold = token_reward(|t| t as f64);
        let mut bon = BestOfN::new(vec![vec![1]], vec![vec![vec![2]; 4]], &[1, 4]).unwrap();
        assert!(bon.optimise(None, Judges::gold(&gold)).is_err());
        assert!(BestOfN::new(vec![vec![1]], vec![vec![vec![2]; 3]], &[1, 4]).is_err());
        assert!(BestOfN::new(vec![vec![1]; 2], vec![vec![vec![2]; 4]], &[1, 4]).is_err());
        let nan = token_reward(|_| f64::NAN);
        assert!(bon.optimise(Some(&nan), Judges::gold(&gold)).unwrap_err().to_string().contains("pool 0"));
    }
}
