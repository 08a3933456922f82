//! Applies decoded events, in chain order, to the projection rows they touch. The store loads those rows
//! (their before-images), this module changes them in memory, and the store writes back what changed — in bulk,
//! in the same transaction as the logs and the cursor. Keeping the rules here, free of SQL, lets one code path
//! serve backfill, the live tail, rebuilding after a deep reorg, and unit tests.

use crate::events::{
    ChainLog, DecodeError, pay_reason, phase, refund_reason, reject_reason, reopen_reason, small,
    verdict,
};
use crate::model::{
    AccountRow, AppealRow, BalanceRow, ChallengeRow, DrawRow, JobRow, JobStatus, JobWorkerRow,
    MemberRow, NetworkRow, SubmissionKey, TaskRow, TaskStatus, TokenTotalsRow, VerifierRow,
};
use alloy::primitives::{Address, B256, U256};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use tessera_bindings::DistributedRender::DistributedRenderEvents as Ev;
use tessera_bindings::Phase;

/// Why events could not be applied: the projection and the chain disagree, which only a bug or a
/// database edited by hand can cause.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// An event names a job the projection does not have.
    #[error("event {event} at block {block} names job {job_id}, which is not indexed")]
    UnknownJob {
        /// The event.
        event: &'static str,
        /// Its block.
        block: i64,
        /// The job.
        job_id: i64,
    },
    /// An event names a task the projection does not have.
    #[error(
        "event {event} at block {block} names task {job_id}/{task_index}, which is not indexed"
    )]
    UnknownTask {
        /// The event.
        event: &'static str,
        /// Its block.
        block: i64,
        /// The job.
        job_id: i64,
        /// The task.
        task_index: i64,
    },
    /// An event names a verification record (draw, member, appeal, challenge) the projection does not have.
    #[error("event {event} at block {block} names {what} {key}, which is not indexed")]
    UnknownRecord {
        /// The event.
        event: &'static str,
        /// Its block.
        block: i64,
        /// Which kind of record.
        what: &'static str,
        /// Its key.
        key: String,
    },
    /// A value could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Key of a draw (and of its data challenge): (job, task, attempt, draw).
pub type DrawKey = (i64, i64, i64, i64);
/// Key of a committee member: (job, task, attempt, draw, verifier).
pub type MemberKey = (i64, i64, i64, i64, Address);
/// Key of an appeal: (job, task, attempt, level).
pub type AppealKey = (i64, i64, i64, i64);

/// The rows a batch of events needs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Keys {
    /// Jobs that exist before the batch.
    pub jobs: BTreeSet<i64>,
    /// Tasks of jobs that exist before the batch.
    pub tasks: BTreeSet<(i64, i64)>,
    /// Workers and verifiers.
    pub accounts: BTreeSet<Address>,
    /// (account, token) balances.
    pub balances: BTreeSet<(Address, Address)>,
    /// Payment tokens.
    pub tokens: BTreeSet<Address>,
    /// Submissions whose verification records (draws, members, appeals, challenges) the batch touches.
    pub submissions: BTreeSet<SubmissionKey>,
    /// Registered verifiers.
    pub verifiers: BTreeSet<Address>,
    /// `StakeSlashed` logs (tx, log index) that slash a committee member's verifier stake (the `VoteSettled`
    /// right after them says so), not bonded stake.
    pub verifier_slashes: BTreeSet<(B256, i64)>,
}

/// The stored verification records of some submissions.
#[derive(Debug, Default, Clone)]
pub struct VerificationRows {
    /// Draws.
    pub draws: Vec<DrawRow>,
    /// Members.
    pub members: Vec<MemberRow>,
    /// Appeals.
    pub appeals: Vec<AppealRow>,
    /// Data challenges.
    pub challenges: Vec<ChallengeRow>,
}

/// A row's image before the batch and after the events applied so far.
#[derive(Debug, Clone)]
pub struct Slot<T> {
    /// As loaded (None: the row did not exist).
    pub before: Option<T>,
    /// As the events left it (None: absent).
    pub after: Option<T>,
}

impl<T: Clone + PartialEq> Slot<T> {
    fn loaded(row: Option<T>) -> Self {
        Self {
            before: row.clone(),
            after: row,
        }
    }

