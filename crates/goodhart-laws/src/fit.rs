//! Fitting a [`Form`] to (d, gold reward) points, and extrapolating.

use crate::error::{check_finite, check_same_len};
use crate::lm::{levenberg_marquardt, LmOptions};
use crate::{Form, LawError, Peak};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// Options for [`fit`] and [`extrapolate`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// Hold alpha at this value and fit only the remaining parameters (the
    /// paper fixes alpha across reward-model sizes for some comparisons).
    pub fixed_alpha: Option<f64>,
    /// Non-negative per-point weights w_i; the fit minimises
    /// sum_i w_i (R(d_i) - r_i)^2. `None` means all weights are 1.
    pub weights: Option<Vec<f64>>,
    /// Starting parameters for Levenberg-Marquardt, a full parameter vector
    /// in [`Form::param_names`] order (its alpha is ignored when
    /// `fixed_alpha` is set). `None` uses the closed-form linear fit.
    pub initial: Option<Vec<f64>>,
}

impl FitOptions {
    /// Set [`FitOptions::fixed_alpha`].
    #[must_use]
    pub fn with_fixed_alpha(mut self, alpha: f64) -> Self {
        self.fixed_alpha = Some(alpha);
        self
    }

    /// Set [`FitOptions::weights`].
    #[must_use]
    pub fn with_weights(mut self, weights: Vec<f64>) -> Self {
        self.weights = Some(weights);
        self
    }

    /// Set [`FitOptions::initial`].
    #[must_use]
    pub fn with_initial(mut self, initial: Vec<f64>) -> Self {
        self.initial = Some(initial);
        self
    }
}

/// A functional form with fitted parameters and goodness of fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedLaw {
    /// Which functional form.
    pub form: Form,
    /// Parameters in [`Form::param_names`] order (alpha included even when fixed).
    pub params: Vec<f64>,
    /// Coefficient of determination, R^2 = 1 - SS_res / SS_tot (weighted
    /// when weights were given; 1 if SS_tot = SS_res = 0, 0 if only SS_tot = 0).
    pub r2: f64,
    /// Root-mean-square error sqrt(sum w_i e_i^2 / sum w_i) over the fitted points.
    pub rmse: f64,
    /// Number of points passed to the fit (including d = 0 points).
    pub n_points: usize,
    /// The value alpha was held at, if it was.
    pub fixed_alpha: Option<f64>,
}

impl FittedLaw {
    /// Predicted gold reward R(d) (see [`Form::eval`] for the formulas).
    pub fn eval(&self, d: f64) -> f64 {
        self.form.eval(&self.params, d)
    }

    /// alpha, the first parameter of every form.
    pub fn alpha(&self) -> f64 {
        self.params[0]
    }

    /// beta, the second parameter of every form.
    pub fn beta(&self) -> f64 {
        self.params[1]
    }

    /// gamma for [`Form::BonPower`], `None` otherwise.
    pub fn gamma(&self) -> Option<f64> {
        self.params.get(2).copied()
    }

    /// The peak of the fitted curve; closed form for `Bon`
    /// (d* = alpha/(2 beta), R* = alpha^2/(4 beta)), `Rl`
    /// (d* = exp(alpha/beta - 1), R* = beta d*) and `BonPower`, bisection for
    /// `RlLog1p`. `None` when there is no interior maximum. See [`Form::peak`].
    pub fn peak(&self) -> Option<Peak> {
        self.form.peak(&self.params)
    }

    /// Numeric (grid + golden-section) maximisation of R(d) over `[lo, hi]`;
    /// see [`Form::numeric_peak`].
    pub fn peak_in(&self, lo: f64, hi: f64) -> Option<Peak> {
        self.form.numeric_peak(&self.params, lo, hi)
    }
}

