//! Every `cargo xtask reproduce` target: a typed registry ([`TARGETS`]) of what each computes,
//! from which stages, and how it is drawn and reported, with the code split by family. Targets
//! that read figure 1's curves (`from_fig1`) reuse its cached stages; the sweeps (`data_sweep`,
//! `kl_sweep`, `policy_sweep`) add stages of their own; `tables` holds the tables and the
//! diagram; the controls live in [`crate::controls`].

pub mod bon_family;
mod data_sweep;
mod dpo;
mod early_warning;
mod ensembles;
mod from_fig1;
pub mod iterated;
mod kl_placement;
mod kl_sweep;
mod policy_sweep;
mod tables;

use std::fmt::Write as _;
use std::path::Path;

use goodhart_core::{Estimate, Record};
use goodhart_plot::{spread_colour, write_png, write_svg, Figure, LineStyle, Panel, Series};
use serde::Serialize;

use goodhart_data::fits::{fits_from_records, write_fits_parquet, FitRow};

use crate::fig1::{fig1, BonResult, RlResult};
use crate::pipeline::Pipeline;
use crate::report::records_csv;
use crate::ReproError;
use goodhart_findings::checks::Check;

/// Where a target's data comes from, which decides the code that runs it; within a family, which
/// target it is, as a type of its own (the code matches on it, never on the name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Figure 1 itself ([`crate::fig1`], its output [`TargetOutput::fig1`]).
    Fig1,
    /// Read off figure 1's curves and fits.
    FromFig1(FromFig1),
    /// The RM data-size sweep.
    DataSweep(DataSweep),
    /// The KL-penalty sweep.
    KlSweep(KlSweep),
    /// The policy-size sweep.
    PolicySweep(PolicySweep),
    /// Iterated RLHF, run (finding 9).
    Iterated,
    /// Tables and the diagram of the setup.
    Tables(Table),
    /// The controls (optimising the gold itself; every Goodhart mechanism off).
    Controls(Controls),
    /// Reward-model ensembles against overoptimisation (beyond the paper).
    Ensembles,
    /// Direct alignment algorithms, DPO and IPO (beyond the paper).
    Daa,
    /// Early warning of overoptimisation without the gold (beyond the paper).
    EarlyWarning,
    /// Best-of-n, Best-of-Poisson and soft best-of-n on the same pools (beyond the paper).
    BonFamily,
    /// Where the KL penalty goes, PPO and GRPO (beyond the paper).
    KlPlacement,
}

/// The targets read off figure 1's curves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromFig1 {
    Fig3,
    Fig5,
    Fig8,
    Fig11,
    Fig12,
    Fig16,
    Fig20,
    Fig25,
    Fig26,
}

/// The targets of the RM data-size sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataSweep {
    Fig4,
    Fig6,
    Fig10,
    Fig13,
    Fig17,
    Fig18,
    Fig19,
    Fig21,
}

/// The targets of the KL-penalty sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KlSweep {
    Fig9,
    Fig14,
}

/// The targets of the policy-size sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySweep {
    Fig7,
    Fig15,
    Fig22,
    Fig23,
    Fig24,
}

/// The tables and the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Fig2,
    Table1,
    Table2,
}

/// The controls: all of them, or the gold's own alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controls {
    /// Control (a), the null controls and the world with every mechanism off (`controls`).
    All,
    /// Control (a) and the null controls on figure 1's stages (`gold-controls`).
    GoldOnly,
}

/// How `cargo xtask verify` reads a target's checks of the paper's findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// None: the target carries no check.
    No,
    /// From figure 1's own `fig1.json`.
    Fig1,
    /// From the controls' `<name>.json`.
    Controls,
    /// From `<name>_checks.json` ([`checks_file`]).
    ChecksFile,
}

