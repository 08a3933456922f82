//! The node hierarchy (glTF 2.0 §3.5): a forest, walked once per instance with world transforms, and the
//! work a scene declares bounded before any of it is done.

use super::GetBuffer;
use super::animation::Trs;
use super::camera::camera_from;
use crate::math::Mat4;
use crate::scene::{Camera, Extra, Light, LoadOptions, NONE, SceneError, Triangle};
use gltf::mesh::Mode;
use std::collections::HashMap;

/// glTF 2.0 (§3.5.3, Nodes and Hierarchy): "the node hierarchy MUST be a set of disjoint strict trees" — no
/// node has two parents or is its own ancestor, and a scene's root nodes are nobody's children. A file that
/// breaks it can make a few kilobytes describe 2^42 node visits (each level listing both nodes of the next);
/// it is refused here, before any walk, in O(nodes + children).
pub(super) fn check_forest(doc: &gltf::Document) -> Result<(), SceneError> {
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
pub(super) fn check_declared_work(
    doc: &gltf::Document,
    scene: &gltf::Scene<'_>,
    limits: &crate::scene::Limits,
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
                // Each morph target is read whole, like another copy of the vertices, and weighed once
                // per instance.
                vertices = vertices.saturating_add(prim.morph_targets().len() as u64);
                for t in prim.morph_targets() {
                    for a in [t.positions(), t.normals(), t.tangents()]
                        .into_iter()
                        .flatten()
                    {
                        vertices = vertices.saturating_add(a.count() as u64);
                    }
                }
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

/// The walk of a scene's node trees: triangles, lights and the camera in world space.
pub(super) struct Walk<'a, 'b> {
    pub opts: &'b LoadOptions,
    pub get: &'b GetBuffer<'a>,
    pub animated: &'b HashMap<usize, Trs>,
    /// World transform of each node of the scene (`None`: not in the scene).
    pub worlds: Vec<Option<Mat4>>,
    /// The highest UV set each glTF material reads (`materials::highest_uv_set`).
    pub uv_sets: &'b [Option<u32>],
    /// Joint matrices of each skin, computed once however many meshes it deforms.
    pub joints_of: HashMap<usize, std::rc::Rc<Vec<Mat4>>>,
    pub triangles: Vec<Triangle>,
    /// Second UV set and vertex colours of the triangles that have them.
    pub extras: Vec<Extra>,
    pub lights: Vec<Light>,
    pub camera: Option<Camera>,
    pub degenerate: u64,
    pub vertices: u64,
    /// glTF material index (None: default material) -> our index.
    pub material_of: HashMap<Option<usize>, u32>,
    pub materials: Vec<Option<usize>>,
    pub doc: &'b gltf::Document,
}

impl Walk<'_, '_> {
    /// Adds what `node` and its subtree hold, with the world transforms of [`world_matrices`].
    pub(super) fn node(&mut self, node: &gltf::Node<'_>) -> Result<(), SceneError> {
        let world = self.worlds[node.index()].unwrap_or(Mat4::IDENTITY);
        if let Some(mesh) = node.mesh() {
            self.mesh(&mesh, &world, node)?;
        }
        if let Some(light) = node.light() {
            self.light(&light, &world)?;
        }
        if let (Some(cam), None) = (node.camera(), &self.camera) {
            self.camera = Some(camera_from(&cam, &world, self.opts.aspect)?);
        }
        for child in node.children() {
            self.node(&child)?;
        }
        Ok(())
    }

    pub(super) fn material_index(&mut self, m: Option<usize>) -> u32 {
        if let Some(&i) = self.material_of.get(&m) {
            return i;
        }
        let i = u32::try_from(self.materials.len()).unwrap_or(NONE);
        self.materials.push(m);
        self.material_of.insert(m, i);
        i
    }
}

/// A node's transform relative to its parent: its matrix, or its TRS with the animated values at the
/// frame's time in place of the file's.
fn local_matrix(node: &gltf::Node<'_>, animated: &HashMap<usize, Trs>) -> Result<Mat4, SceneError> {
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
            let a = animated.get(&node.index());
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
    Ok(local)
}

/// The world transform of every node of `scene` (§3.5.2: the product of its ancestors' local transforms
/// and its own), indexed by node; `None` for nodes outside the scene. Skins need them all before any mesh
/// is read, since a joint may come after the mesh it deforms.
///
/// Errors: a hierarchy deeper than `max_depth`; a transform that is not finite.
pub(super) fn world_matrices(
    doc: &gltf::Document,
    scene: &gltf::Scene<'_>,
    animated: &HashMap<usize, Trs>,
    max_depth: usize,
) -> Result<Vec<Option<Mat4>>, SceneError> {
    let mut worlds = vec![None; doc.nodes().len()];
    // The forest check has run: each node is met once.
    let mut stack: Vec<(gltf::Node<'_>, Mat4, usize)> =
        scene.nodes().map(|n| (n, Mat4::IDENTITY, 0)).collect();
    while let Some((node, parent, depth)) = stack.pop() {
        if depth > max_depth {
            return Err(SceneError::TooLarge {
                what: "node depth",
                value: depth as u64,
                limit: max_depth as u64,
            });
        }
        let world = parent.mul(&local_matrix(&node, animated)?);
        worlds[node.index()] = Some(world);
        stack.extend(node.children().map(|c| (c, world, depth + 1)));
    }
    Ok(worlds)
}
