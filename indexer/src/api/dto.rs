//! The API's JSON shapes (camelCase). Amounts are decimal strings, addresses and hashes lowercase 0x-hex.

use crate::model::{
    AccountRow, AppealRow, BalanceRow, ChallengeRow, DrawRow, JobRow, JobStatus, MemberRow,
    NetworkRow, TaskRow, TaskStatus, TokenTotalsRow, VerifierRow, addr, hash,
};
use crate::project::VerificationRows;
use crate::store::SyncState;
use crate::store::read::{CommitteeRecord, FeedItem};
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
    /// Seconds each verification phase lasts (commit, reveal, appeal, data-challenge response), and the dispute
    /// window of an optimistic job.
    pub challenge_window: i64,
    /// Seats of the first committee (appeal level `a` draws `(quorum + 1) * 2^a - 1`).
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
    /// Where the current submission's verification stands: `none` (no committee yet; an optimistic result can
    /// be disputed until `phaseEndsAt`), `awaiting_draw`, `commit`, `reveal`, `data_challenge`, `appealable`;
    /// absent when no submission is under verification.
    pub verification_phase: Option<String>,
    /// Appeal level of the current or next draw (0: first committee).
    pub verification_level: i64,
    /// Committees drawn for the current submission.
    pub draws: i64,
    /// Times the pending draw waited for free seats.
    pub deferrals: i64,
    /// Unix time the current phase ends (the dispute window, commit, reveal, response or appeal window; for a
    /// deferred draw, its earliest retry).
    pub phase_ends_at: Option<i64>,
    /// Whether `phaseEndsAt` has passed at the indexed head's time (the next step is due).
    pub phase_over: bool,
    /// The block whose hash seeds the next draw (phases `none` and `awaiting_draw`).
    pub seed_block: Option<i64>,
    /// The standing verdict of the current submission: `approve` or `reject` (absent while none).
    pub verdict: Option<String>,
    /// Results of this task rejected so far.
    pub times_rejected: i64,
    /// Why the last rejected result was rejected: `verdict` or `data_withheld`.
    pub reject_reason: Option<String>,
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
            phase_over: t.verification_phase.is_some() && t.phase_ends_at.is_some_and(|e| e <= now),
            verification_phase: t.verification_phase,
            verification_level: t.verification_level,
            draws: t.draws,
            deferrals: t.deferrals,
            phase_ends_at: t.phase_ends_at,
            seed_block: t.seed_block,
            verdict: t.verdict,
            times_rejected: t.times_rejected,
            reject_reason: t.reject_reason,
            times_expired: t.times_expired,
            pay_reason: t.pay_reason,
            worker_reward: t.worker_reward.map(|s| s.to_string()),
            refund_reason: t.refund_reason,
            updated_block: t.updated_block,
            confirmed: t.updated_block <= confirmed_block,
        }
    }
}

/// One committee member of a draw.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The verifier.
    pub verifier: String,
    /// Its index in the draw (the `memberIndex` of `commitVote`, `revealVote`, `challengeData`).
    pub member_index: i64,
    /// Seats it holds (each bonds one ticket's stake).
    pub seats: i64,
    /// Whether it committed to a vote.
    pub committed: bool,
    /// Block of its commitment.
    pub committed_block: Option<i64>,
    /// Its vote, once revealed (`true`: approve).
    pub approve: Option<bool>,
    /// Its render proof, once revealed.
    pub render_proof: Option<String>,
    /// Block of its reveal.
    pub revealed_block: Option<i64>,
    /// Once the verification ended: whether its vote agreed with the final verdict (members released without
    /// judgement count as coherent).
    pub coherent: Option<bool>,
    /// Once the verification ended: wei of its bond slashed.
    pub slashed: Option<String>,
    /// Block of its settlement.
    pub settled_block: Option<i64>,
    /// Block of the last change.
    pub updated_block: i64,
    /// Whether the last change is confirmed.
    pub confirmed: bool,
}

