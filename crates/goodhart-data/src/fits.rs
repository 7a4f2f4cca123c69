//! Fitted laws as a table: one [`FitRow`] per curve and score, written as
//! `<target>_fits.parquet` in the schema [`fits_schema`]; [`fits_from_records`] fits every curve
//! a target's records hold.

use std::path::Path;

use goodhart_core::{Method, Record};
use goodhart_laws::{fit, FitOptions, Form};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::table::{polars_err, write_frame};
use crate::DataError;

/// One fitted law of one curve: which cell the curve came from (the [`Record`] columns that name
/// a cell), which score was fitted (`gold` or `proxy`), the form and its parameters with 90%
/// bootstrap intervals (NaN where none were computed), the fit's quality, the fitted and the
/// measured peak, and the proxy RM's validation loss and accuracy (NaN when not known).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitRow {
    pub experiment: String,
    pub method: Method,
    pub rm_size: String,
    pub rm_params: u64,
    pub data_size: u64,
    pub policy_size: String,
    pub kl_penalty: f64,
    pub seed: u64,
    /// `gold` or `proxy`.
    pub score: String,
    /// [`goodhart_laws::Form::name`] of the fitted form.
    pub form: String,
    pub alpha: f64,
    pub alpha_lo: f64,
    pub alpha_hi: f64,
    pub beta: f64,
    pub beta_lo: f64,
    pub beta_hi: f64,
    pub r2: f64,
    pub rmse: f64,
    pub n_points: u64,
    /// The fitted curve's peak (NaN when it has none).
    pub peak_d: f64,
    pub peak_score: f64,
    /// The highest mean score measured, and where.
    pub measured_peak_d: f64,
    pub measured_peak_score: f64,
    /// The largest d measured.
    pub max_d: f64,
    pub rm_val_loss: f64,
    pub rm_val_accuracy: f64,
}

impl FitRow {
    /// A row for the cell of `record` (its experiment, method, RM, data, policy, penalty, seed),
    /// the fitted `score` and `law`; intervals, peaks and losses start as NaN.
    pub fn new(record: &Record, score: &str, law: &goodhart_laws::FittedLaw) -> Self {
        let peak = law.peak();
        FitRow {
            experiment: record.experiment.clone(),
            method: record.method,
            rm_size: record.rm_size.clone(),
            rm_params: record.rm_params,
            data_size: record.data_size,
            policy_size: record.policy_size.clone(),
            kl_penalty: record.kl_penalty,
            seed: record.seed,
            score: score.to_string(),
            form: law.form.name().to_string(),
            alpha: law.alpha(),
            alpha_lo: f64::NAN,
            alpha_hi: f64::NAN,
            beta: law.beta(),
            beta_lo: f64::NAN,
            beta_hi: f64::NAN,
            r2: law.r2,
            rmse: law.rmse,
            n_points: law.n_points as u64,
            peak_d: peak.map_or(f64::NAN, |p| p.d),
            peak_score: peak.map_or(f64::NAN, |p| p.r),
            measured_peak_d: f64::NAN,
            measured_peak_score: f64::NAN,
            max_d: f64::NAN,
            rm_val_loss: f64::NAN,
            rm_val_accuracy: f64::NAN,
        }
    }

    /// This row with the measured curve's peak and extent, from its points `(d, score)`.
    pub fn with_measured(mut self, d: &[f64], score: &[f64]) -> Self {
        let best = d.iter().zip(score).filter(|(_, s)| s.is_finite()).max_by(|a, b| a.1.total_cmp(b.1));
        if let Some((&d, &s)) = best {
            (self.measured_peak_d, self.measured_peak_score) = (d, s);
        }
        self.max_d = d.iter().copied().fold(f64::NAN, f64::max);
        self
    }

    /// This row with 90% intervals of alpha and beta.
    pub fn with_intervals(mut self, alpha: (f64, f64), beta: (f64, f64)) -> Self {
        (self.alpha_lo, self.alpha_hi, self.beta_lo, self.beta_hi) = (alpha.0, alpha.1, beta.0, beta.1);
        self
    }
}

