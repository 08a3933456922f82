//! Cameras (glTF 2.0 §3.10): the file's first perspective camera, or one framing the scene.

use crate::math::{self, Mat4, V3};
use crate::scene::{Camera, SceneError, Triangle};

pub(super) fn camera_from(
    cam: &gltf::Camera<'_>,
    world: &Mat4,
    aspect: f32,
) -> Result<Camera, SceneError> {
    let yfov = match cam.projection() {
        gltf::camera::Projection::Perspective(p) => p.yfov(),
        gltf::camera::Projection::Orthographic(_) => {
            return Err(SceneError::Camera(format!(
                "camera {} is orthographic; only perspective cameras are supported",
                cam.index()
            )));
        }
    };
    if !(yfov > 0.0 && yfov < std::f32::consts::PI) {
        return Err(SceneError::Camera(format!(
            "camera {} has yfov {yfov}",
            cam.index()
        )));
    }
    let position = world.point([0.0; 3]);
    let forward = math::normalize_or(world.vector([0.0, 0.0, -1.0]), [0.0; 3]);
    let up0 = world.vector([0.0, 1.0, 0.0]);
    let right = math::normalize_or(math::cross(forward, up0), [0.0; 3]);
    let up = math::cross(right, forward);
    if forward == [0.0; 3] || right == [0.0; 3] {
        return Err(SceneError::Camera(format!(
            "camera {} has a degenerate transform",
            cam.index()
        )));
    }
    Ok(pinhole(position, forward, right, up, yfov, aspect))
}

fn pinhole(position: V3, forward: V3, right: V3, up: V3, yfov: f32, aspect: f32) -> Camera {
    let (s, c) = math::sincos(yfov * 0.5);
    let tan_half_y = s / c;
    Camera {
        position,
        right,
        up,
        forward,
        tan_half_x: tan_half_y * aspect,
        tan_half_y,
    }
}

/// With no camera in the file: 45° vertical field of view, looking down -Z at the bounding box centre from
/// far enough to see its bounding sphere.
pub(super) fn default_camera(tris: &[Triangle], aspect: f32) -> Camera {
    let mut lo = [f32::MAX; 3];
    let mut hi = [f32::MIN; 3];
    for t in tris {
        for p in &t.p {
            lo = math::min3(lo, *p);
            hi = math::max3(hi, *p);
        }
    }
    if tris.is_empty() {
        lo = [0.0; 3];
        hi = [0.0; 3];
    }
    let centre = math::scale(math::add(lo, hi), 0.5);
    let radius = (0.5 * math::length(math::sub(hi, lo))).max(1e-3);
    let yfov = std::f32::consts::FRAC_PI_4;
    let (s, _) = math::sincos(yfov * 0.5);
    let dist = radius / s * 1.05;
    let position = math::add(centre, [0.0, 0.0, dist]);
    pinhole(
        position,
        [0.0, 0.0, -1.0],
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        yfov,
        aspect,
    )
}
