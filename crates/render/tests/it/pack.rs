//! `.gltf` packing: a scene with side files and `data:` URIs packs into a `.glb` that renders exactly like
//! the original, and URIs that reach outside the scene's folder are refused by name.

use crate::common::{load, render, settings};
use base64::Engine;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tessera_render::testscenes;
use tessera_render::{Limits, read_scene};

fn tmp(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-pack-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The bytes of buffer view `v` of a `.glb`'s document and binary chunk.
fn view_bytes(doc: &Value, bin: &[u8], v: usize) -> Vec<u8> {
    let view = &doc["bufferViews"][v];
    let off = view["byteOffset"].as_u64().unwrap_or(0) as usize;
    let len = view["byteLength"].as_u64().unwrap_or(0) as usize;
    bin[off..off + len].to_vec()
}

/// Writes `glb` as a `.gltf` in `dir`: the buffer as the side file `scene data.bin` (its URI
/// percent-encoded), image 0 as `textures/disc.png`, image 1 as a base64 `data:` URI.
fn write_gltf(glb: &[u8], dir: &Path) -> PathBuf {
    let (mut doc, bin) = testscenes::unpack_glb(glb);
    std::fs::write(dir.join("scene data.bin"), &bin).expect("bin");
    doc["buffers"][0]["uri"] = json!("scene%20data.bin");
    let image = |doc: &Value, i: usize| {
        view_bytes(
            doc,
            &bin,
            doc["images"][i]["bufferView"].as_u64().unwrap_or(0) as usize,
        )
    };
    std::fs::create_dir_all(dir.join("textures")).expect("dir");
    std::fs::write(dir.join("textures/disc.png"), image(&doc, 0)).expect("png");
    let data = base64::engine::general_purpose::STANDARD.encode(image(&doc, 1));
    doc["images"][0] = json!({"uri": "textures/disc.png"});
    doc["images"][1] = json!({"uri": format!("data:image/png;base64,{data}")});
    let path = dir.join("scene.gltf");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).expect("json")).expect("gltf");
    path
}

#[test]
fn a_gltf_with_side_files_and_data_uris_packs_to_a_glb_that_renders_the_same() {
    let dir = tmp("same");
    let glb = testscenes::features();
    let path = write_gltf(&glb, &dir);
    let packed = read_scene(&path, &Limits::default()).expect("packs");
    assert!(packed.starts_with(b"glTF"), "a GLB");
    let (doc, _) = testscenes::unpack_glb(&packed);
    assert!(
        doc["images"]
            .as_array()
            .is_some_and(|i| i.iter().all(|i| i.get("uri").is_none())),
        "no image keeps a URI: {}",
        doc["images"]
    );
    assert!(doc["buffers"][0].get("uri").is_none(), "one binary chunk");
    let s = settings(48, 32, 4, 3);
    let a = render(&load(&glb, &s, [0.3; 3], 0), &s);
    let b = render(&load(&packed, &s, [0.3; 3], 0), &s);
    assert_eq!(
        a.root, b.root,
        "the packed scene renders bit for bit like the original"
    );
    // A scene without images (keys the packer must not add) packs too.
    let (mut doc, bin) = testscenes::unpack_glb(&testscenes::cornell_box());
    std::fs::write(dir.join("cornell.bin"), &bin).expect("bin");
    doc["buffers"][0]["uri"] = json!("cornell.bin");
    let cornell = dir.join("cornell.gltf");
    std::fs::write(&cornell, serde_json::to_vec(&doc).expect("json")).expect("gltf");
    let packed = read_scene(&cornell, &Limits::default()).expect("packs");
    let (packed_doc, _) = testscenes::unpack_glb(&packed);
    assert!(packed_doc.get("images").is_none(), "{packed_doc}");
    let a = render(&load(&testscenes::cornell_box(), &s, [0.0; 3], 0), &s);
    let b = render(&load(&packed, &s, [0.0; 3], 0), &s);
    assert_eq!(a.root, b.root);
    // A .glb reads as it is, whatever its name.
    let renamed = dir.join("scene.gltf.bin");
    std::fs::write(&renamed, &glb).expect("write");
    assert_eq!(read_scene(&renamed, &Limits::default()).expect("glb"), glb);
}