impl Member {
    /// From a row.
    pub fn new(m: MemberRow, confirmed_block: i64) -> Self {
        Self {
            verifier: addr(&m.verifier),
            member_index: m.member_index,
            seats: m.seats,
            committed: m.committed_block.is_some(),
            committed_block: m.committed_block,
            approve: m.approve,
            render_proof: m.render_proof.as_ref().map(hash),
            revealed_block: m.revealed_block,
            coherent: m.coherent,
            slashed: m.slashed.map(|v| v.to_string()),
            settled_block: m.settled_block,
            updated_block: m.updated_block,
            confirmed: m.updated_block <= confirmed_block,
        }
    }
}

/// A draw's tally.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    /// The draw's majority of seats: `approve`, `reject`, or `none` (no majority revealed).
    pub verdict: String,
    /// Seats that revealed approve.
    pub approve_seats: i64,
    /// Seats that revealed reject.
    pub reject_seats: i64,
    /// Unix time the verdict can be appealed until; absent when it escalated at once or was final.
    pub appeal_ends_at: Option<i64>,
    /// Block of the tally.
    pub block_number: i64,
}

/// A committee drawn for one submission of a task.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Draw {
    /// The submission (attempt) it judges.
    pub attempt: i64,
    /// Draw number within the submission.
    pub draw: i64,
    /// Appeal level (0: first committee).
    pub level: i64,
    /// The seed (from the seed block's hash) that chose the members and their cells.
    pub seed: String,
    /// Seats in all.
    pub seats: i64,
    /// Unix time the commit phase ends.
    pub commit_ends_at: i64,
    /// Unix time the reveal phase ends, once it started.
    pub reveal_ends_at: Option<i64>,
    /// The members, in draw order.
    pub members: Vec<Member>,
    /// The tally, once counted.
    pub tally: Option<Tally>,
    /// Block of the draw.
    pub block_number: i64,
    /// Its transaction.
    pub tx_hash: String,
    /// Block of the last change of the draw or its tally.
    pub updated_block: i64,
    /// Whether the last change is confirmed.
    pub confirmed: bool,
}

impl Draw {
    fn new(d: DrawRow, members: Vec<Member>, confirmed_block: i64) -> Self {
        let tally = d.tallied_block.map(|b| Tally {
            verdict: d.verdict.clone().unwrap_or_else(|| "none".into()),
            approve_seats: d.approve_seats.unwrap_or(0),
            reject_seats: d.reject_seats.unwrap_or(0),
            appeal_ends_at: d.appeal_ends_at.filter(|t| *t != 0),
            block_number: b,
        });
        Self {
            attempt: d.attempt,
            draw: d.draw,
            level: d.level,
            seed: hash(&d.seed),
            seats: d.seats,
            commit_ends_at: d.commit_ends_at,
            reveal_ends_at: d.reveal_ends_at,
            members,
            tally,
            block_number: d.block_number,
            tx_hash: hash(&d.tx_hash),
            updated_block: d.updated_block,
            confirmed: d.updated_block <= confirmed_block,
        }
    }
}

/// An appeal of a verdict (level 0: the dispute of an optimistic result).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Appeal {
    /// The submission (attempt) appealed.
    pub attempt: i64,
    /// The level of the committee it asked for.
    pub level: i64,
    /// Who appealed.
    pub appellant: String,
    /// The verdict it asked for (`true`: approve).
    pub request_approve: bool,
    /// Wei bonded.
    pub bond: String,
    /// Once settled: bond returned (`true`) or forfeited.
    pub upheld: Option<bool>,
    /// Block of the settlement.
    pub settled_block: Option<i64>,
    /// Block of the appeal.
    pub block_number: i64,
    /// Its transaction.
    pub tx_hash: String,
    /// Block of the last change.
    pub updated_block: i64,
    /// Whether the last change is confirmed.
    pub confirmed: bool,
}

impl Appeal {
    /// From a row.
    pub fn new(a: AppealRow, confirmed_block: i64) -> Self {
        Self {
            attempt: a.attempt,
            level: a.level,
            appellant: addr(&a.appellant),
            request_approve: a.request_approve,
            bond: a.bond.to_string(),
            upheld: a.upheld,
            settled_block: a.settled_block,
            block_number: a.block_number,
            tx_hash: hash(&a.tx_hash),
            updated_block: a.updated_block,
            confirmed: a.updated_block <= confirmed_block,
        }
    }
}

