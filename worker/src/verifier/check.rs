//! What a committee member computes for one draw: the cells the draw samples (from its seed), re-rendered
//! with the draw's audit signs; the vote (every sampled cell matches the worker's committed data, and the
//! delivered raw data matches the commitment); and the render proof only a renderer of every sample has
//! (docs/verification.md). A scene that cannot be loaded is a verdict of its own: no worker can have rendered
//! it, so every honest member rejects with the same fixed proof.

use crate::{Ctx, SceneFetch};
use alloy::primitives::B256;
use anyhow::{Context, Result, anyhow, bail};
use std::sync::Arc;
use tessera_bindings::committee;
use tessera_bindings::market::JobInfo;
use tokio::sync::Semaphore;

/// Largest scene a member fetches: the renderer's limit, the same for every member (a scene above it is
/// unloadable for everyone).
fn protocol_scene_bytes() -> u64 {
    tessera_render::Limits::default().max_file_bytes
}

/// Largest leaves document accepted (1M cells of JSON is ~200 MB; jobs use far fewer).
const MAX_LEAVES_BYTES: u64 = 256 << 20;

/// The submission a draw judges (owned: a check runs in a task of its own).
#[derive(Debug, Clone)]
pub struct Target {
    /// The job.
    pub job: JobInfo,
    /// Task index.
    pub task: u64,
    /// Output directory CID.
    pub cid: String,
    /// Committed cell root.
    pub root: B256,
    /// The draw's seed.
    pub seed: B256,
    /// Committed data hashes of cells the worker proved on-chain (an answered data challenge), when the
    /// leaves document cannot be had.
    pub provided: Option<Vec<(u32, B256)>>,
    /// The commit phase is ending: what is still missing now decides the vote instead of a retry.
    pub late: bool,
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// The vote and render proof to commit, and why.
    Vote {
        /// Approve or reject.
        approve: bool,
        /// The render proof.
        proof: B256,
        /// What decided it.
        why: String,
        /// Whether it rests on what this member computed (the cells, the delivered data, the scene's load),
        /// rather than on data it could not fetch before the phase ended: only such a verdict is worth an
        /// appeal's bond.
        conclusive: bool,
    },
    /// The committed leaves cannot be had: challenge the worker for the sampled cells.
    NeedData {
        /// The cells to challenge for (the draw's sample).
        cells: Vec<u32>,
        /// Why.
        why: String,
    },
    /// Try again later (scene not fetched yet, the render permit taken).
    Retry(String),
    /// This member cannot judge the submission and will not (the scene ended this verifier twice): no vote.
    Abstain(String),
}

/// Who renders when: one check renders at a time (a render spreads over every core), a committee duty waiting
/// its turn, an observer only when no other render runs.
#[derive(Debug, Clone)]
pub struct RenderSlot {
    /// One permit.
    pub renders: Arc<Semaphore>,
    /// Whether this check waits for the permit.
    pub queue: Queue,
}

/// Whether a check waits for the render permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// A duty's: its seat's bond depends on it.
    Wait,
    /// An observer's: renders only when no other check does.
    IfIdle,
}

/// What rendering the sample gave.
enum Rendered {
    Cells(Vec<tessera_render::AuditedCell>),
    /// The scene was had and cannot be loaded, or is larger than the protocol allows: no worker can have
    /// rendered it.
    Unloadable,
    /// The scene could not be fetched now (unavailable, late, truncated): try again while the phase allows.
    Unfetched(String),
    /// This member's own IPFS node is down: try again, whatever the phase.
    NodeDown(String),
    /// Loads of the scene ended this process in two runs in a row: it is not loaded again.
    Crashed(String),
    /// An observer's check found the render permit taken.
    Busy,
}

