//! Best-of-n: the unbiased estimator over pools, its grid, and the best-of-n KL.

use goodhart_bon::{best_of_n_pool, log_grid, BonEstimator, PromptPool};
use numpy::prelude::*;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bon_log_grid, m)?)?;
    m.add_function(wrap_pyfunction!(bon_curves, m)?)?;
    m.add_function(wrap_pyfunction!(bon_pool, m)?)?;
    m.add_function(wrap_pyfunction!(kl_bon, m)?)?;
    m.add_function(wrap_pyfunction!(n_for_kl_bon, m)?)?;
    m.add_function(wrap_pyfunction!(kl_bon_discrete, m)?)?;
    m.add_function(wrap_pyfunction!(kl_bon_from_pool, m)?)?;
    m.add_function(wrap_pyfunction!(kl_bon_beirami, m)?)?;
    m.add_function(wrap_pyfunction!(kl_bon_beirami_from_pool, m)?)?;
    m.add_function(wrap_pyfunction!(kl_best_of_poisson, m)?)?;
    m.add_function(wrap_pyfunction!(pool_selection, m)?)?;
    m.add_function(wrap_pyfunction!(kl_from_pool_selection, m)?)?;
    Ok(())
}

/// `n` from Python, where a negative value is a user's mistake rather than an overflow.
pub(crate) fn positive_n(n: i64, what: &str) -> PyResult<u64> {
    if n < 1 {
        return Err(error(format!("{what} = {n}: best-of-n needs n >= 1")));
    }
    Ok(n as u64)
}

#[pyfunction]
fn bon_log_grid(max_n: i64, points: usize) -> PyResult<Vec<u64>> {
    let max_n = positive_n(max_n, "max_n")?;
    if points < 2 {
        return Err(error(format!("points = {points}: a grid needs at least 2 points")));
    }
    Ok(log_grid(max_n, points))
}

/// Views of every pool's scores; `None` when `extra` was not given.
fn slices<'a>(arrays: &'a [PyReadonlyArray1<'_, f64>], what: &str) -> PyResult<Vec<&'a [f64]>> {
    arrays
        .iter()
        .enumerate()
        .map(|(i, a)| {
            a.as_slice().map_err(|_| error(format!("{what}[{i}] is not a contiguous float64 array")))
        })
        .collect()
}

#[pyfunction]
#[pyo3(signature = (proxy, gold, ns, extra=None, bootstrap=0, level=0.9, seed=0))]
#[allow(clippy::too_many_arguments)]
fn bon_curves<'py>(
    py: Python<'py>,
    proxy: Vec<PyReadonlyArray1<'py, f64>>,
    gold: Vec<PyReadonlyArray1<'py, f64>>,
    ns: Vec<i64>,
    extra: Option<Vec<PyReadonlyArray1<'py, f64>>>,
    bootstrap: usize,
    level: f64,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    if proxy.len() != gold.len() {
        return Err(error(format!(
            "proxy holds {} pools but gold holds {}: give one pool of each per prompt",
            proxy.len(),
            gold.len()
        )));
    }
    if let Some(extra) = &extra {
        if extra.len() != proxy.len() {
            return Err(error(format!("extra holds {} pools but proxy holds {}", extra.len(), proxy.len())));
        }
    }
    if bootstrap > 0 && !(level > 0.0 && level < 1.0) {
        return Err(error(format!("level = {level}: a confidence level is in (0, 1), e.g. 0.9")));
    }
    let ns: Vec<u64> = ns.into_iter().map(|n| positive_n(n, "n")).collect::<PyResult<_>>()?;
    let (p, g) = (slices(&proxy, "proxy")?, slices(&gold, "gold")?);
    let e = extra.as_deref().map(|x| slices(x, "extra")).transpose()?;
    let pools: Vec<PromptPool<'_>> = (0..p.len())
        .map(|i| {
            let pool = PromptPool::new(p[i], g[i]);
            match &e {
                Some(e) => pool.with_extra(e[i]),
                None => pool,
            }
        })
        .collect();
    let (curves, intervals) = py
        .detach(|| {
            let curves = BonEstimator::new(&ns)?.estimate(&pools)?;
            let intervals = (bootstrap > 0).then(|| curves.bootstrap(bootstrap, level, seed));
            Ok::<_, goodhart_bon::BonError>((curves, intervals))
        })
        .map_err(error)?;

    let out = PyDict::new(py);
    let cols = curves.ns.len();
    let rows = curves.num_prompts();
    let column = |xs: &[goodhart_core::Estimate], f: fn(&goodhart_core::Estimate) -> f64| -> Vec<f64> {
        xs.iter().map(f).collect()
    };
    out.set_item("ns", curves.ns.clone().into_pyarray(py))?;
    out.set_item("kl", curves.kl.clone().into_pyarray(py))?;
    out.set_item("proxy_mean", column(&curves.proxy, |e| e.mean).into_pyarray(py))?;
    out.set_item("proxy_se", column(&curves.proxy, |e| e.se).into_pyarray(py))?;
    out.set_item("gold_mean", column(&curves.gold, |e| e.mean).into_pyarray(py))?;
    out.set_item("gold_se", column(&curves.gold, |e| e.se).into_pyarray(py))?;
    let matrix =
        |v: Vec<f64>| -> PyResult<Bound<'py, PyArray2<f64>>> { v.into_pyarray(py).reshape([rows, cols]) };
    if let Some(extra) = &curves.extra {
        out.set_item("extra_mean", column(extra, |e| e.mean).into_pyarray(py))?;
        out.set_item("extra_se", column(extra, |e| e.se).into_pyarray(py))?;
        out.set_item("per_prompt_extra", matrix(curves.per_prompt_extra)?)?;
    }
    out.set_item("per_prompt_proxy", matrix(curves.per_prompt_proxy)?)?;
    out.set_item("per_prompt_gold", matrix(curves.per_prompt_gold)?)?;
    if let Some(iv) = intervals {
        let ends = |xs: &[goodhart_core::Interval]| -> (Vec<f64>, Vec<f64>) {
            (xs.iter().map(|i| i.lo).collect(), xs.iter().map(|i| i.hi).collect())
        };
        let ((glo, ghi), (plo, phi)) = (ends(&iv.gold), ends(&iv.proxy));
        out.set_item("gold_lo", glo.into_pyarray(py))?;
        out.set_item("gold_hi", ghi.into_pyarray(py))?;
        out.set_item("proxy_lo", plo.into_pyarray(py))?;
        out.set_item("proxy_hi", phi.into_pyarray(py))?;
    }
    Ok(out)
}

