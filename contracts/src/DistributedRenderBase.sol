// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDistributedRenderTypes} from "./interfaces/IDistributedRender.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title DistributedRenderBase
/// @notice The storage, constants and shared internals of the market. `DistributedRender` holds the hot paths
/// and the views; it deploys `DistributedRenderExtension` in its constructor and reaches the less frequent state
/// changes there by `delegatecall`, so that both run on this one storage layout (one contract would exceed the
/// EIP-170 size limit).
/// @dev Money rules (docs/contracts.md):
/// - escrow per task = reward + verifier fee, in the job's token; it ends credited to the worker, the voters, the
///   treasury or the artist, exactly once;
/// - worker stakes are ETH, bonded per account and locked per claimed task; verifier stakes are ETH held in the
///   registry, one `TICKET_STAKE` per ticket, and each committee seat bonds one ticket's stake until the verdict
///   is final;
/// - every payout is a credit withdrawn by its owner; the owner can pause new jobs and claims and set the
///   (capped) fee for new jobs, and has no path to escrowed, credited or staked funds.
abstract contract DistributedRenderBase is IDistributedRenderTypes, Ownable2Step {
    using SafeCast for uint256;

    // ------------------------------------------------------------------------------------------------
    // Constants and immutables
    // ------------------------------------------------------------------------------------------------

    /// @notice Hard cap on the protocol fee, in basis points of the worker reward.
    uint256 public constant MAX_FEE_BPS = 500;
    /// @notice Share of a task's stake an expired claimant forfeits to the artist, in basis points.
    uint256 public constant LAZY_PENALTY_BPS = 2000;
    /// @notice Largest first committee a job may ask for.
    uint256 public constant MAX_QUORUM = 7;
    /// @notice Appeal levels above the first committee; the last level decides by majority, without appeal.
    uint256 public constant MAX_LEVEL = 3;
    /// @notice Redraws at the last level after a draw that decided nothing.
    uint256 public constant MAX_REDRAWS = 2;
    /// @notice Times a draw that cannot fill its committee waits a window for seats to be freed, per draw.
    uint256 public constant MAX_DEFERRALS = 4;
    /// @notice Smallest verifier fee of a job that is not optimistic, in basis points of the reward.
    uint256 public constant MIN_VERIFIER_FEE_BPS = 100;
    /// @notice A draw anchored at block b is seeded by the hash of block b + DRAW_DELAY.
    uint256 public constant DRAW_DELAY = 1;
    /// @notice Tickets tried per seat before a draw gives up on filling it.
    uint256 public constant DRAW_TRIES_PER_SEAT = 4;
    /// @notice Most cells one data-availability challenge may name.
    uint256 public constant MAX_CHALLENGE_CELLS = 64;
    /// @notice Blocks between leaving the registry and release: every draw anchored before the leave has been
    /// made by then, or would be re-anchored (a seed older than 256 blocks cannot be read).
    uint256 public constant RELEASE_DELAY = 256 + DRAW_DELAY + 1;
    /// @notice Largest number of tasks in one job.
    uint256 public constant MAX_TASKS = 1_000_000;
    /// @notice Most path segments of one cell: samples per pixel × (bounces + 1) × cell pixels. A committee
    /// member re-renders `MAX_CHALLENGE_CELLS` cells per draw, so a check is at most 2^34 segments: about four
    /// minutes of one CPU core at the rate measured in docs/verification.md (66 cells of 256 px at 64 spp and
    /// 8 bounces, 9.7e6 segments, in 0.070 s on two cores), for a scene like its complete.glb.
    uint256 public constant MAX_CELL_WORK = 2 ** 28;
    /// @notice Most bounces of a path.
    uint256 public constant MAX_BOUNCES = 64;
    /// @notice Largest image side in pixels.
    uint256 public constant MAX_DIMENSION = 16_384;
    /// @notice Longest challenge window.
    uint256 public constant MAX_CHALLENGE_WINDOW = 30 days;
    /// @notice Longest lease.
    uint256 public constant MAX_LEASE_DURATION = 30 days;
    /// @notice Largest worker stake per task, in gwei (it is stored in 48 bits).
    uint256 public constant MAX_STAKE_GWEI = type(uint48).max;

    /// @notice Wei behind one registry ticket; one committee seat bonds exactly this much.
    uint256 public immutable TICKET_STAKE;
    /// @notice Seconds between `requestUnstake` and `withdrawStake`.
    uint256 public immutable UNBONDING_DELAY;
    /// @notice Wei per seat of the committee an appeal asks for.
    uint256 public immutable APPEAL_BOND_PER_SEAT;
    /// @notice Wei a data-availability challenge bonds; the answerer gets it, or the challenger back.
    uint256 public immutable DATA_CHALLENGE_BOND;
    /// @notice Shortest challenge window a job may set, in seconds: each verification phase (commit, reveal,
    /// data response, appeal) lasts one window, and a member that cannot act within it loses its bond. Set
    /// at deployment for the chain's block time and congestion (contracts/script/Deploy.s.sol).
    uint256 public immutable MIN_CHALLENGE_WINDOW;

    /// Transient-storage slot of the reentrancy lock: keccak256("tessera.DistributedRender.reentrancy") - 1.
    bytes32 internal constant REENTRANCY_SLOT =
        bytes32(uint256(keccak256("tessera.DistributedRender.reentrancy")) - 1);

    uint8 internal constant FLAG_OPTIMISTIC = 1;
    uint8 internal constant FLAG_CANCELLED = 2;
    /// Set once the open-task block of escrow was refunded (cancel, or reclaim after the deadline).
    uint8 internal constant FLAG_OPEN_REFUNDED = 4;

    /// Submission statuses; a non-zero status s is the task state `TaskState(s + 1)`.
    uint8 internal constant STATUS_NONE = 0;
    uint8 internal constant STATUS_SUBMITTED = 1;
    uint8 internal constant STATUS_PAID = 2;
    uint8 internal constant STATUS_REFUNDED = 3;

    /// The lease entry of a task refunded while leased (after its job's deadline or cancel): the task is
    /// Refunded without its submission slot being written, so that ending a lease costs no more than taking it.
    /// Never allocated as a lease id (`claimTasks` stops below it).
    uint256 internal constant LEASE_ENDED = type(uint32).max;

    /// Most members one draw can have: the last level's seats for the largest first committee.
    uint256 internal constant MAX_SEATS = ((MAX_QUORUM + 1) << MAX_LEVEL) - 1;

    // ------------------------------------------------------------------------------------------------
    // Storage
    // ------------------------------------------------------------------------------------------------

    /// One slot read by every job post and claim.
    struct Config {
        uint64 nextJobId;
        uint32 nextLeaseId;
        uint32 nextTokenId;
        uint16 protocolFeeBps;
        bool paused;
        /// Tickets of verifiers that have not left: what a job's first committee is checked against.
        uint32 activeTickets;
    }

    /// A job in two slots: who and how much, then everything claims and settlement read.
    struct JobRecord {
        address artist;
        uint96 rewardPerTask;
        uint32 tokenId;
        uint16 verifierFeeBps;
        uint48 workerStakeGwei;
        uint32 deadline;
        uint24 leaseDuration;
        uint24 challengeWindow;
        uint24 taskCount;
        uint24 openTasks;
        uint16 protocolFeeBps;
        uint8 quorum;
        uint8 flags;
    }

    /// A job's image layout, what a task's cells are computed from (docs/merkle.md); every field is at most
    /// `MAX_DIMENSION` by `_validate`.
    struct Layout {
        uint16 width;
        uint16 height;
        uint16 regionsX;
        uint16 regionsY;
        uint16 cellSize;
    }

    /// A claim of one or more tasks by one worker.
    struct Lease {
        address worker;
        uint32 expiresAt;
    }

    /// Per-task result state; written on submit.
    struct Submission {
        bytes32 cellRoot;
        /// The submitting worker, kept beside the status so settlement needs no lease lookup.
        address worker;
        /// `submittedAt << 40 | submitBlock`: the submission's time (the optimistic window starts there) and block
        /// (the first draw is anchored there), written at once.
        uint72 submitted;
        uint16 attempt;
        uint8 status;
    }

    /// A submission's verification, one slot; deleted when the task settles.
    struct Verification {
        /// Registry reference block of the pending draw; its seed is the hash of block anchor + DRAW_DELAY.
        uint40 anchorBlock;
        uint32 phaseEnd;
        uint8 phase;
        uint8 level;
        uint8 draws;
        uint8 redraws;
        uint8 seats;
        uint8 members;
        uint8 committed;
        uint8 revealed;
        uint8 verdict;
        uint8 decidedLevel;
        /// Deferrals of the pending draw for want of free seats.
        uint8 deferrals;
        /// Seats bonded by this verification's draws so far (released together when it ends).
        uint16 heldSeats;
        bool challenged;
        /// Bit `l` set: an appeal record exists at level `l` (settlement reads only those); MAX_LEVEL <= 7 keeps
        /// every level's bit in these eight.
        uint8 appealedLevels;
        /// The submission's attempt and the job's challenge window, copied by each draw so that a vote reads
        /// neither the job nor the submission (`_voteCtx`).
        uint16 attempt;
        uint24 window;
    }

    /// One member of one draw.
    struct MemberRecord {
        uint32 verifierId;
        uint8 seats;
        uint8 state;
        /// Members in the draw (kept on member 0 only).
        uint8 drawMembers;
        /// The commitment until revealed, then the render proof (top 24 bytes of each).
        bytes24 data;
    }

    /// One registry position. `allocated` never changes, so positions are sorted by it; `from` and `until`
    /// bound the blocks at which the current holder's ticket counts (`until` 0: not leaving).
    struct Ticket {
        uint32 owner;
        uint40 allocated;
        uint40 from;
        uint40 until;
    }

    /// The registry's counters.
    struct Registry {
        uint32 positions;
        uint32 verifiers;
        uint32 freeCount;
    }

    /// What a draw reads of a verifier: one slot.
    struct VerifierRecord {
        address account;
        uint32 tickets;
        uint32 capacity;
        uint32 seats;
    }

    struct VerifierFunds {
        uint128 stake;
        uint40 leavingSince;
    }

    struct AppealRecord {
        address appellant;
        uint88 bond;
        bool requestApprove;
    }

    struct ChallengeRecord {
        address challenger;
        bytes12 cellsHash;
    }

    /// What the verification functions carry about the task.
    struct Ctx {
        uint256 jobId;
        uint256 taskIndex;
        uint256 attempt;
        address worker;
        uint256 window;
    }

    Config internal _config;
    /// @notice Receives the protocol fee (as a credit).
    // Set by `setTreasury`, which runs in the extension (by delegatecall) on this storage.
    // slither-disable-next-line immutable-states
    address public treasury;

    mapping(uint256 jobId => JobRecord) internal _jobs;
    /// ERC-20 tokens by id; id 0 is ETH.
    mapping(uint256 tokenId => address) internal _tokens;
    mapping(address token => uint256) internal _tokenIds;
    /// Eight 32-bit lease ids per word: task t is in word t/8 at bits 32*(t%8). Zero means no lease.
    mapping(uint256 jobId => mapping(uint256 word => uint256)) internal _leaseWords;
    mapping(uint256 leaseId => Lease) internal _leases;
    mapping(uint256 jobId => mapping(uint256 taskIndex => Submission)) internal _submissions;
    mapping(address token => mapping(address account => uint256)) internal _balances;
    mapping(address account => StakeAccount) internal _stakes;

    Registry internal _registry;
    mapping(uint256 position => Ticket) internal _tickets;
    /// Released positions, reused before new ones are allocated.
    mapping(uint256 index => uint32) internal _free;
    mapping(address account => uint256) internal _verifierIds;
    mapping(uint256 id => VerifierRecord) internal _verifierRecords;
    mapping(uint256 id => VerifierFunds) internal _verifierFunds;
    mapping(uint256 id => uint32[]) internal _positionsOf;

    mapping(uint256 jobId => mapping(uint256 taskIndex => Verification)) internal _verifications;
    mapping(bytes32 drawKey => mapping(uint256 memberIndex => MemberRecord)) internal _members;
    /// Keyed like draws, by (job, task, attempt, level).
    mapping(bytes32 levelKey => AppealRecord) internal _appeals;
    mapping(bytes32 drawKey => ChallengeRecord) internal _challenges;
    mapping(uint256 jobId => Layout) internal _layouts;

    /// A reentrancy lock in transient storage (EIP-1153): about 200 gas instead of a storage lock's ~5,000.
    modifier nonReentrant() {
        bytes32 slot = REENTRANCY_SLOT;
        bool entered;
        assembly ("memory-safe") {
            entered := tload(slot)
        }
        if (entered) revert Reentered();
        assembly ("memory-safe") {
            tstore(slot, 1)
        }
        _;
        assembly ("memory-safe") {
            tstore(slot, 0)
        }
    }

    /// @param ticketStake Wei per registry ticket (= one seat's bond); must be non-zero.
    /// @param appealBondPerSeat Wei per seat of an appeal's committee.
    /// @param dataChallengeBond Wei a data-availability challenge bonds.
    /// @param minChallengeWindow Shortest challenge window a job may set, in seconds (1..MAX_CHALLENGE_WINDOW).
    constructor(
        address initialOwner,
        address initialTreasury,
        uint16 initialFeeBps,
        uint256 ticketStake,
        uint256 unbondingDelay,
        uint256 appealBondPerSeat,
        uint256 dataChallengeBond,
        uint256 minChallengeWindow
    ) Ownable(initialOwner) {
        if (initialTreasury == address(0)) revert ZeroAddress();
        if (initialFeeBps > MAX_FEE_BPS) revert FeeTooHigh(initialFeeBps, MAX_FEE_BPS);
        if (ticketStake == 0 || appealBondPerSeat > type(uint88).max / MAX_SEATS) revert ZeroAmount();
        treasury = initialTreasury;
        TICKET_STAKE = ticketStake;
        UNBONDING_DELAY = unbondingDelay;
        APPEAL_BOND_PER_SEAT = appealBondPerSeat;
        DATA_CHALLENGE_BOND = dataChallengeBond;
        if (minChallengeWindow == 0 || minChallengeWindow > MAX_CHALLENGE_WINDOW) {
            revert BadMinChallengeWindow(minChallengeWindow);
        }
        MIN_CHALLENGE_WINDOW = minChallengeWindow;
        // Counters start at 1 so that 0 means "none" and the first job and lease write no fresh slot here.
        _config = Config({
            nextJobId: 1,
            nextLeaseId: 1,
            nextTokenId: 1,
            protocolFeeBps: initialFeeBps,
            paused: false,
            activeTickets: 0
        });
    }

    // ------------------------------------------------------------------------------------------------
    // Shared internals
    // ------------------------------------------------------------------------------------------------

    /// Loads an existing job. Existence is read from `taskCount` (never zero for a posted job), which shares
    /// the slot that claims and submissions need anyway.
    function _job(uint256 jobId) internal view returns (JobRecord storage job) {
        job = _jobs[jobId];
        if (job.taskCount == 0) revert JobNotFound(jobId);
    }

    /// Loads a submitted task and what verification needs of it.
    function _load(uint256 jobId, uint256 taskIndex)
        internal
        view
        returns (JobRecord storage job, Submission storage sub, Ctx memory c)
    {
        job = _job(jobId);
        sub = _submitted(job, jobId, taskIndex);
        c = Ctx({
            jobId: jobId,
            taskIndex: taskIndex,
            attempt: sub.attempt,
            worker: sub.worker,
            window: job.challengeWindow
        });
    }

    /// The context of a vote on a verification in its commit or reveal phase, from the verification slot
    /// alone: such a verification belongs to a submitted task (every path that ends a submission deletes its
    /// verification) and its draw copied the attempt and the window there, so two cold reads (job and
    /// submission, ~4.5k gas) are saved per vote. `worker` is not known here (zero); nothing a vote runs uses
    /// it. Returns `ok` false in any other phase, for the caller to take `_load`'s path and its errors.
    function _voteCtx(uint256 jobId, uint256 taskIndex, Verification storage v)
        internal
        view
        returns (Ctx memory c, bool ok)
    {
        uint256 phase = v.phase;
        if (phase != uint8(Phase.Commit) && phase != uint8(Phase.Reveal)) return (c, false);
        c = Ctx({
            jobId: jobId, taskIndex: taskIndex, attempt: v.attempt, worker: address(0), window: v.window
        });
        ok = true;
    }

    /// The job's payment token (address(0) for ETH).
    function _tokenOf(JobRecord storage job) internal view returns (address) {
        uint256 id = job.tokenId;
        return id == 0 ? address(0) : _tokens[id];
    }

    /// Reward plus verifier fee: what each task escrows.
    function _escrowPerTask(JobRecord storage job) internal view returns (uint256) {
        uint256 reward = job.rewardPerTask;
        return reward + reward * job.verifierFeeBps / 10_000;
    }

    function _stakeWei(JobRecord storage job) internal view returns (uint256) {
        return uint256(job.workerStakeGwei) * 1 gwei;
    }

    /// Reverts with the most specific reason a task is not in the state a call needs.
    function _revertNotInState(uint256 jobId, uint256 taskIndex, uint256 leaseId) internal view {
        JobRecord storage job = _job(jobId);
        if (taskIndex >= job.taskCount) revert TaskOutOfRange(jobId, taskIndex, job.taskCount);
        revert TaskNotInState(jobId, taskIndex, _taskState(job, jobId, taskIndex, leaseId));
    }

    function _leaseOf(uint256 jobId, uint256 taskIndex) internal view returns (uint256) {
        return (_leaseWords[jobId][taskIndex >> 3] >> ((taskIndex & 7) << 5)) & 0xffffffff;
    }

    function _setLease(uint256 jobId, uint256 taskIndex, uint256 leaseId) internal {
        uint256 shift = (taskIndex & 7) << 5;
        mapping(uint256 => uint256) storage words = _leaseWords[jobId];
        uint256 w = taskIndex >> 3;
        words[w] = (words[w] & ~(uint256(0xffffffff) << shift)) | (leaseId << shift);
    }

    function _taskState(JobRecord storage job, uint256 jobId, uint256 taskIndex, uint256 leaseId)
        internal
        view
        returns (TaskState)
    {
        uint8 status = _submissions[jobId][taskIndex].status;
        // Submitted, Paid and Refunded are the statuses 1, 2, 3 shifted by one (see the STATUS_* constants).
        if (status != STATUS_NONE) return TaskState(status + 1);
        if (leaseId == LEASE_ENDED) return TaskState.Refunded;
        if (leaseId != 0) return TaskState.Claimed;
        return job.flags & FLAG_OPEN_REFUNDED != 0 ? TaskState.Refunded : TaskState.Open;
    }

    /// Loads a task that must be in the Submitted state.
    function _submitted(JobRecord storage job, uint256 jobId, uint256 taskIndex)
        internal
        view
        returns (Submission storage sub)
    {
        if (taskIndex >= job.taskCount) revert TaskOutOfRange(jobId, taskIndex, job.taskCount);
        sub = _submissions[jobId][taskIndex];
        if (sub.status != STATUS_SUBMITTED) {
            revert TaskNotInState(
                jobId, taskIndex, _taskState(job, jobId, taskIndex, _leaseOf(jobId, taskIndex))
            );
        }
    }

    /// Reopens a claimed or rejected task, or refunds it when it can no longer be claimed.
    function _reopen(
        JobRecord storage job,
        uint256 jobId,
        uint256 taskIndex,
        Submission storage sub,
        address previousWorker,
        ReopenReason reason,
        uint256 penalty
    ) internal {
        uint256 attempt = uint256(sub.attempt) + 1;
        if (attempt > type(uint16).max) {
            // 65,535 attempts are spent (a zero-stake job with a one-second lease makes them cheap): the task
            // ends and its escrow goes back, rather than a revert locking it for ever. Its lease entry is marked
            // ended, so that no claim can take the refunded task again.
            _setLease(jobId, taskIndex, LEASE_ENDED);
            _refundTask(job, jobId, taskIndex, sub, RefundReason.AttemptsExhausted);
            return;
        }
        _setLease(jobId, taskIndex, 0);
        sub.attempt = uint16(attempt);
        if (job.flags & FLAG_CANCELLED != 0) {
            _refundTask(job, jobId, taskIndex, sub, RefundReason.Cancelled);
        } else if (block.timestamp >= job.deadline) {
            _refundTask(job, jobId, taskIndex, sub, RefundReason.DeadlinePassed);
        } else {
            sub.status = STATUS_NONE;
            // openTasks + 1 <= taskCount < 2^24: this task was not counted as open.
            job.openTasks += 1;
            emit TaskReopened(jobId, taskIndex, previousWorker, reason, attempt, penalty);
        }
    }

    function _refundTask(
        JobRecord storage job,
        uint256 jobId,
        uint256 taskIndex,
        Submission storage sub,
        RefundReason why
    ) internal {
        sub.status = STATUS_REFUNDED;
        address artist = job.artist;
        uint256 amount = _escrowPerTask(job);
        emit TaskRefunded(jobId, taskIndex, artist, why, amount);
        _credit(artist, _tokenOf(job), amount);
    }

    /// Seats at appeal `level` for a first committee of `quorum`: (quorum + 1) * 2^level - 1.
    function _seatsAt(uint256 quorum, uint256 level) internal pure returns (uint256) {
        return ((quorum + 1) << level) - 1;
    }

    function _drawKey(Ctx memory c, uint256 draw) internal pure returns (bytes32) {
        return keccak256(abi.encode(c.jobId, c.taskIndex, c.attempt, draw));
    }

    function _levelKey(Ctx memory c, uint256 level) internal pure returns (bytes32) {
        return keccak256(abi.encode(c.jobId, c.taskIndex, c.attempt, level, "appeal"));
    }

    function _windowEnd(Ctx memory c) internal view returns (uint32) {
        // now + window < 2^32 until 2106 (window <= 30 days).
        return uint32(block.timestamp + c.window);
    }

    /// Reverts unless the verification is in `phase` and the phase has not ended.
    function _inPhase(Ctx memory c, Verification storage v, Phase phase) internal view {
        if (v.phase != uint8(phase)) revert WrongPhase(c.jobId, c.taskIndex, Phase(v.phase));
        if (block.timestamp >= v.phaseEnd) revert PhaseOver(c.jobId, c.taskIndex, v.phaseEnd);
    }

    /// Member `i` of the current draw, which must be the caller.
    function _member(Ctx memory c, Verification storage v, uint256 i)
        internal
        view
        returns (MemberRecord storage m)
    {
        m = _members[_drawKey(c, v.draws - 1)][i];
        if (i >= v.members || _verifierIds[msg.sender] != m.verifierId) {
            revert NotMember(c.jobId, c.taskIndex, i, msg.sender);
        }
    }

    function _awaitDraw(Verification storage v, uint256 notBefore) internal {
        v.phase = uint8(Phase.AwaitingDraw);
        v.anchorBlock = uint40(block.number);
        v.phaseEnd = uint32(notBefore);
    }

    function _capacity(uint256 tickets, uint256 stakeWei) internal view returns (uint256) {
        uint256 backed = stakeWei / TICKET_STAKE;
        return backed < tickets ? backed : tickets;
    }

    function _isActiveVerifier(address account) internal view returns (bool) {
        uint256 id = _verifierIds[account];
        // `leavingSince` is a block number used as a flag: zero means not leaving.
        // slither-disable-next-line incorrect-equality
        return _verifierRecords[id].tickets != 0 && _verifierFunds[id].leavingSince == 0;
    }

    function _bond(address account, uint256 amount) internal {
        uint256 bonded = _bondSilently(account, amount);
        emit Staked(account, amount, bonded);
    }

    function _bondSilently(address account, uint256 amount) internal returns (uint256 bonded) {
        StakeAccount storage acct = _stakes[account];
        bonded = uint256(acct.bonded) + amount;
        acct.bonded = bonded.toUint128();
    }

    function _credit(address account, address token, uint256 amount) internal {
        if (amount == 0) return;
        _balances[token][account] += amount;
        emit BalanceCredited(account, token, amount);
    }

    function _lock(address account, uint256 amount) internal {
        StakeAccount storage acct = _stakes[account];
        uint256 locked = acct.locked;
        uint256 free = uint256(acct.bonded) - locked;
        if (amount > free) revert InsufficientStake(account, free, amount);
        // locked + amount <= bonded < 2^128.
        acct.locked = uint128(locked + amount);
    }

    function _unlock(address account, uint256 amount) internal {
        _stakes[account].locked -= uint128(amount);
    }

    /// Removes `amount` of unlocked bonded stake (the caller credits it to its new owners).
    function _slash(address account, uint256 amount) internal {
        _stakes[account].bonded -= uint128(amount);
        emit StakeSlashed(account, amount);
    }

    /// Pays out a withdrawal. Only ever to `msg.sender`, after its balance was zeroed (checks-effects-interactions).
    function _sendEthToSender(uint256 amount) internal {
        // The recipient is the caller withdrawing its own, already-zeroed balance.
        // slither-disable-next-line arbitrary-send-eth
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert EthTransferFailed(msg.sender, amount);
    }

    /// The Merkle leaf of a cell (docs/merkle.md): double keccak of the ABI-encoded index and data hash.
    function _cellLeaf(uint256 cellIndex, bytes32 dataHash) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(cellIndex, dataHash))));
    }

    /// One draw's members, with the seats that revealed the same render proof as each of them.
    struct Judged {
        uint256 n;
        MemberRecord[] members;
        uint256[] weight;
        /// The largest weight: members whose proof has it hold the plurality proof.
        uint256 best;
    }

    function _judge(bytes32 key) internal view returns (Judged memory j) {
        uint256 n = _members[key][0].drawMembers;
        j.n = n;
        j.members = new MemberRecord[](n);
        j.weight = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            j.members[i] = _members[key][i];
        }
        for (uint256 i; i < n; ++i) {
            if (j.members[i].state < uint8(MemberState.RevealedApprove)) continue;
            uint256 w = 0;
            for (uint256 k; k < n; ++k) {
                if (
                    j.members[k].state >= uint8(MemberState.RevealedApprove)
                        && j.members[k].data == j.members[i].data
                ) {
                    w += j.members[k].seats;
                }
            }
            j.weight[i] = w;
            if (w > j.best) j.best = w;
        }
    }

    /// Pays the worker. The verifier fee is credited to the artist when `feeToArtist`, else returned for the
    /// caller to share.
    function _pay(
        JobRecord storage job,
        Ctx memory c,
        Submission storage sub,
        PayReason reason,
        bool feeToArtist
    ) internal returns (uint256 verifierFee) {
        sub.status = STATUS_PAID;
        uint256 stakeWei = _stakeWei(job);
        if (stakeWei != 0) _unlock(c.worker, stakeWei);

        address token = _tokenOf(job);
        uint256 reward = job.rewardPerTask;
        uint256 fee = reward * job.protocolFeeBps / 10_000;
        verifierFee = reward * job.verifierFeeBps / 10_000;
        emit TaskPaid(
            c.jobId, c.taskIndex, c.worker, reason, reward - fee, fee, feeToArtist ? 0 : verifierFee
        );
        _credit(c.worker, token, reward - fee);
        if (fee != 0) _credit(treasury, token, fee);
        if (feeToArtist) {
            _credit(job.artist, token, verifierFee);
            verifierFee = 0;
        }
    }

    /// The time of a submission, from `Submission.submitted`.
    function _submittedAt(uint72 submitted) internal pure returns (uint256) {
        return uint256(submitted) >> 40;
    }

    /// The block of a submission, from `Submission.submitted`.
    function _submitBlock(uint72 submitted) internal pure returns (uint256) {
        return uint256(submitted) & type(uint40).max;
    }
}
