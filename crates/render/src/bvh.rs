//! Bounding volume hierarchy: a binned SAH builder that is a pure function of the triangles (same input,
//! same tree, same bits, on every machine and thread count), its binary tree collapsed into a 4-wide one
//! (each node holds the boxes of up to four children side by side, so that the kernel tests them in one
//! pass), flattened depth-first for the kernel. The triangles of each leaf are stored side by side in
//! packs of four (structure of arrays), so that the kernel intersects a leaf's triangles in one pass too.

use crate::math::{self, V3};
use crate::scene::{NODE_FLOATS, NONE, PACK_FLOATS, Triangle};

const BINS: usize = 12;
/// Triangles in a pack (the kernel intersects them in one pass). A node of at most this many triangles
/// is a leaf: splitting it further was measured slower (a box test costs about what a pack costs; with a
/// surface area heuristic weighing the two, `complete.glb` rendered no faster). Only the depth cap makes
/// larger leaves, of several packs.
const PACK_LANES: usize = 4;
/// Offset of a pack's first triangle (`TS_PACK_FIRST`), after its nine arrays of lanes.
pub(crate) const PACK_FIRST: usize = 9 * PACK_LANES;
/// Depth of the binary tree. Each level of the 4-wide tree descends at least one binary level (two where
/// the widening expands both children), and the kernel's traversal pushes at most 3 more nodes per level
/// than it pops: 40 levels x 3 + 1 stays within TS_STACK = 128. Deeper input (splits that peel off one
/// triangle at a time, as at exponentially growing distances) ends in larger leaves, of several packs.
const MAX_DEPTH: usize = 40;
/// Floats of a binary node during the build: box lo, box hi, right child or first triangle, count.
const NODE2_FLOATS: usize = 8;
/// Children of a wide node.
const WIDTH: usize = 4;

/// A flattened BVH: nodes in the kernel's layout, the triangle order of its leaves and the leaves'
/// triangle packs.
pub(crate) struct Bvh {
    pub nodes: Vec<f32>,
    pub order: Vec<u32>,
    pub packs: Vec<f32>,
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

#[derive(Clone, Copy)]
struct Prim {
    bounds: Aabb,
    centroid: V3,
    index: u32,
}

impl Bvh {
    pub(crate) fn build(tris: &[Triangle]) -> Bvh {
        Self::build_capped(tris, MAX_DEPTH)
    }

