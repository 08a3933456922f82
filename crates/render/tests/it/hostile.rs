//! Hostile scenes: small files that describe huge or silently wrong work. Each generator below writes the
//! smallest `.glb` that shows one case (from the Cornell box of `testscenes`), and each test asserts the
//! loader refuses it before doing the work, with an error that names the rule or the budget.

use serde_json::{Value, json};
use tessera_render::testscenes::{self, pack_glb as pack, unpack_glb as unpack};
use tessera_render::{LoadOptions, SceneError, load_glb};

fn load(bytes: &[u8]) -> Result<tessera_render::Scene, SceneError> {
    load_glb(bytes, &LoadOptions::default())
}

fn refused(bytes: &[u8], needle: &str) -> String {
    let e = load(bytes)
        .err()
        .unwrap_or_else(|| panic!("expected an error mentioning {needle:?}"))
        .to_string();
    assert!(
        e.contains(needle),
        "error {e:?} does not mention {needle:?}"
    );
    e
}

/// The Cornell box, with `f` applied to its JSON and binary chunk.
fn cornell(f: impl FnOnce(&mut Value, &mut Vec<u8>)) -> Vec<u8> {
    let (mut doc, mut bin) = unpack(&testscenes::cornell_box());
    f(&mut doc, &mut bin);
    pack(&doc, bin)
}

/// Appends `bytes` to the binary chunk as a new buffer view (4-byte aligned); returns its index.
fn add_view(doc: &mut Value, bin: &mut Vec<u8>, bytes: &[u8]) -> usize {
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    let view = json!({"buffer": 0, "byteOffset": bin.len(), "byteLength": bytes.len()});
    let i = push(doc, "bufferViews", view);
    bin.extend_from_slice(bytes);
    doc["buffers"][0]["byteLength"] = json!(bin.len());
    i
}

fn push(doc: &mut Value, key: &str, item: Value) -> usize {
    if doc[key].is_null() {
        doc[key] = json!([]);
    }
    let a = doc[key].as_array_mut().expect("array");
    a.push(item);
    a.len() - 1
}

/// The instancing bomb: `levels` levels of two nodes, each listing both nodes of the next level as children,
/// the last level holding mesh 0: 2^levels instances in a few kilobytes.
fn instancing_bomb(levels: usize) -> Vec<u8> {
    cornell(|doc, _| {
        let first = doc["nodes"].as_array().expect("nodes").len();
        for l in 0..levels {
            for _ in 0..2 {
                let node = if l + 1 < levels {
                    let next = first + 2 * (l + 1);
                    json!({"children": [next, next + 1]})
                } else {
                    json!({"mesh": 0})
                };
                push(doc, "nodes", node);
            }
        }
        doc["scenes"][0]["nodes"] = json!([first]);
    })
}

#[test]
fn an_instancing_bomb_is_refused_as_a_node_graph_that_is_not_a_forest() {
    let bomb = instancing_bomb(41);
    let base = testscenes::cornell_box().len();
    assert!(
        bomb.len() < base + 4096,
        "{} bytes over the box",
        bomb.len() - base
    );
    let started = std::time::Instant::now();
    refused(&bomb, "is a child of node");
    refused(&bomb, "must be a forest");
    // Refused before any walk, not after a budget ran out.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn cycles_and_roots_with_parents_are_refused() {
    // A node that is its own child, and a two-node cycle.
    let own = cornell(|doc, _| {
        let n = push(doc, "nodes", json!({}));
        doc["nodes"][n]["children"] = json!([n]);
    });
    refused(&own, "own ancestor");
    let pair = cornell(|doc, _| {
        let a = push(doc, "nodes", json!({}));
        let b = push(doc, "nodes", json!({"children": [a]}));
        doc["nodes"][a]["children"] = json!([b]);
    });
    refused(&pair, "own ancestor");
    // A scene root that is some node's child: a second instance of it.
    let rooted = cornell(|doc, _| {
        let child = doc["scenes"][0]["nodes"][0].clone();
        push(doc, "nodes", json!({"children": [child]}));
        let parent = doc["nodes"].as_array().expect("nodes").len() - 1;
        doc["scenes"][0]["nodes"]
            .as_array_mut()
            .expect("roots")
            .push(json!(parent));
    });
    refused(&rooted, "as a root, but it is a child of node");
    let twice = cornell(|doc, _| {
        let first = doc["scenes"][0]["nodes"][0].clone();
        doc["scenes"][0]["nodes"]
            .as_array_mut()
            .expect("roots")
            .push(first);
    });
    refused(&twice, "twice");
}

/// Sparse values over the first mesh's four positions, at `indices` (u32).
fn sparse_positions(indices: &[u32]) -> Vec<u8> {
    cornell(|doc, bin| {
        let ix: Vec<u8> = indices.iter().flat_map(|i| i.to_le_bytes()).collect();
        let values: Vec<u8> = indices
            .iter()
            .flat_map(|_| [0.1f32, 0.2, 0.3])
            .flat_map(f32::to_le_bytes)
            .collect();
        let iv = add_view(doc, bin, &ix);
        let vv = add_view(doc, bin, &values);
        doc["accessors"][0]["sparse"] = json!({
            "count": indices.len(),
            "indices": {"bufferView": iv, "componentType": 5125},
            "values": {"bufferView": vv}
        });
    })
}

