//! The targets read off figure 1: coefficient trends, RM loss against gold, proxy against
//! gold, peaks, KL by step, the concavity of best-of-n, clip fractions, extrapolation.

use goodhart_core::Estimate;
use goodhart_laws::{extrapolate, fit, log_linear_regression, FitOptions, Form};
use goodhart_plot::{spread_colour, Figure, LineStyle, Panel, Series};

use super::*;
use crate::fig1::{Fig1, RlResult};
use crate::ReproError;
use goodhart_findings::checks::sweeps::{extrapolation_check, regressional_check, RegressionalPoint};
use goodhart_findings::checks::within_trust;

/// Runs the target `kind` of this family on figure 1's results (fig11, which trains proxies
/// of its own, has [`fig11`]).
pub(super) fn run(kind: FromFig1, f: &Fig1) -> Result<TargetOutput, ReproError> {
    match kind {
        FromFig1::Fig3 => Ok(fig3(f)),
        FromFig1::Fig5 => Ok(fig5(f)),
        FromFig1::Fig8 => Ok(fig8(f)),
        FromFig1::Fig11 => {
            Err(ReproError::Config("fig11 trains proxies of its own: targets::reproduce runs it".into()))
        }
        FromFig1::Fig12 => Ok(fig12(f)),
        FromFig1::Fig16 => {
            let runs: Vec<(String, RlResult)> =
                f.rl.iter().map(|r| (format!("RM {}", r.proxy.size), r.clone())).collect();
            Ok(kl_by_step("fig16", "KL against PPO step by RM size", &runs))
        }
        FromFig1::Fig20 => fig20(f),
        FromFig1::Fig25 => Ok(fig25(f)),
        FromFig1::Fig26 => fig26(f),
    }
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
    TargetOutput::new("fig3", s, f.records.clone(), Some(fig), json)
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
    TargetOutput::new("fig5", s, f.records.clone(), Some(fig), &rows)
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
    line(&mut s, "\n## Finding 8: regressional Goodhart\n");
    line(
        &mut s,
        "If the proxy's error were purely regressional, best-of-n gold would be the proxy curve times the slope \
         of gold on proxy over initial-policy samples, so alpha_bon(gold) / alpha_bon(proxy) would equal that \
         slope. 90% bootstrap intervals over prompts.\n",
    );
    line(
        &mut s,
        "| size | slope Cov(gold, proxy) / Var(proxy) | alpha_bon(gold) / alpha_bon(proxy) |\n|---|---|---|",
    );
    let points: Vec<RegressionalPoint> = f
        .results
        .iter()
        .filter_map(|r| {
            let g = r.regressional.as_ref()?;
            Some(RegressionalPoint {
                size: r.proxy.size.clone(),
                slope: g.slope,
                slope_ci: g.slope_ci,
                alpha_ratio: g.alpha_ratio,
                alpha_ratio_ci: g.alpha_ratio_ci,
            })
        })
        .collect();
    for p in &points {
        let (slope, ratio) = p.intervals();
        line(&mut s, format!("| {} | {slope} | {ratio} |", p.size));
    }
    let curve = |size: &str, method: &str, proxy: &[Estimate], gold: &[Estimate]| serde_json::json!({"size": size, "method": method, "proxy": proxy, "gold": gold});
    let json = serde_json::json!({
        "curves": f.results.iter().map(|r| curve(&r.proxy.size, "bon", &r.proxy_score, &r.gold))
            .chain(f.rl.iter().map(|r| curve(&r.proxy.size, "rl", &r.proxy_score, &r.gold)))
            .collect::<Vec<_>>(),
        "regressional": f.results.iter().map(|r| serde_json::json!({"size": r.proxy.size, "regressional": r.regressional})).collect::<Vec<_>>(),
    });
    let ranges = f.results.iter().map(|r| (r.proxy.size.as_str(), r.trusted.as_ref()));
    TargetOutput::new("fig8", s, f.records.clone(), Some(fig), json)
        .with_checks(vec![within_trust(regressional_check(&points), ranges)])
}

