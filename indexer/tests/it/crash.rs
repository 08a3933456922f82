//! The indexer binary killed with SIGKILL at random points of a backfill and restarted: no duplicate and no
//! missing row.

use crate::harness::{Db, Net, assert_same, fresh_reindex, mined, snapshot, synced};
use alloy::primitives::U256;
use anyhow::{Context, Result};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn spawn(db: &Db, net: &Net) -> Result<Child> {
    Command::new(env!("CARGO_BIN_EXE_tessera-indexer"))
        .env("TESSERA_DATABASE_URL", &db.url)
        .args(["--rpc-url", &net.rpc_url()])
        .args(["--contract", &net.market.to_string()])
        .args(["--deployment-block", &net.deployment_block.to_string()])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log-range",
            "2",
            "--max-log-range",
            "4",
            "--reorg-depth",
            "4",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("spawning tessera-indexer")
}

#[tokio::test]
async fn sigkill_during_backfill_then_restart_loses_and_duplicates_nothing() -> Result<()> {
    let net = Net::start().await?;
    let now = u32::try_from(net.now().await?)?;
    for j in 0..16u32 {
        let job = net.post(net.spec(4, now + 100_000, true)).await?;
        mined(net.at(&net.worker).claimTasks(job, vec![0, 1, 2])).await?;
        net.claim_submit(&net.worker2, job, 3, j % 2 == 0).await?;
        if j % 3 == 0 {
            mined(net.at(&net.artist).acceptTask(job, U256::from(3))).await?;
        }
    }
    let db = Db::fresh().await?;
    // Kill points spread over the backfill: each round runs until the cursor has moved a random 1-8 blocks
    // past where the previous round left it, then dies by SIGKILL somewhere in the next batch.
    let head = i64::try_from(net.head().await?.0)?;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut kills = 0;
    while kills < 6 {
        let start: i64 = sqlx::query_scalar("SELECT indexed_block FROM sync_state")
            .fetch_optional(&db.pool)
            .await?
            .unwrap_or(0);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let target = start + 1 + i64::try_from(rng % 8)?;
        if target >= head {
            break;
        }
        let mut child = spawn(&db, &net)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let at: Option<i64> = sqlx::query_scalar("SELECT indexed_block FROM sync_state")
                .fetch_optional(&db.pool)
                .await?;
            if at.is_some_and(|b| b >= target) || std::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        child.kill()?; // SIGKILL
        child.wait()?;
        kills += 1;
        let at: Option<i64> = sqlx::query_scalar("SELECT indexed_block FROM sync_state")
            .fetch_optional(&db.pool)
            .await?;
        eprintln!("kill {kills}: target block {target}, cursor at {at:?} of {head}");
    }
    assert!(
        kills >= 4,
        "the backfill was too short to kill it several times"
    );
    let mut child = spawn(&db, &net)?;
    let done = synced(&db.pool, &net).await;
    child.kill()?;
    child.wait()?;
    done?;
    let dupes: i64 =
        sqlx::query_scalar("SELECT COUNT(*) - COUNT(DISTINCT (tx_hash, log_index)) FROM logs")
            .fetch_one(&db.pool)
            .await?;
    assert_eq!(dupes, 0);
    assert_same(
        &snapshot(&db.pool).await?,
        &fresh_reindex(&net).await?,
        "after SIGKILL restarts",
    );
    Ok(())
}
