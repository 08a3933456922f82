//! CPU vs CUDA, and each build of the CPU kernel against the baseline: every test scene must give identical
//! leaves on all of them. Without a usable GPU (or a CPU with only the baseline build) a test prints why and
//! passes vacuously; it runs for real on GPU hosts (see docs/render-determinism.md).

use crate::common::{complete_glb, load, settings};
use tessera_render::testscenes;
use tessera_render::{Backend, BackendChoice, CpuKernel, CudaBackend, Scene, render_region};

/// The conformance scenes, loaded for 160x90 at 8 spp: every test scene, and complete.glb under an
/// environment map (the kernel's atan2/acos path).
fn conformance_scenes() -> Vec<(&'static str, Scene, tessera_render::RenderSettings)> {
    let mut out = Vec::new();
    let scenes: Vec<(&str, Vec<u8>, [f32; 3])> = vec![
        ("cornell", testscenes::cornell_box(), [0.0; 3]),
        ("furnace", testscenes::furnace_sphere(), [1.0; 3]),
        ("floor", testscenes::lit_floor(0.5, None), [1.0; 3]),
        ("animated", testscenes::animated_cube(), [1.0; 3]),
        ("complete", complete_glb(), [0.05; 3]),
        ("features", testscenes::features(), [0.3; 3]),
        // Alpha BLEND over thousands of triangles.
        ("blend sphere", testscenes::blend_sphere(), [0.3; 3]),
    ];
    for (name, glb, env) in scenes {
        let s = settings(160, 90, 8, 6);
        out.push((name, load(&glb, &s, env, 3), s));
    }
    let rgb: Vec<[f32; 3]> = (0..16 * 8)
        .map(|i| [(i % 16) as f32 / 8.0, (i / 16) as f32 / 4.0, 0.5])
        .collect();
    let map = tessera_render::load_hdr(
        &tessera_render::scene::write_hdr(16, 8, &rgb),
        &tessera_render::Limits::default(),
    )
    .expect("hdr");
    let s = settings(96, 64, 8, 4);
    let opts = tessera_render::LoadOptions {
        environment: [1.0; 3],
        environment_map: Some(map),
        aspect: 1.5,
        ..tessera_render::LoadOptions::default()
    };
    let scene = tessera_render::load_glb(&complete_glb(), &opts).expect("scene");
    out.push(("complete under an environment map", scene, s));
    out
}

/// Renders every conformance scene on `a` and `b` and asserts identical leaves and roots.
fn assert_identical(a: &Backend, b: &Backend) {
    for (name, scene, s) in conformance_scenes() {
        let x = render_region(&scene, &s, s.full_frame(), a, &|_, _| {}).expect("first backend");
        let y = render_region(&scene, &s, s.full_frame(), b, &|_, _| {}).expect("second backend");
        let differing = x
            .cells
            .iter()
            .zip(&y.cells)
            .filter(|(p, q)| p.leaf != q.leaf)
            .count();
        assert_eq!(
            differing,
            0,
            "{name}: {differing} of {} cells differ between {} and {}",
            x.cells.len(),
            a.describe(),
            b.describe()
        );
        assert_eq!(x.root, y.root, "{name}");
    }
}

#[test]
fn every_cpu_build_gives_identical_leaves() {
    let builds = CpuKernel::available();
    if builds.len() < 2 {
        eprintln!(
            "SKIPPED every_cpu_build_gives_identical_leaves: this CPU runs only the baseline build"
        );
        return;
    }
    let baseline = Backend::CpuBuild(CpuKernel::Baseline);
    assert_eq!(baseline.cpu_kernel(), Some(CpuKernel::Baseline));
    for &k in builds.iter().skip(1) {
        let other = Backend::CpuBuild(k);
        assert_eq!(other.cpu_kernel(), Some(k), "{} runs here", k.name());
        assert_identical(&baseline, &other);
    }
    // The audited cells a committee member renders (their pixels and signed sums) too.
    for (name, scene, s) in conformance_scenes() {
        let picks: Vec<u32> = (0..4).collect();
        let mask = 0x5a5a_0f0f_3c3c_9999;
        let audited = |k| {
            tessera_render::render_cells_audited_with(&scene, &s, s.full_frame(), &picks, mask, k)
                .expect("audited cells")
        };
        let base = audited(CpuKernel::Baseline);
        for &k in CpuKernel::available().iter().skip(1) {
            let other = audited(k);
            for (a, b) in base.iter().zip(&other) {
                assert_eq!(
                    a.cell.leaf, b.cell.leaf,
                    "{name}: audited cell {}",
                    a.cell.index
                );
                assert_eq!(
                    a.audit_hash, b.audit_hash,
                    "{name}: audit sums of cell {}",
                    a.cell.index
                );
            }
        }
    }
    // The default CPU backend takes the fastest build.
    assert_eq!(
        Backend::Cpu.cpu_kernel(),
        CpuKernel::available().last().copied()
    );
}

