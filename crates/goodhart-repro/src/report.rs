//! Results on disk: records as CSV, fits as JSON, and a Markdown report a person reads.

use std::fmt::Write as _;
use std::path::Path;

use goodhart_core::Estimate;
use goodhart_laws::Form;
use goodhart_plot::{spread_colour, Figure, LineStyle, Panel, Series};

pub use goodhart_data::table::records_csv;

use crate::fig1::Fig1;
use crate::ReproError;

fn estimate(x: Option<&Estimate>) -> String {
    x.map_or("-".into(), |e| format!("{:.3} ({:.3})", e.mean, e.se))
}

fn opt(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.3}"))
}

/// The Markdown tables of figure 1.
pub fn fig1_markdown(f: &Fig1) -> String {
    fig1_report(f, true)
}

/// [`fig1_markdown`] without the per-point curve tables: what a run prints when it finishes.
pub fn fig1_summary(f: &Fig1) -> String {
    fig1_report(f, false)
}

fn fig1_report(f: &Fig1, curves: bool) -> String {
    let mut s = String::new();
    writeln!(s, "# fig1: best-of-n (a) and PPO (b) against proxies of every size\n").unwrap();
    writeln!(
        s,
        "Goodhart mechanisms: {}. Every curve point is measured on held-out prompts.\n",
        f.mechanisms
    )
    .unwrap();
    let pr = &f.policy;
    writeln!(s, "## The initial policy, judged by the rubric\n").unwrap();
    writeln!(
        s,
        "{} samples: rubric score mean {:.3}, sd {:.3}; percentiles 5/25/50/75/95: {}.\n",
        pr.samples,
        pr.rubric.mean,
        pr.rubric_sd,
        pr.rubric_quantiles.iter().map(|q| format!("{q:.2}")).collect::<Vec<_>>().join(" / ")
    )
    .unwrap();
    writeln!(
        s,
        "Praise words per response (0..7, 8+): {}.\n",
        pr.praise_histogram.iter().map(|h| format!("{:.1}%", 100.0 * h)).collect::<Vec<_>>().join(", ")
    )
    .unwrap();
    writeln!(s, "| prompt | response | rubric | gold |\n|---|---|---|---|").unwrap();
    for (p, r, rubric, gold) in &pr.examples {
        writeln!(s, "| {p} | {r} | {rubric:.2} | {gold:.2} |").unwrap();
    }
    writeln!(s).unwrap();
    match f.gold.label_temperature {
        Some(t) => writeln!(
            s,
            "Gold: the rubric itself (no learned gold), normalised on initial-policy samples; the proxies' labels are Bradley-Terry draws at temperature {t:.3}, which agree with the rubric on {:.3} of pairs of initial-policy samples.\n",
            f.gold.val.accuracy
        ),
        None => writeln!(
            s,
            "Gold RM: {} ({} params): agreement with the rubric on held-out pairs {:.3}, validation loss {:.4}.\n",
            f.gold.size, f.gold.params, f.gold.val.accuracy, f.gold.val.loss
        ),
    }
    .unwrap();
    writeln!(
        s,
        "On the proxies' validation pairs (initial-policy samples), the gold agrees with the rubric on {:.3} of them (rubric ties count half).\n",
        f.gold_rubric_agreement_on_policy_pairs
    )
    .unwrap();
    if let Some(a) = f.gold_rubric_agreement_held_out {
        writeln!(
            s,
            "On pairs of initial-policy samples to the same held-out prompt (the best-of-n pools), the gold agrees with the rubric on {a:.3} of them; the proxies' agreement with the gold on the same pairs is in the table below.\n"
        )
        .unwrap();
    }
    writeln!(s, "## Proxy reward models\n").unwrap();
    writeln!(s, "| size | params | initial LM val loss | train pairs | val loss | val accuracy (vs gold) | agreement with gold, held-out pairs |")
        .unwrap();
    writeln!(s, "|---|---|---|---|---|---|---|").unwrap();
    for r in &f.results {
        let p = &r.proxy;
        let lm = p.lm_val_loss.map_or("(from scratch)".to_string(), |v| format!("{v:.3}"));
        writeln!(
            s,
            "| {} | {} | {lm} | {} | {:.4} | {:.3} | {} |",
            p.size,
            p.params,
            p.train_pairs,
            p.val.loss,
            p.val.accuracy,
            opt(r.proxy_gold_agreement_held_out)
        )
        .unwrap();
    }
    tails_markdown(&mut s, &f.results);
    writeln!(s, "\n## Fits of R_bon(d) = d (alpha - beta d) to the gold curve\n").unwrap();
    writeln!(
        s,
        "A fall is measured on fresh prompts: the peak is chosen on half of the held-out prompts and \
         peak minus last is measured on the other half. Concordance: the gold's fidelity (how often it orders \
         two best-of-n choices as the rubric does, the choices drawn as the estimator weighs them) at \
         the peak and at the largest n.\n"
    )
    .unwrap();
    writeln!(s, "| size | alpha_bon [90% CI] | beta_bon [90% CI] | R^2 | d* | R* | verdict | peak - last, other half (se) | proxy - gold growth, in sd units (se) | gold~rubric at peak / end |").unwrap();
    writeln!(s, "|---|---|---|---|---|---|---|---|---|---|").unwrap();
    for r in &f.results {
        writeln!(
            s,
            "| {} | {:.3} [{:.3}, {:.3}] | {:.3} [{:.3}, {:.3}] | {:.3} | {} | {} | {} | {:.3} ({:.3}) | {:.3} ({:.3}) | {} / {} |",
            r.proxy.size,
            r.alpha_bon,
            r.alpha_ci.0,
            r.alpha_ci.1,
            r.beta_bon,
            r.beta_ci.0,
            r.beta_ci.1,
            r.r2,
            opt(r.peak_d),
            opt(r.peak_r),
            r.verdict,
            r.fall.amount.mean,
            r.fall.amount.se,
            r.gap_growth.mean,
            r.gap_growth.se,
            opt(r.gold_rubric_concordance_peak),
            opt(r.gold_rubric_concordance_end)
        )
        .unwrap();
    }
    trusted_markdown(
        &mut s,
        "best-of-n",
        f.results.iter().map(|r| (r.proxy.size.as_str(), r.trusted.as_ref())),
    );
    if curves {
        bon_curves_markdown(&mut s, f);
    }
    rl_markdown(&mut s, f, curves);
    s
}

