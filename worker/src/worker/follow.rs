//! Following a submitted result to its settlement. While it is verified the worker keeps it moving and
//! defends it: it draws a committee that nobody drew (members draw with their first commit; the worker steps
//! in after a grace of a few blocks), answers data-availability challenges from the leaves it stored (also
//! after a restart: the outputs stay on disk until the task settles), appeals a rejection of its own result
//! (it rendered honestly, so a rejection is wrong), and finalizes phases that ran out. Paid, refunded or
//! rejected, the record is closed.

use super::{Outcome, TaskRecord, Worker};
use crate::Metrics;
use alloy::primitives::U256;
use alloy::sol_types::SolEvent;
use anyhow::{Context, Result, anyhow};
use tessera_bindings::DistributedRender::DataChallenged;
use tessera_bindings::market::{TaskView, VerificationState};
use tessera_bindings::{Phase, TaskState, Verdict, cells};

impl Worker {
    /// One look at a submitted task of ours.
    pub(super) async fn follow(&self, r: &mut TaskRecord, v: TaskView, now: u64) -> Result<()> {
        match v.state {
            TaskState::Paid if v.attempt == r.attempt => self.finish(r, Outcome::Paid, "paid"),
            TaskState::Refunded if v.attempt == r.attempt => {
                self.finish(r, Outcome::Refunded, "escrow refunded")
            }
            TaskState::Submitted if v.attempt == r.attempt => self.tend(r, now).await,
            _ => self.finish(r, Outcome::Rejected, "the result was rejected"),
        }
    }

    /// Does what the verification of our submission needs from us now, if anything.
    async fn tend(&self, r: &TaskRecord, now: u64) -> Result<()> {
        let c = &self.ctx.chain;
        let job = self.job(r.job)?;
        let v = c.verification(r.job, r.task).await?;
        let head = c.head().await?;
        let (job_id, task) = (U256::from(r.job), U256::from(r.task));
        if v.phase == Phase::DataChallenge && now < v.phase_ends_at {
            return self.answer(r, &v).await;
        }
        if v.appealable(now) && v.verdict == Verdict::Reject && self.ctx.cfg.appeal {
            return self.appeal(r, &v).await;
        }
        if v.draw_due(head, now) && head > v.seed_block + self.ctx.cfg.draw_grace_blocks {
            // Nobody drew the committee (its members draw it with their first commit): draw it.
            match c
                .send(
                    c.market.drawCommittee(job_id, task),
                    &format!("drawing the committee of {}", r.label()),
                )
                .await
            {
                Ok(_) => tracing::info!(
                    job = r.job,
                    task = r.task,
                    level = v.level,
                    "committee drawn"
                ),
                Err(e) => {
                    tracing::info!(error = %format!("{e:#}"), "draw not made (someone else may have)")
                }
            }
            return Ok(());
        }
        if v.finalizable(now, job.spec.optimistic) {
            // Anyone may move a verification whose phase ran out; do it for our own task.
            if let Err(e) = c
                .send(
                    c.market.finalizeTask(job_id, task),
                    &format!("finalizing {}", r.label()),
                )
                .await
            {
                tracing::info!(error = %format!("{e:#}"), "finalize not accepted (someone else may have)");
            }
        }
        Ok(())
    }

    /// Answers the open data-availability challenge on our submission with the committed data hash and Merkle
    /// proof of each challenged cell, from the leaves written when the task was rendered.
    async fn answer(&self, r: &TaskRecord, v: &VerificationState) -> Result<()> {
        let c = &self.ctx.chain;
        let job = self.job(r.job)?;
        let logs = c
            .job_logs_since(
                vec![DataChallenged::SIGNATURE_HASH],
                r.job,
                job.posted_block,
            )
            .await?;
        let draw = U256::from(v.draws.saturating_sub(1));
        let challenge = logs
            .iter()
            .filter_map(|l| l.log_decode::<DataChallenged>().ok())
            .map(|l| l.inner.data)
            .rfind(|e| e.taskIndex == U256::from(r.task) && e.draw == draw)
            .ok_or_else(|| {
                anyhow!(
                    "no DataChallenged event for the current draw of {}",
                    r.label()
                )
            })?;
        let dir = self.out_dir(r);
        let doc = std::fs::read(dir.join("leaves.json")).with_context(|| {
            format!(
                "reading the stored leaves of {} to answer a data challenge",
                r.label()
            )
        })?;
        let root = c.task(r.job, r.task).await?.cell_root;
        let hashes = crate::verifier::committed_hashes(&doc, &job.settings(), r.task, root)
            .map_err(|why| anyhow!("the stored leaves of {}: {why}", r.label()))?;
        let mut data_hashes = Vec::with_capacity(challenge.cells.len());
        let mut indices = Vec::with_capacity(challenge.cells.len());
        for &cell in &challenge.cells {
            let i = usize::try_from(cell)?;
            data_hashes.push(
                *hashes
                    .get(i)
                    .ok_or_else(|| anyhow!("challenged cell {cell} does not exist"))?,
            );
            indices.push(i);
        }
        let proofs = cells::proofs_of(&hashes, &indices)
            .ok_or_else(|| anyhow!("no proofs for the challenged cells"))?;
        c.send(
            c.market.answerChallenge(
                U256::from(r.job),
                U256::from(r.task),
                challenge.cells.clone(),
                data_hashes,
                proofs,
            ),
            &format!("answering the data challenge on {}", r.label()),
        )
        .await?;
        Metrics::inc(&self.ctx.metrics.challenges, "answered");
        tracing::info!(
            job = r.job,
            task = r.task,
            cells = challenge.cells.len(),
            "data challenge answered"
        );
        Ok(())
    }

    /// Appeals a rejection of our own result, within the operator's bond limit.
    async fn appeal(&self, r: &TaskRecord, v: &VerificationState) -> Result<()> {
        let c = &self.ctx.chain;
        let bond = c
            .market
            .appealBond(U256::from(r.job), U256::from(v.level + 1))
            .call()
            .await?;
        if bond > U256::from(self.ctx.cfg.max_appeal_bond_wei) {
            tracing::warn!(
                job = r.job,
                task = r.task,
                %bond,
                max = self.ctx.cfg.max_appeal_bond_wei,
                "not appealing the rejection: the bond is above max_appeal_bond_wei"
            );
            return Ok(());
        }
        match c.appeal(r.job, r.task).await {
            Ok(paid) => {
                Metrics::inc(&self.ctx.metrics.appeals, "rejection");
                tracing::warn!(
                    job = r.job,
                    task = r.task,
                    level = v.level + 1,
                    bond = %paid,
                    "our result was rejected: appealed to a larger committee"
                );
            }
            Err(e) => tracing::info!(error = %format!("{e:#}"), "appeal not accepted"),
        }
        Ok(())
    }
}
