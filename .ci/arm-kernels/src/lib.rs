//! goodhart-nn's kernels, compiled on their own (see Cargo.toml).
#![allow(dead_code, unused_imports)]

#[path = "../../../crates/goodhart-nn/src/kernels.rs"]
pub mod kernels;
