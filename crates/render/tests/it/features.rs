//! The glTF features artists' scenes use, each on a small generated scene with the value it must give:
//! texture coordinate sets, `KHR_texture_transform`, sampler wrap modes, vertex colours and alpha modes.
//! Most scenes are `testscenes::screen`, a quad that exactly fills a square image, so that pixel `(x, y)`
//! of an `n` x `n` image reads `TEXCOORD_0 = ((x + 0.5) / n, (y + 0.5) / n)`.

use crate::common::{load, mean, render, settings};
use serde_json::{Value, json};
use tessera_render::testscenes::{self, PointLight, SimpleMaterial};

const N: u32 = 64;

/// Renders `glb` at N x N under a uniform environment `env`, returning the pixels' red channel.
fn red(glb: &[u8], env: f32, spp: u32) -> Vec<f32> {
    let s = settings(N, N, spp, 2);
    let img = render(&load(glb, &s, [env; 3], 0), &s);
    img.pixels.chunks(3).map(|p| p[0]).collect()
}

fn at(img: &[f32], x: u32, y: u32) -> f32 {
    img[(y * N + x) as usize]
}

/// An emissive-only material (black, no specular) showing `texture` (a glTF texture info) as its emission:
/// a pixel's value is the texel value itself.
fn emissive(texture: Value) -> Value {
    json!({
        "pbrMetallicRoughness": {"baseColorFactor": [0.0, 0.0, 0.0, 1.0], "metallicFactor": 0.0},
        "emissiveFactor": [1.0, 1.0, 1.0],
        "emissiveTexture": texture,
        "extensions": {"KHR_materials_specular": {"specularFactor": 0.0}},
    })
}

const REPEAT: i32 = 10497;
const CLAMP: i32 = 33071;
const MIRROR: i32 = 33648;

fn sampler(wrap: i32) -> Value {
    json!({"wrapS": wrap, "wrapT": wrap})
}