/// The schema of `<target>_fits.parquet`: the fields of [`FitRow`], in order (the cell's first,
/// [`crate::cell::cell_schema`]).
pub fn fits_schema() -> Vec<(&'static str, DataType)> {
    let (s, u, f) = (DataType::String, DataType::UInt64, DataType::Float64);
    let mut cols = crate::cell::cell_schema();
    cols.extend([("score", s.clone()), ("form", s)]);
    for name in ["alpha", "alpha_lo", "alpha_hi", "beta", "beta_lo", "beta_hi", "r2", "rmse"] {
        cols.push((name, f.clone()));
    }
    cols.push(("n_points", u));
    for name in [
        "peak_d",
        "peak_score",
        "measured_peak_d",
        "measured_peak_score",
        "max_d",
        "rm_val_loss",
        "rm_val_accuracy",
    ] {
        cols.push((name, f.clone()));
    }
    cols
}

/// The fits as a polars frame with [`fits_schema`]'s columns.
pub fn fits_frame(fits: &[FitRow]) -> PolarsResult<DataFrame> {
    let text = |f: fn(&FitRow) -> String| fits.iter().map(f).collect::<Vec<String>>();
    let float = |f: fn(&FitRow) -> f64| fits.iter().map(f).collect::<Vec<f64>>();
    let law = df!(
        "score" => text(|r| r.score.clone()),
        "form" => text(|r| r.form.clone()),
        "alpha" => float(|r| r.alpha),
        "alpha_lo" => float(|r| r.alpha_lo),
        "alpha_hi" => float(|r| r.alpha_hi),
        "beta" => float(|r| r.beta),
        "beta_lo" => float(|r| r.beta_lo),
        "beta_hi" => float(|r| r.beta_hi),
        "r2" => float(|r| r.r2),
        "rmse" => float(|r| r.rmse),
        "n_points" => fits.iter().map(|r| r.n_points).collect::<Vec<u64>>(),
        "peak_d" => float(|r| r.peak_d),
        "peak_score" => float(|r| r.peak_score),
        "measured_peak_d" => float(|r| r.measured_peak_d),
        "measured_peak_score" => float(|r| r.measured_peak_score),
        "max_d" => float(|r| r.max_d),
        "rm_val_loss" => float(|r| r.rm_val_loss),
        "rm_val_accuracy" => float(|r| r.rm_val_accuracy),
    )?;
    let cells: Vec<crate::cell::Cell<'_>> = fits.iter().map(Into::into).collect();
    crate::cell::with_cells(&cells, law)
}

/// Writes the fits to `path` as Parquet, atomically.
///
/// # Errors
/// As [`write_parquet`]; an empty list is refused ([`DataError::Table`]): no target writes an
/// empty table.
pub fn write_fits_parquet(path: &Path, fits: &[FitRow]) -> Result<(), DataError> {
    if fits.is_empty() {
        let file = path.display().to_string();
        return Err(DataError::Table {
            file,
            reason: "no fits to write; an empty table is not written".into(),
        });
    }
    let frame = fits_frame(fits).map_err(|e| polars_err(path, e))?;
    write_frame(path, frame)
}

/// The paper's form for a method: `d (alpha - beta d)` for best-of-n, `d (alpha - beta ln d)`
/// for RL and for direct alignment (a trained policy, like RL; the `dpo` target also reports
/// the other form).
pub fn form_of(method: Method) -> Form {
    match method {
        Method::Bon => Form::Bon,
        Method::Rl | Method::Daa => Form::Rl,
    }
}

/// Whether two records come from the same curve: the same cell ([`crate::cell::Cell`]).
fn same_cell(a: &Record, b: &Record) -> bool {
    crate::cell::Cell::from(a) == crate::cell::Cell::from(b)
}

