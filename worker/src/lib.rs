//! `tessera-worker`: the node operator's daemon. In worker mode ([`worker`]) it finds open tasks (through
//! the indexer's API, or from chain logs when that is down), decides with a policy which to take, fetches and
//! checks the scene before claiming, renders, publishes the outputs to IPFS, commits to them on-chain and
//! follows each task through its verification until it is paid (answering data challenges, appealing wrong
//! rejections); in verifier mode ([`verifier`]) it holds registry tickets and serves on the committees the
//! contract draws for it: it re-renders each draw's sampled cells, commits and reveals its vote, challenges
//! withheld data and appeals verdicts it can show wrong. The protocol's rules live in the bindings
//! (`tessera_bindings::committee`, `tessera_bindings::market`). Both modes keep their state in an embedded
//! store ([`store`]) so that a restart after SIGKILL resumes where the chain says it stands.

pub mod config;
pub mod metrics;
pub mod store;
pub mod verifier;
pub mod worker;

use alloy::providers::Provider;
use anyhow::{Context, Result};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tessera_ipfs::{ClientConfig, IpfsClient, IpfsError};
use tokio::sync::watch;

pub use config::Config;
pub use metrics::Metrics;
pub use store::Store;
pub use tessera_bindings::market::{JobBook, JobInfo, Market, TaskView};

