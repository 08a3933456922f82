//! Tessera's renderer: a deterministic glTF path tracer whose cells are bit-identical across runs, thread
//! counts, machines and the CPU and CUDA backends (docs/render-determinism.md).
//!
//! Data flows through the modules in this order: [`scene`] loads a `.glb` (within [`scene::Limits`]) and
//! flattens it, with a BVH from `bvh`, into the arrays the kernel reads; `kernel` runs the one C kernel
//! source on the CPU or, through NVRTC, on the GPU; [`render`] renders a task's region cell by cell and
//! computes each cell's data hash and Merkle leaf; [`output`] writes the raw data, the PNG preview and the
//! leaves. [`math`] holds the host-side deterministic math shared with the kernel.

mod bvh;
mod kernel;
pub mod math;
pub mod output;
pub mod render;
pub mod scene;
mod srgb;
pub mod testscenes;

pub use kernel::cuda::{CudaBackend, CudaUnavailable};
pub use kernel::kernel_sincos_turns;
pub use render::{Backend, BackendChoice, RegionImage, render_cells, render_rect, render_region};
pub use scene::{EnvironmentMap, Limits, LoadOptions, Scene, SceneError, load_glb, load_hdr};
pub use tessera_common::task::{Rect, RenderSettings};

/// The renderer id a job names to be rendered by this crate (`IDistributedRender.JobSpec.rendererId`).
pub const RENDERER_ID: &str = concat!("tessera-pt/", env!("CARGO_PKG_VERSION"));

/// The kernel source as NVRTC compiles it (for tests and diagnostics).
pub fn cuda_kernel_source() -> String {
    kernel::cuda::kernel_source()
}
