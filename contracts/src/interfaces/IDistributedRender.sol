// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IDistributedRenderTypes
/// @notice The types, errors and events of `IDistributedRender`, declared apart so that the contract's parts
/// (`DistributedRenderBase` and its two implementations) share them.
interface IDistributedRenderTypes {
    // ------------------------------------------------------------------------------------------------
    // Types
    // ------------------------------------------------------------------------------------------------

    /// @notice How the worker renders: everything that determines the output bits besides the scene.
    /// @dev Tasks = frameCount x regionsX x regionsY. Task index t covers frame `frameStart + t / (rx*ry)` and
    /// region `t % (rx*ry)` (row-major, regionsX regions per row). See docs/contracts.md.
    struct RenderSettings {
        uint32 width;
        uint32 height;
        /// At least 1; `samplesPerPixel × (maxBounces + 1) × cellSize²` at most `MAX_CELL_WORK` (a member's
        /// check is bounded).
        uint32 samplesPerPixel;
        /// At most `MAX_BOUNCES`.
        uint32 maxBounces;
        uint32 frameStart;
        uint32 frameCount;
        uint32 regionsX;
        uint32 regionsY;
        uint32 cellSize;
        uint64 seed;
    }

    /// @notice Everything an artist chooses when posting a job.
    struct JobSpec {
        /// IPFS CID of the self-contained .glb scene.
        string sceneCid;
        /// Renderer name and version, e.g. "tessera-pt/0.1"; a worker renders only ids it supports.
        string rendererId;
        RenderSettings settings;
        /// address(0) for ETH, else an ERC-20 without transfer fees.
        address token;
        /// Paid to the worker (less the protocol fee) for each verified task.
        uint96 rewardPerTask;
        /// Verifier fee per task, in basis points of the reward (at most 10,000), escrowed on top of it. Shared by
        /// the committee seats whose votes agree with the final verdict. Jobs that are not optimistic need at
        /// least `MIN_VERIFIER_FEE_BPS` and a non-zero fee: verification is never free for the artist.
        uint16 verifierFeeBps;
        /// ETH the worker locks per claimed task (a whole number of gwei, below 2^48 gwei).
        uint96 workerStakePerTask;
        /// Unix time after which no task can be claimed and unfinished escrow is reclaimable.
        uint32 deadline;
        /// Seconds a claim lasts (capped at the deadline; at most 30 days).
        uint32 leaseDuration;
        /// Seconds each verification phase lasts (commit, reveal, appeal, data-challenge response), and, for
        /// optimistic jobs, how long a result can be disputed before it is paid. `MIN_CHALLENGE_WINDOW` (set at
        /// deployment) to 30 days.
        uint32 challengeWindow;
        /// Seats of the first committee (1..MAX_QUORUM, and at most the registry's active tickets when the
        /// job is posted). Appeal level a draws `(quorum + 1) * 2^a - 1` seats.
        uint8 quorum;
        /// Whether a result nobody disputed within the challenge window is paid without a committee.
        bool optimistic;
    }

    /// @notice A job as `getJob` returns it (stored packed in two slots; render settings and CIDs live only in
    /// `JobSubmitted`).
    struct Job {
        address artist;
        address token;
        uint256 rewardPerTask;
        uint256 verifierFeeBps;
        /// `rewardPerTask * verifierFeeBps / 10_000`: escrowed per task on top of the reward.
        uint256 verifierFeePerTask;
        uint256 workerStakePerTask;
        uint256 deadline;
        uint256 leaseDuration;
        uint256 challengeWindow;
        uint256 taskCount;
        /// Tasks that are open (claimable) and whose escrow is still held as a block; see `cancelJob`.
        uint256 openTasks;
        uint256 protocolFeeBps;
        uint256 quorum;
        bool optimistic;
        bool cancelled;
    }

    /// @notice Derived state of one task.
    enum TaskState {
        Open,
        Claimed,
        Submitted,
        Paid,
        Refunded
    }

