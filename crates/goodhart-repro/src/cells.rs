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
use crate::plan::{fig1_plan, Cell};
use crate::store::Store;
use crate::ReproError;

/// A level of cells; each depends on the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Base,
    Proxy,
    Rl,
}

impl Level {
    /// The levels, in dependency order.
    pub const ALL: [Level; 3] = [Level::Base, Level::Proxy, Level::Rl];

    /// The level's name on the command line and in job names.
    pub fn name(self) -> &'static str {
        match self {
            Level::Base => "base",
            Level::Proxy => "proxy",
            Level::Rl => "rl",
        }
    }

    /// Whether `cell` belongs to this level, and its index there.
    fn index_of(self, cell: Cell) -> Option<usize> {
        match (self, cell) {
            (Level::Base, Cell::Base) => Some(0),
            (Level::Proxy, Cell::Proxy(i)) | (Level::Rl, Cell::Rl(i)) => Some(i),
            _ => None,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl std::str::FromStr for Level {
    type Err = ReproError;

    fn from_str(s: &str) -> Result<Self, ReproError> {
        Level::ALL.into_iter().find(|l| l.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Level::ALL.iter().map(|l| l.name()).collect();
            ReproError::Config(format!("unknown cell level {s:?}: one of {names:?}"))
        })
    }
}

/// How many cells `level` has.
pub fn cell_count(c: &ExperimentConfig, level: Level) -> usize {
    match level {
        Level::Base => 1,
        Level::Proxy => c.proxies.sizes.len(),
        Level::Rl => c.rl.sizes.len(),
    }
}

/// The cells of `level` that still have a stage to compute (by the plan's keys), ascending.
pub fn pending_cells(c: &ExperimentConfig, store: &Store, level: Level) -> Vec<usize> {
    let mut cells: Vec<usize> =
        fig1_plan(c, store).iter().filter(|s| !s.cached).filter_map(|s| level.index_of(s.cell)).collect();
    cells.sort_unstable();
    cells.dedup();
    cells
}

/// Computes cell `index` of `level` (its upstream stages must be in the store, or are computed).
pub fn run_cell(p: &Pipeline, level: Level, index: usize) -> Result<(), ReproError> {
    let count = cell_count(&p.config, level);
    if index >= count {
        return Err(ReproError::Config(format!(
            "cell {level}/{index} does not exist: {level} has {count} cells"
        )));
    }
    let crate::pipeline::Base { w, policy, gold, data, pools, .. } = p.base()?;
    match level {
        Level::Base => {}
        Level::Proxy => {
            let proxy = p.proxy(&w, &p.config.proxies.sizes[index], &data)?;
            p.bon_scores(&pools, &proxy)?;
        }
        Level::Rl => {
            let proxy = p.proxy(&w, &p.config.rl.sizes[index], &data)?;
            p.rl_trajectories(&w, &policy, proxy.as_proxy(), &gold, &p.config.rl)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_planned_stage_belongs_to_one_cell_of_a_level() {
        let c = ExperimentConfig::preset("laptop").unwrap();
        let store = Store::new(tempfile::tempdir().unwrap().path());
        let plan = fig1_plan(&c, &store);
        for s in &plan {
            let owners: Vec<Level> =
                Level::ALL.into_iter().filter(|l| l.index_of(s.cell).is_some()).collect();
            assert_eq!(owners.len(), 1, "{s:?}");
        }
        // On an empty store every cell is pending.
        for level in Level::ALL {
            assert_eq!(pending_cells(&c, &store, level), (0..cell_count(&c, level)).collect::<Vec<_>>());
        }
        assert_eq!("rl".parse::<Level>().unwrap(), Level::Rl);
        assert!("proxies".parse::<Level>().is_err());
    }
}
