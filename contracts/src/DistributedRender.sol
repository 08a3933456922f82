// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DistributedRenderBase} from "./DistributedRenderBase.sol";
import {DistributedRenderExtension} from "./DistributedRenderExtension.sol";
import {IDistributedRender} from "./interfaces/IDistributedRender.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title DistributedRender
/// @notice Escrow, leases, drawn verification committees and pull payments for the Tessera render marketplace.
/// @dev The storage, constants and money rules are in `DistributedRenderBase`. This contract holds the hot paths
/// (posting, claiming, submitting, drawing, voting, settling, withdrawing) and every view; the less frequent state
/// changes run in `DistributedRenderExtension`, which the constructor deploys and the stubs below reach by
/// `delegatecall`. Verification (docs/security.md): committees are drawn from the ticket registry with the hash of
/// a block mined after the submission, weighted by stake; members commit, then reveal a vote and a render proof;
/// a level below the last decides only unanimously, the last by majority; verdicts are appealable to larger
/// committees; members can challenge the worker for withheld data.
contract DistributedRender is DistributedRenderBase, IDistributedRender {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @notice The contract the stubs delegate to (deployed by the constructor; refuses direct calls).
    address public immutable EXTENSION;

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
    )
        DistributedRenderBase(
            initialOwner,
            initialTreasury,
            initialFeeBps,
            ticketStake,
            unbondingDelay,
            appealBondPerSeat,
            dataChallengeBond,
            minChallengeWindow
        )
    {
        // The owner is checked by Ownable and the treasury by DistributedRenderBase before this line.
        // slither-disable-next-line missing-zero-check
        EXTENSION = address(
            new DistributedRenderExtension(
                initialOwner,
                initialTreasury,
                initialFeeBps,
                ticketStake,
                unbondingDelay,
                appealBondPerSeat,
                dataChallengeBond,
                minChallengeWindow
            )
        );
    }

    // ------------------------------------------------------------------------------------------------
    // Run in the extension (same storage, same balance, same caller and value)
    // ------------------------------------------------------------------------------------------------

    /// @inheritdoc IDistributedRender
    function acceptTask(uint256, uint256) external {
        _delegate();
    }

    /// @inheritdoc IDistributedRender
    function cancelJob(uint256) external {
        _delegate();
    }

    /// @inheritdoc IDistributedRender
    function reclaimOpenTasks(uint256) external {
        _delegate();
    }

    /// @inheritdoc IDistributedRender
    function reopenExpired(uint256, uint32[] calldata) external {
        _delegate();
    }

    /// @inheritdoc IDistributedRender
    function answerChallenge(uint256, uint256, uint32[] calldata, bytes32[] calldata, bytes32[][] calldata)
        external
    {
        _delegate();
    }

    /// @inheritdoc IDistributedRender
    function challengeData(uint256, uint256, uint256, uint32[] calldata) external payable {
        _delegate();
    }

    /// @inheritdoc IDistributedRender
    function appealVerdict(uint256, uint256) external payable {
        _delegate();
    }

    /// @inheritdoc IDistributedRender
    function registerVerifier(uint256) external payable {
        _delegate();
    }

    /// @inheritdoc IDistributedRender
    function leaveVerifiers() external {
        _delegate();
    }

    /// @inheritdoc IDistributedRender
    function releaseVerifier() external {
        _delegate();
    }

    /// @inheritdoc IDistributedRender
    function stake() external payable {
        _delegate();
    }

    /// @inheritdoc IDistributedRender
    function requestUnstake(uint256) external {
        _delegate();
    }

    /// @inheritdoc IDistributedRender
    function withdrawStake() external {
        _delegate();
    }

    /// @notice Pauses or resumes new jobs and claims. Withdrawals, refunds and settlement never pause.
    function setPaused(bool) external {
        _delegate();
    }

    /// @notice Sets the protocol fee for jobs posted from now on (existing jobs keep theirs).
    function setProtocolFee(uint16) external {
        _delegate();
    }

    /// @notice Sets where future protocol fees are credited.
    function setTreasury(address) external {
        _delegate();
    }

    /// @notice Adds `token` to, or removes it from, the ERC-20 tokens new jobs may pay in. Allow only tokens
    /// whose balances change by transfers alone: no rebasing, no fee on transfer, no callbacks to the
    /// receiver. Removing a token stops new jobs only; escrow and credits in it stay payable.
    function setTokenAllowed(address, bool) external {
        _delegate();
    }

    // ------------------------------------------------------------------------------------------------
    // Market, verification and views
    // ------------------------------------------------------------------------------------------------

    /// A planned draw, before it is written.
    struct DrawPlan {
        bytes32 seed;
        uint256 draw;
        uint256 level;
        /// Seats the draw must fill: the level's seats, at most the active tickets this verification does not
        /// already hold. A draw that fills fewer is deferred, not made smaller: flooding the market with
        /// submissions to use up honest seats never shrinks a committee.
        uint256 target;
        uint256 filled;
        uint256 count;
        uint256[] ids;
        uint256[] seats;
        address[] accounts;
    }

    /// @inheritdoc IDistributedRender
    function submitRenderJob(JobSpec calldata spec) external payable nonReentrant returns (uint256 jobId) {
        Config memory config = _config;
        if (config.paused) revert MarketPaused();
        uint256 taskCount = _validate(spec);
        if (spec.quorum > config.activeTickets) revert NotEnoughVerifiers(spec.quorum, config.activeTickets);
        uint256 escrow;
        unchecked {
            // taskCount <= 1e6, reward < 2^96 and the fee is at most the reward, so the product is < 2^118.
            uint256 reward = spec.rewardPerTask;
            escrow = taskCount * (reward + reward * spec.verifierFeeBps / 10_000);
        }

        jobId = config.nextJobId;
        uint256 tokenId = 0;
        if (spec.token != address(0)) {
            // Only tokens the owner allowed: a token whose balances change on their own (rebasing) would break
            // `balance = escrow + credits`, and nothing at transfer time can tell.
            tokenId = _tokenIds[spec.token];
            if (tokenId == 0) revert TokenNotAllowed(spec.token);
        }
        unchecked {
            // 2^64 jobs cannot be posted: each costs far more than 1 gas.
            config.nextJobId += 1;
        }
        _config = config;
        // Field by field: the casts are in range by `_validate` (taskCount <= MAX_TASKS < 2^24, lease and window
        // <= 30 days < 2^24 s, stake < 2^48 gwei, quorum <= 7), and tokenId fits 32 bits (`setTokenAllowed`).
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
        // Kept so that a data-availability challenge can name only cells the task has.
        RenderSettings calldata r = spec.settings;
        _layouts[jobId] = Layout({
            width: uint16(r.width),
            height: uint16(r.height),
            regionsX: uint16(r.regionsX),
            regionsY: uint16(r.regionsY),
            cellSize: uint16(r.cellSize)
        });
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
    function claimTasks(uint256 jobId, uint32[] calldata taskIndices) external returns (uint256 leaseId) {
        Config memory config = _config;
        if (config.paused) revert MarketPaused();
        uint256 n = taskIndices.length;
        if (n == 0) revert EmptyBatch();
        JobRecord storage job = _job(jobId);
        // Everything a claim needs lives in the job's second slot.
        uint256 flags = job.flags;
        uint256 deadline = job.deadline;
        if (flags & FLAG_CANCELLED != 0) revert JobAlreadyCancelled(jobId);
        if (block.timestamp >= deadline) revert DeadlinePassed(jobId, deadline);

        leaseId = config.nextLeaseId;
        // Ids stop below `LEASE_ENDED`. 2^32 claims are within reach of a cheap chain, and a wrap to 0
        // ("no lease") would make leased tasks claimable again.
        if (leaseId >= LEASE_ENDED) revert LeaseIdsExhausted();
        unchecked {
            _config.nextLeaseId = uint32(leaseId + 1);
        }
        uint256 expiresAt = block.timestamp + job.leaseDuration;
        if (expiresAt > deadline) expiresAt = deadline;
        _leases[leaseId] = Lease({worker: msg.sender, expiresAt: uint32(expiresAt)});

        uint256 stakeWei = _stakeWei(job);
        uint256 claimed = _claimEach(job, jobId, taskIndices, leaseId, expiresAt, stakeWei);
        if (claimed == 0) _revertNotInState(jobId, taskIndices[0], _leaseOf(jobId, taskIndices[0]));
        if (stakeWei != 0) _lock(msg.sender, claimed * stakeWei);
        // Every claimed task was open (its lease entry was zero and the job is neither cancelled nor past
        // its deadline), open tasks are exactly what `openTasks` counts, and a task is claimed at most once.
        job.openTasks -= uint24(claimed);
    }

    /// Writes `leaseId` into the entry of each task still open, one storage write per word of eight consecutive
    /// tasks, and returns how many it leased.
    function _claimEach(
        JobRecord storage job,
        uint256 jobId,
        uint32[] calldata taskIndices,
        uint256 leaseId,
        uint256 expiresAt,
        uint256 stakeWei
    ) private returns (uint256 claimed) {
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
            // Leased (by anyone, this batch included) or refunded while leased: not open, skipped.
            if ((word >> ((t & 7) << 5)) & 0xffffffff != 0) continue;
            word |= leaseId << ((t & 7) << 5);
            ++claimed;
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
        // One field for both clocks. Block numbers stay below 2^40 for millennia even at several per second.
        sub.submitted = uint72(block.timestamp << 40 | block.number);
        sub.status = STATUS_SUBMITTED;
        emit ResultSubmitted(jobId, taskIndex, msg.sender, sub.attempt, outputCid, cellRoot);
    }

    function _checkClaimant(uint256 jobId, uint256 taskIndex, uint256 leaseId) private view {
        Lease memory lease = _leases[leaseId];
        if (lease.worker != msg.sender) revert NotClaimant(jobId, taskIndex, msg.sender);
        if (block.timestamp >= lease.expiresAt) revert LeaseExpired(jobId, taskIndex, lease.expiresAt);
    }

    /// @inheritdoc IDistributedRender
    function drawCommittee(uint256 jobId, uint256 taskIndex) external {
        (JobRecord storage job, Submission storage sub, Ctx memory c) = _load(jobId, taskIndex);
        Verification storage v = _verifications[jobId][taskIndex];
        (DrawPlan memory p, bool expired) = _plan(job, sub, c, v);
        if (expired) {
            // Nobody drew while the seed could be read: anchor again, at a block whose successor is unknown.
            _awaitDraw(v, 0);
            emit DrawDeferred(jobId, taskIndex, c.attempt, block.number + DRAW_DELAY, 0, false);
        } else if (p.filled < p.target || p.target == 0) {
            _deferDraw(c, v, p.target == 0);
        } else {
            _applyDraw(c, v, p);
        }
    }

    /// @inheritdoc IDistributedRender
    function commitVote(uint256 jobId, uint256 taskIndex, uint256 memberIndex, bytes32 commitment) external {
        Verification storage v = _verifications[jobId][taskIndex];
        (Ctx memory c, bool voting) = _voteCtx(jobId, taskIndex, v);
        if (!voting) {
            JobRecord storage job;
            Submission storage sub;
            (job, sub, c) = _load(jobId, taskIndex);
            uint256 phase = v.phase;
            if (phase == uint8(Phase.None) || phase == uint8(Phase.AwaitingDraw)) {
                (DrawPlan memory p, bool expired) = _plan(job, sub, c, v);
                if (expired) revert DrawExpired(jobId, taskIndex, _anchor(sub, v) + DRAW_DELAY);
                // A draw that cannot be made leaves the caller outside any committee; `drawCommittee` records it.
                if (p.filled < p.target || p.target == 0) {
                    revert NotMember(jobId, taskIndex, memberIndex, msg.sender);
                }
                _applyDraw(c, v, p);
            }
        }
        _inPhase(c, v, Phase.Commit);
        MemberRecord storage m = _member(c, v, memberIndex);
        if (m.state != uint8(MemberState.Drawn)) revert MemberNotInState(memberIndex, MemberState(m.state));
        m.state = uint8(MemberState.Committed);
        m.data = bytes24(commitment);
        uint256 committed = v.committed + 1;
        v.committed = uint8(committed);
        emit VoteCommitted(jobId, taskIndex, msg.sender, v.draws - 1);
        if (committed == v.members) _startReveal(c, v);
    }

    /// @inheritdoc IDistributedRender
    function revealVote(
        uint256 jobId,
        uint256 taskIndex,
        uint256 memberIndex,
        bool approve,
        bytes32 renderProof,
        bytes32 salt
    ) external {
        Verification storage v = _verifications[jobId][taskIndex];
        (Ctx memory c, bool voting) = _voteCtx(jobId, taskIndex, v);
        if (!voting) (,, c) = _load(jobId, taskIndex);
        // A commit phase that ended with members missing turns into the reveal phase on the first reveal.
        if (v.phase == uint8(Phase.Commit) && block.timestamp >= v.phaseEnd) _startReveal(c, v);
        _inPhase(c, v, Phase.Reveal);
        MemberRecord storage m = _member(c, v, memberIndex);
        if (m.state != uint8(MemberState.Committed)) {
            revert MemberNotInState(memberIndex, MemberState(m.state));
        }
        uint256 draw = v.draws - 1;
        bytes32 digest =
            keccak256(abi.encode(jobId, taskIndex, c.attempt, draw, msg.sender, approve, renderProof, salt));
        if (bytes24(digest) != m.data) revert CommitmentMismatch(memberIndex);
        m.state = uint8(approve ? MemberState.RevealedApprove : MemberState.RevealedReject);
        m.data = bytes24(renderProof);
        uint256 revealed = v.revealed + 1;
        v.revealed = uint8(revealed);
        emit VoteRevealed(jobId, taskIndex, msg.sender, draw, approve, renderProof, m.seats);
        if (revealed == v.committed) _tally(c, v);
    }

    /// @inheritdoc IDistributedRender
    function finalizeTask(uint256 jobId, uint256 taskIndex) external {
        (JobRecord storage job, Submission storage sub, Ctx memory c) = _load(jobId, taskIndex);
        Verification storage v = _verifications[jobId][taskIndex];
        Phase phase = Phase(v.phase);
        if (phase == Phase.None) {
            if (job.flags & FLAG_OPTIMISTIC == 0) revert WrongPhase(jobId, taskIndex, phase);
            uint256 windowEnd = _submittedAt(sub.submitted) + c.window;
            if (block.timestamp < windowEnd) revert PhaseNotOver(jobId, taskIndex, windowEnd);
            _pay(job, c, sub, PayReason.ChallengeWindowElapsed, true);
            return;
        }
        if (phase == Phase.AwaitingDraw) revert WrongPhase(jobId, taskIndex, phase);
        uint256 endsAt = v.phaseEnd;
        if (block.timestamp < endsAt) revert PhaseNotOver(jobId, taskIndex, endsAt);
        if (phase == Phase.Commit && v.committed != 0) {
            _startReveal(c, v);
        } else if (phase == Phase.Commit || phase == Phase.Reveal) {
            _tally(c, v);
        } else if (phase == Phase.DataChallenge) {
            _inExtension(abi.encodeCall(DistributedRenderExtension.withhold, (c.jobId, c.taskIndex)));
        } else {
            _conclude(c);
        }
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
            until = lease.expiresAt;
            if (s.status == STATUS_SUBMITTED) until = _phaseEnd(job, s, _verifications[jobId][taskIndex]);
        }
    }

    /// @inheritdoc IDistributedRender
    function getVerification(uint256 jobId, uint256 taskIndex)
        external
        view
        returns (VerificationView memory out)
    {
        (JobRecord storage job, Submission storage sub,) = _load(jobId, taskIndex);
        Verification memory v = _verifications[jobId][taskIndex];
        out.phase = Phase(v.phase);
        out.level = v.level;
        out.draws = v.draws;
        out.seats = v.seats;
        out.members = v.members;
        out.committed = v.committed;
        out.revealed = v.revealed;
        out.verdict = Verdict(v.verdict);
        out.decidedLevel = v.decidedLevel;
        out.deferrals = v.deferrals;
        out.heldSeats = v.heldSeats;
        out.phaseEndsAt = _phaseEnd(job, sub, v);
        out.challenged = v.challenged;
        if (
            v.phase == uint8(Phase.AwaitingDraw)
                || (v.phase == uint8(Phase.None) && job.flags & FLAG_OPTIMISTIC == 0)
        ) {
            out.seedBlock =
                (v.phase == uint8(Phase.None) ? _submitBlock(sub.submitted) : v.anchorBlock) + DRAW_DELAY;
        }
    }

    /// @inheritdoc IDistributedRender
    function getMembers(uint256 jobId, uint256 taskIndex, uint256 draw)
        external
        view
        returns (MemberView[] memory out)
    {
        (,, Ctx memory c) = _load(jobId, taskIndex);
        bytes32 key = _drawKey(c, draw);
        uint256 n = _members[key][0].drawMembers;
        out = new MemberView[](n);
        for (uint256 i; i < n; ++i) {
            MemberRecord memory m = _members[key][i];
            out[i] = MemberView({
                verifier: _verifierRecords[m.verifierId].account,
                seats: m.seats,
                state: MemberState(m.state),
                data: m.data
            });
        }
    }

    /// @inheritdoc IDistributedRender
    function previewCommittee(uint256 jobId, uint256 taskIndex)
        external
        view
        returns (uint256 draw, bytes32 seed, address[] memory members, uint256[] memory seats)
    {
        (JobRecord storage job, Submission storage sub, Ctx memory c) = _load(jobId, taskIndex);
        Verification storage v = _verifications[jobId][taskIndex];
        (DrawPlan memory p, bool expired) = _plan(job, sub, c, v);
        if (expired) revert DrawExpired(jobId, taskIndex, _anchor(sub, v) + DRAW_DELAY);
        members = new address[](p.count);
        seats = new uint256[](p.count);
        for (uint256 i; i < p.count; ++i) {
            members[i] = p.accounts[i];
            seats[i] = p.seats[i];
        }
        return (p.draw, p.seed, members, seats);
    }

    /// @inheritdoc IDistributedRender
    function appealBond(uint256 jobId, uint256 level) external view returns (uint256) {
        return _seatsAt(_job(jobId).quorum, level) * APPEAL_BOND_PER_SEAT;
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
    function verifierOf(address account) external view returns (VerifierInfo memory info) {
        uint256 id = _verifierIds[account];
        VerifierRecord memory rec = _verifierRecords[id];
        VerifierFunds memory funds = _verifierFunds[id];
        info = VerifierInfo({
            id: id,
            tickets: rec.tickets,
            capacity: rec.capacity,
            seats: rec.seats,
            stake: funds.stake,
            leavingSince: funds.leavingSince
        });
    }

    /// @inheritdoc IDistributedRender
    function registry() external view returns (uint256 positions, uint256 activeTickets) {
        return (_registry.positions, _config.activeTickets);
    }

    /// @inheritdoc IDistributedRender
    function isTokenAllowed(address token) external view returns (bool) {
        return token == address(0) || _tokenIds[token] != 0;
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
    function cellLeaf(uint256 cellIndex, bytes32 dataHash) external pure returns (bytes32) {
        return _cellLeaf(cellIndex, dataHash);
    }

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
        // A member's check re-renders cells: its work is bounded.
        if (r.maxBounces > MAX_BOUNCES) revert InvalidJobField(JobField.MaxBounces, r.maxBounces);
        if (uint256(r.samplesPerPixel) * (uint256(r.maxBounces) + 1) * cell * cell > MAX_CELL_WORK) {
            revert InvalidJobField(JobField.SamplesPerPixel, r.samplesPerPixel);
        }
        taskCount = uint256(r.frameCount) * r.regionsX * r.regionsY;
        if (taskCount > MAX_TASKS) revert InvalidJobField(JobField.TaskCount, taskCount);
        uint256 reward = spec.rewardPerTask;
        if (reward == 0) revert InvalidJobField(JobField.RewardPerTask, 0);
        uint256 feeBps = spec.verifierFeeBps;
        // A job that pays only verified work must pay its verifiers: at least the minimum rate, and not zero.
        if (
            feeBps > 10_000
                || (!spec.optimistic && (feeBps < MIN_VERIFIER_FEE_BPS || reward * feeBps < 10_000))
        ) {
            revert InvalidJobField(JobField.VerifierFee, feeBps);
        }
        uint256 s = spec.workerStakePerTask;
        if (s % 1 gwei != 0 || s / 1 gwei > MAX_STAKE_GWEI) revert InvalidJobField(JobField.WorkerStake, s);
        uint256 lease = spec.leaseDuration;
        if (lease == 0 || lease > MAX_LEASE_DURATION) revert InvalidJobField(JobField.LeaseDuration, lease);
        if (spec.deadline <= block.timestamp) revert InvalidJobField(JobField.Deadline, spec.deadline);
        uint256 window = spec.challengeWindow;
        if (window < MIN_CHALLENGE_WINDOW || window > MAX_CHALLENGE_WINDOW) {
            revert InvalidJobField(JobField.ChallengeWindow, window);
        }
        if (spec.quorum == 0 || spec.quorum > MAX_QUORUM) {
            revert InvalidJobField(JobField.Quorum, spec.quorum);
        }
    }

    function _anchor(Submission storage sub, Verification storage v) private view returns (uint256) {
        return v.phase == uint8(Phase.None) ? _submitBlock(sub.submitted) : v.anchorBlock;
    }

    /// The end of the current phase, or of an undisputed optimistic result's window (0 when a draw is due).
    function _phaseEnd(JobRecord storage job, Submission memory sub, Verification memory v)
        private
        view
        returns (uint256)
    {
        if (v.phase != uint8(Phase.None)) return v.phaseEnd;
        return job.flags & FLAG_OPTIMISTIC != 0 ? _submittedAt(sub.submitted) + job.challengeWindow : 0;
    }

    function _startReveal(Ctx memory c, Verification storage v) private {
        v.phase = uint8(Phase.Reveal);
        uint32 endsAt = _windowEnd(c);
        v.phaseEnd = endsAt;
        emit RevealStarted(c.jobId, c.taskIndex, v.draws - 1, endsAt);
    }

    /// Plans the due draw: `expired` when its seed can no longer be read. Seats are drawn with replacement
    /// among active tickets at the anchor block (positions allocated later are outside the range, and tickets
    /// that joined or left after it do not count), weighted by tickets; a verifier takes a seat only while its
    /// stake backs another seat, and never on its own task or job.
    function _plan(JobRecord storage job, Submission storage sub, Ctx memory c, Verification storage v)
        private
        view
        returns (DrawPlan memory p, bool expired)
    {
        uint256 phase = v.phase;
        if (phase == uint8(Phase.None)) {
            if (job.flags & FLAG_OPTIMISTIC != 0) revert WrongPhase(c.jobId, c.taskIndex, Phase.None);
        } else if (phase != uint8(Phase.AwaitingDraw)) {
            revert WrongPhase(c.jobId, c.taskIndex, Phase(phase));
        } else if (block.timestamp < v.phaseEnd) {
            revert PhaseNotOver(c.jobId, c.taskIndex, v.phaseEnd);
        }
        uint256 anchor = _anchor(sub, v);
        uint256 seedBlock = anchor + DRAW_DELAY;
        if (block.number <= seedBlock) revert DrawNotReady(c.jobId, c.taskIndex, seedBlock);
        bytes32 hash = blockhash(seedBlock);
        if (hash == 0) return (p, true);
        p.draw = v.draws;
        p.level = v.level;
        p.seed = keccak256(abi.encode(hash, c.jobId, c.taskIndex, c.attempt, p.draw));
        _fill(p, job, c, v.heldSeats, anchor);
    }

    /// Draws `p`'s seats: the level's seats, at most the active tickets this verification does not already hold
    /// (`held`), tried `DRAW_TRIES_PER_SEAT` times per seat among the positions allocated by the anchor block.
    /// `c` must come from `_load`: its worker is excluded from the seats (`_voteCtx` leaves it zero).
    function _fill(DrawPlan memory p, JobRecord storage job, Ctx memory c, uint256 held, uint256 anchor)
        private
        view
    {
        uint256 target = _seatsAt(job.quorum, p.level);
        uint256 supply = _config.activeTickets;
        supply = supply > held ? supply - held : 0;
        if (supply < target) target = supply;
        p.target = target;
        p.ids = new uint256[](target);
        p.seats = new uint256[](target);
        p.accounts = new address[](target);
        uint256 range = _positionsAt(anchor);
        if (range == 0) return;
        address artist = job.artist;
        for (uint256 t; t < target * DRAW_TRIES_PER_SEAT && p.filled < target; ++t) {
            // The seed is the hash of a block mined after the submission (docs/security.md: randomness).
            // slither-disable-next-line weak-prng
            _seatTicket(
                p, _tickets[uint256(keccak256(abi.encode(p.seed, t))) % range], anchor, c.worker, artist
            );
        }
    }

    /// Seats the owner of ticket `tk` once more, if the ticket counts at the anchor, its owner is neither the
    /// task's worker nor the job's artist, and its stake backs another seat.
    function _seatTicket(DrawPlan memory p, Ticket memory tk, uint256 anchor, address worker, address artist)
        private
        view
    {
        if (tk.from > anchor || (tk.until != 0 && tk.until <= anchor)) return;
        VerifierRecord memory r = _verifierRecords[tk.owner];
        if (r.account == worker || r.account == artist) return;
        uint256 j;
        while (j < p.count && p.ids[j] != tk.owner) ++j;
        if (r.seats + p.seats[j] >= r.capacity) return;
        if (j == p.count) {
            p.ids[j] = tk.owner;
            p.accounts[j] = r.account;
            ++p.count;
        }
        ++p.seats[j];
        ++p.filled;
    }

    /// Number of positions allocated at or before `anchor` (positions are sorted by allocation block): the last
    /// one is checked first, then a galloping search backwards, so a draw costs O(log k) reads for k positions
    /// allocated since its anchor.
    function _positionsAt(uint256 anchor) private view returns (uint256) {
        uint256 n = _registry.positions;
        if (n == 0 || _tickets[n - 1].allocated <= anchor) return n;
        // Invariant: position `hi` was allocated after the anchor.
        uint256 hi = n - 1;
        uint256 lo = 0;
        for (uint256 step = 1; step <= hi; step <<= 1) {
            uint256 probe = hi - step;
            if (_tickets[probe].allocated <= anchor) {
                lo = probe + 1;
                break;
            }
            hi = probe;
        }
        while (lo < hi) {
            uint256 mid = (lo + hi) >> 1;
            if (_tickets[mid].allocated <= anchor) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// Writes a planned draw: members, their bonded seats, the commit phase.
    function _applyDraw(Ctx memory c, Verification storage v, DrawPlan memory p) private {
        bytes32 key = _drawKey(c, p.draw);
        uint256 n = p.count;
        address[] memory accounts = new address[](n);
        uint256[] memory seats = new uint256[](n);
        for (uint256 j; j < n; ++j) {
            uint256 id = p.ids[j];
            uint256 s = p.seats[j];
            // s <= MAX_SEATS < 2^8; n <= MAX_SEATS.
            _members[key][j] = MemberRecord({
                verifierId: uint32(id),
                seats: uint8(s),
                state: uint8(MemberState.Drawn),
                drawMembers: j == 0 ? uint8(n) : 0,
                data: 0
            });
            // Bounded by capacity < 2^32 (checked in `_plan`).
            _verifierRecords[id].seats += uint32(s);
            accounts[j] = p.accounts[j];
            seats[j] = s;
        }
        v.draws = uint8(p.draw + 1);
        v.deferrals = 0;
        // held + filled <= the total of every level's seats (at most 4 levels and 2 redraws of 63) < 2^16.
        v.heldSeats = uint16(v.heldSeats + p.filled);
        v.phase = uint8(Phase.Commit);
        uint32 commitEnd = _windowEnd(c);
        v.phaseEnd = commitEnd;
        v.seats = uint8(p.filled);
        v.members = uint8(n);
        v.committed = 0;
        v.revealed = 0;
        v.challenged = false;
        // Read back by the votes of this draw (`_voteCtx`); the attempt fits: `_reopen` caps it at 2^16 - 1.
        v.attempt = uint16(c.attempt);
        v.window = uint24(c.window);
        emit CommitteeDrawn(
            c.jobId, c.taskIndex, c.attempt, p.draw, p.level, p.seed, accounts, seats, commitEnd
        );
    }

    /// The draw could not fill its committee: wait a window for seats to be freed, at most `MAX_DEFERRALS`
    /// times, then end the verification with what was decided so far. When nothing can ever be drawn (no active
    /// ticket left that this verification does not hold) it ends at once.
    function _deferDraw(Ctx memory c, Verification storage v, bool never) private {
        uint256 deferrals = v.deferrals;
        if (!never && deferrals < MAX_DEFERRALS) {
            v.deferrals = uint8(deferrals + 1);
            uint256 retryAt = _windowEnd(c);
            _awaitDraw(v, retryAt);
            emit DrawDeferred(c.jobId, c.taskIndex, c.attempt, block.number + DRAW_DELAY, retryAt, true);
        } else {
            _conclude(c);
        }
    }

    /// Counts the current draw, when more than half its seats revealed a vote (render proofs do not count here:
    /// they decide who is paid, not what is decided). A strict majority becomes the task's standing verdict: at
    /// the last level it is final at once; below it, a unanimous draw opens the appeal window, and a split one
    /// escalates to the next level to gather more votes (if no larger committee can be drawn, the standing
    /// verdict, the last majority, decides). A draw with no majority escalates, or at the last level is redrawn
    /// at most `MAX_REDRAWS` times; then the verification ends with the standing verdict, if any.
    function _tally(Ctx memory c, Verification storage v) private {
        uint256 draw = v.draws - 1;
        bytes32 key = _drawKey(c, draw);
        uint256 n = v.members;
        uint256 approveSeats = 0;
        uint256 rejectSeats = 0;
        for (uint256 i; i < n; ++i) {
            MemberRecord storage m = _members[key][i];
            uint256 state = m.state;
            if (state == uint8(MemberState.RevealedApprove)) approveSeats += m.seats;
            else if (state == uint8(MemberState.RevealedReject)) rejectSeats += m.seats;
        }
        uint256 level = v.level;
        Verdict majority = Verdict.None;
        if ((approveSeats + rejectSeats) * 2 > v.seats && approveSeats != rejectSeats) {
            majority = approveSeats > rejectSeats ? Verdict.Approve : Verdict.Reject;
            v.verdict = uint8(majority);
            v.decidedLevel = uint8(level);
        }
        bool appealable =
            level < MAX_LEVEL && majority != Verdict.None && (approveSeats == 0 || rejectSeats == 0);
        uint256 appealEndsAt = 0;
        if (appealable) {
            appealEndsAt = _windowEnd(c);
            v.phase = uint8(Phase.Appealable);
            v.phaseEnd = uint32(appealEndsAt);
        }
        emit RoundTallied(
            c.jobId, c.taskIndex, draw, level, majority, approveSeats, rejectSeats, appealEndsAt
        );
        if (appealable) return;
        if (level < MAX_LEVEL) {
            v.level = uint8(level + 1);
            v.redraws = 0;
            _awaitDraw(v, 0);
        } else if (majority == Verdict.None && v.redraws < MAX_REDRAWS) {
            v.redraws += 1;
            _awaitDraw(v, 0);
        } else {
            _conclude(c);
        }
    }

    /// Ends the verification in the extension (`DistributedRenderExtension.conclude`).
    function _conclude(Ctx memory c) private {
        _inExtension(abi.encodeCall(DistributedRenderExtension.conclude, (c.jobId, c.taskIndex)));
    }

    /// Runs one of the extension's settlement entries (`conclude`, `withhold`) on this contract's storage; the
    /// market's ABI has no entry for them, so only its own paths, which check the phase, reach them.
    function _inExtension(bytes memory call) private {
        // `call` is built by `_conclude` and `finalizeTask` from fixed selectors; the target is immutable.
        // slither-disable-next-line controlled-delegatecall
        (bool ok, bytes memory ret) = EXTENSION.delegatecall(call);
        if (!ok) {
            // Bubbles the extension's revert data up unchanged.
            // slither-disable-next-line assembly
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    /// Runs the current call in the extension and returns or reverts with its result.
    function _delegate() private {
        address extension = EXTENSION;
        // Forwards the calldata and returns or reverts with the extension's data, as a proxy does.
        // slither-disable-next-line assembly
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), extension, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }
}
