//! Figure 1: best-of-n (1a) and PPO (1b) against proxies of every size, gold measured, laws fitted.

use goodhart_bon::{BestOfN, BonCurves};
use goodhart_core::{quantile_sorted, Estimate, Judges, Method, Optimiser, Record, RewardModel};
pub use goodhart_findings::records::{
    BonResult, Fig1, PolicyReport, Regressional, RlResult, TrajectoryCurve,
};
use goodhart_kl::kl_bon_from_pool;
use goodhart_laws::{bootstrap, bootstrap_ci, fit, FitOptions, Form};

use crate::pipeline::{Pipeline, PoolScores, Pools, RmReport};
use crate::ReproError;
use goodhart_findings::stats::{gap_growth, order_trusted_range, pooled_sd, split_half_fall, Verdict};

mod rl;

pub use rl::{
    analyse_rl, eval_table, evals_over_runs, evals_table, fidelity_over_runs, gold_table, Trajectories,
};

/// The mean over the prompts `idx` of a `[prompt, point]` table with `cols` points per prompt.
fn mean_curve(table: &[f64], cols: usize, idx: &[usize]) -> Vec<f64> {
    (0..cols).map(|j| idx.iter().map(|&i| table[i * cols + j]).sum::<f64>() / idx.len() as f64).collect()
}

/// The slope of gold on proxy within prompts (each prompt's samples centred on their own means,
/// as best-of-n selects within a prompt), over the prompts `idx`.
fn regression_slope(proxy: &[Vec<f64>], gold: &[Vec<f64>], idx: &[usize]) -> f64 {
    let (mut cov, mut var) = (0.0, 0.0);
    for &i in idx {
        let n = proxy[i].len() as f64;
        let mp = proxy[i].iter().sum::<f64>() / n;
        let mg = gold[i].iter().sum::<f64>() / n;
        for (p, g) in proxy[i].iter().zip(&gold[i]) {
            cov += (p - mp) * (g - mg);
            var += (p - mp) * (p - mp);
        }
    }
    cov / var
}

/// The largest n whose point enters the initial slopes of [`regressional`]'s alpha ratio.
pub const INITIAL_SLOPE_MAX_N: u64 = 16;

/// alpha_bon(gold) / alpha_bon(proxy) from the curves' initial slopes: each curve's rise from
/// n = 1 regressed on d through the origin over the points with n <= [`INITIAL_SLOPE_MAX_N`]
/// (where R(d) = d (alpha - beta d) is alpha d to first order), so beta, which trades off against
/// alpha in a joint fit exactly where it is large, does not enter.
fn initial_slope_ratio(d: &[f64], ns: &[u64], gold: &[f64], proxy: &[f64]) -> f64 {
    let (mut g, mut p) = (0.0, 0.0);
    for k in (0..d.len()).filter(|&k| ns[k] > 1 && ns[k] <= INITIAL_SLOPE_MAX_N) {
        g += (gold[k] - gold[0]) * d[k];
        p += (proxy[k] - proxy[0]) * d[k];
    }
    g / p
}

/// [`Regressional`] from the pools' scores and the best-of-n curves over them.
pub fn regressional(
    proxy: &[Vec<f64>],
    gold: &[Vec<f64>],
    curves: &BonCurves,
    resamples: usize,
    seed: u64,
) -> Regressional {
    let d: Vec<f64> = curves.kl.iter().map(|k| k.sqrt()).collect();
    let cols = curves.ns.len();
    let ratio = |idx: &[usize]| -> f64 {
        let g = mean_curve(&curves.per_prompt_gold, cols, idx);
        let p = mean_curve(&curves.per_prompt_proxy, cols, idx);
        initial_slope_ratio(&d, &curves.ns, &g, &p)
    };
    let all: Vec<usize> = (0..proxy.len()).collect();
    let ci = |xs: Vec<f64>| {
        let xs: Vec<f64> = xs.into_iter().filter(|x| x.is_finite()).collect();
        bootstrap_ci(&xs, 0.9).map_or((f64::NAN, f64::NAN), |i| (i.lo, i.hi))
    };
    let seed = seed ^ 0x0F8;
    Regressional {
        slope: regression_slope(proxy, gold, &all),
        slope_ci: ci(bootstrap(proxy.len(), resamples, seed, |idx| regression_slope(proxy, gold, idx))),
        alpha_ratio: ratio(&all),
        alpha_ratio_ci: ci(bootstrap(proxy.len(), resamples, seed, ratio)),
    }
}