/// Fit `form` to points (d_i, r_i) — d = sqrt(KL), r = gold reward — by
/// weighted least squares, minimising sum_i w_i (R(d_i) - r_i)^2 with
/// [`levenberg_marquardt`](crate::levenberg_marquardt) and the analytic
/// Jacobian from [`Form::partial_derivatives`].
///
/// Starting point (unless `opts.initial` is given): `Bon`, `Rl` and `RlLog1p`
/// are linear in (alpha, beta) — R = alpha d - beta d g(d) with g(d) = d,
/// ln d, ln(1+d) — so the weighted linear least-squares solution is computed
/// in closed form (via SVD) and is already the optimum; LM only confirms it.
/// `BonPower` starts from the best such linear solution over a grid of
/// fixed gamma values 0.25, 0.5, ..., 3 (gamma = 1 is `Bon`).
///
/// Points with d = 0 are allowed: every form is 0 there, so they only add
/// their r_i^2 to the residual. At least as many points with d > 0 and
/// positive weight as free parameters are required.
pub fn fit(form: Form, d: &[f64], r: &[f64], opts: &FitOptions) -> Result<FittedLaw, LawError> {
    let weights = validate(form, d, r, opts)?;
    let n_params = form.n_params();
    let free = n_params - usize::from(opts.fixed_alpha.is_some());
    let informative = d.iter().zip(&weights).filter(|(&d, &w)| d > 0.0 && w > 0.0).count();
    if informative < free {
        return Err(LawError::TooFewPoints { free, needed: free, got: informative });
    }

    let mut start = match &opts.initial {
        Some(initial) => initial.clone(),
        None => initial_guess(form, d, r, &weights, opts.fixed_alpha)?,
    };
    if let Some(alpha) = opts.fixed_alpha {
        start[0] = alpha;
    }
    // Free parameters are the trailing ones when alpha is fixed.
    let offset = n_params - free;
    let full = |x: &DVector<f64>| -> Vec<f64> {
        let mut p = start.clone();
        p[offset..].copy_from_slice(x.as_slice());
        p
    };
    let sqrt_w: Vec<f64> = weights.iter().map(|w| w.sqrt()).collect();
    let mut grad = vec![0.0; n_params];
    let residuals = |x: &DVector<f64>| {
        let p = full(x);
        let res =
            DVector::from_iterator(d.len(), (0..d.len()).map(|i| sqrt_w[i] * (form.eval(&p, d[i]) - r[i])));
        let mut jac = DMatrix::zeros(d.len(), free);
        for i in 0..d.len() {
            form.partial_derivatives(&p, d[i], &mut grad);
            for j in 0..free {
                jac[(i, j)] = sqrt_w[i] * grad[offset + j];
            }
        }
        (res, jac)
    };
    let x0 = DVector::from_column_slice(&start[offset..]);
    let report = levenberg_marquardt(residuals, x0, &LmOptions::default())?;
    let params = full(&report.params);
    if params.iter().any(|p| !p.is_finite()) {
        return Err(LawError::SolverFailed {
            iterations: report.iterations,
            reason: "non-finite parameters".into(),
        });
    }

    let predicted: Vec<f64> = d.iter().map(|&d| form.eval(&params, d)).collect();
    let (r2, rmse) = goodness_of_fit(r, &predicted, &weights);
    Ok(FittedLaw { form, params, r2, rmse, n_points: d.len(), fixed_alpha: opts.fixed_alpha })
}

/// Result of [`extrapolate`]: a fit on d <= d_cut and its errors beyond.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extrapolation {
    /// The law fitted to the points with d <= d_cut.
    pub fit: FittedLaw,
    /// sqrt(mean (R(d_i) - r_i)^2) over the held-out points d_i > d_cut
    /// (unweighted); `None` if there are none.
    pub rmse_beyond: Option<f64>,
    /// max |R(d_i) - r_i| over the held-out points; `None` if there are none.
    pub max_abs_error_beyond: Option<f64>,
    /// Number of held-out points (d_i > d_cut).
    pub n_beyond: usize,
}

