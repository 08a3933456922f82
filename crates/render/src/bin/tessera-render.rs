//! `tessera-render`: render a `.glb` scene (or one task's region of it) to a PNG preview, raw linear data and
//! the list of cell leaves.
//!
//! ```text
//! tessera-render scene.glb -o out.png --spp 64 --width 1280 --height 720 [--frame N] [--region X,Y,W,H]
//! ```

use anyhow::{Context, Result, bail};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;
use tessera_render::output;
use tessera_render::{
    Backend, BackendChoice, LoadOptions, Rect, RenderSettings, load_glb, render_region,
};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BackendArg {
    Auto,
    Cpu,
    Cuda,
}

/// Render a glTF 2.0 scene (`.glb`, or `.gltf` with side files) with Tessera's deterministic path tracer.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The scene: a `.glb`, or a `.gltf` with its side files.
    scene: PathBuf,
    /// PNG preview to write (tone-mapped sRGB).
    #[arg(short, long, default_value = "out.png")]
    output: PathBuf,
    /// Raw linear data to write (TSRAW001 format, see docs/render-determinism.md).
    #[arg(long)]
    raw: Option<PathBuf>,
    /// Cell leaves and Merkle root to write (JSON).
    #[arg(long)]
    leaves: Option<PathBuf>,
    /// OpenEXR image to write: linear RGB as rendered (no tone mapping), ZIP-compressed.
    #[arg(long)]
    exr: Option<PathBuf>,
    /// Write the OpenEXR image in 16-bit half floats instead of 32-bit floats.
    #[arg(long, requires = "exr")]
    half: bool,
    /// Denoise the PNG and OpenEXR images with Intel Open Image Denoise (the raw data and leaves stay as
    /// rendered).
    #[arg(long)]
    denoise: bool,
    /// Image width in pixels.
    #[arg(long, default_value_t = 1280)]
    width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = 720)]
    height: u32,
    /// Samples per pixel.
    #[arg(long, default_value_t = 64)]
    spp: u32,
    /// Maximum bounces after the camera ray.
    #[arg(long, default_value_t = 8)]
    bounces: u32,
    /// Frame number (animations are sampled at frame / fps).
    #[arg(long, default_value_t = 0)]
    frame: u32,
    /// Frames per second of the animation clock (default: the scene's look, else 24).
    #[arg(long)]
    fps: Option<f32>,
    /// Render only this region: x,y,width,height.
    #[arg(long, value_parser = parse_region)]
    region: Option<Rect>,
    /// Sampler seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Cell size in pixels (a power of two, 4..=256).
    #[arg(long, default_value_t = 32)]
    cell_size: u32,
    /// Constant environment radiance r,g,b, linear (default: the scene's look, else 0.05,0.05,0.06).
    #[arg(long, value_parser = parse_rgb)]
    env: Option<[f32; 3]>,
    /// Equirectangular environment map (Radiance .hdr), multiplied by --env (use --env 1,1,1 for the map as
    /// is); default: the scene's look's map, if any.
    #[arg(long)]
    env_map: Option<PathBuf>,
    /// Backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    backend: BackendArg,
    /// CPU threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

fn parse_region(s: &str) -> Result<Rect, String> {
    let v: Vec<u32> = s
        .split(',')
        .map(|x| x.trim().parse::<u32>().map_err(|e| format!("{x:?}: {e}")))
        .collect::<Result<_, _>>()?;
    match v[..] {
        [x, y, width, height] => Ok(Rect {
            x,
            y,
            width,
            height,
        }),
        _ => Err("expected x,y,width,height".into()),
    }
}

