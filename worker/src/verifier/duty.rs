//! One seat's work: a member of a draw checks the submission ([`super::check`]), commits its vote and render
//! proof, challenges the worker for the sampled cells when their committed data cannot be had, and reveals.
//! A duty is written to the store before each transaction that depends on it, so a restarted daemon commits
//! the vote it computed and reveals what it committed (the salt is derived, not stored).

use super::Verifier;
use super::check::{Checked, Target};
use crate::Metrics;
use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolEvent;
use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};
use tessera_bindings::DistributedRender::{DataChallenged, DataProvided};
use tessera_bindings::market::VerificationState;
use tessera_bindings::{MemberState, Phase, TaskState, committee};

/// Where a duty stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DutyState {
    /// Seated (or about to be, by our own first commit): check and commit.
    Drawn,
    /// Committed: reveal when the reveal phase opens.
    Committed,
    /// Revealed, or nothing more to do.
    Done,
}

/// A seat of this verifier in one draw of one submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Duty {
    /// Job id.
    pub job: u64,
    /// Task index.
    pub task: u64,
    /// The submission's attempt.
    pub attempt: u64,
    /// The draw's index.
    pub draw: u64,
    /// The draw's seed.
    pub seed: B256,
    /// Block of the draw (0 while the draw is made by our own first commit).
    pub drawn_block: u64,
    /// Our member index in the draw.
    pub member: u64,
    /// Output directory CID of the submission.
    pub cid: String,
    /// Its committed cell root.
    pub root: B256,
    /// Where it stands.
    pub state: DutyState,
    /// The vote and render proof computed, once computed.
    pub vote: Option<(bool, B256)>,
}

impl Duty {
    /// The store key.
    pub fn key(job: u64, task: u64, attempt: u64, draw: u64) -> String {
        format!("duty/{job:020}/{task:010}/{attempt:05}/{draw:03}")
    }

    fn label(&self) -> String {
        format!("job {} task {} draw {}", self.job, self.task, self.draw)
    }
}

impl Verifier {
    /// Advances one duty by what the chain allows now.
    pub(super) async fn duty_step(&mut self, d: &mut Duty, now: u64, head: u64) -> Result<()> {
        let c = self.ctx.chain.clone();
        let t = c.task(d.job, d.task).await?;
        if t.state != TaskState::Submitted || t.attempt != d.attempt {
            return self.close(d, "the submission was settled");
        }
        let v = c.verification(d.job, d.task).await?;
        let made = v.draws > d.draw;
        if v.draws > d.draw + 1 {
            return self.close(d, "the verification moved past this draw");
        }
        if made && d.drawn_block == 0 {
            // The draw was made (by us or by someone else): find our seat, if we still have one, and the seed
            // it was made with (a duty planned from a preview may hold an older one).
            let members = c.members(d.job, d.task, d.draw).await?;
            match members.iter().position(|m| m.verifier == c.me) {
                Some(i) => d.member = u64::try_from(i)?,
                None => return self.close(d, "not seated by the draw"),
            }
            // A node whose logs lag behind its state may not show the draw yet: look again next round.
            let Some(seed) = self
                .draw_seed(d.job, d.task, d.attempt, Some(d.draw))
                .await?
            else {
                return Ok(());
            };
            d.drawn_block = head;
            if seed != d.seed && d.state == DutyState::Drawn {
                return self.reseed(d, seed, Some(d.member));
            }
            self.save_duty(d)?;
        }
        if made && d.state == DutyState::Drawn && d.vote.is_some() {
            // A commit sent but not seen mined (its receipt wait ran out, or the daemon stopped before the duty
            // was saved) may have landed: the chain says where the seat stands, and a landed commit is revealed.
            match self.seat_state(d).await? {
                Some(MemberState::Committed) => {
                    d.state = DutyState::Committed;
                    self.save_duty(d)?;
                    tracing::info!(
                        job = d.job,
                        task = d.task,
                        draw = d.draw,
                        "found our commit on chain"
                    );
                }
                Some(MemberState::RevealedApprove | MemberState::RevealedReject) => {
                    return self.close(d, "revealed");
                }
                _ => {}
            }
        }
        match d.state {
            DutyState::Drawn => self.vote(d, &v, now, head, made).await,
            DutyState::Committed => {
                if made && v.reveal_open(now) {
                    self.reveal(d).await
                } else if made
                    && !matches!(
                        v.phase,
                        Phase::Commit | Phase::Reveal | Phase::DataChallenge
                    )
                {
                    self.close(d, "the draw was counted")
                } else {
                    Ok(())
                }
            }
            DutyState::Done => Ok(()),
        }
    }

