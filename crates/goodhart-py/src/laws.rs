//! The paper's functional forms: fits (free or shared alpha), peaks, extrapolation, the
//! coefficients' trend over RM size and the iterated-RLHF prediction.

use goodhart_laws::{FitOptions, FittedLaw, Form};
use numpy::prelude::*;
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(law_fit, m)?)?;
    m.add_function(wrap_pyfunction!(law_fit_shared_alpha, m)?)?;
    m.add_function(wrap_pyfunction!(law_eval, m)?)?;
    m.add_function(wrap_pyfunction!(law_peak, m)?)?;
    m.add_function(wrap_pyfunction!(law_extrapolate, m)?)?;
    m.add_function(wrap_pyfunction!(law_forms, m)?)?;
    m.add_function(wrap_pyfunction!(log_linear_regression, m)?)?;
    m.add_function(wrap_pyfunction!(iterated_rl, m)?)?;
    Ok(())
}

fn form(name: &str) -> PyResult<Form> {
    Form::ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| {
        let names: Vec<&str> = Form::ALL.iter().map(|f| f.name()).collect();
        error(format!("form {name:?} is not one of {names:?}"))
    })
}

/// Every form: `(name, formula, parameter names)`.
#[pyfunction]
fn law_forms() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    Form::ALL.iter().map(|f| (f.name(), f.formula(), f.param_names().to_vec())).collect()
}

fn check_params(form: Form, params: &[f64]) -> PyResult<()> {
    if params.len() != form.n_params() {
        return Err(error(format!(
            "form {:?} takes {} parameters {:?}, got {}",
            form.name(),
            form.n_params(),
            form.param_names(),
            params.len()
        )));
    }
    Ok(())
}

/// A fitted law as a dict of its fields.
fn law_dict<'py>(py: Python<'py>, law: &FittedLaw) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("form", law.form.name())?;
    out.set_item("params", law.params.clone())?;
    out.set_item("param_names", law.form.param_names().to_vec())?;
    out.set_item("r2", law.r2)?;
    out.set_item("rmse", law.rmse)?;
    out.set_item("n_points", law.n_points)?;
    out.set_item("fixed_alpha", law.fixed_alpha)?;
    out.set_item("peak", law.peak().map(|p| (p.d, p.r)))?;
    Ok(out)
}

fn options(
    weights: Option<PyReadonlyArray1<'_, f64>>,
    fixed_alpha: Option<f64>,
    initial: Option<Vec<f64>>,
) -> PyResult<FitOptions> {
    Ok(FitOptions {
        fixed_alpha,
        weights: weights.map(|w| w.as_slice().map(<[f64]>::to_vec)).transpose()?,
        initial,
    })
}

#[pyfunction]
#[pyo3(signature = (form_name, d, r, weights=None, fixed_alpha=None, initial=None))]
fn law_fit<'py>(
    py: Python<'py>,
    form_name: &str,
    d: PyReadonlyArray1<'py, f64>,
    r: PyReadonlyArray1<'py, f64>,
    weights: Option<PyReadonlyArray1<'py, f64>>,
    fixed_alpha: Option<f64>,
    initial: Option<Vec<f64>>,
) -> PyResult<Bound<'py, PyDict>> {
    let f = form(form_name)?;
    let opts = options(weights, fixed_alpha, initial)?;
    let law = goodhart_laws::fit(f, d.as_slice()?, r.as_slice()?, &opts).map_err(error)?;
    law_dict(py, &law)
}

#[pyfunction]
fn law_fit_shared_alpha<'py>(
    py: Python<'py>,
    form_name: &str,
    curves: Vec<(PyReadonlyArray1<'py, f64>, PyReadonlyArray1<'py, f64>)>,
) -> PyResult<(f64, Vec<Bound<'py, PyDict>>)> {
    let f = form(form_name)?;
    let views: Vec<(&[f64], &[f64])> =
        curves.iter().map(|(d, r)| Ok((d.as_slice()?, r.as_slice()?))).collect::<PyResult<_>>()?;
    let shared = goodhart_laws::fit_shared_alpha(f, &views).map_err(error)?;
    let laws = shared.laws.iter().map(|law| law_dict(py, law)).collect::<PyResult<_>>()?;
    Ok((shared.alpha, laws))
}

