//! The API's JSON shapes (camelCase). Amounts are decimal strings, addresses and hashes lowercase 0x-hex.

use crate::model::{
    AccountRow, BalanceRow, JobRow, JobStatus, NetworkRow, TaskRow, TaskStatus, TokenTotalsRow,
    addr, hash,
};
use crate::store::SyncState;
use crate::store::read::{Attestation as AttestationRecord, FeedItem};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// How final an answer is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// EIP-155 chain id.
    pub chain_id: i64,
    /// The indexed contract.
    pub contract: String,
    /// Every event up to this block is reflected.
    pub indexed_block: i64,
    /// Hash of `indexedBlock`, when recorded.
    pub indexed_hash: Option<String>,
    /// The chain head the indexer last saw.
    pub head_block: i64,
    /// Records last changed at or below this block are confirmed (`headBlock - confirmations`).
    pub confirmed_block: i64,
    /// Confirmations required.
    pub confirmations: i64,
    /// Reorgs rolled back so far.
    pub reorgs: i64,
}

impl From<&SyncState> for Meta {
    fn from(s: &SyncState) -> Self {
        Self {
            chain_id: s.chain_id,
            contract: s.contract.clone(),
            indexed_block: s.indexed_block,
            indexed_hash: s.indexed_hash.clone(),
            head_block: s.head_block,
            confirmed_block: s.confirmed_block(),
            confirmations: s.confirmations,
            reorgs: s.reorgs,
        }
    }
}

/// An error answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The error's code and message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `bad_request`, `not_found`, `unavailable`, `internal`.
    pub code: String,
    /// Human-readable explanation naming the problem.
    pub message: String,
}

/// How a job renders.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Image width in pixels.
    pub width: i64,
    /// Image height in pixels.
    pub height: i64,
    /// Samples per pixel.
    pub samples_per_pixel: i64,
    /// Path length limit.
    pub max_bounces: i64,
    /// First frame.
    pub frame_start: i64,
    /// Frames.
    pub frame_count: i64,
    /// Regions per row.
    pub regions_x: i64,
    /// Regions per column.
    pub regions_y: i64,
    /// Cell edge in pixels.
    pub cell_size: i64,
    /// RNG seed (decimal uint64).
    pub seed: String,
}

/// Tasks of a job by state.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskCounts {
    /// Claimable.
    pub open: i64,
    /// Leased.
    pub claimed: i64,
    /// Awaiting verification.
    pub submitted: i64,
    /// Paid.
    pub paid: i64,
    /// Refunded.
    pub refunded: i64,
}

/// A job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// Job id.
    pub job_id: i64,
    /// Who posted it.
    pub artist: String,
    /// Payment token (zero address: ETH).
    pub token: String,
    /// IPFS CID of the scene.
    pub scene_cid: String,
    /// Renderer name/version.
    pub renderer_id: String,
    /// Render settings.
    pub settings: Settings,
    /// Reward per task (before the protocol fee).
    pub reward_per_task: String,
    /// Verifier fee, basis points of the reward.
    pub verifier_fee_bps: i64,
    /// ETH stake a worker locks per task.
    pub worker_stake_per_task: String,
    /// Unix time after which nothing can be claimed.
    pub deadline: i64,
    /// Seconds a claim lasts.
    pub lease_duration: i64,
    /// Seconds verifiers have after a submission.
    pub challenge_window: i64,
    /// Attestations needed.
    pub quorum: i64,
    /// Whether unchallenged results are paid.
    pub optimistic: bool,
    /// Tasks in the job.
    pub task_count: i64,
    /// Escrow locked at submission.
    pub escrow: String,
    /// Protocol fee snapshotted for the job.
    pub protocol_fee_bps: i64,
    /// `active`, `finished` or `cancelled`.
    pub status: JobStatus,
    /// Set when every open task was refunded at once (`cancelled` or `deadline_passed`).
    pub open_refund: Option<String>,
    /// Tasks by state.
    pub tasks: TaskCounts,
    /// Results rejected by verifiers.
    pub rejections: i64,
    /// Paid to workers so far.
    pub paid_to_workers: String,
    /// Refunded to the artist so far.
    pub refunded: String,
    /// Block of `submitRenderJob`.
    pub created_block: i64,
    /// Its transaction.
    pub created_tx: String,
    /// Its time.
    pub created_at: i64,
    /// Block of the last change.
    pub updated_block: i64,
    /// Whether the last change is confirmed.
    pub confirmed: bool,
}

