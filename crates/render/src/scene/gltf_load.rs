//! glTF 2.0 binary parsing: buffers, node hierarchy with animation sampled at the frame's time, meshes,
//! materials, textures, punctual lights and the camera.

use super::images;
use super::{
    Camera, Gathered, Light, LoadOptions, Material, NONE, Scene, SceneError, Texture, Triangle,
};
use crate::math::{self, Mat4, V3};
use gltf::animation::{Interpolation, Property};
use gltf::mesh::Mode;
use std::collections::HashMap;

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

/// Checks what the `gltf` readers assume but its validation does not: index ranges of animation channels,
/// and the component types of the accessors this loader reads.
fn preflight(doc: &gltf::Document) -> Result<(), SceneError> {
    use gltf::accessor::{DataType, Dimensions};
    let root = doc.as_json();
    let bad = |m: String| Err(SceneError::Malformed(m));
    for (ai, a) in root.animations.iter().enumerate() {
        for (ci, ch) in a.channels.iter().enumerate() {
            if ch.sampler.value() >= a.samplers.len() {
                return bad(format!(
                    "animation {ai} channel {ci} names a missing sampler"
                ));
            }
            if ch.target.node.value() >= root.nodes.len() {
                return bad(format!(
                    "animation {ai} channel {ci} targets a missing node"
                ));
            }
        }
        for (si, sm) in a.samplers.iter().enumerate() {
            if sm.input.value() >= root.accessors.len() || sm.output.value() >= root.accessors.len()
            {
                return bad(format!(
                    "animation {ai} sampler {si} names a missing accessor"
                ));
            }
        }
    }
    for anim in doc.animations() {
        for ch in anim.channels() {
            let s = ch.sampler();
            let (i, o) = (s.input(), s.output());
            if i.data_type() != DataType::F32 || i.dimensions() != Dimensions::Scalar {
                return bad(format!(
                    "animation {} has non-float keyframe times",
                    anim.index()
                ));
            }
            let ok = match ch.target().property() {
                gltf::animation::Property::Translation | gltf::animation::Property::Scale => {
                    o.data_type() == DataType::F32 && o.dimensions() == Dimensions::Vec3
                }
                gltf::animation::Property::Rotation => {
                    o.dimensions() == Dimensions::Vec4 && o.data_type() != DataType::U32
                }
                gltf::animation::Property::MorphTargetWeights => true,
            };
            if !ok {
                return bad(format!(
                    "animation {} has outputs of the wrong type",
                    anim.index()
                ));
            }
        }
    }
    for mesh in doc.meshes() {
        for prim in mesh.primitives() {
            let m = mesh.index();
            if let Some(ix) = prim.indices()
                && (!matches!(ix.data_type(), DataType::U8 | DataType::U16 | DataType::U32)
                    || ix.dimensions() != Dimensions::Scalar)
            {
                return bad(format!(
                    "mesh {m}: indices must be unsigned integer scalars"
                ));
            }
            for (sem, acc) in prim.attributes() {
                let (dt, dim) = (acc.data_type(), acc.dimensions());
                let ok = match sem {
                    gltf::Semantic::Positions | gltf::Semantic::Normals => {
                        dt == DataType::F32 && dim == Dimensions::Vec3
                    }
                    gltf::Semantic::TexCoords(_) => {
                        matches!(dt, DataType::F32 | DataType::U8 | DataType::U16)
                            && dim == Dimensions::Vec2
                    }
                    _ => true,
                };
                if !ok {
                    return bad(format!("mesh {m}: attribute {sem:?} has the wrong type"));
                }
            }
        }
    }
    Ok(())
}

