//! A fresh Postgres database per test (on the project's private cluster, `scripts/pg.sh`), a spawned anvil
//! with the contracts deployed and funded actors, an in-process indexer, a TCP proxy to cut the RPC, and a
//! JSON-RPC proxy that misbehaves the ways providers do.

use alloy::primitives::{Address, B256, U256};
use alloy::providers::DynProvider;
use anyhow::{Context, Result, ensure};
use serde_json::Value;
use sqlx::PgPool;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tessera_bindings::DistributedRender::DistributedRenderInstance;
use tessera_bindings::IDistributedRenderTypes::JobSpec;
use tessera_bindings::{DistributedRender, Phase, cells};
pub(crate) use tessera_devnet::mined;
use tessera_devnet::{
    Actor, DeployParams, Devnet, cell_hashes, escrow, job_spec, register_verifier,
};
use tessera_indexer::api::{self, AppState, HttpConfig};
use tessera_indexer::chain::Chain as RpcChain;
use tessera_indexer::metrics::Metrics;
use tessera_indexer::store;
use tessera_indexer::sync::{SyncConfig, Syncer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A fresh, migrated database.
pub(crate) struct Db {
    pub(crate) url: String,
    pub(crate) pool: PgPool,
}

impl Db {
    pub(crate) async fn fresh() -> Result<Self> {
        let url = tessera_devnet::postgres::fresh_database("it").await?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect(&url)
            .await?;
        store::migrate(&pool).await?;
        Ok(Self { url, pool })
    }
}

pub(crate) const MIN_STAKE: u128 = 1_000_000_000_000_000_000;
pub(crate) const REWARD: u128 = 10_000_000_000_000_000;
pub(crate) const STAKE: u128 = 5_000_000_000_000_000;
/// Wei behind a verifier ticket (one committee seat's bond).
pub(crate) const TICKET: u128 = 100_000_000_000_000_000;
/// Tickets each of the two verifiers holds: enough for any committee of the tests (level 1 draws 3 seats).
pub(crate) const TICKETS: u64 = 4;

/// The devnet with the market deployed, the workers and the verifier staked, and both verifiers registered.
pub(crate) struct Net {
    dev: Devnet,
    pub(crate) market: Address,
    pub(crate) deployment_block: u64,
}

impl Deref for Net {
    type Target = Devnet;
    fn deref(&self) -> &Devnet {
        &self.dev
    }
}

impl DerefMut for Net {
    fn deref_mut(&mut self) -> &mut Devnet {
        &mut self.dev
    }
}

impl Net {
    pub(crate) async fn start() -> Result<Self> {
        let dev = Devnet::start().await?;
        let d = dev
            .deploy(DeployParams {
                ticket_stake: U256::from(TICKET),
                ..DeployParams::default()
            })
            .await?;
        let net = Self {
            market: d.distributed_render,
            deployment_block: d.deployment_block,
            dev,
        };
        for a in [&net.worker, &net.worker2, &net.verifier] {
            mined(net.at(a).stake().value(U256::from(MIN_STAKE))).await?;
        }
        for v in [&net.verifier, &net.verifier2] {
            register_verifier(v, net.market, TICKETS, U256::from(TICKET)).await?;
        }
        Ok(net)
    }

    pub(crate) fn rpc_url(&self) -> String {
        self.endpoint()
    }

    pub(crate) fn at(&self, a: &Actor) -> DistributedRenderInstance<DynProvider> {
        a.market(self.market)
    }

    pub(crate) fn spec(&self, tasks: u32, deadline: u32, optimistic: bool) -> JobSpec {
        JobSpec {
            optimistic,
            ..job_spec(tasks, REWARD, STAKE, deadline)
        }
    }

    /// Posts a job; returns its id.
    pub(crate) async fn post(&self, spec: JobSpec) -> Result<U256> {
        let escrow = escrow(&spec);
        let r = mined(self.at(&self.artist).submitRenderJob(spec).value(escrow)).await?;
        Ok(r.decoded_log::<DistributedRender::JobSubmitted>()
            .context("no JobSubmitted")?
            .jobId)
    }

    /// Claims and submits; `forged` commits a wrong cell 2. Returns the root.
    pub(crate) async fn claim_submit(
        &self,
        who: &Actor,
        job: U256,
        task: u32,
        forged: bool,
    ) -> Result<B256> {
        mined(self.at(who).claimTasks(job, vec![task])).await?;
        let root = cells::root_of(&cell_hashes(u64::from(task), forged)).context("no cells")?;
        mined(
            self.at(who)
                .submitResult(job, U256::from(task), "bafyoutput".into(), root),
        )
        .await?;
        Ok(root)
    }

    /// One committee round on a submission: draws the due committee, and both verifiers (whichever of them
    /// were drawn) commit and reveal `approve`. Returns the phase after the tally.
    pub(crate) async fn vote(&self, job: U256, task: u32, approve: bool) -> Result<Phase> {
        self.vote_round(
            self.market,
            job,
            u64::from(task),
            &[&self.verifier, &self.verifier2],
            approve,
        )
        .await
    }

    /// Runs out the current phase and calls `finalizeTask`.
    pub(crate) async fn settle(&self, job: U256, task: u32) -> Result<()> {
        self.finalize(self.market, job, u64::from(task)).await
    }

    /// `who` appeals the standing verdict of a task (or disputes an optimistic result), with the bond the
    /// contract asks for the next level. Returns the bond.
    pub(crate) async fn appeal(&self, who: &Actor, job: U256, task: u32) -> Result<U256> {
        let m = self.at(&self.owner);
        let v = m.getVerification(job, U256::from(task)).call().await?;
        let level = if Phase::try_from(v.phase)? == Phase::None {
            U256::ZERO
        } else {
            v.level + U256::from(1)
        };
        let bond = m.appealBond(job, level).call().await?;
        mined(
            self.at(who)
                .appealVerdict(job, U256::from(task))
                .value(bond),
        )
        .await?;
        Ok(bond)
    }
}

/// An in-process indexer: sync loop, feed listener and router.
pub(crate) struct Indexer {
    pub(crate) router: axum::Router,
    pub(crate) metrics: Metrics,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

pub(crate) struct Options {
    pub(crate) confirmations: i64,
    pub(crate) reorg_depth: i64,
    pub(crate) initial_range: i64,
    pub(crate) max_streams: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            confirmations: 2,
            reorg_depth: 6,
            initial_range: 7,
            max_streams: 256,
        }
    }
}

