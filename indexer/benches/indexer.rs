//! Indexer benchmarks on a real anvil and the private Postgres cluster (`scripts/bench-indexer.sh` runs them
//! all and installs wrk):
//!
//! - `backfill [--events N] [--runs R] [--blocks large|ordinary|both]`: fills anvil with ≥ N contract events
//!   (claims in batches, a result per task, an artist acceptance per eighth task), then times R backfills from
//!   scratch (each into a fresh database) with production settings: events/s end to end, the write stage
//!   (batch commits), and the CPU time the indexer, Postgres and anvil spent; the median run. Two histories:
//!   `large` packs the events into a few blocks of a 2-billion-gas limit (thousands of transactions each),
//!   `ordinary` into blocks of mainnet's 30-million-gas limit (about 200 transactions each).
//! - The peer, **Ponder** (`benches/ponder`: a Ponder 0.16 project whose handlers keep the same tables as
//!   `src/project.rs`), runs on the identical history in the same run, into a fresh database each time: a cold
//!   backfill (its RPC cache empty), then a replay from the RPC cache it filled (a second schema in the same
//!   database), each timed from the process start to `/ready` (the start-up share, to `/health`, is reported
//!   apart). Both must end with the same number of event rows. `--no-peer` skips it; it runs only where
//!   `benches/ponder/node_modules` is installed (`scripts/bench-indexer.sh` installs it).
//! - `api [--tasks N] [--seconds S]`: indexes N tasks (1,000-task jobs, a tenth of each claimed), serves the
//!   API over loopback and drives it with wrk: requests/s and latency percentiles for job detail (random
//!   jobs) and the job list.
//! - `latency [--samples N]`: the indexer follows anvil over WebSocket; each sample sends a transaction
//!   (anvil mines it before answering `eth_sendRawTransaction`) and measures, from that answer, until its event
//!   row is visible in Postgres (polled every millisecond) and until it arrives on `/v1/stream` over HTTP:
//!   p50, p99 and max. Ponder then follows the same anvil over WebSocket and is measured the same way (its
//!   event row visible in Postgres).
//!
//! `cargo bench -p tessera-indexer --bench indexer -- backfill --events 100000`
// Percentiles and rates are reporting arithmetic on small positive numbers.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use anyhow::{Context, Result, bail, ensure};
use futures::StreamExt;
use std::time::{Duration, Instant};
use tessera_bindings::IDistributedRenderTypes::{JobSpec, RenderSettings};
use tessera_devnet::{Actor, DeployParams, Devnet, escrow, job_spec, mined, register_verifier};
use tessera_indexer::api::{self, AppState, HttpConfig};
use tessera_indexer::chain::Chain;
use tessera_indexer::metrics::Metrics;
use tessera_indexer::store;
use tessera_indexer::sync::{SyncConfig, Syncer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::watch;

fn arg(args: &[String], name: &str, default: u64) -> Result<u64> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .context("missing value")?
            .parse()
            .with_context(|| format!("{name} must be a number")),
        None => Ok(default),
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    // RUST_LOG=indexer::sync=debug shows what the indexer does while it is measured.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let peer = !args.iter().any(|a| a == "--no-peer");
    if peer && !ponder::installed() {
        println!(
            "peer: Ponder is not installed in {} (npm ci there, or scripts/bench-indexer.sh): measuring tessera-indexer alone",
            ponder::dir().display()
        );
    }
    let peer = peer && ponder::installed();
    let blocks = match args.iter().position(|a| a == "--blocks") {
        Some(i) => args.get(i + 1).map(String::as_str).unwrap_or_default(),
        None => "both",
    };
    let histories: &[Blocks] = match blocks {
        "large" => &[Blocks::Large],
        "ordinary" => &[Blocks::Ordinary],
        "both" => &[Blocks::Large, Blocks::Ordinary],
        other => bail!("--blocks must be large, ordinary or both, not {other:?}"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let what = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map_or("all", String::as_str);
    rt.block_on(async {
        if matches!(what, "backfill" | "all") {
            for blocks in histories {
                backfill(
                    arg(&args, "--events", 100_000)?,
                    arg(&args, "--runs", 1)?,
                    *blocks,
                    peer,
                )
                .await?;
            }
        }
        if matches!(what, "latency" | "all") {
            latency(arg(&args, "--samples", 50)?, peer).await?;
        }
        if matches!(what, "api" | "all") {
            api_bench(arg(&args, "--tasks", 1_000_000)?, arg(&args, "--seconds", 20)?).await?;
        }
        if !matches!(what, "backfill" | "api" | "latency" | "all") {
            bail!("usage: indexer [backfill|api|latency|all] [--events N] [--runs R] [--blocks large|ordinary|both] [--tasks N] [--seconds S] [--samples N] [--no-peer]");
        }
        Ok(())
    })
}

/// How a history's events are packed into blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blocks {
    /// A 2-billion-gas limit: thousands of transactions per block.
    Large,
    /// Mainnet's 30-million-gas limit: about 200 results per block.
    Ordinary,
}

impl Blocks {
    fn gas_limit(self) -> &'static str {
        match self {
            Self::Large => "2000000000",
            Self::Ordinary => "30000000",
        }
    }

    /// Tasks per `claimTasks` transaction.
    fn claim_batch(self) -> u32 {
        match self {
            Self::Large => 500,
            Self::Ordinary => 50,
        }
    }
}

