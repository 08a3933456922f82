//! tessera-indexer mirrors every event of the `DistributedRender` contract into Postgres, exactly once,
//! through reorgs and crashes, and serves it to dApps, dashboards, the CLI and workers.
//!
//! Data flows through the modules in this order: [`chain`] reads heads, headers and logs from the RPC;
//! [`events`] decodes logs through the bindings; [`sync`] drives backfill, the live tail and reorg rollback;
//! [`project`] applies events to the projection rows ([`model`]); [`store`] holds all SQL and commits each
//! batch — logs, projections, block hashes, undo images and cursor — in one transaction; [`api`] serves
//! the REST and live API with finality on every answer. [`config`] and [`metrics`] serve the binary.

pub mod api;
pub mod chain;
pub mod config;
pub mod events;
pub mod metrics;
pub mod model;
pub mod project;
pub mod store;
pub mod sync;

use crate::api::{AppState, HttpConfig};
use crate::chain::Chain;
use crate::config::{Config, Target};
use crate::metrics::Metrics;
use crate::sync::{SyncConfig, Syncer};
use anyhow::{Context, Result, bail};
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{Executor, PgPool};
use std::time::Duration;
use tokio::sync::watch;
use tracing::{info, warn};

/// Advisory lock key held by the one indexer that writes to a database.
const WRITER_LOCK: i64 = 0x0074_6573_7365_7261; // "tessera"