/// One target of `cargo xtask reproduce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Its name on the command line and in file names (nowhere compared in code: match on
    /// [`Target::family`]).
    pub name: &'static str,
    /// One line on what it shows.
    pub what: &'static str,
    pub family: Family,
    /// Where `verify` finds its checks.
    pub checked: Checked,
}

/// Figure 1's name: its records' `experiment`, its results folder (defined at the crate's root,
/// which the stages read without importing the registry).
pub use crate::FIG1;

/// Every target, in the paper's order.
pub const TARGETS: &[Target] = &[
    t(FIG1, Family::Fig1, Checked::Fig1,
        "RM-size sweep: (a) best-of-n, (b) PPO; gold and proxy against sqrt(KL), fitted laws",
    ),
    t("fig2", Family::Tables(Table::Fig2), Checked::No, "the synthetic setup (gold labels -> proxy RM), as a diagram"),
    t("fig3", Family::FromFig1(FromFig1::Fig3), Checked::No, "fitted alpha_bon, beta_bon, beta_RL against RM parameters"),
    t("fig4", Family::DataSweep(DataSweep::Fig4), Checked::No, "RM data-size sweep, best-of-n"),
    t("fig5", Family::FromFig1(FromFig1::Fig5), Checked::No, "RM validation loss against best-of-n gold at n = 1000"),
    t("fig6", Family::DataSweep(DataSweep::Fig6), Checked::No, "RM validation loss by data size and RM size"),
    t("fig7", Family::PolicySweep(PolicySweep::Fig7), Checked::ChecksFile, "policy size: best-of-n and PPO with the same proxy size on two policies"),
    t("fig8", Family::FromFig1(FromFig1::Fig8), Checked::ChecksFile, "proxy against gold score, best-of-n and PPO"),
    t("fig9", Family::KlSweep(KlSweep::Fig9), Checked::ChecksFile, "PPO under several KL penalties: gold against sqrt(KL)"),
    t("fig10", Family::DataSweep(DataSweep::Fig10), Checked::No, "max gold score for each RM size x data size"),
    t("fig11", Family::FromFig1(FromFig1::Fig11), Checked::No, "validation loss by RM size"),
    t("fig12", Family::FromFig1(FromFig1::Fig12), Checked::No, "best-of-n peak gold predicted by the closed form against observed"),
    t("fig13", Family::DataSweep(DataSweep::Fig13), Checked::ChecksFile, "1 epoch x D vs 1 epoch x 4D vs 4 epochs x D comparisons"),
    t("fig14", Family::KlSweep(KlSweep::Fig14), Checked::No, "KL against PPO step for each KL penalty"),
    t("fig15", Family::PolicySweep(PolicySweep::Fig15), Checked::No, "KL against PPO step by policy size"),
    t("fig16", Family::FromFig1(FromFig1::Fig16), Checked::No, "KL against PPO step by RM size"),
    t("fig17", Family::DataSweep(DataSweep::Fig17), Checked::No, "alpha_bon against RM data size"),
    t("fig18", Family::DataSweep(DataSweep::Fig18), Checked::No, "beta_bon against RM data size"),
    t("fig19", Family::DataSweep(DataSweep::Fig19), Checked::No, "best-of-n data sweep with the largest swept RM"),
    t("fig20", Family::FromFig1(FromFig1::Fig20), Checked::No, "the best-of-n proxy curve is concave: a linear fit fails"),
    t("fig21", Family::DataSweep(DataSweep::Fig21), Checked::ChecksFile, "best-of-n gold at n = 1000 by data size x RM size"),
    t("fig22", Family::PolicySweep(PolicySweep::Fig22), Checked::No, "PPO with the swept proxy at both policy sizes"),
    t("fig23", Family::PolicySweep(PolicySweep::Fig23), Checked::No, "fig7's PPO panel recentred to start at 0"),
    t("fig24", Family::PolicySweep(PolicySweep::Fig24), Checked::No, "proxy - gold gap in the PPO policy sweep"),
    t("fig25", Family::FromFig1(FromFig1::Fig25), Checked::No, "PPO clip fraction by step"),
    t("fig26", Family::FromFig1(FromFig1::Fig26), Checked::ChecksFile, "extrapolation: fit on small d, predict large d"),
    t("iterated", Family::Iterated, Checked::ChecksFile,
        "iterated RLHF: k = 1, 2, 4 rounds of d/k each against the prediction d(alpha - beta ln d + beta ln k)",
    ),
    t("table1", Family::Tables(Table::Table1), Checked::No, "hyperparameters of every stage"),
    t("table2", Family::Tables(Table::Table2), Checked::No, "one prompt's best-of-n answers at n = 1 .. N with proxy and gold"),
    t("controls", Family::Controls(Controls::All), Checked::Controls,
        "no fall without Goodhart: optimising the gold itself; every mechanism off",
    ),
    t("gold-controls", Family::Controls(Controls::GoldOnly), Checked::Controls,
        "control (a) and the null controls alone: best-of-n and PPO against the gold itself, the rubric tracked (figure 1's stages, no second world)",
    ),
    t("ensembles", Family::Ensembles, Checked::ChecksFile,
        "beyond the paper: best-of-n and PPO against one proxy vs mean / worst-case / uncertainty-weighted ensembles, with and without label noise",
    ),
    t("dpo", Family::Daa, Checked::ChecksFile, "beyond the paper: DPO and IPO on the gold-labelled pairs across beta, gold against sqrt(KL)"),
    t("early-warning", Family::EarlyWarning, Checked::ChecksFile,
        "beyond the paper: signals from PPO's logs (KL acceleration, entropy collapse, proxy shift) against the gold's peak, thresholds from seed 0 scored on seeds 1-3",
    ),
    t("bon-family", Family::BonFamily, Checked::ChecksFile,
        "beyond the paper: best-of-n, Best-of-Poisson and soft best-of-n on the same pools, exact KLs, thresholds tuned on seed 0 scored on seeds 1-3",
    ),
    t("kl-placement", Family::KlPlacement, Checked::ChecksFile,
        "beyond the paper: the KL penalty in the reward (k1) or the loss (k2, k3, ratio-weighted k3), PPO and critic-free GRPO, gold and rubric against sqrt(KL)",
    ),
];

