//! The RM data-size sweep: proxies of several sizes trained on subsets of the comparisons.

use goodhart_plot::{spread_colour, Figure, LineStyle, Panel, Series};
use serde::Serialize;

use super::*;
use crate::fig1::{analyse_rl, bon_result, BonResult, RlResult};
use crate::pipeline::{Base, Pipeline, TrainedRm};
use crate::ReproError;
use goodhart_findings::checks::sweeps::{data_checks, epochs_checks, DataPoint, LEARNT_MARGIN};

/// One (RM size, data size, epochs) cell of the data sweep.
#[derive(Debug, Clone, Serialize)]
struct DataCell {
    rm_size: String,
    pairs: usize,
    epochs: usize,
    result: BonResult,
}

/// Runs the target `kind` of this family, called `target`.
pub(super) fn run(target: &str, kind: DataSweep, p: &Pipeline) -> Result<TargetOutput, ReproError> {
    let c = &p.config.sweeps;
    let Base { w, policy, gold, data, pools, gold_scores, rubric_scores } = p.base()?;
    let mut bon = pools.best_of_n(&p.bon_grid())?;
    let base = &p.config.proxies.train;
    // fig13 compares epochs on the smallest data size; every other target sweeps data sizes at
    // one epoch.
    let mut plan: Vec<(String, usize, usize)> = Vec::new();
    if kind == DataSweep::Fig13 {
        let d =
            *c.data_sizes.first().ok_or_else(|| ReproError::Config("sweeps.data_sizes is empty".into()))?;
        let rm = c
            .data_rm_sizes
            .last()
            .ok_or_else(|| ReproError::Config("sweeps.data_rm_sizes is empty".into()))?;
        plan.push((rm.clone(), d, 1));
        plan.push((rm.clone(), (4 * d).min(data.train.len()), 1));
        plan.push((rm.clone(), d, 4));
    } else {
        // fig19 sweeps data with figure 1's largest RM; the paper trains the sweep for one epoch
        let largest = p.config.proxies.sizes.last().cloned().into_iter().collect::<Vec<_>>();
        let rms: &[String] = if kind == DataSweep::Fig19 { &largest } else { &c.data_rm_sizes };
        for rm in rms {
            for &d in &c.data_sizes {
                plan.push((rm.clone(), d.min(data.train.len()), 1));
            }
        }
    }
    let mut cells = Vec::new();
    let mut records = Vec::new();
    // fig4 (b): PPO against the first RM size's proxies, one per data size
    let rl_size = c.data_rm_sizes.first().filter(|_| kind == DataSweep::Fig4);
    let mut rl_runs = Vec::new();
    for (rm, pairs, epochs) in plan {
        let cfg = goodhart_rm::RmTrainConfig { epochs, ..base.clone() };
        let proxy: TrainedRm = p.proxy_with(&w, &rm, &data, pairs, &cfg)?;
        let scores = p.bon_scores(&pools, &proxy)?;
        let (result, rows) = bon_result(
            p,
            &mut bon,
            &pools,
            proxy.as_proxy(),
            &scores,
            &gold_scores,
            Some(&rubric_scores),
            target,
        )?;
        records.extend(rows);
        if rl_size == Some(&rm) {
            let outs = p.rl_trajectories(&w, &policy, proxy.as_proxy(), &gold, &p.config.rl)?;
            records.extend(outs.iter().flat_map(|o| o.records.iter().cloned()).map(|mut r| {
                r.experiment = target.to_string();
                r
            }));
            rl_runs.push((proxy.eval.clone(), outs));
        }
        cells.push(DataCell { rm_size: rm, pairs, epochs, result });
    }
    let (rl, _) = analyse_rl(&rl_runs, p.config.bon.bootstrap, p.config.bon.seed)?;
    let rl: Vec<(String, RlResult)> =
        rl.into_iter().map(|r| (format!("{} pairs", r.proxy.train_pairs), r)).collect();
    let mut s = String::new();
    line(&mut s, format!("# {target}: {}\n", target_what(target)));
    line(&mut s, "| RM | pairs | epochs | val loss | val acc | alpha_bon | beta_bon | R^2 | max gold | gold near n = 1000 |\n|---|---|---|---|---|---|---|---|---|---|");
    for cell in &cells {
        let r = &cell.result;
        let max = r.gold.iter().map(|e| e.mean).fold(f64::NEG_INFINITY, f64::max);
        let (n, g) = gold_near_n(r, 1000);
        line(
            &mut s,
            format!(
                "| {} | {} | {} | {:.4} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} (n = {n}) |",
                cell.rm_size,
                cell.pairs,
                cell.epochs,
                r.proxy.val.loss,
                r.proxy.val.accuracy,
                r.alpha_bon,
                r.beta_bon,
                r.r2,
                max,
                g.mean
            ),
        );
    }
    let points: Vec<DataPoint> = cells
        .iter()
        .map(|c| DataPoint {
            rm_size: c.rm_size.clone(),
            pairs: c.pairs,
            epochs: c.epochs,
            val_loss: c.result.proxy.val.loss,
            gold: gold_near_n(&c.result, 1000).1,
            trusted: c.result.trusted.map(|t| t.read_to(d_near_n(&c.result, 1000))),
        })
        .collect();
    let checks = match kind {
        DataSweep::Fig21 => {
            first_better_than_chance(&mut s, &points);
            data_checks(&points)
        }
        DataSweep::Fig13 => epochs_checks(&points[1], &points[2]),
        _ => Vec::new(),
    };
    let mut figure = data_figure(target, kind, &cells);
    if !rl.is_empty() {
        line(
            &mut s,
            format!("\n## PPO against proxy {}, by data size\n", rl_size.map_or("", |x| x.as_str())),
        );
        rl_table(&mut s, &rl);
        figure = figure.with_panel(rl_curves_panel("PPO", &rl, false));
    }
    let json = serde_json::json!({"bon": &cells, "rl": rl.iter().map(|(l, r)| serde_json::json!({"run": l, "result": r})).collect::<Vec<_>>()});
    let output = TargetOutput::new(target, s, records, Some(figure), json).with_checks(checks);
    Ok(output.with_results(cells.iter().map(|c| &c.result), rl.iter().map(|(_, r)| r)))
}

