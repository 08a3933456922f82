//! Radiance `.hdr` (RGBE) images for equirectangular environment maps: flat and run-length encoded scan
//! lines, sizes checked against the limits before decoding, exact (power-of-two) conversion to floats.

use super::{Limits, SceneError};

/// An equirectangular environment map in linear RGB.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentMap {
    /// Width in texels (longitude).
    pub width: u32,
    /// Height in texels (latitude, top row = +Y).
    pub height: u32,
    /// Linear RGBA floats, row-major (alpha 1).
    pub rgba: Vec<f32>,
}

fn bad(reason: impl Into<String>) -> SceneError {
    SceneError::Image {
        index: usize::MAX,
        reason: format!("environment map: {}", reason.into()),
    }
}

/// RGBE to linear floats: `(m + 0.5) · 2^(e − 136)`, exact up to one rounding to f32.
fn rgbe(p: [u8; 4]) -> [f32; 3] {
    if p[3] == 0 {
        return [0.0; 3];
    }
    let scale = 2.0f64.powi(i32::from(p[3]) - 136);
    // (m + 0.5) · 2^k is exact in f64; the single rounding to f32 is the same on every machine.
    #[allow(clippy::cast_possible_truncation)]
    let f = |m: u8| ((f64::from(m) + 0.5) * scale) as f32;
    [f(p[0]), f(p[1]), f(p[2])]
}

/// Parses a Radiance `.hdr` file.
pub fn load_hdr(bytes: &[u8], limits: &Limits) -> Result<EnvironmentMap, SceneError> {
    // Header: lines up to an empty line, then the resolution line.
    let mut pos = 0;
    let line = |pos: &mut usize| -> Option<&[u8]> {
        let start = *pos;
        let end = bytes[start..].iter().position(|&b| b == b'\n')? + start;
        *pos = end + 1;
        Some(&bytes[start..end])
    };
    let first = line(&mut pos).ok_or_else(|| bad("empty file"))?;
    if !(first.starts_with(b"#?RADIANCE") || first.starts_with(b"#?RGBE")) {
        return Err(bad("not a Radiance .hdr file"));
    }
    loop {
        let l = line(&mut pos).ok_or_else(|| bad("truncated header"))?;
        if l.is_empty() {
            break;
        }
        if l.starts_with(b"FORMAT=") && l != b"FORMAT=32-bit_rle_rgbe" {
            return Err(bad("only the 32-bit_rle_rgbe format is supported"));
        }
    }
    let res = line(&mut pos).ok_or_else(|| bad("missing resolution line"))?;
    let res = std::str::from_utf8(res).map_err(|_| bad("bad resolution line"))?;
    let parts: Vec<&str> = res.split_whitespace().collect();
    let (height, width) = match parts[..] {
        ["-Y", h, "+X", w] => (
            h.parse::<u32>().map_err(|_| bad("bad height"))?,
            w.parse::<u32>().map_err(|_| bad("bad width"))?,
        ),
        _ => {
            return Err(bad(format!(
                "unsupported orientation {res:?} (want -Y H +X W)"
            )));
        }
    };
    if width == 0
        || height == 0
        || width > limits.max_texture_side
        || height > limits.max_texture_side
    {
        return Err(bad(format!(
            "{width}x{height} is outside 1..={} per side",
            limits.max_texture_side
        )));
    }
    // A map is held three times while a scene is assembled (the look, the texture list, the kernel's texels):
    // it has a budget of its own, checked before anything is decoded.
    let texels = u64::from(width) * u64::from(height);
    if texels > limits.max_total_texels || texels > limits.max_environment_texels {
        return Err(bad(format!(
            "{width}x{height} is {texels} texels, above the environment map limit of {}",
            limits.max_environment_texels.min(limits.max_total_texels)
        )));
    }
    let (w, h) = (width as usize, height as usize);
    let mut rgba = Vec::with_capacity(w * h * 4);
    let mut scan = vec![[0u8; 4]; w];
    let data = &bytes[pos..];
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> Result<&[u8], SceneError> {
        let s = data
            .get(*at..*at + n)
            .ok_or_else(|| bad("truncated pixel data"))?;
        *at += n;
        Ok(s)
    };
    for _ in 0..h {
        let head = data
            .get(at..at + 4)
            .ok_or_else(|| bad("truncated pixel data"))?;
        let rle = (8..32768).contains(&w) && head[0] == 2 && head[1] == 2 && head[2] & 0x80 == 0;
        if rle {
            if (usize::from(head[2]) << 8 | usize::from(head[3])) != w {
                return Err(bad("scan line width mismatch"));
            }
            at += 4;
            for c in 0..4 {
                let mut x = 0;
                while x < w {
                    let n = take(&mut at, 1)?[0];
                    if n > 128 {
                        let run = usize::from(n - 128);
                        let v = take(&mut at, 1)?[0];
                        if x + run > w {
                            return Err(bad("run past the end of a scan line"));
                        }
                        for px in &mut scan[x..x + run] {
                            px[c] = v;
                        }
                        x += run;
                    } else {
                        let run = usize::from(n);
                        if run == 0 || x + run > w {
                            return Err(bad("bad literal run"));
                        }
                        let vals = take(&mut at, run)?;
                        for (px, v) in scan[x..x + run].iter_mut().zip(vals) {
                            px[c] = *v;
                        }
                        x += run;
                    }
                }
            }
        } else {
            for px in &mut scan {
                let v = take(&mut at, 4)?;
                *px = [v[0], v[1], v[2], v[3]];
            }
        }
        for px in &scan {
            let [r, g, b] = rgbe(*px);
            rgba.extend_from_slice(&[r, g, b, 1.0]);
        }
    }
    Ok(EnvironmentMap {
        width,
        height,
        rgba,
    })
}

