//! The contract's custom errors in words: what went wrong and, where there is one, what to do about it. The
//! CLI and the worker print these instead of raw revert data.

use crate::DistributedRender::DistributedRenderErrors as E;
use crate::{JobField, MemberState, Phase, TaskState};
use alloy::primitives::U256;

fn state_name(s: u8) -> String {
    TaskState::try_from(s).map_or_else(|_| format!("state {s}"), |s| s.as_str().to_lowercase())
}

fn phase_name(p: u8) -> String {
    Phase::try_from(p).map_or_else(|_| format!("phase {p}"), |p| p.as_str().to_string())
}

fn member_state(s: u8) -> String {
    MemberState::try_from(s).map_or_else(|_| format!("state {s}"), |s| s.as_str().to_string())
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
        E::WrongPhase(x) => format!(
            "the verification of task {} of job {} is in its {} phase, which does not allow this",
            x.taskIndex,
            x.jobId,
            phase_name(x.phase)
        ),
        E::PhaseOver(x) => format!(
            "the current verification phase of task {} of job {} ended at {}",
            x.taskIndex,
            x.jobId,
            ts(x.endedAt)
        ),
        E::PhaseNotOver(x) => format!(
            "the current verification phase of task {} of job {} runs until {}: try again after it",
            x.taskIndex,
            x.jobId,
            ts(x.endsAt)
        ),
        E::DrawNotReady(x) => format!(
            "the committee of task {} of job {} is drawn from block {}, which is not mined yet",
            x.taskIndex, x.jobId, x.seedBlock
        ),
        E::DrawExpired(x) => format!(
            "the seed block {} of task {} of job {} is too old to read: call drawCommittee to re-anchor the draw",
            x.seedBlock, x.taskIndex, x.jobId
        ),
        E::NotMember(x) => format!(
            "{} is not member {} of the current committee of task {} of job {}",
            x.caller, x.memberIndex, x.taskIndex, x.jobId
        ),
        E::MemberNotInState(x) => format!(
            "committee member {} already {}",
            x.memberIndex,
            member_state(x.state)
        ),
        E::CommitmentMismatch(x) => format!(
            "the revealed vote of member {} does not match its commitment (vote, render proof and salt must be \
             the committed ones)",
            x.memberIndex
        ),
        E::NoStanding(x) => format!(
            "{} may not appeal: only the artist, the worker or a registered, active verifier may",
            x.caller
        ),
        E::WrongBond(x) => format!("the bond is {} wei; {} was sent", x.expected, x.received),
        E::NotAppealable(x) => format!(
            "the verdict of task {} of job {} is at the last level ({}) and cannot be appealed",
            x.taskIndex, x.jobId, x.level
        ),
        E::AlreadyChallenged(x) => format!(
            "the data of task {} of job {} was already challenged in this draw",
            x.taskIndex, x.jobId
        ),
        E::BadChallengeCells(x) => format!(
            "a data challenge names 1 to 64 cells; {} were given",
            x.count
        ),
        E::CellOutOfRange(x) => format!(
            "a data challenge names cell {}, but the task has only {} cells",
            x.cellIndex, x.cellCount
        ),
        E::BadMinChallengeWindow(x) => format!(
            "the shortest challenge window must be 1 s to 30 days; {} s was given",
            x.window
        ),
        E::ChallengeMismatch(_) => {
            "the answer does not name the challenged cells, or its lists differ in length".into()
        }
        E::InvalidCellProof(x) => format!(
            "the proof of cell {} (position {}) does not lead to the committed cell root",
            x.cellIndex, x.position
        ),
        E::NotEnoughVerifiers(x) => format!(
            "the job asks for a first committee of {} seats, but the verifier registry has {} active tickets",
            x.quorum, x.activeTickets
        ),
        E::VerifierLeaving(x) => format!(
            "{} left the verifier registry: release it first (releaseVerifier, after the release delay)",
            x.account
        ),
        E::NotRegistered(x) => format!("{} holds no verifier tickets", x.account),
        E::NotLeaving(x) => format!(
            "{} has not left the verifier registry: leaveVerifiers first",
            x.account
        ),
        E::StillLeaving(x) => format!(
            "leaving tickets can be released from block {}",
            x.releasableAt
        ),
        E::SeatsHeld(x) => format!(
            "the verifier still holds {} committee seats whose verdict is not final",
            x.seats
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
        E::TokenNotAllowed(x) => format!(
            "the market does not accept token {} for new jobs (it is not on the owner's allow-list); pay in ETH \
             or an allowed token",
            x.token
        ),
        E::LeaseIdsExhausted(_) => {
            "the market has issued every lease id and takes no more claims; open tasks are refunded at their \
             deadline"
                .into()
        }
        other => format!("{other:?}"),
    })
}

/// `explain`, else the error as alloy reports it.
pub fn describe(err: &alloy::contract::Error) -> String {
    explain(err).unwrap_or_else(|| err.to_string())
}
