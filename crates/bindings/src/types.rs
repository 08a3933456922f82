//! The contract's enums. The JSON ABI carries them as `uint8`; these mirror the Solidity declarations in
//! `contracts/src/interfaces/IDistributedRender.sol` (a test reads that file and compares the variants).

use std::fmt;

/// A value that is not a variant of the named enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{value} is not a valid {name}")]
pub struct InvalidEnumValue {
    /// The enum's Solidity name.
    pub name: &'static str,
    /// The value received.
    pub value: u8,
}

macro_rules! sol_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The variant's Solidity name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant)),+
                }
            }
        }

        impl TryFrom<u8> for $name {
            type Error = InvalidEnumValue;
            fn try_from(value: u8) -> Result<Self, Self::Error> {
                Self::ALL
                    .get(usize::from(value))
                    .copied()
                    .ok_or(InvalidEnumValue { name: stringify!($name), value })
            }
        }

        impl From<$name> for u8 {
            fn from(v: $name) -> u8 {
                v as u8
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

sol_enum!(
    /// Derived state of one task.
    TaskState {
        /// Claimable.
        Open,
        /// Leased by a worker.
        Claimed,
        /// Result committed, awaiting verification or the challenge window.
        Submitted,
        /// Settled in the worker's favour.
        Paid,
        /// Escrow returned to the artist.
        Refunded,
    }
);

sol_enum!(
    /// The job field a `submitRenderJob` revert names.
    JobField {
        /// `sceneCid`.
        SceneCid,
        /// `rendererId`.
        RendererId,
        /// `settings.width`.
        Width,
        /// `settings.height`.
        Height,
        /// `settings.samplesPerPixel`.
        SamplesPerPixel,
        /// `settings.frameCount`.
        FrameCount,
        /// `settings.regionsX` / `settings.regionsY`.
        Regions,
        /// `settings.cellSize`.
        CellSize,
        /// frames x regions.
        TaskCount,
        /// `rewardPerTask`.
        RewardPerTask,
        /// `verifierFeeBps`.
        VerifierFee,
        /// `workerStakePerTask`.
        WorkerStake,
        /// `deadline`.
        Deadline,
        /// `leaseDuration`.
        LeaseDuration,
        /// `challengeWindow`.
        ChallengeWindow,
        /// `quorum`.
        Quorum,
        /// `settings.maxBounces`.
        MaxBounces,
    }
);

sol_enum!(
    /// How a task was paid.
    PayReason {
        /// The committees approved it and the verdict became final.
        Verified,
        /// The artist accepted it.
        AcceptedByArtist,
        /// Optimistic job, nobody disputed it within the challenge window.
        ChallengeWindowElapsed,
    }
);

sol_enum!(
    /// Why a task's escrow went back to the artist.
    RefundReason {
        /// The job was cancelled.
        Cancelled,
        /// The deadline passed.
        DeadlinePassed,
        /// No committee reached a verdict within the bounded rounds and deferrals.
        Unverified,
        /// The task was reopened 65,535 times (its 16-bit attempt counter is spent).
        AttemptsExhausted,
    }
);

sol_enum!(
    /// Why a task was reopened.
    ReopenReason {
        /// The claimant's lease expired without a result.
        LeaseExpired,
        /// The committees rejected the result.
        Rejected,
        /// The worker did not answer a data-availability challenge.
        DataWithheld,
    }
);

sol_enum!(
    /// Why a result was rejected.
    RejectReason {
        /// The committees' final verdict.
        Verdict,
        /// An unanswered data-availability challenge.
        DataWithheld,
    }
);

sol_enum!(
    /// Where a submitted task's verification stands.
    Phase {
        /// No committee yet: the first draw is due (or, for an optimistic job, a dispute may come).
        None,
        /// A draw is due once its seed block is mined.
        AwaitingDraw,
        /// Drawn members commit to their votes.
        Commit,
        /// Members reveal their votes.
        Reveal,
        /// The worker must answer a data challenge.
        DataChallenge,
        /// A verdict stands and can be appealed until the phase ends.
        Appealable,
    }
);

sol_enum!(
    /// A committee's decision.
    Verdict {
        /// No majority.
        None,
        /// The result is right.
        Approve,
        /// The result is wrong.
        Reject,
    }
);

sol_enum!(
    /// Where one committee member stands in its draw.
    MemberState {
        /// Drawn, no vote yet.
        Drawn,
        /// Committed to a vote.
        Committed,
        /// Revealed an approval.
        RevealedApprove,
        /// Revealed a rejection.
        RevealedReject,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The variants of `enum <name> { ... }` in the Solidity interface.
    fn solidity_variants(name: &str) -> Vec<String> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../contracts/src/interfaces/IDistributedRender.sol"
        );
        let src = std::fs::read_to_string(path).expect("reading the Solidity interface");
        let start = src
            .find(&format!("enum {name} {{"))
            .unwrap_or_else(|| panic!("enum {name} not found in {path}"));
        let body = &src[start..];
        let open = body.find('{').expect("open brace") + 1;
        let close = body.find('}').expect("close brace");
        body[open..close]
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn names<T: fmt::Display>(all: &[T]) -> Vec<String> {
        all.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn enums_match_the_solidity_interface() {
        assert_eq!(names(TaskState::ALL), solidity_variants("TaskState"));
        assert_eq!(names(JobField::ALL), solidity_variants("JobField"));
        assert_eq!(names(PayReason::ALL), solidity_variants("PayReason"));
        assert_eq!(names(RefundReason::ALL), solidity_variants("RefundReason"));
        assert_eq!(names(ReopenReason::ALL), solidity_variants("ReopenReason"));
        assert_eq!(names(RejectReason::ALL), solidity_variants("RejectReason"));
        assert_eq!(names(Phase::ALL), solidity_variants("Phase"));
        assert_eq!(names(Verdict::ALL), solidity_variants("Verdict"));
        assert_eq!(names(MemberState::ALL), solidity_variants("MemberState"));
    }

    #[test]
    fn conversions_round_trip_and_reject_unknown_values() {
        for s in TaskState::ALL {
            assert_eq!(TaskState::try_from(u8::from(*s)), Ok(*s));
        }
        let err = TaskState::try_from(5).expect_err("5 is not a TaskState");
        assert_eq!(err.to_string(), "5 is not a valid TaskState");
    }
}
