//! Verifier mode: a member of the verifier registry that sits on the committees the contract draws for it.
//!
//! At start it holds the configured number of registry tickets. Each round it reads the market's new logs:
//! every `ResultSubmitted` puts the submission on its watch list, and every `CommitteeDrawn` that seats it
//! becomes a duty ([`duty`]): check the submission by re-rendering the draw's sample with its audit signs
//! ([`check`]), commit, reveal. For every watched submission it keeps the protocol moving: when a draw is due
//! it commits first if the preview seats it (its commit makes the draw) and otherwise draws after a grace of a
//! few blocks; it appeals a standing verdict its own check contradicts (and disputes an optimistic result
//! that is wrong or whose data is withheld); it finalizes phases that ran out. One submission's failure is
//! logged and retried later, never in the way of the others.

pub mod check;
pub mod duty;

use crate::{Ctx, Metrics};
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::sol_types::SolEvent;
use anyhow::{Context, Result};
use check::{Checked, Queue, RenderSlot, Target};
use duty::{Duty, DutyState, seat_of};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use tessera_bindings::DistributedRender::{CommitteeDrawn, ResultSubmitted};
use tessera_bindings::committee;
use tessera_bindings::{Phase, TaskState, Verdict, cells};
use tessera_common::verify::detection_probability;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// Seconds after a phase ends before this daemon finalizes a task it holds no seat in (its members and the
/// worker do it first; the grace keeps several verifiers from racing to the same transaction).
const FINALIZE_GRACE_S: u64 = 10;

/// A submitted result this verifier keeps an eye on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Watch {
    /// Job id.
    pub job: u64,
    /// Task index.
    pub task: u64,
    /// The submission's attempt.
    pub attempt: u64,
    /// Output directory CID.
    pub cid: String,
    /// Committed cell root.
    pub root: B256,
    /// What this verifier's own check of the submission says (approve?), once checked.
    pub my_verdict: Option<bool>,
    /// The appeal level this verifier already appealed to.
    pub appealed_level: Option<u64>,
    /// When an observer check last found the committed data missing (a dispute is due if that was late in
    /// the dispute window).
    #[serde(default)]
    pub data_missing_at: Option<u64>,
    /// This verifier voted on the submission without the data to judge it (a reject forced at the end of a
    /// commit phase): it does not appeal either way, not even against its own vote once the data appears.
    #[serde(default)]
    pub no_appeal: bool,
}

impl Watch {
    fn key(job: u64, task: u64) -> String {
        format!("watch/{job:020}/{task:010}")
    }
}

/// The verifier.
pub struct Verifier {
    ctx: Arc<Ctx>,
    book: crate::JobBook,
    /// A secret only this key yields: salts and private samples are derived from it.
    secret: B256,
    /// Items that failed, and the round before which they are not tried again.
    backoff: HashMap<String, (u64, u32)>,
    round: u64,
    /// Checks running in their own tasks (a render can outlast a round), by duty or watch key and seed.
    checks: HashMap<String, JoinHandle<Result<Checked>>>,
    /// The render permit: one check renders at a time (see [`check::RenderSlot`]).
    renders: Arc<Semaphore>,
}

impl Verifier {
    /// A verifier over `ctx`.
    pub fn new(ctx: Ctx) -> Result<Self> {
        use alloy::signers::SignerSync;
        // The signature (deterministic, RFC 6979) of a fixed hash: only this key can compute it.
        let sig = ctx
            .signer
            .sign_hash_sync(&keccak256(b"tessera verifier secret v2"))?;
        let secret = keccak256(sig.as_bytes());
        let book = crate::JobBook::new(&ctx.chain.deployment);
        Ok(Self {
            ctx: Arc::new(ctx),
            book,
            secret,
            backoff: HashMap::new(),
            round: 0,
            checks: HashMap::new(),
            renders: Arc::new(Semaphore::new(1)),
        })
    }

