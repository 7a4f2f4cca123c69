//! Figure 1b: PPO against each proxy, read over its trajectories (the runs of one cell), the
//! laws fitted with alpha free and shared.

use goodhart_core::{Estimate, SplitMix64};
use goodhart_laws::{bootstrap, fit, fit_shared_alpha, FitOptions, Form};
use goodhart_ppo::PpoOutput;

use super::predicted_fall;
use super::{RlResult, TrajectoryCurve};
use crate::pipeline::RmReport;
use crate::ReproError;
use goodhart_findings::stats::{fall_over_runs, order_trusted_range, over_runs, Verdict};

/// One proxy's PPO trajectories: runs against the same proxy from different policy seeds, on the
/// same evaluation schedule and prompts.
pub type Trajectories = (RmReport, Vec<PpoOutput>);

/// Fits `R_RL` to each cell's gold curve (the mean over its trajectories), alpha free and alpha
/// shared across cells, with `resamples` bootstrap resamples (of the evaluation prompts and of
/// the trajectories) for the shared fit's betas. Every point's standard error, the fall and the
/// rise of the proxy count the spread between trajectories ([`over_runs`], [`fall_over_runs`]).
pub fn analyse_rl(
    runs: &[Trajectories],
    resamples: usize,
    seed: u64,
) -> Result<(Vec<RlResult>, Option<f64>), ReproError> {
    if runs.is_empty() {
        return Ok((Vec::new(), None));
    }
    let fit_err = |e: goodhart_laws::LawError| ReproError::Fit(e.to_string());
    let cells: Vec<Cell> =
        runs.iter().map(|(report, outs)| Cell::new(report, outs)).collect::<Result<_, _>>()?;
    // k3 is non-negative per sequence; its mean can still be ~0 at step 0.
    let curves: Vec<(Vec<f64>, Vec<f64>)> = cells
        .iter()
        .map(|c| {
            let d = c.kl.iter().map(|e| e.mean.max(0.0).sqrt()).collect();
            (d, c.gold.iter().map(|e| e.mean).collect())
        })
        .collect();
    let views: Vec<(&[f64], &[f64])> = curves.iter().map(|(d, g)| (d.as_slice(), g.as_slice())).collect();
    let goodhart_laws::SharedAlphaFit { alpha, laws: shared } =
        fit_shared_alpha(Form::Rl, &views).map_err(fit_err)?;
    let prompts = cells.iter().map(|c| c.prompts).min().unwrap_or(0);
    let mut boot: Vec<Vec<Option<f64>>> = vec![Vec::new(); runs.len()];
    if prompts >= 2 && cells.iter().all(|c| c.prompts == prompts) {
        // each resample draws prompts (the helper's) and, per cell, trajectories with replacement
        let mut rng = SplitMix64::new(seed ^ 0x7EA1);
        bootstrap(prompts, resamples, seed, |idx| {
            let means: Vec<Vec<f64>> = cells
                .iter()
                .map(|c| {
                    let picks: Vec<usize> =
                        (0..c.tables.len()).map(|_| rng.next_below(c.tables.len() as u64) as usize).collect();
                    (0..c.cols)
                        .map(|j| {
                            let cell_mean = |t: &Vec<f64>| {
                                idx.iter().map(|&i| t[i * c.cols + j]).sum::<f64>() / idx.len() as f64
                            };
                            picks.iter().map(|&r| cell_mean(&c.tables[r])).sum::<f64>() / picks.len() as f64
                        })
                        .collect()
                })
                .collect();
            let views: Vec<(&[f64], &[f64])> =
                curves.iter().zip(&means).map(|((d, _), g)| (d.as_slice(), g.as_slice())).collect();
            let betas = fit_shared_alpha(Form::Rl, &views)
                .ok()
                .map(|fit| fit.laws.iter().map(|l| l.beta()).collect());
            for (k, column) in boot.iter_mut().enumerate() {
                column.push(betas.as_ref().map(|b: &Vec<f64>| b[k]));
            }
            0.0
        });
    }
    let mut out = Vec::with_capacity(runs.len());
    for ((((report, outs), c), (d, g)), (shared, boot)) in
        runs.iter().zip(&cells).zip(&curves).zip(shared.into_iter().zip(boot))
    {
        let law = fit(Form::Rl, d, g, &FitOptions::default()).map_err(fit_err)?;
        let fall = fall_over_runs(&c.tables, c.cols);
        let trusted = order_trusted_range(d, &c.gold, &c.rubric);
        let (first_p, last_p) = (&c.proxy[0], &c.proxy[c.cols - 1]);
        let peak = law.peak();
        let measured_to = d.iter().copied().fold(0.0, f64::max);
        let concordance_at = |k: usize| Some(c.fidelity[k]).filter(|f| !f.is_nan());
        out.push(RlResult {
            proxy: report.clone(),
            trajectories: outs.len(),
            steps: outs[0].evals.iter().map(|e| e.step as u64).collect(),
            kl: c.kl.clone(),
            gold: c.gold.clone(),
            proxy_score: c.proxy.clone(),
            rubric: c.rubric.clone(),
            fidelity: if trusted.is_some() { c.fidelity.clone() } else { Vec::new() },
            trusted,
            alpha_rl: law.alpha(),
            beta_rl: law.beta(),
            r2: law.r2,
            beta_rl_shared: shared.beta(),
            r2_shared: shared.r2,
            peak_d: peak.map(|p| p.d),
            peak_r: peak.map(|p| p.r),
            kl_reached: c.kl[c.cols - 1].mean,
            verdict: Verdict::of(&fall, peak.map(|p| p.d), predicted_fall(&law, measured_to), measured_to),
            fall,
            proxy_rises: last_p.mean - first_p.mean
                > goodhart_findings::stats::SIGNIFICANT_SE * first_p.se.hypot(last_p.se),
            gold_rubric_concordance_peak: concordance_at(fall.peak),
            gold_rubric_concordance_end: concordance_at(c.cols - 1),
            bootstrap_beta_shared: boot,
            logs: outs[0].logs.clone(),
            trajectory_curves: outs
                .iter()
                .map(|o| TrajectoryCurve {
                    kl: o.evals.iter().map(|e| e.kl.mean).collect(),
                    gold: o.evals.iter().map(|e| e.gold).collect(),
                })
                .collect(),
        });
    }
    Ok((out, Some(alpha)))
}

