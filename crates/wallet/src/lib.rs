//! Keystore wallets for artists, workers and verifiers: keys live encrypted on disk in the Web3 Secret
//! Storage format (scrypt + AES-128-CTR, as geth and Foundry write them), and are opened with a password
//! taken from an environment variable, a file, or a terminal prompt — never from a command-line flag.
//! Neither the key nor the password appears in `Debug` output or logs.

pub mod keystore;

use alloy::primitives::{Address, B256};
use alloy::signers::local::{LocalSignerError, PrivateKeySigner};
use keystore::{Fault, Keystore};
use std::fmt;
use std::path::{Path, PathBuf};

/// A password, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(p: impl Into<String>) -> Self {
        Self(p.into())
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Where a keystore's password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// An environment variable, e.g. `TESSERA_KEYSTORE_PASSWORD`.
    Env(String),
    /// A file holding the password (a trailing newline is dropped).
    File(PathBuf),
    /// Ask on the terminal, without echo.
    Prompt,
}

/// What went wrong with a wallet.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The password could not be obtained.
    #[error("reading the keystore password from {from}: {reason}")]
    Password {
        /// The source.
        from: String,
        /// Why it failed.
        reason: String,
    },
    /// The keystore file does not exist.
    #[error("keystore {0} not found; create one with `tessera wallet new` or import a key")]
    NotFound(PathBuf),
    /// Decryption failed: the password is wrong (or the file was altered).
    #[error("wrong password for keystore {0}")]
    WrongPassword(PathBuf),
    /// The file asks for something this reader does not support (a cipher, KDF, PRF or version).
    #[error("keystore {path}: unsupported {what}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What, and what is supported.
        what: String,
    },
    /// The file is not a Web3 Secret Storage file as the definition says.
    #[error("keystore {path} is malformed: {what}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The key in the file is not the account the file names.
    #[error("keystore {path} names account {declared}, but its key is {actual}'s")]
    AddressMismatch {
        /// The file.
        path: PathBuf,
        /// The `address` field.
        declared: Address,
        /// The key's account.
        actual: Address,
    },
    /// The private key to import is not 32 bytes of hex.
    #[error("the private key must be 64 hexadecimal characters (optionally 0x-prefixed)")]
    InvalidKey,
    /// The keystore could not be read or written.
    #[error("keystore {path}: {source}")]
    Keystore {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: LocalSignerError,
    },
}

/// An opened wallet: the signer and where it is stored. `Debug` shows the address only.
#[derive(Clone)]
pub struct Wallet {
    signer: PrivateKeySigner,
    path: PathBuf,
}

impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wallet")
            .field("address", &self.signer.address())
            .field("path", &self.path)
            .finish()
    }
}

impl Wallet {
    /// The account's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The keystore file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The signer, for transactions and EIP-712 attestations.
    pub fn signer(&self) -> &PrivateKeySigner {
        &self.signer
    }
}

/// Reads the password from `source`.
pub fn read_password(source: &PasswordSource) -> Result<Password, WalletError> {
    match source {
        PasswordSource::Env(var) => {
            std::env::var(var)
                .map(Password)
                .map_err(|e| WalletError::Password {
                    from: format!("environment variable {var}"),
                    reason: e.to_string(),
                })
        }
        PasswordSource::File(path) => std::fs::read_to_string(path)
            .map(|s| Password(s.trim_end_matches(['\n', '\r']).to_string()))
            .map_err(|e| WalletError::Password {
                from: format!("file {}", path.display()),
                reason: e.to_string(),
            }),
        PasswordSource::Prompt => rpassword::prompt_password("Keystore password: ")
            .map(Password)
            .map_err(|e| WalletError::Password {
                from: "the terminal".into(),
                reason: e.to_string(),
            }),
    }
}

fn keystore_err(path: &Path) -> impl Fn(LocalSignerError) -> WalletError + '_ {
    move |source| WalletError::Keystore {
        path: path.to_owned(),
        source,
    }
}

