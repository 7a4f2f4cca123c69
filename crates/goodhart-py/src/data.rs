//! `goodhart_data::analyze` on a file or on a data frame's columns.

use std::path::PathBuf;

use goodhart_data::input::{from_columns, read_table, Cell, RawTable};
use goodhart_data::{analyze, write_analysis, AnalyzeOptions, Runs};
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString};

use crate::error;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(analyze_file, m)?)?;
    m.add_function(wrap_pyfunction!(analyze_columns, m)?)?;
    Ok(())
}

/// Analyses `table` and writes the results under `out` when given: `(analysis as JSON, report)`.
fn run(
    py: Python<'_>,
    table: RawTable,
    out: Option<PathBuf>,
    opts: AnalyzeOptions,
) -> PyResult<(String, String)> {
    py.detach(|| {
        let runs = Runs::from_table(&table)?;
        let analysis = analyze(&runs, &opts)?;
        if let Some(out) = &out {
            write_analysis(out, &analysis, &opts)?;
        }
        let json = serde_json::to_string(&analysis).expect("an analysis serialises");
        Ok::<_, goodhart_data::DataError>((json, analysis.markdown()))
    })
    .map_err(error)
}

fn options(
    grid_points: usize,
    max_n: Option<i64>,
    bootstrap: usize,
    seed: u64,
    label: String,
) -> PyResult<AnalyzeOptions> {
    let max_n = max_n.map(|n| crate::bon::positive_n(n, "max_n")).transpose()?;
    Ok(AnalyzeOptions { grid_points, max_n, bootstrap, seed, label })
}

#[pyfunction]
#[pyo3(signature = (path, out=None, grid_points=12, max_n=None, bootstrap=200, seed=0, label="analyze".to_string()))]
#[allow(clippy::too_many_arguments)]
fn analyze_file(
    py: Python<'_>,
    path: PathBuf,
    out: Option<PathBuf>,
    grid_points: usize,
    max_n: Option<i64>,
    bootstrap: usize,
    seed: u64,
    label: String,
) -> PyResult<(String, String)> {
    let opts = options(grid_points, max_n, bootstrap, seed, label)?;
    let table = py.detach(|| read_table(&path)).map_err(error)?;
    run(py, table, out, opts)
}

/// One column: a float64 array (NaN is a missing value, as a data frame's null becomes), or a
/// sequence of numbers, strings and `None`.
fn cells(name: &str, values: &Bound<'_, PyAny>) -> PyResult<Vec<Cell>> {
    if let Ok(array) = values.extract::<PyReadonlyArray1<'_, f64>>() {
        let array = array.as_array();
        return Ok(array.iter().map(|&x| if x.is_nan() { Cell::Null } else { Cell::Number(x) }).collect());
    }
    let mut out = Vec::new();
    for (i, v) in values.try_iter()?.enumerate() {
        let v = v?;
        out.push(if v.is_none() {
            Cell::Null
        } else if v.is_instance_of::<PyBool>() {
            return Err(error(format!(
                "column {name:?}, row {}: a boolean; scores and ids are numbers or text",
                i + 1
            )));
        } else if v.is_instance_of::<PyString>() {
            Cell::Text(v.extract()?)
        } else if let Ok(x) = v.extract::<f64>() {
            if x.is_nan() {
                Cell::Null
            } else {
                Cell::Number(x)
            }
        } else {
            Cell::Text(v.str()?.to_string())
        });
    }
    Ok(out)
}

#[pyfunction]
#[pyo3(signature = (columns, name, out=None, grid_points=12, max_n=None, bootstrap=200, seed=0, label="analyze".to_string()))]
#[allow(clippy::too_many_arguments)]
fn analyze_columns(
    py: Python<'_>,
    columns: Vec<(String, Bound<'_, PyAny>)>,
    name: String,
    out: Option<PathBuf>,
    grid_points: usize,
    max_n: Option<i64>,
    bootstrap: usize,
    seed: u64,
    label: String,
) -> PyResult<(String, String)> {
    let opts = options(grid_points, max_n, bootstrap, seed, label)?;
    let columns = columns.iter().map(|(n, v)| Ok((n.clone(), cells(n, v)?))).collect::<PyResult<Vec<_>>>()?;
    let table = from_columns(columns, &name).map_err(error)?;
    run(py, table, out, opts)
}
