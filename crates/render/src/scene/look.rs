//! A job's look: the animation clock and the environment the artist chose, carried inside the scene's
//! `.glb` (in `asset.extras.tessera`, the environment map as a buffer view), so that the one CID a job names
//! fixes them for every worker, every verifier and the artist's own preview alike.
//!
//! ```json
//! "asset": {"version": "2.0", "extras": {"tessera": {
//!     "fps": 30,                               // frames per second of the animation clock
//!     "environment": [0.2, 0.2, 0.25],         // constant radiance (linear RGB); the map's multiplier
//!     "environmentMap": {"bufferView": 7}      // optional: an equirectangular Radiance .hdr in the GLB
//! }}}
//! ```
//!
//! A scene without it has the defaults ([`Look::default`]: 24 fps, a dim grey sky). The values are part of
//! what a renderer id means (`tessera-pt/0.2` and later read them).

use super::{EnvironmentMap, Limits, SceneError, load_hdr};
use serde_json::{Value, json};

/// The look a job's scene is rendered with.
#[derive(Debug, Clone, PartialEq)]
pub struct Look {
    /// Frames per second of the animation clock: frame `f` is sampled at `f / fps` seconds.
    pub fps: f32,
    /// Constant environment radiance, linear RGB (W·sr⁻¹·m⁻²); with a map, the map's multiplier.
    pub environment: [f32; 3],
    /// An equirectangular environment map (`+Y` up, its centre towards `-Z`).
    pub environment_map: Option<EnvironmentMap>,
}

impl Default for Look {
    /// 24 fps under a constant radiance of (0.05, 0.05, 0.06): what a scene that names no look gets.
    fn default() -> Self {
        Self {
            fps: 24.0,
            environment: DEFAULT_ENVIRONMENT,
            environment_map: None,
        }
    }
}

/// The environment of a scene that names none.
pub const DEFAULT_ENVIRONMENT: [f32; 3] = [0.05, 0.05, 0.06];

/// Highest frame rate a look may name.
pub const MAX_FPS: f32 = 1000.0;
/// Highest environment radiance a look may name (a midday sun's sky is ~10⁴ in these units).
pub const MAX_RADIANCE: f32 = 1e6;

