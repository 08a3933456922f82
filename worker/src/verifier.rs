//! Verifier mode: for every `ResultSubmitted`, fetch the leaves and the raw data, check the leaves build the
//! committed root and the raw data matches the leaves, pick k cells with randomness the worker could not know
//! when it committed (the hash of a secret derived from the verifier's key and of the submission's block
//! hash), re-render them, compare bit for bit, and sign and send an EIP-712 attestation: an approval, or a
//! rejection naming the failing cell with its Merkle proof.
//!
//! The daemon attests alone, so it settles tasks of jobs whose quorum is 1; results of jobs with a larger
//! quorum are checked and logged but need co-signers, and settle by the challenge window otherwise.

use crate::{Ctx, Metrics, SceneFetch};
use alloy::primitives::{B256, U256, keccak256};
use alloy::providers::Provider;
use alloy::signers::SignerSync;
use alloy::sol_types::SolEvent;
use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tessera_bindings::DistributedRender::ResultSubmitted;
use tessera_bindings::IDistributedRender::{Attestation, SignedAttestation};
use tessera_bindings::market::JobInfo;
use tessera_bindings::{TaskState, attestation, cells};
use tessera_common::verify::{detection_probability, select_cells};

/// Largest leaves document accepted (1M cells of JSON is ~200 MB; jobs use far fewer).
const MAX_LEAVES_BYTES: u64 = 256 << 20;

/// A submitted result to check (from its event).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submission {
    /// Job id.
    pub job: u64,
    /// Task index.
    pub task: u64,
    /// Attempt.
    pub attempt: u64,
    /// The worker.
    pub worker: String,
    /// Output directory CID.
    pub cid: String,
    /// Committed root.
    pub root: B256,
    /// Hash of the block the result was submitted in.
    pub block_hash: B256,
    /// End of the challenge window.
    pub ends_at: u64,
}

impl Submission {
    fn key(&self) -> String {
        format!(
            "verdict/{:020}/{:010}/{:05}",
            self.job, self.task, self.attempt
        )
    }
}

/// What the verifier concluded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every sampled cell matched and the raw data matches the leaves.
    Approve,
    /// A sampled cell differs from its committed data.
    Reject {
        /// The cell.
        cell: u32,
    },
    /// Not attested, with the reason.
    Skipped(String),
}

/// The verifier.
pub struct Verifier {
    ctx: Ctx,
    book: crate::JobBook,
    secret: B256,
}

/// The outcome of checking one result.
enum Checked {
    Approve,
    Reject {
        cell: u32,
        expected: B256,
        committed: B256,
        proof: Vec<B256>,
    },
    Unverifiable(String),
    Retry(String),
}

impl Verifier {
    /// A verifier over `ctx`.
    pub fn new(ctx: Ctx) -> Result<Self> {
        // A secret only this key can compute: the signature (deterministic, RFC 6979) of a fixed hash.
        let sig = ctx
            .signer
            .sign_hash_sync(&keccak256(b"tessera verifier sampling secret v1"))?;
        let secret = keccak256(sig.as_bytes());
        let book = crate::JobBook::new(&ctx.chain.deployment);
        Ok(Self { ctx, book, secret })
    }

    /// Runs until shutdown.
    pub async fn run(mut self) -> Result<()> {
        let k = self.ctx.cfg.verify_cells;
        let f = self.ctx.cfg.forged_fraction;
        let bound = 1.0 - (1.0 - f).powf(f64::from(k));
        tracing::info!(
            cells = k,
            forged_fraction = f,
            detection = format!("{:.4}%", bound * 100.0),
            "checking {k} cells per task: a forgery of {:.0}% of a task's cells is caught with probability >= {:.4}% (exact per task in the logs)",
            f * 100.0,
            bound * 100.0
        );
        eprintln!(
            "verifier: {k} cells per task; detection of a {:.0}% forgery >= {:.4}%",
            f * 100.0,
            bound * 100.0
        );
        self.ctx
            .top_up_stake()
            .await
            .context("bonding the stake target")?;
        while !self.ctx.stopping() {
            if let Err(e) = self.round().await {
                Metrics::inc(&self.ctx.metrics.errors, "round");
                tracing::warn!(error = %format!("{e:#}"), "round failed; retrying");
            }
            self.ctx.pause().await;
        }
        tracing::info!("shutting down");
        Ok(())
    }

