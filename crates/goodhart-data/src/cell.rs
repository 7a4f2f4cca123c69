//! The columns that name the cell a curve came from (experiment, method, RM, data, policy,
//! penalty, seed), defined once for every table: the results' ([`crate::table`]) and the fits'
//! ([`crate::fits`]) schemas and frames start with them, and two rows are of one curve when
//! their cells are equal.

use goodhart_core::{Method, Record};
use polars::prelude::*;

use crate::fits::FitRow;

/// A row's cell, borrowed from a [`Record`] or a [`FitRow`].
#[derive(Debug, Clone, Copy)]
pub struct Cell<'a> {
    pub experiment: &'a str,
    pub method: Method,
    pub rm_size: &'a str,
    pub rm_params: u64,
    pub data_size: u64,
    pub policy_size: &'a str,
    pub kl_penalty: f64,
    pub seed: u64,
}

impl PartialEq for Cell<'_> {
    /// Field by field, the penalty by its bits (a NaN penalty is its own cell).
    fn eq(&self, o: &Self) -> bool {
        self.experiment == o.experiment
            && self.method == o.method
            && self.rm_size == o.rm_size
            && self.rm_params == o.rm_params
            && self.data_size == o.data_size
            && self.policy_size == o.policy_size
            && self.kl_penalty.to_bits() == o.kl_penalty.to_bits()
            && self.seed == o.seed
    }
}

impl<'a> From<&'a Record> for Cell<'a> {
    fn from(r: &'a Record) -> Self {
        Cell {
            experiment: &r.experiment,
            method: r.method,
            rm_size: &r.rm_size,
            rm_params: r.rm_params,
            data_size: r.data_size,
            policy_size: &r.policy_size,
            kl_penalty: r.kl_penalty,
            seed: r.seed,
        }
    }
}

impl<'a> From<&'a FitRow> for Cell<'a> {
    fn from(r: &'a FitRow) -> Self {
        Cell {
            experiment: &r.experiment,
            method: r.method,
            rm_size: &r.rm_size,
            rm_params: r.rm_params,
            data_size: r.data_size,
            policy_size: &r.policy_size,
            kl_penalty: r.kl_penalty,
            seed: r.seed,
        }
    }
}

/// The cell's columns and their types, in table order.
pub fn cell_schema() -> Vec<(&'static str, DataType)> {
    let (s, u, f) = (DataType::String, DataType::UInt64, DataType::Float64);
    vec![
        ("experiment", s.clone()),
        ("method", s.clone()),
        ("rm_size", s.clone()),
        ("rm_params", u.clone()),
        ("data_size", u.clone()),
        ("policy_size", s),
        ("kl_penalty", f),
        ("seed", u),
    ]
}

/// The cells' columns ([`cell_schema`]) followed by `rest`'s.
pub(crate) fn with_cells(cells: &[Cell<'_>], rest: DataFrame) -> PolarsResult<DataFrame> {
    let text = |f: fn(&Cell<'_>) -> String| cells.iter().map(f).collect::<Vec<String>>();
    let count = |f: fn(&Cell<'_>) -> u64| cells.iter().map(f).collect::<Vec<u64>>();
    let frame = df!(
        "experiment" => text(|c| c.experiment.to_string()),
        "method" => text(|c| c.method.to_string()),
        "rm_size" => text(|c| c.rm_size.to_string()),
        "rm_params" => count(|c| c.rm_params),
        "data_size" => count(|c| c.data_size),
        "policy_size" => text(|c| c.policy_size.to_string()),
        "kl_penalty" => cells.iter().map(|c| c.kl_penalty).collect::<Vec<f64>>(),
        "seed" => count(|c| c.seed),
    )?;
    frame.hstack(rest.columns())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_one_cell_are_equal_and_every_table_starts_with_its_columns() {
        let a = Record::new("fig1", Method::Bon).with_n(4);
        let b = Record::new("fig1", Method::Bon).with_n(8);
        assert_eq!(Cell::from(&a), Cell::from(&b), "two points of one curve");
        let other_seed = Record { seed: 1, ..a.clone() };
        assert_ne!(Cell::from(&a), Cell::from(&other_seed));
        let other_penalty = Record { kl_penalty: 0.05, ..a.clone() };
        assert_ne!(Cell::from(&a), Cell::from(&other_penalty));
        let names = |s: Vec<(&'static str, DataType)>| s.into_iter().map(|c| c.0).collect::<Vec<_>>();
        let cell = names(cell_schema());
        assert_eq!(names(crate::table::schema())[..cell.len()], cell[..]);
        assert_eq!(names(crate::fits::fits_schema())[..cell.len()], cell[..]);
        let frame = crate::table::records_frame(&[a, b]).unwrap();
        let got: Vec<String> = frame.get_column_names().iter().map(|n| n.to_string()).collect();
        assert_eq!(got, names(crate::table::schema()));
    }
}
