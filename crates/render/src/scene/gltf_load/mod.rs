//! Loading glTF 2.0 into the kernel's flat [`Scene`](super::Scene), one module per part of the
//! specification, each with the "must" rules of its part checked beside the code that reads it:
//!
//! - `accessors`: buffers, buffer views and accessors (§3.6), sparse accessors, attribute types;
//! - `nodes`: the node hierarchy (§3.5), instancing and the declared work of a scene;
//! - `meshes`: primitives and their attributes (§3.7), triangles as the kernel stores them;
//! - `materials`: materials, textures, images and samplers (§3.8, §3.9);
//! - `lights`: punctual lights (`KHR_lights_punctual`);
//! - `animation`: animations (§3.11) sampled at the frame's time;
//! - `skins`: skins (§3.7.3) and morph targets (§3.7.2.2), which deform a mesh at the frame's pose;
//! - `camera`: cameras (§3.10).
//!
//! This file holds the entry point, the validation of the JSON and the order in which the parts run.

mod accessors;
mod animation;
mod camera;
mod lights;
pub use lights::LUMENS_PER_WATT;
mod materials;
mod meshes;
mod nodes;
mod skins;

use super::{Gathered, LoadOptions, NONE, Scene, SceneError, Texture};
use crate::bvh::Bvh;
use std::collections::HashMap;

/// Reads a buffer's bytes (only the GLB binary chunk exists).
pub(super) type GetBuffer<'a> = dyn Fn(gltf::Buffer<'_>) -> Option<&'a [u8]> + 'a;

/// Parses `bytes` (a `.glb`) and prepares frame `opts.frame` for rendering.
///
/// Every assumption the `gltf` crate's readers make is checked first ([`preflight`]); as a second line of
/// defence, a panic inside the parser is caught and reported as a malformed file, so no input can take the
/// caller down.
pub fn load_glb(bytes: &[u8], opts: &LoadOptions) -> Result<Scene, SceneError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load_inner(bytes, opts))) {
        Ok(r) => r,
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            Err(SceneError::Malformed(bounded(format!(
                "parser failure: {what}"
            ))))
        }
    }
}

fn load_inner(bytes: &[u8], opts: &LoadOptions) -> Result<Scene, SceneError> {
    load_with(bytes, opts, Bvh::build)
}

/// `load_glb` with `bvh` building the BVH of the scene's triangles (`Bvh::build`; tests pass a capped
/// build), outside the panic guard.
pub(crate) fn load_with(
    bytes: &[u8],
    opts: &LoadOptions,
    bvh: impl Fn(&[crate::scene::Triangle]) -> Bvh + Sync,
) -> Result<Scene, SceneError> {
    let limits = &opts.limits;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(SceneError::TooLarge {
            what: "file size",
            value: bytes.len() as u64,
            limit: limits.max_file_bytes,
        });
    }
    if !(opts.aspect.is_finite() && opts.aspect > 0.0) {
        return Err(SceneError::Camera(format!(
            "invalid aspect ratio {}",
            opts.aspect
        )));
    }
    if !(opts.fps.is_finite() && opts.fps > 0.0) {
        return Err(SceneError::Malformed(format!(
            "invalid frame rate {}",
            opts.fps
        )));
    }
    if opts.environment.iter().any(|c| !c.is_finite() || *c < 0.0) {
        return Err(SceneError::NonFinite {
            what: "environment colour".into(),
        });
    }
    let json = json_chunk(bytes)?;
    if json.len() as u64 > limits.max_json_bytes {
        return Err(SceneError::TooLarge {
            what: "glTF JSON size",
            value: json.len() as u64,
            limit: limits.max_json_bytes,
        });
    }
    let materials_json = materials::materials_json(&json)?;
    let gltf = parse(bytes)?;
    let doc = &gltf.document;
    let items = |what: &'static str, n: usize| -> Result<(), SceneError> {
        if n > limits.max_items {
            return Err(SceneError::TooLarge {
                what,
                value: n as u64,
                limit: limits.max_items as u64,
            });
        }
        Ok(())
    };
    items("nodes", doc.nodes().len())?;
    items("meshes", doc.meshes().len())?;
    items("materials", doc.materials().len())?;
    items("accessors", doc.accessors().len())?;
    items("images", doc.images().len())?;
    items("animations", doc.animations().len())?;

    let blob = gltf.blob.as_deref().unwrap_or(&[]);
    let buffers = accessors::buffers(doc, blob)?;
    accessors::check_types(doc)?;
    animation::check_channels(doc)?;
    let get = |b: gltf::Buffer<'_>| buffers.get(b.index()).copied();
    let scene = doc
        .default_scene()
        .or_else(|| doc.scenes().next())
        .ok_or_else(|| SceneError::Malformed("the file has no scene".into()))?;
    nodes::check_forest(doc)?;
    nodes::check_declared_work(doc, &scene, limits)?;
    accessors::check_sparse(doc, &get)?;

    // Animation: local TRS overrides at the frame's time.
    let time = opts.frame as f32 / opts.fps;
    let mut animated: HashMap<usize, animation::Trs> = HashMap::new();
    for anim in doc.animations() {
        items("animation channels", anim.channels().count())?;
        for ch in anim.channels() {
            animation::sample_channel(&ch, time, &get, &mut animated, doc)?;
        }
    }

    // The UV sets each material reads, resolved once per material (not per instance).
    let uv_sets = doc
        .materials()
        .map(|m| materials::highest_uv_set(doc, &m, &materials_json))
        .collect::<Result<Vec<_>, _>>()?;

    // Walk the default scene.
    let worlds = nodes::world_matrices(doc, &scene, &animated, limits.max_depth)?;
    let mut walk = nodes::Walk {
        opts,
        get: &get,
        animated: &animated,
        worlds,
        uv_sets: &uv_sets,
        joints_of: HashMap::new(),
        triangles: Vec::new(),
        extras: Vec::new(),
        lights: Vec::new(),
        camera: None,
        degenerate: 0,
        vertices: 0,
        material_of: HashMap::new(),
        materials: Vec::new(),
        doc,
    };
    for node in scene.nodes() {
        walk.node(&node)?;
    }

    // Materials referenced by the triangles, and their textures, decoded while the other core builds the
    // BVH of the triangles (a pure function of them: the same tree on any thread).
    let (gathered, bvh) = rayon::join(
        || materials::gather(doc, &walk.materials, &materials_json, &get, &opts.limits),
        || (!walk.triangles.is_empty()).then(|| bvh(&walk.triangles)),
    );
    let materials::Gathered {
        materials,
        mut textures,
        texels: mut texel_data,
    } = gathered?;

    let mut environment_texture = NONE;
    if let Some(map) = &opts.environment_map {
        let texels = u64::from(map.width) * u64::from(map.height);
        if texels == 0
            || map.rgba.len() as u64 != texels * 4
            || map.rgba.iter().any(|v| !v.is_finite())
        {
            return Err(SceneError::NonFinite {
                what: "environment map".into(),
            });
        }
        environment_texture = u32::try_from(textures.len()).unwrap_or(NONE);
        textures.push(Texture {
            width: map.width,
            height: map.height,
            offset: texel_data.len(),
            format: crate::scene::TexelFormat::Float,
        });
        texel_data.extend_from_slice(&map.rgba);
    }
    let camera = match walk.camera {
        Some(c) => c,
        None => camera::default_camera(&walk.triangles, opts.aspect),
    };
    let gathered = Gathered {
        environment_texture,
        triangles: walk.triangles,
        extras: walk.extras,
        materials,
        textures,
        texels: texel_data,
        lights: walk.lights,
        camera,
        degenerate: walk.degenerate,
        animated: doc.animations().len() > 0,
    };
    Scene::assemble(gathered, bvh, opts.environment)
}

