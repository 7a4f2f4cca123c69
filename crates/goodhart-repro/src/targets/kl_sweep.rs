//! The KL-penalty sweep: PPO against one proxy under several penalties.

use goodhart_plot::Figure;

use super::*;
use crate::config::RlStage;
use crate::fig1::{analyse_rl, RlResult};
use crate::pipeline::Pipeline;
use crate::ReproError;
use goodhart_findings::checks::sweeps::{kl_penalty_checks, PenaltyRun};
use goodhart_findings::checks::{rise_resolved, within_trust};

/// Runs the target `kind` of this family, called `target`.
pub(super) fn run(target: &str, kind: KlSweep, p: &Pipeline) -> Result<TargetOutput, ReproError> {
    let c = &p.config.sweeps;
    let w = p.world()?;
    let policy = p.policy(&w)?;
    let gold = p.gold(&w, &policy)?;
    let data = p.proxy_data(&w, &policy, &gold)?;
    let proxy = p.proxy(&w, &c.kl_rm_size, &data)?;
    let mut runs = Vec::new();
    let mut records = Vec::new();
    for &coef in &c.kl_penalties {
        if !(coef >= 0.0 && coef.is_finite()) {
            return Err(ReproError::Config(format!(
                "sweeps.kl_penalties has {coef}: a KL penalty must be finite and >= 0"
            )));
        }
        let mut rl: RlStage = p.config.rl.clone();
        rl.ppo.kl_penalty = goodhart_ppo::KlPenalty::Fixed { coef };
        let outs = p.rl_trajectories(&w, &policy, proxy.as_proxy(), &gold, &rl)?;
        records.extend(outs.iter().flat_map(|o| o.records.iter().cloned()).map(|mut r| {
            r.experiment = target.to_string();
            r
        }));
        runs.push((proxy.eval.clone(), outs));
    }
    let (results, _) = analyse_rl(&runs, p.config.bon.bootstrap, p.config.bon.seed)?;
    let labelled: Vec<(String, RlResult)> =
        c.kl_penalties.iter().zip(results).map(|(coef, r)| (format!("KL penalty {coef}"), r)).collect();
    if kind == KlSweep::Fig14 {
        return Ok(
            kl_by_step("fig14", "KL against PPO step for each KL penalty", &labelled).with_records(records)
        );
    }
    let mut s = String::new();
    line(&mut s, format!("# fig9: PPO against proxy {} under several KL penalties\n", c.kl_rm_size));
    line(
        &mut s,
        "The paper: a penalty does not move the gold-vs-KL frontier; it stops the run at a smaller KL.\n",
    );
    rl_table(&mut s, &labelled);
    let fig =
        Figure::new("Figure 9: PPO under KL penalties").with_panel(rl_curves_panel("", &labelled, false));
    let json: Vec<_> = labelled.iter().map(|(l, r)| serde_json::json!({"run": l, "result": r})).collect();
    let penalty_runs: Vec<PenaltyRun> = c
        .kl_penalties
        .iter()
        .zip(&labelled)
        .map(|(&coef, (_, r))| PenaltyRun {
            coef,
            kl: r.kl.iter().map(|k| k.mean).collect(),
            gold: r.gold.clone(),
            trajectories: r.trajectory_curves.clone(),
        })
        .collect();
    // every run's curve to its end: N/A where the gold is not trusted there
    let ranges: Vec<(&str, Option<&goodhart_findings::stats::TrustedRange>)> =
        labelled.iter().map(|(l, r)| (l.as_str(), r.trusted.as_ref())).collect();
    let mut checks: Vec<_> =
        kl_penalty_checks(&penalty_runs).into_iter().map(|c| within_trust(c, ranges.clone())).collect();
    // each cell's rise seen before its peak (over its trajectories), as figure 1's PPO runs
    checks.extend(labelled.iter().map(|(l, r)| {
        rise_resolved(&format!("fig9 {l}"), r.fall.peak, &format!("step {}", r.steps[r.fall.peak]))
    }));
    Ok(TargetOutput::new("fig9", s, records, Some(fig), json).with_checks(checks))
}
