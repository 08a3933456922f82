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
    let m = Market::read_only(&chain.endpoint(), deployment).await?;

    // The node as it was before the claim: what a lagging backend would answer.
    let snapshot = chain.rpc("evm_snapshot", json!([])).await?;
    claim(&chain, market).await?;
    chain.mine(2).await?;
    let head = m.head().await?;
    assert_eq!(m.task(1, 0).await?.state, TaskState::Claimed);

    chain.rpc("evm_revert", json!([snapshot])).await?;
    // The actors' nonces went back with the chain.
    chain.renew_providers();
    let e = m.head().await.expect_err("a head behind the one seen");
    assert!(e.to_string().contains("behind block"), "{e:#}");
    let e = m.now().await.expect_err("a clock behind the head seen");
    assert!(e.to_string().contains("behind block"), "{e:#}");
    // Not the open task of the older state: an error, retried by the caller.
    assert!(
        m.task(1, 0).await.is_err(),
        "a read at a block the node has not reached"
    );

    // Caught up again (another claim lands on the new branch): answers resume, never below the head seen.
    claim(&chain, market).await?;
    chain.mine(4).await?;
    assert!(m.head().await? >= head);
    assert_eq!(m.task(1, 0).await?.state, TaskState::Claimed);
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
