//! Texture decoding (PNG and JPEG) into linear RGBA floats, with sizes checked before decoding.
//!
//! Both decoders are integer-only (`png`, `jpeg-decoder`'s scalar IDCT), so texels are the same on every
//! machine; sRGB codes become linear through a committed table, not `powf`.

use super::{Limits, SceneError, TexelFormat, Texture};

/// Decodes image `index` from `bytes` onto the end of `out`, 8-bit RGBA in one word a texel (the bits of
/// `u32::from_le_bytes([r, g, b, a])`); `srgb` marks the colour channels as sRGB-encoded, which the kernel
/// decodes through its committed table (`TS_SRGB`), never `powf`.
pub(crate) fn decode(
    index: usize,
    bytes: &[u8],
    mime: Option<&str>,
    srgb: bool,
    limits: &Limits,
    texels_so_far: &mut u64,
    out: &mut Vec<f32>,
) -> Result<Texture, SceneError> {
    let err = |reason: String| SceneError::Image { index, reason };
    let is_png = bytes.starts_with(b"\x89PNG\r\n\x1a\n");
    let is_jpeg = bytes.starts_with(&[0xff, 0xd8]);
    let (width, height, channels, data) = if is_png || (mime == Some("image/png") && !is_jpeg) {
        decode_png(bytes, limits, texels_so_far).map_err(err)?
    } else if is_jpeg || mime == Some("image/jpeg") {
        decode_jpeg(bytes, limits, texels_so_far).map_err(err)?
    } else {
        return Err(err(format!(
            "unsupported image format (mime type {}); PNG and JPEG are supported",
            mime.unwrap_or("unknown")
        )));
    };
    let texels = (width as usize) * (height as usize);
    if data.len() < texels * channels {
        return Err(err("decoded data is shorter than the image".into()));
    }
    let offset = out.len();
    out.reserve(texels);
    // One 32-bit word a texel, R in the low byte; the kernel turns it into linear RGBA (`ts_texel`).
    for px in data.chunks_exact(channels).take(texels) {
        let rgba = match channels {
            1 => [px[0], px[0], px[0], 255],
            2 => [px[0], px[0], px[0], px[1]],
            3 => [px[0], px[1], px[2], 255],
            _ => [px[0], px[1], px[2], px[3]],
        };
        out.push(f32::from_bits(u32::from_le_bytes(rgba)));
    }
    Ok(Texture {
        width,
        height,
        offset,
        format: if srgb {
            TexelFormat::Srgb8
        } else {
            TexelFormat::Unorm8
        },
    })
}

fn check_size(
    width: u32,
    height: u32,
    limits: &Limits,
    texels_so_far: &mut u64,
) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err(format!("empty image ({width}x{height})"));
    }
    if width > limits.max_texture_side || height > limits.max_texture_side {
        return Err(format!(
            "{width}x{height} exceeds the texture side limit of {}",
            limits.max_texture_side
        ));
    }
    let texels = u64::from(width) * u64::from(height);
    let total = *texels_so_far + texels;
    if total > limits.max_total_texels {
        return Err(format!(
            "textures would hold {total} texels, above the limit of {}",
            limits.max_total_texels
        ));
    }
    // Linear RGBA floats of every texture so far and this one, and this one's 8-bit decoding buffer.
    let bytes = total
        .saturating_mul(16)
        .saturating_add(texels.saturating_mul(4));
    if bytes > limits.max_texture_bytes {
        return Err(format!(
            "textures would take {bytes} bytes of memory (16 a texel, and the decoder's buffer), above the \
             limit of {}",
            limits.max_texture_bytes
        ));
    }
    *texels_so_far = total;
    Ok(())
}

type Decoded = (u32, u32, usize, Vec<u8>);

fn decode_png(bytes: &[u8], limits: &Limits, texels_so_far: &mut u64) -> Result<Decoded, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    // Expand palettes and low bit depths to 8 bits, strip 16-bit to 8.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let header = decoder
        .read_header_info()
        .map_err(|e| format!("PNG header: {e}"))?;
    check_size(header.width, header.height, limits, texels_so_far)?;
    let mut reader = decoder.read_info().map_err(|e| format!("PNG: {e}"))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| "PNG output size overflows".to_string())?;
    let mut buf = vec![0u8; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("PNG data: {e}"))?;
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err("indexed PNG was not expanded".into()),
    };
    buf.truncate(info.buffer_size());
    Ok((info.width, info.height, channels, buf))
}

fn decode_jpeg(bytes: &[u8], limits: &Limits, texels_so_far: &mut u64) -> Result<Decoded, String> {
    let mut decoder = jpeg_decoder::Decoder::new(std::io::Cursor::new(bytes));
    decoder
        .read_info()
        .map_err(|e| format!("JPEG header: {e}"))?;
    let info = decoder
        .info()
        .ok_or_else(|| "JPEG without a frame header".to_string())?;
    check_size(
        u32::from(info.width),
        u32::from(info.height),
        limits,
        texels_so_far,
    )?;
    decoder.set_max_decoding_buffer_size(
        usize::try_from(limits.max_texture_side)
            .unwrap_or(usize::MAX)
            .saturating_mul(usize::try_from(limits.max_texture_side).unwrap_or(usize::MAX))
            .saturating_mul(4),
    );
    let data = decoder.decode().map_err(|e| format!("JPEG data: {e}"))?;
    let channels = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => 1,
        jpeg_decoder::PixelFormat::RGB24 => 3,
        jpeg_decoder::PixelFormat::L16 => return Err("16-bit JPEG is not supported".into()),
        jpeg_decoder::PixelFormat::CMYK32 => return Err("CMYK JPEG is not supported".into()),
    };
    Ok((
        u32::from(info.width),
        u32::from(info.height),
        channels,
        data,
    ))
}