    async fn round(&mut self) -> Result<()> {
        let c = self.ctx.chain.clone();
        self.book.refresh(&c).await?;
        let head = c.provider.get_block_number().await?;
        let from = self
            .ctx
            .store
            .get::<u64>("cursor")?
            .unwrap_or(c.deployment.deployment_block);
        if from <= head {
            let logs = c
                .logs(vec![ResultSubmitted::SIGNATURE_HASH], from, head, None)
                .await?;
            for log in logs {
                let block_hash = log.block_hash.context("log without block hash")?;
                let e = log.log_decode::<ResultSubmitted>()?.inner.data;
                let s = Submission {
                    job: e.jobId.to::<u64>(),
                    task: e.taskIndex.to::<u64>(),
                    attempt: e.attempt.to::<u64>(),
                    worker: e.worker.to_string(),
                    cid: e.outputCid,
                    root: e.cellRoot,
                    block_hash,
                    ends_at: e.challengeEndsAt.to::<u64>(),
                };
                if self.ctx.store.get::<Verdict>(&s.key())?.is_none() {
                    self.ctx.store.put(&format!("pending/{}", s.key()), &s)?;
                }
            }
            self.ctx.store.put("cursor", &(head + 1))?;
        }
        for (key, s) in self.ctx.store.list::<Submission>("pending/")? {
            if self.ctx.stopping() {
                break;
            }
            if self.handle(&s).await? {
                self.ctx.store.delete(&key)?;
            }
        }
        self.ctx.withdraw_if_due().await?;
        Ok(())
    }

    fn record(&self, s: &Submission, v: &Verdict) -> Result<bool> {
        self.ctx.store.put(&s.key(), v)?;
        Ok(true)
    }

