//! The chain-facing commands: post a job, watch it, fetch and check its outputs, accept, cancel, reclaim,
//! withdraw. Reads go to the indexer's API where one answers and to the chain otherwise; everything that
//! decides money (roots, states, balances) is read from the chain.

use crate::PasswordArgs;
use crate::json;
use crate::verification;
use alloy::primitives::utils::{format_ether, parse_ether};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolEvent;
use anyhow::{Context, Result, anyhow, bail};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tessera_bindings::DistributedRender::{JobSubmitted, ResultSubmitted};
use tessera_bindings::IDistributedRenderTypes::{JobSpec, RenderSettings as SolSettings};
use tessera_bindings::market::{JobInfo, Market, Member, VerificationState};
use tessera_bindings::{Deployment, TaskState, TestToken};
use tessera_common::task::RenderSettings;
use tessera_wallet::PasswordSource;

/// Where the network is.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct NetArgs {
    /// Chain RPC URL.
    #[arg(long, env = "TESSERA_RPC_URL", default_value = "http://127.0.0.1:8545")]
    rpc_url: String,
    /// Deployment file (`deployments/<chainId>.json`).
    #[arg(
        long,
        env = "TESSERA_DEPLOYMENT",
        default_value = "deployments/31337.json"
    )]
    deployment: PathBuf,
    /// Indexer API base URL.
    #[arg(
        long,
        env = "TESSERA_INDEXER_URL",
        default_value = "http://127.0.0.1:8546"
    )]
    indexer_url: String,
    /// Kubo RPC API base URL.
    #[arg(
        long,
        env = "TESSERA_IPFS_API",
        default_value = "http://127.0.0.1:5001"
    )]
    ipfs_api: String,
}

/// The signing keystore.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct KeyArgs {
    /// The keystore file (default ~/.tessera/keystores/default.json).
    #[arg(long, env = "TESSERA_KEYSTORE")]
    keystore: Option<PathBuf>,
    #[command(flatten)]
    password: PasswordArgs,
}

impl NetArgs {
    fn deployment(&self) -> Result<Deployment> {
        Deployment::load(&self.deployment).with_context(|| {
            format!(
                "no deployment at {}: deploy the contracts first or pass --deployment",
                self.deployment.display()
            )
        })
    }

    pub(crate) async fn signed(&self, key: &KeyArgs) -> Result<Market> {
        let path = key
            .keystore
            .clone()
            .unwrap_or_else(|| crate::default_keystores().join("default.json"));
        let source = key.password.source();
        if source == PasswordSource::Prompt && json::on() {
            bail!(
                "no password for keystore {}: set TESSERA_KEYSTORE_PASSWORD or TESSERA_KEYSTORE_PASSWORD_FILE \
                 (with --json the CLI never prompts)",
                path.display()
            );
        }
        let w = tessera_wallet::open(&path, &source)
            .with_context(|| format!("opening keystore {}", path.display()))?;
        Market::connect(&self.rpc_url, self.deployment()?, w.signer().clone()).await
    }

    pub(crate) async fn reader(&self) -> Result<Market> {
        Market::read_only(&self.rpc_url, self.deployment()?).await
    }

    fn ipfs(&self) -> Result<tessera_ipfs::IpfsClient> {
        Ok(tessera_ipfs::IpfsClient::new(
            tessera_ipfs::ClientConfig::new(self.ipfs_api.clone()),
        )?)
    }
}

/// `job submit` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct SubmitArgs {
    /// The scene: a `.glb`, or a `.gltf` whose side files (buffers, images in its folder) are packed with
    /// it into the one `.glb` uploaded to IPFS.
    scene: PathBuf,
    #[command(flatten)]
    net: NetArgs,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    shape: crate::ShapeArgs,
    #[command(flatten)]
    look: crate::LookArgs,
    /// First frame.
    #[arg(long, default_value_t = 0)]
    frame_start: u32,
    /// Cell size in pixels (power of two, 4..=256); see docs/verification.md.
    #[arg(long, default_value_t = 16)]
    cell_size: u32,
    /// Noise seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Reward per task, in ether (or whole token units for --token).
    #[arg(long)]
    reward: String,
    /// Pay in this ERC-20 instead of ETH (approved for the escrow first when needed).
    #[arg(long)]
    token: Option<Address>,
    /// Verifier fee, basis points of the reward.
    #[arg(long, default_value_t = 500)]
    verifier_fee_bps: u16,
    /// ETH a worker locks per claimed task.
    #[arg(long, default_value = "0.001")]
    stake: String,
    /// Time from now until the deadline (e.g. 90m, 2h, 1d).
    #[arg(long, default_value = "1d", value_parser = parse_duration)]
    deadline: u64,
    /// How long a claim lasts.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    lease: u64,
    /// Length of each verification phase (commit, reveal, data response, appeal) and, for an optimistic job,
    /// of the dispute window after each result; at least the market's `MIN_CHALLENGE_WINDOW`.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    challenge_window: u64,
    /// Seats of the first verification committee (1..=7; at most the verifier registry's active tickets).
    /// Each appeal level draws a larger committee: (quorum + 1) x 2^level - 1 seats.
    #[arg(long, default_value_t = 3)]
    quorum: u8,
    /// Pay a result nobody disputed within the challenge window, without a committee.
    #[arg(long)]
    optimistic: bool,
    /// Renderer id.
    #[arg(long, default_value = tessera_render::RENDERER_ID)]
    renderer: String,
}