/// Everything a mode needs.
pub struct Ctx {
    /// Configuration.
    pub cfg: Config,
    /// The market as this operator.
    pub chain: Market,
    /// The IPFS node.
    pub ipfs: IpfsClient,
    /// Local state (shared with render threads, which clear their scene's load mark when the load ends).
    pub store: Arc<Store>,
    /// Metrics.
    pub metrics: Metrics,
    /// The operator's key (never printed: `Debug` of `Ctx` leaves it out).
    pub signer: alloy::signers::local::PrivateKeySigner,
    /// The render backend.
    pub backend: Arc<tessera_render::Backend>,
    /// Loaded scenes.
    pub scenes: Arc<SceneCache>,
    /// HTTP client for the indexer.
    pub http: reqwest::Client,
    /// Becomes true on SIGINT/SIGTERM.
    pub shutdown: watch::Receiver<bool>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("chain", &self.chain)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    /// Opens the keystore, the chain, IPFS, the store and the backend.
    pub async fn open(cfg: Config, mode: &str, shutdown: watch::Receiver<bool>) -> Result<Self> {
        cfg.ensure_dirs()?;
        let wallet = tessera_wallet::open(&cfg.keystore, &cfg.password)
            .with_context(|| format!("opening keystore {}", cfg.keystore.display()))?;
        let deployment = tessera_bindings::Deployment::load(&cfg.deployment)?;
        let chain = Market::connect(&cfg.rpc_url, deployment, wallet.signer().clone()).await?;
        // The deployment block's hash tells a chain restarted and redeployed at the same address apart.
        let d = &chain.deployment;
        let block = chain
            .provider
            .get_block_by_number(d.deployment_block.into())
            .await?
            .with_context(|| {
                format!(
                    "the deployment block {} is not on this chain",
                    d.deployment_block
                )
            })?;
        let bound = format!(
            "chain {} market {} deployed in block {} ({})",
            d.chain_id, d.distributed_render, d.deployment_block, block.header.hash
        );
        let ipfs = IpfsClient::new(ClientConfig::new(cfg.ipfs_api.clone()))?;
        let store = Store::open(&cfg.store_path(mode))?;
        store.bind(&bound)?;
        let backend = tessera_render::Backend::open(cfg.backend)?;
        tracing::info!(address = %chain.me, backend = %backend.describe(), mode, "started");
        Ok(Self {
            signer: wallet.signer().clone(),
            chain,
            ipfs,
            store: Arc::new(store),
            metrics: Metrics::new(mode),
            backend: Arc::new(backend),
            scenes: Arc::new(SceneCache::default()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            shutdown,
            cfg,
        })
    }

    /// Whether shutdown was asked for.
    pub fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Sleeps for the poll interval, or less if shutdown is asked for.
    pub async fn pause(&self) {
        let mut rx = self.shutdown.clone();
        tokio::select! {
            () = tokio::time::sleep(self.cfg.poll) => {}
            _ = rx.wait_for(|s| *s) => {}
        }
    }

    /// Bonds more stake when free stake is below the target.
    pub async fn top_up_stake(&self) -> Result<()> {
        let target = self.cfg.stake_target_wei;
        let s = self.chain.market.stakeOf(self.chain.me).call().await?;
        if s.bonded >= target {
            return Ok(());
        }
        let add = target - s.bonded;
        tracing::info!(wei = add, "bonding stake");
        self.chain
            .send(
                self.chain
                    .market
                    .stake()
                    .value(alloy::primitives::U256::from(add)),
                "staking",
            )
            .await?;
        Ok(())
    }

    /// Withdraws credited ETH once it reaches the threshold.
    pub async fn withdraw_if_due(&self) -> Result<()> {
        let bal = self.chain.balance().await?;
        if bal.is_zero() || bal < alloy::primitives::U256::from(self.cfg.withdraw_threshold_wei) {
            return Ok(());
        }
        self.chain
            .send(
                self.chain.market.withdraw(alloy::primitives::Address::ZERO),
                "withdrawing earnings",
            )
            .await?;
        tracing::info!(wei = %bal, "withdrew earnings");
        Ok(())
    }

    /// A job's scene bytes: from the local cache, else from IPFS (at most `max_bytes`). A worker passes its
    /// own `max_scene_bytes` (which jobs it takes is its choice); a committee member passes the renderer's
    /// protocol limit, so that whether a scene is loadable never depends on one member's configuration.
    pub async fn scene(&self, cid: &str, max_bytes: u64) -> Result<Arc<Vec<u8>>, SceneFetch> {
        self.scene_source().get(cid, max_bytes).await
    }

    /// Where scenes come from, detached from `self` (a fetch may run in a task of its own).
    pub fn scene_source(&self) -> SceneSource {
        SceneSource {
            ipfs: self.ipfs.clone(),
            dir: self.cfg.data_dir.join("scenes"),
            deadline: self.cfg.scene_fetch,
        }
    }
}

/// Scene files: a local cache of whole, checked downloads over IPFS.
#[derive(Debug, Clone)]
pub struct SceneSource {
    ipfs: IpfsClient,
    dir: PathBuf,
    /// The longest one fetch may take, retries included.
    deadline: Duration,
}

impl SceneSource {
    /// The scene `cid`: from the cache, else fetched from IPFS within the deadline (at most `max_bytes`).
    /// Only a whole download that matches its CID's announced size (and, for a raw CID, its hash) is cached;
    /// a failed, late or truncated fetch is [`SceneFetch::Unavailable`], never a refusal.
    pub async fn get(&self, cid: &str, max_bytes: u64) -> Result<Arc<Vec<u8>>, SceneFetch> {
        if cid.is_empty() || !cid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SceneFetch::Refused(format!(
                "scene CID {cid:?} is not a CID"
            )));
        }
        if let Some(b) = self.cached(cid, max_bytes).await? {
            return Ok(b);
        }
        let path = self.path(cid);
        match self.ipfs.cat_within(cid, max_bytes, self.deadline).await {
            Ok(b) => {
                // A temporary file of this fetch's own, renamed into place whole: checks run side by side,
                // and a reader must never see a file another fetch is still writing.
                static FETCHES: AtomicU64 = AtomicU64::new(0);
                let n = FETCHES.fetch_add(1, Ordering::Relaxed);
                let tmp = path.with_extension(format!("part.{}.{n}", std::process::id()));
                if tokio::fs::write(&tmp, &b).await.is_ok() {
                    tokio::fs::rename(&tmp, &path).await.ok();
                }
                // Left only when the write or the rename failed.
                tokio::fs::remove_file(&tmp).await.ok();
                Ok(Arc::new(b))
            }
            Err(IpfsError::TooLarge { .. }) => Err(SceneFetch::Refused(format!(
                "scene {cid} is larger than {max_bytes} bytes"
            ))),
            // Only a refused or failed connection says the node is down; a timeout or a broken download
            // may be this scene's doing (a slow provider, a node choking on it) and backs off as usual.
            Err(e) if e.is_node_down() => Err(SceneFetch::NodeDown(e.to_string())),
            Err(e) => Err(SceneFetch::Unavailable(e.to_string())),
        }
    }

    /// The scene `cid` if it is in the cache (`Refused` when larger than `max_bytes`).
    pub async fn cached(
        &self,
        cid: &str,
        max_bytes: u64,
    ) -> Result<Option<Arc<Vec<u8>>>, SceneFetch> {
        match tokio::fs::read(self.path(cid)).await {
            Ok(b) if b.len() as u64 <= max_bytes => Ok(Some(Arc::new(b))),
            Ok(_) => Err(SceneFetch::Refused(format!(
                "scene {cid} is larger than {max_bytes} bytes"
            ))),
            Err(_) => Ok(None),
        }
    }

    fn path(&self, cid: &str) -> PathBuf {
        std::fs::create_dir_all(&self.dir).ok();
        self.dir.join(cid)
    }
}

