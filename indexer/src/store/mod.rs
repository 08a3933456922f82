//! All SQL lives here. Writers take a transaction; readers take any executor. Every query is checked at
//! compile time against the migrations (`query!`), with the offline data committed under `indexer/.sqlx/`.

pub mod read;

use crate::events::ChainLog;
use crate::model::{
    AccountRow, AppealRow, BalanceRow, ChallengeRow, DrawRow, JobRow, MemberRow, NetworkRow,
    SubmissionKey, TaskRow, TokenTotalsRow, VerifierRow, addr, hash,
};
use crate::project::{Projection, Undo, VerificationRows, changed, entity};
use alloy::primitives::{Address, B256, U256};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The channel on which each committed batch announces the newest feed sequence number.
pub const FEED_CHANNEL: &str = "tessera_feed";
/// The channel on which every committed change of the sync state is announced (a trigger, migration 0003).
pub const STATE_CHANNEL: &str = "tessera_state";

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused a query or is unreachable.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Running the migrations failed.
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row does not match the projection's row type (schema drift).
    #[error("stored {entity} row {key} is not readable: {source}")]
    Row {
        /// Which table.
        entity: &'static str,
        /// The row's key.
        key: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The database indexes another chain or contract.
    #[error(
        "the database indexes contract {stored_contract} on chain {stored_chain}, not {contract} on chain {chain}: use another database"
    )]
    OtherChain {
        /// Chain in the database.
        stored_chain: i64,
        /// Contract in the database.
        stored_contract: String,
        /// Configured chain.
        chain: i64,
        /// Configured contract.
        contract: String,
    },
    /// Rows to update are not in the database (schema drift or a database edited by hand).
    #[error("{missing} of {rows} {entity} rows to update are not in the database")]
    Missing {
        /// Which table.
        entity: &'static str,
        /// How many were missing.
        missing: u64,
        /// How many were written.
        rows: usize,
    },
    /// Nothing has initialised the sync state yet.
    #[error("the database has no sync state: the indexer has not started on it")]
    NoState,
}

/// Result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Runs the embedded migrations.
pub async fn migrate(pool: &PgPool) -> Result<()> {
    sqlx::migrate!("./migrations").run(pool).await?;
    Ok(())
}

/// The sync cursor and chain view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    /// Chain id.
    pub chain_id: i64,
    /// Indexed contract.
    pub contract: String,
    /// First block that can hold its events.
    pub deployment_block: i64,
    /// Every event of blocks up to this one is stored.
    pub indexed_block: i64,
    /// That block's hash, when recorded.
    pub indexed_hash: Option<String>,
    /// Chain head last seen.
    pub head_block: i64,
    /// Its timestamp.
    pub head_timestamp: i64,
    /// Blocks behind the head at which a record counts as confirmed.
    pub confirmations: i64,
    /// The undo journal covers rollbacks to any block >= undo_from - 1.
    pub undo_from: i64,
    /// Reorgs handled so far.
    pub reorgs: i64,
}

impl SyncState {
    /// The newest block counted as confirmed.
    pub fn confirmed_block(&self) -> i64 {
        (self.head_block - self.confirmations)
            .min(self.indexed_block)
            .max(self.deployment_block - 1)
    }
}

/// Creates the sync state on first start, or checks it belongs to this chain and contract.
pub async fn init_state(
    pool: &PgPool,
    chain_id: i64,
    contract: Address,
    deployment_block: i64,
    confirmations: i64,
) -> Result<SyncState> {
    let contract = addr(&contract);
    sqlx::query!(
        r#"INSERT INTO sync_state (chain_id, contract, deployment_block, indexed_block, head_block, head_timestamp,
                                  confirmations, undo_from)
           VALUES ($1::bigint, $2, $3::bigint, $3::bigint - 1, $3::bigint - 1, 0, $4::bigint, $3::bigint)
           ON CONFLICT (id) DO UPDATE SET confirmations = EXCLUDED.confirmations"#,
        chain_id,
        contract,
        deployment_block,
        confirmations
    )
    .execute(pool)
    .await?;
    let state = state(pool).await?;
    if state.chain_id != chain_id || state.contract != contract {
        return Err(StoreError::OtherChain {
            stored_chain: state.chain_id,
            stored_contract: state.contract,
            chain: chain_id,
            contract,
        });
    }
    Ok(state)
}

/// Reads the sync state.
pub async fn state(db: impl PgExecutor<'_>) -> Result<SyncState> {
    let r = sqlx::query!(
        r#"SELECT chain_id, contract, deployment_block, indexed_block, indexed_hash, head_block, head_timestamp,
                  confirmations, undo_from, reorgs
           FROM sync_state"#
    )
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NoState)?;
    Ok(SyncState {
        chain_id: r.chain_id,
        contract: r.contract,
        deployment_block: r.deployment_block,
        indexed_block: r.indexed_block,
        indexed_hash: r.indexed_hash,
        head_block: r.head_block,
        head_timestamp: r.head_timestamp,
        confirmations: r.confirmations,
        undo_from: r.undo_from,
        reorgs: r.reorgs,
    })
}

/// Records the chain head without moving the cursor.
pub async fn set_head(db: impl PgExecutor<'_>, head: i64, timestamp: i64) -> Result<()> {
    sqlx::query!(
        "UPDATE sync_state SET head_block = $1, head_timestamp = $2, updated_at = now()",
        head,
        timestamp
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A block whose hash the indexer validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    /// Number.
    pub number: i64,
    /// Hash.
    pub hash: B256,
    /// Parent hash, when known.
    pub parent_hash: Option<B256>,
    /// Timestamp.
    pub timestamp: i64,
}

/// Recorded blocks at or below `number`, newest first.
pub async fn recorded_blocks(
    db: impl PgExecutor<'_>,
    below_or_at: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>> {
    Ok(sqlx::query!(
        "SELECT number, hash FROM blocks WHERE number <= $1 ORDER BY number DESC LIMIT $2",
        below_or_at,
        limit
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.number, r.hash))
    .collect())
}

/// What one committed batch covers.
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    /// Chain id (part of every log's key).
    pub chain_id: i64,
    /// Decoded logs, in chain order.
    pub logs: &'a [ChainLog],
    /// Blocks to record (validated hashes).
    pub blocks: &'a [BlockRef],
    /// The cursor after the batch: every event up to this block is in it or before it.
    pub to_block: BlockRef,
    /// Chain head seen, and its timestamp.
    pub head: (i64, i64),
    /// Write before-images to the undo journal (blocks that may still be reorged away).
    pub journal: bool,
}

/// Task rows as the last committed batches left them, so that the next batch need not read them back: a task
/// is claimed, submitted and paid in different batches, and reading it again was the batch path's largest
/// read. Sound because the sync loop is the only writer of projections; it clears the cache when a commit
/// fails (it may have committed anyway) and on every rollback. Bounded: emptied when full.
#[derive(Debug, Default)]
pub struct TaskCache {
    rows: HashMap<(i64, i64), TaskRow>,
}

impl TaskCache {
    /// Most rows kept (about 300 bytes each).
    pub const CAPACITY: usize = 200_000;

    /// Forgets every row.
    pub fn clear(&mut self) {
        self.rows.clear();
    }

    fn keep(&mut self, rows: Vec<TaskRow>) {
        if self.rows.len() + rows.len() > Self::CAPACITY {
            self.rows.clear();
        }
        for r in rows.into_iter().take(Self::CAPACITY) {
            self.rows.insert((r.job_id, r.task_index), r);
        }
    }
}

