//! Finding and taking work: candidate tasks from the indexer (or from chain logs while it is down), the
//! operator's policy, the scene fetched and probed before a claim, and the claim itself.

use super::{Candidate, Phase, TaskRecord, Worker};
use crate::{Metrics, SceneFetch};
use alloy::primitives::U256;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::Instant;
use tessera_bindings::TaskState;
use tessera_bindings::market::JobInfo;

/// Why a probe render failed.
enum ProbeError {
    /// The scene cannot be loaded or rendered: the same on every machine.
    Scene(String),
    /// This machine's render device failed.
    Device(String),
}

/// Open-task pages read per renderer per round at most, each skipping past the jobs this worker will not take.
const MAX_PAGES: usize = 32;
/// Seconds a job whose task was passed over (lease too short, stake short, scene unavailable) is not looked at.
const PASS_S: u64 = 60;
/// Scene fetches run side by side at most.
const MAX_FETCHES: usize = 4;
/// Wait after a scene's first failed fetch, doubled for each further failure up to `UNAVAILABLE_MAX_S`.
const UNAVAILABLE_S: u64 = 60;
/// Seconds before a scene is tried again when the IPFS node itself was unreachable (no backoff: the scene is
/// not at fault, and a node that comes back should be used at once; a refused connection costs nothing).
const NODE_DOWN_S: u64 = 5;
const UNAVAILABLE_MAX_S: u64 = 3600;
/// The longest a probe (load and a small render) may take before its scene is refused. The loader's budgets
/// bound the work; this bounds what they cannot foresee. The probe's thread cannot be stopped and finishes in
/// the background, but the daemon goes on.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

