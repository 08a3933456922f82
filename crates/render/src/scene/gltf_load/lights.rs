//! Punctual lights (`KHR_lights_punctual`), in the radiometric units the kernel renders in, converted the way
//! Blender imports them so that a scene has the brightness it has in Blender.

use super::nodes::Walk;
use crate::math::{self, Mat4};
use crate::scene::{Light, SceneError};

/// Lumens per watt used to turn `KHR_lights_punctual`'s photometric units into radiometric ones: 683 lm/W,
/// the constant Blender's glTF importer and exporter use (`PBR_WATTS_TO_LUMENS` in `io_scene_gltf2`) in
/// their default ("Standard") lighting mode.
///
/// - A point or spot light of `I` cd is imported by Blender as a `4πI / 683` W light, and Cycles gives a
///   `P` W point or spot light a radiant intensity of `P / 4π` W/sr: the kernel's intensity is `I / 683`
///   W/sr, and the light lights a surface at distance `d`, facing it, with irradiance `I / 683 / d²` W/m².
/// - A directional light of `E` lx is imported as a sun of strength `E / 683` W/m², its irradiance on a
///   surface facing it.
pub const LUMENS_PER_WATT: f32 = 683.0;

impl Walk<'_, '_> {
    /// Adds `light` at the node whose world transform is `world`: at its origin, pointing along its `-Z`.
    ///
    /// Errors: a colour or intensity that is negative or not finite; spot cone angles outside
    /// `0 <= innerConeAngle < outerConeAngle <= π/2` (`KHR_lights_punctual`, "spot"); more lights than
    /// `Limits::max_items`.
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
        if c.iter().chain([&k]).any(|v| !v.is_finite()) {
            return Err(SceneError::NonFinite {
                what: format!("light {}", light.index()),
            });
        }
        if c.iter().chain([&k]).any(|v| *v < 0.0) {
            return Err(SceneError::Malformed(format!(
                "light {}: colour {c:?} and intensity {k} must not be negative (KHR_lights_punctual)",
                light.index()
            )));
        }
        let k = k / LUMENS_PER_WATT;
        let color = [c[0] * k, c[1] * k, c[2] * k];
        let position = world.point([0.0; 3]);
        let direction = math::normalize_or(world.vector([0.0, 0.0, -1.0]), [0.0, 0.0, -1.0]);
        let (kind, cos_outer, spot_smooth) = match light.kind() {
            Kind::Point => (0, -2.0, 0.0),
            Kind::Spot {
                inner_cone_angle,
                outer_cone_angle,
            } => {
                let (inner, outer) = (inner_cone_angle, outer_cone_angle);
                if !(inner >= 0.0 && inner < outer && outer <= std::f32::consts::FRAC_PI_2) {
                    return Err(SceneError::Malformed(format!(
                        "light {}: spot cone angles inner {inner} and outer {outer} break \
                         0 <= innerConeAngle < outerConeAngle <= π/2 (KHR_lights_punctual)",
                        light.index()
                    )));
                }
                // Blender imports the cone as spot_size = 2 outer and spot_blend = 1 - inner / outer;
                // Cycles attenuates by smoothstep((cos θ - cos outer) / ((1 - cos outer) blend)).
                let cos_outer = math::sincos(outer).1;
                let blend = 1.0 - inner / outer;
                let width = (1.0 - cos_outer) * blend;
                (1, cos_outer, if width > 0.0 { 1.0 / width } else { 1e30 })
            }
            Kind::Directional => (2, -2.0, 0.0),
        };
        self.lights.push(Light {
            kind,
            position,
            direction,
            color,
            cos_outer,
            spot_smooth,
        });
        Ok(())
    }
}
