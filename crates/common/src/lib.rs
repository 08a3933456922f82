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

/// `0x`-prefixed lowercase hex of a 32-byte hash, as Ethereum tooling prints it.
pub fn to_hex(h: &Hash32) -> String {
    let mut s = String::with_capacity(66);
    s.push_str("0x");
    for b in h {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Parses 32 bytes of hex (64 digits, `0x` optional, surrounding whitespace ignored).
pub fn parse_hex32(text: &str) -> Option<Hash32> {
    let hex = text.trim();
    let hex = hex.strip_prefix("0x").unwrap_or(hex);
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// keccak256 of the concatenation of `parts` (no copy is made).
pub fn keccak256_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Hash32 {
    use tiny_keccak::{Hasher, Keccak};
    let mut out = [0u8; 32];
    let mut k = Keccak::v256();
    for p in parts {
        k.update(p);
    }
    k.finalize(&mut out);
    out
}

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
    fn hex_round_trips_and_rejects_bad_input() {
        let h = super::keccak256(b"x");
        assert_eq!(super::parse_hex32(&super::to_hex(&h)), Some(h));
        assert_eq!(super::parse_hex32(&super::to_hex(&h)[2..]), Some(h));
        assert_eq!(super::parse_hex32("0x1234"), None);
        assert_eq!(super::parse_hex32(&"zz".repeat(32)), None);
        assert_eq!(super::parse_hex32(&"é".repeat(32)), None);
    }

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