impl Job {
    /// From a row, with the confirmed head.
    pub fn new(j: JobRow, confirmed_block: i64) -> Self {
        Self {
            job_id: j.job_id,
            artist: addr(&j.artist),
            token: addr(&j.token),
            scene_cid: j.scene_cid,
            renderer_id: j.renderer_id,
            settings: Settings {
                width: j.width,
                height: j.height,
                samples_per_pixel: j.samples_per_pixel,
                max_bounces: j.max_bounces,
                frame_start: j.frame_start,
                frame_count: j.frame_count,
                regions_x: j.regions_x,
                regions_y: j.regions_y,
                cell_size: j.cell_size,
                seed: j.seed.to_string(),
            },
            reward_per_task: j.reward_per_task.to_string(),
            verifier_fee_bps: j.verifier_fee_bps,
            worker_stake_per_task: j.worker_stake_per_task.to_string(),
            deadline: j.deadline,
            lease_duration: j.lease_duration,
            challenge_window: j.challenge_window,
            quorum: j.quorum,
            optimistic: j.optimistic,
            task_count: j.task_count,
            escrow: j.escrow.to_string(),
            protocol_fee_bps: j.protocol_fee_bps,
            status: j.status,
            open_refund: j.open_refund,
            tasks: TaskCounts {
                open: j.tasks_open,
                claimed: j.tasks_claimed,
                submitted: j.tasks_submitted,
                paid: j.tasks_paid,
                refunded: j.tasks_refunded,
            },
            rejections: j.rejections,
            paid_to_workers: j.paid_to_workers.to_string(),
            refunded: j.refunded.to_string(),
            created_block: j.created_block,
            created_tx: hash(&j.created_tx),
            created_at: j.created_at,
            updated_block: j.updated_block,
            confirmed: j.updated_block <= confirmed_block,
        }
    }
}

/// A task.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Job id.
    pub job_id: i64,
    /// Task index in the job.
    pub task_index: i64,
    /// State.
    pub state: TaskStatus,
    /// Current claimant or submitter.
    pub worker: Option<String>,
    /// Lease id of the current claim.
    pub lease_id: Option<i64>,
    /// Unix time the current claim expires.
    pub lease_expires_at: Option<i64>,
    /// Whether the current claim's lease has expired at the indexed head's time (the task can be reopened).
    pub lease_expired: bool,
    /// Stake locked by the current claim.
    pub stake: Option<String>,
    /// Attempt number (increments on every reopen).
    pub attempt: i64,
    /// Output CID of the current submission.
    pub output_cid: Option<String>,
    /// Cell Merkle root of the current submission.
    pub cell_root: Option<String>,
    /// Block of the current submission.
    pub submitted_block: Option<i64>,
    /// Unix time the challenge window of the current submission ends.
    pub challenge_ends_at: Option<i64>,
    /// Approvals counted for the current attempt.
    pub approvals: i64,
    /// Rejections counted for the current attempt.
    pub rejections: i64,
    /// Results of this task rejected so far.
    pub times_rejected: i64,
    /// Claims of this task that expired so far.
    pub times_expired: i64,
    /// Why it was paid.
    pub pay_reason: Option<String>,
    /// What the worker got.
    pub worker_reward: Option<String>,
    /// Why it was refunded.
    pub refund_reason: Option<String>,
    /// Block of the last change.
    pub updated_block: i64,
    /// Whether the last change is confirmed.
    pub confirmed: bool,
}

impl Task {
    /// From a row, with the confirmed head and the head's time.
    pub fn new(t: TaskRow, confirmed_block: i64, now: i64) -> Self {
        Self {
            job_id: t.job_id,
            task_index: t.task_index,
            state: t.state,
            worker: t.worker.as_ref().map(addr),
            lease_id: t.lease_id,
            lease_expires_at: t.lease_expires_at,
            lease_expired: t.state == TaskStatus::Claimed
                && t.lease_expires_at.is_some_and(|e| e <= now),
            stake: t.stake.map(|s| s.to_string()),
            attempt: t.attempt,
            output_cid: t.output_cid,
            cell_root: t.cell_root.as_ref().map(hash),
            submitted_block: t.submitted_block,
            challenge_ends_at: t.challenge_ends_at,
            approvals: t.approvals,
            rejections: t.rejections,
            times_rejected: t.times_rejected,
            times_expired: t.times_expired,
            pay_reason: t.pay_reason,
            worker_reward: t.worker_reward.map(|s| s.to_string()),
            refund_reason: t.refund_reason,
            updated_block: t.updated_block,
            confirmed: t.updated_block <= confirmed_block,
        }
    }
}

