//! `reproduce controls`: what the falls of figure 1 are measured against.
//!
//! (a) **Optimise the gold itself.** Best-of-n and PPO against the gold, the rubric (what the gold
//! stands for) tracked along the curve. The gold cannot fall here by construction; the rubric
//! must not fall either, or the gold has stopped being gold where optimisation goes (checked
//! within the gold's trusted range; the gold's fidelity along the curve is a check of its own).
//!
//! (b) **Every mechanism off.** Figure 1 in a world with a monotone rubric, no shortcut feature
//! and no label noise, for the two smallest proxies of `rl.sizes`: how much fall remains, per
//! size, against the gold and the rubric. A measurement, not a check: learned proxies make
//! extremal errors of their own where the initial policy rarely goes.
//!
//! The null controls ([`crate::null_controls`]) test the pipeline itself: best-of-n against the
//! gold and against the gold plus noise, where the answer is known.
//!
//! Target `controls` runs all three; `gold-controls` runs (a) and the null controls only, which
//! read figure 1's stages, without (b)'s second world.

use std::fmt::Write as _;

use goodhart_core::{Estimate, Record};
use goodhart_core::{Judges, Optimiser};
use goodhart_plot::{Figure, LineStyle, Panel, Series};
use serde::{Deserialize, Serialize};

use crate::config::Mechanisms;
use crate::fig1::{eval_table, evals_over_runs, fidelity_over_runs, fig1, BonResult, Fig1, RlResult};
use crate::null_controls::{null_checks, null_controls, NullControls};
use crate::pipeline::{Base, Pipeline, PoolScores, ProxyRef};
use crate::ReproError;
use goodhart_findings::checks::{check, not_applicable, trust_check, within_trust, Check};
use goodhart_findings::stats::{
    fall_over_runs, order_trusted_range, split_half_fall, SplitFall, TrustedRange, SIGNIFICANT_SE,
};

/// An optimiser's run against the gold, with the rubric along it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgainstGold {
    /// n (best-of-n) or PPO step of each point.
    pub x: Vec<u64>,
    pub kl: Vec<f64>,
    pub gold: Vec<Estimate>,
    pub rubric: Vec<Estimate>,
    /// The rubric's fall after its peak, on prompts that did not choose the peak (PPO: over its
    /// trajectories, [`goodhart_findings::stats::fall_over_runs`]).
    pub rubric_fall: SplitFall,
    /// The gold's fidelity to the rubric at each point (empty when not measured), and how far
    /// along the curve it holds.
    #[serde(default, with = "goodhart_core::nan_as_null::vec")]
    pub fidelity: Vec<f64>,
    #[serde(default)]
    pub trusted: Option<TrustedRange>,
}

/// Both controls.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Controls {
    /// (a) best-of-n against the gold.
    pub gold_bon: AgainstGold,
    /// (a) PPO against the gold.
    pub gold_rl: AgainstGold,
    /// For comparison: the rubric's fall in PPO against figure 1's smallest RL proxy.
    pub proxy_rl_rubric_fall: Option<(String, SplitFall)>,
    /// (b) the mechanisms of the control world, and figure 1 in it.
    pub mechanisms_off: Mechanisms,
    pub off_bon: Vec<BonResult>,
    pub off_rl: Vec<RlResult>,
    pub records: Vec<Record>,
    /// The pipeline's own controls: best-of-n against the gold and the gold plus noise.
    #[serde(default)]
    pub null: Option<NullControls>,
}

/// The experiment of control (b): `config` with every mechanism off, for the two smallest
/// proxies of `rl.sizes`.
pub fn mechanisms_off(p: &Pipeline) -> crate::config::ExperimentConfig {
    let off = Mechanisms { extremal: false, causal: false, label_noise: 0.0 };
    let mut c = p.config.clone().with_mechanisms(off);
    let sizes: Vec<String> = c.rl.sizes.iter().take(2).cloned().collect();
    c.proxies.sizes = sizes.clone();
    c.rl.sizes = sizes;
    c
}

