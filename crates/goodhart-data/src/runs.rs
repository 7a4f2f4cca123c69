//! What an input table holds: best-of-n pools (per-sample scores) or PPO logs, checked cell by
//! cell, so that a wrong value is reported with its line and column.

use std::collections::HashMap;

use crate::input::{Cell, RawTable};
use crate::DataError;

/// What a best-of-n table needs.
const BON_NEEDS: &str = "a best-of-n table has the columns prompt_id, proxy, gold (optional: sample_id; \
logp_policy with logp_ref, or kl); a PPO log has step, kl, proxy, gold (optional: run)";

/// The runs of an input table.
#[derive(Debug, Clone, PartialEq)]
pub enum Runs {
    /// Per-sample scores, grouped by prompt: best-of-n.
    Samples(SamplePools),
    /// Per-step measurements of one or more PPO runs.
    Ppo(PpoLog),
}

/// Per-prompt pools of samples, each scored by a proxy and a gold RM, in the table's order.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplePools {
    pub file: String,
    /// Prompt ids in order of first appearance, and where each first appears.
    pub prompts: Vec<String>,
    pub first_at: Vec<String>,
    pub proxy: Vec<Vec<f64>>,
    pub gold: Vec<Vec<f64>>,
    /// Per-sample estimates of KL(pi || pi_ref) for the policy the pools were drawn from:
    /// `logp_policy - logp_ref` (k1) or the table's `kl` column; `None` without either.
    pub sample_kl: Option<Vec<f64>>,
}

/// One PPO run's log, sorted by step.
#[derive(Debug, Clone, PartialEq)]
pub struct PpoRun {
    pub name: String,
    pub step: Vec<u64>,
    pub kl: Vec<f64>,
    pub proxy: Vec<f64>,
    pub gold: Vec<f64>,
}

/// PPO logs, one run per value of the `run` column (one run without it), in order of first
/// appearance.
#[derive(Debug, Clone, PartialEq)]
pub struct PpoLog {
    pub file: String,
    pub runs: Vec<PpoRun>,
}

impl Runs {
    /// Reads the runs a table holds: a PPO log if it has a `step` column, best-of-n pools if it
    /// has `prompt_id`.
    ///
    /// # Errors
    /// [`DataError::MissingColumn`] naming what each kind of table needs; [`DataError::Cell`]
    /// for an empty, non-numeric or non-finite value or a duplicated id, with its line and
    /// column; [`DataError::Table`] for a table without rows or with fewer than two prompts.
    pub fn from_table(t: &RawTable) -> Result<Runs, DataError> {
        if t.column("step").is_some() {
            return ppo_log(t).map(Runs::Ppo);
        }
        if t.column("prompt_id").is_none() {
            return Err(missing(t, "prompt_id", BON_NEEDS));
        }
        sample_pools(t).map(Runs::Samples)
    }
}

fn missing(t: &RawTable, column: &str, need: &'static str) -> DataError {
    DataError::MissingColumn {
        file: t.file.clone(),
        column: column.into(),
        need,
        found: t.columns.join(", "),
    }
}

fn require(t: &RawTable, column: &str) -> Result<usize, DataError> {
    t.column(column).ok_or_else(|| missing(t, column, BON_NEEDS))
}

fn no_rows(t: &RawTable) -> Result<(), DataError> {
    if t.rows.is_empty() {
        return Err(DataError::Table {
            file: t.file.clone(),
            reason: "the table has a header but no rows".into(),
        });
    }
    Ok(())
}

/// The finite number in row `i`, column `c`.
fn number(t: &RawTable, i: usize, c: usize) -> Result<f64, DataError> {
    let name = &t.columns[c];
    let x = match &t.rows[i][c] {
        Cell::Null => {
            return Err(t.cell_error(i, name, format!("empty; every row needs a value of `{name}`")))
        }
        Cell::Number(x) => *x,
        Cell::Text(s) => {
            s.trim().parse::<f64>().map_err(|_| t.cell_error(i, name, format!("{s:?} is not a number")))?
        }
    };
    if !x.is_finite() {
        return Err(t.cell_error(i, name, format!("{x} is not a finite number (did a model diverge?)")));
    }
    Ok(x)
}

/// The id in row `i`, column `c`: text as it is, an integer without a decimal point.
fn id(t: &RawTable, i: usize, c: usize) -> Result<String, DataError> {
    let name = &t.columns[c];
    match &t.rows[i][c] {
        Cell::Null => Err(t.cell_error(i, name, format!("empty; every row needs a `{name}`"))),
        Cell::Number(x) if x.fract() == 0.0 && x.abs() < 9e15 => Ok(format!("{}", *x as i64)),
        Cell::Number(x) => Ok(x.to_string()),
        Cell::Text(s) => Ok(s.trim().to_string()),
    }
}