    /// Runs until shutdown.
    pub async fn run(mut self) -> Result<()> {
        let k = u64::from(committee::SAMPLE_CELLS);
        let f = self.ctx.cfg.forged_fraction;
        // A forgery of f of a 1080p task's 8,160 cells (16 px cells), checked on the draw's k cells.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let forged = (8160.0 * f).ceil() as u64;
        let p = detection_probability(8160, forged, k);
        tracing::info!(
            cells = k,
            forged_fraction = f,
            detection = format!("{:.4}%", p * 100.0),
            "each draw's members re-render {k} sampled cells: a forgery of {:.0}% of a task's cells is caught by a draw with probability {:.4}%",
            f * 100.0,
            p * 100.0
        );
        eprintln!(
            "verifier: {k} cells per draw; detection of a {:.0}% forgery {:.4}%",
            f * 100.0,
            p * 100.0
        );
        self.register().await.context("registering as a verifier")?;
        while !self.ctx.stopping() {
            if let Err(e) = self.tick().await {
                Metrics::inc(&self.ctx.metrics.errors, "round");
                tracing::warn!(error = %format!("{e:#}"), "round failed; retrying");
            }
            self.ctx.pause().await;
        }
        tracing::info!("shutting down");
        Ok(())
    }

    /// Holds the configured number of registry tickets: free bonded stake first, the rest sent with the call.
    async fn register(&self) -> Result<()> {
        let c = &self.ctx.chain;
        let info = c.verifier_info().await?;
        if info.leavingSince != U256::ZERO {
            tracing::warn!(
                "this account left the verifier registry: it is not drawn until released and registered again"
            );
            return Ok(());
        }
        let want = U256::from(self.ctx.cfg.tickets);
        if info.tickets >= want {
            tracing::info!(tickets = %info.tickets, "registered");
            return Ok(());
        }
        let more = want - info.tickets;
        let ticket = c.market.TICKET_STAKE().call().await?;
        let need = more * ticket;
        let free = U256::from(c.free_stake().await?);
        let value = need.saturating_sub(free);
        c.send(
            c.market.registerVerifier(more).value(value),
            &format!("registering {more} verifier tickets"),
        )
        .await?;
        tracing::info!(tickets = %want, sent_wei = %value, "registered");
        Ok(())
    }

    async fn tick(&mut self) -> Result<()> {
        self.round += 1;
        let c = self.ctx.chain.clone();
        self.book.refresh(&c).await?;
        self.scan().await?;
        // The round's reads of the market are made at this head (and this verifier's receipts since).
        let head = c.pin().await?;
        let mut now = c.now().await?;
        // Duties first (their windows are the tightest): reveals, then votes ready to commit, then checks
        // (which render, and may take long), earliest draws first within each.
        let mut duties: Vec<(String, Duty)> = self.ctx.store.list::<Duty>("duty/")?;
        duties.retain(|(_, d)| d.state != DutyState::Done);
        duties.sort_by_key(|(_, d)| {
            let work = match (d.state, d.vote.is_some()) {
                (DutyState::Committed, _) => 0,
                (_, true) => 1,
                _ => 2,
            };
            (work, d.drawn_block == 0, d.drawn_block)
        });
        for (key, mut d) in duties {
            if self.ctx.stopping() {
                return Ok(());
            }
            if self.waiting(&key) {
                continue;
            }
            let res = self.duty_step(&mut d, now, head).await;
            self.settle_backoff(&key, res, "duty");
            now = c.now().await?;
        }
        for (key, mut w) in self.ctx.store.list::<Watch>("watch/")? {
            if self.ctx.stopping() {
                return Ok(());
            }
            if self.waiting(&key) {
                continue;
            }
            match self.watch_step(&mut w, now, head).await {
                Ok(true) => self.ctx.store.put(&key, &w)?,
                Ok(false) => self.ctx.store.delete(&key)?,
                Err(e) => self.settle_backoff(&key, Err(e), "watch"),
            }
        }
        let mut live = std::collections::HashSet::new();
        for (key, d) in self.ctx.store.list::<Duty>("duty/")? {
            if d.state == DutyState::Done {
                self.ctx.store.delete(&key)?;
            } else {
                live.insert(key);
            }
        }
        for (key, _) in self.ctx.store.list::<Watch>("watch/")? {
            live.insert(key);
        }
        // A check whose duty or watch is gone is not wanted any more.
        self.checks.retain(|k, h| {
            let keep = k
                .rsplit_once('@')
                .is_some_and(|(owner, _)| live.contains(owner));
            if !keep {
                h.abort();
            }
            keep
        });
        self.ctx.withdraw_if_due().await?;
        Ok(())
    }

