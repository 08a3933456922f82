//! The CUDA backend: the shared kernel source compiled by NVRTC with IEEE-exact float options, launched
//! through `cudarc` with the driver and NVRTC loaded at run time, so the crate builds and runs where there is
//! no GPU (construction then fails with a reason and callers fall back to the CPU).

use super::{Frame, SceneView, rect_floats};
use crate::scene::Scene;
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, DeviceRepr, LaunchConfig,
    PushKernelArg,
};
use cudarc::nvrtc::{CompileOptions, compile_ptx_with_opts};
use std::sync::Arc;
use tessera_common::task::Rect;

/// The kernel as NVRTC compiles it: `pathtrace.h` followed by the CUDA entry point.
pub(crate) fn kernel_source() -> String {
    let header = include_str!("pathtrace.h");
    let entry = include_str!("cuda.cu").replace("#include \"pathtrace.h\"", "");
    format!("{header}\n{entry}")
}

/// NVRTC options that keep the GPU's float results identical to the CPU's (DESIGN.md, determinism).
pub(crate) fn compile_options() -> CompileOptions {
    CompileOptions {
        ftz: Some(false),
        prec_sqrt: Some(true),
        prec_div: Some(true),
        fmad: Some(false),
        use_fast_math: Some(false),
        ..Default::default()
    }
}

/// The kernel's scene view with device pointers.
pub(crate) type DeviceScene = SceneView<u64>;

// SAFETY: `SceneView<u64>` is `repr(C)`, holds only plain integers and floats, and mirrors the C struct
// `ts_scene` field for field (pointers are 64-bit device addresses), so it can be passed by value.
unsafe impl DeviceRepr for DeviceScene {}

/// Why the GPU cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CudaUnavailable {
    /// The driver library is not installed.
    #[error("libcuda.so could not be loaded (no NVIDIA driver)")]
    NoDriver,
    /// NVRTC is not installed.
    #[error("libnvrtc.so could not be loaded (no CUDA toolkit runtime compiler)")]
    NoNvrtc,
    /// No device.
    #[error("no CUDA device is present")]
    NoDevice,
    /// A driver call failed.
    #[error("CUDA driver: {0}")]
    Driver(String),
    /// The kernel did not compile.
    #[error("NVRTC could not compile the kernel: {0}")]
    Compile(String),
}

/// A CUDA device with the kernel loaded.
pub struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    func: CudaFunction,
    name: String,
}

impl std::fmt::Debug for CudaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaBackend")
            .field("device", &self.name)
            .finish()
    }
}

/// Scene buffers on the device.
struct DeviceBuffers {
    f32s: Vec<CudaSlice<f32>>,
    u32s: Vec<CudaSlice<u32>>,
}

