//! Rendering a task: choosing a backend, rendering a region cell by cell (CPU) or at once (GPU), and cutting
//! the result into cells with their data hashes and leaves.

use crate::kernel::{self, CpuKernel, Frame, cuda::CudaBackend, rect_floats};
use crate::scene::Scene;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use tessera_common::cells;
use tessera_common::task::{Rect, RenderSettings};
use tessera_common::{Hash32, keccak256};

/// Which backend to render on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// The GPU when one is usable, else the CPU (with a logged reason).
    #[default]
    Auto,
    /// Always the CPU.
    Cpu,
    /// The GPU or an error.
    Cuda,
}

/// A ready backend.
#[derive(Debug)]
pub enum Backend {
    /// All CPU cores, through rayon, with the fastest build of the kernel this CPU runs
    /// ([`CpuKernel::best`]).
    Cpu,
    /// All CPU cores with a given build of the kernel (the same bits as any other: for conformance tests
    /// and benchmarks). A build this CPU cannot run falls back to the baseline.
    CpuBuild(CpuKernel),
    /// An NVIDIA GPU.
    Cuda(CudaBackend),
}

/// The GPU was required but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("CUDA backend unavailable: {0}")]
pub struct BackendError(#[from] pub kernel::cuda::CudaUnavailable);

impl Backend {
    /// Opens the chosen backend.
    pub fn open(choice: BackendChoice) -> Result<Backend, BackendError> {
        match choice {
            BackendChoice::Cpu => Ok(Backend::Cpu),
            BackendChoice::Cuda => Ok(Backend::Cuda(CudaBackend::new()?)),
            BackendChoice::Auto => match CudaBackend::new() {
                Ok(b) => {
                    tracing::info!(target: "render::backend", device = b.device_name(), "using CUDA");
                    Ok(Backend::Cuda(b))
                }
                Err(reason) => {
                    tracing::info!(target: "render::backend", %reason, "CUDA unavailable; rendering on the CPU");
                    Ok(Backend::Cpu)
                }
            },
        }
    }

    /// A short description.
    pub fn describe(&self) -> String {
        match self {
            Backend::Cpu | Backend::CpuBuild(_) => format!(
                "CPU ({} threads, {})",
                rayon::current_num_threads(),
                self.cpu_kernel().map_or("", CpuKernel::name)
            ),
            Backend::Cuda(b) => format!("CUDA ({})", b.device_name()),
        }
    }

    /// The build of the CPU kernel this backend renders with; `None` for the GPU.
    pub fn cpu_kernel(&self) -> Option<CpuKernel> {
        match self {
            Backend::Cpu => Some(CpuKernel::best()),
            Backend::CpuBuild(k) => Some(k.usable()),
            Backend::Cuda(_) => None,
        }
    }
}

/// One cell of a rendered region.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Index within the task (row-major within the region).
    pub index: u32,
    /// Pixels covered.
    pub rect: Rect,
    /// keccak256 of the raw data.
    pub data_hash: Hash32,
    /// The Merkle leaf (docs/merkle.md).
    pub leaf: Hash32,
}

/// A rendered region.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionImage {
    /// The region.
    pub rect: Rect,
    /// Linear RGB, row-major over the region, 3 floats per pixel.
    pub pixels: Vec<f32>,
    /// Its cells, in index order.
    pub cells: Vec<Cell>,
    /// The Merkle root over the cells' leaves.
    pub root: Hash32,
    /// Rays cast.
    pub rays: u64,
}