    /// Whether the events changed the row.
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

/// The in-memory projection of one batch.
#[derive(Debug, Default)]
pub struct Projection {
    /// Jobs by id.
    pub jobs: BTreeMap<i64, Slot<JobRow>>,
    /// Tasks by (job, index).
    pub tasks: BTreeMap<(i64, i64), Slot<TaskRow>>,
    /// Accounts by address.
    pub accounts: BTreeMap<Address, Slot<AccountRow>>,
    /// Balances by (account, token).
    pub balances: BTreeMap<(Address, Address), Slot<BalanceRow>>,
    /// Totals by token.
    pub tokens: BTreeMap<Address, Slot<TokenTotalsRow>>,
    /// The network row.
    pub network: Option<Slot<NetworkRow>>,
    /// Jobs created in this batch: (job id, task count, block); their tasks are generated in bulk as open.
    pub new_jobs: Vec<(i64, i64, i64)>,
    /// Committee draws by (job, task, attempt, draw).
    pub draws: BTreeMap<DrawKey, Slot<DrawRow>>,
    /// Committee members by (job, task, attempt, draw, verifier).
    pub members: BTreeMap<MemberKey, Slot<MemberRow>>,
    /// Appeals by (job, task, attempt, level).
    pub appeals: BTreeMap<AppealKey, Slot<AppealRow>>,
    /// Data challenges by (job, task, attempt, draw).
    pub challenges: BTreeMap<DrawKey, Slot<ChallengeRow>>,
    /// Registered verifiers by address.
    pub verifiers: BTreeMap<Address, Slot<VerifierRow>>,
    /// Submissions whose verification records were loaded (or are new in this batch).
    submissions: BTreeSet<SubmissionKey>,
    verifier_slashes: BTreeSet<(B256, i64)>,
    /// First claims of a worker on a job in this batch.
    pub job_workers: Vec<JobWorkerRow>,
    new_job_ids: BTreeSet<i64>,
}

/// Blocks between a submission (or an appeal, an escalation) and the block whose hash seeds its draw
/// (`DRAW_DELAY` in the contract).
const DRAW_DELAY: i64 = 1;

/// Entity names used by the undo journal.
pub mod entity {
    /// `jobs` rows (a job's deletion also deletes its tasks).
    pub const JOB: &str = "job";
    /// `tasks` rows.
    pub const TASK: &str = "task";
    /// `accounts` rows.
    pub const ACCOUNT: &str = "account";
    /// `balances` rows.
    pub const BALANCE: &str = "balance";
    /// `token_totals` rows.
    pub const TOKEN: &str = "token";
    /// The `network` row.
    pub const NETWORK: &str = "network";
    /// `draws` rows.
    pub const DRAW: &str = "draw";
    /// `draw_members` rows.
    pub const MEMBER: &str = "member";
    /// `appeals` rows.
    pub const APPEAL: &str = "appeal";
    /// `data_challenges` rows.
    pub const CHALLENGE: &str = "challenge";
    /// `verifiers` rows.
    pub const VERIFIER: &str = "verifier";
}

/// Whether an event reads or writes the verification records of its task's current submission.
fn is_verification(ev: &Ev) -> bool {
    matches!(
        ev,
        Ev::CommitteeDrawn(_)
            | Ev::DrawDeferred(_)
            | Ev::VoteCommitted(_)
            | Ev::RevealStarted(_)
            | Ev::VoteRevealed(_)
            | Ev::RoundTallied(_)
            | Ev::VerdictAppealed(_)
            | Ev::DataChallenged(_)
            | Ev::DataProvided(_)
            | Ev::VoteSettled(_)
            | Ev::AppealSettled(_)
    )
}

/// A before-image for the undo journal.
#[derive(Debug, Clone, PartialEq)]
pub struct Undo {
    /// Which table (see [`entity`]).
    pub entity: &'static str,
    /// The row's key, as text.
    pub key: String,
    /// The row before the batch; None if it did not exist.
    pub image: Option<serde_json::Value>,
}

fn job_task_ids(e: &ChainLog) -> Result<(Option<i64>, Option<i64>), DecodeError> {
    e.job_task()
}

/// The jobs and tasks a batch needs loaded (first round).
pub fn job_keys(logs: &[ChainLog]) -> Result<Keys, DecodeError> {
    let mut keys = Keys::default();
    let mut created = BTreeSet::new();
    for log in logs {
        if let Ev::JobSubmitted(e) = &log.event {
            created.insert(small("job id", e.jobId)?);
            continue;
        }
        let (job, task) = job_task_ids(log)?;
        if let Some(job) = job.filter(|j| !created.contains(j)) {
            keys.jobs.insert(job);
            if let Some(task) = task {
                keys.tasks.insert((job, task));
            }
        }
    }
    Ok(keys)
}

impl Projection {
    /// Starts a batch from the loaded jobs and tasks (first round).
    pub fn with_jobs(jobs: BTreeMap<i64, JobRow>, tasks: BTreeMap<(i64, i64), TaskRow>) -> Self {
        Self {
            jobs: jobs
                .into_iter()
                .map(|(k, v)| (k, Slot::loaded(Some(v))))
                .collect(),
            tasks: tasks
                .into_iter()
                .map(|(k, v)| (k, Slot::loaded(Some(v))))
                .collect(),
            ..Self::default()
        }
    }

    /// The accounts, balances and tokens a batch needs (second round), given the loaded jobs and tasks.
    pub fn account_keys(&self, logs: &[ChainLog]) -> Result<Keys, DecodeError> {
        let mut keys = Keys::default();
        let mut new_tokens: BTreeMap<i64, Address> = BTreeMap::new();
        let token_of = |job: i64, new_tokens: &BTreeMap<i64, Address>| {
            new_tokens.get(&job).copied().or_else(|| {
                self.jobs
                    .get(&job)
                    .and_then(|s| s.after.as_ref())
                    .map(|j| j.token)
            })
        };
        // The attempt each task is at as the batch goes: events without an attempt concern the current one.
        let mut attempts: BTreeMap<(i64, i64), i64> = BTreeMap::new();
        for (i, log) in logs.iter().enumerate() {
            let (job, task) = job_task_ids(log)?;
            if let (Some(job), Some(task)) = (job, task) {
                let current = attempts.get(&(job, task)).copied().unwrap_or_else(|| {
                    self.tasks
                        .get(&(job, task))
                        .and_then(|s| s.after.as_ref())
                        .map_or(0, |t| t.attempt)
                });
                let attempt = match &log.event {
                    Ev::ResultSubmitted(e) => small("attempt", e.attempt)?,
                    Ev::TaskReopened(e) => small("attempt", e.attempt)?,
                    Ev::CommitteeDrawn(e) => small("attempt", e.attempt)?,
                    _ => current,
                };
                attempts.insert((job, task), attempt);
                if is_verification(&log.event) {
                    keys.submissions.insert((job, task, attempt));
                }
            }
            if let Ev::StakeSlashed(s) = &log.event
                && let Some(next) = logs.get(i + 1)
                && let Ev::VoteSettled(v) = &next.event
                && next.at.tx_hash == log.at.tx_hash
                && v.verifier == s.account
                && v.slashed == s.amount
            {
                keys.verifier_slashes
                    .insert((log.at.tx_hash, log.at.log_index));
            }
            if let (Some(job), Some(task)) = (job, task)
                && let Some(w) = self
                    .tasks
                    .get(&(job, task))
                    .and_then(|s| s.after.as_ref())
                    .and_then(|t| t.worker)
            {
                keys.accounts.insert(w);
            }
            if let Some(token) = job.and_then(|j| token_of(j, &new_tokens)) {
                keys.tokens.insert(token);
            }
            match &log.event {
                Ev::JobSubmitted(e) => {
                    new_tokens.insert(small("job id", e.jobId)?, e.token);
                    keys.tokens.insert(e.token);
                }
                Ev::TaskClaimed(e) => _ = keys.accounts.insert(e.worker),
                Ev::ResultSubmitted(e) => _ = keys.accounts.insert(e.worker),
                Ev::TaskPaid(e) => {
                    keys.accounts.insert(e.worker);
                    if let Some(token) = job.and_then(|j| token_of(j, &new_tokens)) {
                        keys.balances.insert((e.worker, token));
                    }
                }
                Ev::TaskRejected(e) => _ = keys.accounts.insert(e.worker),
                Ev::TaskReopened(e) => _ = keys.accounts.insert(e.previousWorker),
                Ev::BalanceCredited(e) => _ = keys.balances.insert((e.account, e.token)),
                Ev::Withdrawn(e) => _ = keys.balances.insert((e.account, e.token)),
                Ev::Staked(e) => _ = keys.accounts.insert(e.account),
                Ev::UnstakeRequested(e) => _ = keys.accounts.insert(e.account),
                Ev::StakeWithdrawn(e) => _ = keys.accounts.insert(e.account),
                Ev::StakeSlashed(e) => _ = keys.accounts.insert(e.account),
                Ev::VerifierRegistered(e) => {
                    keys.accounts.insert(e.verifier);
                    keys.verifiers.insert(e.verifier);
                }
                Ev::VerifierLeft(e) => _ = keys.verifiers.insert(e.verifier),
                Ev::VerifierReleased(e) => {
                    keys.accounts.insert(e.verifier);
                    keys.verifiers.insert(e.verifier);
                }
                Ev::VoteSettled(e) => _ = keys.verifiers.insert(e.verifier),
                _ => {}
            }
        }
        Ok(keys)
    }

