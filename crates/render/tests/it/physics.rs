//! The renderer against answers known in closed form.

use crate::common::{load, mean, render, settings};
use tessera_render::testscenes::{self, PointLight};

/// A white Lambertian sphere in a uniform environment reflects exactly the environment: every pixel equals
/// the environment's radiance (a few samples per pixel are lost where the smooth shading normal disagrees
/// with the faceted geometry, so the bound on the mean is 0.5%).
#[test]
fn furnace_white_sphere_returns_the_environment() {
    let s = settings(64, 64, 32, 64);
    let scene = load(&testscenes::furnace_sphere(), &s, [1.0, 1.0, 1.0], 0);
    let img = render(&scene, &s);
    let m = mean(&img.pixels);
    assert!((m - 1.0).abs() < 0.005, "furnace mean {m}");
    let max = img.pixels.iter().copied().fold(0.0f32, f32::max);
    assert!(max <= 1.0 + 1e-5, "energy created: {max}");
    // And the sphere is really there: with a 0.5 albedo it would be darker.
    let s2 = settings(64, 64, 32, 64);
    let grey = tessera_render::testscenes::write_glb(
        &[testscenes::sphere([0.0; 3], 1.0, 48, 96, 0)],
        &[testscenes::SimpleMaterial::lambert([0.5; 3])],
        Some(testscenes::SimpleCamera {
            eye: [0.0, 0.0, 3.0],
            rotation: [0.0, 0.0, 0.0, 1.0],
            yfov: 0.7,
        }),
        &[],
    );
    let dark = render(&load(&grey, &s2, [1.0; 3], 0), &s2);
    assert!(mean(&dark.pixels) < 0.9, "grey sphere not visible");
}

/// A Lambertian floor of albedo 0.5 under a uniform sky of radiance 2 is exactly 1.0 everywhere.
#[test]
fn lambertian_floor_under_uniform_sky_is_albedo_times_sky() {
    let s = settings(32, 32, 8, 8);
    let scene = load(&testscenes::lit_floor(0.5, None), &s, [2.0, 2.0, 2.0], 0);
    let img = render(&scene, &s);
    for v in &img.pixels {
        assert!((v - 1.0).abs() < 1e-4, "pixel {v}");
    }
}

/// A point light of I cd at height h lights the floor point below it with irradiance I / 683 / h² W/m²
/// (KHR_lights_punctual candela, converted at 683 lm/W as Blender imports it), so that point's radiance is
/// ρ I / 683 / (π h²).
#[test]
fn point_light_on_a_floor_matches_the_inverse_square_law() {
    let (albedo, candela, h) = (0.8f32, 6830.0f32, 1.5f32);
    let s = settings(33, 33, 4, 1);
    let scene = load(
        &testscenes::lit_floor(
            albedo,
            Some(PointLight {
                position: [0.0, h, 0.0],
                intensity: candela,
            }),
        ),
        &s,
        [0.0; 3],
        0,
    );
    let img = render(&scene, &s);
    let centre = (16 * 33 + 16) * 3;
    let expected = albedo * candela / 683.0 / (std::f32::consts::PI * h * h);
    let got = img.pixels[centre];
    assert!(
        (got - expected).abs() / expected < 0.005,
        "centre {got}, expected {expected}"
    );
    // Off-centre pixels are dimmer (cosine and distance falloff).
    assert!(img.pixels[0] < got);
}