    /// Computes the vote (challenging for data when needed) and commits it.
    async fn vote(
        &mut self,
        d: &mut Duty,
        v: &VerificationState,
        now: u64,
        head: u64,
        made: bool,
    ) -> Result<()> {
        let c = self.ctx.chain.clone();
        if made && !(v.commit_open(now) || v.phase == Phase::DataChallenge) {
            Metrics::inc(&self.ctx.metrics.votes, "missed");
            return self.close(d, "the commit phase ended before a vote was ready");
        }
        if !made && !v.draw_due(head, now) {
            return Ok(());
        }
        if made && v.phase == Phase::DataChallenge {
            // Wait for the answer (or the worker's slash): a vote computed now would judge data that may still
            // be proven on-chain before the commit phase resumes.
            return Ok(());
        }
        let key = Duty::key(d.job, d.task, d.attempt, d.draw);
        if d.vote.is_none() {
            let Some(job) = self.book.get(d.job).cloned() else {
                return Ok(());
            };
            let proven = made && v.challenged && v.phase == Phase::Commit;
            if !proven && self.check_running(&key, Some(d.seed)) {
                return Ok(());
            }
            let provided = if proven {
                Some(self.provided(d).await?)
            } else {
                None
            };
            // The last fifth of the commit phase: what is still missing decides instead of a retry.
            let window = u64::from(job.spec.challengeWindow);
            let late = made && now + (window / 5).max(2) >= v.phase_ends_at;
            let target = Target {
                job,
                task: d.task,
                cid: d.cid.clone(),
                root: d.root,
                seed: d.seed,
                provided,
                late,
            };
            let Some(checked) = self
                .check_in_background(&key, target, super::Queue::Wait)
                .await?
            else {
                return Ok(());
            };
            match checked {
                Checked::Vote {
                    approve,
                    proof,
                    why,
                    conclusive,
                } => {
                    tracing::info!(
                        job = d.job,
                        task = d.task,
                        draw = d.draw,
                        approve,
                        why,
                        "verdict"
                    );
                    d.vote = Some((approve, proof));
                    self.save_duty(d)?;
                    // A vote forced by data this member could not fetch in time is no ground for an appeal,
                    // neither against members who had the data nor against its own vote once it appears.
                    self.remember_verdict(d.job, d.task, d.attempt, conclusive.then_some(approve))?;
                }
                Checked::NeedData { cells, why } => {
                    if made && v.commit_open(now) && !v.challenged {
                        return self.challenge(d, cells, &why).await;
                    }
                    tracing::info!(
                        job = d.job,
                        task = d.task,
                        why,
                        "committed data not at hand yet"
                    );
                    return Ok(());
                }
                Checked::Abstain(why) => {
                    tracing::warn!(
                        job = d.job,
                        task = d.task,
                        draw = d.draw,
                        why,
                        "no vote on this draw"
                    );
                    return self.close(d, "abstained");
                }
                Checked::Retry(why) => {
                    tracing::warn!(
                        job = d.job,
                        task = d.task,
                        why,
                        "cannot check yet; retrying"
                    );
                    return Ok(());
                }
            }
        }
        let Some((approve, proof)) = d.vote else {
            return Ok(());
        };
        if made && !v.commit_open(now) {
            return Ok(());
        }
        if !made {
            // Our commit makes the draw: only with the seat and seed of the draw it will make (a deferral or
            // a re-anchor since the duty was planned changes them).
            match c.preview_committee(d.job, d.task).await? {
                Some(p) if p.draw == d.draw && p.seed == d.seed => {
                    match seat_of(&p.members, c.me) {
                        Some(member) if member == d.member => {}
                        Some(member) => {
                            d.member = member;
                            self.save_duty(d)?;
                        }
                        None => return self.close(d, "no longer seated by the draw"),
                    }
                }
                Some(p) if p.draw == d.draw => {
                    return self.reseed(d, p.seed, seat_of(&p.members, c.me));
                }
                _ => return Ok(()),
            }
        }
        let salt = committee::salt(self.secret, d.job, d.task, d.attempt, d.draw);
        let commitment =
            committee::commitment(d.job, d.task, d.attempt, d.draw, c.me, approve, proof, salt);
        c.send(
            c.market.commitVote(
                U256::from(d.job),
                U256::from(d.task),
                U256::from(d.member),
                commitment,
            ),
            &format!("committing the vote on {}", d.label()),
        )
        .await?;
        d.state = DutyState::Committed;
        self.save_duty(d)?;
        tracing::info!(job = d.job, task = d.task, draw = d.draw, "vote committed");
        Ok(())
    }

