//! Faults: a worker killed mid-task (its lease expires), a worker killed and restarted, a malformed scene, a
//! scene no node provides, a scene whose loads ended the worker, IPFS going away and coming back, and an older job no worker takes in front of a
//! newer one. Cheating workers and lying verifiers are in `verification.rs`.

use crate::harness::{Net, check};
use alloy::primitives::U256;
use std::time::Duration;
use tessera_bindings::DistributedRender::{ResultSubmitted, TaskClaimed, TaskReopened};
use tessera_bindings::{ReopenReason, TaskState};
use tessera_devnet::mined;
use tessera_localnet::{Account, wait_for};

const LONG: Duration = Duration::from_secs(120);

/// Without the indexer (the workers find tasks from chain logs): a worker is killed while it renders; once
/// its lease has run out another worker reopens the task, renders it and is paid; the first is penalised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_task_loses_the_lease_to_another_that_completes_it()
-> anyhow::Result<()> {
    let _slot = crate::harness::slot().await;
    let mut net = Net::start("lease", false).await?;
    net.verifier("v", Account::Verifier, 1, 1).await?;
    // Heavy enough (~1 s) that the kill lands during the render.
    let job = net.post(1, "1x1", 512, &["--lease", "300s"])?;
    let a = net.ln.address(Account::Worker)?;
    net.ln.spawn_daemon("a", "run", Account::Worker, &[])?;
    net.task_in(job, 0, TaskState::Claimed, Some(a), LONG)
        .await?;
    net.ln.daemon("a")?.kill()?;
    check(
        net.events::<ResultSubmitted>(job).await?.is_empty(),
        "killed before it could submit",
    )?;
    let stake_before = net.market.market.stakeOf(a).call().await?.bonded;
    net.ln.dev.warp(301).await?;
    net.ln.spawn_daemon("b", "run", Account::Worker2, &[])?;
    net.all_paid(job, LONG).await?;
    let b = net.ln.address(Account::Worker2)?;
    check(
        net.task(job, 0).await?.worker == b,
        "paid to the second worker",
    )?;
    let reopened = net.events::<TaskReopened>(job).await?;
    check(
        reopened.len() == 1
            && reopened[0].previousWorker == a
            && reopened[0].reason == ReopenReason::LeaseExpired as u8,
        "reopened once, as A's expired lease",
    )?;
    let stake_after = net.market.market.stakeOf(a).call().await?.bonded;
    check(stake_after < stake_before, "A forfeited part of its stake")?;
    net.shutdown().await
}

/// A worker killed during its work and restarted resumes from its store: every task is claimed once,
/// submitted once, and paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_and_restarted_resumes_without_claiming_or_submitting_twice()
-> anyhow::Result<()> {
    let _slot = crate::harness::slot().await;
    let mut net = Net::start("restart", true).await?;
    net.verifier("v", Account::Verifier, 1, 1).await?;
    let job = net.post(2, "1x1", 512, &[])?;
    let a = net.ln.address(Account::Worker)?;
    net.ln.spawn_daemon("a", "run", Account::Worker, &[])?;
    // Kill it twice: once right after a claim (mid-render), once after the first submission.
    net.task_in(job, 0, TaskState::Claimed, Some(a), LONG)
        .await?;
    net.ln.daemon("a")?.kill()?;
    net.ln.daemon("a")?.start()?;
    wait_for("a first result", LONG, || async {
        Ok((!net.events::<ResultSubmitted>(job).await?.is_empty()).then_some(()))
    })
    .await?;
    net.ln.daemon("a")?.kill()?;
    net.ln.daemon("a")?.start()?;
    net.all_paid(job, LONG).await?;
    let claims = net.events::<TaskClaimed>(job).await?;
    let results = net.events::<ResultSubmitted>(job).await?;
    for t in 0..2u64 {
        let c = claims
            .iter()
            .filter(|c| c.taskIndex == U256::from(t))
            .count();
        let r = results
            .iter()
            .filter(|c| c.taskIndex == U256::from(t))
            .count();
        check(
            c == 1 && r == 1,
            &format!("task {t}: {c} claims, {r} results"),
        )?;
    }
    check(
        claims.iter().all(|c| c.worker == a),
        "all by the restarted worker",
    )?;
    // A graceful stop (SIGTERM) ends the worker cleanly.
    check(net.ln.daemon("a")?.stop()?, "the worker exits on SIGTERM")?;
    net.shutdown().await
}

