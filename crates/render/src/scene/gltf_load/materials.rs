//! Materials, textures, images and samplers (glTF 2.0 §3.8, §3.9) and the material extensions the kernel
//! renders: each texture a material uses becomes a slot naming the decoded texture, the UV set it is read
//! at (`texCoord`, 0 or 1), its `KHR_texture_transform` and its sampler's wrap modes.

use super::GetBuffer;
use crate::math;
use crate::scene::{
    AlphaMode, Limits, Material, NONE, SLOTS, SceneError, TexSlot, Texture, Wrap, images,
};
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

    /// A normal texture, with its `KHR_texture_transform` from [`materials_json`].
    fn normal(
        n: &gltf::material::NormalTexture<'a>,
        transform: Option<&gltf::json::extensions::texture::TextureTransform>,
    ) -> Self {
        TexUse {
            texture: n.texture(),
            tex_coord: n.tex_coord(),
            transform: transform.map(copy_transform),
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

/// A copy of a transform (the type is not `Clone`; its `extras` are not needed).
fn copy_transform(
    t: &gltf::json::extensions::texture::TextureTransform,
) -> gltf::json::extensions::texture::TextureTransform {
    gltf::json::extensions::texture::TextureTransform {
        offset: t.offset,
        rotation: t.rotation,
        scale: t.scale,
        tex_coord: t.tex_coord,
        extras: Default::default(),
    }
}

/// A texture info as the JSON gives it (glTF 2.0 §5.24, with `normalTextureInfo`'s `scale`), for the
/// extensions the `gltf` crate does not type.
#[derive(serde::Deserialize)]
struct JsonTexInfo {
    index: usize,
    #[serde(default, rename = "texCoord")]
    tex_coord: u32,
    #[serde(default)]
    scale: Option<f32>,
    #[serde(default)]
    extensions: Option<TexInfoExt>,
}

#[derive(serde::Deserialize)]
struct TexInfoExt {
    #[serde(default, rename = "KHR_texture_transform")]
    transform: Option<gltf::json::extensions::texture::TextureTransform>,
}

/// `KHR_materials_clearcoat` (defaults from its schema).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Clearcoat {
    #[serde(default)]
    clearcoat_factor: f32,
    #[serde(default)]
    clearcoat_texture: Option<JsonTexInfo>,
    #[serde(default)]
    clearcoat_roughness_factor: f32,
    #[serde(default)]
    clearcoat_roughness_texture: Option<JsonTexInfo>,
    #[serde(default)]
    clearcoat_normal_texture: Option<JsonTexInfo>,
}

/// `KHR_materials_sheen` (defaults from its schema).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sheen {
    #[serde(default)]
    sheen_color_factor: [f32; 3],
    #[serde(default)]
    sheen_color_texture: Option<JsonTexInfo>,
    #[serde(default)]
    sheen_roughness_factor: f32,
    #[serde(default)]
    sheen_roughness_texture: Option<JsonTexInfo>,
}

/// What the loader reads of a material beyond what the `gltf` crate types: the `KHR_texture_transform` of
/// its normal texture, `KHR_materials_clearcoat`, `KHR_materials_sheen` and `KHR_materials_unlit`.
#[derive(Default)]
pub(super) struct MaterialJson {
    normal_transform: Option<gltf::json::extensions::texture::TextureTransform>,
    clearcoat: Option<Clearcoat>,
    sheen: Option<Sheen>,
    unlit: bool,
}

/// [`MaterialJson`] of each material, indexed by material.
pub(super) type MaterialsJson = Vec<MaterialJson>;

/// Reads [`MaterialsJson`] from the glTF JSON in one typed pass that skips everything else: the `gltf`
/// crate types `KHR_texture_transform` only on plain texture infos and has no types for the coat, sheen
/// and unlit extensions; its `extensions` feature keeps every unknown extension as JSON values at about 30
/// times their size.
///
/// Errors: an extension object of the wrong shape (a factor that is not a number, a texture info without
/// an index...), with serde's line and column.
pub(super) fn materials_json(json: &[u8]) -> Result<MaterialsJson, SceneError> {
    #[derive(serde::Deserialize)]
    struct Root {
        #[serde(default)]
        materials: Vec<Mat>,
    }
    #[derive(serde::Deserialize)]
    struct Mat {
        #[serde(default, rename = "normalTexture")]
        normal: Option<Normal>,
        #[serde(default)]
        extensions: Option<MatExt>,
    }
    #[derive(serde::Deserialize)]
    struct Normal {
        #[serde(default)]
        extensions: Option<TexInfoExt>,
    }
    #[derive(serde::Deserialize)]
    struct MatExt {
        #[serde(default, rename = "KHR_materials_clearcoat")]
        clearcoat: Option<serde_json::Map<String, serde_json::Value>>,
        #[serde(default, rename = "KHR_materials_sheen")]
        sheen: Option<serde_json::Map<String, serde_json::Value>>,
        #[serde(default, rename = "KHR_materials_unlit")]
        unlit: Option<serde_json::Map<String, serde_json::Value>>,
    }
    // An extension is a JSON object (glTF 2.0 §3.12); serde would also read a struct from an array.
    fn typed<T: serde::de::DeserializeOwned>(
        v: Option<serde_json::Map<String, serde_json::Value>>,
        name: &str,
    ) -> Result<Option<T>, SceneError> {
        v.map(|m| {
            serde_json::from_value(serde_json::Value::Object(m)).map_err(|e| {
                SceneError::Malformed(format!("a material's {name} is malformed: {e}"))
            })
        })
        .transpose()
    }
    // Typed all the way down: what is not named here is skipped, never held.
    let root: Root = serde_json::from_slice(json).map_err(|e| {
        SceneError::Malformed(format!(
            "a material's normal texture transform, KHR_materials_clearcoat, KHR_materials_sheen or \
             KHR_materials_unlit is malformed: {e}"
        ))
    })?;
    root.materials
        .into_iter()
        .map(|m| {
            let (clearcoat, sheen, unlit) = match m.extensions {
                Some(e) => (
                    typed(e.clearcoat, "KHR_materials_clearcoat")?,
                    typed(e.sheen, "KHR_materials_sheen")?,
                    e.unlit.is_some(),
                ),
                None => (None, None, false),
            };
            Ok(MaterialJson {
                normal_transform: m
                    .normal
                    .and_then(|n| n.extensions)
                    .and_then(|e| e.transform),
                clearcoat,
                sheen,
                unlit,
            })
        })
        .collect()
}

