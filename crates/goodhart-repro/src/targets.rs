//! Every `cargo xtask reproduce` target beyond figure 1: what it computes, from which stages,
//! and how it is drawn and reported. Targets that read figure 1's curves reuse its cached stages;
//! the sweeps (RM data size, KL penalty, policy size) add stages of their own.

use std::fmt::Write as _;
use std::path::Path;

use goodhart_bon::log_grid;
use goodhart_core::{Estimate, Record};
use goodhart_kl::kl_bon;
use goodhart_laws::{extrapolate, fit, log_linear_regression, FitOptions, Form};
use goodhart_plot::{spread_colour, write_png, write_svg, Figure, LineStyle, Panel, Series};
use serde::Serialize;

use crate::config::{PolicyStage, RlStage};
use crate::fig1::{analyse_rl, bon_result, fig1, BonResult, Fig1, RlResult};
use crate::pipeline::{Base, Pipeline, RubricScorer, TrainedRm};
use crate::report::records_csv;
use crate::ReproError;

/// Every target with one line on what it shows.
pub const TARGETS: &[(&str, &str)] = &[
    ("fig1", "RM-size sweep: (a) best-of-n, (b) PPO; gold and proxy against sqrt(KL), fitted laws"),
    ("fig2", "the synthetic setup (gold labels -> proxy RM), as a diagram"),
    ("fig3", "fitted alpha_bon, beta_bon, beta_RL against RM parameters"),
    ("fig4", "RM data-size sweep, best-of-n"),
    ("fig5", "RM validation loss against best-of-n gold at n = 1000"),
    ("fig6", "RM validation loss by data size and RM size"),
    ("fig7", "policy size: best-of-n and PPO with the same proxy size on two policies"),
    ("fig8", "proxy against gold score, best-of-n and PPO"),
    ("fig9", "PPO under several KL penalties: gold against sqrt(KL)"),
    ("fig10", "max gold score for each RM size x data size"),
    ("fig11", "validation loss by RM size"),
    ("fig12", "best-of-n peak gold predicted by the closed form against observed"),
    ("fig13", "1 epoch x D vs 1 epoch x 4D vs 4 epochs x D comparisons"),
    ("fig14", "KL against PPO step for each KL penalty"),
    ("fig15", "KL against PPO step by policy size"),
    ("fig16", "KL against PPO step by RM size"),
    ("fig17", "alpha_bon against RM data size"),
    ("fig18", "beta_bon against RM data size"),
    ("fig19", "best-of-n data sweep with the largest swept RM"),
    ("fig20", "the best-of-n proxy curve is concave: a linear fit fails"),
    ("fig21", "best-of-n gold at n = 1000 by data size x RM size"),
    ("fig22", "PPO with the swept proxy at both policy sizes"),
    ("fig23", "fig7's PPO panel recentred to start at 0"),
    ("fig24", "proxy - gold gap in the PPO policy sweep"),
    ("fig25", "PPO clip fraction by step"),
    ("fig26", "extrapolation: fit on small d, predict large d"),
    ("table1", "hyperparameters of every stage"),
    ("table2", "one prompt's best-of-n answers at n = 1 .. N with proxy and gold"),
    ("controls", "no fall without Goodhart: optimising the gold itself; every mechanism off"),
];

/// What a target produced: a report, the rows, a figure, and everything as JSON.
pub struct TargetOutput {
    pub name: String,
    pub markdown: String,
    pub records: Vec<Record>,
    pub figure: Option<Figure>,
    pub json: serde_json::Value,
}

impl TargetOutput {
    fn new(
        name: &str,
        markdown: String,
        records: Vec<Record>,
        figure: Option<Figure>,
        json: impl Serialize,
    ) -> Self {
        TargetOutput {
            name: name.to_string(),
            markdown,
            records,
            figure,
            json: serde_json::to_value(json).expect("results serialise"),
        }
    }

    /// Writes `report.md`, `<name>.csv`, `<name>.json`, `config.json` and the figure (`.svg`,
    /// `.png`) into `out`, each atomically.
    pub fn write(&self, out: &Path, config_json: &str) -> Result<(), ReproError> {
        let w = |name: &str, text: &str| {
            goodhart_world::write_atomic(&out.join(name), text.as_bytes())
                .map_err(|e| ReproError::Artifact(e.to_string()))
        };
        w("report.md", &self.markdown)?;
        w(&format!("{}.csv", self.name), &records_csv(&self.records))?;
        w(&format!("{}.json", self.name), &serde_json::to_string_pretty(&self.json).expect("serialises"))?;
        w("config.json", config_json)?;
        if let Some(fig) = &self.figure {
            let plot_err = |e: goodhart_plot::PlotError| ReproError::Artifact(e.to_string());
            write_svg(fig, &out.join(format!("{}.svg", self.name))).map_err(plot_err)?;
            write_png(fig, &out.join(format!("{}.png", self.name))).map_err(plot_err)?;
        }
        Ok(())
    }
}

/// Whether `name` is a target (fig1 included).
pub fn is_target(name: &str) -> bool {
    TARGETS.iter().any(|(t, _)| *t == name)
}