fn load_inner(bytes: &[u8], opts: &LoadOptions) -> Result<Scene, SceneError> {
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

    // Buffers: only the binary chunk.
    let blob = gltf.blob.as_deref().unwrap_or(&[]);
    let mut buffers: Vec<&[u8]> = Vec::new();
    for b in doc.buffers() {
        match b.source() {
            gltf::buffer::Source::Bin => {
                let need = b.length() as u64;
                if need > blob.len() as u64 {
                    return Err(SceneError::OutOfBounds {
                        what: format!("buffer {}", b.index()),
                        needed: need,
                        available: blob.len() as u64,
                    });
                }
                buffers.push(&blob[..b.length()]);
            }
            gltf::buffer::Source::Uri(_) => {
                return Err(SceneError::ExternalBuffer { index: b.index() });
            }
        }
    }
    for v in doc.views() {
        let len = buffers
            .get(v.buffer().index())
            .map_or(0, |b| b.len() as u64);
        let end = v.offset() as u64 + v.length() as u64;
        if end > len {
            return Err(SceneError::OutOfBounds {
                what: format!("buffer view {}", v.index()),
                needed: end,
                available: len,
            });
        }
    }
    for a in doc.accessors() {
        check_accessor(&a)?;
    }
    preflight(doc)?;
    let get = |b: gltf::Buffer<'_>| buffers.get(b.index()).copied();
    let scene = doc
        .default_scene()
        .or_else(|| doc.scenes().next())
        .ok_or_else(|| SceneError::Malformed("the file has no scene".into()))?;
    check_forest(doc)?;
    check_declared_work(doc, &scene, limits)?;
    check_sparse(doc, &get)?;

    // Animation: local TRS overrides at the frame's time.
    let time = opts.frame as f32 / opts.fps;
    let mut animated: HashMap<usize, Trs> = HashMap::new();
    for anim in doc.animations() {
        items("animation channels", anim.channels().count())?;
        for ch in anim.channels() {
            sample_channel(&ch, time, &get, &mut animated, doc)?;
        }
    }

    // Walk the default scene.
    let mut walk = Walk {
        opts,
        get: &get,
        animated: &animated,
        triangles: Vec::new(),
        lights: Vec::new(),
        camera: None,
        degenerate: 0,
        vertices: 0,
        material_of: HashMap::new(),
        materials: Vec::new(),
        doc,
    };
    for node in scene.nodes() {
        walk.node(&node, Mat4::IDENTITY, 0)?;
    }

    // Materials referenced by the triangles, and their textures.
    let mut textures: Vec<Texture> = Vec::new();
    let mut texture_of: HashMap<(usize, bool), u32> = HashMap::new();
    let mut texels = 0u64;
    let mut materials = Vec::with_capacity(walk.materials.len());
    for key in walk.materials.clone() {
        let m = match key {
            None => Material::DEFAULT,
            Some(i) => {
                let mat = doc
                    .materials()
                    .nth(i)
                    .ok_or_else(|| SceneError::Malformed(format!("material {i} does not exist")))?;
                let mut tex = |info: Option<gltf::texture::Texture<'_>>,
                               srgb: bool|
                 -> Result<u32, SceneError> {
                    let Some(t) = info else { return Ok(NONE) };
                    let image = t.source();
                    let k = (image.index(), srgb);
                    if let Some(&id) = texture_of.get(&k) {
                        return Ok(id);
                    }
                    let (data, mime) = match image.source() {
                        gltf::image::Source::View { view, mime_type } => {
                            let buf = get(view.buffer()).ok_or_else(|| {
                                SceneError::Malformed(format!(
                                    "image {} refers to a missing buffer",
                                    image.index()
                                ))
                            })?;
                            (
                                &buf[view.offset()..view.offset() + view.length()],
                                Some(mime_type),
                            )
                        }
                        gltf::image::Source::Uri { .. } => {
                            return Err(SceneError::ExternalImage {
                                index: image.index(),
                            });
                        }
                    };
                    let decoded =
                        images::decode(image.index(), data, mime, srgb, &opts.limits, &mut texels)?;
                    let id = u32::try_from(textures.len()).unwrap_or(NONE);
                    textures.push(decoded);
                    texture_of.insert(k, id);
                    Ok(id)
                };
                let pbr = mat.pbr_metallic_roughness();
                let strength = mat.emissive_strength().unwrap_or(1.0);
                let e = mat.emissive_factor();
                let m = Material {
                    base: pbr.base_color_factor(),
                    base_tex: tex(pbr.base_color_texture().map(|i| i.texture()), true)?,
                    metallic: pbr.metallic_factor(),
                    roughness: pbr.roughness_factor(),
                    mr_tex: tex(pbr.metallic_roughness_texture().map(|i| i.texture()), false)?,
                    emissive: [e[0] * strength, e[1] * strength, e[2] * strength],
                    emissive_tex: tex(mat.emissive_texture().map(|i| i.texture()), true)?,
                    normal_tex: tex(mat.normal_texture().map(|n| n.texture()), false)?,
                    normal_scale: mat.normal_texture().map_or(1.0, |n| n.scale()),
                    specular: mat.specular().map_or(1.0, |s| s.specular_factor()),
                };
                let scalars = [m.metallic, m.roughness, m.normal_scale, m.specular];
                if m.base
                    .iter()
                    .chain(&m.emissive)
                    .chain(&scalars)
                    .any(|v| !v.is_finite())
                {
                    return Err(SceneError::NonFinite {
                        what: format!("material {i}"),
                    });
                }
                m
            }
        };
        materials.push(m);
    }

    let mut environment_texture = NONE;
    if let Some(map) = &opts.environment_map {
        let texels = u64::from(map.width) * u64::from(map.height);
        if map.rgba.len() as u64 != texels * 4 || map.rgba.iter().any(|v| !v.is_finite()) {
            return Err(SceneError::NonFinite {
                what: "environment map".into(),
            });
        }
        environment_texture = u32::try_from(textures.len()).unwrap_or(NONE);
        textures.push(Texture {
            width: map.width,
            height: map.height,
            rgba: map.rgba.clone(),
        });
    }
    let camera = match walk.camera {
        Some(c) => c,
        None => default_camera(&walk.triangles, opts.aspect),
    };
    let gathered = Gathered {
        environment_texture,
        triangles: walk.triangles,
        materials,
        textures,
        lights: walk.lights,
        camera,
        degenerate: walk.degenerate,
        animated: doc.animations().len() > 0,
    };
    Scene::assemble(gathered, opts.environment)
}