/// A counted attestation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attestation {
    /// Who signed it.
    pub verifier: String,
    /// The attempt it judged.
    pub attempt: i64,
    /// Approve or reject.
    pub approve: bool,
    /// Block it was counted in.
    pub block_number: i64,
    /// Transaction.
    pub tx_hash: String,
    /// Whether that block is confirmed.
    pub confirmed: bool,
}

impl Attestation {
    /// From a record.
    pub fn new(a: AttestationRecord, confirmed_block: i64) -> Self {
        Self {
            verifier: a.verifier,
            attempt: a.attempt,
            approve: a.approve,
            block_number: a.block_number,
            tx_hash: a.tx_hash,
            confirmed: a.block_number <= confirmed_block,
        }
    }
}

/// A contract event (or, on the stream, the notice that a reorg removed one).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Position in the feed (the SSE event id).
    pub seq: i64,
    /// `false` for a removal notice.
    pub live: bool,
    /// For removal notices: `seq` of the event removed.
    pub removed_seq: Option<i64>,
    /// Event name, e.g. `TaskClaimed`.
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
    /// Job, if the event concerns one.
    pub job_id: Option<i64>,
    /// Task, if the event concerns one.
    pub task_index: Option<i64>,
    /// Arguments by Solidity name.
    #[schema(value_type = Object)]
    pub args: Value,
    /// Whether the block is confirmed.
    pub confirmed: bool,
}

impl Event {
    /// From a feed item.
    pub fn new(f: FeedItem, confirmed_block: i64) -> Self {
        Self {
            seq: f.seq,
            live: f.live,
            removed_seq: f.removed_seq,
            event: f.event,
            block_number: f.block_number,
            block_hash: f.block_hash,
            block_timestamp: f.block_timestamp,
            tx_hash: f.tx_hash,
            log_index: f.log_index,
            job_id: f.job_id,
            task_index: f.task_index,
            args: f.args,
            confirmed: f.live && f.block_number <= confirmed_block,
        }
    }
}

/// A page of jobs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobsPage {
    /// Jobs, newest first.
    pub data: Vec<Job>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Finality.
    pub meta: Meta,
}

/// One job with its first tasks and latest events.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDetail {
    /// The job.
    pub job: Job,
    /// Its first tasks in index order (page on with `/v1/jobs/{id}/tasks?cursor=`).
    pub tasks: Vec<Task>,
    /// Cursor for the rest of the tasks.
    pub tasks_next_cursor: Option<String>,
    /// Its latest events, newest first (page on with `/v1/jobs/{id}/events?cursor=`).
    pub history: Vec<Event>,
    /// Cursor for older events.
    pub history_next_cursor: Option<String>,
}

/// One job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobResponse {
    /// The job.
    pub data: JobDetail,
    /// Finality.
    pub meta: Meta,
}

/// A page of tasks.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TasksPage {
    /// Tasks in index order.
    pub data: Vec<Task>,
    /// Cursor for the next page.
    pub next_cursor: Option<String>,
    /// Finality.
    pub meta: Meta,
}

/// One task with its attestations.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskDetail {
    /// The task.
    pub task: Task,
    /// Attestations of every attempt, oldest first.
    pub attestations: Vec<Attestation>,
}

/// One task.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskResponse {
    /// The task.
    pub data: TaskDetail,
    /// Finality.
    pub meta: Meta,
}

/// A page of events.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventsPage {
    /// Events, newest first.
    pub data: Vec<Event>,
    /// Cursor for older events.
    pub next_cursor: Option<String>,
    /// Finality.
    pub meta: Meta,
}

/// A claimable task with what a worker needs to decide.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenTask {
    /// Job id.
    pub job_id: i64,
    /// Task index.
    pub task_index: i64,
    /// Attempt the next submission will be.
    pub attempt: i64,
    /// The job (spec, reward, deadline, stake).
    pub job: Job,
}