/// A market on a devnet with a fixed base fee (so that it stays put while thousands of transactions share a
/// block).
struct Market {
    dev: Devnet,
    market: Address,
    deployment_block: u64,
}

/// The ticket stake the benchmark deploys with (1 ETH).
fn d_ticket() -> U256 {
    U256::from(10u64).pow(U256::from(18u64))
}

impl Market {
    async fn start(blocks: Blocks) -> Result<Self> {
        // No reorgs here: anvil keeps no old states (with them, a 100k-event fill holds ~6 GB).
        let dev = Devnet::start_with(&[
            "--gas-limit",
            blocks.gas_limit(),
            "--base-fee",
            "1",
            "--prune-history",
        ])
        .await?;
        let d = dev
            .deploy(DeployParams {
                ticket_stake: d_ticket(),
                ..DeployParams::default()
            })
            .await?;
        let deployment_block = d.deployment_block;
        // Jobs need a ticket in the registry for their first committee.
        register_verifier(&dev.verifier, d.distributed_render, 1, d_ticket()).await?;
        let market = d.distributed_render;
        mined(
            dev.worker
                .market(market)
                .stake()
                .value(U256::from(10u64).pow(U256::from(20u64))),
        )
        .await?;
        Ok(Self {
            dev,
            market,
            deployment_block,
        })
    }

    fn spec(tasks: u32) -> JobSpec {
        let base = job_spec(tasks, 1_000_000_000, 1_000_000_000, 4_000_000_000);
        JobSpec {
            settings: RenderSettings {
                width: 1920,
                height: 1080,
                samplesPerPixel: 64,
                maxBounces: 8,
                ..base.settings
            },
            leaseDuration: 86_400,
            challengeWindow: 3600,
            ..base
        }
    }

    /// Sends transactions from one actor with explicit nonces, gas and fees (no per-transaction estimates),
    /// 64 in flight, then mines until the pool is empty. Automine is off meanwhile: with it on, anvil queues a
    /// mining request per transaction and, long after the pool is empty, goes on mining one empty block per
    /// request, each recomputing the market's whole storage root (a core busy for minutes after a 100k-event
    /// fill, competing with the indexer and Postgres being measured).
    async fn flood(&self, from: &Actor, txs: Vec<(TransactionRequest, u64)>) -> Result<()> {
        self.dev
            .rpc("evm_setAutomine", serde_json::json!([false]))
            .await?;
        let mut nonce = from.provider.get_transaction_count(from.address).await?;
        let chain_id = self.dev.chain_id;
        let reqs: Vec<TransactionRequest> = txs
            .into_iter()
            .map(|(tx, gas)| {
                let tx = tx
                    .with_from(from.address)
                    .with_nonce(nonce)
                    .with_chain_id(chain_id)
                    .with_gas_limit(gas)
                    .with_max_fee_per_gas(100_000_000_000)
                    .with_max_priority_fee_per_gas(0);
                nonce += 1;
                tx
            })
            .collect();
        let p = from.provider.clone();
        let mut sent = futures::stream::iter(reqs).map(|r| {
            let p = p.clone();
            async move { p.send_transaction(r).await.map(|_| ()) }
        });
        let mut inflight = (&mut sent).buffer_unordered(64);
        while let Some(r) = inflight.next().await {
            r?;
        }
        loop {
            self.dev.mine(1).await?;
            let status = self.dev.rpc("txpool_status", serde_json::json!([])).await?;
            let n = |k: &str| {
                status[k].as_str().map_or(0, |s| {
                    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or(0)
                })
            };
            if n("pending") + n("queued") == 0 {
                break;
            }
        }
        self.dev
            .rpc("evm_setAutomine", serde_json::json!([true]))
            .await?;
        Ok(())
    }

