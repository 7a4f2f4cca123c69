//! Results as tables: every target's curve points, one row per [`Record`], in one schema (the
//! CSV's columns, in the same order) as `<target>.parquet` and `<target>.csv`, so that
//! `polars.read_parquet` and pandas open any target's results the same way. Its fitted laws are
//! in [`crate::fits`].

use std::fmt::Write as _;
use std::path::Path;

use goodhart_core::Record;
use polars::prelude::*;

use crate::DataError;

/// The schema of `<target>.parquet`: column names and types, in order (the cell's first,
/// [`crate::cell::cell_schema`]).
pub fn schema() -> Vec<(&'static str, DataType)> {
    let (u, f) = (DataType::UInt64, DataType::Float64);
    let mut cols = crate::cell::cell_schema();
    cols.extend([("n", u.clone()), ("step", u)]);
    for name in ["kl", "sqrt_kl", "gold", "gold_se", "proxy", "proxy_se", "rubric", "rubric_se", "fidelity"] {
        cols.push((name, f.clone()));
    }
    cols
}

/// The records as a polars frame with [`schema`]'s columns (`n` and `step` null where a row has
/// none; `rubric` and `fidelity` NaN where they were not measured).
pub fn records_frame(records: &[Record]) -> PolarsResult<DataFrame> {
    let maybe = |f: fn(&Record) -> Option<u64>| records.iter().map(f).collect::<Vec<Option<u64>>>();
    let float = |f: fn(&Record) -> f64| records.iter().map(f).collect::<Vec<f64>>();
    let point = df!(
        "n" => maybe(|r| r.n),
        "step" => maybe(|r| r.step),
        "kl" => float(|r| r.kl),
        "sqrt_kl" => float(|r| r.sqrt_kl),
        "gold" => float(|r| r.gold),
        "gold_se" => float(|r| r.gold_se),
        "proxy" => float(|r| r.proxy),
        "proxy_se" => float(|r| r.proxy_se),
        "rubric" => float(|r| r.rubric),
        "rubric_se" => float(|r| r.rubric_se),
        "fidelity" => float(|r| r.fidelity),
    )?;
    let cells: Vec<crate::cell::Cell<'_>> = records.iter().map(Into::into).collect();
    crate::cell::with_cells(&cells, point)
}

/// Writes the records to `path` as Parquet, atomically (temporary file, fsync, rename).
///
/// # Errors
/// [`DataError::Polars`] if polars cannot build or encode the table, [`DataError::Io`] if the
/// file cannot be written.
pub fn write_parquet(path: &Path, records: &[Record]) -> Result<(), DataError> {
    let frame = records_frame(records).map_err(|e| polars_err(path, e))?;
    write_frame(path, frame)
}

pub(crate) fn polars_err(path: &Path, e: PolarsError) -> DataError {
    DataError::Polars { path: path.to_path_buf(), reason: e.to_string() }
}

pub(crate) fn write_frame(path: &Path, mut frame: DataFrame) -> Result<(), DataError> {
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut frame).map_err(|e| polars_err(path, e))?;
    goodhart_core::write_atomic(path, &bytes).map_err(|e| DataError::io(path, e))
}

/// Records as CSV: one header row, then [`schema`]'s columns in order (`n` and `step` empty where
/// a row has none).
pub fn records_csv(records: &[Record]) -> String {
    let mut out = schema().iter().map(|(name, _)| *name).collect::<Vec<_>>().join(",");
    out.push('\n');
    for r in records {
        let o = |x: Option<u64>| x.map_or(String::new(), |v| v.to_string());
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            csv_text(&r.experiment),
            r.method,
            csv_text(&r.rm_size),
            r.rm_params,
            r.data_size,
            csv_text(&r.policy_size),
            r.kl_penalty,
            r.seed,
            o(r.n),
            o(r.step),
            r.kl,
            r.sqrt_kl,
            r.gold,
            r.gold_se,
            r.proxy,
            r.proxy_se,
            r.rubric,
            r.rubric_se,
            r.fidelity
        )
        .expect("write to string");
    }
    out
}

/// A text field as CSV writes it: quoted (inner quotes doubled) when it holds a comma, a quote or
/// a line break.
fn csv_text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

/// Reads a table written by [`write_parquet`].
///
/// # Errors
/// [`DataError::Io`] if the file cannot be opened, [`DataError::Format`] if it is not Parquet.
pub fn read_parquet(path: &Path) -> Result<DataFrame, DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    ParquetReader::new(file).finish().map_err(|e| DataError::Format {
        path: path.to_path_buf(),
        format: "Parquet",
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use goodhart_core::Method;

    use super::*;

    #[test]
    fn records_round_trip_through_parquet_in_the_documented_schema() {
        let mut a = Record::new("fig1", Method::Bon).with_n(16).with_kl(1.5);
        (a.rm_size, a.rm_params, a.gold, a.gold_se) = ("p1k".into(), 1032, 0.25, 0.01);
        let mut b = Record::new("fig1", Method::Rl).with_kl(4.0);
        (b.step, b.proxy, b.rubric) = (Some(8), 1.5, f64::NAN);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fig1.parquet");
        write_parquet(&path, &[a.clone(), b.clone()]).unwrap();
        let frame = read_parquet(&path).unwrap();
        let want: Vec<(String, DataType)> = schema().into_iter().map(|(n, t)| (n.to_string(), t)).collect();
        let got: Vec<(String, DataType)> =
            frame.schema().iter().map(|(n, t)| (n.to_string(), t.clone())).collect();
        assert_eq!(got, want);
        assert_eq!(frame.height(), 2);
        let n = frame.column("n").unwrap().u64().unwrap();
        assert_eq!((n.get(0), n.get(1)), (Some(16), None), "no n for a PPO row is a null, not 0");
        let gold = frame.column("gold").unwrap().f64().unwrap();
        assert_eq!(gold.get(0), Some(0.25));
        let method = frame.column("method").unwrap().str().unwrap();
        assert_eq!(method.get(1), Some(b.method.to_string().as_str()));
        assert!(frame.column("rubric").unwrap().f64().unwrap().get(1).unwrap().is_nan());
        assert_eq!(frame.column("sqrt_kl").unwrap().f64().unwrap().get(1), Some(2.0));
    }

    #[test]
    fn a_file_that_is_not_parquet_is_named_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        std::fs::write(&path, b"not parquet").unwrap();
        let err = read_parquet(&path).unwrap_err().to_string();
        assert!(err.contains("x.parquet") && err.contains("cannot be read as Parquet"), "{err}");
    }
}