/// Creates a new random key in `dir` (file `name`, or a UUID), encrypted with `password`.
pub fn create(dir: &Path, name: Option<&str>, password: &Password) -> Result<Wallet, WalletError> {
    std::fs::create_dir_all(dir).map_err(|e| keystore_err(dir)(LocalSignerError::from(e)))?;
    let (signer, uuid) =
        PrivateKeySigner::new_keystore(dir, &mut rand::thread_rng(), password.bytes(), name)
            .map_err(keystore_err(dir))?;
    Ok(Wallet {
        signer,
        // The file is named `name`, or the keystore's UUID when none is given.
        path: dir.join(name.map_or(uuid, str::to_string)),
    })
}

/// Encrypts an existing private key (hex) into `dir`.
pub fn import(
    dir: &Path,
    name: Option<&str>,
    private_key_hex: &str,
    password: &Password,
) -> Result<Wallet, WalletError> {
    let key = tessera_common::parse_hex32(private_key_hex).ok_or(WalletError::InvalidKey)?;
    std::fs::create_dir_all(dir).map_err(|e| keystore_err(dir)(LocalSignerError::from(e)))?;
    let (signer, uuid) = PrivateKeySigner::encrypt_keystore(
        dir,
        &mut rand::thread_rng(),
        key,
        password.bytes(),
        name,
    )
    .map_err(keystore_err(dir))?;
    Ok(Wallet {
        signer,
        path: dir.join(name.map_or(uuid, str::to_string)),
    })
}

