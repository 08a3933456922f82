//! A provider that misbehaves, through a JSON-RPC proxy in front of anvil: logs hidden for a block it says
//! it has, a block with more logs than it returns at once, a reorg that keeps the height, and a follower stuck
//! on a failing call. Nothing is lost, nothing removed is served, and readiness sees the stall.

use crate::harness::{
    Db, Indexer, Net, Options, RpcProxy, assert_same, fresh_reindex, mined, snapshot, synced,
};
use alloy::primitives::U256;
use anyhow::{Result, ensure};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Following every block (reorg window larger than the chain).
fn following() -> Options {
    Options {
        reorg_depth: 10_000,
        ..Options::default()
    }
}

#[tokio::test]
async fn logs_a_node_hides_are_found_through_the_bloom_and_the_receipts() -> Result<()> {
    let net = Net::start().await?;
    let proxy = RpcProxy::start(net.rpc_url()).await?;
    let db = Db::fresh().await?;
    let ix = Indexer::start(&db, &proxy.url, &net, following()).await?;
    synced(&db.pool, &net).await?;
    // Hidden once (by hash): found by number.
    proxy.faults.hide_block_logs.store(1, Ordering::SeqCst);
    mined(net.at(&net.worker).stake().value(U256::from(12_345u64))).await?;
    synced(&db.pool, &net).await?;
    assert_eq!(proxy.faults.hidden.load(Ordering::SeqCst), 1);
    assert!(
        ix.metrics.log_mismatches.get() >= 1,
        "the mismatch is counted"
    );
    // Hidden by hash and by number: read from the receipts.
    proxy.faults.hide_block_logs.store(2, Ordering::SeqCst);
    mined(net.at(&net.worker).stake().value(U256::from(23_456u64))).await?;
    synced(&db.pool, &net).await?;
    assert_eq!(proxy.faults.hidden.load(Ordering::SeqCst), 3);
    assert!(
        ix.metrics.receipt_fallbacks.get() >= 1,
        "read through receipts"
    );
    let mine = snapshot(&db.pool).await?;
    assert_same(&mine, &fresh_reindex(&net).await?, "after hidden logs");
    // Hidden everywhere and no receipts to be had: after its retries the block is committed (counted), and
    // the index goes on instead of stalling on it.
    proxy.faults.hide_block_logs.store(1_000, Ordering::SeqCst);
    proxy.faults.fail_receipts.store(true, Ordering::SeqCst);
    mined(net.at(&net.worker).stake().value(U256::from(34_567u64))).await?;
    synced(&db.pool, &net).await?;
    assert!(ix.metrics.log_mismatches_unresolved.get() >= 1);
    ix.stop().await
}

#[tokio::test]
async fn a_range_answered_without_its_last_blocks_is_completed_through_the_bloom() -> Result<()> {
    let net = Net::start().await?;
    // Stakes in blocks of their own, then buried below the block-by-block window: a backfill in ranges.
    for wei in [11_000u64, 22_000, 33_000, 44_000] {
        mined(net.at(&net.worker).stake().value(U256::from(wei))).await?;
    }
    net.mine(3).await?;
    let proxy = RpcProxy::start(net.rpc_url()).await?;
    // The first three range answers each lack their last block's logs; the bloom of that block says the
    // contract may have logs there, so it is read again by hash.
    proxy.faults.lag_ranges.store(3, Ordering::SeqCst);
    let db = Db::fresh().await?;
    let ix = Indexer::start(
        &db,
        &proxy.url,
        &net,
        Options {
            reorg_depth: 1,
            initial_range: 1_000,
            ..Options::default()
        },
    )
    .await?;
    synced(&db.pool, &net).await?;
    ensure!(
        proxy.faults.hidden.load(Ordering::SeqCst) >= 1,
        "no range answer was cut short"
    );
    assert!(
        ix.metrics.log_mismatches.get() >= 1,
        "the mismatch is counted"
    );
    let mine = snapshot(&db.pool).await?;
    ix.stop().await?;
    assert_same(&mine, &fresh_reindex(&net).await?, "after lagging ranges");
    Ok(())
}