/// Longest error message kept: a file with thousands of validation errors must not become a message of
/// megabytes in a daemon's log and store.
const MAX_MESSAGE: usize = 1000;

/// glTF extensions this renderer implements. A file whose `extensionsRequired` names any other is refused by
/// name; the `gltf` crate's own check is replaced by this one, because its list lacks `KHR_materials_specular`,
/// which it parses (and which the kernel renders).
pub(crate) const IMPLEMENTED_EXTENSIONS: &[&str] = &[
    "KHR_lights_punctual",
    "KHR_materials_emissive_strength",
    "KHR_materials_specular",
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

/// glTF 2.0 (§3.5.3, Nodes and Hierarchy): "the node hierarchy MUST be a set of disjoint strict trees" — no
/// node has two parents or is its own ancestor, and a scene's root nodes are nobody's children. A file that
/// breaks it can make a few kilobytes describe 2^42 node visits (each level listing both nodes of the next);
/// it is refused here, before any walk, in O(nodes + children).
fn check_forest(doc: &gltf::Document) -> Result<(), SceneError> {
    let bad = |m: String| Err(SceneError::Malformed(m));
    let root = doc.as_json();
    let n = root.nodes.len();
    let mut parent: Vec<Option<usize>> = vec![None; n];
    for (i, node) in root.nodes.iter().enumerate() {
        for c in node.children.iter().flatten() {
            let c = c.value();
            if c >= n {
                return bad(format!("node {i} lists child {c}, which does not exist"));
            }
            if let Some(p) = parent[c] {
                return bad(format!(
                    "node {c} is a child of node {p} and of node {i}: the glTF node hierarchy must be a forest \
                     (a node has at most one parent)"
                ));
            }
            parent[c] = Some(i);
        }
    }
    // With one parent at most, a cycle is a parent chain that comes back to where it started.
    let mut state = vec![0u8; n]; // 0 unseen, 1 on the current chain, 2 known to reach a root
    for start in 0..n {
        let mut chain = Vec::new();
        let mut at = Some(start);
        while let Some(i) = at {
            match state[i] {
                2 => break,
                1 => {
                    return bad(format!(
                        "node {i} is its own ancestor: the glTF node hierarchy must be a forest"
                    ));
                }
                _ => {
                    state[i] = 1;
                    chain.push(i);
                    at = parent[i];
                }
            }
        }
        for i in chain {
            state[i] = 2;
        }
    }
    for (si, scene) in root.scenes.iter().enumerate() {
        let mut listed = std::collections::HashSet::new();
        for r in &scene.nodes {
            let r = r.value();
            if r >= n {
                return bad(format!("scene {si} lists node {r}, which does not exist"));
            }
            if let Some(p) = parent[r] {
                return bad(format!(
                    "scene {si} lists node {r} as a root, but it is a child of node {p}"
                ));
            }
            if !listed.insert(r) {
                return bad(format!("scene {si} lists node {r} twice"));
            }
        }
    }
    Ok(())
}

/// Bounds what loading will cost before any of it is done, from the accessors' declared counts: triangles
/// and vertices of every mesh instance of `scene` (degenerate triangles included: they cost their reading
/// before they are dropped, and an index accessor without a buffer view declares zeros it would expand),
/// and animation keyframes. The forest check has run, so each node is one instance.
fn check_declared_work(
    doc: &gltf::Document,
    scene: &gltf::Scene<'_>,
    limits: &super::Limits,
) -> Result<(), SceneError> {
    let mut triangles = 0u64;
    let mut vertices = 0u64;
    let mut stack: Vec<gltf::Node<'_>> = scene.nodes().collect();
    while let Some(node) = stack.pop() {
        if let Some(mesh) = node.mesh() {
            for prim in mesh.primitives() {
                let nverts = prim
                    .get(&gltf::Semantic::Positions)
                    .map_or(0, |a| a.count() as u64);
                // glTF 2.0 §3.7.2.1: "All attribute accessors for a given primitive MUST have the same
                // count." The loader reads normals and texture coordinates whole, so a longer one would be
                // work the position count does not show.
                if let Some((sem, a)) = prim.attributes().find(|(_, a)| a.count() as u64 != nverts)
                {
                    return Err(SceneError::Malformed(format!(
                        "mesh {}: attribute {sem:?} (accessor {}) has {} elements and POSITION {nverts}: \
                         every attribute of a primitive must have the same count",
                        mesh.index(),
                        a.index(),
                        a.count()
                    )));
                }
                let nidx = prim.indices().map_or(nverts, |a| a.count() as u64);
                let ntri = match prim.mode() {
                    Mode::Triangles => nidx / 3,
                    Mode::TriangleStrip | Mode::TriangleFan => nidx.saturating_sub(2),
                    // Points and lines are skipped, not read.
                    _ => continue,
                };
                triangles = triangles.saturating_add(ntri);
                vertices = vertices.saturating_add(nverts);
            }
        }
        stack.extend(node.children());
    }
    let over = |what: &'static str, value: u64, limit: u64| {
        (value > limit).then_some(SceneError::TooLarge { what, value, limit })
    };
    if let Some(e) = over(
        "triangles (declared, every instance)",
        triangles,
        limits.max_triangles,
    )
    .or_else(|| {
        over(
            "vertices (declared, every instance)",
            vertices,
            limits.max_vertices,
        )
    }) {
        return Err(e);
    }
    // Each channel reads its sampler's keys: a sampler shared by many channels is read as many times.
    let mut keyframes = 0u64;
    for anim in doc.animations() {
        for ch in anim.channels() {
            let s = ch.sampler();
            keyframes = keyframes
                .saturating_add(s.input().count() as u64)
                .saturating_add(s.output().count() as u64);
        }
    }
    over(
        "animation keyframes (declared)",
        keyframes,
        limits.max_keyframes,
    )
    .map_or(Ok(()), Err)
}

