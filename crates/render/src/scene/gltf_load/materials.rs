//! Materials, textures, images and samplers (glTF 2.0 §3.8, §3.9) and the material extensions the kernel
//! renders: each texture a material uses becomes a slot naming the decoded texture, the UV set it is read
//! at (`texCoord`, 0 or 1), its `KHR_texture_transform` and its sampler's wrap modes.

use super::GetBuffer;
use crate::math;
use crate::scene::{AlphaMode, Limits, Material, NONE, SceneError, TexSlot, Texture, Wrap, images};
use std::collections::HashMap;

/// How a material refers to one texture, whichever kind of texture info it is.
struct TexUse<'a> {
    texture: gltf::texture::Texture<'a>,
    tex_coord: u32,
    transform: Option<gltf::json::extensions::texture::TextureTransform>,
}

impl<'a> TexUse<'a> {
    fn info(i: gltf::texture::Info<'a>) -> Self {
        let transform =
            i.texture_transform()
                .map(|t| gltf::json::extensions::texture::TextureTransform {
                    offset: gltf::json::extensions::texture::TextureTransformOffset(t.offset()),
                    rotation: gltf::json::extensions::texture::TextureTransformRotation(
                        t.rotation(),
                    ),
                    scale: gltf::json::extensions::texture::TextureTransformScale(t.scale()),
                    tex_coord: t.tex_coord(),
                    extras: Default::default(),
                });
        TexUse {
            texture: i.texture(),
            tex_coord: i.tex_coord(),
            transform,
        }
    }

    /// A normal texture, with its `KHR_texture_transform` from [`normal_transforms`].
    fn normal(
        n: &gltf::material::NormalTexture<'a>,
        transform: Option<&gltf::json::extensions::texture::TextureTransform>,
    ) -> Self {
        TexUse {
            texture: n.texture(),
            tex_coord: n.tex_coord(),
            transform: transform.map(|t| gltf::json::extensions::texture::TextureTransform {
                offset: t.offset,
                rotation: t.rotation,
                scale: t.scale,
                tex_coord: t.tex_coord,
                extras: Default::default(),
            }),
        }
    }

    /// The UV set this use reads: `KHR_texture_transform`'s `texCoord` overrides the info's.
    fn set(&self) -> u32 {
        self.transform
            .as_ref()
            .and_then(|t| t.tex_coord)
            .unwrap_or(self.tex_coord)
    }
}

/// `KHR_texture_transform` of each material's normal texture, indexed by material.
pub(super) type NormalTransforms = Vec<Option<gltf::json::extensions::texture::TextureTransform>>;

/// Reads [`NormalTransforms`] from the glTF JSON in one typed pass that skips everything else: the `gltf`
/// crate types the extension only on plain texture infos, and its `extensions` feature, which would keep
/// it on normal textures, keeps every unknown extension as JSON values at about 30 times their size.
///
/// Errors: a transform that is not a valid `KHR_texture_transform` object.
pub(super) fn normal_transforms(json: &[u8]) -> Result<NormalTransforms, SceneError> {
    use gltf::json::extensions::texture::TextureTransform;
    #[derive(serde::Deserialize)]
    struct Root {
        #[serde(default)]
        materials: Vec<Mat>,
    }
    #[derive(serde::Deserialize)]
    struct Mat {
        #[serde(default, rename = "normalTexture")]
        normal: Option<Normal>,
    }
    #[derive(serde::Deserialize)]
    struct Normal {
        #[serde(default)]
        extensions: Option<Ext>,
    }
    #[derive(serde::Deserialize)]
    struct Ext {
        #[serde(default, rename = "KHR_texture_transform")]
        transform: Option<TextureTransform>,
    }
    let root: Root = serde_json::from_slice(json).map_err(|e| {
        SceneError::Malformed(format!(
            "a material's normal texture has a malformed KHR_texture_transform: {e}"
        ))
    })?;
    Ok(root
        .materials
        .into_iter()
        .map(|m| {
            m.normal
                .and_then(|n| n.extensions)
                .and_then(|e| e.transform)
        })
        .collect())
}

