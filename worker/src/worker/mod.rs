//! Worker mode: find, choose, fetch and check, claim ([`claim`]), render, publish, submit ([`produce`]),
//! follow each submission through its verification to settlement, answering data challenges, keeping draws
//! going and appealing wrong rejections ([`follow`]), withdraw.
//!
//! Each task the worker takes has one record in the store, keyed by (job, task), whose phase is written
//! before the step it names:
//!
//! `Claiming` → `Claimed` → `Rendered` → `Uploaded` → `Submitting` → `Submitted` → `Done`
//!
//! On restart every record that is not `Done` is reconciled with `getTask` before anything is sent: a claim
//! that did not land is forgotten, one that did is rendered; outputs already on disk are not rendered again;
//! a submission that landed is followed, not repeated; a lease that ran out is given up. A task claimed by
//! this account that the store does not know (its record was lost) is adopted from the `TaskClaimed` logs.
//! A task is claimed only when no record for it is active, so the worker never claims a task twice.

mod claim;
mod follow;
mod produce;

pub use claim::{policy_refuses, task_msamples};
pub use produce::{render_task, write_outputs};

use crate::{Ctx, Metrics};
use alloy::sol_types::SolEvent;
use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use tessera_bindings::DistributedRender::TaskClaimed;
use tessera_bindings::TaskState;
use tessera_bindings::market::JobInfo;

/// Where a task stands for this worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// A claim is being sent.
    Claiming,
    /// Leased to us; to render.
    Claimed,
    /// Outputs written locally.
    Rendered,
    /// Outputs on IPFS.
    Uploaded,
    /// The result is being sent.
    Submitting,
    /// Committed on-chain; awaiting settlement.
    Submitted,
    /// Finished (see the outcome).
    Done,
}

/// How a task ended for this worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Paid.
    Paid,
    /// Its escrow went back to the artist (unverified, cancelled or past the deadline).
    Refunded,
    /// Verifiers rejected it.
    Rejected,
    /// The lease ran out, or the claim never landed.
    Lost,
    /// Given up on purpose while claimed (its scene was refused since): the lease is left to run out, and
    /// the claim is not taken up again.
    Abandoned,
}

/// One task's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Job id.
    pub job: u64,
    /// Task index.
    pub task: u64,
    /// The attempt this claim renders.
    pub attempt: u64,
    /// Phase.
    pub phase: Phase,
    /// Lease end (chain time).
    pub lease_until: u64,
    /// Cell root of the rendered outputs, hex.
    pub root: Option<String>,
    /// Output directory CID.
    pub cid: Option<String>,
    /// The outcome, once done.
    pub outcome: Option<Outcome>,
}

impl TaskRecord {
    fn key(job: u64, task: u64) -> String {
        format!("task/{job:020}/{task:010}")
    }

    fn label(&self) -> String {
        format!("job {} task {}", self.job, self.task)
    }
}

/// A task someone could claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// Job id.
    pub job: u64,
    /// Task index.
    pub task: u64,
    /// Claimed by someone whose lease ran out: reopen it first.
    pub expired: bool,
}

/// Store key of the block the next orphan scan starts from.
const ORPHAN_CURSOR: &str = "orphans/from";
/// Rounds between scans for claims the store does not know (a claim's receipt may never have come).
const ORPHAN_ROUNDS: u64 = 60;
/// Blocks each orphan scan reads again before its cursor.
const ORPHAN_OVERLAP: u64 = 64;
/// A render no longer wanted (its claim ended) that has run this long is reported, once: it holds the
/// machine, and no task is claimed until it returns.
const DRAINING_WARN_SECS: u64 = 900;

/// The worker.
pub struct Worker {
    ctx: Ctx,
    book: crate::JobBook,
    /// Scene CIDs refused for good (too large, unparsable), with the reason.
    refused: HashSet<String>,
    /// Whether the indexer being unreachable was already logged (once per outage).
    indexer_down_logged: bool,
    /// Jobs whose tasks were passed over (lease too short, stake short, scene unavailable), with the chain
    /// time until which they are not looked at again: they must not hide newer jobs.
    passed: HashMap<u64, u64>,
    /// Per renderer, the open-task cursor where a round's skipping ran out of pages: the next round goes on
    /// from there.
    skip_cursor: HashMap<String, String>,
    /// Scene fetches under way, by CID: rounds go on evaluating other jobs while they run.
    fetching: HashMap<String, tokio::task::JoinHandle<Result<(), crate::SceneFetch>>>,
    /// Scenes no fetch could get, by CID: the chain time until which they are not tried again, and the
    /// failures in a row (the wait doubles with each, from a minute to an hour).
    unavailable: HashMap<String, (u64, u32)>,
    /// Renders under way, by task record key: rounds go on following the other tasks (a data challenge to
    /// answer within its window) while one renders.
    rendering: HashMap<String, produce::Rendering>,
    /// Renders no longer wanted (their claim ended) that still run: a thread cannot be stopped, and no
    /// other render or claim starts until they end (they hold the cores, or the GPU's memory).
    draining: Vec<produce::Rendering>,
}

