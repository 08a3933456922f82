//! What a committee member computes for one draw: the cells the draw samples (from its seed), re-rendered
//! with the draw's audit signs; the vote (every sampled cell matches the worker's committed data, and the
//! delivered raw data matches the commitment); and the render proof only a renderer of every sample has
//! (docs/verification.md). A scene that cannot be loaded is a verdict of its own: no worker can have rendered
//! it, so every honest member rejects with the same fixed proof.

use crate::{Ctx, SceneFetch};
use alloy::primitives::B256;
use anyhow::{Context, Result, anyhow};
use tessera_bindings::committee;
use tessera_bindings::market::JobInfo;

/// Largest leaves document accepted (1M cells of JSON is ~200 MB; jobs use far fewer).
const MAX_LEAVES_BYTES: u64 = 256 << 20;

/// The submission a draw judges.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The job.
    pub job: &'a JobInfo,
    /// Task index.
    pub task: u64,
    /// Output directory CID.
    pub cid: &'a str,
    /// Committed cell root.
    pub root: B256,
    /// The draw's seed.
    pub seed: B256,
    /// Committed data hashes of cells the worker proved on-chain (an answered data challenge), when the
    /// leaves document cannot be had.
    pub provided: Option<&'a [(u32, B256)]>,
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
    },
    /// The committed leaves cannot be had: challenge the worker for the sampled cells.
    NeedData {
        /// The cells to challenge for (the draw's sample).
        cells: Vec<u32>,
        /// Why.
        why: String,
    },
    /// Try again later (IPFS unreachable, scene not fetched yet).
    Retry(String),
}

/// Checks a submission for the draw with `t.seed`.
pub async fn check(ctx: &Ctx, t: &Target<'_>) -> Result<Checked> {
    let settings = t.job.settings();
    let spec = settings.task(t.task).map_err(|e| anyhow!("{e}"))?;
    let (cx, cy) = tessera_common::task::cell_grid(spec.region, settings.cell_size);
    let n = cx * cy;
    let sample = committee::sample(t.seed, n);
    // The committed data hashes of the sampled cells.
    let (committed, all) = match committed_sample(ctx, t, &settings, &sample).await? {
        Ok(c) => c,
        Err(why) if t.provided.is_some() || t.late => {
            // Withheld: the worker cannot be paid for data nobody can check; the proof is still the draw's.
            return rejected(
                ctx,
                t,
                &settings,
                &sample,
                &format!("committed data unavailable: {why}"),
            )
            .await;
        }
        Err(why) => return Ok(Checked::NeedData { cells: sample, why }),
    };
    // The delivered raw data must match the commitment (when the whole leaves document is at hand).
    if let Some(all) = &all {
        match ctx
            .ipfs
            .cat(&format!("{}/raw.tsr", t.cid), super::raw_size(spec.region))
            .await
        {
            Ok(raw) if !super::raw_matches(&raw, &settings, t.task, all) => {
                return rejected(
                    ctx,
                    t,
                    &settings,
                    &sample,
                    "the delivered raw data does not match the committed leaves",
                )
                .await;
            }
            Ok(_) => {}
            Err(tessera_ipfs::IpfsError::TooLarge { .. }) => {
                return rejected(
                    ctx,
                    t,
                    &settings,
                    &sample,
                    "the delivered raw data is larger than its region",
                )
                .await;
            }
            Err(e) if t.late => {
                return rejected(
                    ctx,
                    t,
                    &settings,
                    &sample,
                    &format!("the raw data was not delivered: {e}"),
                )
                .await;
            }
            Err(e) => return Ok(Checked::Retry(format!("fetching the raw data: {e}"))),
        }
    }
    let Some(audited) = render(ctx, t, &settings, &sample).await? else {
        return Ok(unloadable_or_retry(ctx, t).await);
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
    })
}

/// A rejection that still carries the render proof (when the scene renders): the proof is about the draw's
/// sample, whatever the vote.
async fn rejected(
    ctx: &Ctx,
    t: &Target<'_>,
    settings: &tessera_render::RenderSettings,
    sample: &[u32],
    why: &str,
) -> Result<Checked> {
    let proof = match render(ctx, t, settings, sample).await? {
        Some(cells) => {
            committee::render_proof(&cells.iter().map(|c| c.audit_hash).collect::<Vec<_>>())
        }
        None => committee::unloadable_scene_proof(),
    };
    Ok(Checked::Vote {
        approve: false,
        proof,
        why: why.to_owned(),
    })
}

async fn unloadable_or_retry(ctx: &Ctx, t: &Target<'_>) -> Checked {
    match ctx.scene(&t.job.spec.sceneCid).await {
        Err(SceneFetch::Unavailable(e)) if !t.late => {
            Checked::Retry(format!("fetching the scene: {e}"))
        }
        _ => Checked::Vote {
            approve: false,
            proof: committee::unloadable_scene_proof(),
            why: "the scene cannot be loaded: no worker can have rendered it".into(),
        },
    }
}

/// The sampled cells re-rendered with the draw's audit signs (in sample order), or `None` when the scene cannot
/// be had or loaded.
async fn render(
    ctx: &Ctx,
    t: &Target<'_>,
    settings: &tessera_render::RenderSettings,
    sample: &[u32],
) -> Result<Option<Vec<tessera_render::AuditedCell>>> {
    let Ok(glb) = ctx.scene(&t.job.spec.sceneCid).await else {
        return Ok(None);
    };
    let spec = settings.task(t.task).map_err(|e| anyhow!("{e}"))?;
    let scenes = ctx.scenes.clone();
    let cid = t.job.spec.sceneCid.clone();
    let settings = *settings;
    let sample = sample.to_vec();
    let mask = committee::audit_mask(t.seed);
    tokio::task::spawn_blocking(move || {
        let Ok(scene) = scenes.get(&cid, &glb, &settings, spec.frame) else {
            return Ok(None);
        };
        let ts = tessera_render::task_settings(&settings, spec.frame);
        Ok(Some(tessera_render::render_cells_audited(
            &scene,
            &ts,
            spec.region,
            &sample,
            mask,
        )?))
    })
    .await
    .context("render thread")?
}

/// The committed data hashes of the sampled cells: from the leaves document (checked to build the committed
/// root; also returned whole), else from the cells the worker proved on-chain. `Err` says why they cannot be
/// had.
async fn committed_sample(
    ctx: &Ctx,
    t: &Target<'_>,
    settings: &tessera_render::RenderSettings,
    sample: &[u32],
) -> Result<Result<(Vec<B256>, Option<Vec<B256>>), String>> {
    if let Some(provided) = t.provided {
        let mut out = Vec::with_capacity(sample.len());
        for c in sample {
            match provided.iter().find(|(i, _)| i == c) {
                Some((_, h)) => out.push(*h),
                None => {
                    return Ok(Err(format!(
                        "cell {c} of the sample was not proven on-chain"
                    )));
                }
            }
        }
        return Ok(Ok((out, None)));
    }
    let doc = match ctx
        .ipfs
        .cat(&format!("{}/leaves.json", t.cid), MAX_LEAVES_BYTES)
        .await
    {
        Ok(b) => b,
        Err(e) => return Ok(Err(format!("fetching the leaves: {e}"))),
    };
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&doc) else {
        return Ok(Err("the leaves document is not JSON".into()));
    };
    match super::committed_hashes(&doc, settings, t.task, t.root) {
        Ok(all) => {
            let picked = sample.iter().map(|&c| all[c as usize]).collect();
            Ok(Ok((picked, Some(all))))
        }
        Err(why) => Ok(Err(why)),
    }
}