/// `30s`, `15m`, `2h`, `1d`, or plain seconds.
fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('s') => (&s[..s.len() - 1], 1),
        Some('m') => (&s[..s.len() - 1], 60),
        Some('h') => (&s[..s.len() - 1], 3600),
        Some('d') => (&s[..s.len() - 1], 86_400),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?} is not a duration like 90s, 15m, 2h or 1d"))
}

/// Largest first committee a job may ask for (the contract's `MAX_QUORUM`).
const MAX_QUORUM: u8 = 7;
/// Smallest verifier fee of a job that is not optimistic, in basis points (the contract's `MIN_VERIFIER_FEE_BPS`).
const MIN_VERIFIER_FEE_BPS: u16 = 100;

/// The job's verification terms, checked before anything is sent: the committee size, and a verifier fee that
/// pays the committees of a job that is not optimistic.
fn check_verification_terms(
    quorum: u8,
    fee_bps: u16,
    optimistic: bool,
    reward: U256,
) -> Result<()> {
    if quorum == 0 || quorum > MAX_QUORUM {
        bail!(
            "--quorum {quorum} is out of range: the first verification committee has 1 to {MAX_QUORUM} seats"
        );
    }
    if fee_bps > 10_000 {
        bail!("--verifier-fee-bps {fee_bps} is above 10000 (100% of the reward)");
    }
    if !optimistic {
        if fee_bps < MIN_VERIFIER_FEE_BPS {
            bail!(
                "--verifier-fee-bps {fee_bps} is below the minimum of {MIN_VERIFIER_FEE_BPS} (1% of the reward) for \
                 a job that is not --optimistic: its committees are paid from this fee. Raise it, or pass \
                 --optimistic to pay undisputed results without a committee"
            );
        }
        if reward * U256::from(fee_bps) < U256::from(10_000u32) {
            bail!(
                "the verifier fee is 0 wei per task ({} ETH x {fee_bps} bps rounds down to nothing), and a job \
                 that is not --optimistic must pay its committees: raise --reward or --verifier-fee-bps",
                format_ether(reward)
            );
        }
    }
    Ok(())
}

/// The deployment's shortest challenge window and the registry's active tickets must allow the job, or the
/// contract refuses it.
async fn check_market(m: &Market, quorum: u8, window: u64) -> Result<()> {
    let min = m.market.MIN_CHALLENGE_WINDOW().call().await.map_err(|e| {
        anyhow!(
            "reading the shortest challenge window: {}",
            tessera_bindings::errors::describe(&e)
        )
    })?;
    if U256::from(window) < min {
        bail!(
            "--challenge-window {window}s is shorter than this market's minimum of {min}s: each verification \
             phase lasts one window, and committee members need that long to vote"
        );
    }
    let r = m.market.registry().call().await.map_err(|e| {
        anyhow!(
            "reading the verifier registry: {}",
            tessera_bindings::errors::describe(&e)
        )
    })?;
    if r.activeTickets.is_zero() {
        bail!(
            "the verifier registry has no active tickets: no committee can be drawn for --quorum {quorum}; wait \
             until verifiers register"
        );
    }
    if U256::from(quorum) > r.activeTickets {
        bail!(
            "--quorum {quorum} asks for a first committee of {quorum} seats, but the verifier registry has {} \
             active tickets: lower --quorum to at most {}, or wait until more verifiers register",
            r.activeTickets,
            r.activeTickets
        );
    }
    Ok(())
}

fn amount(s: &str, what: &str) -> Result<U256> {
    parse_ether(s.trim()).map_err(|e| anyhow!("{what} {s:?} is not an amount in ether units: {e}"))
}

fn receipt_job_id(r: &alloy::rpc::types::TransactionReceipt) -> Result<u64> {
    for log in r.inner.logs() {
        if let Ok(e) = log.log_decode::<JobSubmitted>() {
            return Ok(e.inner.data.jobId.to::<u64>());
        }
    }
    bail!("the transaction emitted no JobSubmitted event")
}

