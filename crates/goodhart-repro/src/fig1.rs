//! Figure 1a: best-of-n against proxies of every size, gold measured, laws fitted.

use goodhart_bon::{log_grid, BonCurves, BonEstimator, PromptPool};
use goodhart_core::{quantile_sorted, Estimate, Method, Record};
use goodhart_kl::kl_bon_from_pool;
use goodhart_laws::{bootstrap, bootstrap_ci, fit, FitOptions, Form};
use serde::{Deserialize, Serialize};

use crate::pipeline::{Pipeline, RmReport};
use crate::ReproError;

/// One proxy size's best-of-n result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BonResult {
    pub proxy: RmReport,
    pub ns: Vec<u64>,
    pub kl: Vec<f64>,
    /// The tie-aware best-of-n KL (`goodhart_kl::kl_bon_from_pool` on each prompt's proxy
    /// scores, averaged over prompts): below `kl` where repeated samples tie.
    pub kl_tie_aware: Vec<f64>,
    pub gold: Vec<Estimate>,
    pub proxy_score: Vec<Estimate>,
    /// `R_bon(d) = d (alpha - beta d)` fitted to the gold curve, and to the proxy curve.
    pub alpha_bon: f64,
    pub beta_bon: f64,
    pub r2: f64,
    pub proxy_alpha: f64,
    pub proxy_beta: f64,
    pub proxy_r2: f64,
    /// Peak of the fitted gold curve (`None` when `beta <= 0`), with 90% bootstrap intervals over
    /// prompts.
    pub peak_d: Option<f64>,
    pub peak_r: Option<f64>,
    pub alpha_ci: (f64, f64),
    pub beta_ci: (f64, f64),
    /// The measured gold curve falls after its maximum: max minus last value exceeds two standard
    /// errors of that (paired, per-prompt) difference.
    pub falls_after_peak: bool,
    pub fall: Estimate,
}

/// What the initial policy writes, judged by the rubric (the 'human'): the spread that gives
/// optimisation something to find.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyReport {
    pub samples: usize,
    pub rubric: Estimate,
    pub rubric_sd: f64,
    /// 5th, 25th, 50th, 75th and 95th percentiles of the rubric score.
    pub rubric_quantiles: [f64; 5],
    /// `praise_histogram[g]`: share of samples with `g` praise words (the last bin: 8 or more).
    pub praise_histogram: [f64; 9],
    /// A few samples with their rubric and gold scores: (prompt, response, rubric, gold).
    pub examples: Vec<(String, String, f64, f64)>,
}

/// Everything figure 1a shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fig1Bon {
    pub policy: PolicyReport,
    pub gold: RmReport,
    /// The gold's agreement with the rubric on the proxies' validation comparisons (pairs of
    /// initial-policy samples, labelled by the gold): the same pairs the proxies' accuracy is
    /// measured on, so the two numbers compare like with like. Ties in rubric score count half.
    pub gold_rubric_agreement_on_policy_pairs: f64,
    pub results: Vec<BonResult>,
    pub records: Vec<Record>,
}

fn fit_bon(d: &[f64], y: &[f64]) -> Result<goodhart_laws::FittedLaw, ReproError> {
    fit(Form::Bon, d, y, &FitOptions::default()).map_err(|e| ReproError::Fit(e.to_string()))
}

/// Runs every stage figure 1a needs (cached ones are reused) and computes its curves and fits.
pub fn fig1_bon(p: &Pipeline) -> Result<Fig1Bon, ReproError> {
    let w = p.world()?;
    let (policy_key, policy) = p.policy(&w)?;
    let gold = p.gold(&w, &policy_key, &policy)?;
    let (data_key, train, val, _) = p.proxy_data(&w, &policy_key, &policy, &gold)?;
    let (pool_key, pools) = p.bon_pools(&w, &policy_key, &policy)?;
    let gold_scores = p.bon_scores(&pool_key, &pools, &gold)?;
    let policy_report = policy_report(&w, &pools, &gold_scores)?;
    let grid = log_grid(p.config.bon.pool as u64, p.config.bon.grid_points);
    let estimator = BonEstimator::new(&grid)?;
    let mut results = Vec::new();
    let mut records = Vec::new();
    for size in &p.config.proxies.sizes {
        let proxy = p.proxy(&w, size, &data_key, &train, &val)?;
        let proxy_scores = p.bon_scores(&pool_key, &pools, &proxy)?;
        let views: Vec<PromptPool<'_>> =
            proxy_scores.iter().zip(&gold_scores).map(|(pr, g)| PromptPool::new(pr, g)).collect();
        let curves = estimator.estimate(&views)?;
        let mut result = analyse(&curves, proxy.eval.clone(), p.config.bon.bootstrap, p.config.bon.seed)?;
        result.kl_tie_aware = curves
            .ns
            .iter()
            .map(|&n| {
                let kls: Vec<f64> =
                    proxy_scores.iter().map(|s| kl_bon_from_pool(s, n)).collect::<Result<_, _>>()?;
                Ok(kls.iter().sum::<f64>() / kls.len() as f64)
            })
            .collect::<Result<_, goodhart_kl::KlError>>()
            .map_err(|e| ReproError::Artifact(e.to_string()))?;
        for (k, &n) in curves.ns.iter().enumerate() {
            let mut r = Record::new("fig1", Method::Bon).with_n(n).with_kl(curves.kl[k]);
            r.rm_size = size.clone();
            r.rm_params = proxy.eval.params;
            r.data_size = proxy.eval.train_pairs as u64;
            r.policy_size = p.config.policy.size.clone();
            r.seed = p.config.bon.seed;
            (r.gold, r.gold_se) = (curves.gold[k].mean, curves.gold[k].se);
            (r.proxy, r.proxy_se) = (curves.proxy[k].mean, curves.proxy[k].se);
            records.push(r);
        }
        results.push(result);
    }
    let mut agree = 0.0;
    for c in &val {
        let chosen = w.rubric(&c.prompt, &c.chosen)?;
        let rejected = w.rubric(&c.prompt, &c.rejected)?;
        agree += if chosen > rejected {
            1.0
        } else if chosen == rejected {
            0.5
        } else {
            0.0
        };
    }
    let gold_rubric_agreement_on_policy_pairs = agree / val.len().max(1) as f64;
    Ok(Fig1Bon {
        policy: policy_report,
        gold: gold.eval,
        gold_rubric_agreement_on_policy_pairs,
        results,
        records,
    })
}