/// A directional light of E lx shining straight down gives the floor an irradiance of E / 683 W/m² (Blender's
/// sun strength for it), so every pixel is ρ E / 683 / π; tilted by 60°, half that.
#[test]
fn directional_light_lux_becomes_the_irradiance_blender_gives_it() {
    let (albedo, lux) = (0.5f32, 2000.0f32);
    let s = settings(16, 16, 2, 1);
    let h = std::f32::consts::FRAC_1_SQRT_2;
    let expected = albedo * lux / 683.0 / std::f32::consts::PI;
    // -90° about X: the light's -Z points down.
    // -30° about X: the light leans 60° from the vertical.
    for (rotation, factor) in [
        ([-h, 0.0, 0.0, h], 1.0f32),
        ([-0.258_819, 0.0, 0.0, 0.965_925_8], 0.5),
    ] {
        let glb = testscenes::with_light(
            &testscenes::lit_floor(albedo, None),
            serde_json::json!({"type": "directional", "intensity": lux}),
            [0.0, 5.0, 0.0],
            rotation,
        );
        let img = render(&load(&glb, &s, [0.0; 3], 0), &s);
        for v in &img.pixels {
            let want = expected * factor;
            assert!((v - want).abs() / want < 1e-3, "pixel {v}, expected {want}");
        }
    }
}

/// A spot light pointing down lights the floor below it like a point light of the same candela, nothing
/// outside its outer cone, and Cycles' smoothstep in between: where cos θ is a quarter of the way into the
/// edge (blend = 1 - inner / outer, edge width (1 - cos outer) blend), the smoothstep is 0.15625.
#[test]
fn spot_light_cone_follows_blenders_falloff() {
    let (albedo, candela, hgt) = (0.8f32, 6830.0f32, 1.0f32);
    let (inner, outer) = (0.2f32, 0.8f32);
    // Small pixels (the centre one sees the floor within 4 mm of the origin) and a wide edge, so that the
    // smoothstep changes little across the pixel; 64 samples average what it does.
    let s = settings(129, 129, 64, 1);
    let centre = (64 * 129 + 64) * 3;
    let h = std::f32::consts::FRAC_1_SQRT_2;
    let floor_at = |x: f32| -> f32 {
        // The spot stands above (x, 0, 0), pointing down: the camera's centre pixel sees the floor point
        // (0, 0, 0) at angle θ from the spot's axis, tan θ = |x| / hgt.
        let glb = testscenes::with_light(
            &testscenes::lit_floor(albedo, None),
            serde_json::json!({"type": "spot", "intensity": candela,
                "spot": {"innerConeAngle": inner, "outerConeAngle": outer}}),
            [x, hgt, 0.0],
            [-h, 0.0, 0.0, h],
        );
        render(&load(&glb, &s, [0.0; 3], 0), &s).pixels[centre]
    };
    let point = albedo * candela / 683.0 / (std::f32::consts::PI * hgt * hgt);
    let axis = floor_at(0.0);
    assert!(
        (axis - point).abs() / point < 1e-3,
        "on the axis {axis}, point light {point}"
    );
    assert_eq!(
        floor_at(-(outer + 0.05).tan() * hgt),
        0.0,
        "outside the outer cone"
    );
    let cos_outer = outer.cos();
    let width = (1.0 - cos_outer) * (1.0 - inner / outer);
    let cos_theta = cos_outer + 0.25 * width;
    let x = (1.0 - cos_theta * cos_theta).sqrt() / cos_theta * hgt;
    let d2 = hgt * hgt + x * x;
    let want = albedo * candela / 683.0 / d2 * cos_theta * 0.156_25 / std::f32::consts::PI;
    let got = floor_at(-x);
    // A linear ramp would give 0.25 and the glTF's suggested square 0.0625: 2% tells them apart.
    assert!(
        (got - want).abs() / want < 0.02,
        "in the edge {got}, expected {want}"
    );
}

/// The Cornell box is lit by its ceiling emitter through NEE with MIS: brighter than the ambient-free sky,
/// finite, converging (two seeds agree on the mean within a few percent).
#[test]
fn cornell_box_converges_across_seeds() {
    let mut s = settings(48, 48, 32, 6);
    let scene = load(&testscenes::cornell_box(), &s, [0.0; 3], 0);
    let a = mean(&render(&scene, &s).pixels);
    s.seed = 99;
    let b = mean(&render(&scene, &s).pixels);
    assert!(a > 0.05 && a.is_finite(), "mean {a}");
    assert!((a - b).abs() / a < 0.05, "seed 7: {a}, seed 99: {b}");
}