/// glTF 2.0 (§3.6.2.3, Sparse Accessors): a sparse accessor's count is at most the accessor's, and its
/// indices "MUST strictly increase" and point inside the accessor. Otherwise the file loads as a different
/// mesh (indices 3, 2, 1, 0) or writes nowhere (index 9 of 4); it is refused, naming the accessor and the rule.
fn check_sparse(doc: &gltf::Document, get: &GetBuffer<'_>) -> Result<(), SceneError> {
    use gltf::accessor::sparse::IndexType;
    for a in doc.accessors() {
        let Some(sparse) = a.sparse() else { continue };
        let bad = |rule: String| {
            Err(SceneError::Malformed(format!(
                "accessor {} (sparse): {rule}",
                a.index()
            )))
        };
        let (count, total) = (sparse.count(), a.count());
        if count > total {
            return bad(format!(
                "{count} sparse values for {total} elements (at most the accessor's count)"
            ));
        }
        let ix = sparse.indices();
        let view = ix.view();
        // §3.6.2.3: the views of sparse indices and values "MUST NOT" define a byte stride.
        if view.stride().is_some() || sparse.values().view().stride().is_some() {
            return bad("its indices or values view defines a byte stride".into());
        }
        let width = match ix.index_type() {
            IndexType::U8 => 1,
            IndexType::U16 => 2,
            IndexType::U32 => 4,
        };
        let Some(buf) = get(view.buffer()) else {
            return bad("its indices refer to a missing buffer".into());
        };
        let start = view.offset().saturating_add(ix.offset());
        let end = start.saturating_add(count.saturating_mul(width));
        if end > view.offset() + view.length() || end > buf.len() {
            return bad(format!(
                "its {count} indices run past their buffer view {}",
                view.index()
            ));
        }
        let mut last: Option<u64> = None;
        for (k, b) in buf[start..end].chunks_exact(width).enumerate() {
            let i = match width {
                1 => u64::from(b[0]),
                2 => u64::from(u16::from_le_bytes([b[0], b[1]])),
                _ => u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            };
            if i >= total as u64 {
                return bad(format!(
                    "index {k} is {i}, past the accessor's {total} elements"
                ));
            }
            if last.is_some_and(|l| i <= l) {
                return bad(format!(
                    "index {k} is {i} after {}: sparse indices must strictly increase",
                    last.unwrap_or_default()
                ));
            }
            last = Some(i);
        }
    }
    Ok(())
}

