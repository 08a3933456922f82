//! A history that exercises every projection rule: verified, optimistic and artist-accepted payments, a
//! rejected forgery with slashing and re-render, an expired lease reopened and one refunded past the deadline,
//! cancel, reclaim, withdrawal, unbonding.

use crate::harness::{Net, mined};
use alloy::primitives::{Address, U256};
use anyhow::Result;

/// The jobs the history posts.
pub(crate) struct Jobs {
    pub(crate) optimistic: U256,
    pub(crate) verified_only: U256,
    pub(crate) short: U256,
}

pub(crate) async fn generate(net: &Net) -> Result<Jobs> {
    let now = u32::try_from(net.now().await?)?;
    let a = net.post(net.spec(4, now + 100_000, true)).await?;
    let r0 = net.claim_submit(&net.worker, a, 0, false).await?;
    net.attest(a, 0, r0, 0, true).await?;
    net.claim_submit(&net.worker2, a, 1, false).await?;
    mined(net.at(&net.worker).claimTasks(a, vec![2])).await?;

    let b = net.post(net.spec(2, now + 100_000, false)).await?;
    let forged = net.claim_submit(&net.worker, b, 0, true).await?;
    net.attest(b, 0, forged, 0, false).await?;
    net.claim_submit(&net.worker2, b, 0, false).await?;
    mined(net.at(&net.artist).acceptTask(b, U256::ZERO)).await?;
    mined(net.at(&net.artist).cancelJob(b)).await?;

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