/// Longest error message kept: a file with thousands of validation errors must not become a message of
/// megabytes in a daemon's log and store.
const MAX_MESSAGE: usize = 1000;

/// glTF extensions this renderer implements. A file whose `extensionsRequired` names any other is refused by
/// name; the `gltf` crate's own check is replaced by this one, because its list lacks `KHR_materials_specular`,
/// which it parses (and which the kernel renders).
pub(crate) const IMPLEMENTED_EXTENSIONS: &[&str] = &[
    "KHR_lights_punctual",
    "KHR_materials_clearcoat",
    "KHR_materials_emissive_strength",
    "KHR_materials_ior",
    "KHR_materials_sheen",
    "KHR_materials_specular",
    "KHR_materials_transmission",
    "KHR_materials_unlit",
    "KHR_materials_volume",
    "KHR_texture_transform",
];

/// Parses and validates the glTF JSON: the specification's rules as the `gltf` crate checks them, with
/// `extensionsRequired` checked against [`IMPLEMENTED_EXTENSIONS`]. The message lists the errors up to
/// `MAX_MESSAGE` bytes and counts the rest, without ever holding them all.
fn parse(bytes: &[u8]) -> Result<gltf::Gltf, SceneError> {
    use gltf::json::validation::Validate;
    let gltf = gltf::Gltf::from_slice_without_validation(bytes)
        .map_err(|e| SceneError::Malformed(bounded(e.to_string())))?;
    let root = gltf.document.as_json();
    if let Some(ext) = root
        .extensions_required
        .iter()
        .find(|e| !IMPLEMENTED_EXTENSIONS.contains(&e.as_str()))
    {
        return Err(SceneError::Malformed(bounded(format!(
            "the scene requires the glTF extension {ext:?}, which this renderer does not implement (it implements {})",
            IMPLEMENTED_EXTENSIONS.join(", ")
        ))));
    }
    let mut message = String::from("invalid glTF:");
    let (mut errors, mut more) = (0usize, 0usize);
    root.validate(root, gltf::json::Path::new, &mut |path, error| {
        let path = path();
        if path.0.starts_with("extensionsRequired") {
            return; // Checked above, against what the renderer implements.
        }
        errors += 1;
        let item = format!(" {path}: {error};");
        if message.len() + item.len() <= MAX_MESSAGE {
            message.push_str(&item);
        } else {
            more += item.len();
        }
    });
    if errors == 0 {
        return Ok(gltf);
    }
    if more > 0 {
        message.push_str(&format!(" … ({more} more bytes)"));
    }
    Err(SceneError::Malformed(message))
}

/// The glTF JSON of `bytes`: a GLB's JSON chunk, or the bytes themselves.
fn json_chunk(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, SceneError> {
    if !bytes.starts_with(b"glTF") {
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    gltf::binary::Glb::from_slice(bytes)
        .map(|glb| glb.json)
        .map_err(|e| SceneError::Malformed(bounded(e.to_string())))
}

/// `m`, cut to `MAX_MESSAGE` bytes (at a character boundary) with what was left out counted.
fn bounded(mut m: String) -> String {
    if m.len() <= MAX_MESSAGE {
        return m;
    }
    let mut cut = MAX_MESSAGE;
    while !m.is_char_boundary(cut) {
        cut -= 1;
    }
    let left = m.len() - cut;
    m.truncate(cut);
    m.push_str(&format!(" … ({left} more bytes)"));
    m
}
