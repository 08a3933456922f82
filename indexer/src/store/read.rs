//! Queries behind the API. Rows come back in the projection's row types (see `model`), decoded from JSON
//! with amounts rendered as text so that no uint256 loses precision.

use super::{Result, rows};
use crate::model::{AccountRow, BalanceRow, JobRow, NetworkRow, TaskRow, TokenTotalsRow};
use crate::project::entity;
use serde_json::Value;
use sqlx::PgExecutor;

/// Filters of the job list.
#[derive(Debug, Default, Clone)]
pub struct JobFilter {
    /// `active`, `finished` or `cancelled`.
    pub status: Option<String>,
    /// Lowercase hex address.
    pub artist: Option<String>,
    /// Jobs this worker claimed a task of.
    pub worker: Option<String>,
    /// Payment token.
    pub token: Option<String>,
}

/// Jobs, newest first, with ids below `before`.
pub async fn jobs(
    db: impl PgExecutor<'_>,
    f: &JobFilter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<JobRow>> {
    let r = sqlx::query!(
        r#"SELECT r.key AS "key!", r.row AS "row!"
           FROM jobs j JOIN job_rows r USING (job_id)
           WHERE ($1::text IS NULL OR j.status = $1)
             AND ($2::text IS NULL OR j.artist = $2)
             AND ($3::text IS NULL OR j.token = $3)
             AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM job_workers w WHERE w.worker = $4 AND w.job_id = j.job_id))
             AND ($5::bigint IS NULL OR j.job_id < $5)
           ORDER BY j.job_id DESC LIMIT $6"#,
        f.status,
        f.artist,
        f.token,
        f.worker,
        before,
        limit
    )
    .fetch_all(db)
    .await?;
    rows(entity::JOB, r.into_iter().map(|r| (r.key, r.row)).collect())
}

/// One job.
pub async fn job(db: impl PgExecutor<'_>, job_id: i64) -> Result<Option<JobRow>> {
    Ok(super::load_jobs(db, &[job_id]).await?.pop())
}

/// A job's tasks in index order after `after`, optionally in one (effective) state. Open tasks of a job
/// whose open tasks were refunded at once read as refunded.
pub async fn tasks(
    db: impl PgExecutor<'_>,
    job_id: i64,
    state: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<TaskRow>> {
    let r = sqlx::query!(
        r#"SELECT t.key AS "key!",
                  CASE WHEN t.state = 'open' AND j.open_refund IS NOT NULL
                       THEN t.row || jsonb_build_object('state', 'refunded', 'refund_reason', j.open_refund)
                       ELSE t.row END AS "row!"
           FROM task_rows t JOIN jobs j USING (job_id)
           WHERE t.job_id = $1 AND t.task_index > COALESCE($3::bigint, -1)
             AND ($2::text IS NULL
                  OR $2 = CASE WHEN t.state = 'open' AND j.open_refund IS NOT NULL THEN 'refunded' ELSE t.state END)
           ORDER BY t.task_index LIMIT $4"#,
        job_id,
        state,
        after,
        limit
    )
    .fetch_all(db)
    .await?;
    rows(
        entity::TASK,
        r.into_iter().map(|r| (r.key, r.row)).collect(),
    )
}

/// One attestation as the API shows it.
#[derive(Debug, Clone)]
pub struct Attestation {
    /// Verifier.
    pub verifier: String,
    /// Attempt attested.
    pub attempt: i64,
    /// Approve or reject.
    pub approve: bool,
    /// Block.
    pub block_number: i64,
    /// Transaction.
    pub tx_hash: String,
}

/// Attestations of a task, oldest first.
pub async fn attestations(
    db: impl PgExecutor<'_>,
    job_id: i64,
    task_index: i64,
) -> Result<Vec<Attestation>> {
    Ok(sqlx::query!(
        r#"SELECT verifier, attempt, approve, block_number, tx_hash FROM attestations
           WHERE job_id = $1 AND task_index = $2 ORDER BY block_number, log_index"#,
        job_id,
        task_index
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| Attestation {
        verifier: r.verifier,
        attempt: r.attempt,
        approve: r.approve,
        block_number: r.block_number,
        tx_hash: r.tx_hash,
    })
    .collect())
}

/// A stored event, or the notice of one a reorg removed.
#[derive(Debug, Clone)]
pub struct FeedItem {
    /// Position in the feed.
    pub seq: i64,
    /// False for removal notices.
    pub live: bool,
    /// For removal notices: the removed event's seq.
    pub removed_seq: Option<i64>,
    /// Event name.
    pub event: String,
    /// Block.
    pub block_number: i64,
    /// Block hash.
    pub block_hash: String,
    /// Block time.
    pub block_timestamp: i64,
    /// Transaction.
    pub tx_hash: String,
    /// Log index in the block.
    pub log_index: i64,
    /// Job, if any.
    pub job_id: Option<i64>,
    /// Task, if any.
    pub task_index: Option<i64>,
    /// Arguments.
    pub args: Value,
}

/// A job's events, newest first, with seq below `before`.
pub async fn job_events(
    db: impl PgExecutor<'_>,
    job_id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<FeedItem>> {
    Ok(sqlx::query!(
        r#"SELECT seq, event, block_number, block_hash, block_timestamp, tx_hash, log_index, job_id, task_index, args
           FROM logs WHERE job_id = $1 AND seq < COALESCE($2, 9223372036854775807)
           ORDER BY seq DESC LIMIT $3"#,
        job_id,
        before,
        limit
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| FeedItem {
        seq: r.seq,
        live: true,
        removed_seq: None,
        event: r.event,
        block_number: r.block_number,
        block_hash: r.block_hash,
        block_timestamp: r.block_timestamp,
        tx_hash: r.tx_hash,
        log_index: r.log_index,
        job_id: r.job_id,
        task_index: r.task_index,
        args: r.args,
    })
    .collect())
}

/// The feed after `after`, in order: stored events and removal notices.
pub async fn feed(db: impl PgExecutor<'_>, after: i64, limit: i64) -> Result<Vec<FeedItem>> {
    Ok(sqlx::query!(
        r#"SELECT seq AS "seq!", live AS "live!", removed_seq, event AS "event!", block_number AS "block_number!",
                  block_hash AS "block_hash!", block_timestamp AS "block_timestamp!", tx_hash AS "tx_hash!",
                  log_index AS "log_index!", job_id, task_index, args AS "args!"
           FROM (
             (SELECT seq, TRUE AS live, NULL::bigint AS removed_seq, event, block_number, block_hash, block_timestamp,
                     tx_hash, log_index, job_id, task_index, args
              FROM logs WHERE seq > $1 ORDER BY seq LIMIT $2)
             UNION ALL
             (SELECT seq, FALSE, removed_seq, event, block_number, block_hash, block_timestamp, tx_hash, log_index,
                     job_id, task_index, args
              FROM removed_logs WHERE seq > $1 ORDER BY seq LIMIT $2)
           ) f ORDER BY seq LIMIT $2"#,
        after,
        limit
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| FeedItem {
        seq: r.seq,
        live: r.live,
        removed_seq: r.removed_seq,
        event: r.event,
        block_number: r.block_number,
        block_hash: r.block_hash,
        block_timestamp: r.block_timestamp,
        tx_hash: r.tx_hash,
        log_index: r.log_index,
        job_id: r.job_id,
        task_index: r.task_index,
        args: r.args,
    })
    .collect())
}

/// The newest feed position.
pub async fn feed_head(db: impl PgExecutor<'_>) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS "v!" FROM feed_seq"#
    )
    .fetch_one(db)
    .await?)
}

