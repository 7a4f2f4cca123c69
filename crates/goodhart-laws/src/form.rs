//! The functional forms of gold reward as a function of d = sqrt(KL).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A functional form for the gold reward score R(d), with d = sqrt(KL) in
/// nats^(1/2), measured relative to the initial policy. Every form is 0 at
/// d = 0 (the initial policy scores 0 by construction of the paper's
/// normalisation).
///
/// Parameters are always passed in the order given by
/// [`Form::param_names`]: `[alpha, beta]` or `[alpha, beta, gamma]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// Best-of-n: R_bon(d) = d (alpha - beta d).
    Bon,
    /// Reinforcement learning: R_RL(d) = d (alpha - beta ln d), with R_RL(0) = 0.
    Rl,
    /// Rejected RL alternative: R(d) = d (alpha - beta ln(1 + d)).
    RlLog1p,
    /// Rejected best-of-n alternative: R(d) = d (alpha - beta d^gamma).
    BonPower,
}

/// The maximum of a gold-reward curve: where it is (`d`) and how high (`r`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Peak {
    /// d* = sqrt(KL) at the maximum.
    pub d: f64,
    /// R(d*), the maximal gold reward.
    pub r: f64,
}

impl Form {
    /// All forms, paper forms first.
    pub const ALL: [Form; 4] = [Form::Bon, Form::Rl, Form::RlLog1p, Form::BonPower];

