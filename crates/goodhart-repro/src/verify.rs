//! `cargo xtask verify fig1`: the paper's findings that figure 1 covers, checked by number.

use goodhart_laws::log_linear_regression;

use crate::fig1::Fig1;

/// One finding, measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    /// What was measured and against what, for a person.
    pub detail: String,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.passed { "PASS" } else { "FAIL" };
        write!(f, "{verdict}  {}: {}", self.name, self.detail)
    }
}

fn check(name: &str, passed: bool, detail: String) -> Check {
    Check { name: name.to_string(), passed, detail }
}

/// Lowest R^2 a fitted gold curve may have.
pub const MIN_R2_BON: f64 = 0.9;
pub const MIN_R2_RL: f64 = 0.8;
/// How many times more KL RL must spend than best-of-n to reach the same gold.
pub const MIN_KL_RATIO: f64 = 2.0;

/// The smallest KL at which a curve first reaches `target` (linear interpolation between
/// measured points), or `None` if it never does.
pub fn kl_to_reach(kl: &[f64], gold: &[f64], target: f64) -> Option<f64> {
    if gold.first().is_some_and(|&g| g >= target) {
        return kl.first().copied();
    }
    (1..gold.len()).find(|&i| gold[i] >= target).map(|i| {
        let t = (target - gold[i - 1]) / (gold[i] - gold[i - 1]);
        kl[i - 1] + t * (kl[i] - kl[i - 1])
    })
}

/// Whether `xs` falls strictly from each value to the next (a tie is not a fall).
pub fn falls_at_every_step(xs: &[f64]) -> bool {
    xs.windows(2).all(|w| w[1] < w[0])
}

