//! The two backends of the one kernel source (`pathtrace.h`): the CPU one, linked through `build.rs`, and
//! the CUDA one, compiled by NVRTC at run time. This module holds all of the crate's `unsafe`.
#![allow(unsafe_code)]

pub(crate) mod cuda;

use crate::scene::Scene;
use tessera_common::task::Rect;

/// The kernel's `ts_scene`, pointing at host memory (CPU backend). Field order and types mirror
/// `pathtrace.h`; the CUDA twin is `cuda::DeviceScene`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct SceneView<P: Copy> {
    pub nodes: P,
    pub tris: P,
    pub packs: P,
    pub shade: P,
    pub materials: P,
    pub textures: P,
    pub texels: P,
    pub lights: P,
    pub emitters: P,
    pub emitter_cdf: P,
    pub node_count: u32,
    pub tri_count: u32,
    pub material_count: u32,
    pub texture_count: u32,
    pub light_count: u32,
    pub emitter_count: u32,
    pub width: u32,
    pub height: u32,
    pub spp: u32,
    pub max_bounces: u32,
    pub seed_lo: u32,
    pub seed_hi: u32,
    pub cam_pos: [f32; 3],
    pub cam_right: [f32; 3],
    pub cam_up: [f32; 3],
    pub cam_forward: [f32; 3],
    pub cam_tan_half_x: f32,
    pub cam_tan_half_y: f32,
    pub env: [f32; 3],
    pub light_select_punctual: f32,
    pub env_tex: u32,
    pub flags: u32,
}

/// Image-wide parameters of one render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    pub width: u32,
    pub height: u32,
    pub spp: u32,
    pub max_bounces: u32,
    pub seed: u64,
}

/// The low and high 32-bit words of the seed.
fn seed_words(seed: u64) -> (u32, u32) {
    let b = seed.to_le_bytes();
    (
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
    )
}

/// Floats of output for `rect` (3 per pixel).
pub(crate) fn rect_floats(rect: Rect) -> usize {
    usize::try_from(rect.area()).unwrap_or(usize::MAX / 4) * 3
}

fn count(v: usize, per: usize) -> u32 {
    u32::try_from(v / per).unwrap_or(u32::MAX)
}

impl<P: Copy> SceneView<P> {
    /// Fills everything but the pointers from the scene and frame.
    pub(crate) fn new(scene: &Scene, frame: &Frame, ptrs: [P; 10]) -> Self {
        use crate::scene::{LIGHT_FLOATS, MAT_FLOATS, NODE_FLOATS, TEX_U32};
        let c = &scene.camera;
        let [
            nodes,
            tris,
            packs,
            shade,
            materials,
            textures,
            texels,
            lights,
            emitters,
            emitter_cdf,
        ] = ptrs;
        SceneView {
            nodes,
            tris,
            packs,
            shade,
            materials,
            textures,
            texels,
            lights,
            emitters,
            emitter_cdf,
            node_count: count(scene.nodes.len(), NODE_FLOATS),
            tri_count: u32::try_from(scene.stats.triangles).unwrap_or(u32::MAX),
            material_count: count(scene.materials.len(), MAT_FLOATS),
            texture_count: count(scene.textures.len(), TEX_U32),
            light_count: count(scene.lights.len(), LIGHT_FLOATS),
            emitter_count: count(scene.emitters.len(), 1),
            width: frame.width,
            height: frame.height,
            spp: frame.spp,
            max_bounces: frame.max_bounces,
            seed_lo: seed_words(frame.seed).0,
            seed_hi: seed_words(frame.seed).1,
            cam_pos: c.position,
            cam_right: c.right,
            cam_up: c.up,
            cam_forward: c.forward,
            cam_tan_half_x: c.tan_half_x,
            cam_tan_half_y: c.tan_half_y,
            env: scene.environment,
            light_select_punctual: scene.punctual_share(),
            env_tex: scene.environment_texture,
            flags: scene.flags,
        }
    }
}

