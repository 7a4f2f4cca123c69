//! The inputs that key each stage, in one place: the pipeline computes its stages from them and
//! `--dry-run` plans from them, so a plan never disagrees with what a run would compute.

use goodhart_core::SamplingSettings;
use goodhart_nn::GptConfig;
use goodhart_policy::PretrainConfig;
use goodhart_rm::RmTrainConfig;
use serde::Serialize;

use crate::config::{BonStage, ExperimentConfig, GoldRounds, GoldStage, PolicyStage, ProxyStage, RlStage};
use crate::store::{key_of, Stage, Store};

/// A size preset's shape (`d_model`, `n_layers`, `n_heads`), `None` for an unknown name. It is part
/// of the key of every model of that size, so that a reshaped preset never loads a stored model of
/// the old shape.
pub type Shape = Option<(usize, usize, usize)>;

pub fn shape(size: &str) -> Shape {
    GptConfig::preset(size, 1, 1).ok().map(|g| (g.d_model, g.n_layers, g.n_heads))
}

pub fn policy_inputs<'a>(
    world: &'a str,
    c: &'a PolicyStage,
) -> (&'a str, &'a str, Shape, usize, &'a PretrainConfig) {
    (world, &c.size, shape(&c.size), c.max_seq_len, &c.pretrain)
}

pub fn gold_inputs<'a>(
    world: &'a str,
    policy: &'a str,
    c: &'a GoldStage,
) -> (&'a str, &'a str, Shape, &'a GoldStage) {
    (world, policy, shape(&c.size), c)
}

/// What keys adversarial round `round` of the gold: the gold it starts from (whose key holds the
/// gold's own settings), the initial policy, the round's pairs and snapshots, and the PPO it runs
/// (`rl.ppo` and its prompts). The number of rounds is not in it: round 1 of two is round 1 of three.
#[allow(clippy::type_complexity)]
pub fn gold_round_inputs<'a>(
    previous: &'a str,
    policy: &'a str,
    rounds: &'a GoldRounds,
    round: usize,
    rl: &'a RlStage,
) -> (&'a str, &'a str, (usize, usize), usize, RlSettings<'a>) {
    (previous, policy, (rounds.pairs, rounds.snapshots), round, rl_settings(rl))
}

/// The keys of the gold's stages: the first training, then each adversarial round; the last is
/// the gold every later stage reads.
pub fn gold_keys(world: &str, policy: &str, c: &ExperimentConfig) -> Vec<String> {
    let first = c.gold.first_round();
    let mut keys = vec![key_of(Stage::Gold, &gold_inputs(world, policy, &first))];
    if let Some(rounds) = &c.gold.rounds {
        for r in 1..=rounds.count {
            let previous = keys.last().expect("the first gold").clone();
            keys.push(key_of(Stage::GoldRound, &gold_round_inputs(&previous, policy, rounds, r, &c.rl)));
        }
    }
    keys
}

pub fn proxy_data_inputs<'a>(
    policy: &'a str,
    gold: &'a str,
    c: &'a ProxyStage,
) -> (&'a str, &'a str, usize, f64, u64) {
    (policy, gold, c.pairs, c.label_noise, c.train.seed)
}

/// The pretraining of the LM that a proxy of `size` starts from (`proxies.init_lm`): the policy's
/// context length and sampling, its own size and pretraining settings.
pub fn proxy_lm_stage(c: &ExperimentConfig, size: &str) -> Option<PolicyStage> {
    let pretrain = c.proxies.init_lm.clone()?;
    Some(PolicyStage { size: size.to_string(), pretrain, ..c.policy.clone() })
}

/// A proxy's key: its data, size, training settings, the LM it starts from (if any), and the
/// number of training comparisons when it trains on only the first ones (the data-size sweep).
pub fn proxy_key(
    data: &str,
    size: &str,
    cfg: &RmTrainConfig,
    subset: Option<usize>,
    lm: Option<&str>,
) -> String {
    key_of(Stage::Proxy, &(data, size, shape(size), cfg, subset, lm))
}

pub fn bon_pool_inputs<'a>(
    policy: &'a str,
    c: &'a BonStage,
    sampling: &'a SamplingSettings,
) -> (&'a str, usize, usize, u64, &'a SamplingSettings) {
    (policy, c.prompts, c.pool, c.seed, sampling)
}

pub fn bon_scores_inputs<'a>(pool: &'a str, rm: &'a str) -> (&'a str, &'a str) {
    (pool, rm)
}

