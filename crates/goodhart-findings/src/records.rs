//! What the experiments measured, as plain data: the records the checks read and the results
//! files hold (`fig1.json` and the targets built on it).

use goodhart_core::calibration::Calibration;
use goodhart_core::{Estimate, PpoStepLog, Record, RmEval};
use serde::{Deserialize, Serialize};

use crate::stats::{SplitFall, TrustedRange, Verdict};

/// One proxy size's best-of-n result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BonResult {
    pub proxy: RmReport,
    pub ns: Vec<u64>,
    pub kl: Vec<f64>,
    /// The tie-aware best-of-n KL (`goodhart_kl::kl_bon_from_pool` on each prompt's proxy
    /// scores, averaged over prompts): below `kl` where repeated samples tie.
    pub kl_tie_aware: Vec<f64>,
    /// Beirami et al. (2024)'s estimate on the same pools (`goodhart_kl::kl_bon_beirami_from_pool`,
    /// averaged over prompts): at most `kl`, and (their conjecture) at least the tie-aware KL
    /// (empty in results written before it).
    #[serde(default)]
    pub kl_beirami: Vec<f64>,
    pub gold: Vec<Estimate>,
    pub proxy_score: Vec<Estimate>,
    /// The rubric's score of the same best-of-n choices (empty when not measured).
    pub rubric: Vec<Estimate>,
    /// The gold's fidelity to the rubric at each n: how often it orders two best-of-n choices
    /// as the rubric does, the choices drawn as the estimator weighs them (empty when not
    /// measured).
    #[serde(default, with = "goodhart_core::nan_as_null::vec")]
    pub fidelity: Vec<f64>,
    /// How far along the curve the gold can be trusted (`None` without fidelity).
    #[serde(default)]
    pub trusted: Option<TrustedRange>,
    /// `R_bon(d) = d (alpha - beta d)` fitted to the gold curve, and to the proxy curve.
    pub alpha_bon: f64,
    pub beta_bon: f64,
    pub r2: f64,
    pub proxy_alpha: f64,
    pub proxy_beta: f64,
    pub proxy_r2: f64,
    /// Peak of the fitted gold curve (`None` when `beta <= 0`), with 90% bootstrap intervals over
    /// prompts.
    pub peak_d: Option<f64>,
    pub peak_r: Option<f64>,
    pub alpha_ci: (f64, f64),
    pub beta_ci: (f64, f64),
    /// `(alpha, beta)` of the gold fit on each bootstrap resample of the prompts (`None` where the
    /// fit failed). Every proxy size uses the same resamples, so trends over size pair them.
    pub bootstrap_fits: Vec<Option<(f64, f64)>>,
    /// The gold's fall after its peak, on prompts that did not choose the peak.
    pub fall: SplitFall,
    /// What this size's gold curve shows.
    pub verdict: Verdict,
    /// Growth of proxy minus gold from n = 1 to the largest n, paired per prompt, each in units of
    /// its standard deviation on the pools (the initial policy's samples): the proxy pulling away
    /// from the gold.
    pub gap_growth: Estimate,
    /// The gold's fidelity at the measured peak and at the largest n (`None` without rubric
    /// scores).
    pub gold_rubric_concordance_peak: Option<f64>,
    pub gold_rubric_concordance_end: Option<f64>,
    /// Finding 8, regressional Goodhart, measured on the pools (initial-policy samples).
    #[serde(default)]
    pub regressional: Option<Regressional>,
    /// How often this proxy orders pairs of pooled samples (held-out prompts) as the gold does
    /// (`goodhart_repro::fig1::held_out_agreement`; `None` in results that predate it).
    #[serde(default)]
    pub proxy_gold_agreement_held_out: Option<f64>,
    /// How heavy the right tails of the proxy and of its error against the gold are on the pools
    /// (the initial policy's samples; `None` in results that predate it or where a tail cannot be
    /// estimated).
    #[serde(default)]
    pub tails: Option<crate::tails::Tails>,
}

