//! Task outputs: raw linear data (for verification), a tone-mapped PNG preview, the list of leaves, and
//! OpenEXR frames for compositing.
//!
//! Raw format (`.tsr`, little-endian): the 8 bytes `TSRAW001`, then u32 image width, image height, region x,
//! y, width, height, cell size, channels (3), then width·height·3 f32, row-major over the region. The cell
//! bytes the leaves commit to are the same floats cut per cell (`render::cell_bytes`).

use crate::render::RegionImage;
use std::io::Write;
use std::path::Path;
use tessera_common::to_hex;

/// Magic bytes of the raw format.
pub const RAW_MAGIC: &[u8; 8] = b"TSRAW001";

/// Writing an output failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// File system error.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// PNG encoder error.
    #[error("encoding PNG {path}: {reason}")]
    Png {
        /// The file.
        path: String,
        /// The error.
        reason: String,
    },
    /// OpenEXR encoder error.
    #[error("encoding OpenEXR {path}: {reason}")]
    Exr {
        /// The file.
        path: String,
        /// The error.
        reason: String,
    },
    /// A raw file is malformed.
    #[error("raw file: {0}")]
    BadRaw(String),
}

/// Sample precision of an OpenEXR file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExrPrecision {
    /// 32-bit floats: the rendered values exactly.
    Full,
    /// 16-bit half floats (IEEE 754 binary16, rounded to nearest): half the size, the usual choice for
    /// compositing beauty passes.
    Half,
}

