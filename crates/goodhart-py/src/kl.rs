//! KL estimators from log-probabilities, and the exact KL of categorical distributions.

use goodhart_kl::{batch_kl, sequence_kls, Estimator};
use numpy::ndarray::Zip;
use numpy::prelude::*;
use numpy::{PyArray1, PyArrayDyn, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn};
use pyo3::prelude::*;

use crate::error;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(kl_token, m)?)?;
    m.add_function(wrap_pyfunction!(kl_sequences, m)?)?;
    m.add_function(wrap_pyfunction!(kl_batch, m)?)?;
    m.add_function(wrap_pyfunction!(kl_categorical, m)?)?;
    Ok(())
}

fn estimator(name: &str) -> PyResult<Estimator> {
    match name {
        "k1" => Ok(Estimator::K1),
        "k2" => Ok(Estimator::K2),
        "k3" => Ok(Estimator::K3),
        other => Err(error(format!("estimator {other:?} is not one of \"k1\", \"k2\", \"k3\""))),
    }
}

/// The estimator of every element: `k(logp_ref - logp_policy)`, any shape.
#[pyfunction]
fn kl_token<'py>(
    py: Python<'py>,
    logp_policy: PyReadonlyArrayDyn<'py, f64>,
    logp_ref: PyReadonlyArrayDyn<'py, f64>,
    estimator_name: &str,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let k = estimator(estimator_name)?;
    let (p, q) = (logp_policy.as_array(), logp_ref.as_array());
    if p.shape() != q.shape() {
        return Err(error(format!("logp_policy has shape {:?} but logp_ref has {:?}", p.shape(), q.shape())));
    }
    Ok(Zip::from(&p).and(&q).map_collect(|&p, &q| k.eval(q - p)).into_pyarray(py))
}

/// Row-major views of a `[batch, seq_len]` batch, checked.
struct Batch<'a> {
    policy: &'a [f32],
    reference: &'a [f32],
    mask: &'a [bool],
    seq_len: usize,
}

fn batch<'a>(
    policy: &'a PyReadonlyArray2<'_, f32>,
    reference: &'a PyReadonlyArray2<'_, f32>,
    mask: &'a PyReadonlyArray2<'_, bool>,
) -> PyResult<Batch<'a>> {
    let shapes = [policy.shape(), reference.shape(), mask.shape()];
    if shapes[1] != shapes[0] || shapes[2] != shapes[0] {
        return Err(error(format!(
            "logp_policy, logp_ref and mask must have one shape [batch, seq_len]: got {:?}, {:?}, {:?}",
            shapes[0], shapes[1], shapes[2]
        )));
    }
    let contiguous = |what: &str| error(format!("{what} is not a C-contiguous array"));
    Ok(Batch {
        policy: policy.as_slice().map_err(|_| contiguous("logp_policy"))?,
        reference: reference.as_slice().map_err(|_| contiguous("logp_ref"))?,
        mask: mask.as_slice().map_err(|_| contiguous("mask"))?,
        seq_len: shapes[0][1],
    })
}

#[pyfunction]
fn kl_sequences<'py>(
    py: Python<'py>,
    logp_policy: PyReadonlyArray2<'py, f32>,
    logp_ref: PyReadonlyArray2<'py, f32>,
    mask: PyReadonlyArray2<'py, bool>,
    estimator_name: &str,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let k = estimator(estimator_name)?;
    let b = batch(&logp_policy, &logp_ref, &mask)?;
    let kls = sequence_kls(k, b.policy, b.reference, b.mask, b.seq_len).map_err(error)?;
    Ok(kls.into_pyarray(py))
}

/// Mean over the batch of the sequences' KL, its standard error and the number of sequences.
#[pyfunction]
fn kl_batch(
    logp_policy: PyReadonlyArray2<'_, f32>,
    logp_ref: PyReadonlyArray2<'_, f32>,
    mask: PyReadonlyArray2<'_, bool>,
    estimator_name: &str,
) -> PyResult<(f64, f64, usize)> {
    let k = estimator(estimator_name)?;
    let b = batch(&logp_policy, &logp_ref, &mask)?;
    let e = batch_kl(k, b.policy, b.reference, b.mask, b.seq_len).map_err(error)?;
    Ok((e.mean, e.se, e.n))
}

#[pyfunction]
fn kl_categorical(p: PyReadonlyArray1<'_, f64>, q: PyReadonlyArray1<'_, f64>) -> PyResult<f64> {
    goodhart_kl::kl_categorical(p.as_slice()?, q.as_slice()?).map_err(error)
}
