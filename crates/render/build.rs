//! Compiles the shared path-tracing kernel (src/kernel/pathtrace.h) for the CPU backend, with the flags
//! that keep float arithmetic bit-reproducible: IEEE single precision, no FMA contraction, no fast-math.
//!
//! On x86-64 the kernel is compiled twice: for the baseline instruction set (SSE2), and for AVX2 with its
//! entry points suffixed `_avx2` (`TS_CPU_SUFFIX`), chosen at run time when the CPU has AVX2
//! (`kernel::CpuKernel`). The flags forbid FMA in both (`-mno-fma`; AVX2 does not imply it, and
//! `-ffp-contract=off` keeps the compiler from fusing anyway) and neither allows reassociation, so both
//! builds perform the same IEEE operations in the same order: the wider registers and VEX encoding change
//! the speed, not the bits (docs/render-determinism.md; tested by `every_cpu_build_gives_identical_leaves`).

fn kernel_build() -> cc::Build {
    let mut b = cc::Build::new();
    b.file("src/kernel/cpu.c")
        .std("c99")
        .opt_level(3)
        .flag("-ffp-contract=off")
        .flag("-fno-fast-math")
        .flag("-fno-math-errno")
        .flag("-fno-finite-math-only")
        .flag("-fno-unsafe-math-optimizations")
        .flag("-fexcess-precision=standard")
        .flag_if_supported("-mno-fma")
        .warnings(true)
        .extra_warnings(true);
    b
}

fn main() {
    println!("cargo:rerun-if-changed=src/kernel/pathtrace.h");
    println!("cargo:rerun-if-changed=src/kernel/cpu.c");
    println!("cargo::rustc-check-cfg=cfg(tessera_kernel_avx2)");
    kernel_build().compile("tessera_kernel");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("x86_64") {
        // In a folder of its own: the two builds compile the same file, and cc names objects after it.
        let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("avx2");
        std::fs::create_dir_all(&out).expect("creating OUT_DIR/avx2");
        kernel_build()
            .out_dir(&out)
            .define("TS_CPU_SUFFIX", "_avx2")
            .flag("-mavx2")
            .flag("-mno-fma")
            .compile("tessera_kernel_avx2");
        println!("cargo:rustc-cfg=tessera_kernel_avx2");
    }
}
