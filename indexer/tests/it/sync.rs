//! Backfill, live tail, reorgs and RPC outages.

use crate::harness::{
    Db, Indexer, Net, Options, Proxy, assert_same, fresh_reindex, mined, snapshot, synced,
};
use crate::history;
use alloy::primitives::{Address, U256};
use anyhow::Result;
use serde_json::{Value, json};
use tessera_bindings::TaskState;
use tessera_indexer::model::addr;

async fn get(ix: &Indexer, path: &str) -> Result<Value> {
    crate::api::get_json(&ix.router, path, 200).await
}

#[tokio::test]
async fn backfill_mirrors_the_chain_and_equals_a_reindex() -> Result<()> {
    let net = Net::start().await?;
    let jobs = history::generate(&net).await?;
    let db = Db::fresh().await?;
    let ix = Indexer::start(&db, &net.rpc_url(), &net, Options::default()).await?;
    synced(&db.pool, &net).await?;

    // Every task's state equals the contract's.
    for (job, count) in [
        (jobs.optimistic, 4u32),
        (jobs.verified_only, 2),
        (jobs.short, 3),
    ] {
        for t in 0..count {
            let on_chain = net
                .at(&net.owner)
                .getTask(job, U256::from(t))
                .call()
                .await?;
            let state = TaskState::try_from(on_chain.state)?;
            let v = get(&ix, &format!("/v1/jobs/{job}/tasks/{t}")).await?;
            assert_eq!(
                v["data"]["task"]["state"],
                json!(state.as_str().to_lowercase()),
                "job {job} task {t}"
            );
        }
    }
    // Stakes and balances equal the contract's.
    for who in [&net.worker, &net.worker2, &net.verifier] {
        let s = net.at(&net.owner).stakeOf(who.address).call().await?;
        let v = get(&ix, &format!("/v1/workers/{}", addr(&who.address))).await?;
        assert_eq!(
            v["data"]["stake"]["bonded"],
            json!(s.bonded.to_string()),
            "bonded of {}",
            who.address
        );
        assert_eq!(
            v["data"]["stake"]["locked"],
            json!(s.locked.to_string()),
            "locked of {}",
            who.address
        );
        assert_eq!(
            v["data"]["stake"]["unbonding"],
            json!(s.unbonding.to_string()),
            "unbonding of {}",
            who.address
        );
    }
    for who in [
        net.worker.address,
        net.worker2.address,
        net.verifier.address,
        net.artist.address,
    ] {
        let on_chain = net
            .at(&net.owner)
            .balanceOf(who, Address::ZERO)
            .call()
            .await?;
        let indexed: Option<String> = sqlx::query_scalar(
            "SELECT balance::text FROM balances WHERE account = $1 AND token = $2",
        )
        .bind(addr(&who))
        .bind(addr(&Address::ZERO))
        .fetch_optional(&db.pool)
        .await?;
        assert_eq!(
            indexed.unwrap_or_else(|| "0".into()),
            on_chain.to_string(),
            "ETH balance of {who}"
        );
    }
    // Job counters.
    let b = get(&ix, &format!("/v1/jobs/{}", jobs.verified_only)).await?;
    assert_eq!(b["data"]["job"]["status"], "cancelled");
    assert_eq!(
        b["data"]["job"]["tasks"],
        json!({"open": 0, "claimed": 0, "submitted": 0, "paid": 1, "refunded": 1})
    );
    assert_eq!(b["data"]["job"]["rejections"], 1);
    let c = get(&ix, &format!("/v1/jobs/{}", jobs.short)).await?;
    assert_eq!(c["data"]["job"]["status"], "finished");
    assert_eq!(c["data"]["job"]["openRefund"], "deadline_passed");
    let n = get(&ix, "/v1/network").await?;
    assert_eq!(n["data"]["jobs"], 3);
    assert_eq!(n["data"]["tasksPaid"], 3);
    assert_eq!(n["data"]["tasksRejected"], 1);
    assert_eq!(n["data"]["tasksExpired"], 2);
    assert_eq!(n["data"]["jobsCancelled"], 1);

    let first = snapshot(&db.pool).await?;
    ix.stop().await?;
    assert_same(
        &first,
        &fresh_reindex(&net).await?,
        "re-index with other log ranges",
    );
    Ok(())
}

