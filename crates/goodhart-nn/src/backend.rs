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

    /// The default device of this backend (the first GPU, or wgpu's preferred adapter), checked
    /// by running one small operation on it.
    ///
    /// # Errors
    /// [`NnError::BackendNotCompiled`] naming the cargo feature to build with;
    /// [`NnError::BackendUnavailable`] when the backend is compiled in but cannot start (no
    /// driver or adapter), with what to install.
    pub fn device(self) -> Result<Device, NnError> {
        let device = self.unchecked_device()?;
        let probe = device.clone();
        let ran = std::panic::catch_unwind(move || {
            let x = Tensor::<1>::from_floats([1.0, 2.0], &probe);
            x.sum().into_scalar::<f32>()
        });
        match ran {
            Ok(v) => {
                if v == 3.0 {
                    Ok(device)
                } else {
                    Err(self.unavailable(format!("1 + 2 gave {v}")))
                }
            }
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "it panicked".into());
                Err(self.unavailable(why))
            }
        }
    }

    fn unavailable(self, why: String) -> NnError {
        let fix = match self {
            Backend::Cpu => "report this as a bug",
            Backend::Wgpu => {
                "install a Vulkan, Metal or DX12 driver; without a GPU, Mesa's software Vulkan \
                 (`apt-get install libvulkan1 mesa-vulkan-drivers`)"
            }
            Backend::Cuda => "check the NVIDIA driver (`nvidia-smi`) and that libcuda is on the loader path",
        };
        NnError::BackendUnavailable { backend: self.name(), why, fix }
    }

    fn unchecked_device(self) -> Result<Device, NnError> {
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
