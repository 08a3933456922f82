//! Loading a self-contained glTF 2.0 binary (`.glb`) into the flat, kernel-ready [`Scene`].
//!
//! Loading is defensive: every size the file declares is checked against [`Limits`] before anything is
//! allocated for it, every accessor against its buffer, every number for finiteness, and malformed input
//! becomes a [`SceneError`] that names the problem — never a panic.

mod gltf_load;
mod hdr;
mod images;
mod look;
pub(crate) mod pack;

use crate::bvh::Bvh;
pub use gltf_load::{LUMENS_PER_WATT, load_glb};
pub use hdr::{EnvironmentMap, load_hdr, write_hdr};
pub use look::{DEFAULT_ENVIRONMENT, Look, MAX_FPS, MAX_RADIANCE, embed_look, read_look};
pub use pack::{PackedFiles, pack_gltf, read_scene, read_scene_listing};

/// Upper bounds on what a scene may declare. Defaults suit a render node with a few GiB of memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Largest `.glb` file, in bytes.
    pub max_file_bytes: u64,
    /// Largest glTF JSON (a GLB's JSON chunk), in bytes: parsed JSON takes tens of times its size in
    /// memory (an empty node, 3 bytes of JSON, is a structure of some 200 bytes), before the item counts
    /// can be checked.
    pub max_json_bytes: u64,
    /// Most triangles after expanding every mesh instance. Assembled, each takes its 112-byte shading
    /// record and its share of the BVH: packs of 160 bytes for up to four triangles, and the nodes above
    /// them (128 bytes for up to four children); the loader holds its own copy of the triangles meanwhile.
    pub max_triangles: u64,
    /// Most vertices read from all accessors together.
    pub max_vertices: u64,
    /// Largest width or height of one texture.
    pub max_texture_side: u32,
    /// Most texels of all textures together.
    pub max_total_texels: u64,
    /// Most bytes the textures may take in memory: 16 a texel as linear RGBA floats, plus the decoder's
    /// buffer of the image being decoded (4 a texel at most); checked from each image's header, before it is
    /// decoded.
    pub max_texture_bytes: u64,
    /// Most nodes, materials, meshes, lights, animations channels (each).
    pub max_items: usize,
    /// Deepest node hierarchy.
    pub max_depth: usize,
    /// Most texels of an environment map (16 bytes each as linear RGBA floats, held three times while a
    /// scene is assembled): 16 Mi by default, an 8192 x 2048 or 4096 x 4096 map.
    pub max_environment_texels: u64,
    /// Most animation keyframes (times and values of every sampler together), counted from the accessors'
    /// declared sizes before any is read.
    pub max_keyframes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 512 << 20,
            max_json_bytes: 32 << 20,
            max_triangles: 20_000_000,
            max_vertices: 60_000_000,
            max_texture_side: 16_384,
            max_total_texels: 256 << 20,
            max_texture_bytes: 2 << 30,
            max_items: 100_000,
            max_depth: 256,
            max_keyframes: 4_000_000,
            max_environment_texels: 16 << 20,
        }
    }
}

/// How to turn a file into a scene for one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// What the file may declare.
    pub limits: Limits,
    /// Frame number; animations are sampled at `frame / fps` seconds.
    pub frame: u32,
    /// Frames per second of the animation clock.
    pub fps: f32,
    /// Radiance of the constant environment, linear RGB; with a map, the map's multiplier.
    pub environment: [f32; 3],
    /// An equirectangular environment map (`+Y` up, its centre towards `-Z`).
    pub environment_map: Option<EnvironmentMap>,
    /// Image width / height, for the camera's horizontal field of view.
    pub aspect: f32,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            frame: 0,
            fps: 24.0,
            environment: [0.0; 3],
            environment_map: None,
            aspect: 16.0 / 9.0,
        }
    }
}