/// Runs `target` (not `fig1`, which has [`crate::report::write_fig1`]) on the pipeline's stores.
pub fn reproduce(target: &str, p: &Pipeline) -> Result<TargetOutput, ReproError> {
    match target {
        "fig2" => Ok(fig2()),
        "fig3" => Ok(fig3(&fig1(p)?)),
        "fig5" => Ok(fig5(&fig1(p)?)),
        "fig8" => Ok(fig8(&fig1(p)?)),
        "fig11" => Ok(fig11(&fig1(p)?)),
        "fig12" => Ok(fig12(&fig1(p)?)),
        "fig16" => {
            let runs: Vec<(String, RlResult)> =
                fig1(p)?.rl.into_iter().map(|r| (format!("RM {}", r.proxy.size), r)).collect();
            Ok(kl_by_step("fig16", "KL against PPO step by RM size", &runs))
        }
        "fig20" => fig20(&fig1(p)?),
        "fig25" => Ok(fig25(&fig1(p)?)),
        "fig26" => fig26(&fig1(p)?),
        "table1" => Ok(table1(p)),
        "table2" => table2(p),
        "controls" => {
            let (c, off) = crate::controls::controls(p)?;
            let markdown = crate::controls::markdown(&c);
            let figure = crate::controls::figure(&c, &off);
            let records = c.records.clone();
            Ok(TargetOutput::new("controls", markdown, records, Some(figure), c))
        }
        "fig4" | "fig6" | "fig10" | "fig13" | "fig17" | "fig18" | "fig19" | "fig21" => data_sweep(target, p),
        "fig9" | "fig14" => kl_sweep(target, p),
        "fig7" | "fig15" | "fig22" | "fig23" | "fig24" => policy_sweep(target, p),
        other => Err(ReproError::Config(format!(
            "unknown target {other:?}: one of {}",
            TARGETS.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", ")
        ))),
    }
}

const X_SQRT_KL: &str = "sqrt(KL) (nats^1/2)";

fn ys(es: &[Estimate]) -> Vec<f64> {
    es.iter().map(|e| e.mean).collect()
}

fn xy(x: &[f64], y: &[f64]) -> Vec<(f64, f64)> {
    x.iter().copied().zip(y.iter().copied()).collect()
}

fn rl_d(r: &RlResult) -> Vec<f64> {
    r.kl.iter().map(|k| k.mean.max(0.0).sqrt()).collect()
}

fn bon_d(r: &BonResult) -> Vec<f64> {
    r.kl.iter().map(|k| k.sqrt()).collect()
}

/// The gold at the grid point nearest `n` (the paper reads its data-size figures at n = 1000).
fn gold_near_n(r: &BonResult, n: u64) -> (u64, Estimate) {
    let k = (0..r.ns.len()).min_by_key(|&k| r.ns[k].abs_diff(n)).expect("non-empty grid");
    (r.ns[k], r.gold[k])
}

fn line(s: &mut String, text: impl AsRef<str>) {
    writeln!(s, "{}", text.as_ref()).expect("write to string");
}

// ---------------------------------------------------------------------------------------------
// Targets that read figure 1
// ---------------------------------------------------------------------------------------------