    fn waiting(&self, key: &str) -> bool {
        self.backoff
            .get(key)
            .is_some_and(|(until, _)| self.round < *until)
    }

    /// Clears an item's backoff after success; after a failure, logs it and waits 1, 2, 4 … 32 rounds.
    fn settle_backoff(&mut self, key: &str, res: Result<()>, what: &str) {
        match res {
            Ok(()) => {
                self.backoff.remove(key);
            }
            Err(e) => {
                Metrics::inc(&self.ctx.metrics.errors, what);
                let fails = self.backoff.get(key).map_or(0, |(_, n)| *n) + 1;
                let wait = 1u64 << fails.min(5);
                tracing::warn!(item = key, error = %format!("{e:#}"), retry_in_rounds = wait, "failed; the others go on");
                self.backoff
                    .insert(key.to_owned(), (self.round + wait, fails));
            }
        }
    }

    /// Reads the market's logs since the cursor: submissions to watch, draws that seat this verifier.
    async fn scan(&mut self) -> Result<()> {
        let c = self.ctx.chain.clone();
        let head = c.head().await?;
        let from = self
            .ctx
            .store
            .get::<u64>("cursor")?
            .unwrap_or(c.deployment.deployment_block);
        if from > head {
            return Ok(());
        }
        let logs = c
            .logs(
                vec![
                    ResultSubmitted::SIGNATURE_HASH,
                    CommitteeDrawn::SIGNATURE_HASH,
                ],
                from,
                head,
                None,
            )
            .await?;
        for log in logs {
            if let Ok(e) = log.log_decode::<ResultSubmitted>() {
                let e = e.inner.data;
                let job = e.jobId.to::<u64>();
                let own = e.worker == c.me || self.book.get(job).is_some_and(|j| j.artist == c.me);
                if own {
                    continue;
                }
                let w = Watch {
                    job,
                    task: e.taskIndex.to::<u64>(),
                    attempt: e.attempt.to::<u64>(),
                    cid: e.outputCid,
                    root: e.cellRoot,
                    my_verdict: None,
                    appealed_level: None,
                    data_missing_at: None,
                    no_appeal: false,
                };
                self.ctx.store.put(&Watch::key(w.job, w.task), &w)?;
            } else if let Ok(e) = log.log_decode::<CommitteeDrawn>() {
                let e = e.inner.data;
                let Some(member) = seat_of(&e.members, c.me) else {
                    continue;
                };
                let (job, task) = (e.jobId.to::<u64>(), e.taskIndex.to::<u64>());
                let (attempt, draw) = (e.attempt.to::<u64>(), e.draw.to::<u64>());
                let key = Duty::key(job, task, attempt, draw);
                if let Some(mut d) = self.ctx.store.get::<Duty>(&key)? {
                    if d.state == DutyState::Drawn && d.seed != e.seed {
                        // Planned from a preview, but the draw was deferred and made later from another seed:
                        // the sampled cells changed, so a vote computed from the old ones is dropped.
                        d.seed = e.seed;
                        d.member = member;
                        d.vote = None;
                        tracing::info!(job, task, draw, "the draw was made from a later seed");
                        self.save_duty(&d)?;
                    }
                    continue;
                }
                let Some(w) = self.ctx.store.get::<Watch>(&Watch::key(job, task))? else {
                    continue;
                };
                let d = Duty {
                    job,
                    task,
                    attempt,
                    draw,
                    seed: e.seed,
                    drawn_block: log.block_number.unwrap_or(head),
                    member,
                    cid: w.cid,
                    root: w.root,
                    state: DutyState::Drawn,
                    vote: None,
                };
                tracing::info!(job, task, draw, level = %e.level, "seated on a committee");
                self.save_duty(&d)?;
            }
        }
        self.ctx.store.put("cursor", &(head + 1))?;
        Ok(())
    }

