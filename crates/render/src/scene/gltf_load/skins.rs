//! Skins (glTF 2.0 §3.7.3) and morph targets (§3.7.2.2): a mesh is deformed to the frame's pose before its
//! triangles are made, on the host, so the kernel sees only posed triangles.
//!
//! Morphing comes first (`p = p₀ + Σ wᵢ·targetᵢ`, normals likewise), then skinning
//! (`p' = Σ w_k · J[j_k] · p`, `J[j] = world(joint j) · inverseBindMatrix[j]`), as §3.7.3.3 orders them. A
//! skinned mesh ignores its own node's transform (§3.7.3.3: "the transform of the skinned mesh node MUST be
//! ignored"). Sums run in a fixed order, so the posed mesh has the same bits on every machine.

use super::GetBuffer;
use super::nodes::Walk;
use crate::math::{Mat4, V3};
use crate::scene::SceneError;

/// Most joint influences a vertex may have: `JOINTS_0`/`WEIGHTS_0` and `JOINTS_1`/`WEIGHTS_1`.
const SETS: u32 = 2;

/// How far a vertex's joint weights may sum from 1 (§3.7.3.2: they "MUST" be normalized; exporters round).
const WEIGHT_SUM_TOLERANCE: f32 = 1e-2;

impl Walk<'_, '_> {
    /// The morph weights of `mesh` at `node` for `targets` targets: the animated ones, else the node's,
    /// else the mesh's, else zeros (§3.7.2.2).
    ///
    /// Errors: weights whose count is not the targets' count, or that are not finite.
    pub(super) fn morph_weights(
        &self,
        node: &gltf::Node<'_>,
        mesh: &gltf::Mesh<'_>,
        targets: usize,
    ) -> Result<Vec<f32>, SceneError> {
        let animated = self
            .animated
            .get(&node.index())
            .and_then(|a| a.w.as_deref());
        let (weights, from) = match (animated, node.weights(), mesh.weights()) {
            (Some(w), _, _) => (w, "its animation"),
            (None, Some(w), _) => (w, "the node"),
            (None, None, Some(w)) => (w, "the mesh"),
            (None, None, None) => return Ok(vec![0.0; targets]),
        };
        if weights.len() != targets {
            return Err(SceneError::Malformed(format!(
                "node {} / mesh {}: {from} gives {} morph weights for {targets} morph targets \
                 (glTF 2.0 §3.7.2.2: one weight per target)",
                node.index(),
                mesh.index(),
                weights.len()
            )));
        }
        if weights.iter().any(|w| !w.is_finite()) {
            return Err(SceneError::NonFinite {
                what: format!("node {} morph weights", node.index()),
            });
        }
        Ok(weights.to_vec())
    }

    /// The joint matrices of `skin`: each joint's world transform times its inverse bind matrix (the
    /// identity when the skin has none).
    ///
    /// Errors: a joint outside the scene; fewer inverse bind matrices than joints, or not `MAT4` floats;
    /// more joints than `Limits::max_items`; non-finite matrices.
    pub(super) fn joint_matrices(&self, skin: &gltf::Skin<'_>) -> Result<Vec<Mat4>, SceneError> {
        use gltf::accessor::{DataType, Dimensions};
        let s = skin.index();
        let joints: Vec<gltf::Node<'_>> = skin.joints().collect();
        if joints.len() > self.opts.limits.max_items {
            return Err(SceneError::TooLarge {
                what: "skin joints",
                value: joints.len() as u64,
                limit: self.opts.limits.max_items as u64,
            });
        }
        let ibms: Vec<Mat4> = match skin.inverse_bind_matrices() {
            None => vec![Mat4::IDENTITY; joints.len()],
            Some(a) => {
                if a.data_type() != DataType::F32 || a.dimensions() != Dimensions::Mat4 {
                    return Err(SceneError::Malformed(format!(
                        "skin {s}: inverseBindMatrices (accessor {}) must be MAT4 floats",
                        a.index()
                    )));
                }
                if a.count() < joints.len() {
                    return Err(SceneError::Malformed(format!(
                        "skin {s}: {} inverse bind matrices for {} joints (glTF 2.0 §3.7.3.1: at least one \
                         per joint)",
                        a.count(),
                        joints.len()
                    )));
                }
                let get = self.get;
                skin.reader(get)
                    .read_inverse_bind_matrices()
                    .ok_or_else(|| {
                        SceneError::Malformed(format!("skin {s}: unreadable inverseBindMatrices"))
                    })?
                    .take(joints.len())
                    .map(|cols| {
                        let mut m = [0.0f32; 16];
                        for (c, col) in cols.iter().enumerate() {
                            m[c * 4..c * 4 + 4].copy_from_slice(col);
                        }
                        Mat4(m)
                    })
                    .collect()
            }
        };
        if ibms.iter().any(|m| m.0.iter().any(|v| !v.is_finite())) {
            return Err(SceneError::NonFinite {
                what: format!("skin {s} inverse bind matrices"),
            });
        }
        joints
            .iter()
            .zip(&ibms)
            .map(|(j, ibm)| {
                let world = self
                    .worlds
                    .get(j.index())
                    .copied()
                    .flatten()
                    .ok_or_else(|| {
                        SceneError::Malformed(format!(
                            "skin {s}: joint node {} is not in the rendered scene",
                            j.index()
                        ))
                    })?;
                Ok(world.mul(ibm))
            })
            .collect()
    }
}