/// One cell's trajectories, point by point: every column's mean over trajectories (standard
/// errors with the spread between them), and each trajectory's `[prompt, evaluation]` gold table.
struct Cell {
    cols: usize,
    prompts: usize,
    kl: Vec<Estimate>,
    gold: Vec<Estimate>,
    proxy: Vec<Estimate>,
    rubric: Vec<Estimate>,
    fidelity: Vec<f64>,
    tables: Vec<Vec<f64>>,
}

impl Cell {
    fn new(report: &RmReport, outs: &[PpoOutput]) -> Result<Cell, ReproError> {
        let first = outs.first().ok_or_else(|| {
            ReproError::Config(format!("no PPO trajectory against {}: set rl.trajectories >= 1", report.size))
        })?;
        let steps: Vec<usize> = first.evals.iter().map(|e| e.step).collect();
        if steps.is_empty() || outs.iter().any(|o| o.evals.iter().map(|e| e.step).ne(steps.iter().copied())) {
            return Err(ReproError::Artifact(format!(
                "the PPO trajectories against {} were evaluated at different steps: they must share one schedule",
                report.size
            )));
        }
        let cols = steps.len();
        let runs: Vec<&[goodhart_ppo::GoldEval]> = outs.iter().map(|o| o.evals.as_slice()).collect();
        let column = |f: fn(&goodhart_ppo::GoldEval) -> Option<Estimate>| evals_over_runs(&runs, f);
        let tables: Vec<(usize, Vec<f64>)> = outs.iter().map(gold_table).collect();
        let prompts = tables.iter().map(|t| t.0).min().unwrap_or(0);
        if prompts < 2 || tables.iter().any(|t| t.0 != prompts) {
            return Err(ReproError::Artifact(format!(
                "a PPO run against {} recorded no per-prompt gold scores: its stage predates them; \
                 delete it to have it recomputed",
                report.size
            )));
        }
        let fidelity = fidelity_over_runs(&runs);
        Ok(Cell {
            cols,
            prompts,
            kl: column(|e| Some(e.kl)),
            gold: column(|e| Some(e.gold)),
            proxy: column(|e| Some(e.proxy)),
            rubric: column(|e| e.rubric),
            fidelity,
            tables: tables.into_iter().map(|t| t.1).collect(),
        })
    }
}

/// One column of the evaluations of several runs of one cell (`runs[r]` the evaluations of run
/// r, on one schedule): at every evaluation the mean over runs of `f`, with the spread between
/// them ([`over_runs`]); an evaluation where some run lacks `f` is left out.
pub fn evals_over_runs(
    runs: &[&[goodhart_ppo::GoldEval]],
    f: impl Fn(&goodhart_ppo::GoldEval) -> Option<Estimate>,
) -> Vec<Estimate> {
    let cols = runs.iter().map(|r| r.len()).min().unwrap_or(0);
    (0..cols)
        .filter_map(|k| {
            let xs: Vec<Estimate> = runs.iter().filter_map(|r| f(&r[k])).collect();
            (!xs.is_empty() && xs.len() == runs.len()).then(|| over_runs(&xs))
        })
        .collect()
}

/// The gold's fidelity to the rubric at every evaluation, the mean over runs (NaN where a run
/// has none).
pub fn fidelity_over_runs(runs: &[&[goodhart_ppo::GoldEval]]) -> Vec<f64> {
    let cols = runs.iter().map(|r| r.len()).min().unwrap_or(0);
    (0..cols)
        .map(|k| {
            let xs: Vec<f64> = runs.iter().filter_map(|r| r[k].gold_rubric_concordance).collect();
            if !xs.is_empty() && xs.len() == runs.len() {
                xs.iter().sum::<f64>() / xs.len() as f64
            } else {
                f64::NAN
            }
        })
        .collect()
}

/// A run's gold scores as a row-major `[prompt, evaluation]` table, with its number of prompts
/// (0 when the evaluations did not record per-prompt scores).
pub fn gold_table(o: &PpoOutput) -> (usize, Vec<f64>) {
    eval_table(o, |e| &e.gold_values)
}

/// [`gold_table`] for any per-prompt column of the evaluations.
pub fn eval_table(o: &PpoOutput, column: impl Fn(&goodhart_ppo::GoldEval) -> &Vec<f64>) -> (usize, Vec<f64>) {
    evals_table(&o.evals, column)
}

/// [`eval_table`] of any optimiser's evaluations (PPO's, a direct-alignment run's).
pub fn evals_table(
    evals: &[goodhart_ppo::GoldEval],
    column: impl Fn(&goodhart_ppo::GoldEval) -> &Vec<f64>,
) -> (usize, Vec<f64>) {
    let prompts = evals.iter().map(|e| column(e).len()).min().unwrap_or(0);
    let cols = evals.len();
    let mut table = vec![0.0; prompts * cols];
    for (j, e) in evals.iter().enumerate() {
        for (i, g) in column(e).iter().take(prompts).enumerate() {
            table[i * cols + j] = *g;
        }
    }
    (prompts, table)
}