    /// Keeps one watched submission moving; false once it is settled.
    async fn watch_step(&mut self, w: &mut Watch, now: u64, head: u64) -> Result<bool> {
        let c = self.ctx.chain.clone();
        let t = c.task(w.job, w.task).await?;
        if t.state != TaskState::Submitted || t.attempt != w.attempt {
            return Ok(false);
        }
        let Some(job) = self.book.get(w.job).cloned() else {
            return Ok(true);
        };
        let v = c.verification(w.job, w.task).await?;
        let (job_id, task) = (U256::from(w.job), U256::from(w.task));
        if v.draw_due(head, now) {
            if let Some(p) = c.preview_committee(w.job, w.task).await?
                && let Some(member) = seat_of(&p.members, c.me)
            {
                let key = Duty::key(w.job, w.task, w.attempt, p.draw);
                if self.ctx.store.get::<Duty>(&key)?.is_none() {
                    // Our first commit makes the draw.
                    self.save_duty(&Duty {
                        job: w.job,
                        task: w.task,
                        attempt: w.attempt,
                        draw: p.draw,
                        seed: p.seed,
                        drawn_block: 0,
                        member,
                        cid: w.cid.clone(),
                        root: w.root,
                        state: DutyState::Drawn,
                        vote: None,
                    })?;
                }
            }
            // Past the grace, anyone draws, a member whose check is not done yet included: the seed block's
            // hash can be read for 256 blocks only.
            if head > v.seed_block + self.ctx.cfg.draw_grace_blocks
                && let Err(e) = c
                    .send(
                        c.market.drawCommittee(job_id, task),
                        &format!("drawing the committee of job {} task {}", w.job, w.task),
                    )
                    .await
            {
                tracing::info!(error = %format!("{e:#}"), "draw not made (someone else may have)");
            }
            return Ok(true);
        }
        if self.ctx.cfg.appeal {
            let dispute = v.phase == Phase::None && job.spec.optimistic && now < v.phase_ends_at;
            if dispute || v.appealable(now) {
                self.appeal_if_wrong(w, &job, &v, dispute, now).await?;
            }
        }
        // Members finalize as soon as the phase ends; everyone else gives them a grace period first.
        let seated = || -> Result<bool> {
            let prefix = format!("duty/{:020}/{:010}/{:05}/", w.job, w.task, w.attempt);
            Ok(!self.ctx.store.list::<Duty>(&prefix)?.is_empty())
        };
        if v.finalizable(now, job.spec.optimistic)
            && (now >= v.phase_ends_at + FINALIZE_GRACE_S || seated()?)
        {
            let what = format!("finalizing job {} task {}", w.job, w.task);
            if let Err(e) = c.send(c.market.finalizeTask(job_id, task), &what).await {
                tracing::info!(error = %format!("{e:#}"), "finalize not accepted (someone else may have)");
            }
        }
        Ok(true)
    }