#[test]
fn sparse_indices_must_strictly_increase_and_stay_inside_the_accessor() {
    load(&sparse_positions(&[0, 2])).expect("a valid sparse accessor loads");
    let e = refused(&sparse_positions(&[3, 2, 1, 0]), "strictly increase");
    assert!(e.contains("accessor 0"), "{e}");
    refused(
        &sparse_positions(&[9]),
        "index 0 is 9, past the accessor's 4 elements",
    );
    refused(&sparse_positions(&[1, 1]), "strictly increase");
}

#[test]
fn declared_work_is_bounded_before_anything_is_read() {
    // An index list with no buffer behind it (a sparse accessor of one value over 90 million zeros): 30
    // million degenerate triangles that used to be read (and dropped) before being counted.
    let zeros = cornell(|doc, bin| {
        let ia = doc["meshes"][0]["primitives"][0]["indices"]
            .as_u64()
            .expect("indices") as usize;
        let iv = add_view(doc, bin, &0u32.to_le_bytes());
        let vv = add_view(doc, bin, &0u32.to_le_bytes());
        doc["accessors"][ia] = json!({
            "componentType": 5125, "count": 90_000_000u64, "type": "SCALAR",
            "sparse": {"count": 1, "indices": {"bufferView": iv, "componentType": 5125}, "values": {"bufferView": vv}}
        });
    });
    assert!(zeros.len() < testscenes::cornell_box().len() + 1024);
    refused(&zeros, "triangles (declared, every instance) is 30000");
    // 50 million keyframes in a few hundred bytes (zeros, one sparse value each).
    let keys = cornell(|doc, bin| {
        let iv = add_view(doc, bin, &0u32.to_le_bytes());
        let vv = add_view(doc, bin, &[0u8; 12]);
        let sparse = json!({"count": 1, "indices": {"bufferView": iv, "componentType": 5125}, "values": {"bufferView": vv}});
        let t = push(
            doc,
            "accessors",
            json!({"componentType": 5126, "count": 50_000_000u64, "type": "SCALAR", "min": [0.0], "max": [0.0], "sparse": sparse}),
        );
        let v = push(
            doc,
            "accessors",
            json!({"componentType": 5126, "count": 50_000_000u64, "type": "VEC3", "sparse": sparse}),
        );
        doc["animations"] = json!([{
            "channels": [{"sampler": 0, "target": {"node": 0, "path": "translation"}}],
            "samplers": [{"input": t, "output": v}]
        }]);
    });
    refused(&keys, "animation keyframes (declared) is 100000000");
    // Under the budget, the same shapes are fine.
    let mut opts = LoadOptions::default();
    opts.limits.max_triangles = 31;
    let e = load_glb(&testscenes::cornell_box(), &opts)
        .expect_err("32 declared triangles")
        .to_string();
    assert!(e.contains("triangles (declared"), "{e}");
}

#[test]
fn thousands_of_errors_make_a_bounded_message() {
    // 20,000 meshes whose primitives name a missing material: the parser reports each one.
    let noisy = cornell(|doc, _| {
        for _ in 0..20_000 {
            push(
                doc,
                "meshes",
                json!({"primitives": [{"attributes": {"POSITION": 0}, "material": 999_999}]}),
            );
        }
    });
    let e = refused(&noisy, "more bytes");
    assert!(e.len() < 1200, "{} bytes", e.len());
}

/// CRC-32 (ISO-HDLC, PNG's chunk checksum) of `bytes`.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A PNG whose header declares `width` x `height` RGBA pixels, and which holds none of them.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA, deflate, no filter, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    png.extend_from_slice(&0u32.to_be_bytes());
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    png
}

/// The Cornell box with its first mesh's material textured by `png`.
fn textured(png: &[u8]) -> Vec<u8> {
    cornell(|doc, bin| {
        let v = add_view(doc, bin, png);
        let image = push(
            doc,
            "images",
            json!({"bufferView": v, "mimeType": "image/png"}),
        );
        let texture = push(doc, "textures", json!({"source": image}));
        let m = doc["meshes"][0]["primitives"][0]["material"]
            .as_u64()
            .expect("material") as usize;
        doc["materials"][m]["pbrMetallicRoughness"]["baseColorTexture"] = json!({"index": texture});
    })
}

#[test]
fn texture_memory_is_budgeted_in_bytes_from_the_header() {
    // 12,000 x 12,000: within the side limit and the texel count, but 2.9 GB as floats and decoder buffer.
    let big = textured(&png_declaring(12_000, 12_000));
    assert!(big.len() < testscenes::cornell_box().len() + 1024);
    let e = refused(&big, "bytes of memory");
    assert!(e.contains("image 0"), "{e}");
    // A small one passes the budget (and then fails on its missing pixels, by name).
    let e = refused(&textured(&png_declaring(4, 4)), "image 0");
    assert!(!e.contains("bytes of memory"), "{e}");
}