#[pyfunction]
fn law_eval<'py>(
    py: Python<'py>,
    form_name: &str,
    params: Vec<f64>,
    d: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let f = form(form_name)?;
    check_params(f, &params)?;
    let d = d.as_array();
    if let Some(bad) = d.iter().find(|x| x.is_nan() || **x < 0.0) {
        return Err(error(format!("d = {bad}: d = sqrt(KL) must be >= 0")));
    }
    Ok(d.iter().map(|&x| f.eval(&params, x)).collect::<Vec<f64>>().into_pyarray(py))
}

/// The closed-form peak, or with `(lo, hi)` the numeric maximum over that range.
#[pyfunction]
#[pyo3(signature = (form_name, params, within=None))]
fn law_peak(form_name: &str, params: Vec<f64>, within: Option<(f64, f64)>) -> PyResult<Option<(f64, f64)>> {
    let f = form(form_name)?;
    check_params(f, &params)?;
    let peak = match within {
        Some((lo, hi)) => {
            if !(lo >= 0.0 && hi > lo && hi.is_finite()) {
                return Err(error(format!("within = ({lo}, {hi}): need 0 <= lo < hi < inf")));
            }
            f.numeric_peak(&params, lo, hi)
        }
        None => f.peak(&params),
    };
    Ok(peak.map(|p| (p.d, p.r)))
}

#[pyfunction]
#[pyo3(signature = (form_name, d, r, d_cut, weights=None, fixed_alpha=None))]
fn law_extrapolate<'py>(
    py: Python<'py>,
    form_name: &str,
    d: PyReadonlyArray1<'py, f64>,
    r: PyReadonlyArray1<'py, f64>,
    d_cut: f64,
    weights: Option<PyReadonlyArray1<'py, f64>>,
    fixed_alpha: Option<f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let f = form(form_name)?;
    let opts = options(weights, fixed_alpha, None)?;
    let ex = goodhart_laws::extrapolate(f, d.as_slice()?, r.as_slice()?, d_cut, &opts).map_err(error)?;
    let out = PyDict::new(py);
    out.set_item("fit", law_dict(py, &ex.fit)?)?;
    out.set_item("rmse_beyond", ex.rmse_beyond)?;
    out.set_item("max_abs_error_beyond", ex.max_abs_error_beyond)?;
    out.set_item("n_beyond", ex.n_beyond)?;
    Ok(out)
}

/// `coef = intercept + slope * log10(N)`: `(intercept, slope, r2)`.
#[pyfunction]
fn log_linear_regression(
    params_count: PyReadonlyArray1<'_, f64>,
    coef: PyReadonlyArray1<'_, f64>,
) -> PyResult<(f64, f64, f64)> {
    let line =
        goodhart_laws::log_linear_regression(params_count.as_slice()?, coef.as_slice()?).map_err(error)?;
    Ok((line.intercept, line.slope, line.r2))
}

#[pyfunction]
fn iterated_rl<'py>(
    py: Python<'py>,
    alpha: f64,
    beta: f64,
    d: PyReadonlyArray1<'py, f64>,
    k: i64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    if k < 1 {
        return Err(error(format!("k = {k}: iterated RLHF needs at least one round (k >= 1)")));
    }
    let k = u32::try_from(k).map_err(|_| error(format!("k = {k} rounds is more than this supports")))?;
    let d = d.as_array();
    if let Some(bad) = d.iter().find(|x| x.is_nan() || **x < 0.0) {
        return Err(error(format!("d = {bad}: d = sqrt(KL) must be >= 0")));
    }
    Ok(d.iter()
        .map(|&x| goodhart_laws::iterated_rl(alpha, beta, x, k))
        .collect::<Vec<f64>>()
        .into_pyarray(py))
}