#[tokio::test]
async fn reorgs_up_to_and_beyond_the_window_leave_what_a_fresh_index_builds() -> Result<()> {
    let mut net = Net::start().await?;
    history::generate(&net).await?;
    let db = Db::fresh().await?;
    let opts = Options {
        confirmations: 3,
        reorg_depth: 6,
        initial_range: 10,
        ..Options::default()
    };
    let reorg_depth = opts.reorg_depth;
    let ix = Indexer::start(&db, &net.rpc_url(), &net, opts).await?;
    synced(&db.pool, &net).await?;
    let now = u32::try_from(net.now().await?)?;
    // Depth 1 up to the undo window, then one deeper (rebuilt from stored logs).
    for depth in (1..=reorg_depth).chain([reorg_depth + 3]) {
        for i in 0..depth {
            if i % 2 == 0 {
                net.post(net.spec(2, now + 50_000, true)).await?;
            } else {
                mined(net.at(&net.worker).stake().value(U256::from(1_000u64))).await?;
            }
        }
        synced(&db.pool, &net).await?;
        eprintln!("reorg depth {depth}");
        let removed_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM removed_logs")
            .fetch_one(&db.pool)
            .await?;
        let depth_u = u64::try_from(depth)?;
        net.rpc("anvil_reorg", json!([depth_u, []])).await?;
        net.renew_providers();
        net.mine(1).await?;
        synced(&db.pool, &net).await?;
        let removed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM removed_logs")
            .fetch_one(&db.pool)
            .await?;
        assert!(
            removed > removed_before,
            "depth {depth}: the reorg's events were announced as removed"
        );
        assert_same(
            &snapshot(&db.pool).await?,
            &fresh_reindex(&net).await?,
            &format!("after a reorg of depth {depth}"),
        );
    }
    // A task claimed in a block the reorg removes, then claimed by another worker on the new branch: the new
    // claim applies to the task as the ancestor had it (open), not as the removed block left it.
    let job = net.post(net.spec(2, now + 50_000, true)).await?;
    mined(net.at(&net.worker).claimTasks(job, vec![0])).await?;
    synced(&db.pool, &net).await?;
    net.rpc("anvil_reorg", json!([1, []])).await?;
    net.renew_providers();
    mined(net.at(&net.worker2).claimTasks(job, vec![0])).await?;
    synced(&db.pool, &net).await?;
    assert_same(
        &snapshot(&db.pool).await?,
        &fresh_reindex(&net).await?,
        "after a claim was reorged away and the task claimed again",
    );
    let reorgs: i64 = sqlx::query_scalar("SELECT reorgs FROM sync_state")
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(reorgs, reorg_depth + 2);
    ix.stop().await
}

#[tokio::test]
async fn a_lagging_node_is_not_a_reorg_and_an_rpc_outage_loses_nothing() -> Result<()> {
    let mut net = Net::start().await?;
    let proxy = Proxy::start(net.rpc_url()).await?;
    let db = Db::fresh().await?;
    let ix = Indexer::start(&db, &proxy.url, &net, Options::default()).await?;
    synced(&db.pool, &net).await?;
    proxy.set_up(false);
    let jobs = history::generate(&net).await?;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let during = tessera_indexer::store::state(&db.pool).await?;
    assert!(
        u64::try_from(during.indexed_block)? < net.head().await?.0,
        "the indexer cannot have seen blocks while cut off"
    );
    proxy.set_up(true);
    synced(&db.pool, &net).await?;
    let v = get(&ix, &format!("/v1/jobs/{}", jobs.short)).await?;
    assert_eq!(v["data"]["job"]["status"], "finished");
    // anvil_rollback makes the node's head drop below the cursor, as a lagging node's would: no rollback yet.
    net.rpc("anvil_rollback", json!([1])).await?;
    net.renew_providers();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let st = tessera_indexer::store::state(&db.pool).await?;
    assert_eq!(st.reorgs, 0, "a head below the cursor alone is not a reorg");
    // When the node builds past the cursor on another branch, the reorg shows in the parent hash.
    net.mine(2).await?;
    synced(&db.pool, &net).await?;
    let st = tessera_indexer::store::state(&db.pool).await?;
    assert_eq!(st.reorgs, 1);
    let mine = snapshot(&db.pool).await?;
    ix.stop().await?;
    assert_same(
        &mine,
        &fresh_reindex(&net).await?,
        "after an outage and a rollback",
    );
    Ok(())
}

/// Commits every log of the chain, from the deployment block to the head, as one batch (what a cursor reset to
/// before the deployment would replay); returns (logs new to the database, logs in the batch).
async fn commit_whole_history(db: &Db, net: &Net) -> Result<(usize, usize)> {
    let logs = whole_history(net).await?;
    let n = logs.len();
    Ok((commit_in_batches(db, net, &logs, n).await?, n))
}

/// Every log of the market, decoded.
async fn whole_history(net: &Net) -> Result<Vec<tessera_indexer::events::ChainLog>> {
    use tessera_indexer::chain::Chain;
    use tessera_indexer::events::ChainLog;

    let chain = Chain::connect(
        &net.rpc_url(),
        net.market,
        std::time::Duration::from_secs(5),
    )
    .await?;
    let head = i64::try_from(net.head().await?.0)?;
    let logs = chain
        .logs_range(i64::try_from(net.deployment_block)?, head)
        .await?
        .iter()
        .map(|l| ChainLog::decode(l, None))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(logs)
}

