//! `tessera-localnet demo`: the main job. Starts a whole network on this machine (anvil, Postgres, the local
//! IPFS node, the contracts, the indexer, two workers and three verifiers), posts the bundled demo scene as a
//! multi-task job with the artist's CLI, shows its progress live, prints how each task was verified (the
//! committees drawn, their revealed votes and verdicts), fetches and checks the frames, prints the indexer's
//! view of the job, and shuts everything down. The built web app (`web/dist`) is served beside it, with a
//! `config.json` for this network, and its address printed; `--keep` leaves the network running for a person
//! to use it until Ctrl-C.

use alloy::primitives::Address;
use alloy::sol_types::SolEvent;
use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tessera_bindings::DistributedRender::{CommitteeDrawn, RoundTallied, TaskPaid, VoteRevealed};
use tessera_bindings::TaskState;
use tessera_bindings::market::Market;
use tessera_localnet::{Account, Localnet, Options, VERIFIERS, repo_root};

#[derive(Debug, Parser)]
#[command(
    name = "tessera-localnet",
    about = "Run the whole Tessera network locally and take a demo job to paid"
)]
struct Cli {
    /// Working folder (keystores, data, logs; emptied first).
    #[arg(long, default_value_os_t = std::env::temp_dir().join("tessera-localnet"))]
    dir: PathBuf,
    /// Where the fetched frames go.
    #[arg(long, short, default_value = "demo-output")]
    out: PathBuf,
    /// Frames in the demo job.
    #[arg(long, default_value_t = 4)]
    frames: u32,
    /// Regions per frame as COLSxROWS.
    #[arg(long, default_value = "2x1")]
    regions: String,
    /// Image size as WIDTHxHEIGHT.
    #[arg(long, default_value = "960x540")]
    size: String,
    /// Samples per pixel.
    #[arg(long, default_value_t = 64)]
    spp: u32,
    /// Seats of each task's first committee.
    #[arg(long, default_value_t = 3)]
    quorum: u8,
    /// Length of each verification phase (commit, reveal, appeal window), e.g. 20s.
    #[arg(long, default_value = "20s")]
    phase: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// The built web app to serve (`npm run build` in web/; `scripts/demo.sh` builds it).
    #[arg(long, default_value_os_t = repo_root().join("web/dist"))]
    web: PathBuf,
    /// After the demo, keep the network (and the web app) running until Ctrl-C.
    #[arg(long)]
    keep: bool,
}

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(cli)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn step(t0: Instant, what: &str) {
    println!("[{:>6.1}s] {what}", t0.elapsed().as_secs_f64());
}

async fn run(cli: Cli) -> Result<()> {
    let t0 = Instant::now();
    step(
        t0,
        "starting anvil, the local IPFS node, Postgres and the indexer; deploying the contracts",
    );
    // The web app's port first: the IPFS node lets that origin (and only it) call its RPC API.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the web app's port")?;
    let origin = format!("http://{}", listener.local_addr()?);
    let mut net = Localnet::start(Options {
        dir: cli.dir.clone(),
        indexer: true,
        poll_ms: 200,
        web_origins: vec![origin],
    })
    .await?;
    step(
        t0,
        &format!(
            "chain {} at {}, DistributedRender at {}, IPFS API {}, indexer API {}",
            net.deployment.chain_id,
            net.dev.endpoint(),
            net.deployment.distributed_render,
            net.ipfs.api,
            net.indexer_url
        ),
    );
    let web = serve_web(&net, &cli.web, listener).await?;
    match &web {
        Some(url) => step(t0, &format!("the web app is at {url}")),
        None => step(
            t0,
            &format!(
                "the web app is not built ({} has no index.html: npm run build in web/); not served",
                cli.web.display()
            ),
        ),
    }
    let mut outcome = tokio::select! {
        r = demo(&mut net, &cli, t0) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    // Kept also when the demo failed: that is when one wants to look at it.
    if cli.keep {
        step(
            t0,
            &format!(
                "the network keeps running{}; Ctrl-C stops it",
                web.as_deref()
                    .map_or_else(String::new, |u| format!(" (web app at {u})"))
            ),
        );
        if let Err(e) = tokio::signal::ctrl_c().await {
            outcome = Err(e.into());
        }
    }
    step(t0, "shutting down (SIGTERM to every process)");
    let logs = net.dir.join("logs");
    let down = net.shutdown().await;
    if outcome.is_err() {
        eprintln!("logs of every process are in {}", logs.display());
    }
    outcome?;
    down?;
    step(t0, "done");
    Ok(())
}

/// Serves the built web app at `dist` on a free loopback port, with a `config.json` naming this network; its
/// URL, or `None` when the app is not built.
async fn serve_web(
    net: &Localnet,
    dist: &std::path::Path,
    listener: tokio::net::TcpListener,
) -> Result<Option<String>> {
    if !dist.join("index.html").is_file() {
        return Ok(None);
    }
    let config = serde_json::json!({
        "indexerUrl": net.indexer_url,
        // The address anvil listens on (a browser resolving `localhost` may try ::1 first).
        "rpcUrl": net.dev.endpoint().replacen("localhost", "127.0.0.1", 1),
        "ipfsApi": net.ipfs.api,
        "ipfsGateway": "",
        "chainId": net.deployment.chain_id,
        "market": net.deployment.distributed_render.to_string(),
    });
    let app = axum::Router::new()
        .route(
            "/config.json",
            axum::routing::get(move || {
                let c = config.clone();
                async move { axum::Json(c) }
            }),
        )
        .fallback_service(tower_http::services::ServeDir::new(dist));
    let url = format!("http://{}/", listener.local_addr()?);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("the web app's server stopped: {e}");
        }
    });
    Ok(Some(url))
}