impl Target {
    /// Whether `reproduce all` and `verify all` include it: the paper's targets do; the
    /// experiments beyond the paper run only when named.
    pub fn in_all(&self) -> bool {
        // gold-controls is a part of controls, which `all` runs
        !matches!(
            self.family,
            Family::Ensembles
                | Family::Daa
                | Family::EarlyWarning
                | Family::BonFamily
                | Family::KlPlacement
                | Family::Controls(Controls::GoldOnly)
        )
    }

    /// Whether it reads figure 1's curves, and so every stage of figure 1's plan.
    pub fn reads_fig1(&self) -> bool {
        matches!(self.family, Family::Fig1 | Family::FromFig1(_))
    }

    /// Whether it is figure 1 (with its own
    /// `--seeds`, cells and launcher).
    pub fn is_fig1(&self) -> bool {
        self.family == Family::Fig1
    }
}

/// A registry entry.
const fn t(name: &'static str, family: Family, checked: Checked, what: &'static str) -> Target {
    Target { name, what, family, checked }
}

/// The target called `name`.
///
/// # Errors
/// [`ReproError::Config`] naming the known targets.
pub fn target(name: &str) -> Result<&'static Target, ReproError> {
    TARGETS.iter().find(|t| t.name == name).ok_or_else(|| {
        ReproError::Config(format!(
            "unknown target {name:?}: one of {}",
            TARGETS.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
        ))
    })
}

/// Whether `name` is a target (fig1 included).
pub fn is_target(name: &str) -> bool {
    target(name).is_ok()
}