    /// Adds the loaded accounts, balances, token totals and network row (second round).
    pub fn with_accounts(
        &mut self,
        accounts: BTreeMap<Address, AccountRow>,
        balances: BTreeMap<(Address, Address), BalanceRow>,
        tokens: BTreeMap<Address, TokenTotalsRow>,
        network: Option<NetworkRow>,
    ) {
        self.accounts.extend(
            accounts
                .into_iter()
                .map(|(k, v)| (k, Slot::loaded(Some(v)))),
        );
        self.balances.extend(
            balances
                .into_iter()
                .map(|(k, v)| (k, Slot::loaded(Some(v)))),
        );
        self.tokens
            .extend(tokens.into_iter().map(|(k, v)| (k, Slot::loaded(Some(v)))));
        self.network = Some(Slot::loaded(network));
    }

    /// Adds the loaded verification records of the batch's submissions and the loaded verifiers (third
    /// round). `keys` is what [`Projection::account_keys`] returned.
    pub fn with_verification(
        &mut self,
        keys: &Keys,
        records: VerificationRows,
        verifiers: BTreeMap<Address, VerifierRow>,
    ) {
        self.submissions.extend(keys.submissions.iter().copied());
        self.verifier_slashes
            .extend(keys.verifier_slashes.iter().copied());
        for r in records.draws {
            let k = (r.job_id, r.task_index, r.attempt, r.draw);
            self.draws.insert(k, Slot::loaded(Some(r)));
        }
        for r in records.members {
            let k = (r.job_id, r.task_index, r.attempt, r.draw, r.verifier);
            self.members.insert(k, Slot::loaded(Some(r)));
        }
        for r in records.appeals {
            let k = (r.job_id, r.task_index, r.attempt, r.level);
            self.appeals.insert(k, Slot::loaded(Some(r)));
        }
        for r in records.challenges {
            let k = (r.job_id, r.task_index, r.attempt, r.draw);
            self.challenges.insert(k, Slot::loaded(Some(r)));
        }
        self.verifiers.extend(
            verifiers
                .into_iter()
                .map(|(k, v)| (k, Slot::loaded(Some(v)))),
        );
    }

    /// The (job, task, attempt) of a verification event: the task's current submission.
    fn submission(
        &mut self,
        log: &ChainLog,
        job: U256,
        task: U256,
    ) -> Result<SubmissionKey, ProjectError> {
        let (j, t) = (small("job id", job)?, small("task index", task)?);
        let attempt = self.task(log, j, t)?.attempt;
        Ok((j, t, attempt))
    }