    /// Checks one submission; false when it must be retried later.
    async fn handle(&self, s: &Submission) -> Result<bool> {
        let c = &self.ctx.chain;
        let Some(job) = self.book.get(s.job).cloned() else {
            return Ok(false);
        };
        if s.worker.parse::<alloy::primitives::Address>().ok() == Some(c.me) || job.artist == c.me {
            return self.record(s, &Verdict::Skipped("own job or own result".into()));
        }
        let v = c.task(s.job, s.task).await?;
        let now = c.now().await?;
        if v.state != TaskState::Submitted || v.attempt != s.attempt || v.cell_root != s.root {
            return self.record(s, &Verdict::Skipped("already settled".into()));
        }
        if now >= s.ends_at {
            return self.record(s, &Verdict::Skipped("challenge window closed".into()));
        }
        let started = Instant::now();
        let checked = self.check(&job, s).await?;
        let secs = started.elapsed().as_secs_f64();
        self.ctx.metrics.work_seconds.observe(secs);
        let (approve, cell, expected, committed, proof) = match checked {
            Checked::Retry(why) => {
                tracing::warn!(
                    job = s.job,
                    task = s.task,
                    why,
                    "cannot check yet; retrying"
                );
                return Ok(false);
            }
            Checked::Unverifiable(why) => {
                tracing::warn!(job = s.job, task = s.task, why, "result not approved");
                Metrics::inc(&self.ctx.metrics.attestations, "withheld");
                return self.record(s, &Verdict::Skipped(why));
            }
            Checked::Approve => (true, 0u32, B256::ZERO, B256::ZERO, Vec::new()),
            Checked::Reject {
                cell,
                expected,
                committed,
                proof,
            } => (false, cell, expected, committed, proof),
        };
        if job.spec.quorum != 1 {
            let why = format!(
                "verdict {} but the job needs {} co-signed attestations",
                if approve { "approve" } else { "reject" },
                job.spec.quorum
            );
            tracing::warn!(job = s.job, task = s.task, why);
            return self.record(s, &Verdict::Skipped(why));
        }
        let a = Attestation {
            jobId: U256::from(s.job),
            taskIndex: U256::from(s.task),
            attempt: U256::from(s.attempt),
            cellRoot: s.root,
            approve,
            cellIndex: U256::from(cell),
            expectedDataHash: expected,
        };
        let domain = attestation::domain(c.deployment.chain_id, c.deployment.distributed_render);
        let signature = attestation::sign(&self.ctx.signer, &a, &domain).await?;
        let signed = SignedAttestation {
            attestation: a,
            signature,
            committedDataHash: committed,
            proof,
        };
        let verdict = if approve {
            Verdict::Approve
        } else {
            Verdict::Reject { cell }
        };
        match c
            .send(
                c.market
                    .attest(U256::from(s.job), U256::from(s.task), vec![signed]),
                &format!("attesting job {} task {}", s.job, s.task),
            )
            .await
        {
            Ok(_) => {
                Metrics::inc(
                    &self.ctx.metrics.attestations,
                    if approve { "approve" } else { "reject" },
                );
                tracing::info!(
                    job = s.job,
                    task = s.task,
                    attempt = s.attempt,
                    ?verdict,
                    secs,
                    "attested"
                );
                self.record(s, &verdict)
            }
            Err(e) => {
                // Settled by someone else meanwhile, or the window closed: re-read next round.
                tracing::warn!(error = %format!("{e:#}"), "attestation not accepted");
                let v = c.task(s.job, s.task).await?;
                if v.state != TaskState::Submitted || v.attempt != s.attempt {
                    return self.record(s, &Verdict::Skipped("settled meanwhile".into()));
                }
                Ok(false)
            }
        }
    }

    async fn check(&self, job: &JobInfo, s: &Submission) -> Result<Checked> {
        let settings = job.settings();
        let t = settings.task(s.task).map_err(|e| anyhow!("{e}"))?;
        let ipfs = &self.ctx.ipfs;
        let leaves_doc = match ipfs
            .cat(&format!("{}/leaves.json", s.cid), MAX_LEAVES_BYTES)
            .await
        {
            Ok(b) => b,
            Err(tessera_ipfs::IpfsError::TooLarge { .. }) => {
                return Ok(Checked::Unverifiable(
                    "the leaves document is too large".into(),
                ));
            }
            Err(e) => return Ok(Checked::Retry(format!("fetching leaves: {e}"))),
        };
        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&leaves_doc) else {
            return Ok(Checked::Unverifiable(
                "the leaves document is not JSON".into(),
            ));
        };
        let hashes = match committed_hashes(&doc, &settings, s.task, s.root) {
            Ok(h) => h,
            Err(why) => return Ok(Checked::Unverifiable(why)),
        };
        let raw_ok = match ipfs
            .cat(&format!("{}/raw.tsr", s.cid), raw_size(t.region))
            .await
        {
            Ok(raw) => raw_matches(&raw, &settings, s.task, &hashes),
            Err(tessera_ipfs::IpfsError::TooLarge { .. }) => false,
            Err(e) => return Ok(Checked::Retry(format!("fetching raw data: {e}"))),
        };
        let glb = match self.ctx.scene(&job.spec.sceneCid).await {
            Ok(b) => b,
            Err(SceneFetch::Unavailable(e)) => return Ok(Checked::Retry(e)),
            Err(SceneFetch::Refused(e)) => return Ok(Checked::Unverifiable(e)),
        };
        let n = u32::try_from(hashes.len())?;
        let k = self.ctx.cfg.verify_cells.min(n);
        let seed = sample_seed(self.secret, s.block_hash, s.job, s.task, s.attempt);
        let picks = select_cells(&seed.0, n, k);
        // forged_fraction is in (0, 1], so the product is in 0..=n.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let forged = (f64::from(n) * self.ctx.cfg.forged_fraction).ceil() as u64;
        tracing::info!(
            job = s.job,
            task = s.task,
            cells = n,
            checked = k,
            detection = detection_probability(u64::from(n), forged, u64::from(k)),
            "re-rendering sampled cells"
        );
        let backend = self.ctx.backend.clone();
        let task = s.task;
        let scenes = self.ctx.scenes.clone();
        let cid = job.spec.sceneCid.clone();
        let frame = t.frame;
        let mismatch = tokio::task::spawn_blocking(move || {
            let scene = scenes.get(&cid, &glb, &settings, frame)?;
            recheck(&scene, &settings, task, &hashes, &picks, &backend)
                .map(|m| m.map(|(cell, ours)| (cell, ours, hashes)))
        })
        .await
        .context("verify thread")??;
        if let Some((cell, expected, hashes)) = mismatch {
            let proof = cells::proof_of(&hashes, cell as usize)
                .ok_or_else(|| anyhow!("no proof for cell {cell}"))?;
            return Ok(Checked::Reject {
                cell,
                expected,
                committed: hashes[cell as usize],
                proof,
            });
        }
        if raw_ok {
            Ok(Checked::Approve)
        } else {
            Ok(Checked::Unverifiable(
                "the delivered raw data does not match the committed leaves".into(),
            ))
        }
    }
}

