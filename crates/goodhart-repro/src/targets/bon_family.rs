//! The best-of-n family (beyond the paper): best-of-n, Best-of-Poisson and soft best-of-n on
//! figure 1's pools, each against every proxy, gold and rubric against the exact KL of each on
//! its pool (`goodhart_kl::*_selection`). Do the smoother relatives overoptimise less than
//! best-of-n at the same KL (Khalaf et al. 2025)? And a parameter tuned on seed 0 where each
//! method's gold peaks (their hacking threshold), scored on seeds 1..3. Reads figure 1's stages
//! of seeds 0..3 (computing them where missing).

use goodhart_core::Estimate;
use goodhart_plot::{spread_colour, Figure, LineStyle, Panel, Series};
use serde::Serialize;

use super::*;
use crate::pipeline::{Base, Pipeline};
use crate::ReproError;
use goodhart_findings::checks::{check, not_applicable, within_trust, Check};
use goodhart_findings::stats::SIGNIFICANT_SE;
use goodhart_findings::stats::{order_trusted_range, TrustedRange};

/// The methods, in the order they are drawn.
pub const METHODS: [&str; 3] = ["bon", "poisson", "soft"];

/// One method's curve over a grid of its parameter, averaged over prompts.
#[derive(Debug, Clone, Serialize)]
pub struct MethodCurve {
    pub method: String,
    /// n (best-of-n), mu (Best-of-Poisson) or lambda (soft best-of-n), in order of rising KL.
    pub parameter: Vec<f64>,
    /// Mean over prompts of each point's exact KL on the prompt's pool.
    pub kl: Vec<f64>,
    pub proxy: Vec<Estimate>,
    pub gold: Vec<Estimate>,
    pub rubric: Vec<Estimate>,
    /// `gold_by_prompt[k][p]`: the method's expected gold on prompt p at point k.
    #[serde(skip)]
    pub gold_by_prompt: Vec<Vec<f64>>,
}

/// The parameter grids: best-of-n's n on the figure's grid, Best-of-Poisson's mu = n - 1 (the
/// same mean number of draws), soft best-of-n's lambda from 100 down to 0.003 (log-spaced).
pub fn grids(bon_ns: &[u64]) -> [Vec<f64>; 3] {
    let ns: Vec<f64> = bon_ns.iter().map(|&n| n as f64).collect();
    let mus = ns.iter().map(|n| n - 1.0).collect();
    let k = ns.len().max(2);
    let lambdas = (0..k).map(|i| 100.0 * (3e-5f64).powf(i as f64 / (k - 1) as f64)).collect();
    [ns, mus, lambdas]
}

