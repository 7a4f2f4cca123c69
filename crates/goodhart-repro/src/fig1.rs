//! Figure 1: best-of-n (1a) and PPO (1b) against proxies of every size, gold measured, laws fitted.

use goodhart_bon::{log_grid, BonCurves, BonEstimator, PromptPool};
use goodhart_core::{quantile_sorted, Estimate, Method, Record};
use goodhart_kl::kl_bon_from_pool;
use goodhart_laws::{bootstrap, bootstrap_ci, fit, fit_shared_alpha, FitOptions, Form};
use goodhart_ppo::PpoOutput;
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

/// One proxy size's PPO result (figure 1b).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RlResult {
    pub proxy: RmReport,
    /// PPO steps of the gold evaluations (log-spaced, from 0).
    pub steps: Vec<u64>,
    /// KL(pi || pi_init) of each evaluation (k3 per sequence, mean over held-out prompts).
    pub kl: Vec<Estimate>,
    pub gold: Vec<Estimate>,
    pub proxy_score: Vec<Estimate>,
    /// `R_RL(d) = d (alpha - beta ln d)` fitted to the gold curve with alpha free ...
    pub alpha_rl: f64,
    pub beta_rl: f64,
    pub r2: f64,
    /// ... and with alpha shared by every proxy size (`Fig1::rl_alpha_shared`), as the paper does.
    pub beta_rl_shared: f64,
    pub r2_shared: f64,
    /// Peak of the free fit (`None` when `beta <= 0`).
    pub peak_d: Option<f64>,
    pub peak_r: Option<f64>,
    /// The KL of the last evaluation.
    pub kl_reached: f64,
    /// Max minus last gold exceeds twice its standard error (the two evaluations' errors combined
    /// as if independent, which overstates it: they share prompts and sampling streams).
    pub falls_after_peak: bool,
    pub fall: Estimate,
    /// The proxy score of the last evaluation exceeds that of the first by two standard errors.
    pub proxy_rises: bool,
    /// Every PPO iteration's log (clip fraction, entropy, rollout KL, ...).
    pub logs: Vec<goodhart_ppo::PpoStepLog>,
}

/// Everything figure 1 shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fig1 {
    pub policy: PolicyReport,
    pub gold: RmReport,
    /// The gold's agreement with the rubric on the proxies' validation comparisons (pairs of
    /// initial-policy samples, labelled by the gold): the same pairs the proxies' accuracy is
    /// measured on, so the two numbers compare like with like. Ties in rubric score count half.
    pub gold_rubric_agreement_on_policy_pairs: f64,
    pub results: Vec<BonResult>,
    pub rl: Vec<RlResult>,
    /// The alpha of `R_RL` shared by every proxy size (`None` without RL runs).
    pub rl_alpha_shared: Option<f64>,
    /// Every curve point, best-of-n and RL, as rows.
    pub records: Vec<Record>,
}

fn fit_bon(d: &[f64], y: &[f64]) -> Result<goodhart_laws::FittedLaw, ReproError> {
    fit(Form::Bon, d, y, &FitOptions::default()).map_err(|e| ReproError::Fit(e.to_string()))
}

/// Runs every stage figure 1 needs (cached ones are reused) and computes its curves and fits.
pub fn fig1(p: &Pipeline) -> Result<Fig1, ReproError> {
    let crate::pipeline::Base {
        w,
        policy_key,
        policy,
        gold,
        data_key,
        train,
        val,
        pool_key,
        pools,
        gold_scores,
    } = p.base()?;
    let policy_report = policy_report(&w, &pools, &gold_scores)?;
    let grid = log_grid(p.config.bon.pool as u64, p.config.bon.grid_points);
    let estimator = BonEstimator::new(&grid)?;
    let mut results = Vec::new();
    let mut records = Vec::new();
    let mut proxies = Vec::new();
    for size in &p.config.proxies.sizes {
        let proxy = p.proxy(&w, size, &data_key, &train, &val)?;
        let scores = p.bon_scores(&pool_key, &pools, &proxy)?;
        let (result, rows) = bon_result(p, &estimator, &proxy, &scores, &gold_scores, "fig1")?;
        records.extend(rows);
        results.push(result);
        proxies.push(proxy);
    }
    let mut runs = Vec::new();
    for size in &p.config.rl.sizes {
        let Some(proxy) = proxies.iter().find(|t| &t.size == size) else {
            return Err(ReproError::Config(format!(
                "rl.sizes has {size:?}, which is not in proxies.sizes {:?}: add it there or remove it",
                p.config.proxies.sizes
            )));
        };
        let output = p.rl(&w, &policy_key, &policy, proxy, &gold)?;
        records.extend(output.records.iter().cloned());
        runs.push((proxy.eval.clone(), output));
    }
    let (rl, rl_alpha_shared) = analyse_rl(&runs)?;
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
    Ok(Fig1 {
        policy: policy_report,
        gold: gold.eval,
        gold_rubric_agreement_on_policy_pairs,
        results,
        rl,
        rl_alpha_shared,
        records,
    })
}

