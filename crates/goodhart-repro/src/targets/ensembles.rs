//! Reward-model ensembles against overoptimisation (Coste et al. 2023): best-of-n and PPO against
//! one proxy and against ensembles of proxies of its size (mean, worst case, uncertainty-weighted),
//! with and without label noise, gold and rubric tracked against KL.

use goodhart_core::RewardModel;
use goodhart_plot::{spread_colour, Figure, LineStyle, Panel, Series};
use goodhart_rm::ensemble::{Ensemble, Objective};
use serde::Serialize;

use super::*;
use crate::fig1::{analyse_rl, bon_result, ProxyName};
use crate::pipeline::{Base, EnsembleMembers, MemberData, Pipeline, Pools, ProxyRef, RmReport};
use crate::ReproError;
use goodhart_findings::checks::ensembles::{ensemble_checks, warm_checks, PeakCell};

/// What one (size, label noise) ensemble's members are like.
#[derive(Debug, Clone, Serialize)]
struct MembersSummary {
    size: String,
    /// `same` (every member on all the comparisons) or `subset F` (each on its own fraction F).
    data: String,
    label_noise: f64,
    /// Each member's validation accuracy and loss on its (noisy) held-out comparisons.
    member_accuracy: Vec<f64>,
    member_loss: Vec<f64>,
    /// How often two members order a held-out comparison alike, per pair and on average.
    agreement: Vec<(usize, usize, f64)>,
    mean_agreement: f64,
}

/// One optimisation curve: a method against one objective of one (size, noise) ensemble.
#[derive(Debug, Clone, Serialize)]
struct Cell {
    method: String,
    size: String,
    label_noise: f64,
    /// `single` (member 0 alone), `mean`, `wco` or `uwo`.
    objective: String,
    /// Validation accuracy of the objective's margins on held-out comparisons.
    val_accuracy: f64,
    /// sqrt(KL) and gold, proxy (the objective), rubric means of every point.
    d: Vec<f64>,
    gold: Vec<Estimate>,
    proxy: Vec<Estimate>,
    rubric: Vec<Estimate>,
}

