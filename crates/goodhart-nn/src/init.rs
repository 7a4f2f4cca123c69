//! Deterministic parameter initialisation.
//!
//! burn's initialisers draw from a *process-global* RNG and only when a
//! parameter is first used (lazy init), so "seed, then init" is not
//! reproducible when other code (or another test thread) draws in between.
//! We therefore draw every initial weight on the host from a small counter-free
//! RNG (SplitMix64 + Box–Muller) seeded by `(seed, parameter path)`:
//!
//! * the same seed gives bit-identical weights on a given platform, whatever
//!   else the process does;
//! * each tensor's values depend only on `(seed, path, shape)`, so a
//!   [`crate::Gpt`] and a [`crate::ScalarModel`] built from the same config and
//!   seed share the same trunk weights.
//!
//! The [`Init::lazy`] mode builds shape-only, never-materialised parameters:
//! the skeleton that checkpoint loading fills in.

use burn::module::Param;
use burn::nn::Initializer;
use burn::prelude::*;

/// How parameters are created: seeded host draws, or lazy zero placeholders.
pub(crate) struct Init<'a> {
    device: &'a Device,
    seed: Option<u64>,
}

impl<'a> Init<'a> {
    /// Parameters drawn deterministically from `seed`.
    pub(crate) fn seeded(device: &'a Device, seed: u64) -> Self {
        Self { device, seed: Some(seed) }
    }

    /// Lazy zero parameters (never materialised if a checkpoint is loaded into them).
    pub(crate) fn lazy(device: &'a Device) -> Self {
        Self { device, seed: None }
    }

    pub(crate) fn device(&self) -> &Device {
        self.device
    }

    /// Parameter `path` of `shape` drawn from `N(0, std²)`.
    pub(crate) fn normal<const D: usize>(&self, path: &str, shape: [usize; D], std: f64) -> Param<Tensor<D>> {
        match self.seed {
            None => Initializer::Zeros.init(shape, self.device),
            Some(seed) => {
                let n = shape.iter().product();
                let values = normal_values(stream_seed(seed, path), n, std);
                Param::from_data(TensorData::new(values, shape), self.device)
            }
        }
    }

    /// Parameter of `shape` filled with zeros (biases).
    pub(crate) fn zeros<const D: usize>(&self, shape: [usize; D]) -> Param<Tensor<D>> {
        match self.seed {
            None => Initializer::Zeros.init(shape, self.device),
            Some(_) => Param::from_data(TensorData::zeros::<f32, _>(shape), self.device),
        }
    }
}

/// Seed of the RNG stream for one parameter: `seed` mixed with the FNV-1a hash of its path.
fn stream_seed(seed: u64, path: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut s = seed ^ h.rotate_left(17);
    splitmix64(&mut s)
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `n` samples of `N(0, std²)` (Box–Muller on SplitMix64).
fn normal_values(mut state: u64, n: usize, std: f64) -> Vec<f32> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        // u1 in (0, 1], u2 in [0, 1), 53 random bits each.
        let u1 = ((splitmix64(&mut state) >> 11) + 1) as f64 / (1u64 << 53) as f64;
        let u2 = (splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
        let r = (-2.0 * u1.ln()).sqrt() * std;
        let theta = std::f64::consts::TAU * u2;
        out.push((r * theta.cos()) as f32);
        if out.len() < n {
            out.push((r * theta.sin()) as f32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_values_have_the_requested_moments() {
        let v = normal_values(stream_seed(7, "x"), 200_000, 0.5);
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.005, "std {}", var.sqrt());
    }

    #[test]
    fn streams_depend_on_seed_and_path() {
        let a = normal_values(stream_seed(1, "a.weight"), 8, 1.0);
        assert_eq!(a, normal_values(stream_seed(1, "a.weight"), 8, 1.0));
        assert_ne!(a, normal_values(stream_seed(2, "a.weight"), 8, 1.0));
        assert_ne!(a, normal_values(stream_seed(1, "b.weight"), 8, 1.0));
    }
}
