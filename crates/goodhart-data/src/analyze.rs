//! Your own runs through goodhart's measurement: best-of-n curves by the unbiased estimator (or
//! PPO logs as they are), recentred to start at 0, the paper's forms fitted with bootstrap
//! intervals and peaks, and the same records, fits, figure and report that `reproduce` writes.

use std::fmt::Write as _;
use std::path::Path;

use goodhart_bon::{log_grid, BonEstimator, PromptPool};
use goodhart_core::{bootstrap, Estimate, Method, Record};
use goodhart_laws::{bootstrap_ci, fit, FitOptions, FittedLaw, Form};
use goodhart_plot::{spread_colour, write_png, write_svg, Figure, LineStyle, Panel, Series};
use serde::{Deserialize, Serialize};

use crate::fits::{write_fits_parquet, FitRow};
use crate::runs::{PpoRun, Runs, SamplePools};
use crate::table::{records_csv, write_parquet};
use crate::DataError;

/// How to analyse a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeOptions {
    /// About this many log-spaced values of n, from 1 to `max_n`.
    pub grid_points: usize,
    /// The largest n (default: the smallest pool); every prompt needs at least this many samples.
    pub max_n: Option<u64>,
    /// Bootstrap resamples (of prompts for best-of-n, of logged steps for PPO) for the intervals.
    pub bootstrap: usize,
    /// The seed of the resampling.
    pub seed: u64,
    /// The `experiment` column of the records and fits.
    pub label: String,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions { grid_points: 12, max_n: None, bootstrap: 200, seed: 0, label: "analyze".into() }
    }
}

/// What [`analyze`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The table analysed.
    pub file: String,
    /// `best-of-n` or `ppo`.
    pub kind: String,
    /// Curve points in the schema of every target's `<target>.parquet`. For PPO logs, `rm_size`
    /// holds the run's name.
    pub records: Vec<Record>,
    /// The gold and proxy fits of each curve, in the schema of `<target>_fits.parquet`.
    pub fits: Vec<FitRow>,
    /// Prompts and the smallest and largest pool (best-of-n).
    pub prompts: usize,
    pub pool_sizes: (usize, usize),
    /// KL(pi || pi_ref) of the policy the pools were drawn from, averaged over samples, when the
    /// table gave log-probabilities or a KL column; best-of-n's KL is measured from that policy.
    pub pool_kl: Option<Estimate>,
    /// What was subtracted from each curve so that it starts at 0, as the paper's forms assume
    /// (the mean over all samples for best-of-n, the first logged step for PPO): `(curve, gold,
    /// proxy)`, the curve named as in `rm_size`.
    pub offsets: Vec<(String, f64, f64)>,
}

/// The fit intervals' confidence level.
const LEVEL: f64 = 0.9;

/// Analyses best-of-n pools or PPO logs as `reproduce` analyses its own.
///
/// # Errors
/// [`DataError::Table`] when a prompt has fewer samples than the n asked, the grid has too few
/// points to fit, or a PPO run has fewer than two points away from d = 0;
/// [`DataError::Analysis`] when the estimator or a fit refuses the data.
pub fn analyze(runs: &Runs, opts: &AnalyzeOptions) -> Result<Analysis, DataError> {
    match runs {
        Runs::Samples(pools) => best_of_n(pools, opts),
        Runs::Ppo(log) => {
            let mut analysis = Analysis {
                file: log.file.clone(),
                kind: "ppo".into(),
                records: Vec::new(),
                fits: Vec::new(),
                prompts: 0,
                pool_sizes: (0, 0),
                pool_kl: None,
                offsets: Vec::new(),
            };
            for run in &log.runs {
                ppo_run(&log.file, run, opts, &mut analysis)?;
            }
            Ok(analysis)
        }
    }
}

fn fit_err(what: &str) -> impl Fn(goodhart_laws::LawError) -> DataError + '_ {
    move |e| DataError::Analysis(format!("fitting {what}: {e}"))
}