/// Key of a loaded scene: the frame only matters for animated files.
type SceneKey = (String, u32, u32, Option<u32>);

/// The last few scenes loaded (scene load and BVH build are the fixed cost of every task; a job's tasks
/// share them: all of them for a still scene, those of one frame for an animated one).
#[derive(Default)]
pub struct SceneCache {
    loaded: std::sync::Mutex<std::collections::VecDeque<(SceneKey, Arc<tessera_render::Scene>)>>,
}

impl SceneCache {
    /// Scenes kept: they can be large.
    const KEEP: usize = 2;

    /// The scene `cid` (bytes `glb`) loaded for `frame` of a job with `settings` (blocking).
    pub fn get(
        &self,
        cid: &str,
        glb: &[u8],
        settings: &tessera_render::RenderSettings,
        frame: u32,
    ) -> Result<Arc<tessera_render::Scene>, tessera_render::SceneError> {
        let still: SceneKey = (cid.to_owned(), settings.width, settings.height, None);
        let framed: SceneKey = (cid.to_owned(), settings.width, settings.height, Some(frame));
        {
            let loaded = self
                .loaded
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((_, s)) = loaded.iter().find(|(k, _)| *k == still || *k == framed) {
                return Ok(s.clone());
            }
        }
        let scene = Arc::new(tessera_render::load_job_scene(
            glb,
            settings,
            frame,
            tessera_render::Limits::default(),
        )?);
        let key = if scene.stats.animated { framed } else { still };
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loaded.push_front((key, scene.clone()));
        loaded.truncate(Self::KEEP);
        Ok(scene)
    }
}

/// Why a scene could not be had.
#[derive(Debug)]
pub enum SceneFetch {
    /// It will never do (too large, not a CID): refuse the job.
    Refused(String),
    /// The content could not be fetched (slow, truncated, not found in time): try again later.
    Unavailable(String),
    /// The IPFS node itself could not be reached: nothing is wrong with the scene; try again as soon as the
    /// node answers.
    NodeDown(String),
}

/// Render progress: a live line on a terminal, a log line per quarter otherwise.
pub struct Progress {
    label: String,
    tty: bool,
    last_quarter: AtomicU64,
}

impl Progress {
    /// Progress for `label`.
    pub fn new(label: String) -> Self {
        Self {
            label,
            tty: std::io::stderr().is_terminal(),
            last_quarter: AtomicU64::new(0),
        }
    }

    /// Called with cells done and total.
    pub fn update(&self, done: u64, total: u64) {
        let total = total.max(1);
        if self.tty {
            eprint!(
                "\r{}: {:>3}% ({done}/{total} cells) ",
                self.label,
                done * 100 / total
            );
            if done == total {
                eprintln!();
            }
        } else {
            let q = done * 4 / total;
            if q > self.last_quarter.fetch_max(q, Ordering::Relaxed) {
                tracing::info!(task = %self.label, percent = q * 25, "rendering");
            }
        }
    }
}