/// A scene that is not a glTF file: the CLI refuses to post it; posted directly, no worker claims its
/// tasks, while a good job posted after it is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_scene_is_never_claimed() -> anyhow::Result<()> {
    let _slot = crate::harness::slot().await;
    let mut net = Net::start("malformed", true).await?;
    net.verifier("v", Account::Verifier, 1, 1).await?;
    let junk = net.ln.dir.join("junk.glb");
    std::fs::write(
        &junk,
        b"glTF but not really: this is no binary glTF container",
    )?;
    let refused = net
        .ln
        .cli(&[
            "job",
            "submit",
            &junk.display().to_string(),
            "--reward",
            "0.001",
        ])?
        .output()?;
    check(
        !refused.status.success(),
        "the CLI refuses an unrenderable scene",
    )?;
    check(
        String::from_utf8_lossy(&refused.stderr).contains("cannot be rendered"),
        &format!("and says why: {}", String::from_utf8_lossy(&refused.stderr)),
    )?;
    // Post it anyway, straight to the contract.
    let ipfs =
        tessera_ipfs::IpfsClient::new(tessera_ipfs::ClientConfig::new(net.ln.ipfs.api.clone()))?;
    let cid = ipfs
        .add_bytes(
            "junk.glb",
            std::fs::read(&junk)?,
            tessera_ipfs::AddOptions::default(),
        )
        .await?
        .cid;
    let bad = post_direct(&net, cid).await?;
    net.ln.spawn_daemon("w", "run", Account::Worker, &[])?;
    let good = net.post(1, "1x1", 4, &[])?;
    net.all_paid(good, LONG).await?;
    check(
        net.events::<TaskClaimed>(bad).await?.is_empty(),
        "no claim on the malformed job",
    )?;
    let log = net.ln.daemon("w")?.log();
    check(
        log.contains("refusing scene"),
        "the worker says it refused the scene",
    )?;
    net.shutdown().await
}

/// A two-task job of scene `cid` (128 x 72, 8 px cells, one seat), posted straight to the contract, past the
/// CLI's checks.
async fn post_direct(net: &Net, cid: String) -> anyhow::Result<u64> {
    let now = net.ln.dev.now().await?;
    let mut spec = tessera_devnet::job_spec(
        2,
        1_000_000_000_000_000,
        1_000_000_000_000_000,
        u32::try_from(now + 3600)?,
    );
    spec.sceneCid = cid;
    spec.rendererId = tessera_render::RENDERER_ID.into();
    spec.settings.width = 128;
    spec.settings.height = 72;
    spec.settings.cellSize = 8;
    spec.quorum = 1;
    let artist = net
        .ln
        .dev
        .artist
        .market(net.ln.deployment.distributed_render);
    let escrow = tessera_devnet::escrow(&spec);
    let r = mined(artist.submitRenderJob(spec).value(escrow)).await?;
    let bad = r
        .inner
        .logs()
        .iter()
        .find_map(|l| {
            l.log_decode::<tessera_bindings::DistributedRender::JobSubmitted>()
                .ok()
        })
        .map(|e| e.inner.data.jobId.to::<u64>())
        .ok_or_else(|| anyhow::anyhow!("no JobSubmitted"))?;
    Ok(bad)
}

/// A scene no node provides does not stall the worker. The job posted first names a CID nobody has (a raw
/// CID of bytes never added); its fetch runs in the background, bounded by the worker's fetch deadline, then
/// backs off, while the worker renders the good job posted after it. Nothing of the first job is claimed.
/// (Before, each candidate task's fetch held the worker for its 120 s timeout and four retries.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scene_nobody_provides_does_not_stall_the_worker() -> anyhow::Result<()> {
    let _slot = crate::harness::slot().await;
    let mut net = Net::start("noscene", true).await?;
    net.verifier("v", Account::Verifier, 1, 1).await?;
    // CIDv1, raw, SHA2-256 of "tessera: a scene no node has\n".
    let missing = "bafkreiervnhautnxyrx577h6gs24idwgwyuhxw77p4d2l7z5ljtpezl4ya";
    let bad = post_direct(&net, missing.into()).await?;
    net.ln
        .spawn_daemon("w", "run", Account::Worker, &["--scene-fetch-s", "5"])?;
    let good = net.post(1, "1x1", 4, &[])?;
    net.all_paid(good, LONG).await?;
    wait_for(
        "the worker to give up on the missing scene",
        LONG,
        || async {
            Ok(net.ln.daemons["w"]
                .log()
                .contains("scene unavailable; retrying later")
                .then_some(()))
        },
    )
    .await
    .map_err(|e| net.with_logs(e))?;
    check(
        net.events::<TaskClaimed>(bad).await?.is_empty(),
        "no claim on the job whose scene nobody has",
    )?;
    check(
        !net.ln.daemons["w"].log().contains("refusing scene"),
        "an unavailable scene is not refused for good",
    )?;
    net.shutdown().await
}

