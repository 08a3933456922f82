// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IDistributedRender
/// @notice The Tessera render marketplace: artists escrow a bounty for a render job, staked workers claim its
/// tasks under expiring leases and commit to their output, staked verifiers re-render sampled cells and sign
/// EIP-712 attestations, and the contract pays, slashes, reopens or refunds. Every payout is credited to a
/// balance and withdrawn by its owner (pull payments). See docs/contracts.md for the lifecycle.
interface IDistributedRender {
    // ------------------------------------------------------------------------------------------------
    // Types
    // ------------------------------------------------------------------------------------------------

    /// @notice How the worker renders: everything that determines the output bits besides the scene.
    /// @dev Tasks = frameCount x regionsX x regionsY. Task index t covers frame `frameStart + t / (rx*ry)` and
    /// region `t % (rx*ry)` (row-major, regionsX regions per row). See docs/job-model.md.
    struct RenderSettings {
        uint32 width;
        uint32 height;
        uint32 samplesPerPixel;
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
        /// Verifier fee per task, in basis points of the reward (at most 10,000), escrowed on top of it. Shared
        /// by the verifiers whose attestations settle a task; refunded to the artist otherwise.
        uint16 verifierFeeBps;
        /// ETH the worker locks per claimed task (a whole number of gwei, below 2^48 gwei).
        uint96 workerStakePerTask;
        /// Unix time after which no task can be claimed and unfinished escrow is reclaimable.
        uint32 deadline;
        /// Seconds a claim lasts (capped at the deadline; at most 30 days).
        uint32 leaseDuration;
        /// Seconds after a submission during which verifiers may attest; then `finalizeTask` settles it.
        uint32 challengeWindow;
        /// Matching attestations needed to approve or reject a result (1..MAX_QUORUM).
        uint8 quorum;
        /// Whether a result nobody rejected within the challenge window is paid.
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
        Quorum
    }

    /// @notice How a task ended up paid.
    enum PayReason {
        Verified,
        AcceptedByArtist,
        ChallengeWindowElapsed
    }

    /// @notice Why a task's escrow went back to the artist.
    enum RefundReason {
        Cancelled,
        DeadlinePassed,
        Unverified
    }

    /// @notice Why a task went back to open.
    enum ReopenReason {
        LeaseExpired,
        Rejected
    }

    /// @notice A verifier's signed verdict on one submission (EIP-712 typed data).
    /// @dev For an approval `cellIndex` and `expectedDataHash` are zero. For a rejection they name the cell the
    /// verifier re-rendered and the keccak256 of the raw data it computed for that cell.
    struct Attestation {
        uint256 jobId;
        uint256 taskIndex;
        uint256 attempt;
        bytes32 cellRoot;
        bool approve;
        uint256 cellIndex;
        bytes32 expectedDataHash;
    }

    /// @notice An attestation with its signature and, for rejections, the committed leaf's Merkle proof.
    struct SignedAttestation {
        Attestation attestation;
        bytes signature;
        /// keccak256 of the committed raw data of `attestation.cellIndex` (rejections only).
        bytes32 committedDataHash;
        /// Proof that the committed leaf is in `cellRoot` (rejections only).
        bytes32[] proof;
    }

    /// @notice A staker's bonded, locked and unbonding ETH.
    struct StakeAccount {
        uint128 bonded;
        uint128 locked;
        uint128 unbonding;
        uint64 unbondingReadyAt;
    }

    // ------------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------------