/// Posts a job.
pub(crate) async fn submit(a: SubmitArgs) -> Result<()> {
    let settings = RenderSettings {
        width: a.shape.width,
        height: a.shape.height,
        samples_per_pixel: a.shape.spp,
        max_bounces: a.shape.bounces,
        frame_start: a.frame_start,
        frame_count: a.shape.frames,
        regions_x: a.shape.regions.0,
        regions_y: a.shape.regions.1,
        cell_size: a.cell_size,
        seed: a.seed,
    };
    settings.validate().context("invalid job settings")?;
    let reward = amount(&a.reward, "--reward")?;
    let stake = amount(&a.stake, "--stake")?;
    check_verification_terms(a.quorum, a.verifier_fee_bps, a.optimistic, reward)?;
    // A .gltf is packed with its side files into the one self-contained .glb that is uploaded; what goes
    // with it is listed before anything is published.
    let (bytes, files) =
        tessera_render::read_scene_listing(&a.scene, &tessera_render::Limits::default())
            .with_context(|| format!("reading scene {}", a.scene.display()))?;
    for (uri, size) in &files {
        eprintln!("packing {uri} ({size} bytes) into the scene");
    }
    let bytes = a.look.apply(bytes)?;
    // The scene must load the way workers will load it, or nobody will claim the job.
    tessera_render::load_job_scene(
        &bytes,
        &settings,
        settings.frame_start,
        tessera_render::Limits::default(),
    )
    .with_context(|| format!("the scene {} cannot be rendered", a.scene.display()))?;

    let m = a.net.signed(&a.key).await?;
    check_market(&m, a.quorum, a.challenge_window).await?;
    let tasks = settings.task_count();
    let fee = reward * U256::from(a.verifier_fee_bps) / U256::from(10_000u32);
    let escrow = U256::from(tasks) * (reward + fee);
    match a.token {
        None => {
            let have = m.provider.get_balance(m.me).await?;
            if have < escrow {
                bail!(
                    "no funds: {} holds {} ETH; the job escrows {} ETH ({tasks} tasks x ({} reward + {} verifier fee)) plus gas. Fund the account or lower --reward",
                    m.me,
                    format_ether(have),
                    format_ether(escrow),
                    format_ether(reward),
                    format_ether(fee)
                );
            }
        }
        Some(t) => {
            if !m.market.isTokenAllowed(t).call().await? {
                bail!(
                    "the market does not accept token {t}: it is not on the owner's allow-list of payment \
                     tokens (pay in ETH, or ask the market's owner to allow it)"
                );
            }
            let token = TestToken::new(t, m.provider.clone());
            let have = token
                .balanceOf(m.me)
                .call()
                .await
                .with_context(|| format!("{t} is not an ERC-20 token"))?;
            if have < escrow {
                bail!(
                    "no funds: {} holds {} of token {t}; the job escrows {}",
                    m.me,
                    format_ether(have),
                    format_ether(escrow)
                );
            }
            let allowed = token
                .allowance(m.me, m.deployment.distributed_render)
                .call()
                .await?;
            if allowed < escrow {
                // Tokens in the USDT mould refuse to move an allowance from one non-zero value to another:
                // clear it first, as OpenZeppelin's `forceApprove` does.
                if !allowed.is_zero() {
                    m.send(
                        token.approve(m.deployment.distributed_render, U256::ZERO),
                        "clearing the token allowance",
                    )
                    .await?;
                }
                eprintln!("approving {} tokens for the escrow", format_ether(escrow));
                m.send(
                    token.approve(m.deployment.distributed_render, escrow),
                    "approving the escrow",
                )
                .await?;
            }
        }
    }
    let ipfs = a.net.ipfs()?;
    let added = ipfs
        .add_bytes("scene.glb", bytes, tessera_ipfs::AddOptions::default())
        .await
        .with_context(|| format!("adding the scene to IPFS at {}", a.net.ipfs_api))?;
    eprintln!("scene added to IPFS as {}", added.cid);
    let now = m.now().await?;
    let deadline = u32::try_from(now + a.deadline).context("--deadline too far")?;
    let spec = JobSpec {
        sceneCid: added.cid.clone(),
        rendererId: a.renderer,
        settings: SolSettings {
            width: a.shape.width,
            height: a.shape.height,
            samplesPerPixel: a.shape.spp,
            maxBounces: a.shape.bounces,
            frameStart: a.frame_start,
            frameCount: a.shape.frames,
            regionsX: a.shape.regions.0,
            regionsY: a.shape.regions.1,
            cellSize: a.cell_size,
            seed: a.seed,
        },
        token: a.token.unwrap_or(Address::ZERO),
        rewardPerTask: reward.to(),
        verifierFeeBps: a.verifier_fee_bps,
        workerStakePerTask: stake.to(),
        deadline,
        leaseDuration: u32::try_from(a.lease).context("--lease too long")?,
        challengeWindow: u32::try_from(a.challenge_window)
            .context("--challenge-window too long")?,
        quorum: a.quorum,
        optimistic: a.optimistic,
    };
    let value = if a.token.is_none() {
        escrow
    } else {
        U256::ZERO
    };
    let r = m
        .send(
            m.market.submitRenderJob(spec).value(value),
            "posting the job",
        )
        .await?;
    let id = receipt_job_id(&r)?;
    eprintln!(
        "job {id} posted: {tasks} tasks, {} escrowed, deadline at unix time {deadline}",
        format_ether(escrow)
    );
    json::say(
        || id.to_string(),
        || {
            serde_json::json!({
                "kind": "submitted",
                "jobId": id,
                "tasks": tasks,
                "sceneCid": added.cid,
                "token": a.token.map(crate::lower),
                "escrowWei": escrow.to_string(),
                "rewardPerTaskWei": reward.to_string(),
                "verifierFeePerTaskWei": fee.to_string(),
                "deadline": deadline,
                "transaction": r.transaction_hash.to_string(),
                "block": r.block_number,
            })
        },
    );
    Ok(())
}

