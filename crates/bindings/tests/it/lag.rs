//! The market client against a node that falls behind what it has already seen (another backend of a load
//! balancer, a lagging provider): played by reverting anvil to a snapshot of an earlier block.

use crate::harness::{Chain, mined};
use alloy::primitives::U256;
use anyhow::Result;
use serde_json::json;
use tessera_bindings::TaskState;
use tessera_bindings::market::Market;
use tessera_devnet::{DeployParams, escrow, job_spec, register_verifier};

#[tokio::test]
async fn a_node_behind_the_seen_head_is_an_error_never_an_older_state() -> Result<()> {
    let mut chain = Chain::start().await?;
    let params = DeployParams::default();
    let deployment = chain.deploy(params).await?;
    register_verifier(
        &chain.verifier,
        deployment.distributed_render,
        1,
        params.ticket_stake,
    )
    .await?;
    let deadline = u32::try_from(chain.now().await? + 86_400)?;
    let spec = job_spec(1, 10_000_000_000_000_000, 0, deadline);
    mined(
        chain
            .artist
            .market(deployment.distributed_render)
            .submitRenderJob(spec.clone())
            .value(escrow(&spec)),
    )
    .await?;
    let market = deployment.distributed_render;
    let mut m = Market::read_only(&chain.endpoint(), deployment).await?;

    // The node as it was before the claim: what a lagging backend would answer.
    let snapshot = chain.rpc("evm_snapshot", json!([])).await?;
    // A pinned client reads its round's snapshot: a claim by another account (no receipt of its own) is not
    // seen until the head is read again, as the worker does after a claim whose receipt never came.
    m.pin().await?;
    claim(&chain, market).await?;
    chain.mine(2).await?;
    assert_eq!(m.task(1, 0).await?.state, TaskState::Open);
    let head = m.head().await?;
    assert_eq!(m.task(1, 0).await?.state, TaskState::Claimed);

    chain.rpc("evm_revert", json!([snapshot])).await?;
    // The actors' nonces went back with the chain.
    chain.renew_providers();
    // Not the open task of the older state: an error, retried by the caller.
    assert!(
        m.task(1, 0).await.is_err(),
        "a read at a block the node has not reached"
    );
    // Its clock is taken (a little behind is harmless).
    m.now().await?;

    // A head below the one seen is read again until the node catches up (here another claim lands and
    // blocks are mined while the client waits).
    let catch_up = async {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        claim(&chain, market).await?;
        chain.mine(4).await
    };
    let (read, caught_up) = tokio::join!(m.head(), catch_up);
    caught_up?;
    assert!(read? >= head, "the head read once the node caught up");
    assert_eq!(m.task(1, 0).await?.state, TaskState::Claimed);

    // A node that stays behind (a reorg to a shorter chain nothing extends) is refused, and its head taken
    // once it has stayed behind for the limit.
    m.set_behind_taken(std::time::Duration::from_secs(3));
    let snapshot = chain.rpc("evm_snapshot", json!([])).await?;
    let before = m.head().await?;
    chain.mine(3).await?;
    assert_eq!(m.head().await?, before + 3);
    chain.rpc("evm_revert", json!([snapshot])).await?;
    let e = m.head().await.expect_err("a head behind the one seen");
    assert!(e.to_string().contains("behind block"), "{e:#}");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(m.head().await?, before);
    assert_eq!(m.seen(), before);
    Ok(())
}

/// The worker claims task 0 of job 1.
async fn claim(chain: &Chain, market: alloy::primitives::Address) -> Result<()> {
    mined(
        chain
            .worker
            .market(market)
            .claimTasks(U256::from(1), vec![0]),
    )
    .await?;
    Ok(())
}