/// A range cut short whose missing block cannot be checked (hidden by hash too, no receipts to be had): the
/// range fails and is retried, then, after its retries, committed without that block's logs and counted, so
/// that the index goes on instead of stalling on it.
#[tokio::test]
async fn a_range_block_that_cannot_be_checked_is_retried_then_committed_and_counted() -> Result<()>
{
    let net = Net::start().await?;
    for wei in [11_000u64, 22_000, 33_000] {
        mined(net.at(&net.worker).stake().value(U256::from(wei))).await?;
    }
    net.mine(3).await?;
    let proxy = RpcProxy::start(net.rpc_url()).await?;
    proxy.faults.lag_ranges.store(1_000, Ordering::SeqCst);
    proxy.faults.hide_block_logs.store(1_000, Ordering::SeqCst);
    proxy.faults.fail_receipts.store(true, Ordering::SeqCst);
    let db = Db::fresh().await?;
    let ix = Indexer::start(
        &db,
        &proxy.url,
        &net,
        Options {
            reorg_depth: 1,
            initial_range: 1_000,
            ..Options::default()
        },
    )
    .await?;
    synced(&db.pool, &net).await?;
    assert!(
        ix.metrics.sync_errors.get() >= 3,
        "the range was retried before giving up: {} errors",
        ix.metrics.sync_errors.get()
    );
    assert!(ix.metrics.log_mismatches_unresolved.get() >= 1);
    ix.stop().await
}

#[tokio::test]
async fn a_block_with_more_logs_than_the_provider_returns_is_read_through_its_receipts()
-> Result<()> {
    let net = Net::start().await?;
    let now = u32::try_from(net.now().await?)?;
    let job = net.post(net.spec(6, now + 50_000, true)).await?;
    // One block with six TaskClaimed logs; the provider returns four at most.
    mined(net.at(&net.worker).claimTasks(job, (0..6).collect())).await?;
    net.mine(3).await?;
    let proxy = RpcProxy::start(net.rpc_url()).await?;
    proxy.faults.log_cap.store(4, Ordering::SeqCst);
    let db = Db::fresh().await?;
    // Backfilled in ranges (shrinking to that one block), then the last block followed.
    let ix = Indexer::start(
        &db,
        &proxy.url,
        &net,
        Options {
            reorg_depth: 1,
            ..Options::default()
        },
    )
    .await?;
    synced(&db.pool, &net).await?;
    assert!(
        ix.metrics.receipt_fallbacks.get() >= 1,
        "read through receipts"
    );
    let mine = snapshot(&db.pool).await?;
    ix.stop().await?;
    assert_same(&mine, &fresh_reindex(&net).await?, "after a capped block");
    Ok(())
}

#[tokio::test]
async fn a_reorg_that_keeps_the_height_is_rolled_back_without_a_new_block() -> Result<()> {
    let mut net = Net::start().await?;
    let db = Db::fresh().await?;
    let ix = Indexer::start(&db, &net.rpc_url(), &net, Options::default()).await?;
    mined(net.at(&net.worker).stake().value(U256::from(777u64))).await?;
    synced(&db.pool, &net).await?;
    // The stake's block is replaced by an empty one of the same height; no block is mined after it.
    net.rpc("anvil_reorg", json!([1, []])).await?;
    net.renew_providers();
    synced(&db.pool, &net).await?;
    let mine = snapshot(&db.pool).await?;
    ix.stop().await?;
    assert_same(
        &mine,
        &fresh_reindex(&net).await?,
        "after a reorg that kept the height",
    );
    Ok(())
}

#[tokio::test]
async fn readiness_compares_with_the_real_head_when_following_stalls() -> Result<()> {
    let net = Net::start().await?;
    let proxy = RpcProxy::start(net.rpc_url()).await?;
    let db = Db::fresh().await?;
    let ix = Indexer::start(&db, &proxy.url, &net, following()).await?;
    synced(&db.pool, &net).await?;
    crate::api::get_json(&ix.router, "/ready", 200).await?;
    // Logs cannot be read while the chain moves 30 blocks on (the harness allows a lag of 20).
    proxy.faults.fail_log_reads.store(true, Ordering::SeqCst);
    net.mine(30).await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let (status, _, body) = crate::api::get_raw(&ix.router, "/ready").await?;
        if status.as_u16() == 503 {
            break body;
        }
        ensure!(
            Instant::now() < deadline,
            "/ready still {status} with a stalled follower: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(body.contains("blocks behind the head"), "{body}");
    proxy.faults.fail_log_reads.store(false, Ordering::SeqCst);
    synced(&db.pool, &net).await?;
    crate::api::get_json(&ix.router, "/ready", 200).await?;
    ix.stop().await
}
