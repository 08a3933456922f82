//! A history that exercises every projection rule: a disputed optimistic result verified by a committee, an
//! optimistic payment and an artist acceptance, a forgery rejected by a committee with slashing and re-render, an
//! expired lease reopened and one refunded past the deadline, cancel, reclaim, withdrawal, unbonding.

use crate::harness::{Net, mined};
use alloy::primitives::{Address, U256};
use anyhow::{Result, ensure};
use tessera_bindings::Phase;

/// The jobs the history posts.
pub(crate) struct Jobs {
    pub(crate) optimistic: U256,
    pub(crate) verified_only: U256,
    pub(crate) short: U256,
}

pub(crate) async fn generate(net: &Net) -> Result<Jobs> {
    let now = u32::try_from(net.now().await?)?;
    let a = net.post(net.spec(4, now + 100_000, true)).await?;
    net.claim_submit(&net.worker, a, 0, false).await?;
    // The artist disputes the optimistic result; the committee approves and the verdict stands.
    net.appeal(&net.artist, a, 0).await?;
    ensure!(net.vote(a, 0, true).await? == Phase::Appealable);
    net.settle(a, 0).await?;
    net.claim_submit(&net.worker2, a, 1, false).await?;
    mined(net.at(&net.worker).claimTasks(a, vec![2])).await?;

    let b = net.post(net.spec(2, now + 100_000, false)).await?;
    net.claim_submit(&net.worker, b, 0, true).await?;
    ensure!(net.vote(b, 0, false).await? == Phase::Appealable);
    net.settle(b, 0).await?;
    net.claim_submit(&net.worker2, b, 0, false).await?;
    mined(net.at(&net.artist).acceptTask(b, U256::ZERO)).await?;
    mined(net.at(&net.artist).cancelJob(b)).await?;

    let now = u32::try_from(net.now().await?)?;
    let c = net.post(net.spec(3, now + 2_000, true)).await?;
    mined(net.at(&net.worker2).claimTasks(c, vec![0])).await?;
    net.warp(1_000).await?;
    mined(net.at(&net.owner).reopenExpired(a, vec![2])).await?;
    mined(net.at(&net.owner).finalizeTask(a, U256::from(1))).await?;
    net.warp(1_500).await?;
    mined(net.at(&net.owner).reclaimOpenTasks(c)).await?;
    mined(net.at(&net.owner).reopenExpired(c, vec![0])).await?;
    mined(net.at(&net.worker).withdraw(Address::ZERO)).await?;
    mined(net.at(&net.verifier).requestUnstake(U256::from(1_000u64))).await?;
    Ok(Jobs {
        optimistic: a,
        verified_only: b,
        short: c,
    })
}