/// Why a scene could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    /// The bytes are not valid glTF 2.0 (truncated, bad JSON, bad references).
    #[error("malformed glTF: {0}")]
    Malformed(String),
    /// A buffer lives outside the file.
    #[error("buffer {index} refers to an external URI; the scene must be a self-contained .glb")]
    ExternalBuffer {
        /// The buffer.
        index: usize,
    },
    /// A `.gltf`'s side file or `data:` URI could not be packed.
    #[error("{uri}: {reason}")]
    Resource {
        /// The URI (or path), cut to 200 characters.
        uri: String,
        /// What went wrong.
        reason: String,
    },
    /// An image lives outside the file.
    #[error("image {index} refers to an external URI; the scene must be a self-contained .glb")]
    ExternalImage {
        /// The image.
        index: usize,
    },
    /// A buffer, view or accessor points past the data it claims.
    #[error("{what} is out of bounds: needs bytes up to {needed} of {available}")]
    OutOfBounds {
        /// Which item.
        what: String,
        /// The end it needs.
        needed: u64,
        /// What exists.
        available: u64,
    },
    /// The file declares more than the limits allow.
    #[error("{what} is {value}, above the limit of {limit}")]
    TooLarge {
        /// What was counted.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// A number that must be finite is not.
    #[error("{what} contains a non-finite number")]
    NonFinite {
        /// Where.
        what: String,
    },
    /// A texture could not be decoded.
    #[error("image {index}: {reason}")]
    Image {
        /// The image.
        index: usize,
        /// What went wrong.
        reason: String,
    },
    /// The camera cannot be used.
    #[error("camera: {0}")]
    Camera(String),
    /// Nothing to render.
    #[error("the scene has no triangles")]
    Empty,
}

/// Camera as the kernel uses it: a pinhole with an orthonormal basis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    /// Eye position.
    pub position: [f32; 3],
    /// Unit right vector.
    pub right: [f32; 3],
    /// Unit up vector.
    pub up: [f32; 3],
    /// Unit viewing direction.
    pub forward: [f32; 3],
    /// tan(horizontal half field of view).
    pub tan_half_x: f32,
    /// tan(vertical half field of view).
    pub tan_half_y: f32,
}

/// Counts describing a loaded scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SceneStats {
    /// Triangles rendered.
    pub triangles: u64,
    /// Degenerate (zero-area) triangles dropped.
    pub degenerate: u64,
    /// Emissive triangles used as area lights.
    pub emitters: u64,
    /// Punctual lights.
    pub lights: u64,
    /// Textures.
    pub textures: u64,
    /// BVH nodes.
    pub bvh_nodes: u64,
    /// Whether the file animates anything: if not, every frame loads to the same scene.
    pub animated: bool,
}

/// Floats per record; must match `pathtrace.h`.
pub(crate) const NODE_FLOATS: usize = 32;
/// Floats of a pack of four triangles in the layout of `TS_PACK_FLOATS` (`bvh.rs`).
pub(crate) const PACK_FLOATS: usize = 40;
/// Floats of an emissive triangle's intersection record: v0, e1, e2.
pub(crate) const TRI_FLOATS: usize = 9;
pub(crate) const SHADE_FLOATS: usize = 28;
pub(crate) const MAT_FLOATS: usize = 112;
/// Offset of a material's first texture slot, floats per slot, and slots per material (`TS_SLOT_*`).
const MAT_SLOTS: usize = 16;
const SLOT_FLOATS: usize = 8;
pub(crate) const SLOTS: usize = 10;
/// Offset of a material's flags (`TS_MATF_*`), after the slots; the coat and sheen factors follow.
const MAT_FLAGS: usize = MAT_SLOTS + SLOTS * SLOT_FLOATS;
/// Floats of a triangle's extra record (TEXCOORD_1 and COLOR_0 of its three vertices).
pub(crate) const EXTRA_FLOATS: usize = 18;
pub(crate) const TEX_U32: usize = 4;
pub(crate) const LIGHT_FLOATS: usize = 16;
/// "No texture" / "not an emitter".
pub(crate) const NONE: u32 = u32::MAX;