/// Checks a submission for the draw with `t.seed`.
pub async fn check(ctx: &Ctx, t: &Target, slot: &RenderSlot) -> Result<Checked> {
    let settings = t.job.settings();
    let spec = settings.task(t.task).map_err(|e| anyhow!("{e}"))?;
    let (cx, cy) = tessera_common::task::cell_grid(spec.region, settings.cell_size);
    let n = cx * cy;
    let sample = committee::sample(t.seed, n);
    // The committed data hashes of the sampled cells.
    let (committed, all) = match committed_sample(ctx, t, &settings, &sample).await? {
        Ok(c) => c,
        // Not the worker's doing: no vote (a reject would be against work nobody here checked; a member that
        // never reveals loses its bond all the same, but splits no committee).
        Err(Missing::NodeDown(e)) => bail!(node_down(&e)),
        Err(Missing::Data(why)) if t.late => {
            // Withheld: the worker cannot be paid for data nobody can check; the proof is still the draw's.
            return rejected(
                ctx,
                t,
                slot,
                &settings,
                &sample,
                &format!("committed data unavailable: {why}"),
                false,
            )
            .await;
        }
        Err(Missing::Data(why)) => return Ok(Checked::NeedData { cells: sample, why }),
    };
    // The delivered raw data must match the commitment: every cell when the whole leaves document is at
    // hand, else the sampled cells, whose data hashes the worker proved on-chain.
    {
        let matches = |raw: &[u8]| match &all {
            Some(all) => super::raw_matches(raw, &settings, t.task, all),
            None => super::raw_matches_cells(
                raw,
                &settings,
                t.task,
                &sample
                    .iter()
                    .copied()
                    .zip(committed.iter().copied())
                    .collect::<Vec<_>>(),
            ),
        };
        match ctx
            .ipfs
            .cat(&format!("{}/raw.tsr", t.cid), super::raw_size(spec.region))
            .await
        {
            Ok(raw) if !matches(&raw) => {
                return rejected(
                    ctx,
                    t,
                    slot,
                    &settings,
                    &sample,
                    "the delivered raw data does not match the committed leaves",
                    true,
                )
                .await;
            }
            Ok(_) => {}
            Err(tessera_ipfs::IpfsError::TooLarge { .. }) => {
                return rejected(
                    ctx,
                    t,
                    slot,
                    &settings,
                    &sample,
                    "the delivered raw data is larger than its region",
                    true,
                )
                .await;
            }
            Err(e) if e.is_node_down() => bail!(node_down(&e.to_string())),
            Err(e) if t.late => {
                return rejected(
                    ctx,
                    t,
                    slot,
                    &settings,
                    &sample,
                    &format!("the raw data was not delivered: {e}"),
                    false,
                )
                .await;
            }
            Err(e) => return Ok(Checked::Retry(format!("fetching the raw data: {e}"))),
        }
    }
    let audited = match render(ctx, t, slot, &settings, &sample).await? {
        Rendered::Cells(cells) => cells,
        Rendered::NodeDown(e) => bail!(node_down(&e)),
        Rendered::Unfetched(e) if !t.late => {
            return Ok(Checked::Retry(format!("fetching the scene: {e}")));
        }
        Rendered::Unfetched(_) => return Ok(unloadable_vote(false)),
        Rendered::Unloadable => return Ok(unloadable_vote(true)),
        Rendered::Crashed(why) => return Ok(Checked::Abstain(why)),
        Rendered::Busy => return Ok(Checked::Retry("another check is rendering".into())),
    };
    let mut approve = true;
    let mut why = format!("{} sampled cells match", sample.len());
    for (c, expected) in audited.iter().zip(&committed) {
        if B256::from(c.cell.data_hash) != *expected {
            approve = false;
            why = format!("cell {} differs from the committed data", c.cell.index);
            break;
        }
    }
    Ok(Checked::Vote {
        approve,
        proof: committee::render_proof(&audited.iter().map(|c| c.audit_hash).collect::<Vec<_>>()),
        why,
        conclusive: true,
    })
}

/// A rejection that still carries the render proof (when the scene renders): the proof is about the draw's
/// sample, whatever the vote.
async fn rejected(
    ctx: &Ctx,
    t: &Target,
    slot: &RenderSlot,
    settings: &tessera_render::RenderSettings,
    sample: &[u32],
    why: &str,
    conclusive: bool,
) -> Result<Checked> {
    let proof = match render(ctx, t, slot, settings, sample).await? {
        Rendered::Cells(cells) => {
            committee::render_proof(&cells.iter().map(|c| c.audit_hash).collect::<Vec<_>>())
        }
        Rendered::NodeDown(e) => bail!(node_down(&e)),
        Rendered::Unfetched(e) if !t.late => {
            return Ok(Checked::Retry(format!("fetching the scene: {e}")));
        }
        Rendered::Unfetched(_) | Rendered::Unloadable => committee::unloadable_scene_proof(),
        Rendered::Crashed(why) => return Ok(Checked::Abstain(why)),
        Rendered::Busy => return Ok(Checked::Retry("another check is rendering".into())),
    };
    Ok(Checked::Vote {
        approve: false,
        proof,
        why: why.to_owned(),
        conclusive,
    })
}

/// Why a member whose own IPFS node is down does not vote (an error: its check is retried with a backoff).
fn node_down(e: &str) -> String {
    format!("this verifier's IPFS node is down ({e}): no vote until it is back")
}

/// A rejection of a scene that cannot be loaded (`conclusive`), or, late in the phase, had at all.
fn unloadable_vote(conclusive: bool) -> Checked {
    Checked::Vote {
        approve: false,
        proof: committee::unloadable_scene_proof(),
        why: if conclusive {
            "the scene cannot be loaded: no worker can have rendered it".into()
        } else {
            "the scene could not be fetched before the commit phase ends".into()
        },
        conclusive,
    }
}