/// The texture uses of `mat`, in the kernel's slot order (`TS_SLOT_*`: base colour, metallic-roughness,
/// emissive, normal, transmission, clearcoat, clearcoat roughness, clearcoat normal, sheen colour, sheen
/// roughness).
///
/// Errors: a texture index that names no texture.
fn uses<'a>(
    doc: &'a gltf::Document,
    mat: &gltf::Material<'a>,
    json: &MaterialsJson,
) -> Result<[Option<TexUse<'a>>; SLOTS], String> {
    let pbr = mat.pbr_metallic_roughness();
    let ext = mat.index().and_then(|i| json.get(i));
    let xf = ext.and_then(|e| e.normal_transform.as_ref());
    let info = |t: &Option<JsonTexInfo>, what: &str| -> Result<Option<TexUse<'a>>, String> {
        let Some(t) = t else { return Ok(None) };
        let texture = doc
            .textures()
            .nth(t.index)
            .ok_or_else(|| format!("{what} names texture {}, which does not exist", t.index))?;
        Ok(Some(TexUse {
            texture,
            tex_coord: t.tex_coord,
            transform: t
                .extensions
                .as_ref()
                .and_then(|e| e.transform.as_ref())
                .map(copy_transform),
        }))
    };
    let cc = ext.and_then(|e| e.clearcoat.as_ref());
    let sh = ext.and_then(|e| e.sheen.as_ref());
    let none = None;
    Ok([
        pbr.base_color_texture().map(TexUse::info),
        pbr.metallic_roughness_texture().map(TexUse::info),
        mat.emissive_texture().map(TexUse::info),
        mat.normal_texture().as_ref().map(|n| TexUse::normal(n, xf)),
        mat.transmission()
            .and_then(|t| t.transmission_texture())
            .map(TexUse::info),
        info(
            cc.map_or(&none, |c| &c.clearcoat_texture),
            "clearcoatTexture",
        )?,
        info(
            cc.map_or(&none, |c| &c.clearcoat_roughness_texture),
            "clearcoatRoughnessTexture",
        )?,
        info(
            cc.map_or(&none, |c| &c.clearcoat_normal_texture),
            "clearcoatNormalTexture",
        )?,
        info(
            sh.map_or(&none, |c| &c.sheen_color_texture),
            "sheenColorTexture",
        )?,
        info(
            sh.map_or(&none, |c| &c.sheen_roughness_texture),
            "sheenRoughnessTexture",
        )?,
    ])
}