/// The RL settings one PPO run reads: PPO's config and the prompt sets (not `rl.sizes`, which
/// says which proxies get a run, so adding a size recomputes no other run).
pub type RlSettings<'a> = (&'a goodhart_ppo::PpoConfig, usize, usize, u64);

fn rl_settings(c: &RlStage) -> RlSettings<'_> {
    (&c.ppo, c.train_prompts, c.eval_prompts, c.prompt_seed)
}

pub fn rl_inputs<'a>(
    policy: &'a str,
    proxy: &'a str,
    gold: &'a str,
    c: &'a RlStage,
) -> (&'a str, &'a str, &'a str, RlSettings<'a>) {
    (policy, proxy, gold, rl_settings(c))
}

/// What keyed a PPO run before its key held only the settings it reads: the whole RL section,
/// `rl.sizes` included. A store's runs under these keys are adopted ([`Store::adopt`]) the first
/// time the same config runs, instead of being recomputed.
///
/// [`Store::adopt`]: crate::store::Store::adopt
pub fn legacy_rl_inputs<'a>(
    policy: &'a str,
    proxy: &'a str,
    gold: &'a str,
    c: &'a RlStage,
) -> (&'a str, &'a str, &'a str, &'a RlStage) {
    (policy, proxy, gold, c)
}

/// What keys one round of iterated RLHF: pi_init's and the round's starting policy's keys, the
/// round's proxy and the gold, the PPO settings (penalty 0) and prompts, and the round's place and
/// target KL.
#[allow(clippy::type_complexity)]
pub fn rlhf_round_inputs<'a>(
    init: &'a str,
    start: &'a str,
    proxy: &'a str,
    gold: &'a str,
    ppo: &'a goodhart_ppo::PpoConfig,
    c: &RlStage,
    round: (usize, usize, f64),
) -> (&'a str, &'a str, &'a str, &'a str, (&'a goodhart_ppo::PpoConfig, usize, usize, u64), (usize, usize, f64))
{
    (init, start, proxy, gold, (ppo, c.train_prompts, c.eval_prompts, c.prompt_seed), round)
}

/// Which Slurm cell computes a planned stage (see [`crate::cells`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cell {
    /// The stages every proxy shares: world, policy, gold, proxy data, pools, the gold's scores.
    Base,
    /// Proxy `i` of `proxies.sizes`: its LM, the proxy and its pool scores.
    Proxy(usize),
    /// PPO against proxy `i` of `rl.sizes`.
    Rl(usize),
}

/// One stage of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStage {
    pub stage: Stage,
    /// The cell that computes it.
    pub cell: Cell,
    /// What it computes, for people (never parsed).
    pub what: String,
    pub key: String,
    pub cached: bool,
    /// A key the same work was stored under by an earlier version, adopted when the stage runs.
    pub legacy_key: Option<String>,
    /// Seconds the last computation of a stage of this kind took in this store, if any.
    pub estimate_s: Option<f64>,
    /// What computes it ([`crate::schedule::run_work`]).
    pub work: Work,
    /// The plan's stages it reads (their indices), each earlier in the plan.
    pub needs: Vec<usize>,
}

/// What computes one planned stage of figure 1; sizes are indices into `proxies.sizes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Work {
    World,
    Policy,
    Gold,
    /// Adversarial round `r` (from 1) of the gold.
    GoldRound(usize),
    ProxyData,
    Pool,
    GoldScores,
    Lm(usize),
    Proxy(usize),
    ProxyScores(usize),
    Rl {
        size: usize,
        trajectory: usize,
    },
}