/// Commits `logs` in batches of at most `batch` (the last one ending at the head); returns the logs written.
async fn commit_in_batches(
    db: &Db,
    net: &Net,
    logs: &[tessera_indexer::events::ChainLog],
    batch: usize,
) -> Result<usize> {
    use tessera_indexer::chain::Chain;
    use tessera_indexer::store::{self, Batch, BlockRef};

    let chain = Chain::connect(
        &net.rpc_url(),
        net.market,
        std::time::Duration::from_secs(5),
    )
    .await?;
    let head = i64::try_from(net.head().await?.0)?;
    let end = chain.header(head).await?.expect("the head exists");
    let mut cache = store::TaskCache::default();
    let mut written = 0;
    let chunks: Vec<_> = logs.chunks(batch.max(1)).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let to_block = if i + 1 == chunks.len() {
            end
        } else {
            let last = &chunk[chunk.len() - 1].at;
            BlockRef {
                number: last.block_number,
                hash: last.block_hash,
                parent_hash: None,
                timestamp: last.block_timestamp,
            }
        };
        written += store::commit_batch(
            &db.pool,
            Batch {
                chain_id: i64::try_from(net.chain_id)?,
                logs: chunk,
                blocks: &[],
                to_block,
                head: (head, end.timestamp),
                journal: false,
            },
            &mut cache,
        )
        .await?;
    }
    Ok(written)
}

/// Logs go in two ways, one INSERT for up to 512 and a binary COPY beyond: both store the same rows, and the
/// projections built on them are the same.
#[tokio::test]
async fn logs_stored_by_insert_and_by_copy_are_the_same() -> Result<()> {
    let net = Net::start().await?;
    history::generate(&net).await?;
    // 520 claims in one transaction (no stake per task, so the worker's stake is no limit).
    let now = u32::try_from(net.now().await?)?;
    let job = net
        .post(tessera_bindings::IDistributedRenderTypes::JobSpec {
            workerStakePerTask: Default::default(),
            ..net.spec(520, now + 100_000, true)
        })
        .await?;
    crate::harness::mined(net.at(&net.worker).claimTasks(job, (0..520).collect())).await?;
    let logs = whole_history(&net).await?;
    assert!(logs.len() > 512, "{} logs", logs.len());
    let mut snapshots = Vec::new();
    for batch in [logs.len(), 64] {
        let db = Db::fresh().await?;
        tessera_indexer::store::init_state(
            &db.pool,
            i64::try_from(net.chain_id)?,
            net.market,
            i64::try_from(net.deployment_block)?,
            2,
        )
        .await?;
        assert_eq!(
            commit_in_batches(&db, &net, &logs, batch).await?,
            logs.len()
        );
        snapshots.push(snapshot(&db.pool).await?);
    }
    assert_same(
        &snapshots[0],
        &snapshots[1],
        "one COPY against INSERTs of 64",
    );
    Ok(())
}

/// A batch whose logs are stored already (a replay: a cursor reset by hand, two indexers on one database) is
/// skipped with its projection effects; when it also holds new logs, exactly those go in.
#[tokio::test]
async fn a_replayed_batch_changes_nothing_and_its_new_logs_go_in() -> Result<()> {
    let net = Net::start().await?;
    history::generate(&net).await?;
    let db = Db::fresh().await?;
    let ix = Indexer::start(&db, &net.rpc_url(), &net, Options::default()).await?;
    synced(&db.pool, &net).await?;
    ix.stop().await?;
    let indexed = snapshot(&db.pool).await?;

    let (written, old) = commit_whole_history(&db, &net).await?;
    assert!(old > 20, "the history has {old} logs");
    assert_eq!(written, 0, "every log of the replay was stored");
    assert_same(&snapshot(&db.pool).await?, &indexed, "after a replay");

    // New events; the batch holds the whole history again, with them at the end.
    let now = u32::try_from(net.now().await?)?;
    let job = net.post(net.spec(2, now + 100_000, true)).await?;
    net.claim_submit(&net.worker, job, 1, false).await?;
    let (written, all) = commit_whole_history(&db, &net).await?;
    assert!(all > old);
    assert_eq!(written, all - old, "only the new logs count");
    assert_same(
        &snapshot(&db.pool).await?,
        &fresh_reindex(&net).await?,
        "after a replay with new logs",
    );
    Ok(())
}

/// A live stream without a position starts after the newest position a reader can see. The numbers a batch
/// still being written has taken from the feed's sequence are not that: a stream starting after them would
/// skip the batch once it commits.
#[tokio::test]
async fn a_new_stream_starts_at_the_newest_stored_event_not_at_numbers_in_flight() -> Result<()> {
    let net = Net::start().await?;
    history::generate(&net).await?;
    let db = Db::fresh().await?;
    let ix = Indexer::start(&db, &net.rpc_url(), &net, Options::default()).await?;
    synced(&db.pool, &net).await?;
    ix.stop().await?;
    let head = tessera_indexer::store::read::feed_head(&db.pool).await?;
    let newest: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM logs")
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(Some(head), newest);
    // A batch in flight: its numbers are taken, its rows are not visible yet.
    let mut batch = db.pool.begin().await?;
    let taken: i64 = sqlx::query_scalar("SELECT nextval('feed_seq')")
        .fetch_one(&mut *batch)
        .await?;
    assert!(taken > head);
    assert_eq!(
        tessera_indexer::store::read::feed_head(&db.pool).await?,
        head,
        "the head counts a number whose row is not committed"
    );
    batch.rollback().await?;
    Ok(())
}
