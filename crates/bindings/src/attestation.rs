//! EIP-712 attestations: the domain the contract signs under, and signing a verdict with a local key.

use crate::contracts::IDistributedRender::{Attestation, SignedAttestation};
use alloy::primitives::{Address, B256, Bytes};
use alloy::signers::{Signer, local::PrivateKeySigner};
use alloy::sol_types::{Eip712Domain, SolStruct, eip712_domain};

/// The EIP-712 domain name of `DistributedRender`.
pub const DOMAIN_NAME: &str = "Tessera DistributedRender";
/// The EIP-712 domain version of `DistributedRender`.
pub const DOMAIN_VERSION: &str = "1";

/// The domain of the contract at `verifying_contract` on `chain_id`: a signature is valid there only.
pub fn domain(chain_id: u64, verifying_contract: Address) -> Eip712Domain {
    eip712_domain! {
        name: DOMAIN_NAME,
        version: DOMAIN_VERSION,
        chain_id: chain_id,
        verifying_contract: verifying_contract,
    }
}

/// The digest a verifier signs (equal to the contract's `attestationDigest`).
pub fn digest(attestation: &Attestation, domain: &Eip712Domain) -> B256 {
    attestation.eip712_signing_hash(domain)
}

/// Signs `attestation` as a 65-byte `r || s || v` signature with low `s`, as the contract requires.
pub async fn sign(
    signer: &PrivateKeySigner,
    attestation: &Attestation,
    domain: &Eip712Domain,
) -> Result<Bytes, alloy::signers::Error> {
    let sig = signer.sign_hash(&digest(attestation, domain)).await?;
    Ok(Bytes::from(sig.as_bytes().to_vec()))
}

/// Sorts signed attestations by signer address, ascending, as `attest` requires. `signers[i]` signed
/// `items[i]`.
pub fn sort_by_signer(items: Vec<(Address, SignedAttestation)>) -> Vec<SignedAttestation> {
    let mut items = items;
    items.sort_by_key(|(a, _)| *a);
    items.into_iter().map(|(_, s)| s).collect()
}
