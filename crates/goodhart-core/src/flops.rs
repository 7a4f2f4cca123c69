//! Counting the floating-point operations of matrix products, so that a run can say how much
//! work each stage did and at what rate.
//!
//! The kernels call [`add`] once per product (`2 m n k`). The count goes to the calling thread's
//! counter when it has one ([`set_thread_counter`]: the threads of a job's own pool, when stages
//! run at once), and to one process-wide counter otherwise. [`current`] reads the counter the
//! calling thread adds to, so the difference of two reads around a piece of work is that work's
//! count when nothing else adds to the same counter meanwhile.
//!
//! ```
//! use goodhart_core::flops;
//! let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
//! flops::set_thread_counter(Some(counter.clone()));
//! let before = flops::current();
//! flops::add(2 * 4 * 5 * 6);
//! assert_eq!(flops::current() - before, 240);
//! flops::set_thread_counter(None);
//! ```

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

static PROCESS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD: RefCell<Option<Arc<AtomicU64>>> = const { RefCell::new(None) };
}

/// Counts `flops` operations on the calling thread's counter.
pub fn add(flops: u64) {
    THREAD.with(|c| match &*c.borrow() {
        Some(counter) => counter.fetch_add(flops, Ordering::Relaxed),
        None => PROCESS.fetch_add(flops, Ordering::Relaxed),
    });
}

/// The count of the counter the calling thread adds to.
pub fn current() -> u64 {
    THREAD.with(|c| match &*c.borrow() {
        Some(counter) => counter.load(Ordering::Relaxed),
        None => PROCESS.load(Ordering::Relaxed),
    })
}

/// Makes the calling thread add to `counter` (`None`: the process-wide one again).
pub fn set_thread_counter(counter: Option<Arc<AtomicU64>>) {
    THREAD.with(|c| *c.borrow_mut() = counter);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_with_its_own_counter_does_not_add_to_anothers() {
        let mine = Arc::new(AtomicU64::new(0));
        let theirs = Arc::new(AtomicU64::new(0));
        let t = {
            let theirs = theirs.clone();
            std::thread::spawn(move || {
                set_thread_counter(Some(theirs));
                add(7);
            })
        };
        set_thread_counter(Some(mine.clone()));
        add(100);
        t.join().unwrap();
        assert_eq!((mine.load(Ordering::SeqCst), theirs.load(Ordering::SeqCst)), (100, 7));
        assert_eq!(current(), 100);
        set_thread_counter(None);
        let before = current();
        add(5);
        assert!(current() - before >= 5, "the process-wide counter counts what has no counter");
    }
}
