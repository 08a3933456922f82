//! The cell Merkle tree (docs/merkle.md), re-exported from `tessera-common` with `B256` conversions for
//! callers that hold alloy types.

use alloy::primitives::B256;
pub use tessera_common::cells::*;

/// The Merkle root over the leaves of cells with raw-data hashes `data_hashes`, as alloy `B256`.
pub fn root_of(data_hashes: &[B256]) -> Option<B256> {
    let hashes: Vec<_> = data_hashes.iter().map(|h| h.0).collect();
    root(&leaves(&hashes)).map(B256::from)
}

/// The proof of cell `index` among cells with raw-data hashes `data_hashes`, as alloy `B256`.
pub fn proof_of(data_hashes: &[B256], index: usize) -> Option<Vec<B256>> {
    proofs_of(data_hashes, &[index]).and_then(|mut p| p.pop())
}

/// The proofs of cells `indices` (in that order) among cells with raw-data hashes `data_hashes`, the tree
/// built once; `None` if any index is out of range.
pub fn proofs_of(data_hashes: &[B256], indices: &[usize]) -> Option<Vec<Vec<B256>>> {
    let hashes: Vec<_> = data_hashes.iter().map(|h| h.0).collect();
    proofs(&leaves(&hashes), indices).map(|all| {
        all.into_iter()
            .map(|p| p.into_iter().map(B256::from).collect())
            .collect()
    })
}