    /// Appeals the standing verdict (or disputes an optimistic result) when this verifier's own check says
    /// otherwise, within the bond limit, once per level.
    async fn appeal_if_wrong(
        &mut self,
        w: &mut Watch,
        job: &tessera_bindings::market::JobInfo,
        v: &tessera_bindings::market::VerificationState,
        dispute: bool,
        now: u64,
    ) -> Result<()> {
        let level = if dispute { 0 } else { v.level + 1 };
        if w.appealed_level == Some(level) || w.no_appeal {
            return Ok(());
        }
        // The last fifth of the window.
        let late_from = v
            .phase_ends_at
            .saturating_sub((u64::from(job.spec.challengeWindow) / 5).max(2));
        let late = now >= late_from;
        let owner = Watch::key(w.job, w.task);
        let mine = if let Some(mine) = w.my_verdict {
            mine
        } else if dispute && w.data_missing_at.is_some_and(|at| at >= late_from) {
            // The data was found missing late in the window: a committee challenges for it. This is no verdict
            // of ours: later levels check again.
            false
        } else if self.check_running(&owner, None) {
            return Ok(());
        } else {
            // Not on the committee that decided: check with the last draw's sample, or (an optimistic result
            // nobody drew for) with a private one.
            let seed = if dispute {
                keccak256(
                    (
                        self.secret,
                        U256::from(w.job),
                        U256::from(w.task),
                        U256::from(w.attempt),
                    )
                        .abi_encode(),
                )
            } else {
                self.last_seed(w).await?
            };
            let t = Target {
                job: job.clone(),
                task: w.task,
                cid: w.cid.clone(),
                root: w.root,
                seed,
                provided: None,
                late: false,
            };
            let Some(checked) = self.check_in_background(&owner, t, Queue::IfIdle).await? else {
                return Ok(());
            };
            match checked {
                Checked::Vote {
                    approve,
                    why,
                    conclusive: true,
                    ..
                } => {
                    tracing::info!(
                        job = w.job,
                        task = w.task,
                        approve,
                        why,
                        "checked a verdict as an observer"
                    );
                    w.data_missing_at = None;
                    w.my_verdict = Some(approve);
                    approve
                }
                // Data missing is a reason to have a committee challenge for it, late in the dispute window
                // (a failed fetch is retried until then).
                Checked::NeedData { why, .. } if dispute => {
                    tracing::info!(
                        job = w.job,
                        task = w.task,
                        why,
                        "optimistic result without its data"
                    );
                    w.data_missing_at = Some(now);
                    if !late {
                        return Ok(());
                    }
                    false
                }
                Checked::Abstain(why) => {
                    tracing::warn!(
                        job = w.job,
                        task = w.task,
                        why,
                        "not judging this submission"
                    );
                    w.no_appeal = true;
                    return Ok(());
                }
                _ => return Ok(()),
            }
        };
        let standing = if dispute {
            true
        } else {
            v.verdict == Verdict::Approve
        };
        if mine == standing {
            return Ok(());
        }
        let c = &self.ctx.chain;
        let bond = c
            .market
            .appealBond(U256::from(w.job), U256::from(level))
            .call()
            .await?;
        if bond > U256::from(self.ctx.cfg.max_appeal_bond_wei) {
            tracing::warn!(job = w.job, task = w.task, %bond, "not appealing: the bond is above max_appeal_bond_wei");
            w.appealed_level = Some(level);
            return Ok(());
        }
        c.appeal(w.job, w.task).await?;
        w.appealed_level = Some(level);
        Metrics::inc(
            &self.ctx.metrics.appeals,
            if dispute { "dispute" } else { "verdict" },
        );
        tracing::warn!(job = w.job, task = w.task, level, %bond, "the standing verdict is wrong: appealed");
        Ok(())
    }

    /// Whether a check for `owner` is running (with `seed`, when given).
    fn check_running(&self, owner: &str, seed: Option<B256>) -> bool {
        let prefix = seed.map_or_else(|| format!("{owner}@"), |s| format!("{owner}@{s}/"));
        self.checks
            .iter()
            .any(|(k, h)| k.starts_with(&prefix) && !h.is_finished())
    }

    /// The outcome of checking `t` for `owner` (a duty's or a watch's key), run in a task of its own: `None`
    /// while it runs (it is started on the first call), then its result, once. A check for another seed, or
    /// with data proven on-chain where there was none, is another check, and replaces the owner's earlier
    /// one. One check renders at a time: a duty's waits its turn; an observer's is not started while a render
    /// runs, and renders only if none does (`Queue::IfIdle`).
    async fn check_in_background(
        &mut self,
        owner: &str,
        t: Target,
        queue: Queue,
    ) -> Result<Option<Checked>> {
        let key = format!(
            "{owner}@{}/{}",
            t.seed,
            if t.provided.is_some() {
                "proven"
            } else {
                "published"
            }
        );
        if let Some(h) = self.checks.get(&key) {
            if !h.is_finished() {
                return Ok(None);
            }
            let h = self.checks.remove(&key).context("a finished check")?;
            return h.await.context("the check task")?.map(Some);
        }
        if queue == Queue::IfIdle && self.renders.available_permits() == 0 {
            return Ok(None);
        }
        let prefix = format!("{owner}@");
        self.checks.retain(|k, h| {
            let stale = k.starts_with(&prefix);
            if stale {
                h.abort();
            }
            !stale
        });
        let ctx = self.ctx.clone();
        let slot = RenderSlot {
            renders: self.renders.clone(),
            queue,
        };
        self.checks.insert(
            key,
            tokio::spawn(async move { check::check(&ctx, &t, &slot).await }),
        );
        Ok(None)
    }

