//! Verification when verifiers lie (docs/security.md): each test plays an attack on the whole network and
//! checks that it ends with the right verdict, the liar slashed and the task taken to an end.
//!
//! (a) A worker forges its result and its second key, alone in the registry when the result is submitted,
//!     is drawn and approves it; honest verifiers appeal, the larger committee rejects, the worker and the
//!     lying voter are slashed, and an honest worker re-renders the task and is paid.
//! (b) The artist's second key, drawn alone, rejects honest work; the appeal restores it and the worker is
//!     paid, its stake untouched.
//! (c) A worker commits to a root and withholds its leaves: the drawn members challenge it for the data, it
//!     does not answer, it is slashed, and the task is re-rendered.
//! (d) The registry shrinks below the job's committee size after the job is posted: the task still ends,
//!     judged by the committee the registry can seat.

use crate::harness::{Net, check, ether, scene};
use alloy::primitives::{Address, B256, U256};
use std::time::Duration;
use tessera_bindings::DistributedRender::{
    CommitteeDrawn, DataChallenged, RoundTallied, TaskPaid, TaskRejected, TaskReopened,
    VerdictAppealed, VoteSettled,
};
use tessera_bindings::{Phase, RejectReason, ReopenReason, TaskState, Verdict};
use tessera_devnet::{Actor, mined};
use tessera_localnet::{Account, VERIFIERS, wait_for};

const LONG: Duration = Duration::from_secs(300);
/// Each verification phase of these jobs: long enough for freshly started verifiers to register, check and
/// appeal within one appeal window on a busy two-core machine.
const WINDOW: &str = "30s";
/// anvil account of the cheating worker (5) and of the liar's second key (9).
const CHEATER: usize = 5;
const SECOND_KEY: usize = 9;

/// What a cheating worker does with task 0 of `job`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cheat {
    /// Renders 1 sample per pixel instead of the job's, and commits to that consistently (leaves and raw data
    /// match its root): only a re-render can tell.
    Forge,
    /// Renders honestly and commits to the right root, but publishes only the raw data, not the leaves.
    Withhold,
}

/// Claims task 0 of `job` as `who` and submits a result made the `cheat` way.
async fn cheat(net: &Net, who: &Actor, job: u64, cheat: Cheat) -> anyhow::Result<()> {
    let m = who.market(net.ln.deployment.distributed_render);
    mined(m.stake().value(ether("0.05")?)).await?;
    mined(m.claimTasks(U256::from(job), vec![0])).await?;
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
    let mut ts = tessera_render::task_settings(&settings, t.frame);
    if cheat == Cheat::Forge {
        ts.samples_per_pixel = 1;
    }
    let img = tessera_render::render_region(
        &sc,
        &ts,
        t.region,
        &tessera_render::Backend::Cpu,
        &|_, _| {},
    )?;
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
    // The forgery is self-consistent.
    tessera_render::output::check_outputs(&raw, &serde_json::from_slice(&doc)?, Some(&img.root))?;
    let files = match cheat {
        Cheat::Forge => vec![("raw.tsr", raw), ("leaves.json", doc)],
        Cheat::Withhold => vec![("raw.tsr", raw)],
    };
    let ipfs =
        tessera_ipfs::IpfsClient::new(tessera_ipfs::ClientConfig::new(net.ln.ipfs.api.clone()))?;
    let added = ipfs
        .add_directory("out", &files, tessera_ipfs::AddOptions::default())
        .await?;
    mined(m.submitResult(U256::from(job), U256::ZERO, added.cid, B256::from(img.root))).await?;
    Ok(())
}

/// The addresses of the default verifiers.
fn honest_verifiers(net: &Net) -> anyhow::Result<Vec<Address>> {
    VERIFIERS.iter().map(|(_, a)| net.ln.address(*a)).collect()
}

/// The `VoteSettled` of `voter` on `job`.
async fn settled(net: &Net, job: u64, voter: Address) -> anyhow::Result<Vec<VoteSettled>> {
    Ok(net
        .events::<VoteSettled>(job)
        .await?
        .into_iter()
        .filter(|s| s.verifier == voter)
        .collect())
}