/// Writes one batch: logs, projections, recorded blocks, undo images and cursor, in one transaction, then
/// announces the feed. Logs already stored (a replay) are skipped, and so are their projection effects. Task
/// rows come from `cache` where it has them, and the batch's rows go into it once committed.
pub async fn commit_batch(pool: &PgPool, batch: Batch<'_>, cache: &mut TaskCache) -> Result<usize> {
    let mut tx = pool.begin().await?;
    let fresh = insert_logs(&mut tx, batch.chain_id, batch.logs).await?;
    let logs: std::borrow::Cow<'_, [ChainLog]> = if fresh.iter().all(|f| *f) {
        batch.logs.into()
    } else {
        batch
            .logs
            .iter()
            .zip(&fresh)
            .filter(|(_, f)| **f)
            .map(|(l, _)| l.clone())
            .collect::<Vec<_>>()
            .into()
    };
    let tasks = if logs.is_empty() {
        Vec::new()
    } else {
        project(
            &mut tx,
            &logs,
            batch.journal.then_some(batch.to_block.number),
            Some(cache),
        )
        .await?
    };
    record_blocks(&mut tx, batch.blocks).await?;
    record_blocks(&mut tx, std::slice::from_ref(&batch.to_block)).await?;
    let to = batch.to_block;
    let to_hash = hash(&to.hash);
    sqlx::query!(
        r#"UPDATE sync_state SET indexed_block = $1::bigint, indexed_hash = $2::text,
                  head_block = GREATEST($3::bigint, $1::bigint), head_timestamp = GREATEST(head_timestamp, $4::bigint),
                  undo_from = CASE WHEN $5::boolean THEN undo_from ELSE GREATEST(undo_from, $1::bigint + 1) END,
                  updated_at = now()"#,
        to.number,
        to_hash,
        batch.head.0,
        batch.head.1,
        batch.journal
    )
    .execute(&mut *tx)
    .await?;
    if !logs.is_empty() {
        notify(&mut tx).await?;
    }
    tx.commit().await?;
    cache.keep(tasks);
    Ok(logs.len())
}

async fn notify(tx: &mut Transaction<'_, Postgres>) -> Result<()> {
    // Delivered on commit only: listeners never see a batch that rolled back.
    sqlx::query!(
        "SELECT pg_notify($1, (SELECT last_value::text FROM feed_seq))",
        FEED_CHANNEL
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts logs; returns, per log, whether it was new. Normally none is stored yet (the cursor is below all of
/// them), and they go in with one statement (`insert_new_logs`); a replay of stored ones fails it on the
/// primary key, which is rolled back to its savepoint and followed by the insert of the others only.
async fn insert_logs(
    tx: &mut Transaction<'_, Postgres>,
    chain_id: i64,
    logs: &[ChainLog],
) -> Result<Vec<bool>> {
    if logs.is_empty() {
        return Ok(Vec::new());
    }
    let mut attempt = sqlx::Connection::begin(&mut **tx).await?;
    match insert_new_logs(&mut attempt, chain_id, logs).await {
        Ok(()) => {
            attempt.commit().await?;
            return Ok(vec![true; logs.len()]);
        }
        Err(StoreError::Db(sqlx::Error::Database(e))) if e.is_unique_violation() => {
            attempt.rollback().await?;
        }
        Err(e) => return Err(e),
    }
    let (tx_hash, log_index): (Vec<String>, Vec<i64>) = logs
        .iter()
        .map(|l| (hash(&l.at.tx_hash), l.at.log_index))
        .unzip();
    let stored: BTreeSet<(String, i64)> = sqlx::query!(
        r#"SELECT l.tx_hash, l.log_index FROM logs l
           JOIN UNNEST($2::text[], $3::bigint[]) AS k(tx_hash, log_index)
             ON l.chain_id = $1 AND l.tx_hash = k.tx_hash AND l.log_index = k.log_index"#,
        chain_id,
        &tx_hash,
        &log_index
    )
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|r| (r.tx_hash, r.log_index))
    .collect();
    let fresh: Vec<bool> = tx_hash
        .into_iter()
        .zip(log_index)
        .map(|k| !stored.contains(&k))
        .collect();
    let new: Vec<ChainLog> = logs
        .iter()
        .zip(&fresh)
        .filter(|(_, f)| **f)
        .map(|(l, _)| l.clone())
        .collect();
    if !new.is_empty() {
        insert_new_logs(tx, chain_id, &new).await?;
    }
    Ok(fresh)
}

/// Inserts logs none of which is stored, in chain order (the feed sequence follows it): up to
/// `INSERT_MAX_LOGS` with one INSERT (`insert_few_logs`), more with a binary COPY, the batch path's largest
/// write and the cheapest way into Postgres for many rows (no parameter arrays to decode, unnest and sort).
async fn insert_new_logs(
    tx: &mut Transaction<'_, Postgres>,
    chain_id: i64,
    logs: &[ChainLog],
) -> Result<()> {
    let mut order: Vec<&ChainLog> = logs.iter().collect();
    order.sort_by_key(|l| (l.at.block_number, l.at.log_index));
    if order.len() <= INSERT_MAX_LOGS {
        return insert_few_logs(tx, chain_id, &order).await;
    }
    let mut buf = CopyBuffer::new();
    for l in order {
        let (job_id, task_index) = l.job_task().map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let args = l.args().map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        buf.row(13);
        buf.int8(Some(chain_id));
        buf.hex(l.at.tx_hash.as_slice());
        buf.int8(Some(l.at.log_index));
        buf.int8(Some(l.at.block_number));
        buf.hex(l.at.block_hash.as_slice());
        buf.int8(Some(l.at.block_timestamp));
        buf.int8(Some(l.at.tx_index));
        buf.bytes(l.name().as_bytes());
        buf.int8(job_id);
        buf.int8(task_index);
        buf.jsonb(&args);
        buf.bytes(&l.raw_topics);
        buf.bytes(&l.raw_data);
    }
    let mut copy = tx
        .copy_in_raw(
            "COPY logs (chain_id, tx_hash, log_index, block_number, block_hash, block_timestamp, tx_index, event, \
             job_id, task_index, args, topics, data) FROM STDIN (FORMAT binary)",
        )
        .await?;
    copy.send(buf.finish()).await?;
    copy.finish().await?;
    Ok(())
}

/// Logs up to this many go in with one `INSERT … SELECT FROM UNNEST` (one round trip); more with a binary COPY.
/// A COPY sends its data and its end in two writes, and on a socket without TCP_NODELAY (sqlx sets none) the
/// second waits for the server's delayed ACK of the first: 40 ms on Linux, which every followed block paid.
const INSERT_MAX_LOGS: usize = 512;

/// Inserts a few logs, in `order`, with one statement.
async fn insert_few_logs(
    tx: &mut Transaction<'_, Postgres>,
    chain_id: i64,
    order: &[&ChainLog],
) -> Result<()> {
    let n = order.len();
    let (mut tx_hash, mut log_index, mut block_number) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut block_hash, mut block_timestamp, mut tx_index) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut event, mut job_id, mut task_index) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut args, mut topics, mut data) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for l in order {
        let (job, task) = l.job_task().map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        tx_hash.push(hash(&l.at.tx_hash));
        log_index.push(l.at.log_index);
        block_number.push(l.at.block_number);
        block_hash.push(hash(&l.at.block_hash));
        block_timestamp.push(l.at.block_timestamp);
        tx_index.push(l.at.tx_index);
        event.push(l.name().to_owned());
        job_id.push(job);
        task_index.push(task);
        args.push(l.args().map_err(|e| sqlx::Error::Encode(Box::new(e)))?);
        topics.push(l.raw_topics.clone());
        data.push(l.raw_data.clone());
    }
    sqlx::query!(
        r#"INSERT INTO logs (chain_id, tx_hash, log_index, block_number, block_hash, block_timestamp, tx_index,
                             event, job_id, task_index, args, topics, data)
           SELECT $1::bigint, u.tx_hash, u.log_index, u.block_number, u.block_hash, u.block_timestamp,
                  u.tx_index, u.event, u.job_id, u.task_index, u.args, u.topics, u.data
           FROM UNNEST($2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[],
                       $8::text[], $9::bigint[], $10::bigint[], $11::jsonb[], $12::bytea[], $13::bytea[])
                WITH ORDINALITY AS u(tx_hash, log_index, block_number, block_hash, block_timestamp, tx_index,
                                     event, job_id, task_index, args, topics, data, ord)
           -- The feed position (seq, a column default) follows chain order.
           ORDER BY u.ord"#,
        chain_id,
        &tx_hash,
        &log_index,
        &block_number,
        &block_hash,
        &block_timestamp,
        &tx_index,
        &event,
        &job_id as &[Option<i64>],
        &task_index as &[Option<i64>],
        &args,
        &topics,
        &data
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Rows in Postgres's binary COPY format.
struct CopyBuffer(Vec<u8>);