/// PPO's trajectories as a control's curve: every point the mean over trajectories, the rubric's
/// fall over them.
fn against_gold_rl(outs: &[goodhart_ppo::PpoOutput]) -> Result<AgainstGold, ReproError> {
    let first = outs
        .first()
        .ok_or_else(|| ReproError::Config("no PPO trajectory: set rl.trajectories >= 1".into()))?;
    let cols = first.evals.len();
    let mut tables = Vec::with_capacity(outs.len());
    for o in outs {
        let (prompts, table) = eval_table(o, |e| &e.rubric_values);
        if prompts < 2 || o.evals.len() != cols {
            return Err(ReproError::Artifact(
                "a PPO run recorded no rubric scores, or the trajectories were evaluated at different steps"
                    .into(),
            ));
        }
        tables.push(table);
    }
    let runs: Vec<&[goodhart_ppo::GoldEval]> = outs.iter().map(|o| o.evals.as_slice()).collect();
    let mean = |f: fn(&goodhart_ppo::GoldEval) -> Option<Estimate>| evals_over_runs(&runs, f);
    let kl: Vec<f64> = mean(|e| Some(e.kl)).iter().map(|e| e.mean).collect();
    let fidelity = fidelity_over_runs(&runs);
    let d: Vec<f64> = kl.iter().map(|k| k.max(0.0).sqrt()).collect();
    let (gold, rubric) = (mean(|e| Some(e.gold)), mean(|e| e.rubric));
    Ok(AgainstGold {
        x: first.evals.iter().map(|e| e.step as u64).collect(),
        rubric_fall: fall_over_runs(&tables, cols),
        trusted: order_trusted_range(&d, &gold, &rubric),
        gold,
        rubric,
        fidelity,
        kl,
    })
}

/// Runs the controls (figure 1's stages are reused where they are cached): (a) and the null
/// controls, and with `mechanisms_off` (b), figure 1 in a second world, with its figure.
pub fn controls(p: &Pipeline, mechanisms_off_too: bool) -> Result<(Controls, Option<Fig1>), ReproError> {
    let Base { w, policy, gold, pools, gold_scores, rubric_scores, .. } = p.base()?;
    // (a) best-of-n against the gold: the gold is the proxy, the rubric the judge beside it
    let gold_rm = PoolScores::new("gold", &pools, &gold_scores);
    let rubric_rm = PoolScores::new("rubric", &pools, &rubric_scores);
    let curves = pools
        .best_of_n(&p.bon_grid())?
        .optimise(Some(&gold_rm), Judges { gold: &gold_rm, rubric: Some(&rubric_rm) })
        .map_err(|e| ReproError::from_trait("best-of-n against the gold", e))?;
    let fidelity = curves.fidelity.clone().unwrap_or_default();
    let d: Vec<f64> = curves.kl.iter().map(|k| k.sqrt()).collect();
    let rubric = curves.extra.clone().expect("every pool has the rubric");
    let gold_bon = AgainstGold {
        x: curves.ns.clone(),
        kl: curves.kl.clone(),
        trusted: order_trusted_range(&d, &curves.gold, &rubric),
        gold: curves.gold.clone(),
        rubric,
        rubric_fall: split_half_fall(&curves.per_prompt_extra, curves.ns.len()),
        fidelity,
    };
    // (a) PPO against the gold
    let judge = gold.judge(&w);
    let as_proxy = ProxyRef { key: &gold.key, size: &gold.eval.size, report: &gold.eval, rm: &judge };
    let outs = p.rl_trajectories(&w, &policy, as_proxy, &gold, &p.config.rl)?;
    let gold_rl = against_gold_rl(&outs)?;
    let mut records: Vec<Record> = outs
        .iter()
        .flat_map(|o| o.records.iter())
        .cloned()
        .map(|mut r| {
            r.experiment = "controls".into();
            r.rm_size = "gold".into();
            r
        })
        .collect();
    let proxy_rl_rubric_fall = match p.config.rl.sizes.first() {
        Some(size) => {
            let data = p.proxy_data(&w, &policy, &gold)?;
            let proxy = p.proxy(&w, size, &data)?;
            let runs = p.rl_trajectories(&w, &policy, proxy.as_proxy(), &gold, &p.config.rl)?;
            against_gold_rl(&runs).ok().map(|a| (size.clone(), a.rubric_fall))
        }
        None => None,
    };
    // (b) figure 1 with every mechanism off: a second world, policy, gold and proxies
    let off_config = mechanisms_off(p);
    let off = if mechanisms_off_too {
        let off = fig1(
            &Pipeline::new(off_config.clone(), p.store.root(), p.device.clone())
                .with_reporter(p.reporter.clone()),
        )?;
        records.extend(off.records.iter().cloned().map(|mut r| {
            r.experiment = "controls-off".into();
            r
        }));
        Some(off)
    } else {
        None
    };
    let null = null_controls(&gold_scores, &p.bon_grid(), p.config.bon.bootstrap, p.config.bon.seed)?;
    let c = Controls {
        gold_bon,
        gold_rl,
        proxy_rl_rubric_fall,
        mechanisms_off: off_config.mechanisms(),
        off_bon: off.as_ref().map_or_else(Vec::new, |o| o.results.clone()),
        off_rl: off.as_ref().map_or_else(Vec::new, |o| o.rl.clone()),
        records,
        null: Some(null),
    };
    Ok((c, off))
}