    /// The seed of the last draw of a watched submission.
    async fn last_seed(&self, w: &Watch) -> Result<B256> {
        self.draw_seed(w.job, w.task, w.attempt, None)
            .await?
            .context("no committee was drawn for this submission")
    }

    /// The seed draw `draw` (the last one when `None`) of a submission was made with (`CommitteeDrawn`).
    async fn draw_seed(
        &self,
        job: u64,
        task: u64,
        attempt: u64,
        draw: Option<u64>,
    ) -> Result<Option<B256>> {
        let since = self.book.get(job).map_or(0, |j| j.posted_block);
        let logs = self
            .ctx
            .chain
            .job_logs_since(vec![CommitteeDrawn::SIGNATURE_HASH], job, since)
            .await?;
        Ok(logs
            .iter()
            .filter_map(|l| l.log_decode::<CommitteeDrawn>().ok())
            .map(|l| l.inner.data)
            .filter(|e| {
                e.taskIndex == U256::from(task)
                    && e.attempt == U256::from(attempt)
                    && draw.is_none_or(|d| e.draw == U256::from(d))
            })
            .max_by_key(|e| e.draw)
            .map(|e| e.seed))
    }

    /// Records this verifier's verdict on a submission (for appeals): `Some` when it rests on what the
    /// member computed, `None` when the vote was forced without the data (no appeal then).
    fn remember_verdict(
        &self,
        job: u64,
        task: u64,
        attempt: u64,
        approve: Option<bool>,
    ) -> Result<()> {
        let key = Watch::key(job, task);
        if let Some(mut w) = self.ctx.store.get::<Watch>(&key)?
            && w.attempt == attempt
        {
            match approve {
                Some(a) => w.my_verdict = Some(a),
                None => w.no_appeal = true,
            }
            self.ctx.store.put(&key, &w)?;
        }
        Ok(())
    }
}

use alloy::sol_types::SolValue;

/// Bytes of a task's raw data: the 40-byte header and 3 f32 per pixel.
pub fn raw_size(region: tessera_render::Rect) -> u64 {
    40 + u64::from(region.width) * u64::from(region.height) * 12
}

/// What a member reads of a leaves document (`tessera_render::output::leaves_json`): each cell's data hash,
/// parsed straight into 32-byte arrays. A generic JSON tree of a worker-supplied document (up to
/// 256 MiB) takes about 17 times its size; this takes under half of it.
#[derive(serde::Deserialize)]
struct LeavesDoc {
    cells: Vec<LeafCell>,
}

#[derive(serde::Deserialize)]
struct LeafCell {
    #[serde(rename = "dataHash")]
    data_hash: Hex32,
}

/// A 0x-prefixed hex string of 32 bytes.
struct Hex32(tessera_common::Hash32);

impl<'de> serde::Deserialize<'de> for Hex32 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        tessera_common::parse_hex32(&s)
            .map(Hex32)
            .ok_or_else(|| serde::de::Error::custom("a dataHash is not 32 bytes of hex"))
    }
}

