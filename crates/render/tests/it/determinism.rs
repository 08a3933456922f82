//! The determinism contract: same inputs, same bits — across runs, thread counts, cells rendered alone,
//! regions and frames.

use crate::common::{complete_glb, load, render, settings};
use tessera_render::testscenes;
use tessera_render::{Backend, Rect, render_cells, render_cells_audited, render_region};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn repeated_renders_and_thread_counts_give_identical_leaves() {
    same_leaves_on_any_thread_count(&complete_glb(), [0.05; 3]);
}

/// The material and light features (alpha MASK and BLEND with their stochastic decisions, the second UV set,
/// texture transforms, wrap modes, vertex colours, spot and directional lights) keep the contract too.
#[test]
fn the_feature_scene_gives_identical_leaves_on_any_thread_count() {
    same_leaves_on_any_thread_count(&testscenes::features(), [0.3; 3]);
}

fn same_leaves_on_any_thread_count(glb: &[u8], env: [f32; 3]) {
    let s = settings(96, 54, 4, 4);
    let scene = load(glb, &s, env, 0);
    let a = render(&scene, &s);
    let b = render(&scene, &s);
    assert_eq!(a.root, b.root);
    assert_eq!(bits(&a.pixels), bits(&b.pixels));
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let c = pool.install(|| render(&scene, &s));
        assert_eq!(
            a.cells.iter().map(|c| c.leaf).collect::<Vec<_>>(),
            c.cells.iter().map(|c| c.leaf).collect::<Vec<_>>(),
            "{threads} threads"
        );
    }
    // Loading again gives the same scene bits (BVH, textures): same root.
    let scene2 = load(glb, &s, env, 0);
    assert_eq!(render(&scene2, &s).root, a.root);
}

#[test]
fn a_cell_rendered_alone_equals_the_same_cell_in_the_frame() {
    let s = settings(80, 48, 4, 4);
    let scene = load(&testscenes::cornell_box(), &s, [0.0; 3], 0);
    let frame = render(&scene, &s);
    let picks = [0u32, 7, 14];
    let alone = render_cells(&scene, &s, s.full_frame(), &picks, &Backend::Cpu).expect("cells");
    for (cell, px) in alone {
        let full = &frame.cells[cell.index as usize];
        assert_eq!(cell.rect, full.rect);
        assert_eq!(cell.data_hash, full.data_hash, "cell {}", cell.index);
        assert_eq!(cell.leaf, full.leaf);
        assert_eq!(px.len(), (cell.rect.area() * 3) as usize);
    }
    let err =
        render_cells(&scene, &s, s.full_frame(), &[15], &Backend::Cpu).expect_err("no cell 15");
    assert!(err.to_string().contains("cell 15 does not exist"), "{err}");
}

/// The verification protocol's audit sums (docs/verification.md): an audited render gives the same pixels, data
/// hashes and leaves as any render of those cells, its audit sums depend on the draw's mask and are themselves
/// deterministic, and they are not the published data in disguise (an all-plus mask gives the sample sums,
/// which are not the published means).
#[test]
fn audited_cells_equal_plain_cells_and_their_audit_sums_are_deterministic() {
    let s = settings(80, 48, 8, 4);
    let scene = load(&complete_glb(), &s, [0.05; 3], 0);
    let frame = render(&scene, &s);
    let picks = [1u32, 6, 14, 3];
    let a = render_cells_audited(&scene, &s, s.full_frame(), &picks, 0x5a5a_0f0f_3c3c_a5a5)
        .expect("audited");
    assert_eq!(a.iter().map(|c| c.cell.index).collect::<Vec<_>>(), picks);
    for c in &a {
        let full = &frame.cells[c.cell.index as usize];
        assert_eq!(c.cell.data_hash, full.data_hash, "cell {}", c.cell.index);
        assert_eq!(c.cell.leaf, full.leaf);
    }
    let again = render_cells_audited(&scene, &s, s.full_frame(), &picks, 0x5a5a_0f0f_3c3c_a5a5)
        .expect("again");
    assert_eq!(
        a.iter().map(|c| c.audit_hash).collect::<Vec<_>>(),
        again.iter().map(|c| c.audit_hash).collect::<Vec<_>>()
    );
    let other = render_cells_audited(&scene, &s, s.full_frame(), &picks, 0x1).expect("other mask");
    assert_ne!(
        a[0].audit_hash, other[0].audit_hash,
        "the mask changes the audit sums"
    );
    let plus = render_cells_audited(&scene, &s, s.full_frame(), &picks, 0).expect("all plus");
    assert_ne!(plus[0].audit_hash, plus[0].cell.data_hash);
    let err = render_cells_audited(&scene, &s, s.full_frame(), &[15], 0).expect_err("no cell 15");
    assert!(err.to_string().contains("cell 15 does not exist"), "{err}");
}