/// A page of open tasks.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenTasksPage {
    /// Tasks in (job, index) order.
    pub data: Vec<OpenTask>,
    /// Cursor for the next page.
    pub next_cursor: Option<String>,
    /// Finality.
    pub meta: Meta,
}

/// A withdrawable balance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    /// Token (zero address: ETH).
    pub token: String,
    /// Withdrawable now.
    pub balance: String,
    /// Credited in total.
    pub credited: String,
    /// Withdrawn in total.
    pub withdrawn: String,
    /// Of the credits, rewards for rendered tasks.
    pub worker_rewards: String,
}

impl From<BalanceRow> for Balance {
    fn from(b: BalanceRow) -> Self {
        Self {
            token: addr(&b.token),
            balance: b.balance.to_string(),
            credited: b.credited.to_string(),
            withdrawn: b.withdrawn.to_string(),
            worker_rewards: b.worker_rewards.to_string(),
        }
    }
}

/// Stake of an account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stake {
    /// Bonded ETH (wei).
    pub bonded: String,
    /// Of it, locked by claims.
    pub locked: String,
    /// Unbonding.
    pub unbonding: String,
    /// When unbonding stake can be withdrawn.
    pub unbonding_ready_at: i64,
    /// Slashed in total.
    pub slashed: String,
}

fn stake(a: &AccountRow) -> Stake {
    Stake {
        bonded: a.bonded.to_string(),
        locked: a.locked.to_string(),
        unbonding: a.unbonding.to_string(),
        unbonding_ready_at: a.unbonding_ready_at,
        slashed: a.slashed.to_string(),
    }
}

/// A worker's record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Worker {
    /// Address.
    pub address: String,
    /// Stake.
    pub stake: Stake,
    /// Tasks claimed.
    pub tasks_claimed: i64,
    /// Results submitted.
    pub tasks_submitted: i64,
    /// Tasks paid.
    pub tasks_completed: i64,
    /// Results rejected by verifiers.
    pub tasks_rejected: i64,
    /// Claims that expired.
    pub tasks_expired: i64,
    /// Lower bound of the 95% Wilson interval of completed / (completed + rejected + expired); 0 with no
    /// history. See docs/indexer.md.
    pub reputation: f64,
    /// Balances and rewards per token.
    pub balances: Vec<Balance>,
    /// Block first seen.
    pub first_block: i64,
    /// Block of the last change.
    pub updated_block: i64,
    /// Whether the last change is confirmed.
    pub confirmed: bool,
}

/// The reputation score: lower bound of the 95% Wilson score interval of the success rate.
pub fn reputation(completed: i64, failed: i64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let (s, n) = (completed as f64, (completed + failed) as f64);
    if n <= 0.0 {
        return 0.0;
    }
    let z = 1.96_f64;
    let p = s / n;
    let denom = 1.0 + z * z / n;
    let centre = p + z * z / (2.0 * n);
    let margin = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    ((centre - margin) / denom).clamp(0.0, 1.0)
}

impl Worker {
    /// From rows.
    pub fn new(a: AccountRow, balances: Vec<BalanceRow>, confirmed_block: i64) -> Self {
        Self {
            address: addr(&a.address),
            stake: stake(&a),
            tasks_claimed: a.tasks_claimed,
            tasks_submitted: a.tasks_submitted,
            tasks_completed: a.tasks_completed,
            tasks_rejected: a.tasks_rejected,
            tasks_expired: a.tasks_expired,
            reputation: reputation(a.tasks_completed, a.tasks_rejected + a.tasks_expired),
            balances: balances.into_iter().map(Balance::from).collect(),
            first_block: a.first_block,
            updated_block: a.updated_block,
            confirmed: a.updated_block <= confirmed_block,
        }
    }
}

/// A verifier's record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verifier {
    /// Address.
    pub address: String,
    /// Stake.
    pub stake: Stake,
    /// Attestations counted.
    pub attestations: i64,
    /// Of them, approvals.
    pub approvals: i64,
    /// Of them, rejections.
    pub rejections: i64,
    /// Times slashed for signing conflicting attestations.
    pub equivocations: i64,
    /// Balances per token (verifier fees and slash shares arrive here).
    pub balances: Vec<Balance>,
    /// Block first seen.
    pub first_block: i64,
    /// Block of the last change.
    pub updated_block: i64,
    /// Whether the last change is confirmed.
    pub confirmed: bool,
}

