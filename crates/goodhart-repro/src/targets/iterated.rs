//! Iterated RLHF (finding 9), run: k rounds of d/k each, every round's proxy trained on gold
//! labels of the last round's policy, against the paper's prediction
//! R_k(d) = d (alpha - beta ln d + beta ln k) with alpha and beta fitted on one round.

use goodhart_core::{Estimate, Method, Record};
pub use goodhart_findings::records::Gain;
use goodhart_laws::iterated_rl;
use goodhart_plot::{spread_colour, Figure, LineStyle, Panel, Series};
use serde::{Deserialize, Serialize};

use super::*;
use crate::fig1::{analyse_rl, RlResult};
use crate::pipeline::{KeyedPolicy, Pipeline, Round, RoundSpec, TrainedPolicy};
use crate::ReproError;
use goodhart_findings::checks::sweeps::{at_first_crossing, difference, iterated_checks};
use goodhart_findings::stats::{order_trusted_range, TrustedRange};

/// The gold after round `round` of a k-round run, at both readings of its distance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IteratedPoint {
    pub round: usize,
    /// The sum of the rounds' distances so far, sqrt(KL(pi_i || pi_{i-1})) (the paper's d).
    pub d_sum: f64,
    /// The measured sqrt(KL(pi_i || pi_init)).
    pub d_init: f64,
    pub gold: Estimate,
    pub proxy: Estimate,
    pub rubric: Option<Estimate>,
    pub steps: usize,
    pub reached: bool,
    pub proxy_val_loss: f64,
}

/// One k-round run and the prediction at its end.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IteratedRun {
    pub rounds: usize,
    pub points: Vec<IteratedPoint>,
    /// R_k(d) at the run's final `d_sum`.
    pub predicted: f64,
}

impl IteratedRun {
    /// The last round's point.
    pub fn end(&self) -> &IteratedPoint {
        self.points.last().expect("a run has at least one round")
    }
}

/// The target's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Iterated {
    pub rm_size: String,
    /// The distance every run aims at, d / k per round.
    pub d: f64,
    /// The RL form fitted on the one-round PPO run (figure 1's run against this proxy size).
    pub alpha: f64,
    pub beta: f64,
    pub r2: f64,
    pub runs: Vec<IteratedRun>,
    /// Figure 1's one-round PPO curve the fit came from.
    pub one_round: RlResult,
}

/// [`Gain`] of `run`.
pub fn gain_over_one_round(it: &Iterated, run: &IteratedRun) -> Gain {
    let end = run.end();
    let d = rl_d(&it.one_round);
    let gain = |x: f64| at_first_crossing(&d, &it.one_round.gold, x).map(|one| difference(end.gold, one));
    // the one-round curve is fitted alone (`analyse_rl` of one cell), so its shared-alpha fit is
    // its free fit (the betas agree to 1e-16) and these are the resamples of the beta used below
    let betas: Vec<f64> = it.one_round.bootstrap_beta_shared.iter().flatten().copied().collect();
    let beta_sd = if betas.len() >= 2 {
        let mean = betas.iter().sum::<f64>() / betas.len() as f64;
        (betas.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / (betas.len() - 1) as f64).sqrt()
    } else {
        0.0
    };
    let d_ln_k = end.d_init * (run.rounds as f64).ln();
    Gain {
        at_measured: gain(end.d_init),
        at_sum: gain(end.d_sum),
        predicted: it.beta * d_ln_k,
        predicted_se: beta_sd * d_ln_k,
    }
}

/// Where the gold is trusted along what the checks read: the one-round curve up to the k-round
/// run's measured distance (its trusted range cut there), and the k-round run's rounds from the
/// initial policy (the one-round curve's first evaluation, on the same prompts) with their gold
/// and rubric ([`order_trusted_range`]); `None` for a reading without rubric scores.
pub fn trusted(it: &Iterated, run: &IteratedRun) -> Vec<(String, Option<TrustedRange>)> {
    let one = &it.one_round;
    let read_to = run.end().d_init;
    let one_round = one.trusted.map(|t| TrustedRange { measured_to: t.measured_to.min(read_to), ..t });
    let rounds = (|| {
        let start = (rl_d(one).first().copied()?, *one.gold.first()?, *one.rubric.first()?);
        let mut points = vec![start];
        for p in &run.points {
            points.push((p.d_init, p.gold, p.rubric?));
        }
        let d: Vec<f64> = points.iter().map(|p| p.0).collect();
        let gold: Vec<Estimate> = points.iter().map(|p| p.1).collect();
        let rubric: Vec<Estimate> = points.iter().map(|p| p.2).collect();
        order_trusted_range(&d, &gold, &rubric)
    })();
    vec![
        (format!("one round against {} to d = {read_to:.2}", it.rm_size), one_round),
        (format!("{} rounds", run.rounds), rounds),
    ]
}