/// The four ways of optimising against an ensemble's members: member 0 alone, then the
/// ensemble objectives.
fn variants(lambda: f64) -> [(&'static str, Option<Objective>); 4] {
    [
        ("single", None),
        ("mean", Some(Objective::Mean)),
        ("wco", Some(Objective::WorstCase)),
        ("uwo", Some(Objective::UncertaintyWeighted { lambda })),
    ]
}

/// The experiment label of a cell's rows (the records' `experiment` column).
fn experiment(objective: &str, label_noise: f64) -> String {
    format!("ensembles/{objective}/noise{label_noise}")
}

/// Runs the `ensembles` target.
pub(super) fn run(p: &Pipeline) -> Result<TargetOutput, ReproError> {
    let e = &p.config.ensembles;
    let Base { w, policy, gold, pools, gold_scores, rubric_scores, .. } = p.base()?;
    let mut bon = pools.best_of_n(&p.bon_grid())?;
    let mut records = Vec::new();
    let mut cells = Vec::new();
    let mut summaries = Vec::new();
    for &noise in &e.label_noise {
        let comparisons = p.noisy_proxy_data(&w, &policy, &gold, noise)?;
        for size in &e.sizes {
            let ens = p.ensemble_members(&w, size, noise, e.members, MemberData::Same, &comparisons)?;
            summaries.push(summary(&ens));
            let bon_in = BonInputs { pools: &pools, gold: &gold_scores, rubric: &rubric_scores };
            let (rows, mut new) = bon_cells(p, &mut bon, &bon_in, &ens, &variants(e.uwo_lambda))?;
            records.extend(rows);
            cells.append(&mut new);
            if e.subset_label_noise.contains(&noise) {
                let data = MemberData::Subset(e.subset_fraction);
                let sub = p.ensemble_members(&w, size, noise, e.members, data, &comparisons)?;
                summaries.push(summary(&sub));
                let objectives: Vec<_> =
                    variants(e.uwo_lambda).into_iter().filter(|v| v.1.is_some()).collect();
                let (rows, mut new) = bon_cells(p, &mut bon, &bon_in, &sub, &objectives)?;
                records.extend(rows);
                cells.append(&mut new);
            }
            // WARM's shared-initialisation members and their weight average, once per cell
            let warm = if e.warm_label_noise.contains(&noise) {
                let data = MemberData::SharedInit;
                let shared = p.ensemble_members(&w, size, noise, e.members, data, &comparisons)?;
                summaries.push(summary(&shared));
                let averaged = p.warm(&w, &shared, &comparisons)?;
                let (rows, mut new) = warm_cells(p, &mut bon, &bon_in, &shared, &averaged)?;
                records.extend(rows);
                cells.append(&mut new);
                Some((shared, averaged))
            } else {
                None
            };
            if e.rl_sizes.contains(size) && e.rl_label_noise.contains(&noise) {
                let members: Vec<&dyn RewardModel> =
                    ens.members.iter().map(|m| &m.rm as &dyn RewardModel).collect();
                let (mut labels, mut runs) = (Vec::new(), Vec::new());
                for (label, objective) in variants(e.uwo_lambda) {
                    let ensemble;
                    let (key, report, rm): (String, _, &dyn RewardModel) = match objective {
                        None => (ens.members[0].key.clone(), ens.members[0].eval.clone(), &ens.members[0].rm),
                        Some(o) => {
                            ensemble = Ensemble::new(format!("{label}-{size}"), members.clone(), o)
                                .map_err(|err| ReproError::Config(format!("ensembles: {err}")))?;
                            (ens.key(o), ens.report(o), &ensemble)
                        }
                    };
                    let proxy = ProxyRef { key: &key, size, report: &report, rm };
                    let outs = p.rl_trajectories(&w, &policy, proxy, &gold, &p.config.rl)?;
                    let exp = experiment(label, noise);
                    records.extend(outs.iter().flat_map(|o| o.records.iter().cloned()).map(|mut r| {
                        r.experiment = exp.clone();
                        r
                    }));
                    labels.push(label);
                    runs.push((report, outs));
                }
                if let Some((shared, warm)) = &warm {
                    // the shared-initialisation members: their predictions' mean, and WARM
                    let members: Vec<&dyn RewardModel> =
                        shared.members.iter().map(|m| &m.rm as &dyn RewardModel).collect();
                    let mean = Ensemble::new(format!("mean-shared-{size}"), members, Objective::Mean)
                        .map_err(|err| ReproError::Config(format!("ensembles: {err}")))?;
                    let (mean_key, mean_report) =
                        (shared.key(Objective::Mean), shared.report(Objective::Mean));
                    let against: [(&'static str, ProxyRef<'_>); 2] = [
                        ("mean-shared", ProxyRef { key: &mean_key, size, report: &mean_report, rm: &mean }),
                        ("warm", warm.as_proxy()),
                    ];
                    for (label, proxy) in against {
                        let outs = p.rl_trajectories(&w, &policy, proxy, &gold, &p.config.rl)?;
                        let exp = experiment(label, noise);
                        records.extend(outs.iter().flat_map(|o| o.records.iter().cloned()).map(|mut r| {
                            r.experiment = exp.clone();
                            r
                        }));
                        labels.push(label);
                        runs.push((proxy.report.clone(), outs));
                    }
                }
                let (results, _) = analyse_rl(&runs, p.config.bon.bootstrap, p.config.bon.seed)?;
                for ((label, (report, _)), r) in labels.iter().zip(&runs).zip(results) {
                    cells.push(Cell {
                        method: "rl".into(),
                        size: size.clone(),
                        label_noise: noise,
                        objective: label.to_string(),
                        val_accuracy: report.val.accuracy,
                        d: rl_d(&r),
                        gold: r.gold.clone(),
                        proxy: r.proxy_score.clone(),
                        rubric: r.rubric.clone(),
                    });
                }
            }
        }
    }
    let peaks: Vec<Option<PeakCell>> = cells
        .iter()
        .map(|c| {
            let kl: Vec<f64> = c.d.iter().map(|d| d * d).collect();
            PeakCell::of(&c.method, &c.size, c.label_noise, &c.objective, &kl, &c.gold).map(|mut p| {
                p.trusted = goodhart_findings::stats::order_trusted_range(&c.d, &c.gold, &c.rubric);
                p
            })
        })
        .collect();
    let peak_cells: Vec<PeakCell> = peaks.iter().flatten().cloned().collect();
    let mut checks = ensemble_checks(&peak_cells);
    checks.extend(warm_checks(&peak_cells));
    let markdown = markdown(p, &summaries, &cells, &peaks, &checks);
    let figure = figure(&cells);
    let json = serde_json::json!({ "members": summaries, "cells": cells, "uwo_lambda": e.uwo_lambda });
    Ok(TargetOutput::new("ensembles", markdown, records, Some(figure), json).with_checks(checks))
}

/// What every best-of-n cell reads: the pools with their gold and rubric scores.
struct BonInputs<'a> {
    pools: &'a Pools,
    gold: &'a [Vec<f64>],
    rubric: &'a [Vec<f64>],
}