/// Bytes of a task's raw data: the 40-byte header and 3 f32 per pixel.
pub fn raw_size(region: tessera_render::Rect) -> u64 {
    40 + u64::from(region.width) * u64::from(region.height) * 12
}

/// The committed data hash of every cell of task `task`, as the leaves document lists them, checked to build
/// `root`. The error says what is wrong with the document.
pub fn committed_hashes(
    doc: &serde_json::Value,
    settings: &tessera_render::RenderSettings,
    task: u64,
    root: B256,
) -> Result<Vec<B256>, String> {
    let t = settings.task(task).map_err(|e| e.to_string())?;
    let (cx, cy) = tessera_common::task::cell_grid(t.region, settings.cell_size);
    let n = (cx * cy) as usize;
    let mut hashes = Vec::with_capacity(n);
    for i in 0..n {
        let h = doc["cells"][i]["dataHash"]
            .as_str()
            .and_then(tessera_common::parse_hex32)
            .ok_or_else(|| format!("the leaves document lacks cell {i} of {n}"))?;
        hashes.push(B256::from(h));
    }
    if cells::root_of(&hashes) != Some(root) {
        return Err("the leaves document does not build the committed root".into());
    }
    Ok(hashes)
}

/// Whether delivered raw data is task `task`'s region at the job's cell size and its cells hash to the
/// committed data hashes (which `committed_hashes` checked against the root).
pub fn raw_matches(
    raw: &[u8],
    settings: &tessera_render::RenderSettings,
    task: u64,
    committed: &[B256],
) -> bool {
    let Ok(t) = settings.task(task) else {
        return false;
    };
    let Ok(h) = tessera_render::output::parse_header(raw) else {
        return false;
    };
    let region = [t.region.x, t.region.y, t.region.width, t.region.height];
    if h[2..6] != region || h[6] != settings.cell_size {
        return false;
    }
    tessera_render::output::cell_data_hashes(raw).is_ok_and(|got| {
        got.len() == committed.len() && got.iter().zip(committed).all(|(a, b)| a == &b.0)
    })
}

/// The seed of a verifier's cell sample: its secret and the submission's block hash (neither known to the
/// worker when it committed), and the submission's coordinates.
pub fn sample_seed(secret: B256, block_hash: B256, job: u64, task: u64, attempt: u64) -> B256 {
    let mut input = Vec::with_capacity(32 * 5);
    input.extend_from_slice(secret.as_slice());
    input.extend_from_slice(block_hash.as_slice());
    for v in [job, task, attempt] {
        input.extend_from_slice(&U256::from(v).to_be_bytes::<32>());
    }
    keccak256(&input)
}