    /// `build` with the binary tree's depth capped at `cap` levels (`MAX_DEPTH` in `build`): below it, a
    /// node of any size is a leaf. Tests use a low cap for leaves of several packs, which `MAX_DEPTH`
    /// leaves to pathological input.
    pub(crate) fn build_capped(tris: &[Triangle], cap: usize) -> Bvh {
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
        let mut binary = Vec::with_capacity(tris.len() / 2 * NODE2_FLOATS + NODE2_FLOATS);
        build_node(&mut prims, 0, cap, &mut binary);
        let mut nodes = Vec::with_capacity(binary.len() / 2 + NODE_FLOATS);
        widen(&binary, 0, &mut nodes);
        let order: Vec<u32> = prims.iter().map(|p| p.index).collect();
        let packs = pack_leaves(&mut nodes, &order, tris);
        Bvh {
            nodes,
            order,
            packs,
        }
    }
}

/// Moves each leaf's triangles into packs of four and points the leaf at its first pack; returns the packs.
///
/// Layout (`TS_PACK_FLOATS` = 40, `pathtrace.h`): v0 x, v0 y, v0 z, e1 x, e1 y, e1 z, e2 x, e2 y, e2 z of
/// the four lanes (4 floats each; e1 = v1 - v0 and e2 = v2 - v0, computed as the scene's intersection
/// records are), then the first lane's triangle index in leaf order (bits), then padding. A leaf of n
/// triangles from leaf-order index f takes ceil(n / 4) consecutive packs, pack j holding triangles
/// f + 4j.. in its lanes; unused lanes are zero (a degenerate triangle: no ray hits it). The leaf's
/// reference in its node becomes the index of its first pack; its count stays the triangle count.
fn pack_leaves(nodes: &mut [f32], order: &[u32], tris: &[Triangle]) -> Vec<f32> {
    let mut packs = Vec::with_capacity(tris.len() / 2 * PACK_FLOATS);
    for node in nodes.chunks_exact_mut(NODE_FLOATS) {
        for k in 0..WIDTH {
            let (reference, count) = (node[6 * WIDTH + k].to_bits(), node[7 * WIDTH + k].to_bits());
            if reference == NONE || count == 0 {
                continue;
            }
            let first = reference as usize;
            let at = packs.len() / PACK_FLOATS;
            for start in (first..first + count as usize).step_by(PACK_LANES) {
                let base = packs.len();
                packs.resize(base + PACK_FLOATS, 0.0);
                let pack = &mut packs[base..];
                for lane in 0..PACK_LANES.min(first + count as usize - start) {
                    let t = &tris[order[start + lane] as usize];
                    let (e1, e2) = math::edges(&t.p);
                    for (i, v) in [t.p[0], e1, e2].iter().flatten().enumerate() {
                        pack[i * PACK_LANES + lane] = *v;
                    }
                }
                pack[PACK_FIRST] = f32::from_bits(u32::try_from(start).unwrap_or(NONE));
            }
            node[6 * WIDTH + k] = f32::from_bits(u32::try_from(at).unwrap_or(NONE));
        }
    }
    packs
}

/// Writes the binary subtree at `node` as a wide node and its wide subtrees, depth-first; returns the
/// wide node's index. Its children are the binary node's, with the inner child of largest surface area
/// replaced by its own two children while there are fewer than four (in a fixed order: a pure function of
/// the binary tree). A binary leaf at the root becomes a wide node with that one leaf.
///
/// Layout (`TS_NODE_FLOATS` = 32, `pathtrace.h`): lo x, lo y, lo z, hi x, hi y, hi z of the four children
/// (4 floats each), then their references (bits: a wide node's index, or a leaf's first triangle, which
/// `pack_leaves` replaces by its first pack; `NONE` for an empty slot) and their triangle counts (bits: 0
/// for a wide node). An empty slot's box is +inf in every bound, which no ray enters.
fn widen(binary: &[f32], node: usize, out: &mut Vec<f32>) -> usize {
    let rec = |i: usize| &binary[i * NODE2_FLOATS..(i + 1) * NODE2_FLOATS];
    let count = |i: usize| rec(i)[7].to_bits();
    let area = |i: usize| {
        let r = rec(i);
        Aabb {
            lo: [r[0], r[1], r[2]],
            hi: [r[3], r[4], r[5]],
        }
        .area()
    };
    let mut children: Vec<usize> = if count(node) > 0 {
        vec![node]
    } else {
        vec![node + 1, rec(node)[6].to_bits() as usize]
    };
    while children.len() < WIDTH {
        // The inner child with the largest area (the first of equals).
        let mut best: Option<(usize, f32)> = None;
        for (k, &c) in children.iter().enumerate() {
            if count(c) == 0 && best.is_none_or(|(_, a)| area(c) > a) {
                best = Some((k, area(c)));
            }
        }
        let Some((k, _)) = best else { break };
        let c = children[k];
        children.splice(k..=k, [c + 1, rec(c)[6].to_bits() as usize]);
    }
    let at = out.len() / NODE_FLOATS;
    out.resize(out.len() + NODE_FLOATS, f32::INFINITY);
    for (k, &c) in children.iter().enumerate() {
        let r = rec(c);
        for axis in 0..6 {
            out[at * NODE_FLOATS + axis * WIDTH + k] = r[axis];
        }
    }
    for k in 0..WIDTH {
        let (reference, n) = match children.get(k) {
            None => (NONE, 0),
            Some(&c) if count(c) > 0 => (rec(c)[6].to_bits(), count(c)),
            Some(&c) => (u32::try_from(widen(binary, c, out)).unwrap_or(NONE), 0),
        };
        out[at * NODE_FLOATS + 6 * WIDTH + k] = f32::from_bits(reference);
        out[at * NODE_FLOATS + 7 * WIDTH + k] = f32::from_bits(n);
    }
    at
}

/// Moves the primitives for which `left` holds before the others, each side keeping its order (what a
/// stable sort by the predicate does, in linear time); returns how many hold.
fn stable_partition(slice: &mut [Prim], left: impl Fn(&Prim) -> bool) -> usize {
    let mut right = Vec::with_capacity(slice.len());
    let mut m = 0;
    for i in 0..slice.len() {
        let p = slice[i];
        if left(&p) {
            slice[m] = p;
            m += 1;
        } else {
            right.push(p);
        }
    }
    slice[m..].copy_from_slice(&right);
    m
}

fn push_node(nodes: &mut Vec<f32>, b: &Aabb, a: u32, count: u32) -> usize {
    let at = nodes.len() / NODE2_FLOATS;
    nodes.extend_from_slice(&b.lo);
    nodes.extend_from_slice(&b.hi);
    nodes.push(f32::from_bits(a));
    nodes.push(f32::from_bits(count));
    at
}

/// Subtrees of at least this many triangles build their two halves on two threads.
const PARALLEL_MIN: usize = 4096;

/// Builds the binary subtree of `slice` (the triangles from `start` on), at most `levels` deep below this
/// node, onto `nodes`, whose indices count from the vector's start. Large subtrees build their right half
/// into a vector of their own on another thread and append it, moving its inner nodes' references by its
/// place: the result is the same vector as a build on one thread.
fn build_node(slice: &mut [Prim], start: usize, levels: usize, nodes: &mut Vec<f32>) {
    let mut bounds = Aabb::EMPTY;
    let mut cb = Aabb::EMPTY;
    for p in slice.iter() {
        bounds.merge(&p.bounds);
        cb.grow(p.centroid);
    }
    let count = slice.len();
    let as_u32 = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
    if count <= PACK_LANES || levels == 0 {
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
    let mid = match best {
        Some((_, axis, pos)) => {
            // Stable partition keeps the result independent of anything but the input order.
            let m = stable_partition(slice, |p| p.centroid[axis] < pos);
            if m == 0 || m == count { count / 2 } else { m }
        }
        // All centroids coincide: split in the middle of the (stable) order.
        None => count / 2,
    };
    let at = push_node(nodes, &bounds, 0, 0);
    let (left, right) = slice.split_at_mut(mid);
    if count < PARALLEL_MIN {
        build_node(left, start, levels - 1, nodes);
        let right_at = nodes.len() / NODE2_FLOATS;
        nodes[at * NODE2_FLOATS + 6] = f32::from_bits(as_u32(right_at));
        build_node(right, start + mid, levels - 1, nodes);
        return;
    }
    let mut right_nodes = Vec::with_capacity(right.len() / 2 * NODE2_FLOATS + NODE2_FLOATS);
    rayon::join(
        || build_node(left, start, levels - 1, nodes),
        || build_node(right, start + mid, levels - 1, &mut right_nodes),
    );
    let right_at = nodes.len() / NODE2_FLOATS;
    for rec in right_nodes.chunks_exact_mut(NODE2_FLOATS) {
        if rec[7].to_bits() == 0 {
            rec[6] = f32::from_bits(as_u32(rec[6].to_bits() as usize + right_at));
        }
    }
    nodes[at * NODE2_FLOATS + 6] = f32::from_bits(as_u32(right_at));
    nodes.extend_from_slice(&right_nodes);
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

    /// The triangles (input indices) of the leaf of `count` triangles whose packs start at `pack`, checking
    /// that its packs hold consecutive triangles of the leaf order, each lane the triangle's v0, e1 and e2,
    /// and the unused lanes zero.
    fn leaf(b: &Bvh, tris: &[Triangle], pack: usize, count: usize) -> Vec<usize> {
        let first = b.packs[pack * PACK_FLOATS + PACK_FIRST].to_bits() as usize;
        let mut out = Vec::new();
        for j in 0..count.div_ceil(PACK_LANES) {
            let p = &b.packs[(pack + j) * PACK_FLOATS..(pack + j + 1) * PACK_FLOATS];
            assert_eq!(p[PACK_FIRST].to_bits() as usize, first + j * PACK_LANES);
            for lane in 0..PACK_LANES {
                let got: Vec<u32> = (0..9).map(|i| p[i * PACK_LANES + lane].to_bits()).collect();
                let slot = first + j * PACK_LANES + lane;
                if slot >= first + count {
                    assert!(got.iter().all(|&x| x == 0), "unused lane not zero");
                    continue;
                }
                let t = &tris[b.order[slot] as usize];
                let (e1, e2) = math::edges(&t.p);
                let want: Vec<u32> = [t.p[0], e1, e2]
                    .iter()
                    .flatten()
                    .map(|x| x.to_bits())
                    .collect();
                assert_eq!(got, want, "lane {lane} of pack {}", pack + j);
                out.push(b.order[slot] as usize);
            }
        }
        out
    }

    /// Every triangle is in exactly one leaf, in its leaf's packs, and every node's box holds its subtree.
    fn check(b: &Bvh, tris: &[Triangle]) {
        let mut seen = vec![0u32; tris.len()];
        /// The triangles under wide node `node`, checking each child's box holds them.
        fn walk(
            b: &Bvh,
            tris: &[Triangle],
            node: usize,
            seen: &mut [u32],
            depth: usize,
        ) -> Vec<V3> {
            assert!(depth <= MAX_DEPTH + 1);
            let n = &b.nodes[node * NODE_FLOATS..(node + 1) * NODE_FLOATS];
            let mut all = Vec::new();
            for k in 0..WIDTH {
                let (a, count) = (n[24 + k].to_bits(), n[28 + k].to_bits() as usize);
                if a == NONE {
                    assert!((0..24).step_by(4).all(|i| n[i + k] == f32::INFINITY));
                    continue;
                }
                let points: Vec<V3> = if count > 0 {
                    leaf(b, tris, a as usize, count)
                        .into_iter()
                        .flat_map(|i| {
                            seen[i] += 1;
                            tris[i].p
                        })
                        .collect()
                } else {
                    walk(b, tris, a as usize, seen, depth + 1)
                };
                for p in &points {
                    for axis in 0..3 {
                        assert!(p[axis] >= n[axis * 4 + k] && p[axis] <= n[(3 + axis) * 4 + k]);
                    }
                }
                all.extend(points);
            }
            all
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
        assert_eq!(
            b.packs.iter().map(|f| f.to_bits()).collect::<Vec<_>>(),
            b2.packs.iter().map(|f| f.to_bits()).collect::<Vec<_>>()
        );
    }

    /// Triangles at exponentially growing distances make a deep tree (more than ten wide levels), which
    /// stays within the depth cap and so within the kernel's stack bound.
    #[test]
    fn deep_input_stays_within_the_stack_bound() {
        let tris: Vec<_> = (0..120).map(|i| tri(1.4f32.powi(i), 0.0, 0.0)).collect();
        let b = Bvh::build(&tris);
        check(&b, &tris);
        fn depth(b: &Bvh, node: usize) -> usize {
            let n = &b.nodes[node * NODE_FLOATS..(node + 1) * NODE_FLOATS];
            (0..WIDTH)
                .filter(|&k| n[24 + k].to_bits() != NONE && n[28 + k].to_bits() == 0)
                .map(|k| 1 + depth(b, n[24 + k].to_bits() as usize))
                .max()
                .unwrap_or(1)
        }
        let d = depth(&b, 0);
        assert!(d > 10 && d <= MAX_DEPTH, "wide depth {d}");
        assert!(
            3 * d < 128,
            "the kernel's TS_STACK holds 3 d + 1 deferred nodes"
        );
    }

    /// Above `PARALLEL_MIN` triangles the halves build on two threads and are joined: the tree still holds
    /// every triangle once, and is the same bits on a one-thread pool as on a two-thread one.
    #[test]
    fn parallel_builds_join_into_the_same_tree() {
        let tris: Vec<_> = (0..3 * PARALLEL_MIN)
            .map(|i| {
                tri(
                    (i % 97) as f32 * 0.9,
                    (i / 97) as f32 * 0.6,
                    (i % 13) as f32,
                )
            })
            .collect();
        let b = Bvh::build(&tris);
        check(&b, &tris);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool")
            .install(|| Bvh::build(&tris));
        assert_eq!(
            b.nodes.iter().map(|f| f.to_bits()).collect::<Vec<_>>(),
            one.nodes.iter().map(|f| f.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(b.order, one.order);
        assert_eq!(
            b.packs.iter().map(|f| f.to_bits()).collect::<Vec<_>>(),
            one.packs.iter().map(|f| f.to_bits()).collect::<Vec<_>>()
        );
    }

    /// Leaves fit one pack (below the depth cap): a node of up to four triangles is a leaf, so a
    /// spread-out mesh's leaves hold one to four.
    #[test]
    fn leaves_fit_a_pack() {
        let tris: Vec<_> = (0..2000)
            .map(|i| {
                tri(
                    (i % 23) as f32 * 0.35,
                    (i / 23) as f32 * 0.35,
                    (i % 3) as f32 * 0.2,
                )
            })
            .collect();
        let b = Bvh::build(&tris);
        check(&b, &tris);
        let counts: Vec<u32> = b
            .nodes
            .chunks_exact(NODE_FLOATS)
            .flat_map(|n| (0..WIDTH).map(move |k| n[7 * WIDTH + k].to_bits()))
            .filter(|&c| c > 0)
            .collect();
        assert!(counts.iter().all(|&c| c as usize <= PACK_LANES));
        assert!(counts.iter().any(|&c| c > 1));
        assert_eq!(counts.iter().sum::<u32>() as usize, tris.len());
    }

    #[test]
    fn tiny_scenes_have_a_wide_root() {
        for n in 1..6 {
            let tris: Vec<_> = (0..n).map(|i| tri(i as f32, 0.0, 0.0)).collect();
            check(&Bvh::build(&tris), &tris);
        }
    }

    /// A capped tree ends in leaves of several packs, each holding its triangles in order.
    #[test]
    fn capped_trees_have_leaves_of_several_packs() {
        let tris: Vec<_> = (0..500)
            .map(|i| tri((i % 23) as f32 * 0.35, (i / 23) as f32 * 0.35, 0.0))
            .collect();
        let b = Bvh::build_capped(&tris, 3);
        check(&b, &tris);
        let most = b
            .nodes
            .chunks_exact(NODE_FLOATS)
            .flat_map(|n| (0..WIDTH).map(move |k| n[7 * WIDTH + k].to_bits()))
            .max();
        assert!(
            most.is_some_and(|m| m as usize > 8),
            "largest leaf {most:?}"
        );
    }

    /// Triangles no plane separates are halved in their order down to leaves that fit a pack.
    #[test]
    fn coincident_centroids_still_split() {
        let tris: Vec<_> = (0..100).map(|_| tri(0.0, 0.0, 0.0)).collect();
        let b = Bvh::build(&tris);
        check(&b, &tris);
        assert!(
            b.nodes
                .chunks_exact(NODE_FLOATS)
                .all(|n| { (0..WIDTH).all(|k| n[7 * WIDTH + k].to_bits() as usize <= PACK_LANES) })
        );
    }
}
