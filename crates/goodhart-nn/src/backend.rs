//! Which burn backend runs the models: the CPU (Flex) always, `wgpu` and `cuda` when the crate is
//! built with the cargo feature of that name. Everything else in the workspace takes a `Device`,
//! so choosing a backend is choosing the device here.

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;

use crate::NnError;

/// A backend goodhart can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// burn's Flex CPU backend (always compiled).
    Cpu,
    /// WebGPU/Vulkan/Metal through wgpu (feature `wgpu`); also a software Vulkan driver.
    Wgpu,
    /// NVIDIA GPUs through CUDA (feature `cuda`).
    Cuda,
}

impl Backend {
    /// Every backend, compiled in or not.
    pub const ALL: [Backend; 3] = [Backend::Cpu, Backend::Wgpu, Backend::Cuda];

    /// The name used on command lines (`--backend cpu|wgpu|cuda`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether this build of goodhart-nn has the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Cpu => true,
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The backends this build can run on.
    pub fn compiled() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// The default device of this backend (the first GPU, or wgpu's preferred adapter).
    ///
    /// # Errors
    /// [`NnError::BackendNotCompiled`] naming the cargo feature to build with.
    pub fn device(self) -> Result<Device, NnError> {
        match self {
            Backend::Cpu => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(DeviceKind::DefaultDevice)),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0)),
            #[allow(unreachable_patterns)]
            other => Err(NnError::BackendNotCompiled { backend: other.name(), feature: other.name() }),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = NnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" | "flex" => Ok(Backend::Cpu),
            "wgpu" => Ok(Backend::Wgpu),
            "cuda" => Ok(Backend::Cuda),
            other => Err(NnError::UnknownBackend { name: other.to_string() }),
        }
    }
}
