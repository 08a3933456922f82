//! Compiles the shared path-tracing kernel (src/kernel/pathtrace.h) for the CPU backend, with the flags
//! that keep float arithmetic bit-reproducible: IEEE single precision, no FMA contraction, no fast-math.

fn main() {
    println!("cargo:rerun-if-changed=src/kernel/pathtrace.h");
    println!("cargo:rerun-if-changed=src/kernel/cpu.c");
    cc::Build::new()
        .file("src/kernel/cpu.c")
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
        .extra_warnings(true)
        .compile("tessera_kernel");
}