/// Starts the honest verifiers (registered after the submission, so the first draw cannot seat them), then
/// `liar`, the registry's only key at the submission, votes `approve` alone; its verdict must stand, appealable.
async fn lie_alone(net: &mut Net, job: u64, liar: &Actor, approve: bool) -> anyhow::Result<()> {
    net.verifiers().await?;
    let phase = net
        .ln
        .dev
        .vote_round(
            net.ln.deployment.distributed_render,
            U256::from(job),
            0,
            &[liar],
            approve,
        )
        .await
        .map_err(|e| net.with_logs(e))?;
    // A daemon that disagrees (the worker whose work was rejected) may appeal as soon as the round is
    // tallied, before this reads the phase: the lie then stands as level 0's verdict under a level-1 draw.
    let v = net
        .market
        .market
        .getVerification(U256::from(job), U256::ZERO)
        .call()
        .await?;
    let lie = if approve {
        Verdict::Approve
    } else {
        Verdict::Reject
    };
    check(
        v.verdict == lie as u8
            && v.decidedLevel == U256::ZERO
            && (phase == Phase::Appealable || v.level >= U256::from(1)),
        &format!(
            "the lie (approve: {approve}) stands, appealable: {phase:?}, verdict {} at level {}, next level {}",
            v.verdict, v.decidedLevel, v.level
        ),
    )
}