    /// @notice Where a submitted task's verification stands.
    enum Phase {
        /// No committee yet: waiting for the first draw (or, for an optimistic job, for a dispute).
        None,
        /// A draw is due once its seed block is mined (after an appeal, an escalation or a deferral).
        AwaitingDraw,
        /// Drawn members commit to their votes.
        Commit,
        /// Members reveal the votes they committed to.
        Reveal,
        /// A member challenged the worker for committed data; the worker (or anyone) must answer.
        DataChallenge,
        /// A verdict was reached; it can be appealed until the phase ends, then it is final.
        Appealable
    }

    /// @notice A committee's decision.
    enum Verdict {
        None,
        Approve,
        Reject
    }

    /// @notice Where one committee member stands in its draw.
    enum MemberState {
        Drawn,
        Committed,
        RevealedApprove,
        RevealedReject
    }

    /// @notice Why a job field was rejected by `submitRenderJob`.
    enum JobField {
        SceneCid,
        RendererId,
        Width,
        Height,
        SamplesPerPixel,
        FrameCount,
        Regions,
        CellSize,
        TaskCount,
        RewardPerTask,
        VerifierFee,
        WorkerStake,
        Deadline,
        LeaseDuration,
        ChallengeWindow,
        Quorum,
        MaxBounces
    }

    /// @notice How a task ended up paid.
    enum PayReason {
        /// A committee approved it and nobody overturned the verdict.
        Verified,
        AcceptedByArtist,
        /// Optimistic job, nobody disputed it within the challenge window.
        ChallengeWindowElapsed
    }

    /// @notice Why a task's escrow went back to the artist.
    enum RefundReason {
        Cancelled,
        DeadlinePassed,
        /// No committee reached a verdict within the bounded rounds and deferrals (for an optimistic job: after a
        /// dispute): nobody proved the result right.
        Unverified,
        /// The task was reopened 65,535 times (its attempt counter is 16 bits): it ends instead.
        AttemptsExhausted
    }

    /// @notice Why a task went back to open.
    enum ReopenReason {
        LeaseExpired,
        Rejected,
        DataWithheld
    }

    /// @notice Why a result was rejected.
    enum RejectReason {
        /// The final verdict of the committees.
        Verdict,
        /// The worker did not answer a data-availability challenge in time.
        DataWithheld
    }

    /// @notice A staker's bonded, locked (in claims) and unbonding ETH.
    struct StakeAccount {
        uint128 bonded;
        uint128 locked;
        uint128 unbonding;
        uint64 unbondingReadyAt;
    }

    /// @notice A registered verifier as `verifierOf` returns it.
    struct VerifierInfo {
        /// Registry id (0: never registered).
        uint256 id;
        /// Ticket positions held (one ticket = `TICKET_STAKE` wei = one seat's bond).
        uint256 tickets;
        /// Seats its stake can back: min(tickets, stake / TICKET_STAKE).
        uint256 capacity;
        /// Seats held in committees whose verdict is not final yet (each bonds `TICKET_STAKE`).
        uint256 seats;
        /// Wei held for the verifier role (slashes come from here).
        uint256 stake;
        /// Block of the leave request (0 while active).
        uint256 leavingSince;
    }

    /// @notice A task's verification as `getVerification` returns it.
    struct VerificationView {
        Phase phase;
        /// Appeal level of the current or next draw (0 = first committee).
        uint256 level;
        /// Draws made so far for this submission; the current draw is `draws - 1`.
        uint256 draws;
        /// Seats and distinct members of the current draw.
        uint256 seats;
        uint256 members;
        uint256 committed;
        uint256 revealed;
        /// The standing verdict: the majority of the latest draw that had one, and its level.
        Verdict verdict;
        uint256 decidedLevel;
        /// Times the pending draw waited for free seats (at most `MAX_DEFERRALS`).
        uint256 deferrals;
        /// Seats this verification's draws bond until it ends.
        uint256 heldSeats;
        /// When the current phase ends (commit, reveal, response, appeal; for `None` on an optimistic job, the
        /// dispute window; for `AwaitingDraw` after an empty draw, the earliest next draw).
        uint256 phaseEndsAt;
        /// The block whose hash seeds the next draw (phases `None` and `AwaitingDraw`).
        uint256 seedBlock;
        /// Whether the current draw's data was challenged.
        bool challenged;
    }