/// A data-availability challenge of a draw and the worker's answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataChallenge {
    /// The submission (attempt).
    pub attempt: i64,
    /// The draw whose member challenged.
    pub draw: i64,
    /// The member who challenged.
    pub challenger: String,
    /// The cells whose committed data was asked for.
    pub cells: Vec<i64>,
    /// Unix time the answer is due.
    pub respond_by: i64,
    /// Who answered, once answered.
    pub provided_by: Option<String>,
    /// The data hashes shown (proven against the cell root), in `cells` order.
    pub data_hashes: Option<Vec<String>>,
    /// Block of the answer.
    pub provided_block: Option<i64>,
    /// Block of the challenge.
    pub block_number: i64,
    /// Its transaction.
    pub tx_hash: String,
    /// Block of the last change.
    pub updated_block: i64,
    /// Whether the last change is confirmed.
    pub confirmed: bool,
}

impl DataChallenge {
    /// From a row.
    pub fn new(c: ChallengeRow, confirmed_block: i64) -> Self {
        Self {
            attempt: c.attempt,
            draw: c.draw,
            challenger: addr(&c.challenger),
            cells: c.cells,
            respond_by: c.respond_by,
            provided_by: c.provided_by.as_ref().map(addr),
            data_hashes: c.data_hashes.map(|h| h.iter().map(hash).collect()),
            provided_block: c.provided_block,
            block_number: c.block_number,
            tx_hash: hash(&c.tx_hash),
            updated_block: c.updated_block,
            confirmed: c.updated_block <= confirmed_block,
        }
    }
}

/// A task's verification: every committee drawn (with members, revealed votes and tallies), every appeal and
/// data challenge, of every submission, oldest first. The current phase and its deadline are on the task.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// Committees drawn, by (attempt, draw).
    pub draws: Vec<Draw>,
    /// Appeals, by (attempt, level).
    pub appeals: Vec<Appeal>,
    /// Data challenges, by (attempt, draw).
    pub data_challenges: Vec<DataChallenge>,
}

