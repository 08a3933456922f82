//! Reading Web3 Secret Storage files (version 3) as geth, Foundry, ethers and MyEtherWallet write them:
//! every field the decryption depends on is checked first, and one that this reader does not support is
//! refused by name, so that a file never opens as another account, never reads as a wrong password and never
//! crashes the reader. The key derivation (scrypt, RFC 7914; PBKDF2-HMAC-SHA256, RFC 8018), the cipher
//! (AES-128-CTR) and the MAC (keccak-256 of the derived key's second 16 bytes and the ciphertext) are those of
//! the definition: <https://ethereum.org/en/developers/docs/data-structures-and-encoding/web3-secret-storage/>.

use alloy::primitives::{Address, keccak256};
use ctr::cipher::{KeyIvInit, StreamCipher};
use serde_json::Value;

/// Largest keystore file read (geth's are about 500 bytes).
pub const MAX_FILE_BYTES: u64 = 64 << 10;
/// Most memory scrypt may take (128 × r × (n + p) bytes): geth's "standard" parameters take 256 MiB.
pub const MAX_SCRYPT_BYTES: u64 = 1 << 30;
/// Most scrypt work (n × r × p blocks mixed): geth's "standard" parameters and the definition's vector are 2^21.
pub const MAX_SCRYPT_WORK: u64 = 1 << 23;
/// Most PBKDF2 rounds (MyEtherWallet and the definition's example use 262,144).
pub const MAX_PBKDF2_ROUNDS: u64 = 10_000_000;

/// What is wrong with a keystore file, before or after decryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// A field holds something this reader does not support (a cipher, a KDF, a PRF, a version).
    Unsupported(String),
    /// A field is missing or not what the definition says.
    Malformed(String),
    /// The MAC does not match: the password is wrong, or the file was altered.
    WrongPassword,
}

/// The key derivation a file asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kdf {
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        salt: Vec<u8>,
    },
    Pbkdf2 {
        rounds: u32,
        salt: Vec<u8>,
    },
}

/// A parsed, checked keystore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keystore {
    kdf: Kdf,
    iv: [u8; 16],
    ciphertext: [u8; 32],
    mac: [u8; 32],
    /// The account the file says it holds (geth and ethers write it; Foundry does not).
    pub address: Option<Address>,
}

fn malformed(what: impl Into<String>) -> Fault {
    Fault::Malformed(what.into())
}

fn field<'a>(v: &'a Value, name: &str, within: &str) -> Result<&'a Value, Fault> {
    v.get(name)
        .ok_or_else(|| malformed(format!("no `{name}` in {within}")))
}

fn string<'a>(v: &'a Value, name: &str, within: &str) -> Result<&'a str, Fault> {
    field(v, name, within)?
        .as_str()
        .ok_or_else(|| malformed(format!("`{name}` in {within} is not a string")))
}

fn number(v: &Value, name: &str, within: &str) -> Result<u64, Fault> {
    field(v, name, within)?
        .as_u64()
        .ok_or_else(|| malformed(format!("`{name}` in {within} is not a whole number")))
}

fn hex_field(v: &Value, name: &str, within: &str) -> Result<Vec<u8>, Fault> {
    let s = string(v, name, within)?;
    alloy::hex::decode(s).map_err(|_| malformed(format!("`{name}` in {within} is not hex")))
}

fn fixed<const N: usize>(v: &Value, name: &str, within: &str) -> Result<[u8; N], Fault> {
    let b = hex_field(v, name, within)?;
    <[u8; N]>::try_from(b.as_slice()).map_err(|_| {
        malformed(format!(
            "`{name}` in {within} is {} bytes; it must be {N}",
            b.len()
        ))
    })
}