    /// @notice One committee member of one draw.
    struct MemberView {
        address verifier;
        uint256 seats;
        MemberState state;
        /// The commitment (top 24 bytes) until revealed, then the revealed render proof (top 24 bytes).
        bytes24 data;
    }

    // ------------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------------

    /// @notice A job field is out of range; `value` is what was given (0 for strings that were empty).
    error InvalidJobField(JobField field, uint256 value);
    /// @notice The job asks for more first-committee seats than the registry has active tickets.
    error NotEnoughVerifiers(uint256 quorum, uint256 activeTickets);
    /// @notice `msg.value` must equal the escrow for ETH jobs and be zero for token jobs.
    error WrongPayment(uint256 expected, uint256 received);
    /// @notice The token delivered less than was transferred (fee-on-transfer tokens are not supported).
    error FeeOnTransferToken(address token, uint256 expected, uint256 received);
    /// @notice The token is not on the owner's allow-list of payment tokens (see `setTokenAllowed`).
    error TokenNotAllowed(address token);
    /// @notice Every 32-bit lease id has been used; claims stop (open tasks are still reclaimed at the deadline).
    error LeaseIdsExhausted();
    /// @notice No job has this id.
    error JobNotFound(uint256 jobId);
    /// @notice The task index is not below the job's task count.
    error TaskOutOfRange(uint256 jobId, uint256 taskIndex, uint256 taskCount);
    /// @notice The task is not in a state that allows this call.
    error TaskNotInState(uint256 jobId, uint256 taskIndex, TaskState state);
    /// @notice Claims need at least one task.
    error EmptyBatch();
    /// @notice Only the job's artist may do this.
    error NotArtist(uint256 jobId, address caller);
    /// @notice Only the task's claimant may do this.
    error NotClaimant(uint256 jobId, uint256 taskIndex, address caller);
    /// @notice The job was cancelled.
    error JobAlreadyCancelled(uint256 jobId);
    /// @notice The job's deadline has passed.
    error DeadlinePassed(uint256 jobId, uint256 deadline);
    /// @notice The job's deadline has not passed yet.
    error DeadlineNotReached(uint256 jobId, uint256 deadline);
    /// @notice The lease ended at `expiresAt`.
    error LeaseExpired(uint256 jobId, uint256 taskIndex, uint256 expiresAt);
    /// @notice The lease runs until `expiresAt`.
    error LeaseActive(uint256 jobId, uint256 taskIndex, uint256 expiresAt);
    /// @notice The cell root must not be zero.
    error ZeroCellRoot();
    /// @notice The output CID must not be empty.
    error EmptyOutputCid();
    /// @notice The task's verification is in `phase`, which does not allow this call.
    error WrongPhase(uint256 jobId, uint256 taskIndex, Phase phase);
    /// @notice The current phase (or the optimistic dispute window) ended at `endedAt`.
    error PhaseOver(uint256 jobId, uint256 taskIndex, uint256 endedAt);
    /// @notice The current phase (or the optimistic dispute window) runs until `endsAt`.
    error PhaseNotOver(uint256 jobId, uint256 taskIndex, uint256 endsAt);
    /// @notice The draw's seed block `seedBlock` is not mined yet (its hash must be readable).
    error DrawNotReady(uint256 jobId, uint256 taskIndex, uint256 seedBlock);
    /// @notice The seed block is older than 256 blocks; `drawCommittee` re-anchors the draw to a new block.
    error DrawExpired(uint256 jobId, uint256 taskIndex, uint256 seedBlock);
    /// @notice `caller` is not member `memberIndex` of the current draw.
    error NotMember(uint256 jobId, uint256 taskIndex, uint256 memberIndex, address caller);
    /// @notice The member already committed or revealed (or never committed, for a reveal).
    error MemberNotInState(uint256 memberIndex, MemberState state);
    /// @notice The revealed vote does not match the member's commitment.
    error CommitmentMismatch(uint256 memberIndex);
    /// @notice Only the artist, the worker or a registered, active verifier may appeal.
    error NoStanding(address caller);
    /// @notice The bond sent is not the one required.
    error WrongBond(uint256 expected, uint256 received);
    /// @notice The verdict cannot be appealed further (the last level decides).
    error NotAppealable(uint256 jobId, uint256 taskIndex, uint256 level);
    /// @notice The current draw's data was already challenged once.
    error AlreadyChallenged(uint256 jobId, uint256 taskIndex);
    /// @notice A challenge names 1..MAX_CHALLENGE_CELLS cells.
    error BadChallengeCells(uint256 count);
    /// @notice A challenge names cell `cellIndex`, and the task has only `cellCount` cells.
    error CellOutOfRange(uint256 cellIndex, uint256 cellCount);
    /// @notice A deployment's shortest challenge window must be 1..MAX_CHALLENGE_WINDOW seconds.
    error BadMinChallengeWindow(uint256 window);
    /// @notice The answer does not name the challenged cells, or its arrays differ in length.
    error ChallengeMismatch();
    /// @notice A Merkle proof does not show the committed leaf of `cellIndex` in the cell root.
    error InvalidCellProof(uint256 position, uint256 cellIndex);
    /// @notice Free stake is below what the call needs.
    error InsufficientStake(address account, uint256 available, uint256 required);
    /// @notice The account is leaving the registry (or left and was not released yet).
    error VerifierLeaving(address account);
    /// @notice The account holds no tickets.
    error NotRegistered(address account);
    /// @notice Leaving tickets can be released from block `releasableAt`.
    error StillLeaving(uint256 releasableAt);
    /// @notice Only a verifier that left the registry can be released.
    error NotLeaving(address account);
    /// @notice The verifier still bonds `seats` seats in committees whose verdict is not final.
    error SeatsHeld(uint256 seats);
    /// @notice Nothing to withdraw.
    error NothingToWithdraw();
    /// @notice The unbonding delay has not passed.
    error StillUnbonding(uint256 readyAt);
    /// @notice Amount must be non-zero.
    error ZeroAmount();
    /// @notice New jobs and claims are paused.
    error MarketPaused();
    /// @notice Protocol fee above the hard cap.
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @notice The zero address is not allowed here.
    error ZeroAddress();
    /// @notice A guarded function was entered again from inside itself or another guarded function.
    error Reentered();
    /// @notice Sending ETH to `to` failed.
    error EthTransferFailed(address to, uint256 amount);
    /// @notice `DistributedRenderExtension` runs only inside the market (by `delegatecall`), never on its own.
    error NotDelegated();

