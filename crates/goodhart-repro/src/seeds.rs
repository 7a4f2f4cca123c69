//! `--seeds k`: figure 1 repeated over seeds, curves and coefficients aggregated with error bars.
//!
//! A seed resamples everything a reviewer would resample ([`Resample::All`]): the world's corpus
//! (the prompt split stays fixed: it defines what is held out), the initial policy's
//! pretraining, the gold RM's data and training, the proxies' pretrained LMs, their comparison
//! data, initialisation and batch order, the best-of-n pools and the PPO runs. Earlier
//! experiments found that the world, the policy and the gold decide whether overoptimisation shows
//! at all, so a finding that holds on one of them is not yet a finding.
//!
//! The cheaper [`Resample::Optimisation`] keeps the world, the policy, the gold and the proxies'
//! LMs, and resamples what the paper's error bars cover: proxy data, proxies, pools and PPO.
//! Seed 0 is the plain run either way, so it shares its cache with a single run.

use std::fmt::Write as _;

use goodhart_core::Estimate;
use goodhart_plot::{spread_colour, Figure, Panel};
use serde::{Deserialize, Serialize};

use crate::config::ExperimentConfig;
use crate::fig1::Fig1;
use crate::report::push_curves;
use goodhart_findings::checks::falls_at_every_step;

/// What a seed other than 0 resamples (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resample {
    /// Everything: world sample, initial policy, gold, proxy LMs, proxy data, proxies, pools, PPO.
    All,
    /// The optimisation only: proxy data, proxies, pools, PPO.
    Optimisation,
}

impl ExperimentConfig {
    /// This experiment with seed `k` (0 is the experiment itself), resampling everything.
    pub fn with_seed(&self, k: u64) -> Self {
        self.with_seed_resampling(k, Resample::All)
    }

    /// This experiment with seed `k` (0 is the experiment itself), resampling `what`.
    pub fn with_seed_resampling(&self, k: u64, what: Resample) -> Self {
        let mut c = self.clone();
        if k == 0 {
            return c;
        }
        c.proxies.train.seed = c.proxies.train.seed.wrapping_add(k);
        c.bon.seed = c.bon.seed.wrapping_add(1000 * k);
        c.rl.ppo.seed = c.rl.ppo.seed.wrapping_add(k);
        c.rl.prompt_seed = c.rl.prompt_seed.wrapping_add(k);
        if what == Resample::All {
            c.world.seed = c.world.seed.wrapping_add(k);
            c.policy.pretrain.seed = c.policy.pretrain.seed.wrapping_add(k);
            c.gold.train.seed = c.gold.train.seed.wrapping_add(k);
            if let Some(lm) = c.proxies.init_lm.as_mut() {
                lm.seed = lm.seed.wrapping_add(k);
            }
        }
        c
    }
}

/// Mean and standard error across seeds of one number per seed.
fn across(xs: impl IntoIterator<Item = f64>) -> Estimate {
    let v: Vec<f64> = xs.into_iter().filter(|x| x.is_finite()).collect();
    Estimate::from_values(&v)
}

/// One proxy size's best-of-n result over seeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BonAcross {
    pub size: String,
    pub params: u64,
    /// The proxy's validation loss, by seed and across seeds.
    pub val_loss_by_seed: Vec<f64>,
    pub val_loss: Estimate,
    pub val_accuracy: Estimate,
    pub alpha_bon: Estimate,
    pub beta_bon: Estimate,
    pub r2: Estimate,
    pub peak_d: Estimate,
    pub peak_r: Estimate,
    /// Seeds whose gold curve falls after its peak (on the half of the prompts that did not
    /// choose the peak, by more than two standard errors).
    pub falls: usize,
    /// The grid is the same for every seed: KL and the gold / proxy means across seeds.
    pub kl: Vec<f64>,
    pub gold: Vec<Estimate>,
    pub proxy: Vec<Estimate>,
}

/// One proxy size's PPO result over seeds (KL differs by seed: points are per evaluation step).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RlAcross {
    pub size: String,
    pub alpha_rl: Estimate,
    pub beta_rl: Estimate,
    pub beta_rl_shared: Estimate,
    pub r2: Estimate,
    pub kl_reached: Estimate,
    pub falls: usize,
    pub steps: Vec<u64>,
    pub kl: Vec<Estimate>,
    pub gold: Vec<Estimate>,
    pub proxy: Vec<Estimate>,
}

/// Figure 1 over seeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fig1Seeds {
    pub seeds: Vec<u64>,
    pub resample: Resample,
    pub bon: Vec<BonAcross>,
    pub rl: Vec<RlAcross>,
    pub rl_alpha_shared: Estimate,
}

