//! The policy-size sweep: the same proxy size on two initial policies.

use goodhart_plot::{spread_colour, Figure, LineStyle, Panel, Series};

use super::*;
use crate::config::PolicyStage;
use crate::fig1::{analyse_rl, bon_result, RlResult};
use crate::pipeline::{Pipeline, RubricScorer};
use crate::ReproError;
use goodhart_core::Estimate;
use goodhart_findings::checks::sweeps::{difference, policy_checks, PolicyPoint};
use goodhart_findings::stats::TrustedRange;

/// Runs the target `kind` of this family, called `target`.
pub(super) fn run(target: &str, kind: PolicySweep, p: &Pipeline) -> Result<TargetOutput, ReproError> {
    let c = &p.config.sweeps;
    let w = p.world()?;
    let (main_policy, main_loss) = p.policy_and_loss(&w, &p.config.policy)?;
    let gold = p.gold(&w, &main_policy)?;
    let other = PolicyStage {
        size: c.policy_size.clone(),
        pretrain: goodhart_policy::PretrainConfig {
            steps: c.policy_steps,
            ..p.config.policy.pretrain.clone()
        },
        ..p.config.policy.clone()
    };
    let (other_policy, other_loss) = p.policy_and_loss(&w, &other)?;
    // fig22 is PPO with figure 1's largest RM at both policy sizes; the others use policy_rm_size
    let rm_size = match kind {
        PolicySweep::Fig22 => p.config.proxies.sizes.last().unwrap_or(&c.policy_rm_size),
        _ => &c.policy_rm_size,
    };
    let mut bon = Vec::new();
    let mut rl = Vec::new();
    let mut records = Vec::new();
    let mut initial_rubric = Vec::new();
    for (size, policy) in [(&p.config.policy.size, &main_policy), (&c.policy_size, &other_policy)] {
        // The same gold judges both policies; each policy's proxy learns from its own samples.
        let data = p.proxy_data(&w, policy, &gold)?;
        let proxy = p.proxy(&w, rm_size, &data)?;
        let pools = p.bon_pools(&w, policy)?;
        // The gold recentred on this policy's own samples (its pool mean is 0), as the paper
        // recentres every RM on the initial policy it judges.
        let gold_scores = recentre(p.gold_scores(&w, &pools, &gold)?);
        let scores = p.bon_scores(&pools, &proxy)?;
        let rubric_scores = RubricScorer::for_gold(&w, &gold)?.pool_scores(&pools)?;
        initial_rubric
            .push(Estimate::from_values(&rubric_scores.iter().flatten().copied().collect::<Vec<f64>>()));
        let (result, mut rows) = bon_result(
            p,
            &mut pools.best_of_n(&p.bon_grid())?,
            &pools,
            proxy.as_proxy(),
            &scores,
            &gold_scores,
            Some(&rubric_scores),
            target,
        )?;
        rows.iter_mut().for_each(|r| r.policy_size = size.clone());
        records.extend(rows);
        bon.push((format!("policy {size}"), result));
        let mut outs = p.rl_trajectories(&w, policy, proxy.as_proxy(), &gold, &p.config.rl)?;
        outs.iter_mut().for_each(recentre_rl);
        records.extend(outs.iter().flat_map(|o| o.records.iter().cloned()).map(|mut r| {
            r.policy_size = size.clone();
            r.experiment = target.to_string();
            r
        }));
        rl.push((format!("policy {size}"), (proxy.eval.clone(), outs)));
    }
    let runs: Vec<_> = rl.iter().map(|(_, x)| x.clone()).collect();
    let (rl_results, _) = analyse_rl(&runs, p.config.bon.bootstrap, p.config.bon.seed)?;
    let rl: Vec<(String, RlResult)> = rl.into_iter().map(|(l, _)| l).zip(rl_results).collect();
    let params = |size: &str| -> Result<u64, ReproError> {
        let config =
            goodhart_nn::GptConfig::preset(size, w.tokenizer.vocab_size(), p.config.policy.max_seq_len)?;
        Ok(config.non_embedding_params() as u64)
    };
    let sizes = [p.config.policy.size.clone(), c.policy_size.clone()];
    let losses = [main_loss, other_loss];
    let points = |gains: [(Estimate, f64, bool); 2],
                  trusted: [Option<TrustedRange>; 2]|
     -> Result<Vec<PolicyPoint>, ReproError> {
        (0..2)
            .zip(gains)
            .zip(trusted)
            .map(|((k, (gain, peak_kl, peak_is_last)), trusted)| {
                Ok(PolicyPoint {
                    size: sizes[k].clone(),
                    params: params(&sizes[k])?,
                    val_loss: losses[k],
                    initial_rubric: initial_rubric[k],
                    gain,
                    peak_kl,
                    peak_is_last,
                    trusted,
                })
            })
            .collect()
    };
    let bon_points =
        points([bon_gain(&bon[0].1), bon_gain(&bon[1].1)], [bon[0].1.trusted, bon[1].1.trusted])?;
    let rl_points = points([rl_gain(&rl[0].1), rl_gain(&rl[1].1)], [rl[0].1.trusted, rl[1].1.trusted])?;
    let mut checks = policy_checks("bon", &bon_points[0], &bon_points[1]);
    checks.extend(policy_checks("rl", &rl_points[0], &rl_points[1]));
    let mut s = String::new();
    let title = target_what(target);
    line(&mut s, format!("# {target}: {title}\n"));
    line(
        &mut s,
        format!(
            "Proxy {} trained on each policy's own samples (labelled by the same gold); the gold recentred on each policy's own samples (pool mean 0 for best-of-n, first evaluation 0 for PPO).\n",
            rm_size
        ),
    );
    line(&mut s, "## best-of-n\n\n| policy | alpha_bon | beta_bon | R^2 | d* | R* | max gold |\n|---|---|---|---|---|---|---|");
    for (label, r) in &bon {
        let max = r.gold.iter().map(|e| e.mean).fold(f64::NEG_INFINITY, f64::max);
        let o = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.3}"));
        line(
            &mut s,
            format!(
                "| {label} | {:.3} | {:.3} | {:.3} | {} | {} | {max:.3} |",
                r.alpha_bon,
                r.beta_bon,
                r.r2,
                o(r.peak_d),
                o(r.peak_r)
            ),
        );
    }
    line(&mut s, "\n## PPO\n");
    rl_table(&mut s, &rl);
    let figure = match kind {
        PolicySweep::Fig15 => {
            let mut out = kl_by_step("fig15", title, &rl).with_records(records);
            out.markdown = format!("{s}\n{}", out.markdown.split_once('\n').map_or("", |(_, rest)| rest));
            return Ok(out);
        }
        PolicySweep::Fig22 => {
            Figure::new(format!("{target}: {title}")).with_panel(rl_curves_panel("PPO", &rl, false))
        }
        PolicySweep::Fig23 => {
            Figure::new(format!("{target}: {title}")).with_panel(rl_curves_panel("PPO, recentred", &rl, true))
        }
        PolicySweep::Fig24 => {
            let mut panel = Panel::new("proxy - gold", X_SQRT_KL, "proxy - gold");
            for (k, (label, r)) in rl.iter().enumerate() {
                let gap: Vec<f64> = r.proxy_score.iter().zip(&r.gold).map(|(p, g)| p.mean - g.mean).collect();
                panel.series.push(Series::new(
                    label.clone(),
                    spread_colour(k, rl.len()),
                    LineStyle::Solid,
                    by_x(xy(&rl_d(r), &gap)),
                ));
            }
            Figure::new(format!("{target}: {title}")).with_panel(panel)
        }
        PolicySweep::Fig7 => {
            let mut bon_panel = Panel::new("(a) best-of-n", X_SQRT_KL, "RM score");
            for (k, (label, r)) in bon.iter().enumerate() {
                let c = spread_colour(k, bon.len());
                bon_panel.series.push(Series::new(
                    format!("gold, {label}"),
                    c,
                    LineStyle::Solid,
                    xy(&bon_d(r), &ys(&r.gold)),
                ));
                bon_panel.series.push(Series::new(
                    format!("proxy, {label}"),
                    c,
                    LineStyle::Dashed,
                    xy(&bon_d(r), &ys(&r.proxy_score)),
                ));
            }
            Figure::new(format!("{target}: {title}"))
                .with_panel(bon_panel)
                .with_panel(rl_curves_panel("(b) PPO", &rl, false))
        }
    };
    let json = serde_json::json!({"bon": bon.iter().map(|(l, r)| serde_json::json!({"run": l, "result": r})).collect::<Vec<_>>(),
        "rl": rl.iter().map(|(l, r)| serde_json::json!({"run": l, "result": r})).collect::<Vec<_>>()});
    let checks = if kind == PolicySweep::Fig7 { checks } else { Vec::new() };
    Ok(TargetOutput::new(target, s, records, Some(figure), json).with_checks(checks))
}