/// A scene flattened into the arrays the kernel reads (layout in `pathtrace.h`).
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    pub(crate) nodes: Vec<f32>,
    /// The emissive triangles' intersection records (v0, e1, e2), in emitter slot order.
    pub(crate) tris: Vec<f32>,
    /// The BVH leaves' triangles, four side by side (`bvh::pack_leaves`).
    pub(crate) packs: Vec<f32>,
    pub(crate) shade: Vec<f32>,
    pub(crate) materials: Vec<f32>,
    pub(crate) textures: Vec<u32>,
    pub(crate) texels: Vec<f32>,
    pub(crate) lights: Vec<f32>,
    pub(crate) emitters: Vec<u32>,
    pub(crate) emitter_cdf: Vec<f32>,
    /// The camera.
    pub camera: Camera,
    /// The constant environment radiance (the map's multiplier when there is a map).
    pub environment: [f32; 3],
    /// Texture index of the environment map, or `NONE`.
    pub(crate) environment_texture: u32,
    /// `TS_FLAG_*` of `pathtrace.h`: bit 0, some material is not opaque.
    pub(crate) flags: u32,
    /// Counts.
    pub stats: SceneStats,
}

/// One triangle before BVH ordering.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Triangle {
    pub p: [[f32; 3]; 3],
    pub n: [[f32; 3]; 3],
    pub uv: [[f32; 2]; 3],
    pub tangent: [f32; 4],
    pub material: u32,
    /// Index into `Gathered::extras`, or `NONE`.
    pub extra: u32,
}

/// Per-vertex attributes only some triangles have: the second UV set (`TEXCOORD_1`; zeros when only the
/// colours are present) and the vertex colours (`COLOR_0`, linear RGBA; white when only the UVs are).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extra {
    pub uv1: [[f32; 2]; 3],
    pub color: [[f32; 4]; 3],
}

/// How a texture's texels are stored (`TS_TEXF_*` of `pathtrace.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TexelFormat {
    /// Linear RGBA floats, four words a texel (environment maps).
    Float = 0,
    /// 8-bit RGBA in one word, RGB sRGB-encoded colour.
    Srgb8 = 1,
    /// 8-bit RGBA in one word, linear data.
    Unorm8 = 2,
}

/// A texture: its size, its texel format and where its texels start in `Gathered::texels` (in words).
#[derive(Debug, Clone)]
pub(crate) struct Texture {
    pub width: u32,
    pub height: u32,
    pub offset: usize,
    pub format: TexelFormat,
}

/// glTF sampler wrap modes (§3.8.4), as the kernel numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrap {
    Repeat = 0,
    ClampToEdge = 1,
    MirroredRepeat = 2,
}

/// A material's use of one texture: which texture, read at which UV set, through which
/// `KHR_texture_transform` (`u' = a u + b v + c`, `v' = d u + e v + f`), with which wrap modes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TexSlot {
    pub texture: u32,
    pub set: u32,
    pub wrap: [Wrap; 2],
    pub transform: [f32; 6],
}

impl TexSlot {
    /// No texture.
    pub(crate) const NONE: TexSlot = TexSlot {
        texture: NONE,
        set: 0,
        wrap: [Wrap::Repeat; 2],
        transform: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    };

    fn flatten(&self, out: &mut Vec<f32>) {
        let flags = (self.set & 1) | (self.wrap[0] as u32) << 1 | (self.wrap[1] as u32) << 3;
        out.push(f32::from_bits(self.texture));
        out.push(f32::from_bits(flags));
        out.extend_from_slice(&self.transform);
    }
}

/// glTF `alphaMode` (§3.9.4), as the kernel numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AlphaMode {
    Opaque = 0,
    Mask = 1,
    Blend = 2,
}