impl Worker {
    /// A worker over `ctx`.
    pub fn new(ctx: Ctx) -> Self {
        let book = crate::JobBook::new(&ctx.chain.deployment);
        Self {
            ctx,
            book,
            refused: HashSet::new(),
            indexer_down_logged: false,
            passed: HashMap::new(),
            skip_cursor: HashMap::new(),
            fetching: HashMap::new(),
            unavailable: HashMap::new(),
            rendering: HashMap::new(),
            draining: Vec::new(),
        }
    }

    fn records(&self) -> Result<Vec<TaskRecord>> {
        Ok(self
            .ctx
            .store
            .list::<TaskRecord>("task/")?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    fn save(&self, r: &TaskRecord) -> Result<()> {
        self.ctx.store.put(&TaskRecord::key(r.job, r.task), r)
    }

    fn finish(&self, r: &mut TaskRecord, outcome: Outcome, why: &str) -> Result<()> {
        r.phase = Phase::Done;
        r.outcome = Some(outcome);
        self.save(r)?;
        let kind = format!("{outcome:?}").to_lowercase();
        Metrics::inc(&self.ctx.metrics.outcomes, &kind);
        tracing::info!(job = r.job, task = r.task, outcome = %kind, why, "task finished");
        Ok(())
    }

    /// Runs until shutdown.
    pub async fn run(mut self) -> Result<()> {
        self.ctx
            .top_up_stake()
            .await
            .context("bonding the stake target")?;
        self.adopt_orphans().await?;
        for s in self.ctx.store.list::<String>("refused/")? {
            self.refused
                .insert(s.0.trim_start_matches("refused/").to_owned());
        }
        self.review_loads()?;
        let mut rounds: u64 = 0;
        while !self.ctx.stopping() {
            if let Err(e) = self.round().await {
                Metrics::inc(&self.ctx.metrics.errors, "round");
                tracing::warn!(error = %format!("{e:#}"), "round failed; retrying");
            }
            rounds += 1;
            if rounds.is_multiple_of(ORPHAN_ROUNDS)
                && let Err(e) = self.adopt_orphans().await
            {
                Metrics::inc(&self.ctx.metrics.errors, "round");
                tracing::warn!(error = %format!("{e:#}"), "looking for claims the store does not know failed; retrying later");
            }
            self.ctx.pause().await;
        }
        tracing::info!("shutting down: state saved, a restart resumes");
        Ok(())
    }

    async fn round(&mut self) -> Result<()> {
        // The round's reads of the market are made at this head (and this worker's receipts since).
        self.ctx.chain.pin().await?;
        self.book.refresh(&self.ctx.chain).await?;
        let mut now = self.ctx.chain.now().await?;
        let mut busy = false;
        for mut r in self.records()? {
            if r.phase == Phase::Done {
                continue;
            }
            if self.ctx.stopping() {
                return Ok(());
            }
            let rendered = r.phase == Phase::Claimed;
            if let Err(e) = self.step(&mut r, now).await {
                // One task's failure must not keep the others (a data challenge to answer) waiting.
                Metrics::inc(&self.ctx.metrics.errors, "task");
                tracing::warn!(job = r.job, task = r.task, error = %format!("{e:#}"), "task step failed; the others go on");
            }
            if rendered && r.phase != Phase::Claimed {
                // Writing a render's outputs takes a while: read the chain's clock again.
                now = self.ctx.chain.now().await?;
            }
            busy |= matches!(
                r.phase,
                Phase::Claiming
                    | Phase::Claimed
                    | Phase::Rendered
                    | Phase::Uploaded
                    | Phase::Submitting
            );
        }
        // A render whose task is no longer claimed by this attempt (the lease ran out, the task moved on) is
        // not waited for: its thread runs to its end (it holds the machine until then), and its result is
        // dropped.
        let records = self.records()?;
        let (wanted, unwanted): (HashMap<_, _>, HashMap<_, _>) =
            std::mem::take(&mut self.rendering)
                .into_iter()
                .partition(|(key, running)| {
                    records.iter().any(|r| {
                        TaskRecord::key(r.job, r.task) == *key
                            && r.phase == Phase::Claimed
                            && r.attempt == running.attempt
                    })
                });
        self.rendering = wanted;
        self.draining.extend(unwanted.into_values());
        self.draining.retain(|d| !d.handle.is_finished());
        busy |= !self.draining.is_empty();
        // The oldest render still running: one that never returns (a hung device) holds the machine, and no
        // task is claimed until a restart.
        let running = self
            .rendering
            .values()
            .chain(&self.draining)
            .filter(|r| !r.handle.is_finished())
            .map(produce::Rendering::seconds)
            .max()
            .unwrap_or(0);
        self.ctx
            .metrics
            .render_running
            .set(i64::try_from(running).unwrap_or(i64::MAX));
        for d in &mut self.draining {
            if !d.warned && d.seconds() >= DRAINING_WARN_SECS {
                d.warned = true;
                tracing::warn!(
                    secs = d.seconds(),
                    "a render no longer wanted still runs: no task is claimed until it returns (a restart ends it)"
                );
            }
        }
        let active = records.iter().filter(|r| r.phase != Phase::Done).count();
        self.ctx
            .metrics
            .active
            .set(i64::try_from(active).unwrap_or(i64::MAX));
        if !busy && !self.ctx.stopping() {
            self.take_one(now).await?;
        }
        self.ctx.withdraw_if_due().await?;
        Ok(())
    }

    /// Tasks claimed by this account that the store does not know (a lost record, a claim whose receipt never
    /// came): adopt them. Reads `TaskClaimed` logs from where the last scan ended, less `ORPHAN_OVERLAP`
    /// blocks (a reorg may have moved a claim), at start and every `ORPHAN_ROUNDS` rounds.
    async fn adopt_orphans(&self) -> Result<()> {
        let c = &self.ctx.chain;
        let head = c.head().await?;
        let from = self
            .ctx
            .store
            .get::<u64>(ORPHAN_CURSOR)?
            .unwrap_or(c.deployment.deployment_block)
            .max(c.deployment.deployment_block);
        let logs = c
            .logs(vec![TaskClaimed::SIGNATURE_HASH], from, head, Some(c.me))
            .await?;
        let now = c.now().await?;
        for log in logs {
            let e = log.log_decode::<TaskClaimed>()?.inner.data;
            let (job, task) = (e.jobId.to::<u64>(), e.taskIndex.to::<u64>());
            let record = self
                .ctx
                .store
                .get::<TaskRecord>(&TaskRecord::key(job, task))?;
            if record.as_ref().is_some_and(|r| r.phase != Phase::Done) {
                continue;
            }
            let v = c.task(job, task).await?;
            // A claim given up on purpose (its scene refused) is not taken up again; one whose record ended by
            // mistake (a claim read as not landed, then mined) is.
            if record
                .is_some_and(|r| r.attempt == v.attempt && r.outcome == Some(Outcome::Abandoned))
            {
                continue;
            }
            // A lease that ran out is no task to take up (its record, if any, ended as lost).
            if v.state == TaskState::Claimed && v.worker == c.me && now < v.until {
                tracing::warn!(job, task, "adopting a claimed task the store did not know");
                self.save(&TaskRecord {
                    job,
                    task,
                    attempt: v.attempt,
                    phase: Phase::Claimed,
                    lease_until: v.until,
                    root: None,
                    cid: None,
                    outcome: None,
                })?;
            }
        }
        self.ctx
            .store
            .put(ORPHAN_CURSOR, &head.saturating_sub(ORPHAN_OVERLAP))?;
        Ok(())
    }

    /// Advances one record by at most one phase (rendering included).
    async fn step(&mut self, r: &mut TaskRecord, now: u64) -> Result<()> {
        let c = self.ctx.chain.clone();
        let v = c.task(r.job, r.task).await?;
        let ours = v.worker == c.me;
        match r.phase {
            Phase::Claiming => {
                if v.state == TaskState::Claimed && ours {
                    r.phase = Phase::Claimed;
                    r.lease_until = v.until;
                    r.attempt = v.attempt;
                    self.save(r)?;
                } else {
                    self.finish(r, Outcome::Lost, "the claim did not land")?;
                }
            }
            Phase::Claimed | Phase::Rendered | Phase::Uploaded | Phase::Submitting => {
                if v.state == TaskState::Submitted && ours && v.attempt == r.attempt {
                    r.phase = Phase::Submitted;
                    self.save(r)?;
                    return Ok(());
                }
                if !(v.state == TaskState::Claimed && ours) || now >= v.until {
                    return self.finish(r, Outcome::Lost, "the lease ended or the task moved on");
                }
                r.lease_until = v.until;
                match r.phase {
                    Phase::Claimed => self.render(r).await?,
                    Phase::Rendered => self.upload(r).await?,
                    _ => self.submit(r).await?,
                }
            }
            Phase::Submitted => self.follow(r, v, now).await?,
            Phase::Done => {}
        }
        Ok(())
    }

    fn out_dir(&self, r: &TaskRecord) -> PathBuf {
        self.ctx
            .cfg
            .outputs_dir()
            .join(format!("{}-{}-{}", r.job, r.task, r.attempt))
    }

    fn job(&self, id: u64) -> Result<JobInfo> {
        self.book
            .get(id)
            .cloned()
            .ok_or_else(|| anyhow!("job {id} is not in the job book"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::{CommonArgs, Config, VerifierArgs, WorkerArgs};
    use std::path::PathBuf;

    fn job(renderer: &str, reward_wei: u128) -> JobInfo {
        let mut spec = tessera_devnet::job_spec(1, reward_wei, 0, u32::MAX);
        spec.rendererId = renderer.into();
        spec.settings.width = 1000;
        spec.settings.height = 100;
        spec.settings.samplesPerPixel = 10;
        spec.settings.frameCount = 1;
        spec.settings.regionsX = 1;
        spec.settings.regionsY = 1;
        spec.settings.cellSize = 10;
        JobInfo {
            id: 1,
            artist: alloy::primitives::Address::ZERO,
            token: alloy::primitives::Address::ZERO,
            spec,
            task_count: 1,
            cancelled: false,
            posted_block: 0,
        }
    }

    fn cfg(min: f64) -> Config {
        Config::resolve(
            CommonArgs {
                deployment: Some("d.json".into()),
                ..CommonArgs::default()
            },
            WorkerArgs {
                min_gwei_per_msample: Some(min),
                ..WorkerArgs::default()
            },
            VerifierArgs::default(),
        )
        .unwrap()
    }

    #[test]
    fn the_policy_refuses_other_renderers_and_low_prices() {
        // 1000 x 100 px x 10 spp = 1 Msample per task.
        let c = cfg(500.0);
        let ok = job(tessera_render::RENDERER_ID, 500_000_000_000);
        assert_eq!(policy_refuses(&c, &ok), None);
        let cheap = job(tessera_render::RENDERER_ID, 499_000_000_000);
        assert!(
            policy_refuses(&c, &cheap)
                .unwrap()
                .contains("499.000 gwei per Msample")
        );
        let other = job("blender-cycles/4.2", 10u128.pow(18));
        assert!(
            policy_refuses(&c, &other)
                .unwrap()
                .contains("not supported")
        );
        assert!((task_msamples(&ok.settings()) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn configuration_layers_file_under_flags_and_rejects_bad_values() {
        let dir = std::env::temp_dir().join(format!("tessera-worker-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("worker.toml");
        std::fs::write(
            &file,
            "deployment = \"from-file.json\"\npoll_ms = 900\nmin_gwei_per_msample = 3.0\ntickets = 12\n",
        )
        .unwrap();
        let c = Config::resolve(
            CommonArgs {
                config: Some(file.clone()),
                poll_ms: Some(50),
                ..CommonArgs::default()
            },
            WorkerArgs::default(),
            VerifierArgs::default(),
        )
        .unwrap();
        assert_eq!(c.deployment, PathBuf::from("from-file.json"));
        assert_eq!(
            c.poll,
            std::time::Duration::from_millis(50),
            "the flag wins"
        );
        assert!((c.min_gwei_per_msample - 3.0).abs() < f64::EPSILON);
        assert_eq!(c.tickets, 12);
        std::fs::write(&file, "deployment = \"x\"\nunknown_key = 1\n").unwrap();
        let err = Config::resolve(
            CommonArgs {
                config: Some(file),
                ..CommonArgs::default()
            },
            WorkerArgs::default(),
            VerifierArgs::default(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("unknown_key"), "{err:#}");
        let err = Config::resolve(
            CommonArgs {
                deployment: Some("d.json".into()),
                backend: Some("tpu".into()),
                ..CommonArgs::default()
            },
            WorkerArgs::default(),
            VerifierArgs::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("tpu"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
