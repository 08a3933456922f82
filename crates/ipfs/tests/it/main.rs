//! The client against a real IPFS node (the js-ipfs dev node of `scripts/ipfs-devnode/`, Kubo RPC API on
//! loopback), including the node going away and coming back, and behind a proxy that breaks `cat` the ways a
//! node or the network does.
// Fixture sizes are small.
#![allow(clippy::cast_possible_truncation)]

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tessera_ipfs::{AddOptions, CidVersion, ClientConfig, IpfsClient, IpfsError};

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A dev node in a temporary repository, killed on drop.
struct Node {
    child: Option<Child>,
    repo: PathBuf,
    api_port: u16,
    gw_port: u16,
    rpc_port: u16,
}

impl Node {
    fn script() -> Result<PathBuf> {
        let dir = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/ipfs-devnode"
        ));
        if !dir.join("node_modules/ipfs").is_dir() {
            bail!(
                "the IPFS dev node is not installed: run scripts/setup.sh (npm install in scripts/ipfs-devnode)"
            );
        }
        Ok(dir.join("start.sh"))
    }

    fn start() -> Result<Node> {
        // One repository per node: the tests run side by side in one process.
        static NODES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NODES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let repo = std::env::temp_dir().join(format!("tessera-ipfs-it-{}-{n}", std::process::id()));
        let mut n = Node {
            child: None,
            repo,
            api_port: free_port()?,
            gw_port: free_port()?,
            rpc_port: free_port()?,
        };
        n.spawn()?;
        Ok(n)
    }

    fn spawn(&mut self) -> Result<()> {
        let child = Command::new("bash")
            .arg(Self::script()?)
            .env("IPFS_PATH", &self.repo)
            .env("IPFS_API_PORT", self.api_port.to_string())
            .env("IPFS_GATEWAY_PORT", self.gw_port.to_string())
            .env("IPFS_RPC_PORT", self.rpc_port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the IPFS dev node")?;
        self.child = Some(child);
        Ok(())
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    async fn wait_ready(&self, client: &IpfsClient) -> Result<()> {
        let start = Instant::now();
        loop {
            if client.version().await.is_ok() {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(120) {
                bail!("IPFS dev node did not become ready in 120 s");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.repo);
    }
}

fn quick(url: &str) -> Result<IpfsClient> {
    let mut cfg = ClientConfig::new(url);
    cfg.timeout = Duration::from_secs(10);
    cfg.retries = 1;
    cfg.backoff = Duration::from_millis(50);
    Ok(IpfsClient::new(cfg)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_round_trips_against_a_real_node_and_survives_restarts() -> Result<()> {
    let mut node = Node::start()?;
    let client = quick(&node.url())?;
    node.wait_ready(&client).await?;
    assert!(!client.version().await?.version.is_empty());

    // CIDs equal Kubo's for the same bytes.
    let v0 = client
        .add_bytes(
            "hello.txt",
            b"hello\n".to_vec(),
            AddOptions {
                cid_version: CidVersion::V0,
                pin: true,
            },
        )
        .await?;
    assert_eq!(v0.cid, "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN");
    let v1 = client
        .add_bytes("hello.txt", b"hello\n".to_vec(), AddOptions::default())
        .await?;
    assert_eq!(
        v1.cid,
        "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am"
    );
    assert_eq!(v1.size, 6);
    assert_eq!(client.cat(&v1.cid, 1024).await?, b"hello\n");
    assert!(client.is_pinned(&v1.cid).await?);

    // A directory: files are reachable as <cid>/<name>.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let dir = client
        .add_directory(
            "task-7",
            &[
                ("leaves.json", b"{\"root\":\"0x01\"}".to_vec()),
                ("raw.tsr", big.clone()),
            ],
            AddOptions::default(),
        )
        .await?;
    assert!(dir.cid.starts_with("bafy"), "{}", dir.cid);
    assert_eq!(
        client.cat(&format!("{}/raw.tsr", dir.cid), 1 << 20).await?,
        big
    );
    assert_eq!(
        client
            .cat(&format!("{}/leaves.json", dir.cid), 1024)
            .await?,
        b"{\"root\":\"0x01\"}"
    );

    // The size limit stops a download early.
    let err = client
        .cat(&format!("{}/raw.tsr", dir.cid), 1000)
        .await
        .expect_err("too large");
    assert!(
        matches!(err, IpfsError::TooLarge { limit: 1000, .. }),
        "{err:?}"
    );

    // Unpinned content, then pinned.
    let loose = client
        .add_bytes(
            "loose",
            b"not pinned yet".to_vec(),
            AddOptions {
                cid_version: CidVersion::V1,
                pin: false,
            },
        )
        .await?;
    assert!(!client.is_pinned(&loose.cid).await?);
    client.pin_add(&loose.cid).await?;
    assert!(client.is_pinned(&loose.cid).await?);

    // A malformed CID is the node's error, named.
    let err = client.cat("not-a-cid", 10).await.expect_err("bad cid");
    assert!(
        matches!(
            err,
            IpfsError::Api {
                endpoint: "files/stat",
                ..
            }
        ),
        "{err:?}"
    );

    // The node goes away: calls fail after their retries, with the reason.
    node.stop();
    let err = client.version().await.expect_err("node down");
    assert!(
        matches!(err, IpfsError::Unreachable { attempts: 2, .. }) && err.is_node_down(),
        "{err:?}"
    );

    // It comes back on the same repository: the pinned data is still there.
    node.spawn()?;
    node.wait_ready(&client).await?;
    assert!(
        client.cat(&dir.cid, 10).await.is_err(),
        "a directory is not a file"
    );
    assert_eq!(client.cat(&v1.cid, 1024).await?, b"hello\n");
    Ok(())
}

/// How the proxy breaks `cat`.
#[derive(Clone, Copy)]
enum Break {
    /// Status 200, half the body, and the error in an `X-Stream-Error` trailer: what Kubo sends when a block
    /// cannot be had after streaming began.
    Truncate,
    /// The whole length, one byte changed.
    Corrupt,
    /// Never answers.
    Stall,
}

/// A Kubo RPC proxy in front of `upstream` that passes every call through except `cat`, which it breaks
/// as `how` says. Returns its base URL.
async fn breaking_proxy(upstream: String, how: Break) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let http = reqwest::Client::new();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (upstream, http) = (upstream.clone(), http.clone());
            tokio::spawn(async move {
                // The client's requests are POSTs with their arguments in the query and no body.
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let target = head.split(' ').nth(1).unwrap_or("/").to_owned();
                let is_cat = target.starts_with("/api/v0/cat");
                if is_cat && matches!(how, Break::Stall) {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                }
                let Ok(resp) = http.post(format!("{upstream}{target}")).send().await else {
                    return;
                };
                let status = resp.status().as_u16();
                let mut body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                let out = if is_cat && status == 200 {
                    let mut out = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\
                        Trailer: X-Stream-Error\r\nConnection: close\r\n\r\n"
                        .to_vec();
                    match how {
                        Break::Truncate => body.truncate(body.len() / 2),
                        Break::Corrupt => body[0] ^= 1,
                        Break::Stall => {}
                    }
                    out.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
                    out.extend_from_slice(&body);
                    out.extend_from_slice(
                        b"\r\n0\r\nX-Stream-Error: context deadline exceeded\r\n\r\n",
                    );
                    out
                } else {
                    let mut out = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    out.extend_from_slice(&body);
                    out
                };
                let _ = sock.write_all(&out).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(url)
}

/// A download cut short after its 200 (Kubo's late error is only in a trailer), or changed in transit, is an
/// error that names it, never content; and a read that never ends stops at the caller's deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_downloads_are_errors_not_content() -> Result<()> {
    let node = Node::start()?;
    let client = quick(&node.url())?;
    node.wait_ready(&client).await?;
    // A file of three blocks (dag-pb root) and a one-block raw file.
    let big: Vec<u8> = (0..600_000u32).map(|i| (i % 253) as u8).collect();
    let multi = client
        .add_bytes("big", big.clone(), AddOptions::default())
        .await?;
    assert!(multi.cid.starts_with("bafy"), "{}", multi.cid);
    let small = client
        .add_bytes("small", b"a small scene".to_vec(), AddOptions::default())
        .await?;
    assert!(small.cid.starts_with("bafk"), "{}", small.cid);
    assert_eq!(client.cat(&multi.cid, 1 << 20).await?, big);

    let truncating = quick(&breaking_proxy(node.url(), Break::Truncate).await?)?;
    let err = truncating
        .cat(&multi.cid, 1 << 20)
        .await
        .expect_err("a truncated body");
    assert!(
        matches!(
            err,
            IpfsError::Truncated {
                expected: 600_000,
                received: 300_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");

    let corrupting = quick(&breaking_proxy(node.url(), Break::Corrupt).await?)?;
    let err = corrupting
        .cat(&small.cid, 1024)
        .await
        .expect_err("a changed byte");
    assert!(matches!(err, IpfsError::Corrupt { .. }), "{err:?}");

    let stall_url = breaking_proxy(node.url(), Break::Stall).await?;
    let stalling = quick(&stall_url)?;
    let started = Instant::now();
    let err = stalling
        .cat_within(&small.cid, 1024, Duration::from_secs(2))
        .await
        .expect_err("no answer");
    assert!(
        matches!(err, IpfsError::Deadline { .. }) && !err.is_node_down(),
        "{err:?}"
    );
    // A node that takes the connection and never answers is not down: the content may be the cause.
    let mut cfg = ClientConfig::new(&stall_url);
    cfg.timeout = Duration::from_secs(1);
    cfg.retries = 0;
    let err = IpfsClient::new(cfg)?
        .cat(&small.cid, 1024)
        .await
        .expect_err("no answer");
    assert!(
        matches!(err, IpfsError::Unreachable { .. }) && !err.is_node_down(),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the deadline bounds the retries too"
    );
    Ok(())
}