/// A material in the kernel's layout, before flattening.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Material {
    pub base: [f32; 4],
    pub metallic: f32,
    pub roughness: f32,
    pub emissive: [f32; 3],
    pub normal_scale: f32,
    pub specular: f32,
    pub alpha_mode: AlphaMode,
    pub alpha_cutoff: f32,
    /// `KHR_materials_transmission` factor.
    pub transmission: f32,
    /// `KHR_materials_ior` (1.5 by default).
    pub ior: f32,
    /// `KHR_materials_volume` with a thickness above 0: the surface bounds a refracting volume.
    pub volume: bool,
    /// `KHR_materials_volume`'s attenuation: the colour white light becomes after `attenuation_distance`
    /// (world units; infinity for none) inside the volume.
    pub attenuation_color: [f32; 3],
    pub attenuation_distance: f32,
    /// `KHR_materials_unlit`: the base colour is the surface's radiance, seen by camera rays only.
    pub unlit: bool,
    /// `KHR_materials_clearcoat`: factor, roughness and the scale of the coat's normal texture.
    pub clearcoat: f32,
    pub clearcoat_roughness: f32,
    pub clearcoat_normal_scale: f32,
    /// `KHR_materials_sheen`: colour (linear RGB) and roughness.
    pub sheen_color: [f32; 3],
    pub sheen_roughness: f32,
    /// Base colour, metallic-roughness, emissive, normal, transmission, clearcoat, clearcoat roughness,
    /// clearcoat normal, sheen colour and sheen roughness textures (`TS_SLOT_*`).
    pub slots: [TexSlot; SLOTS],
}

impl Material {
    pub(crate) const DEFAULT: Material = Material {
        base: [1.0, 1.0, 1.0, 1.0],
        metallic: 1.0,
        roughness: 1.0,
        emissive: [0.0; 3],
        normal_scale: 1.0,
        specular: 1.0,
        alpha_mode: AlphaMode::Opaque,
        alpha_cutoff: 0.5,
        transmission: 0.0,
        ior: 1.5,
        volume: false,
        attenuation_color: [1.0; 3],
        attenuation_distance: f32::INFINITY,
        unlit: false,
        clearcoat: 0.0,
        clearcoat_roughness: 0.0,
        clearcoat_normal_scale: 1.0,
        sheen_color: [0.0; 3],
        sheen_roughness: 0.0,
        slots: [TexSlot::NONE; SLOTS],
    };

    fn flatten(&self, out: &mut Vec<f32>) {
        let start = out.len();
        out.extend_from_slice(&self.base);
        out.push(self.metallic);
        out.push(self.roughness);
        out.extend_from_slice(&self.emissive);
        out.push(self.normal_scale);
        out.push(self.specular);
        out.push(f32::from_bits(self.alpha_mode as u32));
        out.push(self.alpha_cutoff);
        out.push(self.transmission);
        // KHR_materials_ior: F0 = ((ior - 1) / (ior + 1))^2, 0.04 at the default 1.5.
        let r = (self.ior - 1.0) / (self.ior + 1.0);
        out.push(r * r);
        out.push(self.ior);
        debug_assert_eq!(out.len() - start, MAT_SLOTS);
        for slot in &self.slots {
            slot.flatten(out);
        }
        debug_assert_eq!(out.len() - start, MAT_FLAGS);
        // TS_MATF_VOLUME, TS_MATF_UNLIT.
        out.push(f32::from_bits(
            u32::from(self.volume) | u32::from(self.unlit) << 1,
        ));
        out.extend_from_slice(&[
            self.clearcoat,
            self.clearcoat_roughness,
            self.clearcoat_normal_scale,
        ]);
        out.extend_from_slice(&self.sheen_color);
        out.push(self.sheen_roughness);
        out.extend_from_slice(&self.attenuation_color);
        out.push(self.attenuation_distance);
        debug_assert!(out.len() - start <= MAT_FLOATS);
        out.resize(start + MAT_FLOATS, 0.0);
    }
}

/// A punctual light in world space.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Light {
    pub kind: u32,
    pub position: [f32; 3],
    pub direction: [f32; 3],
    pub color: [f32; 3],
    pub cos_outer: f32,
    /// Spot lights: 1 / the width in cosine of the cone's smooth edge (Cycles' `spot_smooth`).
    pub spot_smooth: f32,
}