/// A zeros accessor of `count` elements of `ty` (one sparse value), a few bytes in the file.
fn zeros(doc: &mut Value, bin: &mut Vec<u8>, count: u64, ty: &str, min_max: bool) -> usize {
    let width = match ty {
        "SCALAR" => 4,
        "VEC2" => 8,
        _ => 12,
    };
    let iv = add_view(doc, bin, &0u32.to_le_bytes());
    let vv = add_view(doc, bin, &vec![0u8; width]);
    let mut a = json!({
        "componentType": 5126, "count": count, "type": ty,
        "sparse": {"count": 1, "indices": {"bufferView": iv, "componentType": 5125}, "values": {"bufferView": vv}}
    });
    if min_max {
        let zero = vec![0.0f32; width / 4];
        a["min"] = json!(zero);
        a["max"] = json!(zero);
    }
    push(doc, "accessors", a)
}

#[test]
fn every_attribute_of_a_primitive_has_the_position_count() {
    // Four positions and two billion normals: the normals would be read whole.
    let long = cornell(|doc, bin| {
        let n = zeros(doc, bin, 2_000_000_000, "VEC3", false);
        doc["meshes"][0]["primitives"][0]["attributes"]["NORMAL"] = json!(n);
    });
    let e = refused(&long, "must have the same count");
    assert!(e.contains("Normals"), "{e}");
}

#[test]
fn keyframes_are_counted_per_channel_and_skipped_primitives_not_at_all() {
    // One sampler of 2 x 30,000 keys driving 100 nodes: 6 million keys read, over the 4 million budget,
    // though the sampler alone holds 60,000.
    let shared = cornell(|doc, bin| {
        let t = zeros(doc, bin, 30_000, "SCALAR", true);
        let v = zeros(doc, bin, 30_000, "VEC3", false);
        let channels: Vec<Value> = (0..100)
            .map(|_| {
                let node = push(doc, "nodes", json!({}));
                json!({"sampler": 0, "target": {"node": node, "path": "translation"}})
            })
            .collect();
        doc["animations"] =
            json!([{"channels": channels, "samplers": [{"input": t, "output": v}]}]);
    });
    refused(&shared, "animation keyframes (declared) is 6000000");
    // 70 million points: a primitive the loader skips counts toward nothing.
    let points = cornell(|doc, bin| {
        let p = zeros(doc, bin, 70_000_000, "VEC3", true);
        push(
            doc,
            "meshes",
            json!({"primitives": [{"attributes": {"POSITION": p}, "mode": 0}]}),
        );
        let mesh = doc["meshes"].as_array().expect("meshes").len() - 1;
        let node = push(doc, "nodes", json!({"mesh": mesh}));
        doc["scenes"][0]["nodes"]
            .as_array_mut()
            .expect("roots")
            .push(json!(node));
    });
    load(&points).expect("points are skipped");
}

#[test]
fn sparse_views_must_not_have_a_stride() {
    let strided = cornell(|doc, bin| {
        let ix: Vec<u8> = [0u32, 2].iter().flat_map(|i| i.to_le_bytes()).collect();
        let values: Vec<u8> = [0.1f32, 0.2, 0.3, 0.1, 0.2, 0.3]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let iv = add_view(doc, bin, &ix);
        doc["bufferViews"][iv]["byteStride"] = json!(8);
        let vv = add_view(doc, bin, &values);
        doc["accessors"][0]["sparse"] = json!({
            "count": 2,
            "indices": {"bufferView": iv, "componentType": 5125},
            "values": {"bufferView": vv}
        });
    });
    refused(&strided, "byte stride");
}

#[test]
fn required_extensions_are_those_the_renderer_implements() {
    // Required and implemented (the gltf crate's own list lacks KHR_materials_specular): loads, and renders
    // as the same scene merely using the extension.
    let required = |ext: &[&str]| {
        cornell(|doc, _| {
            for e in ext {
                push(doc, "extensionsUsed", json!(e));
            }
            doc["extensionsRequired"] = json!(ext);
        })
    };
    let specular = load(&required(&[
        "KHR_materials_specular",
        "KHR_lights_punctual",
        "KHR_texture_transform",
        "KHR_materials_clearcoat",
        "KHR_materials_sheen",
        "KHR_materials_unlit",
        "KHR_materials_volume",
    ]))
    .expect("a required extension the renderer implements loads");
    let plain = load(&testscenes::cornell_box()).expect("the Cornell box loads");
    assert_eq!(specular.stats, plain.stats);
    // Required and not implemented: refused by name, whatever the gltf crate knows of it (it parses
    // KHR_materials_variants; the renderer would draw one variant without knowing which).
    for ext in [
        "KHR_materials_variants",
        "KHR_materials_iridescence",
        "KHR_draco_mesh_compression",
        "EXT_made_up",
    ] {
        let e = refused(&required(&[ext]), ext);
        assert!(e.contains("does not implement"), "{e}");
    }
}