/// Fills in what figure 1's results know beyond the records the fits came from: the 90%
/// prompt-bootstrap intervals of each best-of-n gold fit, and every proxy's validation loss and
/// accuracy. A fit is matched to the one result with its method, RM size and data size; one that
/// matches none or several is left as it is.
pub fn fill_fits<'a>(
    fits: &mut [goodhart_data::FitRow],
    bon: impl IntoIterator<Item = &'a BonResult>,
    rl: impl IntoIterator<Item = &'a RlResult>,
) {
    let bon: Vec<&BonResult> = bon.into_iter().collect();
    let rl: Vec<&RlResult> = rl.into_iter().collect();
    let same =
        |f: &goodhart_data::FitRow, p: &RmReport| f.rm_size == p.size && f.data_size == p.train_pairs as u64;
    for f in fits.iter_mut() {
        let proxy = match f.method {
            Method::Bon => {
                let found: Vec<&&BonResult> = bon.iter().filter(|r| same(f, &r.proxy)).collect();
                let [r] = found.as_slice() else { continue };
                if f.score == "gold" {
                    (f.alpha_lo, f.alpha_hi, f.beta_lo, f.beta_hi) =
                        (r.alpha_ci.0, r.alpha_ci.1, r.beta_ci.0, r.beta_ci.1);
                }
                &r.proxy
            }
            Method::Rl => {
                let found: Vec<&&RlResult> = rl.iter().filter(|r| same(f, &r.proxy)).collect();
                let [r] = found.as_slice() else { continue };
                &r.proxy
            }
            Method::Daa => continue,
        };
        (f.rm_val_loss, f.rm_val_accuracy) = (proxy.val.loss, proxy.val.accuracy);
    }
}

fn fit_bon(d: &[f64], y: &[f64]) -> Result<goodhart_laws::FittedLaw, ReproError> {
    fit(Form::Bon, d, y, &FitOptions::default()).map_err(|e| ReproError::Fit(e.to_string()))
}

/// Runs every stage figure 1 needs (cached ones are reused) and computes its curves and fits.
pub fn fig1(p: &Pipeline) -> Result<Fig1, ReproError> {
    let crate::pipeline::Base { w, policy, gold, data, pools, gold_scores, rubric_scores } = p.base()?;
    let policy_report = policy_report(&w, &pools, &gold_scores)?;
    let mut bon = pools.best_of_n(&p.bon_grid())?;
    let mut results = Vec::new();
    let mut records = Vec::new();
    let mut proxies = Vec::new();
    for size in &p.config.proxies.sizes {
        let proxy = p.proxy(&w, size, &data)?;
        let scores = p.bon_scores(&pools, &proxy)?;
        let (result, rows) = bon_result(
            p,
            &mut bon,
            &pools,
            proxy.as_proxy(),
            &scores,
            &gold_scores,
            Some(&rubric_scores),
            crate::FIG1,
        )?;
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
        let outputs = p.rl_trajectories(&w, &policy, proxy.as_proxy(), &gold, &p.config.rl)?;
        records.extend(outputs.iter().flat_map(|o| o.records.iter().cloned()));
        runs.push((proxy.eval.clone(), outputs));
    }
    let (rl, rl_alpha_shared) = analyse_rl(&runs, p.config.bon.bootstrap, p.config.bon.seed)?;
    let mut agree = 0.0;
    for c in &data.val {
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
    let gold_rubric_agreement_on_policy_pairs = agree / data.val.len().max(1) as f64;
    let gold_rubric_agreement_held_out = Some(held_out_agreement(&gold_scores, &rubric_scores));
    Ok(Fig1 {
        mechanisms: p.config.mechanisms(),
        policy: policy_report,
        gold: gold.eval,
        gold_rubric_agreement_on_policy_pairs,
        gold_rubric_agreement_held_out,
        results,
        rl,
        rl_alpha_shared,
        records,
    })
}

/// The fall a fitted law predicts from its peak to `measured_to` (0 without a peak inside).
pub(super) fn predicted_fall(law: &goodhart_laws::FittedLaw, measured_to: f64) -> f64 {
    match law.peak() {
        Some(p) if p.d < measured_to => p.r - law.form.eval(&law.params, measured_to),
        _ => 0.0,
    }
}

/// Best-of-n curves of one proxy over the shared pools, its fits, and its rows.
/// What a best-of-n result names its proxy by: its pool scores are given, so no model is needed
/// (an ensemble objective's combined scores have none).
#[derive(Clone, Copy)]
pub struct ProxyName<'a> {
    /// The name the proxy's scores go by in messages.
    pub name: &'a str,
    pub size: &'a str,
    pub report: &'a RmReport,
}