    async fn reveal(&mut self, d: &mut Duty) -> Result<()> {
        let c = self.ctx.chain.clone();
        let (approve, proof) = d
            .vote
            .ok_or_else(|| anyhow!("a committed duty without its vote"))?;
        let salt = committee::salt(self.secret, d.job, d.task, d.attempt, d.draw);
        let sent = c
            .send(
                c.market.revealVote(
                    U256::from(d.job),
                    U256::from(d.task),
                    U256::from(d.member),
                    approve,
                    proof,
                    salt,
                ),
                &format!("revealing the vote on {}", d.label()),
            )
            .await;
        if let Err(e) = sent {
            // An earlier reveal whose receipt wait ran out may have landed: then this one reverts.
            return match self.seat_state(d).await? {
                Some(MemberState::RevealedApprove | MemberState::RevealedReject) => {
                    self.close(d, "revealed by an earlier transaction")
                }
                _ => Err(e),
            };
        }
        Metrics::inc(
            &self.ctx.metrics.votes,
            if approve { "approve" } else { "reject" },
        );
        tracing::info!(
            job = d.job,
            task = d.task,
            draw = d.draw,
            approve,
            "vote revealed"
        );
        self.close(d, "revealed")
    }

    async fn challenge(&mut self, d: &Duty, cells: Vec<u32>, why: &str) -> Result<()> {
        let c = self.ctx.chain.clone();
        let bond = c.market.DATA_CHALLENGE_BOND().call().await?;
        c.send(
            c.market
                .challengeData(
                    U256::from(d.job),
                    U256::from(d.task),
                    U256::from(d.member),
                    cells.clone(),
                )
                .value(bond),
            &format!("challenging the worker's data on {}", d.label()),
        )
        .await?;
        Metrics::inc(&self.ctx.metrics.challenges, "raised");
        tracing::warn!(
            job = d.job,
            task = d.task,
            cells = cells.len(),
            why,
            "challenged the worker to show its data"
        );
        Ok(())
    }

    /// The cells the worker proved on-chain after the challenge in our draw: the first `DataProvided` of the
    /// task after the last `DataChallenged` of the task's draw (one challenge per draw; a draw of an earlier
    /// attempt with the same index comes before it).
    async fn provided(&self, d: &Duty) -> Result<Vec<(u32, B256)>> {
        let c = &self.ctx.chain;
        let since = self.book.get(d.job).map_or(0, |j| j.posted_block);
        let logs = c
            .job_logs_since(
                vec![DataChallenged::SIGNATURE_HASH, DataProvided::SIGNATURE_HASH],
                d.job,
                since,
            )
            .await?;
        let task = U256::from(d.task);
        let challenged = logs
            .iter()
            .rposition(|l| {
                l.log_decode::<DataChallenged>()
                    .is_ok_and(|e| e.inner.taskIndex == task && e.inner.draw == U256::from(d.draw))
            })
            .ok_or_else(|| {
                anyhow!(
                    "no DataChallenged event for draw {} of {}",
                    d.draw,
                    d.label()
                )
            })?;
        let e = logs[challenged..]
            .iter()
            .filter_map(|l| l.log_decode::<DataProvided>().ok())
            .map(|l| l.inner.data)
            .find(|e| e.taskIndex == task)
            .ok_or_else(|| {
                anyhow!(
                    "no DataProvided event after draw {} of {}",
                    d.draw,
                    d.label()
                )
            })?;
        Ok(e.cells
            .iter()
            .copied()
            .zip(e.dataHashes.iter().copied())
            .collect())
    }

    /// Where the duty's seat stands on chain (what a commit or reveal whose receipt never came did).
    async fn seat_state(&self, d: &Duty) -> Result<Option<MemberState>> {
        let members = self.ctx.chain.members(d.job, d.task, d.draw).await?;
        Ok(members.get(usize::try_from(d.member)?).map(|m| m.state))
    }

    /// The duty's draw comes from another seed than planned: the sample changed, so a vote computed from
    /// the old one is dropped (and its check with it).
    fn reseed(&self, d: &mut Duty, seed: B256, member: Option<u64>) -> Result<()> {
        let Some(member) = member else {
            return self.close(d, "not seated by the draw's new seed");
        };
        tracing::info!(
            job = d.job,
            task = d.task,
            draw = d.draw,
            "the draw comes from another seed than planned"
        );
        d.seed = seed;
        d.member = member;
        d.vote = None;
        self.save_duty(d)
    }

    fn close(&self, d: &mut Duty, why: &str) -> Result<()> {
        d.state = DutyState::Done;
        self.save_duty(d)?;
        tracing::debug!(
            job = d.job,
            task = d.task,
            draw = d.draw,
            why,
            "duty closed"
        );
        Ok(())
    }

    pub(super) fn save_duty(&self, d: &Duty) -> Result<()> {
        self.ctx
            .store
            .put(&Duty::key(d.job, d.task, d.attempt, d.draw), d)
    }
}

/// Our seat in a committee whose `members` list we are in.
pub(super) fn seat_of(members: &[Address], me: Address) -> Option<u64> {
    members
        .iter()
        .position(|m| *m == me)
        .and_then(|i| u64::try_from(i).ok())
}
