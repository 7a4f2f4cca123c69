//! Fault injection, for the tests that prove a killed or starved run resumes to the same
//! results. Off unless the environment sets `GOODHART_FAULT=<point>:<arg>`:
//!
//! | point | arg | what happens |
//! |---|---|---|
//! | `stage-boundary` | k | the process dies right after the k-th stage it completes |
//! | `mid-stage` | a stage name | the process dies once that stage's files are written, before it is marked complete |
//! | `mid-write` | part of a path | the first write of a matching file stops half-way and the process dies |
//! | `before-rename` | part of a path | the process dies after a matching file (or directory) is written and synced, before its rename |
//! | `enospc` | part of a path | the first write of a matching file fails with ENOSPC ("No space left on device") |
//!
//! "Dies" is `std::process::exit(86)` after one line on stderr: no destructor runs, no temporary
//! file is cleaned up and no lock is released until the process is gone, as with SIGKILL.
//!
//! Compiled in only with the `fault-injection` feature, which `goodhart-repro` turns on (so the
//! pipeline's binaries and tests have it); a project that uses the math crates alone reads no
//! environment variable here and never exits from a library call: [`fires`] is always false.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Where a fault can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    StageBoundary,
    MidStage,
    MidWrite,
    BeforeRename,
    Enospc,
}

impl Point {
    fn name(self) -> &'static str {
        match self {
            Point::StageBoundary => "stage-boundary",
            Point::MidStage => "mid-stage",
            Point::MidWrite => "mid-write",
            Point::BeforeRename => "before-rename",
            Point::Enospc => "enospc",
        }
    }
}

/// The exit status of a process a fault killed.
pub const FAULT_EXIT: i32 = 86;

fn spec() -> Option<&'static (Point, String)> {
    static SPEC: OnceLock<Option<(Point, String)>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let raw = std::env::var("GOODHART_FAULT").ok()?;
        let (point, arg) = raw.split_once(':')?;
        let point =
            [Point::StageBoundary, Point::MidStage, Point::MidWrite, Point::BeforeRename, Point::Enospc]
                .into_iter()
                .find(|p| p.name() == point)?;
        Some((point, arg.to_string()))
    })
    .as_ref()
}

/// Whether the fault set for `point` fires at this event, whose subject is `what` (a path or a
/// stage name). Each fault fires once per process.
pub fn fires(point: Point, what: &str) -> bool {
    if !cfg!(feature = "fault-injection") {
        return false;
    }
    static FIRED: AtomicBool = AtomicBool::new(false);
    static BOUNDARIES: AtomicUsize = AtomicUsize::new(0);
    let Some((p, arg)) = spec() else { return false };
    if *p != point || FIRED.load(Ordering::SeqCst) {
        return false;
    }
    let hit = match point {
        Point::StageBoundary => {
            arg.parse::<usize>().is_ok_and(|k| BOUNDARIES.fetch_add(1, Ordering::SeqCst) + 1 == k)
        }
        Point::MidStage => what == arg,
        _ => what.contains(arg.as_str()),
    };
    hit && !FIRED.swap(true, Ordering::SeqCst)
}

/// Ends the process as a kill would, saying which fault did it.
pub fn die(point: Point, what: &str) -> ! {
    eprintln!("fault injected: {} at {what}", point.name());
    std::process::exit(FAULT_EXIT)
}

/// The error of a full disk.
pub fn enospc() -> std::io::Error {
    std::io::Error::from_raw_os_error(28)
}