/// The sampled cells re-rendered with the draw's audit signs (in sample order), holding the render permit
/// for the render alone (a fetch does not hold it).
async fn render(
    ctx: &Ctx,
    t: &Target,
    slot: &RenderSlot,
    settings: &tessera_render::RenderSettings,
    sample: &[u32],
) -> Result<Rendered> {
    let glb = match ctx
        .scene(&t.job.spec.sceneCid, protocol_scene_bytes())
        .await
    {
        Ok(glb) => glb,
        // A fetch that failed is not a verdict on the scene, only one too large for the protocol is.
        Err(SceneFetch::Refused(_)) => return Ok(Rendered::Unloadable),
        Err(SceneFetch::Unavailable(e)) => return Ok(Rendered::Unfetched(e)),
        Err(SceneFetch::NodeDown(e)) => return Ok(Rendered::NodeDown(e)),
    };
    let permit = match slot.queue {
        Queue::Wait => slot
            .renders
            .clone()
            .acquire_owned()
            .await
            .context("the render permit")?,
        Queue::IfIdle => match slot.renders.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => return Ok(Rendered::Busy),
        },
    };
    let spec = settings.task(t.task).map_err(|e| anyhow!("{e}"))?;
    let scenes = ctx.scenes.clone();
    let cid = t.job.spec.sceneCid.clone();
    // A load that ends the process (an abort, the out-of-memory killer) leaves its mark: after two in a row
    // the scene is not loaded again, instead of ending the daemon at every restart. Nor is it judged: what
    // ends this machine (its memory) need not end another, so this member does not vote (it loses its
    // seat's bond as a silent member does, and splits no committee against work it could not check).
    let unfinished = ctx.store.unfinished_loads(&cid)?;
    if unfinished >= crate::store::LOAD_CRASHES {
        let why = format!(
            "scene {cid} ended this verifier {unfinished} times while loading: not loaded again, no vote"
        );
        tracing::warn!(scene = %cid, unfinished, "{why}");
        return Ok(Rendered::Crashed(why));
    }
    // Cleared when the load and render return (or panic), in the render's thread: a check dropped while it
    // runs leaves the render running, and marked, to its end; the mark is for process ends only.
    let mark = ctx.store.mark_load(&cid)?;
    let settings = *settings;
    let sample = sample.to_vec();
    let mask = committee::audit_mask(t.seed);
    let rendered = tokio::task::spawn_blocking(move || {
        // Held by the render itself: an aborted check's render still runs to its end, and holds it; the mark
        // is cleared before the permit is let go.
        let _permit = permit;
        let _mark = mark;
        let Ok(scene) = scenes.get(&cid, &glb, &settings, spec.frame) else {
            return Ok(Rendered::Unloadable);
        };
        let ts = tessera_render::task_settings(&settings, spec.frame);
        Ok(Rendered::Cells(tessera_render::render_cells_audited(
            &scene,
            &ts,
            spec.region,
            &sample,
            mask,
        )?))
    })
    .await;
    rendered.context("render thread")?
}

/// How long a member waits for a leaves document the worker already withheld once (it answered a data
/// challenge since): the proven cells decide then.
const LEAVES_AFTER_CHALLENGE: std::time::Duration = std::time::Duration::from_secs(60);

/// The committed data hashes of the sampled cells: from the leaves document (checked to build the committed
/// root; also returned whole), else from the cells the worker proved on-chain when they cover the sample (a
/// challenger may have named fewer). `Err` says why they cannot be had.
async fn committed_sample(
    ctx: &Ctx,
    t: &Target,
    settings: &tessera_render::RenderSettings,
    sample: &[u32],
) -> Result<Result<(Vec<B256>, Option<Vec<B256>>), Missing>> {
    let path = format!("{}/leaves.json", t.cid);
    let fetch = ctx.ipfs.cat(&path, MAX_LEAVES_BYTES);
    let fetched = if t.provided.is_some() {
        tokio::time::timeout(LEAVES_AFTER_CHALLENGE, fetch)
            .await
            .map_err(|_| format!("no leaves within {LEAVES_AFTER_CHALLENGE:?}"))
    } else {
        Ok(fetch.await)
    };
    let why = match fetched {
        Ok(Ok(doc)) => match super::committed_hashes(&doc, settings, t.task, t.root) {
            Ok(all) => {
                let picked = sample.iter().map(|&c| all[c as usize]).collect();
                return Ok(Ok((picked, Some(all))));
            }
            Err(why) => why,
        },
        Ok(Err(e)) if e.is_node_down() => return Ok(Err(Missing::NodeDown(e.to_string()))),
        Ok(Err(e)) => format!("fetching the leaves: {e}"),
        Err(why) => why,
    };
    let Some(provided) = &t.provided else {
        return Ok(Err(Missing::Data(why)));
    };
    let proven: Option<Vec<B256>> = sample
        .iter()
        .map(|c| provided.iter().find(|(i, _)| i == c).map(|(_, h)| *h))
        .collect();
    Ok(proven.map(|hashes| (hashes, None)).ok_or_else(|| {
        Missing::Data(format!(
            "{why}, and the cells proven on-chain do not cover the sample"
        ))
    }))
}

/// Why the committed data hashes of the sample are not at hand.
enum Missing {
    /// This member's own IPFS node is down: nothing is known of the worker's data.
    NodeDown(String),
    /// The leaves document could not be had or is wrong, and the cells proven on-chain do not cover the
    /// sample.
    Data(String),
}