/// The highest UV set (`TEXCOORD_n`) the material's textures read, if any: a primitive drawn with it must
/// have that attribute (glTF-Validator, `MESH_PRIMITIVE_TOO_FEW_TEXCOORDS`).
///
/// Errors: a set above 1 (the renderer reads `TEXCOORD_0` and `TEXCOORD_1`), a malformed transform.
pub(super) fn highest_uv_set<'a>(
    doc: &'a gltf::Document,
    mat: &gltf::Material<'a>,
    json: &MaterialsJson,
) -> Result<Option<u32>, SceneError> {
    let what = |e: String| SceneError::Malformed(format!("material {}: {e}", index(mat)));
    let mut top = None;
    for u in uses(doc, mat, json).map_err(what)?.iter().flatten() {
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

/// What [`gather`] gathers.
pub(super) struct Gathered {
    pub materials: Vec<Material>,
    pub textures: Vec<Texture>,
    /// The textures' texels (linear RGBA), one after the other.
    pub texels: Vec<f32>,
}

/// The materials the triangles use (`keys[i]` is the glTF material of our material `i`; `None` is the
/// default material), the textures they sample and those textures' texels in one buffer, decoded within
/// `limits` (an image used both as colour and as data is decoded once for each).
///
/// Errors: non-finite factors or transforms, an alpha cutoff below 0, a texture on a UV set above 1, an
/// image outside the file or one that does not decode within the limits.
pub(super) fn gather(
    doc: &gltf::Document,
    keys: &[Option<usize>],
    json: &MaterialsJson,
    get: &GetBuffer<'_>,
    limits: &Limits,
) -> Result<Gathered, SceneError> {
    let mut textures: Vec<Texture> = Vec::new();
    let mut texel_data: Vec<f32> = Vec::new();
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
            // The gltf crate's `source()` unwraps the mimeType a bufferView image "MUST" have (§5.17).
            let json_image = &doc.as_json().images[image.index()];
            if json_image.buffer_view.is_some() && json_image.mime_type.is_none() {
                return Err(SceneError::Malformed(format!(
                    "image {} is stored in a bufferView but has no mimeType (glTF 2.0 §5.17)",
                    image.index()
                )));
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
            let decoded = images::decode(
                image.index(),
                data,
                mime,
                srgb,
                limits,
                &mut texels,
                &mut texel_data,
            )?;
            let id = u32::try_from(textures.len()).unwrap_or(NONE);
            textures.push(decoded);
            texture_of.insert(k, id);
            Ok(id)
        };
        let used = uses(doc, &mat, json)
            .map_err(|e| SceneError::Malformed(format!("material {i}: {e}")))?;
        let mut slots = [TexSlot::NONE; SLOTS];
        // Base colour, emissive and sheen colour textures hold sRGB colour; the others hold data.
        let srgb = [
            true, false, true, false, false, false, false, false, true, false,
        ];
        for (k, (u, srgb)) in used.iter().zip(srgb).enumerate() {
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
        let ext = json.get(i);
        let cc = ext.and_then(|e| e.clearcoat.as_ref());
        let sheen = ext.and_then(|e| e.sheen.as_ref());
        // KHR_materials_unlit: only the base colour and alpha count; emission is not light here.
        let unlit = ext.is_some_and(|e| e.unlit);
        let m = Material {
            base: pbr.base_color_factor(),
            metallic: pbr.metallic_factor(),
            roughness: pbr.roughness_factor(),
            emissive: if unlit {
                [0.0; 3]
            } else {
                [e[0] * strength, e[1] * strength, e[2] * strength]
            },
            normal_scale: mat.normal_texture().map_or(1.0, |n| n.scale()),
            specular: mat.specular().map_or(1.0, |s| s.specular_factor()),
            alpha_mode,
            // §3.9.4: alphaCutoff defaults to 0.5 and "MUST be >= 0".
            alpha_cutoff: mat.alpha_cutoff().unwrap_or(0.5),
            transmission: mat.transmission().map_or(0.0, |t| t.transmission_factor()),
            ior: mat.ior().unwrap_or(1.5),
            volume: mat.volume().is_some_and(|v| v.thickness_factor() > 0.0),
            attenuation_color: mat.volume().map_or([1.0; 3], |v| v.attenuation_color()),
            attenuation_distance: mat
                .volume()
                .map_or(f32::INFINITY, |v| v.attenuation_distance()),
            unlit,
            clearcoat: cc.map_or(0.0, |c| c.clearcoat_factor),
            clearcoat_roughness: cc.map_or(0.0, |c| c.clearcoat_roughness_factor),
            clearcoat_normal_scale: cc
                .and_then(|c| c.clearcoat_normal_texture.as_ref())
                .and_then(|t| t.scale)
                .unwrap_or(1.0),
            sheen_color: sheen.map_or([0.0; 3], |s| s.sheen_color_factor),
            sheen_roughness: sheen.map_or(0.0, |s| s.sheen_roughness_factor),
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
            m.clearcoat,
            m.clearcoat_roughness,
            m.clearcoat_normal_scale,
            m.sheen_roughness,
        ];
        if m.base
            .iter()
            .chain(&m.emissive)
            .chain(&m.sheen_color)
            .chain(&m.attenuation_color)
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
            ("clearcoatFactor", vec![m.clearcoat]),
            ("clearcoatRoughnessFactor", vec![m.clearcoat_roughness]),
            ("sheenColorFactor", m.sheen_color.to_vec()),
            ("sheenRoughnessFactor", vec![m.sheen_roughness]),
            ("attenuationColor", m.attenuation_color.to_vec()),
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
        // KHR_materials_volume: "attenuationDistance" is exclusiveMinimum 0 (infinity, its default, means
        // none), "thicknessFactor" at least 0.
        let thickness = mat.volume().map_or(0.0, |v| v.thickness_factor());
        // False for NaN too; an infinite thickness (1e39 in the JSON) is no number either.
        let volume_ok = m.attenuation_distance > 0.0 && thickness >= 0.0 && thickness.is_finite();
        if !volume_ok {
            return Err(SceneError::Malformed(format!(
                "material {i}: KHR_materials_volume attenuationDistance {} must be above 0 and \
                 thicknessFactor {thickness} at least 0",
                m.attenuation_distance
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
    Ok(Gathered {
        materials,
        textures,
        texels: texel_data,
    })
}