fn parse_rgb(s: &str) -> Result<[f32; 3], String> {
    let v: Vec<f32> = s
        .split(',')
        .map(|x| x.trim().parse::<f32>().map_err(|e| format!("{x:?}: {e}")))
        .collect::<Result<_, _>>()?;
    match v[..] {
        [r, g, b] if [r, g, b].iter().all(|c| c.is_finite() && *c >= 0.0) => Ok([r, g, b]),
        _ => Err("expected three non-negative numbers r,g,b".into()),
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("configuring the thread pool")?;
    }
    let settings = RenderSettings {
        width: args.width,
        height: args.height,
        samples_per_pixel: args.spp,
        max_bounces: args.bounces,
        frame_start: args.frame,
        frame_count: 1,
        regions_x: 1,
        regions_y: 1,
        cell_size: args.cell_size,
        seed: args.seed,
    };
    settings.validate().context("invalid render settings")?;
    let region = args.region.unwrap_or(settings.full_frame());
    let bytes = tessera_render::read_scene(&args.scene, &tessera_render::Limits::default())
        .with_context(|| format!("reading scene {}", args.scene.display()))?;
    let t0 = Instant::now();
    // The scene's own look (what a job renders with), overridden by the flags given.
    let look = tessera_render::scene::read_look(&bytes, &tessera_render::Limits::default())
        .with_context(|| format!("reading the look of {}", args.scene.display()))?;
    let environment_map = match &args.env_map {
        Some(p) => {
            let bytes = std::fs::read(p)
                .with_context(|| format!("reading environment map {}", p.display()))?;
            Some(
                tessera_render::load_hdr(&bytes, &tessera_render::Limits::default())
                    .with_context(|| format!("loading environment map {}", p.display()))?,
            )
        }
        None => look.environment_map,
    };
    let opts = LoadOptions {
        frame: args.frame,
        fps: args.fps.unwrap_or(look.fps),
        environment: args.env.unwrap_or(look.environment),
        environment_map,
        aspect: args.width as f32 / args.height as f32,
        ..LoadOptions::default()
    };
    let scene = load_glb(&bytes, &opts)
        .with_context(|| format!("loading scene {}", args.scene.display()))?;
    let load_time = t0.elapsed();
    let backend = Backend::open(match args.backend {
        BackendArg::Auto => BackendChoice::Auto,
        BackendArg::Cpu => BackendChoice::Cpu,
        BackendArg::Cuda => BackendChoice::Cuda,
    })?;
    eprintln!(
        "scene: {} triangles, {} emissive, {} lights, {} textures (loaded in {:.2?}); rendering on {}",
        scene.stats.triangles,
        scene.stats.emitters,
        scene.stats.lights,
        scene.stats.textures,
        load_time,
        backend.describe()
    );
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} cells {elapsed_precise} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let t1 = Instant::now();
    let img = render_region(&scene, &settings, region, &backend, &|done, total| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    })?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let secs = t1.elapsed().as_secs_f64();
    let samples = region.area() as f64 * f64::from(args.spp);
    eprintln!(
        "rendered {}x{} at {} spp in {secs:.2}s: {:.2} Msamples/s, {:.2} Mrays/s; root {}",
        region.width,
        region.height,
        args.spp,
        samples / secs / 1e6,
        img.rays as f64 / secs / 1e6,
        tessera_common::to_hex(&img.root)
    );
    if region.width == 0 || region.height == 0 {
        bail!("empty region");
    }
    let shown = if args.denoise {
        tessera_render::denoise::denoise(region.width, region.height, &img.pixels)?
    } else {
        img.pixels.clone()
    };
    output::write_png(&args.output, region.width, region.height, &shown)?;
    if let Some(p) = &args.raw {
        output::write_raw(p, &img, args.width, args.height, args.cell_size)?;
    }
    if let Some(p) = &args.leaves {
        output::write_leaves(p, &img, args.cell_size)?;
    }
    if let Some(p) = &args.exr {
        let precision = if args.half {
            output::ExrPrecision::Half
        } else {
            output::ExrPrecision::Full
        };
        output::write_exr(p, region.width, region.height, &shown, precision)?;
    }
    println!("{}", args.output.display());
    Ok(())
}