/// Checks that an accessor's data lies inside its view.
fn check_accessor(a: &gltf::Accessor<'_>) -> Result<(), SceneError> {
    let Some(view) = a.view() else { return Ok(()) };
    let elem = (a.size()) as u64;
    let stride = view.stride().map_or(elem, |s| s as u64);
    let count = a.count() as u64;
    if count == 0 {
        return Ok(());
    }
    let end = (a.offset() as u64)
        .checked_add(stride.saturating_mul(count - 1))
        .and_then(|x| x.checked_add(elem))
        .unwrap_or(u64::MAX);
    if end > view.length() as u64 {
        return Err(SceneError::OutOfBounds {
            what: format!("accessor {}", a.index()),
            needed: end,
            available: view.length() as u64,
        });
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct Trs {
    t: Option<V3>,
    r: Option<[f32; 4]>,
    s: Option<V3>,
}

type GetBuffer<'a> = dyn Fn(gltf::Buffer<'_>) -> Option<&'a [u8]> + 'a;

fn sample_channel<'a>(
    ch: &gltf::animation::Channel<'_>,
    time: f32,
    get: &GetBuffer<'a>,
    animated: &mut HashMap<usize, Trs>,
    _doc: &gltf::Document,
) -> Result<(), SceneError> {
    use gltf::animation::util::ReadOutputs;
    let reader = ch.reader(get);
    let node = ch.target().node().index();
    let what = || format!("animation channel targeting node {node}");
    let inputs: Vec<f32> = reader
        .read_inputs()
        .ok_or_else(|| SceneError::Malformed(format!("{}: missing input times", what())))?
        .collect();
    if inputs.iter().any(|t| !t.is_finite()) {
        return Err(SceneError::NonFinite { what: what() });
    }
    if inputs.is_empty() {
        return Ok(());
    }
    let interp = ch.sampler().interpolation();
    let outputs: Vec<Vec<f32>> = match reader.read_outputs() {
        Some(ReadOutputs::Translations(it)) => it.map(|v| v.to_vec()).collect(),
        Some(ReadOutputs::Scales(it)) => it.map(|v| v.to_vec()).collect(),
        Some(ReadOutputs::Rotations(it)) => it.into_f32().map(|v| v.to_vec()).collect(),
        Some(ReadOutputs::MorphTargetWeights(_)) => return Ok(()), // morph targets are not supported
        None => {
            return Err(SceneError::Malformed(format!(
                "{}: missing outputs",
                what()
            )));
        }
    };
    if outputs.iter().flatten().any(|v| !v.is_finite()) {
        return Err(SceneError::NonFinite { what: what() });
    }
    let per_key = if interp == Interpolation::CubicSpline {
        3
    } else {
        1
    };
    if outputs.len() < inputs.len() * per_key {
        return Err(SceneError::Malformed(format!(
            "{}: {} outputs for {} keyframes",
            what(),
            outputs.len(),
            inputs.len()
        )));
    }
    let value = |k: usize| -> &Vec<f32> {
        if per_key == 3 {
            &outputs[k * 3 + 1]
        } else {
            &outputs[k]
        }
    };
    // Keyframe interval containing `time` (clamped at the ends).
    let n = inputs.len();
    let v: Vec<f32> = if time <= inputs[0] {
        value(0).clone()
    } else if time >= inputs[n - 1] {
        value(n - 1).clone()
    } else {
        let k = inputs.partition_point(|&t| t <= time) - 1;
        let (t0, t1) = (inputs[k], inputs[k + 1]);
        let dt = t1 - t0;
        let u = if dt > 0.0 { (time - t0) / dt } else { 0.0 };
        match interp {
            Interpolation::Step => value(k).clone(),
            Interpolation::Linear => {
                let (a, b) = (value(k), value(k + 1));
                if ch.target().property() == Property::Rotation {
                    math::slerp([a[0], a[1], a[2], a[3]], [b[0], b[1], b[2], b[3]], u).to_vec()
                } else {
                    a.iter()
                        .zip(b)
                        .map(|(x, y)| math::lerp(*x, *y, u))
                        .collect()
                }
            }
            Interpolation::CubicSpline => {
                // Hermite: p0 = v_k, m0 = dt * out-tangent_k, p1 = v_{k+1}, m1 = dt * in-tangent_{k+1}.
                let (p0, m0) = (&outputs[k * 3 + 1], &outputs[k * 3 + 2]);
                let (p1, m1) = (&outputs[(k + 1) * 3 + 1], &outputs[(k + 1) * 3]);
                let (u2, u3) = (u * u, u * u * u);
                let h00 = 2.0 * u3 - 3.0 * u2 + 1.0;
                let h10 = u3 - 2.0 * u2 + u;
                let h01 = -2.0 * u3 + 3.0 * u2;
                let h11 = u3 - u2;
                let r: Vec<f32> = (0..p0.len())
                    .map(|i| h00 * p0[i] + h10 * dt * m0[i] + h01 * p1[i] + h11 * dt * m1[i])
                    .collect();
                if ch.target().property() == Property::Rotation {
                    math::normalize_quat([r[0], r[1], r[2], r[3]]).to_vec()
                } else {
                    r
                }
            }
        }
    };
    let entry = animated.entry(node).or_insert(Trs {
        t: None,
        r: None,
        s: None,
    });
    match ch.target().property() {
        Property::Translation if v.len() >= 3 => entry.t = Some([v[0], v[1], v[2]]),
        Property::Scale if v.len() >= 3 => entry.s = Some([v[0], v[1], v[2]]),
        Property::Rotation if v.len() >= 4 => entry.r = Some([v[0], v[1], v[2], v[3]]),
        _ => {}
    }
    Ok(())
}