/// A texture with `texCoord: 1` is read at TEXCOORD_1, not TEXCOORD_0: here TEXCOORD_0 is constant (it would
/// show one colour everywhere) and TEXCOORD_1 spans the quad, so the split texture shows as a black left and
/// a white right half.
#[test]
fn a_texture_on_texcoord_1_reads_the_second_uv_set() {
    let uv1 = vec![0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
    let constant = vec![0.9; 8];
    let glb = |tex_coord: u32| {
        // TEXCOORD_0 is replaced by the constant: attributes given later win in the JSON map.
        testscenes::screen(
            emissive(json!({"index": 0, "texCoord": tex_coord})),
            &[testscenes::split_texture(8)],
            &[sampler(CLAMP)],
            &[
                ("TEXCOORD_0", "VEC2", constant.clone()),
                ("TEXCOORD_1", "VEC2", uv1.clone()),
            ],
        )
    };
    let img = red(&glb(1), 0.0, 2);
    for y in [0, N / 2, N - 1] {
        assert_eq!(at(&img, 4, y), 0.0, "left half at row {y}");
        assert_eq!(at(&img, N - 5, y), 1.0, "right half at row {y}");
    }
    let img0 = red(&glb(0), 0.0, 2);
    assert!(
        img0.iter().all(|&v| v == 1.0),
        "TEXCOORD_0 reads the constant 0.9: white"
    );
}

/// `KHR_texture_transform` scale [4, 4] tiles the texture 4 x 4 times: along a row, the split texture's
/// black and white halves alternate 4 times (a 4 x 4 tiling of the quad).
#[test]
fn texture_transform_scale_tiles_the_texture_four_by_four() {
    let glb = testscenes::screen(
        emissive(
            json!({"index": 0, "extensions": {"KHR_texture_transform": {"scale": [4.0, 4.0]}}}),
        ),
        &[testscenes::split_texture(8)],
        &[sampler(REPEAT)],
        &[],
    );
    let img = red(&glb, 0.0, 2);
    // Pixel 16k + 3 reads u' = 4u with frac(u') = 0.22 (black); 16k + 11 frac 0.72 (white).
    for k in 0..4 {
        for y in [5, 37] {
            assert_eq!(at(&img, 16 * k + 3, y), 0.0, "tile {k}, black half");
            assert_eq!(at(&img, 16 * k + 11, y), 1.0, "tile {k}, white half");
        }
    }
    let transitions = (1..N)
        .filter(|&x| (at(&img, x, 20) > 0.5) != (at(&img, x - 1, 20) > 0.5))
        .count();
    assert_eq!(
        transitions, 7,
        "4 tiles make 7 black/white edges inside a row"
    );
}

/// Offset and rotation: offset [0.5, 0] swaps the halves (u' = u + 0.5, repeating); a quarter turn maps
/// u' = v, v' = -u (the extension's rotation is counter-clockwise in UV space), so the split runs along the
/// rows instead: black at the top, white at the bottom.
#[test]
fn texture_transform_offset_and_rotation_move_the_texture() {
    let with = |t: Value| {
        testscenes::screen(
            emissive(json!({"index": 0, "extensions": {"KHR_texture_transform": t}})),
            &[testscenes::split_texture(8)],
            &[sampler(REPEAT)],
            &[],
        )
    };
    let img = red(&with(json!({"offset": [0.5, 0.0]})), 0.0, 2);
    assert_eq!(at(&img, 10, 30), 1.0, "left half shows the white half");
    assert_eq!(at(&img, N - 11, 30), 0.0, "right half shows the black half");
    let img = red(
        &with(json!({"rotation": std::f32::consts::FRAC_PI_2})),
        0.0,
        2,
    );
    for x in [5, 30, 58] {
        assert_eq!(at(&img, x, 10), 0.0, "top at column {x}");
        assert_eq!(at(&img, x, N - 11), 1.0, "bottom at column {x}");
    }
}

/// With scale 2, u' runs to 2 across the quad. At u' = 1.2 and 1.8 (pixels 38 and 57 of 64): REPEAT reads
/// the texture at 0.2 and 0.8 (black, white), CLAMP_TO_EDGE reads its right edge (white, white) and
/// MIRRORED_REPEAT reads 0.8 and 0.2 (white, black).
#[test]
fn sampler_wrap_modes_repeat_clamp_and_mirror() {
    for (wrap, expect) in [
        (REPEAT, [0.0, 1.0]),
        (CLAMP, [1.0, 1.0]),
        (MIRROR, [1.0, 0.0]),
    ] {
        let glb = testscenes::screen(
            emissive(
                json!({"index": 0, "extensions": {"KHR_texture_transform": {"scale": [2.0, 1.0]}}}),
            ),
            &[testscenes::split_texture(8)],
            &[sampler(wrap)],
            &[],
        );
        let img = red(&glb, 0.0, 2);
        // Pixel 38: u = 0.6016, u' = 1.203; pixel 57: u = 0.8984, u' = 1.797.
        assert_eq!([at(&img, 38, 30), at(&img, 57, 30)], expect, "wrap {wrap}");
        // The first half is the texture itself whatever the mode: u' = 0.2 black, 0.8 white.
        assert_eq!(
            [at(&img, 6, 30), at(&img, 25, 30)],
            [0.0, 1.0],
            "wrap {wrap}"
        );
    }
}

/// COLOR_0 multiplies the base colour (glTF 2.0 §3.9.2), interpolated across the triangle: a white
/// Lambertian quad with red vertices on the left and blue on the right, under a uniform sky of radiance 1,
/// shows exactly (1 - u, 0, u) (albedo x sky for a surface that sees only the sky).
#[test]
fn vertex_colours_multiply_the_base_colour() {
    let colours = vec![
        1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0,
    ];
    let glb = testscenes::screen(
        json!({"pbrMetallicRoughness": {"metallicFactor": 0.0},
            "extensions": {"KHR_materials_specular": {"specularFactor": 0.0}}}),
        &[],
        &[],
        &[("COLOR_0", "VEC4", colours)],
    );
    // The pixel's samples are jittered across it: their mean u is the centre's within 1/64/sqrt(12 x 64).
    let s = settings(N, N, 64, 2);
    let img = render(&load(&glb, &s, [1.0; 3], 0), &s);
    for x in [0u32, 20, 40, 63] {
        let u = (x as f32 + 0.5) / N as f32;
        let p = &img.pixels[((30 * N + x) * 3) as usize..][..3];
        assert!((p[0] - (1.0 - u)).abs() < 3e-3, "red at {x}: {p:?}");
        assert!(p[1].abs() < 1e-6, "green at {x}: {p:?}");
        assert!((p[2] - u).abs() < 3e-3, "blue at {x}: {p:?}");
    }
}

/// A black quad in front of a sky of radiance 1, its alpha from a texture holding a disc of radius 0.5 (in
/// UV): with `alphaMode` MASK the quad is cut out outside the disc, so the sky shows through 1 - π/4 of the
/// image; with OPAQUE, the default, alpha is ignored and nothing shows through.
#[test]
fn alpha_mask_cuts_out_the_disc() {
    let n = 128u32;
    let disc: Vec<u8> = (0..n * n)
        .flat_map(|i| {
            let (x, y) = (
                (i % n) as f32 + 0.5 - n as f32 / 2.0,
                (i / n) as f32 + 0.5 - n as f32 / 2.0,
            );
            let inside = x * x + y * y < (n as f32 / 2.0).powi(2);
            [0, 0, 0, if inside { 255 } else { 0 }]
        })
        .collect();
    let with = |mode: &str| {
        testscenes::screen(
            json!({"alphaMode": mode, "alphaCutoff": 0.5,
                "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}, "metallicFactor": 0.0},
                "extensions": {"KHR_materials_specular": {"specularFactor": 0.0}}}),
            &[testscenes::png_rgba(n, n, &disc)],
            &[sampler(CLAMP)],
            &[],
        )
    };
    let through = mean(&red(&with("MASK"), 1.0, 4));
    let expected = 1.0 - std::f64::consts::FRAC_PI_4;
    assert!(
        (through - expected).abs() < 0.005,
        "sky through the cut-out: {through}, expected {expected}"
    );
    let img = red(&with("MASK"), 1.0, 4);
    assert_eq!(at(&img, N / 2, N / 2), 0.0, "the disc's centre is opaque");
    assert_eq!(at(&img, 1, 1), 1.0, "the corner is cut out");
    assert_eq!(
        mean(&red(&with("OPAQUE"), 1.0, 4)),
        0.0,
        "OPAQUE ignores alpha"
    );
}

/// `alphaMode` BLEND with alpha 0.25: a black quad in front of a sky of radiance 1 lets 0.75 of it through
/// (stochastically, per sample: the mean converges), and as a shadow caster it passes 0.75 of a point
/// light's irradiance.
#[test]
fn alpha_blend_lets_through_one_minus_alpha() {
    let glb = testscenes::screen(
        json!({"alphaMode": "BLEND",
            "pbrMetallicRoughness": {"baseColorFactor": [0.0, 0.0, 0.0, 0.25], "metallicFactor": 0.0},
            "extensions": {"KHR_materials_specular": {"specularFactor": 0.0}}}),
        &[],
        &[],
        &[],
    );
    let through = mean(&red(&glb, 1.0, 16));
    assert!(
        (through - 0.75).abs() < 0.01,
        "sky through the quad: {through}"
    );

    // A floor lit by a point light at (3, 1.5, 0); a vertical quad at x = 2, outside the camera's view,
    // stands in the light's way to the floor under the camera.
    let shadowed = |alpha: Option<f32>| -> f64 {
        let floor = testscenes::quad(
            [-50.0, 0.0, 50.0],
            [50.0, 0.0, 50.0],
            [50.0, 0.0, -50.0],
            [-50.0, 0.0, -50.0],
            0,
        );
        let mut meshes = vec![floor];
        if alpha.is_some() {
            meshes.push(testscenes::quad(
                [2.0, 0.5, 1.0],
                [2.0, 0.5, -1.0],
                [2.0, 1.5, -1.0],
                [2.0, 1.5, 1.0],
                1,
            ));
        }
        let h = std::f32::consts::FRAC_1_SQRT_2;
        let glb = testscenes::write_glb(
            &meshes,
            &[
                SimpleMaterial::lambert([0.8; 3]),
                SimpleMaterial::lambert([0.0; 3]),
            ],
            Some(testscenes::SimpleCamera {
                eye: [0.0, 2.0, 0.0],
                rotation: [-h, 0.0, 0.0, h],
                yfov: 0.2,
            }),
            &[PointLight {
                position: [3.0, 1.5, 0.0],
                intensity: 5000.0,
            }],
        );
        let (mut doc, bin) = testscenes::unpack_glb(&glb);
        if let Some(a) = alpha {
            doc["materials"][1]["alphaMode"] = json!("BLEND");
            doc["materials"][1]["pbrMetallicRoughness"]["baseColorFactor"][3] = json!(a);
        }
        let s = settings(16, 16, 32, 1);
        let img = render(&load(&testscenes::pack_glb(&doc, bin), &s, [0.0; 3], 0), &s);
        mean(&img.pixels)
    };
    let open = shadowed(None);
    let ratio = shadowed(Some(0.25)) / open;
    assert!(open > 0.0);
    assert!(
        (ratio - 0.75).abs() < 0.02,
        "shadow passes {ratio} of the light"
    );
    assert_eq!(shadowed(Some(1.0)), 0.0, "alpha 1 casts a full shadow");
}

/// Data the alpha and texture features rely on is checked: an alpha cutoff below 0, a texture on a UV set
/// above 1 and a vertex colour of the wrong type are refused by name.
#[test]
fn invalid_alpha_and_attribute_data_is_refused() {
    let err = |glb: Vec<u8>| {
        let s = settings(8, 8, 1, 1);
        let opts = tessera_render::LoadOptions {
            aspect: s.width as f32 / s.height as f32,
            ..tessera_render::LoadOptions::default()
        };
        tessera_render::load_glb(&glb, &opts)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let e = err(testscenes::screen(
        json!({"alphaMode": "MASK", "alphaCutoff": -0.5}),
        &[],
        &[],
        &[],
    ));
    assert!(e.contains("alphaCutoff"), "{e}");
    let e = err(testscenes::screen(
        emissive(json!({"index": 0, "texCoord": 2})),
        &[testscenes::split_texture(8)],
        &[sampler(REPEAT)],
        &[],
    ));
    assert!(e.contains("TEXCOORD_2"), "{e}");
    // Factors outside [0, 1] would make a surface give back more light than it receives; an IOR far
    // beyond any material's breaks refraction.
    for (material, needle) in [
        (
            json!({"pbrMetallicRoughness": {"baseColorFactor": [4.0, 1.0, 1.0, 1.0]}}),
            "baseColorFactor",
        ),
        (
            json!({"extensions": {"KHR_materials_specular": {"specularFactor": -10.0}}}),
            "specularFactor",
        ),
        (json!({"emissiveFactor": [2.0, 0.0, 0.0]}), "emissiveFactor"),
        (
            json!({"extensions": {"KHR_materials_ior": {"ior": 20.0}}}),
            "ior 20",
        ),
    ] {
        let e = err(testscenes::screen(material, &[], &[], &[]));
        assert!(e.contains(needle), "{needle}: {e}");
    }
    // The normal texture's KHR_texture_transform (read by its own typed pass) can name the set too.
    let e = err(testscenes::screen(
        json!({"normalTexture": {"index": 0,
            "extensions": {"KHR_texture_transform": {"texCoord": 2, "unknown": [0, 0, 0]}}}}),
        &[testscenes::split_texture(8)],
        &[sampler(REPEAT)],
        &[],
    ));
    assert!(e.contains("TEXCOORD_2"), "{e}");
    let e = err(testscenes::screen(
        json!({}),
        &[],
        &[],
        &[("COLOR_0", "VEC2", vec![0.5; 8])],
    ));
    assert!(e.contains("Colors(0)") && e.contains("§3.7.2.1"), "{e}");
}

fn bounds_at(glb: &[u8], frame: u32) -> ([f32; 3], [f32; 3]) {
    let s = settings(8, 8, 1, 1);
    load(glb, &s, [0.0; 3], frame).bounds()
}

fn close(a: [f32; 3], b: [f32; 3]) -> bool {
    a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-4)
}

/// A skinned mesh is drawn posed by its joints at the frame's time (and its own node's transform is
/// ignored): the strip's top half, bound to a joint that turns -90° about Z over one second, lies along +X
/// at frame 24 (top vertices at (1, 1.1) and (1, 0.9)), halfway at frame 12 (the top-left vertex turned 45°
/// about the joint to (0.636, 1.778)), and upright in the bind pose at frame 0.
#[test]
fn a_skinned_mesh_is_posed_by_its_animated_joints() {
    let glb = testscenes::skinned_strip();
    let bind = bounds_at(&glb, 0);
    assert!(
        close(bind.0, [-0.1, 0.0, 0.0]) && close(bind.1, [0.1, 2.0, 0.0]),
        "{bind:?}"
    );
    let bent = bounds_at(&glb, 24);
    assert!(
        close(bent.0, [-0.1, 0.0, 0.0]) && close(bent.1, [1.0, 1.1, 0.0]),
        "{bent:?}"
    );
    let (s, c) = (
        std::f32::consts::FRAC_1_SQRT_2,
        std::f32::consts::FRAC_1_SQRT_2,
    );
    // (±0.1, 1) about the joint, turned by -45°: x' = x c + y s, y' = -x s + y c, then + (0, 1).
    let top_right = [0.1 * c + s, -0.1 * s + c + 1.0];
    let top_left = [-0.1 * c + s, 0.1 * s + c + 1.0];
    let half = bounds_at(&glb, 12);
    assert!(
        close(half.1, [top_right[0], top_left[1], 0.0]),
        "{half:?}, expected max ({}, {})",
        top_right[0],
        top_left[1]
    );
}

/// Morph targets: the quad's top edge is lifted by the target's weight: the mesh's default (0.25), the
/// node's override (0.75), or the animated weights channel (frame / 24) over both.
#[test]
fn morph_targets_follow_mesh_node_and_animated_weights() {
    let height = |glb: &[u8], frame: u32| bounds_at(glb, frame).1[1];
    let eq = |a: f32, b: f32| (a - b).abs() < 1e-5;
    assert!(eq(height(&testscenes::morph_quad(None, false), 0), 1.25));
    assert!(eq(
        height(&testscenes::morph_quad(Some(0.75), false), 0),
        1.75
    ));
    let animated = testscenes::morph_quad(Some(0.75), true);
    assert!(eq(height(&animated, 6), 1.25));
    assert!(eq(height(&animated, 24), 2.0));
    assert!(eq(height(&animated, 0), 1.0));
}

/// Skin and morph data that breaks the specification is refused by name: a joint index past the skin's
/// joints, weights that do not sum to 1, fewer inverse bind matrices than joints, a joint outside the
/// scene, a weights array of the wrong length.
#[test]
fn invalid_skins_and_morph_targets_are_refused() {
    let refused = |glb: Vec<u8>, needle: &str| {
        let opts = tessera_render::LoadOptions {
            aspect: 1.0,
            ..tessera_render::LoadOptions::default()
        };
        match tessera_render::load_glb(&glb, &opts) {
            Ok(_) => panic!("loaded; expected an error mentioning {needle:?}"),
            Err(e) => assert!(e.to_string().contains(needle), "{e} lacks {needle:?}"),
        }
    };
    let edit = |f: &dyn Fn(&mut Value, &mut Vec<u8>)| {
        let (mut doc, mut bin) = testscenes::unpack_glb(&testscenes::skinned_strip());
        f(&mut doc, &mut bin);
        testscenes::pack_glb(&doc, bin)
    };
    let attribute_offset = |doc: &Value, name: &str| -> usize {
        let a = &doc["accessors"][doc["meshes"][0]["primitives"][0]["attributes"][name]
            .as_u64()
            .unwrap_or(0) as usize];
        doc["bufferViews"][a["bufferView"].as_u64().unwrap_or(0) as usize]["byteOffset"]
            .as_u64()
            .unwrap_or(0) as usize
    };
    refused(
        edit(&|doc, bin| {
            let at = attribute_offset(doc, "JOINTS_0");
            bin[at + 16] = 5; // vertex 4, first influence
        }),
        "names joint 5 of a skin with 2 joints",
    );
    refused(
        edit(&|doc, bin| {
            let at = attribute_offset(doc, "WEIGHTS_0");
            bin[at..at + 4].copy_from_slice(&0.6f32.to_le_bytes()); // vertex 0: 0.6 alone
        }),
        "sum to 0.6",
    );
    refused(
        edit(&|doc, _| {
            let ibm = doc["skins"][0]["inverseBindMatrices"].as_u64().unwrap_or(0) as usize;
            doc["accessors"][ibm]["count"] = json!(1);
        }),
        "1 inverse bind matrices for 2 joints",
    );
    refused(
        edit(&|doc, _| doc["scenes"][0]["nodes"] = json!([0, 3])),
        "is not in the rendered scene",
    );
    let (mut doc, bin) = testscenes::unpack_glb(&testscenes::morph_quad(None, false));
    doc["nodes"][0]["weights"] = json!([0.5, 0.5]);
    refused(
        testscenes::pack_glb(&doc, bin),
        "2 morph weights for 1 morph targets",
    );
}

/// A material with `KHR_materials_transmission` (and, with `volume`, `KHR_materials_volume` thickness 1, so
/// the surface bounds a refracting volume), black-free: base colour `base`, smooth, dielectric, IOR `ior`.
fn glass(base: [f32; 3], ior: f32, volume: bool) -> Value {
    let mut m = json!({
        "pbrMetallicRoughness": {"baseColorFactor": [base[0], base[1], base[2], 1.0],
            "metallicFactor": 0.0, "roughnessFactor": 0.0},
        "doubleSided": true,
        "extensions": {"KHR_materials_transmission": {"transmissionFactor": 1.0},
            "KHR_materials_ior": {"ior": ior}},
    });
    if volume {
        m["extensions"]["KHR_materials_volume"] = json!({"thicknessFactor": 1.0});
    }
    m
}

/// A thin transmissive wall (no volume: glTF's thin-walled model) in front of a sky of radiance 1 shows
/// the sky reflected by the dielectric Fresnel (F0 = 0.04 at IOR 1.5) plus the rest transmitted straight
/// through, tinted by the base colour: F + (1 - F) base, at near-normal incidence.
#[test]
fn a_thin_transmissive_wall_shows_fresnel_plus_the_tinted_sky() {
    let base = [0.2f32, 0.5, 1.0];
    let glb = testscenes::screen(glass(base, 1.5, false), &[], &[], &[]);
    let s = settings(N, N, 64, 4);
    let img = render(&load(&glb, &s, [1.0; 3], 0), &s);
    // The centre 8 x 8 pixels look at the wall within 4° of its normal: F within 1e-6 of F0.
    for (c, b) in base.iter().enumerate() {
        let mut sum = 0.0f64;
        for y in 28..36 {
            for x in 28..36 {
                sum += f64::from(img.pixels[((y * N + x) * 3) as usize + c]);
            }
        }
        let got = sum / 64.0;
        let want = 0.04 + 0.96 * f64::from(*b);
        assert!(
            (got - want).abs() < 0.01,
            "channel {c}: {got}, expected {want}"
        );
    }
}

/// KHR_materials_ior sets the dielectric reflectance F0 = ((ior - 1) / (ior + 1))²: a black dielectric seen
/// head-on under a sky of radiance 1 reflects ~0.04 of it at IOR 1.5, ~0.111 at IOR 2, and nothing at IOR 1.
#[test]
fn ior_sets_the_dielectric_reflectance() {
    let black = |ior: f32| {
        let glb = testscenes::screen(
            json!({"pbrMetallicRoughness": {"baseColorFactor": [0.0, 0.0, 0.0, 1.0],
                "metallicFactor": 0.0, "roughnessFactor": 0.0},
                "extensions": {"KHR_materials_ior": {"ior": ior}}}),
            &[],
            &[],
            &[],
        );
        let img = red(&glb, 1.0, 16);
        (28..36)
            .flat_map(|y| (28..36).map(move |x| (x, y)))
            .map(|(x, y)| f64::from(at(&img, x, y)))
            .sum::<f64>()
            / 64.0
    };
    assert!(black(1.0) < 1e-4, "IOR 1: {}", black(1.0));
    assert!((black(1.5) - 0.04).abs() < 0.003, "IOR 1.5: {}", black(1.5));
    assert!(
        (black(2.0) - 1.0 / 9.0).abs() < 0.005,
        "IOR 2: {}",
        black(2.0)
    );
}

/// A solid glass ball (KHR_materials_volume) refracts: like a ball lens it flips what lies behind it, so a
/// ray just left of its centre sees the bright right half of a backdrop; a thin-walled ball lets the ray
/// through unbent, onto the dark left half.
#[test]
fn a_glass_volume_refracts_and_a_thin_wall_does_not() {
    let look = |volume: bool| -> f32 {
        let backdrop = testscenes::quad(
            [0.0, -3.0, -3.0],
            [3.0, -3.0, -3.0],
            [3.0, 3.0, -3.0],
            [0.0, 3.0, -3.0],
            1,
        );
        let glb = testscenes::write_glb(
            &[testscenes::sphere([0.0; 3], 1.0, 64, 128, 0), backdrop],
            &[
                SimpleMaterial::lambert([1.0; 3]),
                SimpleMaterial {
                    emissive: [1.0; 3],
                    ..SimpleMaterial::lambert([0.0; 3])
                },
            ],
            Some(testscenes::SimpleCamera {
                eye: [0.0, 0.0, 6.0],
                rotation: [0.0, 0.0, 0.0, 1.0],
                yfov: 0.4,
            }),
            &[],
        );
        let (mut doc, bin) = testscenes::unpack_glb(&glb);
        doc["materials"][0] = glass([1.0; 3], 1.5, volume);
        let s = settings(65, 65, 8, 8);
        let img = render(&load(&testscenes::pack_glb(&doc, bin), &s, [0.0; 3], 0), &s);
        // Pixel 26 of 65 looks 0.3 units left of the ball's centre.
        img.pixels[((32 * 65 + 26) * 3) as usize]
    };
    let solid = look(true);
    let thin = look(false);
    assert!(
        solid > 0.5,
        "through the solid ball the ray reaches the bright half: {solid}"
    );
    assert!(
        thin < 0.1,
        "through the thin ball it goes straight on to the dark half: {thin}"
    );
}

/// The furnace test for glass: a smooth, clear glass ball (transmission 1, IOR 1.5, a volume) under a
/// uniform sky neither creates nor loses light: what it reflects and what it transmits add up to the sky.
/// Measured over the ball's inner part (image radius 0.8; its rim is at 0.91): at grazing incidence the
/// mirror reflection about the smooth shading normal can point below the faceted surface and is lost, as
/// in the opaque furnace test, only more, since grazing glass reflects almost everything.
#[test]
fn a_clear_glass_ball_in_a_uniform_sky_returns_the_sky() {
    let (mut doc, bin) = testscenes::unpack_glb(&testscenes::furnace_sphere());
    doc["materials"][0] = glass([1.0; 3], 1.5, true);
    let s = settings(48, 48, 32, 32);
    let img = render(&load(&testscenes::pack_glb(&doc, bin), &s, [1.0; 3], 0), &s);
    let (mut sum, mut n) = (0.0f64, 0u32);
    for y in 0..48u32 {
        for x in 0..48u32 {
            let (dx, dy) = (x as f32 + 0.5 - 24.0, y as f32 + 0.5 - 24.0);
            if (dx * dx + dy * dy).sqrt() < 0.8 * 24.0 {
                let p = &img.pixels[((y * 48 + x) * 3) as usize..][..3];
                sum += p.iter().map(|v| f64::from(*v)).sum::<f64>() / 3.0;
                n += 1;
            }
        }
    }
    let m = sum / f64::from(n);
    assert!(
        (m - 1.0).abs() < 0.01,
        "furnace mean {m} over the ball's inner part"
    );
    let max = img.pixels.iter().copied().fold(0.0f32, f32::max);
    assert!(max < 1.5, "no pixel far above the sky: {max}");
}

/// A job's look travels in its scene (`asset.extras.tessera`): the environment radiance, an environment
/// map packed into the GLB, and the frame rate are what every worker, verifier and preview load the scene
/// with (`load_job_scene`). A Lambertian floor of albedo 0.5 under a sky of 2 is exactly 1.0, under a map of
/// constant 3 (above the horizon) 1.5 (as RGBE decodes 3); the cube that crosses x = 0 at t = 0.5 s is centred at frame
/// 6 when the scene says 12 fps, and at frame 12 under the default 24.
#[test]
fn a_scenes_look_sets_the_environment_map_and_clock() {
    use tessera_render::scene::{embed_look, read_look};
    let limits = tessera_render::Limits::default();
    let s = settings(16, 16, 4, 4);
    let floor = testscenes::lit_floor(0.5, None);
    let under = |glb: &[u8]| {
        let scene = tessera_render::load_job_scene(glb, &s, 0, limits.clone()).expect("loads");
        render(&scene, &s).pixels
    };
    let sky = embed_look(&floor, 24.0, [2.0; 3], None, &limits).expect("embed");
    assert!(under(&sky).iter().all(|v| (v - 1.0).abs() < 1e-4));
    let hdr = tessera_render::scene::write_hdr(8, 4, &[[3.0f32; 3]; 32]);
    let mapped = embed_look(&floor, 24.0, [1.0; 3], Some(&hdr), &limits).expect("embed");
    // The map's texels as decoded (RGBE keeps 8 bits of mantissa: 3 reads as 3.0078).
    let texel = read_look(&mapped, &limits)
        .expect("look")
        .environment_map
        .expect("map")
        .rgba[0];
    assert!((texel - 3.0).abs() < 0.02);
    let lit = under(&mapped);
    assert!(
        lit.iter().all(|v| (v - 0.5 * texel).abs() < 1e-4),
        "{:?}",
        &lit[..3]
    );
    // A new look replaces the old one, map and all: re-embedding leaves no dead bytes behind, and a look
    // without a map drops the old map too.
    let hdr2 = tessera_render::scene::write_hdr(4, 2, &[[1.0f32; 3]; 8]);
    let again = embed_look(&mapped, 24.0, [1.0; 3], Some(&hdr2), &limits).expect("embed");
    let fresh = embed_look(&floor, 24.0, [1.0; 3], Some(&hdr2), &limits).expect("embed");
    assert_eq!(again.len(), fresh.len());
    let (doc, _) = testscenes::unpack_glb(&again);
    assert_eq!(
        doc["bufferViews"].as_array().map(Vec::len),
        testscenes::unpack_glb(&floor).0["bufferViews"]
            .as_array()
            .map(|v| v.len() + 1)
    );
    let plain = embed_look(&mapped, 24.0, [2.0; 3], None, &limits).expect("embed");
    assert_eq!(plain.len(), sky.len());
    assert!(
        read_look(&plain, &limits)
            .expect("look")
            .environment_map
            .is_none()
    );
    // A crafted look naming views that are not there, or a view without a buffer, is handled without a
    // panic: nothing of the file is dropped that embed_look did not put there.
    let (doc, bin) = testscenes::unpack_glb(&mapped);
    for (view, views, buffers) in [
        (
            json!(u64::MAX),
            json!([]),
            json!([{"byteLength": bin.len()}]),
        ),
        (
            json!(0),
            json!([{"buffer": 0, "byteLength": bin.len(),
            "extras": {"tessera": "tessera environment map"}}]),
            json!(null),
        ),
        (
            json!(0),
            json!([{"buffer": 0, "byteLength": bin.len(),
            "extras": {"tessera": "tessera environment map"}}]),
            json!("not an array"),
        ),
    ] {
        let mut d = doc.clone();
        d["asset"]["extras"]["tessera"]["environmentMap"]["bufferView"] = view;
        d["bufferViews"] = views;
        d["buffers"] = buffers;
        let glb = testscenes::pack_glb(&d, bin.clone());
        let _ = embed_look(&glb, 24.0, [1.0; 3], None, &limits);
    }
    // The default look: 24 fps, the dim grey sky.
    assert_eq!(
        read_look(&floor, &limits).expect("look"),
        tessera_render::Look::default()
    );
    let centre_x = |glb: &[u8], frame: u32| {
        let scene = tessera_render::load_job_scene(glb, &s, frame, limits.clone()).expect("loads");
        let (lo, hi) = scene.bounds();
        0.5 * (lo[0] + hi[0])
    };
    let cube = testscenes::animated_cube();
    let slow = embed_look(&cube, 12.0, [1.0; 3], None, &limits).expect("embed");
    assert!(centre_x(&slow, 6).abs() < 1e-5);
    assert!(centre_x(&cube, 12).abs() < 1e-5);
    assert!((centre_x(&cube, 6) + 0.5).abs() < 1e-5);
}

/// A look outside what the renderer accepts is refused by name, and extras that are not Tessera's are left
/// alone (glTF allows any value there).
#[test]
fn invalid_looks_are_refused_and_foreign_extras_ignored() {
    use tessera_render::scene::read_look;
    let limits = tessera_render::Limits::default();
    let with = |extras: Value| {
        let (mut doc, bin) = testscenes::unpack_glb(&testscenes::cornell_box());
        doc["asset"]["extras"] = extras;
        testscenes::pack_glb(&doc, bin)
    };
    for (extras, needle) in [
        (json!({"tessera": {"fps": 0}}), "fps 0 is outside"),
        (json!({"tessera": {"fps": 5000}}), "fps 5000 is outside"),
        (
            json!({"tessera": {"environment": [1, -1, 1]}}),
            "each component",
        ),
        (
            json!({"tessera": {"environment": [1, 1]}}),
            "asset.extras.tessera",
        ),
        (json!({"tessera": {"sky": "blue"}}), "unknown field"),
        (
            json!({"tessera": {"environmentMap": {"bufferView": 999}}}),
            "does not exist",
        ),
        (
            json!({"tessera": {"environmentMap": {"bufferView": 0}}}),
            "environment map",
        ),
    ] {
        let e = read_look(&with(extras.clone()), &limits).expect_err("refused");
        assert!(e.to_string().contains(needle), "{extras}: {e}");
        let s = settings(8, 8, 1, 1);
        assert!(tessera_render::load_job_scene(&with(extras), &s, 0, limits.clone()).is_err());
    }
    // An environment map has a texel budget of its own, checked from its header.
    let hdr = tessera_render::scene::write_hdr(64, 32, &[[1.0f32; 3]; 64 * 32]);
    let big = tessera_render::scene::embed_look(
        &testscenes::cornell_box(),
        24.0,
        [1.0; 3],
        Some(&hdr),
        &limits,
    )
    .expect("embed");
    let small = tessera_render::Limits {
        max_environment_texels: 1024,
        ..tessera_render::Limits::default()
    };
    let e = read_look(&big, &small).expect_err("map over budget");
    assert!(
        e.to_string().contains("environment map limit of 1024"),
        "{e}"
    );
    // Writing a look checks it too: a NaN frame rate is not quietly the default.
    let e = tessera_render::scene::embed_look(
        &testscenes::cornell_box(),
        f32::NAN,
        [1.0; 3],
        None,
        &limits,
    )
    .expect_err("NaN fps");
    assert!(e.to_string().contains("fps NaN"), "{e}");
    assert!(
        read_look(b"glTF", &limits).is_err(),
        "a truncated header is an error, not a panic"
    );
    for extras in [json!("made by hand"), json!(42), json!({"author": "me"})] {
        assert_eq!(
            read_look(&with(extras), &limits).expect("default"),
            tessera_render::Look::default()
        );
    }
}

/// The mean of channel `c` over the centre 8 x 8 pixels of an N x N image (within 4° of the screen's
/// normal).
fn centre(img: &[f32], c: usize) -> f64 {
    let mut sum = 0.0f64;
    for y in 28..36 {
        for x in 28..36 {
            sum += f64::from(img[((y * N + x) * 3) as usize + c]);
        }
    }
    sum / 64.0
}

/// A screen material that reflects nothing by itself (black, no specular lobe), with `extensions` added.
fn black_with(extensions: Value) -> Value {
    let mut e = json!({"KHR_materials_specular": {"specularFactor": 0.0}});
    for (k, v) in extensions.as_object().into_iter().flatten() {
        e[k] = v.clone();
    }
    json!({"pbrMetallicRoughness": {"baseColorFactor": [0.0, 0.0, 0.0, 1.0], "metallicFactor": 0.0},
        "extensions": e})
}

/// KHR_materials_clearcoat: a smooth coat seen head-on under a sky of radiance 1 reflects its Fresnel
/// weight, F0 = 0.04 (IOR 1.5) times the clearcoat factor, and passes the rest to the layer under it. Over
/// nothing, the pixel is 0.04 (0.02 at factor 0.5, or at factor 1 with a coat texture whose red channel is
/// 0.5); over a white Lambertian layer it is 0.04 + 0.96 x 1: the coat neither creates nor loses light.
/// Emission under the coat loses the coat's share too.
#[test]
fn a_clear_coat_reflects_its_fresnel_weight_and_passes_the_rest() {
    let coat = |factor: f32, texture: bool, base: f32| -> f64 {
        let mut cc = json!({"clearcoatFactor": factor, "clearcoatRoughnessFactor": 0.0});
        let mut images = vec![];
        if texture {
            cc["clearcoatTexture"] = json!({"index": 0});
            images.push(testscenes::png_rgba(1, 1, &[128, 0, 0, 255]));
        }
        let mut m = black_with(json!({"KHR_materials_clearcoat": cc}));
        m["pbrMetallicRoughness"]["baseColorFactor"] = json!([base, base, base, 1.0]);
        let samplers = if texture {
            vec![sampler(REPEAT)]
        } else {
            vec![]
        };
        let glb = testscenes::screen(m, &images, &samplers, &[]);
        let s = settings(N, N, 64, 4);
        centre(&render(&load(&glb, &s, [1.0; 3], 0), &s).pixels, 1)
    };
    let bare = coat(1.0, false, 0.0);
    assert!((bare - 0.04).abs() < 0.002, "coat alone: {bare}");
    let half = coat(0.5, false, 0.0);
    assert!((half - 0.02).abs() < 0.0015, "coat 0.5: {half}");
    // 128/255 in the linear red channel (the coat texture holds data, not sRGB).
    let textured = coat(1.0, true, 0.0);
    let want = 0.04 * 128.0 / 255.0;
    assert!(
        (textured - want).abs() < 0.0015,
        "coat texture: {textured}, expected {want}"
    );
    // Emission sits under the coat: a coated emitter of radiance 1 seen head-on in a black sky shows 0.96.
    let mut lamp = black_with(json!({"KHR_materials_clearcoat": {"clearcoatFactor": 1.0}}));
    lamp["emissiveFactor"] = json!([1.0, 1.0, 1.0]);
    let glb = testscenes::screen(lamp, &[], &[], &[]);
    let s = settings(N, N, 16, 4);
    let lit = centre(&render(&load(&glb, &s, [0.0; 3], 0), &s).pixels, 1);
    assert!((lit - 0.96).abs() < 1e-3, "coated emission: {lit}");
    let over_white = coat(1.0, false, 1.0);
    assert!(
        (over_white - 1.0).abs() < 0.01,
        "coat over white: {over_white}, expected 0.04 + 0.96"
    );
}

/// The albedo of the white sheen lobe (Charlie distribution, Charlie visibility clamped to [0, 1]) seen at
/// cosine `mu` with sheen roughness `r`, by numerical integration in f64: the reference the kernel's
/// table must meet.
fn sheen_albedo(mu: f64, r: f64) -> f64 {
    let a = r.max(0.07).powi(2);
    let fit = |x: f64| {
        let t = (1.0 - a) * (1.0 - a);
        let p: Vec<f64> = [
            (21.5473, 25.3245),
            (3.82987, 3.32435),
            (0.19823, 0.16801),
            (-1.97760, -1.27393),
            (-4.32054, -4.85967),
        ]
        .iter()
        .map(|(p1, p0)| p1 + (p0 - p1) * t)
        .collect();
        p[0] / (1.0 + p[1] * x.powf(p[2])) + p[3] * x + p[4]
    };
    let lambda = |c: f64| {
        if c < 0.5 {
            fit(c).exp()
        } else {
            (2.0 * fit(0.5) - fit(1.0 - c)).exp()
        }
    };
    let v = [(1.0 - mu * mu).max(0.0).sqrt(), 0.0, mu];
    let (nt, np) = (400, 200);
    let mut sum = 0.0;
    for i in 0..nt {
        let cl = (i as f64 + 0.5) / nt as f64;
        let sl = (1.0 - cl * cl).sqrt();
        for j in 0..np {
            let ph = (j as f64 + 0.5) / np as f64 * std::f64::consts::TAU;
            let l = [sl * ph.cos(), sl * ph.sin(), cl];
            let h = [l[0] + v[0], l[1] + v[1], l[2] + v[2]];
            let len = (h[0] * h[0] + h[1] * h[1] + h[2] * h[2]).sqrt();
            let nh = h[2] / len;
            let d =
                (2.0 + 1.0 / a) * (1.0 - nh * nh).max(0.0).powf(0.5 / a) / std::f64::consts::TAU;
            let vis = (1.0 / ((1.0 + lambda(mu) + lambda(cl)) * 4.0 * mu * cl)).clamp(0.0, 1.0);
            sum += d * vis * cl;
        }
    }
    sum / nt as f64 * std::f64::consts::TAU / np as f64
}

/// KHR_materials_sheen: under a sky of radiance 1, a white sheen seen head-on over nothing shows the sheen
/// lobe's albedo E(1, r); over a white Lambertian layer, a red sheen adds E to the red channel and scales
/// the layer under it by 1 - E or less in every channel (the extension's albedo scaling), so red - green is
/// E again. The sheen colour texture holds sRGB colour, its roughness texture is read in alpha.
#[test]
fn sheen_adds_its_lobe_and_scales_the_layer_under_it() {
    let s = settings(N, N, 256, 4);
    let run = |m: Value, images: &[Vec<u8>]| {
        let samplers: Vec<Value> = images.iter().map(|_| sampler(REPEAT)).collect();
        let glb = testscenes::screen(m, images, &samplers, &[]);
        render(&load(&glb, &s, [1.0; 3], 0), &s).pixels
    };
    for r in [0.3f32, 0.7] {
        let want = sheen_albedo(1.0, f64::from(r));
        let img = run(
            black_with(json!({"KHR_materials_sheen":
                {"sheenColorFactor": [1.0, 1.0, 1.0], "sheenRoughnessFactor": r}})),
            &[],
        );
        let got = centre(&img, 0);
        assert!(
            (got - want).abs() < 0.01 * want.max(0.1),
            "white sheen, roughness {r}: {got}, expected E = {want}"
        );
    }
    let r = 0.5;
    let e = sheen_albedo(1.0, r);
    // The same sheen from textures: colour (1, 0, 0) in sRGB, roughness 0.5 in alpha (128/255).
    let mut from_textures = json!({"pbrMetallicRoughness": {"baseColorFactor": [1.0, 1.0, 1.0, 1.0],
            "metallicFactor": 0.0},
        "extensions": {"KHR_materials_specular": {"specularFactor": 0.0},
            "KHR_materials_sheen": {"sheenColorFactor": [1.0, 1.0, 1.0], "sheenRoughnessFactor": 1.0,
                "sheenColorTexture": {"index": 0}, "sheenRoughnessTexture": {"index": 1}}}});
    let tex = [
        testscenes::png_rgba(1, 1, &[255, 0, 0, 255]),
        testscenes::png_rgba(1, 1, &[0, 0, 0, 128]),
    ];
    let textured = run(from_textures.take(), &tex);
    let e_tex = sheen_albedo(1.0, 128.0 / 255.0);
    let (red, green) = (centre(&textured, 0), centre(&textured, 1));
    assert!(
        (red - green - e_tex).abs() < 0.01,
        "red - green {} against E {e_tex}",
        red - green
    );
    assert!(
        green < 1.0 - e_tex + 0.01 && green > 0.3,
        "the white layer under the sheen, scaled: {green}"
    );
    let mut m = black_with(json!({"KHR_materials_sheen":
        {"sheenColorFactor": [1.0, 0.0, 0.0], "sheenRoughnessFactor": r}}));
    m["pbrMetallicRoughness"]["baseColorFactor"] = json!([1.0, 1.0, 1.0, 1.0]);
    let img = run(m, &[]);
    let (red, green) = (centre(&img, 0), centre(&img, 1));
    assert!(
        (red - green - e).abs() < 0.01,
        "red - green {} against E {e}",
        red - green
    );
}

/// The kernel's sheen albedo table (TS_SHEEN_E, from scripts/sheen-albedo.py) is the integral it claims:
/// each entry within 1% (or 1e-3) of the f64 integration here.
#[test]
fn the_sheen_albedo_table_is_the_lobes_albedo() {
    let values: Vec<f64> = crate::common::kernel_table("TS_SHEEN_E")
        .into_iter()
        .map(f64::from)
        .collect();
    assert_eq!(values.len(), 512);
    for (j, i) in [
        (0usize, 31usize),
        (3, 5),
        (7, 20),
        (10, 31),
        (15, 0),
        (15, 16),
    ] {
        let (mu, r) = ((i as f64 / 31.0).max(1e-4), j as f64 / 15.0);
        let want = sheen_albedo(mu, r);
        let got = values[j * 32 + i];
        assert!(
            (got - want).abs() <= (0.01 * want).max(1e-3),
            "E(mu {mu}, r {r}): table {got}, integral {want}"
        );
    }
}

/// KHR_materials_unlit: the surface shows its base colour (factor x texture x COLOR_0) whatever the
/// light, ignores emission, and, as Blender imports it (emission for camera rays, transparent to all
/// others), neither casts shadows nor shows in reflections: a floor lit through an unlit panel renders
/// exactly as without it.
#[test]
fn an_unlit_surface_shows_its_base_colour_and_hides_from_light() {
    let m = json!({"pbrMetallicRoughness": {"baseColorFactor": [0.2, 0.5, 0.8, 1.0]},
        "emissiveFactor": [1.0, 1.0, 1.0],
        "extensions": {"KHR_materials_unlit": {}}});
    let glb = testscenes::screen(m, &[], &[], &[]);
    let s = settings(N, N, 4, 4);
    let img = render(&load(&glb, &s, [3.0; 3], 0), &s);
    for p in img.pixels.chunks(3) {
        assert_eq!(p, [0.2, 0.5, 0.8], "unlit pixel");
    }
    // A floor of albedo 0.5 lit by a point light 4 units above the image centre, with and without an unlit
    // panel between the light and the floor (behind the camera, which is 2 units above the floor).
    let lit = |panel: bool| {
        let s1 = 1000.0;
        let mut meshes = vec![testscenes::quad(
            [-s1, 0.0, s1],
            [s1, 0.0, s1],
            [s1, 0.0, -s1],
            [-s1, 0.0, -s1],
            0,
        )];
        if panel {
            meshes.push(testscenes::quad(
                [-2.0, 3.0, -2.0],
                [2.0, 3.0, -2.0],
                [2.0, 3.0, 2.0],
                [-2.0, 3.0, 2.0],
                1,
            ));
        }
        let h = std::f32::consts::FRAC_1_SQRT_2;
        let glb = testscenes::write_glb(
            &meshes,
            &[
                SimpleMaterial::lambert([0.5; 3]),
                SimpleMaterial::lambert([1.0; 3]),
            ],
            Some(testscenes::SimpleCamera {
                eye: [0.0, 2.0, 0.0],
                rotation: [-h, 0.0, 0.0, h],
                yfov: 0.5,
            }),
            &[PointLight {
                position: [0.0, 4.0, 0.0],
                intensity: 2000.0,
            }],
        );
        let (mut doc, bin) = testscenes::unpack_glb(&glb);
        doc["materials"][1]["extensions"]["KHR_materials_unlit"] = json!({});
        let s = settings(16, 16, 8, 4);
        render(&load(&testscenes::pack_glb(&doc, bin), &s, [0.0; 3], 0), &s).pixels
    };
    let open = lit(false);
    assert!(open.iter().all(|v| *v > 0.0));
    assert_eq!(open, lit(true), "the unlit panel changed the lit floor");
}

/// The coat, sheen and volume extensions' factors are checked like the core ones: outside [0, 1] (or an
/// attenuation distance not above 0), or a texture index that names no texture, is refused with the
/// material and the factor named.
#[test]
fn coat_and_sheen_factors_outside_their_range_are_refused() {
    let refused = |ext: Value, what: &str| {
        let glb = testscenes::screen(black_with(ext), &[], &[], &[]);
        let opts = tessera_render::LoadOptions {
            aspect: 1.0,
            ..tessera_render::LoadOptions::default()
        };
        let err = tessera_render::load_glb(&glb, &opts).expect_err("refused");
        assert!(err.to_string().contains(what), "{err}");
    };
    refused(
        json!({"KHR_materials_clearcoat": {"clearcoatFactor": 1.5}}),
        "clearcoatFactor",
    );
    refused(
        json!({"KHR_materials_clearcoat": {"clearcoatRoughnessFactor": -0.1}}),
        "clearcoatRoughnessFactor",
    );
    refused(
        json!({"KHR_materials_sheen": {"sheenColorFactor": [0.5, 2.0, 0.5]}}),
        "sheenColorFactor",
    );
    refused(
        json!({"KHR_materials_sheen": {"sheenRoughnessFactor": 3.0}}),
        "sheenRoughnessFactor",
    );
    refused(
        json!({"KHR_materials_clearcoat": {"clearcoatFactor": 1.0, "clearcoatTexture": {"index": 7}}}),
        "clearcoatTexture names texture 7, which does not exist",
    );
    refused(
        json!({"KHR_materials_sheen": {"sheenColorFactor": "red"}}),
        "KHR_materials_sheen",
    );
    refused(
        json!({"KHR_materials_volume": {"thicknessFactor": 1.0, "attenuationDistance": 0.0}}),
        "attenuationDistance",
    );
    // 1e39 overflows f32 to infinity: no thickness.
    refused(
        json!({"KHR_materials_volume": {"thicknessFactor": 1e39}}),
        "thicknessFactor",
    );
    // An extension is an object: not an array serde would read field by field, not `false`.
    refused(
        json!({"KHR_materials_clearcoat": [1.0]}),
        "KHR_materials_clearcoat",
    );
    refused(
        json!({"KHR_materials_sheen": [[1.0, 0.0, 0.0], null, 0.5]}),
        "KHR_materials_sheen",
    );
    refused(json!({"KHR_materials_unlit": false}), "KHR_materials_unlit");
    refused(
        json!({"KHR_materials_volume": {"thicknessFactor": 1.0, "attenuationColor": [2.0, 0.5, 0.5]}}),
        "attenuationColor",
    );
}

/// KHR_materials_volume's attenuation: a clear glass slab of thickness 1 (two faces bounding a volume) seen
/// head-on under a sky of radiance 1 passes `T = (1 - F)² c / (1 - F² c²)` and reflects
/// `R = F + (1 - F)² F c² / (1 - F² c²)` (all orders of reflection between its faces), where F = 0.04 and
/// `c = attenuationColor^(1 / attenuationDistance)` is what one crossing leaves (Beer-Lambert). With no
/// attenuation R + T is the sky, 1; with colour (0.5, 0.25, 1) at distance 1 the red channel is 0.5102, the
/// green 0.2725 and the blue 1; at distance 2 the red channel is the square root's share.
#[test]
fn a_volume_attenuates_light_by_beer_lambert() {
    let look = |color: [f32; 3], distance: Option<f32>| -> Vec<f64> {
        let s1 = 2.0;
        let front = testscenes::quad(
            [-s1, -s1, 0.0],
            [s1, -s1, 0.0],
            [s1, s1, 0.0],
            [-s1, s1, 0.0],
            0,
        );
        let back = testscenes::quad(
            [-s1, -s1, -1.0],
            [-s1, s1, -1.0],
            [s1, s1, -1.0],
            [s1, -s1, -1.0],
            0,
        );
        let glb = testscenes::write_glb(
            &[front, back],
            &[SimpleMaterial::lambert([1.0; 3])],
            Some(testscenes::SimpleCamera {
                eye: [0.0, 0.0, 3.0],
                rotation: [0.0, 0.0, 0.0, 1.0],
                yfov: 0.5,
            }),
            &[],
        );
        let (mut doc, bin) = testscenes::unpack_glb(&glb);
        let mut m = glass([1.0; 3], 1.5, true);
        m["extensions"]["KHR_materials_volume"]["attenuationColor"] = json!(color);
        if let Some(d) = distance {
            m["extensions"]["KHR_materials_volume"]["attenuationDistance"] = json!(d);
        }
        doc["materials"][0] = m;
        let s = settings(N, N, 64, 16);
        let img = render(&load(&testscenes::pack_glb(&doc, bin), &s, [1.0; 3], 0), &s);
        (0..3).map(|c| centre(&img.pixels, c)).collect()
    };
    let slab = |c: f64| {
        let f = 0.04;
        let t = (1.0 - f) * (1.0 - f) * c / (1.0 - f * f * c * c);
        let r = f + (1.0 - f) * (1.0 - f) * f * c * c / (1.0 - f * f * c * c);
        r + t
    };
    let clear = look([1.0; 3], None);
    for v in &clear {
        assert!((v - 1.0).abs() < 0.01, "clear slab: {clear:?}");
    }
    let tinted = look([0.5, 0.25, 1.0], Some(1.0));
    for (c, want) in [(0, slab(0.5)), (1, slab(0.25)), (2, 1.0)] {
        assert!(
            (tinted[c] - want).abs() < 0.01,
            "channel {c}: {}, expected {want}",
            tinted[c]
        );
    }
    // A colour of 0 absorbs all that enters, at any distance: only the front face's reflection is left.
    let black = look([0.0, 0.25, 1.0], Some(1000.0));
    assert!(
        (black[0] - slab(0.0)).abs() < 0.005,
        "red through a colour of 0: {}, expected {}",
        black[0],
        slab(0.0)
    );
    let far = look([0.5, 0.25, 1.0], Some(2.0));
    assert!(
        (far[0] - slab(0.5f64.sqrt())).abs() < 0.01,
        "red at distance 2: {}, expected {}",
        far[0],
        slab(0.5f64.sqrt())
    );
}

/// An embedded image without the mimeType glTF requires of it (§5.17) is refused by name, not a panic
/// in the gltf crate; and a file whose JSON does not parse is called invalid glTF JSON, not a bad look,
/// though the look is read first.
#[test]
fn an_image_without_a_mime_type_and_broken_json_are_named() {
    let glb = testscenes::screen(
        emissive(json!({"index": 0})),
        &[testscenes::split_texture(8)],
        &[sampler(REPEAT)],
        &[],
    );
    let (mut doc, bin) = testscenes::unpack_glb(&glb);
    doc["images"][0]
        .as_object_mut()
        .expect("an image")
        .remove("mimeType");
    let opts = tessera_render::LoadOptions {
        aspect: 1.0,
        ..tessera_render::LoadOptions::default()
    };
    let err =
        tessera_render::load_glb(&testscenes::pack_glb(&doc, bin), &opts).expect_err("refused");
    assert!(err.to_string().contains("has no mimeType"), "{err}");
    let mut broken = glb.clone();
    let colon = broken.iter().position(|&b| b == b':').expect("JSON");
    broken[colon] = b';';
    let err = tessera_render::scene::read_look(&broken, &tessera_render::Limits::default())
        .expect_err("refused");
    assert!(err.to_string().contains("invalid glTF JSON"), "{err}");
}
