//! The sync loop: backfill in adaptive `eth_getLogs` ranges up to `reorg_depth` blocks behind the head, then
//! follow the head block by block, checking each block's parent hash against the recorded one. A mismatch is
//! a reorg: find the newest recorded block the chain still has, roll back to it (undo journal, or a rebuild
//! from stored logs when deeper), and go on. A node whose head is behind the cursor is lagging, not reorged:
//! the loop waits for it. Every failure is retried with capped exponential backoff.
//!
//! What a provider says is checked where it can be: a followed block whose header's `logsBloom` admits the
//! contract's logs but whose `eth_getLogs` answer is empty is asked again, then read through its receipts
//! (some nodes answer `[]` for a block they do not hold), and so is every block of a backfilled range that the
//! range's answer has no log in (`check_range`: a lagging node answers a range with the logs it has); a
//! single block whose logs `eth_getLogs` will not
//! return (more than the provider's cap) is read through its receipts instead of being asked for again and
//! again; while caught up, the block at the cursor is checked to still be canonical on every poll (a reorg
//! that keeps the height never shows a higher head); and the chain's real head is recorded whenever the index
//! falls behind it, so readiness and `meta` show an indexer that stalls.

use crate::chain::{Chain, ChainError, Heads};
use crate::events::{ChainLog, DecodeError};
use crate::metrics::Metrics;
use crate::store::{self, Batch, BlockRef, Rollback, StoreError, SyncState};
use alloy::primitives::B256;
use futures::StreamExt;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// Sync errors (all retried by [`Syncer::run`]).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The RPC failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A log could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The task fetching the next range ended abnormally.
    #[error("fetching the next range: {0}")]
    Prefetch(String),
    /// The node announced a block but does not serve part of it.
    #[error("the node does not serve {0}")]
    Missing(&'static str),
}

/// Reads of a block whose logsBloom admits logs no read returns, before its empty answer is committed.
const RECHECKS: u32 = 3;

/// Tuning of the sync loop.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Blocks behind the head at which records count as confirmed.
    pub confirmations: i64,
    /// Blocks behind the head that are followed one by one with undo images (reorgs up to this depth are
    /// rolled back through the journal; deeper ones rebuild from stored logs).
    pub reorg_depth: i64,
    /// How often to poll for a new head when the RPC offers no subscription.
    pub poll_interval: Duration,
    /// First `eth_getLogs` range, in blocks (small: a dense history is found out before it fills a huge range
    /// that nothing else overlaps; a sparse one doubles it away in a few calls).
    pub initial_range: i64,
    /// Largest `eth_getLogs` range.
    pub max_range: i64,
    /// Most logs per committed batch.
    pub max_batch_logs: usize,
    /// Longest wait between retries.
    pub max_backoff: Duration,
    /// Check every backfilled range for completeness: each block the `eth_getLogs` answer has no log of the
    /// contract in is fetched (its header, `CHECK_CONCURRENCY` at a time), and one whose logsBloom admits the
    /// contract's logs is read again by hash, then through its receipts. Costs one header per such block; off
    /// only for a node one runs oneself.
    pub check_ranges: bool,
}

/// Headers fetched at once when checking a range.
const CHECK_CONCURRENCY: usize = 32;

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            confirmations: 12,
            reorg_depth: 64,
            poll_interval: Duration::from_millis(100),
            initial_range: 1,
            max_range: 100_000,
            max_batch_logs: 10_000,
            max_backoff: Duration::from_secs(30),
            check_ranges: true,
        }
    }
}

/// What a step achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Moved the cursor (or rolled back); step again at once.
    Advanced,
    /// Nothing new: wait for a head.
    Idle,
}

/// The sync loop of one indexer.
#[derive(Debug)]
pub struct Syncer {
    chain: Chain,
    pool: PgPool,
    cfg: SyncConfig,
    metrics: Metrics,
    chain_id: i64,
    range: i64,
    /// The next ranges, being fetched while the current one commits: (first block, last block, task).
    prefetch: std::collections::VecDeque<(i64, i64, Prefetch)>,
    /// Task rows as the last commits left them.
    tasks: store::TaskCache,
    /// A block at the cursor seen replaced once (number, new hash): rolled back when seen again.
    suspect: Option<(i64, B256)>,
    /// A block whose logs are being rechecked, and the tries so far.
    rechecks: Option<(i64, u32)>,
    /// The first block of a backfilled range that could not be checked, and the tries so far.
    range_rechecks: Option<(i64, u32)>,
}

