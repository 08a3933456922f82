//! Packing a `.gltf` (JSON whose buffers and images are `data:` URIs or files beside it) into one
//! self-contained `.glb`, the form a job's scene takes on IPFS (glTF 2.0 §4.4, GLB File Format).
//!
//! Everything the JSON holds is kept as it is (extensions, extras, names); buffers are concatenated into
//! the GLB's binary chunk with their views moved to match, and images with a URI become buffer views.
//!
//! A `.gltf` is a file strangers make, and the packed scene is published: a URI may name only a file in
//! the `.gltf`'s own folder or below it, and no hidden file or folder. Absolute paths, `..`, other schemes,
//! names starting with `.` and links that lead outside the folder are refused by name, so that a hostile
//! scene cannot make the CLI upload the artist's keystore or SSH key to IPFS; the CLI lists the files it
//! packs before it publishes them ([`read_scene_listing`]).

use super::{Limits, SceneError};
use base64::Engine;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The side files a `.gltf` was packed with: `(URI, bytes)` of each, in the order they were read.
pub type PackedFiles = Vec<(String, u64)>;

/// Reads a scene file as `.glb` bytes: a `.gltf` (JSON: its first non-blank byte is `{`) packed by
/// [`pack_gltf`] with its side files from its folder, anything else as it is (a `.glb`, or bytes the
/// loader will refuse with its own error). Which it is follows from the content, not the name.
///
/// Errors: the file cannot be read or is larger than `limits.max_file_bytes`; the `.gltf` cannot be packed.
pub fn read_scene(path: &Path, limits: &Limits) -> Result<Vec<u8>, SceneError> {
    read_scene_listing(path, limits).map(|(glb, _)| glb)
}

/// [`read_scene`], with the side files a `.gltf` was packed with: `(URI, bytes)` of each, so that a command
/// about to publish the scene can show what goes with it (`data:` URIs are not listed).
///
/// Errors: as [`read_scene`].
pub fn read_scene_listing(
    path: &Path,
    limits: &Limits,
) -> Result<(Vec<u8>, PackedFiles), SceneError> {
    let bytes =
        read_bounded(path, limits.max_file_bytes).map_err(|reason| SceneError::Resource {
            uri: path.display().to_string(),
            reason,
        })?;
    let json = bytes
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(&bytes)
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        == Some(&b'{');
    if !json {
        return Ok((bytes, Vec::new()));
    }
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    pack_listing(&bytes, dir, limits)
}

/// Packs the `.gltf` JSON `json` into a `.glb`, reading relative URIs inside `dir`.
///
/// Errors ([`SceneError::Resource`] names the URI): a URI that is absolute, leaves `dir` (`..`, or a link
/// to outside), has a scheme other than `data:`, or cannot be read; a buffer shorter than its
/// `byteLength`; a `data:` URI that is not base64; a packed size above `limits.max_file_bytes`.
/// [`SceneError::Malformed`] when the JSON is not a glTF object.
pub fn pack_gltf(json: &[u8], dir: &Path, limits: &Limits) -> Result<Vec<u8>, SceneError> {
    pack_listing(json, dir, limits).map(|(glb, _)| glb)
}

