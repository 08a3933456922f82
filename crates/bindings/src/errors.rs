//! The contract's custom errors in words: what went wrong and, where there is one, what to do about it. The
//! CLI and the worker print these instead of raw revert data.

use crate::DistributedRender::DistributedRenderErrors as E;
use crate::{JobField, TaskState};
use alloy::primitives::U256;

fn state_name(s: u8) -> String {
    TaskState::try_from(s).map_or_else(|_| format!("state {s}"), |s| s.as_str().to_lowercase())
}

fn ts(t: U256) -> String {
    format!("unix time {t}")
}

/// The revert reason of a failed call in words, when it is one of the contract's errors.
pub fn explain(err: &alloy::contract::Error) -> Option<String> {
    let e = err.as_decoded_interface_error::<E>()?;
    Some(match e {
        E::JobNotFound(x) => format!("job {} does not exist on this chain", x.jobId),
        E::TaskOutOfRange(x) => format!(
            "job {} has {} tasks; task {} does not exist",
            x.jobId, x.taskCount, x.taskIndex
        ),
        E::TaskNotInState(x) => format!(
            "task {} of job {} is {}, which does not allow this",
            x.taskIndex,
            x.jobId,
            state_name(x.state)
        ),
        E::NotArtist(x) => format!(
            "{} is not the artist of job {}: use the keystore that posted it",
            x.caller, x.jobId
        ),
        E::NotClaimant(x) => format!(
            "{} does not hold the lease of task {} of job {}",
            x.caller, x.taskIndex, x.jobId
        ),
        E::JobAlreadyCancelled(x) => format!("job {} was cancelled", x.jobId),
        E::DeadlinePassed(x) => format!("job {}'s deadline passed at {}", x.jobId, ts(x.deadline)),
        E::DeadlineNotReached(x) => format!(
            "job {}'s deadline is {}: open tasks can be reclaimed only after it",
            x.jobId,
            ts(x.deadline)
        ),
        E::LeaseExpired(x) => format!(
            "the lease of task {} of job {} ended at {}",
            x.taskIndex,
            x.jobId,
            ts(x.expiresAt)
        ),
        E::LeaseActive(x) => format!(
            "the lease of task {} of job {} runs until {}",
            x.taskIndex,
            x.jobId,
            ts(x.expiresAt)
        ),
        E::ChallengeWindowOpen(x) => format!(
            "task {} of job {} is in its challenge window until {}",
            x.taskIndex,
            x.jobId,
            ts(x.endsAt)
        ),
        E::ChallengeWindowClosed(x) => format!(
            "the challenge window of task {} of job {} closed at {}",
            x.taskIndex,
            x.jobId,
            ts(x.endedAt)
        ),
        E::InsufficientStake(x) => format!(
            "{} has {} wei of free stake and needs {}: stake more ETH first",
            x.account, x.available, x.required
        ),
        E::WrongPayment(x) => format!(
            "the job needs {} wei attached, {} was sent",
            x.expected, x.received
        ),
        E::NothingToWithdraw(_) => "there is nothing to withdraw".into(),
        E::MarketPaused(_) => "the market is paused: no new jobs or claims for now".into(),
        E::InvalidJobField(x) => format!(
            "invalid job field {} (value {})",
            JobField::try_from(x.field).map_or("?", JobField::as_str),
            x.value
        ),
        other => format!("{other:?}"),
    })
}

/// `explain`, else the error as alloy reports it.
pub fn describe(err: &alloy::contract::Error) -> String {
    explain(err).unwrap_or_else(|| err.to_string())
}
