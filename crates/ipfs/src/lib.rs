//! A small typed client for the Kubo RPC API — what Tessera's workers, verifiers and CLI need of IPFS:
//! adding bytes, files and directories (CID version chosen), streaming `cat` with a size limit and an overall
//! deadline whose result is checked before it is returned, pinning and the node's version, each with a timeout
//! and bounded retries with backoff.
//!
//! What `cat` checks: the node's announced file size (`files/stat`, and Kubo's `X-Content-Length` header)
//! against what arrived — Kubo reports an error that happens after streaming began only in an HTTP trailer
//! (`X-Stream-Error`) behind status 200, which an HTTP client does not surface, so a short body is the sign —
//! and, for a single-block CID of the `raw` codec (what `add` with CID version 1 makes of files up to one
//! chunk), the bytes' hash against the CID's multihash.
//!
//! Production operators point it at their own Kubo node; tests and the local network use the js-ipfs dev
//! node under `scripts/ipfs-devnode/`, which serves the same API on loopback.

use futures_util::StreamExt;
use serde::Deserialize;
use std::time::Duration;

/// What can go wrong talking to the node.
#[derive(Debug, thiserror::Error)]
pub enum IpfsError {
    /// The API URL is not usable.
    #[error("invalid IPFS API URL {url:?}: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The node could not be reached or timed out, after every retry.
    #[error("IPFS node at {url} unreachable after {attempts} attempts: {source}")]
    Unreachable {
        /// The API URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The node answered with an error.
    #[error("IPFS {endpoint} failed with HTTP {status}: {message}")]
    Api {
        /// The endpoint.
        endpoint: &'static str,
        /// HTTP status.
        status: u16,
        /// The node's message.
        message: String,
    },
    /// The content is larger than the caller allows.
    #[error("{cid} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The CID.
        cid: String,
        /// The limit.
        limit: u64,
    },
    /// Fewer (or more) bytes arrived than the node announced: the stream broke after it began.
    #[error("{cid}: {received} bytes arrived of the {expected} announced (truncated download)")]
    Truncated {
        /// The path read.
        cid: String,
        /// The announced size in bytes.
        expected: u64,
        /// Bytes received.
        received: u64,
    },
    /// The bytes do not hash to the CID.
    #[error("{cid}: the content does not match its CID ({reason})")]
    Corrupt {
        /// The path read.
        cid: String,
        /// What did not match.
        reason: String,
    },
    /// The whole read did not finish within the caller's deadline.
    #[error("{cid}: not read within {after:?}")]
    Deadline {
        /// The path read.
        cid: String,
        /// The deadline.
        after: Duration,
    },
    /// The node's answer could not be understood.
    #[error("unexpected answer from IPFS {endpoint}: {reason}")]
    Protocol {
        /// The endpoint.
        endpoint: &'static str,
        /// What was wrong.
        reason: String,
    },
}

impl IpfsError {
    /// Whether the node itself is down: the connection to its API was refused or failed. A timeout or a
    /// download broken midway is not this: it may be the content's doing (a slow provider, a node choking on
    /// it).
    pub fn is_node_down(&self) -> bool {
        matches!(self, Self::Unreachable { source, .. } if source.is_connect())
    }
}

/// CID version of added content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CidVersion {
    /// CIDv0 (`Qm…`, dag-pb).
    V0,
    /// CIDv1 (`bafy…`/`bafk…`, raw leaves), base32.
    #[default]
    V1,
}

/// Options for `add`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddOptions {
    /// CID version.
    pub cid_version: CidVersion,
    /// Pin what is added.
    pub pin: bool,
}

impl Default for AddOptions {
    fn default() -> Self {
        Self {
            cid_version: CidVersion::V1,
            pin: true,
        }
    }
}

/// One entry of an `add` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// Path as added (file name, or `dir/file`).
    pub name: String,
    /// Its CID.
    pub cid: String,
    /// Cumulative size in bytes as the node reports it.
    pub size: u64,
}

/// The node's version.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Version {
    /// Version string.
    #[serde(rename = "Version")]
    pub version: String,
}

/// Client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Kubo RPC base URL, e.g. `http://127.0.0.1:5001`.
    pub api_url: String,
    /// Timeout of one request (connect to last byte).
    pub timeout: Duration,
    /// Extra attempts after a transport failure or a 5xx answer.
    pub retries: u32,
    /// First backoff; doubles each retry.
    pub backoff: Duration,
}

impl ClientConfig {
    /// Defaults for `api_url`: 120 s timeout, 4 retries from 200 ms.
    pub fn new(api_url: impl Into<String>) -> Self {
        Self {
            api_url: api_url.into(),
            timeout: Duration::from_secs(120),
            retries: 4,
            backoff: Duration::from_millis(200),
        }
    }
}

