//! Tessera's renderer: a deterministic glTF path tracer whose cells are bit-identical across runs, thread
//! counts, machines and the CPU and CUDA backends (docs/render-determinism.md).
//!
//! Data flows through the modules in this order: [`scene`] loads a `.glb` (within [`scene::Limits`]) and
//! flattens it, with a BVH from `bvh`, into the arrays the kernel reads; `kernel` runs the one C kernel
//! source on the CPU or, through NVRTC, on the GPU; [`render`] renders a task's region cell by cell and
//! computes each cell's data hash and Merkle leaf; [`output`] writes the raw data, the PNG preview and the
//! leaves. [`math`] holds the host-side deterministic math shared with the kernel. [`denoise`] runs Intel
//! Open Image Denoise on finished frames for the artist (never on what is verified).

mod bvh;
pub mod denoise;
mod kernel;
pub mod math;
pub mod output;
pub mod render;
pub mod scene;
pub mod testscenes;

pub use kernel::cuda::{CudaBackend, CudaUnavailable};
pub use kernel::{CpuKernel, kernel_pow, kernel_sincos_turns};
pub use render::{
    AuditedCell, Backend, BackendChoice, RegionImage, render_cells, render_cells_audited,
    render_cells_audited_with, render_rect, render_region,
};
pub use scene::{
    EnvironmentMap, Limits, LoadOptions, Look, Scene, SceneError, load_glb, load_hdr, pack_gltf,
    read_scene, read_scene_listing,
};
pub use tessera_common::task::{Rect, RenderSettings};

/// The renderer id a job names to be rendered by this crate (`IDistributedRender.JobSpec.rendererId`). It
/// names the bits a task's cells have: it changes with every change that can change a cell (0.2: lights in
/// `KHR_lights_punctual`'s photometric units with Blender's spot falloff, alpha modes, the second UV set,
/// texture transforms, sampler wrap modes, vertex colours, skins, morph targets, transmission and IOR; 0.3:
/// `KHR_materials_clearcoat`, `KHR_materials_sheen` and `KHR_materials_unlit`, a 4-wide BVH, and random
/// streams keyed once per sample: every scene's cells change; 0.4: BVH leaves of up to four triangles,
/// intersected four at a time: the tree's shape, and with it the triangle order, changes, and with that the
/// emitter table (its slot order, which triangle a light sample picks, and its cumulative powers, summed in
/// that order), the triangle index alpha BLEND's decisions hash, and which of two exactly tied hits a ray
/// keeps).
pub const RENDERER_ID: &str = "tessera-pt/0.4";

/// The kernel source as NVRTC compiles it (for tests and diagnostics).
pub fn cuda_kernel_source() -> String {
    kernel::cuda::kernel_source()
}

/// How a job's scene is loaded for `frame` of a `width` x `height` image: its [`Look`] (the animation clock
/// and the environment the scene names, `scene::read_look`), the camera's aspect from the image, and the
/// given limits. Workers, verifiers and the artist's estimate all load scenes through this, so their cells
/// agree bit for bit.
pub fn job_load_options(
    width: u32,
    height: u32,
    frame: u32,
    limits: Limits,
    look: Look,
) -> LoadOptions {
    // Image sides are at most 16,384, exact in f32.
    let aspect = width as f32 / height.max(1) as f32;
    LoadOptions {
        limits,
        frame,
        fps: look.fps,
        environment: look.environment,
        environment_map: look.environment_map,
        aspect,
    }
}

/// The settings a task of a job renders with: the job's, with the seed mixed with the frame number so that
/// frames do not share one noise pattern. Workers and verifiers both call this.
pub fn task_settings(job: &RenderSettings, frame: u32) -> RenderSettings {
    RenderSettings {
        seed: job
            .seed
            .wrapping_add(u64::from(frame).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        ..*job
    }
}

/// Loads a job's scene for `frame` the way every worker and verifier must: with the look the scene names
/// ([`scene::read_look`]) through [`job_load_options`].
pub fn load_job_scene(
    glb: &[u8],
    job: &RenderSettings,
    frame: u32,
    limits: Limits,
) -> Result<Scene, SceneError> {
    let look = scene::read_look(glb, &limits)?;
    load_glb(
        glb,
        &job_load_options(job.width, job.height, frame, limits, look),
    )
}