impl CudaBackend {
    /// Opens device 0 and compiles the kernel.
    pub fn new() -> Result<Self, CudaUnavailable> {
        // SAFETY: these only try to open the shared libraries; nothing is called through them yet.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(CudaUnavailable::NoDriver);
        }
        // SAFETY: as above, for NVRTC.
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            return Err(CudaUnavailable::NoNvrtc);
        }
        let d = |e: cudarc::driver::DriverError| CudaUnavailable::Driver(e.to_string());
        if CudaContext::device_count().map_err(d)? < 1 {
            return Err(CudaUnavailable::NoDevice);
        }
        let ctx = CudaContext::new(0).map_err(d)?;
        let name = ctx.name().map_err(d)?;
        let ptx = compile_ptx_with_opts(kernel_source(), compile_options())
            .map_err(|e| CudaUnavailable::Compile(e.to_string()))?;
        let module = ctx.load_module(ptx).map_err(d)?;
        let func = module.load_function("ts_render_rect_kernel").map_err(d)?;
        let stream = ctx.default_stream();
        Ok(Self {
            ctx,
            stream,
            func,
            name,
        })
    }

    /// The device's name.
    pub fn device_name(&self) -> &str {
        &self.name
    }

    fn upload(&self, scene: &Scene) -> Result<DeviceBuffers, CudaUnavailable> {
        let d = |e: cudarc::driver::DriverError| CudaUnavailable::Driver(e.to_string());
        // Never allocate zero bytes: pad empty arrays with one unused element.
        let pad_f = |v: &Vec<f32>| {
            if v.is_empty() {
                vec![0.0f32]
            } else {
                v.clone()
            }
        };
        let pad_u = |v: &Vec<u32>| if v.is_empty() { vec![0u32] } else { v.clone() };
        let mut f32s = Vec::new();
        for v in [
            &scene.nodes,
            &scene.tris,
            &scene.packs,
            &scene.shade,
            &scene.materials,
            &scene.texels,
            &scene.lights,
            &scene.emitter_cdf,
        ] {
            f32s.push(self.stream.clone_htod(&pad_f(v)).map_err(d)?);
        }
        let mut u32s = Vec::new();
        for v in [&scene.textures, &scene.emitters] {
            u32s.push(self.stream.clone_htod(&pad_u(v)).map_err(d)?);
        }
        Ok(DeviceBuffers { f32s, u32s })
    }

    /// Renders `rect` of `frame` on the GPU (row-major, 3 floats per pixel), with the rays cast.
    pub(crate) fn render_rect(
        &self,
        scene: &Scene,
        frame: &Frame,
        rect: Rect,
    ) -> Result<(Vec<f32>, u64), CudaUnavailable> {
        let mut one = self.render_rects(scene, frame, &[rect])?;
        one.pop()
            .ok_or_else(|| CudaUnavailable::Driver("no result for the rectangle".into()))
    }

    /// Renders several rectangles of `frame`, uploading the scene once: one launch per rectangle.
    pub(crate) fn render_rects(
        &self,
        scene: &Scene,
        frame: &Frame,
        rects: &[Rect],
    ) -> Result<Vec<(Vec<f32>, u64)>, CudaUnavailable> {
        let d = |e: cudarc::driver::DriverError| CudaUnavailable::Driver(e.to_string());
        let bufs = self.upload(scene)?;
        let ptr_f = |i: usize| bufs.f32s[i].device_ptr(&self.stream).0;
        let ptr_u = |i: usize| bufs.u32s[i].device_ptr(&self.stream).0;
        let view: DeviceScene = SceneView::new(
            scene,
            frame,
            [
                ptr_f(0),
                ptr_f(1),
                ptr_f(2),
                ptr_f(3),
                ptr_f(4),
                ptr_u(0),
                ptr_f(5),
                ptr_f(6),
                ptr_u(1),
                ptr_f(7),
            ],
        );
        let mut results = Vec::with_capacity(rects.len());
        for rect in rects {
            let n = rect_floats(*rect);
            let mut out = self.stream.alloc_zeros::<f32>(n.max(3)).map_err(d)?;
            let pixels = u32::try_from(rect.area())
                .map_err(|_| CudaUnavailable::Driver("rect too large".into()))?;
            let mut rays = self
                .stream
                .alloc_zeros::<u32>((pixels as usize).max(1))
                .map_err(d)?;
            let block = 128u32;
            let cfg = LaunchConfig {
                grid_dim: (pixels.div_ceil(block), 1, 1),
                block_dim: (block, 1, 1),
                shared_mem_bytes: 0,
            };
            let mut launch = self.stream.launch_builder(&self.func);
            launch
                .arg(&view)
                .arg(&rect.x)
                .arg(&rect.y)
                .arg(&rect.width)
                .arg(&rect.height)
                .arg(&mut out)
                .arg(&mut rays);
            // SAFETY: the kernel's parameters match `ts_render_rect_kernel(ts_scene, u32, u32, u32, u32, float*,
            // u32*)`; the view's device pointers come from `bufs`, alive until after the last synchronizing
            // copy, with the record counts the view declares; `out` holds w*h*3 floats and `rays` w*h counters,
            // and each thread writes only its own pixel's.
            unsafe { launch.launch(cfg) }.map_err(d)?;
            let mut host = self.stream.clone_dtoh(&out).map_err(d)?;
            host.truncate(n);
            let ray_counts = self.stream.clone_dtoh(&rays).map_err(d)?;
            results.push((host, ray_counts.iter().map(|&r| u64::from(r)).sum()));
        }
        drop(bufs);
        let _ = &self.ctx;
        Ok(results)
    }
}