/// Adds the primitive's morph targets, weighted, to `positions` and (where present) `normals`.
///
/// Errors: a target whose accessors are not `VEC3` floats or not one per vertex; non-finite displacements.
pub(super) fn morph(
    prim: &gltf::Primitive<'_>,
    get: &GetBuffer<'_>,
    weights: &[f32],
    positions: &mut [V3],
    mut normals: Option<&mut Vec<V3>>,
    mesh: usize,
) -> Result<(), SceneError> {
    use gltf::accessor::{DataType, Dimensions};
    for (t, target) in prim.morph_targets().enumerate() {
        for a in [target.positions(), target.normals(), target.tangents()]
            .into_iter()
            .flatten()
        {
            if a.data_type() != DataType::F32 || a.dimensions() != Dimensions::Vec3 {
                return Err(SceneError::Malformed(format!(
                    "mesh {mesh}: morph target {t} (accessor {}) must be VEC3 floats",
                    a.index()
                )));
            }
            if a.count() != positions.len() {
                return Err(SceneError::Malformed(format!(
                    "mesh {mesh}: morph target {t} (accessor {}) has {} elements for {} vertices",
                    a.index(),
                    a.count(),
                    positions.len()
                )));
            }
        }
    }
    let reader = prim.reader(get);
    for (t, (dp, dn, _)) in reader.read_morph_targets().enumerate() {
        let w = weights.get(t).copied().unwrap_or(0.0);
        if w == 0.0 {
            continue;
        }
        let bad = || SceneError::NonFinite {
            what: format!("mesh {mesh} morph target {t}"),
        };
        if let Some(dp) = dp {
            for (p, d) in positions.iter_mut().zip(dp) {
                if d.iter().any(|v| !v.is_finite()) {
                    return Err(bad());
                }
                *p = [p[0] + w * d[0], p[1] + w * d[1], p[2] + w * d[2]];
            }
        }
        if let (Some(dn), Some(ns)) = (dn, normals.as_deref_mut()) {
            for (n, d) in ns.iter_mut().zip(dn) {
                if d.iter().any(|v| !v.is_finite()) {
                    return Err(bad());
                }
                *n = [n[0] + w * d[0], n[1] + w * d[1], n[2] + w * d[2]];
            }
        }
    }
    Ok(())
}

/// Poses the primitive's vertices in place: each vertex by its skin matrix `Σ w_k · joints[j_k]` over
/// `JOINTS_n`/`WEIGHTS_n`, n < 2 (positions as points, normals by the matrix's cofactors), one vertex at a
/// time so that no matrix per vertex is held. Returns, per vertex, whether its matrix mirrors.
///
/// Errors: a skinned primitive without `JOINTS_0`/`WEIGHTS_0`; a set the renderer does not read (2 and
/// up); a joint index past the skin's joints; negative or non-finite weights, or weights that do not sum
/// to 1 (within 1%).
pub(super) fn skin_vertices(
    prim: &gltf::Primitive<'_>,
    get: &GetBuffer<'_>,
    joints: &[Mat4],
    positions: &mut [V3],
    mut normals: Option<&mut Vec<V3>>,
    mesh: usize,
) -> Result<Vec<bool>, SceneError> {
    let bad = |m: String| SceneError::Malformed(format!("mesh {mesh}: {m}"));
    if let Some((sem, _)) = prim.attributes().find(
        |(s, _)| matches!(s, gltf::Semantic::Joints(n) | gltf::Semantic::Weights(n) if *n >= SETS),
    ) {
        return Err(bad(format!(
            "attribute {sem:?}: the renderer reads at most 8 joint influences (JOINTS_0/WEIGHTS_0 and \
             JOINTS_1/WEIGHTS_1)"
        )));
    }
    let reader = prim.reader(get);
    let mut sets = Vec::new();
    for set in 0..SETS {
        match (reader.read_joints(set), reader.read_weights(set)) {
            (Some(j), Some(w)) => sets.push((set, j.into_u16().zip(w.into_f32()))),
            (None, None) if set > 0 => break,
            _ => {
                return Err(bad(format!(
                    "the mesh is skinned but its primitive lacks JOINTS_{set} or WEIGHTS_{set} \
                     (glTF 2.0 §3.7.3.2: both are needed)"
                )));
            }
        }
    }
    let mut flips = Vec::with_capacity(positions.len());
    for (v, p) in positions.iter_mut().enumerate() {
        let mut m = Mat4([0.0; 16]);
        let mut sum = 0.0f32;
        for (set, it) in &mut sets {
            let (j, w) = it
                .next()
                .ok_or_else(|| bad(format!("JOINTS_{set} or WEIGHTS_{set} is short")))?;
            for k in 0..4 {
                let (jk, wk) = (usize::from(j[k]), w[k]);
                if !(wk >= 0.0 && wk.is_finite()) {
                    return Err(bad(format!(
                        "WEIGHTS_{set} of vertex {v} is {wk}: joint weights must be finite and >= 0"
                    )));
                }
                if wk == 0.0 {
                    continue;
                }
                let jm = joints.get(jk).ok_or_else(|| {
                    bad(format!(
                        "JOINTS_{set} of vertex {v} names joint {jk} of a skin with {} joints",
                        joints.len()
                    ))
                })?;
                for (acc, x) in m.0.iter_mut().zip(&jm.0) {
                    *acc += wk * x;
                }
                sum += wk;
            }
        }
        if (sum - 1.0).abs() > WEIGHT_SUM_TOLERANCE {
            return Err(bad(format!(
                "the joint weights of vertex {v} sum to {sum} (glTF 2.0 §3.7.3.2: they must sum to 1)"
            )));
        }
        *p = m.point(*p);
        if let Some(ns) = normals.as_deref_mut() {
            ns[v] = m.normal(ns[v]);
        }
        flips.push(m.mirrors());
    }
    Ok(flips)
}