/// One task line as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TaskLine {
    state: String,
    worker: Option<String>,
    attempt: i64,
}

fn counts(tasks: &BTreeMap<i64, TaskLine>) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for t in tasks.values() {
        *c.entry(t.state.clone()).or_insert(0) += 1;
    }
    c
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<serde_json::Value, Indexer> {
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| Indexer::Down(e.to_string()))?;
    let status = resp.status();
    let body: serde_json::Value = resp
        .json()
        .await
        .map_err(|e| Indexer::Down(e.to_string()))?;
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(Indexer::NotFound);
    }
    if !status.is_success() {
        return Err(Indexer::Down(format!("{status}: {body}")));
    }
    Ok(body)
}

enum Indexer {
    Down(String),
    NotFound,
}

/// The job's tasks from the indexer.
async fn indexer_tasks(
    http: &reqwest::Client,
    base: &str,
    id: u64,
) -> Result<(serde_json::Value, BTreeMap<i64, TaskLine>), Indexer> {
    let job = get_json(http, &format!("{base}/v1/jobs/{id}")).await?;
    let mut tasks = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/jobs/{id}/tasks?limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page = get_json(http, &url).await?;
        for t in page["data"].as_array().into_iter().flatten() {
            tasks.insert(
                t["taskIndex"].as_i64().unwrap_or(-1),
                TaskLine {
                    state: t["state"].as_str().unwrap_or("?").to_owned(),
                    worker: t["worker"].as_str().map(str::to_owned),
                    attempt: t["attempt"].as_i64().unwrap_or(0),
                },
            );
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    Ok((job, tasks))
}

/// The job's tasks from the chain (when the indexer is down).
async fn chain_tasks(m: &Market, job: &JobInfo) -> Result<BTreeMap<i64, TaskLine>> {
    let mut tasks = BTreeMap::new();
    for i in 0..job.task_count {
        let v = m.task(job.id, i).await?;
        tasks.insert(
            i64::try_from(i)?,
            TaskLine {
                state: v.state.as_str().to_lowercase(),
                worker: (v.worker != Address::ZERO).then(|| v.worker.to_string().to_lowercase()),
                attempt: i64::try_from(v.attempt)?,
            },
        );
    }
    Ok(tasks)
}

fn settled(tasks: &BTreeMap<i64, TaskLine>) -> bool {
    tasks
        .values()
        .all(|t| t.state == "paid" || t.state == "refunded")
}

/// A submitted task's verification: its state and the members of its current draw.
type Progress = (VerificationState, Vec<Member>);

/// The verification of every submitted task, read from the chain.
async fn progress(
    m: &Market,
    id: u64,
    tasks: &BTreeMap<i64, TaskLine>,
) -> Result<BTreeMap<i64, Progress>> {
    let mut out = BTreeMap::new();
    for (&i, t) in tasks {
        if t.state != "submitted" {
            continue;
        }
        let task = u64::try_from(i).context("task index")?;
        let v = m.verification(id, task).await?;
        let members = verification::current_members(m, id, task, &v).await?;
        out.insert(i, (v, members));
    }
    Ok(out)
}

/// The chain's view of the job's verifications, when the chain answers (the indexer may answer without it).
struct ChainView {
    market: Market,
    terms: verification::Terms,
}

impl ChainView {
    async fn connect(net: &NetArgs, id: u64) -> Result<Self> {
        let market = net.reader().await?;
        let terms = verification::terms(&market, id).await?;
        Ok(Self { market, terms })
    }

    async fn read(
        &self,
        id: u64,
        tasks: &BTreeMap<i64, TaskLine>,
    ) -> Result<(BTreeMap<i64, Progress>, u64)> {
        Ok((
            progress(&self.market, id, tasks).await?,
            self.market.now().await?,
        ))
    }
}

/// A task as `job status --json` writes it (docs/cli.md).
fn task_json(
    i: i64,
    t: &TaskLine,
    p: Option<&Progress>,
    terms: Option<&verification::Terms>,
) -> serde_json::Value {
    let verification = match (p, terms) {
        (Some((v, members)), Some(terms)) => verification::to_json(v, members, terms),
        _ => serde_json::Value::Null,
    };
    serde_json::json!({
        "task": i,
        "state": t.state,
        "worker": t.worker,
        "attempt": t.attempt,
        "verification": verification,
    })
}

fn print_task(
    i: i64,
    t: &TaskLine,
    p: Option<&Progress>,
    terms: Option<&verification::Terms>,
    now: u64,
) {
    if json::on() {
        json::emit(&serde_json::json!({
            "kind": "task",
            "task": task_json(i, t, p, terms),
            "chainTime": (now != 0).then_some(now),
        }));
        return;
    }
    println!(
        "  task {i:>4}  {:<9}  attempt {}  {}",
        t.state,
        t.attempt,
        t.worker.as_deref().unwrap_or("-")
    );
    if let (Some((v, members)), Some(terms)) = (p, terms) {
        for line in verification::describe(v, members, terms, now) {
            println!("             {line}");
        }
    }
}

fn print_tasks(
    tasks: &BTreeMap<i64, TaskLine>,
    progress: &BTreeMap<i64, Progress>,
    terms: Option<&verification::Terms>,
    now: u64,
) {
    for (i, t) in tasks {
        print_task(*i, t, progress.get(i), terms, now);
    }
}

/// `job status`.
pub(crate) async fn status(net: NetArgs, id: u64, watch: bool) -> Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let base = net.indexer_url.trim_end_matches('/').to_owned();
    let mut first = indexer_tasks(&http, &base, id).await;
    if watch {
        // A job posted a moment ago may not be indexed yet: wait for it (the chain says whether it exists).
        let started = std::time::Instant::now();
        while matches!(first, Err(Indexer::NotFound)) && started.elapsed() < Duration::from_secs(60)
        {
            if started.elapsed() > Duration::from_secs(2) {
                net.reader().await?.job(id).await?;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            first = indexer_tasks(&http, &base, id).await;
        }
    }
    let mut chain = None;
    // The job's line: its fields for --json, printed at once otherwise.
    let mut header = serde_json::json!({"kind": "status", "jobId": id});
    let tasks = match first {
        Ok((job, tasks)) => {
            let j = &job["data"]["job"];
            header["source"] = "indexer".into();
            let eth = j["token"].as_str().is_none_or(|t| {
                t.parse::<Address>()
                    .is_ok_and(|a: Address| a == Address::ZERO)
            });
            header["job"] = serde_json::json!({
                "taskCount": j["taskCount"],
                "status": j["status"],
                "rewardPerTaskWei": j["rewardPerTask"],
                "token": if eth { serde_json::Value::Null } else { j["token"].clone() },
                "rendererId": j["rendererId"],
                "sceneCid": j["sceneCid"],
            });
            header["indexedBlock"] = job["meta"]["indexedBlock"].clone();
            header["confirmedBlock"] = job["meta"]["confirmedBlock"].clone();
            if !json::on() {
                println!(
                    "job {id}: {} tasks, status {}, reward {} wei per task, renderer {}; indexed to block {} (confirmed to {})",
                    job["data"]["job"]["taskCount"],
                    job["data"]["job"]["status"].as_str().unwrap_or("?"),
                    job["data"]["job"]["rewardPerTask"].as_str().unwrap_or("?"),
                    job["data"]["job"]["rendererId"].as_str().unwrap_or("?"),
                    job["meta"]["indexedBlock"],
                    job["meta"]["confirmedBlock"],
                );
            }
            tasks
        }
        Err(Indexer::NotFound) => {
            // Not indexed: say whether the chain has it.
            let m = net.reader().await?;
            m.job(id).await.map_err(|e| anyhow!("{e}"))?;
            bail!(
                "job {id} exists on-chain but the indexer at {base} has not indexed it yet; retry shortly"
            )
        }
        Err(Indexer::Down(why)) => {
            eprintln!("the indexer at {base} is unavailable ({why}); reading the chain");
            let m = net.reader().await?;
            let job = m.job(id).await?;
            header["source"] = "chain".into();
            header["job"] = serde_json::json!({
                "taskCount": job.task_count,
                "status": if job.cancelled { "cancelled" } else { "active" },
                "rewardPerTaskWei": job.spec.rewardPerTask.to_string(),
                "token": (job.token != Address::ZERO).then(|| crate::lower(job.token)),
                "rendererId": job.spec.rendererId,
                "sceneCid": job.spec.sceneCid,
            });
            if !json::on() {
                println!("job {id}: {} tasks (from the chain)", job.task_count);
            }
            let tasks = chain_tasks(&m, &job).await?;
            chain = Some(ChainView {
                terms: verification::terms(&m, id).await?,
                market: m,
            });
            tasks
        }
    };
    // Verification progress is read from the chain, also when the indexer answered.
    if chain.is_none() && tasks.values().any(|t| t.state == "submitted") {
        match ChainView::connect(&net, id).await {
            Ok(c) => chain = Some(c),
            Err(e) => {
                eprintln!("verification progress not shown: the chain cannot be read ({e:#})")
            }
        }
    }
    let (shown, now) = match &chain {
        Some(c) => c.read(id, &tasks).await?,
        None => (BTreeMap::new(), 0),
    };
    if json::on() {
        let terms = chain.as_ref().map(|c| &c.terms);
        header["chainTime"] = serde_json::json!((now != 0).then_some(now));
        header["tasks"] = tasks
            .iter()
            .map(|(i, t)| task_json(*i, t, shown.get(i), terms))
            .collect();
        header["counts"] = serde_json::json!(counts(&tasks));
        header["settled"] = settled(&tasks).into();
        json::emit(&header);
    } else {
        print_tasks(&tasks, &shown, chain.as_ref().map(|c| &c.terms), now);
        println!("  {:?}", counts(&tasks));
    }
    if watch && !settled(&tasks) {
        if chain.is_none() {
            chain = ChainView::connect(&net, id).await.ok();
        }
        watch_job(&http, &base, id, tasks, chain, shown).await?;
    }
    Ok(())
}

/// Follows the indexer's live stream and prints each task's changes until every task is settled.
async fn watch_job(
    http: &reqwest::Client,
    base: &str,
    id: u64,
    mut tasks: BTreeMap<i64, TaskLine>,
    chain: Option<ChainView>,
    mut shown: BTreeMap<i64, Progress>,
) -> Result<()> {
    let stream_client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()?;
    let mut last_id: Option<String> = None;
    let mut clock = 0;
    loop {
        let mut req = stream_client.get(format!("{base}/v1/stream"));
        if let Some(l) = &last_id {
            req = req.header("Last-Event-ID", l.as_str());
        }
        let resp = match req.send().await {
            Ok(r) if r.status().is_success() => Some(r),
            _ => None,
        };
        let mut body = resp.map(reqwest::Response::bytes_stream);
        let mut buf = String::new();
        loop {
            // Re-read at least every 2 s, so that a settled job ends the watch even without events.
            let next = match body.as_mut() {
                Some(b) => tokio::time::timeout(Duration::from_secs(2), b.next())
                    .await
                    .ok(),
                None => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    None
                }
            };
            let mut relevant = next.is_none();
            match next {
                Some(Some(Ok(chunk))) => {
                    buf.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(end) = buf.find("\n\n") {
                        let event: String = buf.drain(..end + 2).collect();
                        for line in event.lines() {
                            if let Some(v) = line.strip_prefix("id:") {
                                last_id = Some(v.trim().to_owned());
                            } else if let Some(d) = line.strip_prefix("data:")
                                && let Ok(e) = serde_json::from_str::<serde_json::Value>(d.trim())
                                && e["jobId"].as_u64() == Some(id)
                            {
                                relevant = true;
                            }
                        }
                    }
                }
                Some(None | Some(Err(_))) => break,
                None => {}
            }
            if !relevant {
                continue;
            }
            let Ok((_, now)) = indexer_tasks(http, base, id).await else {
                continue;
            };
            // Committees move a submitted task along without changing its state: follow them on the chain.
            let read = match &chain {
                Some(c) => c.read(id, &now).await.ok(),
                None => None,
            };
            let progress = match read {
                Some((p, t)) => {
                    clock = t;
                    p
                }
                None => shown.clone(),
            };
            for (i, t) in &now {
                if tasks.get(i) != Some(t) || shown.get(i) != progress.get(i) {
                    print_task(
                        *i,
                        t,
                        progress.get(i),
                        chain.as_ref().map(|c| &c.terms),
                        clock,
                    );
                }
            }
            tasks = now;
            shown = progress;
            if settled(&tasks) {
                json::say(
                    || format!("job {id} settled: {:?}", counts(&tasks)),
                    || serde_json::json!({"kind": "settled", "jobId": id, "counts": counts(&tasks)}),
                );
                return Ok(());
            }
            if body.is_none() {
                break;
            }
        }
    }
}