impl Syncer {
    /// A sync loop for the contract whose state `init_state` created.
    pub fn new(
        chain: Chain,
        pool: PgPool,
        cfg: SyncConfig,
        metrics: Metrics,
        chain_id: i64,
    ) -> Self {
        let range = cfg.initial_range.max(1);
        Self {
            chain,
            pool,
            cfg,
            metrics,
            chain_id,
            range,
            prefetch: std::collections::VecDeque::new(),
            tasks: store::TaskCache::default(),
            suspect: None,
            rechecks: None,
            range_rechecks: None,
        }
    }

    /// Runs until `shutdown` turns true. Never returns an error: failures are logged, counted and retried.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut heads: Option<Heads> = self.chain.subscribe_heads().await;
        if heads.is_some() {
            info!(target: "indexer::sync", "following new heads by subscription");
        }
        let mut failures: u32 = 0;
        while !*shutdown.borrow() {
            let wait = match self.step().await {
                Ok(Progress::Advanced) => {
                    failures = 0;
                    continue;
                }
                Ok(Progress::Idle) => {
                    failures = 0;
                    self.cfg.poll_interval
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    self.metrics.sync_errors.inc();
                    let backoff = backoff(failures, self.cfg.max_backoff);
                    warn!(target: "indexer::sync", error = %e, retry_in = ?backoff, "sync step failed");
                    backoff
                }
            };
            let next_head = async {
                match heads.as_mut() {
                    Some(h) if failures == 0 => {
                        if h.next().await.is_none() {
                            // The subscription ended (connection lost): poll from now on.
                            futures::future::pending::<()>().await;
                        }
                    }
                    _ => futures::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = next_head => {}
            }
        }
        info!(target: "indexer::sync", "sync loop stopped");
    }

    async fn step(&mut self) -> Result<Progress, SyncError> {
        let st = store::state(&self.pool).await?;
        let head = self.chain.head().await?;
        self.metrics.head_block.set(head);
        self.metrics.indexed_block.set(st.indexed_block);
        // The real head, recorded when the index is more than the next block behind it (a commit records it
        // otherwise): a step that keeps failing must not leave readiness comparing with an old head.
        let behind = head > st.indexed_block + 1 || head <= st.indexed_block;
        if behind
            && head > st.head_block
            && let Some(h) = self.chain.header(head).await?
        {
            store::set_head(&self.pool, head, h.timestamp).await?;
        }
        if head <= st.indexed_block {
            // Up to date, or the node is behind us (lagging or syncing): not a reorg, wait for it.
            if head < st.indexed_block {
                debug!(target: "indexer::sync", head, indexed = st.indexed_block, "node behind the index; waiting");
            } else if let (Some(recorded), Some(at)) = (
                st.indexed_hash
                    .as_deref()
                    .and_then(|h| h.parse::<B256>().ok()),
                self.chain.header(st.indexed_block).await?,
            ) && at.hash != recorded
            {
                // Caught up, and the block at the cursor was replaced by one of the same height. Seen twice
                // in a row before rolling back: one backend of a load balancer on a minority fork must not
                // make the index flap.
                if self.suspect == Some((st.indexed_block, at.hash)) {
                    warn!(target: "indexer::sync", block = st.indexed_block, "the block at the cursor is no longer canonical");
                    self.suspect = None;
                    if self.reorg(&st).await? {
                        return Ok(Progress::Advanced);
                    }
                } else {
                    self.suspect = Some((st.indexed_block, at.hash));
                }
                return Ok(Progress::Idle);
            }
            self.suspect = None;
            return Ok(Progress::Idle);
        }
        let safe = head - self.cfg.reorg_depth;
        if st.indexed_block < safe {
            self.backfill(&st, head, safe).await
        } else {
            self.follow(&st, head).await
        }
    }

    /// Checks that the block after the cursor builds on the recorded cursor hash; rolls back if not.
    async fn continues(&mut self, st: &SyncState, next: &BlockRef) -> Result<bool, SyncError> {
        match (&st.indexed_hash, next.parent_hash) {
            (Some(h), Some(parent)) if h.parse::<B256>().ok() != Some(parent) => {
                self.reorg(st).await?;
                Ok(false)
            }
            _ => Ok(true),
        }
    }

