//! Configuration: defaults < TOML file (`--config`) < `TESSERA_*` environment < flags. The keystore password
//! comes from `TESSERA_KEYSTORE_PASSWORD_FILE`, `TESSERA_KEYSTORE_PASSWORD` or a prompt, never from a flag or
//! the file, and the key itself never reaches a log or `Debug` output (`tessera_wallet::Wallet` redacts it).

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tessera_wallet::PasswordSource;

/// What both modes share, as flags (each also read from its `TESSERA_*` variable).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CommonArgs {
    /// TOML configuration file (keys as the long flags, with underscores).
    #[arg(long, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Chain RPC URL (HTTP).
    #[arg(long, env = "TESSERA_RPC_URL")]
    pub rpc_url: Option<String>,
    /// Deployment file written by the deploy script (`deployments/<chainId>.json`).
    #[arg(long, env = "TESSERA_DEPLOYMENT")]
    pub deployment: Option<PathBuf>,
    /// Indexer API base URL; without it (or while it is down) tasks are found from chain logs.
    #[arg(long, env = "TESSERA_INDEXER_URL")]
    pub indexer_url: Option<String>,
    /// Kubo RPC API base URL.
    #[arg(long, env = "TESSERA_IPFS_API")]
    pub ipfs_api: Option<String>,
    /// Encrypted keystore (Web3 Secret Storage) holding the signing key.
    #[arg(long, env = "TESSERA_KEYSTORE")]
    pub keystore: Option<PathBuf>,
    /// File holding the keystore password (else TESSERA_KEYSTORE_PASSWORD, else a prompt).
    #[arg(long, env = "TESSERA_KEYSTORE_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// Folder for the local state store and the rendered outputs.
    #[arg(long, env = "TESSERA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9100).
    #[arg(long, env = "TESSERA_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// How often to look for work and follow tasks, in milliseconds.
    #[arg(long, env = "TESSERA_POLL_MS")]
    pub poll_ms: Option<u64>,
    /// Render backend: auto (GPU if present), cpu or cuda.
    #[arg(long, env = "TESSERA_BACKEND")]
    pub backend: Option<String>,
    /// Keep at least this much ETH bonded as stake (wei); tops up at start when below.
    #[arg(long, env = "TESSERA_STAKE_TARGET_WEI")]
    pub stake_target_wei: Option<u128>,
    /// Withdraw credited earnings once they reach this many wei.
    #[arg(long, env = "TESSERA_WITHDRAW_THRESHOLD_WEI")]
    pub withdraw_threshold_wei: Option<u128>,
    /// Largest scene accepted, in bytes.
    #[arg(long, env = "TESSERA_MAX_SCENE_BYTES")]
    pub max_scene_bytes: Option<u64>,
    /// Longest one scene fetch from IPFS may take, retries included, in seconds (default 120). A scene not
    /// had by then is tried again later, backing off from a minute to an hour.
    #[arg(long, env = "TESSERA_SCENE_FETCH_S")]
    pub scene_fetch_s: Option<u64>,
    /// Appeal verdicts this daemon can show wrong (a rejection of the worker's own result; a verdict against
    /// the verifier's own render): true or false (default true).
    #[arg(long, env = "TESSERA_APPEAL")]
    pub appeal: Option<bool>,
    /// Largest appeal bond paid, in wei (an appeal to a larger committee costs more; default 1 ETH).
    #[arg(long, env = "TESSERA_MAX_APPEAL_BOND_WEI")]
    pub max_appeal_bond_wei: Option<u128>,
    /// Blocks past a draw's seed block before this daemon draws a committee it is not on (members draw with
    /// their first commit, which is cheaper; default 2).
    #[arg(long, env = "TESSERA_DRAW_GRACE_BLOCKS")]
    pub draw_grace_blocks: Option<u64>,
}

