//! Verifier sampling: which cells to re-render, and how likely that is to catch a forgery
//! (docs/verification.md).

use crate::{Hash32, keccak256};

/// Probability that checking `k` distinct cells chosen uniformly among `n` finds at least one of the
/// `forged` ones: `1 − C(n − forged, k) / C(n, k)`.
pub fn detection_probability(n: u64, forged: u64, k: u64) -> f64 {
    if forged == 0 || n == 0 {
        return 0.0;
    }
    if k >= n || forged > n - k {
        return 1.0;
    }
    // Product form: P(miss) = Π_{i<k} (n − forged − i) / (n − i).
    let mut miss = 1.0f64;
    for i in 0..k {
        miss *= (n - forged - i) as f64 / (n - i) as f64;
    }
    1.0 - miss
}

/// The smallest k for which checking k of `n` cells catches a forged fraction `f` with probability at least
/// `p` (`n` when even all cells would not do, i.e. when nothing is forged).
pub fn cells_needed(n: u64, f: f64, p: f64) -> u64 {
    let f = if f.is_finite() {
        f.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // f in [0, 1], so n·f rounded up is in 0..=n: the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let forged = ((n as f64) * f).ceil() as u64;
    (1..=n)
        .find(|&k| detection_probability(n, forged, k) >= p)
        .unwrap_or(n)
}

/// `k` distinct cell indices in `0..n`, derived from `seed` (e.g. keccak of a block hash after the
/// submission and the verifier's own secret, which the worker cannot know when it commits). Deterministic:
/// the same seed picks the same cells, so a pick can be audited.
pub fn select_cells(seed: &Hash32, n: u32, k: u32) -> Vec<u32> {
    let k = k.min(n);
    // A partial Fisher–Yates shuffle over a virtual array, driven by a keccak counter stream.
    let mut swapped: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(k as usize);
    let mut counter = 0u64;
    for i in 0..k {
        let span = u64::from(n - i);
        // Rejection sampling keeps the choice uniform.
        let limit = u64::MAX - (u64::MAX % span);
        let r = loop {
            let mut buf = [0u8; 40];
            buf[..32].copy_from_slice(seed);
            buf[32..].copy_from_slice(&counter.to_be_bytes());
            counter += 1;
            let h = keccak256(&buf);
            let x = u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
            if x < limit {
                break x % span;
            }
        };
        let j = i + u32::try_from(r).unwrap_or(0);
        let vj = *swapped.get(&j).unwrap_or(&j);
        let vi = *swapped.get(&i).unwrap_or(&i);
        swapped.insert(j, vi);
        out.push(vj);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_operating_point_holds() {
        // 16 px cells on a 1080p task: 8,160 cells; 66 checks catch a 10% forgery with >= 99.9%.
        let p = detection_probability(8160, 816, 66);
        assert!(p >= 0.999, "{p}");
        assert_eq!(cells_needed(8160, 0.10, 0.999), 66);
        assert!(detection_probability(8160, 816, 65) < 0.99915);
        assert_eq!(detection_probability(100, 0, 10), 0.0);
        assert_eq!(detection_probability(100, 95, 10), 1.0);
    }

    #[test]
    fn selection_is_distinct_deterministic_and_seed_dependent() {
        let seed = keccak256(b"block hash and verifier secret");
        let a = select_cells(&seed, 8160, 66);
        assert_eq!(a.len(), 66);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 66, "distinct");
        assert!(a.iter().all(|&c| c < 8160));
        assert_eq!(select_cells(&seed, 8160, 66), a, "deterministic");
        assert_ne!(select_cells(&keccak256(b"other"), 8160, 66), a);
        let all = select_cells(&seed, 10, 50);
        let mut s = all.clone();
        s.sort_unstable();
        assert_eq!(
            s,
            (0..10).collect::<Vec<_>>(),
            "k >= n picks every cell once"
        );
    }

    #[test]
    fn selection_is_roughly_uniform() {
        let mut hits = vec![0u32; 20];
        for s in 0..2000u32 {
            for c in select_cells(&keccak256(&s.to_be_bytes()), 20, 3) {
                hits[c as usize] += 1;
            }
        }
        // Expected 300 per cell.
        assert!(hits.iter().all(|&h| (240..=360).contains(&h)), "{hits:?}");
    }
}