/// Two arrays handed back together (a pool's proxy and gold values).
type ArrayPair<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);

#[pyfunction]
fn bon_pool<'py>(
    py: Python<'py>,
    proxy: PyReadonlyArray1<'py, f64>,
    gold: PyReadonlyArray1<'py, f64>,
    ns: Vec<i64>,
) -> PyResult<ArrayPair<'py>> {
    let ns: Vec<u64> = ns.into_iter().map(|n| positive_n(n, "n")).collect::<PyResult<_>>()?;
    let pool = PromptPool::new(proxy.as_slice()?, gold.as_slice()?);
    let values = best_of_n_pool(&pool, &ns).map_err(error)?;
    Ok((values.proxy.into_pyarray(py), values.gold.into_pyarray(py)))
}

#[pyfunction]
fn kl_bon(n: i64) -> PyResult<f64> {
    goodhart_kl::kl_bon(positive_n(n, "n")?).map_err(error)
}

#[pyfunction]
fn n_for_kl_bon(kl: f64) -> PyResult<f64> {
    goodhart_kl::n_for_kl_bon(kl).map_err(error)
}

#[pyfunction]
fn kl_bon_discrete(probs: PyReadonlyArray1<'_, f64>, n: i64) -> PyResult<f64> {
    goodhart_kl::kl_bon_discrete(probs.as_slice()?, positive_n(n, "n")?).map_err(error)
}

#[pyfunction]
fn kl_bon_from_pool(scores: PyReadonlyArray1<'_, f64>, n: i64) -> PyResult<f64> {
    goodhart_kl::kl_bon_from_pool(scores.as_slice()?, positive_n(n, "n")?).map_err(error)
}

#[pyfunction]
fn kl_bon_beirami(n: i64, eps: f64) -> PyResult<f64> {
    goodhart_kl::kl_bon_beirami(positive_n(n, "n")?, eps).map_err(error)
}

#[pyfunction]
fn kl_bon_beirami_from_pool(scores: PyReadonlyArray1<'_, f64>, n: i64) -> PyResult<f64> {
    goodhart_kl::kl_bon_beirami_from_pool(scores.as_slice()?, positive_n(n, "n")?).map_err(error)
}

#[pyfunction]
fn kl_best_of_poisson(mu: f64) -> PyResult<f64> {
    goodhart_kl::kl_best_of_poisson(mu).map_err(error)
}

/// The probability that a method of the best-of-n family picks each sample of a pool:
/// `method` is "bon" (parameter n), "poisson" (mu) or "soft" (lambda).
#[pyfunction]
fn pool_selection<'py>(
    py: Python<'py>,
    scores: PyReadonlyArray1<'py, f64>,
    method: &str,
    parameter: f64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let scores = scores.as_slice()?;
    let q = match method {
        "bon" => {
            if parameter.fract() != 0.0 {
                return Err(error(format!("n = {parameter}: best-of-n needs a whole n >= 1")));
            }
            goodhart_kl::best_of_n_selection(scores, positive_n(parameter as i64, "n")?)
        }
        "poisson" => goodhart_kl::best_of_poisson_selection(scores, parameter),
        "soft" => goodhart_kl::soft_best_of_n_selection(scores, parameter),
        other => return Err(error(format!("method {other:?}: use \"bon\", \"poisson\" or \"soft\""))),
    }
    .map_err(error)?;
    Ok(PyArray1::from_vec(py, q))
}

#[pyfunction]
fn kl_from_pool_selection(q: PyReadonlyArray1<'_, f64>) -> PyResult<f64> {
    goodhart_kl::kl_from_pool_selection(q.as_slice()?).map_err(error)
}