/// Flags of the worker mode.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WorkerArgs {
    /// Renderer ids this worker renders (comma-separated); default: this build's renderer.
    #[arg(long, env = "TESSERA_RENDERERS", value_delimiter = ',')]
    pub renderers: Option<Vec<String>>,
    /// Smallest acceptable reward, in gwei per million path samples (the task's pixels x spp / 1e6).
    #[arg(long, env = "TESSERA_MIN_GWEI_PER_MSAMPLE")]
    pub min_gwei_per_msample: Option<f64>,
    /// Safety factor on the estimated render time when checking that a lease and the deadline are reachable.
    #[arg(long, env = "TESSERA_TIME_SAFETY")]
    pub time_safety: Option<f64>,
}

/// Flags of the verifier mode.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct VerifierArgs {
    /// Registry tickets to hold (each bonds `TICKET_STAKE` wei and backs one committee seat at a time);
    /// registered at start from free stake, the rest sent with the call (default 1).
    #[arg(long, env = "TESSERA_TICKETS")]
    pub tickets: Option<u64>,
    /// Forged fraction for which the detection probability is printed at start.
    #[arg(long, env = "TESSERA_VERIFY_FORGED_FRACTION")]
    pub forged_fraction: Option<f64>,
}

/// The TOML file: the same keys as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    rpc_url: Option<String>,
    deployment: Option<PathBuf>,
    indexer_url: Option<String>,
    ipfs_api: Option<String>,
    keystore: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    metrics_listen: Option<SocketAddr>,
    poll_ms: Option<u64>,
    backend: Option<String>,
    stake_target_wei: Option<u128>,
    withdraw_threshold_wei: Option<u128>,
    max_scene_bytes: Option<u64>,
    scene_fetch_s: Option<u64>,
    appeal: Option<bool>,
    max_appeal_bond_wei: Option<u128>,
    draw_grace_blocks: Option<u64>,
    renderers: Option<Vec<String>>,
    min_gwei_per_msample: Option<f64>,
    time_safety: Option<f64>,
    tickets: Option<u64>,
    forged_fraction: Option<f64>,
}

/// Resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Chain RPC URL.
    pub rpc_url: String,
    /// Deployment file.
    pub deployment: PathBuf,
    /// Indexer API, if any.
    pub indexer_url: Option<String>,
    /// Kubo RPC API.
    pub ipfs_api: String,
    /// Keystore file.
    pub keystore: PathBuf,
    /// Where the password comes from.
    pub password: PasswordSource,
    /// State store and outputs.
    pub data_dir: PathBuf,
    /// Metrics listener.
    pub metrics_listen: Option<SocketAddr>,
    /// Poll interval.
    pub poll: Duration,
    /// Backend choice.
    pub backend: tessera_render::BackendChoice,
    /// Stake kept bonded.
    pub stake_target_wei: u128,
    /// Withdrawal threshold.
    pub withdraw_threshold_wei: u128,
    /// Largest scene.
    pub max_scene_bytes: u64,
    /// Longest scene fetch.
    pub scene_fetch: Duration,
    /// Renderer ids rendered.
    pub renderers: Vec<String>,
    /// Minimum price.
    pub min_gwei_per_msample: f64,
    /// Render-time safety factor.
    pub time_safety: f64,
    /// Whether to appeal verdicts this daemon can show wrong.
    pub appeal: bool,
    /// Largest appeal bond paid.
    pub max_appeal_bond_wei: u128,
    /// Blocks past a seed block before drawing a committee this daemon is not on.
    pub draw_grace_blocks: u64,
    /// Registry tickets a verifier holds.
    pub tickets: u64,
    /// Forged fraction for the printed detection probability.
    pub forged_fraction: f64,
}

fn home_dir(rel: &str) -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from(rel), |h| PathBuf::from(h).join(rel))
}