    // ------------------------------------------------------------------------------------------------
    // Events (past tense, emitted right after the state change they describe)
    // ------------------------------------------------------------------------------------------------

    /// @notice A job was posted and its escrow locked: `taskCount x (reward + verifier fee)`.
    event JobSubmitted(
        uint256 indexed jobId,
        address indexed artist,
        address indexed token,
        JobSpec spec,
        uint256 taskCount,
        uint256 escrow,
        uint256 protocolFeeBps
    );
    /// @notice The artist cancelled the job; `refundedTasks` open tasks were refunded.
    event JobCancelled(uint256 indexed jobId, address indexed artist, uint256 refundedTasks, uint256 refund);
    /// @notice After the deadline the open tasks' escrow went back to the artist.
    event OpenTasksReclaimed(
        uint256 indexed jobId, address indexed artist, uint256 refundedTasks, uint256 refund
    );
    /// @notice A worker leased a task until `expiresAt`, locking `stake` wei of its bonded ETH.
    event TaskClaimed(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed worker,
        uint256 leaseId,
        uint256 expiresAt,
        uint256 stake
    );
    /// @notice The claimant committed to its output. The first committee is drawn from the hash of the block
    /// after this one (`DRAW_DELAY`); an optimistic job draws none unless the result is disputed within the
    /// challenge window from this block's timestamp, and otherwise pays it.
    event ResultSubmitted(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed worker,
        uint256 attempt,
        string outputCid,
        bytes32 cellRoot
    );
    /// @notice A committee was drawn for the task's submission `attempt`: `members[i]` holds `seats[i]` seats.
    /// `seed` (from the seed block's hash) also chooses the cells each member re-renders (docs/verification.md).
    event CommitteeDrawn(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        uint256 attempt,
        uint256 draw,
        uint256 level,
        bytes32 seed,
        address[] members,
        uint256[] seats,
        uint256 commitEndsAt
    );
    /// @notice No committee was drawn: the seed block was too old (`empty` false: the draw is re-anchored to
    /// `seedBlock`), or the registry's free seats could not fill the committee (`empty` true: it is retried
    /// after `retryAt`, re-anchored to `seedBlock`).
    event DrawDeferred(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        uint256 attempt,
        uint256 seedBlock,
        uint256 retryAt,
        bool empty
    );
    /// @notice A member committed to its vote.
    event VoteCommitted(
        uint256 indexed jobId, uint256 indexed taskIndex, address indexed verifier, uint256 draw
    );
    /// @notice The reveal phase of draw `draw` started (every member committed, or the commit phase ended with
    /// commitments), and lasts until `revealEndsAt`.
    event RevealStarted(uint256 indexed jobId, uint256 indexed taskIndex, uint256 draw, uint256 revealEndsAt);
    /// @notice A member revealed its vote and its render proof (a digest of work only a renderer has).
    event VoteRevealed(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed verifier,
        uint256 draw,
        bool approve,
        bytes32 renderProof,
        uint256 seats
    );
    /// @notice A draw's votes were counted. `verdict` is the draw's strict majority of seats when more than half
    /// the seats revealed a vote (None otherwise); it is
    /// the task's standing verdict. Below the last level a unanimous verdict can be appealed until `appealEndsAt`;
    /// a split one (or none) escalates at once (`appealEndsAt` 0). At the last level a majority is final.
    event RoundTallied(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        uint256 draw,
        uint256 level,
        Verdict verdict,
        uint256 approveSeats,
        uint256 rejectSeats,
        uint256 appealEndsAt
    );
    /// @notice `appellant` bonded `bond` wei to have a committee of the next `level` decide; `requestApprove` is
    /// the verdict it asks for. Level 0 is a dispute of an optimistic result.
    event VerdictAppealed(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed appellant,
        uint256 level,
        bool requestApprove,
        uint256 bond
    );
    /// @notice A member challenged the worker to show the committed data of `cells` by `respondBy`.
    event DataChallenged(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed challenger,
        uint256 draw,
        uint32[] cells,
        uint256 respondBy
    );
    /// @notice The committed data hashes of the challenged cells, proven against the cell root.
    event DataProvided(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed by,
        uint32[] cells,
        bytes32[] dataHashes
    );
    /// @notice A member's vote was judged when the task's verification ended: `coherent` members (voted the
    /// final verdict) kept their bond, and shared the pay when their render proof was their draw's plurality
    /// proof; the others (voted the other way, or never revealed) lost `slashed` wei. Members of a verification that ended without judgement (acceptance, withheld data) are
    /// released with `coherent` true and nothing slashed.
    event VoteSettled(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed verifier,
        uint256 draw,
        bool coherent,
        uint256 seats,
        uint256 slashed
    );
    /// @notice An appeal bond was returned (`upheld`) or forfeited to the coherent voters.
    event AppealSettled(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed appellant,
        uint256 level,
        bool upheld
    );
    /// @notice The task was settled in the worker's favour.
    event TaskPaid(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed worker,
        PayReason reason,
        uint256 workerReward,
        uint256 protocolFee,
        uint256 verifierFees
    );
    /// @notice The result was rejected: the worker lost `slashed` wei of stake.
    event TaskRejected(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed worker,
        uint256 attempt,
        RejectReason reason,
        uint256 slashed
    );
    /// @notice The task is open again; `penalty` wei of the previous worker's stake went to the artist.
    event TaskReopened(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed previousWorker,
        ReopenReason reason,
        uint256 attempt,
        uint256 penalty
    );
    /// @notice The task's escrow went back to the artist.
    event TaskRefunded(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed artist,
        RefundReason reason,
        uint256 amount
    );
    /// @notice `amount` of `token` was credited to `account`'s withdrawable balance.
    event BalanceCredited(address indexed account, address indexed token, uint256 amount);
    /// @notice `account` withdrew `amount` of `token`.
    event Withdrawn(address indexed account, address indexed token, uint256 amount);
    /// @notice `account` bonded `amount` wei.
    event Staked(address indexed account, uint256 amount, uint256 bonded);
    /// @notice `account` started unbonding `amount` wei, withdrawable at `readyAt`.
    event UnstakeRequested(address indexed account, uint256 amount, uint256 readyAt);
    /// @notice `account` withdrew `amount` wei of unbonded stake.
    event StakeWithdrawn(address indexed account, uint256 amount);
    /// @notice `account` lost `amount` wei of stake (bonded stake for workers, verifier stake for verifiers).
    event StakeSlashed(address indexed account, uint256 amount);
    /// @notice `verifier` holds `tickets` tickets backed by `stake` wei (registry id `id`).
    event VerifierRegistered(address indexed verifier, uint256 id, uint256 tickets, uint256 stake);
    /// @notice `verifier` left the registry at this block: its tickets stop counting for draws anchored from
    /// now on, and can be released from block `releasableAt`.
    event VerifierLeft(address indexed verifier, uint256 tickets, uint256 releasableAt);
    /// @notice `verifier`'s tickets were released and `stake` wei went back to its bonded stake.
    event VerifierReleased(address indexed verifier, uint256 tickets, uint256 stake);
    /// @notice New jobs and claims were paused or resumed.
    event PausedSet(bool paused);
    /// @notice The protocol fee for new jobs changed.
    event ProtocolFeeSet(uint256 feeBps);
    /// @notice The protocol fee recipient changed.
    event TreasurySet(address indexed treasury);
    /// @notice `token` was added to (`allowed`) or removed from the payment tokens new jobs may use.
    event TokenAllowed(address indexed token, bool allowed);
}

