//! Materials, textures, images and samplers (glTF 2.0 §3.8, §3.9) and the material extensions the kernel
//! renders.

use super::GetBuffer;
use crate::scene::{Limits, Material, NONE, SceneError, Texture, images};
use std::collections::HashMap;

/// The materials the triangles use (`keys[i]` is the glTF material of our material `i`; `None` is the
/// default material) and the textures they sample, decoded within `limits`.
pub(super) fn gather(
    doc: &gltf::Document,
    keys: &[Option<usize>],
    get: &GetBuffer<'_>,
    limits: &Limits,
) -> Result<(Vec<Material>, Vec<Texture>), SceneError> {
    let mut textures: Vec<Texture> = Vec::new();
    let mut texture_of: HashMap<(usize, bool), u32> = HashMap::new();
    let mut texels = 0u64;
    let mut materials = Vec::with_capacity(keys.len());
    for &key in keys {
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
                        images::decode(image.index(), data, mime, srgb, limits, &mut texels)?;
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

    Ok((materials, textures))
}