/// The committed data hash of every cell of task `task`, as the leaves document `doc` (its JSON bytes) lists
/// them, checked to build `root`. The error says what is wrong with the document (bounded in length).
pub fn committed_hashes(
    doc: &[u8],
    settings: &tessera_render::RenderSettings,
    task: u64,
    root: B256,
) -> Result<Vec<B256>, String> {
    let t = settings.task(task).map_err(|e| e.to_string())?;
    let (cx, cy) = tessera_common::task::cell_grid(t.region, settings.cell_size);
    let n = (cx * cy) as usize;
    let doc: LeavesDoc = serde_json::from_slice(doc).map_err(|e| {
        // At most 200 characters (serde quotes the offending text, which the worker chose: cut at a
        // character, never inside one).
        format!("the leaves document is not one: {e}")
            .chars()
            .take(200)
            .collect::<String>()
    })?;
    if doc.cells.len() != n {
        return Err(format!(
            "the leaves document lists {} cells; the task has {n}",
            doc.cells.len()
        ));
    }
    let hashes: Vec<B256> = doc
        .cells
        .iter()
        .map(|c| B256::from(c.data_hash.0))
        .collect();
    if cells::root_of(&hashes) != Some(root) {
        return Err("the leaves document does not build the committed root".into());
    }
    Ok(hashes)
}

/// The data hash of every cell of delivered raw data, when it is task `task`'s region at the job's cell size.
fn raw_cell_hashes(
    raw: &[u8],
    settings: &tessera_render::RenderSettings,
    task: u64,
) -> Option<Vec<tessera_common::Hash32>> {
    let t = settings.task(task).ok()?;
    let h = tessera_render::output::parse_header(raw).ok()?;
    let region = [t.region.x, t.region.y, t.region.width, t.region.height];
    if h[2..6] != region || h[6] != settings.cell_size {
        return None;
    }
    tessera_render::output::cell_data_hashes(raw).ok()
}

/// Whether delivered raw data is task `task`'s region at the job's cell size and its cells hash to the
/// committed data hashes (which `committed_hashes` checked against the root).
pub fn raw_matches(
    raw: &[u8],
    settings: &tessera_render::RenderSettings,
    task: u64,
    committed: &[B256],
) -> bool {
    raw_cell_hashes(raw, settings, task).is_some_and(|got| {
        got.len() == committed.len() && got.iter().zip(committed).all(|(a, b)| a == &b.0)
    })
}

/// Whether delivered raw data is task `task`'s region at the job's cell size and the listed cells hash to
/// their committed data hashes (proven on-chain when the leaves document was withheld).
pub fn raw_matches_cells(
    raw: &[u8],
    settings: &tessera_render::RenderSettings,
    task: u64,
    cells: &[(u32, B256)],
) -> bool {
    raw_cell_hashes(raw, settings, task).is_some_and(|got| {
        cells.iter().all(|(i, want)| {
            usize::try_from(*i)
                .ok()
                .and_then(|i| got.get(i))
                .is_some_and(|g| g == &want.0)
        })
    })
}