/// The texture uses of `mat`, in the kernel's slot order (base colour, metallic-roughness, emissive,
/// normal, transmission).
fn uses<'a>(
    mat: &gltf::Material<'a>,
    normal: &NormalTransforms,
) -> Result<[Option<TexUse<'a>>; 5], String> {
    let pbr = mat.pbr_metallic_roughness();
    let xf = mat
        .index()
        .and_then(|i| normal.get(i))
        .and_then(Option::as_ref);
    Ok([
        pbr.base_color_texture().map(TexUse::info),
        pbr.metallic_roughness_texture().map(TexUse::info),
        mat.emissive_texture().map(TexUse::info),
        mat.normal_texture().as_ref().map(|n| TexUse::normal(n, xf)),
        mat.transmission()
            .and_then(|t| t.transmission_texture())
            .map(TexUse::info),
    ])
}

/// The highest UV set (`TEXCOORD_n`) the material's textures read, if any: a primitive drawn with it must
/// have that attribute (glTF-Validator, `MESH_PRIMITIVE_TOO_FEW_TEXCOORDS`).
///
/// Errors: a set above 1 (the renderer reads `TEXCOORD_0` and `TEXCOORD_1`), a malformed transform.
pub(super) fn highest_uv_set(
    mat: &gltf::Material<'_>,
    normal: &NormalTransforms,
) -> Result<Option<u32>, SceneError> {
    let what = |e: String| SceneError::Malformed(format!("material {}: {e}", index(mat)));
    let mut top = None;
    for u in uses(mat, normal).map_err(what)?.iter().flatten() {
        let set = u.set();
        if set > 1 {
            return Err(what(format!(
                "a texture reads TEXCOORD_{set}; the renderer reads TEXCOORD_0 and TEXCOORD_1"
            )));
        }
        top = top.max(Some(set));
    }
    Ok(top)
}

fn index(mat: &gltf::Material<'_>) -> String {
    mat.index().map_or("(default)".into(), |i| i.to_string())
}

/// `KHR_texture_transform`'s matrix `T · R · S` (translation by `offset`, rotation by `rotation` radians
/// counter-clockwise in UV space, scale), as the rows `[a, b, c, d, e, f]` of `u' = a u + b v + c`,
/// `v' = d u + e v + f`. The extension gives it as
/// `[[1,0,x],[0,1,y],[0,0,1]] · [[cos,sin,0],[−sin,cos,0],[0,0,1]] · [[sx,0,0],[0,sy,0],[0,0,1]]`.
fn transform_rows(t: &gltf::json::extensions::texture::TextureTransform) -> [f32; 6] {
    let (sin, cos) = math::sincos(t.rotation.0);
    let ([x, y], [sx, sy]) = (t.offset.0, t.scale.0);
    [cos * sx, sin * sy, x, -sin * sx, cos * sy, y]
}

fn wrap(mode: gltf::texture::WrappingMode) -> Wrap {
    match mode {
        gltf::texture::WrappingMode::Repeat => Wrap::Repeat,
        gltf::texture::WrappingMode::ClampToEdge => Wrap::ClampToEdge,
        gltf::texture::WrappingMode::MirroredRepeat => Wrap::MirroredRepeat,
    }
}