impl Config {
    /// Merges file, environment and flags over the defaults.
    pub fn resolve(c: CommonArgs, w: WorkerArgs, v: VerifierArgs) -> Result<Self> {
        let f: FileConfig = match &c.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading config file {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("config file {} is not valid", p.display()))?
            }
            None => FileConfig::default(),
        };
        let backend = match c.backend.or(f.backend).as_deref().unwrap_or("auto") {
            "auto" => tessera_render::BackendChoice::Auto,
            "cpu" => tessera_render::BackendChoice::Cpu,
            "cuda" => tessera_render::BackendChoice::Cuda,
            other => bail!("backend {other:?}: expected auto, cpu or cuda"),
        };
        let password = match c.password_file {
            Some(p) => PasswordSource::File(p),
            None if std::env::var_os("TESSERA_KEYSTORE_PASSWORD").is_some() => {
                PasswordSource::Env("TESSERA_KEYSTORE_PASSWORD".into())
            }
            None => PasswordSource::Prompt,
        };
        let cfg = Self {
            rpc_url: c
                .rpc_url
                .or(f.rpc_url)
                .unwrap_or_else(|| "http://127.0.0.1:8545".into()),
            deployment: c
                .deployment
                .or(f.deployment)
                .context("no deployment file: pass --deployment deployments/<chainId>.json")?,
            indexer_url: c.indexer_url.or(f.indexer_url).filter(|u| !u.is_empty()),
            ipfs_api: c
                .ipfs_api
                .or(f.ipfs_api)
                .unwrap_or_else(|| "http://127.0.0.1:5001".into()),
            keystore: c
                .keystore
                .or(f.keystore)
                .unwrap_or_else(|| home_dir(".tessera/keystores/default.json")),
            password,
            data_dir: c
                .data_dir
                .or(f.data_dir)
                .unwrap_or_else(|| home_dir(".tessera/worker")),
            metrics_listen: c.metrics_listen.or(f.metrics_listen),
            poll: Duration::from_millis(c.poll_ms.or(f.poll_ms).unwrap_or(500).max(10)),
            backend,
            stake_target_wei: c.stake_target_wei.or(f.stake_target_wei).unwrap_or(0),
            withdraw_threshold_wei: c
                .withdraw_threshold_wei
                .or(f.withdraw_threshold_wei)
                .unwrap_or(10_000_000_000_000_000),
            max_scene_bytes: c.max_scene_bytes.or(f.max_scene_bytes).unwrap_or(256 << 20),
            scene_fetch: Duration::from_secs(
                c.scene_fetch_s.or(f.scene_fetch_s).unwrap_or(120).max(1),
            ),
            renderers: w
                .renderers
                .or(f.renderers)
                .unwrap_or_else(|| vec![tessera_render::RENDERER_ID.to_owned()]),
            min_gwei_per_msample: w
                .min_gwei_per_msample
                .or(f.min_gwei_per_msample)
                .unwrap_or(0.0),
            time_safety: w.time_safety.or(f.time_safety).unwrap_or(1.5),
            appeal: c.appeal.or(f.appeal).unwrap_or(true),
            max_appeal_bond_wei: c
                .max_appeal_bond_wei
                .or(f.max_appeal_bond_wei)
                .unwrap_or(1_000_000_000_000_000_000),
            draw_grace_blocks: c.draw_grace_blocks.or(f.draw_grace_blocks).unwrap_or(2),
            tickets: v.tickets.or(f.tickets).unwrap_or(1),
            forged_fraction: v.forged_fraction.or(f.forged_fraction).unwrap_or(0.10),
        };
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<()> {
        if !(self.min_gwei_per_msample.is_finite() && self.min_gwei_per_msample >= 0.0) {
            bail!("min_gwei_per_msample must be a non-negative number");
        }
        if !(self.time_safety.is_finite() && self.time_safety >= 1.0) {
            bail!("time_safety must be at least 1");
        }
        if self.tickets == 0 {
            bail!("tickets must be at least 1");
        }
        if !(self.forged_fraction > 0.0 && self.forged_fraction <= 1.0) {
            bail!("forged_fraction must be in (0, 1]");
        }
        if self.renderers.is_empty() {
            bail!("renderers must name at least one renderer id");
        }
        Ok(())
    }

    /// The local state store's path.
    pub fn store_path(&self, mode: &str) -> PathBuf {
        self.data_dir.join(format!("{mode}.redb"))
    }

    /// Where a task's outputs are written.
    pub fn outputs_dir(&self) -> PathBuf {
        self.data_dir.join("outputs")
    }

    /// The data dir, created.
    pub fn ensure_dirs(&self) -> Result<&Path> {
        std::fs::create_dir_all(self.outputs_dir())
            .with_context(|| format!("creating {}", self.data_dir.display()))?;
        Ok(&self.data_dir)
    }
}
