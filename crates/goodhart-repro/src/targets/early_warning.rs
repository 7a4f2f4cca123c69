//! Early warning of overoptimisation without the gold: signals from PPO's own logs, thresholds
//! fixed on seed 0's runs and scored on seeds 1..3 against where each run's gold peaked.
//!
//! The runs are figure 1's PPO runs (every `rl.sizes` proxy, unpenalised: they overoptimise),
//! the KL-penalty sweep's penalised runs and PPO against the gold itself (which may not: the
//! controls), on seeds 0..3
//! resampled as `--seeds` resamples them (everything), so a store where `fig1 --seeds 4` and
//! `fig9` ran has most of them.

use goodhart_plot::{spread_colour, Figure, LineStyle, Panel, Series};
use goodhart_ppo::PpoOutput;
use serde::Serialize;

use super::*;
use crate::pipeline::{Pipeline, ProxyRef};
use crate::ReproError;
use goodhart_findings::checks::daa::RiseAndFall;
use goodhart_findings::checks::early_warning::{
    choose_threshold, early_warning_check, RunTrace, Score, Signal,
};

/// Seeds 1..=HELD_OUT score the thresholds chosen on seed 0.
const HELD_OUT: u64 = 3;

#[derive(Debug, Clone, Serialize)]
struct SignalResult {
    signal: Signal,
    threshold: Option<f64>,
    seed0: Option<Score>,
    held_out: Option<Score>,
}

/// Runs the `early-warning` target.
pub(super) fn run(p: &Pipeline) -> Result<TargetOutput, ReproError> {
    let mut traces = Vec::new();
    let mut records = Vec::new();
    for seed in 0..=HELD_OUT {
        let q = Pipeline::new(p.config.with_seed(seed), p.store.root(), p.device.clone())
            .with_reporter(p.reporter.clone());
        for (label, out) in runs(&q)? {
            records.extend(out.records.iter().cloned().map(|mut r| {
                r.experiment = format!("early-warning/seed{seed}/{label}");
                r
            }));
            traces.push(trace(&label, seed, &out)?);
        }
    }
    let (seed0, held): (Vec<RunTrace>, Vec<RunTrace>) = traces.iter().cloned().partition(|t| t.seed == 0);
    let results: Vec<SignalResult> = Signal::ALL
        .iter()
        .map(|&signal| {
            let threshold = choose_threshold(&seed0, signal);
            SignalResult {
                signal,
                threshold,
                seed0: threshold.map(|t| Score::of(&seed0, signal, t)),
                held_out: threshold.map(|t| Score::of(&held, signal, t)),
            }
        })
        .collect();
    let scored: Vec<(Signal, f64, Score)> =
        results.iter().filter_map(|r| Some((r.signal, r.threshold?, r.held_out.clone()?))).collect();
    let checks = vec![early_warning_check(&scored, &held)];
    let markdown = markdown(&traces, &results, &checks);
    let figure = figure(&held, &results);
    let json = serde_json::json!({ "signals": results, "runs": traces });
    Ok(TargetOutput::new("early-warning", markdown, records, figure, json).with_checks(checks))
}

/// One seed's runs: every trajectory of PPO against every `rl.sizes` proxy, then of the
/// KL-penalty sweep's penalised cells, then of PPO against the gold itself (each trajectory a run
/// of its own to score on).
fn runs(q: &Pipeline) -> Result<Vec<(String, PpoOutput)>, ReproError> {
    let w = q.world()?;
    let policy = q.policy(&w)?;
    let gold = q.gold(&w, &policy)?;
    let data = q.proxy_data(&w, &policy, &gold)?;
    let mut out = Vec::new();
    for size in &q.config.rl.sizes {
        let proxy = q.proxy(&w, size, &data)?;
        let runs = q.rl_trajectories(&w, &policy, proxy.as_proxy(), &gold, &q.config.rl)?;
        out.extend(
            runs.into_iter().enumerate().map(|(r, run)| (format!("{size} trajectory {}", r + 1), run)),
        );
    }
    let s = &q.config.sweeps;
    let proxy = q.proxy(&w, &s.kl_rm_size, &data)?;
    for &coef in s.kl_penalties.iter().filter(|&&c| c > 0.0) {
        let mut rl = q.config.rl.clone();
        rl.ppo.kl_penalty = goodhart_ppo::KlPenalty::Fixed { coef };
        let runs = q.rl_trajectories(&w, &policy, proxy.as_proxy(), &gold, &rl)?;
        out.extend(
            runs.into_iter()
                .enumerate()
                .map(|(r, run)| (format!("{} KL penalty {coef} trajectory {}", s.kl_rm_size, r + 1), run)),
        );
    }
    // PPO against the gold itself (the gold's own control, `gold-controls`): where the gold holds
    // it does not overoptimise, so a signal that fires on it is a false alarm
    let judge = gold.judge(&w);
    let itself = ProxyRef { key: &gold.key, size: &gold.eval.size, report: &gold.eval, rm: &judge };
    let runs = q.rl_trajectories(&w, &policy, itself, &gold, &q.config.rl)?;
    out.extend(
        runs.into_iter().enumerate().map(|(r, run)| (format!("the gold itself trajectory {}", r + 1), run)),
    );
    Ok(out)
}

