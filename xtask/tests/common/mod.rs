//! Helpers shared by the command-level tests.

use std::collections::BTreeSet;
use std::path::Path;

/// `stage/key` of every complete stage of the store at `runs`, each checked against its sizes
/// and SHA-256; a stage marked complete but damaged fails the test.
pub fn complete(runs: &Path) -> BTreeSet<String> {
    use goodhart_repro::store::integrity::Health;
    use goodhart_repro::store::inventory::Kind;
    let mut done = BTreeSet::new();
    for e in goodhart_repro::Store::new(runs).entries(true).unwrap() {
        match &e.kind {
            Kind::Stage(Health::Complete) => {
                done.insert(e.id());
            }
            Kind::Stage(Health::Damaged(why)) => panic!("{} is marked complete but damaged: {why}", e.id()),
            _ => {}
        }
    }
    done
}
