//! Animations (glTF 2.0 §3.11): channels sampled at the frame's time into local TRS and morph-weight
//! overrides.

use super::GetBuffer;
use crate::math::{self, V3};
use crate::scene::SceneError;
use gltf::animation::{Interpolation, Property};
use std::collections::HashMap;

/// Index ranges of animation channels and samplers, and the types of their accessors: what the `gltf`
/// readers assume but its validation does not check.
pub(super) fn check_channels(doc: &gltf::Document) -> Result<(), SceneError> {
    use gltf::accessor::{DataType, Dimensions};
    let root = doc.as_json();
    let bad = |m: String| Err(SceneError::Malformed(m));
    for (ai, a) in root.animations.iter().enumerate() {
        for (ci, ch) in a.channels.iter().enumerate() {
            if ch.sampler.value() >= a.samplers.len() {
                return bad(format!(
                    "animation {ai} channel {ci} names a missing sampler"
                ));
            }
            if ch.target.node.value() >= root.nodes.len() {
                return bad(format!(
                    "animation {ai} channel {ci} targets a missing node"
                ));
            }
        }
        for (si, sm) in a.samplers.iter().enumerate() {
            if sm.input.value() >= root.accessors.len() || sm.output.value() >= root.accessors.len()
            {
                return bad(format!(
                    "animation {ai} sampler {si} names a missing accessor"
                ));
            }
        }
    }
    for anim in doc.animations() {
        for ch in anim.channels() {
            let s = ch.sampler();
            let (i, o) = (s.input(), s.output());
            if i.data_type() != DataType::F32 || i.dimensions() != Dimensions::Scalar {
                return bad(format!(
                    "animation {} has non-float keyframe times",
                    anim.index()
                ));
            }
            let ok = match ch.target().property() {
                gltf::animation::Property::Translation | gltf::animation::Property::Scale => {
                    o.data_type() == DataType::F32 && o.dimensions() == Dimensions::Vec3
                }
                gltf::animation::Property::Rotation => {
                    o.dimensions() == Dimensions::Vec4 && o.data_type() != DataType::U32
                }
                // §3.11: float, or signed / unsigned byte or short normalized, scalars.
                gltf::animation::Property::MorphTargetWeights => {
                    o.dimensions() == Dimensions::Scalar
                        && (o.data_type() == DataType::F32
                            || o.normalized() && o.data_type() != DataType::U32)
                }
            };
            if !ok {
                return bad(format!(
                    "animation {} has outputs of the wrong type",
                    anim.index()
                ));
            }
        }
    }
    Ok(())
}

/// A node's animated values at the frame's time; `None` keeps the file's.
#[derive(Debug, Clone, Default)]
pub(super) struct Trs {
    pub t: Option<V3>,
    pub r: Option<[f32; 4]>,
    pub s: Option<V3>,
    /// Morph target weights.
    pub w: Option<Vec<f32>>,
}