/// Fit `form` on the points with d <= `d_cut` (weights, if any, are subset
/// alongside) and measure how well it predicts the points with d > `d_cut`:
/// RMSE = sqrt(mean e_i^2) and max |e_i| with e_i = R(d_i) - r_i.
pub fn extrapolate(
    form: Form,
    d: &[f64],
    r: &[f64],
    d_cut: f64,
    opts: &FitOptions,
) -> Result<Extrapolation, LawError> {
    validate(form, d, r, opts)?;
    check_finite("d_cut", &[d_cut])?;
    let inside: Vec<usize> = (0..d.len()).filter(|&i| d[i] <= d_cut).collect();
    let pick = |xs: &[f64]| inside.iter().map(|&i| xs[i]).collect::<Vec<f64>>();
    let sub_opts = FitOptions { weights: opts.weights.as_deref().map(pick), ..opts.clone() };
    let fit = fit(form, &pick(d), &pick(r), &sub_opts)?;

    let errors: Vec<f64> = (0..d.len()).filter(|&i| d[i] > d_cut).map(|i| fit.eval(d[i]) - r[i]).collect();
    let n_beyond = errors.len();
    let (rmse_beyond, max_abs_error_beyond) = if n_beyond == 0 {
        (None, None)
    } else {
        let mse = errors.iter().map(|e| e * e).sum::<f64>() / n_beyond as f64;
        (Some(mse.sqrt()), Some(errors.iter().fold(0.0f64, |m, e| m.max(e.abs()))))
    };
    Ok(Extrapolation { fit, rmse_beyond, max_abs_error_beyond, n_beyond })
}

/// Validate inputs; returns the weights (all 1 when none were given).
fn validate(form: Form, d: &[f64], r: &[f64], opts: &FitOptions) -> Result<Vec<f64>, LawError> {
    check_same_len("d", d.len(), "r", r.len())?;
    check_finite("d", d)?;
    check_finite("r", r)?;
    if let Some(index) = d.iter().position(|&x| x < 0.0) {
        return Err(LawError::NegativeD { index, value: d[index] });
    }
    if let Some(alpha) = opts.fixed_alpha {
        check_finite("fixed_alpha", &[alpha])?;
    }
    if let Some(initial) = &opts.initial {
        if initial.len() != form.n_params() {
            return Err(LawError::WrongParamCount {
                form: form.name(),
                expected: form.n_params(),
                got: initial.len(),
            });
        }
        check_finite("initial", initial)?;
    }
    match &opts.weights {
        None => Ok(vec![1.0; d.len()]),
        Some(w) => {
            check_same_len("d", d.len(), "weights", w.len())?;
            check_finite("weights", w)?;
            if let Some(index) = w.iter().position(|&x| x < 0.0) {
                return Err(LawError::NegativeWeight { index, value: w[index] });
            }
            Ok(w.clone())
        }
    }
}

/// Starting parameters. `Bon`, `Rl`, `RlLog1p`: the closed-form weighted
/// linear least-squares solution (see [`linear_fit`]). `BonPower`: for each
/// gamma on a grid 0.25, 0.5, ..., 3 (which includes gamma = 1, i.e. `Bon`),
/// the linear solution for (alpha, beta) at that gamma; the gamma with the
/// smallest residual wins (a coarse variable projection).
fn initial_guess(
    form: Form,
    d: &[f64],
    r: &[f64],
    weights: &[f64],
    fixed_alpha: Option<f64>,
) -> Result<Vec<f64>, LawError> {
    if form != Form::BonPower {
        return Ok(linear_fit(form, &[], d, r, weights, fixed_alpha)?.0);
    }
    let mut best: Option<(Vec<f64>, f64)> = None;
    for gamma in (1..=12).map(|i| 0.25 * f64::from(i)) {
        let (mut params, ss_res) = linear_fit(form, &[gamma], d, r, weights, fixed_alpha)?;
        if best.as_ref().is_none_or(|(_, best_ss)| ss_res < *best_ss) {
            params.push(gamma);
            best = Some((params, ss_res));
        }
    }
    Ok(best.expect("the gamma grid is not empty").0)
}