fn policy_report(
    w: &crate::pipeline::WorldArtifacts,
    pools: &crate::pipeline::Pools,
    gold_scores: &[Vec<f64>],
) -> Result<PolicyReport, ReproError> {
    let mut scores = Vec::new();
    let mut praise = [0f64; 9];
    let mut examples = Vec::new();
    for (p, (prompt, pool)) in pools.prompts.iter().zip(&pools.responses).enumerate() {
        let prompt_text = w.decode(prompt)?;
        for (i, response) in pool.iter().enumerate() {
            let text = w.decode(response)?;
            let j = w.world.judge(&prompt_text, &text).map_err(|e| ReproError::Artifact(e.to_string()))?;
            scores.push(j.score);
            praise[j.praise.min(8)] += 1.0;
            if i == 0 && examples.len() < 6 {
                examples.push((prompt_text.clone(), text, j.score, gold_scores[p][i]));
            }
        }
    }
    let n = scores.len() as f64;
    praise.iter_mut().for_each(|c| *c /= n);
    let rubric = Estimate::from_values(&scores);
    let rubric_sd = rubric.se * n.sqrt();
    scores.sort_unstable_by(f64::total_cmp);
    let q = |f: f64| quantile_sorted(&scores, f);
    Ok(PolicyReport {
        samples: scores.len(),
        rubric,
        rubric_sd,
        rubric_quantiles: [q(0.05), q(0.25), q(0.5), q(0.75), q(0.95)],
        praise_histogram: praise,
        examples,
    })
}

fn analyse(
    curves: &BonCurves,
    proxy: RmReport,
    resamples: usize,
    seed: u64,
) -> Result<BonResult, ReproError> {
    let d: Vec<f64> = curves.kl.iter().map(|k| k.sqrt()).collect();
    let gold: Vec<f64> = curves.gold.iter().map(|e| e.mean).collect();
    let proxy_mean: Vec<f64> = curves.proxy.iter().map(|e| e.mean).collect();
    let law = fit_bon(&d, &gold)?;
    let proxy_law = fit_bon(&d, &proxy_mean)?;
    let cols = curves.ns.len();
    let prompts = curves.num_prompts();
    // Bootstrap over prompts: refit the mean gold curve of each resample.
    let mut params = Vec::with_capacity(resamples);
    bootstrap(prompts, resamples, seed, |idx| {
        let mean: Vec<f64> = (0..cols)
            .map(|j| {
                idx.iter().map(|&i| curves.per_prompt_gold[i * cols + j]).sum::<f64>() / idx.len() as f64
            })
            .collect();
        if let Ok(f) = fit_bon(&d, &mean) {
            params.push((f.alpha(), f.beta()));
        }
        0.0
    });
    let ci = |xs: Vec<f64>| bootstrap_ci(&xs, 0.9).unwrap_or((f64::NAN, f64::NAN));
    let alpha_ci = ci(params.iter().map(|p| p.0).collect());
    let beta_ci = ci(params.iter().map(|p| p.1).collect());
    let argmax = (0..cols).max_by(|&a, &b| gold[a].total_cmp(&gold[b])).expect("non-empty grid");
    let fall =
        Estimate::from_iterator((0..prompts).map(|i| {
            curves.per_prompt_gold[i * cols + argmax] - curves.per_prompt_gold[i * cols + cols - 1]
        }));
    let peak = law.peak();
    Ok(BonResult {
        proxy,
        ns: curves.ns.clone(),
        kl: curves.kl.clone(),
        kl_tie_aware: Vec::new(),
        gold: curves.gold.clone(),
        proxy_score: curves.proxy.clone(),
        alpha_bon: law.alpha(),
        beta_bon: law.beta(),
        r2: law.r2,
        proxy_alpha: proxy_law.alpha(),
        proxy_beta: proxy_law.beta(),
        proxy_r2: proxy_law.r2,
        peak_d: peak.map(|p| p.d),
        peak_r: peak.map(|p| p.r),
        alpha_ci,
        beta_ci,
        falls_after_peak: argmax + 1 < cols && fall.mean > 2.0 * fall.se,
        fall,
    })
}
