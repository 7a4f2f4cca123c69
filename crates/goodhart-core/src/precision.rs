//! The precision of matrix products, process-wide: `f32` everywhere, or bf16 inputs with fp32
//! accumulation where the CPU has bf16 matrix units.
//!
//! The setting lives here, not in the kernels' crate, because it changes every number a neural
//! stage computes: the store mixes it into those stages' keys, and the store has no burn. The
//! kernels (`goodhart_nn`) decide whether the CPU can honour a request and set the precision in
//! effect through [`set`]; everything else reads it with [`current`].
//!
//! ```
//! use goodhart_core::precision::{self, Precision};
//! assert_eq!("bf16".parse::<Precision>().unwrap(), Precision::Bf16);
//! assert!("fp8".parse::<Precision>().is_err());
//! assert_eq!(Precision::default(), Precision::F32);
//! assert_eq!(precision::current(), Precision::F32);
//! ```

use std::sync::atomic::{AtomicU8, Ordering};

use serde::{Deserialize, Serialize};

/// What the matrix products multiply in (they always accumulate in fp32).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Single precision throughout.
    #[default]
    F32,
    /// Inputs rounded to bfloat16 (8 significant bits), products summed in fp32: AMX tiles or
    /// AVX512-BF16 dot products.
    Bf16,
}

impl Precision {
    /// The name an experiment file uses (`precision = "bf16"`).
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "f32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            other => Err(format!("unknown precision `{other}`: use \"f32\" or \"bf16\"")),
        }
    }
}

static CURRENT: AtomicU8 = AtomicU8::new(0);

/// The precision the matrix products use now.
pub fn current() -> Precision {
    match CURRENT.load(Ordering::Relaxed) {
        0 => Precision::F32,
        _ => Precision::Bf16,
    }
}

/// Makes the matrix products use `p` from now on. Callers other than the kernels' crate want
/// `goodhart_nn::use_precision`, which checks that the CPU can.
pub fn set(p: Precision) {
    CURRENT.store(p as u8, Ordering::Relaxed);
}
