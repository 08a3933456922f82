//! Punctual lights (`KHR_lights_punctual`).

use super::nodes::Walk;
use crate::math::{self, Mat4};
use crate::scene::{Light, SceneError};

impl Walk<'_, '_> {
    pub(super) fn light(
        &mut self,
        light: &gltf::khr_lights_punctual::Light<'_>,
        world: &Mat4,
    ) -> Result<(), SceneError> {
        use gltf::khr_lights_punctual::Kind;
        if self.lights.len() >= self.opts.limits.max_items {
            return Err(SceneError::TooLarge {
                what: "lights",
                value: self.lights.len() as u64 + 1,
                limit: self.opts.limits.max_items as u64,
            });
        }
        let c = light.color();
        let k = light.intensity();
        let color = [c[0] * k, c[1] * k, c[2] * k];
        if color.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(SceneError::NonFinite {
                what: format!("light {}", light.index()),
            });
        }
        let position = world.point([0.0; 3]);
        let direction = math::normalize_or(world.vector([0.0, 0.0, -1.0]), [0.0, 0.0, -1.0]);
        let (kind, cos_outer, cos_inner) = match light.kind() {
            Kind::Point => (0, -2.0, -1.0),
            Kind::Spot {
                inner_cone_angle,
                outer_cone_angle,
            } => {
                let outer = math::sincos(outer_cone_angle).1;
                let inner = math::sincos(inner_cone_angle).1;
                (1, outer, inner.max(outer + 1e-6))
            }
            Kind::Directional => (2, -2.0, -1.0),
        };
        self.lights.push(Light {
            kind,
            position,
            direction,
            color,
            cos_outer,
            cos_inner,
        });
        Ok(())
    }
}