impl Indexer {
    pub(crate) async fn start(db: &Db, rpc_url: &str, net: &Net, opts: Options) -> Result<Self> {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "off".into()),
            )
            .with_test_writer()
            .try_init();
        let chain = RpcChain::connect(rpc_url, net.market, Duration::from_secs(2)).await?;
        let chain_id = i64::try_from(net.chain_id)?;
        store::init_state(
            &db.pool,
            chain_id,
            net.market,
            i64::try_from(net.deployment_block)?,
            opts.confirmations,
        )
        .await?;
        let metrics = Metrics::default();
        let cfg = SyncConfig {
            confirmations: opts.confirmations,
            reorg_depth: opts.reorg_depth,
            poll_interval: Duration::from_millis(20),
            initial_range: opts.initial_range,
            max_range: 1_000,
            max_backoff: Duration::from_millis(500),
            ..SyncConfig::default()
        };
        let (stop, stop_rx) = watch::channel(false);
        let syncer = Syncer::new(chain, db.pool.clone(), cfg, metrics.clone(), chain_id);
        let task = tokio::spawn(syncer.run(stop_rx));
        let mut state = AppState::new(db.pool.clone(), metrics.clone(), 20);
        state.streams = Arc::new(tokio::sync::Semaphore::new(opts.max_streams));
        let router = api::app(
            state,
            &HttpConfig {
                cors_origins: vec!["*".into()],
                request_timeout: Duration::from_secs(10),
            },
        );
        Ok(Self {
            router,
            metrics,
            stop,
            task,
        })
    }

    pub(crate) async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(10), self.task).await??;
        Ok(())
    }
}