/// Scores shifted so that their mean over every sample is 0.
fn recentre(mut scores: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    let all: Vec<f64> = scores.iter().flatten().copied().collect();
    let mean = all.iter().sum::<f64>() / all.len().max(1) as f64;
    scores.iter_mut().flatten().for_each(|x| *x -= mean);
    scores
}

/// A PPO run's gold shifted so that its first evaluation (the initial policy) has mean 0.
fn recentre_rl(out: &mut goodhart_ppo::PpoOutput) {
    let Some(start) = out.evals.first().map(|e| e.gold.mean) else {
        return;
    };
    for e in &mut out.evals {
        e.gold.mean -= start;
        e.gold_values.iter_mut().for_each(|x| *x -= start);
    }
    for r in &mut out.records {
        r.gold -= start;
    }
}

/// The gain of a curve from its start to its maximum, the KL there, and whether the maximum is
/// the last point.
fn gain(gold: &[Estimate], kl: &[f64]) -> (Estimate, f64, bool) {
    let k = (0..gold.len()).max_by(|&a, &b| gold[a].mean.total_cmp(&gold[b].mean)).unwrap_or(0);
    (difference(gold[k], gold[0]), kl[k], k + 1 == gold.len())
}

fn bon_gain(r: &crate::fig1::BonResult) -> (Estimate, f64, bool) {
    gain(&r.gold, &r.kl)
}

fn rl_gain(r: &RlResult) -> (Estimate, f64, bool) {
    gain(&r.gold, &r.kl.iter().map(|k| k.mean).collect::<Vec<_>>())
}