#[test]
fn cpu_and_cuda_give_identical_leaves() {
    let gpu = match CudaBackend::new() {
        Ok(g) => g,
        Err(reason) => {
            eprintln!("SKIPPED cpu_and_cuda_give_identical_leaves: no usable GPU ({reason})");
            return;
        }
    };
    eprintln!("CUDA conformance on {}", gpu.device_name());
    assert_identical(&Backend::Cpu, &Backend::Cuda(gpu));
}

#[test]
fn cuda_backend_fails_softly_without_a_gpu() {
    match CudaBackend::new() {
        Ok(g) => eprintln!(
            "GPU present ({}): soft-failure path not exercised here",
            g.device_name()
        ),
        Err(reason) => {
            // The reason names what is missing, and Auto falls back to the CPU.
            let text = reason.to_string();
            assert!(
                text.contains("libcuda")
                    || text.contains("libnvrtc")
                    || text.contains("device")
                    || text.contains("CUDA"),
                "{text}"
            );
            assert!(matches!(
                Backend::open(BackendChoice::Auto),
                Ok(Backend::Cpu)
            ));
            let err = Backend::open(BackendChoice::Cuda).expect_err("CUDA required");
            assert!(
                err.to_string().contains("CUDA backend unavailable"),
                "{err}"
            );
        }
    }
}

#[test]
fn nvrtc_source_is_the_shared_kernel_with_exact_float_options() {
    let src = tessera_render::cuda_kernel_source();
    assert!(src.contains("ts_render_rect_kernel"));
    assert!(
        src.contains("TS_FN ts_v3 ts_radiance"),
        "the shared kernel body is included"
    );
    assert!(
        !src.contains("#include \"pathtrace.h\""),
        "no file include for NVRTC to resolve"
    );
    assert!(
        !src.contains("sinf(")
            && !src.contains("cosf(")
            && !src.contains("powf(")
            && !src.contains("expf(")
    );
}

/// The NVRTC source must be valid CUDA C++. Without a GPU, check it as C++ with the host compiler and
/// stand-ins for the CUDA keywords (what NVRTC adds: `__device__`, `__global__`, `__constant__`, thread
/// indices, `sqrtf`).
#[test]
fn nvrtc_source_compiles_as_cuda_cpp() {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "g++".into());
    if std::process::Command::new(&cxx)
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED nvrtc_source_compiles_as_cuda_cpp: no C++ compiler ({cxx})");
        return;
    }
    let prelude = "#define __CUDACC__ 1\n#define __device__\n#define __global__\n#define __constant__\n\
        struct ts_dim3_ { unsigned int x, y, z; };\n\
        static ts_dim3_ blockIdx, blockDim, threadIdx;\n\
        static inline float sqrtf(float x) { return __builtin_sqrtf(x); }\n";
    let dir = std::env::temp_dir().join(format!("tessera-nvrtc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("kernel.cu.cpp");
    std::fs::write(
        &file,
        format!("{prelude}{}", tessera_render::cuda_kernel_source()),
    )
    .expect("write");
    let out = std::process::Command::new(&cxx)
        .args([
            "-std=c++17",
            "-fsyntax-only",
            "-Wall",
            "-Werror",
            "-Wno-unused-function",
            "-Wno-unused-variable",
        ])
        .arg(&file)
        .output()
        .expect("run the C++ compiler");
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "kernel source is not valid C++:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