/// 90% intervals of alpha and beta over the fits that succeeded.
fn intervals(fits: &[Option<(f64, f64)>]) -> ((f64, f64), (f64, f64)) {
    let ci = |xs: Vec<f64>| bootstrap_ci(&xs, LEVEL).map_or((f64::NAN, f64::NAN), |i| (i.lo, i.hi));
    (ci(fits.iter().flatten().map(|p| p.0).collect()), ci(fits.iter().flatten().map(|p| p.1).collect()))
}

fn refit(form: Form, d: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    fit(form, d, y, &FitOptions::default()).ok().map(|f| (f.alpha(), f.beta()))
}

fn best_of_n(pools: &SamplePools, opts: &AnalyzeOptions) -> Result<Analysis, DataError> {
    let file = pools.file.clone();
    let sizes: Vec<usize> = pools.proxy.iter().map(Vec::len).collect();
    if sizes.len() < 2 {
        let reason = format!("{} prompt(s): intervals resample prompts, so give at least 2", sizes.len());
        return Err(DataError::Table { file, reason });
    }
    let (small, smallest) =
        sizes.iter().enumerate().min_by_key(|(_, s)| **s).map(|(k, s)| (k, *s)).expect("2+ prompts");
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let max_n = opts.max_n.unwrap_or(smallest as u64);
    if opts.max_n.is_some_and(|n| n < 2) {
        let reason = format!("a largest n of {max_n} was asked: best-of-n curves need n up to at least 2");
        return Err(DataError::Table { file, reason });
    }
    if max_n as usize > smallest || max_n < 2 {
        let reason = format!(
            "prompt {:?} (first at {}) has {smallest} samples, but n = {max_n} was asked: best-of-n needs \
             n from 2 up to the smallest pool; give every prompt at least {} samples or ask for a smaller max n",
            pools.prompts[small],
            pools.first_at[small],
            max_n.max(2)
        );
        return Err(DataError::Table { file, reason });
    }
    let grid = log_grid(max_n, opts.grid_points);
    if grid.len() < 3 {
        let reason = format!(
            "the grid of n has {} values ({grid:?}); the fit of d (alpha - beta d) needs 3: ask for more grid points or larger pools",
            grid.len()
        );
        return Err(DataError::Table { file, reason });
    }
    let views: Vec<PromptPool> =
        pools.proxy.iter().zip(&pools.gold).map(|(p, g)| PromptPool::new(p, g)).collect();
    let estimator = BonEstimator::new(&grid).map_err(|e| DataError::Analysis(e.to_string()))?;
    let curves = estimator.estimate(&views).map_err(|e| DataError::Analysis(e.to_string()))?;
    let d: Vec<f64> = curves.kl.iter().map(|k| k.sqrt()).collect();
    // n = 1 (first in every grid) is the mean over all samples: each curve starts at 0
    let (gold_offset, proxy_offset) = (curves.gold[0].mean, curves.proxy[0].mean);
    let centred = |es: &[Estimate]| es.iter().map(|e| e.mean - es[0].mean).collect::<Vec<f64>>();
    let (gold, proxy) = (centred(&curves.gold), centred(&curves.proxy));
    let gold_law = fit(Form::Bon, &d, &gold, &FitOptions::default()).map_err(fit_err("the gold curve"))?;
    let proxy_law = fit(Form::Bon, &d, &proxy, &FitOptions::default()).map_err(fit_err("the proxy curve"))?;
    let cols = curves.ns.len();
    let mean_curve = |table: &[f64], idx: &[usize]| -> Vec<f64> {
        let mean: Vec<f64> = (0..cols)
            .map(|c| idx.iter().map(|&p| table[p * cols + c]).sum::<f64>() / idx.len() as f64)
            .collect();
        mean.iter().map(|m| m - mean[0]).collect()
    };
    let boot = bootstrap(curves.num_prompts(), opts.bootstrap, opts.seed, |idx| {
        (
            refit(Form::Bon, &d, &mean_curve(&curves.per_prompt_gold, idx)),
            refit(Form::Bon, &d, &mean_curve(&curves.per_prompt_proxy, idx)),
        )
    });
    let mut records = Vec::with_capacity(cols);
    for (k, &n) in curves.ns.iter().enumerate() {
        let mut r = Record::new(opts.label.clone(), Method::Bon).with_n(n).with_kl(curves.kl[k]);
        r.seed = opts.seed;
        (r.gold, r.gold_se) = (gold[k], curves.gold[k].se);
        (r.proxy, r.proxy_se) = (proxy[k], curves.proxy[k].se);
        records.push(r);
    }
    let boot_gold: Vec<_> = boot.iter().map(|b| b.0).collect();
    let boot_proxy: Vec<_> = boot.iter().map(|b| b.1).collect();
    let (ga, gb) = intervals(&boot_gold);
    let (pa, pb) = intervals(&boot_proxy);
    let fits = vec![
        FitRow::new(&records[0], "gold", &gold_law).with_intervals(ga, gb).with_measured(&d, &gold),
        FitRow::new(&records[0], "proxy", &proxy_law).with_intervals(pa, pb).with_measured(&d, &proxy),
    ];
    Ok(Analysis {
        file,
        kind: "best-of-n".into(),
        records,
        fits,
        prompts: pools.prompts.len(),
        pool_sizes: (smallest, largest),
        pool_kl: pools.sample_kl.as_ref().map(|kl| Estimate::from_values(kl)),
        offsets: vec![(String::new(), gold_offset, proxy_offset)],
    })
}