fn bon_curves_markdown(s: &mut String, f: &Fig1) {
    writeln!(s, "\n## Curves (mean over prompts, standard error in parentheses)\n").unwrap();
    for r in &f.results {
        writeln!(
            s,
            "### proxy {}\n\n| n | KL_bon | tie-aware KL | Beirami's estimate | sqrt KL | proxy | gold | rubric | gold fidelity |\n|---|---|---|---|---|---|---|---|---|",
            r.proxy.size
        )
        .unwrap();
        for k in 0..r.ns.len() {
            writeln!(
                s,
                "| {} | {:.3} | {:.3} | {} | {:.3} | {:.3} ({:.3}) | {:.3} ({:.3}) | {} | {} |",
                r.ns[k],
                r.kl[k],
                r.kl_tie_aware[k],
                opt(r.kl_beirami.get(k).copied()),
                r.kl[k].sqrt(),
                r.proxy_score[k].mean,
                r.proxy_score[k].se,
                r.gold[k].mean,
                r.gold[k].se,
                estimate(r.rubric.get(k)),
                opt(r.fidelity.get(k).copied())
            )
            .unwrap();
        }
        writeln!(s).unwrap();
    }
}

/// One line per curve: how far along it the gold orders the curve's points as the rubric does.
fn trusted_markdown<'a>(
    s: &mut String,
    method: &str,
    ranges: impl Iterator<Item = (&'a str, Option<&'a goodhart_findings::stats::TrustedRange>)>,
) {
    writeln!(
        s,
        "\nWhere the gold can be trusted ({method}): the largest d up to which it orders the curve's points (the optimised policies) as the rubric does: no two points between which gold and rubric move in opposite directions, each by more than {} se. The fidelity column (how often the gold orders two samples as the rubric does) is a measurement beside it.\n",
        goodhart_findings::stats::SIGNIFICANT_SE
    )
    .unwrap();
    for (size, t) in ranges {
        let t = t.map_or("no rubric scores: not measured".to_string(), |t| t.to_string());
        writeln!(s, "- proxy {size}: {t}").unwrap();
    }
}