#[test]
fn regions_reassemble_into_the_frame() {
    let mut s = settings(64, 40, 2, 3);
    s.regions_x = 2;
    s.regions_y = 2;
    let scene = load(&testscenes::cornell_box(), &s, [0.0; 3], 0);
    let frame = render(&scene, &s);
    for t in 0..s.task_count() {
        let task = s.task(t).expect("task");
        let part =
            render_region(&scene, &s, task.region, &Backend::Cpu, &|_, _| {}).expect("region");
        let r = task.region;
        for y in 0..r.height {
            for x in 0..r.width {
                let i = ((y * r.width + x) * 3) as usize;
                let j = (((r.y + y) * s.width + r.x + x) * 3) as usize;
                assert_eq!(
                    part.pixels[i..i + 3],
                    frame.pixels[j..j + 3],
                    "task {t} pixel {x},{y}"
                );
            }
        }
    }
    let outside = Rect {
        x: 60,
        y: 0,
        width: 8,
        height: 8,
    };
    assert!(render_region(&scene, &s, outside, &Backend::Cpu, &|_, _| {}).is_err());
}

#[test]
fn animation_is_sampled_at_the_frame_time() {
    let s = settings(48, 32, 2, 2);
    let glb = testscenes::animated_cube();
    let at = |frame| load(&glb, &s, [1.0; 3], frame);
    let centre_x = |frame| {
        let (lo, hi) = at(frame).bounds();
        (lo[0] + hi[0]) * 0.5
    };
    assert!((centre_x(0) + 1.0).abs() < 1e-5, "frame 0 at x = -1");
    assert!(centre_x(12).abs() < 1e-5, "frame 12 at x = 0");
    assert!((centre_x(24) - 1.0).abs() < 1e-5, "frame 24 at x = +1");
    assert!(
        (centre_x(100) - 1.0).abs() < 1e-5,
        "clamped after the last key"
    );
    assert_ne!(render(&at(0), &s).root, render(&at(24), &s).root);
    assert_eq!(render(&at(12), &s).root, render(&at(12), &s).root);
}

#[test]
fn kernel_and_host_math_agree_bit_for_bit() {
    for i in 0..20_000 {
        let t = i as f32 / 20_000.0;
        let (hs, hc) = tessera_render::math::sincos_turns(t);
        let (ks, kc) = tessera_render::kernel_sincos_turns(t);
        assert_eq!(
            (hs.to_bits(), hc.to_bits()),
            (ks.to_bits(), kc.to_bits()),
            "t = {t}"
        );
    }
}

/// The kernel's sRGB table (`TS_SRGB`) holds IEC 61966-2-1's decoding of each 8-bit code, computed in f64
/// and rounded to f32: `c / 12.92` up to 0.04045, `((c + 0.055) / 1.055)^2.4` above.
#[test]
fn the_kernels_srgb_table_is_the_standards_curve() {
    let values = crate::common::kernel_table("TS_SRGB");
    assert_eq!(values.len(), 256);
    for (code, got) in values.iter().enumerate() {
        let c = code as f64 / 255.0;
        let want = if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        } as f32;
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "code {code}: {got} against {want}"
        );
    }
}

/// The kernel's `x^y` (log2 and exp2 from polynomials and float bits, for the sheen lobe) is as accurate
/// as float rounding of the exponent y log2 x allows, wherever the kernel uses it: bases in (0, 1],
/// exponents up to the sheen's 102; it gives 0 where the result underflows and for x = 0, and handles
/// subnormal bases.
#[test]
fn the_kernels_pow_is_accurate_without_libm() {
    let mut worst = 0.0f64;
    for i in 1..=4000 {
        let x = i as f32 / 4000.0;
        for y in [
            0.16801f32, 0.19823, 0.5, 1.0, 2.5, 7.0, 25.0, 102.0, -0.7, -3.0,
        ] {
            let got = f64::from(tessera_render::kernel_pow(x, y));
            let want = f64::from(x).powf(f64::from(y));
            if !(1e-30..=1e30).contains(&want) {
                continue;
            }
            // Relative error over what float rounding of e = y log2 x alone allows (|e| 2^-24 ln 2).
            let e = (f64::from(y) * f64::from(x).log2()).abs();
            let rel = (got - want).abs() / want / (1e-6 + e * 6e-8);
            worst = worst.max(rel);
        }
    }
    assert!(worst < 2.0, "worst error {worst} times the allowance");
    assert_eq!(tessera_render::kernel_pow(0.0, 2.0), 0.0);
    assert_eq!(tessera_render::kernel_pow(0.5, 200.0), 0.0);
    let sub = f32::from_bits(0x0040_0000); // 2^-127
    assert!((f64::from(tessera_render::kernel_pow(sub, 0.5)) - 2f64.powf(-63.5)).abs() < 1e-25);
}