impl CopyBuffer {
    fn new() -> Self {
        let mut b = Vec::with_capacity(1 << 20);
        b.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        b.extend_from_slice(&0i32.to_be_bytes()); // flags
        b.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        Self(b)
    }

    fn row(&mut self, fields: i16) {
        self.0.extend_from_slice(&fields.to_be_bytes());
    }

    fn len(&mut self, n: usize) {
        let n = i32::try_from(n).expect("a field below 2 GiB");
        self.0.extend_from_slice(&n.to_be_bytes());
    }

    fn int8(&mut self, v: Option<i64>) {
        match v {
            Some(v) => {
                self.len(8);
                self.0.extend_from_slice(&v.to_be_bytes());
            }
            None => self.0.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    /// TEXT and BYTEA are their bytes.
    fn bytes(&mut self, v: &[u8]) {
        self.len(v.len());
        self.0.extend_from_slice(v);
    }

    /// Lowercase 0x hex TEXT, as [`hash`] and [`addr`] write it.
    fn hex(&mut self, v: &[u8]) {
        self.len(2 + 2 * v.len());
        self.0.extend_from_slice(b"0x");
        let start = self.0.len();
        self.0.resize(start + 2 * v.len(), 0);
        alloy::hex::encode_to_slice(v, &mut self.0[start..]).expect("twice the length");
    }

    /// JSONB: a version byte, then the JSON text.
    fn jsonb(&mut self, v: &Value) {
        let len_at = self.0.len();
        self.len(0);
        self.0.push(1);
        serde_json::to_writer(&mut self.0, v).expect("JSON values serialize");
        let n = i32::try_from(self.0.len() - len_at - 4).expect("a field below 2 GiB");
        self.0[len_at..len_at + 4].copy_from_slice(&n.to_be_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&(-1i16).to_be_bytes());
        self.0
    }
}

async fn record_blocks(tx: &mut Transaction<'_, Postgres>, blocks: &[BlockRef]) -> Result<()> {
    if blocks.is_empty() {
        return Ok(());
    }
    let number: Vec<i64> = blocks.iter().map(|b| b.number).collect();
    let hashes: Vec<String> = blocks.iter().map(|b| hash(&b.hash)).collect();
    let parent: Vec<Option<String>> = blocks
        .iter()
        .map(|b| b.parent_hash.as_ref().map(hash))
        .collect();
    let ts: Vec<i64> = blocks.iter().map(|b| b.timestamp).collect();
    sqlx::query!(
        r#"INSERT INTO blocks (number, hash, parent_hash, timestamp)
           SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[])
           ON CONFLICT (number) DO UPDATE SET hash = EXCLUDED.hash,
               parent_hash = COALESCE(EXCLUDED.parent_hash, blocks.parent_hash), timestamp = EXCLUDED.timestamp"#,
        &number,
        &hashes,
        &parent as &[Option<String>],
        &ts
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn rows<T: DeserializeOwned>(entity: &'static str, values: Vec<(String, Value)>) -> Result<Vec<T>> {
    values
        .into_iter()
        .map(|(key, v)| {
            serde_json::from_value(v).map_err(|source| StoreError::Row {
                entity,
                key,
                source,
            })
        })
        .collect()
}

/// Loads, applies and writes the projections of `logs` (all new); returns the task rows as the batch leaves
/// them. With `journal`, before-images go to the undo journal under that block. Task rows in `cache` are not
/// read.
async fn project(
    tx: &mut Transaction<'_, Postgres>,
    logs: &[ChainLog],
    journal: Option<i64>,
    cache: Option<&TaskCache>,
) -> Result<Vec<TaskRow>> {
    let keys = crate::project::job_keys(logs).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let jobs = load_jobs(&mut **tx, &keys.jobs.iter().copied().collect::<Vec<_>>()).await?;
    let mut tasks = Vec::new();
    let mut unknown = BTreeSet::new();
    for k in &keys.tasks {
        match cache.and_then(|c| c.rows.get(k)) {
            Some(r) => tasks.push(r.clone()),
            None => _ = unknown.insert(*k),
        }
    }
    tasks.extend(load_tasks(&mut **tx, &unknown).await?);
    let mut p = Projection::with_jobs(
        jobs.into_iter().map(|r| (r.job_id, r)).collect(),
        tasks
            .into_iter()
            .map(|r| ((r.job_id, r.task_index), r))
            .collect(),
    );
    let more = p
        .account_keys(logs)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let accounts = load_accounts(
        &mut **tx,
        &more.accounts.iter().map(addr).collect::<Vec<_>>(),
    )
    .await?;
    let balances = load_balances(&mut **tx, &more.balances).await?;
    let tokens = load_tokens(
        &mut **tx,
        Some(&more.tokens.iter().map(addr).collect::<Vec<_>>()),
    )
    .await?;
    let network = load_network(&mut **tx).await?;
    p.with_accounts(
        accounts.into_iter().map(|r| (r.address, r)).collect(),
        balances
            .into_iter()
            .map(|r| ((r.account, r.token), r))
            .collect(),
        tokens.into_iter().map(|r| (r.token, r)).collect(),
        network,
    );
    let records = load_verification(tx, &more.submissions).await?;
    let verifiers = load_verifiers(
        &mut **tx,
        &more.verifiers.iter().map(addr).collect::<Vec<_>>(),
    )
    .await?;
    p.with_verification(
        &more,
        records,
        verifiers.into_iter().map(|r| (r.address, r)).collect(),
    );
    for log in logs {
        p.apply(log).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    }
    write_projection(tx, &p).await?;
    if let Some(block) = journal {
        insert_undo(tx, block, &p.undo()).await?;
    }
    Ok(p.tasks.into_values().filter_map(|s| s.after).collect())
}

async fn write_projection(tx: &mut Transaction<'_, Postgres>, p: &Projection) -> Result<()> {
    if !p.new_jobs.is_empty() {
        let ids: Vec<i64> = p.new_jobs.iter().map(|j| j.0).collect();
        let counts: Vec<i64> = p.new_jobs.iter().map(|j| j.1).collect();
        let blocks: Vec<i64> = p.new_jobs.iter().map(|j| j.2).collect();
        sqlx::query!(
            r#"INSERT INTO tasks (job_id, task_index, state, attempt, times_rejected, times_expired, updated_block)
               SELECT j.job_id, g, 'open', 0, 0, 0, j.block
               FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[]) AS j(job_id, task_count, block),
                    generate_series(0, j.task_count - 1) AS g"#,
            &ids,
            &counts,
            &blocks
        )
        .execute(&mut **tx)
        .await?;
    }
    upsert_jobs(tx, &changed(&p.jobs)).await?;
    update_tasks(tx, &changed(&p.tasks)).await?;
    upsert_accounts(tx, &changed(&p.accounts)).await?;
    upsert_balances(tx, &changed(&p.balances)).await?;
    upsert_tokens(tx, &changed(&p.tokens)).await?;
    if let Some(n) = p
        .network
        .as_ref()
        .filter(|s| s.changed())
        .and_then(|s| s.after.as_ref())
    {
        upsert_network(tx, n).await?;
    }
    upsert_draws(tx, &changed(&p.draws)).await?;
    upsert_members(tx, &changed(&p.members)).await?;
    upsert_appeals(tx, &changed(&p.appeals)).await?;
    upsert_challenges(tx, &changed(&p.challenges)).await?;
    upsert_verifiers(tx, &changed(&p.verifiers)).await?;
    if !p.job_workers.is_empty() {
        let v = serde_json::to_value(&p.job_workers).expect("rows serialize");
        sqlx::query!(
            r#"INSERT INTO job_workers SELECT * FROM jsonb_populate_recordset(NULL::job_workers, $1)
               ON CONFLICT DO NOTHING"#,
            v
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Jobs by id, from the `job_rows` view.
pub(crate) async fn load_jobs(db: impl PgExecutor<'_>, ids: &[i64]) -> Result<Vec<JobRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let r = sqlx::query!(
        r#"SELECT key AS "key!", row AS "row!" FROM job_rows WHERE job_id = ANY($1)"#,
        ids
    )
    .fetch_all(db)
    .await?;
    rows(entity::JOB, r.into_iter().map(|r| (r.key, r.row)).collect())
}

/// Tasks by key, read as typed columns: the batch path's largest read (one row per claimed, submitted or
/// settled task), so it skips the JSON view the other entities use.
async fn load_tasks(db: impl PgExecutor<'_>, keys: &BTreeSet<(i64, i64)>) -> Result<Vec<TaskRow>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let (jobs, idx): (Vec<i64>, Vec<i64>) = keys.iter().copied().unzip();
    let found = sqlx::query!(
        r#"SELECT t.job_id, t.task_index, t.state, t.worker, t.lease_id, t.lease_expires_at,
                  t.stake::text AS stake, t.attempt, t.output_cid, t.cell_root, t.submitted_block,
                  t.times_rejected, t.times_expired, t.pay_reason, t.worker_reward::text AS worker_reward,
                  t.refund_reason, t.updated_block, t.verification_phase, t.verification_level, t.draws,
                  t.deferrals, t.phase_ends_at, t.seed_block, t.verdict, t.reject_reason
           FROM tasks t JOIN UNNEST($1::bigint[], $2::bigint[]) AS k(job_id, task_index)
             ON t.job_id = k.job_id AND t.task_index = k.task_index"#,
        &jobs,
        &idx
    )
    .fetch_all(db)
    .await?;
    found
        .into_iter()
        .map(|r| {
            let key = format!("{}/{}", r.job_id, r.task_index);
            let bad = |what: &str, e: String| StoreError::Row {
                entity: entity::TASK,
                key: key.clone(),
                source: <serde_json::Error as serde::de::Error>::custom(format!("{what}: {e}")),
            };
            let amount = |what: &str, v: Option<String>| {
                v.map(|s| U256::from_str_radix(&s, 10).map_err(|e| bad(what, e.to_string())))
                    .transpose()
            };
            Ok(TaskRow {
                job_id: r.job_id,
                task_index: r.task_index,
                state: crate::model::TaskStatus::parse(&r.state)
                    .ok_or_else(|| bad("state", r.state.clone()))?,
                worker: r
                    .worker
                    .map(|w| {
                        w.parse::<Address>()
                            .map_err(|e| bad("worker", e.to_string()))
                    })
                    .transpose()?,
                lease_id: r.lease_id,
                lease_expires_at: r.lease_expires_at,
                stake: amount("stake", r.stake)?,
                attempt: r.attempt,
                output_cid: r.output_cid,
                cell_root: r
                    .cell_root
                    .map(|h| {
                        h.parse::<B256>()
                            .map_err(|e| bad("cell_root", e.to_string()))
                    })
                    .transpose()?,
                submitted_block: r.submitted_block,
                times_rejected: r.times_rejected,
                times_expired: r.times_expired,
                pay_reason: r.pay_reason,
                worker_reward: amount("worker_reward", r.worker_reward)?,
                refund_reason: r.refund_reason,
                updated_block: r.updated_block,
                verification_phase: r.verification_phase,
                verification_level: r.verification_level,
                draws: r.draws,
                deferrals: r.deferrals,
                phase_ends_at: r.phase_ends_at,
                seed_block: r.seed_block,
                verdict: r.verdict,
                reject_reason: r.reject_reason,
            })
        })
        .collect()
}

/// Accounts by address, from the `account_rows` view.
pub(crate) async fn load_accounts(
    db: impl PgExecutor<'_>,
    keys: &[String],
) -> Result<Vec<AccountRow>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let r = sqlx::query!(
        r#"SELECT key AS "key!", row AS "row!" FROM account_rows WHERE address = ANY($1)"#,
        keys
    )
    .fetch_all(db)
    .await?;
    rows(
        entity::ACCOUNT,
        r.into_iter().map(|r| (r.key, r.row)).collect(),
    )
}

async fn load_balances(
    db: impl PgExecutor<'_>,
    keys: &BTreeSet<(Address, Address)>,
) -> Result<Vec<BalanceRow>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let (acct, token): (Vec<String>, Vec<String>) =
        keys.iter().map(|(a, t)| (addr(a), addr(t))).unzip();
    let r = sqlx::query!(
        r#"SELECT b.key AS "key!", b.row AS "row!"
           FROM balance_rows b JOIN UNNEST($1::text[], $2::text[]) AS k(account, token)
             ON b.account = k.account AND b.token = k.token"#,
        &acct,
        &token
    )
    .fetch_all(db)
    .await?;
    rows(
        entity::BALANCE,
        r.into_iter().map(|r| (r.key, r.row)).collect(),
    )
}

/// Token totals; all of them when `keys` is None.
pub(crate) async fn load_tokens(
    db: impl PgExecutor<'_>,
    keys: Option<&[String]>,
) -> Result<Vec<TokenTotalsRow>> {
    if keys.is_some_and(<[String]>::is_empty) {
        return Ok(Vec::new());
    }
    let r = sqlx::query!(
        r#"SELECT key AS "key!", row AS "row!" FROM token_total_rows
           WHERE $1::text[] IS NULL OR token = ANY($1) ORDER BY token"#,
        keys
    )
    .fetch_all(db)
    .await?;
    rows(
        entity::TOKEN,
        r.into_iter().map(|r| (r.key, r.row)).collect(),
    )
}

/// The network row, if any event has created it.
pub(crate) async fn load_network(db: impl PgExecutor<'_>) -> Result<Option<NetworkRow>> {
    let r = sqlx::query!(r#"SELECT key AS "key!", row AS "row!" FROM network_rows"#)
        .fetch_optional(db)
        .await?;
    Ok(rows(
        entity::NETWORK,
        r.into_iter().map(|r| (r.key, r.row)).collect(),
    )?
    .pop())
}

async fn upsert_jobs(tx: &mut Transaction<'_, Postgres>, rows: &[JobRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let v = serde_json::to_value(rows).expect("rows serialize");
    sqlx::query!(
        r#"INSERT INTO jobs SELECT * FROM jsonb_populate_recordset(NULL::jobs, $1)
           ON CONFLICT (job_id) DO UPDATE SET
             status = EXCLUDED.status, open_refund = EXCLUDED.open_refund, tasks_open = EXCLUDED.tasks_open,
             tasks_claimed = EXCLUDED.tasks_claimed, tasks_submitted = EXCLUDED.tasks_submitted,
             tasks_paid = EXCLUDED.tasks_paid, tasks_refunded = EXCLUDED.tasks_refunded,
             rejections = EXCLUDED.rejections, paid_to_workers = EXCLUDED.paid_to_workers,
             refunded = EXCLUDED.refunded, updated_block = EXCLUDED.updated_block"#,
        v
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes tasks as typed column arrays (no JSON on either side). Every task row exists already: tasks of a job
/// are inserted (open) in the batch that creates the job, and only deleted with it. An UPDATE instead of an
/// upsert skips the speculative insertion and the row lock an `ON CONFLICT DO UPDATE` costs per row.
async fn update_tasks(tx: &mut Transaction<'_, Postgres>, rows: &[TaskRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&TaskRow) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
    let opt = |f: fn(&TaskRow) -> Option<i64>| rows.iter().map(f).collect::<Vec<Option<i64>>>();
    let text =
        |f: fn(&TaskRow) -> Option<String>| rows.iter().map(f).collect::<Vec<Option<String>>>();
    let state: Vec<String> = rows.iter().map(|r| r.state.as_str().to_owned()).collect();
    let updated = sqlx::query!(
        r#"UPDATE tasks t SET
             state = x.state, worker = x.worker, lease_id = x.lease_id, lease_expires_at = x.lease_expires_at,
             stake = x.stake::numeric, attempt = x.attempt, output_cid = x.output_cid, cell_root = x.cell_root,
             submitted_block = x.submitted_block, times_rejected = x.times_rejected,
             times_expired = x.times_expired, pay_reason = x.pay_reason, worker_reward = x.worker_reward::numeric,
             refund_reason = x.refund_reason, updated_block = x.updated_block,
             verification_phase = x.verification_phase, verification_level = x.verification_level,
             draws = x.draws, deferrals = x.deferrals, phase_ends_at = x.phase_ends_at, seed_block = x.seed_block,
             verdict = x.verdict, reject_reason = x.reject_reason
           FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[],
                       $8::bigint[], $9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::bigint[],
                       $14::text[], $15::text[], $16::text[], $17::bigint[], $18::text[], $19::bigint[],
                       $20::bigint[], $21::bigint[], $22::bigint[], $23::bigint[], $24::text[], $25::text[])
                AS x(job_id, task_index, state, worker, lease_id, lease_expires_at, stake, attempt, output_cid,
                     cell_root, submitted_block, times_rejected, times_expired, pay_reason, worker_reward,
                     refund_reason, updated_block, verification_phase, verification_level, draws, deferrals,
                     phase_ends_at, seed_block, verdict, reject_reason)
           WHERE t.job_id = x.job_id AND t.task_index = x.task_index"#,
        &col(|r| r.job_id),
        &col(|r| r.task_index),
        &state,
        &text(|r| r.worker.as_ref().map(addr)) as &[Option<String>],
        &opt(|r| r.lease_id) as &[Option<i64>],
        &opt(|r| r.lease_expires_at) as &[Option<i64>],
        &text(|r| r.stake.map(|v| v.to_string())) as &[Option<String>],
        &col(|r| r.attempt),
        &text(|r| r.output_cid.clone()) as &[Option<String>],
        &text(|r| r.cell_root.as_ref().map(hash)) as &[Option<String>],
        &opt(|r| r.submitted_block) as &[Option<i64>],
        &col(|r| r.times_rejected),
        &col(|r| r.times_expired),
        &text(|r| r.pay_reason.clone()) as &[Option<String>],
        &text(|r| r.worker_reward.map(|v| v.to_string())) as &[Option<String>],
        &text(|r| r.refund_reason.clone()) as &[Option<String>],
        &col(|r| r.updated_block),
        &text(|r| r.verification_phase.clone()) as &[Option<String>],
        &col(|r| r.verification_level),
        &col(|r| r.draws),
        &col(|r| r.deferrals),
        &opt(|r| r.phase_ends_at) as &[Option<i64>],
        &opt(|r| r.seed_block) as &[Option<i64>],
        &text(|r| r.verdict.clone()) as &[Option<String>],
        &text(|r| r.reject_reason.clone()) as &[Option<String>],
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated != rows.len() as u64 {
        return Err(StoreError::Missing {
            entity: entity::TASK,
            missing: rows.len() as u64 - updated,
            rows: rows.len(),
        });
    }
    Ok(())
}

async fn upsert_accounts(tx: &mut Transaction<'_, Postgres>, rows: &[AccountRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let v = serde_json::to_value(rows).expect("rows serialize");
    sqlx::query!(
        r#"INSERT INTO accounts SELECT * FROM jsonb_populate_recordset(NULL::accounts, $1)
           ON CONFLICT (address) DO UPDATE SET
             bonded = EXCLUDED.bonded, locked = EXCLUDED.locked, unbonding = EXCLUDED.unbonding,
             unbonding_ready_at = EXCLUDED.unbonding_ready_at, slashed = EXCLUDED.slashed,
             tasks_claimed = EXCLUDED.tasks_claimed, tasks_submitted = EXCLUDED.tasks_submitted,
             tasks_completed = EXCLUDED.tasks_completed, tasks_rejected = EXCLUDED.tasks_rejected,
             tasks_expired = EXCLUDED.tasks_expired, first_block = EXCLUDED.first_block,
             updated_block = EXCLUDED.updated_block"#,
        v
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_balances(tx: &mut Transaction<'_, Postgres>, rows: &[BalanceRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let v = serde_json::to_value(rows).expect("rows serialize");
    sqlx::query!(
        r#"INSERT INTO balances SELECT * FROM jsonb_populate_recordset(NULL::balances, $1)
           ON CONFLICT (account, token) DO UPDATE SET
             balance = EXCLUDED.balance, credited = EXCLUDED.credited, withdrawn = EXCLUDED.withdrawn,
             worker_rewards = EXCLUDED.worker_rewards, updated_block = EXCLUDED.updated_block"#,
        v
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_tokens(tx: &mut Transaction<'_, Postgres>, rows: &[TokenTotalsRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let v = serde_json::to_value(rows).expect("rows serialize");
    sqlx::query!(
        r#"INSERT INTO token_totals SELECT * FROM jsonb_populate_recordset(NULL::token_totals, $1)
           ON CONFLICT (token) DO UPDATE SET
             escrowed = EXCLUDED.escrowed, paid_to_workers = EXCLUDED.paid_to_workers,
             protocol_fees = EXCLUDED.protocol_fees, verifier_fees = EXCLUDED.verifier_fees,
             refunded = EXCLUDED.refunded, updated_block = EXCLUDED.updated_block"#,
        v
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_network(tx: &mut Transaction<'_, Postgres>, row: &NetworkRow) -> Result<()> {
    let v = serde_json::to_value(row).expect("rows serialize");
    sqlx::query!(
        r#"INSERT INTO network SELECT * FROM jsonb_populate_record(NULL::network, $1)
           ON CONFLICT (id) DO UPDATE SET
             jobs = EXCLUDED.jobs, jobs_cancelled = EXCLUDED.jobs_cancelled, tasks = EXCLUDED.tasks,
             tasks_paid = EXCLUDED.tasks_paid, tasks_refunded = EXCLUDED.tasks_refunded,
             tasks_rejected = EXCLUDED.tasks_rejected, tasks_expired = EXCLUDED.tasks_expired,
             draws = EXCLUDED.draws, votes = EXCLUDED.votes, appeals = EXCLUDED.appeals,
             data_challenges = EXCLUDED.data_challenges, staked = EXCLUDED.staked, slashed = EXCLUDED.slashed, paused = EXCLUDED.paused,
             protocol_fee_bps = EXCLUDED.protocol_fee_bps, treasury = EXCLUDED.treasury,
             updated_block = EXCLUDED.updated_block"#,
        v
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_undo(tx: &mut Transaction<'_, Postgres>, block: i64, undo: &[Undo]) -> Result<()> {
    if undo.is_empty() {
        return Ok(());
    }
    let entities: Vec<String> = undo.iter().map(|u| u.entity.to_owned()).collect();
    let keys: Vec<String> = undo.iter().map(|u| u.key.clone()).collect();
    let images: Vec<Option<String>> = undo
        .iter()
        .map(|u| u.image.as_ref().map(Value::to_string))
        .collect();
    sqlx::query!(
        r#"INSERT INTO undo_log (block_number, entity, key, image)
           SELECT $1, e, k, i::jsonb FROM UNNEST($2::text[], $3::text[], $4::text[]) AS x(e, k, i)"#,
        block,
        &entities,
        &keys,
        &images as &[Option<String>]
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Drops undo images of blocks at or below `block` (they can no longer be reorged within the window).
pub async fn prune_undo(pool: &PgPool, block: i64) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query!("DELETE FROM undo_log WHERE block_number <= $1", block)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "UPDATE sync_state SET undo_from = GREATEST(undo_from, $1::bigint + 1)",
        block
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How a rollback was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollback {
    /// Through the undo journal.
    Undo {
        /// Logs removed.
        removed: u64,
    },
    /// By rebuilding every projection from the stored logs (the reorg was deeper than the journal).
    Rebuild {
        /// Logs removed.
        removed: u64,
    },
}

/// Rolls everything above `ancestor` back, in one transaction: logs (announced on the feed as removed),
/// projections, recorded blocks and the cursor.
pub async fn rollback(pool: &PgPool, ancestor: BlockRef) -> Result<Rollback> {
    let mut tx = pool.begin().await?;
    let a = ancestor.number;
    let st = state(&mut *tx).await?;
    let removed = sqlx::query!(
        r#"WITH gone AS (DELETE FROM logs WHERE block_number > $1 RETURNING *)
           INSERT INTO removed_logs (removed_seq, chain_id, tx_hash, log_index, block_number, block_hash,
                                     block_timestamp, tx_index, event, job_id, task_index, args)
           SELECT seq, chain_id, tx_hash, log_index, block_number, block_hash, block_timestamp, tx_index, event,
                  job_id, task_index, args
           FROM gone ORDER BY seq"#,
        a
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query!("DELETE FROM job_workers WHERE block_number > $1", a)
        .execute(&mut *tx)
        .await?;
    sqlx::query!("DELETE FROM blocks WHERE number > $1", a)
        .execute(&mut *tx)
        .await?;
    let how = if a + 1 >= st.undo_from {
        undo_to(&mut tx, a).await?;
        Rollback::Undo { removed }
    } else {
        rebuild(&mut tx).await?;
        Rollback::Rebuild { removed }
    };
    record_blocks(&mut tx, std::slice::from_ref(&ancestor)).await?;
    let h = hash(&ancestor.hash);
    sqlx::query!(
        r#"UPDATE sync_state SET indexed_block = $1::bigint, indexed_hash = $2::text, reorgs = reorgs + 1,
                  undo_from = LEAST(undo_from, $1::bigint + 1), updated_at = now()"#,
        a,
        h
    )
    .execute(&mut *tx)
    .await?;
    if removed > 0 {
        notify(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(how)
}

async fn undo_to(tx: &mut Transaction<'_, Postgres>, ancestor: i64) -> Result<()> {
    // The oldest image above the ancestor is the row as of the ancestor.
    let entries = sqlx::query!(
        r#"DELETE FROM undo_log WHERE block_number > $1 RETURNING id, entity, key, image"#,
        ancestor
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut oldest: HashMap<(String, String), (i64, Option<Value>)> = HashMap::new();
    for e in entries {
        let slot = oldest
            .entry((e.entity, e.key))
            .or_insert((e.id, e.image.clone()));
        if e.id < slot.0 {
            *slot = (e.id, e.image);
        }
    }
    let mut restore: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    let mut delete: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ((entity, key), (_, image)) in oldest {
        match image {
            Some(v) => restore.entry(entity).or_default().push((key, v)),
            None => delete.entry(entity).or_default().push(key),
        }
    }
    for (entity, keys) in &delete {
        delete_rows(tx, entity, keys).await?;
    }
    // A job created above the ancestor is deleted with all its tasks; an image of one of them (taken when a
    // later block changed it) describes a row that did not exist at the ancestor.
    let deleted_jobs: BTreeSet<&str> = delete
        .get(entity::JOB)
        .map(|keys| keys.iter().map(String::as_str).collect())
        .unwrap_or_default();
    for (entity, mut images) in restore {
        match entity.as_str() {
            entity::JOB => upsert_jobs(tx, &rows(entity::JOB, images)?).await?,
            entity::TASK => {
                images.retain(|(key, _)| !deleted_jobs.contains(split2(key).0));
                update_tasks(tx, &rows(entity::TASK, images)?).await?;
            }
            entity::ACCOUNT => upsert_accounts(tx, &rows(entity::ACCOUNT, images)?).await?,
            entity::BALANCE => upsert_balances(tx, &rows(entity::BALANCE, images)?).await?,
            entity::TOKEN => upsert_tokens(tx, &rows(entity::TOKEN, images)?).await?,
            entity::DRAW => upsert_draws(tx, &rows(entity::DRAW, images)?).await?,
            entity::MEMBER => upsert_members(tx, &rows(entity::MEMBER, images)?).await?,
            entity::APPEAL => upsert_appeals(tx, &rows(entity::APPEAL, images)?).await?,
            entity::CHALLENGE => upsert_challenges(tx, &rows(entity::CHALLENGE, images)?).await?,
            entity::VERIFIER => upsert_verifiers(tx, &rows(entity::VERIFIER, images)?).await?,
            _ => {
                for r in rows::<NetworkRow>(entity::NETWORK, images)? {
                    upsert_network(tx, &r).await?;
                }
            }
        }
    }
    Ok(())
}

fn split2(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or((key, ""))
}

async fn delete_rows(
    tx: &mut Transaction<'_, Postgres>,
    entity: &str,
    keys: &[String],
) -> Result<()> {
    match entity {
        entity::JOB => {
            let ids: Vec<i64> = keys.iter().filter_map(|k| k.parse().ok()).collect();
            sqlx::query!("DELETE FROM tasks WHERE job_id = ANY($1)", &ids)
                .execute(&mut **tx)
                .await?;
            sqlx::query!("DELETE FROM jobs WHERE job_id = ANY($1)", &ids)
                .execute(&mut **tx)
                .await?;
        }
        entity::TASK => {
            let (j, t): (Vec<i64>, Vec<i64>) = keys
                .iter()
                .filter_map(|k| {
                    let (j, t) = split2(k);
                    Some((j.parse::<i64>().ok()?, t.parse::<i64>().ok()?))
                })
                .unzip();
            sqlx::query!(
                r#"DELETE FROM tasks t USING UNNEST($1::bigint[], $2::bigint[]) AS k(job_id, task_index)
                   WHERE t.job_id = k.job_id AND t.task_index = k.task_index"#,
                &j,
                &t
            )
            .execute(&mut **tx)
            .await?;
        }
        entity::ACCOUNT => {
            sqlx::query!("DELETE FROM accounts WHERE address = ANY($1)", keys)
                .execute(&mut **tx)
                .await?;
        }
        entity::BALANCE => {
            let (a, t): (Vec<String>, Vec<String>) = keys
                .iter()
                .map(|k| split2(k))
                .map(|(a, t)| (a.to_owned(), t.to_owned()))
                .unzip();
            sqlx::query!(
                r#"DELETE FROM balances b USING UNNEST($1::text[], $2::text[]) AS k(account, token)
                   WHERE b.account = k.account AND b.token = k.token"#,
                &a,
                &t
            )
            .execute(&mut **tx)
            .await?;
        }
        entity::TOKEN => {
            sqlx::query!("DELETE FROM token_totals WHERE token = ANY($1)", keys)
                .execute(&mut **tx)
                .await?;
        }
        entity::DRAW | entity::APPEAL | entity::CHALLENGE => {
            let k = RecordKeys::parse(keys);
            match entity {
                entity::DRAW => sqlx::query!(
                    r#"DELETE FROM draws d
                       USING UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS k(j, t, a, n)
                       WHERE d.job_id = k.j AND d.task_index = k.t AND d.attempt = k.a AND d.draw = k.n"#,
                    &k.job,
                    &k.task,
                    &k.attempt,
                    &k.n
                ),
                entity::APPEAL => sqlx::query!(
                    r#"DELETE FROM appeals d
                       USING UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS k(j, t, a, n)
                       WHERE d.job_id = k.j AND d.task_index = k.t AND d.attempt = k.a AND d.level = k.n"#,
                    &k.job,
                    &k.task,
                    &k.attempt,
                    &k.n
                ),
                _ => sqlx::query!(
                    r#"DELETE FROM data_challenges d
                       USING UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS k(j, t, a, n)
                       WHERE d.job_id = k.j AND d.task_index = k.t AND d.attempt = k.a AND d.draw = k.n"#,
                    &k.job,
                    &k.task,
                    &k.attempt,
                    &k.n
                ),
            }
            .execute(&mut **tx)
            .await?;
        }
        entity::MEMBER => {
            let k = RecordKeys::parse(keys);
            sqlx::query!(
                r#"DELETE FROM draw_members m
                   USING UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[])
                     AS k(j, t, a, n, v)
                   WHERE m.job_id = k.j AND m.task_index = k.t AND m.attempt = k.a AND m.draw = k.n
                     AND m.verifier = k.v"#,
                &k.job,
                &k.task,
                &k.attempt,
                &k.n,
                &k.verifier
            )
            .execute(&mut **tx)
            .await?;
        }
        entity::VERIFIER => {
            sqlx::query!("DELETE FROM verifiers WHERE address = ANY($1)", keys)
                .execute(&mut **tx)
                .await?;
        }
        _ => {
            sqlx::query!("DELETE FROM network")
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

const REBUILD_CHUNK: usize = 20_000;

/// Rebuilds every projection from the stored logs (after a reorg deeper than the undo journal).
async fn rebuild(tx: &mut Transaction<'_, Postgres>) -> Result<()> {
    sqlx::query!(
        "TRUNCATE jobs, tasks, accounts, balances, token_totals, network, job_workers, draws, draw_members, \
         appeals, data_challenges, verifiers, undo_log"
    )
        .execute(&mut **tx)
        .await?;
    let mut after: (i64, i64) = (-1, -1);
    loop {
        let chunk = sqlx::query!(
            r#"SELECT block_number, block_hash, block_timestamp, tx_hash, tx_index, log_index, topics, data
               FROM logs WHERE (block_number, log_index) > ($1, $2)
               ORDER BY block_number, log_index LIMIT $3"#,
            after.0,
            after.1,
            i64::try_from(REBUILD_CHUNK).unwrap_or(i64::MAX)
        )
        .fetch_all(&mut **tx)
        .await?;
        let full = chunk.len() == REBUILD_CHUNK;
        let mut chunk = chunk;
        // Apply whole blocks only: events of one transaction are read together (a verifier's slash is told
        // apart from a worker's by the vote settlement that follows it).
        if full
            && let Some(last_block) = chunk.last().map(|r| r.block_number)
            && chunk.iter().any(|r| r.block_number != last_block)
        {
            chunk.retain(|r| r.block_number != last_block);
        }
        let Some(last) = chunk.last() else { break };
        after = (last.block_number, last.log_index);
        let logs = chunk
            .into_iter()
            .map(|r| {
                ChainLog::from_stored(
                    crate::events::Location {
                        block_number: r.block_number,
                        block_hash: r.block_hash.parse().unwrap_or_default(),
                        block_timestamp: r.block_timestamp,
                        tx_hash: r.tx_hash.parse().unwrap_or_default(),
                        tx_index: r.tx_index,
                        log_index: r.log_index,
                    },
                    &r.topics,
                    r.data,
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        project(tx, &logs, None, None).await?;
    }
    Ok(())
}

/// Keys of verification records, parsed from the undo journal's text keys (`job/task/attempt/n[/verifier]`).
#[derive(Debug, Default)]
struct RecordKeys {
    job: Vec<i64>,
    task: Vec<i64>,
    attempt: Vec<i64>,
    n: Vec<i64>,
    verifier: Vec<String>,
}

impl RecordKeys {
    fn parse(keys: &[String]) -> Self {
        let mut out = Self::default();
        for k in keys {
            let mut parts = k.split('/');
            let mut num = || parts.next().and_then(|p| p.parse::<i64>().ok());
            let (Some(j), Some(t), Some(a), Some(n)) = (num(), num(), num(), num()) else {
                continue;
            };
            out.job.push(j);
            out.task.push(t);
            out.attempt.push(a);
            out.n.push(n);
            out.verifier
                .push(k.rsplit('/').next().unwrap_or_default().to_owned());
        }
        out
    }
}

/// The verification records (draws, members, appeals, data challenges) of some submissions.
pub(crate) async fn load_verification(
    tx: &mut sqlx::PgConnection,
    subs: &BTreeSet<SubmissionKey>,
) -> Result<VerificationRows> {
    if subs.is_empty() {
        return Ok(VerificationRows::default());
    }
    let (mut j, mut t, mut a) = (Vec::new(), Vec::new(), Vec::new());
    for (job, task, attempt) in subs {
        j.push(*job);
        t.push(*task);
        a.push(*attempt);
    }
    let draws = sqlx::query!(
        r#"SELECT d.key AS "key!", d.row AS "row!" FROM draw_rows d
           JOIN UNNEST($1::bigint[], $2::bigint[], $3::bigint[]) AS k(j, t, a)
             ON d.job_id = k.j AND d.task_index = k.t AND d.attempt = k.a"#,
        &j,
        &t,
        &a
    )
    .fetch_all(&mut *tx)
    .await?;
    let members = sqlx::query!(
        r#"SELECT m.key AS "key!", m.row AS "row!" FROM member_rows m
           JOIN UNNEST($1::bigint[], $2::bigint[], $3::bigint[]) AS k(j, t, a)
             ON m.job_id = k.j AND m.task_index = k.t AND m.attempt = k.a"#,
        &j,
        &t,
        &a
    )
    .fetch_all(&mut *tx)
    .await?;
    let appeals = sqlx::query!(
        r#"SELECT x.key AS "key!", x.row AS "row!" FROM appeal_rows x
           JOIN UNNEST($1::bigint[], $2::bigint[], $3::bigint[]) AS k(j, t, a)
             ON x.job_id = k.j AND x.task_index = k.t AND x.attempt = k.a"#,
        &j,
        &t,
        &a
    )
    .fetch_all(&mut *tx)
    .await?;
    let challenges = sqlx::query!(
        r#"SELECT x.key AS "key!", x.row AS "row!" FROM challenge_rows x
           JOIN UNNEST($1::bigint[], $2::bigint[], $3::bigint[]) AS k(j, t, a)
             ON x.job_id = k.j AND x.task_index = k.t AND x.attempt = k.a"#,
        &j,
        &t,
        &a
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(VerificationRows {
        draws: rows(
            entity::DRAW,
            draws.into_iter().map(|r| (r.key, r.row)).collect(),
        )?,
        members: rows(
            entity::MEMBER,
            members.into_iter().map(|r| (r.key, r.row)).collect(),
        )?,
        appeals: rows(
            entity::APPEAL,
            appeals.into_iter().map(|r| (r.key, r.row)).collect(),
        )?,
        challenges: rows(
            entity::CHALLENGE,
            challenges.into_iter().map(|r| (r.key, r.row)).collect(),
        )?,
    })
}

/// Registered verifiers by address, from the `verifier_rows` view.
pub(crate) async fn load_verifiers(
    db: impl PgExecutor<'_>,
    keys: &[String],
) -> Result<Vec<VerifierRow>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let r = sqlx::query!(
        r#"SELECT key AS "key!", row AS "row!" FROM verifier_rows WHERE address = ANY($1)"#,
        keys
    )
    .fetch_all(db)
    .await?;
    rows(
        entity::VERIFIER,
        r.into_iter().map(|r| (r.key, r.row)).collect(),
    )
}

async fn upsert_draws(tx: &mut Transaction<'_, Postgres>, rows: &[DrawRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let v = serde_json::to_value(rows).expect("rows serialize");
    sqlx::query!(
        r#"INSERT INTO draws SELECT * FROM jsonb_populate_recordset(NULL::draws, $1)
           ON CONFLICT (job_id, task_index, attempt, draw) DO UPDATE SET
             level = EXCLUDED.level, seed = EXCLUDED.seed, seats = EXCLUDED.seats, members = EXCLUDED.members,
             commit_ends_at = EXCLUDED.commit_ends_at, reveal_ends_at = EXCLUDED.reveal_ends_at,
             verdict = EXCLUDED.verdict, approve_seats = EXCLUDED.approve_seats,
             reject_seats = EXCLUDED.reject_seats, appeal_ends_at = EXCLUDED.appeal_ends_at,
             tallied_block = EXCLUDED.tallied_block, block_number = EXCLUDED.block_number,
             block_timestamp = EXCLUDED.block_timestamp, tx_hash = EXCLUDED.tx_hash,
             updated_block = EXCLUDED.updated_block"#,
        v
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_members(tx: &mut Transaction<'_, Postgres>, rows: &[MemberRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let v = serde_json::to_value(rows).expect("rows serialize");
    sqlx::query!(
        r#"INSERT INTO draw_members SELECT * FROM jsonb_populate_recordset(NULL::draw_members, $1)
           ON CONFLICT (job_id, task_index, attempt, draw, verifier) DO UPDATE SET
             member_index = EXCLUDED.member_index, seats = EXCLUDED.seats,
             committed_block = EXCLUDED.committed_block, approve = EXCLUDED.approve,
             render_proof = EXCLUDED.render_proof, revealed_block = EXCLUDED.revealed_block,
             coherent = EXCLUDED.coherent, slashed = EXCLUDED.slashed, settled_block = EXCLUDED.settled_block,
             updated_block = EXCLUDED.updated_block"#,
        v
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_appeals(tx: &mut Transaction<'_, Postgres>, rows: &[AppealRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let v = serde_json::to_value(rows).expect("rows serialize");
    sqlx::query!(
        r#"INSERT INTO appeals SELECT * FROM jsonb_populate_recordset(NULL::appeals, $1)
           ON CONFLICT (job_id, task_index, attempt, level) DO UPDATE SET
             appellant = EXCLUDED.appellant, request_approve = EXCLUDED.request_approve, bond = EXCLUDED.bond,
             upheld = EXCLUDED.upheld, settled_block = EXCLUDED.settled_block,
             block_number = EXCLUDED.block_number, block_timestamp = EXCLUDED.block_timestamp,
             tx_hash = EXCLUDED.tx_hash, updated_block = EXCLUDED.updated_block"#,
        v
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_challenges(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[ChallengeRow],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let v = serde_json::to_value(rows).expect("rows serialize");
    sqlx::query!(
        r#"INSERT INTO data_challenges SELECT * FROM jsonb_populate_recordset(NULL::data_challenges, $1)
           ON CONFLICT (job_id, task_index, attempt, draw) DO UPDATE SET
             challenger = EXCLUDED.challenger, cells = EXCLUDED.cells, respond_by = EXCLUDED.respond_by,
             provided_by = EXCLUDED.provided_by, data_hashes = EXCLUDED.data_hashes,
             provided_block = EXCLUDED.provided_block, block_number = EXCLUDED.block_number,
             block_timestamp = EXCLUDED.block_timestamp, tx_hash = EXCLUDED.tx_hash,
             updated_block = EXCLUDED.updated_block"#,
        v
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_verifiers(tx: &mut Transaction<'_, Postgres>, rows: &[VerifierRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let v = serde_json::to_value(rows).expect("rows serialize");
    sqlx::query!(
        r#"INSERT INTO verifiers SELECT * FROM jsonb_populate_recordset(NULL::verifiers, $1)
           ON CONFLICT (address) DO UPDATE SET
             registry_id = EXCLUDED.registry_id, tickets = EXCLUDED.tickets, stake = EXCLUDED.stake,
             registered_block = EXCLUDED.registered_block, left_block = EXCLUDED.left_block,
             releasable_at = EXCLUDED.releasable_at, released_block = EXCLUDED.released_block,
             updated_block = EXCLUDED.updated_block"#,
        v
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