fn rl_markdown(s: &mut String, f: &Fig1, curves: bool) {
    let Some(alpha) = f.rl_alpha_shared else {
        return;
    };
    writeln!(s, "## fig1b: PPO against the proxy, gold tracked\n").unwrap();
    writeln!(
        s,
        "Fits of R_RL(d) = d (alpha - beta ln d) to the gold curve, alpha free and alpha shared by every size (alpha = {alpha:.3}).\n"
    )
    .unwrap();
    writeln!(s, "| size | alpha_RL | beta_RL | R^2 | beta_RL (shared alpha) | R^2 (shared) | d* | R* | KL reached | verdict | peak - last, other half (se) | proxy rises | gold~rubric at peak / end |").unwrap();
    writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|---|").unwrap();
    let yes = |b: bool| if b { "yes" } else { "no" };
    for r in &f.rl {
        writeln!(
            s,
            "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {:.2} | {} | {:.3} ({:.3}) | {} | {} / {} |",
            r.proxy.size,
            r.alpha_rl,
            r.beta_rl,
            r.r2,
            r.beta_rl_shared,
            r.r2_shared,
            opt(r.peak_d),
            opt(r.peak_r),
            r.kl_reached,
            r.verdict,
            r.fall.amount.mean,
            r.fall.amount.se,
            yes(r.proxy_rises),
            opt(r.gold_rubric_concordance_peak),
            opt(r.gold_rubric_concordance_end)
        )
        .unwrap();
    }
    trusted_markdown(s, "PPO", f.rl.iter().map(|r| (r.proxy.size.as_str(), r.trusted.as_ref())));
    writeln!(s).unwrap();
    if !curves {
        return;
    }
    for r in &f.rl {
        writeln!(
            s,
            "### PPO vs proxy {}\n\n| step | KL (se) | sqrt KL | proxy | gold | rubric | gold fidelity |\n|---|---|---|---|---|---|---|",
            r.proxy.size
        )
        .unwrap();
        for k in 0..r.steps.len() {
            writeln!(
                s,
                "| {} | {:.3} ({:.3}) | {:.3} | {:.3} ({:.3}) | {:.3} ({:.3}) | {} | {} |",
                r.steps[k],
                r.kl[k].mean,
                r.kl[k].se,
                r.kl[k].mean.max(0.0).sqrt(),
                r.proxy_score[k].mean,
                r.proxy_score[k].se,
                r.gold[k].mean,
                r.gold[k].se,
                estimate(r.rubric.get(k)),
                opt(r.fidelity.get(k).copied())
            )
            .unwrap();
        }
        writeln!(s).unwrap();
    }
}

/// One run's curves on a panel as the paper draws them: gold solid with a band of one standard
/// error (none where it is undefined), proxy dashed, both in `colour`, against `d`.
pub(crate) fn push_curves(
    panel: &mut Panel,
    label: &str,
    colour: usize,
    d: &[f64],
    gold: &[Estimate],
    proxy: &[Estimate],
) {
    let points =
        |ys: &[Estimate]| -> Vec<(f64, f64)> { d.iter().zip(ys).map(|(&d, y)| (d, y.mean)).collect() };
    let se = gold.iter().map(|e| e.se).collect();
    panel
        .series
        .push(Series::new(format!("gold, {label}"), colour, LineStyle::Solid, points(gold)).with_error(se));
    panel.series.push(Series::new(format!("proxy, {label}"), colour, LineStyle::Dashed, points(proxy)));
}