/// An equirectangular sky, bright (2.0) above the horizon and black below, lights an upward floor of albedo
/// 0.5 to 1.0 (only the band of texels blended across the horizon deviates, by well under 1%).
#[test]
fn environment_map_lights_the_floor_from_the_upper_hemisphere() {
    let (w, h) = (8u32, 64u32);
    let rgb: Vec<[f32; 3]> = (0..w * h)
        .map(|i| if i / w < h / 2 { [2.0; 3] } else { [0.0; 3] })
        .collect();
    let map = tessera_render::load_hdr(
        &tessera_render::scene::write_hdr(w, h, &rgb),
        &tessera_render::Limits::default(),
    )
    .expect("hdr");
    let s = settings(24, 24, 64, 4);
    let opts = tessera_render::LoadOptions {
        environment: [1.0; 3],
        environment_map: Some(map),
        aspect: 1.0,
        ..tessera_render::LoadOptions::default()
    };
    let scene = tessera_render::load_glb(&testscenes::lit_floor(0.5, None), &opts).expect("scene");
    let m = mean(&render(&scene, &s).pixels);
    assert!((m - 1.0).abs() < 0.01, "floor under the sky map: {m}");
    // Flipped (dark sky, bright ground): the floor sees nothing.
    let flipped: Vec<[f32; 3]> = rgb.iter().rev().copied().collect();
    let map = tessera_render::load_hdr(
        &tessera_render::scene::write_hdr(w, h, &flipped),
        &tessera_render::Limits::default(),
    )
    .expect("hdr");
    let opts = tessera_render::LoadOptions {
        environment_map: Some(map),
        ..opts
    };
    let scene = tessera_render::load_glb(&testscenes::lit_floor(0.5, None), &opts).expect("scene");
    let m = mean(&render(&scene, &s).pixels);
    assert!(m < 0.02, "floor under a dark sky: {m}");
}

/// Open Image Denoise takes a 4-sample Cornell box much closer to the 256-sample one than it was: the
/// denoised frame's mean squared error against the reference (on displayable values) is under a third of
/// the noisy frame's, its mean stays within 3%, and the raw render it came from is untouched.
#[test]
fn denoising_brings_a_noisy_frame_closer_to_the_converged_one() {
    let noisy_s = settings(96, 96, 4, 6);
    let scene = load(&testscenes::cornell_box(), &noisy_s, [0.0; 3], 0);
    let noisy = render(&scene, &noisy_s).pixels;
    let mut reference_s = noisy_s;
    reference_s.samples_per_pixel = 256;
    let reference = render(&scene, &reference_s).pixels;
    let denoised = tessera_render::denoise::denoise(96, 96, &noisy)
        .expect("denoised (scripts/setup.sh installs OIDN)");
    // On displayable values (clamped at 1): the emitter's radiance of 17 and its fireflies would swamp it.
    let mse = |a: &[f32]| {
        a.iter()
            .zip(&reference)
            .map(|(x, y)| f64::from(x.min(1.0) - y.min(1.0)).powi(2))
            .sum::<f64>()
            / a.len() as f64
    };
    let (before, after) = (mse(&noisy), mse(&denoised));
    assert!(after < before / 3.0, "MSE noisy {before}, denoised {after}");
    let (m, r) = (mean(&denoised), mean(&reference));
    assert!((m - r).abs() / r < 0.03, "mean {m}, reference {r}");
    assert_eq!(
        render(&scene, &noisy_s).pixels,
        noisy,
        "the raw render is what it was"
    );
    let e = tessera_render::denoise::denoise(4, 4, &[0.0; 3]).expect_err("too few floats");
    assert!(e.to_string().contains("3 floats for a 4 x 4"), "{e}");
}
