//! Running figure 1's plan with independent stages at once (`--jobs N`): the plan's stages form a
//! graph (each names the stages it reads), and up to N of the stages whose inputs are done run at
//! once, each on its own share of the cores. Every stage is computed by the same pipeline code a
//! sequential run uses and written to the store under the same key, so the results do not depend
//! on the order or the number of jobs.
//!
//! The least wall time a plan can take with unlimited cores is its critical path: the longest
//! chain of stages each reading the one before, timed by this store's typical times.

use std::sync::Mutex;
use std::time::Instant;

use crate::pipeline::Pipeline;
use crate::plan::{PlannedStage, Work};
use crate::progress::Reporter;
use crate::ReproError;

/// Computes one planned stage through the pipeline; the stages it reads must be in the store (or
/// are computed here, as in a sequential run).
pub fn run_work(p: &Pipeline, work: Work) -> Result<(), ReproError> {
    let w = p.world()?;
    let sizes = &p.config.proxies.sizes;
    if let Work::Lm(i) = work {
        p.proxy_lm(&w, &sizes[i])?;
    }
    if matches!(work, Work::World | Work::Lm(_)) {
        return Ok(());
    }
    let policy = p.policy(&w)?;
    if work == Work::Pool {
        p.bon_pools(&w, &policy)?;
    }
    if matches!(work, Work::Policy | Work::Pool) {
        return Ok(());
    }
    match work {
        Work::Gold => return p.gold_upto(&w, &policy, 0).map(drop),
        Work::GoldRound(r) => return p.gold_upto(&w, &policy, r).map(drop),
        _ => {}
    }
    let gold = p.gold(&w, &policy)?;
    let proxy = |i: usize| {
        let data = p.proxy_data(&w, &policy, &gold)?;
        p.proxy(&w, &sizes[i], &data)
    };
    match work {
        Work::ProxyData => {
            p.proxy_data(&w, &policy, &gold)?;
        }
        Work::GoldScores => {
            p.gold_scores(&w, &p.bon_pools(&w, &policy)?, &gold)?;
        }
        Work::Proxy(i) => {
            proxy(i)?;
        }
        Work::ProxyScores(i) => {
            p.bon_scores(&p.bon_pools(&w, &policy)?, &proxy(i)?)?;
        }
        Work::Rl { size, trajectory } => {
            let rl = p.config.rl.trajectory(trajectory);
            p.rl_against(&w, &policy, proxy(size)?.as_proxy(), &gold, &rl)?;
        }
        Work::World | Work::Lm(_) | Work::Policy | Work::Pool | Work::Gold | Work::GoldRound(_) => {}
    }
    Ok(())
}

/// The longest chain of a plan's stages to compute, each reading the one before.
#[derive(Debug, Clone, PartialEq)]
pub struct CriticalPath {
    /// Its stages (indices into the plan), first to last.
    pub stages: Vec<usize>,
    /// Its typical seconds: the least wall time of the plan with unlimited cores.
    pub seconds: f64,
    /// Typical seconds of every stage to compute: the wall time with one job.
    pub work_s: f64,
    /// Stages to compute that this store never timed (counted as 0 s above).
    pub untimed: usize,
}

impl CriticalPath {
    /// The least wall time with `jobs` jobs at once: neither below the critical path nor below
    /// the work shared evenly (a lower bound; stages on fewer threads each run slower).
    pub fn bound_with(&self, jobs: usize) -> f64 {
        self.seconds.max(self.work_s / jobs.max(1) as f64)
    }
}

/// The seconds a stage is expected to take: 0 when cached, its store's typical time otherwise.
fn cost(s: &PlannedStage) -> f64 {
    if s.cached {
        0.0
    } else {
        s.estimate_s.unwrap_or(0.0)
    }
}

/// Each stage's longest chain of costs up to and including it, and its predecessor on that chain.
fn longest_to(plan: &[PlannedStage]) -> (Vec<f64>, Vec<Option<usize>>) {
    let mut finish = vec![0.0; plan.len()];
    let mut from = vec![None; plan.len()];
    for (i, s) in plan.iter().enumerate() {
        let mut start = 0.0;
        for &n in &s.needs {
            assert!(n < i, "plan stage {i} reads stage {n}, which comes after it");
            if finish[n] > start {
                start = finish[n];
                from[i] = Some(n);
            }
        }
        finish[i] = start + cost(s);
    }
    (finish, from)
}

/// The plan's critical path (see [`CriticalPath`]).
pub fn critical_path(plan: &[PlannedStage]) -> CriticalPath {
    let (finish, from) = longest_to(plan);
    let last = (0..plan.len()).max_by(|&a, &b| finish[a].total_cmp(&finish[b]).then(b.cmp(&a)));
    let mut stages = Vec::new();
    let mut at = last.filter(|&i| finish[i] > 0.0);
    while let Some(i) = at {
        stages.push(i);
        at = from[i];
    }
    stages.reverse();
    CriticalPath {
        stages,
        seconds: last.map_or(0.0, |i| finish[i]),
        work_s: plan.iter().map(cost).sum(),
        untimed: plan.iter().filter(|s| !s.cached && s.estimate_s.is_none()).count(),
    }
}

/// Each stage's priority: the longest chain of costs from it to the end of the plan (the stage
/// that holds up most work starts first). Untimed stages count one second, so that order still
/// follows the graph's depth on a store that has timed nothing.
fn priorities(plan: &[PlannedStage]) -> Vec<f64> {
    let mut tail = vec![0.0; plan.len()];
    for i in (0..plan.len()).rev() {
        let own = if plan[i].cached { 0.0 } else { plan[i].estimate_s.unwrap_or(1.0) };
        tail[i] += own;
        for &n in &plan[i].needs {
            tail[n] = f64::max(tail[n], tail[i]);
        }
    }
    tail
}