/// Finding 8's two numbers for one proxy: if the proxy's error were purely regressional, the
/// gold would follow the proxy scaled by the regression slope Cov(gold, proxy) / Var(proxy),
/// so the best-of-n gold curve would be the proxy curve times that slope and
/// alpha_bon(gold) / alpha_bon(proxy) would equal it. The slope is taken within prompts (as
/// best-of-n selects within a prompt), the alphas from the curves' initial slopes (small n). Each
/// with its 90% bootstrap interval over prompts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Regressional {
    pub slope: f64,
    pub slope_ci: (f64, f64),
    pub alpha_ratio: f64,
    pub alpha_ratio_ci: (f64, f64),
}

/// What the initial policy writes, judged by the rubric (the 'human'): the spread that gives
/// optimisation something to find.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyReport {
    pub samples: usize,
    pub rubric: Estimate,
    pub rubric_sd: f64,
    /// 5th, 25th, 50th, 75th and 95th percentiles of the rubric score.
    pub rubric_quantiles: [f64; 5],
    /// `praise_histogram[g]`: share of samples with `g` praise words (the last bin: 8 or more).
    pub praise_histogram: [f64; 9],
    /// A few samples with their rubric and gold scores: (prompt, response, rubric, gold).
    pub examples: Vec<(String, String, f64, f64)>,
}

/// Everything figure 1 shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fig1 {
    /// The Goodhart mechanisms the world had.
    pub mechanisms: Mechanisms,
    pub policy: PolicyReport,
    pub gold: RmReport,
    /// The gold's agreement with the rubric on the proxies' validation comparisons (pairs of
    /// initial-policy samples, labelled by the gold): the same pairs the proxies' accuracy is
    /// measured on, so the two numbers compare like with like. Ties in rubric score count half.
    pub gold_rubric_agreement_on_policy_pairs: f64,
    /// Like for like on held-out prompts: how often the gold orders pairs of the initial
    /// policy's samples to the same held-out prompt as the rubric does, and (per proxy,
    /// `BonResult::proxy_gold_agreement_held_out`) how often each proxy orders the same pairs as
    /// the gold does (`goodhart_repro::fig1::held_out_agreement`). `None` in results that predate it.
    #[serde(default)]
    pub gold_rubric_agreement_held_out: Option<f64>,
    pub results: Vec<BonResult>,
    pub rl: Vec<RlResult>,
    /// The alpha of `R_RL` shared by every proxy size (`None` without RL runs).
    pub rl_alpha_shared: Option<f64>,
    /// Every curve point, best-of-n and RL, as rows.
    pub records: Vec<Record>,
}

/// One proxy size's PPO result (figure 1b).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RlResult {
    pub proxy: RmReport,
    /// PPO trajectories against this proxy (policy seeds `rl.ppo.seed + TRAJECTORY_SEED_STRIDE
    /// r`): every curve below is their mean, its standard error holding the spread between them.
    #[serde(default = "one")]
    pub trajectories: usize,
    /// PPO steps of the gold evaluations (log-spaced, from 0).
    pub steps: Vec<u64>,
    /// KL(pi || pi_init) of each evaluation (k3 per sequence, mean over held-out prompts).
    pub kl: Vec<Estimate>,
    pub gold: Vec<Estimate>,
    pub proxy_score: Vec<Estimate>,
    /// The rubric's score of the same responses (empty when not measured).
    pub rubric: Vec<Estimate>,
    /// The gold's fidelity to the rubric at each evaluation (Kendall concordance over its
    /// responses; empty when not measured).
    #[serde(default, with = "goodhart_core::nan_as_null::vec")]
    pub fidelity: Vec<f64>,
    /// How far along the curve the gold can be trusted (`None` without fidelity).
    #[serde(default)]
    pub trusted: Option<TrustedRange>,
    /// `R_RL(d) = d (alpha - beta ln d)` fitted to the gold curve with alpha free ...
    pub alpha_rl: f64,
    pub beta_rl: f64,
    pub r2: f64,
    /// ... and with alpha shared by every proxy size (`Fig1::rl_alpha_shared`), as the paper does.
    pub beta_rl_shared: f64,
    pub r2_shared: f64,
    /// Peak of the free fit (`None` when `beta <= 0`).
    pub peak_d: Option<f64>,
    pub peak_r: Option<f64>,
    /// The KL of the last evaluation.
    pub kl_reached: f64,
    /// The gold's fall after its peak, on evaluation prompts that did not choose the peak
    /// (evaluations use the same prompts and sampling streams, so the difference is paired).
    pub fall: SplitFall,
    pub verdict: Verdict,
    /// The proxy score of the last evaluation exceeds that of the first by two standard errors.
    pub proxy_rises: bool,
    /// The gold's agreement with the rubric (Kendall concordance over the evaluation's responses)
    /// at the measured peak and at the end (`None` without a rubric).
    pub gold_rubric_concordance_peak: Option<f64>,
    pub gold_rubric_concordance_end: Option<f64>,
    /// `beta_RL` of the shared-alpha fit on each bootstrap resample of the evaluation prompts
    /// (the same resamples for every run; `None` where the fit failed).
    pub bootstrap_beta_shared: Vec<Option<f64>>,
    /// Every PPO iteration's log (clip fraction, entropy, rollout KL, ...) of the first trajectory.
    pub logs: Vec<PpoStepLog>,
    /// Each trajectory's own curve (empty in results that predate them).
    #[serde(default)]
    pub trajectory_curves: Vec<TrajectoryCurve>,
}