fn trace(label: &str, seed: u64, out: &PpoOutput) -> Result<RunTrace, ReproError> {
    let (prompts, table) = crate::fig1::gold_table(out);
    let cols = out.evals.len();
    if prompts < 2 || cols < 2 || out.logs.is_empty() {
        return Err(ReproError::Artifact(format!(
            "PPO run {label} (seed {seed}) has {cols} evaluations of {prompts} prompts and {} steps: too few to place its peak",
            out.logs.len()
        )));
    }
    let shape = RiseAndFall::of(&table, cols);
    let first = &out.logs[0].proxy;
    Ok(RunTrace {
        label: label.to_string(),
        seed,
        kl: out.logs.iter().map(|l| l.kl_k1.mean).collect(),
        entropy: out.logs.iter().map(|l| l.entropy).collect(),
        proxy: out.logs.iter().map(|l| l.proxy.mean).collect(),
        proxy_sd0: first.se * (first.n as f64).sqrt(),
        peak_step: out.evals[shape.fall.peak].step,
        overoptimises: shape.fall.falls,
        trusted: {
            let d: Vec<f64> = out.evals.iter().map(|e| e.kl.mean.max(0.0).sqrt()).collect();
            let gold: Vec<Estimate> = out.evals.iter().map(|e| e.gold).collect();
            let rubric: Option<Vec<Estimate>> = out.evals.iter().map(|e| e.rubric).collect();
            rubric.and_then(|r| goodhart_findings::stats::order_trusted_range(&d, &gold, &r))
        },
    })
}

fn score_cells(s: &Option<Score>) -> String {
    match s {
        None => "- | - | - | - | -".into(),
        Some(s) => format!(
            "{} | {} | {} | {} of {} | {}",
            s.early,
            s.late,
            s.missed,
            s.false_alarms,
            s.controls,
            s.median_lead().map_or("-".into(), |l| format!("{l:.0}"))
        ),
    }
}

fn markdown(
    traces: &[RunTrace],
    results: &[SignalResult],
    checks: &[goodhart_findings::checks::Check],
) -> String {
    let mut s = String::new();
    line(&mut s, "# early-warning: signals of overoptimisation without the gold\n");
    line(
        &mut s,
        format!(
            "Signals from PPO's own logs (trailing means over {} steps): `kl_acceleration` (second \
             difference of the rollout KL per step squared, over spans of up to that many steps, \
             defined from step 2), `entropy_collapse` (1 - H(t)/H(0)), `proxy_shift` \
             (proxy mean minus its start, in initial standard deviations). A run overoptimises \
             when its gold falls after its peak by more than 2 se on the prompts that did not pick \
             the peak; the others are the controls. Each threshold is the one with the most \
             detections at or before the peak minus false alarms on seed 0; it is then scored on \
             seeds 1..{HELD_OUT}. Lead = peak step - firing step.\n",
            goodhart_findings::checks::early_warning::WINDOW
        ),
    );
    line(&mut s, "## Runs\n");
    line(&mut s, "| seed | run | gold peak at step | overoptimises |\n|---|---|---|---|");
    for t in traces {
        line(
            &mut s,
            format!(
                "| {} | {} | {} | {} |",
                t.seed,
                t.label,
                t.peak_step,
                if t.overoptimises { "yes" } else { "no" }
            ),
        );
    }
    line(&mut s, "\n## Signals\n");
    line(
        &mut s,
        "| signal | threshold (seed 0) | seed 0: early | late | missed | false alarms | median lead | seeds 1-3: early | late | missed | false alarms | median lead |",
    );
    line(&mut s, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        line(
            &mut s,
            format!(
                "| {} | {} | {} | {} |",
                r.signal.name(),
                r.threshold.map_or("-".into(), |t| format!("{t:.3}")),
                score_cells(&r.seed0),
                score_cells(&r.held_out)
            ),
        );
    }
    line(&mut s, "\n## Checks\n");
    for c in checks {
        line(&mut s, format!("- {c}"));
    }
    s
}

/// One panel per signal: its statistic on every held-out run against steps from the gold's peak
/// (0: the peak), overoptimising runs solid, controls dashed, and the seed-0 threshold; `None`
/// when no statistic is defined on runs this short.
fn figure(held: &[RunTrace], results: &[SignalResult]) -> Option<Figure> {
    let mut fig = Figure::new("Early warning: signals against steps from the gold's peak (seeds 1-3)");
    for r in results {
        let mut panel = Panel::new(r.signal.name(), "PPO step - gold peak step", "statistic");
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (k, t) in held.iter().enumerate() {
            let stat = t.statistic(r.signal);
            let points: Vec<(f64, f64)> = stat
                .iter()
                .enumerate()
                .filter(|(_, y)| y.is_finite())
                .map(|(step, &y)| (step as f64 - t.peak_step as f64, y))
                .collect();
            for (x, _) in &points {
                lo = lo.min(*x);
                hi = hi.max(*x);
            }
            if points.is_empty() {
                continue;
            }
            let style = if t.overoptimises { LineStyle::Solid } else { LineStyle::Dashed };
            panel.series.push(Series::new(
                format!("seed {} {}", t.seed, t.label),
                spread_colour(k, held.len()),
                style,
                points,
            ));
        }
        if panel.series.is_empty() {
            // a statistic not defined within the runs' length (too few steps): nothing to draw
            continue;
        }
        if let (Some(th), true) = (r.threshold, lo < hi) {
            panel.series.push(Series::new(
                "threshold (seed 0)",
                0,
                LineStyle::Thin,
                vec![(lo, th), (hi, th)],
            ));
        }
        fig = fig.with_panel(panel);
    }
    (!fig.panels.is_empty()).then_some(fig)
}