/// The look of a `.glb` (its `asset.extras.tessera`), or the default when it names none.
///
/// Errors: a frame rate outside `(0, MAX_FPS]`; a radiance that is negative, not finite or above
/// `MAX_RADIANCE`; an environment map whose buffer view is missing or outside the binary chunk, or which is
/// not a Radiance `.hdr` within `limits`; a malformed GLB.
pub fn read_look(glb: &[u8], limits: &Limits) -> Result<Look, SceneError> {
    #[derive(serde::Deserialize)]
    struct Root {
        #[serde(default)]
        asset: Option<Asset>,
        #[serde(default, rename = "bufferViews")]
        views: Vec<View>,
    }
    #[derive(serde::Deserialize)]
    struct Asset {
        // Extras may hold any JSON value (glTF 2.0 §3.12): only an object is looked into.
        #[serde(default)]
        extras: Option<Box<serde_json::value::RawValue>>,
    }
    #[derive(serde::Deserialize)]
    struct Extras {
        #[serde(default)]
        tessera: Option<Spec>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Spec {
        fps: Option<f32>,
        environment: Option<[f32; 3]>,
        #[serde(rename = "environmentMap")]
        environment_map: Option<MapRef>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct MapRef {
        #[serde(rename = "bufferView")]
        buffer_view: usize,
    }
    #[derive(serde::Deserialize)]
    struct View {
        #[serde(default)]
        buffer: usize,
        #[serde(default, rename = "byteOffset")]
        offset: u64,
        #[serde(rename = "byteLength")]
        length: u64,
    }
    let bad =
        |m: String| SceneError::Malformed(format!("the scene's look (asset.extras.tessera): {m}"));
    // The gltf crate's GLB reader overflows on headers shorter than its own (a panic in debug builds).
    if glb.len() < 20 || !glb.starts_with(b"glTF") {
        return Err(SceneError::Malformed(
            "not a GLB (no 20-byte header)".into(),
        ));
    }
    let split = gltf::binary::Glb::from_slice(glb)
        .map_err(|e| SceneError::Malformed(format!("not a GLB: {e}")))?;
    if split.json.len() as u64 > limits.max_json_bytes {
        return Err(SceneError::TooLarge {
            what: "glTF JSON size",
            value: split.json.len() as u64,
            limit: limits.max_json_bytes,
        });
    }
    let root: Root = serde_json::from_slice(&split.json).map_err(|e| {
        // The look is read before the rest of the file: an error of the JSON itself is not the look's.
        match serde_json::from_slice::<serde::de::IgnoredAny>(&split.json) {
            Err(syntax) => SceneError::Malformed(format!("invalid glTF JSON: {syntax}")),
            Ok(_) => bad(e.to_string()),
        }
    })?;
    let extras = root.asset.and_then(|a| a.extras);
    let extras = match extras {
        Some(raw) if raw.get().trim_start().starts_with('{') => {
            serde_json::from_str::<Extras>(raw.get()).map_err(|e| bad(e.to_string()))?
        }
        _ => return Ok(Look::default()),
    };
    let Some(spec) = extras.tessera else {
        return Ok(Look::default());
    };
    let mut look = Look::default();
    if let Some(fps) = spec.fps {
        if !(fps > 0.0 && fps <= MAX_FPS) {
            return Err(bad(format!("fps {fps} is outside (0, {MAX_FPS}]")));
        }
        look.fps = fps;
    }
    if let Some(env) = spec.environment {
        if env.iter().any(|c| !(*c >= 0.0 && *c <= MAX_RADIANCE)) {
            return Err(bad(format!(
                "environment {env:?}: each component must be in [0, {MAX_RADIANCE}]"
            )));
        }
        look.environment = env;
    }
    if let Some(map) = spec.environment_map {
        let v = root.views.get(map.buffer_view).ok_or_else(|| {
            bad(format!(
                "environmentMap names buffer view {}, which does not exist",
                map.buffer_view
            ))
        })?;
        let bin = split.bin.as_deref().unwrap_or(&[]);
        let end = v.offset.saturating_add(v.length);
        if v.buffer != 0 || end > bin.len() as u64 {
            return Err(bad(format!(
                "environmentMap's buffer view {} lies outside the binary chunk",
                map.buffer_view
            )));
        }
        let (start, end) = (
            usize::try_from(v.offset).unwrap_or(usize::MAX),
            usize::try_from(end).unwrap_or(usize::MAX),
        );
        look.environment_map = Some(load_hdr(&bin[start..end], limits)?);
    }
    Ok(look)
}

/// The mark [`embed_look`] leaves in the `extras` of a buffer view it appends for an environment map.
const MAP_VIEW_MARK: &str = "tessera environment map";

/// Removes the environment map of the look `doc` holds when [`embed_look`] appended it: the view is the last
/// one, marked as ours, its bytes end the binary chunk (`bin`, but for padding), no other view reaches into
/// them, and no other part of the document names the view. Anything else is left in place (removing a view
/// in the middle would renumber the others).
fn drop_old_map(doc: &mut Value, bin: &mut Vec<u8>) {
    let Some(view) = doc["asset"]["extras"]["tessera"]["environmentMap"]["bufferView"].as_u64()
    else {
        return;
    };
    let Some(views) = doc.get("bufferViews").and_then(Value::as_array) else {
        return;
    };
    let Some(last) = views.last() else {
        return;
    };
    if view.checked_add(1) != Some(views.len() as u64) || last["extras"]["tessera"] != MAP_VIEW_MARK
    {
        return;
    }
    let range = |v: &Value| {
        let offset = v.get("byteOffset").map_or(Some(0), Value::as_u64)?;
        Some((offset, offset.checked_add(v["byteLength"].as_u64()?)?))
    };
    let Some((offset, end)) = range(last) else {
        return;
    };
    // The chunk may end in up to 3 bytes of padding after the view.
    if last["buffer"].as_u64() != Some(0) || end > bin.len() as u64 || bin.len() as u64 - end > 3 {
        return;
    }
    let others_clear = views[..views.len() - 1]
        .iter()
        .all(|v| v["buffer"].as_u64() != Some(0) || range(v).is_some_and(|(_, e)| e <= offset));
    /// How often `"bufferView": view` occurs in `v`.
    fn uses(v: &Value, view: u64) -> usize {
        match v {
            Value::Object(m) => m
                .iter()
                .map(|(k, x)| {
                    usize::from(k == "bufferView" && x.as_u64() == Some(view)) + uses(x, view)
                })
                .sum(),
            Value::Array(a) => a.iter().map(|x| uses(x, view)).sum(),
            _ => 0,
        }
    }
    if !others_clear || uses(doc, view) != 1 {
        return;
    }
    bin.truncate(usize::try_from(offset).unwrap_or(bin.len()));
    if let Some(views) = doc.get_mut("bufferViews").and_then(Value::as_array_mut) {
        views.pop();
    }
    if let Some(b) = doc
        .get_mut("buffers")
        .and_then(|b| b.get_mut(0))
        .and_then(Value::as_object_mut)
    {
        b.insert("byteLength".into(), json!(bin.len()));
    }
    if let Some(t) = doc["asset"]["extras"]["tessera"].as_object_mut() {
        t.remove("environmentMap");
    }
}

/// `glb` with `look` written into it (`asset.extras.tessera`; `hdr`, a Radiance `.hdr`, appended to the
/// binary chunk as the environment map's buffer view). What the scene held as a look before is replaced;
/// the rest of the document is kept as it is. A map an earlier call embedded (its view marked, the last
/// one, at the end of the binary chunk, named by nothing else) is dropped with it, so that re-embedding a
/// look does not carry dead bytes to every worker.
///
/// Errors: `glb` is not a GLB, or its JSON not an object; `look` is not one [`read_look`] accepts.
pub fn embed_look(
    glb: &[u8],
    fps: f32,
    environment: [f32; 3],
    hdr: Option<&[u8]>,
    limits: &Limits,
) -> Result<Vec<u8>, SceneError> {
    if !(fps > 0.0 && fps <= MAX_FPS) {
        return Err(SceneError::Malformed(format!(
            "the look: fps {fps} is outside (0, {MAX_FPS}]"
        )));
    }
    if environment
        .iter()
        .any(|c| !(*c >= 0.0 && *c <= MAX_RADIANCE))
    {
        return Err(SceneError::Malformed(format!(
            "the look: environment {environment:?}: each component must be in [0, {MAX_RADIANCE}]"
        )));
    }
    if glb.len() < 20 || !glb.starts_with(b"glTF") {
        return Err(SceneError::Malformed(
            "not a GLB (no 20-byte header)".into(),
        ));
    }
    let split = gltf::binary::Glb::from_slice(glb)
        .map_err(|e| SceneError::Malformed(format!("not a GLB: {e}")))?;
    let mut doc: Value = serde_json::from_slice(&split.json)
        .map_err(|e| SceneError::Malformed(format!("the GLB's JSON: {e}")))?;
    if !doc.is_object() {
        return Err(SceneError::Malformed(
            "the GLB's JSON is not an object".into(),
        ));
    }
    let mut bin = split.bin.map(|b| b.into_owned()).unwrap_or_default();
    drop_old_map(&mut doc, &mut bin);
    let mut spec = json!({"fps": fps, "environment": environment});
    if let Some(hdr) = hdr {
        // The GLB-stored buffer is buffers[0], the one without a URI (glTF 2.0 §4.4.3.3).
        let stored = doc["buffers"][0].is_object() && doc["buffers"][0].get("uri").is_none();
        if !stored
            && doc
                .get("buffers")
                .and_then(Value::as_array)
                .is_some_and(|b| !b.is_empty())
        {
            return Err(SceneError::Malformed(
                "the GLB's first buffer is not its binary chunk".into(),
            ));
        }
        while !bin.len().is_multiple_of(4) {
            bin.push(0);
        }
        let offset = bin.len();
        bin.extend_from_slice(hdr);
        if doc.get("bufferViews").is_none() {
            doc["bufferViews"] = json!([]);
        }
        let view = doc["bufferViews"].as_array_mut().map_or(0, |v| {
            v.push(
                json!({"buffer": 0, "byteOffset": offset, "byteLength": hdr.len(),
                "extras": {"tessera": MAP_VIEW_MARK}}),
            );
            v.len() - 1
        });
        doc["buffers"] = match doc.get("buffers").and_then(Value::as_array).cloned() {
            Some(mut b) if !b.is_empty() => {
                b[0]["byteLength"] = json!(bin.len());
                json!(b)
            }
            _ => json!([{"byteLength": bin.len()}]),
        };
        spec["environmentMap"] = json!({"bufferView": view});
    }
    if !doc["asset"].is_object() {
        doc["asset"] = json!({"version": "2.0"});
    }
    if !doc["asset"]["extras"].is_object() {
        doc["asset"]["extras"] = json!({});
    }
    doc["asset"]["extras"]["tessera"] = spec;
    let out = super::pack::glb(&doc, bin);
    read_look(&out, limits)?;
    Ok(out)
}
