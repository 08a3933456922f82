//! The `tessera` binary end to end: wallets on disk and a job estimate on a real scene.
#![allow(clippy::cast_possible_truncation)]

use std::path::PathBuf;
use std::process::Command;

fn tessera() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn wallet_new_import_and_address() {
    let dir = tmp("wallet");
    let out = tessera()
        .args(["wallet", "new", "--name", "artist.json"])
        .env("TESSERA_KEYSTORE_DIR", &dir)
        .env("TESSERA_KEYSTORE_PASSWORD", "hunter2-but-longer")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let address = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string();
    assert!(
        address.starts_with("0x") && address.len() == 42,
        "{address}"
    );
    let shown = tessera()
        .args(["wallet", "address", "--keystore"])
        .arg(dir.join("artist.json"))
        .env("TESSERA_KEYSTORE_PASSWORD", "hunter2-but-longer")
        .output()
        .expect("run");
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), address);
    let wrong = tessera()
        .args(["wallet", "address", "--keystore"])
        .arg(dir.join("artist.json"))
        .env("TESSERA_KEYSTORE_PASSWORD", "nope")
        .output()
        .expect("run");
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong password"));
    // Import reads the key from the environment, never from a flag.
    let imported = tessera()
        .args(["wallet", "import", "--name", "dev.json"])
        .env("TESSERA_KEYSTORE_DIR", &dir)
        .env("TESSERA_KEYSTORE_PASSWORD", "pw")
        .env(
            "TESSERA_PRIVATE_KEY",
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        )
        .output()
        .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&imported.stdout)
            .trim()
            .to_lowercase(),
        "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    );
    let again = tessera()
        .args(["wallet", "new", "--name", "artist.json"])
        .env("TESSERA_KEYSTORE_DIR", &dir)
        .env("TESSERA_KEYSTORE_PASSWORD", "x")
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn job_estimate_prints_the_bill_and_a_preview() {
    let dir = tmp("estimate");
    let scene = dir.join("cornell.glb");
    std::fs::write(&scene, tessera_render::testscenes::cornell_box()).expect("scene");
    let preview = dir.join("preview.png");
    let out = tessera()
        .args(["job", "estimate"])
        .arg(&scene)
        .args([
            "--width",
            "320",
            "--height",
            "180",
            "--spp",
            "8",
            "--frames",
            "3",
            "--regions",
            "2x2",
        ])
        .args(["--price-gwei-per-msample", "1000", "--preview"])
        .arg(&preview)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("tasks               12"), "{stdout}");
    // 320 x 180 x 8 x 3 = 1.3824 M samples, 0.1152 M per task -> 116 gwei per task at 1000 gwei/M.
    assert!(stdout.contains("reward per task     116 gwei"), "{stdout}");
    assert!(stdout.contains("bounty to escrow"), "{stdout}");
    assert!(std::fs::metadata(&preview).expect("preview written").len() > 100);
    // A file that is not a scene: the error names it.
    std::fs::write(dir.join("bad.glb"), b"nope").expect("write");
    let bad = tessera()
        .args(["job", "estimate"])
        .arg(dir.join("bad.glb"))
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot be rendered"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn output_check_accepts_genuine_outputs_and_names_a_tampered_cell() {
    let dir = tmp("check");
    let scene = dir.join("cornell.glb");
    std::fs::write(&scene, tessera_render::testscenes::cornell_box()).expect("scene");
    let render = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["output", "check", "--raw"])
        .arg(dir.join("missing.tsr"))
        .arg("--leaves")
        .arg(dir.join("missing.json"))
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&render.stderr).contains("missing.tsr"));
    // Produce outputs through the library, as a worker would.
    let s = tessera_render::RenderSettings {
        width: 40,
        height: 24,
        samples_per_pixel: 2,
        max_bounces: 2,
        frame_start: 0,
        frame_count: 1,
        regions_x: 1,
        regions_y: 1,
        cell_size: 8,
        seed: 3,
    };
    let sc = tessera_render::load_glb(
        &tessera_render::testscenes::cornell_box(),
        &tessera_render::LoadOptions {
            aspect: 40.0 / 24.0,
            ..tessera_render::LoadOptions::default()
        },
    )
    .expect("scene");
    let img = tessera_render::render_region(
        &sc,
        &s,
        s.full_frame(),
        &tessera_render::Backend::Cpu,
        &|_, _| {},
    )
    .expect("render");
    tessera_render::output::write_raw(&dir.join("t.tsr"), &img, 40, 24, 8).expect("raw");
    tessera_render::output::write_leaves(&dir.join("t.json"), &img, 8).expect("leaves");
    let root = tessera_common::to_hex(&img.root);
    let ok = tessera()
        .args(["output", "check", "--raw"])
        .arg(dir.join("t.tsr"))
        .arg("--leaves")
        .arg(dir.join("t.json"))
        .args(["--root", &root])
        .output()
        .expect("run");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), root);
    let mut raw = std::fs::read(dir.join("t.tsr")).expect("raw");
    raw[40] ^= 0x40;
    std::fs::write(dir.join("bad.tsr"), raw).expect("write");
    let bad = tessera()
        .args(["output", "check", "--raw"])
        .arg(dir.join("bad.tsr"))
        .arg("--leaves")
        .arg(dir.join("t.json"))
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("cell 0"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}
