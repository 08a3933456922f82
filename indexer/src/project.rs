//! Applies decoded events, in chain order, to the projection rows they touch. The store loads those rows
//! (their before-images), this module changes them in memory, and the store writes back what changed — in bulk,
//! in the same transaction as the logs and the cursor. Keeping the rules here, free of SQL, lets one code path
//! serve backfill, the live tail, rebuilding after a deep reorg, and unit tests.

use crate::events::{ChainLog, DecodeError, pay_reason, refund_reason, reopen_reason, small};
use crate::model::{
    AccountRow, AttestationRow, BalanceRow, JobRow, JobStatus, JobWorkerRow, NetworkRow, TaskRow,
    TaskStatus, TokenTotalsRow,
};
use alloy::primitives::{Address, U256};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use tessera_bindings::DistributedRender::DistributedRenderEvents as Ev;

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
    /// A value could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

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
    /// Attestations counted in this batch.
    pub attestations: Vec<AttestationRow>,
    /// First claims of a worker on a job in this batch.
    pub job_workers: Vec<JobWorkerRow>,
    new_job_ids: BTreeSet<i64>,
}

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
        for log in logs {
            let (job, task) = job_task_ids(log)?;
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
                Ev::TaskAttested(e) => _ = keys.accounts.insert(e.verifier),
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
                Ev::VerifierEquivocated(e) => _ = keys.accounts.insert(e.verifier),
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
                let task = self.task(log, j, t)?;
                let from = task.state;
                task.state = TaskStatus::Submitted;
                task.attempt = small("attempt", e.attempt)?;
                task.output_cid = Some(e.outputCid.clone());
                task.cell_root = Some(e.cellRoot);
                task.submitted_block = Some(block);
                task.challenge_ends_at = Some(small("challenge end", e.challengeEndsAt)?);
                task.approvals = 0;
                task.rejections = 0;
                self.leave_state(log, j, from)?;
                self.job(log, j)?.tasks_submitted += 1;
                self.account(e.worker, block).tasks_submitted += 1;
            }
            Ev::TaskAttested(e) => {
                let (j, t) = (small("job id", e.jobId)?, small("task index", e.taskIndex)?);
                let task = self.task(log, j, t)?;
                if e.approve {
                    task.approvals += 1;
                } else {
                    task.rejections += 1;
                }
                let acct = self.account(e.verifier, block);
                acct.attestations += 1;
                if e.approve {
                    acct.approvals += 1;
                } else {
                    acct.rejections += 1;
                }
                self.network(block).attestations += 1;
                self.attestations.push(AttestationRow {
                    tx_hash: log.at.tx_hash,
                    log_index: log.at.log_index,
                    job_id: j,
                    task_index: t,
                    attempt: small("attempt", e.attempt)?,
                    verifier: e.verifier,
                    approve: e.approve,
                    block_number: block,
                });
            }
            Ev::TaskPaid(e) => {
                let (j, t) = (small("job id", e.jobId)?, small("task index", e.taskIndex)?);
                self.release(log, j, t)?;
                let task = self.task(log, j, t)?;
                let from = task.state;
                task.state = TaskStatus::Paid;
                task.pay_reason = Some(pay_reason(e.reason)?);
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
                self.task(log, j, t)?.times_rejected += 1;
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
                let acct = self.account(e.account, block);
                acct.bonded = acct.bonded.saturating_sub(e.amount);
                acct.slashed += e.amount;
                let net = self.network(block);
                net.staked = net.staked.saturating_sub(e.amount);
                net.slashed += e.amount;
            }
            Ev::VerifierEquivocated(e) => {
                self.account(e.verifier, block).equivocations += 1;
                self.network(block).equivocations += 1;
            }
            Ev::PausedSet(e) => self.network(block).paused = e.paused,
            Ev::ProtocolFeeSet(e) => {
                self.network(block).protocol_fee_bps = Some(small("protocol fee", e.feeBps)?)
            }
            Ev::TreasurySet(e) => self.network(block).treasury = Some(e.treasury),
            Ev::OwnershipTransferStarted(_)
            | Ev::OwnershipTransferred(_)
            | Ev::EIP712DomainChanged(_) => {}
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
    task.challenge_ends_at = None;
    task.approvals = 0;
    task.rejections = 0;
}

/// The rows a batch changed, for the store to write.
pub fn changed<K, T: Clone + PartialEq>(slots: &BTreeMap<K, Slot<T>>) -> Vec<T> {
    slots
        .values()
        .filter(|s| s.changed())
        .filter_map(|s| s.after.clone())
        .collect()
}