async fn demo(net: &mut Localnet, cli: &Cli, t0: Instant) -> Result<()> {
    net.spawn_daemon("worker-1", "run", Account::Worker, &[])?;
    net.spawn_daemon("worker-2", "run", Account::Worker2, &[])?;
    net.spawn_verifiers(&[])?;
    step(
        t0,
        &format!(
            "started two workers and {} verifiers, {} registry tickets each (logs in {})",
            VERIFIERS.len(),
            tessera_localnet::TICKETS,
            net.dir.join("logs").display()
        ),
    );
    let (w, h) = cli
        .size
        .split_once('x')
        .context("--size must be WIDTHxHEIGHT")?;
    let scene = repo_root().join("assets/scenes/complete.glb");
    let frames = cli.frames.to_string();
    let spp = cli.spp.to_string();
    let quorum = cli.quorum.to_string();
    let submitted = Instant::now();
    let id = net
        .cli_ok(&[
            "job",
            "submit",
            &scene.display().to_string(),
            "--width",
            w,
            "--height",
            h,
            "--spp",
            &spp,
            "--bounces",
            "4",
            // complete.glb's one light is a 1 lx sun (1/683 W/m² as Blender imports it): the job names a sky
            // that lights the scene.
            "--env",
            "0.8,0.8,0.85",
            "--frames",
            &frames,
            "--regions",
            &cli.regions,
            "--cell-size",
            "8",
            "--reward",
            "0.002",
            "--stake",
            "0.001",
            "--deadline",
            "1h",
            "--lease",
            "10m",
            "--challenge-window",
            &cli.phase,
            "--quorum",
            &quorum,
        ])?
        .trim()
        .to_owned();
    step(
        t0,
        &format!("the artist posted job {id}; following it on the indexer's stream:"),
    );
    let mut watch = net.cli(&["job", "status", &id, "--watch"])?.spawn()?;
    let deadline = Instant::now() + Duration::from_secs(cli.timeout);
    loop {
        if let Some(s) = watch.try_wait()? {
            ensure!(s.success(), "tessera job status --watch failed");
            break;
        }
        if Instant::now() > deadline {
            watch.kill().ok();
            bail!("the job was not settled within {} s", cli.timeout);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let settled = submitted.elapsed();
    // The chain decides: every task must be paid.
    let market = Market::read_only(&net.dev.endpoint(), net.deployment.clone()).await?;
    let job = market.job(id.parse()?).await?;
    for i in 0..job.task_count {
        let v = market.task(job.id, i).await?;
        ensure!(
            v.state == TaskState::Paid,
            "task {i} ended {:?}, not paid",
            v.state
        );
    }
    step(
        t0,
        &format!(
            "all {} tasks verified and paid {:.1} s after the job was posted",
            job.task_count,
            settled.as_secs_f64()
        ),
    );
    step(t0, "how each task was verified (from the chain's events):");
    print!("{}", verification_report(net, &market, job.id).await?);
    let out = cli.out.display().to_string();
    let frames_written = net.cli_ok(&["job", "fetch", &id, "-o", &out])?;
    step(
        t0,
        &format!("frames fetched from IPFS, checked against the on-chain roots, written to {out}:"),
    );
    print!("{frames_written}");
    let http = reqwest::Client::new();
    let view: serde_json::Value = http
        .get(format!("{}/v1/jobs/{id}", net.indexer_url))
        .send()
        .await?
        .json()
        .await?;
    step(t0, "the indexer's view of the job (GET /v1/jobs/{id}):");
    let d = &view["data"]["job"];
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "jobId": d["jobId"], "status": d["status"], "taskCount": d["taskCount"], "tasks": d["tasks"],
            "rewardPerTask": d["rewardPerTask"], "escrow": d["escrow"], "paidToWorkers": d["paidToWorkers"],
            "rejections": d["rejections"], "sceneCid": d["sceneCid"], "rendererId": d["rendererId"],
            "meta": view["meta"],
        }))?
    );
    for (name, acct) in [
        ("worker-1", Account::Worker),
        ("worker-2", Account::Worker2),
    ] {
        let addr = tessera_wallet::open(
            &net.keystore(acct)?,
            &tessera_wallet::PasswordSource::File(net.dir.join("password")),
        )?
        .address();
        let s: serde_json::Value = http
            .get(format!("{}/v1/workers/{addr}", net.indexer_url))
            .send()
            .await?
            .json()
            .await?;
        println!(
            "{name} {addr}: {} tasks completed, reputation {}",
            s["data"]["tasksCompleted"], s["data"]["reputation"]
        );
    }
    println!("submit to all paid: {:.1} s", settled.as_secs_f64());
    Ok(())
}