/// Every check of figure 1, in a fixed order. Coefficient trends need at least two sizes; RL
/// checks are skipped (not failed) when the figure has no RL runs, and say so.
pub fn fig1_checks(f: &Fig1) -> Vec<Check> {
    let mut out = Vec::new();
    let losses: Vec<f64> = f.results.iter().map(|r| r.proxy.val.loss).collect();
    let listed: Vec<String> =
        f.results.iter().map(|r| format!("{} {:.4}", r.proxy.size, r.proxy.val.loss)).collect();
    out.push(check(
        "proxies: validation loss falls with RM size",
        falls_at_every_step(&losses),
        listed.join(", "),
    ));
    let best = f.results.iter().map(|r| r.proxy.val.accuracy).fold(f64::NEG_INFINITY, f64::max);
    out.push(check(
        "gold agrees with the rubric better than any proxy with the gold",
        f.gold.val.accuracy > best,
        format!("gold {:.3}, best proxy {best:.3}", f.gold.val.accuracy),
    ));
    let smaller = f.results.len().div_ceil(2);
    for r in &f.results[..smaller] {
        let rises = r.proxy_score.last().map(|e| e.mean) > r.proxy_score.first().map(|e| e.mean);
        out.push(check(
            &format!("bon {}: gold peaks and falls while proxy rises", r.proxy.size),
            r.falls_after_peak && rises,
            format!(
                "max - last gold {:.3} (se {:.3}, needs > 2 se); proxy {:.3} -> {:.3}",
                r.fall.mean,
                r.fall.se,
                r.proxy_score[0].mean,
                r.proxy_score.last().map_or(f64::NAN, |e| e.mean)
            ),
        ));
    }
    let min_r2 = f.results.iter().map(|r| r.r2).fold(f64::INFINITY, f64::min);
    out.push(check(
        "bon fits: R^2 of d(alpha - beta d)",
        min_r2 >= MIN_R2_BON,
        format!("lowest R^2 {min_r2:.3} (needs >= {MIN_R2_BON})"),
    ));
    let params: Vec<f64> = f.results.iter().map(|r| r.proxy.params as f64).collect();
    let trend = |name: &str, ys: Vec<f64>, params: &[f64], up: bool| -> Check {
        match log_linear_regression(params, &ys) {
            Ok(line) => check(
                name,
                if up { line.slope > 0.0 } else { line.slope < 0.0 },
                format!(
                    "slope {:+.4} per decade of RM parameters (needs {}), R^2 of the line {:.2}",
                    line.slope,
                    if up { "> 0" } else { "< 0" },
                    line.r2
                ),
            ),
            Err(e) => check(name, false, format!("cannot fit a trend: {e}")),
        }
    };
    out.push(trend(
        "alpha_bon rises with RM size",
        f.results.iter().map(|r| r.alpha_bon).collect(),
        &params,
        true,
    ));
    out.push(trend(
        "beta_bon falls with RM size",
        f.results.iter().map(|r| r.beta_bon).collect(),
        &params,
        false,
    ));
    if f.rl.is_empty() {
        out.push(check("rl", false, "no RL runs in these results (rl.sizes is empty)".into()));
        return out;
    }
    let smaller = f.rl.len().div_ceil(2);
    for r in &f.rl[..smaller] {
        out.push(check(
            &format!("rl {}: gold peaks and falls while proxy rises", r.proxy.size),
            r.falls_after_peak && r.proxy_rises,
            format!(
                "max - last gold {:.3} (se {:.3}, needs > 2 se); proxy {:.3} -> {:.3} at KL {:.1}",
                r.fall.mean,
                r.fall.se,
                r.proxy_score[0].mean,
                r.proxy_score.last().map_or(f64::NAN, |e| e.mean),
                r.kl_reached
            ),
        ));
    }
    let min_r2 = f.rl.iter().map(|r| r.r2).fold(f64::INFINITY, f64::min);
    out.push(check(
        "rl fits: R^2 of d(alpha - beta ln d)",
        min_r2 >= MIN_R2_RL,
        format!("lowest R^2 {min_r2:.3} (needs >= {MIN_R2_RL})"),
    ));
    let rl_params: Vec<f64> = f.rl.iter().map(|r| r.proxy.params as f64).collect();
    out.push(trend(
        "beta_RL (shared alpha) falls with RM size",
        f.rl.iter().map(|r| r.beta_rl_shared).collect(),
        &rl_params,
        false,
    ));
    for r in &f.rl {
        let Some(bon) = f.results.iter().find(|b| b.proxy.size == r.proxy.size) else {
            continue;
        };
        let bon_gold: Vec<f64> = bon.gold.iter().map(|e| e.mean).collect();
        let rl_gold: Vec<f64> = r.gold.iter().map(|e| e.mean).collect();
        let rl_kl: Vec<f64> = r.kl.iter().map(|e| e.mean).collect();
        let top = |g: &[f64]| g.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let target = 0.8 * top(&bon_gold).min(top(&rl_gold));
        let name = format!("rl {}: more KL than best-of-n for the same gold", r.proxy.size);
        match (kl_to_reach(&bon.kl, &bon_gold, target), kl_to_reach(&rl_kl, &rl_gold, target)) {
            (Some(kb), Some(kr)) if target > 0.0 => out.push(check(
                &name,
                kr >= MIN_KL_RATIO * kb,
                format!(
                    "gold {target:.3} at KL {kr:.2} (RL) vs {kb:.2} (BoN): {:.1}x (needs >= {MIN_KL_RATIO}x)",
                    kr / kb
                ),
            )),
            _ => out.push(check(
                &name,
                false,
                format!("no positive gold level both curves reach ({target:.3})"),
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tie_or_a_rise_is_not_a_fall() {
        assert!(falls_at_every_step(&[0.5, 0.4, 0.3]));
        assert!(falls_at_every_step(&[0.5]));
        assert!(!falls_at_every_step(&[0.5, 0.5, 0.3]));
        assert!(!falls_at_every_step(&[0.5, 0.4, 0.41]));
    }

    #[test]
    fn kl_to_reach_interpolates_the_first_crossing() {
        let kl = [0.0, 1.0, 2.0, 4.0];
        let gold = [0.0, 0.5, 1.0, 0.2];
        assert_eq!(kl_to_reach(&kl, &gold, 0.75), Some(1.5));
        assert_eq!(kl_to_reach(&kl, &gold, 0.0), Some(0.0));
        assert_eq!(kl_to_reach(&kl, &gold, 1.01), None);
    }
}
