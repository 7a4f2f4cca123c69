//! goodhart's results as data, without burn: the one schema of curve points and fits that every
//! `reproduce` target writes (Parquet through polars, and CSV), and [`analyze`], which puts your
//! own best-of-n pools or PPO logs through the same estimator, fits, figure and report.
//!
//! # Your own runs
//!
//! A table of per-sample scores (columns `prompt_id`, `proxy`, `gold`; optional `sample_id`, and
//! `logp_policy` with `logp_ref` or a per-sample `kl`) becomes best-of-n curves by the unbiased
//! estimator, with `KL = ln n - (n - 1) / n`; a PPO log (columns `step`, `kl`, `proxy`, `gold`;
//! optional `run`) becomes one curve per run. Either is fitted with the paper's form, with
//! bootstrap intervals and the peak:
//!
//! ```
//! use goodhart_data::{analyze, AnalyzeOptions, Runs};
//!
//! // Two prompts of four samples each: `(prompt_id, proxy, gold)` rows.
//! let csv = "prompt_id,proxy,gold\na,0.1,0.0\na,0.9,0.6\na,0.5,0.7\na,0.2,0.1\n\
//!            b,0.3,0.2\nb,0.8,0.1\nb,0.4,0.5\nb,0.0,0.0\n";
//! let runs = Runs::from_table(&goodhart_data::input::parse_csv(csv, "example.csv")?)?;
//! let analysis = analyze(&runs, &AnalyzeOptions { grid_points: 3, ..AnalyzeOptions::default() })?;
//! assert_eq!(analysis.records.len(), 3); // n = 1, 2, 4
//! # Ok::<(), goodhart_data::DataError>(())
//! ```

pub mod analyze;
pub mod cell;
pub mod fits;
pub mod input;
pub mod runs;
pub mod table;

use std::path::PathBuf;

pub use analyze::{analyze, write_analysis, Analysis, AnalyzeOptions};
pub use fits::{fits_from_records, FitRow};
pub use runs::{PpoLog, Runs, SamplePools};

/// Everything that can be wrong with a table going in or a result going out, with what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A file is not what its name says (not Parquet, not UTF-8, ...).
    #[error("{path} cannot be read as {format} ({reason})")]
    Format { path: PathBuf, format: &'static str, reason: String },
    /// One cell (or line) of an input table is wrong.
    #[error("{file}, {at}, column `{column}`: {reason}")]
    Cell { file: String, at: String, column: String, reason: String },
    /// The table lacks a column it needs.
    #[error("{file}: no column `{column}`; {need} (found: {found})")]
    MissingColumn { file: String, column: String, need: &'static str, found: String },
    /// The table as a whole cannot be analysed as asked.
    #[error("{file}: {reason}")]
    Table { file: String, reason: String },
    /// polars could not build or encode a table.
    #[error("{path}: {reason}")]
    Polars { path: PathBuf, reason: String },
    /// The estimator or a fit refused the data.
    #[error("{0}")]
    Analysis(String),
}

impl DataError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        DataError::Io { path: path.to_path_buf(), source }
    }
}
