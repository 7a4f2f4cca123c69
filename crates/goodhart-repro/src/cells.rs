//! Figure 1 as cells that separate processes (Slurm array tasks) can compute on a shared store.
//!
//! Three levels, each depending on the one before: `base` (world, policy, gold, proxy data,
//! best-of-n pools and their gold scores; one cell), `proxy` (one cell per proxy size: the proxy
//! and its pool scores) and `rl` (one cell per RL size: PPO against that proxy). Every cell only
//! computes stages through the pipeline, so a cell whose stages are in the store is a no-op, and a
//! cell killed half-way is finished by running it again. `collect` is `reproduce` on the full
//! store: everything cached, it only fits, draws and writes.

use crate::config::ExperimentConfig;
use crate::pipeline::Pipeline;
use crate::plan::fig1_plan;
use crate::store::Store;
use crate::ReproError;

/// The levels, in dependency order.
pub const LEVELS: [&str; 3] = ["base", "proxy", "rl"];

/// How many cells `level` has.
pub fn cell_count(c: &ExperimentConfig, level: &str) -> Result<usize, ReproError> {
    match level {
        "base" => Ok(1),
        "proxy" => Ok(c.proxies.sizes.len()),
        "rl" => Ok(c.rl.sizes.len()),
        other => Err(ReproError::Config(format!("unknown cell level {other:?}: one of {LEVELS:?}"))),
    }
}

/// The cells of `level` that still have a stage to compute (by the plan's keys).
pub fn pending_cells(c: &ExperimentConfig, store: &Store, level: &str) -> Result<Vec<usize>, ReproError> {
    let plan = fig1_plan(c, store);
    let pending = |what: &dyn Fn(&str) -> bool| plan.iter().any(|s| !s.cached && what(&s.what));
    Ok(match level {
        "base" => {
            let base = ["world", "policy", "gold", "proxy-data", "bon-pool"];
            let todo = plan.iter().any(|s| {
                !s.cached && (base.contains(&s.stage.as_str()) || s.what == "gold scores of the pools")
            });
            if todo {
                vec![0]
            } else {
                Vec::new()
            }
        }
        "proxy" => (0..c.proxies.sizes.len())
            .filter(|&i| {
                let size = &c.proxies.sizes[i];
                pending(&|w: &str| {
                    w == format!("proxy {size}") || w == format!("proxy {size} scores of the pools")
                })
            })
            .collect(),
        "rl" => (0..c.rl.sizes.len())
            .filter(|&i| {
                let size = &c.rl.sizes[i];
                pending(&|w: &str| w.starts_with(&format!("PPO vs proxy {size},")))
            })
            .collect(),
        other => return Err(ReproError::Config(format!("unknown cell level {other:?}: one of {LEVELS:?}"))),
    })
}

/// Computes cell `index` of `level` (its upstream stages must be in the store, or are computed).
pub fn run_cell(p: &Pipeline, level: &str, index: usize) -> Result<(), ReproError> {
    let count = cell_count(&p.config, level)?;
    if index >= count {
        return Err(ReproError::Config(format!(
            "cell {level}/{index} does not exist: {level} has {count} cells"
        )));
    }
    let crate::pipeline::Base { w, policy_key, policy, gold, data_key, train, val, pool_key, pools, .. } =
        p.base()?;
    match level {
        "base" => {}
        "proxy" => {
            let proxy = p.proxy(&w, &p.config.proxies.sizes[index], &data_key, &train, &val)?;
            p.bon_scores(&pool_key, &pools, &proxy)?;
        }
        _ => {
            let proxy = p.proxy(&w, &p.config.rl.sizes[index], &data_key, &train, &val)?;
            p.rl(&w, &policy_key, &policy, &proxy, &gold)?;
        }
    }
    Ok(())
}