struct Walk<'a, 'b> {
    opts: &'b LoadOptions,
    get: &'b GetBuffer<'a>,
    animated: &'b HashMap<usize, Trs>,
    triangles: Vec<Triangle>,
    lights: Vec<Light>,
    camera: Option<Camera>,
    degenerate: u64,
    vertices: u64,
    /// glTF material index (None: default material) -> our index.
    material_of: HashMap<Option<usize>, u32>,
    materials: Vec<Option<usize>>,
    doc: &'b gltf::Document,
}

impl Walk<'_, '_> {
    fn node(
        &mut self,
        node: &gltf::Node<'_>,
        parent: Mat4,
        depth: usize,
    ) -> Result<(), SceneError> {
        let limits = &self.opts.limits;
        if depth > limits.max_depth {
            return Err(SceneError::TooLarge {
                what: "node depth",
                value: depth as u64,
                limit: limits.max_depth as u64,
            });
        }
        let local = match node.transform() {
            gltf::scene::Transform::Matrix { matrix } => {
                let mut m = [0.0f32; 16];
                for (c, col) in matrix.iter().enumerate() {
                    m[c * 4..c * 4 + 4].copy_from_slice(col);
                }
                Mat4(m)
            }
            gltf::scene::Transform::Decomposed {
                translation,
                rotation,
                scale,
            } => {
                let a = self.animated.get(&node.index());
                Mat4::from_trs(
                    a.and_then(|a| a.t).unwrap_or(translation),
                    a.and_then(|a| a.r).unwrap_or(rotation),
                    a.and_then(|a| a.s).unwrap_or(scale),
                )
            }
        };
        if local.0.iter().any(|v| !v.is_finite()) {
            return Err(SceneError::NonFinite {
                what: format!("node {} transform", node.index()),
            });
        }
        let world = parent.mul(&local);
        if let Some(mesh) = node.mesh() {
            self.mesh(&mesh, &world)?;
        }
        if let Some(light) = node.light() {
            self.light(&light, &world)?;
        }
        if let (Some(cam), None) = (node.camera(), &self.camera) {
            self.camera = Some(camera_from(&cam, &world, self.opts.aspect)?);
        }
        for child in node.children() {
            self.node(&child, world, depth + 1)?;
        }
        Ok(())
    }

    fn material_index(&mut self, m: Option<usize>) -> u32 {
        if let Some(&i) = self.material_of.get(&m) {
            return i;
        }
        let i = u32::try_from(self.materials.len()).unwrap_or(NONE);
        self.materials.push(m);
        self.material_of.insert(m, i);
        i
    }

