//! Denoising a finished frame with Intel Open Image Denoise (OIDN), its `RT` filter in HDR mode, for the
//! artist's deliverables (`job fetch --denoise`, `tessera-render --denoise`). Verification never sees it:
//! cells are checked on the raw, un-denoised data, and a denoised frame is not bit-reproducible across
//! machines (OIDN picks kernels by CPU).
//!
//! OIDN is loaded at run time (`libOpenImageDenoise.so.2`, the official 2.x build that `scripts/setup.sh`
//! installs under `$TESSERA_OIDN_DIR/lib`, default `~/.cache/tessera/oidn/lib`; else the system's), so the
//! renderer builds and renders without it. This module holds the C API calls and so, like the kernel, the
//! `unsafe` they need.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_void};
use std::path::PathBuf;

/// Why a frame could not be denoised.
#[derive(Debug, thiserror::Error)]
pub enum DenoiseError {
    /// The library could not be loaded.
    #[error(
        "Open Image Denoise is not available ({0}): run scripts/setup.sh, or set TESSERA_OIDN_DIR to a folder \
         whose lib/ holds libOpenImageDenoise.so.2"
    )]
    Unavailable(String),
    /// OIDN reported an error.
    #[error("Open Image Denoise: {0}")]
    Failed(String),
    /// The pixels do not make the image they claim to.
    #[error("{0}")]
    BadImage(String),
}

type Device = *mut c_void;
type Filter = *mut c_void;
/// `OIDN_DEVICE_TYPE_CPU`.
const DEVICE_CPU: i32 = 1;
/// `OIDN_FORMAT_FLOAT3`.
const FORMAT_FLOAT3: i32 = 3;

/// Where the library is looked for, in order.
fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let dir = std::env::var_os("TESSERA_OIDN_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tessera/oidn")));
    if let Some(d) = dir {
        out.push(d.join("lib/libOpenImageDenoise.so.2"));
    }
    out.push(PathBuf::from("libOpenImageDenoise.so.2"));
    out
}