/// Figure 1 as the paper draws it: score against sqrt(KL), one colour per proxy size, gold solid
/// (with a band of one standard error), proxy dashed, the fitted gold law thin; (a) best-of-n,
/// (b) PPO when there are RL runs.
pub fn fig1_figure(f: &Fig1) -> Figure {
    let sizes: Vec<&str> = f.results.iter().map(|r| r.proxy.size.as_str()).collect();
    let colour = |size: &str| spread_colour(sizes.iter().position(|s| *s == size).unwrap_or(0), sizes.len());
    let x_label = "sqrt(KL) (nats^1/2)";
    let law = |form: Form, params: [f64; 2], d_max: f64| -> Vec<(f64, f64)> {
        (0..=100).map(|i| d_max * i as f64 / 100.0).map(|d| (d, form.eval(&params, d))).collect()
    };
    let curve = |panel: &mut Panel,
                 size: &str,
                 d: &[f64],
                 gold: &[Estimate],
                 proxy: &[Estimate],
                 fit: Vec<(f64, f64)>| {
        let c = colour(size);
        push_curves(panel, &format!("RM {size}"), c, d, gold, proxy);
        panel.series.push(Series::new("", c, LineStyle::Thin, fit));
    };
    // the rubric (the truth the gold stands for) as markers, and the gold's fidelity to it on a
    // panel of its own with the threshold of the trusted range
    let rubric = |panel: &mut Panel, size: &str, d: &[f64], rubric: &[Estimate]| {
        if rubric.len() == d.len() {
            let points = d.iter().zip(rubric).map(|(&d, r)| (d, r.mean)).collect();
            panel.series.push(Series::new(
                format!("rubric, RM {size}"),
                colour(size),
                LineStyle::Markers,
                points,
            ));
        }
    };
    let fidelity = |panel: &mut Panel, size: &str, d: &[f64], fidelity: &[f64]| {
        if fidelity.len() == d.len() {
            let points = d.iter().zip(fidelity).map(|(&d, &f)| (d, f)).filter(|p| p.1.is_finite()).collect();
            panel.series.push(Series::new(format!("RM {size}"), colour(size), LineStyle::Solid, points));
        }
    };
    let threshold = |panel: &mut Panel, d_max: f64| {
        let t = goodhart_findings::stats::MIN_FIDELITY;
        panel.series.push(Series::new(
            format!("{t}: reference (trust follows the order rule)"),
            0,
            LineStyle::Thin,
            vec![(0.0, t), (d_max, t)],
        ));
    };
    let mut bon = Panel::new("(a) best-of-n", x_label, "RM score");
    let mut bon_fidelity = Panel::new("(c) gold's fidelity to the rubric, best-of-n", x_label, "fidelity");
    let mut bon_d_max: f64 = 0.0;
    for r in &f.results {
        let d: Vec<f64> = r.kl.iter().map(|k| k.sqrt()).collect();
        let d_max = d.iter().copied().fold(0.0, f64::max);
        bon_d_max = bon_d_max.max(d_max);
        let fit = law(Form::Bon, [r.alpha_bon, r.beta_bon], d_max);
        curve(&mut bon, &r.proxy.size, &d, &r.gold, &r.proxy_score, fit);
        rubric(&mut bon, &r.proxy.size, &d, &r.rubric);
        fidelity(&mut bon_fidelity, &r.proxy.size, &d, &r.fidelity);
    }
    let mut fig = Figure::new(
        "Figure 1: gold (solid), proxy (dashed) and rubric (dots) against KL, fitted gold law thin; the gold's fidelity below",
    )
    .with_panel(bon);
    let mut rl_fidelity = Panel::new("(d) gold's fidelity to the rubric, PPO", x_label, "fidelity");
    let mut rl_d_max: f64 = 0.0;
    if let Some(alpha) = f.rl_alpha_shared {
        let mut rl = Panel::new("(b) PPO", x_label, "RM score");
        for r in &f.rl {
            // in order of d: a PPO run's KL need not grow at every evaluation
            let mut order: Vec<usize> = (0..r.kl.len()).collect();
            order.sort_by(|&a, &b| r.kl[a].mean.total_cmp(&r.kl[b].mean));
            let pick = |xs: &[Estimate]| -> Vec<Estimate> {
                order.iter().filter_map(|&k| xs.get(k).copied()).collect()
            };
            let d: Vec<f64> = order.iter().map(|&k| r.kl[k].mean.max(0.0).sqrt()).collect();
            let d_max = d.iter().copied().fold(0.0, f64::max);
            rl_d_max = rl_d_max.max(d_max);
            let fit = law(Form::Rl, [alpha, r.beta_rl_shared], d_max);
            curve(&mut rl, &r.proxy.size, &d, &pick(&r.gold), &pick(&r.proxy_score), fit);
            rubric(&mut rl, &r.proxy.size, &d, &pick(&r.rubric));
            let fid: Vec<f64> = order.iter().filter_map(|&k| r.fidelity.get(k).copied()).collect();
            fidelity(&mut rl_fidelity, &r.proxy.size, &d, &fid);
        }
        fig = fig.with_panel(rl);
    }
    // a strip under the panels, column by column: the PPO strip only under a PPO panel
    for (mut panel, d_max) in [(bon_fidelity, bon_d_max), (rl_fidelity, rl_d_max)] {
        if !panel.series.is_empty() {
            threshold(&mut panel, d_max);
            fig = fig.with_strip(panel);
        }
    }
    fig
}

/// Writes `fig1.csv` and `fig1.parquet` (every curve point), `fig1_fits.parquet` (every curve's
/// fits), `fig1.json` (everything), `config.json`, `report.md` and the figure as `fig1.svg` and `fig1.png` into `out` (atomically each).
pub fn write_fig1(out: &Path, f: &Fig1, config_json: &str) -> Result<(), ReproError> {
    crate::targets::TargetOutput::fig1(f).write(out, config_json)
}

/// The tails of each proxy and of its error on the pools (Hill's estimator), when measured.
fn tails_markdown(s: &mut String, results: &[crate::fig1::BonResult]) {
    let measured: Vec<_> =
        results.iter().filter_map(|r| r.tails.map(|t| (r.proxy.size.as_str(), t))).collect();
    if measured.is_empty() {
        return;
    }
    writeln!(
        s,
        "\n## Tails of the initial policy's samples\n\nHill's tail index (larger: heavier; 90% interval) of each proxy and of its error (proxy minus gold, each in units of its spread, centred per prompt) over the pools: where the error's tail is the heavier, the samples a proxy rates highest are mostly its error (`goodhart_findings::tails`).\n"
    )
    .unwrap();
    writeln!(s, "| size | proxy | proxy - gold | error heavier |\n|---|---|---|---|").unwrap();
    for (size, t) in measured {
        let verdict = if t.error.heavier_than(&t.proxy) {
            "yes"
        } else if t.proxy.heavier_than(&t.error) {
            "no, lighter"
        } else {
            "no (intervals overlap)"
        };
        writeln!(s, "| {size} | {} | {} | {verdict} |", t.proxy, t.error).unwrap();
    }
}