    fn mesh(&mut self, mesh: &gltf::Mesh<'_>, world: &Mat4) -> Result<(), SceneError> {
        let limits = self.opts.limits.clone();
        let mirrors = world.mirrors();
        for prim in mesh.primitives() {
            let mode = prim.mode();
            if !matches!(
                mode,
                Mode::Triangles | Mode::TriangleStrip | Mode::TriangleFan
            ) {
                tracing::debug!(target: "render::scene", mesh = mesh.index(), "skipping non-triangle primitive");
                continue;
            }
            let pos_acc = prim.get(&gltf::Semantic::Positions).ok_or_else(|| {
                SceneError::Malformed(format!(
                    "mesh {} has a primitive without positions",
                    mesh.index()
                ))
            })?;
            let nverts = pos_acc.count() as u64;
            let nidx = prim.indices().map_or(nverts, |a| a.count() as u64);
            let ntri = match mode {
                Mode::Triangles => nidx / 3,
                _ => nidx.saturating_sub(2),
            };
            self.vertices += nverts;
            if self.vertices > limits.max_vertices {
                return Err(SceneError::TooLarge {
                    what: "vertices",
                    value: self.vertices,
                    limit: limits.max_vertices,
                });
            }
            let total = self.triangles.len() as u64 + ntri;
            if total > limits.max_triangles {
                return Err(SceneError::TooLarge {
                    what: "triangles",
                    value: total,
                    limit: limits.max_triangles,
                });
            }
            let get = self.get;
            let reader = prim.reader(get);
            let positions: Vec<[f32; 3]> = reader
                .read_positions()
                .ok_or_else(|| {
                    SceneError::Malformed(format!("mesh {}: unreadable positions", mesh.index()))
                })?
                .collect();
            if positions.len() as u64 != nverts {
                return Err(SceneError::Malformed(format!(
                    "mesh {}: positions accessor is short",
                    mesh.index()
                )));
            }
            if positions.iter().flatten().any(|v| !v.is_finite()) {
                return Err(SceneError::NonFinite {
                    what: format!("mesh {} positions", mesh.index()),
                });
            }
            let normals: Option<Vec<[f32; 3]>> = reader.read_normals().map(|it| it.collect());
            let uvs: Option<Vec<[f32; 2]>> =
                reader.read_tex_coords(0).map(|it| it.into_f32().collect());
            let indices: Vec<u32> = match reader.read_indices() {
                Some(it) => it.into_u32().collect(),
                None => (0..u32::try_from(nverts).unwrap_or(u32::MAX)).collect(),
            };
            if indices.len() as u64 != nidx {
                return Err(SceneError::Malformed(format!(
                    "mesh {}: indices accessor is short",
                    mesh.index()
                )));
            }
            let check = |len: Option<usize>, what: &str| -> Result<(), SceneError> {
                match len {
                    Some(l) if l as u64 != nverts => Err(SceneError::Malformed(format!(
                        "mesh {}: {what} has {l} entries for {nverts} vertices",
                        mesh.index()
                    ))),
                    _ => Ok(()),
                }
            };
            check(normals.as_ref().map(Vec::len), "normals")?;
            check(uvs.as_ref().map(Vec::len), "texture coordinates")?;
            let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
            let mat = self.material_index(prim.material().index());
            let tri_indices = |k: usize| -> [u32; 3] {
                match mode {
                    Mode::Triangles => [indices[3 * k], indices[3 * k + 1], indices[3 * k + 2]],
                    Mode::TriangleStrip if k.is_multiple_of(2) => {
                        [indices[k], indices[k + 1], indices[k + 2]]
                    }
                    Mode::TriangleStrip => [indices[k + 1], indices[k], indices[k + 2]],
                    _ => [indices[0], indices[k + 1], indices[k + 2]],
                }
            };
            let ntri = usize::try_from(ntri).unwrap_or(usize::MAX);
            self.triangles.reserve(ntri);
            for k in 0..ntri {
                let mut idx = tri_indices(k);
                if idx.iter().any(|&i| u64::from(i) >= nverts) {
                    return Err(SceneError::OutOfBounds {
                        what: format!("mesh {} index", mesh.index()),
                        needed: u64::from(*idx.iter().max().unwrap_or(&0)) + 1,
                        available: nverts,
                    });
                }
                if mirrors {
                    idx.swap(1, 2);
                }
                let p = idx.map(|i| world.point(positions[i as usize]));
                let e1 = math::sub(p[1], p[0]);
                let e2 = math::sub(p[2], p[0]);
                let area2 = math::length(math::cross(e1, e2));
                if area2 <= 0.0 || !area2.is_finite() {
                    self.degenerate += 1;
                    continue;
                }
                let ng = math::normalize_or(math::cross(e1, e2), [0.0, 0.0, 1.0]);
                let n = match &normals {
                    Some(ns) if idx.iter().all(|&i| finite(&ns[i as usize])) => {
                        idx.map(|i| math::normalize_or(world.normal(ns[i as usize]), ng))
                    }
                    _ => [ng; 3],
                };
                let uv = match &uvs {
                    Some(us) if idx.iter().all(|&i| finite(&us[i as usize])) => {
                        idx.map(|i| us[i as usize])
                    }
                    _ => [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
                };
                self.triangles.push(Triangle {
                    p,
                    n,
                    uv,
                    tangent: tangent(&p, &uv, ng),
                    material: mat,
                });
            }
        }
        let _ = self.doc;
        Ok(())
    }

    fn light(
        &mut self,
        light: &gltf::khr_lights_punctual::Light<'_>,
        world: &Mat4,
    ) -> Result<(), SceneError> {
        use gltf::khr_lights_punctual::Kind;
        if self.lights.len() >= self.opts.limits.max_items {
            return Err(SceneError::TooLarge {
                what: "lights",
                value: self.lights.len() as u64 + 1,
                limit: self.opts.limits.max_items as u64,
            });
        }
        let c = light.color();
        let k = light.intensity();
        let color = [c[0] * k, c[1] * k, c[2] * k];
        if color.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(SceneError::NonFinite {
                what: format!("light {}", light.index()),
            });
        }
        let position = world.point([0.0; 3]);
        let direction = math::normalize_or(world.vector([0.0, 0.0, -1.0]), [0.0, 0.0, -1.0]);
        let (kind, cos_outer, cos_inner) = match light.kind() {
            Kind::Point => (0, -2.0, -1.0),
            Kind::Spot {
                inner_cone_angle,
                outer_cone_angle,
            } => {
                let outer = math::sincos(outer_cone_angle).1;
                let inner = math::sincos(inner_cone_angle).1;
                (1, outer, inner.max(outer + 1e-6))
            }
            Kind::Directional => (2, -2.0, -1.0),
        };
        self.lights.push(Light {
            kind,
            position,
            direction,
            color,
            cos_outer,
            cos_inner,
        });
        Ok(())
    }
}

