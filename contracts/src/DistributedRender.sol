// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDistributedRender} from "./interfaces/IDistributedRender.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title DistributedRender
/// @notice Escrow, leases, verification and pull payments for the Tessera render marketplace.
/// @dev Storage is packed so that posting an ETH job writes two slots, claiming writes one lease slot plus one
/// slot per eight consecutive tasks, and submitting writes two slots. ERC-20 tokens get a 32-bit id the first
/// time a job uses them. Money rules (docs/contracts.md):
/// - escrow per task = reward + verifier fee, in the job's token; it ends credited to the worker, the verifiers,
///   the treasury or the artist, exactly once;
/// - stakes are ETH, bonded per account and locked per claimed task;
/// - every payout is a credit withdrawn by its owner; the owner can pause new jobs and claims and set the
///   (capped) fee for new jobs, and has no path to escrowed, credited or staked funds.
contract DistributedRender is IDistributedRender, EIP712, Ownable2Step {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    // ------------------------------------------------------------------------------------------------
    // Constants and immutables
    // ------------------------------------------------------------------------------------------------

    /// @notice Hard cap on the protocol fee, in basis points of the worker reward.
    uint256 public constant MAX_FEE_BPS = 500;
    /// @notice Share of a task's stake an expired claimant forfeits to the artist, in basis points.
    uint256 public constant LAZY_PENALTY_BPS = 2000;
    /// @notice Largest quorum a job may ask for.
    uint256 public constant MAX_QUORUM = 16;
    /// @notice Largest number of tasks in one job.
    uint256 public constant MAX_TASKS = 1_000_000;
    /// @notice Largest image side in pixels.
    uint256 public constant MAX_DIMENSION = 16_384;
    /// @notice Longest challenge window.
    uint256 public constant MAX_CHALLENGE_WINDOW = 30 days;
    /// @notice Longest lease.
    uint256 public constant MAX_LEASE_DURATION = 30 days;
    /// @notice Largest worker stake per task, in gwei (it is stored in 48 bits).
    uint256 public constant MAX_STAKE_GWEI = type(uint48).max;
    /// @notice EIP-712 type hash of `Attestation`.
    bytes32 public constant ATTESTATION_TYPEHASH = keccak256(
        "Attestation(uint256 jobId,uint256 taskIndex,uint256 attempt,bytes32 cellRoot,bool approve,uint256 cellIndex,bytes32 expectedDataHash)"
    );

    /// @notice Free stake a verifier needs for its attestations to count.
    uint256 public immutable VERIFIER_MIN_STAKE;
    /// @notice Seconds between `requestUnstake` and `withdrawStake`.
    uint256 public immutable UNBONDING_DELAY;

    /// Transient-storage slot of the reentrancy lock: keccak256("tessera.DistributedRender.reentrancy") - 1.
    bytes32 private constant REENTRANCY_SLOT =
        bytes32(uint256(keccak256("tessera.DistributedRender.reentrancy")) - 1);

    uint8 private constant FLAG_OPTIMISTIC = 1;
    uint8 private constant FLAG_CANCELLED = 2;
    /// Set once the open-task block of escrow was refunded (cancel, or reclaim after the deadline).
    uint8 private constant FLAG_OPEN_REFUNDED = 4;

    /// Submission statuses; a non-zero status s is the task state `TaskState(s + 1)`.
    uint8 private constant STATUS_NONE = 0;
    uint8 private constant STATUS_SUBMITTED = 1;
    uint8 private constant STATUS_PAID = 2;
    uint8 private constant STATUS_REFUNDED = 3;

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
    }

    /// A job in two slots: who and how much, then everything claims and settlement read. Claims, submissions
    /// and settlement touch the second slot; payouts also read the first.
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
        uint32 submittedAt;
        uint16 attempt;
        uint8 status;
    }

    Config private _config;
    /// @notice Receives the protocol fee (as a credit).
    address public treasury;

    mapping(uint256 jobId => JobRecord) private _jobs;
    /// ERC-20 tokens by id; id 0 is ETH.
    mapping(uint256 tokenId => address) private _tokens;
    mapping(address token => uint256) private _tokenIds;
    /// Eight 32-bit lease ids per word: task t is in word t/8 at bits 32*(t%8). Zero means no lease.
    mapping(uint256 jobId => mapping(uint256 word => uint256)) private _leaseWords;
    mapping(uint256 leaseId => Lease) private _leases;
    mapping(uint256 jobId => mapping(uint256 taskIndex => Submission)) private _submissions;
    mapping(address token => mapping(address account => uint256)) private _balances;
    mapping(address account => StakeAccount) private _stakes;
    mapping(bytes32 key => bool) private _equivocationReported;

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

    constructor(
        address initialOwner,
        address initialTreasury,
        uint16 initialFeeBps,
        uint256 verifierMinStake,
        uint256 unbondingDelay
    ) EIP712("Tessera DistributedRender", "1") Ownable(initialOwner) {
        if (initialTreasury == address(0)) revert ZeroAddress();
        if (initialFeeBps > MAX_FEE_BPS) revert FeeTooHigh(initialFeeBps, MAX_FEE_BPS);
        treasury = initialTreasury;
        VERIFIER_MIN_STAKE = verifierMinStake;
        UNBONDING_DELAY = unbondingDelay;
        // Counters start at 1 so that 0 means "none" and the first job and lease write no fresh slot here.
        _config = Config({
            nextJobId: 1, nextLeaseId: 1, nextTokenId: 1, protocolFeeBps: initialFeeBps, paused: false
        });
    }

    // ------------------------------------------------------------------------------------------------
    // Artist
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IDistributedRender
    function submitRenderJob(JobSpec calldata spec) external payable nonReentrant returns (uint256 jobId) {
        Config memory config = _config;
        if (config.paused) revert MarketPaused();
        uint256 taskCount = _validate(spec);
        uint256 escrow;
        unchecked {
            // taskCount <= 1e6, reward < 2^96 and the fee is at most the reward, so the product is < 2^118.
            uint256 reward = spec.rewardPerTask;
            escrow = taskCount * (reward + reward * spec.verifierFeeBps / 10_000);
        }

        jobId = config.nextJobId;
        uint256 tokenId = 0;
        if (spec.token != address(0)) {
            tokenId = _tokenIds[spec.token];
            if (tokenId == 0) {
                tokenId = config.nextTokenId;
                config.nextTokenId = uint256(config.nextTokenId + 1).toUint32();
                _tokenIds[spec.token] = tokenId;
                _tokens[tokenId] = spec.token;
            }
        }
        unchecked {
            // 2^64 jobs cannot be posted: each costs far more than 1 gas.
            config.nextJobId += 1;
        }
        _config = config;
        // Field by field: the casts are in range by `_validate` (taskCount <= MAX_TASKS < 2^24, lease and window
        // <= 30 days < 2^24 s, stake < 2^48 gwei, quorum <= 16), and tokenId fits 32 bits by the SafeCast above.
        JobRecord storage job = _jobs[jobId];
        job.artist = msg.sender;
        job.rewardPerTask = spec.rewardPerTask;
        job.tokenId = uint32(tokenId);
        job.verifierFeeBps = spec.verifierFeeBps;
        job.workerStakeGwei = uint48(spec.workerStakePerTask / 1 gwei);
        job.deadline = spec.deadline;
        job.leaseDuration = uint24(spec.leaseDuration);
        job.challengeWindow = uint24(spec.challengeWindow);
        job.taskCount = uint24(taskCount);
        job.openTasks = uint24(taskCount);
        job.protocolFeeBps = config.protocolFeeBps;
        job.quorum = spec.quorum;
        job.flags = spec.optimistic ? FLAG_OPTIMISTIC : 0;
        emit JobSubmitted(jobId, msg.sender, spec.token, spec, taskCount, escrow, config.protocolFeeBps);

        if (spec.token == address(0)) {
            if (msg.value != escrow) revert WrongPayment(escrow, msg.value);
        } else {
            if (msg.value != 0) revert WrongPayment(0, msg.value);
            IERC20 token = IERC20(spec.token);
            uint256 before = token.balanceOf(address(this));
            token.safeTransferFrom(msg.sender, address(this), escrow);
            uint256 received = token.balanceOf(address(this)) - before;
            if (received != escrow) revert FeeOnTransferToken(spec.token, escrow, received);
        }
    }

    /// @inheritdoc IDistributedRender
    function cancelJob(uint256 jobId) external {
        JobRecord storage job = _job(jobId);
        if (job.artist != msg.sender) revert NotArtist(jobId, msg.sender);
        uint8 flags = job.flags;
        if (flags & FLAG_CANCELLED != 0) revert JobAlreadyCancelled(jobId);
        uint256 refunded = job.openTasks;
        uint256 refund = refunded * _escrowPerTask(job);
        job.openTasks = 0;
        job.flags = flags | FLAG_CANCELLED | FLAG_OPEN_REFUNDED;
        emit JobCancelled(jobId, msg.sender, refunded, refund);
        _credit(msg.sender, _tokenOf(job), refund);
    }

    /// @inheritdoc IDistributedRender
    function reclaimOpenTasks(uint256 jobId) external {
        JobRecord storage job = _job(jobId);
        uint256 deadline = job.deadline;
        if (block.timestamp < deadline) revert DeadlineNotReached(jobId, deadline);
        uint256 refunded = job.openTasks;
        uint256 refund = refunded * _escrowPerTask(job);
        job.openTasks = 0;
        job.flags |= FLAG_OPEN_REFUNDED;
        address artist = job.artist;
        emit OpenTasksReclaimed(jobId, artist, refunded, refund);
        _credit(artist, _tokenOf(job), refund);
    }

    /// @inheritdoc IDistributedRender
    function acceptTask(uint256 jobId, uint256 taskIndex) external {
        JobRecord storage job = _job(jobId);
        if (job.artist != msg.sender) revert NotArtist(jobId, msg.sender);
        Submission storage sub = _submitted(job, jobId, taskIndex);
        _pay(job, jobId, taskIndex, sub, PayReason.AcceptedByArtist, new address[](0));
    }

    // ------------------------------------------------------------------------------------------------
    // Worker
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IDistributedRender
    function claimTasks(uint256 jobId, uint32[] calldata taskIndices) external returns (uint256 leaseId) {
        Config memory config = _config;
        if (config.paused) revert MarketPaused();
        uint256 n = taskIndices.length;
        if (n == 0) revert EmptyBatch();
        JobRecord storage job = _job(jobId);
        // Everything a claim needs lives in the job's third slot.
        uint256 flags = job.flags;
        uint256 deadline = job.deadline;
        if (flags & FLAG_CANCELLED != 0) revert JobAlreadyCancelled(jobId);
        if (block.timestamp >= deadline) revert DeadlinePassed(jobId, deadline);

        uint256 stakeWei = _stakeWei(job);
        if (stakeWei != 0) _lock(msg.sender, n * stakeWei);

        leaseId = config.nextLeaseId;
        unchecked {
            // A wrap would need 2^32 claim transactions; SafeCast below still rejects it.
            _config.nextLeaseId = uint256(config.nextLeaseId + 1).toUint32();
        }
        uint256 expiresAt = block.timestamp + job.leaseDuration;
        if (expiresAt > deadline) expiresAt = deadline;
        _leases[leaseId] = Lease({worker: msg.sender, expiresAt: uint32(expiresAt)});

        _claimEach(job, jobId, taskIndices, leaseId, expiresAt, stakeWei);
        // Every claimed task was open (its lease entry was zero and the job is neither cancelled nor past
        // its deadline), open tasks are exactly what `openTasks` counts, and the batch has no duplicates.
        job.openTasks -= uint24(n);
    }

    /// Writes `leaseId` into each task's entry, one storage write per word of eight consecutive tasks.
    function _claimEach(
        JobRecord storage job,
        uint256 jobId,
        uint32[] calldata taskIndices,
        uint256 leaseId,
        uint256 expiresAt,
        uint256 stakeWei
    ) private {
        mapping(uint256 => uint256) storage words = _leaseWords[jobId];
        uint256 wordIndex = type(uint256).max;
        uint256 word = 0;
        for (uint256 i; i < taskIndices.length; ++i) {
            uint256 t = taskIndices[i];
            if (t >= job.taskCount) revert TaskOutOfRange(jobId, t, job.taskCount);
            if (t >> 3 != wordIndex) {
                if (wordIndex != type(uint256).max) words[wordIndex] = word;
                wordIndex = t >> 3;
                word = words[wordIndex];
            }
            uint256 current = (word >> ((t & 7) << 5)) & 0xffffffff;
            if (current != 0) {
                if (current == leaseId) revert DuplicateTask(jobId, t);
                revert TaskNotInState(jobId, t, _taskState(job, jobId, t, current));
            }
            word |= leaseId << ((t & 7) << 5);
            emit TaskClaimed(jobId, t, msg.sender, leaseId, expiresAt, stakeWei);
        }
        words[wordIndex] = word;
    }

    /// @inheritdoc IDistributedRender
    function submitResult(uint256 jobId, uint256 taskIndex, string calldata outputCid, bytes32 cellRoot)
        external
    {
        if (cellRoot == bytes32(0)) revert ZeroCellRoot();
        if (bytes(outputCid).length == 0) revert EmptyOutputCid();
        uint256 leaseId = _leaseOf(jobId, taskIndex);
        Submission storage sub = _submissions[jobId][taskIndex];
        if (leaseId == 0 || sub.status != STATUS_NONE) _revertNotInState(jobId, taskIndex, leaseId);
        _checkClaimant(jobId, taskIndex, leaseId);

        sub.cellRoot = cellRoot;
        sub.worker = msg.sender;
        sub.submittedAt = uint32(block.timestamp);
        sub.status = STATUS_SUBMITTED;
        uint256 endsAt = block.timestamp + _jobs[jobId].challengeWindow;
        emit ResultSubmitted(jobId, taskIndex, msg.sender, sub.attempt, outputCid, cellRoot, endsAt);
    }

    function _checkClaimant(uint256 jobId, uint256 taskIndex, uint256 leaseId) private view {
        Lease memory lease = _leases[leaseId];
        if (lease.worker != msg.sender) revert NotClaimant(jobId, taskIndex, msg.sender);
        if (block.timestamp >= lease.expiresAt) revert LeaseExpired(jobId, taskIndex, lease.expiresAt);
    }

    /// @inheritdoc IDistributedRender
    function reopenExpired(uint256 jobId, uint32[] calldata taskIndices) external {
        JobRecord storage job = _job(jobId);
        uint256 n = taskIndices.length;
        if (n == 0) revert EmptyBatch();
        uint256 stakeWei = _stakeWei(job);
        uint256 penalty = stakeWei * LAZY_PENALTY_BPS / 10_000;
        for (uint256 i; i < n; ++i) {
            uint256 t = taskIndices[i];
            uint256 leaseId = _leaseOf(jobId, t);
            Submission storage sub = _submissions[jobId][t];
            if (leaseId == 0 || sub.status != STATUS_NONE) _revertNotInState(jobId, t, leaseId);
            Lease memory lease = _leases[leaseId];
            if (block.timestamp < lease.expiresAt) revert LeaseActive(jobId, t, lease.expiresAt);
            if (stakeWei != 0) {
                _unlock(lease.worker, stakeWei);
                if (penalty != 0) {
                    _slash(lease.worker, penalty);
                    _credit(job.artist, address(0), penalty);
                }
            }
            _reopen(job, jobId, t, sub, lease.worker, ReopenReason.LeaseExpired, penalty);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Verification and settlement
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IDistributedRender
    function attest(uint256 jobId, uint256 taskIndex, SignedAttestation[] calldata attestations) external {
        JobRecord storage job = _job(jobId);
        Submission storage sub = _submitted(job, jobId, taskIndex);
        uint256 endsAt = uint256(sub.submittedAt) + job.challengeWindow;
        if (block.timestamp >= endsAt) revert ChallengeWindowClosed(jobId, taskIndex, endsAt);
        uint256 n = attestations.length;
        if (n < job.quorum) revert QuorumNotMet(n, job.quorum);

        AttestContext memory c = AttestContext({
            jobId: jobId,
            taskIndex: taskIndex,
            attempt: sub.attempt,
            cellRoot: sub.cellRoot,
            worker: sub.worker,
            artist: job.artist,
            approve: attestations[0].attestation.approve
        });
        address[] memory signers = new address[](n);
        address previous = address(0);
        for (uint256 i; i < n; ++i) {
            previous = _verifyAttestation(c, attestations[i], i, previous);
            signers[i] = previous;
        }

        if (c.approve) {
            _pay(job, jobId, taskIndex, sub, PayReason.Verified, signers);
        } else {
            _reject(job, c, sub, attestations[0].attestation.cellIndex, signers);
        }
    }

    /// What every attestation in one `attest` call must agree with.
    struct AttestContext {
        uint256 jobId;
        uint256 taskIndex;
        uint256 attempt;
        bytes32 cellRoot;
        address worker;
        address artist;
        bool approve;
    }

    /// Checks one attestation and returns its signer, which must sort after `previous`.
    function _verifyAttestation(
        AttestContext memory c,
        SignedAttestation calldata sa,
        uint256 i,
        address previous
    ) private returns (address signer) {
        Attestation calldata a = sa.attestation;
        if (
            a.jobId != c.jobId || a.taskIndex != c.taskIndex || a.attempt != c.attempt
                || a.cellRoot != c.cellRoot
        ) {
            revert AttestationMismatch(i);
        }
        if (a.approve != c.approve) revert MixedVerdicts(i);
        ECDSA.RecoverError err;
        // The third value only details the error kind, which `InvalidSignature` already reports.
        // slither-disable-next-line unused-return
        (signer, err,) = ECDSA.tryRecover(_attestationDigest(a), sa.signature);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(i);
        if (signer <= previous) revert SignersNotAscending(i, signer);
        if (signer == c.worker || signer == c.artist || !_isVerifier(signer)) {
            revert NotEligibleVerifier(signer);
        }
        if (!c.approve) {
            if (!MerkleProof.verifyCalldata(
                    sa.proof, c.cellRoot, cellLeaf(a.cellIndex, sa.committedDataHash)
                )) {
                revert InvalidCellProof(i, a.cellIndex);
            }
            if (sa.committedDataHash == a.expectedDataHash) revert CellMatches(i, a.cellIndex);
        }
        emit TaskAttested(c.jobId, c.taskIndex, signer, c.attempt, c.approve);
    }

    /// @inheritdoc IDistributedRender
    function finalizeTask(uint256 jobId, uint256 taskIndex) external {
        JobRecord storage job = _job(jobId);
        Submission storage sub = _submitted(job, jobId, taskIndex);
        uint256 endsAt = uint256(sub.submittedAt) + job.challengeWindow;
        if (block.timestamp < endsAt) revert ChallengeWindowOpen(jobId, taskIndex, endsAt);
        if (job.flags & FLAG_OPTIMISTIC != 0) {
            _pay(job, jobId, taskIndex, sub, PayReason.ChallengeWindowElapsed, new address[](0));
        } else {
            // No quorum within the window of a job that pays only verified work: the artist gets the escrow
            // back and the worker its stake; nobody proved a fault.
            uint256 stakeWei = _stakeWei(job);
            if (stakeWei != 0) _unlock(sub.worker, stakeWei);
            _refundTask(job, jobId, taskIndex, sub, RefundReason.Unverified);
        }
    }

    /// @inheritdoc IDistributedRender
    function reportEquivocation(
        Attestation calldata a,
        bytes calldata signatureA,
        Attestation calldata b,
        bytes calldata signatureB
    ) external {
        if (
            a.jobId != b.jobId || a.taskIndex != b.taskIndex || a.attempt != b.attempt
                || a.cellRoot != b.cellRoot || a.approve == b.approve
        ) revert NotEquivocation();
        address signer = _recoverPair(a, signatureA, b, signatureB);
        bytes32 key = keccak256(abi.encode(signer, a.jobId, a.taskIndex, a.attempt, a.cellRoot));
        if (_equivocationReported[key]) revert NotEquivocation();
        _equivocationReported[key] = true;
        uint256 slashed = _slashVerifier(signer);
        emit VerifierEquivocated(signer, a.jobId, a.taskIndex, msg.sender, slashed);
        uint256 reporterShare = slashed / 2;
        _credit(msg.sender, address(0), reporterShare);
        _credit(treasury, address(0), slashed - reporterShare);
    }

    /// Recovers the common signer of two attestations, or reverts.
    function _recoverPair(
        Attestation calldata a,
        bytes calldata signatureA,
        Attestation calldata b,
        bytes calldata signatureB
    ) private view returns (address) {
        // slither-disable-next-line unused-return
        (address signerA, ECDSA.RecoverError errA,) = ECDSA.tryRecover(_attestationDigest(a), signatureA);
        if (errA != ECDSA.RecoverError.NoError) revert InvalidSignature(0);
        // slither-disable-next-line unused-return
        (address signerB, ECDSA.RecoverError errB,) = ECDSA.tryRecover(_attestationDigest(b), signatureB);
        if (errB != ECDSA.RecoverError.NoError) revert InvalidSignature(1);
        if (signerA != signerB) revert NotEquivocation();
        return signerA;
    }

    /// Slashes up to `VERIFIER_MIN_STAKE` from free bonded stake first, then from unbonding stake.
    function _slashVerifier(address verifier) private returns (uint256 slashed) {
        StakeAccount storage acct = _stakes[verifier];
        uint256 free = uint256(acct.bonded) - acct.locked;
        uint256 fromBonded = VERIFIER_MIN_STAKE < free ? VERIFIER_MIN_STAKE : free;
        uint256 fromUnbonding = VERIFIER_MIN_STAKE - fromBonded;
        if (fromUnbonding > acct.unbonding) fromUnbonding = acct.unbonding;
        // Both parts are bounded by the uint128 fields they are taken from.
        acct.bonded -= uint128(fromBonded);
        acct.unbonding -= uint128(fromUnbonding);
        slashed = fromBonded + fromUnbonding;
        emit StakeSlashed(verifier, slashed);
    }

    // ------------------------------------------------------------------------------------------------
    // Stake and balances
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IDistributedRender
    function stake() external payable {
        if (msg.value == 0) revert ZeroAmount();
        StakeAccount storage acct = _stakes[msg.sender];
        uint256 bonded = uint256(acct.bonded) + msg.value;
        acct.bonded = bonded.toUint128();
        emit Staked(msg.sender, msg.value, bonded);
    }

    /// @inheritdoc IDistributedRender
    function requestUnstake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        StakeAccount storage acct = _stakes[msg.sender];
        uint256 free = uint256(acct.bonded) - acct.locked;
        if (amount > free) revert InsufficientStake(msg.sender, free, amount);
        uint256 readyAt = block.timestamp + UNBONDING_DELAY;
        // amount <= free <= bonded < 2^128, and unbonding + amount <= total ETH supply < 2^128.
        acct.bonded -= uint128(amount);
        acct.unbonding += uint128(amount);
        acct.unbondingReadyAt = uint64(readyAt);
        emit UnstakeRequested(msg.sender, amount, readyAt);
    }

    /// @inheritdoc IDistributedRender
    function withdrawStake() external nonReentrant {
        StakeAccount storage acct = _stakes[msg.sender];
        uint256 amount = acct.unbonding;
        if (amount == 0) revert NothingToWithdraw();
        if (block.timestamp < acct.unbondingReadyAt) revert StillUnbonding(acct.unbondingReadyAt);
        acct.unbonding = 0;
        emit StakeWithdrawn(msg.sender, amount);
        _sendEthToSender(amount);
    }

    /// @inheritdoc IDistributedRender
    function withdraw(address token) external nonReentrant {
        uint256 amount = _balances[token][msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        _balances[token][msg.sender] = 0;
        emit Withdrawn(msg.sender, token, amount);
        if (token == address(0)) _sendEthToSender(amount);
        else IERC20(token).safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------------------------------------
    // Owner (cannot touch funds)
    // ------------------------------------------------------------------------------------------------

    /// @notice Pauses or resumes new jobs and claims. Withdrawals, refunds and settlement never pause.
    function setPaused(bool isPaused) external onlyOwner {
        _config.paused = isPaused;
        emit PausedSet(isPaused);
    }

    /// @notice Sets the protocol fee for jobs posted from now on (existing jobs keep theirs).
    function setProtocolFee(uint16 feeBps) external onlyOwner {
        if (feeBps > MAX_FEE_BPS) revert FeeTooHigh(feeBps, MAX_FEE_BPS);
        _config.protocolFeeBps = feeBps;
        emit ProtocolFeeSet(feeBps);
    }

    /// @notice Sets where future protocol fees are credited.
    function setTreasury(address newTreasury) external onlyOwner {
        if (newTreasury == address(0)) revert ZeroAddress();
        treasury = newTreasury;
        emit TreasurySet(newTreasury);
    }

    // ------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IDistributedRender
    function getJob(uint256 jobId) external view returns (Job memory j) {
        JobRecord storage job = _job(jobId);
        j.artist = job.artist;
        j.token = _tokenOf(job);
        j.rewardPerTask = job.rewardPerTask;
        j.verifierFeeBps = job.verifierFeeBps;
        j.verifierFeePerTask = _escrowPerTask(job) - job.rewardPerTask;
        j.workerStakePerTask = _stakeWei(job);
        j.deadline = job.deadline;
        j.leaseDuration = job.leaseDuration;
        j.challengeWindow = job.challengeWindow;
        j.taskCount = job.taskCount;
        j.openTasks = job.openTasks;
        j.protocolFeeBps = job.protocolFeeBps;
        j.quorum = job.quorum;
        j.optimistic = job.flags & FLAG_OPTIMISTIC != 0;
        j.cancelled = job.flags & FLAG_CANCELLED != 0;
    }

    /// @inheritdoc IDistributedRender
    function getTask(uint256 jobId, uint256 taskIndex)
        external
        view
        returns (TaskState state, address worker, uint256 until, uint256 attempt, bytes32 cellRoot)
    {
        JobRecord storage job = _job(jobId);
        if (taskIndex >= job.taskCount) revert TaskOutOfRange(jobId, taskIndex, job.taskCount);
        uint256 leaseId = _leaseOf(jobId, taskIndex);
        Submission memory s = _submissions[jobId][taskIndex];
        state = _taskState(job, jobId, taskIndex, leaseId);
        attempt = s.attempt;
        cellRoot = s.cellRoot;
        if (leaseId != 0) {
            Lease memory lease = _leases[leaseId];
            worker = lease.worker;
            // A submitted task waits for its challenge window; a claimed (or settled) one shows its lease end.
            until =
                s.status == STATUS_SUBMITTED ? uint256(s.submittedAt) + job.challengeWindow : lease.expiresAt;
        }
    }

    /// @inheritdoc IDistributedRender
    function balanceOf(address account, address token) external view returns (uint256) {
        return _balances[token][account];
    }

    /// @inheritdoc IDistributedRender
    function stakeOf(address account) external view returns (StakeAccount memory) {
        return _stakes[account];
    }

    /// @inheritdoc IDistributedRender
    function attestationDigest(Attestation calldata a) external view returns (bytes32) {
        return _attestationDigest(a);
    }

    /// @inheritdoc IDistributedRender
    function nextJobId() external view returns (uint256) {
        return _config.nextJobId;
    }

    /// @notice Whether new jobs and claims are paused.
    function paused() external view returns (bool) {
        return _config.paused;
    }

    /// @notice The protocol fee for new jobs, in basis points.
    function protocolFeeBps() external view returns (uint256) {
        return _config.protocolFeeBps;
    }

    /// @notice The Merkle leaf of a cell (docs/merkle.md): double keccak of the ABI-encoded index and data hash.
    function cellLeaf(uint256 cellIndex, bytes32 dataHash) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(cellIndex, dataHash))));
    }

    // ------------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------------

    function _validate(JobSpec calldata spec) private view returns (uint256 taskCount) {
        RenderSettings calldata r = spec.settings;
        if (bytes(spec.sceneCid).length == 0) revert InvalidJobField(JobField.SceneCid, 0);
        if (bytes(spec.rendererId).length == 0) revert InvalidJobField(JobField.RendererId, 0);
        if (r.width == 0 || r.width > MAX_DIMENSION) revert InvalidJobField(JobField.Width, r.width);
        if (r.height == 0 || r.height > MAX_DIMENSION) revert InvalidJobField(JobField.Height, r.height);
        if (r.samplesPerPixel == 0) revert InvalidJobField(JobField.SamplesPerPixel, 0);
        if (r.frameCount == 0) revert InvalidJobField(JobField.FrameCount, 0);
        if (r.regionsX == 0 || r.regionsX > r.width) revert InvalidJobField(JobField.Regions, r.regionsX);
        if (r.regionsY == 0 || r.regionsY > r.height) revert InvalidJobField(JobField.Regions, r.regionsY);
        uint256 cell = r.cellSize;
        if (cell < 4 || cell > 256 || cell & (cell - 1) != 0) {
            revert InvalidJobField(JobField.CellSize, cell);
        }
        taskCount = uint256(r.frameCount) * r.regionsX * r.regionsY;
        if (taskCount > MAX_TASKS) revert InvalidJobField(JobField.TaskCount, taskCount);
        if (spec.rewardPerTask == 0) revert InvalidJobField(JobField.RewardPerTask, 0);
        if (spec.verifierFeeBps > 10_000) revert InvalidJobField(JobField.VerifierFee, spec.verifierFeeBps);
        uint256 s = spec.workerStakePerTask;
        if (s % 1 gwei != 0 || s / 1 gwei > MAX_STAKE_GWEI) revert InvalidJobField(JobField.WorkerStake, s);
        uint256 lease = spec.leaseDuration;
        if (lease == 0 || lease > MAX_LEASE_DURATION) revert InvalidJobField(JobField.LeaseDuration, lease);
        if (spec.deadline <= block.timestamp) revert InvalidJobField(JobField.Deadline, spec.deadline);
        uint256 window = spec.challengeWindow;
        if (window == 0 || window > MAX_CHALLENGE_WINDOW) {
            revert InvalidJobField(JobField.ChallengeWindow, window);
        }
        if (spec.quorum == 0 || spec.quorum > MAX_QUORUM) {
            revert InvalidJobField(JobField.Quorum, spec.quorum);
        }
    }

    /// Loads an existing job. Existence is read from `taskCount` (never zero for a posted job), which shares
    /// the slot that claims and submissions need anyway.
    function _job(uint256 jobId) private view returns (JobRecord storage job) {
        job = _jobs[jobId];
        if (job.taskCount == 0) revert JobNotFound(jobId);
    }

    /// The job's payment token (address(0) for ETH).
    function _tokenOf(JobRecord storage job) private view returns (address) {
        uint256 id = job.tokenId;
        return id == 0 ? address(0) : _tokens[id];
    }

    /// Reward plus verifier fee: what each task escrows.
    function _escrowPerTask(JobRecord storage job) private view returns (uint256) {
        uint256 reward = job.rewardPerTask;
        return reward + reward * job.verifierFeeBps / 10_000;
    }

    function _stakeWei(JobRecord storage job) private view returns (uint256) {
        return uint256(job.workerStakeGwei) * 1 gwei;
    }

    /// Reverts with the most specific reason a task is not in the state a call needs.
    function _revertNotInState(uint256 jobId, uint256 taskIndex, uint256 leaseId) private view {
        JobRecord storage job = _job(jobId);
        if (taskIndex >= job.taskCount) revert TaskOutOfRange(jobId, taskIndex, job.taskCount);
        revert TaskNotInState(jobId, taskIndex, _taskState(job, jobId, taskIndex, leaseId));
    }

    function _leaseOf(uint256 jobId, uint256 taskIndex) private view returns (uint256) {
        return (_leaseWords[jobId][taskIndex >> 3] >> ((taskIndex & 7) << 5)) & 0xffffffff;
    }

    function _setLease(uint256 jobId, uint256 taskIndex, uint256 leaseId) private {
        uint256 shift = (taskIndex & 7) << 5;
        mapping(uint256 => uint256) storage words = _leaseWords[jobId];
        uint256 w = taskIndex >> 3;
        words[w] = (words[w] & ~(uint256(0xffffffff) << shift)) | (leaseId << shift);
    }

    function _taskState(JobRecord storage job, uint256 jobId, uint256 taskIndex, uint256 leaseId)
        private
        view
        returns (TaskState)
    {
        uint8 status = _submissions[jobId][taskIndex].status;
        // Submitted, Paid and Refunded are the statuses 1, 2, 3 shifted by one (see the STATUS_* constants).
        if (status != STATUS_NONE) return TaskState(status + 1);
        if (leaseId != 0) return TaskState.Claimed;
        return job.flags & FLAG_OPEN_REFUNDED != 0 ? TaskState.Refunded : TaskState.Open;
    }

    /// Loads a task that must be in the Submitted state.
    function _submitted(JobRecord storage job, uint256 jobId, uint256 taskIndex)
        private
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

    function _pay(
        JobRecord storage job,
        uint256 jobId,
        uint256 taskIndex,
        Submission storage sub,
        PayReason reason,
        address[] memory verifiers
    ) private {
        sub.status = STATUS_PAID;
        address worker = sub.worker;
        uint256 stakeWei = _stakeWei(job);
        if (stakeWei != 0) _unlock(worker, stakeWei);

        address token = _tokenOf(job);
        uint256 reward = job.rewardPerTask;
        uint256 fee = reward * job.protocolFeeBps / 10_000;
        uint256 verifierFee = reward * job.verifierFeeBps / 10_000;
        emit TaskPaid(
            jobId, taskIndex, worker, reason, reward - fee, fee, verifiers.length == 0 ? 0 : verifierFee
        );
        _credit(worker, token, reward - fee);
        if (fee != 0) _credit(treasury, token, fee);
        if (verifierFee != 0) {
            if (verifiers.length == 0) _credit(job.artist, token, verifierFee);
            else _split(verifiers, token, verifierFee);
        }
    }

    function _reject(
        JobRecord storage job,
        AttestContext memory c,
        Submission storage sub,
        uint256 cellIndex,
        address[] memory verifiers
    ) private {
        uint256 stakeWei = _stakeWei(job);
        emit TaskRejected(c.jobId, c.taskIndex, c.worker, c.attempt, cellIndex, stakeWei);
        if (stakeWei != 0) {
            _unlock(c.worker, stakeWei);
            _slash(c.worker, stakeWei);
            uint256 artistShare = stakeWei / 2;
            _credit(c.artist, address(0), artistShare);
            _split(verifiers, address(0), stakeWei - artistShare);
        }
        // The verifier fee stays escrowed for the next attempt's verification.
        _reopen(job, c.jobId, c.taskIndex, sub, c.worker, ReopenReason.Rejected, 0);
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
    ) private {
        _setLease(jobId, taskIndex, 0);
        uint256 attempt = uint256(sub.attempt) + 1;
        sub.attempt = attempt.toUint16();
        if (job.flags & FLAG_CANCELLED != 0) {
            _refundTask(job, jobId, taskIndex, sub, RefundReason.Cancelled);
        } else if (block.timestamp >= job.deadline) {
            _refundTask(job, jobId, taskIndex, sub, RefundReason.DeadlinePassed);
        } else {
            sub.status = STATUS_NONE;
            // openTasks + 1 <= taskCount < 2^32: this task was not counted as open.
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
    ) private {
        sub.status = STATUS_REFUNDED;
        address artist = job.artist;
        uint256 amount = _escrowPerTask(job);
        emit TaskRefunded(jobId, taskIndex, artist, why, amount);
        _credit(artist, _tokenOf(job), amount);
    }

    /// Splits `amount` evenly; the first recipient also gets the remainder so nothing is left behind.
    function _split(address[] memory to, address token, uint256 amount) private {
        uint256 n = to.length;
        // Rounding down then giving the remainder to the first recipient is the intent: nothing is left behind.
        // slither-disable-next-line divide-before-multiply
        uint256 each = amount / n;
        _credit(to[0], token, amount - each * (n - 1));
        for (uint256 i = 1; i < n; ++i) {
            _credit(to[i], token, each);
        }
    }

    function _credit(address account, address token, uint256 amount) private {
        if (amount == 0) return;
        _balances[token][account] += amount;
        emit BalanceCredited(account, token, amount);
    }

    function _lock(address account, uint256 amount) private {
        StakeAccount storage acct = _stakes[account];
        uint256 locked = acct.locked;
        uint256 free = uint256(acct.bonded) - locked;
        if (amount > free) revert InsufficientStake(account, free, amount);
        // locked + amount <= bonded < 2^128.
        acct.locked = uint128(locked + amount);
    }

    function _unlock(address account, uint256 amount) private {
        _stakes[account].locked -= uint128(amount);
    }

    /// Removes `amount` of unlocked bonded stake (the caller credits it to its new owners).
    function _slash(address account, uint256 amount) private {
        _stakes[account].bonded -= uint128(amount);
        emit StakeSlashed(account, amount);
    }

    function _isVerifier(address account) private view returns (bool) {
        StakeAccount storage acct = _stakes[account];
        return uint256(acct.bonded) - acct.locked >= VERIFIER_MIN_STAKE && acct.bonded != 0;
    }

    function _attestationDigest(Attestation calldata a) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ATTESTATION_TYPEHASH,
                    a.jobId,
                    a.taskIndex,
                    a.attempt,
                    a.cellRoot,
                    a.approve,
                    a.cellIndex,
                    a.expectedDataHash
                )
            )
        );
    }

    /// Pays out a withdrawal. Only ever to `msg.sender`, after its balance was zeroed (checks-effects-interactions).
    function _sendEthToSender(uint256 amount) private {
        // The recipient is the caller withdrawing its own, already-zeroed balance.
        // slither-disable-next-line arbitrary-send-eth
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert EthTransferFailed(msg.sender, amount);
    }
}