/// fig11: figure 1's proxies and the smaller ones (`sweeps.chance_rm_sizes`, trained on the same
/// data) by validation loss, against chance.
pub(super) fn fig11(f: &Fig1, smaller: &[crate::pipeline::RmReport]) -> TargetOutput {
    let mut s = String::new();
    line(&mut s, "# fig11: validation loss by RM size (chance = ln 2 = 0.693)\n");
    line(
        &mut s,
        "The axis counts every parameter, embeddings included: this world's signal is lexical (which words a \
         response uses), and the embeddings carry it, so the smallest trunks are not the smallest models.\n",
    );
    line(
        &mut s,
        "| size | params (non-embedding) | params (total) | val loss | val accuracy | within 0.01 of chance |\n|---|---|---|---|---|---|",
    );
    let mut pts = Vec::new();
    let reports: Vec<&crate::pipeline::RmReport> =
        smaller.iter().chain(f.results.iter().map(|r| &r.proxy)).collect();
    for r in &reports {
        let at_chance =
            r.val.loss >= std::f64::consts::LN_2 - goodhart_findings::checks::sweeps::CHANCE_MARGIN;
        line(
            &mut s,
            format!(
                "| {} | {} | {} | {:.4} | {:.3} | {} |",
                r.size,
                r.params,
                r.total_params,
                r.val.loss,
                r.val.accuracy,
                if at_chance { "yes" } else { "no" }
            ),
        );
        pts.push(((r.total_params as f64).log10(), r.val.loss));
    }
    let chance: Vec<(f64, f64)> = pts.iter().map(|&(x, _)| (x, std::f64::consts::LN_2)).collect();
    let fig = Figure::new("Figure 11: proxy validation loss by RM size").with_panel(
        Panel::new("", "log10 RM parameters (total, with embeddings)", "validation loss (nats)")
            .with_series(Series::new("proxy RMs", 0, LineStyle::Solid, pts))
            .with_series(Series::new("chance (ln 2)", 7, LineStyle::Dashed, chance)),
    );
    TargetOutput::new("fig11", s, f.records.clone(), Some(fig), reports)
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
        f.records.clone(),
        figure,
        serde_json::json!({"predicted": predicted, "observed": observed}),
    )
}

fn fig20(f: &Fig1) -> Result<TargetOutput, ReproError> {
    let mut s = String::new();
    line(&mut s, "# fig20: the best-of-n proxy curve is concave in d\n");
    line(&mut s, "R^2 of a line through the origin, r = a d, against the R_bon form d (a - b d) on the proxy curve; b > 0 is concavity.\n");
    line(&mut s, "| size | R^2 linear | R^2 d(a - b d) | b |\n|---|---|---|---|");
    let n = f.results.len();
    let mut panel = Panel::new("", X_SQRT_KL, "proxy score");
    let mut json = Vec::new();
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
        json.push(serde_json::json!({"size": r.proxy.size, "d": d, "proxy": p, "linear_slope": a,
            "r2_linear": 1.0 - ss_lin / ss_tot, "r2_bon": quad.r2, "alpha": quad.alpha(), "beta": quad.beta()}));
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
    Ok(TargetOutput::new("fig20", s, f.records.clone(), Some(fig), json))
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
    let json: Vec<_> =
        f.rl.iter()
            .map(|r| {
                let steps: Vec<usize> = r.logs.iter().map(|l| l.step).collect();
                let clipfrac: Vec<f64> = r.logs.iter().map(|l| l.clipfrac).collect();
                serde_json::json!({"size": r.proxy.size, "step": steps, "clipfrac": clipfrac})
            })
            .collect();
    TargetOutput::new("fig25", s, f.records.clone(), figure, json)
}

/// The paper's protocol for finding 2: forms chosen on n <= 1000 and checked at n = 60,000, a
/// ratio of d of about 0.77; here each curve is fitted on d <= this fraction of its largest d.
pub const EXTRAPOLATION_CUT: f64 = 0.77;