    async fn post_jobs(&self, jobs: u32, tasks: u32) -> Result<()> {
        let escrow = escrow(&Self::spec(tasks));
        let m = self.dev.artist.market(self.market);
        let txs = (0..jobs)
            .map(|_| {
                (
                    m.submitRenderJob(Self::spec(tasks))
                        .value(escrow)
                        .into_transaction_request(),
                    400_000,
                )
            })
            .collect();
        self.flood(&self.dev.artist, txs).await
    }

    async fn claim(
        &self,
        job: u64,
        tasks: std::ops::Range<u32>,
        batch: u32,
    ) -> Result<Vec<(TransactionRequest, u64)>> {
        let m = self.dev.worker.market(self.market);
        let all: Vec<u32> = tasks.collect();
        Ok(all
            .chunks(batch as usize)
            .map(|c| {
                (
                    m.claimTasks(U256::from(job), c.to_vec())
                        .into_transaction_request(),
                    60_000 + 40_000 * c.len() as u64,
                )
            })
            .collect())
    }
}

/// Drops a benchmark's database and checkpoints the cluster, so that the next run does not pay for writing out
/// the pages the last one dirtied (with back-to-back runs, each ran ~30% slower than the one before).
async fn drop_and_checkpoint(url: &str) -> Result<()> {
    use sqlx::Connection;
    let name = url.rsplit('/').next().context("database URL")?;
    ensure!(
        name.starts_with("bench_"),
        "not a benchmark database: {name}"
    );
    let mut admin = sqlx::PgConnection::connect(&tessera_devnet::postgres::cluster_url()?).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    sqlx::query("CHECKPOINT").execute(&mut admin).await?;
    Ok(())
}

/// A migrated fresh database: its pool and URL.
async fn indexer_db() -> Result<(sqlx::PgPool, String)> {
    let url = tessera_devnet::postgres::fresh_database("bench").await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect(&url)
        .await?;
    store::migrate(&pool).await?;
    Ok((pool, url))
}