impl Verification {
    /// From the stored records.
    pub fn new(v: VerificationRows, confirmed_block: i64) -> Self {
        let mut members: std::collections::BTreeMap<(i64, i64), Vec<Member>> =
            std::collections::BTreeMap::new();
        for m in v.members {
            members
                .entry((m.attempt, m.draw))
                .or_default()
                .push(Member::new(m, confirmed_block));
        }
        Self {
            draws: v
                .draws
                .into_iter()
                .map(|d| {
                    let m = members.remove(&(d.attempt, d.draw)).unwrap_or_default();
                    Draw::new(d, m, confirmed_block)
                })
                .collect(),
            appeals: v
                .appeals
                .into_iter()
                .map(|a| Appeal::new(a, confirmed_block))
                .collect(),
            data_challenges: v
                .challenges
                .into_iter()
                .map(|c| DataChallenge::new(c, confirmed_block))
                .collect(),
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

/// A page of workers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkersPage {
    /// Workers (accounts that ever claimed a task), most tasks completed first, then by address.
    pub data: Vec<Worker>,
    /// Pass as `cursor` for the next page; absent on the last page (the last worker's completed tasks and
    /// address: a worker whose count changes between two pages can appear on both or on neither).
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

/// One task with its verification.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskDetail {
    /// The task.
    pub task: Task,
    /// Its committees, votes, tallies, appeals and data challenges, every attempt, oldest first.
    pub verification: Verification,
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

/// A verifier's place in the registry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// Registry id.
    pub registry_id: i64,
    /// Tickets held (one ticket backs one committee seat).
    pub tickets: i64,
    /// Wei held for the verifier role (slashes come from it).
    pub stake: String,
    /// Block it (last) registered.
    pub registered_block: i64,
    /// Block it left the registry, if it did.
    pub left_block: Option<i64>,
    /// Block from which its tickets can be released, once it left.
    pub releasable_at: Option<i64>,
    /// Block its tickets were released (stake back to bonded), if they were.
    pub released_block: Option<i64>,
    /// `active`, `leaving` or `released`.
    pub status: String,
    /// Block of the last change.
    pub updated_block: i64,
    /// Whether the last change is confirmed.
    pub confirmed: bool,
}

impl Registration {
    /// From a row.
    pub fn new(v: VerifierRow, confirmed_block: i64) -> Self {
        let status = if v.released_block.is_some() {
            "released"
        } else if v.left_block.is_some() {
            "leaving"
        } else {
            "active"
        };
        Self {
            registry_id: v.registry_id,
            tickets: v.tickets,
            stake: v.stake.to_string(),
            registered_block: v.registered_block,
            left_block: v.left_block,
            releasable_at: v.releasable_at,
            released_block: v.released_block,
            status: status.to_owned(),
            updated_block: v.updated_block,
            confirmed: v.updated_block <= confirmed_block,
        }
    }
}

/// A verifier's committee service.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// Draws it sat on.
    pub draws: i64,
    /// Seats it held in them.
    pub seats: i64,
    /// Votes committed.
    pub votes_committed: i64,
    /// Votes revealed.
    pub votes_revealed: i64,
    /// Of them, approvals.
    pub approvals: i64,
    /// Of them, rejections.
    pub rejections: i64,
    /// Memberships judged (their verification ended).
    pub settled: i64,
    /// Of them, coherent with the final verdict.
    pub coherent: i64,
    /// Memberships whose bond was slashed (voted against the final verdict, or never revealed).
    pub slashes: i64,
    /// Wei slashed in total.
    pub slashed: String,
}

impl From<CommitteeRecord> for Service {
    fn from(r: CommitteeRecord) -> Self {
        Self {
            draws: r.draws,
            seats: r.seats,
            votes_committed: r.committed,
            votes_revealed: r.revealed,
            approvals: r.approvals,
            rejections: r.revealed - r.approvals,
            settled: r.settled,
            coherent: r.coherent,
            slashes: r.slashes,
            slashed: r.slashed,
        }
    }
}

/// A verifier's record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verifier {
    /// Address.
    pub address: String,
    /// Its registration, if it ever registered.
    pub registration: Option<Registration>,
    /// Bonded stake (the verifier stake is in `registration`).
    pub stake: Option<Stake>,
    /// Committee service.
    pub service: Service,
    /// Balances per token (verifier fees, forfeited bonds and returned appeal bonds arrive here).
    pub balances: Vec<Balance>,
    /// Block of the last change of its registration, account or memberships.
    pub updated_block: i64,
    /// Whether the last change is confirmed.
    pub confirmed: bool,
}

impl Verifier {
    /// From rows.
    pub fn new(
        address: String,
        registration: Option<VerifierRow>,
        account: Option<AccountRow>,
        service: CommitteeRecord,
        balances: Vec<BalanceRow>,
        confirmed_block: i64,
    ) -> Self {
        let updated_block = [
            registration.as_ref().map(|r| r.updated_block),
            account.as_ref().map(|a| a.updated_block),
            service.updated_block,
            balances.iter().map(|b| b.updated_block).max(),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
        Self {
            address,
            registration: registration.map(|r| Registration::new(r, confirmed_block)),
            stake: account.as_ref().map(stake),
            service: service.into(),
            balances: balances.into_iter().map(Balance::from).collect(),
            updated_block,
            confirmed: updated_block <= confirmed_block,
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
    /// Committees drawn.
    pub draws: i64,
    /// Votes revealed.
    pub votes: i64,
    /// Verdicts appealed (and optimistic results disputed).
    pub appeals: i64,
    /// Data-availability challenges.
    pub data_challenges: i64,
    /// Accounts that ever claimed a task.
    pub workers: i64,
    /// Verifiers in the registry (registered and not released).
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
            draws: n.draws,
            votes: n.votes,
            appeals: n.appeals,
            data_challenges: n.data_challenges,
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