/// One line per committee draw of every task (its level, members with seats and revealed votes, verdict),
/// then the payment, from the market's events.
async fn verification_report(net: &Localnet, market: &Market, job: u64) -> Result<String> {
    let mut names: BTreeMap<Address, String> = BTreeMap::new();
    for (name, account) in VERIFIERS {
        names.insert(net.address(account)?, name.to_owned());
    }
    for (name, account) in [
        ("worker-1", Account::Worker),
        ("worker-2", Account::Worker2),
    ] {
        names.insert(net.address(account)?, name.to_owned());
    }
    let name = |a: &Address| names.get(a).cloned().unwrap_or_else(|| a.to_string());
    let logs = market
        .job_logs(
            vec![
                CommitteeDrawn::SIGNATURE_HASH,
                VoteRevealed::SIGNATURE_HASH,
                RoundTallied::SIGNATURE_HASH,
                TaskPaid::SIGNATURE_HASH,
            ],
            job,
        )
        .await?;
    // Per task: draws in order, each with its members, votes and tally.
    let mut out = String::new();
    let mut lines: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut votes: BTreeMap<(u64, u64), Vec<String>> = BTreeMap::new();
    for log in &logs {
        if let Ok(e) = log.log_decode::<VoteRevealed>() {
            let e = e.inner.data;
            votes
                .entry((e.taskIndex.to::<u64>(), e.draw.to::<u64>()))
                .or_default()
                .push(format!(
                    "{} {}",
                    name(&e.verifier),
                    if e.approve { "approve" } else { "reject" }
                ));
        }
    }
    for log in &logs {
        if let Ok(e) = log.log_decode::<CommitteeDrawn>() {
            let e = e.inner.data;
            let members: Vec<String> = e
                .members
                .iter()
                .zip(&e.seats)
                .map(|(m, s)| format!("{} x{s}", name(m)))
                .collect();
            lines
                .entry(e.taskIndex.to::<u64>())
                .or_default()
                .push(format!(
                    "draw {} (level {}): committee {}",
                    e.draw,
                    e.level,
                    members.join(", ")
                ));
        } else if let Ok(e) = log.log_decode::<RoundTallied>() {
            let e = e.inner.data;
            let task = e.taskIndex.to::<u64>();
            let v = votes
                .get(&(task, e.draw.to::<u64>()))
                .map(|v| v.join(", "))
                .unwrap_or_default();
            lines.entry(task).or_default().push(format!(
                "draw {}: votes {v}; {} approve / {} reject seats, verdict {}",
                e.draw,
                e.approveSeats,
                e.rejectSeats,
                tessera_bindings::Verdict::try_from(e.verdict)
                    .map_or_else(|e| e.to_string(), |v| v.to_string())
            ));
        } else if let Ok(e) = log.log_decode::<TaskPaid>() {
            let e = e.inner.data;
            lines
                .entry(e.taskIndex.to::<u64>())
                .or_default()
                .push(format!(
                    "paid {} wei to {}, {} wei to the committee",
                    e.workerReward,
                    name(&e.worker),
                    e.verifierFees
                ));
        }
    }
    for (task, ls) in lines {
        for l in ls {
            out.push_str(&format!("  task {task}: {l}\n"));
        }
    }
    Ok(out)
}
