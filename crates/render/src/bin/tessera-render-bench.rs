//! `tessera-render-bench`: path samples per second and rays per second on reference scenes, per backend.
//!
//! ```text
//! tessera-render-bench [--width 1920] [--height 1080] [--spp 16] [--bounces 8] [--backend all|cpu|cuda]
//! ```
//! Scenes: `complete` (assets/scenes/complete.glb, from easy-gltf) and `cornell` (generated). Rendering
//! time excludes scene loading and BVH construction, which are reported separately.

use anyhow::{Context, Result};
use clap::Parser;
use std::path::PathBuf;
use std::time::Instant;
use tessera_render::{
    Backend, BackendChoice, CpuKernel, LoadOptions, RenderSettings, load_glb, render_region,
    testscenes,
};

/// Measure the renderer's throughput.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Image width.
    #[arg(long, default_value_t = 1920)]
    width: u32,
    /// Image height.
    #[arg(long, default_value_t = 1080)]
    height: u32,
    /// Samples per pixel.
    #[arg(long, default_value_t = 16)]
    spp: u32,
    /// Maximum bounces.
    #[arg(long, default_value_t = 8)]
    bounces: u32,
    /// Backends to measure: all, cpu or cuda.
    #[arg(long, default_value = "all")]
    backend: String,
    /// Scenes, comma-separated: complete, cornell, or paths to .glb files.
    #[arg(long, default_value = "complete,cornell")]
    scenes: String,
    /// Path of complete.glb.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/scenes/complete.glb"))]
    complete: PathBuf,
    /// Write the PNG of each render to this folder.
    #[arg(long)]
    images: Option<PathBuf>,
    /// Cell size for the verification measurement.
    #[arg(long, default_value_t = 16)]
    cell_size: u32,
    /// Also time re-rendering this many cells alone (what a verifier does) against the whole frame.
    #[arg(long, default_value_t = 66)]
    verify_cells: u32,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    let mut backends = Vec::new();
    if args.backend == "all" || args.backend == "cpu" {
        // Each build of the CPU kernel this CPU runs (the same bits; the default backend takes the last).
        for &k in CpuKernel::available() {
            backends.push((format!("cpu-{}", k.name()), Backend::CpuBuild(k)));
        }
    }
    if args.backend == "all" || args.backend == "cuda" {
        match Backend::open(BackendChoice::Cuda) {
            Ok(b) => backends.push(("cuda".to_string(), b)),
            Err(e) if args.backend == "all" => println!("cuda: skipped ({e})"),
            Err(e) => return Err(e.into()),
        }
    }
    let settings = RenderSettings {
        width: args.width,
        height: args.height,
        samples_per_pixel: args.spp,
        max_bounces: args.bounces,
        frame_start: 0,
        frame_count: 1,
        regions_x: 1,
        regions_y: 1,
        cell_size: args.cell_size,
        seed: 1,
    };
    settings.validate()?;
    println!(
        "{:<10} {:<26} {:>9} {:>9} {:>12} {:>11}  root",
        "scene", "backend", "load s", "render s", "Msamples/s", "Mrays/s"
    );
    for name in args.scenes.split(',') {
        let (bytes, env) = match name {
            "complete" => (
                std::fs::read(&args.complete)
                    .with_context(|| format!("reading {}", args.complete.display()))?,
                [0.05, 0.05, 0.06],
            ),
            "cornell" => (testscenes::cornell_box(), [0.0; 3]),
            path => (
                std::fs::read(path).with_context(|| format!("reading {path}"))?,
                [0.05, 0.05, 0.06],
            ),
        };
        let t0 = Instant::now();
        let scene = load_glb(
            &bytes,
            &LoadOptions {
                environment: env,
                aspect: args.width as f32 / args.height as f32,
                ..LoadOptions::default()
            },
        )
        .with_context(|| format!("loading {name}"))?;
        let load = t0.elapsed().as_secs_f64();
        for (label, backend) in &backends {
            let t1 = Instant::now();
            let img = render_region(
                &scene,
                &settings,
                settings.full_frame(),
                backend,
                &|_, _| {},
            )?;
            let secs = t1.elapsed().as_secs_f64();
            let samples = f64::from(args.width) * f64::from(args.height) * f64::from(args.spp);
            println!(
                "{:<10} {:<26} {:>9.3} {:>9.3} {:>12.2} {:>11.2}  {}",
                name.rsplit('/').next().unwrap_or(name),
                format!("{label}: {}", backend.describe()),
                load,
                secs,
                samples / secs / 1e6,
                img.rays as f64 / secs / 1e6,
                &tessera_common::to_hex(&img.root)[2..14]
            );
            if args.verify_cells > 0 {
                let n = u32::try_from(img.cells.len()).unwrap_or(u32::MAX);
                // Distinct cells spread by a fixed stride (a stand-in for the verifier's random pick).
                let k = args.verify_cells.min(n);
                let picks: Vec<u32> = (0..k)
                    .map(|i| {
                        u32::try_from(u64::from(i) * 2_654_435_761 % u64::from(n)).unwrap_or(0)
                    })
                    .collect();
                let t2 = Instant::now();
                let cells = tessera_render::render_cells(
                    &scene,
                    &settings,
                    settings.full_frame(),
                    &picks,
                    backend,
                )?;
                let vsecs = t2.elapsed().as_secs_f64() + load;
                let matches = cells
                    .iter()
                    .all(|(c, _)| img.cells[c.index as usize].leaf == c.leaf);
                println!(
                    "{:<10} verify: {k} of {n} cells ({}px) alone in {vsecs:.3}s incl. load = {:.2}% of the task's {:.3}s; leaves match: {matches}",
                    "",
                    args.cell_size,
                    100.0 * vsecs / (secs + load),
                    secs + load
                );
            }
            if let Some(dir) = &args.images {
                std::fs::create_dir_all(dir)?;
                let file = dir.join(format!(
                    "{}-{label}.png",
                    name.rsplit('/').next().unwrap_or(name)
                ));
                tessera_render::output::write_png(&file, args.width, args.height, &img.pixels)?;
            }
        }
    }
    Ok(())
}
