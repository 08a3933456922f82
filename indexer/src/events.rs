//! Contract logs decoded through the bindings, with where they sit on the chain and a JSON rendering of
//! their arguments for the raw log table, job histories and the live feed.

use crate::model::{addr, hash};
use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolEventInterface;
use serde_json::{Value, json};
use tessera_bindings::DistributedRender::DistributedRenderEvents as Ev;
use tessera_bindings::{PayReason, Phase, RefundReason, RejectReason, ReopenReason, Verdict};

/// Why a log could not be indexed.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The RPC returned a log without the fields of a mined log.
    #[error("log is missing its {0} (pending or malformed log from the RPC)")]
    Missing(&'static str),
    /// The log is not a `DistributedRender` event (wrong ABI or contract address).
    #[error("log {tx_hash}:{log_index} is not a DistributedRender event")]
    Unknown {
        /// The transaction.
        tx_hash: B256,
        /// The log's index in its block.
        log_index: u64,
        /// The ABI decoder's error.
        #[source]
        source: Box<alloy::sol_types::Error>,
    },
    /// A value does not fit the column it is stored in.
    #[error("{what} = {value} is out of range for the index")]
    Range {
        /// Which value.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// An enum argument has no variant for its value.
    #[error(transparent)]
    Enum(#[from] tessera_bindings::types::InvalidEnumValue),
}

/// Where a log is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Block number.
    pub block_number: i64,
    /// Block hash.
    pub block_hash: B256,
    /// Block timestamp (seconds).
    pub block_timestamp: i64,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Transaction index in the block.
    pub tx_index: i64,
    /// Log index in the block.
    pub log_index: i64,
}

/// One decoded contract event.
#[derive(Debug, Clone)]
pub struct ChainLog {
    /// Where it is.
    pub at: Location,
    /// The decoded event.
    pub event: Ev,
    /// The raw topics, concatenated (stored so projections can be rebuilt without the RPC).
    pub raw_topics: Vec<u8>,
    /// The raw data.
    pub raw_data: Vec<u8>,
}

/// A `U256` that must fit a BIGINT column.
pub fn small(what: &'static str, v: U256) -> Result<i64, DecodeError> {
    i64::try_from(v).map_err(|_| DecodeError::Range {
        what,
        value: v.to_string(),
    })
}

fn opt_u64(what: &'static str, v: Option<u64>) -> Result<i64, DecodeError> {
    let v = v.ok_or(DecodeError::Missing(what))?;
    i64::try_from(v).map_err(|_| DecodeError::Range {
        what,
        value: v.to_string(),
    })
}

impl ChainLog {
    /// Decodes a log returned by `eth_getLogs`. `timestamp` supplies the block time when the RPC does not
    /// include `blockTimestamp` in logs.
    pub fn decode(
        log: &alloy::rpc::types::Log,
        timestamp: Option<u64>,
    ) -> Result<Self, DecodeError> {
        let tx_hash = log
            .transaction_hash
            .ok_or(DecodeError::Missing("transaction hash"))?;
        let log_index = log.log_index.ok_or(DecodeError::Missing("log index"))?;
        let at = Location {
            block_number: opt_u64("block number", log.block_number)?,
            block_hash: log.block_hash.ok_or(DecodeError::Missing("block hash"))?,
            block_timestamp: opt_u64("block timestamp", log.block_timestamp.or(timestamp))?,
            tx_hash,
            tx_index: opt_u64("transaction index", log.transaction_index)?,
            log_index: opt_u64("log index", Some(log_index))?,
        };
        let event = Ev::decode_log(&log.inner)
            .map_err(|source| DecodeError::Unknown {
                tx_hash,
                log_index,
                source: Box::new(source),
            })?
            .data;
        let raw_topics = log.inner.data.topics().iter().flat_map(|t| t.0).collect();
        Ok(Self {
            at,
            event,
            raw_topics,
            raw_data: log.inner.data.data.to_vec(),
        })
    }

    /// Decodes a log stored in the `logs` table.
    pub fn from_stored(at: Location, topics: &[u8], data: Vec<u8>) -> Result<Self, DecodeError> {
        let words: Vec<B256> = topics.chunks_exact(32).map(B256::from_slice).collect();
        let event = Ev::decode_raw_log(&words, &data).map_err(|source| DecodeError::Unknown {
            tx_hash: at.tx_hash,
            log_index: u64::try_from(at.log_index).unwrap_or_default(),
            source: Box::new(source),
        })?;
        Ok(Self {
            at,
            event,
            raw_topics: topics.to_vec(),
            raw_data: data,
        })
    }

    /// The event's Solidity name.
    pub fn name(&self) -> &'static str {
        match &self.event {
            Ev::JobSubmitted(_) => "JobSubmitted",
            Ev::JobCancelled(_) => "JobCancelled",
            Ev::OpenTasksReclaimed(_) => "OpenTasksReclaimed",
            Ev::TaskClaimed(_) => "TaskClaimed",
            Ev::ResultSubmitted(_) => "ResultSubmitted",
            Ev::CommitteeDrawn(_) => "CommitteeDrawn",
            Ev::DrawDeferred(_) => "DrawDeferred",
            Ev::VoteCommitted(_) => "VoteCommitted",
            Ev::RevealStarted(_) => "RevealStarted",
            Ev::VoteRevealed(_) => "VoteRevealed",
            Ev::RoundTallied(_) => "RoundTallied",
            Ev::VerdictAppealed(_) => "VerdictAppealed",
            Ev::DataChallenged(_) => "DataChallenged",
            Ev::DataProvided(_) => "DataProvided",
            Ev::VoteSettled(_) => "VoteSettled",
            Ev::AppealSettled(_) => "AppealSettled",
            Ev::TaskPaid(_) => "TaskPaid",
            Ev::TaskRejected(_) => "TaskRejected",
            Ev::TaskReopened(_) => "TaskReopened",
            Ev::TaskRefunded(_) => "TaskRefunded",
            Ev::BalanceCredited(_) => "BalanceCredited",
            Ev::Withdrawn(_) => "Withdrawn",
            Ev::Staked(_) => "Staked",
            Ev::UnstakeRequested(_) => "UnstakeRequested",
            Ev::StakeWithdrawn(_) => "StakeWithdrawn",
            Ev::StakeSlashed(_) => "StakeSlashed",
            Ev::VerifierRegistered(_) => "VerifierRegistered",
            Ev::VerifierLeft(_) => "VerifierLeft",
            Ev::VerifierReleased(_) => "VerifierReleased",
            Ev::PausedSet(_) => "PausedSet",
            Ev::ProtocolFeeSet(_) => "ProtocolFeeSet",
            Ev::TreasurySet(_) => "TreasurySet",
            Ev::TokenAllowed(_) => "TokenAllowed",
            Ev::OwnershipTransferStarted(_) => "OwnershipTransferStarted",
            Ev::OwnershipTransferred(_) => "OwnershipTransferred",
        }
    }

    /// The job and task the event concerns, if any.
    pub fn job_task(&self) -> Result<(Option<i64>, Option<i64>), DecodeError> {
        let (job, task) = match &self.event {
            Ev::JobSubmitted(e) => (Some(e.jobId), None),
            Ev::JobCancelled(e) => (Some(e.jobId), None),
            Ev::OpenTasksReclaimed(e) => (Some(e.jobId), None),
            Ev::TaskClaimed(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::ResultSubmitted(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::CommitteeDrawn(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::DrawDeferred(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::VoteCommitted(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::RevealStarted(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::VoteRevealed(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::RoundTallied(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::VerdictAppealed(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::DataChallenged(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::DataProvided(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::VoteSettled(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::AppealSettled(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::TaskPaid(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::TaskRejected(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::TaskReopened(e) => (Some(e.jobId), Some(e.taskIndex)),
            Ev::TaskRefunded(e) => (Some(e.jobId), Some(e.taskIndex)),
            _ => (None, None),
        };
        Ok((
            job.map(|j| small("job id", j)).transpose()?,
            task.map(|t| small("task index", t)).transpose()?,
        ))
    }

    /// The event's arguments as JSON: Solidity names, amounts as decimal strings, addresses and hashes as
    /// lowercase hex, enums as snake_case names.
    pub fn args(&self) -> Result<Value, DecodeError> {
        let a = |x: &Address| addr(x);
        let n = |x: &U256| x.to_string();
        Ok(match &self.event {
            Ev::JobSubmitted(e) => {
                let s = &e.spec;
                let r = &s.settings;
                json!({
                    "jobId": n(&e.jobId), "artist": a(&e.artist), "token": a(&e.token),
                    "taskCount": n(&e.taskCount), "escrow": n(&e.escrow), "protocolFeeBps": n(&e.protocolFeeBps),
                    "spec": {
                        "sceneCid": s.sceneCid, "rendererId": s.rendererId,
                        "settings": {
                            "width": r.width, "height": r.height, "samplesPerPixel": r.samplesPerPixel,
                            "maxBounces": r.maxBounces, "frameStart": r.frameStart, "frameCount": r.frameCount,
                            "regionsX": r.regionsX, "regionsY": r.regionsY, "cellSize": r.cellSize,
                            "seed": r.seed.to_string(),
                        },
                        "token": a(&s.token), "rewardPerTask": s.rewardPerTask.to_string(),
                        "verifierFeeBps": s.verifierFeeBps, "workerStakePerTask": s.workerStakePerTask.to_string(),
                        "deadline": s.deadline, "leaseDuration": s.leaseDuration,
                        "challengeWindow": s.challengeWindow, "quorum": s.quorum, "optimistic": s.optimistic,
                    }
                })
            }
            Ev::JobCancelled(e) => json!({
                "jobId": n(&e.jobId), "artist": a(&e.artist), "refundedTasks": n(&e.refundedTasks), "refund": n(&e.refund)
            }),
            Ev::OpenTasksReclaimed(e) => json!({
                "jobId": n(&e.jobId), "artist": a(&e.artist), "refundedTasks": n(&e.refundedTasks), "refund": n(&e.refund)
            }),
            Ev::TaskClaimed(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "worker": a(&e.worker),
                "leaseId": n(&e.leaseId), "expiresAt": n(&e.expiresAt), "stake": n(&e.stake)
            }),
            Ev::ResultSubmitted(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "worker": a(&e.worker), "attempt": n(&e.attempt),
                "outputCid": e.outputCid, "cellRoot": hash(&e.cellRoot)
            }),
            Ev::CommitteeDrawn(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "attempt": n(&e.attempt), "draw": n(&e.draw),
                "level": n(&e.level), "seed": hash(&e.seed),
                "members": e.members.iter().map(a).collect::<Vec<_>>(),
                "seats": e.seats.iter().map(n).collect::<Vec<_>>(), "commitEndsAt": n(&e.commitEndsAt)
            }),
            Ev::DrawDeferred(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "attempt": n(&e.attempt),
                "seedBlock": n(&e.seedBlock), "retryAt": n(&e.retryAt), "empty": e.empty
            }),
            Ev::VoteCommitted(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "verifier": a(&e.verifier), "draw": n(&e.draw)
            }),
            Ev::RevealStarted(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "draw": n(&e.draw),
                "revealEndsAt": n(&e.revealEndsAt)
            }),
            Ev::VoteRevealed(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "verifier": a(&e.verifier), "draw": n(&e.draw),
                "approve": e.approve, "renderProof": hash(&e.renderProof), "seats": n(&e.seats)
            }),
            Ev::RoundTallied(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "draw": n(&e.draw), "level": n(&e.level),
                "verdict": verdict(e.verdict)?, "approveSeats": n(&e.approveSeats),
                "rejectSeats": n(&e.rejectSeats), "appealEndsAt": n(&e.appealEndsAt)
            }),
            Ev::VerdictAppealed(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "appellant": a(&e.appellant),
                "level": n(&e.level), "requestApprove": e.requestApprove, "bond": n(&e.bond)
            }),
            Ev::DataChallenged(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "challenger": a(&e.challenger),
                "draw": n(&e.draw), "cells": e.cells, "respondBy": n(&e.respondBy)
            }),
            Ev::DataProvided(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "by": a(&e.by), "cells": e.cells,
                "dataHashes": e.dataHashes.iter().map(hash).collect::<Vec<_>>()
            }),
            Ev::VoteSettled(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "verifier": a(&e.verifier), "draw": n(&e.draw),
                "coherent": e.coherent, "seats": n(&e.seats), "slashed": n(&e.slashed)
            }),
            Ev::AppealSettled(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "appellant": a(&e.appellant),
                "level": n(&e.level), "upheld": e.upheld
            }),
            Ev::TaskPaid(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "worker": a(&e.worker),
                "reason": pay_reason(e.reason)?, "workerReward": n(&e.workerReward),
                "protocolFee": n(&e.protocolFee), "verifierFees": n(&e.verifierFees)
            }),
            Ev::TaskRejected(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "worker": a(&e.worker), "attempt": n(&e.attempt),
                "reason": reject_reason(e.reason)?, "slashed": n(&e.slashed)
            }),
            Ev::TaskReopened(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "previousWorker": a(&e.previousWorker),
                "reason": reopen_reason(e.reason)?, "attempt": n(&e.attempt), "penalty": n(&e.penalty)
            }),
            Ev::TaskRefunded(e) => json!({
                "jobId": n(&e.jobId), "taskIndex": n(&e.taskIndex), "artist": a(&e.artist),
                "reason": refund_reason(e.reason)?, "amount": n(&e.amount)
            }),
            Ev::BalanceCredited(e) => {
                json!({"account": a(&e.account), "token": a(&e.token), "amount": n(&e.amount)})
            }
            Ev::Withdrawn(e) => {
                json!({"account": a(&e.account), "token": a(&e.token), "amount": n(&e.amount)})
            }
            Ev::Staked(e) => {
                json!({"account": a(&e.account), "amount": n(&e.amount), "bonded": n(&e.bonded)})
            }
            Ev::UnstakeRequested(e) => {
                json!({"account": a(&e.account), "amount": n(&e.amount), "readyAt": n(&e.readyAt)})
            }
            Ev::StakeWithdrawn(e) => json!({"account": a(&e.account), "amount": n(&e.amount)}),
            Ev::StakeSlashed(e) => json!({"account": a(&e.account), "amount": n(&e.amount)}),
            Ev::VerifierRegistered(e) => json!({
                "verifier": a(&e.verifier), "id": n(&e.id), "tickets": n(&e.tickets), "stake": n(&e.stake)
            }),
            Ev::VerifierLeft(e) => json!({
                "verifier": a(&e.verifier), "tickets": n(&e.tickets), "releasableAt": n(&e.releasableAt)
            }),
            Ev::VerifierReleased(e) => json!({
                "verifier": a(&e.verifier), "tickets": n(&e.tickets), "stake": n(&e.stake)
            }),
            Ev::PausedSet(e) => json!({"paused": e.paused}),
            Ev::ProtocolFeeSet(e) => json!({"feeBps": n(&e.feeBps)}),
            Ev::TreasurySet(e) => json!({"treasury": a(&e.treasury)}),
            Ev::TokenAllowed(e) => json!({"token": a(&e.token), "allowed": e.allowed}),
            Ev::OwnershipTransferStarted(e) => {
                json!({"previousOwner": a(&e.previousOwner), "newOwner": a(&e.newOwner)})
            }
            Ev::OwnershipTransferred(e) => {
                json!({"previousOwner": a(&e.previousOwner), "newOwner": a(&e.newOwner)})
            }
        })
    }
}