/// The label of an objective's cells: its name, with `-subset` for members trained on subsets
/// (member 0 alone, `single`, is always the plain proxy).
fn cell_label(label: &str, data: MemberData) -> String {
    match data {
        MemberData::Same => label.to_string(),
        MemberData::Subset(_) => format!("{label}-subset"),
        MemberData::SharedInit => format!("{label}-shared"),
    }
}

/// Best-of-n against each of `objectives` of `ens` (combining the members' stored pool scores),
/// its records and cells.
fn bon_cells(
    p: &Pipeline,
    bon: &mut goodhart_bon::BestOfN,
    inputs: &BonInputs<'_>,
    ens: &EnsembleMembers,
    objectives: &[(&'static str, Option<Objective>)],
) -> Result<(Vec<goodhart_core::Record>, Vec<Cell>), ReproError> {
    let size = &ens.size;
    let member_scores: Vec<Vec<Vec<f64>>> =
        ens.members.iter().map(|m| p.bon_scores(inputs.pools, m)).collect::<Result<_, _>>()?;
    let (mut records, mut cells) = (Vec::new(), Vec::new());
    for &(label, objective) in objectives {
        let label = cell_label(label, ens.data);
        let (report, scores) = match objective {
            None => (ens.members[0].eval.clone(), member_scores[0].clone()),
            Some(o) => (ens.report(o), combine_pools(o, &member_scores)?),
        };
        let (rows, cell) = bon_cell(p, bon, inputs, (size, ens.label_noise, &label), &report, &scores)?;
        records.extend(rows);
        cells.push(cell);
    }
    Ok((records, cells))
}

/// Best-of-n against pool `scores` of one objective (`(size, label noise, label)`, its `report`):
/// its records and its cell.
fn bon_cell(
    p: &Pipeline,
    bon: &mut goodhart_bon::BestOfN,
    inputs: &BonInputs<'_>,
    (size, noise, label): (&str, f64, &str),
    report: &RmReport,
    scores: &[Vec<f64>],
) -> Result<(Vec<goodhart_core::Record>, Cell), ReproError> {
    let name = format!("{label}-{size}");
    let proxy = ProxyName { name: &name, size, report };
    let exp = experiment(label, noise);
    let (result, rows) =
        bon_result(p, bon, inputs.pools, proxy, scores, inputs.gold, Some(inputs.rubric), &exp)?;
    let cell = Cell {
        method: "bon".into(),
        size: size.to_string(),
        label_noise: noise,
        objective: label.to_string(),
        val_accuracy: report.val.accuracy,
        d: result.kl.iter().map(|k| k.max(0.0).sqrt()).collect(),
        gold: result.gold.clone(),
        proxy: result.proxy_score.clone(),
        rubric: result.rubric.clone(),
    };
    Ok((rows, cell))
}

/// WARM against the prediction mean of the same members (Ramé et al. 2024): best-of-n against
/// the mean of `shared`'s scores (`mean-shared`; members fine-tuned from one pretrained language
/// model, [`MemberData::SharedInit`]) and against their weight average `warm`.
fn warm_cells(
    p: &Pipeline,
    bon: &mut goodhart_bon::BestOfN,
    inputs: &BonInputs<'_>,
    shared: &EnsembleMembers,
    warm: &crate::pipeline::TrainedRm,
) -> Result<(Vec<goodhart_core::Record>, Vec<Cell>), ReproError> {
    let (mut records, mut cells) = bon_cells(p, bon, inputs, shared, &[("mean", Some(Objective::Mean))])?;
    let scores = p.bon_scores(inputs.pools, warm)?;
    let what = (shared.size.as_str(), shared.label_noise, "warm");
    let (rows, cell) = bon_cell(p, bon, inputs, what, &warm.eval, &scores)?;
    records.extend(rows);
    cells.push(cell);
    Ok((records, cells))
}

/// The objective of every pooled sample from each member's scores, `[prompt][sample]`.
fn combine_pools(objective: Objective, members: &[Vec<Vec<f64>>]) -> Result<Vec<Vec<f64>>, ReproError> {
    let prompts = members.first().map_or(0, Vec::len);
    (0..prompts)
        .map(|p| {
            let views: Vec<&[f64]> = members.iter().map(|m| m[p].as_slice()).collect();
            objective.combine_rows(&views).map_err(|e| ReproError::Artifact(format!("ensemble scores: {e}")))
        })
        .collect()
}

fn summary(ens: &EnsembleMembers) -> MembersSummary {
    MembersSummary {
        size: ens.size.clone(),
        data: match ens.data {
            MemberData::Same => "same".into(),
            MemberData::Subset(f) => format!("subset {f}"),
            MemberData::SharedInit => "shared initialisation".into(),
        },
        label_noise: ens.label_noise,
        member_accuracy: ens.members.iter().map(|m| m.eval.val.accuracy).collect(),
        member_loss: ens.members.iter().map(|m| m.eval.val.loss).collect(),
        agreement: ens.agreement.clone(),
        mean_agreement: ens.mean_agreement(),
    }
}

fn markdown(
    p: &Pipeline,
    summaries: &[MembersSummary],
    cells: &[Cell],
    peaks: &[Option<PeakCell>],
    checks: &[goodhart_findings::checks::Check],
) -> String {
    let e = &p.config.ensembles;
    let mut s = String::new();
    line(&mut s, "# ensembles: single proxy against ensembles of proxies (Coste et al. 2023)\n");
    line(
        &mut s,
        format!(
            "{} members per ensemble; member k starts from a language model pretrained with seed \
             offset 7919 k and trains with the same offset (head and batch order), on the same \
             comparisons. `single` is member 0 alone; `mean`, `wco` (worst case) and `uwo` (mean \
             minus {} times the members' variance) combine the members. The `-subset` objectives \
             (best-of-n, label noise {:?}) combine other members, each also trained on its own \
             random {} of the comparisons. Best-of-n over {} held-out prompts x {} samples; PPO \
             for {} steps.\n",
            e.members,
            e.uwo_lambda,
            e.subset_label_noise,
            e.subset_fraction,
            p.config.bon.prompts,
            p.config.bon.pool,
            p.config.rl.ppo.total_steps
        ),
    );
    line(&mut s, "## Members\n");
    line(
        &mut s,
        "| size | label noise | members' data | members' validation accuracy | mean pairwise agreement on held-out pairs |",
    );
    line(&mut s, "|---|---|---|---|---|");
    for m in summaries {
        let acc: Vec<String> = m.member_accuracy.iter().map(|a| format!("{a:.3}")).collect();
        line(
            &mut s,
            format!(
                "| {} | {} | {} | {} | {:.3} |",
                m.size,
                m.label_noise,
                m.data,
                acc.join(", "),
                m.mean_agreement
            ),
        );
    }
    line(&mut s, "\n## Peaks\n");
    line(
        &mut s,
        "| method | size | label noise | objective | objective's validation accuracy | peak gold (se) | KL at peak | last gold | last rubric |",
    );
    line(&mut s, "|---|---|---|---|---|---|---|---|---|");
    for (c, pk) in cells.iter().zip(peaks) {
        let Some(pk) = pk else { continue };
        let last = c.gold.len().saturating_sub(1);
        let rubric = c.rubric.get(last).map_or("-".to_string(), |r| format!("{:.3}", r.mean));
        line(
            &mut s,
            format!(
                "| {} | {} | {} | {} | {:.3} | {:.3} ({:.3}) | {:.2} | {:.3} | {rubric} |",
                c.method,
                c.size,
                c.label_noise,
                c.objective,
                c.val_accuracy,
                pk.peak.mean,
                pk.peak.se,
                pk.peak_kl,
                c.gold.get(last).map_or(f64::NAN, |g| g.mean)
            ),
        );
    }
    line(&mut s, "\n## Checks\n");
    for c in checks {
        line(&mut s, format!("- {c}"));
    }
    s
}

/// One panel per (method, size, label noise): gold solid and proxy (the objective) dashed
/// against sqrt(KL), one colour per objective. The rubric, which PPO drives down by tens, is in
/// the table and the rows rather than on these axes.
fn figure(cells: &[Cell]) -> Figure {
    let mut fig =
        Figure::new("Ensembles: single proxy against mean, worst-case and uncertainty-weighted ensembles");
    let mut keys: Vec<(String, String, f64)> = Vec::new();
    for c in cells {
        let k = (c.method.clone(), c.size.clone(), c.label_noise);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for (method, size, noise) in keys {
        let title =
            format!("{} {size}, label noise {noise}", if method == "bon" { "best-of-n" } else { "PPO" });
        let mut panel = Panel::new(title, X_SQRT_KL, "RM score");
        let mine: Vec<&Cell> =
            cells.iter().filter(|c| c.method == method && c.size == size && c.label_noise == noise).collect();
        for (k, c) in mine.iter().enumerate() {
            let colour = spread_colour(k, mine.len());
            panel.series.push(curve_with_error(
                format!("gold, {}", c.objective),
                colour,
                LineStyle::Solid,
                &c.d,
                &c.gold,
            ));
            panel.series.push(Series::new(
                format!("proxy, {}", c.objective),
                colour,
                LineStyle::Dashed,
                by_x(xy(&c.d, &ys(&c.proxy))),
            ));
        }
        fig = fig.with_panel(panel);
    }
    fig
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_combine_per_sample() {
        let a = vec![vec![1.0, 2.0], vec![0.0]];
        let b = vec![vec![3.0, 0.0], vec![-2.0]];
        let mean = combine_pools(Objective::Mean, &[a.clone(), b.clone()]).unwrap();
        assert_eq!(mean, vec![vec![2.0, 1.0], vec![-1.0]]);
        let wco = combine_pools(Objective::WorstCase, &[a, b]).unwrap();
        assert_eq!(wco, vec![vec![1.0, 0.0], vec![-2.0]]);
    }

    #[test]
    fn cells_are_labelled_by_objective_and_noise() {
        assert_eq!(experiment("wco", 0.25), "ensembles/wco/noise0.25");
        let labels: Vec<&str> = variants(0.5).iter().map(|v| v.0).collect();
        assert_eq!(labels, ["single", "mean", "wco", "uwo"]);
        assert_eq!(cell_label("uwo", MemberData::Subset(0.5)), "uwo-subset");
        assert_eq!(cell_label("uwo", MemberData::Same), "uwo");
    }
}