/// @title IDistributedRender
/// @notice The Tessera render marketplace: artists escrow a bounty for a render job, staked workers claim its
/// tasks under expiring leases and commit to their output, and committees of verifiers drawn by the contract
/// (weighted by stake, with randomness nobody knows at submission) re-render sampled cells and vote with bonded,
/// committed-then-revealed votes. Verdicts can be appealed to larger committees; a worker that withholds the data
/// a committee needs is challenged on-chain and slashed if it does not answer. Every payout is credited to a
/// balance and withdrawn by its owner (pull payments). See docs/contracts.md for the lifecycle and
/// docs/security.md for the threat model and the numbers.
interface IDistributedRender is IDistributedRenderTypes {
    // ------------------------------------------------------------------------------------------------
    // Artist
    // ------------------------------------------------------------------------------------------------

    /// @notice Posts a job and escrows `taskCount x (rewardPerTask + verifier fee)`.
    /// @dev ETH jobs send exactly that as `msg.value`; ERC-20 jobs approve it first (balance-delta checked).
    /// @return jobId The new job's id (ids start at 1).
    function submitRenderJob(JobSpec calldata spec) external payable returns (uint256 jobId);

    /// @notice Cancels a job: every open task's escrow is credited back at once; claimed and submitted tasks
    /// run to their end (paid, or refunded when they reopen).
    function cancelJob(uint256 jobId) external;