    /// @notice A job field is out of range; `value` is what was given (0 for strings that were empty).
    error InvalidJobField(JobField field, uint256 value);
    /// @notice `msg.value` must equal the escrow for ETH jobs and be zero for token jobs.
    error WrongPayment(uint256 expected, uint256 received);
    /// @notice The token delivered less than was transferred (fee-on-transfer tokens are not supported).
    error FeeOnTransferToken(address token, uint256 expected, uint256 received);
    /// @notice No job has this id.
    error JobNotFound(uint256 jobId);
    /// @notice The task index is not below the job's task count.
    error TaskOutOfRange(uint256 jobId, uint256 taskIndex, uint256 taskCount);
    /// @notice The task is not in a state that allows this call.
    error TaskNotInState(uint256 jobId, uint256 taskIndex, TaskState state);
    /// @notice The same task appears twice in one batch.
    error DuplicateTask(uint256 jobId, uint256 taskIndex);
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
    /// @notice The challenge window ends at `endsAt`.
    error ChallengeWindowOpen(uint256 jobId, uint256 taskIndex, uint256 endsAt);
    /// @notice The challenge window ended at `endedAt`.
    error ChallengeWindowClosed(uint256 jobId, uint256 taskIndex, uint256 endedAt);
    /// @notice Free stake is below what the call needs.
    error InsufficientStake(address account, uint256 available, uint256 required);
    /// @notice Fewer matching attestations than the job's quorum.
    error QuorumNotMet(uint256 given, uint256 quorum);
    /// @notice An attestation is about another job, task, attempt or cell root.
    error AttestationMismatch(uint256 position);
    /// @notice Attestations in one call must all approve or all reject.
    error MixedVerdicts(uint256 position);
    /// @notice Signers must be strictly ascending (this rules out duplicates).
    error SignersNotAscending(uint256 position, address signer);
    /// @notice The signer is not a staked verifier, or is the task's worker or the job's artist.
    error NotEligibleVerifier(address signer);
    /// @notice The signature is malformed or malleable.
    error InvalidSignature(uint256 position);
    /// @notice A rejection's Merkle proof does not show the committed leaf in the cell root.
    error InvalidCellProof(uint256 position, uint256 cellIndex);
    /// @notice A rejection must name a cell whose committed data differs from what the verifier computed.
    error CellMatches(uint256 position, uint256 cellIndex);
    /// @notice The two attestations are not a conflicting pair from one verifier.
    error NotEquivocation();
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
    /// @notice The claimant committed to its output.
    event ResultSubmitted(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed worker,
        uint256 attempt,
        string outputCid,
        bytes32 cellRoot,
        uint256 challengeEndsAt
    );
    /// @notice A verifier's attestation was counted.
    event TaskAttested(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed verifier,
        uint256 attempt,
        bool approve
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
    /// @notice A quorum rejected the result: the worker lost `slashed` wei of stake.
    event TaskRejected(
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address indexed worker,
        uint256 attempt,
        uint256 cellIndex,
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
    /// @notice `account` lost `amount` wei of bonded stake.
    event StakeSlashed(address indexed account, uint256 amount);
    /// @notice A verifier signed two conflicting attestations for one submission and was slashed.
    event VerifierEquivocated(
        address indexed verifier,
        uint256 indexed jobId,
        uint256 indexed taskIndex,
        address reporter,
        uint256 slashed
    );
    /// @notice New jobs and claims were paused or resumed.
    event PausedSet(bool paused);
    /// @notice The protocol fee for new jobs changed.
    event ProtocolFeeSet(uint256 feeBps);
    /// @notice The protocol fee recipient changed.
    event TreasurySet(address indexed treasury);

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

    /// @notice Accepts a submitted result before verification: the worker is paid, the verifier fee refunded.
    function acceptTask(uint256 jobId, uint256 taskIndex) external;

    // ------------------------------------------------------------------------------------------------
    // Worker
    // ------------------------------------------------------------------------------------------------

    /// @notice Leases open tasks for `leaseDuration` (capped at the deadline), locking the job's stake per task.
    /// @return leaseId The lease's id.
    function claimTasks(uint256 jobId, uint32[] calldata taskIndices) external returns (uint256 leaseId);

    /// @notice Commits to a claimed task's output before the lease ends.
    /// @param outputCid IPFS CID of the output directory (raw data, preview, leaves).
    /// @param cellRoot Merkle root of the cells' leaves (docs/merkle.md).
    function submitResult(uint256 jobId, uint256 taskIndex, string calldata outputCid, bytes32 cellRoot)
        external;

    /// @notice Reopens tasks whose lease expired without a result; the lazy worker forfeits
    /// `LAZY_PENALTY_BPS` of each task's stake to the artist. After the deadline or a cancel the tasks are
    /// refunded instead. Anyone may call.
    function reopenExpired(uint256 jobId, uint32[] calldata taskIndices) external;

    // ------------------------------------------------------------------------------------------------
    // Verification and settlement
    // ------------------------------------------------------------------------------------------------

    /// @notice Settles a submitted task with a quorum of matching signed attestations (any sender).
    /// @dev Approvals pay the worker and split the verifier fee among the signers. Rejections slash the
    /// worker's stake (half to the artist, half split among the signers) and reopen the task.
    function attest(uint256 jobId, uint256 taskIndex, SignedAttestation[] calldata attestations) external;

    /// @notice After the challenge window: pays the worker if the job is optimistic, else refunds the artist
    /// and releases the worker's stake. Anyone may call.
    function finalizeTask(uint256 jobId, uint256 taskIndex) external;

    /// @notice Slashes a verifier that signed two conflicting attestations about the same submission.
    function reportEquivocation(
        Attestation calldata a,
        bytes calldata signatureA,
        Attestation calldata b,
        bytes calldata signatureB
    ) external;

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

    /// @notice A task's state, its current worker (zero when open), the time its lease ends or its challenge
    /// window ends, its attempt number and its committed cell root.
    function getTask(uint256 jobId, uint256 taskIndex)
        external
        view
        returns (TaskState state, address worker, uint256 until, uint256 attempt, bytes32 cellRoot);

    /// @notice The credited, withdrawable balance of `account` in `token`.
    function balanceOf(address account, address token) external view returns (uint256);

    /// @notice A staker's account.
    function stakeOf(address account) external view returns (StakeAccount memory);

    /// @notice The EIP-712 digest a verifier signs for `a`.
    function attestationDigest(Attestation calldata a) external view returns (bytes32);

    /// @notice The id the next job will get.
    function nextJobId() external view returns (uint256);
}
