//! A small Levenberg-Marquardt nonlinear least-squares solver on nalgebra.
//!
//! Minimises cost(x) = 1/2 sum_i r_i(x)^2 given a function returning the
//! residual vector r(x) and its Jacobian J(x) = dr/dx. Each iteration solves
//! the damped normal equations (Marquardt's diagonal scaling)
//!
//! (J^T J + lambda diag(J^T J)) delta = -J^T r
//!
//! and accepts x + delta when it lowers the cost, otherwise rejects it.
//! The damping follows Nielsen (1999): after an accepted step with gain
//! ratio rho (actual / predicted cost reduction) lambda is multiplied by
//! max(1/3, 1 - (2 rho - 1)^3); after a rejection by nu, which then doubles.

use crate::LawError;
use nalgebra::{DMatrix, DVector};

/// Stopping rules for [`levenberg_marquardt`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LmOptions {
    /// Maximum number of trial steps (accepted or rejected).
    pub max_iterations: usize,
    /// Converged when an accepted step lowers the cost by less than this
    /// fraction: (cost - cost_new) / cost < ftol.
    pub ftol: f64,
    /// Converged when a step is tiny: |delta| <= xtol (|x| + xtol).
    pub xtol: f64,
    /// Converged when the gradient is tiny: max |J^T r| <= gtol.
    pub gtol: f64,
    /// Initial damping.
    pub initial_lambda: f64,
}

impl Default for LmOptions {
    fn default() -> Self {
        Self { max_iterations: 500, ftol: 1e-14, xtol: 1e-12, gtol: 1e-15, initial_lambda: 1e-3 }
    }
}

/// Result of a converged [`levenberg_marquardt`] run.
#[derive(Debug, Clone, PartialEq)]
pub struct LmReport {
    /// The minimiser.
    pub params: DVector<f64>,
    /// 1/2 sum r_i^2 at `params`.
    pub cost: f64,
    /// Trial steps taken.
    pub iterations: usize,
}