impl<'a> From<crate::pipeline::ProxyRef<'a>> for ProxyName<'a> {
    fn from(p: crate::pipeline::ProxyRef<'a>) -> Self {
        ProxyName { name: p.rm.name(), size: p.size, report: p.report }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn bon_result<'a>(
    p: &Pipeline,
    bon: &mut BestOfN,
    pools: &Pools,
    proxy: impl Into<ProxyName<'a>>,
    proxy_scores: &[Vec<f64>],
    gold_scores: &[Vec<f64>],
    rubric_scores: Option<&[Vec<f64>]>,
    experiment: &str,
) -> Result<(BonResult, Vec<Record>), ReproError> {
    let proxy: ProxyName<'a> = proxy.into();
    let proxy_rm = PoolScores::new(proxy.name, pools, proxy_scores);
    let gold_rm = PoolScores::new("gold", pools, gold_scores);
    let rubric_rm = rubric_scores.map(|r| PoolScores::new("rubric", pools, r));
    let judges = Judges { gold: &gold_rm, rubric: rubric_rm.as_ref().map(|r| r as &dyn RewardModel) };
    let curves = bon
        .optimise(Some(&proxy_rm), judges)
        .map_err(|e| ReproError::from_trait(format!("best-of-n against {}", proxy.name), e))?;
    let mut result = analyse(&curves, proxy.report.clone(), p.config.bon.bootstrap, p.config.bon.seed)?;
    result.regressional =
        Some(regressional(proxy_scores, gold_scores, &curves, p.config.bon.bootstrap, p.config.bon.seed));
    result.proxy_gold_agreement_held_out = Some(held_out_agreement(proxy_scores, gold_scores));
    result.tails = goodhart_findings::tails::Tails::of(proxy_scores, gold_scores);
    // the proxy pulling away from the gold, each in units of its spread on the pools
    let cols = curves.ns.len();
    let (proxy_sd, gold_sd) = (pooled_sd(proxy_scores), pooled_sd(gold_scores));
    if proxy_sd > 0.0 && gold_sd > 0.0 {
        result.gap_growth =
            gap_growth(&curves.per_prompt_proxy, &curves.per_prompt_gold, cols, proxy_sd, gold_sd);
    }
    let d: Vec<f64> = curves.kl.iter().map(|k| k.sqrt()).collect();
    result.trusted = order_trusted_range(&d, &result.gold, &result.rubric);
    if let Some(fidelity) = &curves.fidelity {
        result.gold_rubric_concordance_peak = Some(fidelity[result.fall.peak]);
        result.gold_rubric_concordance_end = fidelity.last().copied();
        result.fidelity = fidelity.clone();
    }
    // the KL on the pools: exact with ties (the pool as the base), and Beirami et al.'s estimate
    let mean_over_prompts = |kl: fn(&[f64], u64) -> Result<f64, goodhart_kl::KlError>| {
        curves
            .ns
            .iter()
            .map(|&n| {
                let kls: Vec<f64> = proxy_scores.iter().map(|s| kl(s, n)).collect::<Result<_, _>>()?;
                Ok(kls.iter().sum::<f64>() / kls.len() as f64)
            })
            .collect::<Result<Vec<f64>, goodhart_kl::KlError>>()
            .map_err(|e| ReproError::Artifact(e.to_string()))
    };
    result.kl_tie_aware = mean_over_prompts(kl_bon_from_pool)?;
    result.kl_beirami = mean_over_prompts(goodhart_kl::kl_bon_beirami_from_pool)?;
    let mut records = Vec::with_capacity(curves.ns.len());
    for (k, &n) in curves.ns.iter().enumerate() {
        let mut r = Record::new(experiment, Method::Bon).with_n(n).with_kl(curves.kl[k]);
        r.rm_size = proxy.size.to_string();
        r.rm_params = proxy.report.params;
        r.data_size = proxy.report.train_pairs as u64;
        r.policy_size = p.config.policy.size.clone();
        r.seed = p.config.bon.seed;
        (r.gold, r.gold_se) = (curves.gold[k].mean, curves.gold[k].se);
        (r.proxy, r.proxy_se) = (curves.proxy[k].mean, curves.proxy[k].se);
        if let Some(rubric) = &curves.extra {
            (r.rubric, r.rubric_se) = (rubric[k].mean, rubric[k].se);
        }
        r.fidelity = curves.fidelity.as_ref().map_or(f64::NAN, |f| f[k]);
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
    let mut bootstrap_fits = Vec::with_capacity(resamples);
    bootstrap(prompts, resamples, seed, |idx| {
        let mean = mean_curve(&curves.per_prompt_gold, cols, idx);
        bootstrap_fits.push(fit_bon(&d, &mean).ok().map(|f| (f.alpha(), f.beta())));
        0.0
    });
    let ci = |xs: Vec<f64>| bootstrap_ci(&xs, 0.9).map_or((f64::NAN, f64::NAN), |i| (i.lo, i.hi));
    let alpha_ci = ci(bootstrap_fits.iter().flatten().map(|p| p.0).collect());
    let beta_ci = ci(bootstrap_fits.iter().flatten().map(|p| p.1).collect());
    if prompts < 2 {
        return Err(ReproError::Config(format!(
            "best-of-n over {prompts} prompt: a fall is tested on half the prompts, so use bon.prompts >= 2"
        )));
    }
    let fall = split_half_fall(&curves.per_prompt_gold, cols);
    let peak = law.peak();
    let measured_to = d.iter().copied().fold(0.0, f64::max);
    Ok(BonResult {
        proxy,
        ns: curves.ns.clone(),
        kl: curves.kl.clone(),
        kl_tie_aware: Vec::new(),
        kl_beirami: Vec::new(),
        gold: curves.gold.clone(),
        proxy_score: curves.proxy.clone(),
        rubric: curves.extra.clone().unwrap_or_default(),
        fidelity: Vec::new(),
        trusted: None,
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
        bootstrap_fits,
        verdict: Verdict::of(&fall, peak.map(|p| p.d), predicted_fall(&law, measured_to), measured_to),
        fall,
        gap_growth: gap_growth(&curves.per_prompt_proxy, &curves.per_prompt_gold, cols, 1.0, 1.0),
        gold_rubric_concordance_peak: None,
        gold_rubric_concordance_end: None,
        regressional: None,
        proxy_gold_agreement_held_out: None,
        tails: None,
    })
}

/// How often `judge` orders pairs of samples to the same prompt as `reference` does: each pool's
/// samples taken in pairs (0, 1), (2, 3), ... (independent draws of the policy), pairs the
/// reference ties left out, a tie of the judge counting half. So a gold and a proxy are scored on
/// the same pairs, of the distribution the proxies learned from, on prompts neither trained on.
pub fn held_out_agreement(judge: &[Vec<f64>], reference: &[Vec<f64>]) -> f64 {
    let (mut agree, mut pairs) = (0.0, 0usize);
    for (j, r) in judge.iter().zip(reference) {
        for k in (0..j.len().min(r.len()) / 2).map(|k| 2 * k) {
            if let Some(x) = goodhart_core::pair_agreement((j[k], j[k + 1]), (r[k], r[k + 1])) {
                agree += x;
                pairs += 1;
            }
        }
    }
    agree / pairs as f64
}

#[cfg(test)]
mod tests {
    use goodhart_bon::{log_grid, BonEstimator, PromptPool};
    use goodhart_core::SplitMix64;

    use super::*;

    /// Pools where the gold is `scale` times the proxy exactly, or the proxy is the gold plus
    /// independent noise.
    fn pools(noise: f64, scale: f64) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let mut rng = SplitMix64::new(3);
        let mut normal = || {
            let (u, v) = (rng.next_f64().max(1e-12), rng.next_f64());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let (mut proxy, mut gold) = (Vec::new(), Vec::new());
        for _ in 0..64 {
            let g: Vec<f64> = (0..256).map(|_| normal()).collect();
            let p: Vec<f64> = g.iter().map(|g| g / scale + noise * normal()).collect();
            gold.push(g);
            proxy.push(p);
        }
        (proxy, gold)
    }

    fn measure(proxy: &[Vec<f64>], gold: &[Vec<f64>]) -> Regressional {
        let pools: Vec<PromptPool> = proxy.iter().zip(gold).map(|(p, g)| PromptPool::new(p, g)).collect();
        let curves = BonEstimator::new(&log_grid(256, 8)).unwrap().estimate(&pools).unwrap();
        regressional(proxy, gold, &curves, 200, 1)
    }

    #[test]
    fn an_exactly_scaled_proxy_has_the_scale_as_slope_and_alpha_ratio() {
        let (proxy, gold) = pools(0.0, 0.5);
        let r = measure(&proxy, &gold);
        assert!((r.slope - 0.5).abs() < 1e-9, "{r:?}");
        assert!((r.alpha_ratio - 0.5).abs() < 1e-6, "{r:?}");
        assert!(r.slope_ci.0 <= r.slope && r.slope <= r.slope_ci.1);
    }

    #[test]
    fn held_out_agreement_counts_pairs_within_prompts() {
        let reference = vec![vec![0.0, 1.0, 2.0, 3.0], vec![5.0, 4.0, 1.0, 1.0]];
        assert_eq!(held_out_agreement(&reference, &reference), 1.0);
        // counter-examples: the reverse order, and a judge that ties everything
        let reverse: Vec<Vec<f64>> = reference.iter().map(|p| p.iter().map(|x| -x).collect()).collect();
        assert_eq!(held_out_agreement(&reverse, &reference), 0.0);
        assert_eq!(held_out_agreement(&[vec![1.0; 4], vec![1.0; 4]], &reference), 0.5);
        // pairs across prompts do not count: a shift between prompts changes nothing
        let shifted = vec![vec![100.0, 101.0, 102.0, 103.0], vec![-5.0, -6.0, 0.0, 0.0]];
        assert_eq!(held_out_agreement(&shifted, &reference), 1.0);
    }

    #[test]
    fn the_slope_is_taken_within_prompts() {
        // counter-example to a pooled slope: prompts whose proxy and gold means move together
        // while, within each prompt, the gold does not follow the proxy at all
        let mut rng = SplitMix64::new(8);
        let (mut proxy, mut gold) = (Vec::new(), Vec::new());
        for k in 0..32 {
            let shift = k as f64;
            proxy.push((0..64).map(|_| shift + rng.next_gaussian()).collect::<Vec<f64>>());
            gold.push((0..64).map(|_| shift + rng.next_gaussian()).collect::<Vec<f64>>());
        }
        let all: Vec<usize> = (0..32).collect();
        assert!(
            regression_slope(&proxy, &gold, &all).abs() < 0.1,
            "{}",
            regression_slope(&proxy, &gold, &all)
        );
    }

    #[test]
    fn noise_on_the_proxy_shrinks_the_slope_by_the_signal_share() {
        // proxy = gold + noise with Var(noise) = 1: slope = Var(gold) / Var(proxy) = 1/2
        let (proxy, gold) = pools(1.0, 1.0);
        let r = measure(&proxy, &gold);
        assert!((r.slope - 0.5).abs() < 0.03, "{r:?}");
        assert!(r.slope_ci.0 < 0.5 && 0.5 < r.slope_ci.1, "{r:?}");
        // regressional Goodhart only: the gold curve is the proxy curve times the slope, so the
        // initial slopes' ratio agrees with it
        assert!((r.alpha_ratio - 0.5).abs() < 0.1, "{r:?}");
        assert!(r.alpha_ratio_ci.0 < r.slope && r.slope < r.alpha_ratio_ci.1, "{r:?}");
        // and a noiseless proxy is a counter-example: its slope is 1
        let (proxy, gold) = pools(0.0, 1.0);
        assert!((measure(&proxy, &gold).slope - 1.0).abs() < 1e-9);
    }
}
