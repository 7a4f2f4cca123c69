//! Direct alignment algorithms overoptimise too (Rafailov et al. 2024): DPO and IPO on the
//! proxies' gold-labelled comparisons, across beta, with the gold, the rubric and the implicit
//! reward against sqrt(KL), and the paper's forms fitted to each gold curve.

use goodhart_dpo::DaaOutput;
use goodhart_laws::{fit, FitOptions, Form};
use goodhart_plot::{spread_colour, Figure, LineStyle, Panel, Series};
use serde::Serialize;

use super::*;
use crate::pipeline::Pipeline;
use crate::ReproError;
use goodhart_findings::checks::daa::{daa_checks, DaaRun, RiseAndFall};

/// One run's curve and what the checks read off it.
#[derive(Debug, Clone, Serialize)]
struct RunSummary {
    run: DaaRun,
    steps: Vec<usize>,
    d: Vec<f64>,
    gold: Vec<Estimate>,
    /// The policy's implicit reward `beta log(pi / pi_ref)` of its own samples.
    implicit: Vec<Estimate>,
    rubric: Vec<Estimate>,
    /// Training accuracy of the implicit reward on its minibatches, last tenth of the run.
    late_accuracy: f64,
}

/// Runs the `dpo` target.
pub(super) fn run(p: &Pipeline) -> Result<TargetOutput, ReproError> {
    let c = &p.config.dpo;
    let w = p.world()?;
    let policy = p.policy(&w)?;
    let gold = p.gold(&w, &policy)?;
    let data = p.proxy_data(&w, &policy, &gold)?;
    let mut records = Vec::new();
    let mut runs = Vec::new();
    for &loss in &c.losses {
        for &beta in &c.betas {
            let outs = p.daa_trajectories(&w, &policy, &gold, &data, loss, beta)?;
            records.extend(outs.iter().flat_map(|o| o.records.iter().cloned()).map(|mut r| {
                r.experiment = format!("dpo/{loss}/beta{beta}");
                r
            }));
            runs.push(summary(loss.to_string(), beta, &outs)?);
        }
    }
    let checks = daa_checks(&runs.iter().map(|r| r.run.clone()).collect::<Vec<_>>());
    let markdown = markdown(p, &runs, &checks, data.train.len());
    let figure = figure(&runs);
    let json = serde_json::json!({ "runs": runs });
    Ok(TargetOutput::new("dpo", markdown, records, Some(figure), json).with_checks(checks))
}

/// One (loss, beta) cell over its runs: every curve their mean, with the spread between them.
fn summary(loss: String, beta: f64, outs: &[DaaOutput]) -> Result<RunSummary, ReproError> {
    let out = outs.first().ok_or_else(|| ReproError::Config("dpo.trajectories must be >= 1".into()))?;
    let cols = out.evals.len();
    if outs
        .iter()
        .any(|o| o.evals.len() != cols || o.evals.iter().zip(&out.evals).any(|(a, b)| a.step != b.step))
    {
        return Err(ReproError::Artifact(format!(
            "{loss} beta {beta}: the runs were evaluated at different steps: they must share one schedule"
        )));
    }
    let evals: Vec<&[goodhart_ppo::GoldEval]> = outs.iter().map(|o| o.evals.as_slice()).collect();
    let column = |f: fn(&goodhart_ppo::GoldEval) -> Option<Estimate>| crate::fig1::evals_over_runs(&evals, f);
    let d: Vec<f64> = column(|e| Some(e.kl)).iter().map(|k| k.mean.max(0.0).sqrt()).collect();
    let gold = column(|e| Some(e.gold));
    let mut tables = Vec::with_capacity(outs.len());
    for o in outs {
        let (prompts, table) = crate::fig1::evals_table(&o.evals, |e| &e.gold_values);
        if prompts < 2 {
            return Err(ReproError::Artifact(format!(
                "{loss} beta {beta}: the evaluations hold {prompts} gold values each (need 2 or more): delete the run's stage directory to recompute it"
            )));
        }
        tables.push(table);
    }
    let means: Vec<f64> = gold.iter().map(|g| g.mean).collect();
    let r2 = |form: Form| fit(form, &d, &means, &FitOptions::default()).map_or(f64::NAN, |f| f.r2);
    let rubric = column(|e| e.rubric);
    Ok(RunSummary {
        run: DaaRun {
            loss,
            beta,
            shape: RiseAndFall::over_runs(&tables, cols),
            r2_rl: r2(Form::Rl),
            r2_bon: r2(Form::Bon),
            trusted: goodhart_findings::stats::order_trusted_range(&d, &gold, &rubric),
        },
        steps: out.evals.iter().map(|e| e.step).collect(),
        d,
        gold,
        implicit: column(|e| Some(e.proxy)),
        rubric,
        late_accuracy: outs
            .iter()
            .map(|o| {
                let tail = &o.logs[o.logs.len().saturating_sub((o.logs.len() / 10).max(1))..];
                tail.iter().map(|l| l.accuracy).sum::<f64>() / tail.len().max(1) as f64
            })
            .sum::<f64>()
            / outs.len() as f64,
    })
}