    /// Range mode: blocks that are at least `reorg_depth` deep. The next range is fetched and decoded while
    /// this one commits.
    async fn backfill(
        &mut self,
        st: &SyncState,
        head: i64,
        safe: i64,
    ) -> Result<Progress, SyncError> {
        let from = st.indexed_block + 1;
        let fetched = match self.prefetch.pop_front() {
            Some((f, _, handle)) if f == from => handle
                .await
                .map_err(|e| SyncError::Prefetch(e.to_string()))?,
            other => {
                // Fetched for a cursor that did not come (failed fetch or commit, reorg).
                for (_, _, handle) in other.into_iter().chain(self.prefetch.drain(..)) {
                    handle.abort();
                }
                let mode = match self.range_rechecks {
                    _ if !self.cfg.check_ranges => Check::Off,
                    Some((f, tries)) if f == from && tries >= RECHECKS => Check::Lenient,
                    _ => Check::Strict,
                };
                fetch_range(
                    self.chain.clone(),
                    from,
                    (from + self.range - 1).min(safe),
                    mode,
                )
                .await
            }
        };
        let r = match fetched {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(Progress::Idle),
            Err(Fetch::Logs { from, to, error }) => {
                // Refused or too slow: halve the range and let the loop retry.
                let shrunk = (self.range / 2).max(1);
                warn!(target: "indexer::sync", from, to, range = self.range, next_range = shrunk, error = %error, "eth_getLogs failed; shrinking the range");
                self.range = shrunk;
                self.metrics.log_range.set(self.range);
                return Err(error.into());
            }
            Err(Fetch::Unverified(e)) => {
                let tries = match self.range_rechecks {
                    Some((f, t)) if f == from => t + 1,
                    _ => 1,
                };
                self.range_rechecks = Some((from, tries));
                return Err(e);
            }
            Err(Fetch::Other(e)) => return Err(e),
        };
        self.range_rechecks = None;
        if !self.continues(st, &r.first).await? {
            return Ok(Progress::Advanced);
        }
        self.metrics.receipt_fallbacks.inc_by(r.via_receipts);
        self.metrics.log_mismatches.inc_by(r.mismatches);
        self.metrics.log_mismatches_unresolved.inc_by(r.unresolved);
        self.range = next_range(
            self.range,
            r.end.number - r.first.number + 1,
            r.logs.len(),
            &self.cfg,
        );
        self.metrics.log_range.set(self.range);
        let mut next = self.prefetch.back().map_or(r.end.number + 1, |p| p.1 + 1);
        while self.prefetch.len() < PREFETCH_RANGES && next <= safe {
            let to = (next + self.range - 1).min(safe);
            let task = tokio::spawn(fetch_range(
                self.chain.clone(),
                next,
                to,
                if self.cfg.check_ranges {
                    Check::Strict
                } else {
                    Check::Off
                },
            ));
            self.prefetch.push_back((next, to, task));
            next = to + 1;
        }
        // Commit in batches of whole blocks, each with its cursor.
        let (decoded, end) = (&r.logs, r.end);
        let mut start = 0;
        while start < decoded.len() {
            let mut stop = (start + self.cfg.max_batch_logs).min(decoded.len());
            while stop < decoded.len()
                && decoded[stop].at.block_number == decoded[stop - 1].at.block_number
            {
                stop += 1;
            }
            let chunk = &decoded[start..stop];
            let to_block = if stop == decoded.len() {
                end
            } else {
                log_block(&chunk[chunk.len() - 1])
            };
            self.commit(chunk, to_block, (head, end.timestamp), false)
                .await?;
            start = stop;
        }
        if decoded.is_empty() {
            self.commit(&[], end, (head, end.timestamp), false).await?;
        }
        Ok(Progress::Advanced)
    }

