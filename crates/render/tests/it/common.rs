//! Shared helpers.

use tessera_render::{
    Backend, LoadOptions, RegionImage, RenderSettings, Scene, load_glb, render_region,
};

pub(crate) fn settings(width: u32, height: u32, spp: u32, bounces: u32) -> RenderSettings {
    tessera_render::testscenes::settings(width, height, spp, bounces)
}

pub(crate) fn load(bytes: &[u8], s: &RenderSettings, env: [f32; 3], frame: u32) -> Scene {
    let opts = LoadOptions {
        environment: env,
        frame,
        aspect: s.width as f32 / s.height as f32,
        ..LoadOptions::default()
    };
    load_glb(bytes, &opts).expect("scene loads")
}

pub(crate) fn render(scene: &Scene, s: &RenderSettings) -> RegionImage {
    render_region(scene, s, s.full_frame(), &Backend::Cpu, &|_, _| {}).expect("renders")
}

pub(crate) fn mean(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64
}

pub(crate) fn complete_glb() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../assets/scenes/complete.glb"
    );
    std::fs::read(path).expect("assets/scenes/complete.glb")
}

/// The values of the kernel's constant table `name` (`TS_TABLE float name[len] = { ... };` in
/// `pathtrace.h`), comments skipped.
pub(crate) fn kernel_table(name: &str) -> Vec<f32> {
    let src = tessera_render::cuda_kernel_source();
    let start = src.find(&format!("{name}[")).expect("the table");
    let start = start + src[start..].find('{').expect("its opening brace") + 1;
    let body = &src[start..start + src[start..].find("};").expect("its end")];
    body.split(',')
        .filter_map(|v| v.rsplit("*/").next())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| v.trim_end_matches('f').parse().expect("a number"))
        .collect()
}