    /// @notice After the deadline, credits the escrow of every still-open task back to the artist. Anyone may
    /// call; the artist is credited.
    function reclaimOpenTasks(uint256 jobId) external;

    /// @notice Accepts a submitted result at any point of its verification: the worker is paid, every committee
    /// bond and appeal bond released without judgement. The verifier fee is shared by seats among the members
    /// (of every draw) who committed a vote; it is refunded only when nobody has.
    /// @dev Without that, an artist could let a committee verify and accept before the verdict to keep the fee.
    function acceptTask(uint256 jobId, uint256 taskIndex) external;

    // ------------------------------------------------------------------------------------------------
    // Worker
    // ------------------------------------------------------------------------------------------------

    /// @notice Leases those of `taskIndices` that are still open for `leaseDuration` (capped at the deadline),
    /// locking the job's stake per task leased. Tasks another worker took first (or that were submitted or
    /// settled meanwhile), and repeats, are skipped with no event, so one task taken ahead of a batch does not
    /// sink it; the `TaskClaimed` events name what was leased. Reverts `TaskNotInState` (for the first index) when
    /// none was open, and `TaskOutOfRange` for an index past the job's tasks.
    /// @return leaseId The lease's id.
    function claimTasks(uint256 jobId, uint32[] calldata taskIndices) external returns (uint256 leaseId);