/// Fits `R_RL` to each run's gold curve, alpha free and alpha shared across runs.
pub fn analyse_rl(runs: &[(RmReport, PpoOutput)]) -> Result<(Vec<RlResult>, Option<f64>), ReproError> {
    if runs.is_empty() {
        return Ok((Vec::new(), None));
    }
    let fit_err = |e: goodhart_laws::LawError| ReproError::Fit(e.to_string());
    // k3 is non-negative per sequence; its mean can still be ~0 at step 0.
    let curves: Vec<(Vec<f64>, Vec<f64>)> = runs
        .iter()
        .map(|(_, o)| {
            let d = o.evals.iter().map(|e| e.kl.mean.max(0.0).sqrt()).collect();
            let g = o.evals.iter().map(|e| e.gold.mean).collect();
            (d, g)
        })
        .collect();
    let views: Vec<(&[f64], &[f64])> = curves.iter().map(|(d, g)| (d.as_slice(), g.as_slice())).collect();
    let (alpha, shared) = fit_shared_alpha(Form::Rl, &views).map_err(fit_err)?;
    let mut out = Vec::with_capacity(runs.len());
    for (((report, o), (d, g)), shared) in runs.iter().zip(&curves).zip(shared) {
        let law = fit(Form::Rl, d, g, &FitOptions::default()).map_err(fit_err)?;
        let evals = &o.evals;
        let argmax = (0..evals.len()).max_by(|&a, &b| g[a].total_cmp(&g[b])).expect("evaluations");
        let (top, last) = (&evals[argmax].gold, &evals[evals.len() - 1].gold);
        let fall = Estimate { mean: top.mean - last.mean, se: top.se.hypot(last.se), n: last.n };
        let (first_p, last_p) = (&evals[0].proxy, &evals[evals.len() - 1].proxy);
        let peak = law.peak();
        out.push(RlResult {
            proxy: report.clone(),
            steps: evals.iter().map(|e| e.step as u64).collect(),
            kl: evals.iter().map(|e| e.kl).collect(),
            gold: evals.iter().map(|e| e.gold).collect(),
            proxy_score: evals.iter().map(|e| e.proxy).collect(),
            alpha_rl: law.alpha(),
            beta_rl: law.beta(),
            r2: law.r2,
            beta_rl_shared: shared.beta(),
            r2_shared: shared.r2,
            peak_d: peak.map(|p| p.d),
            peak_r: peak.map(|p| p.r),
            kl_reached: evals[evals.len() - 1].kl.mean,
            falls_after_peak: argmax + 1 < evals.len() && fall.mean > 2.0 * fall.se,
            fall,
            proxy_rises: last_p.mean - first_p.mean > 2.0 * first_p.se.hypot(last_p.se),
            logs: o.logs.clone(),
        });
    }
    Ok((out, Some(alpha)))
}

/// Best-of-n curves of one proxy over the shared pools, its fits, and its rows.
pub fn bon_result(
    p: &Pipeline,
    estimator: &BonEstimator,
    proxy: &crate::pipeline::TrainedRm,
    proxy_scores: &[Vec<f64>],
    gold_scores: &[Vec<f64>],
    experiment: &str,
) -> Result<(BonResult, Vec<Record>), ReproError> {
    let views: Vec<PromptPool<'_>> =
        proxy_scores.iter().zip(gold_scores).map(|(pr, g)| PromptPool::new(pr, g)).collect();
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
    let mut records = Vec::with_capacity(curves.ns.len());
    for (k, &n) in curves.ns.iter().enumerate() {
        let mut r = Record::new(experiment, Method::Bon).with_n(n).with_kl(curves.kl[k]);
        r.rm_size = proxy.size.clone();
        r.rm_params = proxy.eval.params;
        r.data_size = proxy.eval.train_pairs as u64;
        r.policy_size = p.config.policy.size.clone();
        r.seed = p.config.bon.seed;
        (r.gold, r.gold_se) = (curves.gold[k].mean, curves.gold[k].se);
        (r.proxy, r.proxy_se) = (curves.proxy[k].mean, curves.proxy[k].se);
        records.push(r);
    }
    Ok((result, records))
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