/// Encodes linear RGB as a flat (uncompressed) Radiance file: for tests and tools.
pub fn write_hdr(width: u32, height: u32, rgb: &[[f32; 3]]) -> Vec<u8> {
    let mut out =
        format!("#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {height} +X {width}\n").into_bytes();
    for c in rgb {
        let m = c[0].max(c[1]).max(c[2]);
        if m < 1e-32 {
            out.extend_from_slice(&[0, 0, 0, 0]);
            continue;
        }
        // Find e with 2^(e-1) <= m < 2^e by halving/doubling (no log).
        let mut e = 0i32;
        let mut v = f64::from(m);
        while v >= 1.0 {
            v /= 2.0;
            e += 1;
        }
        while v < 0.5 {
            v *= 2.0;
            e -= 1;
        }
        let scale = 256.0 / 2.0f64.powi(e);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let q = |x: f32| (f64::from(x) * scale).clamp(0.0, 255.0) as u8;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let exp = (e + 128).clamp(0, 255) as u8;
        out.extend_from_slice(&[q(c[0]), q(c[1]), q(c[2]), exp]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_flat_files() {
        let px = [
            [1.0, 0.5, 0.25],
            [0.0, 0.0, 0.0],
            [8.0, 2.0, 1.0],
            [0.01, 0.02, 0.03],
        ];
        let map = load_hdr(&write_hdr(2, 2, &px), &Limits::default()).expect("parses");
        assert_eq!((map.width, map.height), (2, 2));
        // RGBE keeps 8 bits of mantissa relative to the largest channel of each texel.
        for (i, p) in px.iter().enumerate() {
            let tolerance = p[0].max(p[1]).max(p[2]) / 100.0 + 1e-6;
            for (c, want) in p.iter().enumerate() {
                let got = map.rgba[i * 4 + c];
                assert!(
                    (got - want).abs() <= tolerance,
                    "texel {i} channel {c}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn decodes_run_length_scan_lines() {
        // One 8-pixel scan line: each channel a run of 8 identical bytes.
        let mut f = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 8\n".to_vec();
        f.extend_from_slice(&[2, 2, 0, 8]);
        for v in [128u8, 64, 32, 129] {
            f.extend_from_slice(&[128 + 8, v]);
        }
        let map = load_hdr(&f, &Limits::default()).expect("rle");
        assert_eq!(map.rgba.len(), 32);
        assert!((map.rgba[0] - 1.0039).abs() < 1e-3, "{}", map.rgba[0]);
    }

    #[test]
    fn rejects_bad_files() {
        let limits = Limits::default();
        assert!(load_hdr(b"", &limits).is_err());
        assert!(load_hdr(b"P6\n", &limits).is_err());
        let huge = b"#?RADIANCE\n\n-Y 100000 +X 100000\n";
        assert!(
            load_hdr(huge, &limits)
                .expect_err("too big")
                .to_string()
                .contains("outside")
        );
        let short = b"#?RADIANCE\n\n-Y 2 +X 2\n\x01\x02";
        assert!(
            load_hdr(short, &limits)
                .expect_err("truncated")
                .to_string()
                .contains("truncated")
        );
        let mut bad_run = b"#?RADIANCE\n\n-Y 1 +X 8\n".to_vec();
        bad_run.extend_from_slice(&[2, 2, 0, 8, 128 + 9, 1]);
        assert!(load_hdr(&bad_run, &limits).is_err());
    }
}