    /// @notice Commits to a claimed task's output before the lease ends.
    /// @param outputCid IPFS CID of the output directory (raw data, preview, leaves).
    /// @param cellRoot Merkle root of the cells' leaves (docs/merkle.md).
    function submitResult(uint256 jobId, uint256 taskIndex, string calldata outputCid, bytes32 cellRoot)
        external;

    /// @notice Reopens tasks whose lease expired without a result; the lazy worker forfeits
    /// `LAZY_PENALTY_BPS` of each task's stake to the artist. After the deadline or a cancel the tasks are
    /// refunded instead, in one credit per call and one storage write per eight neighbouring tasks, so that
    /// ending a griefer's leases costs the artist about what taking them cost the griefer; there, tasks that
    /// cannot be ended (not leased, submitted, ended already, a lease still running) are skipped, and a batch
    /// that ends none reverts for its first. Anyone may call.
    function reopenExpired(uint256 jobId, uint32[] calldata taskIndices) external;

    /// @notice Answers a data-availability challenge with the committed data hash of each challenged cell and
    /// its Merkle proof against the cell root. Anyone holding the data may answer; the answerer is credited the
    /// challenger's bond, and the commit phase restarts.
    function answerChallenge(
        uint256 jobId,
        uint256 taskIndex,
        uint32[] calldata cells,
        bytes32[] calldata dataHashes,
        bytes32[][] calldata proofs
    ) external;

    // ------------------------------------------------------------------------------------------------
    // Verification
    // ------------------------------------------------------------------------------------------------

    /// @notice Draws the committee that is due (anyone may call; `commitVote` also draws when it is due). If the
    /// seed block is older than 256 blocks the draw is re-anchored to a later block instead (`DrawDeferred`).
    function drawCommittee(uint256 jobId, uint256 taskIndex) external;

    /// @notice Commits member `memberIndex`'s vote: `commitment` is
    /// `keccak256(abi.encode(jobId, taskIndex, attempt, draw, voter, approve, renderProof, salt))`; only its top
    /// 24 bytes are kept. Draws the committee first when it is due.
    function commitVote(uint256 jobId, uint256 taskIndex, uint256 memberIndex, bytes32 commitment) external;

    /// @notice Reveals member `memberIndex`'s committed vote. The reveal phase starts when every member
    /// committed or the commit phase ended; when every committed member has revealed, the votes are counted.
    function revealVote(
        uint256 jobId,
        uint256 taskIndex,
        uint256 memberIndex,
        bool approve,
        bytes32 renderProof,
        bytes32 salt
    ) external;

    /// @notice Challenges the worker to show the committed data of `cells` (a member of the current draw,
    /// during the commit phase, once per draw; `msg.value` must be `DATA_CHALLENGE_BOND`).
    function challengeData(uint256 jobId, uint256 taskIndex, uint256 memberIndex, uint32[] calldata cells)
        external
        payable;