/// The smallest data size whose proxy is better than chance, per RM size (fig21's marker).
fn first_better_than_chance(s: &mut String, points: &[DataPoint]) {
    let threshold = std::f64::consts::LN_2 - LEARNT_MARGIN;
    let mut sizes: Vec<&str> = points.iter().map(|p| p.rm_size.as_str()).collect();
    sizes.dedup();
    line(
        s,
        format!(
            "\nFirst data size better than chance (val loss < ln 2 - {LEARNT_MARGIN} = {threshold:.3}):\n"
        ),
    );
    for size in sizes {
        let first = points.iter().filter(|p| p.rm_size == size).find(|p| p.val_loss < threshold);
        line(
            s,
            match first {
                Some(p) => format!("- RM {size}: {} pairs (val loss {:.4})", p.pairs, p.val_loss),
                None => format!("- RM {size}: none of the swept sizes"),
            },
        );
    }
}

fn data_figure(target: &str, kind: DataSweep, cells: &[DataCell]) -> Figure {
    let title = target_what(target);
    let rms: Vec<&str> = {
        let mut v: Vec<&str> = cells.iter().map(|c| c.rm_size.as_str()).collect();
        v.dedup();
        v
    };
    let by_rm = |f: &dyn Fn(&DataCell) -> f64, y: &str| {
        let mut panel = Panel::new("", "log10 training comparisons", y);
        for (k, rm) in rms.iter().enumerate() {
            let pts =
                cells.iter().filter(|c| c.rm_size == *rm).map(|c| ((c.pairs as f64).log10(), f(c))).collect();
            panel.series.push(Series::new(
                format!("RM {rm}"),
                spread_colour(k, rms.len()),
                LineStyle::Solid,
                pts,
            ));
        }
        panel
    };
    let fig = Figure::new(format!("{target}: {title}"));
    match kind {
        DataSweep::Fig6 => fig.with_panel(by_rm(&|c| c.result.proxy.val.loss, "validation loss")),
        DataSweep::Fig10 => fig.with_panel(by_rm(
            &|c| c.result.gold.iter().map(|e| e.mean).fold(f64::NEG_INFINITY, f64::max),
            "max gold",
        )),
        DataSweep::Fig17 => fig.with_panel(by_rm(&|c| c.result.alpha_bon, "alpha_bon")),
        DataSweep::Fig18 => fig.with_panel(by_rm(&|c| c.result.beta_bon, "beta_bon")),
        DataSweep::Fig21 => {
            fig.with_panel(by_rm(&|c| gold_near_n(&c.result, 1000).1.mean, "gold near n = 1000"))
        }
        DataSweep::Fig4 | DataSweep::Fig13 | DataSweep::Fig19 => {
            // curves: one panel per RM size, one colour per data size
            let mut fig = fig;
            for rm in &rms {
                let mine: Vec<&DataCell> = cells.iter().filter(|c| c.rm_size == *rm).collect();
                let mut panel = Panel::new(format!("RM {rm}"), X_SQRT_KL, "RM score");
                for (k, c) in mine.iter().enumerate() {
                    let d = bon_d(&c.result);
                    let colour = spread_colour(k, mine.len());
                    let label = format!("{} pairs x {} epochs", c.pairs, c.epochs);
                    panel.series.push(Series::new(
                        format!("gold, {label}"),
                        colour,
                        LineStyle::Solid,
                        xy(&d, &ys(&c.result.gold)),
                    ));
                    panel.series.push(Series::new(
                        format!("proxy, {label}"),
                        colour,
                        LineStyle::Dashed,
                        xy(&d, &ys(&c.result.proxy_score)),
                    ));
                }
                fig = fig.with_panel(panel);
            }
            fig
        }
    }
}