/// One PPO trajectory's curve: its KL (k3, mean over the evaluation's responses) and gold at
/// every evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryCurve {
    pub kl: Vec<f64>,
    pub gold: Vec<Estimate>,
}

fn one() -> usize {
    1
}

/// What a reward model's directory records about its quality.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RmReport {
    pub size: String,
    pub params: u64,
    pub total_params: u64,
    pub train_pairs: usize,
    pub val: RmEval,
    /// For the gold: agreement with the rubric on held-out pairs (its validation accuracy).
    pub calibration: Calibration,
    /// The validation loss (nats per token) of the pretrained LM the RM started from, if it
    /// started from one that is not the policy.
    #[serde(default)]
    pub lm_val_loss: Option<f64>,
    /// For the gold: the rubric's mean score of the calibration samples, so the rubric can be
    /// recentred on the same initial-policy samples as the gold (see `goodhart_repro::rubric::RubricScorer`).
    #[serde(default)]
    pub rubric_offset: Option<f64>,
    /// For the rubric as gold: the Bradley-Terry temperature of its labels (in gold units).
    #[serde(default)]
    pub label_temperature: Option<f64>,
}

/// Which Goodhart mechanisms an experiment's world has (see `goodhart_world`'s crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Mechanisms {
    /// Features good up to a point (`world.world.rubric.extremal`).
    pub extremal: bool,
    /// The skill-correlated intensifier the rubric ignores (`world.world.writer.causal`).
    pub causal: bool,
    /// Label noise on the proxies' comparisons (`proxies.label_noise`), on top of the
    /// regressional error every finite proxy has.
    pub label_noise: f64,
}

impl std::fmt::Display for Mechanisms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on = |b: bool| if b { "on" } else { "off" };
        write!(
            f,
            "extremal {}, causal {}, regressional label noise {}",
            on(self.extremal),
            on(self.causal),
            if self.label_noise > 0.0 { format!("{:.2}", self.label_noise) } else { "off".into() }
        )
    }
}

/// What k rounds gained over one round: at the run's end, against figure 1's one-round curve
/// (the mean of its trajectories) read at the same distance, on the measured
/// sqrt(KL(pi_k || pi_init)) (what the check reads) and on the paper's axis (the sum of the
/// rounds' distances); `None` past the one-round run's last evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Gain {
    pub at_measured: Option<Estimate>,
    pub at_sum: Option<Estimate>,
    /// The paper's prediction beta d ln k at the run's measured distance.
    pub predicted: f64,
    /// Its standard error from beta's: the spread of beta over the one-round fit's bootstrap
    /// resamples, times d ln k (0 where there are none).
    pub predicted_se: f64,
}