/// IPFS goes down before the worker can fetch the scene: nothing is claimed while it is down, and the job
/// completes once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipfs_down_then_back_up_delays_but_does_not_lose_the_job() -> anyhow::Result<()> {
    let _slot = crate::harness::slot().await;
    let mut net = Net::start("ipfs", true).await?;
    net.verifier("v", Account::Verifier, 1, 1).await?;
    let job = net.post(2, "1x1", 4, &[])?;
    net.ln.ipfs.proc.stop()?;
    net.ln.spawn_daemon("w", "run", Account::Worker, &[])?;
    wait_for("the worker to notice IPFS is down", LONG, || async {
        Ok(net.ln.daemons["w"]
            .log()
            .contains("scene unavailable: the IPFS node is unreachable")
            .then_some(()))
    })
    .await
    .map_err(|e| net.with_logs(e))?;
    check(
        net.events::<TaskClaimed>(job).await?.is_empty(),
        "nothing claimed without the scene",
    )?;
    net.ln.ipfs.proc.start()?;
    net.ln.ipfs.ready().await?;
    net.all_paid(job, LONG).await?;
    net.shutdown().await
}

/// A worker finds work behind an older job it will not take: 120 open tasks paying under its floor come first
/// in the open-task list (oldest job first, 100 a page), and the newer job behind them is still rendered and
/// paid; the cheap job's tasks are never claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_finds_work_behind_an_older_job_it_will_not_take() -> anyhow::Result<()> {
    let _slot = crate::harness::slot().await;
    let mut net = Net::start("starved", true).await?;
    net.verifier("v", Account::Verifier, 1, 1).await?;
    // 1 gwei a task of 9,216 samples: about 108 gwei per million samples, under the floor below; the job
    // behind it pays about 54 million.
    let cheap = net.post(120, "1x1", 1, &["--reward", "0.000000001"])?;
    let job = net.post(1, "1x1", 4, &[])?;
    net.ln.spawn_daemon(
        "w",
        "run",
        Account::Worker,
        &["--min-gwei-per-msample", "10000"],
    )?;
    net.all_paid(job, LONG).await?;
    check(
        net.events::<TaskClaimed>(cheap).await?.is_empty(),
        "no task of the cheap job was claimed",
    )?;
    net.shutdown().await
}

/// What a load that ended the process (an abort, the out-of-memory killer) leaves behind is the store's
/// `loading/<cid>` mark, naming the runs that began a load and never ended it. With two, a restarted worker
/// refuses the scene and claims nothing of its jobs; with one (perhaps an operator's `kill -9`), it tries
/// again, renders the job and clears the mark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scene_whose_loads_ended_the_worker_twice_is_refused() -> anyhow::Result<()> {
    let _slot = crate::harness::slot().await;
    let mut net = Net::start("crashes", true).await?;
    net.verifier("v", Account::Verifier, 1, 1).await?;
    let job = net.post(1, "1x1", 4, &[])?;
    let cid = net
        .events::<tessera_bindings::DistributedRender::JobSubmitted>(job)
        .await?
        .first()
        .map(|e| e.spec.sceneCid.clone())
        .ok_or_else(|| anyhow::anyhow!("no JobSubmitted"))?;
    let mark = format!("loading/{cid}");
    let data = net.ln.dir.join("data");
    let leave = |name: &str, ended: u32| -> anyhow::Result<std::path::PathBuf> {
        let dir = data.join(name);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("worker.redb");
        // Each run opens the store, begins a load and ends without ending it.
        for _ in 0..ended {
            tessera_worker::store::Store::open(&path)?.begin_load(&cid)?;
        }
        Ok(path)
    };

    leave("w", 2)?;
    net.ln.spawn_daemon("w", "run", Account::Worker, &[])?;
    wait_for("the worker to refuse the scene", LONG, || async {
        Ok(net.ln.daemons["w"]
            .log()
            .contains("ended the worker 2 times")
            .then_some(()))
    })
    .await
    .map_err(|e| net.with_logs(e))?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    check(
        net.events::<TaskClaimed>(job).await?.is_empty(),
        "nothing claimed of a scene that ended the worker twice",
    )?;
    net.ln.daemon("w")?.stop()?;

    let store = leave("w2", 1)?;
    net.ln.spawn_daemon("w2", "run", Account::Worker, &[])?;
    net.all_paid(job, LONG).await?;
    net.ln.daemon("w2")?.stop()?;
    check(
        tessera_worker::store::Store::open(&store)?
            .get::<serde_json::Value>(&mark)?
            .is_none(),
        "the mark is cleared once a load returns",
    )?;
    net.shutdown().await
}