/// Re-renders cells `picks` of task `task` of the job's scene (loaded for the task's frame) and compares each
/// with its committed data hash; returns the first cell that differs, with the hash this render gives.
pub fn recheck(
    scene: &tessera_render::Scene,
    settings: &tessera_render::RenderSettings,
    task: u64,
    hashes: &[B256],
    picks: &[u32],
    backend: &tessera_render::Backend,
) -> Result<Option<(u32, B256)>> {
    let t = settings.task(task).map_err(|e| anyhow!("{e}"))?;
    let ts = tessera_render::task_settings(settings, t.frame);
    let cells = tessera_render::render_cells(scene, &ts, t.region, picks, backend)?;
    for (c, _) in cells {
        let ours = B256::from(c.data_hash);
        if hashes.get(c.index as usize) != Some(&ours) {
            return Ok(Some((c.index, ours)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings() -> tessera_render::RenderSettings {
        tessera_render::RenderSettings {
            width: 48,
            height: 32,
            samples_per_pixel: 2,
            max_bounces: 2,
            frame_start: 0,
            frame_count: 1,
            regions_x: 1,
            regions_y: 1,
            cell_size: 8,
            seed: 3,
        }
    }

    #[test]
    fn an_honest_task_passes_and_a_forged_cell_is_found_with_its_proof() {
        let glb = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../assets/scenes/complete.glb"
        ))
        .unwrap();
        let s = settings();
        let cpu = tessera_render::Backend::Cpu;
        let scenes = crate::SceneCache::default();
        let scene = scenes.get("cid", &glb, &s, 0).unwrap();
        let img = crate::worker::render_task(&scene, &s, 0, &cpu, &|_, _| {}).unwrap();
        let doc = tessera_render::output::leaves_json(&img, s.cell_size);
        let root = B256::from(img.root);
        let hashes = committed_hashes(&doc, &s, 0, root).unwrap();
        assert_eq!(hashes.len(), 24);
        // The delivered raw data matches the committed hashes; one flipped bit, or another task's region, does not.
        let raw = tessera_render::output::raw_bytes(&img, s.width, s.height, s.cell_size);
        assert!(raw_matches(&raw, &s, 0, &hashes));
        let mut bad = raw.clone();
        bad[100] ^= 1;
        assert!(!raw_matches(&bad, &s, 0, &hashes));
        let two = tessera_render::RenderSettings { regions_x: 2, ..s };
        assert!(!raw_matches(&raw, &two, 1, &hashes));
        let all: Vec<u32> = (0..24).collect();
        assert_eq!(recheck(&scene, &s, 0, &hashes, &all, &cpu).unwrap(), None);

        // A document that does not build the committed root is refused.
        assert!(
            committed_hashes(&doc, &s, 0, B256::ZERO)
                .unwrap_err()
                .contains("root")
        );
        // A forged cell 7 (committed consistently) is found when sampled, with the honest hash.
        let mut forged = hashes.clone();
        forged[7] = B256::repeat_byte(1);
        let found = recheck(&scene, &s, 0, &forged, &all, &cpu).unwrap();
        assert_eq!(found, Some((7, hashes[7])));
        let proof = cells::proof_of(&forged, 7).unwrap();
        let leaf = tessera_common::cells::leaf(7, forged[7].0);
        assert_eq!(
            B256::from(tessera_common::cells::process_proof(
                leaf,
                &proof.iter().map(|p| p.0).collect::<Vec<_>>()
            )),
            cells::root_of(&forged).unwrap()
        );
        // The sample depends on the verifier's secret: another secret picks other cells.
        let a = sample_seed(B256::repeat_byte(1), B256::repeat_byte(9), 1, 0, 0);
        let b = sample_seed(B256::repeat_byte(2), B256::repeat_byte(9), 1, 0, 0);
        assert_ne!(select_cells(&a.0, 8160, 66), select_cells(&b.0, 8160, 66));
    }
}
