//! Malformed, truncated, oversized and degenerate scenes give errors that name the problem.

use crate::common::complete_glb;
use serde_json::{Value, json};
use tessera_render::testscenes::{
    self, SimpleMaterial, pack_glb as pack, quad, unpack_glb as unpack,
};
use tessera_render::{Limits, LoadOptions, SceneError, load_glb};

fn load(bytes: &[u8]) -> Result<tessera_render::Scene, SceneError> {
    load_glb(bytes, &LoadOptions::default())
}

fn edit(f: impl FnOnce(&mut Value, &mut Vec<u8>)) -> Vec<u8> {
    let (mut doc, mut bin) = unpack(&testscenes::cornell_box());
    f(&mut doc, &mut bin);
    pack(&doc, bin)
}

fn expect_err(bytes: &[u8], needle: &str) {
    match load(bytes) {
        Ok(_) => panic!("expected an error mentioning {needle:?}"),
        Err(e) => assert!(
            e.to_string().contains(needle),
            "error {e:?} does not mention {needle:?}"
        ),
    }
}

#[test]
fn generated_and_packaged_scenes_load() {
    let s = load(&testscenes::cornell_box()).expect("cornell");
    assert_eq!(s.stats.triangles, 32);
    assert_eq!(s.stats.emitters, 2);
    let c = load(&complete_glb()).expect("complete.glb");
    assert!(c.stats.triangles > 19_000, "{:?}", c.stats);
    assert_eq!(c.stats.textures, 2);
    assert_eq!(c.stats.lights, 1);
}

#[test]
fn garbage_and_truncation_are_malformed() {
    expect_err(b"", "malformed glTF");
    expect_err(b"not a gltf file at all", "malformed glTF");
    let glb = testscenes::cornell_box();
    for cut in [4, 12, 19, 40, glb.len() / 2, glb.len() - 1] {
        assert!(load(&glb[..cut]).is_err(), "truncated at {cut}");
    }
}

#[test]
fn external_buffers_and_images_are_refused() {
    let bytes = edit(|doc, _| doc["buffers"][0]["uri"] = json!("scene.bin"));
    expect_err(&bytes, "external URI");
}

#[test]
fn accessors_past_their_data_are_out_of_bounds() {
    let bytes = edit(|doc, _| doc["accessors"][0]["count"] = json!(1_000_000_000u64));
    expect_err(&bytes, "out of bounds");
    let bytes = edit(|doc, _| doc["bufferViews"][0]["byteLength"] = json!(1u64 << 40));
    expect_err(&bytes, "out of bounds");
    let bytes = edit(|doc, bin| {
        doc["buffers"][0]["byteLength"] = json!(bin.len() + 4096);
    });
    expect_err(&bytes, "out of bounds");
}

#[test]
fn indices_past_the_vertices_are_out_of_bounds() {
    let bytes = edit(|_, bin| {
        // The first mesh's indices follow its 4 positions and 4 normals (2 x 48 bytes).
        bin[96..100].copy_from_slice(&77u32.to_le_bytes());
    });
    expect_err(&bytes, "index is out of bounds");
}

#[test]
fn limits_are_enforced_before_allocation() {
    let glb = testscenes::cornell_box();
    let small = |f: fn(&mut Limits)| {
        let mut opts = LoadOptions::default();
        f(&mut opts.limits);
        load_glb(&glb, &opts)
            .expect_err("over the limit")
            .to_string()
    };
    assert!(small(|l| l.max_triangles = 10).contains("triangles (declared, every instance) is 32"));
    assert!(small(|l| l.max_file_bytes = 100).contains("file size"));
    assert!(small(|l| l.max_vertices = 10).contains("vertices"));
    assert!(small(|l| l.max_items = 3).contains("above the limit"));
    let mut opts = LoadOptions::default();
    opts.limits.max_texture_side = 64;
    let e = load_glb(&complete_glb(), &opts)
        .expect_err("textures too big")
        .to_string();
    assert!(e.contains("texture side limit"), "{e}");
}

#[test]
fn non_finite_numbers_are_rejected() {
    let bytes = edit(|_, bin| bin[0..4].copy_from_slice(&f32::NAN.to_le_bytes()));
    expect_err(&bytes, "non-finite");
    let bytes = edit(|_, bin| bin[4..8].copy_from_slice(&f32::INFINITY.to_le_bytes()));
    expect_err(&bytes, "non-finite");
    let e = load_glb(
        &testscenes::cornell_box(),
        &LoadOptions {
            environment: [f32::NAN, 0.0, 0.0],
            ..LoadOptions::default()
        },
    )
    .expect_err("nan env")
    .to_string();
    assert!(e.contains("environment"), "{e}");
}