/// Closed-form weighted linear least squares of r_i ~ alpha d_i - beta d_i g(d_i),
/// with g(d) = d, ln d, ln(1 + d) or d^gamma (`extra = [gamma]` for
/// `BonPower`); with fixed alpha, the 1-parameter fit of
/// r_i - alpha d_i ~ -beta d_i g(d_i). Solved by SVD of the sqrt(w)-scaled
/// design. Returns ([alpha, beta], weighted SS_res).
fn linear_fit(
    form: Form,
    extra: &[f64],
    d: &[f64],
    r: &[f64],
    weights: &[f64],
    fixed_alpha: Option<f64>,
) -> Result<(Vec<f64>, f64), LawError> {
    let n = d.len();
    let cols = if fixed_alpha.is_some() { 1 } else { 2 };
    let mut design = DMatrix::zeros(n, cols);
    let mut target = DVector::zeros(n);
    // At alpha = beta = 0 the partial derivatives wrt alpha and beta are
    // exactly the two regressors d and -d g(d).
    let mut probe = vec![0.0, 0.0];
    probe.extend_from_slice(extra);
    let mut grad = vec![0.0; form.n_params()];
    for i in 0..n {
        let sw = weights[i].sqrt();
        form.partial_derivatives(&probe, d[i], &mut grad);
        match fixed_alpha {
            Some(alpha) => {
                design[(i, 0)] = sw * grad[1];
                target[i] = sw * (r[i] - alpha * grad[0]);
            }
            None => {
                design[(i, 0)] = sw * grad[0];
                design[(i, 1)] = sw * grad[1];
                target[i] = sw * r[i];
            }
        }
    }
    let svd = design.clone().svd(true, true);
    let (smax, smin) = (svd.singular_values.max(), svd.singular_values.min());
    if smin.is_nan() || smin <= 1e-12 * smax {
        return Err(LawError::SolverFailed {
            iterations: 0,
            reason: "degenerate design: the d values do not determine the parameters \
                     (e.g. all informative points share one d)"
                .into(),
        });
    }
    let solution = svd
        .solve(&target, 0.0)
        .map_err(|e| LawError::SolverFailed { iterations: 0, reason: e.to_string() })?;
    let ss_res = (&design * &solution - &target).norm_squared();
    let params = match fixed_alpha {
        Some(alpha) => vec![alpha, solution[0]],
        None => vec![solution[0], solution[1]],
    };
    Ok((params, ss_res))
}

/// Weighted R^2 = 1 - SS_res/SS_tot and RMSE = sqrt(SS_res / sum w).
fn goodness_of_fit(observed: &[f64], predicted: &[f64], weights: &[f64]) -> (f64, f64) {
    let w_sum: f64 = weights.iter().sum();
    let mean = observed.iter().zip(weights).map(|(y, w)| w * y).sum::<f64>() / w_sum;
    let mut ss_res = 0.0;
    let mut ss_tot = 0.0;
    for ((y, p), w) in observed.iter().zip(predicted).zip(weights) {
        ss_res += w * (y - p).powi(2);
        ss_tot += w * (y - mean).powi(2);
    }
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else if ss_res == 0.0 {
        1.0
    } else {
        0.0
    };
    (r2, (ss_res / w_sum).sqrt())
}

/// What [`fit_shared_alpha`] returns: the shared alpha and each curve's law at that alpha.
#[derive(Debug, Clone)]
pub struct SharedAlphaFit {
    /// The alpha every curve shares.
    pub alpha: f64,
    /// One law per curve, in the order given, each with `alpha` and its own beta.
    pub laws: Vec<FittedLaw>,
}