/// Everything gathered from a file, ready to flatten.
pub(crate) struct Gathered {
    pub environment_texture: u32,
    pub triangles: Vec<Triangle>,
    pub extras: Vec<Extra>,
    pub materials: Vec<Material>,
    pub textures: Vec<Texture>,
    /// Every texture's texels, decoded into one buffer (the kernel's), never copied.
    pub texels: Vec<f32>,
    pub lights: Vec<Light>,
    pub camera: Camera,
    pub degenerate: u64,
    pub animated: bool,
}

impl Scene {
    /// Flattens everything around `bvh`, the BVH of `g.triangles` (`Bvh::build`, which the loader runs
    /// beside the texture decoding; `None` when there are no triangles). `SceneError::Empty` when there are
    /// none. Deterministic: the BVH is a pure function of `g.triangles`, so the result depends only on `g`.
    ///
    /// Panics if `bvh` is not a tree of `g.triangles` (its triangle order has another length).
    pub(crate) fn assemble(
        mut g: Gathered,
        bvh: Option<Bvh>,
        environment: [f32; 3],
    ) -> Result<Scene, SceneError> {
        let bvh = match bvh {
            _ if g.triangles.is_empty() => return Err(SceneError::Empty),
            Some(bvh) => bvh,
            // The caller's slip, not the file's: build the tree here rather than fail a valid scene.
            None => Bvh::build(&g.triangles),
        };
        assert_eq!(
            bvh.order.len(),
            g.triangles.len(),
            "the BVH is not of these triangles"
        );
        // Intersection records (v0, e1, e2) of the emissive triangles only, in emitter slot order: the
        // kernel samples points on them; rays meet triangles through the BVH's packs.
        let mut tris = Vec::new();
        // Sized once for the records and the extra records after them (no second copy while growing).
        let mut shade =
            Vec::with_capacity(g.triangles.len() * SHADE_FLOATS + g.extras.len() * EXTRA_FLOATS);
        let mut emitters = Vec::new();
        let mut power = Vec::new();
        // The extras in the order the records refer to them, written after the records.
        let mut extra_order: Vec<u32> = Vec::with_capacity(g.extras.len());
        for (slot, &ti) in bvh.order.iter().enumerate() {
            let t = &g.triangles[ti as usize];
            let (e1, e2) = crate::math::edges(&t.p);
            let c = crate::math::cross(e1, e2);
            let len = crate::math::length(c);
            let ng = crate::math::normalize_or(c, [0.0, 0.0, 1.0]);
            let area = 0.5 * len;
            for n in &t.n {
                shade.extend_from_slice(n);
            }
            for uv in &t.uv {
                shade.extend_from_slice(uv);
            }
            shade.extend_from_slice(&t.tangent);
            shade.extend_from_slice(&ng);
            shade.push(f32::from_bits(t.material));
            shade.push(area);
            let extra = if t.extra == NONE {
                NONE
            } else {
                // Extra records follow the shading records, in the order the triangles refer to them.
                let at = g.triangles.len() * SHADE_FLOATS + extra_order.len() * EXTRA_FLOATS;
                extra_order.push(t.extra);
                u32::try_from(at).map_err(|_| SceneError::TooLarge {
                    what: "shading data",
                    value: at as u64,
                    limit: u64::from(u32::MAX),
                })?
            };
            let m = &g.materials[t.material as usize];
            let lum = 0.2126 * m.emissive[0] + 0.7152 * m.emissive[1] + 0.0722 * m.emissive[2];
            if lum > 0.0 && area > 0.0 {
                let emitter_slot =
                    u32::try_from(emitters.len()).map_err(|_| SceneError::TooLarge {
                        what: "emissive triangles",
                        value: emitters.len() as u64,
                        limit: u64::from(u32::MAX),
                    })?;
                shade.push(f32::from_bits(emitter_slot));
                emitters.push(u32::try_from(slot).unwrap_or(u32::MAX));
                power.push(lum * area);
                tris.extend_from_slice(&t.p[0]);
                tris.extend_from_slice(&e1);
                tris.extend_from_slice(&e2);
            } else {
                shade.push(f32::from_bits(NONE));
            }
            shade.push(f32::from_bits(extra));
            shade.extend_from_slice(&[0.0; 2]);
        }
        for &k in &extra_order {
            let e = &g.extras[k as usize];
            for uv in &e.uv1 {
                shade.extend_from_slice(uv);
            }
            for c in &e.color {
                shade.extend_from_slice(c);
            }
        }
        // Summed in triangle order: the same floats on every machine.
        let total: f32 = power.iter().sum();
        let mut emitter_cdf = Vec::with_capacity(power.len());
        let mut acc = 0.0f32;
        for p in &power {
            acc += *p;
            emitter_cdf.push(acc / total);
        }
        debug_assert_eq!(tris.len(), emitters.len() * TRI_FLOATS);
        if let Some(last) = emitter_cdf.last_mut() {
            *last = 1.0;
        }
        let mut materials = Vec::with_capacity(g.materials.len() * MAT_FLOATS);
        for m in &g.materials {
            m.flatten(&mut materials);
        }
        let texture_count = g.textures.len();
        let mut textures = Vec::with_capacity(texture_count * TEX_U32);
        for t in &g.textures {
            let offset = u32::try_from(t.offset).map_err(|_| SceneError::TooLarge {
                what: "texel data",
                value: t.offset as u64,
                limit: u64::from(u32::MAX),
            })?;
            textures.extend_from_slice(&[t.width, t.height, offset, t.format as u32]);
        }
        let texels = std::mem::take(&mut g.texels);
        let mut lights = Vec::with_capacity(g.lights.len() * LIGHT_FLOATS);
        for l in &g.lights {
            lights.push(f32::from_bits(l.kind));
            lights.extend_from_slice(&l.position);
            lights.extend_from_slice(&l.direction);
            lights.extend_from_slice(&l.color);
            lights.push(l.cos_outer);
            lights.push(l.spot_smooth);
            lights.extend_from_slice(&[0.0; 4]);
        }
        let stats = SceneStats {
            triangles: g.triangles.len() as u64,
            degenerate: g.degenerate,
            emitters: emitters.len() as u64,
            lights: g.lights.len() as u64,
            textures: texture_count as u64,
            bvh_nodes: (bvh.nodes.len() / NODE_FLOATS) as u64,
            animated: g.animated,
        };
        Ok(Scene {
            nodes: bvh.nodes,
            tris,
            packs: bvh.packs,
            shade,
            materials,
            textures,
            texels,
            lights,
            emitters,
            emitter_cdf,
            camera: g.camera,
            environment,
            environment_texture: g.environment_texture,
            // TS_FLAG_ALPHA, TS_FLAG_UNLIT.
            flags: u32::from(
                g.materials
                    .iter()
                    .any(|m| m.alpha_mode != AlphaMode::Opaque),
            ) | u32::from(g.materials.iter().any(|m| m.unlit)) << 1,
            stats,
        })
    }