fn fig26(f: &Fig1) -> Result<TargetOutput, ReproError> {
    let mut s = String::new();
    line(&mut s, "# fig26: fit on small d, predict large d\n");
    line(
        &mut s,
        format!(
            "Each gold curve is fitted on d <= {EXTRAPOLATION_CUT} of its largest d (the paper's n <= 1000 against n = 60,000); \
             the error is measured on the rest. Best-of-n's d is the tie-aware one (the exact KL of each pool, which repeats samples).\n"
        ),
    );
    line(
        &mut s,
        "Each accepted form is compared by held-out error with the rejected form of the same parameter count, \
         d(alpha - beta ln(1 + d)), fitted on the same points and scored on the same points beyond the cut; \
         best-of-n also with the three-parameter d(alpha - beta d^gamma), which contains it.\n",
    );
    line(&mut s, "| size | method | d cut | alpha | beta | RMSE beyond | max abs error beyond | gold sd beyond | d(alpha - beta ln(1 + d)) RMSE beyond | d(alpha - beta d^gamma) RMSE beyond |\n|---|---|---|---|---|---|---|---|---|---|");
    // (curve, RMSE beyond of the accepted form, of the rejected form): best-of-n against the
    // two-parameter alternative, PPO against it, best-of-n against the three-parameter form
    let mut errors: [Vec<(String, f64, f64)>; 3] = Default::default();
    let n = f.results.len();
    let mut panels = Vec::new();
    let mut json = Vec::new();
    // (method, form, RM size, d, gold)
    type GoldCurve<'a> = (&'a str, Form, &'a str, Vec<f64>, Vec<f64>);
    let runs: Vec<GoldCurve> = f
        .results
        .iter()
        .map(|r| ("bon", Form::Bon, r.proxy.size.as_str(), bon_d_tie_aware(r), ys(&r.gold)))
        .chain(f.rl.iter().map(|r| ("rl", Form::Rl, r.proxy.size.as_str(), rl_d(r), ys(&r.gold))))
        .collect();
    for method in ["bon", "rl"] {
        let mut panel = Panel::new(
            format!("{method}: dots measured, line fitted left of {EXTRAPOLATION_CUT} of the range"),
            X_SQRT_KL,
            "gold score",
        );
        for (method_k, form, size, d, g) in runs.iter().filter(|r| r.0 == method) {
            let d_cut = EXTRAPOLATION_CUT * d.iter().copied().fold(0.0, f64::max);
            let ex = match extrapolate(*form, d, g, d_cut, &FitOptions::default()) {
                Ok(ex) => ex,
                Err(e) => {
                    line(
                        &mut s,
                        format!(
                            "| {size} | {method_k} | {d_cut:.2} | - | - | cannot fit: {e} | - | - | - | - |"
                        ),
                    );
                    continue;
                }
            };
            let beyond: Vec<f64> = d.iter().zip(g).filter(|(d, _)| **d > d_cut).map(|(_, g)| *g).collect();
            let sd = Estimate::from_values(&beyond);
            let held_out = |form: Form| {
                extrapolate(form, d, g, d_cut, &FitOptions::default()).ok().and_then(|x| x.rmse_beyond)
            };
            let rejected_form = Form::RlLog1p;
            let rejected = held_out(rejected_form);
            let power = (*form == Form::Bon).then(|| held_out(Form::BonPower)).flatten();
            if let (Some(a), Some(r)) = (ex.rmse_beyond, rejected) {
                errors[usize::from(*method_k == "rl")].push((size.to_string(), a, r));
            }
            if let (Some(a), Some(r)) = (ex.rmse_beyond, power) {
                errors[2].push((size.to_string(), a, r));
            }
            line(
                &mut s,
                format!(
                    "| {size} | {method_k} | {d_cut:.2} | {:.3} | {:.3} | {} | {} | {:.3} | {} | {} |",
                    ex.fit.alpha(),
                    ex.fit.beta(),
                    ex.rmse_beyond.map_or("-".into(), |v| format!("{v:.3}")),
                    ex.max_abs_error_beyond.map_or("-".into(), |v| format!("{v:.3}")),
                    sd.se * (sd.n as f64).sqrt(),
                    rejected.map_or("-".into(), |v| format!("{v:.3}")),
                    power.map_or("-".into(), |v| format!("{v:.3}"))
                ),
            );
            let c = spread_colour(f.results.iter().position(|r| r.proxy.size == *size).unwrap_or(0), n);
            panel.series.push(Series::new(format!("gold, RM {size}"), c, LineStyle::Markers, xy(d, g)));
            let d_max = d.iter().copied().fold(0.0, f64::max);
            let curve = (0..=100).map(|i| d_max * i as f64 / 100.0).map(|x| (x, ex.fit.eval(x))).collect();
            panel.series.push(Series::new("", c, LineStyle::Thin, curve));
            json.push(serde_json::json!({"size": size, "method": method_k, "d_cut": d_cut, "fit": ex.fit,
                "rmse_beyond": ex.rmse_beyond, "max_abs_error_beyond": ex.max_abs_error_beyond,
                "rejected_form": format!("{rejected_form:?}"), "rejected_rmse_beyond": rejected,
                "power_rmse_beyond": power}));
        }
        if !panel.series.is_empty() {
            panels.push(panel);
        }
    }
    let figure = (!panels.is_empty()).then(|| {
        panels.into_iter().fold(Figure::new("Figure 26: extrapolating the fitted laws"), Figure::with_panel)
    });
    // each reads every curve of its method to its end: N/A where the gold is not trusted there
    let bon = || f.results.iter().map(|r| (r.proxy.size.as_str(), r.trusted.as_ref()));
    let rl = || f.rl.iter().map(|r| (r.proxy.size.as_str(), r.trusted.as_ref()));
    let checks = vec![
        within_trust(
            extrapolation_check("bon", "d(alpha - beta d)", "d(alpha - beta ln(1 + d))", &errors[0]),
            bon(),
        ),
        within_trust(
            extrapolation_check("rl", "d(alpha - beta ln d)", "d(alpha - beta ln(1 + d))", &errors[1]),
            rl(),
        ),
        within_trust(
            extrapolation_check(
                "bon",
                "d(alpha - beta d)",
                "the three-parameter d(alpha - beta d^gamma)",
                &errors[2],
            ),
            bon(),
        ),
    ];
    Ok(TargetOutput::new("fig26", s, f.records.clone(), figure, json).with_checks(checks))
}
