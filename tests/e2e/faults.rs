//! Faults: a cheating worker, a worker killed mid-task (its lease expires), a worker killed and restarted,
//! a malformed scene, and IPFS going away and coming back.

use crate::harness::{Net, SERIAL, check, ether, scene};
use alloy::primitives::{B256, U256};
use std::time::Duration;
use tessera_bindings::DistributedRender::{
    ResultSubmitted, TaskClaimed, TaskRejected, TaskReopened,
};
use tessera_bindings::{ReopenReason, TaskState};
use tessera_devnet::mined;
use tessera_localnet::{Account, wait_for};

const LONG: Duration = Duration::from_secs(120);

/// A worker that forges one cell: it renders the task honestly, replaces one cell with black, commits to the
/// forged data consistently (leaves and root match what it publishes) and submits. The verifier, checking
/// every cell, rejects it with that cell's proof; the cheater is slashed, the task reopens, and an honest
/// worker renders it and is paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_cell_is_rejected_slashed_and_the_task_rerendered_by_an_honest_worker()
-> anyhow::Result<()> {
    let _one = SERIAL.lock().await;
    let mut net = Net::start("cheat", true).await?;
    let job = net.post(1, "1x1", 4, &[])?;
    // anvil account 5, `Account::Spare`
    let (cheater, m) = {
        let c = &net.ln.dev.verifier2;
        (c.address, c.market(net.ln.deployment.distributed_render))
    };
    mined(m.stake().value(ether("0.05")?)).await?;
    mined(m.claimTasks(U256::from(job), vec![0])).await?;
    let stake_before = m.stakeOf(cheater).call().await?.bonded;

    // Render honestly, then forge cell 5.
    let info = net.market.job(job).await?;
    let settings = info.settings();
    let t = settings.task(0).map_err(|e| anyhow::anyhow!("{e}"))?;
    let glb = std::fs::read(scene())?;
    let sc = tessera_render::load_job_scene(
        &glb,
        &settings,
        t.frame,
        tessera_render::Limits::default(),
    )?;
    let ts = tessera_render::task_settings(&settings, t.frame);
    let mut img = tessera_render::render_region(
        &sc,
        &ts,
        t.region,
        &tessera_render::Backend::Cpu,
        &|_, _| {},
    )?;
    let forged = 5usize;
    let r = img.cells[forged].rect;
    for y in r.y..r.y + r.height {
        for x in r.x..r.x + r.width {
            let at = (((y - t.region.y) * t.region.width + (x - t.region.x)) * 3) as usize;
            img.pixels[at..at + 3].copy_from_slice(&[0.0; 3]);
        }
    }
    let zeros = vec![0.0f32; (r.width * r.height * 3) as usize];
    let data_hash = tessera_common::keccak256(&tessera_render::render::cell_bytes(&zeros));
    img.cells[forged].data_hash = data_hash;
    img.cells[forged].leaf = tessera_common::cells::leaf(forged as u64, data_hash);
    let leaves: Vec<_> = img.cells.iter().map(|c| c.leaf).collect();
    img.root = tessera_common::cells::root(&leaves).ok_or_else(|| anyhow::anyhow!("no cells"))?;
    let raw = tessera_render::output::raw_bytes(
        &img,
        settings.width,
        settings.height,
        settings.cell_size,
    );
    let doc = serde_json::to_vec(&tessera_render::output::leaves_json(
        &img,
        settings.cell_size,
    ))?;
    // The forgery is self-consistent: only re-rendering can expose it.
    tessera_render::output::check_outputs(&raw, &serde_json::from_slice(&doc)?, Some(&img.root))?;
    let ipfs =
        tessera_ipfs::IpfsClient::new(tessera_ipfs::ClientConfig::new(net.ln.ipfs.api.clone()))?;
    let added = ipfs
        .add_directory(
            "forged",
            &[("raw.tsr", raw), ("leaves.json", doc)],
            tessera_ipfs::AddOptions::default(),
        )
        .await?;
    mined(m.submitResult(U256::from(job), U256::ZERO, added.cid, B256::from(img.root))).await?;

    // The verifier checks every cell (k >= N).
    net.ln
        .spawn_daemon("v", "verify", Account::Verifier, &["--cells", "100000"])?;
    let rejected = wait_for("the rejection", LONG, || async {
        Ok(net.events::<TaskRejected>(job).await?.into_iter().next())
    })
    .await
    .map_err(|e| net.with_logs(e))?;
    check(rejected.worker == cheater, "the cheater was rejected")?;
    check(
        rejected.cellIndex == U256::from(forged),
        &format!("the forged cell named: {}", rejected.cellIndex),
    )?;
    check(rejected.slashed > U256::ZERO, "stake slashed")?;
    let stake_after = m.stakeOf(cheater).call().await?.bonded;
    check(
        stake_after < stake_before,
        "the cheater's bonded stake went down",
    )?;
    let reopened = net.events::<TaskReopened>(job).await?;
    check(
        reopened
            .iter()
            .any(|r| r.reason == ReopenReason::Rejected as u8),
        "the task reopened as rejected",
    )?;

    // An honest worker now takes the reopened task and is paid.
    net.ln.spawn_daemon("w", "run", Account::Worker, &[])?;
    net.all_paid(job, LONG).await?;
    let honest = net.ln.address(Account::Worker)?;
    let v = net.task(job, 0).await?;
    check(
        v.worker == honest && v.attempt == 1,
        "paid to the honest worker on attempt 1",
    )?;
    net.shutdown().await
}

/// Without the indexer (the workers find tasks from chain logs): a worker is killed while it renders; once
/// its lease has run out another worker reopens the task, renders it and is paid; the first is penalised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_task_loses_the_lease_to_another_that_completes_it()
-> anyhow::Result<()> {
    let _one = SERIAL.lock().await;
    let mut net = Net::start("lease", false).await?;
    net.ln.spawn_daemon("v", "verify", Account::Verifier, &[])?;
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
    let _one = SERIAL.lock().await;
    let mut net = Net::start("restart", true).await?;
    net.ln.spawn_daemon("v", "verify", Account::Verifier, &[])?;
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
    let _one = SERIAL.lock().await;
    let mut net = Net::start("malformed", true).await?;
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
    net.ln.spawn_daemon("w", "run", Account::Worker, &[])?;
    net.ln.spawn_daemon("v", "verify", Account::Verifier, &[])?;
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

/// IPFS goes down before the worker can fetch the scene: nothing is claimed while it is down, and the job
/// completes once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipfs_down_then_back_up_delays_but_does_not_lose_the_job() -> anyhow::Result<()> {
    let _one = SERIAL.lock().await;
    let mut net = Net::start("ipfs", true).await?;
    let job = net.post(2, "1x1", 4, &[])?;
    net.ln.ipfs.proc.stop()?;
    net.ln.spawn_daemon("w", "run", Account::Worker, &[])?;
    net.ln.spawn_daemon("v", "verify", Account::Verifier, &[])?;
    wait_for("the worker to notice IPFS is down", LONG, || async {
        Ok(net.ln.daemons["w"]
            .log()
            .contains("scene unavailable")
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