/// Fits the paper's form of each curve in `records` ([`form_of`] its method) to its gold and to
/// its proxy scores against d = sqrt(KL), curves in order of first appearance, gold before proxy.
/// A score with a non-finite value or fewer than 3 points (2 away from d = 0) is not fitted, nor
/// is one whose fit fails; intervals are left NaN (a target that has them fills them in).
pub fn fits_from_records(records: &[Record]) -> Vec<FitRow> {
    let mut cells: Vec<Vec<&Record>> = Vec::new();
    for r in records {
        match cells.iter_mut().find(|c| same_cell(c[0], r)) {
            Some(cell) => cell.push(r),
            None => cells.push(vec![r]),
        }
    }
    let mut rows = Vec::new();
    for cell in cells {
        let d: Vec<f64> = cell.iter().map(|r| r.sqrt_kl).collect();
        if cell.len() < 3 || d.iter().filter(|&&d| d > 0.0).count() < 2 {
            continue;
        }
        for (score, pick) in
            [("gold", (|r: &Record| r.gold) as fn(&Record) -> f64), ("proxy", |r: &Record| r.proxy)]
        {
            let y: Vec<f64> = cell.iter().map(|r| pick(r)).collect();
            if y.iter().any(|y| !y.is_finite()) {
                continue;
            }
            if let Ok(law) = fit(form_of(cell[0].method), &d, &y, &FitOptions::default()) {
                rows.push(FitRow::new(cell[0], score, &law).with_measured(&d, &y));
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(experiment: &str, method: Method, size: &str, law: impl Fn(f64) -> f64) -> Vec<Record> {
        (0..8)
            .map(|k| {
                let mut r = Record::new(experiment, method).with_kl((k as f64 * 0.4).powi(2));
                r.rm_size = size.into();
                (r.gold, r.proxy) = (law(r.sqrt_kl), 2.0 * r.sqrt_kl);
                r
            })
            .collect()
    }

    #[test]
    fn every_curve_of_the_records_gets_its_own_law_back() {
        let mut records = curve("x", Method::Bon, "p1k", |d| d * (1.0 - 0.25 * d));
        records.extend(curve(
            "x",
            Method::Rl,
            "p1k",
            |d| if d > 0.0 { d * (0.5 - 0.2 * d.ln()) } else { 0.0 },
        ));
        records.extend(curve("x", Method::Bon, "p3k", |d| d * (2.0 - 0.5 * d)).into_iter().take(2));
        let fits = fits_from_records(&records);
        // two curves of 8 points, gold and proxy each; the 2-point curve is not fitted
        assert_eq!(fits.len(), 4, "{fits:?}");
        let (bon, rl) = (&fits[0], &fits[2]);
        assert_eq!((bon.score.as_str(), bon.form.as_str(), rl.form.as_str()), ("gold", "bon", "rl"));
        assert!((bon.alpha - 1.0).abs() < 1e-9 && (bon.beta - 0.25).abs() < 1e-9, "{bon:?}");
        assert!((rl.alpha - 0.5).abs() < 1e-9 && (rl.beta - 0.2).abs() < 1e-9, "{rl:?}");
        assert!((bon.peak_d - 2.0).abs() < 1e-9 && (bon.measured_peak_d - 2.0).abs() < 1e-9);
        assert!((fits[1].alpha - 2.0).abs() < 1e-9, "the proxy is fitted as measured: {:?}", fits[1]);
    }

    #[test]
    fn fits_round_trip_through_parquet_and_an_empty_table_is_refused() {
        let fits = fits_from_records(&curve("x", Method::Bon, "p1k", |d| d * (1.0 - 0.25 * d)));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x_fits.parquet");
        write_fits_parquet(&path, &fits).unwrap();
        let frame = crate::table::read_parquet(&path).unwrap();
        let got: Vec<(String, DataType)> =
            frame.schema().iter().map(|(n, t)| (n.to_string(), t.clone())).collect();
        let want: Vec<(String, DataType)> =
            fits_schema().into_iter().map(|(n, t)| (n.to_string(), t)).collect();
        assert_eq!(got, want);
        assert_eq!(frame.column("alpha").unwrap().f64().unwrap().get(0), Some(fits[0].alpha));
        assert!(write_fits_parquet(&dir.path().join("empty.parquet"), &[]).is_err());
        assert!(!dir.path().join("empty.parquet").exists());
    }
}