/// What a target produced: a report, the rows, a figure, and everything as JSON.
pub struct TargetOutput {
    pub name: String,
    pub markdown: String,
    /// What a run prints when it is done: the whole report, or (figure 1) its fits and verdicts
    /// without the per-point tables.
    pub summary: String,
    pub records: Vec<Record>,
    pub figure: Option<Figure>,
    /// The target's results as pretty JSON text, written as `<name>.json` ([`TargetOutput::json_value`]
    /// parses it).
    pub json: String,
    /// The paper's findings this target carries, checked on its results (written to
    /// `<name>_checks.json`, read by `cargo xtask verify`; figure 1's are read from its JSON).
    pub checks: Vec<Check>,
    /// The paper's form fitted to every curve of `records`, gold and proxy
    /// (`<name>_fits.parquet`), with what the target knows beyond its records filled in
    /// ([`crate::fig1::fill_fits`]).
    pub fits: Vec<FitRow>,
}

impl TargetOutput {
    fn new(
        name: &str,
        markdown: String,
        records: Vec<Record>,
        figure: Option<Figure>,
        json: impl Serialize,
    ) -> Self {
        let value = serde_json::to_value(json).expect("results serialise");
        TargetOutput {
            name: name.to_string(),
            summary: markdown.clone(),
            markdown,
            fits: fits_from_records(&records),
            records,
            figure,
            json: serde_json::to_string_pretty(&value).expect("serialises"),
            checks: Vec::new(),
        }
    }

    /// Figure 1 as a target's output: its rows, fits (with the intervals and proxy losses of
    /// its results), `fig1.json` (the whole [`crate::fig1::Fig1`], in its own field order), report,
    /// figure, and its summary (the fits and verdicts) to print.
    pub fn fig1(f: &crate::fig1::Fig1) -> Self {
        let mut out = TargetOutput {
            name: FIG1.to_string(),
            markdown: crate::report::fig1_markdown(f),
            summary: crate::report::fig1_summary(f),
            fits: fits_from_records(&f.records),
            records: f.records.clone(),
            figure: Some(crate::report::fig1_figure(f)),
            json: serde_json::to_string_pretty(f).expect("serialises"),
            checks: Vec::new(),
        };
        crate::fig1::fill_fits(&mut out.fits, &f.results, &f.rl);
        out
    }

    /// [`TargetOutput::json`] parsed.
    pub fn json_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.json).expect("a target's JSON is valid")
    }

    fn with_checks(mut self, checks: Vec<Check>) -> Self {
        self.checks = checks;
        self
    }

    /// This output with other records, and the fits of those.
    fn with_records(mut self, records: Vec<Record>) -> Self {
        self.fits = fits_from_records(&records);
        self.records = records;
        self
    }

    /// The fits with the intervals and proxy losses of the results the records came from.
    fn with_results<'a>(
        mut self,
        bon: impl IntoIterator<Item = &'a BonResult>,
        rl: impl IntoIterator<Item = &'a RlResult>,
    ) -> Self {
        crate::fig1::fill_fits(&mut self.fits, bon, rl);
        self
    }

    /// Writes `report.md`, `<name>.csv` and `<name>.parquet` (when it has rows),
    /// `<name>_fits.parquet` (when it has fits), `<name>.json`, `config.json`, the checks
    /// (`<name>_checks.json`, when the target has any) and the figure (`.svg`, `.png`) into
    /// `out`, each atomically.
    pub fn write(&self, out: &Path, config_json: &str) -> Result<(), ReproError> {
        let w = |name: &str, text: &str| {
            goodhart_core::write_atomic(&out.join(name), text.as_bytes())
                .map_err(|e| ReproError::io(&out.join(name), e))
        };
        w("report.md", &self.markdown)?;
        // Tables and the diagram have no curve rows: no CSV rather than an empty one.
        if !self.records.is_empty() {
            w(&format!("{}.csv", self.name), &records_csv(&self.records))?;
            crate::table::write_parquet(&out.join(format!("{}.parquet", self.name)), &self.records)?;
        }
        if !self.fits.is_empty() {
            write_fits_parquet(&out.join(format!("{}_fits.parquet", self.name)), &self.fits)?;
        }
        w(&format!("{}.json", self.name), &self.json)?;
        w("config.json", config_json)?;
        if !self.checks.is_empty() {
            w(&checks_file(&self.name), &serde_json::to_string_pretty(&self.checks).expect("serialises"))?;
        }
        if let Some(fig) = &self.figure {
            let plot_err = |e: goodhart_plot::PlotError| ReproError::Artifact(e.to_string());
            write_svg(fig, &out.join(format!("{}.svg", self.name))).map_err(plot_err)?;
            write_png(fig, &out.join(format!("{}.png", self.name))).map_err(plot_err)?;
        }
        Ok(())
    }
}