    /// Block mode: the last `reorg_depth` blocks, one at a time, with undo images.
    async fn follow(&mut self, st: &SyncState, head: i64) -> Result<Progress, SyncError> {
        let n = st.indexed_block + 1;
        let Some((block, may_have_logs)) = self.chain.header_and_bloom(n).await? else {
            return Ok(Progress::Idle);
        };
        if !self.continues(st, &block).await? {
            return Ok(Progress::Advanced);
        }
        let mut logs = match self.chain.logs_at(block.hash).await {
            Ok(logs) => logs,
            // Refused (more logs than the provider returns at once, say): the receipts hold them.
            Err(error) => {
                warn!(target: "indexer::sync", block = n, error = %error, "eth_getLogs failed for one block; reading its receipts");
                self.metrics.receipt_fallbacks.inc();
                self.chain
                    .logs_from_receipts(block.hash)
                    .await?
                    .ok_or(SyncError::Missing(
                        "the receipts of a block the node announced",
                    ))?
            }
        };
        if logs.is_empty() && may_have_logs {
            logs = self.recheck(n, block.hash).await?;
        } else {
            self.rechecks = None;
        }
        let decoded = self.decode_with(&logs, Some(block.timestamp))?;
        self.commit(&decoded, block, (head, block.timestamp), true)
            .await?;
        if n % 32 == 0 {
            store::prune_undo(&self.pool, head - self.cfg.reorg_depth - 1).await?;
        }
        Ok(Progress::Advanced)
    }