/// A Kubo RPC client.
#[derive(Debug, Clone)]
pub struct IpfsClient {
    cfg: ClientConfig,
    base: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct RawAdded {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Hash")]
    hash: String,
    #[serde(rename = "Size")]
    size: SizeField,
}

/// Kubo prints `Size` as a string; some nodes as a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum SizeField {
    Text(String),
    Number(u64),
}

#[derive(Deserialize)]
struct ApiMessage {
    #[serde(rename = "Message")]
    message: String,
}

/// `files/stat` of an IPFS path.
#[derive(Deserialize)]
struct FileStat {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Size")]
    size: u64,
}

#[derive(Deserialize)]
struct PinLs {
    #[serde(rename = "Keys")]
    keys: std::collections::HashMap<String, serde_json::Value>,
}

/// A request to retry as a whole: built again for each attempt.
type MakeRequest<'a> = dyn Fn() -> reqwest::RequestBuilder + Send + Sync + 'a;

impl IpfsClient {
    /// A client for the node at `cfg.api_url`.
    pub fn new(cfg: ClientConfig) -> Result<Self, IpfsError> {
        let url = cfg.api_url.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(IpfsError::BadUrl {
                url: cfg.api_url.clone(),
                reason: "must start with http:// or https://".into(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| IpfsError::BadUrl {
                url: cfg.api_url.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            base: format!("{url}/api/v0"),
            cfg,
            http,
        })
    }

    fn post(&self, endpoint: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}/{endpoint}", self.base))
    }

    /// Sends with retries on transport errors and 5xx answers; returns the first non-5xx response.
    async fn send(
        &self,
        endpoint: &'static str,
        make: &MakeRequest<'_>,
    ) -> Result<reqwest::Response, IpfsError> {
        let mut delay = self.cfg.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match make().send().await {
                Ok(resp) if resp.status().is_server_error() && attempt <= self.cfg.retries => {
                    tracing::debug!(target: "ipfs", endpoint, status = %resp.status(), attempt, "retrying");
                }
                Ok(resp) if !resp.status().is_success() => {
                    let status = resp.status().as_u16();
                    let body = resp.text().await.unwrap_or_default();
                    let message =
                        serde_json::from_str::<ApiMessage>(&body).map_or(body, |m| m.message);
                    return Err(IpfsError::Api {
                        endpoint,
                        status,
                        message,
                    });
                }
                Ok(resp) => return Ok(resp),
                Err(e) if attempt <= self.cfg.retries => {
                    tracing::debug!(target: "ipfs", endpoint, error = %e, attempt, "retrying");
                }
                Err(source) => {
                    return Err(IpfsError::Unreachable {
                        url: self.cfg.api_url.clone(),
                        attempts: attempt,
                        source,
                    });
                }
            }
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
    }

    /// The node's version.
    pub async fn version(&self) -> Result<Version, IpfsError> {
        let resp = self.send("version", &|| self.post("version")).await?;
        resp.json().await.map_err(|e| IpfsError::Protocol {
            endpoint: "version",
            reason: e.to_string(),
        })
    }

    fn add_query(opts: AddOptions, wrap: bool) -> Vec<(&'static str, String)> {
        let mut q = vec![("pin", opts.pin.to_string()), ("progress", "false".into())];
        match opts.cid_version {
            CidVersion::V0 => q.push(("cid-version", "0".into())),
            CidVersion::V1 => {
                q.push(("cid-version", "1".into()));
                q.push(("cid-base", "base32".into()));
            }
        }
        if wrap {
            q.push(("wrap-with-directory", "false".into()));
        }
        q
    }

    /// `dir`: a directory part sent first (Kubo's and js-ipfs's multipart convention), then the files.
    async fn add_parts(
        &self,
        dir: Option<&str>,
        files: &[(String, Vec<u8>)],
        opts: AddOptions,
    ) -> Result<Vec<Added>, IpfsError> {
        let make = || {
            let mut form = reqwest::multipart::Form::new();
            if let Some(d) = dir {
                let part = reqwest::multipart::Part::bytes(Vec::new())
                    .file_name(d.to_string())
                    .mime_str("application/x-directory")
                    .unwrap_or_else(|_| reqwest::multipart::Part::bytes(Vec::new()));
                form = form.part("file", part);
            }
            for (name, bytes) in files {
                let part = reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.clone());
                let part = part
                    .mime_str("application/octet-stream")
                    .unwrap_or_else(|_| {
                        reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.clone())
                    });
                form = form.part("file", part);
            }
            self.post("add")
                .query(&Self::add_query(opts, dir.is_some()))
                .multipart(form)
        };
        let resp = self.send("add", &make).await?;
        let text = resp.text().await.map_err(|e| IpfsError::Protocol {
            endpoint: "add",
            reason: e.to_string(),
        })?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let raw: RawAdded = serde_json::from_str(l).map_err(|e| IpfsError::Protocol {
                    endpoint: "add",
                    reason: format!("{e}: {l}"),
                })?;
                let size = match raw.size {
                    SizeField::Number(n) => n,
                    SizeField::Text(t) => t.parse().map_err(|_| IpfsError::Protocol {
                        endpoint: "add",
                        reason: format!("size {t:?} is not a number"),
                    })?,
                };
                Ok(Added {
                    name: raw.name,
                    cid: raw.hash,
                    size,
                })
            })
            .collect()
    }

    /// Adds `bytes` as one file named `name`.
    pub async fn add_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
        opts: AddOptions,
    ) -> Result<Added, IpfsError> {
        let mut all = self
            .add_parts(None, &[(name.to_string(), bytes)], opts)
            .await?;
        all.pop().ok_or(IpfsError::Protocol {
            endpoint: "add",
            reason: "empty answer".into(),
        })
    }

    /// Adds a file from disk.
    pub async fn add_file(
        &self,
        path: &std::path::Path,
        opts: AddOptions,
    ) -> Result<Added, IpfsError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| IpfsError::Protocol {
                endpoint: "add",
                reason: format!("reading {}: {e}", path.display()),
            })?;
        let name = path
            .file_name()
            .map_or("file".into(), |n| n.to_string_lossy().into_owned());
        self.add_bytes(&name, bytes, opts).await
    }

    /// Adds files as the directory `dir` (entries are `dir/<name>`); returns the directory's entry, whose
    /// CID addresses the files as `<cid>/<name>`.
    pub async fn add_directory(
        &self,
        dir: &str,
        files: &[(&str, Vec<u8>)],
        opts: AddOptions,
    ) -> Result<Added, IpfsError> {
        if dir.is_empty()
            || dir.contains('/')
            || files.iter().any(|(n, _)| n.is_empty() || n.contains('/'))
        {
            return Err(IpfsError::Protocol {
                endpoint: "add",
                reason: "directory and file names must be non-empty and contain no '/'".into(),
            });
        }
        let parts: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(n, b)| (format!("{dir}/{n}"), b.clone()))
            .collect();
        let all = self.add_parts(Some(dir), &parts, opts).await?;
        all.into_iter()
            .find(|a| a.name == dir)
            .ok_or(IpfsError::Protocol {
                endpoint: "add",
                reason: format!("no entry for directory {dir:?}"),
            })
    }

    /// Reads the file at `path` (a CID, or `cid/name`), failing with [`IpfsError::TooLarge`] as soon as more
    /// than `max_bytes` are announced or have arrived (the body is streamed, never buffered beyond the limit).
    /// What is returned is whole: its length is the node's announced file size ([`IpfsError::Truncated`]
    /// otherwise), and a single-block `raw` CID's bytes hash to it ([`IpfsError::Corrupt`] otherwise).
    pub async fn cat(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, IpfsError> {
        let stat = self.stat(path).await?;
        if stat.kind != "file" {
            return Err(IpfsError::Protocol {
                endpoint: "files/stat",
                reason: format!("{path} is a {}, not a file", stat.kind),
            });
        }
        if stat.size > max_bytes {
            return Err(IpfsError::TooLarge {
                cid: path.into(),
                limit: max_bytes,
            });
        }
        let make = || {
            self.post("cat").query(&[
                ("arg", path.to_string()),
                ("length", (max_bytes.saturating_add(1)).to_string()),
            ])
        };
        let resp = self.send("cat", &make).await?;
        // Kubo announces the file's size here; a node that does not is held to `files/stat`.
        let announced = resp
            .headers()
            .get("x-content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(stat.size);
        if announced != stat.size {
            return Err(IpfsError::Protocol {
                endpoint: "cat",
                reason: format!(
                    "{path}: the node announces {announced} bytes, its files/stat {}",
                    stat.size
                ),
            });
        }
        let mut out = Vec::with_capacity(usize::try_from(stat.size).unwrap_or(0));
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|source| IpfsError::Unreachable {
                url: self.cfg.api_url.clone(),
                attempts: 1,
                source,
            })?;
            if out.len() as u64 + chunk.len() as u64 > max_bytes {
                return Err(IpfsError::TooLarge {
                    cid: path.into(),
                    limit: max_bytes,
                });
            }
            out.extend_from_slice(&chunk);
        }
        if out.len() as u64 != stat.size {
            return Err(IpfsError::Truncated {
                cid: path.into(),
                expected: stat.size,
                received: out.len() as u64,
            });
        }
        verify_raw(path, &out)?;
        Ok(out)
    }

    /// [`IpfsClient::cat`] bounded by `deadline` as a whole, retries included ([`IpfsError::Deadline`]).
    pub async fn cat_within(
        &self,
        path: &str,
        max_bytes: u64,
        deadline: Duration,
    ) -> Result<Vec<u8>, IpfsError> {
        tokio::time::timeout(deadline, self.cat(path, max_bytes))
            .await
            .map_err(|_| IpfsError::Deadline {
                cid: path.into(),
                after: deadline,
            })?
    }

    /// `files/stat` of `/ipfs/<path>`: its type and, for a file, its size in bytes.
    async fn stat(&self, path: &str) -> Result<FileStat, IpfsError> {
        let arg = format!("/ipfs/{path}");
        let resp = self
            .send("files/stat", &|| {
                self.post("files/stat").query(&[("arg", arg.as_str())])
            })
            .await?;
        resp.json().await.map_err(|e| IpfsError::Protocol {
            endpoint: "files/stat",
            reason: e.to_string(),
        })
    }

    /// Pins `cid` (recursively).
    pub async fn pin_add(&self, cid: &str) -> Result<(), IpfsError> {
        self.send("pin/add", &|| self.post("pin/add").query(&[("arg", cid)]))
            .await?;
        Ok(())
    }

    /// Whether `cid` is pinned.
    pub async fn is_pinned(&self, cid: &str) -> Result<bool, IpfsError> {
        let make = || self.post("pin/ls").query(&[("arg", cid)]);
        match self.send("pin/ls", &make).await {
            Ok(resp) => {
                let ls: PinLs = resp.json().await.map_err(|e| IpfsError::Protocol {
                    endpoint: "pin/ls",
                    reason: e.to_string(),
                })?;
                Ok(!ls.keys.is_empty())
            }
            // Kubo answers 500 "… is not pinned"; js-ipfs likewise.
            Err(IpfsError::Api { message, .. }) if message.contains("not pinned") => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Multicodec of raw bytes, and the multihash codes this client can check (multiformats' table).
const RAW: u64 = 0x55;
const SHA2_256: u64 = 0x12;
const IDENTITY: u64 = 0x00;

/// Checks `bytes` against `path` when `path` is a bare CID of the `raw` codec hashed with SHA2-256 (or
/// inlined with the identity hash): such a CID is the hash of the file itself. Other CIDs name a DAG whose
/// blocks the node checked as it assembled them; their size is checked by `cat`.
fn verify_raw(path: &str, bytes: &[u8]) -> Result<(), IpfsError> {
    if path.contains('/') {
        return Ok(());
    }
    let Ok(cid) = cid::Cid::try_from(path) else {
        return Ok(());
    };
    if cid.codec() != RAW {
        return Ok(());
    }
    let hash = cid.hash();
    let matches = match hash.code() {
        SHA2_256 => {
            use sha2::Digest;
            sha2::Sha256::digest(bytes).as_slice() == hash.digest()
        }
        IDENTITY => hash.digest() == bytes,
        _ => return Ok(()),
    };
    if matches {
        Ok(())
    } else {
        Err(IpfsError::Corrupt {
            cid: path.into(),
            reason: format!("the {} bytes do not hash to it", bytes.len()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_cids_are_checked_against_the_bytes() {
        // `ipfs add --cid-version 1 --raw-leaves` of "hello-world-data\n".
        let cid = "bafkreihijx4cgmc7mtt3h7ttplfkefp3q5fcjtliblssjseo623ztai5a4";
        verify_raw(cid, b"hello-world-data\n").expect("the right bytes");
        let err = verify_raw(cid, b"hello-world-datA\n").expect_err("one byte changed");
        assert!(matches!(err, IpfsError::Corrupt { .. }), "{err:?}");
        // A path inside a directory, and a dag-pb root, are checked by size only.
        verify_raw(&format!("{cid}/x"), b"anything").expect("not a bare CID");
        verify_raw(
            "bafybeidi3qf5xprppfmhzudq4thl7g5jr6mlf4igp6igk6oqqomxl6b244",
            b"anything",
        )
        .expect("dag-pb");
    }

    #[test]
    fn rejects_urls_without_a_scheme() {
        let err = IpfsClient::new(ClientConfig::new("127.0.0.1:5001")).expect_err("no scheme");
        assert!(err.to_string().contains("http://"), "{err}");
        assert!(IpfsClient::new(ClientConfig::new("http://127.0.0.1:5001/")).is_ok());
    }

    #[tokio::test]
    async fn unreachable_node_fails_after_the_retries() {
        // Port 9 (discard) on loopback: nothing listens there.
        let mut cfg = ClientConfig::new("http://127.0.0.1:9");
        cfg.retries = 2;
        cfg.backoff = Duration::from_millis(10);
        let err = IpfsClient::new(cfg)
            .expect("client")
            .version()
            .await
            .expect_err("unreachable");
        assert!(
            matches!(err, IpfsError::Unreachable { attempts: 3, .. }),
            "{err:?}"
        );
    }
}
