//! Queries behind the API. Rows come back in the projection's row types (see `model`), decoded from JSON
//! with amounts rendered as text so that no uint256 loses precision.

use super::{Result, rows};
use crate::model::{
    AccountRow, BalanceRow, JobRow, NetworkRow, TaskRow, TokenTotalsRow, VerifierRow,
};
use crate::project::{VerificationRows, entity};
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

/// A task's verification records, every attempt, oldest first. One statement, so one snapshot: a batch committed
/// meanwhile cannot show a tally without its draw.
pub async fn verification(
    db: impl PgExecutor<'_>,
    job_id: i64,
    task_index: i64,
) -> Result<VerificationRows> {
    let r = sqlx::query!(
        r#"SELECT
             (SELECT COALESCE(jsonb_agg(jsonb_build_array(d.key, d.row)
                       ORDER BY d.attempt, (d.row->>'draw')::bigint), '[]')
              FROM draw_rows d WHERE d.job_id = $1 AND d.task_index = $2) AS "draws!",
             (SELECT COALESCE(jsonb_agg(jsonb_build_array(m.key, m.row)
                       ORDER BY m.attempt, (m.row->>'draw')::bigint, (m.row->>'member_index')::bigint), '[]')
              FROM member_rows m WHERE m.job_id = $1 AND m.task_index = $2) AS "members!",
             (SELECT COALESCE(jsonb_agg(jsonb_build_array(a.key, a.row)
                       ORDER BY a.attempt, (a.row->>'level')::bigint), '[]')
              FROM appeal_rows a WHERE a.job_id = $1 AND a.task_index = $2) AS "appeals!",
             (SELECT COALESCE(jsonb_agg(jsonb_build_array(c.key, c.row)
                       ORDER BY c.attempt, (c.row->>'draw')::bigint), '[]')
              FROM challenge_rows c WHERE c.job_id = $1 AND c.task_index = $2) AS "challenges!""#,
        job_id,
        task_index
    )
    .fetch_one(db)
    .await?;
    Ok(VerificationRows {
        draws: rows(entity::DRAW, pairs(r.draws))?,
        members: rows(entity::MEMBER, pairs(r.members))?,
        appeals: rows(entity::APPEAL, pairs(r.appeals))?,
        challenges: rows(entity::CHALLENGE, pairs(r.challenges))?,
    })
}

/// `[[key, row], ...]` as (key, row) pairs.
fn pairs(v: Value) -> Vec<(String, Value)> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::Array(mut kv) if kv.len() == 2 => {
                    let row = kv.pop()?;
                    let key = kv.pop()?.as_str()?.to_owned();
                    Some((key, row))
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A registered verifier.
pub async fn verifier(db: impl PgExecutor<'_>, address: &str) -> Result<Option<VerifierRow>> {
    Ok(super::load_verifiers(db, &[address.to_owned()])
        .await?
        .pop())
}

/// What a verifier did on committees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitteeRecord {
    /// Draws it sat on.
    pub draws: i64,
    /// Seats it held in them.
    pub seats: i64,
    /// Votes committed.
    pub committed: i64,
    /// Votes revealed.
    pub revealed: i64,
    /// Of them, approvals.
    pub approvals: i64,
    /// Votes judged (their verification ended).
    pub settled: i64,
    /// Of them, coherent with the final verdict.
    pub coherent: i64,
    /// Of them, with bonds slashed.
    pub slashes: i64,
    /// Wei slashed in total (decimal).
    pub slashed: String,
    /// Block of its latest committee activity.
    pub updated_block: Option<i64>,
}