    /// A followed block whose `eth_getLogs` answer is empty though its logsBloom admits the contract's logs:
    /// nodes that do not hold a block answer so. Read it again by number, then through its receipts. A bloom
    /// is often saturated on busy blocks (a false positive costs these reads); when the receipts cannot be had
    /// either, the step fails and is retried, and after `RECHECKS` tries the empty answer is committed and
    /// counted (`log_mismatches_unresolved`), so that one provider's missing method never stalls the index.
    async fn recheck(
        &mut self,
        n: i64,
        hash: B256,
    ) -> Result<Vec<alloy::rpc::types::Log>, SyncError> {
        self.metrics.log_mismatches.inc();
        let by_number: Vec<_> = self
            .chain
            .logs_range(n, n)
            .await?
            .into_iter()
            .filter(|l| l.block_hash == Some(hash))
            .collect();
        if !by_number.is_empty() {
            warn!(target: "indexer::sync", block = n, "no logs by block hash, some by number: the first answer was incomplete");
            self.rechecks = None;
            return Ok(by_number);
        }
        let tries = match self.rechecks {
            Some((block, t)) if block == n => t + 1,
            _ => 1,
        };
        self.rechecks = Some((n, tries));
        match self.chain.logs_from_receipts(hash).await {
            Ok(Some(logs)) => {
                self.metrics.receipt_fallbacks.inc();
                self.rechecks = None;
                Ok(logs)
            }
            _ if tries >= RECHECKS => {
                warn!(target: "indexer::sync", block = n, tries, "the logsBloom admits logs that no read returns; committing none");
                self.metrics.log_mismatches_unresolved.inc();
                self.rechecks = None;
                Ok(Vec::new())
            }
            Ok(None) => Err(SyncError::Missing(
                "the receipts of a block the node announced",
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn commit(
        &mut self,
        logs: &[ChainLog],
        to_block: BlockRef,
        head: (i64, i64),
        journal: bool,
    ) -> Result<(), SyncError> {
        let mut blocks: BTreeMap<i64, BlockRef> = BTreeMap::new();
        for l in logs {
            blocks
                .entry(l.at.block_number)
                .or_insert_with(|| log_block(l));
        }
        let blocks: Vec<BlockRef> = blocks.into_values().collect();
        let started = std::time::Instant::now();
        let written = store::commit_batch(
            &self.pool,
            Batch {
                chain_id: self.chain_id,
                logs,
                blocks: &blocks,
                to_block,
                head,
                journal,
            },
            &mut self.tasks,
        )
        .await
        .inspect_err(|_| self.tasks.clear())?;
        self.metrics
            .commit_seconds
            .inc_by(started.elapsed().as_secs_f64());
        self.metrics
            .events
            .inc_by(u64::try_from(written).unwrap_or_default());
        self.metrics.batches.inc();
        self.metrics.indexed_block.set(to_block.number);
        debug!(target: "indexer::sync", to = to_block.number, events = written, "batch committed");
        Ok(())
    }

    fn decode_with(
        &self,
        logs: &[alloy::rpc::types::Log],
        ts: Option<i64>,
    ) -> Result<Vec<ChainLog>, SyncError> {
        let ts = ts.and_then(|t| u64::try_from(t).ok());
        Ok(logs
            .iter()
            .map(|l| ChainLog::decode(l, ts))
            .collect::<Result<_, _>>()?)
    }

    /// Finds the newest recorded block that is still canonical and rolls back to it.
    /// Returns whether it rolled back (not when the node lacks the blocks to tell: it is lagging).
    async fn reorg(&mut self, st: &SyncState) -> Result<bool, SyncError> {
        let mut below = st.indexed_block;
        loop {
            let recorded = store::recorded_blocks(&self.pool, below, 64).await?;
            if recorded.is_empty() {
                break;
            }
            for (number, hash) in &recorded {
                let Some(canonical) = self.chain.header(*number).await? else {
                    // The node does not have this block: it is lagging, not reorged. Try again later.
                    return Ok(false);
                };
                if Some(canonical.hash) == hash.parse().ok() {
                    self.roll_back(st, canonical).await?;
                    return Ok(true);
                }
            }
            below = recorded.last().map_or(0, |r| r.0) - 1;
        }
        // Nothing recorded survived: start over from the deployment block.
        let before = st.deployment_block - 1;
        let Some(base) = self.chain.header(before).await? else {
            return Ok(false);
        };
        self.roll_back(st, base).await?;
        Ok(true)
    }

    async fn roll_back(&mut self, st: &SyncState, ancestor: BlockRef) -> Result<(), SyncError> {
        // The rollback rewrites task rows behind the cache's back.
        self.tasks.clear();
        let how = store::rollback(&self.pool, ancestor).await?;
        self.metrics.reorgs.inc();
        warn!(target: "indexer::sync", from = st.indexed_block, to = ancestor.number, how = ?how, "reorg rolled back");
        if matches!(how, Rollback::Rebuild { .. }) {
            info!(target: "indexer::sync", "projections rebuilt from stored logs");
        }
        Ok(())
    }
}

/// Ranges fetched ahead of the one committing: ranges are cut at block boundaries, so one may hold several
/// times the logs of the one before and take longer to fetch than that one takes to commit; with two in
/// flight the fetches run back to back while the commits go on.
const PREFETCH_RANGES: usize = 2;

/// The task fetching the next range.
type Prefetch = tokio::task::JoinHandle<Result<Option<Range>, Fetch>>;

/// A fetched and decoded range of blocks.
#[derive(Debug)]
struct Range {
    first: BlockRef,
    end: BlockRef,
    logs: Vec<ChainLog>,
    /// Blocks read through their receipts (`eth_getLogs` refused the block, or its answer was checked).
    via_receipts: u64,
    /// Blocks whose logs the range's answer lacked and a second read returned.
    mismatches: u64,
    /// Blocks whose logsBloom admits logs that neither read returned, and whose receipts the node does not
    /// serve: committed empty.
    unresolved: u64,
}

/// Why fetching a range failed.
#[derive(Debug)]
enum Fetch {
    /// `eth_getLogs` failed: the range may be too large.
    Logs {
        from: i64,
        to: i64,
        error: ChainError,
    },
    /// A block of the range could not be checked (its receipts cannot be had): retried, and after `RECHECKS`
    /// tries of the same range checked leniently.
    Unverified(SyncError),
    /// Anything else.
    Other(SyncError),
}

/// How a backfilled range is checked for completeness (`check_range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Not at all (`check_ranges` off).
    Off,
    /// A block that cannot be checked fails the range.
    Strict,
    /// After `RECHECKS` failed tries of one range: a block that cannot be checked is committed empty and
    /// counted (`log_mismatches_unresolved`), so that one provider's missing method never stalls the index.
    Lenient,
}

impl<E: Into<SyncError>> From<E> for Fetch {
    fn from(e: E) -> Self {
        Self::Other(e.into())
    }
}

/// Fetches headers and logs of `from..=to`, checks the answer's completeness (`check`) and decodes the logs.
/// None if the node lacks the blocks.
async fn fetch_range(
    chain: Chain,
    from: i64,
    to: i64,
    check: Check,
) -> Result<Option<Range>, Fetch> {
    let Some(first) = chain.header(from).await? else {
        return Ok(None);
    };
    let mut via_receipts = 0;
    let mut logs = match chain.logs_range(from, to).await {
        Ok(logs) => logs,
        // One block that eth_getLogs will not serve (more logs than the provider returns at once): its
        // receipts hold them, and the same request is not made again.
        Err(error) if from == to => match chain.logs_from_receipts(first.hash).await? {
            Some(logs) => {
                warn!(target: "indexer::sync", block = from, error = %error, "eth_getLogs refused one block; read through its receipts");
                via_receipts = 1;
                logs
            }
            None => return Err(Fetch::Logs { from, to, error }),
        },
        Err(error) => return Err(Fetch::Logs { from, to, error }),
    };
    let Some(end) = chain.header(to).await? else {
        return Ok(None);
    };
    let (mut mismatches, mut unresolved) = (0, 0);
    if check != Check::Off {
        let Some(checked) = check_range(&chain, from, to, &logs, check).await? else {
            return Ok(None);
        };
        via_receipts += checked.via_receipts;
        mismatches = checked.mismatches;
        unresolved = checked.unresolved;
        if !checked.logs.is_empty() {
            logs.extend(checked.logs);
            logs.sort_by_key(|l| (l.block_number, l.log_index));
        }
    }
    // RPCs that omit blockTimestamp in logs: fetch the headers of the blocks that have logs.
    let missing: std::collections::BTreeSet<u64> = logs
        .iter()
        .filter(|l| l.block_timestamp.is_none())
        .filter_map(|l| l.block_number)
        .collect();
    let mut times: BTreeMap<u64, u64> = BTreeMap::new();
    for n in missing {
        if let Some(h) = chain.header(i64::try_from(n).unwrap_or(i64::MAX)).await? {
            times.insert(n, u64::try_from(h.timestamp).unwrap_or_default());
        }
    }
    let logs = logs
        .iter()
        .map(|l| ChainLog::decode(l, l.block_number.and_then(|n| times.get(&n).copied())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Range {
        first,
        end,
        logs,
        via_receipts,
        mismatches,
        unresolved,
    }))
}

/// What checking a range found: the logs its answer lacked, and the counts for the metrics.
#[derive(Default)]
struct Checked {
    logs: Vec<alloy::rpc::types::Log>,
    via_receipts: u64,
    mismatches: u64,
    unresolved: u64,
}

/// The evidence that a range's `eth_getLogs` answer is complete (a lagging node behind a load balancer
/// answers with the logs it has): every block of `from..=to` without logs in `logs` is fetched, and one whose
/// logsBloom admits the contract's logs is read again by hash, then through its receipts (`CHECK_CONCURRENCY`
/// calls at a time). None if the node lacks one of the blocks. A block whose receipts cannot be had fails the
/// range (`Fetch::Unverified`, retried), except under `Check::Lenient`, where it is committed empty and counted.
async fn check_range(
    chain: &Chain,
    from: i64,
    to: i64,
    logs: &[alloy::rpc::types::Log],
    mode: Check,
) -> Result<Option<Checked>, Fetch> {
    let with_logs: std::collections::BTreeSet<i64> = logs
        .iter()
        .filter_map(|l| l.block_number)
        .filter_map(|n| i64::try_from(n).ok())
        .collect();
    let mut headers = futures::stream::iter((from..=to).filter(|n| !with_logs.contains(n)))
        .map(|n| chain.header_and_bloom(n))
        .buffer_unordered(CHECK_CONCURRENCY);
    let mut suspects = Vec::new();
    while let Some(header) = headers.next().await {
        match header? {
            None => return Ok(None),
            Some((block, true)) => suspects.push(block),
            Some((_, false)) => {}
        }
    }
    drop(headers);
    let mut reads = futures::stream::iter(suspects)
        .map(|block| recheck_block(chain, block, mode))
        .buffer_unordered(CHECK_CONCURRENCY);
    let mut out = Checked::default();
    while let Some(read) = reads.next().await {
        let Some((found, via_receipts, unresolved)) = read? else {
            return Ok(None);
        };
        out.via_receipts += u64::from(via_receipts);
        out.unresolved += u64::from(unresolved);
        if !found.is_empty() {
            out.mismatches += 1;
            out.logs.extend(found);
        }
    }
    Ok(Some(out))
}

/// One block of a range whose bloom admits the contract's logs and that the range's answer had none of:
/// (its logs, read through receipts, committed empty unverified). None if the node lacks the block.
async fn recheck_block(
    chain: &Chain,
    block: BlockRef,
    mode: Check,
) -> Result<Option<(Vec<alloy::rpc::types::Log>, bool, bool)>, Fetch> {
    let again = chain.logs_at(block.hash).await?;
    if !again.is_empty() {
        warn!(target: "indexer::sync", block = block.number, logs = again.len(), "the range's eth_getLogs answer lacked this block's logs");
        return Ok(Some((again, false, false)));
    }
    // An empty answer by hash is no evidence (nodes that do not hold a block answer so): the receipts are.
    // Most such blocks are the bloom's false positives (busy blocks saturate it).
    let receipts = match chain.logs_from_receipts(block.hash).await {
        Ok(Some(logs)) => Ok(logs),
        Ok(None) => Err(SyncError::Missing(
            "the receipts of a block whose logsBloom admits the contract's logs",
        )),
        Err(e) => Err(e.into()),
    };
    match receipts {
        Ok(logs) => {
            if !logs.is_empty() {
                warn!(target: "indexer::sync", block = block.number, logs = logs.len(), "the range's eth_getLogs answer lacked this block's logs (found in its receipts)");
            }
            Ok(Some((logs, true, false)))
        }
        Err(e) if mode == Check::Lenient => {
            warn!(target: "indexer::sync", block = block.number, error = %e, "the logsBloom admits logs that no read returns and the receipts cannot be had; committing none");
            Ok(Some((Vec::new(), false, true)))
        }
        Err(e) => Err(Fetch::Unverified(e)),
    }
}

/// The next `eth_getLogs` range after `blocks` blocks held `logs` logs: sized so that it holds about one batch
/// (`max_batch_logs`), which keeps each fetch short enough to overlap the previous range's commit. It at most
/// doubles (the density of the next blocks is a guess), and never exceeds `max_range`.
fn next_range(range: i64, blocks: i64, logs: usize, cfg: &SyncConfig) -> i64 {
    let target = i64::try_from(cfg.max_batch_logs.max(1)).unwrap_or(i64::MAX);
    let logs = i64::try_from(logs).unwrap_or(i64::MAX);
    let sized = if logs == 0 {
        range.saturating_mul(2)
    } else {
        (blocks.max(1).saturating_mul(target) / logs).min(range.saturating_mul(2))
    };
    sized.clamp(1, cfg.max_range.max(1))
}

fn log_block(l: &ChainLog) -> BlockRef {
    BlockRef {
        number: l.at.block_number,
        hash: l.at.block_hash,
        parent_hash: None,
        timestamp: l.at.block_timestamp,
    }
}

/// Capped exponential backoff: 200 ms, 400 ms, … up to `max`.
pub fn backoff(failures: u32, max: Duration) -> Duration {
    let ms = 200u64.saturating_mul(1u64 << failures.saturating_sub(1).min(16));
    Duration::from_millis(ms).min(max)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ranges_aim_at_one_batch() {
        let cfg = SyncConfig {
            max_batch_logs: 1_000,
            max_range: 10_000,
            ..SyncConfig::default()
        };
        // Empty or sparse ranges double, up to the largest range.
        assert_eq!(next_range(100, 100, 0, &cfg), 200);
        assert_eq!(next_range(100, 100, 10, &cfg), 200);
        assert_eq!(next_range(8_000, 8_000, 0, &cfg), 10_000);
        // Dense ones shrink to about one batch: 100 blocks held 4,000 logs, so 25 blocks hold ~1,000.
        assert_eq!(next_range(100, 100, 4_000, &cfg), 25);
        // The last range of a backfill may be shorter than asked: density is judged on what was fetched.
        assert_eq!(next_range(100, 10, 500, &cfg), 20);
        // Never below one block.
        assert_eq!(next_range(1, 1, 50_000, &cfg), 1);
    }

    #[test]
    fn backoff_grows_and_caps() {
        let max = Duration::from_secs(30);
        assert_eq!(backoff(1, max), Duration::from_millis(200));
        assert_eq!(backoff(2, max), Duration::from_millis(400));
        assert_eq!(backoff(40, max), max);
    }
}