fn markdown(
    p: &Pipeline,
    runs: &[RunSummary],
    checks: &[goodhart_findings::checks::Check],
    pairs: usize,
) -> String {
    let c = &p.config.dpo;
    let mut s = String::new();
    line(&mut s, "# dpo: direct alignment algorithms against the gold (Rafailov et al. 2024)\n");
    line(
        &mut s,
        format!(
            "DPO (-ln sigmoid(beta h)) and IPO ((h - 1/(2 beta))^2) from the initial policy on {pairs} \
             gold-labelled comparisons of its own samples (the proxies' data), the initial policy \
             frozen as the reference; {} steps of {} comparisons, learning rate {}. The gold, the \
             rubric and the implicit reward beta log(pi/pi_ref) of one sample per held-out prompt \
             ({} prompts, PPO's) at log-spaced steps; KL(pi || pi_ref) sampled (k3) as for PPO.\n",
            c.steps, c.batch_size, c.lr, p.config.rl.eval_prompts
        ),
    );
    line(
        &mut s,
        "| loss | beta | final KL | peak gold (se) | KL at peak | last gold | last rubric | rise (se) | fall (se) | R^2 d(a - b ln d) | R^2 d(a - b d) | late accuracy |",
    );
    line(&mut s, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in runs {
        let k = (0..r.gold.len()).max_by(|&a, &b| r.gold[a].mean.total_cmp(&r.gold[b].mean)).unwrap_or(0);
        let last = r.gold.len() - 1;
        let sh = &r.run.shape;
        line(
            &mut s,
            format!(
                "| {} | {} | {:.2} | {:.3} ({:.3}) | {:.2} | {:.3} | {} | {:+.3} ({:.3}) | {:+.3} ({:.3}) | {:.3} | {:.3} | {:.3} |",
                r.run.loss,
                r.run.beta,
                r.d[last].powi(2),
                r.gold[k].mean,
                r.gold[k].se,
                r.d[k].powi(2),
                r.gold[last].mean,
                r.rubric.get(last).map_or("-".into(), |e| format!("{:.3}", e.mean)),
                sh.rise.mean,
                sh.rise.se,
                sh.fall.amount.mean,
                sh.fall.amount.se,
                r.run.r2_rl,
                r.run.r2_bon,
                r.late_accuracy
            ),
        );
    }
    line(&mut s, "\n## Checks\n");
    for c in checks {
        line(&mut s, format!("- {c}"));
    }
    s
}

/// One panel per loss: the gold (solid) and the implicit reward (dashed) against sqrt(KL), one
/// colour per beta. The rubric, which falls by tens where the gold moves by one, is in the table
/// and the rows rather than on these axes.
fn figure(runs: &[RunSummary]) -> Figure {
    let mut fig = Figure::new("Direct alignment: gold against sqrt(KL) across beta");
    let mut losses: Vec<&str> = runs.iter().map(|r| r.run.loss.as_str()).collect();
    losses.dedup();
    for loss in losses {
        let mine: Vec<&RunSummary> = runs.iter().filter(|r| r.run.loss == loss).collect();
        let mut panel = Panel::new(loss.to_uppercase(), X_SQRT_KL, "score");
        for (k, r) in mine.iter().enumerate() {
            let colour = spread_colour(k, mine.len());
            let beta = r.run.beta;
            panel.series.push(curve_with_error(
                format!("gold, beta {beta}"),
                colour,
                LineStyle::Solid,
                &r.d,
                &r.gold,
            ));
            panel.series.push(Series::new(
                format!("implicit reward, beta {beta}"),
                colour,
                LineStyle::Dashed,
                by_x(xy(&r.d, &ys(&r.implicit))),
            ));
        }
        fig = fig.with_panel(panel);
    }
    fig
}
