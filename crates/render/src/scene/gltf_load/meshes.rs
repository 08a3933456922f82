//! Mesh primitives (glTF 2.0 §3.7): their attributes read, checked and turned into world-space triangles.

use super::nodes::Walk;
use super::skins;
use crate::math::{self, Mat4, V3};
use crate::scene::{Extra, NONE, SceneError, Triangle};
use gltf::mesh::Mode;

/// The UVs of a triangle whose primitive lacks the UV set its material reads.
const FIXED_UV: [[f32; 2]; 3] = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]];

impl Walk<'_, '_> {
    /// Adds the triangles of `mesh`, instanced at `node` whose world transform is `world`: morphed by the
    /// node's weights and, if the node has a skin, posed by its joints instead of placed by `world`.
    pub(super) fn mesh(
        &mut self,
        mesh: &gltf::Mesh<'_>,
        world: &Mat4,
        node: &gltf::Node<'_>,
    ) -> Result<(), SceneError> {
        let limits = self.opts.limits.clone();
        let mirrors = world.mirrors();
        let targets = mesh
            .primitives()
            .next()
            .map_or(0, |p| p.morph_targets().len());
        if let Some(p) = mesh
            .primitives()
            .find(|p| p.morph_targets().len() != targets)
        {
            return Err(SceneError::Malformed(format!(
                "mesh {}: primitive {} has {} morph targets and primitive 0 has {targets} (glTF 2.0 \
                 §3.7.2.2: every primitive of a mesh has the same number)",
                mesh.index(),
                p.index(),
                p.morph_targets().len()
            )));
        }
        let morph_weights = if targets > 0 {
            Some(self.morph_weights(node, mesh, targets)?)
        } else {
            None
        };
        let joints = match node.skin() {
            Some(skin) => Some(match self.joints_of.get(&skin.index()) {
                Some(j) => j.clone(),
                None => {
                    let j = std::rc::Rc::new(self.joint_matrices(&skin)?);
                    self.joints_of.insert(skin.index(), j.clone());
                    j
                }
            }),
            None => None,
        };
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
            let mut positions = positions;
            let mut normals: Option<Vec<[f32; 3]>> = reader.read_normals().map(|it| it.collect());
            check_len(
                normals.as_ref().map(Vec::len),
                "normals",
                nverts,
                mesh.index(),
            )?;
            if let Some(w) = &morph_weights {
                skins::morph(
                    &prim,
                    get,
                    w,
                    &mut positions,
                    normals.as_mut(),
                    mesh.index(),
                )?;
            }
            // World space: the node's transform, or the skin's pose (per vertex; a mirroring pose flips the
            // winding of the triangles its first vertex starts).
            let (positions, normals, flips) = match &joints {
                Some(joints) => {
                    let flips = skins::skin_vertices(
                        &prim,
                        get,
                        joints,
                        &mut positions,
                        normals.as_mut(),
                        mesh.index(),
                    )?;
                    (positions, normals, Some(flips))
                }
                None => (
                    positions
                        .iter()
                        .map(|p| world.point(*p))
                        .collect::<Vec<V3>>(),
                    normals.map(|ns| ns.iter().map(|n| world.normal(*n)).collect::<Vec<V3>>()),
                    None,
                ),
            };
            let uvs: Option<Vec<[f32; 2]>> =
                reader.read_tex_coords(0).map(|it| it.into_f32().collect());
            // The second UV set is read only for a material that samples it. A set the primitive lacks
            // reads the fixed per-triangle mapping, as a missing TEXCOORD_0 does.
            let uv_set = prim
                .material()
                .index()
                .and_then(|i| self.uv_sets.get(i).copied().flatten());
            let reads_uv1 = uv_set == Some(1);
            let uvs1: Option<Vec<[f32; 2]>> = if reads_uv1 {
                reader.read_tex_coords(1).map(|it| it.into_f32().collect())
            } else {
                None
            };
            // COLOR_0 is linear RGB(A) in [0, 1] (§3.7.2.1); RGB has alpha 1. Floats outside are clamped
            // (NaN is caught below): a colour above 1 would make the surface create light.
            let colors: Option<Vec<[f32; 4]>> = reader.read_colors(0).map(|it| {
                it.into_rgba_f32()
                    .map(|c| c.map(|v| v.clamp(0.0, 1.0)))
                    .collect()
            });
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
            let check = |len: Option<usize>, what: &str| check_len(len, what, nverts, mesh.index());
            check(uvs.as_ref().map(Vec::len), "texture coordinates")?;
            check(uvs1.as_ref().map(Vec::len), "TEXCOORD_1")?;
            check(colors.as_ref().map(Vec::len), "COLOR_0")?;
            for (what, bad) in [
                (
                    "TEXCOORD_1",
                    uvs1.iter().flatten().flatten().any(|v| !v.is_finite()),
                ),
                (
                    "COLOR_0",
                    colors.iter().flatten().flatten().any(|v| !v.is_finite()),
                ),
            ] {
                if bad {
                    return Err(SceneError::NonFinite {
                        what: format!("mesh {} {what}", mesh.index()),
                    });
                }
            }
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
                if flips.as_ref().map_or(mirrors, |f| f[idx[0] as usize]) {
                    idx.swap(1, 2);
                }
                let p = idx.map(|i| positions[i as usize]);
                let (e1, e2) = math::edges(&p);
                let area2 = math::length(math::cross(e1, e2));
                if area2 <= 0.0 || !area2.is_finite() {
                    self.degenerate += 1;
                    continue;
                }
                let ng = math::normalize_or(math::cross(e1, e2), [0.0, 0.0, 1.0]);
                let n = match &normals {
                    Some(ns) if idx.iter().all(|&i| finite(&ns[i as usize])) => {
                        idx.map(|i| math::normalize_or(ns[i as usize], ng))
                    }
                    _ => [ng; 3],
                };
                let uv = match &uvs {
                    Some(us) if idx.iter().all(|&i| finite(&us[i as usize])) => {
                        idx.map(|i| us[i as usize])
                    }
                    _ => FIXED_UV,
                };
                let extra = if reads_uv1 || colors.is_some() {
                    self.extras.push(Extra {
                        uv1: uvs1
                            .as_ref()
                            .map_or(FIXED_UV, |us| idx.map(|i| us[i as usize])),
                        color: colors
                            .as_ref()
                            .map_or([[1.0; 4]; 3], |cs| idx.map(|i| cs[i as usize])),
                    });
                    u32::try_from(self.extras.len() - 1).unwrap_or(NONE)
                } else {
                    NONE
                };
                self.triangles.push(Triangle {
                    p,
                    n,
                    uv,
                    tangent: tangent(&p, &uv, ng),
                    material: mat,
                    extra,
                });
            }
        }
        let _ = self.doc;
        Ok(())
    }
}

/// Errors unless an attribute read whole has one entry per vertex.
fn check_len(len: Option<usize>, what: &str, nverts: u64, mesh: usize) -> Result<(), SceneError> {
    match len {
        Some(l) if l as u64 != nverts => Err(SceneError::Malformed(format!(
            "mesh {mesh}: {what} has {l} entries for {nverts} vertices"
        ))),
        _ => Ok(()),
    }
}

/// A tangent frame from positions and UVs (x, y, z, handedness); any unit vector orthogonal to `ng` when
/// the UVs are degenerate.
fn tangent(p: &[[f32; 3]; 3], uv: &[[f32; 2]; 3], ng: V3) -> [f32; 4] {
    let (e1, e2) = math::edges(p);
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