pub(super) fn sample_channel<'a>(
    ch: &gltf::animation::Channel<'_>,
    time: f32,
    get: &GetBuffer<'a>,
    animated: &mut HashMap<usize, Trs>,
    _doc: &gltf::Document,
) -> Result<(), SceneError> {
    use gltf::animation::util::ReadOutputs;
    let reader = ch.reader(get);
    let node = ch.target().node().index();
    let what = || format!("animation channel targeting node {node}");
    let inputs: Vec<f32> = reader
        .read_inputs()
        .ok_or_else(|| SceneError::Malformed(format!("{}: missing input times", what())))?
        .collect();
    if inputs.iter().any(|t| !t.is_finite()) {
        return Err(SceneError::NonFinite { what: what() });
    }
    if inputs.is_empty() {
        return Ok(());
    }
    let interp = ch.sampler().interpolation();
    let outputs: Vec<Vec<f32>> = match reader.read_outputs() {
        Some(ReadOutputs::Translations(it)) => it.map(|v| v.to_vec()).collect(),
        Some(ReadOutputs::Scales(it)) => it.map(|v| v.to_vec()).collect(),
        Some(ReadOutputs::Rotations(it)) => it.into_f32().map(|v| v.to_vec()).collect(),
        Some(ReadOutputs::MorphTargetWeights(it)) => {
            // One scalar a target for each key (three values a key for cubic splines, §3.11): the targets
            // a key holds follow from the counts.
            let flat: Vec<f32> = it.into_f32().collect();
            let keys = inputs.len()
                * if interp == Interpolation::CubicSpline {
                    3
                } else {
                    1
                };
            if flat.is_empty() || !flat.len().is_multiple_of(keys) {
                return Err(SceneError::Malformed(format!(
                    "{}: {} weights are not a whole number of targets for {} keyframes",
                    what(),
                    flat.len(),
                    inputs.len()
                )));
            }
            flat.chunks(flat.len() / keys)
                .map(<[f32]>::to_vec)
                .collect()
        }
        None => {
            return Err(SceneError::Malformed(format!(
                "{}: missing outputs",
                what()
            )));
        }
    };
    if outputs.iter().flatten().any(|v| !v.is_finite()) {
        return Err(SceneError::NonFinite { what: what() });
    }
    let per_key = if interp == Interpolation::CubicSpline {
        3
    } else {
        1
    };
    if outputs.len() < inputs.len() * per_key {
        return Err(SceneError::Malformed(format!(
            "{}: {} outputs for {} keyframes",
            what(),
            outputs.len(),
            inputs.len()
        )));
    }
    let value = |k: usize| -> &Vec<f32> {
        if per_key == 3 {
            &outputs[k * 3 + 1]
        } else {
            &outputs[k]
        }
    };
    // Keyframe interval containing `time` (clamped at the ends).
    let n = inputs.len();
    let v: Vec<f32> = if time <= inputs[0] {
        value(0).clone()
    } else if time >= inputs[n - 1] {
        value(n - 1).clone()
    } else {
        let k = inputs.partition_point(|&t| t <= time) - 1;
        let (t0, t1) = (inputs[k], inputs[k + 1]);
        let dt = t1 - t0;
        let u = if dt > 0.0 { (time - t0) / dt } else { 0.0 };
        match interp {
            Interpolation::Step => value(k).clone(),
            Interpolation::Linear => {
                let (a, b) = (value(k), value(k + 1));
                if ch.target().property() == Property::Rotation {
                    math::slerp([a[0], a[1], a[2], a[3]], [b[0], b[1], b[2], b[3]], u).to_vec()
                } else {
                    a.iter()
                        .zip(b)
                        .map(|(x, y)| math::lerp(*x, *y, u))
                        .collect()
                }
            }
            Interpolation::CubicSpline => {
                // Hermite: p0 = v_k, m0 = dt * out-tangent_k, p1 = v_{k+1}, m1 = dt * in-tangent_{k+1}.
                let (p0, m0) = (&outputs[k * 3 + 1], &outputs[k * 3 + 2]);
                let (p1, m1) = (&outputs[(k + 1) * 3 + 1], &outputs[(k + 1) * 3]);
                let (u2, u3) = (u * u, u * u * u);
                let h00 = 2.0 * u3 - 3.0 * u2 + 1.0;
                let h10 = u3 - 2.0 * u2 + u;
                let h01 = -2.0 * u3 + 3.0 * u2;
                let h11 = u3 - u2;
                let r: Vec<f32> = (0..p0.len())
                    .map(|i| h00 * p0[i] + h10 * dt * m0[i] + h01 * p1[i] + h11 * dt * m1[i])
                    .collect();
                if ch.target().property() == Property::Rotation {
                    math::normalize_quat([r[0], r[1], r[2], r[3]]).to_vec()
                } else {
                    r
                }
            }
        }
    };
    let entry = animated.entry(node).or_default();
    match ch.target().property() {
        Property::Translation if v.len() >= 3 => entry.t = Some([v[0], v[1], v[2]]),
        Property::Scale if v.len() >= 3 => entry.s = Some([v[0], v[1], v[2]]),
        Property::Rotation if v.len() >= 4 => entry.r = Some([v[0], v[1], v[2], v[3]]),
        Property::MorphTargetWeights => entry.w = Some(v),
        _ => {}
    }
    Ok(())
}