    fn record<'a, K: Ord + Clone + std::fmt::Debug, T>(
        slots: &'a mut BTreeMap<K, Slot<T>>,
        log: &ChainLog,
        what: &'static str,
        key: &K,
    ) -> Result<&'a mut T, ProjectError> {
        let row = slots
            .get_mut(key)
            .and_then(|s| s.after.as_mut())
            .ok_or_else(|| ProjectError::UnknownRecord {
                event: log.name(),
                block: log.at.block_number,
                what,
                key: format!("{key:?}"),
            })?;
        Ok(row)
    }

    /// Inserts a new verification record; its submission's records must have been loaded (or be new).
    fn create<K: Ord, T>(slots: &mut BTreeMap<K, Slot<T>>, key: K, row: T) {
        let slot = slots.entry(key).or_insert(Slot {
            before: None,
            after: None,
        });
        slot.after = Some(row);
    }

    fn check_loaded(&self, log: &ChainLog, sub: SubmissionKey) -> Result<(), ProjectError> {
        if self.submissions.contains(&sub) {
            Ok(())
        } else {
            Err(ProjectError::UnknownRecord {
                event: log.name(),
                block: log.at.block_number,
                what: "submission",
                key: format!("{}/{}/{}", sub.0, sub.1, sub.2),
            })
        }
    }

    /// Ends the task's verification (it was paid, rejected, reopened or refunded).
    fn end_verification(task: &mut TaskRow) {
        task.verification_phase = None;
        task.phase_ends_at = None;
        task.seed_block = None;
    }

    fn verifier(&mut self, address: Address, block: i64) -> Option<&mut VerifierRow> {
        let row = self.verifiers.get_mut(&address)?.after.as_mut()?;
        row.updated_block = block;
        Some(row)
    }

    fn job(&mut self, log: &ChainLog, job_id: i64) -> Result<&mut JobRow, ProjectError> {
        let block = log.at.block_number;
        let row = self
            .jobs
            .get_mut(&job_id)
            .and_then(|s| s.after.as_mut())
            .ok_or(ProjectError::UnknownJob {
                event: log.name(),
                block,
                job_id,
            })?;
        row.updated_block = block;
        Ok(row)
    }

    fn task(
        &mut self,
        log: &ChainLog,
        job_id: i64,
        task_index: i64,
    ) -> Result<&mut TaskRow, ProjectError> {
        let block = log.at.block_number;
        let unknown = ProjectError::UnknownTask {
            event: log.name(),
            block,
            job_id,
            task_index,
        };
        if !self.tasks.contains_key(&(job_id, task_index)) {
            // Tasks of a job created in this batch start open and are not in the database yet.
            let count = self
                .jobs
                .get(&job_id)
                .and_then(|s| s.after.as_ref())
                .map_or(0, |j| j.task_count);
            if !self.new_job_ids.contains(&job_id) || task_index >= count {
                return Err(unknown);
            }
            self.tasks.insert(
                (job_id, task_index),
                Slot {
                    before: None,
                    after: Some(TaskRow::open(job_id, task_index, block)),
                },
            );
        }
        let row = self
            .tasks
            .get_mut(&(job_id, task_index))
            .and_then(|s| s.after.as_mut())
            .ok_or(unknown)?;
        row.updated_block = block;
        Ok(row)
    }

    fn account(&mut self, address: Address, block: i64) -> &mut AccountRow {
        let slot = self.accounts.entry(address).or_insert(Slot {
            before: None,
            after: None,
        });
        let row = slot
            .after
            .get_or_insert_with(|| AccountRow::new(address, block));
        row.updated_block = block;
        row
    }

    fn balance(&mut self, account: Address, token: Address, block: i64) -> &mut BalanceRow {
        let slot = self.balances.entry((account, token)).or_insert(Slot {
            before: None,
            after: None,
        });
        let row = slot.after.get_or_insert(BalanceRow {
            account,
            token,
            balance: U256::ZERO,
            credited: U256::ZERO,
            withdrawn: U256::ZERO,
            worker_rewards: U256::ZERO,
            updated_block: block,
        });
        row.updated_block = block;
        row
    }

    fn token(&mut self, token: Address, block: i64) -> &mut TokenTotalsRow {
        let slot = self.tokens.entry(token).or_insert(Slot {
            before: None,
            after: None,
        });
        let row = slot.after.get_or_insert(TokenTotalsRow {
            token,
            escrowed: U256::ZERO,
            paid_to_workers: U256::ZERO,
            protocol_fees: U256::ZERO,
            verifier_fees: U256::ZERO,
            refunded: U256::ZERO,
            updated_block: block,
        });
        row.updated_block = block;
        row
    }

    fn network(&mut self, block: i64) -> &mut NetworkRow {
        let slot = self.network.get_or_insert(Slot {
            before: None,
            after: None,
        });
        let row = slot.after.get_or_insert_with(NetworkRow::default);
        row.updated_block = block;
        row
    }

    /// Releases the stake a task's claim locked, if it is still locked.
    fn release(
        &mut self,
        log: &ChainLog,
        job_id: i64,
        task_index: i64,
    ) -> Result<(), ProjectError> {
        let block = log.at.block_number;
        let task = self.task(log, job_id, task_index)?;
        if let (Some(stake), Some(worker)) = (task.stake.take(), task.worker) {
            let acct = self.account(worker, block);
            acct.locked = acct.locked.saturating_sub(stake);
        }
        Ok(())
    }

    /// Moves a task out of its current state in the job's counters.
    fn leave_state(
        &mut self,
        log: &ChainLog,
        job_id: i64,
        from: TaskStatus,
    ) -> Result<(), ProjectError> {
        let job = self.job(log, job_id)?;
        match from {
            TaskStatus::Open => job.tasks_open -= 1,
            TaskStatus::Claimed => job.tasks_claimed -= 1,
            TaskStatus::Submitted => job.tasks_submitted -= 1,
            TaskStatus::Paid => job.tasks_paid -= 1,
            TaskStatus::Refunded => job.tasks_refunded -= 1,
        }
        Ok(())
    }

    /// Applies one event. Events must come in chain order.
    pub fn apply(&mut self, log: &ChainLog) -> Result<(), ProjectError> {
        let block = log.at.block_number;
        match &log.event {
            Ev::JobSubmitted(e) => {
                let job_id = small("job id", e.jobId)?;
                let task_count = small("task count", e.taskCount)?;
                let s = &e.spec;
                let r = &s.settings;
                let row = JobRow {
                    job_id,
                    artist: e.artist,
                    token: e.token,
                    scene_cid: s.sceneCid.clone(),
                    renderer_id: s.rendererId.clone(),
                    width: r.width.into(),
                    height: r.height.into(),
                    samples_per_pixel: r.samplesPerPixel.into(),
                    max_bounces: r.maxBounces.into(),
                    frame_start: r.frameStart.into(),
                    frame_count: r.frameCount.into(),
                    regions_x: r.regionsX.into(),
                    regions_y: r.regionsY.into(),
                    cell_size: r.cellSize.into(),
                    seed: U256::from(r.seed),
                    reward_per_task: U256::from(s.rewardPerTask),
                    verifier_fee_bps: s.verifierFeeBps.into(),
                    worker_stake_per_task: U256::from(s.workerStakePerTask),
                    deadline: s.deadline.into(),
                    lease_duration: s.leaseDuration.into(),
                    challenge_window: s.challengeWindow.into(),
                    quorum: s.quorum.into(),
                    optimistic: s.optimistic,
                    task_count,
                    escrow: e.escrow,
                    protocol_fee_bps: small("protocol fee", e.protocolFeeBps)?,
                    status: JobStatus::Active,
                    open_refund: None,
                    tasks_open: task_count,
                    tasks_claimed: 0,
                    tasks_submitted: 0,
                    tasks_paid: 0,
                    tasks_refunded: 0,
                    rejections: 0,
                    paid_to_workers: U256::ZERO,
                    refunded: U256::ZERO,
                    created_block: block,
                    created_tx: log.at.tx_hash,
                    created_at: log.at.block_timestamp,
                    updated_block: block,
                };
                let slot = self.jobs.entry(job_id).or_insert(Slot {
                    before: None,
                    after: None,
                });
                slot.after = Some(row);
                self.new_jobs.push((job_id, task_count, block));
                self.new_job_ids.insert(job_id);
                self.token(e.token, block).escrowed += e.escrow;
                let net = self.network(block);
                net.jobs += 1;
                net.tasks += task_count;
            }
            Ev::JobCancelled(e) => self.refund_open(
                log,
                small("job id", e.jobId)?,
                "cancelled",
                e.refundedTasks,
                e.refund,
            )?,
            Ev::OpenTasksReclaimed(e) => self.refund_open(
                log,
                small("job id", e.jobId)?,
                "deadline_passed",
                e.refundedTasks,
                e.refund,
            )?,
            Ev::TaskClaimed(e) => {
                let (j, t) = (small("job id", e.jobId)?, small("task index", e.taskIndex)?);
                let task = self.task(log, j, t)?;
                let from = task.state;
                task.state = TaskStatus::Claimed;
                task.worker = Some(e.worker);
                task.lease_id = Some(small("lease id", e.leaseId)?);
                task.lease_expires_at = Some(small("lease expiry", e.expiresAt)?);
                task.stake = (!e.stake.is_zero()).then_some(e.stake);
                self.leave_state(log, j, from)?;
                self.job(log, j)?.tasks_claimed += 1;
                let acct = self.account(e.worker, block);
                acct.locked += e.stake;
                acct.tasks_claimed += 1;
                if !self
                    .job_workers
                    .iter()
                    .any(|w| w.job_id == j && w.worker == e.worker)
                {
                    self.job_workers.push(JobWorkerRow {
                        job_id: j,
                        worker: e.worker,
                        block_number: block,
                    });
                }
            }
            Ev::ResultSubmitted(e) => {
                let (j, t) = (small("job id", e.jobId)?, small("task index", e.taskIndex)?);
                let job = self.job(log, j)?;
                // An optimistic result can be disputed until the window ends; the first draw is seeded by the
                // next block's hash (`DRAW_DELAY`).
                let window_end = job
                    .optimistic
                    .then_some(log.at.block_timestamp + job.challenge_window);
                let task = self.task(log, j, t)?;
                let from = task.state;
                task.state = TaskStatus::Submitted;
                task.attempt = small("attempt", e.attempt)?;
                task.output_cid = Some(e.outputCid.clone());
                task.cell_root = Some(e.cellRoot);
                task.submitted_block = Some(block);
                task.verification_phase = Some(phase(Phase::None));
                task.verification_level = 0;
                task.draws = 0;
                task.deferrals = 0;
                task.verdict = None;
                task.phase_ends_at = window_end;
                task.seed_block = Some(block + DRAW_DELAY);
                self.leave_state(log, j, from)?;
                self.job(log, j)?.tasks_submitted += 1;
                self.account(e.worker, block).tasks_submitted += 1;
            }
            Ev::CommitteeDrawn(e) => {
                let sub = (
                    small("job id", e.jobId)?,
                    small("task index", e.taskIndex)?,
                    small("attempt", e.attempt)?,
                );
                self.check_loaded(log, sub)?;
                let draw = small("draw", e.draw)?;
                let level = small("level", e.level)?;
                let commit_ends_at = small("commit end", e.commitEndsAt)?;
                let mut seats_total = 0i64;
                for (i, (verifier, seats)) in e.members.iter().zip(&e.seats).enumerate() {
                    let seats = small("seats", *seats)?;
                    seats_total += seats;
                    Self::create(
                        &mut self.members,
                        (sub.0, sub.1, sub.2, draw, *verifier),
                        MemberRow {
                            job_id: sub.0,
                            task_index: sub.1,
                            attempt: sub.2,
                            draw,
                            verifier: *verifier,
                            member_index: i64::try_from(i).unwrap_or(i64::MAX),
                            seats,
                            committed_block: None,
                            approve: None,
                            render_proof: None,
                            revealed_block: None,
                            coherent: None,
                            slashed: None,
                            settled_block: None,
                            updated_block: block,
                        },
                    );
                }
                Self::create(
                    &mut self.draws,
                    (sub.0, sub.1, sub.2, draw),
                    DrawRow {
                        job_id: sub.0,
                        task_index: sub.1,
                        attempt: sub.2,
                        draw,
                        level,
                        seed: e.seed,
                        seats: seats_total,
                        members: i64::try_from(e.members.len()).unwrap_or(i64::MAX),
                        commit_ends_at,
                        reveal_ends_at: None,
                        verdict: None,
                        approve_seats: None,
                        reject_seats: None,
                        appeal_ends_at: None,
                        tallied_block: None,
                        block_number: block,
                        block_timestamp: log.at.block_timestamp,
                        tx_hash: log.at.tx_hash,
                        updated_block: block,
                    },
                );
                let task = self.task(log, sub.0, sub.1)?;
                task.verification_phase = Some(phase(Phase::Commit));
                task.verification_level = level;
                task.draws = draw + 1;
                task.phase_ends_at = Some(commit_ends_at);
                task.seed_block = None;
                self.network(block).draws += 1;
            }
            Ev::DrawDeferred(e) => {
                let (j, t) = (small("job id", e.jobId)?, small("task index", e.taskIndex)?);
                let retry_at = small("retry time", e.retryAt)?;
                let seed_block = small("seed block", e.seedBlock)?;
                let task = self.task(log, j, t)?;
                task.verification_phase = Some(phase(Phase::AwaitingDraw));
                task.seed_block = Some(seed_block);
                task.phase_ends_at = (retry_at != 0).then_some(retry_at);
                if e.empty {
                    task.deferrals += 1;
                }
            }
            Ev::VoteCommitted(e) => {
                let sub = self.submission(log, e.jobId, e.taskIndex)?;
                let key = (sub.0, sub.1, sub.2, small("draw", e.draw)?, e.verifier);
                let m = Self::record(&mut self.members, log, "member", &key)?;
                m.committed_block = Some(block);
                m.updated_block = block;
            }
            Ev::RevealStarted(e) => {
                let sub = self.submission(log, e.jobId, e.taskIndex)?;
                let ends = small("reveal end", e.revealEndsAt)?;
                let key = (sub.0, sub.1, sub.2, small("draw", e.draw)?);
                let d = Self::record(&mut self.draws, log, "draw", &key)?;
                d.reveal_ends_at = Some(ends);
                d.updated_block = block;
                let task = self.task(log, sub.0, sub.1)?;
                task.verification_phase = Some(phase(Phase::Reveal));
                task.phase_ends_at = Some(ends);
            }
            Ev::VoteRevealed(e) => {
                let sub = self.submission(log, e.jobId, e.taskIndex)?;
                let key = (sub.0, sub.1, sub.2, small("draw", e.draw)?, e.verifier);
                let m = Self::record(&mut self.members, log, "member", &key)?;
                m.approve = Some(e.approve);
                m.render_proof = Some(e.renderProof);
                m.revealed_block = Some(block);
                m.updated_block = block;
                self.network(block).votes += 1;
            }
            Ev::RoundTallied(e) => {
                let sub = self.submission(log, e.jobId, e.taskIndex)?;
                let v = verdict(e.verdict)?;
                let level = small("level", e.level)?;
                let appeal_ends_at = small("appeal end", e.appealEndsAt)?;
                let key = (sub.0, sub.1, sub.2, small("draw", e.draw)?);
                let d = Self::record(&mut self.draws, log, "draw", &key)?;
                d.verdict = Some(v.clone());
                d.approve_seats = Some(small("seats", e.approveSeats)?);
                d.reject_seats = Some(small("seats", e.rejectSeats)?);
                d.appeal_ends_at = Some(appeal_ends_at);
                d.tallied_block = Some(block);
                d.updated_block = block;
                let task = self.task(log, sub.0, sub.1)?;
                if v != "none" {
                    task.verdict = Some(v);
                }
                if appeal_ends_at != 0 {
                    task.verification_phase = Some(phase(Phase::Appealable));
                    task.phase_ends_at = Some(appeal_ends_at);
                } else {
                    // Escalated at once to the next level (or, at the last level, concluded by the settlement
                    // events that follow in this transaction).
                    task.verification_phase = Some(phase(Phase::AwaitingDraw));
                    task.verification_level = level + 1;
                    task.phase_ends_at = None;
                    task.seed_block = Some(block + DRAW_DELAY);
                }
            }
            Ev::VerdictAppealed(e) => {
                let sub = self.submission(log, e.jobId, e.taskIndex)?;
                self.check_loaded(log, sub)?;
                let level = small("level", e.level)?;
                Self::create(
                    &mut self.appeals,
                    (sub.0, sub.1, sub.2, level),
                    AppealRow {
                        job_id: sub.0,
                        task_index: sub.1,
                        attempt: sub.2,
                        level,
                        appellant: e.appellant,
                        request_approve: e.requestApprove,
                        bond: e.bond,
                        upheld: None,
                        settled_block: None,
                        block_number: block,
                        block_timestamp: log.at.block_timestamp,
                        tx_hash: log.at.tx_hash,
                        updated_block: block,
                    },
                );
                let task = self.task(log, sub.0, sub.1)?;
                task.verification_phase = Some(phase(Phase::AwaitingDraw));
                task.verification_level = level;
                task.phase_ends_at = None;
                task.seed_block = Some(block + DRAW_DELAY);
                self.network(block).appeals += 1;
            }
            Ev::DataChallenged(e) => {
                let sub = self.submission(log, e.jobId, e.taskIndex)?;
                self.check_loaded(log, sub)?;
                let draw = small("draw", e.draw)?;
                let respond_by = small("response deadline", e.respondBy)?;
                Self::create(
                    &mut self.challenges,
                    (sub.0, sub.1, sub.2, draw),
                    ChallengeRow {
                        job_id: sub.0,
                        task_index: sub.1,
                        attempt: sub.2,
                        draw,
                        challenger: e.challenger,
                        cells: e.cells.iter().map(|c| i64::from(*c)).collect(),
                        respond_by,
                        provided_by: None,
                        data_hashes: None,
                        provided_block: None,
                        block_number: block,
                        block_timestamp: log.at.block_timestamp,
                        tx_hash: log.at.tx_hash,
                        updated_block: block,
                    },
                );
                let task = self.task(log, sub.0, sub.1)?;
                task.verification_phase = Some(phase(Phase::DataChallenge));
                task.phase_ends_at = Some(respond_by);
                self.network(block).data_challenges += 1;
            }
            Ev::DataProvided(e) => {
                let sub = self.submission(log, e.jobId, e.taskIndex)?;
                let window = self.job(log, sub.0)?.challenge_window;
                let task = self.task(log, sub.0, sub.1)?;
                // The answer concerns the current draw, whose commit phase starts again for a window.
                let draw = task.draws - 1;
                task.verification_phase = Some(phase(Phase::Commit));
                task.phase_ends_at = Some(log.at.block_timestamp + window);
                let c = Self::record(
                    &mut self.challenges,
                    log,
                    "challenge",
                    &(sub.0, sub.1, sub.2, draw),
                )?;
                c.provided_by = Some(e.by);
                c.data_hashes = Some(e.dataHashes.clone());
                c.provided_block = Some(block);
                c.updated_block = block;
            }
            Ev::VoteSettled(e) => {
                let sub = self.submission(log, e.jobId, e.taskIndex)?;
                let key = (sub.0, sub.1, sub.2, small("draw", e.draw)?, e.verifier);
                let m = Self::record(&mut self.members, log, "member", &key)?;
                m.coherent = Some(e.coherent);
                m.slashed = Some(e.slashed);
                m.settled_block = Some(block);
                m.updated_block = block;
                if !e.slashed.is_zero()
                    && let Some(v) = self.verifier(e.verifier, block)
                {
                    v.stake = v.stake.saturating_sub(e.slashed);
                }
            }
            Ev::AppealSettled(e) => {
                let sub = self.submission(log, e.jobId, e.taskIndex)?;
                let key = (sub.0, sub.1, sub.2, small("level", e.level)?);
                let a = Self::record(&mut self.appeals, log, "appeal", &key)?;
                a.upheld = Some(e.upheld);
                a.settled_block = Some(block);
                a.updated_block = block;
            }
            Ev::TaskPaid(e) => {
                let (j, t) = (small("job id", e.jobId)?, small("task index", e.taskIndex)?);
                self.release(log, j, t)?;
                let task = self.task(log, j, t)?;
                let from = task.state;
                task.state = TaskStatus::Paid;
                task.pay_reason = Some(pay_reason(e.reason)?);
                Self::end_verification(task);
                task.worker_reward = Some(e.workerReward);
                self.leave_state(log, j, from)?;
                let job = self.job(log, j)?;
                job.tasks_paid += 1;
                job.paid_to_workers += e.workerReward;
                job.refresh_status();
                let token = job.token;
                self.account(e.worker, block).tasks_completed += 1;
                self.balance(e.worker, token, block).worker_rewards += e.workerReward;
                let totals = self.token(token, block);
                totals.paid_to_workers += e.workerReward;
                totals.protocol_fees += e.protocolFee;
                totals.verifier_fees += e.verifierFees;
                self.network(block).tasks_paid += 1;
            }
            Ev::TaskRejected(e) => {
                let (j, t) = (small("job id", e.jobId)?, small("task index", e.taskIndex)?);
                self.release(log, j, t)?;
                let task = self.task(log, j, t)?;
                task.times_rejected += 1;
                task.reject_reason = Some(reject_reason(e.reason)?);
                Self::end_verification(task);
                self.job(log, j)?.rejections += 1;
                self.account(e.worker, block).tasks_rejected += 1;
                self.network(block).tasks_rejected += 1;
            }
            Ev::TaskReopened(e) => {
                let (j, t) = (small("job id", e.jobId)?, small("task index", e.taskIndex)?);
                let reason = reopen_reason(e.reason)?;
                self.release(log, j, t)?;
                let task = self.task(log, j, t)?;
                let from = task.state;
                let expired = reason == "lease_expired";
                if expired {
                    task.times_expired += 1;
                }
                reset_claim(task);
                task.state = TaskStatus::Open;
                task.attempt = small("attempt", e.attempt)?;
                self.leave_state(log, j, from)?;
                self.job(log, j)?.tasks_open += 1;
                if expired {
                    self.account(e.previousWorker, block).tasks_expired += 1;
                    self.network(block).tasks_expired += 1;
                }
            }
            Ev::TaskRefunded(e) => {
                let (j, t) = (small("job id", e.jobId)?, small("task index", e.taskIndex)?);
                let reason = refund_reason(e.reason)?;
                let task = self.task(log, j, t)?;
                let (from, worker) = (task.state, task.worker);
                self.release(log, j, t)?;
                let task = self.task(log, j, t)?;
                // A claim whose lease expired after the deadline is refunded instead of reopened.
                let expired = from == TaskStatus::Claimed;
                if expired {
                    task.times_expired += 1;
                }
                task.state = TaskStatus::Refunded;
                task.refund_reason = Some(reason);
                Self::end_verification(task);
                task.lease_id = None;
                task.lease_expires_at = None;
                self.leave_state(log, j, from)?;
                let job = self.job(log, j)?;
                job.tasks_refunded += 1;
                job.refunded += e.amount;
                job.refresh_status();
                let token = job.token;
                self.token(token, block).refunded += e.amount;
                let net = self.network(block);
                net.tasks_refunded += 1;
                if expired {
                    net.tasks_expired += 1;
                }
                if expired && let Some(w) = worker {
                    self.account(w, block).tasks_expired += 1;
                }
            }
            Ev::BalanceCredited(e) => {
                let b = self.balance(e.account, e.token, block);
                b.balance += e.amount;
                b.credited += e.amount;
            }
            Ev::Withdrawn(e) => {
                let b = self.balance(e.account, e.token, block);
                b.balance = b.balance.saturating_sub(e.amount);
                b.withdrawn += e.amount;
            }
            Ev::Staked(e) => {
                self.account(e.account, block).bonded = e.bonded;
                self.network(block).staked += e.amount;
            }
            Ev::UnstakeRequested(e) => {
                let acct = self.account(e.account, block);
                acct.bonded = acct.bonded.saturating_sub(e.amount);
                acct.unbonding += e.amount;
                acct.unbonding_ready_at = small("unbonding ready time", e.readyAt)?;
                let net = self.network(block);
                net.staked = net.staked.saturating_sub(e.amount);
            }
            Ev::StakeWithdrawn(e) => {
                let acct = self.account(e.account, block);
                acct.unbonding = acct.unbonding.saturating_sub(e.amount);
                acct.unbonding_ready_at = 0;
            }
            Ev::StakeSlashed(e) => {
                let from_verifier_stake = self
                    .verifier_slashes
                    .contains(&(log.at.tx_hash, log.at.log_index));
                let acct = self.account(e.account, block);
                if !from_verifier_stake {
                    acct.bonded = acct.bonded.saturating_sub(e.amount);
                }
                acct.slashed += e.amount;
                let net = self.network(block);
                net.staked = net.staked.saturating_sub(e.amount);
                net.slashed += e.amount;
            }
            Ev::VerifierRegistered(e) => {
                let id = small("registry id", e.id)?;
                let tickets = small("tickets", e.tickets)?;
                let slot = self.verifiers.entry(e.verifier).or_insert(Slot {
                    before: None,
                    after: None,
                });
                // The stake added came out of bonded stake (registerVerifier bonds what it is sent first).
                let held = slot
                    .after
                    .as_ref()
                    .filter(|v| v.released_block.is_none())
                    .map(|v| v.stake);
                let added = match held {
                    Some(prev) => e.stake.saturating_sub(prev),
                    None => {
                        slot.after = Some(VerifierRow {
                            address: e.verifier,
                            registry_id: id,
                            tickets: 0,
                            stake: U256::ZERO,
                            registered_block: block,
                            left_block: None,
                            releasable_at: None,
                            released_block: None,
                            updated_block: block,
                        });
                        e.stake
                    }
                };
                if let Some(row) = slot.after.as_mut() {
                    row.registry_id = id;
                    row.tickets = tickets;
                    row.stake = e.stake;
                    row.updated_block = block;
                }
                let acct = self.account(e.verifier, block);
                acct.bonded = acct.bonded.saturating_sub(added);
            }
            Ev::VerifierLeft(e) => {
                let releasable_at = small("release block", e.releasableAt)?;
                if let Some(v) = self.verifier(e.verifier, block) {
                    v.left_block = Some(block);
                    v.releasable_at = Some(releasable_at);
                }
            }
            Ev::VerifierReleased(e) => {
                if let Some(v) = self.verifier(e.verifier, block) {
                    v.released_block = Some(block);
                    v.tickets = 0;
                    v.stake = U256::ZERO;
                }
                self.account(e.verifier, block).bonded += e.stake;
            }
            Ev::PausedSet(e) => self.network(block).paused = e.paused,
            Ev::ProtocolFeeSet(e) => {
                self.network(block).protocol_fee_bps = Some(small("protocol fee", e.feeBps)?)
            }
            Ev::TreasurySet(e) => self.network(block).treasury = Some(e.treasury),
            // The allow-list is read from the contract (`isTokenAllowed`); the event stays in the log.
            Ev::TokenAllowed(_) | Ev::OwnershipTransferStarted(_) | Ev::OwnershipTransferred(_) => {
            }
        }
        Ok(())
    }

    fn refund_open(
        &mut self,
        log: &ChainLog,
        job_id: i64,
        why: &str,
        refunded_tasks: U256,
        refund: U256,
    ) -> Result<(), ProjectError> {
        let block = log.at.block_number;
        let n = small("refunded tasks", refunded_tasks)?;
        // Open tasks of this batch held in memory follow the job's flag: they read as refunded through it.
        let job = self.job(log, job_id)?;
        job.open_refund = Some(why.to_owned());
        job.tasks_open -= n;
        job.tasks_refunded += n;
        job.refunded += refund;
        job.refresh_status();
        let token = job.token;
        self.token(token, block).refunded += refund;
        let net = self.network(block);
        net.tasks_refunded += n;
        if why == "cancelled" {
            net.jobs_cancelled += 1;
        }
        Ok(())
    }

    /// What the batch changed: rows to upsert, rows to delete never occur (rows only appear), and the
    /// before-images for the undo journal.
    pub fn undo(&self) -> Vec<Undo> {
        fn push<K, T: Serialize + Clone + PartialEq>(
            out: &mut Vec<Undo>,
            entity: &'static str,
            slots: &BTreeMap<K, Slot<T>>,
            key: impl Fn(&K) -> String,
        ) {
            for (k, slot) in slots.iter().filter(|(_, s)| s.changed()) {
                out.push(Undo {
                    entity,
                    key: key(k),
                    image: slot
                        .before
                        .as_ref()
                        .map(|r| serde_json::to_value(r).expect("rows serialize")),
                });
            }
        }
        let mut out = Vec::new();
        push(&mut out, entity::JOB, &self.jobs, |k| k.to_string());
        push(&mut out, entity::TASK, &self.tasks, |(j, t)| {
            format!("{j}/{t}")
        });
        push(
            &mut out,
            entity::ACCOUNT,
            &self.accounts,
            crate::model::addr,
        );
        push(&mut out, entity::BALANCE, &self.balances, |(a, t)| {
            format!("{}/{}", crate::model::addr(a), crate::model::addr(t))
        });
        push(&mut out, entity::TOKEN, &self.tokens, crate::model::addr);
        push(&mut out, entity::DRAW, &self.draws, |(j, t, a, d)| {
            format!("{j}/{t}/{a}/{d}")
        });
        push(
            &mut out,
            entity::MEMBER,
            &self.members,
            |(j, t, a, d, v)| format!("{j}/{t}/{a}/{d}/{}", crate::model::addr(v)),
        );
        push(&mut out, entity::APPEAL, &self.appeals, |(j, t, a, l)| {
            format!("{j}/{t}/{a}/{l}")
        });
        push(
            &mut out,
            entity::CHALLENGE,
            &self.challenges,
            |(j, t, a, d)| format!("{j}/{t}/{a}/{d}"),
        );
        push(
            &mut out,
            entity::VERIFIER,
            &self.verifiers,
            crate::model::addr,
        );
        if let Some(n) = self.network.as_ref().filter(|s| s.changed()) {
            out.push(Undo {
                entity: entity::NETWORK,
                key: String::new(),
                image: n
                    .before
                    .as_ref()
                    .map(|r| serde_json::to_value(r).expect("rows serialize")),
            });
        }
        out
    }
}

fn reset_claim(task: &mut TaskRow) {
    task.worker = None;
    task.lease_id = None;
    task.lease_expires_at = None;
    task.stake = None;
    task.output_cid = None;
    task.cell_root = None;
    task.submitted_block = None;
    task.verification_phase = None;
    task.verification_level = 0;
    task.draws = 0;
    task.deferrals = 0;
    task.phase_ends_at = None;
    task.seed_block = None;
    task.verdict = None;
}

/// The rows a batch changed, for the store to write.
pub fn changed<K, T: Clone + PartialEq>(slots: &BTreeMap<K, Slot<T>>) -> Vec<T> {
    slots
        .values()
        .filter(|s| s.changed())
        .filter_map(|s| s.after.clone())
        .collect()
}