impl Worker {
    /// Finds one acceptable task and claims it.
    pub(super) async fn take_one(&mut self, now: u64) -> Result<()> {
        self.collect_fetches(now).await?;
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
            // Refused, or passed over earlier in this round or the last minute.
            if self.not_now(cand.job, now) {
                continue;
            }
            let Some(job) = self.book.get(cand.job).cloned() else {
                continue;
            };
            match self.prepare(&job, cand, now).await? {
                Prepared::Go => {}
                Prepared::Skip => {
                    self.passed.insert(job.id, now + PASS_S);
                    continue;
                }
                // Its scene is on its way: look again next round, and at other jobs now.
                Prepared::Later => continue,
            }
            self.claim(&job, cand).await?;
            return Ok(());
        }
        Ok(())
    }

    /// Whether job `id` is not worth a look now: unknown yet, refused by the policy, or recently passed over.
    fn not_now(&self, id: u64, now: u64) -> bool {
        self.passed.get(&id).is_some_and(|&until| until > now)
            || self.book.get(id).is_none_or(|job| {
                self.policy_refuses(job).is_some()
                    || self
                        .unavailable
                        .get(&job.spec.sceneCid)
                        .is_some_and(|&(until, _)| until > now)
            })
    }

    /// Takes in every scene fetch that has finished, whether or not a job still wants its scene (a
    /// finished fetch left in the map would hold one of the `MAX_FETCHES` slots for good): a scene too large
    /// is refused for good; one whose fetch failed is not tried again for a while (doubling from a minute to
    /// an hour), or for a few seconds when the IPFS node itself was unreachable. Only a refusal is persisted,
    /// never a failed fetch.
    async fn collect_fetches(&mut self, now: u64) -> Result<()> {
        let done: Vec<String> = self
            .fetching
            .iter()
            .filter(|(_, h)| h.is_finished())
            .map(|(cid, _)| cid.clone())
            .collect();
        for cid in done {
            let h = self.fetching.remove(&cid).context("a finished fetch")?;
            let failed = match h.await {
                Ok(Ok(())) => None,
                Ok(Err(SceneFetch::Refused(why))) => {
                    self.refuse_scene(&cid, "size", &why)?;
                    continue;
                }
                Ok(Err(SceneFetch::NodeDown(e))) => {
                    // The scene's own record of failures stands; it is tried again shortly.
                    let failures = self.unavailable.get(&cid).map_or(0, |&(_, n)| n);
                    self.unavailable
                        .insert(cid.clone(), (now + NODE_DOWN_S, failures));
                    Metrics::inc(&self.ctx.metrics.errors, "ipfs");
                    tracing::warn!(scene = %cid, error = %e, retry_in_s = NODE_DOWN_S, "scene unavailable: the IPFS node is unreachable; retrying soon");
                    continue;
                }
                Ok(Err(SceneFetch::Unavailable(e))) => Some(e),
                Err(e) => Some(format!("the fetch task failed: {e}")),
            };
            match failed {
                None => {
                    self.unavailable.remove(&cid);
                }
                Some(e) => {
                    let failures = self.unavailable.get(&cid).map_or(0, |&(_, n)| n) + 1;
                    let wait = (UNAVAILABLE_S << (failures - 1).min(16)).min(UNAVAILABLE_MAX_S);
                    self.unavailable.insert(cid.clone(), (now + wait, failures));
                    Metrics::inc(&self.ctx.metrics.errors, "ipfs");
                    tracing::warn!(scene = %cid, error = %e, failures, retry_in_s = wait, "scene unavailable; retrying later");
                }
            }
        }
        Ok(())
    }

    /// The scene `cid` when it is here. Otherwise a fetch runs in a task of its own, bounded by the
    /// configured deadline (`collect_fetches` takes in its end), and `None` says to come back: one scene
    /// nobody provides costs a round nothing.
    async fn fetched_scene(&mut self, cid: &str) -> Result<Option<Arc<Vec<u8>>>> {
        if self.fetching.contains_key(cid) {
            return Ok(None);
        }
        let max = self.ctx.cfg.max_scene_bytes;
        let source = self.ctx.scene_source();
        match source.cached(cid, max).await {
            Ok(Some(b)) => return Ok(Some(b)),
            Ok(None) => {}
            Err(SceneFetch::Refused(why)) => {
                self.refuse_scene(cid, "size", &why)?;
                return Ok(None);
            }
            Err(SceneFetch::Unavailable(_) | SceneFetch::NodeDown(_)) => {}
        }
        if self.fetching.len() < MAX_FETCHES {
            let c = cid.to_owned();
            self.fetching.insert(
                cid.to_owned(),
                tokio::spawn(async move { source.get(&c, max).await.map(|_| ()) }),
            );
        }
        Ok(None)
    }

    /// Why the policy refuses `job`, if it does (the checks that need no scene).
    fn policy_refuses(&self, job: &JobInfo) -> Option<String> {
        if self.refused.contains(&job.spec.sceneCid) {
            return Some("its scene was refused".into());
        }
        policy_refuses(&self.ctx.cfg, job)
    }

    /// At start: a scene whose load ended the process `LOAD_CRASHES` times in a row is refused; one that did
    /// once is tried again.
    pub(super) fn review_loads(&mut self) -> Result<()> {
        for (cid, ended) in self.ctx.store.unfinished_loads_all()? {
            if ended >= crate::store::LOAD_CRASHES {
                self.refuse_scene(
                    &cid,
                    "crash",
                    &format!(
                        "scene {cid} ended the worker {ended} times while it was loaded or rendered"
                    ),
                )?;
                self.ctx.store.clear_loads(&cid)?;
            } else {
                tracing::warn!(scene = %cid, "the worker ended while loading this scene; it is tried again and refused if that happens again");
            }
        }
        Ok(())
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
        let Some(glb) = self.fetched_scene(&cid).await? else {
            return Ok(if self.fetching.contains_key(&cid) {
                Prepared::Later
            } else {
                Prepared::Skip
            });
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
        // Marked for as long as the probe's thread loads and renders (it cannot be stopped: a probe past its
        // time stays marked until it returns, and if it ends the process the scene is the cause).
        let mark = self.ctx.store.mark_load(&cid)?;
        let probe = tokio::task::spawn_blocking(move || -> Result<f64, ProbeError> {
            let _mark = mark;
            let scene = scenes
                .get(&cid2, &glb, &settings, t.frame)
                .map_err(|e| ProbeError::Scene(e.to_string()))?;
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
                .map_err(|e| match e {
                    // The device failed (out of memory, a lost context): this machine's fault, not the
                    // scene's.
                    tessera_render::render::RenderError::Gpu(_) => {
                        ProbeError::Device(e.to_string())
                    }
                    _ => ProbeError::Scene(e.to_string()),
                })?;
            let samples = f64::from(w) * f64::from(h) * f64::from(probe.samples_per_pixel);
            Ok(samples / started.elapsed().as_secs_f64().max(1e-6))
        });
        let mut stop = self.ctx.shutdown.clone();
        let probe = tokio::select! {
            p = tokio::time::timeout(PROBE_TIMEOUT, probe) => p,
            // A shutdown does not wait for the probe: the stop dropped this run's marks (earlier runs' stay)
            // and the probe thread ends with the process.
            _ = stop.wait_for(|s| *s) => return Ok(Prepared::Skip),
        };
        let Ok(probe) = probe else {
            // Refused for this run only: a machine slowed down for a while (swapping, a neighbour) tries
            // again after a restart.
            tracing::warn!(scene = %cid, "refusing scene until restart: its probe took more than {PROBE_TIMEOUT:?}");
            Metrics::inc(&self.ctx.metrics.scenes_refused, "slow");
            self.refused.insert(cid.clone());
            return Ok(Prepared::Skip);
        };
        let speed = match probe.context("probe thread")? {
            Ok(s) => s,
            Err(ProbeError::Scene(why)) => {
                self.refuse_scene(
                    &cid,
                    "invalid",
                    &format!("scene {cid} cannot be rendered: {why}"),
                )?;
                return Ok(Prepared::Skip);
            }
            Err(ProbeError::Device(why)) => {
                Metrics::inc(&self.ctx.metrics.errors, "device");
                tracing::warn!(scene = %cid, error = why, "the probe failed on this machine's device; the job is passed over for now, not refused");
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
                // Someone else was faster, or the job closed: nothing is ours. Unless the claim landed
                // though its receipt never came (a provider's timeout): the chain says, now, or to the
                // orphan scan later (a transaction still pending), which adopts it. Read at the head now: no
                // receipt moved the round's pinned block past the claim.
                c.head().await?;
                let v = c.task(job.id, cand.task).await?;
                if v.state == TaskState::Claimed && v.worker == c.me {
                    tracing::warn!(error = %format!("{e:#}"), job = job.id, task = cand.task, "the claim landed though sending it failed");
                    self.ctx.metrics.claims.inc();
                    r.phase = Phase::Claimed;
                    r.lease_until = v.until;
                    r.attempt = v.attempt;
                    self.save(&r)?;
                } else {
                    tracing::info!(error = %format!("{e:#}"), "claim failed");
                    self.ctx.store.delete(&TaskRecord::key(job.id, cand.task))?;
                }
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

    /// Open tasks of jobs this worker may take, oldest job first. Pages are read until one holds such a task;
    /// a page whose jobs are all refused or passed over moves the cursor past its last job, so however many
    /// tasks older jobs hold, a claimable one is found in at most `MAX_PAGES` requests per renderer (one per
    /// job skipped, at worst).
    async fn open_from_indexer(&mut self, url: &str, now: u64) -> Result<Vec<Candidate>> {
        let base = url.trim_end_matches('/');
        let mut out = Vec::new();
        self.passed.retain(|_, until| *until > now);
        for renderer in self.ctx.cfg.renderers.clone() {
            // Where the last round's skipping stopped: however many jobs are skipped, every round goes on
            // from there, and starts over once the end of the list is reached.
            let mut cursor = self.skip_cursor.remove(&renderer);
            for page_no in 0..MAX_PAGES {
                let mut query = vec![("renderer", renderer.as_str()), ("limit", "100")];
                if let Some(c) = &cursor {
                    query.push(("cursor", c.as_str()));
                }
                let page = self
                    .indexer_get(&format!("{base}/v1/tasks/open"), &query)
                    .await?;
                let mut last_job = None;
                for t in page["data"].as_array().into_iter().flatten() {
                    if let (Some(job), Some(task)) = (t["jobId"].as_u64(), t["taskIndex"].as_u64())
                    {
                        last_job = Some(job);
                        if !self.not_now(job, now) {
                            out.push(Candidate {
                                job,
                                task,
                                expired: false,
                            });
                        }
                    }
                }
                if !out.is_empty() || page["nextCursor"].as_str().is_none() {
                    break;
                }
                // Every task of this page is of jobs not taken now: skip past the last one's remaining tasks.
                let Some(job) = last_job else {
                    break;
                };
                cursor = Some(format!("{job}.{}", u32::MAX));
                if page_no + 1 == MAX_PAGES {
                    self.skip_cursor
                        .insert(renderer.clone(), cursor.clone().unwrap_or_default());
                }
            }
            if !out.is_empty() {
                break;
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
    Later,
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

/// Million path samples in one task.
pub fn task_msamples(s: &tessera_render::RenderSettings) -> f64 {
    let r = s.region(0);
    f64::from(r.width) * f64::from(r.height) * f64::from(s.samples_per_pixel) / 1e6
}