/// A hostile `.gltf` must not make the packer read (and the CLI publish) files outside the scene's folder:
/// `..`, absolute paths, other schemes and links out are refused, naming the URI; missing and short files,
/// and bad `data:` URIs, are errors too.
#[test]
fn uris_that_leave_the_scene_folder_or_do_not_resolve_are_refused() {
    let dir = tmp("hostile");
    let outside = tmp("outside");
    std::fs::write(outside.join("secret.key"), b"0123456789abcdef").expect("secret");
    let scene = dir.join("scene");
    std::fs::create_dir_all(&scene).expect("dir");
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.join("secret.key"), scene.join("link.bin")).expect("link");
    std::fs::write(scene.join("short.bin"), b"abc").expect("short");
    let secret = outside.join("secret.key").display().to_string();
    let cases: Vec<(String, u64, &str)> = vec![
        ("../outside/secret.key".into(), 16, "'..'"),
        (format!("..%2F..%2F{}", "secret.key"), 16, "'..'"),
        (secret.clone(), 16, "absolute path"),
        (format!("file://{secret}"), 16, "only data: URIs"),
        ("https://example.com/a.bin".into(), 16, "only data: URIs"),
        ("link.bin".into(), 16, "leads outside the scene's folder"),
        ("missing.bin".into(), 16, "cannot open"),
        (
            "short.bin".into(),
            16,
            "declares 16 bytes and the data has 3",
        ),
        (
            "data:application/octet-stream;base64,@@@".into(),
            3,
            "bad base64",
        ),
        ("data:application/octet-stream,abc".into(), 3, "not base64"),
    ];
    for (uri, len, needle) in cases {
        let doc = json!({
            "asset": {"version": "2.0"},
            "buffers": [{"uri": uri, "byteLength": len}],
        });
        let path = scene.join("scene.gltf");
        std::fs::write(&path, serde_json::to_vec(&doc).expect("json")).expect("gltf");
        match read_scene(&path, &Limits::default()) {
            Ok(_) => panic!("{uri} packed; expected an error mentioning {needle:?}"),
            Err(e) => assert!(e.to_string().contains(needle), "{uri}: {e}"),
        }
    }
    // An image URI is held to the same rule.
    let doc = json!({"asset": {"version": "2.0"}, "images": [{"uri": "../outside/secret.key"}]});
    let path = scene.join("scene.gltf");
    std::fs::write(&path, serde_json::to_vec(&doc).expect("json")).expect("gltf");
    let e = read_scene(&path, &Limits::default()).expect_err("refused");
    assert!(e.to_string().contains("'..'"), "{e}");
}

/// Hidden files and folders are never packed (a .gltf saved in a home folder could otherwise name
/// `.ssh/id_ed25519` or `.tessera/keystores/…`), nor is anything but a regular file (a FIFO would block
/// the reader), nor an "image" that is not a PNG or JPEG by its content; a byte order mark before the JSON
/// is fine, and the packed files are listed.
#[test]
fn hidden_files_special_files_and_fake_images_are_refused_and_packed_files_listed() {
    let dir = tmp("hidden");
    std::fs::create_dir_all(dir.join(".ssh")).expect("dir");
    std::fs::write(
        dir.join(".ssh/id_ed25519"),
        b"-----BEGIN OPENSSH PRIVATE KEY-----",
    )
    .expect("key");
    std::fs::write(dir.join(".secret.bin"), [0u8; 16]).expect("secret");
    std::fs::write(dir.join("notes.png"), b"not an image at all").expect("fake");
    let write = |doc: &Value| {
        let path = dir.join("scene.gltf");
        std::fs::write(&path, serde_json::to_vec(doc).expect("json")).expect("gltf");
        path
    };
    for (uri, needle) in [
        (".ssh/id_ed25519", "hidden file or folder"),
        ("sub/../.secret.bin", "'..'"),
        (".secret.bin", "hidden file or folder"),
        ("./.secret.bin", "hidden file or folder"),
    ] {
        let doc = json!({"asset": {"version": "2.0"}, "buffers": [{"uri": uri, "byteLength": 4}]});
        let e = read_scene(&write(&doc), &Limits::default()).expect_err(uri);
        assert!(e.to_string().contains(needle), "{uri}: {e}");
    }
    // Links inside the folder to a hidden file, and hard links, are refused too.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.join(".ssh/id_ed25519"), dir.join("mesh.bin"))
            .expect("symlink");
        std::fs::hard_link(dir.join(".secret.bin"), dir.join("other.bin")).expect("hard link");
        for (uri, needle) in [
            ("mesh.bin", "hidden file or folder"),
            ("other.bin", "hard links"),
        ] {
            let doc =
                json!({"asset": {"version": "2.0"}, "buffers": [{"uri": uri, "byteLength": 4}]});
            let e = read_scene(&write(&doc), &Limits::default()).expect_err(uri);
            assert!(e.to_string().contains(needle), "{uri}: {e}");
        }
    }
    let doc = json!({"asset": {"version": "2.0"}, "images": [{"uri": "notes.png"}]});
    let e = read_scene(&write(&doc), &Limits::default()).expect_err("fake image");
    assert!(e.to_string().contains("not a PNG or JPEG image"), "{e}");
    #[cfg(unix)]
    {
        let fifo = dir.join("pipe.bin");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let doc = json!({"asset": {"version": "2.0"}, "buffers": [{"uri": "pipe.bin", "byteLength": 4}]});
            let e = read_scene(&write(&doc), &Limits::default()).expect_err("fifo");
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
    }
    // A byte order mark, and the listing of what was packed.
    let (mut doc, bin) = testscenes::unpack_glb(&testscenes::cornell_box());
    std::fs::write(dir.join("cornell.bin"), &bin).expect("bin");
    doc["buffers"][0]["uri"] = json!("cornell.bin");
    let path = dir.join("bom.gltf");
    let mut text = b"\xEF\xBB\xBF".to_vec();
    text.extend(serde_json::to_vec(&doc).expect("json"));
    std::fs::write(&path, text).expect("gltf");
    let (glb, files) =
        tessera_render::read_scene_listing(&path, &Limits::default()).expect("packs");
    assert!(glb.starts_with(b"glTF"));
    assert_eq!(files, vec![("cornell.bin".to_string(), bin.len() as u64)]);
}
