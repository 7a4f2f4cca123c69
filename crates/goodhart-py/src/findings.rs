//! `goodhart_findings`: figure 1's checks on a `fig1.json`, the gold's trusted range of one
//! curve, and a results table read into columns.

use std::path::PathBuf;

use goodhart_core::Estimate;
use goodhart_data::input::{read_table, Cell};
use goodhart_findings::checks::{fig1_checks as checks_of, within_trust, Check};
use goodhart_findings::records::Fig1;
use goodhart_findings::stats::{order_trusted_range, over_runs as combine};
use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::error;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fig1_checks, m)?)?;
    m.add_function(wrap_pyfunction!(trusted_range, m)?)?;
    m.add_function(wrap_pyfunction!(read_columns, m)?)?;
    m.add_function(wrap_pyfunction!(over_runs, m)?)?;
    m.add_function(wrap_pyfunction!(tail_index, m)?)?;
    m.add_function(wrap_pyfunction!(kl_spent_check, m)?)?;
    Ok(())
}

/// One check as `(name, applies, passed, detail)`.
type CheckRow = (String, bool, bool, String);

/// A trusted range as `(up_to, measured_to, worst_beyond, threshold, description)`.
type RangeRow = (f64, f64, f64, f64, String);

fn row(c: Check) -> CheckRow {
    (c.name, c.applies, c.passed, c.detail)
}

/// Figure 1's checks (`goodhart_findings::checks::fig1_checks`) on the text of a `fig1.json`.
#[pyfunction]
fn fig1_checks(py: Python<'_>, json: &str) -> PyResult<Vec<CheckRow>> {
    let fig: Fig1 = serde_json::from_str(json)
        .map_err(|e| error(format!("not a fig1.json of `cargo xtask reproduce fig1` ({e})")))?;
    Ok(py.detach(|| checks_of(&fig)).into_iter().map(row).collect())
}

/// `goodhart_findings::stats::order_trusted_range` on one curve, its points in any order:
/// `(up_to, measured_to, worst_beyond, threshold, description)`, `None` when the rubric is
/// missing (an empty curve, or NaN rubric means).
#[pyfunction]
fn trusted_range(
    d: PyReadonlyArray1<'_, f64>,
    gold: PyReadonlyArray1<'_, f64>,
    gold_se: PyReadonlyArray1<'_, f64>,
    rubric: PyReadonlyArray1<'_, f64>,
    rubric_se: PyReadonlyArray1<'_, f64>,
) -> PyResult<Option<RangeRow>> {
    let d = d.as_array().to_vec();
    let columns = [("gold", &gold), ("gold_se", &gold_se), ("rubric", &rubric), ("rubric_se", &rubric_se)];
    for (name, c) in columns {
        if c.as_array().len() != d.len() {
            return Err(error(format!(
                "{name} has {} points but d has {}: one per point",
                c.as_array().len(),
                d.len()
            )));
        }
    }
    if d.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return Err(error("d must be finite and >= 0 at every point (d = sqrt(KL))"));
    }
    let estimates = |mean: &PyReadonlyArray1<'_, f64>, se: &PyReadonlyArray1<'_, f64>| -> Vec<Estimate> {
        mean.as_array()
            .iter()
            .zip(se.as_array().iter())
            .map(|(&mean, &se)| Estimate { mean, se, n: 0 })
            .collect()
    };
    let (gold, rubric) = (estimates(&gold, &gold_se), estimates(&rubric, &rubric_se));
    if rubric.iter().any(|r| r.mean.is_nan()) {
        return Ok(None);
    }
    Ok(order_trusted_range(&d, &gold, &rubric)
        .map(|t| (t.up_to, t.measured_to, t.worst_beyond, t.threshold, t.to_string())))
}