fn snake(pascal: &str) -> String {
    let mut out = String::with_capacity(pascal.len() + 4);
    for (i, c) in pascal.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `PayReason` as stored (`verified`, `accepted_by_artist`, `challenge_window_elapsed`).
pub fn pay_reason(v: u8) -> Result<String, DecodeError> {
    Ok(snake(PayReason::try_from(v)?.as_str()))
}

/// `RefundReason` as stored (`cancelled`, `deadline_passed`, `unverified`, `attempts_exhausted`).
pub fn refund_reason(v: u8) -> Result<String, DecodeError> {
    Ok(snake(RefundReason::try_from(v)?.as_str()))
}

/// `ReopenReason` as stored (`lease_expired`, `rejected`, `data_withheld`).
pub fn reopen_reason(v: u8) -> Result<String, DecodeError> {
    Ok(snake(ReopenReason::try_from(v)?.as_str()))
}

/// `RejectReason` as stored (`verdict`, `data_withheld`).
pub fn reject_reason(v: u8) -> Result<String, DecodeError> {
    Ok(snake(RejectReason::try_from(v)?.as_str()))
}

/// `Verdict` as stored (`none`, `approve`, `reject`).
pub fn verdict(v: u8) -> Result<String, DecodeError> {
    Ok(snake(Verdict::try_from(v)?.as_str()))
}

/// `Phase` as stored (`none`, `awaiting_draw`, `commit`, `reveal`, `data_challenge`, `appealable`).
pub fn phase(p: Phase) -> String {
    snake(p.as_str())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_are_snake_case() {
        assert_eq!(pay_reason(1).unwrap(), "accepted_by_artist");
        assert_eq!(refund_reason(1).unwrap(), "deadline_passed");
        assert_eq!(reopen_reason(0).unwrap(), "lease_expired");
        assert_eq!(reopen_reason(2).unwrap(), "data_withheld");
        assert_eq!(reject_reason(1).unwrap(), "data_withheld");
        assert_eq!(verdict(1).unwrap(), "approve");
        assert_eq!(phase(Phase::AwaitingDraw), "awaiting_draw");
        assert_eq!(phase(Phase::DataChallenge), "data_challenge");
        assert!(pay_reason(9).is_err());
    }
}
