//! Regressional Goodhart in the Gaussian case (paper appendix A).
//!
//! The proxy is the gold score plus independent noise, X = Y + Z, with
//! Y ~ N(0, Var(Y)) and Z ~ N(0, Var(Z)). Then (X, Y) are jointly Gaussian
//! and E[Y | X = x] = x Var(Y) / (Var(Y) + Var(Z)): optimising the proxy
//! yields gold reward shrunk towards 0 by that factor.

use crate::LawError;

/// Shrinkage factor Var(Y) / (Var(Y) + Var(Z)) in [0, 1], with Var(Y) =
/// `var_gold` and Var(Z) = `var_noise`.
///
/// Errors unless both variances are finite and >= 0 and not both 0.
pub fn shrinkage_factor(var_gold: f64, var_noise: f64) -> Result<f64, LawError> {
    for (name, v) in [("var_gold", var_gold), ("var_noise", var_noise)] {
        if !v.is_finite() || v < 0.0 {
            return Err(LawError::InvalidVariance {
                reason: format!("{name} = {v} must be finite and >= 0"),
            });
        }
    }
    if var_gold == 0.0 && var_noise == 0.0 {
        return Err(LawError::InvalidVariance {
            reason: "var_gold and var_noise are both 0; the proxy is degenerate".into(),
        });
    }
    Ok(var_gold / (var_gold + var_noise))
}

/// Expected gold score given a proxy score, E[Y | X = x] = x Var(Y) / (Var(Y) + Var(Z)).
///
/// Errors as [`shrinkage_factor`], and on a non-finite `proxy`.
pub fn expected_gold_given_proxy(proxy: f64, var_gold: f64, var_noise: f64) -> Result<f64, LawError> {
    crate::error::check_finite("proxy", &[proxy])?;
    Ok(proxy * shrinkage_factor(var_gold, var_noise)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_values() {
        assert_eq!(shrinkage_factor(1.0, 1.0).unwrap(), 0.5);
        assert_eq!(shrinkage_factor(3.0, 1.0).unwrap(), 0.75);
        assert_eq!(shrinkage_factor(0.0, 2.0).unwrap(), 0.0);
        assert_eq!(shrinkage_factor(2.0, 0.0).unwrap(), 1.0);
        assert_eq!(expected_gold_given_proxy(2.0, 3.0, 1.0).unwrap(), 1.5);
        assert_eq!(expected_gold_given_proxy(-4.0, 1.0, 1.0).unwrap(), -2.0);
    }

    #[test]
    fn invalid_variances() {
        assert!(matches!(shrinkage_factor(0.0, 0.0), Err(LawError::InvalidVariance { .. })));
        assert!(matches!(shrinkage_factor(-1.0, 1.0), Err(LawError::InvalidVariance { .. })));
        assert!(matches!(shrinkage_factor(1.0, f64::NAN), Err(LawError::InvalidVariance { .. })));
        let e = expected_gold_given_proxy(f64::NAN, 1.0, 1.0).unwrap_err();
        assert!(matches!(e, LawError::NonFinite { what: "proxy", .. }));
    }
}