/// `goodhart_findings::stats::over_runs` at every point of `R` runs' curves (`[run, point]`
/// means and standard errors): the mean over runs and a standard error that holds the spread
/// between them.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn over_runs<'py>(
    py: Python<'py>,
    means: PyReadonlyArray2<'py, f64>,
    ses: PyReadonlyArray2<'py, f64>,
) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>)> {
    let (means, ses) = (means.as_array(), ses.as_array());
    if means.shape() != ses.shape() {
        return Err(error(format!(
            "means have shape {:?} but ses {:?}: one se per mean",
            means.shape(),
            ses.shape()
        )));
    }
    if means.nrows() == 0 {
        return Err(error("no runs: give at least one row of means"));
    }
    let (mean, se): (Vec<f64>, Vec<f64>) = (0..means.ncols())
        .map(|k| {
            let runs: Vec<Estimate> = means
                .column(k)
                .iter()
                .zip(ses.column(k))
                .map(|(&mean, &se)| Estimate { mean, se, n: 0 })
                .collect();
            let e = combine(&runs);
            (e.mean, e.se)
        })
        .unzip();
    Ok((PyArray1::from_vec(py, mean), PyArray1::from_vec(py, se)))
}

/// `goodhart_findings::tails::hill_tail_index`: `(gamma, lo, hi, k, n)`, `None` when the tail
/// cannot be estimated.
#[pyfunction]
fn tail_index(values: PyReadonlyArray1<'_, f64>) -> Option<(f64, f64, f64, usize, usize)> {
    let values = values.as_array().to_vec();
    goodhart_findings::tails::hill_tail_index(&values).map(|t| (t.gamma, t.lo, t.hi, t.k, t.n))
}

/// A table file (Parquet, CSV, JSON lines) as JSON: `[[name, [value, ...]], ...]`, a null
/// `None`.
#[pyfunction]
fn read_columns(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    let table = py.detach(|| read_table(&path)).map_err(error)?;
    let columns: Vec<(String, Vec<serde_json::Value>)> = table
        .columns
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let values = table
                .rows
                .iter()
                .map(|r| match &r[j] {
                    Cell::Null => serde_json::Value::Null,
                    Cell::Number(x) => serde_json::json!(x),
                    Cell::Text(s) => serde_json::Value::String(s.clone()),
                })
                .collect();
            (name.clone(), values)
        })
        .collect();
    Ok(serde_json::to_string(&columns).expect("columns serialise"))
}

/// One curve of a results table for a check: `(kl, gold, gold_se, rubric, rubric_se)` per point.
type CurveColumns<'py> = (
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, f64>,
);

/// F4 (`goodhart_findings::checks::kl_spent_check`) for one proxy size from its best-of-n and PPO
/// curves, gated by each curve's trusted range as `cargo xtask verify` gates it.
#[pyfunction]
fn kl_spent_check(size: &str, bon: CurveColumns<'_>, rl: CurveColumns<'_>) -> PyResult<CheckRow> {
    let read = |(kl, gold, gold_se, rubric, rubric_se): &CurveColumns<'_>, what: &str| {
        let v = |a: &PyReadonlyArray1<'_, f64>| a.as_array().to_vec();
        let (kl, gold, gold_se, rubric, rubric_se) = (v(kl), v(gold), v(gold_se), v(rubric), v(rubric_se));
        if [gold.len(), gold_se.len(), rubric.len(), rubric_se.len()].iter().any(|&n| n != kl.len()) {
            return Err(error(format!(
                "the {what} curve's columns have different lengths: one value per point"
            )));
        }
        let est = |m: &[f64], s: &[f64]| -> Vec<Estimate> {
            m.iter().zip(s).map(|(&mean, &se)| Estimate { mean, se, n: 0 }).collect()
        };
        let d: Vec<f64> = kl.iter().map(|k| k.max(0.0).sqrt()).collect();
        let trusted = if rubric.iter().any(|r| r.is_nan()) {
            None
        } else {
            order_trusted_range(&d, &est(&gold, &gold_se), &est(&rubric, &rubric_se))
        };
        Ok((kl, gold, trusted))
    };
    let (bon_kl, bon_gold, bon_trusted) = read(&bon, "best-of-n")?;
    let (rl_kl, rl_gold, rl_trusted) = read(&rl, "PPO")?;
    let check = goodhart_findings::checks::kl_spent_check(size, &bon_kl, &bon_gold, &rl_kl, &rl_gold);
    Ok(row(within_trust(check, [("bon", bon_trusted.as_ref()), ("rl", rl_trusted.as_ref())])))
}
