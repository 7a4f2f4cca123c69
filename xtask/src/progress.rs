//! Draws the pipeline's progress events: a bar per task on a terminal, plain lines otherwise.

use std::sync::{Arc, Mutex};

use goodhart_repro::progress::{stage_line, Event, Reporter};
use indicatif::{ProgressBar, ProgressStyle};

/// A reporter that draws bars on stderr (hidden when stderr is not a terminal) and prints notes
/// and stage summaries above them.
pub fn terminal() -> Reporter {
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    Arc::new(move |e| {
        let mut bar = bar.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let say = |bar: &Option<ProgressBar>, line: &str| match bar {
            Some(pb) if !pb.is_hidden() => pb.println(line),
            _ => eprintln!("{line}"),
        };
        match e {
            Event::Started { what, len } => {
                let pb = ProgressBar::new(len);
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
                }
            }
            Event::Note(line) => say(&bar, line),
            Event::Stage { .. } => say(&bar, &stage_line(&e).expect("a stage event")),
        }
    })
}