/// The raw bytes of a cell: its pixels row-major, each as three little-endian f32 (linear RGB, the mean
/// of the pixel's samples). This is what the leaf commits to.
pub fn cell_bytes(pixels: &[f32]) -> Vec<u8> {
    pixels.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A cell's data hash and leaf from its pixels.
fn cell_of(index: u32, rect: Rect, pixels: &[f32]) -> Cell {
    let data_hash = keccak256(&cell_bytes(pixels));
    Cell {
        index,
        rect,
        data_hash,
        leaf: cells::leaf(u64::from(index), data_hash),
    }
}

/// Renders independent rectangles: in parallel on the CPU (calling `progress` as each finishes), with one
/// scene upload on the GPU.
fn render_rects(
    scene: &Scene,
    frame: &Frame,
    rects: &[Rect],
    backend: &Backend,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vec<(Vec<f32>, u64)>, RenderError> {
    let total = rects.len() as u64;
    match backend {
        Backend::Cpu | Backend::CpuBuild(_) => {
            let kernel = backend.cpu_kernel().unwrap_or(CpuKernel::Baseline);
            let done = AtomicU64::new(0);
            Ok(rects
                .par_iter()
                .map(|r| {
                    let mut out = vec![0.0f32; rect_floats(*r)];
                    let rays = kernel::render_rect_cpu(kernel, scene, frame, *r, &mut out);
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                    (out, rays)
                })
                .collect())
        }
        Backend::Cuda(gpu) => {
            let out = gpu.render_rects(scene, frame, rects)?;
            progress(total, total);
            Ok(out)
        }
    }
}

fn frame_of(settings: &RenderSettings) -> Frame {
    Frame {
        width: settings.width,
        height: settings.height,
        spp: settings.samples_per_pixel,
        max_bounces: settings.max_bounces,
        seed: settings.seed,
    }
}

/// A region or cell does not lie inside the image.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The rectangle leaves the image.
    #[error("region {rect:?} is not inside the {width}x{height} image")]
    OutsideImage {
        /// The rectangle.
        rect: Rect,
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
    },
    /// A cell index beyond the region's cells.
    #[error("cell {index} does not exist: the region has {count} cells")]
    NoSuchCell {
        /// Asked for.
        index: u32,
        /// Cells in the region.
        count: u32,
    },
    /// The GPU failed mid-render.
    #[error("GPU render failed: {0}")]
    Gpu(#[from] kernel::cuda::CudaUnavailable),
}

fn check_inside(rect: Rect, s: &RenderSettings) -> Result<(), RenderError> {
    let inside = rect.width > 0
        && rect.height > 0
        && u64::from(rect.x) + u64::from(rect.width) <= u64::from(s.width)
        && u64::from(rect.y) + u64::from(rect.height) <= u64::from(s.height);
    if inside {
        Ok(())
    } else {
        Err(RenderError::OutsideImage {
            rect,
            width: s.width,
            height: s.height,
        })
    }
}

/// Renders the pixels of one rectangle.
pub fn render_rect(
    scene: &Scene,
    settings: &RenderSettings,
    rect: Rect,
    backend: &Backend,
) -> Result<(Vec<f32>, u64), RenderError> {
    check_inside(rect, settings)?;
    let frame = frame_of(settings);
    match backend {
        Backend::Cpu | Backend::CpuBuild(_) => {
            let kernel = backend.cpu_kernel().unwrap_or(CpuKernel::Baseline);
            let mut out = vec![0.0f32; rect_floats(rect)];
            let rays = kernel::render_rect_cpu(kernel, scene, &frame, rect, &mut out);
            Ok((out, rays))
        }
        Backend::Cuda(gpu) => Ok(gpu.render_rect(scene, &frame, rect)?),
    }
}

/// Renders `region` of the image: on the CPU, each cell is a rayon job; on the GPU, the region is one
/// launch. `progress(done, total)` is called as cells complete (CPU) or once (GPU).
pub fn render_region(
    scene: &Scene,
    settings: &RenderSettings,
    region: Rect,
    backend: &Backend,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<RegionImage, RenderError> {
    check_inside(region, settings)?;
    let cell_rects: Vec<Rect> = tessera_common::task::cells(region, settings.cell_size).collect();
    let total = cell_rects.len() as u64;
    let mut pixels = vec![0.0f32; rect_floats(region)];
    let (cell_pixels, rays): (Vec<Vec<f32>>, u64) = match backend {
        // On the CPU each cell is a rayon job.
        Backend::Cpu | Backend::CpuBuild(_) => {
            let rendered =
                render_rects(scene, &frame_of(settings), &cell_rects, backend, progress)?;
            let rays = rendered.iter().map(|(_, r)| r).sum();
            (rendered.into_iter().map(|(p, _)| p).collect(), rays)
        }
        // On the GPU the region is one launch, cut into cells afterwards.
        Backend::Cuda(gpu) => {
            let (all, rays) = gpu.render_rect(scene, &frame_of(settings), region)?;
            progress(total, total);
            let cut = cell_rects.iter().map(|r| crop(&all, region, *r)).collect();
            (cut, rays)
        }
    };
    let mut cells = Vec::with_capacity(cell_rects.len());
    for (i, (r, px)) in cell_rects.iter().zip(&cell_pixels).enumerate() {
        paste(&mut pixels, region, *r, px);
        cells.push(cell_of(u32::try_from(i).unwrap_or(u32::MAX), *r, px));
    }
    let leaves: Vec<Hash32> = cells.iter().map(|c| c.leaf).collect();
    let root = cells::root(&leaves).unwrap_or([0u8; 32]);
    Ok(RegionImage {
        rect: region,
        pixels,
        cells,
        root,
        rays,
    })
}

/// Renders only the cells `indices` of `region` (what a verifier re-renders). Returns each cell's pixels
/// and data hash.
pub fn render_cells(
    scene: &Scene,
    settings: &RenderSettings,
    region: Rect,
    indices: &[u32],
    backend: &Backend,
) -> Result<Vec<(Cell, Vec<f32>)>, RenderError> {
    check_inside(region, settings)?;
    let all: Vec<Rect> = tessera_common::task::cells(region, settings.cell_size).collect();
    let count = u32::try_from(all.len()).unwrap_or(u32::MAX);
    let rects: Vec<Rect> = indices
        .iter()
        .map(|&index| {
            all.get(index as usize)
                .copied()
                .ok_or(RenderError::NoSuchCell { index, count })
        })
        .collect::<Result<_, _>>()?;
    let rendered = render_rects(scene, &frame_of(settings), &rects, backend, &|_, _| {})?;
    Ok(indices
        .iter()
        .zip(rects)
        .zip(rendered)
        .map(|((&index, rect), (px, _))| (cell_of(index, rect, &px), px))
        .collect())
}

/// One cell re-rendered by a committee member: the cell (data hash and leaf, as a worker commits them), its
/// pixels, and the hash of its audit sums (`keccak256` of the sums as little-endian f32, row-major RGB).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditedCell {
    /// The cell as a worker commits it.
    pub cell: Cell,
    /// Its pixels.
    pub pixels: Vec<f32>,
    /// keccak256 of its audit sums.
    pub audit_hash: Hash32,
}

/// Renders the cells `indices` of `region` on the CPU, in parallel, with the verification protocol's audit sums
/// for sign mask `mask` (docs/verification.md): what a committee member re-renders. The pixels, data hashes and
/// leaves are bit-identical to any backend's render of the same cells. Results are in `indices` order.
pub fn render_cells_audited(
    scene: &Scene,
    settings: &RenderSettings,
    region: Rect,
    indices: &[u32],
    mask: u64,
) -> Result<Vec<AuditedCell>, RenderError> {
    render_cells_audited_with(scene, settings, region, indices, mask, CpuKernel::best())
}

/// [`render_cells_audited`] with a given build of the CPU kernel (the same bits from every build; for
/// conformance tests). A build this CPU cannot run falls back to the baseline.
pub fn render_cells_audited_with(
    scene: &Scene,
    settings: &RenderSettings,
    region: Rect,
    indices: &[u32],
    mask: u64,
    kernel: CpuKernel,
) -> Result<Vec<AuditedCell>, RenderError> {
    check_inside(region, settings)?;
    let all: Vec<Rect> = tessera_common::task::cells(region, settings.cell_size).collect();
    let count = u32::try_from(all.len()).unwrap_or(u32::MAX);
    let rects: Vec<(u32, Rect)> = indices
        .iter()
        .map(|&index| {
            all.get(index as usize)
                .map(|r| (index, *r))
                .ok_or(RenderError::NoSuchCell { index, count })
        })
        .collect::<Result<_, _>>()?;
    let frame = frame_of(settings);
    Ok(rects
        .par_iter()
        .map(|&(index, rect)| {
            let mut pixels = vec![0.0f32; rect_floats(rect)];
            let mut audit = vec![0.0f32; rect_floats(rect)];
            kernel::render_rect_audit_cpu(
                kernel,
                scene,
                &frame,
                rect,
                mask,
                &mut pixels,
                &mut audit,
            );
            AuditedCell {
                cell: cell_of(index, rect, &pixels),
                audit_hash: keccak256(&cell_bytes(&audit)),
                pixels,
            }
        })
        .collect())
}

/// The pixels of `inner` out of a row-major buffer covering `outer`.
pub(crate) fn crop(src: &[f32], outer: Rect, inner: Rect) -> Vec<f32> {
    let mut out = Vec::with_capacity(rect_floats(inner));
    for y in 0..inner.height {
        let row =
            (inner.y - outer.y + y) as usize * outer.width as usize + (inner.x - outer.x) as usize;
        out.extend_from_slice(&src[row * 3..(row + inner.width as usize) * 3]);
    }
    out
}

fn paste(dst: &mut [f32], outer: Rect, inner: Rect, src: &[f32]) {
    for y in 0..inner.height {
        let row =
            (inner.y - outer.y + y) as usize * outer.width as usize + (inner.x - outer.x) as usize;
        let from = y as usize * inner.width as usize * 3;
        dst[row * 3..(row + inner.width as usize) * 3]
            .copy_from_slice(&src[from..from + inner.width as usize * 3]);
    }
}
