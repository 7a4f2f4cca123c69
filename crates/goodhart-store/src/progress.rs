//! How the pipeline reports what it is doing: events sent to a [`Reporter`] that whoever runs it
//! chooses. The library prints nothing; `cargo xtask` draws progress bars and lines, tests stay
//! silent.

use std::path::Path;
use std::sync::Arc;

use crate::stage::{Outcome, Stage};

/// What happened.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A task with `len` units of work began (`what` labels it).
    Started { what: &'a str, len: u64 },
    /// The current task advanced by `by` units.
    Advanced { by: u64 },
    /// The current task is at `pos` units (a resumed run starts past 0).
    Position { pos: u64 },
    /// The current task ended.
    Finished,
    /// A line worth showing: a periodic status, a note about a resumed or repaired stage.
    Note(&'a str),
    /// A stage was computed, or found in the store.
    Stage { stage: Stage, outcome: Outcome, dir: &'a Path, detail: &'a str },
}

/// Receives the pipeline's events.
pub type Reporter = Arc<dyn Fn(Event<'_>) + Send + Sync>;

/// A reporter that ignores everything (the default of a library user's pipeline).
pub fn silent() -> Reporter {
    Arc::new(|_| {})
}

/// A reporter that writes notes and stage summaries to stderr as plain lines, without bars.
pub fn lines() -> Reporter {
    Arc::new(|e| match e {
        Event::Note(line) => eprintln!("{line}"),
        Event::Stage { .. } => eprintln!("{}", stage_line(&e).expect("a stage event")),
        _ => {}
    })
}

/// The one-line summary of a [`Event::Stage`]: `[computed] gold  p300k ...  (dir)`.
pub fn stage_line(e: &Event<'_>) -> Option<String> {
    let Event::Stage { stage, outcome, dir, detail } = e else { return None };
    let what = match outcome {
        Outcome::Cached => "cached  ",
        Outcome::Computed => "computed",
    };
    Some(format!("[{what}] {:<16} {detail}  ({})", stage.name(), dir.display()))
}

/// A task in progress: sends its events to the reporter. Cloning gives another handle to it.
#[derive(Clone)]
pub struct Task {
    reporter: Reporter,
}

impl Task {
    /// Starts a task of `len` units labelled `what`.
    pub fn start(reporter: &Reporter, len: u64, what: &str) -> Self {
        reporter(Event::Started { what, len });
        Task { reporter: reporter.clone() }
    }

    /// Advances by `by` units.
    pub fn inc(&self, by: u64) {
        (self.reporter)(Event::Advanced { by });
    }

    /// Sets the position.
    pub fn set_position(&self, pos: u64) {
        (self.reporter)(Event::Position { pos });
    }

    /// A line about the task.
    pub fn note(&self, line: &str) {
        (self.reporter)(Event::Note(line));
    }

    /// Ends the task.
    pub fn finish(&self) {
        (self.reporter)(Event::Finished);
    }
}