/// Task 0 of `job` reopened for `reason`; an honest worker re-renders it and is paid on attempt 1; the
/// network is shut down.
async fn rerendered(mut net: Net, job: u64, reason: ReopenReason) -> anyhow::Result<()> {
    check(
        net.events::<TaskReopened>(job)
            .await?
            .iter()
            .any(|r| r.reason == reason as u8),
        &format!("the task reopened ({reason})"),
    )?;
    net.ln.spawn_daemon("w", "run", Account::Worker, &[])?;
    net.all_paid(job, LONG).await?;
    let v = net.task(job, 0).await?;
    check(
        v.worker == net.ln.address(Account::Worker)? && v.attempt == 1,
        "paid to the honest worker on attempt 1",
    )?;
    net.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_result_approved_by_the_workers_second_key_is_appealed_overturned_and_rerendered()
-> anyhow::Result<()> {
    let _slot = crate::harness::slot().await;
    let mut net = Net::start("collusion", false).await?;
    // The worker's second key is the whole registry when the job is posted and the result submitted.
    let liar = net.register_key(SECOND_KEY, 1).await?;
    let job = net.post(1, "1x1", 4, &["--challenge-window", WINDOW])?;
    let cheater = net.ln.dev.actor(CHEATER)?;
    cheat(&net, &cheater, job, Cheat::Forge).await?;
    let market = net.market.market.clone();
    let cheater_stake = market.stakeOf(cheater.address).call().await?;
    let liar_stake = market.verifierOf(liar.address).call().await?.stake;

    lie_alone(&mut net, job, &liar, true).await?;
    let first = net.events::<CommitteeDrawn>(job).await?;
    check(
        first.len() == 1 && first[0].members == vec![liar.address],
        "the first committee is the second key alone",
    )?;

    // An honest verifier appeals; the larger committee rejects; the rejection becomes final.
    let rejected = wait_for("the final rejection", LONG, || async {
        Ok(net.events::<TaskRejected>(job).await?.into_iter().next())
    })
    .await
    .map_err(|e| net.with_logs(e))?;
    let honest = honest_verifiers(&net)?;
    let appeals = net.events::<VerdictAppealed>(job).await?;
    check(
        appeals.iter().any(|a| {
            honest.contains(&a.appellant) && a.level == U256::from(1) && !a.requestApprove
        }),
        &format!("an honest verifier appealed for a rejection: {appeals:?}"),
    )?;
    let tallies = net.events::<RoundTallied>(job).await?;
    check(
        tallies
            .iter()
            .any(|t| t.level == U256::from(1) && t.verdict == Verdict::Reject as u8),
        "the appeal committee rejected",
    )?;
    check(
        rejected.worker == cheater.address
            && rejected.reason == RejectReason::Verdict as u8
            && rejected.slashed > U256::ZERO,
        &format!("the cheater rejected and slashed: {rejected:?}"),
    )?;
    let after = market.stakeOf(cheater.address).call().await?;
    check(
        after.bonded < cheater_stake.bonded,
        "the cheater's stake went down",
    )?;
    let liar_votes = settled(&net, job, liar.address).await?;
    check(
        liar_votes.len() == 1 && !liar_votes[0].coherent && liar_votes[0].slashed > U256::ZERO,
        &format!("the lying voter was judged incoherent and slashed: {liar_votes:?}"),
    )?;
    check(
        market.verifierOf(liar.address).call().await?.stake < liar_stake,
        "the lying key's stake went down",
    )?;
    rerendered(net, job, ReopenReason::Rejected).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_work_rejected_by_the_artists_second_key_is_restored_on_appeal_and_paid()
-> anyhow::Result<()> {
    let _slot = crate::harness::slot().await;
    let mut net = Net::start("robbery", false).await?;
    let liar = net.register_key(SECOND_KEY, 1).await?;
    let job = net.post(1, "1x1", 4, &["--challenge-window", WINDOW])?;
    let worker = net.ln.address(Account::Worker)?;
    net.ln.spawn_daemon("w", "run", Account::Worker, &[])?;
    net.task_in(job, 0, TaskState::Submitted, Some(worker), LONG)
        .await?;
    let stake = net.market.market.stakeOf(worker).call().await?;
    lie_alone(&mut net, job, &liar, false).await?;

    net.all_paid(job, LONG).await?;
    let appeals = net.events::<VerdictAppealed>(job).await?;
    check(
        appeals.iter().any(|a| a.requestApprove),
        &format!("someone appealed for approval: {appeals:?}"),
    )?;
    check(
        net.events::<TaskRejected>(job).await?.is_empty(),
        "the honest worker was never rejected",
    )?;
    let paid = net.events::<TaskPaid>(job).await?;
    check(
        paid.len() == 1 && paid[0].worker == worker,
        "paid to the honest worker",
    )?;
    let after = net.market.market.stakeOf(worker).call().await?;
    check(
        after.bonded == stake.bonded && after.locked == 0,
        &format!(
            "the honest worker's stake is whole and unlocked: {} -> {} ({} locked)",
            stake.bonded, after.bonded, after.locked
        ),
    )?;
    let liar_votes = settled(&net, job, liar.address).await?;
    check(
        liar_votes.len() == 1 && !liar_votes[0].coherent && liar_votes[0].slashed > U256::ZERO,
        &format!("the lying voter was slashed: {liar_votes:?}"),
    )?;
    net.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_withholding_its_leaves_is_challenged_slashed_and_the_task_rerendered()
-> anyhow::Result<()> {
    let _slot = crate::harness::slot().await;
    let mut net = Net::start("withheld", false).await?;
    net.verifiers().await?;
    let job = net.post(
        1,
        "1x1",
        4,
        &["--challenge-window", WINDOW, "--quorum", "3"],
    )?;
    let cheater = net.ln.dev.actor(CHEATER)?;
    cheat(&net, &cheater, job, Cheat::Withhold).await?;
    let rejected = wait_for("the withholding worker rejected", LONG, || async {
        Ok(net.events::<TaskRejected>(job).await?.into_iter().next())
    })
    .await
    .map_err(|e| net.with_logs(e))?;
    let challenges = net.events::<DataChallenged>(job).await?;
    let honest = honest_verifiers(&net)?;
    check(
        challenges.len() == 1 && honest.contains(&challenges[0].challenger),
        &format!("a member challenged the worker for its data: {challenges:?}"),
    )?;
    check(
        rejected.worker == cheater.address
            && rejected.reason == RejectReason::DataWithheld as u8
            && rejected.slashed > U256::ZERO,
        &format!("slashed for withholding: {rejected:?}"),
    )?;
    rerendered(net, job, ReopenReason::DataWithheld).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_smaller_than_the_committee_still_takes_every_task_to_an_end()
-> anyhow::Result<()> {
    let _slot = crate::harness::slot().await;
    let mut net = Net::start("small-registry", false).await?;
    net.verifier("v", Account::Verifier, 1, 1).await?;
    let others = [net.register_key(7, 1).await?, net.register_key(8, 1).await?];
    let job = net.post(
        1,
        "1x1",
        4,
        &["--challenge-window", WINDOW, "--quorum", "3"],
    )?;
    // Two of the three verifiers leave: one ticket is left for committees of three seats.
    for k in &others {
        mined(
            k.market(net.ln.deployment.distributed_render)
                .leaveVerifiers(),
        )
        .await?;
    }
    let r = net.market.market.registry().call().await?;
    check(r.activeTickets == U256::from(1), "one active ticket left")?;
    net.ln.spawn_daemon("w", "run", Account::Worker, &[])?;
    net.all_paid(job, LONG).await?;
    let v = net.ln.address(Account::Verifier)?;
    for d in net.events::<CommitteeDrawn>(job).await? {
        check(
            d.members == vec![v] && d.seats == vec![U256::from(1)],
            &format!("each committee is the one ticket left: {d:?}"),
        )?;
    }
    net.shutdown().await
}
