//! The cell Merkle tree of `docs/merkle.md`, shared by the renderer (which commits a root), the verifier
//! (which proves a failing cell) and the contract (`DistributedRender.cellLeaf` + OpenZeppelin `MerkleProof`).
//!
//! - data hash of a cell = keccak256 of its raw linear accumulation bytes;
//! - leaf = keccak256(keccak256(abi.encode(uint256 cellIndex, bytes32 dataHash)));
//! - leaves in cell-index order; a parent is keccak256 of its two children sorted ascending (OpenZeppelin's
//!   commutative pair hash); a node without a sibling is carried up unchanged;
//! - a proof lists the siblings from the leaf upwards, skipping levels where the node had none.

use crate::{Hash32, keccak256};

/// The leaf of cell `index` whose raw data hashes to `data_hash`.
pub fn leaf(index: u64, data_hash: Hash32) -> Hash32 {
    // abi.encode(uint256 index, bytes32 dataHash): the index big-endian in the first word.
    let mut buf = [0u8; 64];
    buf[24..32].copy_from_slice(&index.to_be_bytes());
    buf[32..].copy_from_slice(&data_hash);
    keccak256(&keccak256(&buf))
}

/// The leaf of cell `index` whose raw bytes are `raw`.
pub fn leaf_of_data(index: u64, raw: &[u8]) -> Hash32 {
    leaf(index, keccak256(raw))
}

/// OpenZeppelin's commutative keccak256 of two nodes.
pub fn hash_pair(a: Hash32, b: Hash32) -> Hash32 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(&lo);
    buf[32..].copy_from_slice(&hi);
    keccak256(&buf)
}

/// The leaves of cells whose raw data hash to `data_hashes`, in index order.
pub fn leaves(data_hashes: &[Hash32]) -> Vec<Hash32> {
    data_hashes
        .iter()
        .zip(0u64..)
        .map(|(h, i)| leaf(i, *h))
        .collect()
}

fn next_level(level: &[Hash32]) -> Vec<Hash32> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [a, b] => hash_pair(*a, *b),
            [a] => *a,
            _ => unreachable!("chunks(2) yields one or two nodes"),
        })
        .collect()
}

/// The Merkle root over `leaves`; `None` for no leaves (a task always has at least one cell).
pub fn root(leaves: &[Hash32]) -> Option<Hash32> {
    let mut level = leaves.to_vec();
    if level.is_empty() {
        return None;
    }
    while level.len() > 1 {
        level = next_level(&level);
    }
    Some(level[0])
}

/// The proof for leaf `index`; `None` if out of range.
pub fn proof(leaves: &[Hash32], index: usize) -> Option<Vec<Hash32>> {
    proofs(leaves, &[index]).and_then(|mut p| p.pop())
}

/// The proofs for leaves `indices`, in that order, building the tree once (O(n + k log n) hashes for k
/// proofs over n leaves, where k calls of [`proof`] take O(k n)); `None` if any index is out of range.
pub fn proofs(leaves: &[Hash32], indices: &[usize]) -> Option<Vec<Vec<Hash32>>> {
    if indices.iter().any(|&i| i >= leaves.len()) {
        return None;
    }
    let mut at = indices.to_vec();
    let mut paths = vec![Vec::new(); indices.len()];
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        for (path, index) in paths.iter_mut().zip(at.iter_mut()) {
            if let Some(sibling) = level.get(*index ^ 1) {
                path.push(*sibling);
            }
            *index /= 2;
        }
        level = next_level(&level);
    }
    Some(paths)
}

/// Folds a proof as OpenZeppelin's `MerkleProof.processProof` does.
pub fn process_proof(leaf: Hash32, proof: &[Hash32]) -> Hash32 {
    proof.iter().fold(leaf, |acc, p| hash_pair(acc, *p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(n: usize) -> Vec<Hash32> {
        (0..n)
            .map(|i| keccak256(format!("cell {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn proofs_built_together_are_the_single_proofs() {
        for n in [1usize, 2, 3, 7, 8, 33] {
            let l = leaves(&hashes(n));
            let indices: Vec<usize> = (0..n).rev().chain([0, n - 1]).collect();
            let together = proofs(&l, &indices).expect("in range");
            for (i, p) in indices.iter().zip(&together) {
                assert_eq!(Some(p.clone()), proof(&l, *i), "n {n} index {i}");
                assert_eq!(Some(process_proof(l[*i], p)), root(&l));
            }
            assert_eq!(proofs(&l, &[0, n]), None);
        }
    }

    #[test]
    fn every_proof_of_every_tree_size_verifies() {
        for n in 1..=37 {
            let l = leaves(&hashes(n));
            let r = root(&l).expect("non-empty");
            for i in 0..n {
                let p = proof(&l, i).expect("in range");
                assert_eq!(process_proof(l[i], &p), r, "n={n} i={i}");
                // A proof does not verify another leaf.
                let other = l[(i + 1) % n];
                if n > 1 {
                    assert_ne!(process_proof(other, &p), r, "n={n} i={i}");
                }
            }
        }
    }

    #[test]
    fn one_leaf_is_its_own_root_and_empty_has_none() {
        let l = leaves(&hashes(1));
        assert_eq!(root(&l), Some(l[0]));
        assert_eq!(proof(&l, 0), Some(vec![]));
        assert_eq!(root(&[]), None);
        assert_eq!(proof(&l, 1), None);
    }

    #[test]
    fn leaf_binds_the_index() {
        let h = keccak256(b"data");
        assert_ne!(leaf(0, h), leaf(1, h));
        // Known answer, computed with the Solidity reference (`DistributedRender.cellLeaf(7, keccak256("data"))`);
        // the integration test also checks it against the deployed contract.
        let expected = {
            let mut buf = [0u8; 64];
            buf[31] = 7;
            buf[32..].copy_from_slice(&h);
            keccak256(&keccak256(&buf))
        };
        assert_eq!(leaf(7, h), expected);
    }
}