pub use goodhart_store::graph::{default_jobs, run_graph, threads_per_job, Slot};

/// How long each computed stage of a scheduled plan took.
#[derive(Debug, Clone)]
pub struct Timings {
    /// (plan index, worker, seconds), in the order the stages finished.
    pub stages: Vec<(usize, usize, f64)>,
    pub wall_s: f64,
}

/// Computes every stage of `plan` that is not cached with `jobs` jobs at once, each on
/// [`threads_per_job`] of `cores` threads, or on all `cores` when it runs alone (a chain such as
/// the gold and its rounds), reporting through `reporter_for(stage)`. With one job the stages
/// run in this thread on the global thread pool.
pub fn run_plan(
    p: &Pipeline,
    plan: &[PlannedStage],
    jobs: usize,
    cores: usize,
    reporter_for: &(dyn Fn(&PlannedStage) -> Reporter + Sync),
) -> Result<Timings, ReproError> {
    let started = Instant::now();
    let jobs = jobs.max(1);
    // one pool per job, then one of every core for a stage that runs alone
    let pools = if jobs > 1 {
        threads_per_job(cores, jobs)
            .into_iter()
            .chain(std::iter::once(cores.max(1)))
            .map(|t| {
                // each job's threads count its operations apart (see goodhart_core::flops)
                let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .start_handler(move |_| goodhart_core::flops::set_thread_counter(Some(counter.clone())))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ReproError::Artifact(format!("starting {jobs} jobs' thread pools: {e}")))?
    } else {
        Vec::new()
    };
    let timings = Mutex::new(Vec::new());
    let needs: Vec<Vec<usize>> = plan.iter().map(|s| s.needs.clone()).collect();
    let done: Vec<bool> = plan.iter().map(|s| s.cached).collect();
    let run = |i: usize, slot: Slot| -> Result<(), ReproError> {
        let reporter = reporter_for(&plan[i]);
        let job = p.clone().with_reporter(reporter);
        let t = Instant::now();
        let worker = slot.worker;
        let pool = if slot.alone { pools.last() } else { pools.get(worker) };
        match pool {
            Some(pool) => pool.install(|| run_work(&job, plan[i].work))?,
            None => run_work(&job, plan[i].work)?,
        }
        timings.lock().unwrap_or_else(|p| p.into_inner()).push((i, worker, t.elapsed().as_secs_f64()));
        Ok(())
    };
    run_graph(&needs, &done, &priorities(plan), jobs, &run)?;
    let stages = timings.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(Timings { stages, wall_s: started.elapsed().as_secs_f64() })
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::plan::Cell;
    use crate::store::Stage;

    fn stage(needs: Vec<usize>, cached: bool, estimate_s: Option<f64>) -> PlannedStage {
        PlannedStage {
            stage: Stage::World,
            cell: Cell::Base,
            what: String::new(),
            key: String::new(),
            cached,
            legacy_key: None,
            estimate_s,
            work: Work::World,
            needs,
        }
    }

    #[test]
    fn the_critical_path_is_the_longest_chain_of_stages_to_compute() {
        // 0 -> 1 -> 3 (10 + 5 + 1) against 0 -> 2 -> 3 (10 + 20 + 1); 4 alone (25)
        let plan = vec![
            stage(vec![], false, Some(10.0)),
            stage(vec![0], false, Some(5.0)),
            stage(vec![0], false, Some(20.0)),
            stage(vec![1, 2], false, Some(1.0)),
            stage(vec![], false, Some(25.0)),
        ];
        let cp = critical_path(&plan);
        assert_eq!(cp.stages, vec![0, 2, 3]);
        assert_eq!(cp.seconds, 31.0);
        assert_eq!(cp.work_s, 61.0);
        assert_eq!(cp.bound_with(1), 61.0);
        assert_eq!(cp.bound_with(4), 31.0);
        // a cached stage costs nothing, an untimed one is counted
        let mut plan = plan;
        plan[2].cached = true;
        plan[4].estimate_s = None;
        let cp = critical_path(&plan);
        assert_eq!((cp.stages.clone(), cp.seconds, cp.untimed), (vec![0, 1, 3], 16.0, 1));
    }

    #[test]
    fn every_fig1_stage_reads_only_earlier_stages_and_its_upstream_keys() {
        let c = crate::ExperimentConfig::preset("laptop").unwrap();
        let store = crate::Store::new(tempfile::tempdir().unwrap().path());
        let plan = crate::plan::fig1_plan(&c, &store);
        let at = |work: Work| plan.iter().position(|s| s.work == work).unwrap();
        for (i, s) in plan.iter().enumerate() {
            assert!(s.needs.iter().all(|&n| n < i), "{s:?}");
        }
        // the gold's rounds chain on the first gold; PPO reads its proxy and the last round's
        // gold; the proxies' data reads that gold too; a proxy reads the data and its own LM
        let rounds = c.gold.round_count();
        assert!(rounds >= 1, "the laptop preset teaches its gold in rounds");
        assert_eq!(plan[at(Work::GoldRound(1))].needs, vec![at(Work::Gold)]);
        let gold = at(Work::GoldRound(rounds));
        let rl = &plan[at(Work::Rl { size: 0, trajectory: 1 })];
        assert_eq!(rl.needs, vec![at(Work::Proxy(0)), gold]);
        assert_eq!(plan[at(Work::ProxyData)].needs, vec![gold]);
        assert_eq!(plan[at(Work::Proxy(2))].needs, vec![at(Work::ProxyData), at(Work::Lm(2))]);
        // the LMs read only the world: they can start at once
        assert_eq!(plan[at(Work::Lm(4))].needs, vec![at(Work::World)]);
    }
}