fn ppo_run(file: &str, run: &PpoRun, opts: &AnalyzeOptions, out: &mut Analysis) -> Result<(), DataError> {
    let d: Vec<f64> = run.kl.iter().map(|k| k.max(0.0).sqrt()).collect();
    if d.iter().filter(|&&d| d > 0.0).count() < 2 {
        let reason = format!(
            "run {:?} has {} steps with KL > 0; the fit of d (alpha - beta ln d) needs at least 2",
            run.name,
            d.iter().filter(|&&d| d > 0.0).count()
        );
        return Err(DataError::Table { file: file.into(), reason });
    }
    let what = format!("run {:?}", run.name);
    // the first logged step is the initial policy: each curve starts at 0
    let (gold_offset, proxy_offset) = (run.gold[0], run.proxy[0]);
    let gold: Vec<f64> = run.gold.iter().map(|g| g - gold_offset).collect();
    let proxy: Vec<f64> = run.proxy.iter().map(|p| p - proxy_offset).collect();
    let gold_law = fit(Form::Rl, &d, &gold, &FitOptions::default()).map_err(fit_err(&what))?;
    let proxy_law = fit(Form::Rl, &d, &proxy, &FitOptions::default()).map_err(fit_err(&what))?;
    let pick = |xs: &[f64], idx: &[usize]| idx.iter().map(|&i| xs[i]).collect::<Vec<f64>>();
    let boot = bootstrap(d.len(), opts.bootstrap, opts.seed, |idx| {
        let dd = pick(&d, idx);
        (refit(Form::Rl, &dd, &pick(&gold, idx)), refit(Form::Rl, &dd, &pick(&proxy, idx)))
    });
    let first = out.records.len();
    for k in 0..run.step.len() {
        let mut r = Record::new(opts.label.clone(), Method::Rl).with_step(run.step[k]).with_kl(run.kl[k]);
        r.rm_size = run.name.clone();
        r.seed = opts.seed;
        (r.gold, r.proxy) = (gold[k], proxy[k]);
        out.records.push(r);
    }
    let boot_gold: Vec<_> = boot.iter().map(|b| b.0).collect();
    let boot_proxy: Vec<_> = boot.iter().map(|b| b.1).collect();
    let (ga, gb) = intervals(&boot_gold);
    let (pa, pb) = intervals(&boot_proxy);
    let cell = &out.records[first];
    let gold_row = FitRow::new(cell, "gold", &gold_law).with_intervals(ga, gb).with_measured(&d, &gold);
    let proxy_row = FitRow::new(cell, "proxy", &proxy_law).with_intervals(pa, pb).with_measured(&d, &proxy);
    out.fits.extend([gold_row, proxy_row]);
    out.offsets.push((run.name.clone(), gold_offset, proxy_offset));
    Ok(())
}

