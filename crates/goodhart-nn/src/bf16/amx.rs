//! The AMX kernel: one [`MB`] x [`NB`] output block as four 16 x 16 fp32 tiles, each step over
//! `k` loading two tiles of `a` (16 rows x 32 bf16) and two of `b` (16 pairs x 16 columns) and
//! taking four `tdpbf16ps`. Linux on x86-64 only: the kernel must grant the process the tiles'
//! register state (`arch_prctl(ARCH_REQ_XCOMP_PERM)`) before the first use.

use super::{MB, NB};

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod imp {
    use std::arch::asm;
    use std::sync::OnceLock;

    use super::{MB, NB};
    use crate::bf16::KB;

    /// The CPU has AMX-TILE and AMX-BF16 and the kernel granted this process their state.
    pub(crate) fn available() -> bool {
        static OK: OnceLock<bool> = OnceLock::new();
        *OK.get_or_init(|| {
            let max_leaf = std::arch::x86_64::__cpuid(0).eax;
            if max_leaf < 7 {
                return false;
            }
            let edx = std::arch::x86_64::__cpuid_count(7, 0).edx;
            let (tile, bf16) = (edx >> 24 & 1 == 1, edx >> 22 & 1 == 1);
            const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
            const XFEATURE_XTILEDATA: libc::c_long = 18;
            // SAFETY: a plain system call with integer arguments; it only changes which
            // register state this process may use.
            tile && bf16
                && unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) }
                    == 0
        })
    }

    /// The `ldtilecfg` operand: palette 1, tiles 0-7 of 16 rows by 64 bytes.
    #[repr(C, align(64))]
    struct Config {
        palette: u8,
        start_row: u8,
        reserved: [u8; 14],
        colsb: [u16; 16],
        rows: [u8; 16],
    }

    /// The tiles configured on this thread (released on drop). Made only where
    /// [`available`] holds.
    pub(crate) struct Tiles(());

    impl Tiles {
        pub(crate) fn configure() -> Self {
            assert!(available(), "AMX used on a CPU or kernel without it");
            let mut cfg =
                Config { palette: 1, start_row: 0, reserved: [0; 14], colsb: [0; 16], rows: [0; 16] };
            cfg.colsb[..8].fill(64);
            cfg.rows[..8].fill(16);
            // SAFETY: AMX is present and granted (asserted above); the operand is a valid
            // 64-byte configuration.
            unsafe { asm!("ldtilecfg [{}]", in(reg) &cfg, options(nostack, readonly)) };
            Tiles(())
        }

        pub(crate) fn block(&mut self, a: &[u16], b: &[u16], kp: usize, tile: &mut [f32; MB * NB]) {
            assert!(kp.is_multiple_of(KB) && kp > 0 && a.len() >= MB * kp && b.len() >= NB * kp);
            // SAFETY: the tiles are configured (`self` exists); every load stays inside `a`
            // (rows 0..32 of kp, 64 bytes at column offsets < kp) and `b` (two panels of
            // 16 * kp, 16 rows of 64 bytes per step), checked above; the stores write the
            // 32 x 32 floats of `tile` (rows of 128 bytes).
            unsafe {
                asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    "2:",
                    "tileloadd tmm4, [{a0} + {a_stride}]",
                    "tileloadd tmm5, [{a1} + {a_stride}]",
                    "tileloadd tmm6, [{b0} + {b_stride}]",
                    "tileloadd tmm7, [{b1} + {b_stride}]",
                    "tdpbf16ps tmm0, tmm4, tmm6",
                    "tdpbf16ps tmm1, tmm4, tmm7",
                    "tdpbf16ps tmm2, tmm5, tmm6",
                    "tdpbf16ps tmm3, tmm5, tmm7",
                    "add {a0}, 64",
                    "add {a1}, 64",
                    "add {b0}, 1024",
                    "add {b1}, 1024",
                    "dec {steps}",
                    "jnz 2b",
                    "tilestored [{c} + {c_stride}], tmm0",
                    "tilestored [{c} + {c_stride} + 64], tmm1",
                    "tilestored [{c} + {c_stride} + 2048], tmm2",
                    "tilestored [{c} + {c_stride} + 2112], tmm3",
                    a0 = inout(reg) a.as_ptr() => _,
                    a1 = inout(reg) a.as_ptr().add(16 * kp) => _,
                    b0 = inout(reg) b.as_ptr() => _,
                    b1 = inout(reg) b.as_ptr().add(16 * kp) => _,
                    steps = inout(reg) kp / KB => _,
                    a_stride = in(reg) 2 * kp,
                    b_stride = in(reg) 64usize,
                    c = in(reg) tile.as_mut_ptr(),
                    c_stride = in(reg) 4 * NB,
                    options(nostack),
                );
            }
        }
    }

    impl Drop for Tiles {
        fn drop(&mut self) {
            // SAFETY: the tiles were configured by this thread (`configure`).
            unsafe { asm!("tilerelease", options(nostack, nomem)) };
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
mod imp {
    use super::{MB, NB};

    /// AMX needs Linux on x86-64 here.
    pub(crate) fn available() -> bool {
        false
    }

    /// Never made: [`available`] is false.
    pub(crate) enum Tiles {}

    impl Tiles {
        pub(crate) fn configure() -> Self {
            unreachable!("AMX is never available on this platform")
        }

        pub(crate) fn block(&mut self, _: &[u16], _: &[u16], _: usize, _: &mut [f32; MB * NB]) {
            match *self {}
        }
    }
}

pub(crate) use imp::{available, Tiles};

const _: () = assert!(MB == 32 && NB == 32, "the kernel's four tiles cover 32 x 32");