/// The targets that carry checks of the paper's findings (`cargo xtask verify`).
pub fn checked() -> impl Iterator<Item = &'static Target> {
    TARGETS.iter().filter(|t| t.checked != Checked::No)
}

/// The file a target's checks are written to.
pub fn checks_file(target: &str) -> String {
    format!("{target}_checks.json")
}

/// Runs `t` on the pipeline's stores.
///
/// # Errors
/// Whatever its stages or checks report.
pub fn reproduce(t: &Target, p: &Pipeline) -> Result<TargetOutput, ReproError> {
    match t.family {
        Family::Fig1 => Ok(TargetOutput::fig1(&fig1(p)?)),
        Family::FromFig1(FromFig1::Fig11) => {
            let f = fig1(p)?;
            Ok(from_fig1::fig11(&f, &chance_proxies(p)?).with_results(&f.results, &f.rl))
        }
        Family::FromFig1(kind) => {
            let f = fig1(p)?;
            Ok(from_fig1::run(kind, &f)?.with_results(&f.results, &f.rl))
        }
        Family::DataSweep(kind) => data_sweep::run(t.name, kind, p),
        Family::KlSweep(kind) => kl_sweep::run(t.name, kind, p),
        Family::PolicySweep(kind) => policy_sweep::run(t.name, kind, p),
        Family::Iterated => iterated::run(p),
        Family::Ensembles => ensembles::run(p),
        Family::Daa => dpo::run(p),
        Family::EarlyWarning => early_warning::run(p),
        Family::BonFamily => bon_family::run(p),
        Family::KlPlacement => kl_placement::run(p),
        Family::Tables(kind) => tables::run(kind, p),
        Family::Controls(kind) => {
            let (c, off) = crate::controls::controls(p, kind == Controls::All)?;
            let markdown = crate::controls::markdown(t.name, &c);
            let figure = crate::controls::figure(&c, off.as_ref());
            let records = c.records.clone();
            Ok(TargetOutput::new(t.name, markdown, records, Some(figure), c))
        }
    }
}