/// Runs the target.
pub(super) fn run(p: &Pipeline) -> Result<TargetOutput, ReproError> {
    let c = &p.config.sweeps;
    if c.iterated_rounds.is_empty() || c.iterated_rounds.contains(&0) || !c.iterated_rounds.contains(&1) {
        return Err(ReproError::Config(format!(
            "sweeps.iterated_rounds = {:?}: give round counts >= 1, including 1 (the run the others are compared with)",
            c.iterated_rounds
        )));
    }
    let w = p.world()?;
    let policy = p.policy(&w)?;
    let gold = p.gold(&w, &policy)?;
    let data = p.proxy_data(&w, &policy, &gold)?;
    let size = &c.iterated_rm_size;
    let proxy = p.proxy(&w, size, &data)?;
    let one_round = p.rl_trajectories(&w, &policy, proxy.as_proxy(), &gold, &p.config.rl)?;
    let (fits, _) =
        analyse_rl(&[(proxy.eval.clone(), one_round)], p.config.bon.bootstrap, p.config.bon.seed)?;
    let one_round = fits.into_iter().next().expect("one run in, one result out");
    let mut runs = Vec::new();
    let mut records = Vec::new();
    for &k in &c.iterated_rounds {
        let init = policy.keyed();
        let spec = RoundSpec { size, round: 0, rounds: k, d: c.iterated_d, init };
        let (mut key, mut current) = (policy.key.clone(), policy.model.clone());
        let mut points = Vec::new();
        let mut d_sum = 0.0;
        let mut steps = 0;
        for round in 1..=k {
            let start = KeyedPolicy { key: &key, model: &current };
            let (next, r): (TrainedPolicy, Round) =
                p.rlhf_round(&w, &gold, start, &RoundSpec { round, ..spec })?;
            d_sum += r.kl_round.mean.max(0.0).sqrt();
            steps += r.steps;
            let point = IteratedPoint {
                round,
                d_sum,
                d_init: r.kl_init.mean.max(0.0).sqrt(),
                gold: r.gold,
                proxy: r.proxy,
                rubric: r.rubric,
                steps,
                reached: r.reached,
                proxy_val_loss: r.proxy_val_loss,
            };
            records.push(record(size, k, &point, &r));
            points.push(point);
            (key, current) = (next.key, next.model);
        }
        let predicted = iterated_rl(one_round.alpha_rl, one_round.beta_rl, d_sum, k as u32);
        runs.push(IteratedRun { rounds: k, points, predicted });
    }
    let it = Iterated {
        rm_size: size.clone(),
        d: c.iterated_d,
        alpha: one_round.alpha_rl,
        beta: one_round.beta_rl,
        r2: one_round.r2,
        runs,
        one_round,
    };
    let largest = it.runs.iter().max_by_key(|r| r.rounds).expect("iterated_rounds is not empty");
    let checks = iterated_checks(largest.rounds, gain_over_one_round(&it, largest), &trusted(&it, largest));
    Ok(TargetOutput::new("iterated", markdown(&it), records, Some(figure(&it)), &it).with_checks(checks))
}

fn record(size: &str, k: usize, point: &IteratedPoint, r: &Round) -> Record {
    let mut rec = Record::new(format!("iterated/k{k}"), Method::Rl);
    rec.rm_size = size.to_string();
    rec.step = Some(point.steps as u64);
    rec.kl = r.kl_init.mean;
    rec.sqrt_kl = point.d_init;
    rec.gold = r.gold.mean;
    rec.gold_se = r.gold.se;
    rec.proxy = r.proxy.mean;
    rec.proxy_se = r.proxy.se;
    if let Some(rubric) = r.rubric {
        rec.rubric = rubric.mean;
        rec.rubric_se = rubric.se;
    }
    rec
}