/// Aggregates per-seed figures (the same config but for seeds).
pub fn aggregate(seeds: &[u64], resample: Resample, runs: &[Fig1]) -> Fig1Seeds {
    let first = &runs[0];
    let bon = (0..first.results.len())
        .map(|i| {
            let rs: Vec<_> = runs.iter().map(|f| &f.results[i]).collect();
            let cols = rs[0].ns.len();
            BonAcross {
                size: rs[0].proxy.size.clone(),
                params: rs[0].proxy.params,
                val_loss_by_seed: rs.iter().map(|r| r.proxy.val.loss).collect(),
                val_loss: across(rs.iter().map(|r| r.proxy.val.loss)),
                val_accuracy: across(rs.iter().map(|r| r.proxy.val.accuracy)),
                alpha_bon: across(rs.iter().map(|r| r.alpha_bon)),
                beta_bon: across(rs.iter().map(|r| r.beta_bon)),
                r2: across(rs.iter().map(|r| r.r2)),
                peak_d: across(rs.iter().filter_map(|r| r.peak_d)),
                peak_r: across(rs.iter().filter_map(|r| r.peak_r)),
                falls: rs.iter().filter(|r| r.fall.falls).count(),
                kl: rs[0].kl.clone(),
                gold: (0..cols).map(|k| across(rs.iter().map(|r| r.gold[k].mean))).collect(),
                proxy: (0..cols).map(|k| across(rs.iter().map(|r| r.proxy_score[k].mean))).collect(),
            }
        })
        .collect();
    let rl = (0..first.rl.len())
        .map(|i| {
            let rs: Vec<_> = runs.iter().map(|f| &f.rl[i]).collect();
            let cols = rs.iter().map(|r| r.steps.len()).min().unwrap_or(0);
            RlAcross {
                size: rs[0].proxy.size.clone(),
                alpha_rl: across(rs.iter().map(|r| r.alpha_rl)),
                beta_rl: across(rs.iter().map(|r| r.beta_rl)),
                beta_rl_shared: across(rs.iter().map(|r| r.beta_rl_shared)),
                r2: across(rs.iter().map(|r| r.r2)),
                kl_reached: across(rs.iter().map(|r| r.kl_reached)),
                falls: rs.iter().filter(|r| r.fall.falls).count(),
                steps: rs[0].steps[..cols].to_vec(),
                kl: (0..cols).map(|k| across(rs.iter().map(|r| r.kl[k].mean))).collect(),
                gold: (0..cols).map(|k| across(rs.iter().map(|r| r.gold[k].mean))).collect(),
                proxy: (0..cols).map(|k| across(rs.iter().map(|r| r.proxy_score[k].mean))).collect(),
            }
        })
        .collect();
    Fig1Seeds {
        seeds: seeds.to_vec(),
        resample,
        bon,
        rl,
        rl_alpha_shared: across(runs.iter().filter_map(|f| f.rl_alpha_shared)),
    }
}

/// Given each size's validation losses by seed (sizes smallest first): the number of seeds whose
/// loss falls strictly from every size to the next, and whether the mean across seeds does.
pub fn val_loss_falls(by_size: &[Vec<f64>]) -> (usize, bool) {
    let seeds = by_size.iter().map(Vec::len).min().unwrap_or(0);
    let by_seed = (0..seeds)
        .filter(|&k| falls_at_every_step(&by_size.iter().map(|v| v[k]).collect::<Vec<_>>()))
        .count();
    let means: Vec<f64> = by_size.iter().map(|v| across(v.iter().copied()).mean).collect();
    (by_seed, falls_at_every_step(&means))
}

fn pm(e: &Estimate) -> String {
    if e.n == 0 {
        "-".into()
    } else if e.n == 1 {
        format!("{:.3}", e.mean)
    } else {
        format!("{:.3} ± {:.3}", e.mean, e.se)
    }
}

/// The tables: coefficients as mean ± standard error across seeds.
pub fn markdown(s: &Fig1Seeds) -> String {
    let mut out = String::new();
    let n = s.seeds.len();
    writeln!(out, "# fig1 over {n} seeds ({:?})\n", s.seeds).unwrap();
    writeln!(out, "Mean ± standard error across seeds. A seed resamples the proxy data, the proxies, the best-of-n pools and PPO; the world, the policy, the gold and the proxies' pretrained LMs are shared.\n").unwrap();
    writeln!(out, "## best-of-n\n\n| size | params | val loss | val accuracy | alpha_bon | beta_bon | R^2 | d* | R* | gold falls (seeds) |\n|---|---|---|---|---|---|---|---|---|---|").unwrap();
    for b in &s.bon {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{n} |",
            b.size,
            b.params,
            pm(&b.val_loss),
            pm(&b.val_accuracy),
            pm(&b.alpha_bon),
            pm(&b.beta_bon),
            pm(&b.r2),
            pm(&b.peak_d),
            pm(&b.peak_r),
            b.falls
        )
        .unwrap();
    }
    let (by_seed, mean) =
        val_loss_falls(&s.bon.iter().map(|b| b.val_loss_by_seed.clone()).collect::<Vec<_>>());
    writeln!(
        out,
        "\nThe proxies' validation loss falls with size in {by_seed} of {n} seeds; the mean across seeds {}.",
        if mean { "falls" } else { "does not fall" }
    )
    .unwrap();
    if !s.rl.is_empty() {
        writeln!(out, "\n## PPO (shared alpha_RL {})\n\n| size | alpha_RL | beta_RL | beta_RL (shared alpha) | R^2 | KL reached | gold falls (seeds) |\n|---|---|---|---|---|---|---|", pm(&s.rl_alpha_shared)).unwrap();
        for r in &s.rl {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {}/{n} |",
                r.size,
                pm(&r.alpha_rl),
                pm(&r.beta_rl),
                pm(&r.beta_rl_shared),
                pm(&r.r2),
                pm(&r.kl_reached),
                r.falls
            )
            .unwrap();
        }
    }
    out
}