impl Analysis {
    /// The fitted law of `score` for the curve named `name` (the run, or `""` for best-of-n).
    fn law(&self, name: &str, score: &str) -> Option<FittedLaw> {
        let row = self.fits.iter().find(|f| f.rm_size == name && f.score == score)?;
        let form = if row.form == Form::Rl.name() { Form::Rl } else { Form::Bon };
        Some(FittedLaw {
            form,
            params: vec![row.alpha, row.beta],
            r2: row.r2,
            rmse: row.rmse,
            n_points: row.n_points as usize,
            fixed_alpha: None,
        })
    }

    /// Curve names in order: the runs of a PPO log, `""` for best-of-n.
    fn curve_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for r in &self.records {
            if !names.contains(&r.rm_size) {
                names.push(r.rm_size.clone());
            }
        }
        names
    }

    /// Gold (solid, with standard errors), proxy (dashed) and the fitted gold law (thin) against
    /// d = sqrt(KL), one colour per curve.
    pub fn figure(&self) -> Figure {
        let names = self.curve_names();
        let mut panel = Panel::new(format!("{} of {}", self.kind, self.file), "sqrt(KL) (nats^1/2)", "score");
        for (rank, name) in names.iter().enumerate() {
            let colour = spread_colour(rank, names.len());
            let rows: Vec<&Record> = self.records.iter().filter(|r| &r.rm_size == name).collect();
            let label = if name.is_empty() { String::new() } else { format!("{name}: ") };
            let points = |f: fn(&Record) -> f64| rows.iter().map(|r| (r.sqrt_kl, f(r))).collect::<Vec<_>>();
            let mut gold = Series::new(format!("{label}gold"), colour, LineStyle::Solid, points(|r| r.gold));
            if rows.iter().all(|r| r.gold_se.is_finite()) {
                gold = gold.with_error(rows.iter().map(|r| r.gold_se).collect());
            }
            panel = panel.with_series(gold);
            panel = panel.with_series(Series::new(
                format!("{label}proxy"),
                colour,
                LineStyle::Dashed,
                points(|r| r.proxy),
            ));
            if let Some(law) = self.law(name, "gold") {
                let top = rows.iter().map(|r| r.sqrt_kl).fold(0.0, f64::max);
                let dense: Vec<(f64, f64)> = (0..=60)
                    .map(|i| top * i as f64 / 60.0)
                    .map(|d| (d, law.eval(d)))
                    .filter(|p| p.1.is_finite())
                    .collect();
                panel = panel.with_series(Series::new(
                    format!("{label}gold, fitted"),
                    colour,
                    LineStyle::Thin,
                    dense,
                ));
            }
        }
        Figure::new(format!("goodhart analyze: {}", self.file)).with_panel(panel)
    }

    /// The Markdown report: what was read, the curve points, the fits with intervals and peaks.
    pub fn markdown(&self) -> String {
        let mut s = format!("# Analysis of {}\n\n", self.file);
        if self.kind == "best-of-n" {
            let _ = writeln!(
                s,
                "Best-of-n by the unbiased estimator over {} prompts (pools of {} to {} samples); \
                 KL = ln n - (n - 1) / n from the policy the pools were drawn from.\n",
                self.prompts, self.pool_sizes.0, self.pool_sizes.1
            );
            if let Some(kl) = &self.pool_kl {
                let _ = writeln!(
                    s,
                    "That policy's own KL from the reference, averaged over samples: {:.4} (se {:.4}).\n",
                    kl.mean, kl.se
                );
            }
            s.push_str("| n | KL | sqrt(KL) | gold (se) | proxy (se) |\n|---|---|---|---|---|\n");
            for r in &self.records {
                let _ = writeln!(
                    s,
                    "| {} | {:.4} | {:.4} | {:.4} ({:.4}) | {:.4} ({:.4}) |",
                    r.n.unwrap_or(0),
                    r.kl,
                    r.sqrt_kl,
                    r.gold,
                    r.gold_se,
                    r.proxy,
                    r.proxy_se
                );
            }
        } else {
            let names = self.curve_names();
            let _ = writeln!(s, "PPO log: {} run(s), {} logged steps.\n", names.len(), self.records.len());
            s.push_str("| run | step | KL | sqrt(KL) | gold | proxy |\n|---|---|---|---|---|---|\n");
            for r in &self.records {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.4} | {:.4} | {:.4} | {:.4} |",
                    r.rm_size,
                    r.step.unwrap_or(0),
                    r.kl,
                    r.sqrt_kl,
                    r.gold,
                    r.proxy
                );
            }
        }
        s.push_str("\nScores are recentred so that each curve starts at 0, as the paper's forms assume; subtracted:\n\n");
        for (name, gold, proxy) in &self.offsets {
            let name = if name.is_empty() { "best-of-n" } else { name };
            let _ = writeln!(s, "- {name}: gold {gold:.4}, proxy {proxy:.4}");
        }
        s.push_str("\n## Fits\n\n");
        s.push_str(
            "90% bootstrap intervals; the peak of the fitted curve, and the highest mean measured.\n\n\
             | curve | score | form | alpha [90%] | beta [90%] | R^2 | fitted peak d, score | measured peak d, score |\n\
             |---|---|---|---|---|---|---|---|\n",
        );
        for f in &self.fits {
            let name = if f.rm_size.is_empty() { "best-of-n" } else { &f.rm_size };
            let _ = writeln!(
                s,
                "| {name} | {} | {} | {:.4} [{:.4}, {:.4}] | {:.4} [{:.4}, {:.4}] | {:.4} | {:.3}, {:.4} | {:.3}, {:.4} |",
                f.score,
                f.form,
                f.alpha,
                f.alpha_lo,
                f.alpha_hi,
                f.beta,
                f.beta_lo,
                f.beta_hi,
                f.r2,
                f.peak_d,
                f.peak_score,
                f.measured_peak_d,
                f.measured_peak_score
            );
        }
        s
    }
}