#[test]
fn degenerate_triangles_are_dropped_and_an_all_degenerate_scene_is_empty() {
    let flat = testscenes::write_glb(
        &[quad([0.0; 3], [0.0; 3], [0.0; 3], [0.0; 3], 0)],
        &[SimpleMaterial::lambert([0.5; 3])],
        None,
        &[],
    );
    expect_err(&flat, "no triangles");
    let mixed = testscenes::write_glb(
        &[
            quad([0.0; 3], [0.0; 3], [0.0; 3], [0.0; 3], 0),
            quad(
                [0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
                [1.0, 1.0, 0.0],
                [0.0, 1.0, 0.0],
                0,
            ),
        ],
        &[SimpleMaterial::lambert([0.5; 3])],
        None,
        &[],
    );
    let s = load(&mixed).expect("two good triangles");
    assert_eq!((s.stats.triangles, s.stats.degenerate), (2, 2));
}

#[test]
fn degenerate_cameras_are_errors() {
    let bytes = edit(|doc, _| doc["cameras"][0]["perspective"]["yfov"] = json!(0.0));
    expect_err(&bytes, "camera");
    let bytes = edit(|doc, _| {
        doc["cameras"][0] = json!({"type": "orthographic", "orthographic": {"xmag": 1.0, "ymag": 1.0, "znear": 0.1, "zfar": 10.0}});
    });
    expect_err(&bytes, "orthographic");
    let bytes = edit(|doc, _| {
        let n = doc["nodes"].as_array().expect("nodes").len() - 1;
        doc["nodes"][n]["scale"] = json!([0.0, 0.0, 0.0]);
    });
    expect_err(&bytes, "degenerate transform");
    let e = load_glb(
        &testscenes::cornell_box(),
        &LoadOptions {
            aspect: 0.0,
            ..LoadOptions::default()
        },
    )
    .expect_err("aspect")
    .to_string();
    assert!(e.contains("aspect"), "{e}");
}

#[test]
fn absurd_render_settings_are_rejected() {
    let mut s = crate::common::settings(64, 64, 1, 1);
    s.width = 100_000;
    assert!(
        s.validate()
            .expect_err("width")
            .to_string()
            .contains("width")
    );
    s.width = 64;
    s.samples_per_pixel = 0;
    assert!(s.validate().is_err());
}

#[test]
fn texture_headers_declaring_huge_images_fail_before_decoding() {
    // Rewrite the first PNG or JPEG header in complete.glb to claim 60000 x 60000 pixels.
    let (doc, mut bin) = unpack(&complete_glb());
    let view = doc["images"][0]["bufferView"].as_u64().expect("image view") as usize;
    let off = doc["bufferViews"][view]["byteOffset"].as_u64().unwrap_or(0) as usize;
    let img = &mut bin[off..];
    if img.starts_with(&[0xff, 0xd8]) {
        // Find the SOF0/SOF2 marker and patch height and width.
        let mut i = 2;
        while i + 9 < img.len() {
            if img[i] == 0xff && (img[i + 1] == 0xc0 || img[i + 1] == 0xc2) {
                img[i + 5..i + 7].copy_from_slice(&60_000u16.to_be_bytes());
                img[i + 7..i + 9].copy_from_slice(&60_000u16.to_be_bytes());
                break;
            }
            i += 1;
        }
    } else {
        img[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        img[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    }
    let e = load(&pack(&doc, bin)).expect_err("huge image").to_string();
    assert!(e.contains("image 0") && e.contains("limit"), "{e}");
}

/// `KHR_lights_punctual` requires `0 <= innerConeAngle < outerConeAngle <= π/2` and non-negative colours and
/// intensities: a light that breaks them is refused with the light and the rule named.
#[test]
fn lights_outside_khr_lights_punctual_ranges_are_refused() {
    let down = [
        -std::f32::consts::FRAC_1_SQRT_2,
        0.0,
        0.0,
        std::f32::consts::FRAC_1_SQRT_2,
    ];
    let with =
        |light: Value| testscenes::with_light(&testscenes::cornell_box(), light, [0.0; 3], down);
    for (inner, outer) in [(0.5, 0.4), (0.4, 0.4), (-0.1, 0.4), (0.1, 1.7)] {
        expect_err(
            &with(
                json!({"type": "spot", "spot": {"innerConeAngle": inner, "outerConeAngle": outer}}),
            ),
            "0 <= innerConeAngle < outerConeAngle <= π/2",
        );
    }
    expect_err(
        &with(json!({"type": "point", "intensity": -1.0})),
        "must not be negative",
    );
    expect_err(
        &with(json!({"type": "point", "color": [1.0, -0.5, 1.0]})),
        "must not be negative",
    );
    let ok = load(&with(
        json!({"type": "spot", "spot": {"outerConeAngle": 0.3}}),
    ))
    .expect("defaults");
    assert_eq!(ok.stats.lights, 1);
}