fn pack_listing(
    json: &[u8],
    dir: &Path,
    limits: &Limits,
) -> Result<(Vec<u8>, PackedFiles), SceneError> {
    // A UTF-8 byte order mark is allowed before JSON text (RFC 8259 §8.1 lets parsers ignore it).
    let json = json
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(json);
    let mut files = Vec::new();
    let mut doc: Value = serde_json::from_slice(json)
        .map_err(|e| SceneError::Malformed(format!("the .gltf is not JSON: {e}")))?;
    if !doc.is_object() {
        return Err(SceneError::Malformed(
            "the .gltf is not a JSON object".into(),
        ));
    }
    let root = dir.canonicalize().map_err(|e| SceneError::Resource {
        uri: dir.display().to_string(),
        reason: format!("the scene's folder: {e}"),
    })?;
    let max = limits.max_file_bytes;
    let mut bin: Vec<u8> = Vec::new();
    let grow = |bin: &mut Vec<u8>, bytes: &[u8], align: usize| -> Result<usize, SceneError> {
        while !bin.len().is_multiple_of(align) {
            bin.push(0);
        }
        let at = bin.len();
        if (at + bytes.len()) as u64 > max {
            return Err(SceneError::TooLarge {
                what: "packed scene size",
                value: (at + bytes.len()) as u64,
                limit: max,
            });
        }
        bin.extend_from_slice(bytes);
        Ok(at)
    };
    // Buffers, one after another; 16-byte alignment keeps every accessor's alignment (§3.6.2.4).
    let mut base = Vec::new();
    for (i, b) in array(&doc, "buffers").iter().enumerate() {
        let length = b["byteLength"]
            .as_u64()
            .ok_or_else(|| SceneError::Malformed(format!("buffer {i} has no byteLength")))?;
        let uri = b["uri"].as_str().ok_or_else(|| {
            SceneError::Malformed(format!(
                "buffer {i} has no uri: in a .gltf every buffer names its data"
            ))
        })?;
        let data = fetch(uri, &root, max, &mut files)?;
        if (data.len() as u64) < length {
            return Err(SceneError::Resource {
                uri: uri.into(),
                reason: format!(
                    "buffer {i} declares {length} bytes and the data has {}",
                    data.len()
                ),
            });
        }
        let len = usize::try_from(length).unwrap_or(usize::MAX);
        base.push(grow(&mut bin, &data[..len], 16)?);
    }
    // (`get_mut`, not `doc[key]`: indexing a missing key mutably would add it as null.)
    if let Some(views) = doc.get_mut("bufferViews").and_then(Value::as_array_mut) {
        for (i, v) in views.iter_mut().enumerate() {
            let b = v["buffer"].as_u64().unwrap_or(u64::MAX);
            let at = usize::try_from(b)
                .ok()
                .and_then(|b| base.get(b))
                .ok_or_else(|| {
                    SceneError::Malformed(format!(
                        "buffer view {i} names buffer {b}, which does not exist"
                    ))
                })?;
            let offset = v["byteOffset"].as_u64().unwrap_or(0);
            let moved = offset.checked_add(*at as u64).ok_or_else(|| {
                SceneError::Malformed(format!("buffer view {i}: byteOffset {offset} overflows"))
            })?;
            v["buffer"] = json!(0);
            v["byteOffset"] = json!(moved);
        }
    }
    // Images with a URI become buffer views of the binary chunk.
    let mut new_views = Vec::new();
    let first_view = array(&doc, "bufferViews").len();
    if let Some(images) = doc.get_mut("images").and_then(Value::as_array_mut) {
        for img in images.iter_mut() {
            let Some(uri) = img["uri"].as_str().map(str::to_owned) else {
                continue;
            };
            let data = fetch(&uri, &root, max, &mut files)?;
            let mime = mime_of(&data).ok_or_else(|| SceneError::Resource {
                uri: uri.chars().take(200).collect(),
                reason: "not a PNG or JPEG image (by its content)".into(),
            })?;
            let at = grow(&mut bin, &data, 4)?;
            new_views.push(json!({"buffer": 0, "byteOffset": at, "byteLength": data.len()}));
            let obj = img
                .as_object_mut()
                .ok_or_else(|| SceneError::Malformed("an image is not a JSON object".into()))?;
            obj.remove("uri");
            obj.insert("bufferView".into(), json!(first_view + new_views.len() - 1));
            obj.insert("mimeType".into(), json!(mime));
        }
    }
    if !new_views.is_empty() {
        if doc.get("bufferViews").is_none() {
            doc["bufferViews"] = json!([]);
        }
        if let Some(v) = doc.get_mut("bufferViews").and_then(Value::as_array_mut) {
            v.extend(new_views);
        }
    }
    if bin.is_empty() {
        if let Some(o) = doc.as_object_mut() {
            o.remove("buffers");
        }
    } else {
        doc["buffers"] = json!([{"byteLength": bin.len()}]);
    }
    Ok((glb(&doc, bin), files))
}

fn array<'a>(doc: &'a Value, key: &str) -> &'a [Value] {
    doc[key].as_array().map_or(&[], Vec::as_slice)
}