#[test]
fn delivered_outputs_check_against_their_leaves_and_root() {
    use tessera_render::output::{check_outputs, leaves_json, raw_bytes};
    let mut s = settings(70, 45, 2, 2);
    s.cell_size = 16;
    let scene = load(&testscenes::cornell_box(), &s, [0.0; 3], 0);
    let img = render(&scene, &s);
    let raw = raw_bytes(&img, s.width, s.height, s.cell_size);
    let doc = leaves_json(&img, s.cell_size);
    assert_eq!(
        check_outputs(&raw, &doc, Some(&img.root)).expect("valid"),
        img.root
    );
    // One float changed in the raw data: the cell holding it is named.
    let mut bad = raw.clone();
    let at = 40 + 4 * 3 * (20 * 70 + 33); // pixel (33, 20): cell row 1, column 2 -> index 7
    bad[at] ^= 1;
    let e = check_outputs(&bad, &doc, None)
        .expect_err("tampered")
        .to_string();
    assert!(e.contains("cell 7"), "{e}");
    // A committed root that is not this one.
    let e = check_outputs(&raw, &doc, Some(&[7u8; 32]))
        .expect_err("other root")
        .to_string();
    assert!(e.contains("committed root"), "{e}");
    // A leaves document that lies about the root.
    let mut lying = doc.clone();
    lying["root"] = serde_json::json!(format!("0x{}", "00".repeat(32)));
    assert!(check_outputs(&raw, &lying, None).is_err());
    assert!(check_outputs(&raw[..100], &doc, None).is_err());
}

/// OpenEXR output holds the rendered values: bit for bit in full floats, rounded to the nearest half float
/// in half precision, with the image's size and row order.
#[test]
fn exr_frames_hold_the_rendered_linear_values() {
    let s = settings(40, 24, 4, 3);
    let scene = load(&testscenes::features(), &s, [0.3; 3], 0);
    let img = render(&scene, &s);
    let dir = std::env::temp_dir().join(format!("tessera-exr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    for (precision, name) in [
        (tessera_render::output::ExrPrecision::Full, "full.exr"),
        (tessera_render::output::ExrPrecision::Half, "half.exr"),
    ] {
        let path = dir.join(name);
        tessera_render::output::write_exr(&path, 40, 24, &img.pixels, precision).expect("write");
        let (w, h, got) = tessera_render::output::read_exr(&path).expect("read");
        assert_eq!((w, h), (40, 24));
        let want: Vec<f32> = match precision {
            tessera_render::output::ExrPrecision::Full => img.pixels.clone(),
            tessera_render::output::ExrPrecision::Half => img
                .pixels
                .iter()
                .map(|v| exr::prelude::f16::from_f32(*v).to_f32())
                .collect(),
        };
        assert_eq!(bits(&got), bits(&want), "{name}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The renderer id names the bits: the feature scene (every material, texture, alpha and light path of the
/// kernel) and a half-transparent sphere of some 9,000 triangles (`testscenes::blend_sphere`: alpha BLEND
/// decides per ray and triangle by a hash of the triangle's index in BVH leaf order, so a change to that
/// order moves its root) render to these roots under `tessera-pt/0.4`. A change that moves one changes what
/// every cell of some job is, and must come with a new `RENDERER_ID` (and these roots): otherwise workers on
/// the new build and verifiers on the old one disagree on honest work.
#[test]
fn the_renderer_id_names_these_bits() {
    let s = settings(32, 24, 4, 4);
    let root = render(&load(&testscenes::features(), &s, [0.3; 3], 0), &s).root;
    assert_eq!(tessera_render::RENDERER_ID, "tessera-pt/0.4");
    assert_eq!(
        tessera_common::to_hex(&root),
        "0x9ae3f39797085e69940fbd13cb85250dd41b3738a77eaca6c3fadb0c96da0d4d",
        "the feature scene's cells changed: bump RENDERER_ID and this root together"
    );
    let s = settings(32, 24, 4, 4);
    let root = render(&load(&testscenes::blend_sphere(), &s, [0.3; 3], 0), &s).root;
    assert_eq!(
        tessera_common::to_hex(&root),
        "0x28934fce8e66354891d8df41e9f597bbbad87f6e27b3ed31e769f12a8e035504",
        "the BVH's triangle order changed: bump RENDERER_ID and this root together"
    );
}
