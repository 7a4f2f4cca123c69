//! Best-of-n as an [`Optimiser`]: sample a pool per prompt once, score it with the proxy and the
//! gold, and read the whole curve off the unbiased estimator.

use goodhart_core::{
    BoxError, Curve, CurvePoint, Method, Optimiser, Policy, RewardModel, SamplingSettings, TokenId,
};

use crate::BonEstimator;

/// Best-of-n over a fixed set of prompts with pools of `pool` samples and a grid of n.
#[derive(Debug, Clone)]
pub struct BestOfN {
    pub prompts: Vec<Vec<TokenId>>,
    pub pool: usize,
    pub grid: Vec<u64>,
    pub sampling: SamplingSettings,
    pub seed: u64,
}

impl Optimiser for BestOfN {
    /// KL of each point is the analytic `kl_bon(n)`; its standard error is reported as 0.
    fn optimise(
        &mut self,
        policy: &dyn Policy,
        proxy: &dyn RewardModel,
        gold: &dyn RewardModel,
    ) -> Result<Curve, BoxError> {
        let estimator = BonEstimator::new(&self.grid)?;
        let mut proxy_scores = Vec::with_capacity(self.prompts.len());
        let mut gold_scores = Vec::with_capacity(self.prompts.len());
        for (p, prompt) in self.prompts.iter().enumerate() {
            let prompts = vec![prompt.clone(); self.pool];
            let seed = self.seed.wrapping_add(p as u64);
            let responses: Vec<Vec<TokenId>> =
                policy.sample(&prompts, &self.sampling, seed)?.into_iter().map(|s| s.response).collect();
            let widen = |xs: Vec<f32>| xs.into_iter().map(f64::from).collect::<Vec<f64>>();
            proxy_scores.push(widen(proxy.score(&prompts, &responses)?));
            gold_scores.push(widen(gold.score(&prompts, &responses)?));
        }
        let pools: Vec<crate::PromptPool<'_>> =
            proxy_scores.iter().zip(&gold_scores).map(|(p, g)| crate::PromptPool::new(p, g)).collect();
        let c = estimator.estimate(&pools)?;
        let points = (0..c.ns.len())
            .map(|k| CurvePoint {
                n: Some(c.ns[k]),
                step: None,
                kl: c.kl[k],
                kl_se: 0.0,
                proxy: c.proxy[k].mean,
                proxy_se: c.proxy[k].se,
                gold: c.gold[k].mean,
                gold_se: c.gold[k].se,
                rubric: f64::NAN,
                rubric_se: f64::NAN,
            })
            .collect();
        Ok(Curve { method: Method::Bon, points })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goodhart_core::{Sample, SplitMix64};

    /// A policy over one-token responses 0..10, uniform.
    struct Uniform;
    impl Policy for Uniform {
        fn sample(
            &self,
            prompts: &[Vec<TokenId>],
            _: &SamplingSettings,
            seed: u64,
        ) -> Result<Vec<Sample>, BoxError> {
            let mut rng = SplitMix64::new(seed);
            Ok(prompts
                .iter()
                .map(|p| Sample {
                    prompt: p.clone(),
                    response: vec![rng.next_below(10) as u32],
                    logprobs: vec![-(10f32).ln()],
                })
                .collect())
        }
        fn logprobs(&self, _: &[Vec<TokenId>], r: &[Vec<TokenId>]) -> Result<Vec<Vec<f32>>, BoxError> {
            Ok(r.iter().map(|x| vec![-(10f32).ln(); x.len()]).collect())
        }
    }

    /// Scores a response by a function of its token.
    struct Rm(fn(u32) -> f32);
    impl RewardModel for Rm {
        fn name(&self) -> &str {
            "rm"
        }
        fn num_params(&self) -> u64 {
            0
        }
        fn score(&self, _: &[Vec<TokenId>], r: &[Vec<TokenId>]) -> Result<Vec<f32>, BoxError> {
            Ok(r.iter().map(|x| (self.0)(x[0])).collect())
        }
    }

    #[test]
    fn overoptimises_a_proxy_that_disagrees_at_the_top() {
        // proxy: higher token is better; gold agrees up to 6, then disagrees (extremal Goodhart).
        let proxy = Rm(|t| t as f32);
        let gold = Rm(|t| if t <= 6 { t as f32 } else { 12.0 - t as f32 });
        let mut bon = BestOfN {
            prompts: vec![vec![1]; 50],
            pool: 200,
            grid: vec![1, 2, 4, 16, 200],
            sampling: SamplingSettings::default(),
            seed: 3,
        };
        let curve = bon.optimise(&Uniform, &proxy, &gold).unwrap();
        let gold: Vec<f64> = curve.points.iter().map(|p| p.gold).collect();
        let proxy: Vec<f64> = curve.points.iter().map(|p| p.proxy).collect();
        assert!(proxy.windows(2).all(|w| w[1] >= w[0]), "{proxy:?}");
        assert!(gold[1] > gold[0] && gold[4] < gold[2], "gold rises then falls: {gold:?}");
        assert_eq!(curve.method, Method::Bon);
        assert!((curve.points[4].kl - goodhart_kl::kl_bon(200).unwrap()).abs() < 1e-12);
    }
}
