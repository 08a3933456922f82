//! Types and encodings that every Tessera component must agree on, with no dependency on the chain or the
//! renderer.
//!
//! Data flows through the modules in this order: [`task`] maps a job's render settings to tasks (a frame and
//! a region each) and each region to its cells; [`cells`] hashes each cell's raw data into a leaf and builds
//! the Merkle root a worker commits on-chain (docs/merkle.md); [`verify`] picks the cells a verifier
//! re-renders and gives the probability of catching a forgery.

pub mod cells;
pub mod task;
pub mod verify;

/// A 32-byte hash (keccak256 output, Merkle node).
pub type Hash32 = [u8; 32];

/// keccak256 of `data`.
pub fn keccak256(data: &[u8]) -> Hash32 {
    use tiny_keccak::{Hasher, Keccak};
    let mut out = [0u8; 32];
    let mut k = Keccak::v256();
    k.update(data);
    k.finalize(&mut out);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn keccak_known_answers() {
        // keccak256("") and keccak256("hello\n"), as Ethereum tooling prints them.
        assert_eq!(
            super::keccak256(b""),
            *b"\xc5\xd2\x46\x01\x86\xf7\x23\x3c\x92\x7e\x7d\xb2\xdc\xc7\x03\xc0\xe5\x00\xb6\x53\xca\x82\x27\x3b\x7b\xfa\xd8\x04\x5d\x85\xa4\x70"
        );
        assert_ne!(super::keccak256(b"hello\n"), super::keccak256(b"hello"));
    }
}