/// `job fetch`: downloads each task's outputs, checks them against the on-chain roots, and assembles frames
/// (a PNG preview each, and with `exr` an OpenEXR file of the raw linear values).
pub(crate) async fn fetch(
    net: NetArgs,
    id: u64,
    out: &Path,
    exr: Option<tessera_render::output::ExrPrecision>,
    denoise: bool,
) -> Result<()> {
    let m = net.reader().await?;
    let job = m.job(id).await?;
    let ipfs = net.ipfs()?;
    let settings = job.settings();
    let results = m
        .job_logs(vec![ResultSubmitted::SIGNATURE_HASH], id)
        .await?;
    let mut cids: BTreeMap<(u64, B256), String> = BTreeMap::new();
    for log in &results {
        let e = log.log_decode::<ResultSubmitted>()?.inner.data;
        cids.insert((e.taskIndex.to::<u64>(), e.cellRoot), e.outputCid);
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let (w, h) = (settings.width as usize, settings.height as usize);
    let mut frames: BTreeMap<u32, (Vec<f32>, u64)> = BTreeMap::new();
    let mut fetched = 0u64;
    let mut docs = Vec::new();
    for i in 0..job.task_count {
        let v = m.task(id, i).await?;
        if !matches!(v.state, TaskState::Submitted | TaskState::Paid) {
            eprintln!(
                "task {i}: {} — no result to fetch",
                v.state.as_str().to_lowercase()
            );
            continue;
        }
        let cid = cids.get(&(i, v.cell_root)).ok_or_else(|| {
            anyhow!(
                "task {i}: no ResultSubmitted event for its root {}",
                v.cell_root
            )
        })?;
        let t = settings.task(i).map_err(|e| anyhow!("{e}"))?;
        let raw_size = 40 + u64::from(t.region.width) * u64::from(t.region.height) * 12;
        let raw = ipfs.cat(&format!("{cid}/raw.tsr"), raw_size).await?;
        let leaves = ipfs.cat(&format!("{cid}/leaves.json"), 256 << 20).await?;
        let preview = ipfs.cat(&format!("{cid}/preview.png"), 256 << 20).await?;
        let doc: serde_json::Value =
            serde_json::from_slice(&leaves).context("the leaves document is not JSON")?;
        tessera_render::output::check_outputs(&raw, &doc, Some(&v.cell_root.0)).with_context(
            || format!("task {i}: the outputs at {cid} do not match the root committed on-chain"),
        )?;
        let dir = out.join(format!("task-{i}"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("raw.tsr"), &raw)?;
        std::fs::write(dir.join("leaves.json"), &leaves)?;
        std::fs::write(dir.join("preview.png"), &preview)?;
        let (_, px) = tessera_render::output::parse_raw(&raw)?;
        let frame = frames
            .entry(t.frame)
            .or_insert_with(|| (vec![0.0; w * h * 3], 0));
        let r = t.region;
        for y in 0..r.height as usize {
            let src = y * r.width as usize * 3;
            let dst = ((r.y as usize + y) * w + r.x as usize) * 3;
            frame.0[dst..dst + r.width as usize * 3]
                .copy_from_slice(&px[src..src + r.width as usize * 3]);
        }
        frame.1 += 1;
        fetched += 1;
        eprintln!(
            "task {i}: {} verified against root {}",
            v.state.as_str().to_lowercase(),
            v.cell_root
        );
        docs.push(serde_json::json!({
            "task": i,
            "frame": t.frame,
            "state": v.state.as_str().to_lowercase(),
            "cellRoot": v.cell_root.to_string(),
            "outputCid": cid,
        }));
    }
    let regions = settings.regions();
    let mut written = Vec::new();
    // `png`, `exr`, `denoisedPng`, `denoisedExr`.
    let field = |prefix: &str, ext: &str| {
        if prefix.is_empty() {
            ext.to_owned()
        } else {
            format!("{prefix}{}{}", ext[..1].to_uppercase(), &ext[1..])
        }
    };
    for (f, (px, n)) in &frames {
        if *n == regions {
            // The frame as a PNG (and OpenEXR), then denoised under the same names with `-denoised`.
            let mut doc = serde_json::json!({"frame": f});
            let mut write = |stem: String, pixels: &[f32], key: &str| -> Result<()> {
                let (w, h) = (settings.width, settings.height);
                let p = out.join(format!("{stem}.png"));
                tessera_render::output::write_png(&p, w, h, pixels)?;
                doc[field(key, "png")] = p.display().to_string().into();
                if !json::on() {
                    println!("{}", p.display());
                }
                if let Some(precision) = exr {
                    let p = out.join(format!("{stem}.exr"));
                    tessera_render::output::write_exr(&p, w, h, pixels, precision)?;
                    doc[field(key, "exr")] = p.display().to_string().into();
                    if !json::on() {
                        println!("{}", p.display());
                    }
                }
                Ok(())
            };
            write(format!("frame-{f:04}"), px, "")?;
            if denoise {
                let clean = tessera_render::denoise::denoise(settings.width, settings.height, px)
                    .with_context(|| format!("denoising frame {f}"))?;
                write(format!("frame-{f:04}-denoised"), &clean, "denoised")?;
            }
            written.push(doc);
        } else {
            eprintln!("frame {f}: {n} of {regions} regions available; not assembled");
        }
    }
    eprintln!(
        "{fetched} of {} tasks fetched and checked into {}",
        job.task_count,
        out.display()
    );
    if fetched == 0 {
        bail!("job {id} has no results yet");
    }
    if json::on() {
        json::emit(&serde_json::json!({
            "kind": "fetched",
            "jobId": id,
            "taskCount": job.task_count,
            "tasks": docs,
            "frames": written,
            "width": settings.width,
            "height": settings.height,
            "out": out.display().to_string(),
        }));
    }
    Ok(())
}

/// `job accept`, `job cancel`, `job reclaim`, `withdraw`.
pub(crate) async fn act(net: NetArgs, key: KeyArgs, action: Action) -> Result<()> {
    let m = net.signed(&key).await?;
    match action {
        Action::Accept { job, task } => {
            m.send(
                m.market.acceptTask(U256::from(job), U256::from(task)),
                &format!("accepting task {task} of job {job}"),
            )
            .await?;
            json::say(
                || format!("task {task} of job {job} accepted and paid"),
                || serde_json::json!({"kind": "accepted", "jobId": job, "task": task}),
            );
        }
        Action::Cancel { job } => {
            let (before, token) = credit(&m, job).await?;
            m.send(
                m.market.cancelJob(U256::from(job)),
                &format!("cancelling job {job}"),
            )
            .await?;
            let (after, _) = credit(&m, job).await?;
            let credited = after.saturating_sub(before);
            json::say(
                || {
                    format!(
                        "job {job} cancelled; {} {token} credited for its open tasks (withdraw with `tessera \
                         withdraw`)",
                        format_ether(credited)
                    )
                },
                || serde_json::json!({"kind": "cancelled", "jobId": job, "creditedWei": credited.to_string()}),
            );
        }
        Action::Reclaim { job } => {
            let (before, token) = credit(&m, job).await?;
            m.send(
                m.market.reclaimOpenTasks(U256::from(job)),
                &format!("reclaiming job {job}"),
            )
            .await?;
            // Leases that outlived the deadline hold their tasks' escrow until they are ended too.
            let leased = claimed_tasks(&m, job).await?;
            for batch in leased.chunks(RECLAIM_BATCH) {
                m.send(
                    m.market.reopenExpired(U256::from(job), batch.to_vec()),
                    &format!("ending {} expired leases of job {job}", batch.len()),
                )
                .await?;
            }
            let (after, _) = credit(&m, job).await?;
            let credited = after.saturating_sub(before);
            json::say(
                || {
                    format!(
                        "open tasks of job {job} reclaimed and {} expired leases ended; {} {token} credited \
                         (withdraw with `tessera withdraw`)",
                        leased.len(),
                        format_ether(credited)
                    )
                },
                || {
                    serde_json::json!({
                        "kind": "reclaimed",
                        "jobId": job,
                        "leasesEnded": leased.len(),
                        "creditedWei": credited.to_string(),
                    })
                },
            );
        }
        Action::Withdraw { token } => {
            let token = token.unwrap_or(Address::ZERO);
            let bal = m.market.balanceOf(m.me, token).call().await?;
            if bal.is_zero() {
                bail!(
                    "nothing to withdraw: {} has no credited balance in {}",
                    m.me,
                    if token == Address::ZERO {
                        "ETH".to_owned()
                    } else {
                        token.to_string()
                    }
                );
            }
            m.send(m.market.withdraw(token), "withdrawing").await?;
            json::say(
                || format!("withdrew {}", format_ether(bal)),
                || {
                    serde_json::json!({
                        "kind": "withdrawn",
                        "token": (token != Address::ZERO).then(|| crate::lower(token)),
                        "amountWei": bal.to_string(),
                    })
                },
            );
        }
    }
    Ok(())
}

/// The caller's credited balance in the job's token, and the token's name.
/// Expired leases ended by one `reopenExpired` of `job reclaim`: about 3.2M gas at ~6,300 a task (docs/gas.md),
/// well inside a block.
const RECLAIM_BATCH: usize = 500;

/// The tasks of `job` that are still leased, read from the chain (`getTask`, 64 calls at a time).
async fn claimed_tasks(m: &Market, job: u64) -> Result<Vec<u32>> {
    let count = m.market.getJob(U256::from(job)).call().await?.taskCount;
    let count = u32::try_from(count).context("task count")?;
    let states = futures_util::stream::iter(0..count)
        .map(|t| async move {
            let v = m
                .market
                .getTask(U256::from(job), U256::from(t))
                .call()
                .await?;
            anyhow::Ok((t, v.state))
        })
        .buffered(64)
        .collect::<Vec<_>>()
        .await;
    let mut out = Vec::new();
    for r in states {
        let (t, state) = r?;
        if state == TaskState::Claimed as u8 {
            out.push(t);
        }
    }
    Ok(out)
}

async fn credit(m: &Market, job: u64) -> Result<(U256, String)> {
    let j = m
        .market
        .getJob(U256::from(job))
        .call()
        .await
        .map_err(|e| anyhow!("{}", tessera_bindings::errors::describe(&e)))?;
    let bal = m.market.balanceOf(m.me, j.token).call().await?;
    let name = if j.token == Address::ZERO {
        "ETH".to_owned()
    } else {
        format!("of token {}", j.token)
    };
    Ok((bal, name))
}

/// Actions that need the artist's key.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    Accept { job: u64, task: u64 },
    Cancel { job: u64 },
    Reclaim { job: u64 },
    Withdraw { token: Option<Address> },
}