/// A verifier's committee record, from its memberships.
pub async fn committee_record(db: impl PgExecutor<'_>, address: &str) -> Result<CommitteeRecord> {
    let r = sqlx::query!(
        r#"SELECT COUNT(*) AS "draws!", COALESCE(SUM(seats), 0)::bigint AS "seats!",
                  COUNT(committed_block) AS "committed!", COUNT(revealed_block) AS "revealed!",
                  COUNT(*) FILTER (WHERE approve) AS "approvals!", COUNT(settled_block) AS "settled!",
                  COUNT(*) FILTER (WHERE coherent AND settled_block IS NOT NULL) AS "coherent!",
                  COUNT(*) FILTER (WHERE slashed > 0) AS "slashes!",
                  COALESCE(SUM(slashed), 0)::text AS "slashed!", MAX(updated_block) AS updated_block
           FROM draw_members WHERE verifier = $1"#,
        address
    )
    .fetch_one(db)
    .await?;
    Ok(CommitteeRecord {
        draws: r.draws,
        seats: r.seats,
        committed: r.committed,
        revealed: r.revealed,
        approvals: r.approvals,
        settled: r.settled,
        coherent: r.coherent,
        slashes: r.slashes,
        slashed: r.slashed,
        updated_block: r.updated_block,
    })
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

/// The newest feed position a reader can see: the highest `seq` of a stored log or removal notice (0 for
/// an empty feed). Not the sequence's `last_value`: that also counts the numbers a batch still being written
/// has taken, and a stream starting after those would skip the batch once it commits.
pub async fn feed_head(db: impl PgExecutor<'_>) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"SELECT GREATEST(
               COALESCE((SELECT max(seq) FROM logs), 0),
               COALESCE((SELECT max(seq) FROM removed_logs), 0)
           ) AS "v!""#
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

/// Workers (accounts that ever claimed a task), most tasks completed first, then by address; `limit` of them
/// after `after` (the last of the previous page: its completed tasks and address). The `<=` bound is the
/// keyset's condition in a form the partial index `accounts_worker_list` can start its scan from.
pub async fn workers(
    db: impl PgExecutor<'_>,
    after: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<AccountRow>> {
    let (done, addr) = after.map_or((None, None), |(d, a)| (Some(d), Some(a)));
    let r = sqlx::query!(
        r#"SELECT r.key AS "key!", r.row AS "row!"
           FROM accounts a JOIN account_rows r ON r.address = a.address
           WHERE a.tasks_claimed > 0
             AND a.tasks_completed <= COALESCE($1::BIGINT, 9223372036854775807)
             AND ($1::BIGINT IS NULL OR a.tasks_completed < $1
                  OR (a.tasks_completed = $1 AND a.address > $2::TEXT))
           ORDER BY a.tasks_completed DESC, a.address
           LIMIT $3"#,
        done,
        addr,
        limit
    )
    .fetch_all(db)
    .await?;
    rows(
        entity::ACCOUNT,
        r.into_iter().map(|r| (r.key, r.row)).collect(),
    )
}

/// The balances of `accounts`, in one query.
pub async fn balances_of(db: impl PgExecutor<'_>, accounts: &[String]) -> Result<Vec<BalanceRow>> {
    let r = sqlx::query!(
        r#"SELECT key AS "key!", row AS "row!" FROM balance_rows WHERE account = ANY($1) ORDER BY account, token"#,
        accounts
    )
    .fetch_all(db)
    .await?;
    rows(
        entity::BALANCE,
        r.into_iter().map(|r| (r.key, r.row)).collect(),
    )
}

/// An account's balances.
pub async fn balances(db: impl PgExecutor<'_>, address: &str) -> Result<Vec<BalanceRow>> {
    balances_of(db, &[address.to_owned()]).await
}

/// The network row.
pub async fn network(db: impl PgExecutor<'_>) -> Result<Option<NetworkRow>> {
    super::load_network(db).await
}

/// Volume per token.
pub async fn token_totals(db: impl PgExecutor<'_>) -> Result<Vec<TokenTotalsRow>> {
    super::load_tokens(db, None).await
}

/// Number of workers (accounts that ever claimed a task) and of verifiers in the registry (registered and not
/// released).
pub async fn participant_counts(db: impl PgExecutor<'_>) -> Result<(i64, i64)> {
    let r = sqlx::query!(
        r#"SELECT (SELECT COUNT(*) FROM accounts WHERE tasks_claimed > 0) AS "workers!",
                  (SELECT COUNT(*) FROM verifiers WHERE released_block IS NULL) AS "verifiers!""#
    )
    .fetch_one(db)
    .await?;
    Ok((r.workers, r.verifiers))
}