    /// Short snake_case name (the same as its serde name).
    pub fn name(&self) -> &'static str {
        match self {
            Form::Bon => "bon",
            Form::Rl => "rl",
            Form::RlLog1p => "rl_log1p",
            Form::BonPower => "bon_power",
        }
    }

    /// The formula as text, e.g. `"d (alpha - beta d)"`.
    pub fn formula(&self) -> &'static str {
        match self {
            Form::Bon => "d (alpha - beta d)",
            Form::Rl => "d (alpha - beta ln d)",
            Form::RlLog1p => "d (alpha - beta ln(1 + d))",
            Form::BonPower => "d (alpha - beta d^gamma)",
        }
    }

    /// Parameter names in order: `["alpha", "beta"]` or `["alpha", "beta", "gamma"]`.
    pub fn param_names(&self) -> &'static [&'static str] {
        match self {
            Form::Bon | Form::Rl | Form::RlLog1p => &["alpha", "beta"],
            Form::BonPower => &["alpha", "beta", "gamma"],
        }
    }

    /// Number of parameters (`param_names().len()`).
    pub fn n_params(&self) -> usize {
        self.param_names().len()
    }

    /// Evaluate R(d) for this form:
    ///
    /// * `Bon`:      d (alpha - beta d)
    /// * `Rl`:       d (alpha - beta ln d)
    /// * `RlLog1p`:  d (alpha - beta ln(1 + d))
    /// * `BonPower`: d (alpha - beta d^gamma)
    ///
    /// Every form returns exactly 0 at d = 0. The domain is d >= 0; for
    /// negative d the logarithmic forms return NaN.
    ///
    /// # Panics
    /// If `params.len() != self.n_params()`.
    pub fn eval(&self, params: &[f64], d: f64) -> f64 {
        self.check_len(params);
        if d == 0.0 {
            return 0.0;
        }
        let (alpha, beta) = (params[0], params[1]);
        d * (alpha - beta * self.shape(params, d))
    }

    /// Analytic partial derivatives of R(d) with respect to the parameters,
    /// written into `out` (same order as [`Form::param_names`]):
    ///
    /// * `Bon`:      dR/dalpha = d, dR/dbeta = -d^2
    /// * `Rl`:       dR/dalpha = d, dR/dbeta = -d ln d
    /// * `RlLog1p`:  dR/dalpha = d, dR/dbeta = -d ln(1 + d)
    /// * `BonPower`: dR/dalpha = d, dR/dbeta = -d^(1+gamma),
    ///   dR/dgamma = -beta d^(1+gamma) ln d
    ///
    /// All derivatives are 0 at d = 0.
    ///
    /// # Panics
    /// If `params.len()` or `out.len()` differ from `self.n_params()`.
    pub fn partial_derivatives(&self, params: &[f64], d: f64, out: &mut [f64]) {
        self.check_len(params);
        assert_eq!(out.len(), self.n_params(), "output slice has the wrong length");
        if d == 0.0 {
            out.fill(0.0);
            return;
        }
        out[0] = d;
        out[1] = -d * self.shape(params, d);
        if let Form::BonPower = self {
            let (beta, gamma) = (params[1], params[2]);
            out[2] = -beta * d.powf(1.0 + gamma) * d.ln();
        }
    }

    /// Convenience wrapper around [`Form::partial_derivatives`] that allocates.
    pub fn gradient(&self, params: &[f64], d: f64) -> Vec<f64> {
        let mut out = vec![0.0; self.n_params()];
        self.partial_derivatives(params, d, &mut out);
        out
    }

    /// The peak (maximum over d > 0) of R(d):
    ///
    /// * `Bon`: d* = alpha / (2 beta), R* = alpha^2 / (4 beta); requires
    ///   beta > 0 and alpha > 0.
    /// * `Rl`: d* = exp(alpha/beta - 1), R* = beta d*; requires beta > 0.
    ///   (The curve returns to 0 at d = exp(alpha/beta), see [`Form::rl_zero_crossing`].)
    /// * `BonPower`: d* = (alpha / (beta (1 + gamma)))^(1/gamma),
    ///   R* = alpha d* gamma / (1 + gamma); requires alpha, beta, gamma > 0.
    /// * `RlLog1p`: no closed form; the unique root of
    ///   dR/dd = alpha - beta (ln(1+d) + d/(1+d)) (strictly decreasing in d
    ///   when beta > 0) is found by bisection; requires alpha, beta > 0.
    ///
    /// Returns `None` when there is no interior maximum (the curve is
    /// unbounded above or never rises above 0) or the result is not finite.
    ///
    /// # Panics
    /// If `params.len() != self.n_params()`.
    pub fn peak(&self, params: &[f64]) -> Option<Peak> {
        self.check_len(params);
        let (alpha, beta) = (params[0], params[1]);
        let peak = match self {
            Form::Bon => {
                if !(beta > 0.0 && alpha > 0.0) {
                    return None;
                }
                Peak { d: alpha / (2.0 * beta), r: alpha * alpha / (4.0 * beta) }
            }
            Form::Rl => {
                if beta.is_nan() || beta <= 0.0 {
                    return None;
                }
                let d = (alpha / beta - 1.0).exp();
                Peak { d, r: beta * d }
            }
            Form::BonPower => {
                let gamma = params[2];
                if !(alpha > 0.0 && beta > 0.0 && gamma > 0.0) {
                    return None;
                }
                let d = (alpha / (beta * (1.0 + gamma))).powf(1.0 / gamma);
                Peak { d, r: alpha * d * gamma / (1.0 + gamma) }
            }
            Form::RlLog1p => {
                if !(alpha > 0.0 && beta > 0.0) {
                    return None;
                }
                let slope = |d: f64| alpha - beta * ((1.0 + d).ln() + d / (1.0 + d));
                // slope(0) = alpha > 0 and slope < 0 once ln(1 + d) >= alpha / beta.
                let mut hi = (alpha / beta).exp_m1().max(1e-12);
                if !hi.is_finite() {
                    return None;
                }
                while slope(hi) > 0.0 {
                    hi *= 2.0;
                }
                let mut lo = 0.0;
                for _ in 0..200 {
                    let mid = 0.5 * (lo + hi);
                    if slope(mid) > 0.0 {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                    if hi - lo <= 1e-15 * hi {
                        break;
                    }
                }
                let d = 0.5 * (lo + hi);
                Peak { d, r: self.eval(params, d) }
            }
        };
        (peak.d.is_finite() && peak.r.is_finite()).then_some(peak)
    }

    /// Numeric maximisation of R(d) over `[lo, hi]`, valid for any form:
    /// a grid search with 1,000 intervals followed by golden-section search
    /// in the bracket around the best grid point.
    ///
    /// Returns `None` if the range is invalid (not finite, lo < 0 or
    /// lo >= hi), if the best grid point lies at either end of the range (no
    /// interior maximum inside it), or if the curve is not finite there.
    pub fn numeric_peak(&self, params: &[f64], lo: f64, hi: f64) -> Option<Peak> {
        if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && lo < hi) {
            return None;
        }
        const STEPS: usize = 1000;
        let h = (hi - lo) / STEPS as f64;
        let at = |i: usize| lo + h * i as f64;
        let mut best = 0;
        let mut best_r = f64::NEG_INFINITY;
        for i in 0..=STEPS {
            let r = self.eval(params, at(i));
            if !r.is_finite() {
                return None;
            }
            if r > best_r {
                best = i;
                best_r = r;
            }
        }
        if best == 0 || best == STEPS {
            return None;
        }
        let d = golden_section_max(|d| self.eval(params, d), at(best - 1), at(best + 1));
        Some(Peak { d, r: self.eval(params, d) })
    }

    /// RL only: the d > 0 at which R_RL returns to 0, d = exp(alpha / beta).
    /// `None` for other forms or when beta <= 0.
    pub fn rl_zero_crossing(&self, params: &[f64]) -> Option<f64> {
        self.check_len(params);
        match self {
            Form::Rl if params[1] > 0.0 => Some((params[0] / params[1]).exp()),
            _ => None,
        }
    }

    /// The term multiplying beta inside the brackets: d, ln d, ln(1+d), d^gamma.
    fn shape(&self, params: &[f64], d: f64) -> f64 {
        match self {
            Form::Bon => d,
            Form::Rl => d.ln(),
            Form::RlLog1p => d.ln_1p(),
            Form::BonPower => d.powf(params[2]),
        }
    }

    fn check_len(&self, params: &[f64]) {
        assert_eq!(
            params.len(),
            self.n_params(),
            "form `{}` takes {} parameters {:?}",
            self.name(),
            self.n_params(),
            self.param_names()
        );
    }
}

impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Golden-section search for the maximum of a unimodal `f` on `[a, b]`.
fn golden_section_max(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64) -> f64 {
    let inv_phi = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - inv_phi * (b - a);
    let mut e = a + inv_phi * (b - a);
    let (mut fc, mut fe) = (f(c), f(e));
    for _ in 0..200 {
        if (b - a).abs() <= 1e-14 * (a.abs() + b.abs()).max(1e-300) {
            break;
        }
        if fc > fe {
            b = e;
            e = c;
            fe = fc;
            c = b - inv_phi * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = e;
            fc = fe;
            e = a + inv_phi * (b - a);
            fe = f(e);
        }
    }
    0.5 * (a + b)
}

/// Iterated-RLHF prediction (paper section 4.3 / eq. for iterated RL): split
/// a total distance d into k rounds of d/k each, each round following the RL
/// law with its own fresh reward model. The summed gold reward is
///
/// R_k(d) = k * (d/k) (alpha - beta ln(d/k)) = d (alpha - beta ln d + beta ln k).
///
/// So R_k(d) - R_1(d) = beta d ln k, and k = 1 recovers [`Form::Rl`].
/// Returns 0 at d = 0.
///
/// # Panics
/// If `k == 0`.
pub fn iterated_rl(alpha: f64, beta: f64, d: f64, k: u32) -> f64 {
    assert!(k >= 1, "iterated RLHF needs at least one round (k >= 1)");
    if d == 0.0 {
        return 0.0;
    }
    d * (alpha - beta * d.ln() + beta * f64::from(k).ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_at_hand_computed_points() {
        // Bon: 2 (1 - 0.25 * 2) = 1
        assert_eq!(Form::Bon.eval(&[1.0, 0.25], 2.0), 1.0);
        // Rl at d = e: e (1 - 0.5) = e / 2
        let e = std::f64::consts::E;
        assert!((Form::Rl.eval(&[1.0, 0.5], e) - e / 2.0).abs() < 1e-15);
        // Rl at d = 1: ln 1 = 0 so R = alpha
        assert_eq!(Form::Rl.eval(&[0.7, 0.3], 1.0), 0.7);
        // RlLog1p at d = e - 1: (e - 1)(alpha - beta)
        let r = Form::RlLog1p.eval(&[1.0, 0.5], e - 1.0);
        assert!((r - (e - 1.0) * 0.5).abs() < 1e-15);
        // BonPower at d = 2, gamma = 2: 2 (1 - 0.1 * 4) = 1.2
        assert!((Form::BonPower.eval(&[1.0, 0.1, 2.0], 2.0) - 1.2).abs() < 1e-15);
    }

    #[test]
    fn every_form_is_zero_at_origin_without_nan() {
        for form in Form::ALL {
            let params = vec![0.8; form.n_params()];
            assert_eq!(form.eval(&params, 0.0), 0.0, "{form}");
            assert!(form.gradient(&params, 0.0).iter().all(|&g| g == 0.0), "{form}");
        }
        // Even with a negative gamma, d = 0 is defined.
        assert_eq!(Form::BonPower.eval(&[1.0, 1.0, -2.0], 0.0), 0.0);
    }

    #[test]
    fn bon_power_with_gamma_one_is_bon() {
        for d in [0.1, 0.5, 1.0, 2.7] {
            let a = Form::Bon.eval(&[0.9, 0.2], d);
            let b = Form::BonPower.eval(&[0.9, 0.2, 1.0], d);
            assert!((a - b).abs() < 1e-15);
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let cases: [(Form, &[f64]); 4] = [
            (Form::Bon, &[0.8, 0.15]),
            (Form::Rl, &[0.8, 0.15]),
            (Form::RlLog1p, &[0.8, 0.15]),
            (Form::BonPower, &[0.8, 0.15, 1.3]),
        ];
        for (form, params) in cases {
            for d in [0.3, 1.0, 2.5, 7.0] {
                let g = form.gradient(params, d);
                for j in 0..params.len() {
                    let h = 1e-6;
                    let mut up = params.to_vec();
                    let mut down = params.to_vec();
                    up[j] += h;
                    down[j] -= h;
                    let fd = (form.eval(&up, d) - form.eval(&down, d)) / (2.0 * h);
                    assert!((g[j] - fd).abs() < 1e-6 * (1.0 + fd.abs()), "{form} d={d} j={j}");
                }
            }
        }
    }

    #[test]
    fn closed_form_peaks_by_hand() {
        // Bon: alpha = 1, beta = 0.25 -> d* = 2, R* = 1
        assert_eq!(Form::Bon.peak(&[1.0, 0.25]), Some(Peak { d: 2.0, r: 1.0 }));
        // Rl: alpha = beta -> d* = e^0 = 1, R* = beta
        assert_eq!(Form::Rl.peak(&[0.3, 0.3]), Some(Peak { d: 1.0, r: 0.3 }));
        // Rl: alpha = 2 beta -> d* = e, R* = beta e, zero crossing at e^2
        let p = Form::Rl.peak(&[1.0, 0.5]).unwrap();
        assert!((p.d - std::f64::consts::E).abs() < 1e-14);
        assert!((p.r - 0.5 * std::f64::consts::E).abs() < 1e-14);
        let z = Form::Rl.rl_zero_crossing(&[1.0, 0.5]).unwrap();
        assert!(Form::Rl.eval(&[1.0, 0.5], z).abs() < 1e-12);
        // BonPower gamma = 1 reduces to Bon.
        let p = Form::BonPower.peak(&[1.0, 0.25, 1.0]).unwrap();
        assert!((p.d - 2.0).abs() < 1e-14 && (p.r - 1.0).abs() < 1e-14);
    }

    #[test]
    fn no_peak_when_beta_not_positive() {
        assert_eq!(Form::Bon.peak(&[1.0, 0.0]), None);
        assert_eq!(Form::Bon.peak(&[1.0, -0.1]), None);
        assert_eq!(Form::Rl.peak(&[1.0, 0.0]), None);
        assert_eq!(Form::Rl.peak(&[1.0, -0.1]), None);
        assert_eq!(Form::RlLog1p.peak(&[1.0, -0.1]), None);
        assert_eq!(Form::BonPower.peak(&[1.0, -0.1, 1.0]), None);
        // Never rises above zero.
        assert_eq!(Form::Bon.peak(&[-1.0, 0.5]), None);
    }

    #[test]
    fn numeric_peak_agrees_with_all_closed_forms() {
        let cases: [(Form, &[f64]); 4] = [
            (Form::Bon, &[1.0, 0.2]),
            (Form::Rl, &[0.6, 0.3]),
            (Form::RlLog1p, &[0.9, 0.4]),
            (Form::BonPower, &[1.0, 0.2, 0.7]),
        ];
        for (form, params) in cases {
            let exact = form.peak(params).unwrap();
            let numeric = form.numeric_peak(params, 0.0, 4.0 * exact.d).unwrap();
            assert!((exact.d - numeric.d).abs() < 1e-6 * exact.d, "{form}: {exact:?} {numeric:?}");
            assert!((exact.r - numeric.r).abs() < 1e-12, "{form}");
        }
        // Monotone on the range: no interior peak.
        assert_eq!(Form::Bon.numeric_peak(&[1.0, 0.2], 0.0, 1.0), None);
        assert_eq!(Form::Bon.numeric_peak(&[1.0, 0.2], 1.0, 0.5), None);
    }

    #[test]
    fn iterated_rl_at_k_one_is_rl() {
        for d in [0.0, 0.5, 1.0, 3.0, 10.0] {
            assert_eq!(iterated_rl(0.8, 0.2, d, 1), Form::Rl.eval(&[0.8, 0.2], d));
        }
        // k = 2 at d = 1: 1 * (alpha + beta ln 2)
        assert!((iterated_rl(0.8, 0.2, 1.0, 2) - (0.8 + 0.2 * 2f64.ln())).abs() < 1e-15);
    }

    #[test]
    #[should_panic(expected = "k >= 1")]
    fn iterated_rl_rejects_zero_rounds() {
        iterated_rl(0.8, 0.2, 1.0, 0);
    }

    #[test]
    #[should_panic(expected = "takes 3 parameters")]
    fn eval_panics_on_wrong_param_count() {
        Form::BonPower.eval(&[1.0, 0.1], 1.0);
    }
}