/// A tangent frame from positions and UVs (x, y, z, handedness); any unit vector orthogonal to `ng` when
/// the UVs are degenerate.
fn tangent(p: &[[f32; 3]; 3], uv: &[[f32; 2]; 3], ng: V3) -> [f32; 4] {
    let e1 = math::sub(p[1], p[0]);
    let e2 = math::sub(p[2], p[0]);
    let (du1, dv1) = (uv[1][0] - uv[0][0], uv[1][1] - uv[0][1]);
    let (du2, dv2) = (uv[2][0] - uv[0][0], uv[2][1] - uv[0][1]);
    let det = du1 * dv2 - du2 * dv1;
    let fallback = {
        let a = if ng[0].abs() < 0.9 {
            [1.0, 0.0, 0.0]
        } else {
            [0.0, 1.0, 0.0]
        };
        math::normalize_or(math::cross(a, ng), [1.0, 0.0, 0.0])
    };
    if det == 0.0 || !det.is_finite() {
        return [fallback[0], fallback[1], fallback[2], 1.0];
    }
    let r = 1.0 / det;
    let t = math::scale(math::sub(math::scale(e1, dv2), math::scale(e2, dv1)), r);
    let b = math::scale(math::sub(math::scale(e2, du1), math::scale(e1, du2)), r);
    let t = math::normalize_or(t, fallback);
    let w = if math::dot(math::cross(ng, t), b) < 0.0 {
        -1.0
    } else {
        1.0
    };
    [t[0], t[1], t[2], w]
}

fn camera_from(cam: &gltf::Camera<'_>, world: &Mat4, aspect: f32) -> Result<Camera, SceneError> {
    let yfov = match cam.projection() {
        gltf::camera::Projection::Perspective(p) => p.yfov(),
        gltf::camera::Projection::Orthographic(_) => {
            return Err(SceneError::Camera(format!(
                "camera {} is orthographic; only perspective cameras are supported",
                cam.index()
            )));
        }
    };
    if !(yfov > 0.0 && yfov < std::f32::consts::PI) {
        return Err(SceneError::Camera(format!(
            "camera {} has yfov {yfov}",
            cam.index()
        )));
    }
    let position = world.point([0.0; 3]);
    let forward = math::normalize_or(world.vector([0.0, 0.0, -1.0]), [0.0; 3]);
    let up0 = world.vector([0.0, 1.0, 0.0]);
    let right = math::normalize_or(math::cross(forward, up0), [0.0; 3]);
    let up = math::cross(right, forward);
    if forward == [0.0; 3] || right == [0.0; 3] {
        return Err(SceneError::Camera(format!(
            "camera {} has a degenerate transform",
            cam.index()
        )));
    }
    Ok(pinhole(position, forward, right, up, yfov, aspect))
}

fn pinhole(position: V3, forward: V3, right: V3, up: V3, yfov: f32, aspect: f32) -> Camera {
    let (s, c) = math::sincos(yfov * 0.5);
    let tan_half_y = s / c;
    Camera {
        position,
        right,
        up,
        forward,
        tan_half_x: tan_half_y * aspect,
        tan_half_y,
    }
}

/// With no camera in the file: 45° vertical field of view, looking down -Z at the bounding box centre from
/// far enough to see its bounding sphere.
fn default_camera(tris: &[Triangle], aspect: f32) -> Camera {
    let mut lo = [f32::MAX; 3];
    let mut hi = [f32::MIN; 3];
    for t in tris {
        for p in &t.p {
            lo = math::min3(lo, *p);
            hi = math::max3(hi, *p);
        }
    }
    if tris.is_empty() {
        lo = [0.0; 3];
        hi = [0.0; 3];
    }
    let centre = math::scale(math::add(lo, hi), 0.5);
    let radius = (0.5 * math::length(math::sub(hi, lo))).max(1e-3);
    let yfov = std::f32::consts::FRAC_PI_4;
    let (s, _) = math::sincos(yfov * 0.5);
    let dist = radius / s * 1.05;
    let position = math::add(centre, [0.0, 0.0, dist]);
    pinhole(
        position,
        [0.0, 0.0, -1.0],
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        yfov,
        aspect,
    )
}