    /// @notice Appeals the current verdict to a committee of the next level, or disputes an optimistic result
    /// (level 0). The artist, the worker and registered active verifiers have standing; `msg.value` must be
    /// `appealBond(level)`.
    function appealVerdict(uint256 jobId, uint256 taskIndex) external payable;

    /// @notice Moves a verification whose phase ended: commit to reveal, reveal to counting, an unanswered data
    /// challenge to slashing the worker, an unappealed verdict to settlement; pays an undisputed optimistic
    /// result after its window. Anyone may call.
    function finalizeTask(uint256 jobId, uint256 taskIndex) external;

    // ------------------------------------------------------------------------------------------------
    // Verifier registry
    // ------------------------------------------------------------------------------------------------

    /// @notice Stakes `msg.value` (may be 0), then moves `tickets x TICKET_STAKE` of free bonded stake into the
    /// verifier registry as `tickets` draw tickets. An account that left must be released first.
    function registerVerifier(uint256 tickets) external payable;

    /// @notice Leaves the registry: the tickets stop counting for draws anchored from this block on; they still
    /// back draws anchored before, and are released after `RELEASE_DELAY` blocks.
    function leaveVerifiers() external;

    /// @notice After leaving and `RELEASE_DELAY` blocks, with no seat held: returns the verifier stake to the
    /// caller's bonded stake and frees its ticket positions.
    function releaseVerifier() external;

    // ------------------------------------------------------------------------------------------------
    // Stake and balances
    // ------------------------------------------------------------------------------------------------

    /// @notice Bonds `msg.value` wei of stake.
    function stake() external payable;

    /// @notice Starts unbonding free stake; it can be withdrawn after `UNBONDING_DELAY` (the clock restarts).
    function requestUnstake(uint256 amount) external;

    /// @notice Sends all unbonded stake whose delay has passed to the caller.
    function withdrawStake() external;

    /// @notice Sends the caller's whole credited balance of `token` (address(0): ETH).
    function withdraw(address token) external;

    // ------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------

    /// @notice The stored job; reverts with `JobNotFound` for unknown ids.
    function getJob(uint256 jobId) external view returns (Job memory);

    /// @notice A task's state, its current worker (zero when open), the time its lease ends (claimed) or its
    /// current verification phase ends (submitted), its attempt number and its committed cell root.
    function getTask(uint256 jobId, uint256 taskIndex)
        external
        view
        returns (TaskState state, address worker, uint256 until, uint256 attempt, bytes32 cellRoot);

    /// @notice Where a submitted task's verification stands.
    function getVerification(uint256 jobId, uint256 taskIndex) external view returns (VerificationView memory);

    /// @notice The members of draw `draw` of the task's current submission.
    function getMembers(uint256 jobId, uint256 taskIndex, uint256 draw)
        external
        view
        returns (MemberView[] memory);

    /// @notice The committee the due draw would produce if it were made now (for members to find their seat
    /// before committing); reverts like `drawCommittee` when no draw is due.
    function previewCommittee(uint256 jobId, uint256 taskIndex)
        external
        view
        returns (uint256 draw, bytes32 seed, address[] memory members, uint256[] memory seats);

    /// @notice The bond an appeal to `level` needs: its seats x `APPEAL_BOND_PER_SEAT`.
    function appealBond(uint256 jobId, uint256 level) external view returns (uint256);

    /// @notice The credited, withdrawable balance of `account` in `token`.
    function balanceOf(address account, address token) external view returns (uint256);

    /// @notice A staker's account.
    function stakeOf(address account) external view returns (StakeAccount memory);

    /// @notice A verifier's registry record.
    function verifierOf(address account) external view returns (VerifierInfo memory);

    /// @notice The registry: ticket positions ever allocated, and active tickets (what jobs are checked against).
    function registry() external view returns (uint256 positions, uint256 activeTickets);

    /// @notice The id the next job will get.
    function nextJobId() external view returns (uint256);

    /// @notice Whether new jobs may pay in `token` (ETH, `address(0)`, always may).
    function isTokenAllowed(address token) external view returns (bool);
}
