//! Draws the pipeline's progress events: a bar per task on a terminal, plain lines otherwise.

use std::sync::{Arc, Mutex};

use goodhart_repro::progress::{stage_line, Event, Reporter};
use goodhart_repro::store::Outcome;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// A reporter that draws bars on stderr (hidden when stderr is not a terminal) and prints notes
/// and stage summaries above them.
pub fn terminal() -> Reporter {
    reporter(MultiProgress::new(), None)
}

/// Reporters for stages running at once (`--jobs`): each draws its own bar in one stack, prints
/// its lines above it prefixed with its stage, and leaves out the stages it only reads.
pub fn jobs() -> impl Fn(&goodhart_repro::plan::PlannedStage) -> Reporter + Sync {
    let stack = MultiProgress::new();
    move |s| reporter(stack.clone(), Some(format!("{} {}", s.stage, s.what)))
}

fn reporter(stack: MultiProgress, job: Option<String>) -> Reporter {
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    Arc::new(move |e| {
        let mut bar = bar.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let say = |line: &str| {
            let line = match &job {
                Some(job) if line.starts_with(' ') => format!("  [{job}]{line}"),
                _ => line.to_string(),
            };
            if stack.is_hidden() {
                eprintln!("{line}");
            } else {
                // printing above the stack cannot fail in a way worth stopping a run for
                let _ = stack.println(line);
            }
        };
        match e {
            Event::Started { what, len } => {
                let pb = stack.add(ProgressBar::new(len));
                pb.set_style(
                    ProgressStyle::with_template(
                        "{msg:>24} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                pb.set_message(what.to_string());
                *bar = Some(pb);
            }
            Event::Advanced { by } => bar.iter().for_each(|pb| pb.inc(by)),
            Event::Position { pos } => bar.iter().for_each(|pb| pb.set_position(pos)),
            Event::Finished => {
                if let Some(pb) = bar.take() {
                    pb.finish_and_clear();
                    stack.remove(&pb);
                }
            }
            Event::Note(line) => say(line),
            // a job loads the stages it reads: only what it computes is news
            Event::Stage { outcome: Outcome::Cached, .. } if job.is_some() => {}
            Event::Stage { .. } => say(&stage_line(&e).expect("a stage event")),
        }
    })
}
