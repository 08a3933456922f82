//! The verifier's compute per task as a fraction of the worker's, through the same functions the daemons
//! call: the worker loads the scene, renders the task and writes its outputs (raw data, leaves, preview); the
//! verifier checks the leaves against the root and the raw data against the leaves, then loads the scene and
//! re-renders the draw's sampled cells (`SAMPLE_CELLS`) with its audit signs, as every committee member does.
//! IPFS and chain time are left out: they are I/O, not compute. One member's cost is reported; a committee of
//! q members costs q times that.
//!
//! cargo bench -p tessera-worker --bench verify_cost -- [--width 1920] [--height 1080] [--spp 64]
//!     [--bounces 8] [--cell 16] [--regions 1x1] [--samples 1]
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use alloy::primitives::B256;
use std::time::Instant;
use tessera_bindings::committee;
use tessera_common::verify::detection_probability;
use tessera_worker::SceneCache;
use tessera_worker::verifier::{committed_hashes, raw_matches};
use tessera_worker::worker::{render_task, write_outputs};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |n: &str, d: &str| arg(&args, n, d).parse::<u32>().unwrap();
    let (rx, ry) = {
        let r = arg(&args, "--regions", "1x1");
        let (a, b) = r.split_once('x').unwrap();
        (a.parse().unwrap(), b.parse().unwrap())
    };
    let s = tessera_render::RenderSettings {
        width: num("--width", "1920"),
        height: num("--height", "1080"),
        samples_per_pixel: num("--spp", "64"),
        max_bounces: num("--bounces", "8"),
        frame_start: 0,
        frame_count: 1,
        regions_x: rx,
        regions_y: ry,
        cell_size: num("--cell", "16"),
        seed: 7,
    };
    let samples = num("--samples", "1");
    let glb = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/scenes/complete.glb"
    ))
    .unwrap();
    let cpu = tessera_render::Backend::Cpu;
    let out = std::env::temp_dir().join(format!("tessera-verify-cost-{}", std::process::id()));
    // Per sample: (worker, verifier) seconds, first with the scene load (a job's first task), then with the
    // scene already loaded (every later task of a still scene, or of the same frame of an animated one).
    let mut first = Vec::new();
    let mut steady = Vec::new();
    let mut n = 0;
    for i in 0..samples {
        for cached in [false, true] {
            let worker_scenes = SceneCache::default();
            let verifier_scenes = SceneCache::default();
            if cached {
                worker_scenes.get("scene", &glb, &s, 0).unwrap();
                verifier_scenes.get("scene", &glb, &s, 0).unwrap();
            }
            let t0 = Instant::now();
            let scene = worker_scenes.get("scene", &glb, &s, 0).unwrap();
            let img = render_task(&scene, &s, 0, &cpu, &|_, _| {}).unwrap();
            write_outputs(&out, &img, &s).unwrap();
            let w = t0.elapsed().as_secs_f64();

            let raw = std::fs::read(out.join("raw.tsr")).unwrap();
            let doc_bytes = std::fs::read(out.join("leaves.json")).unwrap();
            let root = B256::from(img.root);
            let t1 = Instant::now();
            let hashes = committed_hashes(&doc_bytes, &s, 0, root).unwrap();
            let t_leaves = t1.elapsed().as_secs_f64();
            assert!(raw_matches(&raw, &s, 0, &hashes));
            let t_raw = t1.elapsed().as_secs_f64() - t_leaves;
            n = hashes.len() as u32;
            let seed = B256::repeat_byte(i as u8 ^ 0x5a);
            let picks = committee::sample(seed, n);
            let vscene = verifier_scenes.get("scene", &glb, &s, 0).unwrap();
            let ts = tessera_render::task_settings(&s, 0);
            let cells = tessera_render::render_cells_audited(
                &vscene,
                &ts,
                s.region(0),
                &picks,
                committee::audit_mask(seed),
            )
            .unwrap();
            let v = t1.elapsed().as_secs_f64();
            for c in &cells {
                assert_eq!(
                    B256::from(c.cell.data_hash),
                    hashes[c.cell.index as usize],
                    "an honest task must pass"
                );
            }
            eprintln!(
                "sample {i} ({}): worker {w:.3} s; verifier {v:.3} s = leaves {t_leaves:.3} + raw check {t_raw:.3} + scene and cells {:.3}",
                if cached { "scene loaded" } else { "first task" },
                v - t_leaves - t_raw
            );
            if cached { &mut steady } else { &mut first }.push((w, v));
        }
    }
    std::fs::remove_dir_all(&out).ok();
    let med = |v: &mut Vec<(f64, f64)>| {
        v.sort_by(|a, b| (a.1 / a.0).total_cmp(&(b.1 / b.0)));
        v[v.len() / 2]
    };
    let region = s.region(0);
    let forged = (f64::from(n) * 0.10).ceil() as u64;
    println!(
        "task {}x{} px ({}x{} image, {} spp, {} bounces), {} cells of {} px; each member re-renders k = {}",
        region.width,
        region.height,
        s.width,
        s.height,
        s.samples_per_pixel,
        s.max_bounces,
        n,
        s.cell_size,
        committee::SAMPLE_CELLS.min(n)
    );
    for (what, v) in [
        ("a job's first task (scene load included)", &mut first),
        ("later tasks (scene loaded)", &mut steady),
    ] {
        let (w, ver) = med(v);
        println!(
            "{what}: worker {w:.3} s, one member {ver:.3} s, fraction {:.2}%",
            ver / w * 100.0
        );
    }
    println!(
        "detection of a 10% forgery: {:.5}%",
        detection_probability(
            u64::from(n),
            forged,
            u64::from(committee::SAMPLE_CELLS.min(n))
        ) * 100.0
    );
}
