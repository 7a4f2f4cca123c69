//! Where the KL goes (beyond the paper): PPO with the penalty in the reward (k1, as the paper's
//! sweep) or in the loss (k2, k3 as GRPO does, k3 weighted by the ratio), and critic-free GRPO with
//! k1 in the reward and k3 in the loss, against one proxy at one coefficient, beside the
//! unpenalised run. Gold, rubric and proxy against the KL each run reaches (the same estimator,
//! k3 of the sampled sequences, for every cell); the checks compare cells at the same KL
//! ([`goodhart_findings::checks::placement`]).

use goodhart_plot::Figure;
use goodhart_ppo::{Advantages, KlPenalty, KlPlacement};

use super::*;
use crate::config::RlStage;
use crate::fig1::{analyse_rl, RlResult};
use crate::pipeline::Pipeline;
use crate::ReproError;
use goodhart_findings::checks::placement::{placement_checks, PlacementCell};
use goodhart_findings::checks::sweeps::{frontier_shift, PenaltyRun};

/// The target's name: its records' `experiment` prefix, its results folder.
const NAME: &str = "kl-placement";

/// One cell: the optimiser, where the penalty goes (`None`: no penalty), and its settings.
struct Cell {
    optimiser: &'static str,
    placement: Option<KlPlacement>,
    advantages: Advantages,
}

impl Cell {
    fn placement_name(&self) -> &'static str {
        self.placement.map_or("none", KlPlacement::name)
    }

    fn label(&self) -> String {
        format!("{}, {}", self.optimiser.to_uppercase(), self.placement_name().replace('_', " "))
    }
}

/// The cells, the unpenalised PPO run first (figure 1's run against `kl_rm_size`).
fn cells(group: usize) -> Vec<Cell> {
    let grpo = Advantages::GroupRelative { group };
    let ppo = |placement| Cell { optimiser: "ppo", placement, advantages: Advantages::Gae };
    vec![
        ppo(None),
        ppo(Some(KlPlacement::K1InReward)),
        ppo(Some(KlPlacement::K2AsLoss)),
        ppo(Some(KlPlacement::K3AsLoss)),
        ppo(Some(KlPlacement::K3ImportanceWeighted)),
        Cell { optimiser: "grpo", placement: Some(KlPlacement::K1InReward), advantages: grpo },
        Cell { optimiser: "grpo", placement: Some(KlPlacement::K3AsLoss), advantages: grpo },
    ]
}

pub(super) fn run(p: &Pipeline) -> Result<TargetOutput, ReproError> {
    let c = &p.config.sweeps;
    let w = p.world()?;
    let policy = p.policy(&w)?;
    let gold = p.gold(&w, &policy)?;
    let data = p.proxy_data(&w, &policy, &gold)?;
    let proxy = p.proxy(&w, &c.kl_rm_size, &data)?;
    let cells = cells(c.grpo_group);
    let (mut runs, mut records) = (Vec::new(), Vec::new());
    for cell in &cells {
        let mut rl: RlStage = p.config.rl.clone();
        let coef = if cell.placement.is_some() { c.placement_coef } else { 0.0 };
        rl.ppo.kl_penalty = KlPenalty::Fixed { coef };
        rl.ppo.kl_placement = cell.placement.unwrap_or_default();
        rl.ppo.advantages = cell.advantages;
        let outs = p.rl_trajectories(&w, &policy, proxy.as_proxy(), &gold, &rl)?;
        let experiment = format!("{NAME}/{}/{}", cell.optimiser, cell.placement_name());
        records.extend(outs.iter().flat_map(|o| o.records.iter().cloned()).map(|mut r| {
            r.experiment = experiment.clone();
            r
        }));
        runs.push((proxy.eval.clone(), outs));
    }
    let (results, _) = analyse_rl(&runs, p.config.bon.bootstrap, p.config.bon.seed)?;
    let labelled: Vec<(String, RlResult)> = cells.iter().map(Cell::label).zip(results).collect();
    let placement_cells: Vec<PlacementCell> = cells
        .iter()
        .zip(&labelled)
        .map(|(cell, (_, r))| PlacementCell {
            optimiser: cell.optimiser.into(),
            placement: cell.placement_name().into(),
            run: penalty_run(if cell.placement.is_some() { c.placement_coef } else { 0.0 }, r),
            trusted: r.trusted,
        })
        .collect();
    // each check gated by the two cells it reads
    let checks: Vec<Check> = placement_checks(&placement_cells);

    let mut s = String::new();
    line(
        &mut s,
        format!("# {NAME}: where the KL penalty goes, PPO and GRPO against proxy {}\n", c.kl_rm_size),
    );
    line(
        &mut s,
        format!(
            "Coefficient {} for every penalised cell; GRPO with {} responses per prompt. The theory (on-policy): k1 in the reward, k2 as a loss and ratio-weighted k3 follow the gradient of KL(pi || pi_init), k3 as a loss that of the reverse KL.\n",
            c.placement_coef, c.grpo_group
        ),
    );
    rl_table(&mut s, &labelled);
    line(
        &mut s,
        "\n| cell | gold above the unpenalised run at the same KL (se over trajectories) |\n|---|---|",
    );
    let free = &placement_cells[0];
    for cell in &placement_cells[1..] {
        let shift = frontier_shift(&free.run, &cell.run)
            .map_or("no evaluation inside its KL range".to_string(), |e| {
                format!("{:+.3} ({:.3})", e.mean, e.se)
            });
        line(&mut s, format!("| {} | {shift} |", cell.label()));
    }
    let figure = Figure::new(format!("{NAME}: where the KL penalty goes (coefficient {})", c.placement_coef))
        .with_panel(rl_curves_panel("gold (solid) and proxy (dashed)", &labelled, false))
        .with_panel(rubric_panel(&labelled));
    let json: Vec<_> = labelled.iter().map(|(l, r)| serde_json::json!({"cell": l, "result": r})).collect();
    Ok(TargetOutput::new(NAME, s, records, Some(figure), json).with_checks(checks))
}

/// A cell's curve as the frontier checks read it.
fn penalty_run(coef: f64, r: &RlResult) -> PenaltyRun {
    PenaltyRun {
        coef,
        kl: r.kl.iter().map(|k| k.mean).collect(),
        gold: r.gold.clone(),
        trajectories: r.trajectory_curves.clone(),
    }
}

/// The rubric (the truth) against sqrt(KL), one line per cell.
fn rubric_panel(runs: &[(String, RlResult)]) -> Panel {
    let mut panel = Panel::new("rubric", X_SQRT_KL, "rubric score");
    for (k, (label, r)) in runs.iter().enumerate().filter(|(_, (_, r))| !r.rubric.is_empty()) {
        let d = rl_d(r);
        panel.series.push(curve_with_error(
            label.clone(),
            spread_colour(k, runs.len()),
            LineStyle::Solid,
            &d,
            &r.rubric,
        ));
    }
    panel
}
