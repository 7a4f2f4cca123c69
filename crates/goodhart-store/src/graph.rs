//! Running a graph of work: nodes that each need some earlier ones, up to `jobs` at once, the
//! most urgent ready node first, with the cores shared between jobs. Nothing here knows what a
//! node computes (the experiments' scheduler gives it their stages); no burn.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex};

/// The threads each of `jobs` jobs gets out of `cores`: an even share, the remainder to the first.
pub fn threads_per_job(cores: usize, jobs: usize) -> Vec<usize> {
    let jobs = jobs.max(1);
    let (share, extra) = (cores / jobs, cores % jobs);
    (0..jobs).map(|j| (share + usize::from(j < extra)).max(1)).collect()
}

/// The number of jobs `--jobs` defaults to on a machine with `cores` cores: one per core, each
/// stage on one thread. The stages' kernels use a second thread poorly, so two stages at once
/// finish sooner than one stage on two threads (docs/reproducing.md, "Stages at once").
pub fn default_jobs(cores: usize) -> usize {
    cores.max(1)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    Done,
    Waiting,
    Running,
}

struct State<E> {
    status: Vec<Status>,
    error: Option<E>,
    panic: Option<Box<dyn std::any::Any + Send>>,
}

/// Where a node of [`run_graph`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The worker computing it, `0..jobs`.
    pub worker: usize,
    /// Nothing else runs or is ready when it starts, so nothing else can start before it ends:
    /// the other workers idle, and it may use every core.
    pub alone: bool,
}

