//! Buffers, buffer views and accessors (glTF 2.0 §3.6): every byte an accessor names lies inside its view and
//! buffer, sparse accessors follow their rules, and each attribute the loader reads has the type the
//! specification gives it.

use super::GetBuffer;
use crate::scene::SceneError;

/// The file's buffers: only the GLB binary chunk (§4.4.3.3); a buffer with a URI is refused. Every buffer
/// view is checked to lie inside its buffer.
pub(super) fn buffers<'a>(
    doc: &gltf::Document,
    blob: &'a [u8],
) -> Result<Vec<&'a [u8]>, SceneError> {
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
    Ok(buffers)
}

/// The component types of the attributes and indices this loader reads (§3.7.2.1): what the `gltf`
/// readers assume but its validation does not check.
pub(super) fn check_types(doc: &gltf::Document) -> Result<(), SceneError> {
    use gltf::accessor::{DataType, Dimensions};
    let bad = |m: String| Err(SceneError::Malformed(m));
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
                    // §3.7.2.1: float, or unsigned byte / short normalized.
                    gltf::Semantic::TexCoords(_) => {
                        (dt == DataType::F32
                            || matches!(dt, DataType::U8 | DataType::U16) && acc.normalized())
                            && dim == Dimensions::Vec2
                    }
                    gltf::Semantic::Colors(_) => {
                        (dt == DataType::F32
                            || matches!(dt, DataType::U8 | DataType::U16) && acc.normalized())
                            && matches!(dim, Dimensions::Vec3 | Dimensions::Vec4)
                    }
                    gltf::Semantic::Joints(_) => {
                        matches!(dt, DataType::U8 | DataType::U16)
                            && !acc.normalized()
                            && dim == Dimensions::Vec4
                    }
                    gltf::Semantic::Weights(_) => {
                        (dt == DataType::F32
                            || matches!(dt, DataType::U8 | DataType::U16) && acc.normalized())
                            && dim == Dimensions::Vec4
                    }
                    _ => true,
                };
                if !ok {
                    return bad(format!(
                        "mesh {m}: attribute {sem:?} (accessor {}) is {dim:?} of {dt:?}{}, which glTF 2.0 \
                         §3.7.2.1 does not allow for it",
                        acc.index(),
                        if acc.normalized() { " normalized" } else { "" }
                    ));
                }
            }
        }
    }
    Ok(())
}

/// glTF 2.0 (§3.6.2.3, Sparse Accessors): a sparse accessor's count is at most the accessor's, and its
/// indices "MUST strictly increase" and point inside the accessor. Otherwise the file loads as a different
/// mesh (indices 3, 2, 1, 0) or writes nowhere (index 9 of 4); it is refused, naming the accessor and the rule.
pub(super) fn check_sparse(doc: &gltf::Document, get: &GetBuffer<'_>) -> Result<(), SceneError> {
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
