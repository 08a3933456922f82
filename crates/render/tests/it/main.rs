//! Integration tests of the renderer: physics against analytic values, determinism, the loader's error
//! handling, hostile scenes (with their generators), a bounded fuzz run over mutated scenes, and CPU-vs-CUDA conformance where a GPU exists.
// Fixtures here are small scenes and images whose sizes fit every integer type they are cast to.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;
mod conformance;
mod determinism;
mod features;
mod fuzz;
mod hostile;
mod loader;
mod pack;
mod physics;