fn fig2() -> TargetOutput {
    let diagram = "\
```text
 the 'human' rubric ──labels──▶ pairs of broad-writer responses ──trains──▶ GOLD RM (frozen)
                                                                              │
 initial policy ──samples──▶ pairs of responses ──────────────labelled by gold┘
                                    │
                                    └──trains──▶ PROXY RMs (one per size)
                                                     │
 initial policy ──best-of-n / PPO against a proxy──▶ optimised policy ──scored by──▶ gold (truth)
                                                                        and proxy (what was optimised)
```";
    let mut s = String::new();
    line(&mut s, "# fig2: the synthetic setup\n");
    line(&mut s, diagram);
    line(
        &mut s,
        "\nThe gold RM plays the human: its labels train the proxies, and its score is the ground truth of every \
         curve. Here the gold itself learns from a programmatic rubric (goodhart-world), so its agreement with \
         the rubric is reported beside every figure 1 run.",
    );
    TargetOutput::new("fig2", s, Vec::new(), None, serde_json::json!({ "diagram": diagram }))
}

fn trend_row(s: &mut String, name: &str, params: &[f64], ys: &[f64]) {
    match log_linear_regression(params, ys) {
        Ok(l) => line(s, format!("| {name} | {:+.4} | {:.2} |", l.slope, l.r2)),
        Err(e) => line(s, format!("| {name} | - ({e}) | - |")),
    }
}

fn fig3(f: &Fig1) -> TargetOutput {
    let params: Vec<f64> = f.results.iter().map(|r| r.proxy.params as f64).collect();
    let rl_params: Vec<f64> = f.rl.iter().map(|r| r.proxy.params as f64).collect();
    let alpha: Vec<f64> = f.results.iter().map(|r| r.alpha_bon).collect();
    let beta: Vec<f64> = f.results.iter().map(|r| r.beta_bon).collect();
    let proxy_alpha: Vec<f64> = f.results.iter().map(|r| r.proxy_alpha).collect();
    let proxy_beta: Vec<f64> = f.results.iter().map(|r| r.proxy_beta).collect();
    let beta_rl: Vec<f64> = f.rl.iter().map(|r| r.beta_rl_shared).collect();
    let log_x = |p: &[f64]| p.iter().map(|x| x.log10()).collect::<Vec<_>>();
    let panel = |title: &str, y: &str, gold: &[f64], proxy: Option<&[f64]>, params: &[f64]| {
        let mut panel = Panel::new(title, "log10 RM parameters", y).with_series(Series::new(
            "gold",
            0,
            LineStyle::Solid,
            xy(&log_x(params), gold),
        ));
        if let Some(proxy) = proxy {
            panel = panel.with_series(Series::new("proxy", 5, LineStyle::Dashed, xy(&log_x(params), proxy)));
        }
        panel
    };
    let mut fig = Figure::new("Figure 3: fitted coefficients against RM size")
        .with_panel(panel("alpha_bon", "alpha_bon", &alpha, Some(&proxy_alpha), &params))
        .with_panel(panel("beta_bon", "beta_bon", &beta, Some(&proxy_beta), &params));
    if !beta_rl.is_empty() {
        fig = fig.with_panel(panel("beta_RL (shared alpha)", "beta_RL", &beta_rl, None, &rl_params));
    }
    let mut s = String::new();
    line(&mut s, "# fig3: fitted coefficients against RM size\n");
    line(
        &mut s,
        "| size | params | alpha_bon | beta_bon | proxy alpha | proxy beta |\n|---|---|---|---|---|---|",
    );
    for r in &f.results {
        line(
            &mut s,
            format!(
                "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
                r.proxy.size, r.proxy.params, r.alpha_bon, r.beta_bon, r.proxy_alpha, r.proxy_beta
            ),
        );
    }
    if let Some(alpha) = f.rl_alpha_shared {
        line(&mut s, format!("\nR_RL with alpha shared by every size: alpha_RL = {alpha:.3}.\n"));
        line(&mut s, "| size | beta_RL |\n|---|---|");
        for r in &f.rl {
            line(&mut s, format!("| {} | {:.3} |", r.proxy.size, r.beta_rl_shared));
        }
    }
    line(&mut s, "\nTrends, coefficient = a + slope log10(params) (the paper: alpha_bon up, beta_bon and beta_RL down):\n");
    line(&mut s, "| coefficient | slope per decade | R^2 of the line |\n|---|---|---|");
    trend_row(&mut s, "alpha_bon", &params, &alpha);
    trend_row(&mut s, "beta_bon", &params, &beta);
    if !beta_rl.is_empty() {
        trend_row(&mut s, "beta_RL", &rl_params, &beta_rl);
    }
    let json = serde_json::json!({ "params": params, "alpha_bon": alpha, "beta_bon": beta,
        "proxy_alpha": proxy_alpha, "proxy_beta": proxy_beta, "rl_params": rl_params, "beta_rl": beta_rl,
        "alpha_rl_shared": f.rl_alpha_shared });
    TargetOutput::new("fig3", s, Vec::new(), Some(fig), json)
}

fn fig5(f: &Fig1) -> TargetOutput {
    let rows: Vec<(String, f64, u64, Estimate)> = f
        .results
        .iter()
        .map(|r| {
            let (n, g) = gold_near_n(r, 1000);
            (r.proxy.size.clone(), r.proxy.val.loss, n, g)
        })
        .collect();
    let mut s = String::new();
    line(&mut s, "# fig5: RM validation loss against best-of-n gold\n");
    line(&mut s, "| size | val loss | n | gold (se) |\n|---|---|---|---|");
    for (size, loss, n, g) in &rows {
        line(&mut s, format!("| {size} | {loss:.4} | {n} | {:.3} ({:.3}) |", g.mean, g.se));
    }
    let pts: Vec<(f64, f64)> = rows.iter().map(|(_, l, _, g)| (*l, g.mean)).collect();
    let fig = Figure::new("Figure 5: validation loss against best-of-n gold (n near 1000)").with_panel(
        Panel::new("", "proxy validation loss", "gold score").with_series(Series::new(
            "RM sizes",
            0,
            LineStyle::Markers,
            pts,
        )),
    );
    TargetOutput::new("fig5", s, Vec::new(), Some(fig), &rows)
}

fn fig8(f: &Fig1) -> TargetOutput {
    let n = f.results.len();
    let mut bon = Panel::new("best-of-n", "proxy score", "gold score");
    for (k, r) in f.results.iter().enumerate() {
        let pts = xy(&ys(&r.proxy_score), &ys(&r.gold));
        bon.series.push(Series::new(
            format!("RM {}", r.proxy.size),
            spread_colour(k, n),
            LineStyle::Solid,
            pts,
        ));
    }
    let mut fig = Figure::new("Figure 8: proxy against gold score").with_panel(bon);
    let mut s = String::new();
    line(&mut s, "# fig8: proxy against gold score\n");
    line(
        &mut s,
        "Where the gold falls while the proxy rises, optimisation has overshot (see fig1 for the curves).\n",
    );
    line(&mut s, "| size | method | proxy at the gold peak | gold peak | last proxy | last gold |\n|---|---|---|---|---|---|");
    let row = |s: &mut String, size: &str, method: &str, proxy: &[Estimate], gold: &[Estimate]| {
        let k = (0..gold.len()).max_by(|&a, &b| gold[a].mean.total_cmp(&gold[b].mean)).unwrap_or(0);
        let last = gold.len() - 1;
        line(
            s,
            format!(
                "| {size} | {method} | {:.3} | {:.3} | {:.3} | {:.3} |",
                proxy[k].mean, gold[k].mean, proxy[last].mean, gold[last].mean
            ),
        );
    };
    for r in &f.results {
        row(&mut s, &r.proxy.size, "bon", &r.proxy_score, &r.gold);
    }
    if !f.rl.is_empty() {
        let mut rl = Panel::new("PPO", "proxy score", "gold score");
        for r in &f.rl {
            let k = f.results.iter().position(|b| b.proxy.size == r.proxy.size).unwrap_or(0);
            let pts = xy(&ys(&r.proxy_score), &ys(&r.gold));
            rl.series.push(Series::new(
                format!("RM {}", r.proxy.size),
                spread_colour(k, n),
                LineStyle::Solid,
                pts,
            ));
            row(&mut s, &r.proxy.size, "rl", &r.proxy_score, &r.gold);
        }
        fig = fig.with_panel(rl);
    }
    TargetOutput::new("fig8", s, f.records.clone(), Some(fig), serde_json::Value::Null)
}

fn fig11(f: &Fig1) -> TargetOutput {
    let mut s = String::new();
    line(&mut s, "# fig11: validation loss by RM size (chance = ln 2 = 0.693)\n");
    line(&mut s, "| size | params | val loss | val accuracy |\n|---|---|---|---|");
    let mut pts = Vec::new();
    for r in &f.results {
        line(
            &mut s,
            format!(
                "| {} | {} | {:.4} | {:.3} |",
                r.proxy.size, r.proxy.params, r.proxy.val.loss, r.proxy.val.accuracy
            ),
        );
        pts.push(((r.proxy.params as f64).log10(), r.proxy.val.loss));
    }
    let chance: Vec<(f64, f64)> = pts.iter().map(|&(x, _)| (x, std::f64::consts::LN_2)).collect();
    let fig = Figure::new("Figure 11: proxy validation loss by RM size").with_panel(
        Panel::new("", "log10 RM parameters", "validation loss (nats)")
            .with_series(Series::new("proxy RMs", 0, LineStyle::Solid, pts))
            .with_series(Series::new("chance (ln 2)", 7, LineStyle::Dashed, chance)),
    );
    let reports: Vec<_> = f.results.iter().map(|r| &r.proxy).collect();
    TargetOutput::new("fig11", s, Vec::new(), Some(fig), reports)
}

fn fig12(f: &Fig1) -> TargetOutput {
    let mut s = String::new();
    line(&mut s, "# fig12: best-of-n peak gold, closed form R* = alpha^2 / (4 beta) against observed\n");
    line(&mut s, "| size | predicted R* | d* | observed max gold | at d | inside the measured range |\n|---|---|---|---|---|---|");
    let (mut predicted, mut observed) = (Vec::new(), Vec::new());
    for r in &f.results {
        let d = bon_d(r);
        let k = (0..r.gold.len()).max_by(|&a, &b| r.gold[a].mean.total_cmp(&r.gold[b].mean)).unwrap_or(0);
        let inside = r.peak_d.is_some_and(|p| p <= d[d.len() - 1]);
        line(
            &mut s,
            format!(
                "| {} | {} | {} | {:.3} | {:.3} | {} |",
                r.proxy.size,
                r.peak_r.map_or("-".into(), |v| format!("{v:.3}")),
                r.peak_d.map_or("-".into(), |v| format!("{v:.3}")),
                r.gold[k].mean,
                d[k],
                if inside { "yes" } else { "no" }
            ),
        );
        if let Some(pr) = r.peak_r {
            predicted.push(pr);
            observed.push(r.gold[k].mean);
        }
    }
    let lo = predicted.iter().chain(&observed).copied().fold(f64::INFINITY, f64::min);
    let hi = predicted.iter().chain(&observed).copied().fold(f64::NEG_INFINITY, f64::max);
    let mut panel = Panel::new("", "predicted R*", "observed max gold").with_series(Series::new(
        "RM sizes",
        0,
        LineStyle::Markers,
        xy(&predicted, &observed),
    ));
    if lo.is_finite() && hi > lo {
        panel = panel.with_series(Series::new("y = x", 7, LineStyle::Thin, vec![(lo, lo), (hi, hi)]));
    }
    let figure = (!predicted.is_empty())
        .then(|| Figure::new("Figure 12: predicted against observed peak").with_panel(panel));
    TargetOutput::new(
        "fig12",
        s,
        Vec::new(),
        figure,
        serde_json::json!({"predicted": predicted, "observed": observed}),
    )
}

/// KL against PPO step, one labelled line per run.
fn kl_by_step(name: &str, title: &str, runs: &[(String, RlResult)]) -> TargetOutput {
    let mut panel = Panel::new("", "PPO step", "KL(pi || pi_init) (nats)");
    let mut s = String::new();
    line(&mut s, format!("# {name}: {title}\n"));
    line(&mut s, "| run | step | KL (se) |\n|---|---|---|");
    for (k, (label, r)) in runs.iter().enumerate() {
        let steps: Vec<f64> = r.steps.iter().map(|&x| x as f64).collect();
        let kl = ys(&r.kl);
        let se = r.kl.iter().map(|e| e.se).collect();
        panel.series.push(
            Series::new(label.clone(), spread_colour(k, runs.len()), LineStyle::Solid, xy(&steps, &kl))
                .with_error(se),
        );
        for (st, e) in r.steps.iter().zip(&r.kl) {
            line(&mut s, format!("| {label} | {st} | {:.3} ({:.3}) |", e.mean, e.se));
        }
    }
    let figure = (!runs.is_empty()).then(|| Figure::new(format!("{name}: {title}")).with_panel(panel));
    TargetOutput::new(name, s, Vec::new(), figure, serde_json::Value::Null)
}

fn fig20(f: &Fig1) -> Result<TargetOutput, ReproError> {
    let mut s = String::new();
    line(&mut s, "# fig20: the best-of-n proxy curve is concave in d\n");
    line(&mut s, "R^2 of a line through the origin, r = a d, against the R_bon form d (a - b d) on the proxy curve; b > 0 is concavity.\n");
    line(&mut s, "| size | R^2 linear | R^2 d(a - b d) | b |\n|---|---|---|---|");
    let n = f.results.len();
    let mut panel = Panel::new("", X_SQRT_KL, "proxy score");
    for (k, r) in f.results.iter().enumerate() {
        let d = bon_d(r);
        let p = ys(&r.proxy_score);
        let quad =
            fit(Form::Bon, &d, &p, &FitOptions::default()).map_err(|e| ReproError::Fit(e.to_string()))?;
        // r = a d: least squares through the origin
        let a = d.iter().zip(&p).map(|(d, p)| d * p).sum::<f64>() / d.iter().map(|d| d * d).sum::<f64>();
        let mean = p.iter().sum::<f64>() / p.len() as f64;
        let ss_tot: f64 = p.iter().map(|y| (y - mean).powi(2)).sum();
        let ss_lin: f64 = d.iter().zip(&p).map(|(d, y)| (y - a * d).powi(2)).sum();
        line(
            &mut s,
            format!(
                "| {} | {:.3} | {:.3} | {:.3} |",
                r.proxy.size,
                1.0 - ss_lin / ss_tot,
                quad.r2,
                quad.beta()
            ),
        );
        let c = spread_colour(k, n);
        panel.series.push(Series::new(
            format!("proxy, RM {}", r.proxy.size),
            c,
            LineStyle::Dashed,
            xy(&d, &p),
        ));
        let d_max = d.iter().copied().fold(0.0, f64::max);
        panel.series.push(Series::new("", c, LineStyle::Thin, vec![(0.0, 0.0), (d_max, a * d_max)]));
    }
    let fig = Figure::new("Figure 20: best-of-n proxy curves with linear fits (thin)").with_panel(panel);
    Ok(TargetOutput::new("fig20", s, Vec::new(), Some(fig), serde_json::Value::Null))
}

fn fig25(f: &Fig1) -> TargetOutput {
    let mut panel = Panel::new("", "PPO step", "clip fraction");
    let mut s = String::new();
    line(&mut s, "# fig25: PPO clip fraction\n");
    line(&mut s, "| RM | mean clip fraction, first 10% of steps | last 10% |\n|---|---|---|");
    for (k, r) in f.rl.iter().enumerate() {
        let pts: Vec<(f64, f64)> = r.logs.iter().map(|l| (l.step as f64, l.clipfrac)).collect();
        let tenth = (r.logs.len() / 10).max(1);
        let mean = |xs: &[goodhart_ppo::PpoStepLog]| {
            xs.iter().map(|l| l.clipfrac).sum::<f64>() / xs.len().max(1) as f64
        };
        line(
            &mut s,
            format!(
                "| {} | {:.4} | {:.4} |",
                r.proxy.size,
                mean(&r.logs[..tenth]),
                mean(&r.logs[r.logs.len() - tenth..])
            ),
        );
        panel.series.push(Series::new(
            format!("RM {}", r.proxy.size),
            spread_colour(k, f.rl.len()),
            LineStyle::Solid,
            pts,
        ));
    }
    let figure = (!f.rl.is_empty()).then(|| Figure::new("Figure 25: PPO clip fraction").with_panel(panel));
    TargetOutput::new("fig25", s, Vec::new(), figure, serde_json::Value::Null)
}

fn fig26(f: &Fig1) -> Result<TargetOutput, ReproError> {
    let mut s = String::new();
    line(&mut s, "# fig26: fit on small d, predict large d\n");
    line(
        &mut s,
        "Each gold curve is fitted on d <= half its largest d; the error is measured on the rest.\n",
    );
    line(&mut s, "| size | method | d cut | alpha | beta | RMSE beyond | max abs error beyond | gold sd beyond |\n|---|---|---|---|---|---|---|---|");
    let n = f.results.len();
    let mut panels = Vec::new();
    let mut json = Vec::new();
    // (method, form, RM size, d, gold)
    type GoldCurve<'a> = (&'a str, Form, &'a str, Vec<f64>, Vec<f64>);
    let runs: Vec<GoldCurve> = f
        .results
        .iter()
        .map(|r| ("bon", Form::Bon, r.proxy.size.as_str(), bon_d(r), ys(&r.gold)))
        .chain(f.rl.iter().map(|r| ("rl", Form::Rl, r.proxy.size.as_str(), rl_d(r), ys(&r.gold))))
        .collect();
    for method in ["bon", "rl"] {
        let mut panel = Panel::new(
            format!("{method}: dots measured, line fitted on the left half"),
            X_SQRT_KL,
            "gold score",
        );
        for (method_k, form, size, d, g) in runs.iter().filter(|r| r.0 == method) {
            let d_cut = d.iter().copied().fold(0.0, f64::max) / 2.0;
            let ex = match extrapolate(*form, d, g, d_cut, &FitOptions::default()) {
                Ok(ex) => ex,
                Err(e) => {
                    line(
                        &mut s,
                        format!("| {size} | {method_k} | {d_cut:.2} | - | - | cannot fit: {e} | - | - |"),
                    );
                    continue;
                }
            };
            let beyond: Vec<f64> = d.iter().zip(g).filter(|(d, _)| **d > d_cut).map(|(_, g)| *g).collect();
            let sd = Estimate::from_values(&beyond);
            line(
                &mut s,
                format!(
                    "| {size} | {method_k} | {d_cut:.2} | {:.3} | {:.3} | {} | {} | {:.3} |",
                    ex.fit.alpha(),
                    ex.fit.beta(),
                    ex.rmse_beyond.map_or("-".into(), |v| format!("{v:.3}")),
                    ex.max_abs_error_beyond.map_or("-".into(), |v| format!("{v:.3}")),
                    sd.se * (sd.n as f64).sqrt()
                ),
            );
            let c = spread_colour(f.results.iter().position(|r| r.proxy.size == *size).unwrap_or(0), n);
            panel.series.push(Series::new(format!("gold, RM {size}"), c, LineStyle::Markers, xy(d, g)));
            let d_max = d.iter().copied().fold(0.0, f64::max);
            let curve = (0..=100).map(|i| d_max * i as f64 / 100.0).map(|x| (x, ex.fit.eval(x))).collect();
            panel.series.push(Series::new("", c, LineStyle::Thin, curve));
            json.push(serde_json::json!({"size": size, "method": method_k, "d_cut": d_cut, "fit": ex.fit,
                "rmse_beyond": ex.rmse_beyond, "max_abs_error_beyond": ex.max_abs_error_beyond}));
        }
        if !panel.series.is_empty() {
            panels.push(panel);
        }
    }
    let figure = (!panels.is_empty()).then(|| {
        panels.into_iter().fold(Figure::new("Figure 26: extrapolating the fitted laws"), Figure::with_panel)
    });
    Ok(TargetOutput::new("fig26", s, Vec::new(), figure, json))
}

fn table1(p: &Pipeline) -> TargetOutput {
    let c = &p.config;
    let mut s = String::new();
    line(&mut s, format!("# table1: hyperparameters of the `{}` preset\n", c.preset));
    line(&mut s, "| stage | setting | value |\n|---|---|---|");
    let flatten = |s: &mut String, stage: &str, v: serde_json::Value| {
        fn walk(s: &mut String, stage: &str, prefix: String, v: &serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                        walk(s, stage, key, v);
                    }
                }
                other => line(s, format!("| {stage} | {prefix} | {other} |")),
            }
        }
        walk(s, stage, String::new(), &v);
    };
    let value = |x: &dyn erased::Json| x.json();
    flatten(&mut s, "world", value(&c.world));
    flatten(&mut s, "policy", value(&c.policy));
    flatten(&mut s, "gold", value(&c.gold));
    flatten(&mut s, "proxies", value(&c.proxies));
    flatten(&mut s, "bon", value(&c.bon));
    flatten(&mut s, "rl", value(&c.rl));
    flatten(&mut s, "sweeps", value(&c.sweeps));
    line(&mut s, "\nThe paper's Table 1 values and how they map onto these settings are documented on `goodhart_ppo::PpoConfig`.");
    TargetOutput::new("table1", s, Vec::new(), None, c)
}

mod erased {
    /// Serialises any config section to JSON (a tiny object-safe wrapper over `Serialize`).
    pub trait Json {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("configs serialise")
        }
    }
}

fn table2(p: &Pipeline) -> Result<TargetOutput, ReproError> {
    let Base { w, data_key, train, val, pool_key, pools, gold_scores, .. } = p.base()?;
    let size =
        p.config.proxies.sizes.first().ok_or_else(|| ReproError::Config("proxies.sizes is empty".into()))?;
    let proxy = p.proxy(&w, size, &data_key, &train, &val)?;
    let proxy_scores = p.bon_scores(&pool_key, &pools, &proxy)?;
    let prompt = 0;
    // the grid of figure 1, without running figure 1 (its PPO stages are not needed here)
    let grid = log_grid(p.config.bon.pool as u64, p.config.bon.grid_points);
    let mut s = String::new();
    line(&mut s, format!("# table2: one prompt's best-of-n answers, proxy {size}\n"));
    line(
        &mut s,
        format!(
            "Prompt: `{}`. For each n, the best of the first n pooled samples by proxy score.\n",
            w.decode(&pools.prompts[prompt])?
        ),
    );
    line(&mut s, "| n | KL_bon | response | proxy | gold | rubric |\n|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for n in grid {
        let n = n as usize;
        let best = (0..n)
            .max_by(|&a, &b| proxy_scores[prompt][a].total_cmp(&proxy_scores[prompt][b]))
            .expect("n >= 1");
        let response = &pools.responses[prompt][best];
        let text = w.decode(response)?;
        let rubric = w.rubric(&pools.prompts[prompt], response)?;
        let kl = kl_bon(n as u64).map_err(|e| ReproError::Artifact(e.to_string()))?;
        line(
            &mut s,
            format!(
                "| {n} | {kl:.2} | {text} | {:.3} | {:.3} | {rubric:.2} |",
                proxy_scores[prompt][best], gold_scores[prompt][best]
            ),
        );
        rows.push(
            serde_json::json!({"n": n, "kl": kl, "response": text, "proxy": proxy_scores[prompt][best],
            "gold": gold_scores[prompt][best], "rubric": rubric}),
        );
    }
    Ok(TargetOutput::new("table2", s, Vec::new(), None, rows))
}

// ---------------------------------------------------------------------------------------------
// Sweeps
// ---------------------------------------------------------------------------------------------

/// One (RM size, data size, epochs) cell of the data sweep.
#[derive(Debug, Clone, Serialize)]
struct DataCell {
    rm_size: String,
    pairs: usize,
    epochs: usize,
    result: BonResult,
}

fn data_sweep(target: &str, p: &Pipeline) -> Result<TargetOutput, ReproError> {
    let c = &p.config.sweeps;
    let Base { w, data_key, train, val, pool_key, pools, gold_scores, rubric_scores, .. } = p.base()?;
    let mut bon = pools.best_of_n(&p.bon_grid())?;
    let base = &p.config.proxies.train;
    // fig13 compares epochs on the smallest data size; every other target sweeps data sizes at
    // the configured epochs.
    let mut plan: Vec<(String, usize, usize)> = Vec::new();
    if target == "fig13" {
        let d =
            *c.data_sizes.first().ok_or_else(|| ReproError::Config("sweeps.data_sizes is empty".into()))?;
        let rm = c
            .data_rm_sizes
            .last()
            .ok_or_else(|| ReproError::Config("sweeps.data_rm_sizes is empty".into()))?;
        plan.push((rm.clone(), d, 1));
        plan.push((rm.clone(), (4 * d).min(train.len()), 1));
        plan.push((rm.clone(), d, 4));
    } else {
        let rms: &[String] = if target == "fig19" {
            &c.data_rm_sizes[c.data_rm_sizes.len().saturating_sub(1)..]
        } else {
            &c.data_rm_sizes
        };
        for rm in rms {
            for &d in &c.data_sizes {
                plan.push((rm.clone(), d, base.epochs));
            }
        }
    }
    let mut cells = Vec::new();
    let mut records = Vec::new();
    for (rm, pairs, epochs) in plan {
        let cfg = goodhart_rm::RmTrainConfig { epochs, ..base.clone() };
        let proxy: TrainedRm = p.proxy_with(&w, &rm, &data_key, &train, &val, pairs, &cfg)?;
        let scores = p.bon_scores(&pool_key, &pools, &proxy)?;
        let (result, rows) =
            bon_result(p, &mut bon, &pools, &proxy, &scores, &gold_scores, Some(&rubric_scores), target)?;
        records.extend(rows);
        cells.push(DataCell { rm_size: rm, pairs, epochs, result });
    }
    let mut s = String::new();
    line(&mut s, format!("# {target}: {}\n", TARGETS.iter().find(|(t, _)| *t == target).map_or("", |t| t.1)));
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
    let figure = data_figure(target, &cells);
    Ok(TargetOutput::new(target, s, records, Some(figure), &cells))
}

fn data_figure(target: &str, cells: &[DataCell]) -> Figure {
    let title = TARGETS.iter().find(|(t, _)| *t == target).map_or("", |t| t.1);
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
    match target {
        "fig6" => fig.with_panel(by_rm(&|c| c.result.proxy.val.loss, "validation loss")),
        "fig10" => fig.with_panel(by_rm(
            &|c| c.result.gold.iter().map(|e| e.mean).fold(f64::NEG_INFINITY, f64::max),
            "max gold",
        )),
        "fig17" => fig.with_panel(by_rm(&|c| c.result.alpha_bon, "alpha_bon")),
        "fig18" => fig.with_panel(by_rm(&|c| c.result.beta_bon, "beta_bon")),
        "fig21" => fig.with_panel(by_rm(&|c| gold_near_n(&c.result, 1000).1.mean, "gold near n = 1000")),
        _ => {
            // curves: one panel per RM size, one colour per data size (fig4, fig13, fig19)
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

fn rl_curves_panel(title: &str, runs: &[(String, RlResult)], recentre: bool) -> Panel {
    let mut panel = Panel::new(title, X_SQRT_KL, "RM score");
    for (k, (label, r)) in runs.iter().enumerate() {
        let c = spread_colour(k, runs.len());
        let shift = if recentre { r.gold[0].mean } else { 0.0 };
        let gold: Vec<f64> = r.gold.iter().map(|e| e.mean - shift).collect();
        let d = rl_d(r);
        panel.series.push(Series::new(format!("gold, {label}"), c, LineStyle::Solid, xy(&d, &gold)));
        let pshift = if recentre { r.proxy_score[0].mean } else { 0.0 };
        let proxy: Vec<f64> = r.proxy_score.iter().map(|e| e.mean - pshift).collect();
        panel.series.push(Series::new(format!("proxy, {label}"), c, LineStyle::Dashed, xy(&d, &proxy)));
    }
    panel
}

fn rl_table(s: &mut String, runs: &[(String, RlResult)]) {
    line(s, "| run | alpha_RL | beta_RL | R^2 | KL reached | max gold | at KL | last gold | last proxy |\n|---|---|---|---|---|---|---|---|---|");
    for (label, r) in runs {
        let k = (0..r.gold.len()).max_by(|&a, &b| r.gold[a].mean.total_cmp(&r.gold[b].mean)).unwrap_or(0);
        let last = r.gold.len() - 1;
        line(
            s,
            format!(
                "| {label} | {:.3} | {:.3} | {:.3} | {:.2} | {:.3} | {:.2} | {:.3} | {:.3} |",
                r.alpha_rl,
                r.beta_rl,
                r.r2,
                r.kl_reached,
                r.gold[k].mean,
                r.kl[k].mean,
                r.gold[last].mean,
                r.proxy_score[last].mean
            ),
        );
    }
}

fn kl_sweep(target: &str, p: &Pipeline) -> Result<TargetOutput, ReproError> {
    let c = &p.config.sweeps;
    let w = p.world()?;
    let (policy_key, policy) = p.policy(&w)?;
    let gold = p.gold(&w, &policy_key, &policy)?;
    let (data_key, train, val, _) = p.proxy_data(&w, &policy_key, &policy, &gold)?;
    let proxy = p.proxy(&w, &c.kl_rm_size, &data_key, &train, &val)?;
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
        let out = p.rl_with(&w, &policy_key, &policy, &proxy, &gold, &rl)?;
        records.extend(out.records.iter().cloned().map(|mut r| {
            r.experiment = target.to_string();
            r
        }));
        runs.push((proxy.eval.clone(), out));
    }
    let (results, _) = analyse_rl(&runs, p.config.bon.bootstrap, p.config.bon.seed)?;
    let labelled: Vec<(String, RlResult)> =
        c.kl_penalties.iter().zip(results).map(|(coef, r)| (format!("KL penalty {coef}"), r)).collect();
    if target == "fig14" {
        let mut out = kl_by_step("fig14", "KL against PPO step for each KL penalty", &labelled);
        out.records = records;
        return Ok(out);
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
    Ok(TargetOutput::new("fig9", s, records, Some(fig), json))
}

fn policy_sweep(target: &str, p: &Pipeline) -> Result<TargetOutput, ReproError> {
    let c = &p.config.sweeps;
    let w = p.world()?;
    let (main_key, main_policy) = p.policy(&w)?;
    let gold = p.gold(&w, &main_key, &main_policy)?;
    let other = PolicyStage {
        size: c.policy_size.clone(),
        pretrain: goodhart_policy::PretrainConfig {
            steps: c.policy_steps,
            ..p.config.policy.pretrain.clone()
        },
        ..p.config.policy.clone()
    };
    let (other_key, other_policy) = p.policy_with(&w, &other)?;
    let mut bon = Vec::new();
    let mut rl = Vec::new();
    let mut records = Vec::new();
    for (size, key, policy) in
        [(&p.config.policy.size, &main_key, &main_policy), (&c.policy_size, &other_key, &other_policy)]
    {
        // The same gold judges both policies; each policy's proxy learns from its own samples.
        let (data_key, train, val, _) = p.proxy_data(&w, key, policy, &gold)?;
        let proxy = p.proxy(&w, &c.policy_rm_size, &data_key, &train, &val)?;
        let (pool_key, pools) = p.bon_pools(&w, key, policy)?;
        let gold_scores = p.bon_scores(&pool_key, &pools, &gold)?;
        let scores = p.bon_scores(&pool_key, &pools, &proxy)?;
        let rubric_scores = RubricScorer::for_gold(&w, &gold)?.pool_scores(&pools)?;
        let (result, mut rows) = bon_result(
            p,
            &mut pools.best_of_n(&p.bon_grid())?,
            &pools,
            &proxy,
            &scores,
            &gold_scores,
            Some(&rubric_scores),
            target,
        )?;
        rows.iter_mut().for_each(|r| r.policy_size = size.clone());
        records.extend(rows);
        bon.push((format!("policy {size}"), result));
        let out = p.rl(&w, key, policy, &proxy, &gold)?;
        records.extend(out.records.iter().cloned().map(|mut r| {
            r.policy_size = size.clone();
            r.experiment = target.to_string();
            r
        }));
        rl.push((format!("policy {size}"), (proxy.eval.clone(), out)));
    }
    let runs: Vec<_> = rl.iter().map(|(_, x)| x.clone()).collect();
    let (rl_results, _) = analyse_rl(&runs, p.config.bon.bootstrap, p.config.bon.seed)?;
    let rl: Vec<(String, RlResult)> = rl.into_iter().map(|(l, _)| l).zip(rl_results).collect();
    let mut s = String::new();
    let title = TARGETS.iter().find(|(t, _)| *t == target).map_or("", |t| t.1);
    line(&mut s, format!("# {target}: {title}\n"));
    line(
        &mut s,
        format!(
            "Proxy {} trained on each policy's own samples (labelled by the same gold).\n",
            c.policy_rm_size
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
    let figure = match target {
        "fig15" => {
            let mut out = kl_by_step("fig15", title, &rl);
            out.markdown = format!("{s}\n{}", out.markdown.split_once('\n').map_or("", |(_, rest)| rest));
            out.records = records;
            return Ok(out);
        }
        "fig22" => Figure::new(format!("{target}: {title}")).with_panel(rl_curves_panel("PPO", &rl, false)),
        "fig23" => {
            Figure::new(format!("{target}: {title}")).with_panel(rl_curves_panel("PPO, recentred", &rl, true))
        }
        "fig24" => {
            let mut panel = Panel::new("proxy - gold", X_SQRT_KL, "proxy - gold");
            for (k, (label, r)) in rl.iter().enumerate() {
                let gap: Vec<f64> = r.proxy_score.iter().zip(&r.gold).map(|(p, g)| p.mean - g.mean).collect();
                panel.series.push(Series::new(
                    label.clone(),
                    spread_colour(k, rl.len()),
                    LineStyle::Solid,
                    xy(&rl_d(r), &gap),
                ));
            }
            Figure::new(format!("{target}: {title}")).with_panel(panel)
        }
        _ => {
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
    Ok(TargetOutput::new(target, s, records, Some(figure), json))
}
