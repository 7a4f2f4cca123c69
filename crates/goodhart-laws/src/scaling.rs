//! How fitted coefficients scale with reward-model size.

use crate::error::{check_finite, check_same_len};
use crate::LawError;
use serde::{Deserialize, Serialize};

/// An ordinary-least-squares line coef = intercept + slope * log10(N).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinearFit {
    /// Value of the coefficient at N = 1 (log10 N = 0).
    pub intercept: f64,
    /// Change of the coefficient per factor of 10 in N.
    pub slope: f64,
    /// R^2 = 1 - SS_res / SS_tot of the line (1 if all coefficients are equal).
    pub r2: f64,
}

impl LinearFit {
    /// Predicted coefficient intercept + slope * log10(n_params).
    pub fn predict(&self, n_params: f64) -> f64 {
        self.intercept + self.slope * n_params.log10()
    }
}

/// Plain OLS of coef ~ intercept + slope * log10(N), N = `params_count`
/// (the paper plots alpha and beta against log reward-model size):
///
/// slope = sum (x_i - x̄)(y_i - ȳ) / sum (x_i - x̄)^2, intercept = ȳ - slope x̄,
/// with x_i = log10 N_i and y_i = coef_i.
///
/// Errors on mismatched lengths, fewer than 2 points, non-finite values,
/// N <= 0, or all N equal.
pub fn log_linear_regression(params_count: &[f64], coef: &[f64]) -> Result<LinearFit, LawError> {
    check_same_len("params_count", params_count.len(), "coef", coef.len())?;
    check_finite("params_count", params_count)?;
    check_finite("coef", coef)?;
    if params_count.len() < 2 {
        return Err(LawError::TooFewPoints { free: 2, needed: 2, got: params_count.len() });
    }
    if let Some(i) = params_count.iter().position(|&n| n <= 0.0) {
        return Err(LawError::InvalidArgument(format!(
            "params_count[{i}] = {} must be > 0 to take log10",
            params_count[i]
        )));
    }
    let x: Vec<f64> = params_count.iter().map(|n| n.log10()).collect();
    let n = x.len() as f64;
    let x_mean = x.iter().sum::<f64>() / n;
    let y_mean = coef.iter().sum::<f64>() / n;
    let sxx: f64 = x.iter().map(|x| (x - x_mean).powi(2)).sum();
    if sxx == 0.0 {
        return Err(LawError::InvalidArgument(
            "all params_count values are equal; slope is undefined".into(),
        ));
    }
    let sxy: f64 = x.iter().zip(coef).map(|(x, y)| (x - x_mean) * (y - y_mean)).sum();
    let slope = sxy / sxx;
    let intercept = y_mean - slope * x_mean;
    let ss_tot: f64 = coef.iter().map(|y| (y - y_mean).powi(2)).sum();
    let ss_res: f64 = x.iter().zip(coef).map(|(x, y)| (y - intercept - slope * x).powi(2)).sum();
    let r2 = if ss_tot > 0.0 { 1.0 - ss_res / ss_tot } else { 1.0 };
    Ok(LinearFit { intercept, slope, r2 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_line_is_recovered() {
        // coef = 0.3 + 0.05 log10 N at N = 1e6 .. 1e9
        let n = [1e6, 1e7, 1e8, 1e9];
        let c: Vec<f64> = n.iter().map(|n: &f64| 0.3 + 0.05 * n.log10()).collect();
        let fit = log_linear_regression(&n, &c).unwrap();
        assert!((fit.intercept - 0.3).abs() < 1e-12 && (fit.slope - 0.05).abs() < 1e-13);
        assert!((fit.r2 - 1.0).abs() < 1e-12);
        assert!((fit.predict(1e10) - 0.8).abs() < 1e-12);
    }

    #[test]
    fn hand_computed_two_noisy_points() {
        // x = 1, 2, 3; y = 1, 3, 2 -> slope 0.5, intercept 1, r2 = 0.25
        let fit = log_linear_regression(&[10.0, 100.0, 1000.0], &[1.0, 3.0, 2.0]).unwrap();
        assert!((fit.slope - 0.5).abs() < 1e-12, "{fit:?}");
        assert!((fit.intercept - 1.0).abs() < 1e-12, "{fit:?}");
        assert!((fit.r2 - 0.25).abs() < 1e-12, "{fit:?}");
    }

    #[test]
    fn invalid_inputs_are_errors() {
        assert!(matches!(log_linear_regression(&[1.0], &[1.0]), Err(LawError::TooFewPoints { .. })));
        assert!(matches!(log_linear_regression(&[1.0, 2.0], &[1.0]), Err(LawError::LengthMismatch { .. })));
        assert!(matches!(log_linear_regression(&[0.0, 2.0], &[1.0, 2.0]), Err(LawError::InvalidArgument(_))));
        assert!(matches!(log_linear_regression(&[5.0, 5.0], &[1.0, 2.0]), Err(LawError::InvalidArgument(_))));
        assert!(matches!(
            log_linear_regression(&[1.0, 2.0], &[1.0, f64::INFINITY]),
            Err(LawError::NonFinite { what: "coef", index: 1, .. })
        ));
    }
}