fn markdown(it: &Iterated) -> String {
    let mut s = String::new();
    line(&mut s, format!("# iterated: {}\n", target_what("iterated")));
    line(
        &mut s,
        format!(
            "Proxy {} in every round, trained on gold labels of that round's starting policy; PPO without \
             a KL penalty, each round stopped when its rollouts' sqrt(KL) to the round's start reaches d/k, \
             d = {:.2}. Every k spends the same labels: each of its rounds' proxies learns from \
             proxies.pairs / k comparisons. The prediction R_k(d) = d(alpha - beta ln d + beta ln k) uses alpha = {:.3}, \
             beta = {:.3} fitted on figure 1's one-round run (R^2 {:.2}).\n",
            it.rm_size, it.d, it.alpha, it.beta, it.r2
        ),
    );
    line(&mut s, "| k | round | steps | d (sum of rounds) | sqrt KL to pi_init | gold (se) | proxy | proxy val loss |\n|---|---|---|---|---|---|---|---|");
    for run in &it.runs {
        for pt in &run.points {
            line(
                &mut s,
                format!(
                    "| {} | {} | {}{} | {:.2} | {:.2} | {:.3} ({:.3}) | {:.3} | {:.4} |",
                    run.rounds,
                    pt.round,
                    pt.steps,
                    if pt.reached { "" } else { " (distance not reached)" },
                    pt.d_sum,
                    pt.d_init,
                    pt.gold.mean,
                    pt.gold.se,
                    pt.proxy.mean,
                    pt.proxy_val_loss
                ),
            );
        }
    }
    line(&mut s, "\n## Against the prediction\n");
    line(&mut s, "Gains are over figure 1's one-round curve (the mean of its trajectories) read at the same distance (\"past it\": beyond its last evaluation); the check reads the measured distance.\n");
    line(&mut s, "| k | d (sum) | gold at the end (se) | predicted R_k(d) | gain at the same d (se) | measured sqrt KL | gain at the same measured distance (se) | predicted gain beta d ln k (measured d) |\n|---|---|---|---|---|---|---|---|");
    let show = |g: Option<Estimate>| g.map_or("past it".into(), |g| format!("{:+.3} ({:.3})", g.mean, g.se));
    for run in &it.runs {
        let end = run.end();
        let g = gain_over_one_round(it, run);
        line(
            &mut s,
            format!(
                "| {} | {:.2} | {:.3} ({:.3}) | {:.3} | {} | {:.2} | {} | {:+.3} |",
                run.rounds,
                end.d_sum,
                end.gold.mean,
                end.gold.se,
                run.predicted,
                show(g.at_sum),
                end.d_init,
                show(g.at_measured),
                g.predicted
            ),
        );
    }
    s
}

fn figure(it: &Iterated) -> Figure {
    let mut panel = Panel::new("gold against distance", X_SQRT_KL, "gold score");
    let r = &it.one_round;
    panel.series.push(Series::new(
        "one round, the whole PPO run (figure 1)",
        0,
        LineStyle::Thin,
        by_x(xy(&rl_d(r), &ys(&r.gold))),
    ));
    let n = it.runs.len();
    for (j, run) in it.runs.iter().enumerate() {
        let colour = spread_colour(j + 1, n + 1);
        let label = format!("k = {}", run.rounds);
        // every run starts from the initial policy: figure 1's first evaluation, same prompts
        let start = (0.0, r.gold.first().map_or(0.0, |g| g.mean));
        let mut by_sum = vec![start];
        by_sum.extend(run.points.iter().map(|p| (p.d_sum, p.gold.mean)));
        let mut by_init = vec![start];
        by_init.extend(run.points.iter().map(|p| (p.d_init, p.gold.mean)));
        panel.series.push(Series::new(
            format!("{label}, against the sum of round distances"),
            colour,
            LineStyle::Solid,
            by_sum,
        ));
        panel.series.push(Series::new(
            format!("{label}, against measured sqrt KL to pi_init"),
            colour,
            LineStyle::Markers,
            by_init,
        ));
        let d_max = run.end().d_sum.max(it.d);
        let pred: Vec<(f64, f64)> = (1..=40)
            .map(|i| d_max * i as f64 / 40.0)
            .map(|d| (d, iterated_rl(it.alpha, it.beta, d, run.rounds as u32)))
            .collect();
        panel.series.push(Series::new(format!("{label}, predicted"), colour, LineStyle::Dashed, pred));
    }
    Figure::new("iterated RLHF: k rounds of d/k each, against d(alpha - beta ln d + beta ln k)")
        .with_panel(panel)
}