/// Runs every node of a graph that is not `done` yet, up to `jobs` at once: a node starts once
/// every node in its `needs` is done, the ready node of highest `priority` first (ties: lowest
/// index). `run(node, slot)` computes a node on worker `slot.worker`. The first error stops new
/// nodes from starting; the running ones finish; then it is returned. A panic in `run` is raised
/// again here once the running nodes finish.
pub fn run_graph<E: Send>(
    needs: &[Vec<usize>],
    done: &[bool],
    priority: &[f64],
    jobs: usize,
    run: &(dyn Fn(usize, Slot) -> Result<(), E> + Sync),
) -> Result<(), E> {
    let status = done.iter().map(|&d| if d { Status::Done } else { Status::Waiting }).collect();
    let state = Mutex::new(State { status, error: None, panic: None });
    let wake = Condvar::new();
    let worker = |worker: usize| {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if st.error.is_some() || st.panic.is_some() {
                return;
            }
            let ready: Vec<usize> = (0..needs.len())
                .filter(|&i| st.status[i] == Status::Waiting)
                .filter(|&i| needs[i].iter().all(|&n| st.status[n] == Status::Done))
                .collect();
            let next =
                ready.iter().copied().max_by(|&a, &b| priority[a].total_cmp(&priority[b]).then(b.cmp(&a)));
            match next {
                Some(i) => {
                    let alone = ready.len() == 1 && !st.status.contains(&Status::Running);
                    st.status[i] = Status::Running;
                    drop(st);
                    let outcome = catch_unwind(AssertUnwindSafe(|| run(i, Slot { worker, alone })));
                    st = state.lock().unwrap_or_else(|p| p.into_inner());
                    match outcome {
                        Ok(Ok(())) => st.status[i] = Status::Done,
                        Ok(Err(e)) => {
                            st.error.get_or_insert(e);
                        }
                        Err(payload) => {
                            st.panic.get_or_insert(payload);
                        }
                    }
                    wake.notify_all();
                }
                None if !st.status.contains(&Status::Running) => return,
                None => st = wake.wait(st).unwrap_or_else(|p| p.into_inner()),
            }
        }
    };
    std::thread::scope(|s| {
        for w in 0..jobs.max(1) {
            let worker = &worker;
            s.spawn(move || worker(w));
        }
    });
    let st = state.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(payload) = st.panic {
        resume_unwind(payload);
    }
    st.error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn threads_are_shared_out_evenly_and_every_job_gets_one() {
        assert_eq!(threads_per_job(16, 3), vec![6, 5, 5]);
        assert_eq!(threads_per_job(2, 2), vec![1, 1]);
        assert_eq!(threads_per_job(2, 4), vec![1, 1, 1, 1]);
        assert_eq!(threads_per_job(8, 1), vec![8]);
        assert_eq!(default_jobs(2), 2);
        assert_eq!(default_jobs(0), 1);
    }

    /// A diamond with a tail: 0 -> {1, 2} -> 3, and 4 alone.
    fn diamond() -> Vec<Vec<usize>> {
        vec![vec![], vec![0], vec![0], vec![1, 2], vec![]]
    }

    #[test]
    fn a_node_starts_only_after_everything_it_needs_and_each_runs_once() {
        for jobs in [1, 2, 3, 8] {
            let order = Mutex::new(Vec::new());
            let running = AtomicUsize::new(0);
            let most = AtomicUsize::new(0);
            let needs = diamond();
            let run = |i: usize, slot: Slot| -> Result<(), String> {
                assert!(slot.worker < jobs);
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                {
                    let done = order.lock().unwrap();
                    for n in &needs[i] {
                        assert!(done.contains(n), "{i} started before {n} finished");
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                order.lock().unwrap().push(i);
                Ok(())
            };
            run_graph(&needs, &[false; 5], &[0.0; 5], jobs, &run).unwrap();
            let mut seen = order.into_inner().unwrap();
            seen.sort_unstable();
            assert_eq!(seen, vec![0, 1, 2, 3, 4], "jobs {jobs}");
            assert!(
                most.load(Ordering::SeqCst) <= jobs,
                "jobs {jobs}: {} at once",
                most.load(Ordering::SeqCst)
            );
            if jobs > 1 {
                assert!(most.load(Ordering::SeqCst) > 1, "jobs {jobs}: independent nodes never overlapped");
            }
        }
    }

    #[test]
    fn a_node_runs_alone_only_when_nothing_else_runs_or_is_ready() {
        // the diamond 0 -> {1, 2} -> 3, and 4 on its own: with two workers, 0 and 4 start
        // together; later 3 may be alone. A chain 0 -> 1 -> 2: every node alone.
        let alone = Mutex::new(Vec::new());
        let run = |i: usize, slot: Slot| -> Result<(), String> {
            alone.lock().unwrap().push((i, slot.alone));
            std::thread::sleep(std::time::Duration::from_millis(10));
            Ok(())
        };
        run_graph(&[vec![], vec![0], vec![1]], &[false; 3], &[0.0; 3], 2, &run).unwrap();
        assert_eq!(alone.lock().unwrap().clone(), vec![(0, true), (1, true), (2, true)]);
        alone.lock().unwrap().clear();
        run_graph(&diamond(), &[false; 5], &[1.0, 0.0, 0.0, 0.0, 0.0], 2, &run).unwrap();
        let seen = alone.into_inner().unwrap();
        for i in [0, 1, 2, 4] {
            assert!(seen.contains(&(i, false)), "{i} ran beside another node: {seen:?}");
        }
    }

    #[test]
    fn done_nodes_are_skipped_and_priority_picks_the_next() {
        let order = Mutex::new(Vec::new());
        let run = |i: usize, _: Slot| -> Result<(), String> {
            order.lock().unwrap().push(i);
            Ok(())
        };
        // 0 done; of the ready 1, 2, 4 the highest priority goes first
        run_graph(&diamond(), &[true, false, false, false, false], &[0.0, 1.0, 3.0, 0.0, 2.0], 1, &run)
            .unwrap();
        assert_eq!(order.into_inner().unwrap(), vec![2, 4, 1, 3]);
    }

    #[test]
    fn an_error_stops_what_depends_on_it_and_is_returned() {
        let ran = Mutex::new(Vec::new());
        let run = |i: usize, _: Slot| -> Result<(), String> {
            ran.lock().unwrap().push(i);
            if i == 1 {
                Err("node 1 failed".into())
            } else {
                Ok(())
            }
        };
        let err = run_graph(&diamond(), &[false; 5], &[0.0, 2.0, 1.0, 0.0, 0.0], 1, &run).unwrap_err();
        assert_eq!(err, "node 1 failed");
        let ran = ran.into_inner().unwrap();
        assert!(!ran.contains(&3), "node 3 needs the failed node 1 but ran: {ran:?}");
    }

    #[test]
    fn a_panic_in_a_node_is_raised_without_hanging_the_other_workers() {
        let run = |i: usize, _: Slot| -> Result<(), String> {
            if i == 0 {
                panic!("node 0 panicked");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(())
        };
        let caught = std::panic::catch_unwind(AssertUnwindSafe(|| {
            run_graph(&diamond(), &[false; 5], &[1.0, 0.0, 0.0, 0.0, 0.0], 2, &run)
        }));
        assert!(caught.is_err());
    }
}