/// The controls' checks.
pub fn controls_checks(c: &Controls) -> Vec<Check> {
    let mut out = Vec::new();
    let fall = |f: &SplitFall| {
        format!(
            "peak - last on the other half of the prompts {:.3} (se {:.3}; a fall is > {SIGNIFICANT_SE} se)",
            f.amount.mean, f.amount.se
        )
    };
    out.push(trust_check(
        "control (a) bon against the gold: the gold holds".into(),
        c.gold_bon.trusted.as_ref(),
    ));
    out.push(within_trust(
        check(
            "control (a) bon against the gold: the rubric does not fall",
            !c.gold_bon.rubric_fall.falls,
            fall(&c.gold_bon.rubric_fall),
        ),
        [("best-of-n against the gold", c.gold_bon.trusted.as_ref())],
    ));
    let compare = c
        .proxy_rl_rubric_fall
        .as_ref()
        .map_or(String::new(), |(size, f)| format!("; against proxy {size}: {}", fall(f)));
    out.push(trust_check(
        "control (a) rl against the gold: the gold holds".into(),
        c.gold_rl.trusted.as_ref(),
    ));
    out.push(within_trust(
        check(
            "control (a) rl against the gold: the rubric does not fall",
            !c.gold_rl.rubric_fall.falls,
            format!("{}{compare}", fall(&c.gold_rl.rubric_fall)),
        ),
        [("PPO against the gold", c.gold_rl.trusted.as_ref())],
    ));
    out.extend(c.null.iter().flat_map(null_checks));
    // (b) is a measurement: learned proxies make extremal errors of their own where the initial
    // policy rarely goes, so a fall without planted mechanisms is a finding, not a failed control
    let measured =
        |method: &str, size: &str, fall_gold: &SplitFall, verdict: String, rubric: Option<&Estimate>| {
            not_applicable(
                &format!(
                    "control (b) {method} {size}: fall with every mechanism off (a measurement, no verdict)"
                ),
                format!(
                    "{verdict}; gold: {}; rubric at the gold's peak minus at the end {}",
                    fall(fall_gold),
                    rubric.map_or("not measured".to_string(), |r| format!("{:.3} (se {:.3})", r.mean, r.se))
                ),
            )
        };
    let rubric_drop = |rubric: &[Estimate], peak: usize| -> Option<Estimate> {
        let (a, b) = (rubric.get(peak)?, rubric.last()?);
        Some(Estimate { mean: a.mean - b.mean, se: a.se.hypot(b.se), n: a.n.min(b.n) })
    };
    for r in &c.off_bon {
        let drop = rubric_drop(&r.rubric, r.fall.peak);
        out.push(measured("bon", &r.proxy.size, &r.fall, r.verdict.to_string(), drop.as_ref()));
    }
    for r in &c.off_rl {
        let drop = rubric_drop(&r.rubric, r.fall.peak);
        out.push(measured("rl", &r.proxy.size, &r.fall, r.verdict.to_string(), drop.as_ref()));
    }
    out
}