/// Opens the keystore at `path` with the password from `source`. The file is checked before the password is
/// asked for ([`keystore::Keystore::parse`]): scrypt or PBKDF2-HMAC-SHA256, AES-128-CTR, `crypto` or `Crypto`,
/// and an `address`, when present, that must be the key's.
pub fn open(path: &Path, source: &PasswordSource) -> Result<Wallet, WalletError> {
    if !path.is_file() {
        return Err(WalletError::NotFound(path.to_owned()));
    }
    let fault = |f: Fault| match f {
        Fault::Unsupported(what) => WalletError::Unsupported {
            path: path.to_owned(),
            what,
        },
        Fault::Malformed(what) => WalletError::Malformed {
            path: path.to_owned(),
            what,
        },
        Fault::WrongPassword => WalletError::WrongPassword(path.to_owned()),
    };
    // Read through a limit rather than sized first: a file that grows between a size check and the read
    // cannot make the read unbounded.
    let mut bytes = Vec::new();
    {
        use std::io::Read;
        std::fs::File::open(path)
            .and_then(|f| f.take(keystore::MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|e| keystore_err(path)(LocalSignerError::from(e)))?;
    }
    if bytes.len() as u64 > keystore::MAX_FILE_BYTES {
        return Err(fault(Fault::Malformed(format!(
            "more than {} bytes; a keystore is at most that",
            keystore::MAX_FILE_BYTES
        ))));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| fault(Fault::Malformed("the file is not UTF-8 text".into())))?;
    let ks = Keystore::parse(&text).map_err(fault)?;
    let password = read_password(source)?;
    let secret = ks.decrypt(password.bytes()).map_err(fault)?;
    let signer = PrivateKeySigner::from_bytes(&B256::from(secret)).map_err(|_| {
        fault(Fault::Malformed(
            "the decrypted key is not a secp256k1 private key".into(),
        ))
    })?;
    if let Some(declared) = ks.address
        && declared != signer.address()
    {
        return Err(WalletError::AddressMismatch {
            path: path.to_owned(),
            declared,
            actual: signer.address(),
        });
    }
    Ok(Wallet {
        signer,
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tessera-wallet-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn create_then_open_gives_the_same_account() {
        let dir = tmp("create");
        let pw = Password::new("correct horse");
        let w = create(&dir, Some("artist.json"), &pw).expect("create");
        let file = dir.join("pw.txt");
        std::fs::write(&file, "correct horse\n").expect("pw file");
        let opened = open(w.path(), &PasswordSource::File(file)).expect("open");
        assert_eq!(opened.address(), w.address());
        let err =
            open(w.path(), &PasswordSource::File(dir.join("missing"))).expect_err("no pw file");
        assert!(err.to_string().contains("missing"), "{err}");
        std::fs::write(dir.join("bad.txt"), "wrong").expect("pw file");
        let err = open(w.path(), &PasswordSource::File(dir.join("bad.txt"))).expect_err("wrong pw");
        assert!(matches!(err, WalletError::WrongPassword(_)), "{err:?}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_keystore_is_read_through_a_size_limit() {
        let dir = tmp("size");
        std::fs::create_dir_all(&dir).expect("dir");
        let pw = PasswordSource::Env("TESSERA_TEST_UNSET_PASSWORD".into());
        let big = dir.join("big.json");
        std::fs::write(&big, vec![b' '; 70_000]).expect("write");
        let err = open(&big, &pw).expect_err("too large");
        assert!(err.to_string().contains("more than 65536 bytes"), "{err}");
        std::fs::write(&big, [0xff, 0xfe, b'{']).expect("write");
        let err = open(&big, &pw).expect_err("not text");
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn import_a_known_key_and_never_print_it() {
        let dir = tmp("import");
        // anvil's first development key.
        let key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
        let w = import(&dir, Some("dev.json"), key, &Password::new("pw")).expect("import");
        assert_eq!(
            w.address(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
                .parse::<Address>()
                .expect("address")
        );
        let shown = format!("{w:?} {:?}", Password::new("pw"));
        assert!(!shown.contains("ac0974bec39a17e3"), "{shown}");
        assert!(!shown.contains("\"pw\""), "{shown}");
        let on_disk = std::fs::read_to_string(w.path()).expect("file");
        assert!(!on_disk.contains("ac0974bec39a17e3"), "key stored in clear");
        assert!(matches!(
            import(&dir, None, "0x1234", &Password::new("pw")),
            Err(WalletError::InvalidKey)
        ));
        std::fs::remove_dir_all(&dir).ok();
    }

    /// A keystore written by `create`, changed by `edit`, opened with its password.
    fn edited(tag: &str, edit: impl Fn(&mut serde_json::Value)) -> Result<Wallet, WalletError> {
        let dir = tmp(tag);
        let w = create(&dir, Some("k.json"), &Password::new("pw")).expect("create");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(w.path()).expect("read")).expect("json");
        edit(&mut v);
        std::fs::write(w.path(), v.to_string()).expect("write");
        std::fs::write(dir.join("pw"), "pw").expect("pw");
        let r = open(w.path(), &PasswordSource::File(dir.join("pw")));
        std::fs::remove_dir_all(&dir).ok();
        r
    }

    fn message(r: Result<Wallet, WalletError>) -> String {
        r.expect_err("refused").to_string()
    }

    #[test]
    fn files_this_reader_cannot_read_right_are_refused_by_name_never_opened_as_another_account() {
        // The cipher used to be ignored: AES-128-CBC opened as another account.
        let e = message(edited("cbc", |v| {
            v["crypto"]["cipher"] = "aes-128-cbc".into()
        }));
        assert!(e.contains("unsupported cipher \"aes-128-cbc\""), "{e}");
        // A prf other than HMAC-SHA256 read as a wrong password.
        let e = message(edited("prf", |v| {
            v["crypto"]["kdf"] = "pbkdf2".into();
            v["crypto"]["kdfparams"] =
                serde_json::json!({"c": 10, "dklen": 32, "prf": "hmac-sha512", "salt": "00"});
        }));
        assert!(e.contains("unsupported prf \"hmac-sha512\""), "{e}");
        let e = message(edited("kdf", |v| v["crypto"]["kdf"] = "argon2".into()));
        assert!(e.contains("unsupported kdf \"argon2\""), "{e}");
        let e = message(edited("version", |v| v["version"] = 1.into()));
        assert!(e.contains("unsupported version 1"), "{e}");
        // These crashed the reader.
        let e = message(edited("dklen", |v| {
            v["crypto"]["kdfparams"]["dklen"] = 16.into()
        }));
        assert!(e.contains("unsupported dklen 16"), "{e}");
        let e = message(edited("iv", |v| {
            v["crypto"]["cipherparams"]["iv"] = "0001020304050607".into();
        }));
        assert!(
            e.contains("`iv` in cipherparams is 8 bytes; it must be 16"),
            "{e}"
        );
        // A non-power-of-two n derived another key; a huge one would take all memory.
        let e = message(edited("n", |v| v["crypto"]["kdfparams"]["n"] = 3000.into()));
        assert!(
            e.contains("scrypt n = 3000: it must be a power of two"),
            "{e}"
        );
        let e = message(edited("memory", |v| {
            v["crypto"]["kdfparams"]["n"] = (1u64 << 30).into();
        }));
        assert!(e.contains("bytes of memory"), "{e}");
        // Little memory, but p buffers of 128 r bytes each, or days of work.
        let e = message(edited("p", |v| {
            v["crypto"]["kdfparams"]["n"] = 2.into();
            v["crypto"]["kdfparams"]["r"] = 1.into();
            v["crypto"]["kdfparams"]["p"] = ((1u64 << 30) - 1).into();
        }));
        assert!(e.contains("bytes of memory"), "{e}");
        let e = message(edited("rp", |v| {
            v["crypto"]["kdfparams"]["r"] = 65_536.into();
            v["crypto"]["kdfparams"]["p"] = 65_536.into();
        }));
        assert!(e.contains("r x p below 2^30"), "{e}");
        let e = message(edited("work", |v| {
            v["crypto"]["kdfparams"]["n"] = (1u64 << 20).into();
            v["crypto"]["kdfparams"]["r"] = 1.into();
            v["crypto"]["kdfparams"]["p"] = 1_000_000.into();
        }));
        assert!(e.contains("blocks of work"), "{e}");
        let e = message(edited("mac", |v| v["crypto"]["mac"] = "zz".into()));
        assert!(e.contains("`mac` in crypto is not hex"), "{e}");
        let e = message(edited("shape", |v| *v = serde_json::json!([1, 2])));
        assert!(e.contains("not a JSON object"), "{e}");
        // The file names another account than its key's.
        let e = message(edited("address", |v| {
            v["address"] = "f39fd6e51aad88f6f4ce6ab8827279cfffb92266".into();
        }));
        assert!(
            e.contains("names account 0xf39F") && e.contains("but its key is"),
            "{e}"
        );
    }

    #[test]
    fn keystores_written_by_other_tools_open() {
        // geth: lowercase `crypto`, scrypt, `address` without 0x.
        let dir = tmp("geth");
        let w = create(&dir, Some("geth.json"), &Password::new("pw")).expect("create");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(w.path()).expect("read")).expect("json");
        v["address"] = alloy::hex::encode(w.address()).into();
        std::fs::write(w.path(), v.to_string()).expect("write");
        std::fs::write(dir.join("pw"), "pw").expect("pw");
        let opened = open(w.path(), &PasswordSource::File(dir.join("pw"))).expect("geth file");
        assert_eq!(opened.address(), w.address());
        // MyEtherWallet and ethers: `Crypto`, PBKDF2-HMAC-SHA256.
        let key = tessera_common::parse_hex32(
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        )
        .expect("key");
        let dev: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
            .parse()
            .expect("address");
        let file = dir.join("mew.json");
        let doc = keystore::tests::pbkdf2_file(&key, b"pw", 1000, Some(dev));
        std::fs::write(&file, doc.to_string()).expect("write");
        let opened = open(&file, &PasswordSource::File(dir.join("pw"))).expect("pbkdf2 file");
        assert_eq!(opened.address(), dev);
        std::fs::write(dir.join("bad"), "nope").expect("pw");
        let err = open(&file, &PasswordSource::File(dir.join("bad"))).expect_err("wrong pw");
        assert!(matches!(err, WalletError::WrongPassword(_)), "{err:?}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn env_passwords_and_missing_files_name_the_problem() {
        let dir = tmp("env");
        let w = create(&dir, None, &Password::new("from-env")).expect("create");
        // A variable name unique to this process, never set.
        let var = format!("TESSERA_TEST_WALLET_PW_{}", std::process::id());
        let err = open(w.path(), &PasswordSource::Env(var.clone())).expect_err("unset");
        assert!(err.to_string().contains(&var), "{err}");
        let err = open(&dir.join("nope.json"), &PasswordSource::Prompt).expect_err("missing");
        assert!(err.to_string().contains("not found"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
