//! Worker mode: find, choose, fetch and check, claim, render, publish, submit, follow, withdraw.
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

use crate::{Ctx, Metrics, Progress, SceneFetch};
use alloy::primitives::{B256, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolEvent;
use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tessera_bindings::DistributedRender::TaskClaimed;
use tessera_bindings::TaskState;
use tessera_bindings::market::{JobInfo, TaskView};
use tessera_ipfs::AddOptions;
use tessera_render::RegionImage;

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

/// The worker.
pub struct Worker {
    ctx: Ctx,
    book: crate::JobBook,
    /// Scene CIDs refused for good (too large, unparsable), with the reason.
    refused: HashSet<String>,
    /// Whether the indexer being unreachable was already logged (once per outage).
    indexer_down_logged: bool,
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
        while !self.ctx.stopping() {
            if let Err(e) = self.round().await {
                Metrics::inc(&self.ctx.metrics.errors, "round");
                tracing::warn!(error = %format!("{e:#}"), "round failed; retrying");
            }
            self.ctx.pause().await;
        }
        tracing::info!("shutting down: state saved, a restart resumes");
        Ok(())
    }

    async fn round(&mut self) -> Result<()> {
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
            let rendering = r.phase == Phase::Claimed;
            self.step(&mut r, now).await?;
            if rendering {
                // A render takes a while: read the chain's clock again.
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
        let active = self
            .records()?
            .iter()
            .filter(|r| r.phase != Phase::Done)
            .count();
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

    /// Tasks claimed by this account that the store does not know (e.g. a lost record): adopt them.
    async fn adopt_orphans(&self) -> Result<()> {
        let c = &self.ctx.chain;
        let head = c.provider.get_block_number().await?;
        let logs = c
            .logs(
                vec![TaskClaimed::SIGNATURE_HASH],
                c.deployment.deployment_block,
                head,
                Some(c.me),
            )
            .await?;
        for log in logs {
            let e = log.log_decode::<TaskClaimed>()?.inner.data;
            let (job, task) = (e.jobId.to::<u64>(), e.taskIndex.to::<u64>());
            let known = self
                .ctx
                .store
                .get::<TaskRecord>(&TaskRecord::key(job, task))?
                .is_some_and(|r| r.phase != Phase::Done);
            if known {
                continue;
            }
            let v = c.task(job, task).await?;
            if v.state == TaskState::Claimed && v.worker == c.me {
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

    async fn render(&mut self, r: &mut TaskRecord) -> Result<()> {
        let job = self.job(r.job)?;
        let glb = match self.ctx.scene(&job.spec.sceneCid).await {
            Ok(b) => b,
            Err(SceneFetch::Unavailable(e)) => {
                tracing::warn!(job = r.job, error = %e, "scene unavailable; retrying");
                return Ok(());
            }
            Err(SceneFetch::Refused(e)) => bail!("job {}: {e}", r.job),
        };
        let settings = job.settings();
        let t = settings.task(r.task).map_err(|e| anyhow!("{e}"))?;
        let backend = self.ctx.backend.clone();
        let progress = Arc::new(Progress::new(r.label()));
        let started = Instant::now();
        tracing::info!(job = r.job, task = r.task, frame = t.frame, region = ?t.region, "rendering");
        let index = r.task;
        let scenes = self.ctx.scenes.clone();
        let cid = job.spec.sceneCid.clone();
        let mut handle = tokio::task::spawn_blocking(move || {
            let scene = scenes.get(&cid, &glb, &settings, t.frame)?;
            render_task(&scene, &settings, index, &backend, &move |d, n| {
                progress.update(d, n);
            })
        });
        let mut stop = self.ctx.shutdown.clone();
        let img = tokio::select! {
            res = &mut handle => res.context("render thread")??,
            _ = stop.wait_for(|s| *s) => {
                tracing::info!(job = r.job, task = r.task, "render interrupted by shutdown; it restarts with the daemon");
                return Ok(());
            }
        };
        self.ctx
            .metrics
            .work_seconds
            .observe(started.elapsed().as_secs_f64());
        let dir = self.out_dir(r);
        write_outputs(&dir, &img, &settings)?;
        r.root = Some(tessera_common::to_hex(&img.root));
        r.phase = Phase::Rendered;
        self.save(r)?;
        tracing::info!(job = r.job, task = r.task, secs = started.elapsed().as_secs_f64(), root = ?r.root, "rendered");
        Ok(())
    }

    async fn upload(&self, r: &mut TaskRecord) -> Result<()> {
        let dir = self.out_dir(r);
        let mut files = Vec::new();
        for name in ["raw.tsr", "leaves.json", "preview.png"] {
            match std::fs::read(dir.join(name)) {
                Ok(b) => files.push((name, b)),
                Err(_) => {
                    // The outputs are gone (a wiped data dir): render again.
                    r.phase = Phase::Claimed;
                    return self.save(r);
                }
            }
        }
        let name = format!("tessera-{}-{}-{}", r.job, r.task, r.attempt);
        match self
            .ctx
            .ipfs
            .add_directory(&name, &files, AddOptions::default())
            .await
        {
            Ok(added) => {
                r.cid = Some(added.cid);
                r.phase = Phase::Uploaded;
                self.save(r)
            }
            Err(e) => {
                Metrics::inc(&self.ctx.metrics.errors, "ipfs");
                tracing::warn!(job = r.job, task = r.task, error = %e, "publishing to IPFS failed; retrying");
                Ok(())
            }
        }
    }

    async fn submit(&self, r: &mut TaskRecord) -> Result<()> {
        let (Some(cid), Some(root)) = (r.cid.clone(), r.root.clone()) else {
            r.phase = Phase::Claimed;
            return self.save(r);
        };
        let root = tessera_common::parse_hex32(&root).context("stored root")?;
        r.phase = Phase::Submitting;
        self.save(r)?;
        let c = &self.ctx.chain;
        c.send(
            c.market.submitResult(
                U256::from(r.job),
                U256::from(r.task),
                cid.clone(),
                B256::from(root),
            ),
            &format!("submitting {}", r.label()),
        )
        .await?;
        self.ctx.metrics.submissions.inc();
        r.phase = Phase::Submitted;
        self.save(r)?;
        tracing::info!(job = r.job, task = r.task, %cid, "result submitted");
        Ok(())
    }

    async fn follow(&self, r: &mut TaskRecord, v: TaskView, now: u64) -> Result<()> {
        let c = &self.ctx.chain;
        match v.state {
            TaskState::Paid if v.attempt == r.attempt => self.finish(r, Outcome::Paid, "paid"),
            TaskState::Refunded if v.attempt == r.attempt => {
                self.finish(r, Outcome::Refunded, "escrow refunded")
            }
            TaskState::Submitted if v.attempt == r.attempt => {
                if now >= v.until {
                    // Anyone may settle after the challenge window; do it for our own task.
                    c.send(
                        c.market.finalizeTask(U256::from(r.job), U256::from(r.task)),
                        &format!("finalizing {}", r.label()),
                    )
                    .await?;
                }
                Ok(())
            }
            _ => self.finish(r, Outcome::Rejected, "the result was rejected"),
        }
    }

    /// Finds one acceptable task and claims it.
    async fn take_one(&mut self, now: u64) -> Result<()> {
        let candidates = self.candidates(now).await?;
        for cand in candidates {
            if self.ctx.stopping() {
                return Ok(());
            }
            if let Some(r) = self
                .ctx
                .store
                .get::<TaskRecord>(&TaskRecord::key(cand.job, cand.task))?
                && r.phase != Phase::Done
            {
                continue;
            }
            let Some(job) = self.book.get(cand.job).cloned() else {
                continue;
            };
            if let Some(why) = self.policy_refuses(&job) {
                tracing::debug!(job = job.id, why, "skipping job");
                continue;
            }
            match self.prepare(&job, cand, now).await? {
                Prepared::Go => {}
                Prepared::Skip => continue,
            }
            self.claim(&job, cand).await?;
            return Ok(());
        }
        Ok(())
    }

    /// Why the policy refuses `job`, if it does (the checks that need no scene).
    fn policy_refuses(&self, job: &JobInfo) -> Option<String> {
        if self.refused.contains(&job.spec.sceneCid) {
            return Some("its scene was refused".into());
        }
        policy_refuses(&self.ctx.cfg, job)
    }

    fn refuse_scene(&mut self, cid: &str, reason: &str, why: &str) -> Result<()> {
        tracing::warn!(
            scene = cid,
            why,
            "refusing scene: no task of its jobs will be claimed"
        );
        Metrics::inc(&self.ctx.metrics.scenes_refused, reason);
        self.refused.insert(cid.to_owned());
        self.ctx
            .store
            .put(&format!("refused/{cid}"), &why.to_owned())
    }

    /// Fetches and checks the scene, and checks the lease and deadline are reachable at the measured speed.
    async fn prepare(&mut self, job: &JobInfo, cand: Candidate, now: u64) -> Result<Prepared> {
        let cid = job.spec.sceneCid.clone();
        let glb = match self.ctx.scene(&cid).await {
            Ok(b) => b,
            Err(SceneFetch::Refused(why)) => {
                self.refuse_scene(&cid, "size", &why)?;
                return Ok(Prepared::Skip);
            }
            Err(SceneFetch::Unavailable(e)) => {
                Metrics::inc(&self.ctx.metrics.errors, "ipfs");
                tracing::warn!(scene = %cid, error = %e, "scene unavailable; retrying later");
                return Ok(Prepared::Skip);
            }
        };
        let settings = job.settings();
        let Ok(t) = settings.task(cand.task) else {
            return Ok(Prepared::Skip);
        };
        let backend = self.ctx.backend.clone();
        // Load the scene and render a small, low-sample probe of the task: it proves the scene renders and
        // measures this machine's speed on it.
        let scenes = self.ctx.scenes.clone();
        let cid2 = cid.clone();
        let probe = tokio::task::spawn_blocking(move || -> Result<f64, String> {
            let scene = scenes
                .get(&cid2, &glb, &settings, t.frame)
                .map_err(|e| e.to_string())?;
            let w = (settings.width / 8).max(8).min(settings.width);
            let h = (settings.height / 8).max(8).min(settings.height);
            let probe = tessera_render::RenderSettings {
                width: w,
                height: h,
                samples_per_pixel: (settings.samples_per_pixel / 8).max(1),
                regions_x: 1,
                regions_y: 1,
                frame_count: 1,
                ..settings
            };
            let started = Instant::now();
            tessera_render::render_region(&scene, &probe, probe.full_frame(), &backend, &|_, _| {})
                .map_err(|e| e.to_string())?;
            let samples = f64::from(w) * f64::from(h) * f64::from(probe.samples_per_pixel);
            Ok(samples / started.elapsed().as_secs_f64().max(1e-6))
        })
        .await
        .context("probe thread")?;
        let speed = match probe {
            Ok(s) => s,
            Err(why) => {
                self.refuse_scene(
                    &cid,
                    "invalid",
                    &format!("scene {cid} cannot be rendered: {why}"),
                )?;
                return Ok(Prepared::Skip);
            }
        };
        let secs = task_msamples(&job.settings()) * 1e6 / speed * self.ctx.cfg.time_safety + 10.0;
        let lease_end = (now + u64::from(job.spec.leaseDuration)).min(u64::from(job.spec.deadline));
        if now as f64 + secs >= lease_end as f64 {
            tracing::info!(
                job = job.id,
                task = cand.task,
                estimate_s = secs,
                lease_s = lease_end.saturating_sub(now),
                "skipping: the render would not finish within the lease"
            );
            return Ok(Prepared::Skip);
        }
        // Stake: free stake must cover the task's.
        let need = job.stake_wei();
        if need > 0 && self.ctx.chain.free_stake().await? < need {
            self.ctx.top_up_stake().await?;
            if self.ctx.chain.free_stake().await? < need {
                tracing::info!(job = job.id, need, "skipping: not enough free stake");
                return Ok(Prepared::Skip);
            }
        }
        Ok(Prepared::Go)
    }

    async fn claim(&mut self, job: &JobInfo, cand: Candidate) -> Result<()> {
        let c = self.ctx.chain.clone();
        if cand.expired {
            // Reopen the expired lease first; someone else may have just done it.
            if let Err(e) = c
                .send(
                    c.market
                        .reopenExpired(U256::from(job.id), vec![u32::try_from(cand.task)?]),
                    &format!("reopening job {} task {}", job.id, cand.task),
                )
                .await
            {
                tracing::info!(error = %format!("{e:#}"), "reopen failed");
            }
        }
        let v = c.task(job.id, cand.task).await?;
        if v.state != TaskState::Open {
            return Ok(());
        }
        let mut r = TaskRecord {
            job: job.id,
            task: cand.task,
            attempt: v.attempt,
            phase: Phase::Claiming,
            lease_until: 0,
            root: None,
            cid: None,
            outcome: None,
        };
        self.save(&r)?;
        match c
            .send(
                c.market
                    .claimTasks(U256::from(job.id), vec![u32::try_from(cand.task)?]),
                &format!("claiming job {} task {}", job.id, cand.task),
            )
            .await
        {
            Ok(_) => {
                self.ctx.metrics.claims.inc();
                let v = c.task(job.id, cand.task).await?;
                r.phase = Phase::Claimed;
                r.lease_until = v.until;
                r.attempt = v.attempt;
                self.save(&r)?;
                tracing::info!(
                    job = job.id,
                    task = cand.task,
                    lease_until = v.until,
                    "claimed"
                );
            }
            Err(e) => {
                // Someone else was faster, or the job closed: nothing is ours.
                tracing::info!(error = %format!("{e:#}"), "claim failed");
                self.ctx.store.delete(&TaskRecord::key(job.id, cand.task))?;
            }
        }
        Ok(())
    }

    /// Claimable tasks: from the indexer when it answers, else from the chain.
    async fn candidates(&mut self, now: u64) -> Result<Vec<Candidate>> {
        if let Some(url) = self.ctx.cfg.indexer_url.clone() {
            match self.open_from_indexer(&url, now).await {
                Ok(c) => {
                    self.indexer_down_logged = false;
                    return Ok(c);
                }
                Err(e) => {
                    if !self.indexer_down_logged {
                        tracing::warn!(error = %format!("{e:#}"), "indexer unavailable; finding tasks from chain logs");
                        self.indexer_down_logged = true;
                    }
                    Metrics::inc(&self.ctx.metrics.errors, "indexer");
                }
            }
        }
        self.open_from_chain(now).await
    }

    async fn indexer_get(&self, url: &str, query: &[(&str, &str)]) -> Result<serde_json::Value> {
        Ok(self
            .ctx
            .http
            .get(url)
            .query(query)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    async fn open_from_indexer(&self, url: &str, now: u64) -> Result<Vec<Candidate>> {
        let base = url.trim_end_matches('/');
        let mut out = Vec::new();
        for renderer in &self.ctx.cfg.renderers {
            let page = self
                .indexer_get(
                    &format!("{base}/v1/tasks/open"),
                    &[("renderer", renderer.as_str()), ("limit", "100")],
                )
                .await?;
            for t in page["data"].as_array().into_iter().flatten() {
                if let (Some(job), Some(task)) = (t["jobId"].as_u64(), t["taskIndex"].as_u64()) {
                    out.push(Candidate {
                        job,
                        task,
                        expired: false,
                    });
                }
            }
        }
        if !out.is_empty() {
            return Ok(out);
        }
        // Nothing open: leases that ran out, which the indexer lists as claimed with `leaseExpired`.
        for job in self.book.active(now) {
            let page = self
                .indexer_get(
                    &format!("{base}/v1/jobs/{}/tasks", job.id),
                    &[("state", "claimed"), ("limit", "500")],
                )
                .await?;
            for t in page["data"].as_array().into_iter().flatten() {
                if t["leaseExpired"].as_bool() == Some(true)
                    && let Some(task) = t["taskIndex"].as_u64()
                {
                    out.push(Candidate {
                        job: job.id,
                        task,
                        expired: true,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Without the indexer: the states of the tasks of every active job, read with `getTask` (up to 256 tasks
    /// per job per round).
    async fn open_from_chain(&self, now: u64) -> Result<Vec<Candidate>> {
        let mut out = Vec::new();
        for job in self.book.active(now) {
            for task in 0..job.task_count.min(256) {
                let v = self.ctx.chain.task(job.id, task).await?;
                match v.state {
                    TaskState::Open => out.push(Candidate {
                        job: job.id,
                        task,
                        expired: false,
                    }),
                    TaskState::Claimed if v.until <= now => out.push(Candidate {
                        job: job.id,
                        task,
                        expired: true,
                    }),
                    _ => {}
                }
            }
        }
        Ok(out)
    }
}

enum Prepared {
    Go,
    Skip,
}

/// Why the configured policy refuses `job` before looking at its scene: an unsupported renderer, or a price
/// below `min_gwei_per_msample`.
pub fn policy_refuses(cfg: &crate::Config, job: &JobInfo) -> Option<String> {
    if !cfg.renderers.contains(&job.spec.rendererId) {
        return Some(format!("renderer {} is not supported", job.spec.rendererId));
    }
    let msamples = task_msamples(&job.settings());
    // Rewards are below 2^96 wei; the f64 rounding is far below a gwei's worth of a price.
    #[allow(clippy::cast_precision_loss)]
    let reward_gwei = job.spec.rewardPerTask.to::<u128>() as f64 / 1e9;
    if msamples > 0.0 && reward_gwei / msamples < cfg.min_gwei_per_msample {
        return Some(format!(
            "it pays {:.3} gwei per Msample, below the minimum {}",
            reward_gwei / msamples,
            cfg.min_gwei_per_msample
        ));
    }
    None
}

/// Renders the task's region of the job's scene, loaded for the task's frame (what a worker sells).
pub fn render_task(
    scene: &tessera_render::Scene,
    settings: &tessera_render::RenderSettings,
    task: u64,
    backend: &tessera_render::Backend,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<RegionImage> {
    let t = settings.task(task).map_err(|e| anyhow!("{e}"))?;
    let ts = tessera_render::task_settings(settings, t.frame);
    Ok(tessera_render::render_region(
        scene, &ts, t.region, backend, progress,
    )?)
}

/// Million path samples in one task.
pub fn task_msamples(s: &tessera_render::RenderSettings) -> f64 {
    let r = s.region(0);
    f64::from(r.width) * f64::from(r.height) * f64::from(s.samples_per_pixel) / 1e6
}

/// Writes raw data, leaves and preview into `dir`, atomically (a temporary folder renamed into place).
pub fn write_outputs(
    dir: &std::path::Path,
    img: &RegionImage,
    s: &tessera_render::RenderSettings,
) -> Result<()> {
    let tmp = dir.with_extension("part");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    tessera_render::output::write_raw(&tmp.join("raw.tsr"), img, s.width, s.height, s.cell_size)?;
    tessera_render::output::write_leaves(&tmp.join("leaves.json"), img, s.cell_size)?;
    tessera_render::output::write_png(
        &tmp.join("preview.png"),
        img.rect.width,
        img.rect.height,
        &img.pixels,
    )?;
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::rename(&tmp, dir).with_context(|| format!("moving outputs into {}", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::{CommonArgs, Config, VerifierArgs, WorkerArgs};

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
            "deployment = \"from-file.json\"\npoll_ms = 900\nmin_gwei_per_msample = 3.0\ncells = 12\n",
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
        assert_eq!(c.verify_cells, 12);
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