/// (a) gold (solid) and rubric (markers) against sqrt(KL) for best-of-n and PPO against the gold;
/// (b) figure 1's curves in the world without mechanisms, when it was run.
pub fn figure(c: &Controls, off: Option<&Fig1>) -> Figure {
    let x = "sqrt(KL) (nats^1/2)";
    let mut a = Panel::new("(a) optimising the gold: gold solid, rubric dashed", x, "score");
    for (colour, (name, run)) in [("best-of-n", &c.gold_bon), ("PPO", &c.gold_rl)].into_iter().enumerate() {
        let d: Vec<f64> = run.kl.iter().map(|k| k.max(0.0).sqrt()).collect();
        let pts = |ys: &[Estimate]| d.iter().zip(ys).map(|(&d, y)| (d, y.mean)).collect::<Vec<_>>();
        let se = run.gold.iter().map(|e| e.se).collect();
        a.series.push(
            Series::new(format!("gold, {name}"), colour, LineStyle::Solid, pts(&run.gold)).with_error(se),
        );
        a.series.push(Series::new(format!("rubric, {name}"), colour, LineStyle::Dashed, pts(&run.rubric)));
    }
    let mut fig = Figure::new("Controls: no fall without Goodhart").with_panel(a);
    let off_panels = off.map_or_else(Vec::new, |off| crate::report::fig1_figure(off).panels);
    for mut panel in off_panels {
        panel.title = format!(
            "(b) mechanisms off, {}",
            panel.title.trim_start_matches("(a) ").trim_start_matches("(b) ")
        );
        fig = fig.with_panel(panel);
    }
    fig
}