impl Keystore {
    /// Parses and checks the text of a keystore file.
    pub fn parse(text: &str) -> Result<Self, Fault> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| malformed(format!("not JSON: {e}")))?;
        if !v.is_object() {
            return Err(malformed("not a JSON object"));
        }
        match v.get("version").and_then(Value::as_u64) {
            Some(3) => {}
            Some(n) => return Err(Fault::Unsupported(format!("version {n} (only version 3)"))),
            None => return Err(malformed("no numeric `version`")),
        }
        // ethers and MyEtherWallet write `Crypto`.
        let crypto = v
            .get("crypto")
            .or_else(|| v.get("Crypto"))
            .filter(|c| c.is_object())
            .ok_or_else(|| malformed("no `crypto` object"))?;
        let cipher = string(crypto, "cipher", "crypto")?;
        if cipher != "aes-128-ctr" {
            return Err(Fault::Unsupported(format!(
                "cipher {cipher:?} (only aes-128-ctr)"
            )));
        }
        let params = field(crypto, "cipherparams", "crypto")?;
        let iv = fixed::<16>(params, "iv", "cipherparams")?;
        let ciphertext = fixed::<32>(crypto, "ciphertext", "crypto")?;
        let mac = fixed::<32>(crypto, "mac", "crypto")?;
        let kdf_name = string(crypto, "kdf", "crypto")?;
        let kp = field(crypto, "kdfparams", "crypto")?;
        let dklen = number(kp, "dklen", "kdfparams")?;
        if dklen != 32 {
            return Err(Fault::Unsupported(format!("dklen {dklen} (only 32)")));
        }
        let salt = hex_field(kp, "salt", "kdfparams")?;
        let kdf = match kdf_name {
            "scrypt" => {
                let n = number(kp, "n", "kdfparams")?;
                let r = number(kp, "r", "kdfparams")?;
                let p = number(kp, "p", "kdfparams")?;
                if n < 2 || !n.is_power_of_two() {
                    return Err(malformed(format!(
                        "scrypt n = {n}: it must be a power of two from 2"
                    )));
                }
                // RFC 7914: r x p < 2^30.
                if r == 0 || p == 0 || u128::from(r) * u128::from(p) >= 1 << 30 {
                    return Err(malformed(format!(
                        "scrypt r = {r}, p = {p}: each must be at least 1, and r x p below 2^30"
                    )));
                }
                // scrypt holds n blocks of 128 r bytes, and p more; it mixes n x r x p of them.
                let bytes = 128 * u128::from(r) * (u128::from(n) + u128::from(p));
                if bytes > u128::from(MAX_SCRYPT_BYTES) {
                    return Err(Fault::Unsupported(format!(
                        "scrypt n = {n}, r = {r}, p = {p}: {bytes} bytes of memory (at most \
                         {MAX_SCRYPT_BYTES})"
                    )));
                }
                let work = u128::from(n) * u128::from(r) * u128::from(p);
                if work > u128::from(MAX_SCRYPT_WORK) {
                    return Err(Fault::Unsupported(format!(
                        "scrypt n = {n}, r = {r}, p = {p}: {work} blocks of work (at most \
                         {MAX_SCRYPT_WORK})"
                    )));
                }
                Kdf::Scrypt {
                    // n < 2^23 by the work bound, a power of two: its log fits a u8.
                    log_n: u8::try_from(n.trailing_zeros()).unwrap_or(u8::MAX),
                    r: u32::try_from(r).unwrap_or(u32::MAX),
                    p: u32::try_from(p).unwrap_or(u32::MAX),
                    salt,
                }
            }
            "pbkdf2" => {
                let prf = string(kp, "prf", "kdfparams")?;
                if prf != "hmac-sha256" {
                    return Err(Fault::Unsupported(format!(
                        "prf {prf:?} (only hmac-sha256)"
                    )));
                }
                let c = number(kp, "c", "kdfparams")?;
                if c == 0 || c > MAX_PBKDF2_ROUNDS {
                    return Err(Fault::Unsupported(format!(
                        "pbkdf2 c = {c} (1 to {MAX_PBKDF2_ROUNDS} rounds)"
                    )));
                }
                Kdf::Pbkdf2 {
                    rounds: u32::try_from(c).unwrap_or(u32::MAX),
                    salt,
                }
            }
            other => {
                return Err(Fault::Unsupported(format!(
                    "kdf {other:?} (only scrypt and pbkdf2)"
                )));
            }
        };
        let address = match v.get("address") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                s.parse::<Address>()
                    .or_else(|_| format!("0x{s}").parse::<Address>())
                    .map_err(|_| malformed(format!("`address` {s:?} is not an address")))?,
            ),
            Some(_) => return Err(malformed("`address` is not a string")),
        };
        Ok(Self {
            kdf,
            iv,
            ciphertext,
            mac,
            address,
        })
    }

    /// The derived key (32 bytes).
    fn derive(&self, password: &[u8]) -> Result<[u8; 32], Fault> {
        let mut key = [0u8; 32];
        match &self.kdf {
            Kdf::Scrypt { log_n, r, p, salt } => {
                let params = scrypt::Params::new(*log_n, *r, *p)
                    .map_err(|e| Fault::Unsupported(format!("scrypt parameters: {e}")))?;
                scrypt::scrypt(password, salt, &params, &mut key)
                    .map_err(|e| malformed(format!("scrypt: {e}")))?;
            }
            Kdf::Pbkdf2 { rounds, salt } => {
                pbkdf2::pbkdf2::<hmac::Hmac<sha2::Sha256>>(password, salt, *rounds, &mut key)
                    .map_err(|e| malformed(format!("pbkdf2: {e}")))?;
            }
        }
        Ok(key)
    }

    /// The private key, when `password` is the file's.
    pub fn decrypt(&self, password: &[u8]) -> Result<[u8; 32], Fault> {
        let key = self.derive(password)?;
        let mut mac_input = Vec::with_capacity(16 + 32);
        mac_input.extend_from_slice(&key[16..32]);
        mac_input.extend_from_slice(&self.ciphertext);
        if keccak256(&mac_input).0 != self.mac {
            return Err(Fault::WrongPassword);
        }
        let mut secret = self.ciphertext;
        let mut cipher = ctr::Ctr128BE::<aes::Aes128>::new(key[..16].into(), (&self.iv).into());
        cipher.apply_keystream(&mut secret);
        Ok(secret)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A PBKDF2 file as MyEtherWallet and ethers write them (`Crypto`, an `address`): the generator of the
    /// "written by another tool" cases.
    pub(crate) fn pbkdf2_file(
        secret: &[u8; 32],
        password: &[u8],
        rounds: u32,
        address: Option<Address>,
    ) -> Value {
        let (salt, iv) = ([7u8; 32], [9u8; 16]);
        let mut key = [0u8; 32];
        pbkdf2::pbkdf2::<hmac::Hmac<sha2::Sha256>>(password, &salt, rounds, &mut key)
            .expect("HMAC takes any key");
        let mut ciphertext = *secret;
        ctr::Ctr128BE::<aes::Aes128>::new(key[..16].into(), (&iv).into())
            .apply_keystream(&mut ciphertext);
        let mut mac_input = key[16..32].to_vec();
        mac_input.extend_from_slice(&ciphertext);
        let mut v = serde_json::json!({
            "version": 3,
            "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
            "Crypto": {
                "cipher": "aes-128-ctr",
                "cipherparams": { "iv": alloy::hex::encode(iv) },
                "ciphertext": alloy::hex::encode(ciphertext),
                "kdf": "pbkdf2",
                "kdfparams": {
                    "c": rounds, "dklen": 32, "prf": "hmac-sha256", "salt": alloy::hex::encode(salt)
                },
                "mac": alloy::hex::encode(keccak256(&mac_input)),
            },
        });
        if let Some(a) = address {
            // Without 0x, as geth writes it.
            v["address"] = Value::String(alloy::hex::encode(a));
        }
        v
    }

    /// The test vectors of the Web3 Secret Storage definition (the same secret under both KDFs).
    #[test]
    fn the_definitions_test_vectors_decrypt() {
        let secret: [u8; 32] =
            alloy::hex::decode("7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d")
                .expect("hex")
                .try_into()
                .expect("32 bytes");
        let pbkdf2 = r#"{"crypto": {"cipher": "aes-128-ctr",
            "cipherparams": {"iv": "6087dab2f9fdbbfaddc31a909735c1e6"},
            "ciphertext": "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
            "kdf": "pbkdf2", "kdfparams": {"c": 262144, "dklen": 32, "prf": "hmac-sha256",
            "salt": "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"},
            "mac": "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"},
            "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6", "version": 3}"#;
        let scrypt = r#"{"crypto": {"cipher": "aes-128-ctr",
            "cipherparams": {"iv": "83dbcc02d8ccb40e466191a123791e0e"},
            "ciphertext": "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
            "kdf": "scrypt", "kdfparams": {"dklen": 32, "n": 262144, "p": 8, "r": 1,
            "salt": "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19"},
            "mac": "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097"},
            "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6", "version": 3}"#;
        for text in [pbkdf2, scrypt] {
            let ks = Keystore::parse(text).expect("parses");
            assert_eq!(ks.decrypt(b"testpassword"), Ok(secret));
        }
    }

    #[test]
    fn a_pbkdf2_file_decrypts_and_a_wrong_password_is_named() {
        let secret = [0x42u8; 32];
        let ks =
            Keystore::parse(&pbkdf2_file(&secret, b"pw", 1000, None).to_string()).expect("parses");
        assert_eq!(ks.decrypt(b"pw"), Ok(secret));
        assert_eq!(ks.decrypt(b"other"), Err(Fault::WrongPassword));
    }
}
