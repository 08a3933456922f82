//! The drawn-committee protocol's off-chain rules, in one place for the worker, the verifier, the CLI and the
//! tests (docs/verification.md): which cells a draw's members re-render, the render proof they reveal, the
//! vote commitment the contract checks at reveal, and the salt a member derives instead of storing it.
//!
//! The contract draws a committee with a `seed` (emitted in `CommitteeDrawn`); everything here is a function of
//! that seed, the submission and the member's key, so every honest member computes the same sample and the same
//! proof, and a restarted daemon recomputes what it committed to.

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::sol_types::SolValue;
use tessera_common::verify::select_cells;

/// Cells a member re-renders per draw (all of them for a task with fewer): the contract's
/// `MAX_CHALLENGE_CELLS`, so that one data-availability challenge can ask for every sampled cell. Checking 64 of
/// a task's cells catches a forgery of 10% of them with probability ≥ 1 − 0.9^64 ≈ 99.88%.
pub const SAMPLE_CELLS: u32 = 64;

/// Blocks between a draw's anchor and the block whose hash seeds it (the contract's `DRAW_DELAY`).
pub const DRAW_DELAY: u64 = 1;

/// The render proof of a member that could not load the job's scene: no worker can have rendered it, so
/// every honest member rejects with this same proof.
pub fn unloadable_scene_proof() -> B256 {
    keccak256(b"tessera/render-proof/unloadable-scene")
}

/// The cells the members of the draw with `seed` re-render, in order: `min(SAMPLE_CELLS, cells)` distinct
/// indices in `0..cells`, chosen by `keccak256(seed ‖ "tessera/sample")`.
pub fn sample(seed: B256, cells: u32) -> Vec<u32> {
    let s = keccak256([seed.as_slice(), b"tessera/sample"].concat());
    select_cells(&s.0, cells, SAMPLE_CELLS)
}

/// The sign mask of the draw with `seed`: sample `k` of every pixel enters the audit sum with sign `+` when
/// bit `k mod 64` is 0, `−` when it is 1 (the first 8 bytes of `keccak256(seed ‖ "tessera/audit")`,
/// big-endian). Nobody can compute the audit sums of a draw before its seed exists, and nobody but a renderer
/// of every sample can compute them after.
pub fn audit_mask(seed: B256) -> u64 {
    let h = keccak256([seed.as_slice(), b"tessera/audit"].concat());
    u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
}

/// The render proof a member reveals: `keccak256` of the concatenated `keccak256` of each sampled cell's
/// audit buffer (its pixels' signed sample sums as little-endian f32, row-major, RGB), in sample order.
pub fn render_proof(audit_hashes: &[[u8; 32]]) -> B256 {
    keccak256(audit_hashes.concat())
}

/// The salt a member commits with: derived from a secret only its key yields and the vote's coordinates, so
/// it is unpredictable to others and recomputable after a restart.
pub fn salt(secret: B256, job: u64, task: u64, attempt: u64, draw: u64) -> B256 {
    keccak256(
        (
            secret,
            U256::from(job),
            U256::from(task),
            U256::from(attempt),
            U256::from(draw),
        )
            .abi_encode(),
    )
}

/// What `commitVote` takes: `keccak256(abi.encode(jobId, taskIndex, attempt, draw, voter, approve,
/// renderProof, salt))` (the contract keeps its top 24 bytes and checks it against the reveal).
#[allow(clippy::too_many_arguments)]
pub fn commitment(
    job: u64,
    task: u64,
    attempt: u64,
    draw: u64,
    voter: Address,
    approve: bool,
    proof: B256,
    salt: B256,
) -> B256 {
    keccak256(
        (
            U256::from(job),
            U256::from(task),
            U256::from(attempt),
            U256::from(draw),
            voter,
            approve,
            proof,
            salt,
        )
            .abi_encode(),
    )
}

/// Seats of appeal `level` for a first committee of `quorum` seats (the contract's rule).
pub fn seats_at(quorum: u64, level: u64) -> u64 {
    ((quorum + 1) << level) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_distinct_bounded_and_a_function_of_the_seed() {
        let a = sample(B256::repeat_byte(1), 8160);
        assert_eq!(a.len(), 64);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 64);
        assert!(a.iter().all(|&c| c < 8160));
        assert_eq!(a, sample(B256::repeat_byte(1), 8160));
        assert_ne!(a, sample(B256::repeat_byte(2), 8160));
        // A task with fewer cells than the sample checks all of them.
        let mut small = sample(B256::repeat_byte(1), 20);
        small.sort_unstable();
        assert_eq!(small, (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn commitments_and_salts_bind_every_coordinate() {
        let v = Address::repeat_byte(7);
        let p = B256::repeat_byte(9);
        let s = salt(B256::repeat_byte(3), 1, 2, 0, 0);
        let c = commitment(1, 2, 0, 0, v, true, p, s);
        assert_ne!(c, commitment(1, 2, 0, 0, v, false, p, s));
        assert_ne!(c, commitment(1, 2, 0, 1, v, true, p, s));
        assert_ne!(
            c,
            commitment(1, 2, 0, 0, Address::repeat_byte(8), true, p, s)
        );
        assert_ne!(s, salt(B256::repeat_byte(3), 1, 2, 0, 1));
        assert_eq!(seats_at(3, 0), 3);
        assert_eq!(seats_at(3, 3), 31);
    }
}
