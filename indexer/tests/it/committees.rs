//! A task through drawn committees: a first committee rejects an honest result, the worker appeals, a larger
//! committee approves; the API shows the draws with their members and seats, the votes once revealed, the tallies,
//! the appeal, the deadlines and the slash of the incoherent member. A data challenge left unanswered rejects
//! another result. Then reorgs of those blocks, through the undo journal and deeper than it, leave what a fresh
//! index builds.

use crate::api::get_json;
use crate::harness::{
    Db, Indexer, Net, Options, TICKET, TICKETS, assert_same, fresh_reindex, mined, snapshot, synced,
};
use alloy::primitives::U256;
use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use tessera_bindings::Phase;
use tessera_devnet::DeployParams;
use tessera_indexer::model::addr;

async fn task(ix: &Indexer, job: U256, index: u32) -> Result<Value> {
    Ok(get_json(&ix.router, &format!("/v1/jobs/{job}/tasks/{index}"), 200).await?["data"].clone())
}

#[tokio::test]
async fn a_task_through_a_committee_an_appeal_and_a_data_challenge_survives_reorgs() -> Result<()> {
    let mut net = Net::start().await?;
    let db = Db::fresh().await?;
    let opts = Options {
        confirmations: 2,
        reorg_depth: 8,
        initial_range: 10,
        ..Options::default()
    };
    let ix = Indexer::start(&db, &net.rpc_url(), &net, opts).await?;
    let now = u32::try_from(net.now().await?)?;
    let job = net.post(net.spec(2, now + 100_000, false)).await?;
    net.claim_submit(&net.worker, job, 0, false).await?;
    synced(&db.pool, &net).await?;
    let t = task(&ix, job, 0).await?;
    assert_eq!(t["task"]["verificationPhase"], "none");
    assert_eq!(t["task"]["seedBlock"], json!(net.head().await?.0 + 1));
    assert_eq!(t["verification"]["draws"], json!([]));

    // The first committee (one seat) rejects the honest result.
    ensure!(net.vote(job, 0, false).await? == Phase::Appealable);
    synced(&db.pool, &net).await?;
    let t = task(&ix, job, 0).await?;
    assert_eq!(t["task"]["verificationPhase"], "appealable");
    assert_eq!(t["task"]["verdict"], "reject");
    let d0 = &t["verification"]["draws"][0];
    assert_eq!(d0["level"], 0);
    assert_eq!(d0["seats"], 1);
    assert_eq!(d0["members"].as_array().map(Vec::len), Some(1));
    let m0 = &d0["members"][0];
    assert_eq!(m0["seats"], 1);
    assert_eq!(m0["committed"], true);
    assert_eq!(m0["approve"], false);
    assert!(m0["renderProof"].is_string(), "{m0}");
    assert!(d0["revealEndsAt"].is_i64());
    assert_eq!(d0["tally"]["verdict"], "reject");
    assert_eq!(d0["tally"]["rejectSeats"], 1);
    assert_eq!(t["task"]["phaseEndsAt"], d0["tally"]["appealEndsAt"]);
    let incoherent = m0["verifier"].as_str().context("verifier")?.to_owned();

    // The worker appeals; a committee of three seats (level 1) approves, and the verdict stands.
    let bond = net.appeal(&net.worker, job, 0).await?;
    synced(&db.pool, &net).await?;
    let t = task(&ix, job, 0).await?;
    assert_eq!(t["task"]["verificationPhase"], "awaiting_draw");
    assert_eq!(t["task"]["verificationLevel"], 1);
    let a = &t["verification"]["appeals"][0];
    assert_eq!(a["level"], 1);
    assert_eq!(a["appellant"], json!(addr(&net.worker.address)));
    assert_eq!(a["requestApprove"], true);
    assert_eq!(a["bond"], json!(bond.to_string()));
    assert_eq!(a["upheld"], Value::Null);
    ensure!(net.vote(job, 0, true).await? == Phase::Appealable);
    net.settle(job, 0).await?;
    synced(&db.pool, &net).await?;
    let t = task(&ix, job, 0).await?;
    assert_eq!(t["task"]["state"], "paid");
    assert_eq!(t["task"]["payReason"], "verified");
    assert_eq!(t["task"]["verificationPhase"], Value::Null);
    assert_eq!(t["task"]["verdict"], "approve");
    let draws = t["verification"]["draws"].as_array().context("draws")?;
    assert_eq!(draws.len(), 2);
    assert_eq!(draws[1]["level"], 1);
    assert_eq!(draws[1]["seats"], 3);
    assert_eq!(draws[1]["tally"]["verdict"], "approve");
    assert_eq!(draws[1]["tally"]["approveSeats"], 3);
    // Seats go to distinct members (two verifiers here hold the three seats between them).
    let level1_members = draws[1]["members"].as_array().map_or(0, Vec::len);
    for m in draws[1]["members"].as_array().context("members")? {
        assert_eq!(m["approve"], true);
        assert_eq!(m["coherent"], true);
        assert_eq!(m["slashed"], "0");
    }
    assert_eq!(draws[0]["members"][0]["coherent"], false);
    assert_eq!(draws[0]["members"][0]["slashed"], json!(TICKET.to_string()));
    assert_eq!(t["verification"]["appeals"][0]["upheld"], true);
    let v = get_json(&ix.router, &format!("/v1/verifiers/{incoherent}"), 200).await?;
    assert_eq!(v["data"]["service"]["slashes"], 1);
    assert_eq!(v["data"]["service"]["slashed"], json!(TICKET.to_string()));
    let on_chain = net
        .at(&net.owner)
        .verifierOf(incoherent.parse()?)
        .call()
        .await?;
    assert_eq!(
        v["data"]["registration"]["stake"],
        json!(on_chain.stake.to_string())
    );
    assert_eq!(
        on_chain.stake,
        U256::from(u128::from(TICKETS) * TICKET - TICKET)
    );
    let s = net
        .at(&net.owner)
        .stakeOf(incoherent.parse()?)
        .call()
        .await?;
    assert_eq!(
        v["data"]["stake"]["bonded"],
        json!(s.bonded.to_string()),
        "a verifier's slash comes out of its verifier stake, not its bonded stake"
    );

    // A member challenges the data of another result; the worker does not answer and is rejected.
    net.claim_submit(&net.worker2, job, 1, false).await?;
    let m = net.at(&net.owner);
    let (head, _) = net.head().await?;
    let seed = m
        .getVerification(job, U256::from(1))
        .call()
        .await?
        .seedBlock;
    let seed = u64::try_from(seed)?;
    if head <= seed {
        net.mine(seed - head + 1).await?;
    }
    mined(m.drawCommittee(job, U256::from(1))).await?;
    let member = m.getMembers(job, U256::from(1), U256::ZERO).call().await?[0].verifier;
    let who = if member == net.verifier.address {
        &net.verifier
    } else {
        &net.verifier2
    };
    mined(
        net.at(who)
            .challengeData(job, U256::from(1), U256::ZERO, vec![2, 3])
            .value(DeployParams::default().data_challenge_bond),
    )
    .await?;
    synced(&db.pool, &net).await?;
    let t = task(&ix, job, 1).await?;
    assert_eq!(t["task"]["verificationPhase"], "data_challenge");
    let c = &t["verification"]["dataChallenges"][0];
    assert_eq!(c["cells"], json!([2, 3]));
    assert_eq!(c["challenger"], json!(addr(&member)));
    assert_eq!(t["task"]["phaseEndsAt"], c["respondBy"]);
    net.settle(job, 1).await?;
    synced(&db.pool, &net).await?;
    let t = task(&ix, job, 1).await?;
    assert_eq!(t["task"]["state"], "open");
    assert_eq!(t["task"]["rejectReason"], "data_withheld");
    assert_eq!(t["task"]["attempt"], 1);
    assert_eq!(
        t["verification"]["draws"][0]["members"][0]["coherent"],
        true
    );
    assert_eq!(t["verification"]["draws"][0]["members"][0]["slashed"], "0");
    let n = get_json(&ix.router, "/v1/network", 200).await?;
    assert_eq!(n["data"]["draws"], 3);
    assert_eq!(n["data"]["votes"], json!(1 + level1_members));
    assert_eq!(n["data"]["appeals"], 1);
    assert_eq!(n["data"]["dataChallenges"], 1);
    assert_same(
        &snapshot(&db.pool).await?,
        &fresh_reindex(&net).await?,
        "after the committees",
    );

    // Reorgs of the verification blocks: within the undo journal, then deeper than it (rebuilt from the logs).
    for depth in [3u64, 14] {
        net.rpc("anvil_reorg", json!([depth, []])).await?;
        net.renew_providers();
        net.mine(1).await?;
        synced(&db.pool, &net).await?;
        assert_same(
            &snapshot(&db.pool).await?,
            &fresh_reindex(&net).await?,
            &format!("after a reorg of depth {depth} through the committees"),
        );
    }
    ix.stop().await
}