/// Writes an analysis into `out` as `reproduce` writes a target: `analysis.csv`,
/// `analysis.parquet`, `analysis_fits.parquet`, `analysis.json`, `report.md`, `analysis.svg`,
/// `analysis.png`, and `options.json` (what was asked), each atomically.
///
/// # Errors
/// [`DataError::Io`] if `out` or a file cannot be written, [`DataError::Polars`] if a table
/// cannot be encoded; what was written before stays.
pub fn write_analysis(out: &Path, analysis: &Analysis, opts: &AnalyzeOptions) -> Result<(), DataError> {
    std::fs::create_dir_all(out).map_err(|e| DataError::io(out, e))?;
    let w = |name: &str, text: &str| {
        let path = out.join(name);
        goodhart_core::write_atomic(&path, text.as_bytes()).map_err(|e| DataError::io(&path, e))
    };
    w("options.json", &pretty(opts))?;
    w("analysis.csv", &records_csv(&analysis.records))?;
    write_parquet(&out.join("analysis.parquet"), &analysis.records)?;
    write_fits_parquet(&out.join("analysis_fits.parquet"), &analysis.fits)?;
    w("analysis.json", &pretty(analysis))?;
    w("report.md", &analysis.markdown())?;
    let figure = analysis.figure();
    let plot_err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: goodhart_plot::PlotError| DataError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        }
    };
    let svg = out.join("analysis.svg");
    write_svg(&figure, &svg).map_err(plot_err(&svg))?;
    let png = out.join("analysis.png");
    write_png(&figure, &png).map_err(plot_err(&png))
}

/// Pretty JSON of plain data (NaN written as `null`).
fn pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("plain data serialises")
}
