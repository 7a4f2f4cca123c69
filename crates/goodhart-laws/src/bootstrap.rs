//! Deterministic bootstrap resampling and percentile confidence intervals.

use crate::error::check_finite;
use crate::LawError;

pub use goodhart_core::{bootstrap, Interval, SplitMix64};

/// Percentile bootstrap interval at confidence `level` (e.g. 0.95): the
/// (1 - level)/2 and (1 + level)/2 empirical quantiles of `samples`, with
/// linear interpolation between order statistics ([`Interval::percentile`]).
///
/// Errors on an empty or non-finite sample, or `level` outside (0, 1).
pub fn bootstrap_ci(samples: &[f64], level: f64) -> Result<Interval, LawError> {
    if samples.is_empty() {
        return Err(LawError::InvalidArgument("bootstrap_ci needs at least one sample".into()));
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(LawError::InvalidArgument(format!("confidence level {level} must lie in (0, 1)")));
    }
    check_finite("samples", samples)?;
    Ok(Interval::percentile(samples, level).expect("checked above"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // Reference outputs of the published algorithm for seed 1234567.
        let mut rng = SplitMix64::new(1234567);
        let expected = [
            6457827717110365317u64,
            3203168211198807973,
            9817491932198370423,
            4593380528125082431,
            16408922859458223821,
        ];
        for e in expected {
            assert_eq!(rng.next_u64(), e);
        }
    }

    #[test]
    fn uniform_helpers_stay_in_range() {
        let mut rng = SplitMix64::new(7);
        for _ in 0..10_000 {
            let u = rng.next_f64();
            assert!((0.0..1.0).contains(&u));
            assert!(rng.next_below(3) < 3);
        }
        let mean = (0..20_000).map(|_| rng.next_gaussian()).sum::<f64>() / 20_000.0;
        assert!(mean.abs() < 0.05);
    }

    #[test]
    fn quantiles_by_hand() {
        let s = [4.0, 1.0, 3.0, 2.0, 5.0];
        // level 0.5: quantiles 0.25 and 0.75 of 1..5 at positions 1 and 3.
        assert_eq!(bootstrap_ci(&s, 0.5).unwrap(), Interval { lo: 2.0, hi: 4.0 });
        // level 0.8: positions 0.4 and 3.6.
        let Interval { lo, hi } = bootstrap_ci(&s, 0.8).unwrap();
        assert!((lo - 1.4).abs() < 1e-12 && (hi - 4.6).abs() < 1e-12);
        assert_eq!(bootstrap_ci(&[3.0], 0.9).unwrap(), Interval { lo: 3.0, hi: 3.0 });
    }

    #[test]
    fn invalid_ci_inputs() {
        assert!(bootstrap_ci(&[], 0.9).is_err());
        assert!(bootstrap_ci(&[1.0], 1.0).is_err());
        assert!(bootstrap_ci(&[1.0], 0.0).is_err());
        assert!(matches!(bootstrap_ci(&[1.0, f64::NAN], 0.9), Err(LawError::NonFinite { index: 1, .. })));
    }

    #[test]
    fn bootstrap_passes_valid_indices() {
        let out = bootstrap(5, 50, 3, |idx| {
            assert_eq!(idx.len(), 5);
            assert!(idx.iter().all(|&i| i < 5));
            idx.iter().sum::<usize>() as f64
        });
        assert_eq!(out.len(), 50);
        assert!(bootstrap(0, 3, 3, |idx| idx.len() as f64).iter().all(|&x| x == 0.0));
    }
}