impl Verifier {
    /// From rows.
    pub fn new(a: AccountRow, balances: Vec<BalanceRow>, confirmed_block: i64) -> Self {
        Self {
            address: addr(&a.address),
            stake: stake(&a),
            attestations: a.attestations,
            approvals: a.approvals,
            rejections: a.rejections,
            equivocations: a.equivocations,
            balances: balances.into_iter().map(Balance::from).collect(),
            first_block: a.first_block,
            updated_block: a.updated_block,
            confirmed: a.updated_block <= confirmed_block,
        }
    }
}

/// One worker.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkerResponse {
    /// The worker.
    pub data: Worker,
    /// Finality.
    pub meta: Meta,
}

/// One verifier.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VerifierResponse {
    /// The verifier.
    pub data: Verifier,
    /// Finality.
    pub meta: Meta,
}

/// Volume in one token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenVolume {
    /// Token (zero address: ETH).
    pub token: String,
    /// Escrowed by jobs.
    pub escrowed: String,
    /// Paid to workers.
    pub paid_to_workers: String,
    /// Protocol fees.
    pub protocol_fees: String,
    /// Verifier fees.
    pub verifier_fees: String,
    /// Refunded to artists.
    pub refunded: String,
}

impl From<TokenTotalsRow> for TokenVolume {
    fn from(t: TokenTotalsRow) -> Self {
        Self {
            token: addr(&t.token),
            escrowed: t.escrowed.to_string(),
            paid_to_workers: t.paid_to_workers.to_string(),
            protocol_fees: t.protocol_fees.to_string(),
            verifier_fees: t.verifier_fees.to_string(),
            refunded: t.refunded.to_string(),
        }
    }
}

/// Network-wide figures.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// Jobs posted.
    pub jobs: i64,
    /// Jobs cancelled.
    pub jobs_cancelled: i64,
    /// Tasks posted.
    pub tasks: i64,
    /// Tasks paid.
    pub tasks_paid: i64,
    /// Tasks refunded.
    pub tasks_refunded: i64,
    /// Results rejected.
    pub tasks_rejected: i64,
    /// Claims expired.
    pub tasks_expired: i64,
    /// Attestations counted.
    pub attestations: i64,
    /// Equivocations punished.
    pub equivocations: i64,
    /// Accounts that ever claimed a task.
    pub workers: i64,
    /// Accounts that ever attested.
    pub verifiers: i64,
    /// ETH bonded by all stakers.
    pub staked: String,
    /// ETH slashed in total.
    pub slashed: String,
    /// Whether new jobs and claims are paused.
    pub paused: bool,
    /// Protocol fee for new jobs, if it was ever set by an event.
    pub protocol_fee_bps: Option<i64>,
    /// Fee recipient, if it was ever set by an event.
    pub treasury: Option<String>,
    /// Volume per token.
    pub volume: Vec<TokenVolume>,
}

impl Network {
    /// From rows.
    pub fn new(n: NetworkRow, volume: Vec<TokenTotalsRow>, workers: i64, verifiers: i64) -> Self {
        Self {
            jobs: n.jobs,
            jobs_cancelled: n.jobs_cancelled,
            tasks: n.tasks,
            tasks_paid: n.tasks_paid,
            tasks_refunded: n.tasks_refunded,
            tasks_rejected: n.tasks_rejected,
            tasks_expired: n.tasks_expired,
            attestations: n.attestations,
            equivocations: n.equivocations,
            workers,
            verifiers,
            staked: n.staked.to_string(),
            slashed: n.slashed.to_string(),
            paused: n.paused,
            protocol_fee_bps: n.protocol_fee_bps,
            treasury: n.treasury.as_ref().map(addr),
            volume: volume.into_iter().map(TokenVolume::from).collect(),
        }
    }
}

/// Network figures.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NetworkResponse {
    /// The figures.
    pub data: Network,
    /// Finality.
    pub meta: Meta,
}

/// Liveness.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    pub status: String,
}

/// Readiness.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ready {
    /// Whether the index is within `maxLag` blocks of the head.
    pub ready: bool,
    /// Blocks between the head and the indexed block.
    pub lag: i64,
    /// The readiness threshold.
    pub max_lag: i64,
    /// Why not ready, if not.
    pub reason: Option<String>,
    /// Finality.
    pub meta: Option<Meta>,
}