/// Writes `pixels` (`width` x `height`, linear RGB, row-major from the top left, as rendered: no tone
/// mapping) as a scan-line OpenEXR file with channels R, G, B, ZIP-compressed in 16-line blocks (lossless;
/// the compositing standard's usual compression for renders). Values are scene-referred linear radiance
/// in the renderer's units.
pub fn write_exr(
    path: &Path,
    width: u32,
    height: u32,
    pixels: &[f32],
    precision: ExrPrecision,
) -> Result<(), OutputError> {
    use exr::prelude::*;
    let (w, h) = (width as usize, height as usize);
    let bad = |reason: String| OutputError::Exr {
        path: path.display().to_string(),
        reason,
    };
    if pixels.len() != w * h * 3 {
        return Err(bad(format!(
            "{} floats for a {width} x {height} RGB image",
            pixels.len()
        )));
    }
    let at = |x: usize, y: usize| {
        let i = (y * w + x) * 3;
        (pixels[i], pixels[i + 1], pixels[i + 2])
    };
    let result = match precision {
        ExrPrecision::Full => {
            let channels = SpecificChannels::rgb(|Vec2(x, y)| at(x, y));
            Image::from_encoded_channels((w, h), Encoding::SMALL_LOSSLESS, channels)
                .write()
                .non_parallel()
                .to_file(path)
        }
        ExrPrecision::Half => {
            let channels = SpecificChannels::rgb(|Vec2(x, y)| {
                let (r, g, b) = at(x, y);
                (f16::from_f32(r), f16::from_f32(g), f16::from_f32(b))
            });
            Image::from_encoded_channels((w, h), Encoding::SMALL_LOSSLESS, channels)
                .write()
                .non_parallel()
                .to_file(path)
        }
    };
    result.map_err(|e| bad(e.to_string()))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Encodes the region as raw data.
pub fn raw_bytes(
    img: &RegionImage,
    image_width: u32,
    image_height: u32,
    cell_size: u32,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(40 + img.pixels.len() * 4);
    out.extend_from_slice(RAW_MAGIC);
    for v in [
        image_width,
        image_height,
        img.rect.x,
        img.rect.y,
        img.rect.width,
        img.rect.height,
        cell_size,
        3,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for p in &img.pixels {
        out.extend_from_slice(&p.to_le_bytes());
    }
    out
}

/// The header words of raw data (image width, height, region x, y, width, height, cell size, channels),
/// after checking that the body has the size they announce.
pub fn parse_header(bytes: &[u8]) -> Result<[u32; 8], OutputError> {
    if bytes.len() < 40 || &bytes[..8] != RAW_MAGIC {
        return Err(OutputError::BadRaw("missing TSRAW001 header".into()));
    }
    let mut h = [0u32; 8];
    for (i, w) in h.iter_mut().enumerate() {
        let at = 8 + i * 4;
        *w = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    }
    if h[7] != 3 {
        return Err(OutputError::BadRaw(format!(
            "{} channels, expected 3",
            h[7]
        )));
    }
    let n = u64::from(h[4]) * u64::from(h[5]) * 3;
    let body = bytes.len() - 40;
    if body as u64 != n * 4 {
        return Err(OutputError::BadRaw(format!(
            "{body} bytes of pixel data for a {}x{} region",
            h[4], h[5]
        )));
    }
    Ok(h)
}

/// Parsed raw data: (header words, pixels).
pub fn parse_raw(bytes: &[u8]) -> Result<([u32; 8], Vec<f32>), OutputError> {
    let h = parse_header(bytes)?;
    let body = &bytes[40..];
    let px = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((h, px))
}

/// Writes the raw data.
pub fn write_raw(
    path: &Path,
    img: &RegionImage,
    w: u32,
    h: u32,
    cell: u32,
) -> Result<(), OutputError> {
    std::fs::write(path, raw_bytes(img, w, h, cell)).map_err(io(path))
}

/// ACES filmic curve (Narkowicz 2015) then sRGB encoding, to 8 bits. For previews only: not verified.
fn tonemap(v: f32) -> u8 {
    let x = v.max(0.0) * 0.8;
    let y = (x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14);
    let y = y.clamp(0.0, 1.0);
    let s = if y <= 0.003_130_8 {
        12.92 * y
    } else {
        1.055 * y.powf(1.0 / 2.4) - 0.055
    };
    // s is in [0, 1], so the rounded value is in 0..=255.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let b = (s * 255.0 + 0.5) as u8;
    b
}

/// The 8-bit sRGB preview of linear RGB pixels.
pub fn preview_rgb8(pixels: &[f32]) -> Vec<u8> {
    pixels.iter().map(|v| tonemap(*v)).collect()
}

/// Writes a PNG preview of `pixels` (`width` x `height`, linear RGB).
pub fn write_png(path: &Path, width: u32, height: u32, pixels: &[f32]) -> Result<(), OutputError> {
    let file = std::fs::File::create(path).map_err(io(path))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let png_err = |e: png::EncodingError| OutputError::Png {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut w = enc.write_header().map_err(png_err)?;
    w.write_image_data(&preview_rgb8(pixels)).map_err(png_err)?;
    w.finish().map_err(png_err)
}

/// Reads the first RGB(A) layer of an OpenEXR file as `(width, height, linear RGB floats)`, row-major from
/// the top left (alpha, if any, is dropped; half floats are widened exactly).
pub fn read_exr(path: &Path) -> Result<(u32, u32, Vec<f32>), OutputError> {
    use exr::prelude::*;
    let bad = |reason: String| OutputError::Exr {
        path: path.display().to_string(),
        reason,
    };
    let image = read_first_rgba_layer_from_file(
        path,
        |size, _| (size.width(), vec![0.0f32; size.area() * 3]),
        |(w, px), pos, (r, g, b, _a): (f32, f32, f32, f32)| {
            let i = (pos.y() * *w + pos.x()) * 3;
            px[i..i + 3].copy_from_slice(&[r, g, b]);
        },
    )
    .map_err(|e| bad(e.to_string()))?;
    let layer = image.layer_data;
    let side = |v: usize| u32::try_from(v).map_err(|_| bad(format!("a side of {v} pixels")));
    Ok((
        side(layer.size.width())?,
        side(layer.size.height())?,
        layer.channel_data.pixels.1,
    ))
}

/// The leaves document: cell size, region, root and each cell's rectangle, data hash and leaf, as JSON.
pub fn leaves_json(img: &RegionImage, cell_size: u32) -> serde_json::Value {
    serde_json::json!({
        "format": "tessera-leaves/1",
        "cellSize": cell_size,
        "region": [img.rect.x, img.rect.y, img.rect.width, img.rect.height],
        "root": to_hex(&img.root),
        "cells": img.cells.iter().map(|c| serde_json::json!({
            "index": c.index,
            "rect": [c.rect.x, c.rect.y, c.rect.width, c.rect.height],
            "dataHash": to_hex(&c.data_hash),
            "leaf": to_hex(&c.leaf),
        })).collect::<Vec<_>>(),
    })
}

/// Writes the leaves document.
pub fn write_leaves(path: &Path, img: &RegionImage, cell_size: u32) -> Result<(), OutputError> {
    let mut f = std::fs::File::create(path).map_err(io(path))?;
    let text = serde_json::to_string_pretty(&leaves_json(img, cell_size)).unwrap_or_default();
    f.write_all(text.as_bytes()).map_err(io(path))
}

/// The data hash of every cell of raw data, in cell order: each cell's rows are hashed straight from the raw
/// bytes (they are the cell's bytes, `render::cell_bytes`), cells in parallel.
pub fn cell_data_hashes(raw: &[u8]) -> Result<Vec<[u8; 32]>, OutputError> {
    use rayon::prelude::*;
    let h = parse_header(raw)?;
    let region = tessera_common::task::Rect {
        x: h[2],
        y: h[3],
        width: h[4],
        height: h[5],
    };
    let cell_size = h[6];
    if !(4..=256).contains(&cell_size) || !cell_size.is_power_of_two() {
        return Err(OutputError::BadRaw(format!(
            "cell size {cell_size} in the raw header"
        )));
    }
    let rects: Vec<_> = tessera_common::task::cells(region, cell_size).collect();
    let body = &raw[40..];
    let row_bytes = region.width as usize * 12;
    Ok(rects
        .par_iter()
        .map(|c| {
            let rows = (0..c.height as usize).map(|dy| {
                let start = (c.y - region.y) as usize * row_bytes
                    + dy * row_bytes
                    + (c.x - region.x) as usize * 12;
                &body[start..start + c.width as usize * 12]
            });
            tessera_common::keccak256_parts(rows)
        })
        .collect())
}

/// Checks delivered outputs the way a verifier or an artist does before trusting them: cuts the raw data
/// into cells, hashes each into its leaf, and compares every leaf and the root with the leaves document (and
/// with `expected_root`, the root committed on-chain, when given). Returns the root.
pub fn check_outputs(
    raw: &[u8],
    leaves_doc: &serde_json::Value,
    expected_root: Option<&[u8; 32]>,
) -> Result<[u8; 32], OutputError> {
    let hashes = cell_data_hashes(raw)?;
    let cell_size = parse_header(raw)?[6];
    if leaves_doc["cellSize"].as_u64() != Some(u64::from(cell_size)) {
        return Err(OutputError::BadRaw(
            "the leaves document has another cell size".into(),
        ));
    }
    let listed = leaves_doc["cells"]
        .as_array()
        .ok_or_else(|| OutputError::BadRaw("the leaves document has no cell list".into()))?;
    let leaves: Vec<[u8; 32]> = hashes
        .into_iter()
        .enumerate()
        .map(|(i, h)| tessera_common::cells::leaf(i as u64, h))
        .collect();
    for (i, leaf) in leaves.iter().enumerate() {
        let claimed = listed.get(i).and_then(|c| c["leaf"].as_str());
        if claimed != Some(to_hex(leaf).as_str()) {
            return Err(OutputError::BadRaw(format!(
                "cell {i}: the raw data hashes to leaf {}, the leaves document says {}",
                to_hex(leaf),
                claimed.unwrap_or("nothing")
            )));
        }
    }
    if listed.len() != leaves.len() {
        return Err(OutputError::BadRaw(format!(
            "the leaves document lists {} cells, the region has {}",
            listed.len(),
            leaves.len()
        )));
    }
    let root = tessera_common::cells::root(&leaves)
        .ok_or_else(|| OutputError::BadRaw("no cells".into()))?;
    if leaves_doc["root"].as_str() != Some(to_hex(&root).as_str()) {
        return Err(OutputError::BadRaw(format!(
            "the leaves build root {}, the document says {}",
            to_hex(&root),
            leaves_doc["root"].as_str().unwrap_or("nothing")
        )));
    }
    if let Some(expected) = expected_root
        && expected != &root
    {
        return Err(OutputError::BadRaw(format!(
            "root {} differs from the committed root {}",
            to_hex(&root),
            to_hex(expected)
        )));
    }
    Ok(root)
}