/// Each method's curve on pools scored by a proxy, the gold and the rubric (`[prompt][sample]`).
pub fn family_curves(
    proxy: &[Vec<f64>],
    gold: &[Vec<f64>],
    rubric: &[Vec<f64>],
    bon_ns: &[u64],
) -> Result<Vec<MethodCurve>, ReproError> {
    let err = |e: goodhart_kl::KlError| ReproError::Artifact(format!("best-of-n family on the pools: {e}"));
    let mut out = Vec::new();
    for (method, grid) in METHODS.iter().zip(grids(bon_ns)) {
        let mut c = MethodCurve {
            method: method.to_string(),
            parameter: grid.clone(),
            kl: Vec::new(),
            proxy: Vec::new(),
            gold: Vec::new(),
            rubric: Vec::new(),
            gold_by_prompt: Vec::new(),
        };
        for &x in &grid {
            let (mut kls, mut ps, mut gs, mut rs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for p in 0..proxy.len() {
                let q = match *method {
                    "bon" => goodhart_kl::best_of_n_selection(&proxy[p], x as u64),
                    "poisson" => goodhart_kl::best_of_poisson_selection(&proxy[p], x),
                    _ => goodhart_kl::soft_best_of_n_selection(&proxy[p], x),
                }
                .map_err(err)?;
                let dot = |v: &[f64]| q.iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
                kls.push(goodhart_kl::kl_from_pool_selection(&q).map_err(err)?);
                ps.push(dot(&proxy[p]));
                gs.push(dot(&gold[p]));
                rs.push(dot(&rubric[p]));
            }
            c.kl.push(kls.iter().sum::<f64>() / kls.len().max(1) as f64);
            c.proxy.push(Estimate::from_values(&ps));
            c.gold.push(Estimate::from_values(&gs));
            c.rubric.push(Estimate::from_values(&rs));
            c.gold_by_prompt.push(gs);
        }
        out.push(c);
    }
    Ok(out)
}

/// Each prompt's gold where the curve's mean KL first reaches `kl` (linear between grid points);
/// `None` beyond the curve.
fn gold_at_kl(c: &MethodCurve, kl: f64) -> Option<Vec<f64>> {
    let k = (1..c.kl.len()).find(|&k| c.kl[k] >= kl)?;
    let t = ((kl - c.kl[k - 1]) / (c.kl[k] - c.kl[k - 1])).clamp(0.0, 1.0);
    Some(c.gold_by_prompt[k - 1].iter().zip(&c.gold_by_prompt[k]).map(|(a, b)| a + t * (b - a)).collect())
}

/// `method` against best-of-n on one proxy: at the largest KL both reach, its gold exceeds
/// best-of-n's by more than [`SIGNIFICANT_SE`] se (paired over prompts): it overoptimised less
/// at the same KL. N/A when best-of-n's gold did not fall from its peak by then (nothing to do
/// better than), and where either curve is read beyond the gold's trusted range ([`trusted`]).
pub fn family_check(size: &str, bon: &MethodCurve, other: &MethodCurve) -> Check {
    let name = format!("bon-family {} {size}: more gold than best-of-n at the same KL", other.method);
    let top = |c: &MethodCurve| c.kl.last().copied().unwrap_or(0.0);
    let kl = top(bon).min(top(other));
    let (Some(a), Some(b)) = (gold_at_kl(other, kl), gold_at_kl(bon, kl)) else {
        return not_applicable(&name, format!("the curves share no KL above 0 (up to {kl:.2})"));
    };
    let peak = bon.gold.iter().map(|g| g.mean).fold(f64::NEG_INFINITY, f64::max);
    let bon_at = b.iter().sum::<f64>() / b.len().max(1) as f64;
    let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
    let diff = Estimate::from_values(&d);
    if peak - bon_at <= SIGNIFICANT_SE * diff.se {
        return not_applicable(
            &name,
            format!("best-of-n's gold has not fallen from its peak by KL {kl:.2} ({peak:.3} -> {bon_at:.3}): nothing to overoptimise less than"),
        );
    }
    let read = kl.max(0.0).sqrt();
    let ranges = [(bon, trusted(bon)), (other, trusted(other))]
        .map(|(c, t)| (c.method.as_str(), t.map(|t| t.read_to(read))));
    within_trust(
        check(
            &name,
            diff.mean > SIGNIFICANT_SE * diff.se,
            format!(
                "at KL {kl:.2}: {} gold minus best-of-n's {:+.3} (se {:.3}, paired over {} prompts; needs > {SIGNIFICANT_SE} se); best-of-n fell {peak:.3} -> {bon_at:.3}",
                other.method, diff.mean, diff.se, diff.n
            ),
        ),
        ranges.iter().map(|(l, t)| (*l, t.as_ref())),
    )
}

/// How far along a method's curve (in sqrt of its exact KL) the gold orders its points as the
/// rubric does (`None` without rubric scores).
pub fn trusted(c: &MethodCurve) -> Option<TrustedRange> {
    let d: Vec<f64> = c.kl.iter().map(|k| k.max(0.0).sqrt()).collect();
    order_trusted_range(&d, &c.gold, &c.rubric)
}

/// Where each method's mean gold peaks on a curve: its tuned parameter (the hacking threshold).
pub fn tuned(c: &MethodCurve) -> (f64, usize) {
    let k = (0..c.gold.len()).max_by(|&a, &b| c.gold[a].mean.total_cmp(&c.gold[b].mean)).unwrap_or(0);
    (c.parameter[k], k)
}

/// Seeds 1..=HELD_OUT score what seed 0 tuned.
const HELD_OUT: u64 = 3;

#[derive(Debug, Clone, Serialize)]
struct SizeResult {
    seed: u64,
    size: String,
    curves: Vec<MethodCurve>,
    /// Per method: the parameter tuned on seed 0, and this seed's gold there.
    tuned: Vec<(String, f64, Estimate)>,
}

/// Runs the target: every seed 0..=3 (figure 1's stages of each), parameters tuned on seed 0,
/// checks over seeds 1..3.
pub(super) fn run(p: &Pipeline) -> Result<TargetOutput, ReproError> {
    let mut results: Vec<SizeResult> = Vec::new();
    let mut per_seed: Vec<Vec<Check>> = Vec::new();
    let mut records = Vec::new();
    for seed in 0..=HELD_OUT {
        let q = Pipeline::new(p.config.with_seed(seed), p.store.root(), p.device.clone())
            .with_reporter(p.reporter.clone());
        let mut checks = Vec::new();
        for (size, curves) in sizes(&q)? {
            let tuned_on =
                results.iter().find(|r| r.seed == 0 && r.size == size).map_or(&curves, |r| &r.curves);
            let tuned_here = curves
                .iter()
                .zip(tuned_on)
                .map(|(c, c0)| {
                    let (x, k) = tuned(c0);
                    (c.method.clone(), x, c.gold[k.min(c.gold.len() - 1)])
                })
                .collect();
            if seed > 0 {
                checks.extend(curves[1..].iter().map(|other| family_check(&size, &curves[0], other)));
            }
            records.extend(curves.iter().flat_map(|c| curve_records(seed, &size, c)));
            results.push(SizeResult { seed, size, curves, tuned: tuned_here });
        }
        if seed > 0 {
            per_seed.push(checks);
        }
    }
    let checks = over_seeds(&per_seed);
    let markdown = markdown(&results, &checks);
    let figure = figure(&results);
    Ok(TargetOutput::new("bon-family", markdown, records, Some(figure), &results).with_checks(checks))
}

/// Each check over the held-out seeds: passed on a majority of those where it applies.
fn over_seeds(per_seed: &[Vec<Check>]) -> Vec<Check> {
    let Some(first) = per_seed.first() else { return Vec::new() };
    first
        .iter()
        .map(|c0| {
            let same: Vec<(usize, &Check)> = per_seed
                .iter()
                .enumerate()
                .filter_map(|(s, cs)| cs.iter().find(|c| c.name == c0.name).map(|c| (s + 1, c)))
                .collect();
            let applying: Vec<&(usize, &Check)> = same.iter().filter(|(_, c)| c.applies).collect();
            let detail = same
                .iter()
                .map(|(s, c)| {
                    format!(
                        "seed {s}: {} {}",
                        if !c.applies {
                            "N/A"
                        } else if c.passed {
                            "pass"
                        } else {
                            "fail"
                        },
                        c.detail
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            if applying.is_empty() {
                return not_applicable(&c0.name, detail);
            }
            let passed = applying.iter().filter(|(_, c)| c.passed).count();
            check(
                &c0.name,
                2 * passed > applying.len(),
                format!("passed on {passed} of {} seeds: {detail}", applying.len()),
            )
        })
        .collect()
}

fn curve_records(seed: u64, size: &str, c: &MethodCurve) -> Vec<goodhart_core::Record> {
    (0..c.kl.len())
        .map(|k| {
            let mut r =
                goodhart_core::Record::new(format!("bon-family/{}", c.method), goodhart_core::Method::Bon);
            r.rm_size = size.to_string();
            r.seed = seed;
            r.n = (c.method == "bon").then_some(c.parameter[k] as u64);
            r.kl = c.kl[k];
            r.sqrt_kl = c.kl[k].max(0.0).sqrt();
            (r.gold, r.gold_se) = (c.gold[k].mean, c.gold[k].se);
            (r.proxy, r.proxy_se) = (c.proxy[k].mean, c.proxy[k].se);
            (r.rubric, r.rubric_se) = (c.rubric[k].mean, c.rubric[k].se);
            r
        })
        .collect()
}

/// Every proxy's curves on one seed's pools.
fn sizes(p: &Pipeline) -> Result<Vec<(String, Vec<MethodCurve>)>, ReproError> {
    let Base { w, data, pools, gold_scores, rubric_scores, .. } = p.base()?;
    let ns = p.bon_grid();
    let mut out = Vec::new();
    for size in &p.config.proxies.sizes {
        let proxy = p.proxy(&w, size, &data)?;
        let scores = p.bon_scores(&pools, &proxy)?;
        out.push((size.clone(), family_curves(&scores, &gold_scores, &rubric_scores, &ns)?));
    }
    Ok(out)
}

fn markdown(results: &[SizeResult], checks: &[Check]) -> String {
    let mut s = String::new();
    line(&mut s, "# bon-family: best-of-n, Best-of-Poisson and soft best-of-n on the same pools\n");
    line(
        &mut s,
        "Each method runs on each prompt's pool as its base policy; its KL is exact on the pool \
         (`goodhart_kl::kl_from_pool_selection`), its gold the expected gold of what it picks. \
         Best-of-Poisson draws 1 + Poisson(mu) samples with mu = n - 1; soft best-of-n samples the pool \
         tilted by exp(proxy / lambda).\n",
    );
    line(
        &mut s,
        "Tuned: the parameter where each method's mean gold peaks on seed 0 (its hacking threshold), and each \
         seed's gold there; checks over seeds 1..3 (a majority of the seeds where each applies).\n",
    );
    line(&mut s, "| seed | size | method | tuned parameter | KL range | gold there (se) | peak gold on this seed |\n|---|---|---|---|---|---|---|");
    for r in results {
        for (c, (method, x, g)) in r.curves.iter().zip(&r.tuned) {
            let peak = c.gold.iter().map(|g| g.mean).fold(f64::NEG_INFINITY, f64::max);
            line(
                &mut s,
                format!(
                    "| {} | {} | {method} | {x:.4} | {:.2} .. {:.2} | {:.3} ({:.3}) | {peak:.3} |",
                    r.seed,
                    r.size,
                    c.kl.first().copied().unwrap_or(0.0),
                    c.kl.last().copied().unwrap_or(0.0),
                    g.mean,
                    g.se
                ),
            );
        }
    }
    line(&mut s, "\n## Checks\n");
    for c in checks {
        line(&mut s, format!("- {c}"));
    }
    s
}

fn figure(results: &[SizeResult]) -> Figure {
    let mut fig =
        Figure::new("The best-of-n family, seed 0: gold (solid) and rubric (dashed) against sqrt(KL)");
    for (j, method) in METHODS.iter().enumerate() {
        let mut panel = Panel::new(format!("({}) {method}", ["a", "b", "c"][j]), X_SQRT_KL, "score");
        let seed0: Vec<&SizeResult> = results.iter().filter(|r| r.seed == 0).collect();
        for (i, r) in seed0.iter().enumerate() {
            let c = &r.curves[j];
            let d: Vec<f64> = c.kl.iter().map(|k| k.max(0.0).sqrt()).collect();
            let colour = spread_colour(i, seed0.len());
            panel.series.push(Series::new(
                format!("gold, RM {}", r.size),
                colour,
                LineStyle::Solid,
                xy(&d, &ys(&c.gold)),
            ));
            panel.series.push(Series::new(
                format!("rubric, RM {}", r.size),
                colour,
                LineStyle::Dashed,
                xy(&d, &ys(&c.rubric)),
            ));
        }
        fig = fig.with_panel(panel);
    }
    fig
}

#[cfg(test)]
mod tests {
    use goodhart_core::SplitMix64;

    use super::*;

    fn pools(f: impl Fn(f64, f64) -> f64) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let mut rng = SplitMix64::new(5);
        let (mut proxy, mut gold) = (Vec::new(), Vec::new());
        for _ in 0..200 {
            let g: Vec<f64> = (0..256).map(|_| rng.next_gaussian()).collect();
            proxy.push(g.iter().map(|&g| f(g, rng.next_gaussian())).collect());
            gold.push(g);
        }
        (proxy, gold)
    }

    #[test]
    fn the_grids_rise_in_kl_and_the_methods_meet_at_the_base() {
        let (proxy, gold) = pools(|g, e| g + e);
        let ns = goodhart_bon::log_grid(256, 8);
        let curves = family_curves(&proxy, &gold, &gold, &ns).unwrap();
        for c in &curves {
            assert!(c.kl.windows(2).all(|w| w[1] >= w[0] - 1e-12), "{}: {:?}", c.method, c.kl);
            // at the base (n = 1, mu = 0, lambda large) every method is the pool's mean
            assert!(c.kl[0] < 0.01 && (c.gold[0].mean - curves[0].gold[0].mean).abs() < 0.02, "{}", c.method);
        }
    }

    #[test]
    fn a_method_that_overoptimises_less_passes_and_one_that_matches_fails() {
        // the proxy rewards a feature the gold punishes at the extremes: best-of-n rises and falls
        let (proxy, gold) = pools(|g, e| g + 2.0 * e);
        let gold: Vec<Vec<f64>> = gold
            .iter()
            .zip(&proxy)
            .map(|(g, p)| g.iter().zip(p).map(|(g, p)| g - 0.15 * p * p).collect())
            .collect();
        let ns = goodhart_bon::log_grid(256, 10);
        let curves = family_curves(&proxy, &gold, &gold, &ns).unwrap();
        let bon = &curves[0];
        // best-of-n against itself: the same gold at every KL, so no gain
        let same = family_check("p", bon, bon);
        assert!(same.fails() || !same.applies, "{same}");
        // a curve that keeps its peak gold to the end passes
        let mut kept = bon.clone();
        kept.method = "kept".into();
        let (_, k) = tuned(bon);
        for j in k..kept.gold_by_prompt.len() {
            kept.gold_by_prompt[j] = bon.gold_by_prompt[k].clone();
            kept.gold[j] = bon.gold[k];
            kept.rubric[j] = bon.rubric[k];
        }
        let c = family_check("p", bon, &kept);
        assert!(c.passed, "{c}");
        // the same curve where the rubric falls all along while its gold rises: not trusted, N/A
        let mut misled = kept.clone();
        misled.rubric =
            (0..misled.gold.len()).map(|j| Estimate { mean: -(j as f64), se: 0.01, n: 64 }).collect();
        assert!(trusted(&misled).is_some_and(|t| !t.covers_curve()));
        let c = family_check("p", bon, &misled);
        assert!(!c.applies && c.detail.contains("trusted range"), "{c}");
        // and where best-of-n never falls there is nothing to beat: N/A
        let (proxy, gold) = pools(|g, _| g);
        let clean = family_curves(&proxy, &gold, &gold, &ns).unwrap();
        assert!(!family_check("p", &clean[0], &clean[2]).applies);
    }
}
