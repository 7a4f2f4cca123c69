//! [`keep_freed_memory`]: stop the C allocator from handing large blocks back to the kernel.
//!
//! glibc's `malloc` serves blocks above its mmap threshold with fresh `mmap`s and unmaps them on
//! `free`. Training and scoring allocate a new tensor or buffer of hundreds of kilobytes for
//! nearly every operation, so each one page-faults its memory in again, and system time
//! dominates. Keeping freed memory in the process avoids that (docs/benchmarks.md has the
//! measurement).

/// Raises glibc's mmap threshold to its maximum (32 MiB on 64-bit) and its trim threshold to
/// `i32::MAX`, so that freed memory is reused, not returned to the kernel and faulted in again.
/// Call it once at the start of a program, before threads start allocating; the programs of this
/// workspace (`xtask`, the benchmarks, the examples) do. Returns whether glibc accepted both;
/// elsewhere than Linux with glibc it does nothing and returns false. Memory freed by a run stays
/// reserved by the process until it exits, so the resident size stays near its peak.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; both values are within the ranges
        // glibc documents (it rejects, returning 0, anything else).
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_thresholds() {
        assert!(super::keep_freed_memory());
    }
}