/// Backfills `m` into a fresh database with production settings; returns (events, seconds, commit seconds).
async fn time_backfill(m: &Market, pool: &sqlx::PgPool) -> Result<(i64, f64, f64)> {
    let chain = Chain::connect(&m.dev.endpoint(), m.market, Duration::from_secs(30)).await?;
    let chain_id = i64::try_from(m.dev.chain_id)?;
    store::init_state(
        pool,
        chain_id,
        m.market,
        i64::try_from(m.deployment_block)?,
        12,
    )
    .await?;
    let metrics = Metrics::default();
    let head = i64::try_from(m.dev.head().await?.0)?;
    let (stop, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let task = tokio::spawn(
        Syncer::new(
            chain,
            pool.clone(),
            SyncConfig::default(),
            metrics.clone(),
            chain_id,
        )
        .run(stop_rx),
    );
    let ranges_end = head - SyncConfig::default().reorg_depth;
    let mut ranges_done = None;
    loop {
        let indexed = store::state(pool).await?.indexed_block;
        if indexed >= ranges_end && ranges_done.is_none() {
            ranges_done = Some(started.elapsed().as_secs_f64());
        }
        if indexed >= head {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "backfill: ranges done after {:.2} s, then the last {} blocks one by one",
        ranges_done.unwrap_or(secs),
        SyncConfig::default().reorg_depth
    );
    let _ = stop.send(true);
    task.await?;
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM logs")
        .fetch_one(pool)
        .await?;
    Ok((events, secs, metrics.commit_seconds.get()))
}

/// CPU seconds (user + system) used so far by the live processes whose command name is `comm` ("self" for this
/// process), from `/proc` (Linux's USER_HZ is 100).
fn cpu_seconds(comm: &str) -> f64 {
    let ticks = |stat: &str| -> Option<u64> {
        // Fields after the ")" that closes the command name: state is the 3rd field, utime the 14th.
        let rest = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    };
    if comm == "self" {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        return ticks(&stat).unwrap_or(0) as f64 / 100.0;
    }
    let mut total = 0u64;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let dir = entry.path();
        if std::fs::read_to_string(dir.join("comm")).is_ok_and(|c| c.trim() == comm) {
            let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
            total += ticks(&stat).unwrap_or(0);
        }
    }
    total as f64 / 100.0
}

async fn backfill(target: u64, runs: u64, blocks: Blocks, peer: bool) -> Result<()> {
    // Per task: one claim (batched), one result, and for every eighth task an acceptance (TaskPaid and three
    // balance credits): 2.5 events per task.
    let tasks_total = u32::try_from(target * 2 / 5 + 1)?;
    let per_job = 10_000u32.min(tasks_total);
    let jobs = tasks_total.div_ceil(per_job);
    let m = Market::start(blocks).await?;
    let t0 = Instant::now();
    m.post_jobs(jobs, per_job).await?;
    let worker = m.dev.worker.market(m.market);
    let artist = m.dev.artist.market(m.market);
    for job in 1..=u64::from(jobs) {
        let claims = m.claim(job, 0..per_job, blocks.claim_batch()).await?;
        m.flood(&m.dev.worker, claims).await?;
        let results = (0..per_job)
            .map(|t| {
                let root = alloy::primitives::keccak256(format!("{job}/{t}"));
                (
                    worker
                        .submitResult(
                            U256::from(job),
                            U256::from(t),
                            format!("bafyoutput{job}x{t}"),
                            root,
                        )
                        .into_transaction_request(),
                    150_000,
                )
            })
            .collect();
        m.flood(&m.dev.worker, results).await?;
        let accepts = (0..per_job)
            .step_by(8)
            .map(|t| {
                (
                    artist
                        .acceptTask(U256::from(job), U256::from(t))
                        .into_transaction_request(),
                    200_000,
                )
            })
            .collect();
        m.flood(&m.dev.artist, accepts).await?;
    }
    // Bury the history below the block-by-block window so that it is a backfill.
    m.dev.mine(100).await?;
    let fill = t0.elapsed().as_secs_f64();
    let history = format!("{blocks:?} blocks").to_lowercase();
    let head = i64::try_from(m.dev.head().await?.0)?;
    println!(
        "backfill ({history}): {tasks_total} tasks in {jobs} jobs, {} blocks; chain filled in {fill:.1} s",
        head - i64::try_from(m.deployment_block)?
    );
    {
        // The RPC's share: one eth_getLogs of the whole history, as the backfill's first range asks it.
        let chain = Chain::connect(&m.dev.endpoint(), m.market, Duration::from_secs(30)).await?;
        let cpu0 = [cpu_seconds("self"), cpu_seconds("anvil")];
        let t = Instant::now();
        let logs = chain
            .logs_range(i64::try_from(m.deployment_block)?, head)
            .await?;
        let cpu1 = [cpu_seconds("self"), cpu_seconds("anvil")];
        println!(
            "backfill ({history}): eth_getLogs of all {} logs in {:.2} s (CPU s: client {:.2}, anvil {:.2})",
            logs.len(),
            t.elapsed().as_secs_f64(),
            cpu1[0] - cpu0[0],
            cpu1[1] - cpu0[1]
        );
        // Nothing else may compete for the cores: anvil must be idle once the fill is done.
        let a0 = cpu_seconds("anvil");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let idle = cpu_seconds("anvil") - a0;
        ensure!(
            idle < 0.2,
            "anvil used {idle:.2} CPU s in 2 s after the fill: it is still busy"
        );
    }
    let mut ours = Vec::new();
    let (mut cold, mut replay, mut replay_started) = (Vec::new(), Vec::new(), Vec::new());
    let mut indexed = 0;
    // The two indexers alternate, so that a slow phase of the machine does not favour one of them.
    for run in 1..=runs {
        let (pool, url) = indexer_db().await?;
        sqlx::query("CHECKPOINT").execute(&pool).await?;
        let cpu = || ["self", "postgres", "anvil"].map(cpu_seconds);
        let before = cpu();
        let (events, secs, commit) = time_backfill(&m, &pool).await?;
        let after = cpu();
        pool.close().await;
        drop_and_checkpoint(&url).await?;
        ensure!(
            u64::try_from(events)? >= target,
            "only {events} events were produced"
        );
        indexed = events;
        println!(
            "backfill ({history}) run {run}: tessera-indexer {events} events in {secs:.2} s end to end = {:.0} \
             events/s; write stage (batch commits) {commit:.2} s = {:.0} events/s; CPU s: indexer {:.2}, \
             postgres {:.2}, anvil {:.2}",
            events as f64 / secs,
            events as f64 / commit,
            after[0] - before[0],
            after[1] - before[1],
            after[2] - before[2],
        );
        ours.push(events as f64 / secs);
        if peer {
            let (from_start, after_start) = ponder::backfill(&m, &history, run, events).await?;
            cold.push(from_start[0]);
            replay.push(from_start[1]);
            replay_started.push(after_start[1]);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ours = median(&mut ours);
    println!(
        "backfill ({history}): tessera-indexer median of {runs} runs = {ours:.0} events/s end to end ({indexed} events)"
    );
    if peer {
        let (cold, replay) = (median(&mut cold), median(&mut replay));
        let started = median(&mut replay_started);
        println!(
            "backfill ({history}): Ponder median of {runs} runs = {cold:.0} events/s cold, {replay:.0} events/s \
             replaying its RPC cache ({started:.0} events/s counted from its /health, start-up left out); \
             tessera-indexer is {:.1}x Ponder cold and {:.1}x its cache replay ({:.1}x with Ponder's start-up \
             left out; tessera-indexer's clock starts at its sync loop, after connecting and migrating)",
            ours / cold,
            ours / replay,
            ours / started
        );
    }
    Ok(())
}

async fn serve(pool: sqlx::PgPool, metrics: Metrics) -> Result<std::net::SocketAddr> {
    let state = AppState::new(pool, metrics, 1_000);
    let app = api::app(
        state,
        &HttpConfig {
            cors_origins: vec![],
            request_timeout: Duration::from_secs(10),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

fn wrk(url: &str, script: Option<&str>, seconds: u64) -> Result<(f64, String, String)> {
    let mut cmd = std::process::Command::new("wrk");
    cmd.args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency"]);
    let dir = std::env::temp_dir().join(format!("tessera-wrk-{}", std::process::id()));
    if let Some(lua) = script {
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("script.lua");
        std::fs::write(&path, lua)?;
        cmd.arg("-s").arg(path);
    }
    let out = cmd
        .arg(url)
        .output()
        .context("running wrk (scripts/bench-indexer.sh installs it)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
            .unwrap_or_default()
    };
    let rps: f64 = field("Requests/sec:").parse().unwrap_or(0.0);
    let non2xx = field("Non-2xx or 3xx responses:");
    ensure!(
        non2xx.is_empty(),
        "wrk saw {non2xx} error responses:\n{text}"
    );
    Ok((rps, field("50%"), field("99%")))
}

async fn api_bench(tasks: u64, seconds: u64) -> Result<()> {
    let per_job = 1_000u32;
    let jobs = u32::try_from(tasks.div_ceil(u64::from(per_job)))?;
    let m = Market::start(Blocks::Large).await?;
    let t0 = Instant::now();
    m.post_jobs(jobs, per_job).await?;
    let mut claims = Vec::new();
    for job in 1..=u64::from(jobs) {
        claims.extend(m.claim(job, 0..per_job / 10, 100).await?);
    }
    m.flood(&m.dev.worker, claims).await?;
    m.dev.mine(100).await?;
    let fill = t0.elapsed().as_secs_f64();
    let (pool, _) = indexer_db().await?;
    let (events, secs, commit) = time_backfill(&m, &pool).await?;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks")
        .fetch_one(&pool)
        .await?;
    println!(
        "api: {rows} tasks in {jobs} jobs indexed ({events} events, chain filled in {fill:.1} s, backfill {secs:.1} s = {:.0} events/s, commits {commit:.1} s)",
        events as f64 / secs
    );
    sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    let addr = serve(pool, Metrics::default()).await?;
    let base = format!("http://{addr}");
    let detail = format!(
        "math.randomseed(7)\nrequest = function()\n  return wrk.format(\"GET\", \"/v1/jobs/\" .. math.random(1, {jobs}))\nend\n"
    );
    let (rps, p50, p99) = wrk(&format!("{base}/v1/jobs/1"), Some(&detail), seconds)?;
    println!(
        "api: job detail (random of {jobs} jobs, 50 tasks + 50 events each): {rps:.0} req/s, p50 {p50}, p99 {p99}"
    );
    let (rps, p50, p99) = wrk(&format!("{base}/v1/jobs?limit=50"), None, seconds)?;
    println!("api: job list (50 jobs per page): {rps:.0} req/s, p50 {p50}, p99 {p99}");
    let (rps, p50, p99) = wrk(&format!("{base}/v1/tasks/open?limit=50"), None, seconds)?;
    println!("api: open tasks (50 per page): {rps:.0} req/s, p50 {p50}, p99 {p99}");
    Ok(())
}

/// p50, p99 and max of `lat` (milliseconds).
fn percentiles(lat: &mut [f64]) -> (f64, f64, f64) {
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    (pct(0.5), pct(0.99), lat[lat.len() - 1])
}

/// Sends a `stake` from the worker and returns its hash once anvil has answered `eth_sendRawTransaction`,
/// which it does after mining the transaction's block (automine).
async fn send_stake(m: &Market, wei: u64) -> Result<String> {
    let pending = m
        .dev
        .worker
        .market(m.market)
        .stake()
        .value(U256::from(wei))
        .send()
        .await?;
    Ok(format!("{:#x}", pending.tx_hash()))
}

/// Polls `sql` (one bind: the transaction hash) every millisecond until it returns a row; the milliseconds
/// from `since`.
async fn visible(pool: &sqlx::PgPool, sql: &str, tx: &str, since: Instant) -> Result<f64> {
    let deadline = since + Duration::from_secs(10);
    loop {
        let row: Option<i32> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(tx)
            .fetch_optional(pool)
            .await?;
        if row.is_some() {
            return Ok(since.elapsed().as_secs_f64() * 1000.0);
        }
        ensure!(Instant::now() < deadline, "{tx} not indexed within 10 s");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn latency(samples: u64, peer: bool) -> Result<()> {
    let m = Market::start(Blocks::Large).await?;
    let (pool, _) = indexer_db().await?;
    let ws = m.dev.endpoint().replace("http://", "ws://");
    let chain = Chain::connect(&ws, m.market, Duration::from_secs(10)).await?;
    let chain_id = i64::try_from(m.dev.chain_id)?;
    store::init_state(
        &pool,
        chain_id,
        m.market,
        i64::try_from(m.deployment_block)?,
        12,
    )
    .await?;
    let (stop, stop_rx) = watch::channel(false);
    let syncer = tokio::spawn(
        Syncer::new(
            chain,
            pool.clone(),
            SyncConfig::default(),
            Metrics::default(),
            chain_id,
        )
        .run(stop_rx),
    );
    let addr = serve(pool.clone(), Metrics::default()).await?;
    let mut sock = tokio::net::TcpStream::connect(addr).await?;
    sock.write_all(b"GET /v1/stream HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
        .await?;
    let mut lines = BufReader::new(sock).lines();
    let (mut rows, mut stream) = (Vec::new(), Vec::new());
    let sql = format!("SELECT 1 FROM logs WHERE chain_id = {chain_id} AND tx_hash = $1");
    for i in 0..samples + 3 {
        let tx = send_stake(&m, 1_000 + i).await?;
        let sent = Instant::now();
        let on_stream = async {
            loop {
                let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
                    .await??
                    .context("stream closed")?;
                if line.contains(&tx) {
                    return anyhow::Ok(sent.elapsed().as_secs_f64() * 1000.0);
                }
            }
        };
        let (row, streamed) = tokio::try_join!(visible(&pool, &sql, &tx, sent), on_stream)?;
        // The first samples warm the connections up.
        if i >= 3 {
            rows.push(row);
            stream.push(streamed);
        }
    }
    let _ = stop.send(true);
    syncer.await?;
    let (p50, p99, max) = percentiles(&mut rows);
    println!(
        "latency: tessera-indexer, transaction mined -> its event row in Postgres (WebSocket heads, {samples} samples): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms"
    );
    let (p50s, p99s, maxs) = percentiles(&mut stream);
    println!(
        "latency: tessera-indexer, transaction mined -> its event on /v1/stream: p50 {p50s:.1} ms, p99 {p99s:.1} ms, max {maxs:.1} ms"
    );
    if peer {
        let (pp50, pp99, pmax) = ponder::latency(&m, samples).await?;
        println!(
            "latency: Ponder, transaction mined -> its event row in Postgres (WebSocket, {samples} samples): p50 {pp50:.1} ms, p99 {pp99:.1} ms, max {pmax:.1} ms"
        );
        println!(
            "latency: tessera-indexer p50 {p50:.1} ms vs Ponder {pp50:.1} ms, p99 {p99:.1} ms vs {pp99:.1} ms (rows in Postgres, both over WebSocket)"
        );
    }
    Ok(())
}

/// Ponder, the peer: `benches/ponder` started as its own process against the benchmark's anvil.
mod ponder {
    use super::{Market, cpu_seconds, drop_and_checkpoint, percentiles, send_stake, visible};
    use anyhow::{Context, Result, bail, ensure};
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    /// The Ponder project.
    pub(super) fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/ponder")
    }

    /// Whether its dependencies are installed.
    pub(super) fn installed() -> bool {
        dir().join("node_modules/.bin/ponder").exists()
    }

    /// A running `ponder start`.
    struct Ponder {
        child: tokio::process::Child,
        url: String,
        log: PathBuf,
        started: Instant,
    }

    impl Ponder {
        /// Starts Ponder into `schema` of database `db`, following `m`'s anvil over HTTP, or over
        /// WebSocket when `ws`.
        fn start(m: &Market, db: &str, schema: &str, ws: bool) -> Result<Self> {
            ensure!(
                m.dev.chain_id == 31_337,
                "benches/ponder is configured for chain 31337"
            );
            let abi = std::process::Command::new("node")
                .arg("abi.mjs")
                .current_dir(dir())
                .status()
                .context("running node abi.mjs")?;
            ensure!(abi.success(), "benches/ponder/abi.mjs failed");
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let log = std::env::temp_dir().join(format!(
                "tessera-bench-ponder-{}-{schema}.log",
                std::process::id()
            ));
            let out = std::fs::File::create(&log)?;
            let mut cmd = tokio::process::Command::new(dir().join("node_modules/.bin/ponder"));
            cmd.args(["--log-level", "warn", "start", "--schema", schema])
                .args(["--port", &port.to_string()])
                .current_dir(dir())
                .env("DATABASE_URL", db)
                .env("PONDER_RPC_URL_31337", m.dev.endpoint())
                .env("MARKET", format!("{:#x}", m.market))
                .env("START_BLOCK", m.deployment_block.to_string())
                .env("PONDER_TELEMETRY_DISABLED", "true")
                .stdin(std::process::Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                .kill_on_drop(true);
            if ws {
                cmd.env(
                    "PONDER_WS_URL",
                    m.dev.endpoint().replace("http://", "ws://"),
                );
            }
            let started = Instant::now();
            let child = cmd.spawn().context("starting Ponder")?;
            Ok(Self {
                child,
                url: format!("http://127.0.0.1:{port}"),
                log,
                started,
            })
        }

        /// Seconds from the start until `path` answers 200 (`/health`: the server is up; `/ready`: the
        /// historical backfill is done).
        async fn until(&mut self, path: &str, limit: Duration) -> Result<f64> {
            let client = reqwest::Client::new();
            loop {
                if let Some(status) = self.child.try_wait()? {
                    bail!(
                        "Ponder exited ({status}); its log is {}",
                        self.log.display()
                    );
                }
                if let Ok(r) = client.get(format!("{}{path}", self.url)).send().await
                    && r.status().is_success()
                {
                    return Ok(self.started.elapsed().as_secs_f64());
                }
                ensure!(
                    self.started.elapsed() < limit,
                    "Ponder not {path} within {limit:?}; its log is {}",
                    self.log.display()
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }

        async fn stop(mut self) -> Result<()> {
            self.child.kill().await?;
            let _ = std::fs::remove_file(&self.log);
            Ok(())
        }
    }

    async fn events(pool: &sqlx::PgPool, schema: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM \"{schema}\".event"
        )))
        .fetch_one(pool)
        .await?)
    }

    /// One timed run into `schema`: (seconds to `/ready`, seconds to `/health`, CPU seconds of Ponder,
    /// Postgres and anvil).
    async fn timed(
        m: &Market,
        db: &str,
        pool: &sqlx::PgPool,
        schema: &str,
        expect: i64,
    ) -> Result<(f64, f64, [f64; 3])> {
        // As before each tessera-indexer run: the pages the last run dirtied are written out first.
        sqlx::query("CHECKPOINT").execute(pool).await?;
        let cpu = || ["node", "postgres", "anvil"].map(cpu_seconds);
        let before = cpu();
        let mut p = Ponder::start(m, db, schema, false)?;
        let health = p.until("/health", Duration::from_secs(120)).await?;
        let ready = p.until("/ready", Duration::from_secs(3600)).await?;
        let after = cpu();
        p.stop().await?;
        let rows = events(pool, schema).await?;
        ensure!(
            rows == expect,
            "Ponder stored {rows} events in {schema}, tessera-indexer {expect}"
        );
        Ok((ready, health, [0, 1, 2].map(|i| after[i] - before[i])))
    }

    /// A cold backfill into a fresh database, then a replay from the RPC cache it filled; returns their
    /// events/s from the process start to `/ready`, and from `/health` (start-up done) to `/ready`.
    pub(super) async fn backfill(
        m: &Market,
        history: &str,
        run: u64,
        expect: i64,
    ) -> Result<([f64; 2], [f64; 2])> {
        let db = tessera_devnet::postgres::fresh_database("bench").await?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&db)
            .await?;
        sqlx::query("CHECKPOINT").execute(&pool).await?;
        let n = expect as f64;
        let (mut rates, mut after_start) = ([0.0; 2], [0.0; 2]);
        for (i, (schema, what)) in [
            ("cold", "cold (RPC cache empty)"),
            ("replay", "replaying its RPC cache"),
        ]
        .into_iter()
        .enumerate()
        {
            let (ready, health, cpu) = timed(m, &db, &pool, schema, expect).await?;
            rates[i] = n / ready;
            after_start[i] = n / (ready - health);
            println!(
                "backfill ({history}) run {run}: Ponder {what}: {expect} events in {ready:.2} s from the start = \
                 {:.0} events/s ({health:.2} s of start-up to /health; {:.0} events/s after it); CPU s: ponder \
                 {:.2}, postgres {:.2}, anvil {:.2}",
                rates[i],
                n / (ready - health),
                cpu[0],
                cpu[1],
                cpu[2]
            );
        }
        pool.close().await;
        drop_and_checkpoint(&db).await?;
        Ok((rates, after_start))
    }

    /// Ponder following `m` over WebSocket: p50, p99 and max (ms) from a mined transaction to its event row.
    pub(super) async fn latency(m: &Market, samples: u64) -> Result<(f64, f64, f64)> {
        let db = tessera_devnet::postgres::fresh_database("bench").await?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&db)
            .await?;
        let mut p = Ponder::start(m, &db, "live", true)?;
        p.until("/ready", Duration::from_secs(300)).await?;
        let sql = "SELECT 1 FROM live.event WHERE tx_hash = $1";
        let mut lat = Vec::new();
        for i in 0..samples + 3 {
            let tx = send_stake(m, 5_000 + i).await?;
            let sent = Instant::now();
            let ms = visible(&pool, sql, &tx, sent).await?;
            if i >= 3 {
                lat.push(ms);
            }
        }
        p.stop().await?;
        pool.close().await;
        drop_and_checkpoint(&db).await?;
        Ok(percentiles(&mut lat))
    }
}
