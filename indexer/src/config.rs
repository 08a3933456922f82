//! The indexer's configuration: defaults < config file (TOML) < `TESSERA_*` environment < flags.

use alloy::primitives::Address;
use clap::Parser;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Command-line flags (each also read from its `TESSERA_*` variable).
#[derive(Debug, Parser, Default)]
#[command(
    name = "tessera-indexer",
    version,
    about = "Indexes the DistributedRender contract into Postgres and serves the REST + live API"
)]
pub struct Flags {
    /// TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "TESSERA_INDEXER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Chain RPC: http(s):// (polled for heads) or ws(s):// (subscribed).
    #[arg(long, env = "TESSERA_RPC_URL")]
    pub rpc_url: Option<String>,
    /// Postgres URL. Prefer the environment: flags end up in shell history.
    #[arg(long, env = "TESSERA_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Deployment file written by the deploy script (gives the contract and its deployment block).
    #[arg(long, env = "TESSERA_DEPLOYMENT")]
    pub deployment: Option<PathBuf>,
    /// The DistributedRender contract (instead of --deployment).
    #[arg(long, env = "TESSERA_CONTRACT")]
    pub contract: Option<Address>,
    /// First block to index (instead of --deployment).
    #[arg(long, env = "TESSERA_DEPLOYMENT_BLOCK")]
    pub deployment_block: Option<u64>,
    /// Blocks behind the head at which records count as confirmed (default 12).
    #[arg(long, env = "TESSERA_CONFIRMATIONS")]
    pub confirmations: Option<u64>,
    /// Blocks behind the head followed one by one with undo images (default 64).
    #[arg(long, env = "TESSERA_REORG_DEPTH")]
    pub reorg_depth: Option<u64>,
    /// Head polling interval over HTTP, in milliseconds (default 100).
    #[arg(long, env = "TESSERA_POLL_INTERVAL_MS")]
    pub poll_interval_ms: Option<u64>,
    /// First eth_getLogs range in blocks (default 1); then sized to about one batch of logs (at most doubling), halved on refusal.
    #[arg(long, env = "TESSERA_LOG_RANGE")]
    pub log_range: Option<u64>,
    /// Largest eth_getLogs range in blocks (default 100000).
    #[arg(long, env = "TESSERA_MAX_LOG_RANGE")]
    pub max_log_range: Option<u64>,
    /// Check backfilled ranges against their blocks' logsBloom (default true; one header per block without
    /// logs of the contract): turn off only for a node you run yourself.
    #[arg(long, env = "TESSERA_CHECK_RANGES")]
    pub check_ranges: Option<bool>,
    /// RPC call timeout in milliseconds (default 10000).
    #[arg(long, env = "TESSERA_RPC_TIMEOUT_MS")]
    pub rpc_timeout_ms: Option<u64>,
    /// API listen address (default 127.0.0.1:8546).
    #[arg(long, env = "TESSERA_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Allowed browser origins, comma-separated; `*` for any (default: none).
    #[arg(long, env = "TESSERA_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Option<Vec<String>>,
    /// Readiness threshold: most blocks the index may lag the head (default reorg_depth + 16).
    #[arg(long, env = "TESSERA_MAX_LAG")]
    pub max_lag: Option<u64>,
    /// Database connections (default 16).
    #[arg(long, env = "TESSERA_DB_CONNECTIONS")]
    pub db_connections: Option<u32>,
    /// Most API connections open at once, live streams included; more wait in the listen backlog (default 1024).
    #[arg(long, env = "TESSERA_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Seconds a client has to send a request's headers, and an idle keep-alive connection stays open (default 10).
    #[arg(long, env = "TESSERA_HEADER_TIMEOUT_S")]
    pub header_timeout_s: Option<u64>,
    /// Most live streams (/v1/stream) open at once; more are answered 503 (default 256, at most max_connections / 2).
    #[arg(long, env = "TESSERA_MAX_STREAMS")]
    pub max_streams: Option<usize>,
    /// Log format: text or json (default text).
    #[arg(long, env = "TESSERA_LOG_FORMAT")]
    pub log_format: Option<String>,
}

