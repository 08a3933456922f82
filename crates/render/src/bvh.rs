//! Bounding volume hierarchy: a binned SAH builder that is a pure function of the triangles (same input,
//! same tree, same bits, on every machine and thread count), flattened depth-first for the kernel.

use crate::math::{self, V3};
use crate::scene::{NODE_FLOATS, Triangle};

const BINS: usize = 12;
const MAX_LEAF: usize = 8;
/// Deeper trees would overflow the kernel's traversal stack (TS_STACK = 64).
const MAX_DEPTH: usize = 60;

/// A flattened BVH: nodes in the kernel's layout and the triangle order of its leaves.
pub(crate) struct Bvh {
    pub nodes: Vec<f32>,
    pub order: Vec<u32>,
}

#[derive(Clone, Copy)]
struct Aabb {
    lo: V3,
    hi: V3,
}

impl Aabb {
    const EMPTY: Aabb = Aabb {
        lo: [f32::INFINITY; 3],
        hi: [f32::NEG_INFINITY; 3],
    };
    fn grow(&mut self, p: V3) {
        self.lo = math::min3(self.lo, p);
        self.hi = math::max3(self.hi, p);
    }
    fn merge(&mut self, o: &Aabb) {
        self.lo = math::min3(self.lo, o.lo);
        self.hi = math::max3(self.hi, o.hi);
    }
    fn area(&self) -> f32 {
        let d = math::sub(self.hi, self.lo);
        if d[0] < 0.0 {
            return 0.0;
        }
        2.0 * (d[0] * d[1] + d[1] * d[2] + d[2] * d[0])
    }
}

struct Prim {
    bounds: Aabb,
    centroid: V3,
    index: u32,
}

impl Bvh {
    pub(crate) fn build(tris: &[Triangle]) -> Bvh {
        let mut prims: Vec<Prim> = tris
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut b = Aabb::EMPTY;
                for p in &t.p {
                    b.grow(*p);
                }
                Prim {
                    bounds: b,
                    centroid: math::scale(math::add(b.lo, b.hi), 0.5),
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                }
            })
            .collect();
        let mut nodes = Vec::with_capacity(tris.len() / 2 * NODE_FLOATS + NODE_FLOATS);
        let n = prims.len();
        build_node(&mut prims, 0, n, 0, &mut nodes);
        Bvh {
            nodes,
            order: prims.iter().map(|p| p.index).collect(),
        }
    }
}

fn push_node(nodes: &mut Vec<f32>, b: &Aabb, a: u32, count: u32) -> usize {
    let at = nodes.len() / NODE_FLOATS;
    nodes.extend_from_slice(&b.lo);
    nodes.extend_from_slice(&b.hi);
    nodes.push(f32::from_bits(a));
    nodes.push(f32::from_bits(count));
    at
}

