use crate::KlError;

/// Tolerance on `sum p = 1` for inputs given as probabilities.
const SUM_TOLERANCE: f64 = 1e-6;

pub(crate) fn check_distribution(what: &'static str, p: &[f64]) -> Result<f64, KlError> {
    if let Some((i, v)) = p.iter().enumerate().find(|(_, v)| !v.is_finite() || **v < 0.0) {
        return Err(KlError::NotADistribution {
            what,
            reason: format!("entry {i} is {v}, not a finite probability >= 0"),
        });
    }
    let sum: f64 = p.iter().sum();
    if (sum - 1.0).abs() > SUM_TOLERANCE {
        return Err(KlError::NotADistribution {
            what,
            reason: format!("entries sum to {sum}, not 1 (normalise it first)"),
        });
    }
    Ok(sum)
}

/// Exact KL between categorical distributions: `KL(p || q) = sum_i p_i ln(p_i / q_i)` in nats.
///
/// Terms with `p_i = 0` contribute 0; a `q_i = 0` where `p_i > 0` makes the KL `+inf`.
/// Both inputs must be probability vectors of equal length (sums within 1e-6 of 1).
pub fn kl_categorical(p: &[f64], q: &[f64]) -> Result<f64, KlError> {
    if p.len() != q.len() {
        return Err(KlError::LengthMismatch { what: "q", got: q.len(), expected: p.len() });
    }
    check_distribution("p", p)?;
    check_distribution("q", q)?;
    let mut kl = 0.0;
    for (&pi, &qi) in p.iter().zip(q) {
        if pi > 0.0 {
            if qi == 0.0 {
                return Ok(f64::INFINITY);
            }
            kl += pi * (pi / qi).ln();
        }
    }
    Ok(kl.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        let kl = kl_categorical(&[0.5, 0.5], &[0.25, 0.75]).unwrap();
        assert!((kl - (0.5 * 2f64.ln() + 0.5 * (2.0f64 / 3.0).ln())).abs() < 1e-15);
        assert_eq!(kl_categorical(&[1.0, 0.0], &[0.0, 1.0]).unwrap(), f64::INFINITY);
        assert_eq!(kl_categorical(&[0.0, 1.0], &[0.5, 0.5]).unwrap(), 2f64.ln());
        assert!(kl_categorical(&[0.5, 0.6], &[0.5, 0.5]).unwrap_err().to_string().contains("sum to 1.1"));
        assert!(matches!(kl_categorical(&[1.0], &[0.5, 0.5]), Err(KlError::LengthMismatch { .. })));
    }

    proptest! {
        /// Gibbs' inequality: KL >= 0 with equality iff p = q.
        #[test]
        fn non_negative_and_zero_on_self(w in prop::collection::vec(0.01f64..1.0, 1..10)) {
            let s: f64 = w.iter().sum();
            let p: Vec<f64> = w.iter().map(|x| x / s).collect();
            prop_assert!(kl_categorical(&p, &p).unwrap().abs() < 1e-12);
            let q: Vec<f64> = p.iter().rev().copied().collect();
            prop_assert!(kl_categorical(&p, &q).unwrap() >= 0.0);
        }
    }
}