/// Minimise 1/2 |r(x)|^2 from `x0`; `residuals` returns (r(x), J(x)).
///
/// Errors with [`LawError::SolverFailed`] if the starting cost is not finite,
/// the damped system cannot be solved, or `max_iterations` pass without
/// meeting a convergence rule.
pub fn levenberg_marquardt<F>(
    mut residuals: F,
    x0: DVector<f64>,
    opts: &LmOptions,
) -> Result<LmReport, LawError>
where
    F: FnMut(&DVector<f64>) -> (DVector<f64>, DMatrix<f64>),
{
    let fail = |iterations, reason: &str| LawError::SolverFailed { iterations, reason: reason.into() };
    let mut x = x0;
    let (mut r, mut jac) = residuals(&x);
    let mut cost = 0.5 * r.norm_squared();
    if !cost.is_finite() || x.iter().any(|v| !v.is_finite()) {
        return Err(fail(0, "non-finite cost or parameters at the initial guess"));
    }
    let mut lambda = opts.initial_lambda;
    let mut nu = 2.0;

    for iteration in 1..=opts.max_iterations {
        let jtj = jac.transpose() * &jac;
        let gradient = jac.transpose() * &r;
        if cost == 0.0 || gradient.amax() <= opts.gtol {
            return Ok(LmReport { params: x, cost, iterations: iteration - 1 });
        }
        // Marquardt scaling by diag(J^T J), floored so a column of zeros
        // (a parameter with no influence) still gets damped.
        let floor = 1e-12 * jtj.diagonal().amax().max(1e-300);
        let damping = jtj.diagonal().map(|v| lambda * v.max(floor));
        let mut damped = jtj.clone();
        for i in 0..x.len() {
            damped[(i, i)] += damping[i];
        }
        let Some(cholesky) = damped.cholesky() else {
            lambda *= 10.0;
            if lambda > 1e30 {
                return Err(fail(iteration, "damped normal equations are singular"));
            }
            continue;
        };
        let delta = cholesky.solve(&(-&gradient));
        let candidate = &x + &delta;
        let (r_new, jac_new) = residuals(&candidate);
        let cost_new = 0.5 * r_new.norm_squared();
        let small_step = delta.norm() <= opts.xtol * (x.norm() + opts.xtol);

        // Gain ratio: actual over predicted reduction of the cost, where the
        // linear model predicts 1/2 delta^T (lambda D delta - J^T r).
        let predicted = 0.5 * delta.dot(&(damping.component_mul(&delta) - &gradient));
        let rho = (cost - cost_new) / predicted;
        if cost_new.is_finite() && cost_new <= cost && rho > 0.0 {
            let relative_drop = (cost - cost_new) / cost;
            x = candidate;
            r = r_new;
            jac = jac_new;
            cost = cost_new;
            // Nielsen's update: shrink the damping by up to 3x on a good step.
            lambda *= (1.0f64 / 3.0).max(1.0 - (2.0 * rho - 1.0).powi(3));
            lambda = lambda.max(1e-15);
            nu = 2.0;
            if relative_drop < opts.ftol || small_step {
                return Ok(LmReport { params: x, cost, iterations: iteration });
            }
        } else {
            // Rejected. If even the rejected step is negligible, no useful
            // move is left: we are at a (numerical) minimum.
            if small_step {
                return Ok(LmReport { params: x, cost, iterations: iteration });
            }
            lambda *= nu;
            nu *= 2.0;
            if lambda > 1e30 {
                return Err(fail(iteration, "damping diverged without lowering the cost"));
            }
        }
    }
    Err(fail(opts.max_iterations, "maximum number of iterations reached without convergence"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock as least squares: r = (10 (y - x^2), 1 - x), minimum at (1, 1).
    fn rosenbrock(p: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
        let (x, y) = (p[0], p[1]);
        let r = DVector::from_vec(vec![10.0 * (y - x * x), 1.0 - x]);
        let j = DMatrix::from_row_slice(2, 2, &[-20.0 * x, 10.0, -1.0, 0.0]);
        (r, j)
    }

    #[test]
    fn solves_rosenbrock_from_the_classic_start() {
        let x0 = DVector::from_vec(vec![-1.2, 1.0]);
        let report = levenberg_marquardt(rosenbrock, x0, &LmOptions::default()).unwrap();
        assert!((report.params[0] - 1.0).abs() < 1e-8, "{report:?}");
        assert!((report.params[1] - 1.0).abs() < 1e-8, "{report:?}");
        assert!(report.cost < 1e-20);
    }

    #[test]
    fn exponential_decay_fit() {
        // y = 2 exp(-0.7 t), fit (a, k) from (1, 0.1).
        let t: Vec<f64> = (0..20).map(|i| i as f64 * 0.25).collect();
        let y: Vec<f64> = t.iter().map(|t| 2.0 * (-0.7 * t).exp()).collect();
        let f = |p: &DVector<f64>| {
            let r =
                DVector::from_iterator(t.len(), t.iter().zip(&y).map(|(t, y)| p[0] * (-p[1] * t).exp() - y));
            let j = DMatrix::from_fn(t.len(), 2, |i, c| {
                let e = (-p[1] * t[i]).exp();
                if c == 0 {
                    e
                } else {
                    -p[0] * t[i] * e
                }
            });
            (r, j)
        };
        let report =
            levenberg_marquardt(f, DVector::from_vec(vec![1.0, 0.1]), &LmOptions::default()).unwrap();
        assert!((report.params[0] - 2.0).abs() < 1e-9);
        assert!((report.params[1] - 0.7).abs() < 1e-9);
    }

    #[test]
    fn non_finite_start_is_an_error() {
        let f = |_: &DVector<f64>| (DVector::from_vec(vec![f64::NAN]), DMatrix::from_element(1, 1, 1.0));
        let err = levenberg_marquardt(f, DVector::from_vec(vec![0.0]), &LmOptions::default()).unwrap_err();
        assert!(matches!(err, LawError::SolverFailed { iterations: 0, .. }));
    }

    #[test]
    fn iteration_limit_is_an_error() {
        let opts = LmOptions { max_iterations: 2, ..LmOptions::default() };
        let err = levenberg_marquardt(rosenbrock, DVector::from_vec(vec![-1.2, 1.0]), &opts).unwrap_err();
        assert!(err.to_string().contains("maximum number of iterations"), "{err}");
    }
}