/// Figure 1 with the across-seed means, gold with a band of one standard error across seeds.
pub fn figure(s: &Fig1Seeds) -> Figure {
    let x = "sqrt(KL) (nats^1/2)";
    let mut bon = Panel::new("(a) best-of-n", x, "RM score");
    let count = s.bon.len();
    let colour = |size: &str| spread_colour(s.bon.iter().position(|b| b.size == size).unwrap_or(0), count);
    for b in &s.bon {
        let d: Vec<f64> = b.kl.iter().map(|k| k.sqrt()).collect();
        push_curves(&mut bon, &format!("RM {}", b.size), colour(&b.size), &d, &b.gold, &b.proxy);
    }
    let mut fig =
        Figure::new(format!("Figure 1 over {} seeds: mean, band of one standard error", s.seeds.len()))
            .with_panel(bon);
    if !s.rl.is_empty() {
        let mut rl = Panel::new("(b) PPO", x, "RM score");
        for r in &s.rl {
            let d: Vec<f64> = r.kl.iter().map(|k| k.mean.max(0.0).sqrt()).collect();
            push_curves(&mut rl, &format!("RM {}", r.size), colour(&r.size), &d, &r.gold, &r.proxy);
        }
        fig = fig.with_panel(rl);
    }
    fig
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::hash_of as key_of;

    #[test]
    fn a_seed_resamples_everything_and_keeps_the_split() {
        let base = ExperimentConfig::preset("laptop").unwrap();
        assert_eq!(base.with_seed(0), base);
        let s1 = base.with_seed(1);
        for (stage, a, b) in [
            ("world", key_of("w", &s1.world), key_of("w", &base.world)),
            ("policy", key_of("p", &s1.policy), key_of("p", &base.policy)),
            ("gold", key_of("g", &s1.gold), key_of("g", &base.gold)),
            ("proxy LMs", key_of("l", &s1.proxies.init_lm), key_of("l", &base.proxies.init_lm)),
            ("proxies", key_of("x", &s1.proxies.train), key_of("x", &base.proxies.train)),
        ] {
            assert_ne!(a, b, "seed 1 must resample the {stage}");
        }
        assert_ne!(s1.bon.seed, base.bon.seed);
        assert_ne!(s1.rl.ppo.seed, base.rl.ppo.seed);
        assert_eq!(s1.world.world.split, base.world.world.split, "the held-out prompts stay held out");
        assert_ne!(base.with_seed(1), base.with_seed(2));
    }

    #[test]
    fn optimisation_seeds_keep_world_policy_gold_and_lms() {
        let base = ExperimentConfig::preset("laptop").unwrap();
        let s1 = base.with_seed_resampling(1, Resample::Optimisation);
        assert_eq!((&s1.world, &s1.policy, &s1.gold), (&base.world, &base.policy, &base.gold));
        assert_eq!(s1.proxies.init_lm, base.proxies.init_lm);
        assert_ne!(key_of("p", &s1.proxies), key_of("p", &base.proxies));
        assert_ne!(s1.bon.seed, base.bon.seed);
    }

    #[test]
    fn val_loss_falls_counts_seeds_and_judges_the_mean() {
        // seed 0 falls at every step; seed 1 rises from the first size to the second
        let by_size = vec![vec![0.5, 0.40], vec![0.45, 0.42], vec![0.3, 0.3]];
        assert_eq!(val_loss_falls(&by_size), (1, true));
        // a tie is not a fall
        assert_eq!(val_loss_falls(&[vec![0.4], vec![0.4]]), (0, false));
        assert_eq!(val_loss_falls(&[vec![0.4, 0.5], vec![0.47, 0.45]]), (1, false));
    }

    #[test]
    fn across_seeds_is_mean_and_standard_error() {
        let e = across([1.0, 3.0, f64::NAN]);
        assert_eq!((e.mean, e.n), (2.0, 2));
        assert!((e.se - 1.0).abs() < 1e-12, "sd sqrt(2) over sqrt(2)");
    }
}