/// The bytes a URI names: a base64 `data:` URI decoded, or a relative path (percent-decoded, RFC 3986)
/// read inside `root`.
fn fetch(
    uri: &str,
    root: &Path,
    max: u64,
    files: &mut Vec<(String, u64)>,
) -> Result<Vec<u8>, SceneError> {
    let fail = |reason: String| SceneError::Resource {
        uri: uri.chars().take(200).collect(),
        reason,
    };
    if let Some(rest) = uri.strip_prefix("data:") {
        let (meta, payload) = rest
            .split_once(',')
            .ok_or_else(|| fail("a data: URI without a comma".into()))?;
        if !meta.ends_with(";base64") {
            return Err(fail("a data: URI that is not base64".into()));
        }
        if payload.len() as u64 / 4 * 3 > max {
            return Err(fail(format!("larger than the {max}-byte limit")));
        }
        return base64::engine::general_purpose::STANDARD
            .decode(payload)
            .map_err(|e| fail(format!("bad base64: {e}")));
    }
    let path = confined(uri, root).map_err(fail)?;
    let data = read_bounded(&path, max).map_err(fail)?;
    files.push((uri.chars().take(200).collect(), data.len() as u64));
    Ok(data)
}

/// The file a relative URI names, if it lies inside `root` (itself canonical).
fn confined(uri: &str, root: &Path) -> Result<PathBuf, String> {
    // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" (http:, file:, C:…).
    let scheme = uri.split_once(':').is_some_and(|(s, _)| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if scheme {
        return Err("only data: URIs and relative paths inside the scene's folder are read".into());
    }
    let decoded = percent_encoding::percent_decode_str(uri)
        .decode_utf8()
        .map_err(|_| "a path that is not UTF-8 once percent-decoded".to_string())?;
    let rel = Path::new(decoded.as_ref());
    if rel.is_absolute()
        || rel.components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
    {
        return Err(
            "an absolute path or one with '..': only files inside the scene's folder are read"
                .into(),
        );
    }
    // Hidden files and folders (.ssh, .tessera keystores, .git…) are never scene data: a .gltf saved in a
    // home folder must not be able to name them.
    if rel.components().any(
        |c| matches!(c, std::path::Component::Normal(n) if n.to_string_lossy().starts_with('.')),
    ) {
        return Err(
            "a hidden file or folder (a name starting with '.'): such files are never packed"
                .into(),
        );
    }
    let path = root
        .join(rel)
        .canonicalize()
        .map_err(|e| format!("cannot open it in {}: {e}", root.display()))?;
    // A link may still lead outside the folder, or to a hidden file inside it.
    let Ok(inside) = path.strip_prefix(root) else {
        return Err(format!(
            "it leads outside the scene's folder {}",
            root.display()
        ));
    };
    if inside.components().any(
        |c| matches!(c, std::path::Component::Normal(n) if n.to_string_lossy().starts_with('.')),
    ) {
        return Err(format!(
            "it leads to a hidden file or folder ({}): such files are never packed",
            inside.display()
        ));
    }
    // A hard link is another name for a file that may live anywhere (a key, a keystore): refused.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.nlink() > 1) {
            return Err(format!(
                "{} has other names (hard links): only files that are nothing but scene data are packed",
                inside.display()
            ));
        }
    }
    Ok(path)
}

/// Reads a regular file of at most `max` bytes.
fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    // Checked before opening: opening a FIFO would block until a writer comes.
    if !std::fs::metadata(path)
        .map_err(|e| e.to_string())?
        .is_file()
    {
        return Err("not a regular file".into());
    }
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let meta = f.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > max {
        return Err(format!("{} bytes, above the {max}-byte limit", meta.len()));
    }
    let mut out = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > max {
        return Err(format!("above the {max}-byte limit"));
    }
    Ok(out)
}

/// The MIME type glTF allows for an image (§3.8.2), from its content: a file is packed as an image only
/// if it is one.
fn mime_of(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xff, 0xd8]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// The GLB container (§4.4): 12-byte header, JSON chunk padded with spaces, binary chunk padded with zeros,
/// each 4-byte aligned. The binary chunk is left out only when it is empty and the document has no buffers.
pub(crate) fn glb(doc: &Value, mut bin: Vec<u8>) -> Vec<u8> {
    let with_bin = !bin.is_empty() || doc.get("buffers").is_some();
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    let mut text = serde_json::to_vec(doc).unwrap_or_default();
    while !text.len().is_multiple_of(4) {
        text.push(b' ');
    }
    let total = 12 + 8 + text.len() + if with_bin { 8 + bin.len() } else { 0 };
    let u = |x: usize| u32::try_from(x).unwrap_or(u32::MAX).to_le_bytes();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&u(total));
    out.extend_from_slice(&u(text.len()));
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&text);
    if with_bin {
        out.extend_from_slice(&u(bin.len()));
        out.extend_from_slice(b"BIN\0");
        out.extend_from_slice(&bin);
    }
    out
}