/// Denoises `pixels` (`width` x `height` linear RGB floats, row-major from the top left, as rendered) with
/// OIDN's `RT` filter in HDR mode, on the CPU, and returns the denoised pixels in the same layout.
///
/// Errors: the library is missing ([`DenoiseError::Unavailable`]); `pixels` is not `width · height · 3`
/// floats, or holds a non-finite value; OIDN fails.
pub fn denoise(width: u32, height: u32, pixels: &[f32]) -> Result<Vec<f32>, DenoiseError> {
    let (w, h) = (width as usize, height as usize);
    if pixels.len() != w * h * 3 || w == 0 || h == 0 {
        return Err(DenoiseError::BadImage(format!(
            "{} floats for a {width} x {height} RGB image",
            pixels.len()
        )));
    }
    if pixels.iter().any(|v| !v.is_finite()) {
        return Err(DenoiseError::BadImage(
            "the image holds a non-finite value".into(),
        ));
    }
    let mut tried = Vec::new();
    let lib = candidates()
        .into_iter()
        .find_map(|p| {
            // SAFETY: loading runs the library's initialisers; OIDN's are its own static set-up, with no
            // requirement on the caller.
            match unsafe { libloading::Library::new(&p) } {
                Ok(l) => Some(l),
                Err(e) => {
                    tried.push(format!("{}: {e}", p.display()));
                    None
                }
            }
        })
        .ok_or_else(|| DenoiseError::Unavailable(tried.join("; ")))?;
    let mut input = pixels.to_vec();
    let mut output = vec![0.0f32; pixels.len()];
    // SAFETY: each symbol is declared with the signature of OIDN 2.x's C API (OpenImageDenoise/oidn.h):
    // pointers to opaque handles, C strings, `size_t` as usize, enums as i32, `bool` as Rust's bool (the
    // same ABI as C's _Bool). The shared images point into `input` and `output`, which hold w·h·3 floats
    // with the strides given (12 bytes a pixel, 12·w a row) and outlive the filter, released before they
    // are dropped. Every handle is released once, after its last use.
    unsafe {
        let sym = |name: &[u8]| -> Result<*mut c_void, DenoiseError> {
            lib.get::<*mut c_void>(name).map(|s| *s).map_err(|e| {
                DenoiseError::Unavailable(format!("symbol {}: {e}", String::from_utf8_lossy(name)))
            })
        };
        let new_device: unsafe extern "C" fn(i32) -> Device =
            std::mem::transmute(sym(b"oidnNewDevice\0")?);
        let commit_device: unsafe extern "C" fn(Device) =
            std::mem::transmute(sym(b"oidnCommitDevice\0")?);
        let device_error: unsafe extern "C" fn(Device, *mut *const c_char) -> i32 =
            std::mem::transmute(sym(b"oidnGetDeviceError\0")?);
        let release_device: unsafe extern "C" fn(Device) =
            std::mem::transmute(sym(b"oidnReleaseDevice\0")?);
        let new_filter: unsafe extern "C" fn(Device, *const c_char) -> Filter =
            std::mem::transmute(sym(b"oidnNewFilter\0")?);
        let set_image: unsafe extern "C" fn(
            Filter,
            *const c_char,
            *mut c_void,
            i32,
            usize,
            usize,
            usize,
            usize,
            usize,
        ) = std::mem::transmute(sym(b"oidnSetSharedFilterImage\0")?);
        let set_bool: unsafe extern "C" fn(Filter, *const c_char, bool) =
            std::mem::transmute(sym(b"oidnSetFilterBool\0")?);
        let commit_filter: unsafe extern "C" fn(Filter) =
            std::mem::transmute(sym(b"oidnCommitFilter\0")?);
        let execute_filter: unsafe extern "C" fn(Filter) =
            std::mem::transmute(sym(b"oidnExecuteFilter\0")?);
        let release_filter: unsafe extern "C" fn(Filter) =
            std::mem::transmute(sym(b"oidnReleaseFilter\0")?);

        let check = |device: Device| -> Result<(), DenoiseError> {
            let mut message: *const c_char = std::ptr::null();
            if device_error(device, &mut message) == 0 {
                return Ok(());
            }
            let text = if message.is_null() {
                "unknown error".to_string()
            } else {
                CStr::from_ptr(message).to_string_lossy().into_owned()
            };
            Err(DenoiseError::Failed(text))
        };
        let device = new_device(DEVICE_CPU);
        if device.is_null() {
            return Err(DenoiseError::Failed("no CPU device".into()));
        }
        commit_device(device);
        let result = (|| {
            check(device)?;
            let rt = CString::new("RT").unwrap_or_default();
            let filter = new_filter(device, rt.as_ptr());
            check(device)?;
            if filter.is_null() {
                return Err(DenoiseError::Failed("no RT filter".into()));
            }
            let (color, out, hdr) = (
                CString::new("color").unwrap_or_default(),
                CString::new("output").unwrap_or_default(),
                CString::new("hdr").unwrap_or_default(),
            );
            let (pixel, row) = (12usize, 12 * w);
            set_image(
                filter,
                color.as_ptr(),
                input.as_mut_ptr().cast(),
                FORMAT_FLOAT3,
                w,
                h,
                0,
                pixel,
                row,
            );
            set_image(
                filter,
                out.as_ptr(),
                output.as_mut_ptr().cast(),
                FORMAT_FLOAT3,
                w,
                h,
                0,
                pixel,
                row,
            );
            set_bool(filter, hdr.as_ptr(), true);
            commit_filter(filter);
            let committed = check(device);
            if committed.is_ok() {
                execute_filter(filter);
            }
            let executed = check(device);
            release_filter(filter);
            committed.and(executed)
        })();
        release_device(device);
        result?;
    }
    if output.iter().any(|v| !v.is_finite()) {
        return Err(DenoiseError::Failed(
            "the denoised image holds a non-finite value".into(),
        ));
    }
    Ok(output)
}
