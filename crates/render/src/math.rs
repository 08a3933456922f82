//! Host-side math for scene preparation, with the same determinism rules as the kernel: only IEEE `+ - * /`
//! and `sqrt` (no FMA contraction in Rust; no `std` transcendental, whose results vary by platform), so the
//! flattened scene is bit-identical on every machine.

/// A 3-vector.
pub(crate) type V3 = [f32; 3];

pub(crate) fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
pub(crate) fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
/// The edges of triangle `p` from its first corner, (p1 - p0, p2 - p0): with p0, the form every
/// intersection test (the kernel's packs, the emitter records) reads.
pub(crate) fn edges(p: &[V3; 3]) -> (V3, V3) {
    (sub(p[1], p[0]), sub(p[2], p[0]))
}
pub(crate) fn scale(a: V3, k: f32) -> V3 {
    [a[0] * k, a[1] * k, a[2] * k]
}
pub(crate) fn dot(a: V3, b: V3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
pub(crate) fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
pub(crate) fn length(a: V3) -> f32 {
    dot(a, a).sqrt()
}
/// Normalized `a`, or `fallback` when `a` has no usable length.
pub(crate) fn normalize_or(a: V3, fallback: V3) -> V3 {
    let l = length(a);
    if l > 0.0 && l.is_finite() {
        scale(a, 1.0 / l)
    } else {
        fallback
    }
}
pub(crate) fn min3(a: V3, b: V3) -> V3 {
    [a[0].min(b[0]), a[1].min(b[1]), a[2].min(b[2])]
}
pub(crate) fn max3(a: V3, b: V3) -> V3 {
    [a[0].max(b[0]), a[1].max(b[1]), a[2].max(b[2])]
}
pub(crate) fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

/// sin and cos of `2π·t`: the same polynomial as the kernel's `ts_sincos_turns`, valid for any finite `t`.
pub fn sincos_turns(t: f32) -> (f32, f32) {
    let t = t - t.floor();
    let q = (t * 4.0 + 0.5).floor();
    let r = (t * 4.0 - q) * (std::f32::consts::PI * 0.5);
    let r2 = r * r;
    let s = r
        * (1.0
            + r2 * (-1.0 / 6.0
                + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362_880.0)))));
    let c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40_320.0))));
    // q is a whole number in 0..=4 here (quadrant 4 is quadrant 0): the cast is exact.
    #[allow(clippy::cast_possible_truncation)]
    let k = (q as i32) & 3;
    match k {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

/// sin and cos of an angle in radians.
pub fn sincos(angle: f32) -> (f32, f32) {
    sincos_turns(angle * (0.5 / std::f32::consts::PI))
}

/// arccos on [-1, 1] (Abramowitz & Stegun 4.4.46, |error| < 2e-8 before rounding).
pub fn acos(x: f32) -> f32 {
    let x = x.clamp(-1.0, 1.0);
    let a = x.abs();
    let p = std::f32::consts::FRAC_PI_2
        + a * (-0.214_598_8
            + a * (0.088_978_74
                + a * (-0.050_174_3
                    + a * (0.030_891_88
                        + a * (-0.017_088_1 + a * (0.006_670_09 + a * -0.001_262_49))))));
    let r = (1.0 - a).sqrt() * p;
    if x < 0.0 { std::f32::consts::PI - r } else { r }
}

/// A column-major 4x4 affine transform.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Mat4(pub [f32; 16]);

impl Mat4 {
    pub(crate) const IDENTITY: Mat4 = Mat4([
        1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0,
    ]);

    pub(crate) fn mul(&self, o: &Mat4) -> Mat4 {
        let a = &self.0;
        let b = &o.0;
        let mut r = [0.0f32; 16];
        for c in 0..4 {
            for row in 0..4 {
                r[c * 4 + row] = a[row] * b[c * 4]
                    + a[4 + row] * b[c * 4 + 1]
                    + a[8 + row] * b[c * 4 + 2]
                    + a[12 + row] * b[c * 4 + 3];
            }
        }
        Mat4(r)
    }

    /// translation * rotation (unit quaternion x, y, z, w) * scale.
    pub(crate) fn from_trs(t: V3, q: [f32; 4], s: V3) -> Mat4 {
        let [x, y, z, w] = normalize_quat(q);
        let (xx, yy, zz) = (x * x, y * y, z * z);
        let (xy, xz, yz) = (x * y, x * z, y * z);
        let (wx, wy, wz) = (w * x, w * y, w * z);
        Mat4([
            (1.0 - 2.0 * (yy + zz)) * s[0],
            2.0 * (xy + wz) * s[0],
            2.0 * (xz - wy) * s[0],
            0.0,
            2.0 * (xy - wz) * s[1],
            (1.0 - 2.0 * (xx + zz)) * s[1],
            2.0 * (yz + wx) * s[1],
            0.0,
            2.0 * (xz + wy) * s[2],
            2.0 * (yz - wx) * s[2],
            (1.0 - 2.0 * (xx + yy)) * s[2],
            0.0,
            t[0],
            t[1],
            t[2],
            1.0,
        ])
    }

    pub(crate) fn point(&self, p: V3) -> V3 {
        let m = &self.0;
        [
            m[0] * p[0] + m[4] * p[1] + m[8] * p[2] + m[12],
            m[1] * p[0] + m[5] * p[1] + m[9] * p[2] + m[13],
            m[2] * p[0] + m[6] * p[1] + m[10] * p[2] + m[14],
        ]
    }

    pub(crate) fn vector(&self, v: V3) -> V3 {
        let m = &self.0;
        [
            m[0] * v[0] + m[4] * v[1] + m[8] * v[2],
            m[1] * v[0] + m[5] * v[1] + m[9] * v[2],
            m[2] * v[0] + m[6] * v[1] + m[10] * v[2],
        ]
    }

    /// Transforms a normal by the inverse transpose of the upper 3x3 (the cofactor matrix, which has the
    /// same direction and needs no division); the caller normalizes.
    pub(crate) fn normal(&self, n: V3) -> V3 {
        let m = &self.0;
        let c0 = [m[0], m[1], m[2]];
        let c1 = [m[4], m[5], m[6]];
        let c2 = [m[8], m[9], m[10]];
        let r0 = cross(c1, c2);
        let r1 = cross(c2, c0);
        let r2 = cross(c0, c1);
        let det = dot(c0, r0);
        let v = add(add(scale(r0, n[0]), scale(r1, n[1])), scale(r2, n[2]));
        if det < 0.0 { scale(v, -1.0) } else { v }
    }

    /// Whether the transform mirrors (negative determinant): triangle winding flips.
    pub(crate) fn mirrors(&self) -> bool {
        let m = &self.0;
        dot(
            [m[0], m[1], m[2]],
            cross([m[4], m[5], m[6]], [m[8], m[9], m[10]]),
        ) < 0.0
    }
}

pub(crate) fn normalize_quat(q: [f32; 4]) -> [f32; 4] {
    let l = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
    if l > 0.0 && l.is_finite() {
        [q[0] / l, q[1] / l, q[2] / l, q[3] / l]
    } else {
        [0.0, 0.0, 0.0, 1.0]
    }
}

/// Spherical interpolation of unit quaternions (shortest arc), with the deterministic `acos`/`sincos`.
pub(crate) fn slerp(a: [f32; 4], b: [f32; 4], t: f32) -> [f32; 4] {
    let mut d = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3];
    let mut b = b;
    if d < 0.0 {
        d = -d;
        b = [-b[0], -b[1], -b[2], -b[3]];
    }
    let (wa, wb) = if d > 0.9995 {
        (1.0 - t, t)
    } else {
        let theta = acos(d);
        let (s, _) = sincos(theta);
        let (sa, _) = sincos((1.0 - t) * theta);
        let (sb, _) = sincos(t * theta);
        (sa / s, sb / s)
    };
    normalize_quat([
        a[0] * wa + b[0] * wb,
        a[1] * wa + b[1] * wb,
        a[2] * wa + b[2] * wb,
        a[3] * wa + b[3] * wb,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sincos_is_accurate() {
        for i in 0..=10_000 {
            let t = i as f32 / 10_000.0;
            let (s, c) = sincos_turns(t);
            let a = f64::from(t) * std::f64::consts::TAU;
            assert!((f64::from(s) - a.sin()).abs() < 2e-6, "sin at {t}");
            assert!((f64::from(c) - a.cos()).abs() < 2e-6, "cos at {t}");
        }
    }

    #[test]
    fn acos_is_accurate() {
        for i in -1000..=1000 {
            let x = i as f32 / 1000.0;
            assert!(
                (f64::from(acos(x)) - f64::from(x).acos()).abs() < 1e-6,
                "acos({x})"
            );
        }
    }

    #[test]
    fn trs_matches_rotation_about_z() {
        // 90° about z: quaternion (0, 0, sin 45°, cos 45°).
        let h = std::f32::consts::FRAC_1_SQRT_2;
        let m = Mat4::from_trs([1.0, 2.0, 3.0], [0.0, 0.0, h, h], [2.0, 2.0, 2.0]);
        let p = m.point([1.0, 0.0, 0.0]);
        assert!(
            (p[0] - 1.0).abs() < 1e-6 && (p[1] - 4.0).abs() < 1e-6 && (p[2] - 3.0).abs() < 1e-6
        );
        let n = normalize_or(m.normal([1.0, 0.0, 0.0]), [0.0; 3]);
        assert!((n[1] - 1.0).abs() < 1e-6, "{n:?}");
        assert!(!m.mirrors());
        assert!(Mat4::from_trs([0.0; 3], [0.0, 0.0, 0.0, 1.0], [-1.0, 1.0, 1.0]).mirrors());
    }

    #[test]
    fn slerp_halfway() {
        let h = std::f32::consts::FRAC_1_SQRT_2;
        let q = slerp([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0], 0.5);
        assert!((q[2] - h).abs() < 1e-6 && (q[3] - h).abs() < 1e-6, "{q:?}");
    }
}