/// The materials the triangles use (`keys[i]` is the glTF material of our material `i`; `None` is the
/// default material) and the textures they sample, decoded within `limits` (an image used both as colour
/// and as data is decoded once for each).
///
/// Errors: non-finite factors or transforms, an alpha cutoff below 0, a texture on a UV set above 1, an
/// image outside the file or one that does not decode within the limits.
pub(super) fn gather(
    doc: &gltf::Document,
    keys: &[Option<usize>],
    normal: &NormalTransforms,
    get: &GetBuffer<'_>,
    limits: &Limits,
) -> Result<(Vec<Material>, Vec<Texture>), SceneError> {
    let mut textures: Vec<Texture> = Vec::new();
    let mut texture_of: HashMap<(usize, bool), u32> = HashMap::new();
    let mut texels = 0u64;
    let mut materials = Vec::with_capacity(keys.len());
    for &key in keys {
        let Some(i) = key else {
            materials.push(Material::DEFAULT);
            continue;
        };
        let mat = doc
            .materials()
            .nth(i)
            .ok_or_else(|| SceneError::Malformed(format!("material {i} does not exist")))?;
        let mut decode = |t: &gltf::texture::Texture<'_>, srgb: bool| -> Result<u32, SceneError> {
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
            let decoded = images::decode(image.index(), data, mime, srgb, limits, &mut texels)?;
            let id = u32::try_from(textures.len()).unwrap_or(NONE);
            textures.push(decoded);
            texture_of.insert(k, id);
            Ok(id)
        };
        let used =
            uses(&mat, normal).map_err(|e| SceneError::Malformed(format!("material {i}: {e}")))?;
        let mut slots = [TexSlot::NONE; 5];
        // Base colour and emissive textures hold sRGB colour; the others hold data.
        for (k, (u, srgb)) in used
            .iter()
            .zip([true, false, true, false, false])
            .enumerate()
        {
            let Some(u) = u else { continue };
            let sampler = u.texture.sampler();
            let transform = u
                .transform
                .as_ref()
                .map_or(TexSlot::NONE.transform, transform_rows);
            if transform.iter().any(|v| !v.is_finite()) {
                return Err(SceneError::NonFinite {
                    what: format!("material {i} texture transform"),
                });
            }
            slots[k] = TexSlot {
                texture: decode(&u.texture, srgb)?,
                set: u.set(),
                wrap: [wrap(sampler.wrap_s()), wrap(sampler.wrap_t())],
                transform,
            };
        }
        let pbr = mat.pbr_metallic_roughness();
        let strength = mat.emissive_strength().unwrap_or(1.0);
        let e = mat.emissive_factor();
        let alpha_mode = match mat.alpha_mode() {
            gltf::material::AlphaMode::Opaque => AlphaMode::Opaque,
            gltf::material::AlphaMode::Mask => AlphaMode::Mask,
            gltf::material::AlphaMode::Blend => AlphaMode::Blend,
        };
        let m = Material {
            base: pbr.base_color_factor(),
            metallic: pbr.metallic_factor(),
            roughness: pbr.roughness_factor(),
            emissive: [e[0] * strength, e[1] * strength, e[2] * strength],
            normal_scale: mat.normal_texture().map_or(1.0, |n| n.scale()),
            specular: mat.specular().map_or(1.0, |s| s.specular_factor()),
            alpha_mode,
            // §3.9.4: alphaCutoff defaults to 0.5 and "MUST be >= 0".
            alpha_cutoff: mat.alpha_cutoff().unwrap_or(0.5),
            transmission: mat.transmission().map_or(0.0, |t| t.transmission_factor()),
            ior: mat.ior().unwrap_or(1.5),
            volume: mat.volume().is_some_and(|v| v.thickness_factor() > 0.0),
            slots,
        };
        let scalars = [
            m.metallic,
            m.roughness,
            m.normal_scale,
            m.specular,
            m.alpha_cutoff,
            m.transmission,
            m.ior,
        ];
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
        // glTF 2.0 §5.19/§5.22 and the extensions' schemas: factors lie in [0, 1]; beyond, a surface would
        // give back more light than it receives.
        let unit = [
            ("baseColorFactor", m.base.to_vec()),
            ("metallicFactor", vec![m.metallic]),
            ("roughnessFactor", vec![m.roughness]),
            ("emissiveFactor", mat.emissive_factor().to_vec()),
            ("specularFactor", vec![m.specular]),
        ];
        if let Some((name, v)) = unit
            .iter()
            .find(|(_, v)| v.iter().any(|x| !(0.0..=1.0).contains(x)))
        {
            return Err(SceneError::Malformed(format!(
                "material {i}: {name} {v:?} is outside [0, 1] (glTF 2.0)"
            )));
        }
        if !(0.0..=1.0).contains(&m.transmission) {
            return Err(SceneError::Malformed(format!(
                "material {i}: transmissionFactor {} is outside [0, 1] (KHR_materials_transmission)",
                m.transmission
            )));
        }
        // KHR_materials_ior: 1 or more, or the special value 0. No material refracts beyond 10 (diamond is
        // 2.42); far larger values break the refraction's arithmetic, so they are refused too.
        if !(m.ior >= 1.0 && m.ior <= 10.0 || m.ior == 0.0) {
            return Err(SceneError::Malformed(format!(
                "material {i}: ior {} is neither 0 nor in [1, 10] (KHR_materials_ior)",
                m.ior
            )));
        }
        if m.alpha_cutoff < 0.0 {
            return Err(SceneError::Malformed(format!(
                "material {i}: alphaCutoff {} is below 0 (glTF 2.0 §3.9.4: it must be >= 0)",
                m.alpha_cutoff
            )));
        }
        materials.push(m);
    }
    Ok((materials, textures))
}
