//! Writes the fidelity benchmark's scenes (`scripts/bench-fidelity.sh`) into a folder: `complete.glb`, and
//! one small generated scene per feature the renderer draws — lights of each kind and unit, alpha mask and
//! blend, the second UV set, texture transforms, wrap modes, vertex colours, a skinned mesh at a posed frame,
//! morph targets, glass with an IOR, tinted glass (volume attenuation), a clear coat, sheen, an unlit
//! material, an environment map. Each scene carries its look (sky, frame rate) in
//! the GLB, as a job's scene does; `suite.txt` lists `NAME FRAME` a line.
//!
//! `cargo run --release -p tessera-render --example fidelity_scenes DIR`

use serde_json::{Value, json};
use tessera_render::scene::{embed_look, write_hdr};
use tessera_render::testscenes::{self, SimpleMaterial};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    let limits = tessera_render::Limits::default();
    let look =
        |glb: Vec<u8>, env: f32, hdr: Option<&[u8]>| embed_look(&glb, 24.0, [env; 3], hdr, &limits);
    let mut suite: Vec<(String, Vec<u8>, u32)> = Vec::new();

    let complete = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../assets/scenes/complete.glb"
    ))?;
    suite.push(("complete".into(), look(complete, 0.8, None)?, 0));

    let down = [
        -std::f32::consts::FRAC_1_SQRT_2,
        0.0,
        0.0,
        std::f32::consts::FRAC_1_SQRT_2,
    ];
    suite.push((
        "light-point".into(),
        look(
            stage(
                json!(null),
                &[(
                    json!({"type": "point", "intensity": 8000.0, "color": [1.0, 0.9, 0.8]}),
                    [1.2, 2.2, 1.0],
                    [0.0, 0.0, 0.0, 1.0],
                )],
            ),
            0.0,
            None,
        )?,
        0,
    ));
    suite.push((
        "light-spot".into(),
        look(
            stage(
                json!(null),
                &[(
                    json!({"type": "spot", "intensity": 30000.0,
                "spot": {"innerConeAngle": 0.25, "outerConeAngle": 0.5}}),
                    [0.3, 3.0, 0.3],
                    down,
                )],
            ),
            0.0,
            None,
        )?,
        0,
    ));
    // -50° about X: the sun shines down and away from the camera, 50° from the vertical.
    let lean = [-0.422_618_26, 0.0, 0.0, 0.906_307_8];
    suite.push((
        "light-sun".into(),
        look(
            stage(
                json!(null),
                &[(
                    json!({"type": "directional", "intensity": 2000.0}),
                    [0.0, 5.0, 0.0],
                    lean,
                )],
            ),
            0.0,
            None,
        )?,
        0,
    ));

    let disc = {
        let n = 64u32;
        let rgba: Vec<u8> = (0..n * n)
            .flat_map(|i| {
                let (x, y) = ((i % n) as f32 + 0.5 - 32.0, (i / n) as f32 + 0.5 - 32.0);
                [
                    230,
                    120,
                    40,
                    if x * x + y * y < 28.0 * 28.0 { 255 } else { 0 },
                ]
            })
            .collect();
        testscenes::png_rgba(n, n, &rgba)
    };
    let lambert = |extra: Value| {
        let mut m = json!({"pbrMetallicRoughness": {"metallicFactor": 0.0},
            "extensions": {"KHR_materials_specular": {"specularFactor": 0.0}}});
        if let (Some(m), Some(e)) = (m.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                m.insert(k.clone(), v.clone());
            }
        }
        m
    };
    suite.push((
        "alpha-mask".into(),
        look(
            testscenes::screen(
                lambert(json!({"alphaMode": "MASK", "alphaCutoff": 0.5,
                    "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}, "metallicFactor": 0.0}})),
                &[disc],
                &[json!({"wrapS": 33071, "wrapT": 33071})],
                &[],
            ),
            0.6,
            None,
        )?,
        0,
    ));
    suite.push((
        "alpha-blend".into(),
        look(
            testscenes::screen(
                lambert(json!({"alphaMode": "BLEND",
                    "pbrMetallicRoughness": {"baseColorFactor": [0.2, 0.5, 0.9, 0.4], "metallicFactor": 0.0}})),
                &[],
                &[],
                &[],
            ),
            0.6,
            None,
        )?,
        0,
    ));
    let emissive = |tex: Value| {
        json!({"pbrMetallicRoughness": {"baseColorFactor": [0.0, 0.0, 0.0, 1.0], "metallicFactor": 0.0},
            "emissiveFactor": [1.0, 1.0, 1.0], "emissiveTexture": tex,
            "extensions": {"KHR_materials_specular": {"specularFactor": 0.0}}})
    };
    let split = testscenes::split_texture(16);
    suite.push((
        "texcoord-1".into(),
        look(
            testscenes::screen(
                emissive(json!({"index": 0, "texCoord": 1})),
                std::slice::from_ref(&split),
                &[json!({"wrapS": 33071, "wrapT": 33071})],
                &[
                    ("TEXCOORD_0", "VEC2", vec![0.9; 8]),
                    (
                        "TEXCOORD_1",
                        "VEC2",
                        vec![0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
                    ),
                ],
            ),
            0.0,
            None,
        )?,
        0,
    ));
    suite.push((
        "texture-transform".into(),
        look(
            testscenes::screen(
                emissive(json!({"index": 0, "extensions": {"KHR_texture_transform":
                    {"offset": [0.1, 0.2], "rotation": 0.3, "scale": [4.0, 3.0]}}})),
                std::slice::from_ref(&split),
                &[json!({})],
                &[],
            ),
            0.0,
            None,
        )?,
        0,
    ));
    for (name, wrap) in [("wrap-clamp", 33071), ("wrap-mirror", 33648)] {
        suite.push((
            name.into(),
            look(
                testscenes::screen(
                    emissive(json!({"index": 0, "extensions": {"KHR_texture_transform": {"scale": [2.0, 2.0]}}})),
                    std::slice::from_ref(&split),
                    &[json!({"wrapS": wrap, "wrapT": wrap})],
                    &[],
                ),
                0.0,
                None,
            )?,
            0,
        ));
    }
    suite.push((
        "vertex-colours".into(),
        look(
            testscenes::screen(
                lambert(json!({})),
                &[],
                &[],
                &[(
                    "COLOR_0",
                    "VEC4",
                    vec![
                        1.0, 0.1, 0.1, 1.0, 0.1, 0.2, 1.0, 1.0, 0.1, 1.0, 0.2, 1.0, 1.0, 1.0, 0.2,
                        1.0,
                    ],
                )],
            ),
            1.0,
            None,
        )?,
        0,
    ));
    // glTF's default material is a fully rough white metal, which Blender's importer does not create (Cycles
    // draws a mesh without a material in its default grey): these two get a Lambertian one of their own.
    let with_material = |glb: Vec<u8>| {
        let (mut doc, bin) = testscenes::unpack_glb(&glb);
        doc["materials"] = json!([lambert(json!({"pbrMetallicRoughness":
            {"baseColorFactor": [0.8, 0.75, 0.6, 1.0], "metallicFactor": 0.0}}))]);
        if let Some(prims) = doc["meshes"][0]["primitives"].as_array_mut() {
            for p in prims {
                p["material"] = json!(0);
            }
        }
        testscenes::pack_glb(&doc, bin)
    };
    suite.push((
        "skinned".into(),
        look(with_material(testscenes::skinned_strip()), 0.8, None)?,
        24,
    ));
    suite.push((
        "morph".into(),
        look(
            with_material(testscenes::morph_quad(Some(0.75), true)),
            0.8,
            None,
        )?,
        12,
    ));
    suite.push((
        "glass".into(),
        look(
            stage(
                json!({"pbrMetallicRoughness": {"baseColorFactor": [1.0, 1.0, 1.0, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.0},
                    "extensions": {"KHR_materials_transmission": {"transmissionFactor": 1.0},
                        "KHR_materials_ior": {"ior": 1.5}, "KHR_materials_volume": {"thicknessFactor": 1.0}}}),
                &[],
            ),
            0.8,
            None,
        )?,
        0,
    ));
    suite.push((
        "glass-tinted".into(),
        look(
            stage(
                json!({"pbrMetallicRoughness": {"baseColorFactor": [1.0, 1.0, 1.0, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.0},
                    "extensions": {"KHR_materials_transmission": {"transmissionFactor": 1.0},
                        "KHR_materials_ior": {"ior": 1.5}, "KHR_materials_volume": {"thicknessFactor": 1.0,
                            "attenuationColor": [0.9, 0.5, 0.3], "attenuationDistance": 0.8}}}),
                &[],
            ),
            0.8,
            None,
        )?,
        0,
    ));
    let key_light = [(
        json!({"type": "point", "intensity": 6000.0}),
        [1.5, 2.5, 1.5],
        [0.0, 0.0, 0.0, 1.0],
    )];
    suite.push((
        "clearcoat".into(),
        look(
            stage(
                json!({"pbrMetallicRoughness": {"baseColorFactor": [0.7, 0.15, 0.1, 1.0], "metallicFactor": 0.0,
                        "roughnessFactor": 0.7},
                    "extensions": {"KHR_materials_clearcoat": {"clearcoatFactor": 1.0,
                        "clearcoatRoughnessFactor": 0.05}}}),
                &key_light,
            ),
            0.5,
            None,
        )?,
        0,
    ));
    suite.push((
        "sheen".into(),
        look(
            stage(
                json!({"pbrMetallicRoughness": {"baseColorFactor": [0.1, 0.15, 0.5, 1.0], "metallicFactor": 0.0,
                        "roughnessFactor": 0.9},
                    "extensions": {"KHR_materials_sheen": {"sheenColorFactor": [0.9, 0.8, 0.7],
                        "sheenRoughnessFactor": 0.5}}}),
                &key_light,
            ),
            0.5,
            None,
        )?,
        0,
    ));
    suite.push((
        "unlit".into(),
        look(
            stage(
                json!({"pbrMetallicRoughness": {"baseColorFactor": [0.9, 0.5, 0.1, 1.0]},
                    "extensions": {"KHR_materials_unlit": {}}}),
                &key_light,
            ),
            0.5,
            None,
        )?,
        0,
    ));
    // A sky that depends only on latitude (bright and warm above, dark below), so that it reads the same
    // whatever the azimuth convention.
    let (w, h) = (64u32, 32u32);
    let sky: Vec<[f32; 3]> = (0..w * h)
        .map(|i| {
            let v = (i / w) as f32 / (h - 1) as f32; // 0 at the top
            let k = (1.0 - v).powi(2);
            [0.1 + 2.0 * k, 0.1 + 1.6 * k, 0.12 + 1.0 * k]
        })
        .collect();
    let hdr = write_hdr(w, h, &sky);
    suite.push((
        "environment-map".into(),
        embed_look(
            &stage(json!(null), &[]),
            24.0,
            [1.0; 3],
            Some(&hdr),
            &limits,
        )?,
        0,
    ));

    let mut list = String::new();
    for (name, glb, frame) in &suite {
        std::fs::write(dir.join(format!("{name}.glb")), glb)?;
        list.push_str(&format!("{name} {frame}\n"));
    }
    std::fs::write(dir.join("suite.txt"), list)?;
    println!("wrote {} scenes to {}", suite.len(), dir.display());
    Ok(())
}

/// A grey floor and a sphere (red Lambertian unless `sphere` gives its material) seen from above and in
/// front, with the given `KHR_lights_punctual` lights `(light, translation, rotation)`.
fn stage(sphere: Value, lights: &[(Value, [f32; 3], [f32; 4])]) -> Vec<u8> {
    let floor = testscenes::quad(
        [-3.0, 0.0, 3.0],
        [3.0, 0.0, 3.0],
        [3.0, 0.0, -3.0],
        [-3.0, 0.0, -3.0],
        0,
    );
    let ball = testscenes::sphere([0.0, 0.6, 0.0], 0.6, 48, 96, 1);
    let glb = testscenes::write_glb(
        &[floor, ball],
        &[
            SimpleMaterial::lambert([0.6; 3]),
            SimpleMaterial::lambert([0.7, 0.15, 0.1]),
        ],
        Some(testscenes::SimpleCamera {
            eye: [0.0, 1.6, 3.2],
            rotation: [-0.124_674_73, 0.0, 0.0, 0.992_197_7],
            yfov: 0.8,
        }),
        &[],
    );
    let (mut doc, bin) = testscenes::unpack_glb(&glb);
    if !sphere.is_null() {
        doc["materials"][1] = sphere;
        doc["extensionsUsed"] = json!([
            "KHR_materials_transmission",
            "KHR_materials_ior",
            "KHR_materials_volume",
            "KHR_materials_clearcoat",
            "KHR_materials_sheen",
            "KHR_materials_unlit"
        ]);
    }
    let mut glb = testscenes::pack_glb(&doc, bin);
    for (light, at, rotation) in lights {
        glb = testscenes::with_light(&glb, light.clone(), *at, *rotation);
    }
    glb
}