/// The controls' report.
pub fn markdown(target: &str, c: &Controls) -> String {
    let mut s = String::new();
    let mut line = |t: String| writeln!(s, "{t}").expect("write to string");
    line(format!("# {target}: what the pipeline gives without Goodhart\n"));
    line("## (a) Optimising the gold itself, the rubric tracked\n".into());
    for (name, run, what) in [("best-of-n", &c.gold_bon, "n"), ("PPO", &c.gold_rl, "step")] {
        line(format!("### {name}\n\n| {what} | KL | gold | rubric |\n|---|---|---|---|"));
        for k in 0..run.x.len() {
            let r = run.rubric.get(k).map_or("-".into(), |e| format!("{:.3} ({:.3})", e.mean, e.se));
            line(format!(
                "| {} | {:.3} | {:.3} ({:.3}) | {r} |",
                run.x[k], run.kl[k], run.gold[k].mean, run.gold[k].se
            ));
        }
        line(String::new());
    }
    if c.off_bon.is_empty() && c.off_rl.is_empty() {
        line(
            "## (b) Figure 1 with every mechanism off\n\nNot run here: `reproduce controls` runs it.\n"
                .into(),
        );
    } else {
        line(format!("## (b) Figure 1 with every mechanism off ({})\n", c.mechanisms_off));
        line("| method | RM | verdict | peak - last, other half (se) |\n|---|---|---|---|".into());
    }
    for r in &c.off_bon {
        line(format!(
            "| bon | {} | {} | {:.3} ({:.3}) |",
            r.proxy.size, r.verdict, r.fall.amount.mean, r.fall.amount.se
        ));
    }
    for r in &c.off_rl {
        line(format!(
            "| rl | {} | {} | {:.3} ({:.3}) |",
            r.proxy.size, r.verdict, r.fall.amount.mean, r.fall.amount.se
        ));
    }
    line("\n## Checks\n".into());
    for check in controls_checks(c) {
        line(format!("- {check}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Stage;

    fn e(mean: f64) -> Estimate {
        Estimate { mean, se: 0.1, n: 64 }
    }

    /// A curve of two points along which gold and rubric rise together.
    fn run(falls: bool) -> AgainstGold {
        let amount = Estimate { mean: if falls { 0.5 } else { 0.01 }, se: 0.1, n: 64 };
        let (gold, rubric) = (vec![e(0.0), e(1.0)], vec![e(0.0), e(1.0)]);
        AgainstGold {
            x: vec![1, 2],
            kl: vec![0.0, 0.3],
            trusted: order_trusted_range(&[0.0, 0.3f64.sqrt()], &gold, &rubric),
            gold,
            rubric,
            rubric_fall: SplitFall { peak: 0, amount, falls },
            fidelity: vec![0.9, 0.9],
        }
    }

    /// `run` with the rubric falling where the gold rises: the gold misorders the two points.
    fn broken(mut r: AgainstGold) -> AgainstGold {
        r.rubric = vec![e(0.0), e(-1.0)];
        r.trusted = order_trusted_range(&[0.0, 0.3f64.sqrt()], &r.gold, &r.rubric);
        r
    }

    fn controls(rubric_falls: bool) -> Controls {
        Controls {
            gold_bon: run(rubric_falls),
            gold_rl: run(false),
            proxy_rl_rubric_fall: None,
            mechanisms_off: Mechanisms { extremal: false, causal: false, label_noise: 0.0 },
            off_bon: Vec::new(),
            off_rl: Vec::new(),
            records: Vec::new(),
            null: None,
        }
    }

    #[test]
    fn a_rubric_that_falls_under_the_gold_fails_the_control() {
        assert!(controls_checks(&controls(false)).iter().all(|c| c.passed));
        let checks = controls_checks(&controls(true));
        let failed: Vec<_> = checks.iter().filter(|c| !c.passed).collect();
        assert_eq!(failed.len(), 1, "{checks:#?}");
        assert!(failed[0].name.contains("bon against the gold"));
    }

    #[test]
    fn a_rubric_that_falls_under_ppo_against_the_gold_fails_the_control() {
        let mut c = controls(false);
        c.gold_rl = run(true);
        let checks = controls_checks(&c);
        let failed: Vec<_> = checks.iter().filter(|c| !c.passed).collect();
        assert_eq!(failed.len(), 1, "{checks:#?}");
        assert_eq!(failed[0].name, "control (a) rl against the gold: the rubric does not fall");
        // and a gold that breaks along PPO (rubric down where it goes up) fails its own check
        c.gold_rl = broken(c.gold_rl);
        let checks = controls_checks(&c);
        let holds =
            checks.iter().find(|c| c.name == "control (a) rl against the gold: the gold holds").unwrap();
        assert!(holds.fails(), "{holds}");
    }

    #[test]
    fn a_gold_that_breaks_fails_its_control_and_leaves_the_fall_unread() {
        let mut c = controls(true);
        c.gold_bon = broken(c.gold_bon);
        let checks = controls_checks(&c);
        let holds =
            checks.iter().find(|c| c.name == "control (a) bon against the gold: the gold holds").unwrap();
        assert!(holds.fails(), "{holds}");
        let fall = checks.iter().find(|c| c.name.contains("bon against the gold: the rubric")).unwrap();
        assert!(!fall.applies && fall.detail.contains("trusted only up to d = 0.00"), "{fall}");
        assert!(fall.detail.contains("move apart by 7.1 se"), "{fall}");
    }

    #[test]
    fn the_control_world_has_every_mechanism_off_and_two_sizes() {
        let p = Pipeline::new(
            crate::ExperimentConfig::preset("laptop").unwrap(),
            std::env::temp_dir(),
            burn::tensor::Device::flex(),
        );
        let off = mechanisms_off(&p);
        assert_eq!(off.mechanisms(), Mechanisms { extremal: false, causal: false, label_noise: 0.0 });
        assert_eq!(off.proxies.sizes, ["p1k", "p10k"]);
        assert_eq!(off.rl.sizes, off.proxies.sizes);
        assert_ne!(crate::key_of(Stage::World, &off.world), crate::key_of(Stage::World, &p.config.world));
    }
}