/// Connects to Postgres, retrying with backoff (the database may start after the indexer).
pub async fn connect_db(
    url: &str,
    connections: u32,
    shutdown: &watch::Receiver<bool>,
) -> Result<PgPool> {
    let mut failures = 0;
    loop {
        match PgPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
        {
            Ok(pool) => return Ok(pool),
            Err(e) => {
                failures += 1;
                let wait = sync::backoff(failures, Duration::from_secs(10));
                warn!(target: "indexer::store", error = %e, retry_in = ?wait, "database unreachable");
                if *shutdown.borrow() {
                    bail!("shut down while waiting for the database: {e}");
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}

async fn connect_chain(
    cfg: &Config,
    contract: alloy::primitives::Address,
    shutdown: &watch::Receiver<bool>,
) -> Result<Chain> {
    let mut failures = 0;
    loop {
        let attempt = async {
            let chain = Chain::connect(&cfg.rpc_url, contract, cfg.rpc_timeout).await?;
            let id = chain.chain_id().await?;
            Ok::<_, chain::ChainError>((chain, id))
        };
        match attempt.await {
            Ok((chain, _)) => return Ok(chain),
            Err(e) => {
                failures += 1;
                let wait = sync::backoff(failures, Duration::from_secs(10));
                warn!(target: "indexer::chain", error = %e, retry_in = ?wait, "RPC unreachable");
                if *shutdown.borrow() {
                    bail!("shut down while waiting for the RPC: {e}");
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// What the API learns from Postgres notifications.
#[derive(Debug, Clone)]
pub struct Notifications {
    /// Newest feed sequence number committed (wakes the live streams).
    pub feed: watch::Receiver<i64>,
    /// Bumped on every committed change of the sync state; `None` while the listener is not connected (then
    /// nothing can be known to be fresh).
    pub state_version: watch::Receiver<Option<u64>>,
}

/// Listens for feed and sync-state notifications (reconnecting on failure) until the pool closes.
pub fn spawn_listener(pool: PgPool) -> Notifications {
    let (feed_tx, feed) = watch::channel(0i64);
    let (version_tx, state_version) = watch::channel(None);
    tokio::spawn(async move {
        let mut version = 0u64;
        while !pool.is_closed() {
            let connected = async {
                let mut l = PgListener::connect_with(&pool).await?;
                l.listen_all([store::FEED_CHANNEL, store::STATE_CHANNEL])
                    .await?;
                Ok::<_, sqlx::Error>(l)
            };
            let mut listener = match connected.await {
                Ok(l) => l,
                Err(e) => {
                    warn!(target: "indexer::api", error = %e, "notification listener: connect failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            // Anything may have changed while disconnected.
            version += 1;
            version_tx.send_replace(Some(version));
            feed_tx.send_modify(|_| {});
            loop {
                match listener.recv().await {
                    Ok(n) if n.channel() == store::FEED_CHANNEL => {
                        feed_tx.send_replace(n.payload().parse().unwrap_or(i64::MAX));
                    }
                    Ok(_) => {
                        version += 1;
                        version_tx.send_replace(Some(version));
                    }
                    Err(e) => {
                        warn!(target: "indexer::api", error = %e, "notification listener: connection lost");
                        version_tx.send_replace(None);
                        // Wake streams so they re-read the feed, then reconnect.
                        feed_tx.send_modify(|_| {});
                        break;
                    }
                }
            }
        }
    });
    Notifications {
        feed,
        state_version,
    }
}

/// Runs the indexer until SIGINT/SIGTERM.
pub async fn run(cfg: Config) -> Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        info!(target: "indexer", "shutting down");
        let _ = stop_tx.send(true);
    });

    let pool = connect_db(&cfg.database_url, cfg.db_connections, &stop_rx).await?;
    store::migrate(&pool)
        .await
        .context("running database migrations")?;

    let (contract, deployment_block, expected_chain) = match &cfg.target {
        Target::Address {
            contract,
            deployment_block,
        } => (*contract, *deployment_block, None),
        Target::Deployment(path) => {
            let d = tessera_bindings::Deployment::load(path)
                .with_context(|| format!("reading deployment file {}", path.display()))?;
            (d.distributed_render, d.deployment_block, Some(d.chain_id))
        }
    };
    let chain = connect_chain(&cfg, contract, &stop_rx).await?;
    let chain_id = chain.chain_id().await.context("reading the chain id")?;
    if let Some(expected) = expected_chain
        && expected != chain_id
    {
        bail!("the deployment file is for chain {expected} but the RPC serves chain {chain_id}");
    }
    let chain_id = i64::try_from(chain_id).context("chain id out of range")?;
    let deployment_block =
        i64::try_from(deployment_block).context("deployment block out of range")?;
    let confirmations = i64::try_from(cfg.confirmations).context("confirmations out of range")?;
    store::init_state(&pool, chain_id, contract, deployment_block, confirmations).await?;
    info!(target: "indexer", chain_id, contract = %contract, deployment_block, "indexing");

    let metrics = Metrics::default();

    // One writer per database: the advisory lock lives as long as this connection.
    let sync_cfg = SyncConfig {
        confirmations,
        reorg_depth: i64::try_from(cfg.reorg_depth).unwrap_or(64),
        poll_interval: cfg.poll_interval,
        initial_range: i64::try_from(cfg.log_range).unwrap_or(1),
        max_range: i64::try_from(cfg.max_log_range).unwrap_or(100_000),
        check_ranges: cfg.check_ranges,
        ..SyncConfig::default()
    };
    let syncer = Syncer::new(chain, pool.clone(), sync_cfg, metrics.clone(), chain_id);
    let (lock_pool, sync_stop) = (pool.clone(), stop_rx.clone());
    let sync_task = tokio::spawn(async move {
        let mut conn = loop {
            match lock_pool.acquire().await {
                Ok(mut c) => {
                    let got: Result<bool, _> =
                        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                            .bind(WRITER_LOCK)
                            .fetch_one(&mut *c)
                            .await;
                    if matches!(got, Ok(true)) {
                        break c;
                    }
                    info!(target: "indexer::sync", "another indexer writes to this database; serving the API only until it stops");
                }
                Err(e) => warn!(target: "indexer::sync", error = %e, "acquiring the writer lock"),
            }
            if *sync_stop.borrow() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        };
        syncer.run(sync_stop).await;
        let _ = conn.execute("SELECT pg_advisory_unlock_all()").await;
    });

    let mut state = AppState::new(
        pool.clone(),
        metrics,
        i64::try_from(cfg.max_lag).unwrap_or(i64::MAX),
    );
    state.streams = std::sync::Arc::new(tokio::sync::Semaphore::new(cfg.serve.max_streams));
    let http = HttpConfig {
        cors_origins: cfg.cors_origins.clone(),
        request_timeout: Duration::from_secs(10),
    };
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding the API to {}", cfg.listen))?;
    info!(target: "indexer::api", listen = %listener.local_addr()?, "serving the API");
    let mut api_stop = stop_rx.clone();
    api::serve(listener, api::app(state, &http), cfg.serve, async move {
        let _ = api_stop.wait_for(|s| *s).await;
    })
    .await
    .context("serving the API")?;
    let _ = sync_task.await;
    pool.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