/// The proxies of `sweeps.chance_rm_sizes`, trained on figure 1's data.
fn chance_proxies(p: &Pipeline) -> Result<Vec<crate::pipeline::RmReport>, ReproError> {
    let w = p.world()?;
    let policy = p.policy(&w)?;
    let gold = p.gold(&w, &policy)?;
    let data = p.proxy_data(&w, &policy, &gold)?;
    p.config.sweeps.chance_rm_sizes.iter().map(|size| Ok(p.proxy(&w, size, &data)?.eval)).collect()
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

/// Best-of-n's d from the exact KL of its pools (below the analytic one where pools repeat
/// samples), where the result has it.
fn bon_d_tie_aware(r: &BonResult) -> Vec<f64> {
    if r.kl_tie_aware.len() == r.kl.len() {
        r.kl_tie_aware.iter().map(|k| k.max(0.0).sqrt()).collect()
    } else {
        bon_d(r)
    }
}

/// The gold at the grid point nearest `n` (the paper reads its data-size figures at n = 1000).
fn gold_near_n(r: &BonResult, n: u64) -> (u64, Estimate) {
    let k = near_n(r, n);
    (r.ns[k], r.gold[k])
}

/// The grid point whose n is nearest `n`.
fn near_n(r: &BonResult, n: u64) -> usize {
    (0..r.ns.len()).min_by_key(|&k| r.ns[k].abs_diff(n)).expect("non-empty grid")
}

/// sqrt(KL) of [`gold_near_n`]'s point.
fn d_near_n(r: &BonResult, n: u64) -> f64 {
    r.kl[near_n(r, n)].max(0.0).sqrt()
}

fn line(s: &mut String, text: impl AsRef<str>) {
    writeln!(s, "{}", text.as_ref()).expect("write to string");
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
    let json: Vec<_> = runs
        .iter()
        .map(|(label, r)| serde_json::json!({"run": label, "step": r.steps, "kl": r.kl, "gold": r.gold}))
        .collect();
    let records = runs.iter().flat_map(|(_, r)| rl_records(name, r)).collect();
    TargetOutput::new(name, s, records, figure, json)
}

/// The rows of a PPO curve, one per evaluation.
fn rl_records(experiment: &str, r: &RlResult) -> Vec<Record> {
    (0..r.steps.len())
        .map(|k| {
            let mut rec = Record::new(experiment, goodhart_core::Method::Rl).with_kl(r.kl[k].mean.max(0.0));
            rec.step = Some(r.steps[k]);
            rec.rm_size = r.proxy.size.clone();
            rec.rm_params = r.proxy.params;
            rec.data_size = r.proxy.train_pairs as u64;
            (rec.gold, rec.gold_se) = (r.gold[k].mean, r.gold[k].se);
            (rec.proxy, rec.proxy_se) = (r.proxy_score[k].mean, r.proxy_score[k].se);
            if let Some(rubric) = r.rubric.get(k) {
                (rec.rubric, rec.rubric_se) = (rubric.mean, rubric.se);
            }
            rec.fidelity = r.fidelity.get(k).copied().unwrap_or(f64::NAN);
            rec
        })
        .collect()
}

/// Points in order of x: a PPO run's sampled KL does not grow at every evaluation, and a line
/// drawn in step order would run back and forth along the KL axis.
fn by_x(mut points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

/// A curve of estimates against `x`, drawn in order of x with its standard errors as error
/// bars (PPO's and DPO's KL need not grow at every evaluation).
fn curve_with_error(label: String, colour: usize, style: LineStyle, x: &[f64], y: &[Estimate]) -> Series {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let points = order.iter().map(|&i| (x[i], y[i].mean)).collect();
    Series::new(label, colour, style, points).with_error(order.iter().map(|&i| y[i].se).collect())
}

fn rl_curves_panel(title: &str, runs: &[(String, RlResult)], recentre: bool) -> Panel {
    let mut panel = Panel::new(title, X_SQRT_KL, "RM score");
    for (k, (label, r)) in runs.iter().enumerate() {
        let c = spread_colour(k, runs.len());
        let shift = if recentre { r.gold[0].mean } else { 0.0 };
        let gold: Vec<f64> = r.gold.iter().map(|e| e.mean - shift).collect();
        let d = rl_d(r);
        panel.series.push(Series::new(format!("gold, {label}"), c, LineStyle::Solid, by_x(xy(&d, &gold))));
        let pshift = if recentre { r.proxy_score[0].mean } else { 0.0 };
        let proxy: Vec<f64> = r.proxy_score.iter().map(|e| e.mean - pshift).collect();
        panel.series.push(Series::new(format!("proxy, {label}"), c, LineStyle::Dashed, by_x(xy(&d, &proxy))));
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

/// The one-line description of the target `name` ("" for an unknown name).
fn target_what(name: &str) -> &'static str {
    target(name).map_or("", |t| t.what)
}