/// Waits until the database has indexed `net`'s current head block (number and hash).
pub(crate) async fn synced(pool: &PgPool, net: &Net) -> Result<()> {
    let (n, h) = net.head().await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(st) = store::state(pool).await
            && u64::try_from(st.indexed_block).ok() == Some(n)
            && st.indexed_hash.as_deref() == Some(tessera_indexer::model::hash(&h).as_str())
        {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "indexer did not reach block {n} ({h}) within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Everything the indexer derived, in a comparable form: projections and logs (without feed positions).
pub(crate) async fn snapshot(pool: &PgPool) -> Result<Value> {
    let mut out = serde_json::Map::new();
    for (table, order) in [
        ("jobs", "job_id"),
        ("tasks", "job_id, task_index"),
        ("accounts", "address"),
        ("balances", "account, token"),
        ("token_totals", "token"),
        ("network", "id"),
        ("draws", "job_id, task_index, attempt, draw"),
        (
            "draw_members",
            "job_id, task_index, attempt, draw, verifier",
        ),
        ("appeals", "job_id, task_index, attempt, level"),
        ("data_challenges", "job_id, task_index, attempt, draw"),
        ("verifiers", "address"),
        ("job_workers", "worker, job_id"),
        ("logs", "block_number, log_index"),
    ] {
        let sql = format!(
            "SELECT COALESCE(jsonb_agg(to_jsonb(t) - 'seq' ORDER BY {order}), '[]') FROM {table} t"
        );
        let v: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await?;
        out.insert(table.to_owned(), v);
    }
    Ok(Value::Object(out))
}

/// Indexes `net` from scratch into a new database and returns its snapshot.
pub(crate) async fn fresh_reindex(net: &Net) -> Result<Value> {
    let db = Db::fresh().await?;
    let ix = Indexer::start(
        &db,
        &net.rpc_url(),
        net,
        Options {
            initial_range: 50,
            ..Options::default()
        },
    )
    .await?;
    synced(&db.pool, net).await?;
    ix.stop().await?;
    snapshot(&db.pool).await
}

/// Asserts two snapshots are equal, naming the first table that differs.
pub(crate) fn assert_same(a: &Value, b: &Value, what: &str) {
    for (table, rows) in a.as_object().expect("object") {
        assert_eq!(Some(rows), b.get(table), "{what}: table {table} differs");
    }
}

/// A TCP proxy in front of the RPC that can be cut and restored.
pub(crate) struct Proxy {
    pub(crate) url: String,
    up: Arc<AtomicBool>,
    generation: Arc<AtomicU32>,
}

impl Proxy {
    pub(crate) async fn start(target: String) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let up = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(AtomicU32::new(0));
        let (up2, gen2) = (up.clone(), generation.clone());
        let target = target.trim_start_matches("http://").to_owned();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let (target, gen2) = (target.clone(), gen2.clone());
                let born = gen2.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    let cut = async {
                        while gen2.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! { _ = copy => {}, _ = cut => {} }
                });
            }
        });
        Ok(Self {
            url,
            up,
            generation,
        })
    }

    pub(crate) fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// How the JSON-RPC proxy misbehaves; each knob is set by the test while the indexer runs.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// While non-zero, an `eth_getLogs` of one block (by hash, or a range of one block) whose real answer has
    /// logs is answered `[]` (as nodes that do not hold the block have), and the count goes down.
    pub(crate) hide_block_logs: AtomicU32,
    /// Every `eth_getBlockReceipts` fails.
    pub(crate) fail_receipts: AtomicBool,
    /// Answers hidden so far.
    pub(crate) hidden: AtomicU32,
    /// An `eth_getLogs` answer with more logs than this is refused the way providers refuse it (0: no cap).
    pub(crate) log_cap: AtomicUsize,
    /// Every way of reading logs fails (`eth_getLogs`, `eth_getBlockReceipts`).
    pub(crate) fail_log_reads: AtomicBool,
    /// While non-zero, an `eth_getLogs` of a range of several blocks is answered without the logs of its
    /// last block that has any (a lagging node behind a load balancer answers with the logs it has), and the
    /// count goes down.
    pub(crate) lag_ranges: AtomicU32,
}

/// A JSON-RPC proxy in front of anvil that passes every call through except where `faults` says otherwise.
pub(crate) struct RpcProxy {
    pub(crate) url: String,
    pub(crate) faults: Arc<Faults>,
}

type ProxyState = (
    String,
    alloy::transports::http::reqwest::Client,
    Arc<Faults>,
);

impl RpcProxy {
    pub(crate) async fn start(target: String) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let faults = Arc::new(Faults::default());
        let state: ProxyState = (
            target,
            alloy::transports::http::reqwest::Client::new(),
            faults.clone(),
        );
        let app = axum::Router::new()
            .route("/", axum::routing::post(relay))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url, faults })
    }
}

fn rpc_error(req: &Value, code: i64, message: &str) -> axum::Json<Value> {
    axum::Json(serde_json::json!({
        "jsonrpc": "2.0", "id": req["id"], "error": {"code": code, "message": message}
    }))
}

async fn relay(
    axum::extract::State((target, client, f)): axum::extract::State<ProxyState>,
    body: axum::body::Bytes,
) -> axum::Json<Value> {
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let logs = req["method"] == "eth_getLogs";
    let receipts = req["method"] == "eth_getBlockReceipts";
    if (logs || receipts) && f.fail_log_reads.load(Ordering::SeqCst) {
        return rpc_error(&req, -32000, "unavailable");
    }
    if receipts && f.fail_receipts.load(Ordering::SeqCst) {
        return rpc_error(
            &req,
            -32601,
            "the method eth_getBlockReceipts does not exist",
        );
    }
    let answer = match client
        .post(&target)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
    {
        Ok(r) => r.json::<Value>().await.unwrap_or(Value::Null),
        Err(e) => return rpc_error(&req, -32603, &e.to_string()),
    };
    let mut answer = answer;
    if logs {
        let n = answer["result"].as_array().map_or(0, Vec::len);
        let cap = f.log_cap.load(Ordering::SeqCst);
        if cap != 0 && n > cap {
            return rpc_error(
                &req,
                -32005,
                &format!("query returned more than {cap} results"),
            );
        }
        let filter = &req["params"][0];
        let one_block = filter.get("blockHash").is_some()
            || (filter["fromBlock"].is_string() && filter["fromBlock"] == filter["toBlock"]);
        if n > 0
            && !one_block
            && f.lag_ranges
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |h| h.checked_sub(1))
                .is_ok()
            && let Some(list) = answer["result"].as_array_mut()
        {
            let last = list.last().map(|l| l["blockNumber"].clone());
            list.retain(|l| Some(&l["blockNumber"]) != last.as_ref());
            f.hidden.fetch_add(1, Ordering::SeqCst);
        }
        if n > 0
            && one_block
            && f.hide_block_logs
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |h| h.checked_sub(1))
                .is_ok()
        {
            f.hidden.fetch_add(1, Ordering::SeqCst);
            answer["result"] = serde_json::json!([]);
        }
    }
    axum::Json(answer)
}