/// Whether `address` is this verifier's (for tests of the seat lookup).
pub fn seated(members: &[Address], me: Address) -> bool {
    seat_of(members, me).is_some()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings() -> tessera_render::RenderSettings {
        tessera_render::RenderSettings {
            width: 48,
            height: 32,
            samples_per_pixel: 8,
            max_bounces: 2,
            frame_start: 0,
            frame_count: 1,
            regions_x: 1,
            regions_y: 1,
            cell_size: 8,
            seed: 3,
        }
    }

    /// What a member computes, end to end without the chain: the worker's outputs check against its root,
    /// the draw's sample re-rendered matches an honest commitment and not a forged cell, and the render proof
    /// is the same for every member of a draw and different for another draw.
    #[test]
    fn a_member_finds_a_forged_sampled_cell_and_members_agree_on_the_render_proof() {
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
        let doc =
            serde_json::to_vec(&tessera_render::output::leaves_json(&img, s.cell_size)).unwrap();
        let root = B256::from(img.root);
        let hashes = committed_hashes(&doc, &s, 0, root).unwrap();
        assert_eq!(hashes.len(), 24);
        let raw = tessera_render::output::raw_bytes(&img, s.width, s.height, s.cell_size);
        assert!(raw_matches(&raw, &s, 0, &hashes));
        let mut bad = raw.clone();
        bad[100] ^= 1;
        assert!(!raw_matches(&bad, &s, 0, &hashes));
        // Against the proven cells only (leaves withheld): byte 100 is in cell 0; cells 5 and 23 still match.
        let proven = |cells: &[u32]| -> Vec<(u32, B256)> {
            cells.iter().map(|&c| (c, hashes[c as usize])).collect()
        };
        assert!(raw_matches_cells(&raw, &s, 0, &proven(&[0, 5, 23])));
        assert!(!raw_matches_cells(&bad, &s, 0, &proven(&[0, 5])));
        assert!(raw_matches_cells(&bad, &s, 0, &proven(&[5, 23])));
        assert!(
            !raw_matches_cells(&raw, &s, 0, &[(24, hashes[0])]),
            "no cell 24"
        );
        assert!(
            !raw_matches_cells(&raw, &s, 1, &proven(&[5])),
            "a task the job does not have"
        );
        assert!(
            committed_hashes(&doc, &s, 0, B256::ZERO)
                .unwrap_err()
                .contains("root")
        );
        // Documents a hostile worker may publish: each refused, by name.
        let refused = |doc: &str| committed_hashes(doc.as_bytes(), &s, 0, root).unwrap_err();
        assert!(refused("[1, 2]").contains("not one"));
        assert!(refused(r#"{"cells": [{"dataHash": "0x12"}]}"#).contains("32 bytes"));
        let one = format!(r#"{{"dataHash": "0x{}"}}"#, "ab".repeat(32));
        let few = format!(r#"{{"cells": [{one}]}}"#);
        assert!(refused(&few).contains("lists 1 cells; the task has 24"));
        let many = format!(r#"{{"cells": [{}]}}"#, vec![one.as_str(); 25].join(","));
        assert!(refused(&many).contains("lists 25 cells"));
        let long = format!("{{\"cells\": [{}", "[".repeat(100_000));
        assert!(refused(&long).chars().count() <= 200, "a bounded message");
        // serde quotes the offending string: a cut inside a multi-byte character must not panic.
        for pad in 0..4 {
            let euros = format!("{{\"cells\":\"{}{}\"}}", " ".repeat(pad), "€".repeat(80));
            assert!(refused(&euros).chars().count() <= 200);
        }

        let seed = B256::repeat_byte(9);
        let sample = committee::sample(seed, 24);
        assert_eq!(
            sample.len(),
            24,
            "a task with fewer cells than the sample checks them all"
        );
        let t = s.task(0).unwrap();
        let ts = tessera_render::task_settings(&s, t.frame);
        let mask = committee::audit_mask(seed);
        let a = tessera_render::render_cells_audited(&scene, &ts, t.region, &sample, mask).unwrap();
        for c in &a {
            assert_eq!(B256::from(c.cell.data_hash), hashes[c.cell.index as usize]);
        }
        let mut forged = hashes.clone();
        forged[7] = B256::repeat_byte(1);
        assert!(
            a.iter()
                .any(|c| B256::from(c.cell.data_hash) != forged[c.cell.index as usize])
        );
        let proof = committee::render_proof(&a.iter().map(|c| c.audit_hash).collect::<Vec<_>>());
        let b = tessera_render::render_cells_audited(&scene, &ts, t.region, &sample, mask).unwrap();
        assert_eq!(
            proof,
            committee::render_proof(&b.iter().map(|c| c.audit_hash).collect::<Vec<_>>())
        );
        let other = committee::audit_mask(B256::repeat_byte(8));
        // Only the first `spp` bits of a mask sign samples: the two draws must differ there.
        assert_ne!((mask ^ other) & 0xff, 0);
        let c2 =
            tessera_render::render_cells_audited(&scene, &ts, t.region, &sample, other).unwrap();
        assert_ne!(
            proof,
            committee::render_proof(&c2.iter().map(|c| c.audit_hash).collect::<Vec<_>>())
        );
        assert!(seated(
            &[Address::repeat_byte(1), Address::repeat_byte(2)],
            Address::repeat_byte(2)
        ));
    }
}
