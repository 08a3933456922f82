//! The client against a real IPFS node (the js-ipfs dev node of `scripts/ipfs-devnode/`, Kubo RPC API on
//! loopback), including the node going away and coming back.
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
        let repo = std::env::temp_dir().join(format!("tessera-ipfs-it-{}", std::process::id()));
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
                endpoint: "cat",
                ..
            }
        ),
        "{err:?}"
    );

    // The node goes away: calls fail after their retries, with the reason.
    node.stop();
    let err = client.version().await.expect_err("node down");
    assert!(
        matches!(err, IpfsError::Unreachable { attempts: 2, .. }),
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