/// Fits `form` to several curves at once with one alpha shared by all and a beta per curve, as the
/// paper does for RL across reward-model sizes (its figure 1b and section 3.2): minimises
/// sum over curves and points of (R(d) - r)^2. `Bon`, `Rl` and `RlLog1p` are linear in
/// (alpha, beta_1, ..., beta_k), so this is one least-squares solve (SVD); the returned laws are
/// each curve's fit with alpha fixed at the shared value (their betas are the joint solution's).
///
/// # Errors
/// [`LawError::InvalidArgument`] for `BonPower` or no curves; the errors of [`fit`] for a curve
/// that cannot be fitted.
pub fn fit_shared_alpha(form: Form, curves: &[(&[f64], &[f64])]) -> Result<SharedAlphaFit, LawError> {
    if form == Form::BonPower {
        return Err(LawError::InvalidArgument("a shared alpha needs a form linear in its parameters".into()));
    }
    if curves.is_empty() {
        return Err(LawError::InvalidArgument("no curves to fit".into()));
    }
    for (d, r) in curves {
        validate(form, d, r, &FitOptions::default())?;
    }
    let rows: usize = curves.iter().map(|(d, _)| d.len()).sum();
    let mut a = DMatrix::zeros(rows, 1 + curves.len());
    let mut b = DVector::zeros(rows);
    let mut row = 0;
    let mut grad = [0.0; 2];
    for (k, (d, r)) in curves.iter().enumerate() {
        for (&d, &r) in d.iter().zip(r.iter()) {
            // R = alpha * dR/dalpha + beta * dR/dbeta (both forms are linear, 0 at d = 0)
            form.partial_derivatives(&[0.0, 0.0], d, &mut grad);
            a[(row, 0)] = grad[0];
            a[(row, 1 + k)] = grad[1];
            b[row] = r;
            row += 1;
        }
    }
    let solution = a
        .svd(true, true)
        .solve(&b, 1e-12)
        .map_err(|e| LawError::SolverFailed { iterations: 0, reason: e.to_string() })?;
    let alpha = solution[0];
    if !alpha.is_finite() {
        return Err(LawError::SolverFailed { iterations: 0, reason: "non-finite shared alpha".into() });
    }
    let laws = curves
        .iter()
        .map(|(d, r)| fit(form, d, r, &FitOptions::default().with_fixed_alpha(alpha)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SharedAlphaFit { alpha, laws })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64).collect()
    }

    #[test]
    fn exact_bon_fit_by_hand() {
        // r = d (1 - 0.25 d) at d = 1, 2, 3: 0.75, 1.0, 0.75
        let law = fit(Form::Bon, &[1.0, 2.0, 3.0], &[0.75, 1.0, 0.75], &FitOptions::default()).unwrap();
        assert!((law.alpha() - 1.0).abs() < 1e-12 && (law.beta() - 0.25).abs() < 1e-12);
        assert!((law.r2 - 1.0).abs() < 1e-12 && law.rmse < 1e-12);
        assert_eq!(law.n_points, 3);
        let peak = law.peak().unwrap();
        assert!((peak.d - 2.0).abs() < 1e-10 && (peak.r - 1.0).abs() < 1e-10);
    }

    #[test]
    fn zero_d_points_are_harmless() {
        let d = [0.0, 0.0, 0.5, 1.0, 2.0, 4.0];
        let r: Vec<f64> = d.iter().map(|&d| Form::Rl.eval(&[0.9, 0.3], d)).collect();
        let law = fit(Form::Rl, &d, &r, &FitOptions::default()).unwrap();
        assert!((law.alpha() - 0.9).abs() < 1e-10 && (law.beta() - 0.3).abs() < 1e-10);
        assert!(law.r2.is_finite() && law.rmse.is_finite());
    }

    #[test]
    fn zero_weight_ignores_an_outlier() {
        let d = grid(0.2, 3.0, 15);
        let mut r: Vec<f64> = d.iter().map(|&d| Form::Bon.eval(&[1.0, 0.3], d)).collect();
        r[7] += 5.0;
        let mut w = vec![1.0; d.len()];
        w[7] = 0.0;
        let law = fit(Form::Bon, &d, &r, &FitOptions::default().with_weights(w)).unwrap();
        assert!((law.alpha() - 1.0).abs() < 1e-10 && (law.beta() - 0.3).abs() < 1e-10);
        let unweighted = fit(Form::Bon, &d, &r, &FitOptions::default()).unwrap();
        assert!((unweighted.alpha() - 1.0).abs() > 0.01);
    }

    #[test]
    fn lm_from_a_poor_start_finds_the_linear_optimum() {
        let d = grid(0.5, 10.0, 25);
        let r: Vec<f64> = d.iter().map(|&d| Form::Rl.eval(&[0.5, 0.1], d) + 0.01 * (d * 7.0).sin()).collect();
        let closed = fit(Form::Rl, &d, &r, &FitOptions::default()).unwrap();
        let from_far = fit(Form::Rl, &d, &r, &FitOptions::default().with_initial(vec![-3.0, 2.0])).unwrap();
        assert!((closed.alpha() - from_far.alpha()).abs() < 1e-9);
        assert!((closed.beta() - from_far.beta()).abs() < 1e-9);
    }

    #[test]
    fn errors_name_the_problem() {
        let o = FitOptions::default();
        let e = fit(Form::Bon, &[1.0, 2.0], &[1.0], &o).unwrap_err();
        assert!(matches!(e, LawError::LengthMismatch { left_len: 2, right_len: 1, .. }), "{e}");
        let e = fit(Form::Bon, &[1.0, 2.0, 3.0], &[1.0, f64::NAN, 1.0], &o).unwrap_err();
        assert!(matches!(e, LawError::NonFinite { what: "r", index: 1, value } if value.is_nan()), "{e}");
        assert!(e.to_string().contains("`r` at index 1"), "{e}");
        let e = fit(Form::Bon, &[1.0, -2.0, 3.0], &[1.0, 1.0, 1.0], &o).unwrap_err();
        assert_eq!(e, LawError::NegativeD { index: 1, value: -2.0 });
        let e = fit(Form::BonPower, &[0.0, 1.0, 2.0], &[0.0, 1.0, 1.0], &o).unwrap_err();
        assert_eq!(e, LawError::TooFewPoints { free: 3, needed: 3, got: 2 });
        let e = fit(Form::Bon, &[2.0, 2.0, 2.0], &[1.0, 1.0, 1.0], &o).unwrap_err();
        assert!(matches!(e, LawError::SolverFailed { .. }), "{e}");
        let e =
            fit(Form::Bon, &[1.0, 2.0], &[1.0, 1.0], &o.clone().with_weights(vec![1.0, -1.0])).unwrap_err();
        assert_eq!(e, LawError::NegativeWeight { index: 1, value: -1.0 });
        let e = fit(Form::Bon, &[1.0, 2.0], &[1.0, 1.0], &o.clone().with_initial(vec![1.0])).unwrap_err();
        assert!(matches!(e, LawError::WrongParamCount { expected: 2, got: 1, .. }));
        // One point suffices with alpha fixed.
        let law = fit(Form::Bon, &[2.0], &[1.0], &o.with_fixed_alpha(1.0)).unwrap();
        assert!((law.beta() - 0.25).abs() < 1e-12);
    }

    #[test]
    fn extrapolation_of_the_right_form_is_near_perfect() {
        let d = grid(0.5, 10.0, 40);
        let r: Vec<f64> = d.iter().map(|&d| Form::Rl.eval(&[1.0, 0.35], d)).collect();
        let good = extrapolate(Form::Rl, &d, &r, 4.0, &FitOptions::default()).unwrap();
        assert!(good.n_beyond > 0 && good.fit.n_points + good.n_beyond == d.len());
        assert!(good.rmse_beyond.unwrap() < 1e-9);
        let wrong = extrapolate(Form::Bon, &d, &r, 4.0, &FitOptions::default()).unwrap();
        assert!(wrong.rmse_beyond.unwrap() > 0.1, "{wrong:?}");
        assert!(wrong.max_abs_error_beyond.unwrap() >= wrong.rmse_beyond.unwrap());
        let none = extrapolate(Form::Rl, &d, &r, 100.0, &FitOptions::default()).unwrap();
        assert_eq!((none.n_beyond, none.rmse_beyond), (0, None));
    }
}