fn sample_pools(t: &RawTable) -> Result<SamplePools, DataError> {
    let prompt_c = require(t, "prompt_id")?;
    let (proxy_c, gold_c) = (require(t, "proxy")?, require(t, "gold")?);
    let sample_c = t.column("sample_id");
    let (policy_c, ref_c, kl_c) = (t.column("logp_policy"), t.column("logp_ref"), t.column("kl"));
    let pair = "logp_policy and logp_ref come together: the log-probabilities of each sample under the \
sampled policy and under the reference";
    match (policy_c, ref_c) {
        (Some(_), None) => return Err(missing(t, "logp_ref", pair)),
        (None, Some(_)) => return Err(missing(t, "logp_policy", pair)),
        (Some(_), Some(_)) if kl_c.is_some() => {
            let reason =
                "both a kl column and logp_policy / logp_ref: keep one measure of the pool's KL".into();
            return Err(DataError::Table { file: t.file.clone(), reason });
        }
        _ => {}
    }
    no_rows(t)?;
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    let mut pools = SamplePools {
        file: t.file.clone(),
        prompts: Vec::new(),
        first_at: Vec::new(),
        proxy: Vec::new(),
        gold: Vec::new(),
        sample_kl: (policy_c.is_some() || kl_c.is_some()).then(Vec::new),
    };
    for i in 0..t.rows.len() {
        let prompt = id(t, i, prompt_c)?;
        if let Some(c) = sample_c {
            let sample = id(t, i, c)?;
            if let Some(&first) = seen.get(&(prompt.clone(), sample.clone())) {
                let reason = format!(
                    "prompt {prompt:?} has sample_id {sample:?} twice (first at {}); ids must be unique within a prompt",
                    t.at(first)
                );
                return Err(t.cell_error(i, "sample_id", reason));
            }
            seen.insert((prompt.clone(), sample), i);
        }
        let (proxy, gold) = (number(t, i, proxy_c)?, number(t, i, gold_c)?);
        let k = *index.entry(prompt.clone()).or_insert_with(|| {
            pools.prompts.push(prompt);
            pools.first_at.push(t.at(i));
            pools.proxy.push(Vec::new());
            pools.gold.push(Vec::new());
            pools.prompts.len() - 1
        });
        pools.proxy[k].push(proxy);
        pools.gold[k].push(gold);
        if let Some(kl) = pools.sample_kl.as_mut() {
            kl.push(match (policy_c, ref_c, kl_c) {
                (Some(p), Some(r), _) => number(t, i, p)? - number(t, i, r)?,
                (_, _, Some(c)) => number(t, i, c)?,
                _ => unreachable!("sample_kl is set only with one of them"),
            });
        }
    }
    if pools.prompts.len() < 2 {
        let reason = format!(
            "all {} samples belong to one prompt ({:?}); intervals and the split-half checks resample prompts, so give at least 2",
            t.rows.len(),
            pools.prompts[0]
        );
        return Err(DataError::Table { file: t.file.clone(), reason });
    }
    Ok(pools)
}

fn ppo_log(t: &RawTable) -> Result<PpoLog, DataError> {
    let step_c = require(t, "step")?;
    let (kl_c, proxy_c, gold_c) = (require(t, "kl")?, require(t, "proxy")?, require(t, "gold")?);
    let run_c = t.column("run");
    no_rows(t)?;
    let mut runs: Vec<PpoRun> = Vec::new();
    let mut first: HashMap<(String, u64), usize> = HashMap::new();
    for i in 0..t.rows.len() {
        let name = match run_c {
            Some(c) => id(t, i, c)?,
            None => "run".to_string(),
        };
        let step = number(t, i, step_c)?;
        if step < 0.0 || step.fract() != 0.0 {
            return Err(t.cell_error(i, "step", format!("{step} is not a step count (a whole number >= 0)")));
        }
        let step = step as u64;
        if let Some(&at) = first.get(&(name.clone(), step)) {
            let reason =
                format!("run {name:?} logs step {step} twice (first at {}); one row per step", t.at(at));
            return Err(t.cell_error(i, "step", reason));
        }
        first.insert((name.clone(), step), i);
        let (kl, proxy, gold) = (number(t, i, kl_c)?, number(t, i, proxy_c)?, number(t, i, gold_c)?);
        let run = match runs.iter().position(|r| r.name == name) {
            Some(k) => &mut runs[k],
            None => {
                runs.push(PpoRun {
                    name,
                    step: Vec::new(),
                    kl: Vec::new(),
                    proxy: Vec::new(),
                    gold: Vec::new(),
                });
                runs.last_mut().expect("just pushed")
            }
        };
        run.step.push(step);
        run.kl.push(kl);
        run.proxy.push(proxy);
        run.gold.push(gold);
    }
    for run in &mut runs {
        let mut order: Vec<usize> = (0..run.step.len()).collect();
        order.sort_by_key(|&k| run.step[k]);
        let pick = |xs: &[f64]| order.iter().map(|&k| xs[k]).collect::<Vec<f64>>();
        (run.kl, run.proxy, run.gold) = (pick(&run.kl), pick(&run.proxy), pick(&run.gold));
        run.step = order.iter().map(|&k| run.step[k]).collect();
    }
    Ok(PpoLog { file: t.file.clone(), runs })
}