/// The stages figure 1 runs, in order, with whether each is already in `store`.
pub fn fig1_plan(c: &ExperimentConfig, store: &Store) -> Vec<PlannedStage> {
    let mut out = Vec::new();
    let mut adoptable = Vec::new();
    let mut add = |stage: Stage, cell: Cell, work: Work, needs: Vec<usize>, what: String, key: String| {
        out.push(PlannedStage {
            stage,
            cell,
            what,
            cached: store.is_done(stage, &key),
            legacy_key: None,
            estimate_s: store.typical_seconds(stage),
            work,
            needs,
            key,
        });
        out.len() - 1
    };
    let world = key_of(Stage::World, &c.world);
    let world_at = add(
        Stage::World,
        Cell::Base,
        Work::World,
        vec![],
        format!("{} documents and a tokenizer", c.world.corpus_docs),
        world.clone(),
    );
    let policy = key_of(Stage::Policy, &policy_inputs(&world, &c.policy));
    let policy_at = add(
        Stage::Policy,
        Cell::Base,
        Work::Policy,
        vec![world_at],
        format!("pretrain {} for {} steps", c.policy.size, c.policy.pretrain.steps),
        policy.clone(),
    );
    let gold_keys = gold_keys(&world, &policy, c);
    let what = match c.gold.kind {
        crate::config::GoldKind::Learned => {
            format!("gold {} on {} rubric-labelled pairs", c.gold.size, c.gold.pairs)
        }
        crate::config::GoldKind::Rubric => "the rubric as gold, its label temperature".to_string(),
    };
    let mut gold_at = add(Stage::Gold, Cell::Base, Work::Gold, vec![policy_at], what, gold_keys[0].clone());
    for (r, key) in gold_keys.iter().enumerate().skip(1) {
        let what = format!(
            "gold round {r} of {}: PPO against the gold, rubric-labelled pairs of its samples, the gold retrained",
            gold_keys.len() - 1
        );
        gold_at = add(Stage::GoldRound, Cell::Base, Work::GoldRound(r), vec![gold_at], what, key.clone());
    }
    let gold = gold_keys.last().expect("the first gold").clone();
    let data = key_of(Stage::ProxyData, &proxy_data_inputs(&policy, &gold, &c.proxies));
    let what = format!("{} policy pairs labelled by the gold", c.proxies.pairs);
    let data_at = add(Stage::ProxyData, Cell::Base, Work::ProxyData, vec![gold_at], what, data.clone());
    let pool = key_of(Stage::BonPool, &bon_pool_inputs(&policy, &c.bon, &c.policy.sampling));
    let what = format!("{} prompts x {} samples", c.bon.prompts, c.bon.pool);
    let pool_at = add(Stage::BonPool, Cell::Base, Work::Pool, vec![policy_at], what, pool.clone());
    let gold_scores = key_of(Stage::BonScores, &bon_scores_inputs(&pool, &gold));
    add(
        Stage::BonScores,
        Cell::Base,
        Work::GoldScores,
        vec![pool_at, gold_at],
        "gold scores of the pools".into(),
        gold_scores,
    );
    for (i, size) in c.proxies.sizes.iter().enumerate() {
        let lm = proxy_lm_stage(c, size).map(|stage| {
            let key = key_of(Stage::Lm, &policy_inputs(&world, &stage));
            let what = format!("pretrain LM {size} for {} steps", stage.pretrain.steps);
            (add(Stage::Lm, Cell::Proxy(i), Work::Lm(i), vec![world_at], what, key.clone()), key)
        });
        let proxy = proxy_key(&data, size, &c.proxies.train, None, lm.as_ref().map(|(_, k)| k.as_str()));
        let needs = std::iter::once(data_at).chain(lm.map(|(at, _)| at)).collect();
        let proxy_at =
            add(Stage::Proxy, Cell::Proxy(i), Work::Proxy(i), needs, format!("proxy {size}"), proxy.clone());
        let scores = key_of(Stage::BonScores, &bon_scores_inputs(&pool, &proxy));
        let what = format!("proxy {size} scores of the pools");
        add(Stage::BonScores, Cell::Proxy(i), Work::ProxyScores(i), vec![proxy_at, pool_at], what, scores);
        if let Some(r) = c.rl.sizes.iter().position(|s| s == size) {
            let trajectories = c.rl.trajectories.max(1);
            for t in 0..trajectories {
                let rl = c.rl.trajectory(t);
                let key = key_of(Stage::Rl, &rl_inputs(&policy, &proxy, &gold, &rl));
                let legacy = key_of(Stage::Rl, &legacy_rl_inputs(&policy, &proxy, &gold, &rl));
                let what = format!(
                    "PPO vs proxy {size}, {} steps, trajectory {} of {trajectories}",
                    c.rl.ppo.total_steps,
                    t + 1
                );
                let work = Work::Rl { size: i, trajectory: t };
                let at = add(Stage::Rl, Cell::Rl(r), work, vec![proxy_at, gold_at], what, key.clone());
                adoptable.push((at, legacy, !store.is_done(Stage::Rl, &key)));
            }
        }
    }
    for (i, legacy, missing) in adoptable {
        if missing && store.is_done(Stage::Rl, &legacy) {
            out[i].cached = true;
            out[i].what.push_str(&format!(" (stored under its old key {legacy}; adopted when run)"));
        }
        out[i].legacy_key = Some(legacy);
    }
    out
}
