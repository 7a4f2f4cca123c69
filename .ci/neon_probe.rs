// Compiled by .ci/run for aarch64 (`rustc --emit asm`): the engine's and the fused operations'
// kernels, through the same `kernel!` macro and functions, must become NEON vector code there.
// The aarch64 step counts 4-lane single-precision vector instructions (`v<n>.4s`) in each probe.
#![allow(dead_code)]
#[path = "../crates/goodhart-nn/src/kernels.rs"]
mod kernels;
use kernels::kernel;

kernel! {
    fn gelu_kernel(y: &mut [f32], x: &[f32]) {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = kernels::gelu(v);
        }
    }
}

#[no_mangle]
pub fn probe_gelu(y: &mut [f32], x: &[f32]) {
    gelu_kernel(y, x)
}

#[no_mangle]
pub fn probe_dot(a: &[f32], b: &[f32]) -> f32 {
    kernels::dot(a, b)
}

#[no_mangle]
pub fn probe_logsumexp(a: &[f32]) -> f32 {
    kernels::logsumexp(a)
}