/// A build of the CPU kernel: the one source compiled for an instruction set (build.rs). Every build performs
/// the same IEEE operations in the same order, so every build renders the same bits; they differ in speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CpuKernel {
    /// The target's baseline instruction set (SSE2 on x86-64): runs on every CPU of the target.
    Baseline,
    /// x86-64 with AVX2 (VEX encoding, 256-bit registers; still no FMA): chosen when the CPU has AVX2.
    Avx2,
}

impl CpuKernel {
    /// The builds this CPU can run, the baseline first (detected once).
    pub fn available() -> &'static [CpuKernel] {
        static AVAILABLE: std::sync::OnceLock<Vec<CpuKernel>> = std::sync::OnceLock::new();
        AVAILABLE.get_or_init(|| {
            let mut v = vec![CpuKernel::Baseline];
            #[cfg(tessera_kernel_avx2)]
            if std::arch::is_x86_feature_detected!("avx2") {
                v.push(CpuKernel::Avx2);
            }
            v
        })
    }

    /// The fastest build this CPU can run.
    pub fn best() -> CpuKernel {
        CpuKernel::available()
            .last()
            .copied()
            .unwrap_or(CpuKernel::Baseline)
    }

    /// This build if this CPU can run it, else the baseline (the same bits).
    pub fn usable(self) -> CpuKernel {
        if CpuKernel::available().contains(&self) {
            self
        } else {
            CpuKernel::Baseline
        }
    }

    /// A short name: `baseline` or `avx2`.
    pub fn name(self) -> &'static str {
        match self {
            CpuKernel::Baseline => "baseline",
            CpuKernel::Avx2 => "avx2",
        }
    }
}

type RenderRectFn =
    unsafe extern "C" fn(*const SceneView<*const u8>, u32, u32, u32, u32, *mut f32) -> u64;
type RenderRectAuditFn = unsafe extern "C" fn(
    *const SceneView<*const u8>,
    u32,
    u32,
    u32,
    u32,
    u64,
    *mut f32,
    *mut f32,
) -> u64;

unsafe extern "C" {
    fn ts_render_rect(
        s: *const SceneView<*const u8>,
        x: u32,
        y: u32,
        w: u32,
        h: u32,
        out: *mut f32,
    ) -> u64;
    fn ts_render_rect_audit(
        s: *const SceneView<*const u8>,
        x: u32,
        y: u32,
        w: u32,
        h: u32,
        mask: u64,
        out: *mut f32,
        audit: *mut f32,
    ) -> u64;
    fn ts_sincos_turns_c(t: f32, s: *mut f32, c: *mut f32);
    fn ts_pow_c(x: f32, y: f32) -> f32;
}

#[cfg(tessera_kernel_avx2)]
unsafe extern "C" {
    fn ts_render_rect_avx2(
        s: *const SceneView<*const u8>,
        x: u32,
        y: u32,
        w: u32,
        h: u32,
        out: *mut f32,
    ) -> u64;
    fn ts_render_rect_audit_avx2(
        s: *const SceneView<*const u8>,
        x: u32,
        y: u32,
        w: u32,
        h: u32,
        mask: u64,
        out: *mut f32,
        audit: *mut f32,
    ) -> u64;
}

/// The entry points of `kernel`'s build, or of the baseline's where this CPU cannot run it
/// ([`CpuKernel::usable`]): an AVX2 build on a CPU without AVX2 would fault on its first instruction.
fn entry_points(kernel: CpuKernel) -> (RenderRectFn, RenderRectAuditFn) {
    match kernel.usable() {
        #[cfg(tessera_kernel_avx2)]
        CpuKernel::Avx2 => (ts_render_rect_avx2, ts_render_rect_audit_avx2),
        _ => (ts_render_rect, ts_render_rect_audit),
    }
}

