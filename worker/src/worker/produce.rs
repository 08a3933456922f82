//! Producing a claimed task's result: render it, write the outputs (raw data, leaves, preview) atomically,
//! publish them to IPFS as one directory, and commit to them on-chain.

use super::{Phase, TaskRecord, Worker};
use crate::{Metrics, Progress, SceneFetch};
use alloy::primitives::{B256, U256};
use anyhow::{Context, Result, anyhow, bail};
use std::sync::Arc;
use std::time::Instant;
use tessera_ipfs::AddOptions;
use tessera_render::RegionImage;

/// A task's render running in a thread of its own.
pub(super) struct Rendering {
    /// The claim it renders for.
    pub(super) attempt: u64,
    started: Instant,
    pub(super) handle: tokio::task::JoinHandle<Result<RegionImage>>,
    /// Whether a render no longer wanted has been reported as running long (once).
    pub(super) warned: bool,
}

impl Rendering {
    /// Whole seconds since it started.
    pub(super) fn seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

impl Worker {
    /// Renders a claimed task in a thread of its own: the first call starts it, later rounds' calls find it
    /// running (and return at once, so that the other tasks are followed meanwhile) or finished, and then
    /// write its outputs.
    pub(super) async fn render(&mut self, r: &mut TaskRecord) -> Result<()> {
        let key = TaskRecord::key(r.job, r.task);
        if let Some(running) = self.rendering.get(&key) {
            if running.attempt == r.attempt && !running.handle.is_finished() {
                return Ok(());
            }
            let running = self.rendering.remove(&key).context("a render under way")?;
            if running.attempt == r.attempt {
                return self.rendered(r, running).await;
            }
            // An earlier attempt's render (the task was lost and claimed again): its result is not this one's.
        }
        let job = self.job(r.job)?;
        if self.refused.contains(&job.spec.sceneCid) {
            // Refused since the claim (its loads ended the process): the lease runs out.
            return self.finish(r, super::Outcome::Abandoned, "its scene was refused");
        }
        // One render at a time: another task's (two claims can be held at once, one adopted after a send
        // whose receipt never came), or one no longer wanted that still runs.
        if !self.rendering.is_empty() || self.draining.iter().any(|d| !d.handle.is_finished()) {
            return Ok(());
        }
        let glb = match self
            .ctx
            .scene(&job.spec.sceneCid, self.ctx.cfg.max_scene_bytes)
            .await
        {
            Ok(b) => b,
            Err(SceneFetch::Unavailable(e) | SceneFetch::NodeDown(e)) => {
                tracing::warn!(job = r.job, error = %e, "scene unavailable; retrying");
                return Ok(());
            }
            Err(SceneFetch::Refused(e)) => bail!("job {}: {e}", r.job),
        };
        let settings = job.settings();
        let t = settings.task(r.task).map_err(|e| anyhow!("{e}"))?;
        let backend = self.ctx.backend.clone();
        let progress = Arc::new(Progress::new(r.label()));
        tracing::info!(job = r.job, task = r.task, frame = t.frame, region = ?t.region, "rendering");
        let index = r.task;
        let scenes = self.ctx.scenes.clone();
        let cid = job.spec.sceneCid.clone();
        // Marked for as long as the thread loads and renders, whoever waits for it.
        let mark = self.ctx.store.mark_load(&cid)?;
        let handle = tokio::task::spawn_blocking(move || {
            let _mark = mark;
            let scene = scenes.get(&cid, &glb, &settings, t.frame)?;
            render_task(&scene, &settings, index, &backend, &move |d, n| {
                progress.update(d, n);
            })
        });
        self.rendering.insert(
            key,
            Rendering {
                attempt: r.attempt,
                started: Instant::now(),
                handle,
                warned: false,
            },
        );
        Ok(())
    }

    /// Writes a finished render's outputs and records the task as rendered.
    async fn rendered(&mut self, r: &mut TaskRecord, running: Rendering) -> Result<()> {
        let img = running.handle.await.context("render thread")??;
        let secs = running.started.elapsed().as_secs_f64();
        self.ctx.metrics.work_seconds.observe(secs);
        let settings = self.job(r.job)?.settings();
        let dir = self.out_dir(r);
        write_outputs(&dir, &img, &settings)?;
        r.root = Some(tessera_common::to_hex(&img.root));
        r.phase = Phase::Rendered;
        self.save(r)?;
        tracing::info!(job = r.job, task = r.task, secs, root = ?r.root, "rendered");
        Ok(())
    }

    pub(super) async fn upload(&self, r: &mut TaskRecord) -> Result<()> {
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

    pub(super) async fn submit(&self, r: &mut TaskRecord) -> Result<()> {
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