    /// The bounding box of all triangles (minimum corner, maximum corner): the union of the root's
    /// children's boxes (empty slots are +inf, which the minimum ignores and the maximum skips).
    pub fn bounds(&self) -> ([f32; 3], [f32; 3]) {
        let n = &self.nodes;
        let (mut lo, mut hi) = ([f32::INFINITY; 3], [f32::NEG_INFINITY; 3]);
        for k in 0..4 {
            if n[24 + k].to_bits() == NONE {
                continue;
            }
            for axis in 0..3 {
                lo[axis] = lo[axis].min(n[axis * 4 + k]);
                hi[axis] = hi[axis].max(n[(3 + axis) * 4 + k]);
            }
        }
        (lo, hi)
    }

    /// Probability that next-event estimation picks a punctual light rather than an emissive triangle.
    pub(crate) fn punctual_share(&self) -> f32 {
        match (self.lights.is_empty(), self.emitters.is_empty()) {
            (true, _) => 0.0,
            (false, true) => 1.0,
            (false, false) => 0.5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of `#define name Nu` in the kernel source.
    fn kernel_define(src: &str, name: &str) -> usize {
        let lines: Vec<&str> = src
            .lines()
            .filter(|l| l.split_whitespace().take(2).eq(["#define", name]))
            .collect();
        let [line] = lines[..] else {
            panic!(
                "{name} is defined {} times in the kernel source, not once",
                lines.len()
            );
        };
        let value = line.split_whitespace().nth(2).unwrap_or_default();
        value
            .trim_end_matches('u')
            .parse()
            .unwrap_or_else(|_| panic!("{name}: {value}"))
    }

    /// The record layouts written here are the ones the kernel reads: a mismatch would read every record
    /// past the first at the wrong place, on both backends alike, so no comparison of backends finds it.
    #[test]
    fn record_sizes_match_the_kernel() {
        let src = crate::cuda_kernel_source();
        for (name, rust) in [
            ("TS_NODE_FLOATS", NODE_FLOATS),
            ("TS_PACK_FLOATS", PACK_FLOATS),
            ("TS_TRI_FLOATS", TRI_FLOATS),
            ("TS_PACK_FIRST", crate::bvh::PACK_FIRST),
            ("TS_SHADE_FLOATS", SHADE_FLOATS),
            ("TS_EXTRA_FLOATS", EXTRA_FLOATS),
            ("TS_MAT_FLOATS", MAT_FLOATS),
            ("TS_MAT_SLOTS", MAT_SLOTS),
            ("TS_SLOT_FLOATS", SLOT_FLOATS),
            ("TS_MAT_FLAGS", MAT_FLAGS),
            ("TS_TEX_U32", TEX_U32),
            ("TS_LIGHT_FLOATS", LIGHT_FLOATS),
        ] {
            assert_eq!(kernel_define(&src, name), rust, "{name}");
        }
    }

    /// Leaves of several packs (the tree capped at three binary levels, which the default cap leaves to
    /// pathological input) render as the scene's own tree does: the same cells on every CPU build. The
    /// scene has no alpha and no emissive triangles, whose decisions follow the triangle order; a different
    /// tree could otherwise move a cell only through an exact tie between two triangles, which this render
    /// does not meet (a deterministic test: it cannot flicker).
    #[test]
    fn leaves_of_several_packs_render_as_the_full_tree() {
        use crate::render::{Backend, render_region};
        let s = crate::testscenes::settings(48, 32, 4, 4);
        let opts = LoadOptions {
            environment: [0.3; 3],
            aspect: 1.5,
            ..LoadOptions::default()
        };
        let light =
            serde_json::json!({"type": "point", "intensity": 2000.0, "color": [1.0, 0.9, 0.8]});
        let lit = crate::testscenes::with_light(
            &crate::testscenes::furnace_sphere(),
            light,
            [1.5, 2.0, 2.5],
            [0.0, 0.0, 0.0, 1.0],
        );
        let full = load_glb(&lit, &opts).expect("scene");
        let capped = gltf_load::load_with(&lit, &opts, |t| Bvh::build_capped(t, 3)).expect("scene");
        // A node's four triangle counts follow its boxes (24 floats) and references (4).
        let most = capped
            .nodes
            .chunks_exact(NODE_FLOATS)
            .flat_map(|n| n[28..32].iter().map(|c| c.to_bits()))
            .max();
        assert!(most.is_some_and(|m| m > 8), "largest leaf {most:?}");
        let want = render_region(&full, &s, s.full_frame(), &Backend::Cpu, &|_, _| {})
            .expect("render")
            .root;
        for &k in crate::CpuKernel::available() {
            let got = render_region(
                &capped,
                &s,
                s.full_frame(),
                &Backend::CpuBuild(k),
                &|_, _| {},
            )
            .expect("render")
            .root;
            assert_eq!(got, want, "on {}", k.name());
        }
    }
}
