//! Property tests: each property targets a plausible bug (wrong formula,
//! wrong Jacobian, broken LM acceptance rule, fixed alpha leaking into the
//! free parameters, non-deterministic PRNG, ...).

use goodhart_laws::{
    bootstrap, bootstrap_ci, expected_gold_given_proxy, extrapolate, fit, fit_shared_alpha, iterated_rl,
    shrinkage_factor, FitOptions, Form, SplitMix64,
};
use proptest::prelude::*;

const NOISE_SD: f64 = 0.005;

/// Cases per property: `default`, or `PROPTEST_CASES` when set (for soak runs).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64).collect()
}

/// Gold scores R(d) plus N(0, sd^2) noise drawn from `seed`.
fn curve(form: Form, params: &[f64], d: &[f64], sd: f64, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    d.iter().map(|&d| form.eval(params, d) + sd * rng.next_gaussian()).collect()
}

fn bon_grid() -> Vec<f64> {
    grid(0.1, 3.0, 30)
}

fn rl_grid() -> Vec<f64> {
    grid(0.5, 10.0, 30)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(64), ..ProptestConfig::default() })]

    /// Curves that share an alpha (each with its own beta and grid) give that alpha back exactly,
    /// and each curve's beta; a shared fit never beats the per-curve free fits in total error.
    #[test]
    fn shared_alpha_recovers_the_common_alpha(
        alpha in 0.2..1.5f64,
        betas in prop::collection::vec(0.02..0.5f64, 2..5),
        shift in 0.0..2.0f64,
        seed: u64,
    ) {
        for form in [Form::Bon, Form::Rl] {
            let grids: Vec<Vec<f64>> = (0..betas.len()).map(|k| grid(0.2, 3.0 + shift * k as f64, 12 + k)).collect();
            let exact: Vec<Vec<f64>> = grids.iter().zip(&betas).map(|(d, &b)| curve(form, &[alpha, b], d, 0.0, 0)).collect();
            let views: Vec<(&[f64], &[f64])> = grids.iter().zip(&exact).map(|(d, r)| (d.as_slice(), r.as_slice())).collect();
            let goodhart_laws::SharedAlphaFit { alpha: shared, laws } = fit_shared_alpha(form, &views).unwrap();
            prop_assert!(close(shared, alpha, 1e-8), "{form}: {shared} vs {alpha}");
            for (law, &b) in laws.iter().zip(&betas) {
                prop_assert!(close(law.beta(), b, 1e-7), "{form}: beta {} vs {b}", law.beta());
                prop_assert_eq!(law.fixed_alpha, Some(shared));
            }
            // With noise, each curve's free fit has no more error than its shared-alpha fit in total.
            let noisy: Vec<Vec<f64>> = grids.iter().zip(&betas).enumerate()
                .map(|(k, (d, &b))| curve(form, &[alpha + 0.1 * k as f64, b], d, NOISE_SD, seed ^ k as u64)).collect();
            let views: Vec<(&[f64], &[f64])> = grids.iter().zip(&noisy).map(|(d, r)| (d.as_slice(), r.as_slice())).collect();
            let laws = fit_shared_alpha(form, &views).unwrap().laws;
            let sse = |law: &goodhart_laws::FittedLaw, n: usize| law.rmse * law.rmse * n as f64;
            let shared_sse: f64 = laws.iter().zip(&grids).map(|(l, d)| sse(l, d.len())).sum();
            let free_sse: f64 = views.iter().map(|(d, r)| sse(&fit(form, d, r, &FitOptions::default()).unwrap(), d.len())).sum();
            prop_assert!(free_sse <= shared_sse * (1.0 + 1e-9) + 1e-15);
        }
    }

    // Standard errors at NOISE_SD on these 30-point grids are about
    // (0.0021, 0.0009) for Bon and (0.0009, 0.0005) for Rl; the tolerances
    // are ~6 standard errors.
    #[test]
    fn bon_fit_recovers_alpha_beta_under_noise(alpha in 0.2..1.5f64, beta in 0.02..0.5f64, seed: u64) {
        let d = bon_grid();
        let law = fit(Form::Bon, &d, &curve(Form::Bon, &[alpha, beta], &d, NOISE_SD, seed), &FitOptions::default()).unwrap();
        prop_assert!((law.alpha() - alpha).abs() < 0.0125, "alpha {} vs {}", law.alpha(), alpha);
        prop_assert!((law.beta() - beta).abs() < 0.0055, "beta {} vs {}", law.beta(), beta);
        prop_assert!(law.rmse < 3.0 * NOISE_SD);
    }

    #[test]
    fn rl_fit_recovers_alpha_beta_under_noise(alpha in 0.2..1.5f64, beta in 0.02..0.5f64, seed: u64) {
        let d = rl_grid();
        let law = fit(Form::Rl, &d, &curve(Form::Rl, &[alpha, beta], &d, NOISE_SD, seed), &FitOptions::default()).unwrap();
        prop_assert!((law.alpha() - alpha).abs() < 0.006, "alpha {} vs {}", law.alpha(), alpha);
        prop_assert!((law.beta() - beta).abs() < 0.003, "beta {} vs {}", law.beta(), beta);
        prop_assert!(law.rmse < 3.0 * NOISE_SD);
    }

    /// Noise-free data: exact recovery and R^2 = 1, both from the closed-form
    /// start and from an arbitrary LM start (which exercises the solver itself).
    #[test]
    fn noise_free_recovery_is_exact(
        alpha in 0.2..1.5f64,
        beta in 0.02..0.5f64,
        start_alpha in -2.0..2.0f64,
        start_beta in -1.0..1.0f64,
    ) {
        for (form, d) in [(Form::Bon, bon_grid()), (Form::Rl, rl_grid())] {
            let r = curve(form, &[alpha, beta], &d, 0.0, 0);
            for opts in [FitOptions::default(), FitOptions::default().with_initial(vec![start_alpha, start_beta])] {
                let law = fit(form, &d, &r, &opts).unwrap();
                prop_assert!(close(law.alpha(), alpha, 1e-6), "{form}: alpha {} vs {alpha}", law.alpha());
                prop_assert!(close(law.beta(), beta, 1e-6), "{form}: beta {} vs {beta}", law.beta());
                prop_assert!(law.r2 > 1.0 - 1e-9, "{form}: r2 {}", law.r2);
                prop_assert!(law.rmse < 1e-8);
            }
        }
    }

    #[test]
    fn fixed_alpha_is_returned_exactly_and_beta_recovered(
        alpha in 0.2..1.5f64, beta in 0.02..0.5f64, seed: u64,
    ) {
        for (form, d) in [(Form::Bon, bon_grid()), (Form::Rl, rl_grid())] {
            let r = curve(form, &[alpha, beta], &d, NOISE_SD, seed);
            let law = fit(form, &d, &r, &FitOptions::default().with_fixed_alpha(alpha)).unwrap();
            prop_assert_eq!(law.alpha(), alpha);
            prop_assert_eq!(law.fixed_alpha, Some(alpha));
            // With alpha known the beta standard error is smaller still.
            prop_assert!((law.beta() - beta).abs() < 0.003, "{}: beta {} vs {}", form, law.beta(), beta);
            // Even a wrong fixed alpha is held exactly (from a far LM start too).
            let opts = FitOptions::default().with_fixed_alpha(alpha + 0.1).with_initial(vec![9.0, -1.0]);
            prop_assert_eq!(fit(form, &d, &r, &opts).unwrap().alpha(), alpha + 0.1);
        }
    }

    #[test]
    fn closed_form_peak_matches_numeric_maximisation(alpha in 0.2..1.5f64, beta in 0.02..0.5f64) {
        for form in [Form::Bon, Form::Rl] {
            let exact = form.peak(&[alpha, beta]).unwrap();
            let numeric = form.numeric_peak(&[alpha, beta], 0.0, 3.0 * exact.d).unwrap();
            prop_assert!(close(numeric.d, exact.d, 1e-6), "{}: {:?} vs {:?}", form, numeric, exact);
            prop_assert!(close(numeric.r, exact.r, 1e-12), "{}: {:?} vs {:?}", form, numeric, exact);
            prop_assert!(close(form.eval(&[alpha, beta], exact.d), exact.r, 1e-12));
        }
        // R_RL returns to 0 at exp(alpha / beta).
        let zero = Form::Rl.rl_zero_crossing(&[alpha, beta]).unwrap();
        prop_assert!(Form::Rl.eval(&[alpha, beta], zero).abs() < 1e-9 * zero);
    }

    #[test]
    fn iterated_rl_gains_exactly_beta_d_ln_k(
        alpha in 0.2..1.5f64, beta in 0.02..0.5f64, d in 0.01..20.0f64, k in 1u32..50,
    ) {
        let one = iterated_rl(alpha, beta, d, 1);
        prop_assert_eq!(one, Form::Rl.eval(&[alpha, beta], d));
        let gain = iterated_rl(alpha, beta, d, k) - one;
        let expected = beta * d * f64::from(k).ln();
        prop_assert!((gain - expected).abs() <= 1e-12 * (1.0 + one.abs() + expected.abs()));
        prop_assert!(iterated_rl(alpha, beta, d, k + 1) > iterated_rl(alpha, beta, d, k));
    }

    #[test]
    fn regressional_shrinkage(var_gold in 1e-6..10.0f64, var_noise in 0.0..10.0f64, x in -100.0..100.0f64) {
        let s = shrinkage_factor(var_gold, var_noise).unwrap();
        prop_assert!((0.0..=1.0).contains(&s));
        let e = expected_gold_given_proxy(x, var_gold, var_noise).unwrap();
        prop_assert_eq!(e.signum() == x.signum() || x == 0.0, true, "E[Y|X={}] = {}", x, e);
        prop_assert!(e.abs() <= x.abs());
        // More noise, more shrinkage.
        prop_assert!(shrinkage_factor(var_gold, var_noise + 1.0).unwrap() < s);
    }

    #[test]
    fn analytic_gradient_matches_finite_differences(
        alpha in 0.2..1.5f64, beta in 0.02..0.5f64, gamma in 0.3..2.0f64, d in 0.05..10.0f64,
    ) {
        for form in Form::ALL {
            let params = &[alpha, beta, gamma][..form.n_params()];
            let grad = form.gradient(params, d);
            for j in 0..params.len() {
                let h = 1e-6 * (1.0 + params[j].abs());
                let (mut up, mut down) = (params.to_vec(), params.to_vec());
                up[j] += h;
                down[j] -= h;
                let fd = (form.eval(&up, d) - form.eval(&down, d)) / (2.0 * h);
                prop_assert!((grad[j] - fd).abs() < 1e-5 * (1.0 + fd.abs()), "{} j={}: {} vs {}", form, j, grad[j], fd);
            }
        }
    }

    /// Fitting the 3-parameter BonPower form to Bon data (gamma = 1) recovers
    /// the Bon parameters, from the default start and from a perturbed LM start.
    #[test]
    fn bon_power_on_bon_data_recovers_bon(
        alpha in 0.2..1.5f64,
        beta in 0.02..0.5f64,
        scale_alpha in 0.95..1.05f64,
        scale_beta in 0.8..1.2f64,
        start_gamma in 0.8..1.25f64,
    ) {
        let d = bon_grid();
        let r = curve(Form::Bon, &[alpha, beta], &d, 0.0, 0);
        let perturbed = vec![alpha * scale_alpha, beta * scale_beta, start_gamma];
        for opts in [FitOptions::default(), FitOptions::default().with_initial(perturbed)] {
            let law = fit(Form::BonPower, &d, &r, &opts).unwrap();
            prop_assert!(close(law.alpha(), alpha, 1e-6), "{:?}", law);
            prop_assert!(close(law.beta(), beta, 1e-6), "{:?}", law);
            prop_assert!(close(law.gamma().unwrap(), 1.0, 1e-5), "{:?}", law);
        }
    }

    /// BonPower data with gamma off the start grid: the grid start plus LM
    /// recovers all three parameters.
    #[test]
    fn bon_power_recovers_its_own_parameters(alpha in 0.2..1.5f64, beta in 0.02..0.5f64, gamma in 0.5..2.0f64) {
        let d = bon_grid();
        let r = curve(Form::BonPower, &[alpha, beta, gamma], &d, 0.0, 0);
        let law = fit(Form::BonPower, &d, &r, &FitOptions::default()).unwrap();
        prop_assert!(close(law.alpha(), alpha, 1e-6), "{:?}", law);
        prop_assert!(close(law.beta(), beta, 1e-5), "{:?}", law);
        prop_assert!(close(law.gamma().unwrap(), gamma, 1e-5), "{:?}", law);
    }

    #[test]
    fn bon_power_on_noisy_bon_data_is_close_to_bon(alpha in 0.2..1.5f64, beta in 0.1..0.5f64, seed: u64) {
        let d = bon_grid();
        let r = curve(Form::Bon, &[alpha, beta], &d, NOISE_SD, seed);
        let power = fit(Form::BonPower, &d, &r, &FitOptions::default()).unwrap();
        let bon = fit(Form::Bon, &d, &r, &FitOptions::default()).unwrap();
        // Nested model: never a worse fit than Bon, and close to it.
        prop_assert!(power.rmse <= bon.rmse * (1.0 + 1e-9));
        prop_assert!((power.alpha() - alpha).abs() < 0.05, "{:?}", power);
        prop_assert!((power.gamma().unwrap() - 1.0).abs() < 0.3, "{:?}", power);
    }

    #[test]
    fn extrapolating_the_true_form_is_exact(alpha in 0.2..1.5f64, beta in 0.02..0.5f64, d_cut in 2.0..6.0f64) {
        let d = rl_grid();
        let r = curve(Form::Rl, &[alpha, beta], &d, 0.0, 0);
        let ex = extrapolate(Form::Rl, &d, &r, d_cut, &FitOptions::default()).unwrap();
        prop_assert_eq!(ex.fit.n_points + ex.n_beyond, d.len());
        prop_assert!(ex.rmse_beyond.unwrap() < 1e-8);
        prop_assert!(ex.max_abs_error_beyond.unwrap() >= ex.rmse_beyond.unwrap());
    }

    #[test]
    fn bootstrap_is_deterministic_per_seed(n_units in 1usize..40, seed: u64) {
        let stat = |idx: &[usize]| idx.iter().map(|&i| (i * i) as f64).sum::<f64>();
        let a = bootstrap(n_units, 20, seed, stat);
        prop_assert_eq!(&a, &bootstrap(n_units, 20, seed, stat));
        if n_units > 3 {
            prop_assert_ne!(&a, &bootstrap(n_units, 20, seed.wrapping_add(1), stat));
        }
    }

    #[test]
    fn bootstrap_ci_of_the_mean_contains_the_sample_mean(seed: u64, level in 0.5..0.99f64) {
        let mut rng = SplitMix64::new(seed);
        let x: Vec<f64> = (0..40).map(|_| 1.0 + rng.next_gaussian()).collect();
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let means = bootstrap(x.len(), 300, seed ^ 0xABCD, |idx| idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64);
        let goodhart_laws::Interval { lo, hi } = bootstrap_ci(&means, level).unwrap();
        prop_assert!(lo <= mean && mean <= hi, "{} not in [{}, {}]", mean, lo, hi);
        prop_assert!(lo < hi);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(8), ..ProptestConfig::default() })]

    /// Bootstrap over whole units (here: 8 noisy replicate curves): the
    /// percentile CI of the fitted alpha contains the full-data alpha and
    /// the true alpha.
    #[test]
    fn bootstrap_ci_of_fitted_alpha_contains_the_estimate(alpha in 0.2..1.5f64, beta in 0.02..0.5f64, seed: u64) {
        let d = grid(0.2, 3.0, 10);
        let units: Vec<Vec<f64>> = (0..8).map(|u| curve(Form::Bon, &[alpha, beta], &d, 0.02, seed.wrapping_add(u))).collect();
        let fit_units = |idx: &[usize]| {
            let dd: Vec<f64> = idx.iter().flat_map(|_| d.iter().copied()).collect();
            let rr: Vec<f64> = idx.iter().flat_map(|&i| units[i].iter().copied()).collect();
            fit(Form::Bon, &dd, &rr, &FitOptions::default()).unwrap().alpha()
        };
        let all: Vec<usize> = (0..units.len()).collect();
        let estimate = fit_units(&all);
        let samples = bootstrap(units.len(), 200, seed, fit_units);
        let goodhart_laws::Interval { lo, hi } = bootstrap_ci(&samples, 0.95).unwrap();
        prop_assert!(lo <= estimate && estimate <= hi, "{} not in [{}, {}]", estimate, lo, hi);
    }
}