/// The config file's keys (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    rpc_url: Option<String>,
    database_url: Option<String>,
    deployment: Option<PathBuf>,
    contract: Option<Address>,
    deployment_block: Option<u64>,
    confirmations: Option<u64>,
    reorg_depth: Option<u64>,
    poll_interval_ms: Option<u64>,
    log_range: Option<u64>,
    max_log_range: Option<u64>,
    check_ranges: Option<bool>,
    rpc_timeout_ms: Option<u64>,
    listen: Option<SocketAddr>,
    cors_origins: Option<Vec<String>>,
    max_lag: Option<u64>,
    db_connections: Option<u32>,
    max_connections: Option<usize>,
    header_timeout_s: Option<u64>,
    max_streams: Option<usize>,
    log_format: Option<String>,
}

/// Where the contract is.
#[derive(Debug, Clone)]
pub enum Target {
    /// From a deployment file.
    Deployment(PathBuf),
    /// Given directly.
    Address {
        /// Contract.
        contract: Address,
        /// First block.
        deployment_block: u64,
    },
}

/// The resolved configuration.
#[derive(Clone)]
pub struct Config {
    /// Chain RPC URL.
    pub rpc_url: String,
    /// Postgres URL (secret: redacted in `Debug`).
    pub database_url: String,
    /// The contract.
    pub target: Target,
    /// Confirmations.
    pub confirmations: u64,
    /// Reorg depth followed block by block.
    pub reorg_depth: u64,
    /// Head polling interval.
    pub poll_interval: Duration,
    /// First log range.
    pub log_range: u64,
    /// Largest log range.
    pub max_log_range: u64,
    /// Whether backfilled ranges are checked against their blocks' blooms.
    pub check_ranges: bool,
    /// RPC timeout.
    pub rpc_timeout: Duration,
    /// API address.
    pub listen: SocketAddr,
    /// CORS origins.
    pub cors_origins: Vec<String>,
    /// Readiness threshold.
    pub max_lag: u64,
    /// Pool size.
    pub db_connections: u32,
    /// API connection limits.
    pub serve: crate::api::ServeLimits,
    /// `text` or `json`.
    pub log_format: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("rpc_url", &self.rpc_url)
            .field("database_url", &"<redacted>")
            .field("target", &self.target)
            .field("confirmations", &self.confirmations)
            .field("reorg_depth", &self.reorg_depth)
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

/// Configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("reading config file {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML for these settings.
    #[error("config file {path}: {source}")]
    Parse {
        /// File.
        path: PathBuf,
        /// Why.
        #[source]
        source: toml::de::Error,
    },
    /// A required setting is missing.
    #[error("{0} is required (flag, TESSERA_* variable or config file)")]
    Missing(&'static str),
    /// A setting is out of range.
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Merges flags (with env) over the config file over defaults.
    pub fn resolve(flags: Flags) -> Result<Self, ConfigError> {
        let file = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.clone(),
                    source,
                })?
            }
            None => File::default(),
        };
        let rpc_url = flags
            .rpc_url
            .or(file.rpc_url)
            .ok_or(ConfigError::Missing("rpc_url"))?;
        let database_url = flags
            .database_url
            .or(file.database_url)
            .ok_or(ConfigError::Missing("database_url"))?;
        let target = match (
            flags.deployment.or(file.deployment),
            flags.contract.or(file.contract),
            flags.deployment_block.or(file.deployment_block),
        ) {
            (_, Some(contract), Some(deployment_block)) => Target::Address {
                contract,
                deployment_block,
            },
            (Some(path), _, _) => Target::Deployment(path),
            (None, Some(_), None) => {
                return Err(ConfigError::Missing("deployment_block (with contract)"));
            }
            _ => {
                return Err(ConfigError::Missing(
                    "deployment (or contract and deployment_block)",
                ));
            }
        };
        let reorg_depth = flags.reorg_depth.or(file.reorg_depth).unwrap_or(64);
        let confirmations = flags.confirmations.or(file.confirmations).unwrap_or(12);
        if reorg_depth == 0 || reorg_depth > 10_000 {
            return Err(ConfigError::Invalid(format!(
                "reorg_depth must be 1..=10000, got {reorg_depth}"
            )));
        }
        let log_range = flags.log_range.or(file.log_range).unwrap_or(1).max(1);
        let max_log_range = flags
            .max_log_range
            .or(file.max_log_range)
            .unwrap_or(100_000)
            .max(log_range);
        let log_format = flags
            .log_format
            .or(file.log_format)
            .unwrap_or_else(|| "text".into());
        if log_format != "text" && log_format != "json" {
            return Err(ConfigError::Invalid(format!(
                "log_format must be text or json, got {log_format:?}"
            )));
        }
        Ok(Self {
            rpc_url,
            database_url,
            target,
            confirmations,
            reorg_depth,
            poll_interval: Duration::from_millis(
                flags
                    .poll_interval_ms
                    .or(file.poll_interval_ms)
                    .unwrap_or(100)
                    .max(1),
            ),
            log_range,
            max_log_range,
            check_ranges: flags.check_ranges.or(file.check_ranges).unwrap_or(true),
            rpc_timeout: Duration::from_millis(
                flags
                    .rpc_timeout_ms
                    .or(file.rpc_timeout_ms)
                    .unwrap_or(10_000)
                    .max(1),
            ),
            listen: flags
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8546))),
            cors_origins: flags.cors_origins.or(file.cors_origins).unwrap_or_default(),
            max_lag: flags.max_lag.or(file.max_lag).unwrap_or(reorg_depth + 16),
            db_connections: flags
                .db_connections
                .or(file.db_connections)
                .unwrap_or(16)
                .max(2),
            serve: {
                let max_connections = flags
                    .max_connections
                    .or(file.max_connections)
                    .unwrap_or(1024)
                    .max(2);
                crate::api::ServeLimits {
                    max_connections,
                    header_timeout: Duration::from_secs(
                        flags
                            .header_timeout_s
                            .or(file.header_timeout_s)
                            .unwrap_or(10)
                            .max(1),
                    ),
                    max_streams: flags
                        .max_streams
                        .or(file.max_streams)
                        .unwrap_or(256)
                        .clamp(1, max_connections / 2),
                }
            },
            log_format,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_defaults_fill_the_rest() {
        let dir =
            std::env::temp_dir().join(format!("tessera-indexer-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("indexer.toml");
        std::fs::write(
            &path,
            "rpc_url = \"http://file\"\ndatabase_url = \"postgres://secret@db/x\"\ncontract = \"0x0000000000000000000000000000000000000001\"\ndeployment_block = 5\nconfirmations = 3\n",
        )
        .unwrap();
        let cfg = Config::resolve(Flags {
            config: Some(path.clone()),
            rpc_url: Some("ws://flag".into()),
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(cfg.rpc_url, "ws://flag");
        assert_eq!(cfg.confirmations, 3);
        assert_eq!(cfg.reorg_depth, 64);
        assert!(matches!(
            cfg.target,
            Target::Address {
                deployment_block: 5,
                ..
            }
        ));
        assert!(
            !format!("{cfg:?}").contains("secret"),
            "Debug must redact the database URL"
        );

        std::fs::write(&path, "rpc_urll = \"typo\"\n").unwrap();
        let err = Config::resolve(Flags {
            config: Some(path),
            ..Flags::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("rpc_urll"), "{err}");

        let err = Config::resolve(Flags {
            rpc_url: Some("http://x".into()),
            ..Flags::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("database_url"), "{err}");
    }
}