/// Filters of the open-task list.
#[derive(Debug, Default, Clone)]
pub struct OpenFilter {
    /// Renderer id.
    pub renderer: Option<String>,
    /// Payment token.
    pub token: Option<String>,
    /// Least reward per task (decimal).
    pub min_reward: Option<String>,
}

/// Claimable tasks (open, job not refunded, deadline after `now`), in (job, task) order after `after`.
pub async fn open_tasks(
    db: impl PgExecutor<'_>,
    f: &OpenFilter,
    now: i64,
    after: (i64, i64),
    limit: i64,
) -> Result<Vec<(TaskRow, JobRow)>> {
    let r = sqlx::query!(
        r#"SELECT t.key AS "key!", t.row AS "task!", r.row AS "job!"
           FROM task_rows t JOIN jobs j USING (job_id) JOIN job_rows r USING (job_id)
           WHERE t.state = 'open' AND j.open_refund IS NULL AND j.deadline > $1
             AND (t.job_id, t.task_index) > ($2, $3)
             AND ($4::text IS NULL OR j.renderer_id = $4)
             AND ($5::text IS NULL OR j.token = $5)
             AND ($6::numeric IS NULL OR j.reward_per_task >= $6::numeric)
           ORDER BY t.job_id, t.task_index LIMIT $7"#,
        now,
        after.0,
        after.1,
        f.renderer,
        f.token,
        f.min_reward.as_deref() as Option<&str>,
        limit
    )
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(r.len());
    for x in r {
        let task: TaskRow = rows(entity::TASK, vec![(x.key.clone(), x.task)])?.remove(0);
        let job: JobRow = rows(entity::JOB, vec![(x.key, x.job)])?.remove(0);
        out.push((task, job));
    }
    Ok(out)
}

/// One account.
pub async fn account(db: impl PgExecutor<'_>, address: &str) -> Result<Option<AccountRow>> {
    Ok(super::load_accounts(db, &[address.to_owned()]).await?.pop())
}

/// An account's balances.
pub async fn balances(db: impl PgExecutor<'_>, address: &str) -> Result<Vec<BalanceRow>> {
    let r = sqlx::query!(
        r#"SELECT key AS "key!", row AS "row!" FROM balance_rows WHERE account = $1 ORDER BY token"#,
        address
    )
    .fetch_all(db)
    .await?;
    rows(
        entity::BALANCE,
        r.into_iter().map(|r| (r.key, r.row)).collect(),
    )
}

/// The network row.
pub async fn network(db: impl PgExecutor<'_>) -> Result<Option<NetworkRow>> {
    super::load_network(db).await
}

/// Volume per token.
pub async fn token_totals(db: impl PgExecutor<'_>) -> Result<Vec<TokenTotalsRow>> {
    super::load_tokens(db, None).await
}

/// Number of live workers and verifiers (accounts that ever claimed or attested).
pub async fn participant_counts(db: impl PgExecutor<'_>) -> Result<(i64, i64)> {
    let r = sqlx::query!(
        r#"SELECT COUNT(*) FILTER (WHERE tasks_claimed > 0) AS "workers!",
                  COUNT(*) FILTER (WHERE attestations > 0) AS "verifiers!" FROM accounts"#
    )
    .fetch_one(db)
    .await?;
    Ok((r.workers, r.verifiers))
}