/// The kernel's view of `scene` in host memory.
fn host_view(scene: &Scene, frame: &Frame) -> SceneView<*const u8> {
    let p = |v: *const u8| v;
    SceneView::new(
        scene,
        frame,
        [
            p(scene.nodes.as_ptr().cast()),
            p(scene.tris.as_ptr().cast()),
            p(scene.packs.as_ptr().cast()),
            p(scene.shade.as_ptr().cast()),
            p(scene.materials.as_ptr().cast()),
            p(scene.textures.as_ptr().cast()),
            p(scene.texels.as_ptr().cast()),
            p(scene.lights.as_ptr().cast()),
            p(scene.emitters.as_ptr().cast()),
            p(scene.emitter_cdf.as_ptr().cast()),
        ],
    )
}

fn check_rect(frame: &Frame, rect: Rect, out: &[f32]) {
    assert!(out.len() >= rect_floats(rect), "output buffer too small");
    assert!(
        rect.x + rect.width <= frame.width && rect.y + rect.height <= frame.height,
        "rect outside the image"
    );
}

/// Renders `rect` on the calling CPU thread into `out` (row-major, 3 floats per pixel); returns the number
/// of rays cast.
pub(crate) fn render_rect_cpu(
    kernel: CpuKernel,
    scene: &Scene,
    frame: &Frame,
    rect: Rect,
    out: &mut [f32],
) -> u64 {
    check_rect(frame, rect, out);
    let view = host_view(scene, frame);
    let (render, _) = entry_points(kernel);
    // SAFETY: `view` points into `scene`'s vectors, which outlive the call and hold exactly the record
    // counts the view declares (SceneView::new derives them from the same vectors); every index the kernel
    // forms is below those counts (BVH, material, texture and emitter ids are produced by `Scene::assemble`
    // from the same data; a leaf of n triangles reads the ceil(n / 4) packs `bvh::pack_leaves` wrote for
    // it). `out` holds at least w*h*3 floats (checked above) and the rect lies inside the
    // image, which is all the kernel writes or reads of it. `entry_points` gives only builds this CPU runs.
    unsafe {
        render(
            &view,
            rect.x,
            rect.y,
            rect.width,
            rect.height,
            out.as_mut_ptr(),
        )
    }
}

/// Renders `rect` like [`render_rect_cpu`] into `out`, and writes the verification protocol's audit sums
/// (each pixel's sample radiances summed in sample order with the signs of `mask`, docs/verification.md) into
/// `audit`, which has `out`'s size. Returns the number of rays cast.
pub(crate) fn render_rect_audit_cpu(
    kernel: CpuKernel,
    scene: &Scene,
    frame: &Frame,
    rect: Rect,
    mask: u64,
    out: &mut [f32],
    audit: &mut [f32],
) -> u64 {
    check_rect(frame, rect, out);
    check_rect(frame, rect, audit);
    let view = host_view(scene, frame);
    let (_, render_audit) = entry_points(kernel);
    // SAFETY: as in `render_rect_cpu`; `audit` holds at least w*h*3 floats too (checked above), and the kernel
    // writes exactly those of both buffers.
    unsafe {
        render_audit(
            &view,
            rect.x,
            rect.y,
            rect.width,
            rect.height,
            mask,
            out.as_mut_ptr(),
            audit.as_mut_ptr(),
        )
    }
}

/// The kernel's own sin/cos of 2πt, for conformance tests of the host twin.
pub fn kernel_sincos_turns(t: f32) -> (f32, f32) {
    let (mut s, mut c) = (0.0f32, 0.0f32);
    // SAFETY: the function only writes its two out-parameters, which are valid locals.
    unsafe { ts_sincos_turns_c(t, &mut s, &mut c) };
    (s, c)
}

/// The kernel's own `x^y` (`ts_pow`: 2^(y log2 x) from polynomials, no libm), for its accuracy test.
pub fn kernel_pow(x: f32, y: f32) -> f32 {
    // SAFETY: a pure function of two floats.
    unsafe { ts_pow_c(x, y) }
}