fn build_node(prims: &mut [Prim], start: usize, end: usize, depth: usize, nodes: &mut Vec<f32>) {
    let slice = &mut prims[start..end];
    let mut bounds = Aabb::EMPTY;
    let mut cb = Aabb::EMPTY;
    for p in slice.iter() {
        bounds.merge(&p.bounds);
        cb.grow(p.centroid);
    }
    let count = slice.len();
    let as_u32 = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
    if count <= 2 || depth >= MAX_DEPTH {
        push_node(nodes, &bounds, as_u32(start), as_u32(count));
        return;
    }
    // Best binned SAH split over the three axes.
    let mut best: Option<(f32, usize, f32)> = None; // (cost, axis, split position)
    for axis in 0..3 {
        let lo = cb.lo[axis];
        let extent = cb.hi[axis] - lo;
        if extent <= 0.0 || extent.is_nan() {
            continue;
        }
        let mut bins = [(Aabb::EMPTY, 0usize); BINS];
        let k = BINS as f32 / extent;
        let bin_of = |c: f32| -> usize {
            // (c - lo) * k lies in [0, BINS] (rounding can reach BINS), finite: the cast truncates a small
            // non-negative float, as intended.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let b = ((c - lo) * k) as usize;
            b.min(BINS - 1)
        };
        for p in slice.iter() {
            let b = bin_of(p.centroid[axis]);
            bins[b].0.merge(&p.bounds);
            bins[b].1 += 1;
        }
        // Sweep from the right to get suffix areas and counts.
        let mut right_area = [0.0f32; BINS];
        let mut right_count = [0usize; BINS];
        let mut acc = Aabb::EMPTY;
        let mut n = 0;
        for i in (1..BINS).rev() {
            acc.merge(&bins[i].0);
            n += bins[i].1;
            right_area[i] = acc.area();
            right_count[i] = n;
        }
        let mut left = Aabb::EMPTY;
        let mut nl = 0;
        for i in 0..BINS - 1 {
            left.merge(&bins[i].0);
            nl += bins[i].1;
            let nr = right_count[i + 1];
            if nl == 0 || nr == 0 {
                continue;
            }
            let cost = left.area() * nl as f32 + right_area[i + 1] * nr as f32;
            let split = lo + (i + 1) as f32 / k;
            if best.is_none_or(|(c, _, _)| cost < c) {
                best = Some((cost, axis, split));
            }
        }
    }
    let leaf_cost = bounds.area() * count as f32;
    let split = match best {
        Some((cost, axis, pos)) if cost < leaf_cost || count > MAX_LEAF => Some((axis, pos)),
        _ => None,
    };
    let mid = match split {
        Some((axis, pos)) => {
            // Stable partition keeps the result independent of anything but the input order.
            slice.sort_by(|a, b| {
                let la = a.centroid[axis] < pos;
                let lb = b.centroid[axis] < pos;
                lb.cmp(&la)
            });
            let m = slice.iter().take_while(|p| p.centroid[axis] < pos).count();
            if m == 0 || m == count { count / 2 } else { m }
        }
        None if count > MAX_LEAF => {
            // All centroids coincide: split in the middle of the (stable) order.
            count / 2
        }
        None => {
            push_node(nodes, &bounds, as_u32(start), as_u32(count));
            return;
        }
    };
    let at = push_node(nodes, &bounds, 0, 0);
    build_node(prims, start, start + mid, depth + 1, nodes);
    let right = nodes.len() / NODE_FLOATS;
    nodes[at * NODE_FLOATS + 6] = f32::from_bits(as_u32(right));
    build_node(prims, start + mid, end, depth + 1, nodes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tri(x: f32, y: f32, z: f32) -> Triangle {
        Triangle {
            p: [[x, y, z], [x + 1.0, y, z], [x, y + 1.0, z]],
            n: [[0.0, 0.0, 1.0]; 3],
            uv: [[0.0; 2]; 3],
            tangent: [1.0, 0.0, 0.0, 1.0],
            material: 0,
            extra: crate::scene::NONE,
        }
    }

    /// Every triangle is in exactly one leaf, and every node's box holds its subtree.
    fn check(b: &Bvh, tris: &[Triangle]) {
        let mut seen = vec![0u32; tris.len()];
        fn walk(b: &Bvh, tris: &[Triangle], node: usize, seen: &mut [u32], depth: usize) {
            assert!(depth <= MAX_DEPTH + 1);
            let n = &b.nodes[node * NODE_FLOATS..(node + 1) * NODE_FLOATS];
            let (a, count) = (n[6].to_bits() as usize, n[7].to_bits() as usize);
            if count > 0 {
                for i in a..a + count {
                    let t = &tris[b.order[i] as usize];
                    for p in &t.p {
                        for k in 0..3 {
                            assert!(p[k] >= n[k] && p[k] <= n[3 + k]);
                        }
                    }
                    seen[b.order[i] as usize] += 1;
                }
            } else {
                walk(b, tris, node + 1, seen, depth + 1);
                walk(b, tris, a, seen, depth + 1);
            }
        }
        walk(b, tris, 0, &mut seen, 0);
        assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn covers_every_triangle_once() {
        let tris: Vec<_> = (0..1000)
            .map(|i| tri((i % 17) as f32 * 1.3, (i / 17) as f32 * 0.7, (i % 5) as f32))
            .collect();
        let b = Bvh::build(&tris);
        check(&b, &tris);
        // Deterministic: building twice gives the same bits.
        let b2 = Bvh::build(&tris);
        assert_eq!(
            b.nodes.iter().map(|f| f.to_bits()).collect::<Vec<_>>(),
            b2.nodes.iter().map(|f| f.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(b.order, b2.order);
    }

    #[test]
    fn coincident_centroids_still_split() {
        let tris: Vec<_> = (0..100).map(|_| tri(0.0, 0.0, 0.0)).collect();
        let b = Bvh::build(&tris);
        check(&b, &tris);
    }
}
