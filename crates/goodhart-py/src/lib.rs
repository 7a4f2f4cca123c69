//! The native half of the `goodhart` Python package (`goodhart._native`): thin bindings of the
//! math crates, of `goodhart_data::analyze` and of `goodhart_findings`' checks. The Python half (`python/goodhart/`) turns what
//! these functions return into dataclasses, checks argument types and holds the docstrings; the
//! numbers are all computed here, by the same code the Rust crates test.
//!
//! Arrays come in as read-only NumPy views (no copy when they are contiguous and of the expected
//! dtype) and go out as arrays that take over the Rust vectors' memory. Every error of the crates
//! becomes `goodhart.GoodhartError` (a `ValueError`) with the crate's own message.
//!
//! ```python
//! import numpy as np, goodhart
//! curves = goodhart.bon_curves(proxy_scores, gold_scores)  # [prompts, samples] arrays
//! law = goodhart.fit("bon", curves.d, curves.gold_mean - curves.gold_mean[0])
//! ```

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

mod bon;
mod data;
mod findings;
mod kl;
mod laws;

create_exception!(
    goodhart,
    GoodhartError,
    PyValueError,
    "Bad input to a goodhart function: the message names the argument and the fix."
);

/// The crate error `e` as a `GoodhartError` with its message.
pub(crate) fn error(e: impl std::fmt::Display) -> PyErr {
    GoodhartError::new_err(e.to_string())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("GoodhartError", m.py().get_type::<GoodhartError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    bon::register(m)?;
    kl::register(m)?;
    laws::register(m)?;
    data::register(m)?;
    findings::register(m)?;
    Ok(())
}
