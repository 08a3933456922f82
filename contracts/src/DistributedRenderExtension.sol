// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DistributedRenderBase} from "./DistributedRenderBase.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title DistributedRenderExtension
/// @notice The market's less frequent state changes: the verifier registry, appeals, data-availability
/// challenges, cancels and reclaims, stake movements and the owner's settings. `DistributedRender` deploys it and
/// reaches it only by `delegatecall`, so every function here runs on the market's storage and balance; the
/// NatSpec of each is on `IDistributedRender`. Called directly, every function reverts (`NotDelegated`).
contract DistributedRenderExtension is DistributedRenderBase {
    using SafeCast for uint256;

    /// This contract's own address: a call that runs here, not in the market's context, is refused.
    address private immutable SELF;

    /// Only through the market's `delegatecall`.
    modifier delegated() {
        if (address(this) == SELF) revert NotDelegated();
        _;
    }

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
        SELF = address(this);
    }

    /// See `IDistributedRender`.
    function cancelJob(uint256 jobId) external delegated {
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

    /// See `IDistributedRender`.
    function reclaimOpenTasks(uint256 jobId) external delegated {
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

    /// See `IDistributedRender`.
    function reopenExpired(uint256 jobId, uint32[] calldata taskIndices) external delegated {
        JobRecord storage job = _job(jobId);
        uint256 n = taskIndices.length;
        if (n == 0) revert EmptyBatch();
        uint256 stakeWei = _stakeWei(job);
        uint256 penalty = stakeWei * LAZY_PENALTY_BPS / 10_000;
        if (job.flags & FLAG_CANCELLED != 0) {
            _endLeases(job, jobId, taskIndices, stakeWei, penalty, RefundReason.Cancelled);
            return;
        }
        if (block.timestamp >= job.deadline) {
            _endLeases(job, jobId, taskIndices, stakeWei, penalty, RefundReason.DeadlinePassed);
            return;
        }
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

    /// Refunds expired leased tasks of a job that can no longer be claimed. The task's lease entry becomes
    /// `LEASE_ENDED` (one write per word of eight tasks, its submission slot untouched); the stake is unlocked
    /// and the penalty slashed once per run of tasks under one lease, and the artist credited once per token.
    /// Tasks that cannot be ended (not leased, submitted, already ended, a lease still running) are skipped,
    /// so that nobody can sink a batch by ending one of its tasks first; a batch that ends none reverts for its
    /// first task.
    function _endLeases(
        JobRecord storage job,
        uint256 jobId,
        uint32[] calldata taskIndices,
        uint256 stakeWei,
        uint256 penalty,
        RefundReason why
    ) private {
        // The running state lives in memory: on the stack the loop is too deep for the unoptimised build
        // that `forge coverage` compiles.
        LeaseEnding memory e = LeaseEnding(stakeWei, penalty, type(uint256).max, 0, 0, address(0), 0, 0, 0);
        mapping(uint256 => uint256) storage words = _leaseWords[jobId];
        uint256 amount = _escrowPerTask(job);
        for (uint256 i; i < taskIndices.length; ++i) {
            uint256 t = taskIndices[i];
            if (t >= job.taskCount) revert TaskOutOfRange(jobId, t, job.taskCount);
            if (t >> 3 != e.wordIndex) {
                if (e.wordIndex != type(uint256).max) words[e.wordIndex] = e.word;
                e.wordIndex = t >> 3;
                e.word = words[e.wordIndex];
            }
            uint256 shift = (t & 7) << 5;
            uint256 leaseId = (e.word >> shift) & 0xffffffff;
            if (leaseId == 0 || leaseId == LEASE_ENDED || _submissions[jobId][t].status != STATUS_NONE) {
                continue;
            }
            // A cancelled job's leases run on until they expire; past the deadline every lease has.
            if (leaseId != e.runLease && !_startRun(e, leaseId)) continue;
            ++e.runTasks;
            ++e.ended;
            e.word |= LEASE_ENDED << shift;
            emit TaskRefunded(jobId, t, job.artist, why, amount);
        }
        if (e.ended == 0) _revertCannotEnd(job, jobId, taskIndices[0]);
        words[e.wordIndex] = e.word;
        _endRun(e);
        // ended <= MAX_TASKS tasks of at most 2^118 escrow each: no overflow.
        _credit(job.artist, _tokenOf(job), e.ended * amount);
        if (e.penalties != 0) _credit(job.artist, address(0), e.penalties);
    }

    /// Running state of `_endLeases`: the stake and penalty per task, the lease word being edited, the run of
    /// tasks under one lease, and the totals.
    struct LeaseEnding {
        uint256 stakeWei;
        uint256 penalty;
        uint256 wordIndex;
        uint256 word;
        uint256 runLease;
        address runWorker;
        uint256 runTasks;
        uint256 penalties;
        uint256 ended;
    }

    /// Ends the current run and starts one under lease `leaseId`; false (nothing changed) while that lease
    /// still runs.
    function _startRun(LeaseEnding memory e, uint256 leaseId) private returns (bool) {
        Lease memory lease = _leases[leaseId];
        if (block.timestamp < lease.expiresAt) return false;
        _endRun(e);
        (e.runLease, e.runWorker, e.runTasks) = (leaseId, lease.worker, 0);
        return true;
    }

    /// Reverts with why task `t`'s lease cannot be ended.
    function _revertCannotEnd(JobRecord storage job, uint256 jobId, uint256 t) private view {
        uint256 leaseId = _leaseOf(jobId, t);
        if (leaseId == 0 || leaseId == LEASE_ENDED || _submissions[jobId][t].status != STATUS_NONE) {
            revert TaskNotInState(jobId, t, _taskState(job, jobId, t, leaseId));
        }
        revert LeaseActive(jobId, t, _leases[leaseId].expiresAt);
    }

    /// Unlocks the stake of the run's tasks and slashes their penalty, adding it to `e.penalties`.
    function _endRun(LeaseEnding memory e) private {
        uint256 tasks = e.runTasks;
        if (tasks == 0 || e.stakeWei == 0) return;
        _unlock(e.runWorker, tasks * e.stakeWei);
        // A non-zero stake is at least 1 gwei, so its penalty (LAZY_PENALTY_BPS of it) is non-zero too.
        _slash(e.runWorker, tasks * e.penalty);
        e.penalties += tasks * e.penalty;
    }

    /// See `IDistributedRender`.
    function answerChallenge(
        uint256 jobId,
        uint256 taskIndex,
        uint32[] calldata cells,
        bytes32[] calldata dataHashes,
        bytes32[][] calldata proofs
    ) external delegated {
        (, Submission storage sub, Ctx memory c) = _load(jobId, taskIndex);
        Verification storage v = _verifications[jobId][taskIndex];
        _inPhase(c, v, Phase.DataChallenge);
        bytes32 key = _drawKey(c, v.draws - 1);
        ChallengeRecord memory ch = _challenges[key];
        uint256 n = cells.length;
        if (
            bytes12(keccak256(abi.encode(cells))) != ch.cellsHash || dataHashes.length != n
                || proofs.length != n
        ) {
            revert ChallengeMismatch();
        }
        _checkCells(sub.cellRoot, cells, dataHashes, proofs);
        v.phase = uint8(Phase.Commit);
        v.phaseEnd = _windowEnd(c);
        emit DataProvided(jobId, taskIndex, msg.sender, cells, dataHashes);
        _credit(msg.sender, address(0), DATA_CHALLENGE_BOND);
    }

    /// See `IDistributedRender`.
    function challengeData(uint256 jobId, uint256 taskIndex, uint256 memberIndex, uint32[] calldata cells)
        external
        payable
        delegated
    {
        (,, Ctx memory c) = _load(jobId, taskIndex);
        Verification storage v = _verifications[jobId][taskIndex];
        _inPhase(c, v, Phase.Commit);
        _member(c, v, memberIndex);
        if (v.challenged) revert AlreadyChallenged(jobId, taskIndex);
        if (cells.length == 0 || cells.length > MAX_CHALLENGE_CELLS) revert BadChallengeCells(cells.length);
        // A cell the task does not have has no leaf: no worker could answer for it.
        uint256 count = _cellCount(jobId, taskIndex);
        for (uint256 i; i < cells.length; ++i) {
            if (cells[i] >= count) revert CellOutOfRange(cells[i], count);
        }
        if (msg.value != DATA_CHALLENGE_BOND) revert WrongBond(DATA_CHALLENGE_BOND, msg.value);
        uint256 draw = v.draws - 1;
        _challenges[_drawKey(c, draw)] =
            ChallengeRecord({challenger: msg.sender, cellsHash: bytes12(keccak256(abi.encode(cells)))});
        v.challenged = true;
        v.phase = uint8(Phase.DataChallenge);
        uint256 respondBy = _windowEnd(c);
        v.phaseEnd = uint32(respondBy);
        emit DataChallenged(jobId, taskIndex, msg.sender, draw, cells, respondBy);
    }

    /// Cells of task `taskIndex` (docs/merkle.md, tessera-common's `Layout::region` and `cell_grid`): the
    /// task's region is number `r = taskIndex mod (regionsX · regionsY)`, row-major; along each axis region
    /// `i` of `n` spans pixels [⌊size · i / n⌋, ⌊size · (i + 1) / n⌋), cut into cells of `cellSize` pixels, the
    /// last one clipped.
    function _cellCount(uint256 jobId, uint256 taskIndex) private view returns (uint256) {
        Layout memory l = _layouts[jobId];
        uint256 r = taskIndex % (uint256(l.regionsX) * l.regionsY);
        return _cellsAlong(l.width, l.regionsX, r % l.regionsX, l.cellSize)
            * _cellsAlong(l.height, l.regionsY, r / l.regionsX, l.cellSize);
    }

    /// Cells along one axis of region `i` of `n` over `size` pixels.
    function _cellsAlong(uint256 size, uint256 n, uint256 i, uint256 cell) private pure returns (uint256) {
        uint256 span = size * (i + 1) / n - size * i / n;
        return (span + cell - 1) / cell;
    }

    /// See `IDistributedRender`.
    function appealVerdict(uint256 jobId, uint256 taskIndex) external payable delegated {
        (JobRecord storage job, Submission storage sub, Ctx memory c) = _load(jobId, taskIndex);
        Verification storage v = _verifications[jobId][taskIndex];
        uint256 level = 0;
        bool requestApprove = false;
        if (v.phase == uint8(Phase.None)) {
            // A dispute of an optimistic result (a job that is not optimistic has its first draw due instead).
            if (job.flags & FLAG_OPTIMISTIC == 0) revert WrongPhase(jobId, taskIndex, Phase.None);
            uint256 endsAt = _submittedAt(sub.submitted) + c.window;
            if (block.timestamp >= endsAt) revert PhaseOver(jobId, taskIndex, endsAt);
        } else {
            // Appealable is never entered at the last level (its verdict is final at once).
            _inPhase(c, v, Phase.Appealable);
            level = v.level + 1;
            requestApprove = v.verdict != uint8(Verdict.Approve);
        }
        if (msg.sender != job.artist && msg.sender != c.worker && !_isActiveVerifier(msg.sender)) {
            revert NoStanding(msg.sender);
        }
        uint256 bond = _seatsAt(job.quorum, level) * APPEAL_BOND_PER_SEAT;
        if (msg.value != bond) revert WrongBond(bond, msg.value);
        // bond <= MAX_SEATS * APPEAL_BOND_PER_SEAT < 2^88 (checked in the constructor).
        _appeals[_levelKey(c, level)] =
            AppealRecord({appellant: msg.sender, bond: uint88(bond), requestApprove: requestApprove});
        v.appealedLevels |= uint8(1 << level);
        v.level = uint8(level);
        v.redraws = 0;
        _awaitDraw(v, 0);
        emit VerdictAppealed(jobId, taskIndex, msg.sender, level, requestApprove, bond);
    }

    /// See `IDistributedRender`.
    function registerVerifier(uint256 tickets) external payable delegated {
        if (msg.value != 0) _bond(msg.sender, msg.value);
        if (tickets == 0) revert ZeroAmount();
        uint256 id = _verifierIds[msg.sender];
        if (id == 0) {
            id = ++_registry.verifiers;
            _verifierIds[msg.sender] = id;
            _verifierRecords[id].account = msg.sender;
        }
        VerifierFunds storage funds = _verifierFunds[id];
        if (funds.leavingSince != 0) revert VerifierLeaving(msg.sender);
        uint256 amount = tickets * TICKET_STAKE;
        StakeAccount storage acct = _stakes[msg.sender];
        uint256 free = uint256(acct.bonded) - acct.locked;
        if (amount > free) revert InsufficientStake(msg.sender, free, amount);
        // amount <= free <= bonded < 2^128; the verifier stake is at most the ETH supply.
        acct.bonded -= uint128(amount);
        uint256 stakeWei = funds.stake + amount;
        funds.stake = uint128(stakeWei);

        uint32[] storage positions = _positionsOf[id];
        for (uint256 i; i < tickets; ++i) {
            positions.push(_allocate(id));
        }
        VerifierRecord storage rec = _verifierRecords[id];
        uint256 total = rec.tickets + tickets;
        rec.tickets = total.toUint32();
        rec.capacity = uint32(_capacity(total, stakeWei));
        _config.activeTickets = (uint256(_config.activeTickets) + tickets).toUint32();
        emit VerifierRegistered(msg.sender, id, total, stakeWei);
    }

    /// See `IDistributedRender`.
    function leaveVerifiers() external delegated {
        uint256 id = _verifierIds[msg.sender];
        VerifierRecord storage rec = _verifierRecords[id];
        uint256 tickets = rec.tickets;
        if (tickets == 0) revert NotRegistered(msg.sender);
        VerifierFunds storage funds = _verifierFunds[id];
        if (funds.leavingSince != 0) revert VerifierLeaving(msg.sender);
        uint32[] storage positions = _positionsOf[id];
        for (uint256 i; i < tickets; ++i) {
            _tickets[positions[i]].until = uint40(block.number);
        }
        funds.leavingSince = uint40(block.number);
        _config.activeTickets -= uint32(tickets);
        emit VerifierLeft(msg.sender, tickets, block.number + RELEASE_DELAY);
    }

    /// See `IDistributedRender`.
    function releaseVerifier() external delegated {
        uint256 id = _verifierIds[msg.sender];
        VerifierFunds storage funds = _verifierFunds[id];
        uint256 since = funds.leavingSince;
        if (since == 0) revert NotLeaving(msg.sender);
        if (block.number < since + RELEASE_DELAY) revert StillLeaving(since + RELEASE_DELAY);
        VerifierRecord storage rec = _verifierRecords[id];
        if (rec.seats != 0) revert SeatsHeld(rec.seats);
        uint32[] storage positions = _positionsOf[id];
        uint256 tickets = positions.length;
        uint256 freeCount = _registry.freeCount;
        for (uint256 i; i < tickets; ++i) {
            _free[freeCount + i] = positions[i];
        }
        _registry.freeCount = uint32(freeCount + tickets);
        delete _positionsOf[id];
        uint256 amount = funds.stake;
        funds.stake = 0;
        funds.leavingSince = 0;
        rec.tickets = 0;
        rec.capacity = 0;
        emit VerifierReleased(msg.sender, tickets, amount);
        _bondSilently(msg.sender, amount);
    }

    /// See `IDistributedRender`.
    function stake() external payable delegated {
        if (msg.value == 0) revert ZeroAmount();
        _bond(msg.sender, msg.value);
    }

    /// See `IDistributedRender`.
    function requestUnstake(uint256 amount) external delegated {
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

    /// See `IDistributedRender`.
    function withdrawStake() external delegated nonReentrant {
        StakeAccount storage acct = _stakes[msg.sender];
        uint256 amount = acct.unbonding;
        if (amount == 0) revert NothingToWithdraw();
        if (block.timestamp < acct.unbondingReadyAt) revert StillUnbonding(acct.unbondingReadyAt);
        acct.unbonding = 0;
        emit StakeWithdrawn(msg.sender, amount);
        _sendEthToSender(amount);
    }

    /// @notice Pauses or resumes new jobs and claims. Withdrawals, refunds and settlement never pause.
    function setPaused(bool isPaused) external delegated onlyOwner {
        _config.paused = isPaused;
        emit PausedSet(isPaused);
    }

    /// @notice Sets the protocol fee for jobs posted from now on (existing jobs keep theirs).
    function setProtocolFee(uint16 feeBps) external delegated onlyOwner {
        if (feeBps > MAX_FEE_BPS) revert FeeTooHigh(feeBps, MAX_FEE_BPS);
        _config.protocolFeeBps = feeBps;
        emit ProtocolFeeSet(feeBps);
    }

    /// @notice Sets where future protocol fees are credited.
    function setTreasury(address newTreasury) external delegated onlyOwner {
        if (newTreasury == address(0)) revert ZeroAddress();
        treasury = newTreasury;
        emit TreasurySet(newTreasury);
    }

    /// @notice Adds `token` to, or removes it from, the ERC-20 tokens new jobs may pay in.
    function setTokenAllowed(address token, bool allowed) external delegated onlyOwner {
        if (token == address(0)) revert ZeroAddress();
        if (allowed == (_tokenIds[token] != 0)) return;
        if (allowed) {
            // A re-allowed token gets a new id; jobs keep the id they were posted with, and every id maps back
            // to its token, so escrow in a removed token stays payable.
            Config storage config = _config;
            uint256 tokenId = config.nextTokenId;
            config.nextTokenId = (tokenId + 1).toUint32();
            _tokenIds[token] = tokenId;
            _tokens[tokenId] = token;
        } else {
            delete _tokenIds[token];
        }
        emit TokenAllowed(token, allowed);
    }

    /// Reverts unless every cell's leaf, built from its data hash, is proven in `root`.
    function _checkCells(
        bytes32 root,
        uint32[] calldata cells,
        bytes32[] calldata dataHashes,
        bytes32[][] calldata proofs
    ) private pure {
        for (uint256 i; i < cells.length; ++i) {
            if (!MerkleProof.verifyCalldata(proofs[i], root, _cellLeaf(cells[i], dataHashes[i]))) {
                revert InvalidCellProof(i, cells[i]);
            }
        }
    }

    /// A position for a new ticket of verifier `id`: a released one if any, else a new one at the end.
    function _allocate(uint256 id) private returns (uint32 position) {
        uint256 freeCount = _registry.freeCount;
        if (freeCount != 0) {
            position = _free[freeCount - 1];
            _registry.freeCount = uint32(freeCount - 1);
            Ticket storage t = _tickets[position];
            t.owner = uint32(id);
            t.from = uint40(block.number);
            t.until = 0;
        } else {
            position = _registry.positions;
            _registry.positions = uint256(position + 1).toUint32();
            _tickets[position] = Ticket({
                owner: uint32(id), allocated: uint40(block.number), from: uint40(block.number), until: 0
            });
        }
    }

    /// Ends a submission's verification with its last verdict. Reached only from the market's own paths
    /// (`_tally` at the last level, `finalizeTask` after the appeal window, an exhausted empty draw), which
    /// check the phase: the market's ABI has no entry for it.
    function conclude(uint256 jobId, uint256 taskIndex) external delegated {
        (JobRecord storage job, Submission storage sub, Ctx memory c) = _load(jobId, taskIndex);
        _conclude(job, sub, c, _verifications[jobId][taskIndex]);
    }

    /// Slashes a worker that did not answer a data challenge. Reached only from `finalizeTask` once the
    /// response window ended.
    function withhold(uint256 jobId, uint256 taskIndex) external delegated {
        (JobRecord storage job, Submission storage sub, Ctx memory c) = _load(jobId, taskIndex);
        _withheld(job, sub, c, _verifications[jobId][taskIndex]);
    }

    /// See `IDistributedRender`.
    function acceptTask(uint256 jobId, uint256 taskIndex) external delegated {
        (JobRecord storage job, Submission storage sub, Ctx memory c) = _load(jobId, taskIndex);
        if (job.artist != msg.sender) revert NotArtist(jobId, msg.sender);
        Verification storage v = _verifications[jobId][taskIndex];
        // Empty (no payees: the fee goes back to the artist) unless a verification was under way.
        // slither-disable-next-line uninitialized-local
        Payees memory p;
        if (v.phase != uint8(Phase.None)) {
            if (v.phase == uint8(Phase.DataChallenge)) {
                _credit(_challenges[_drawKey(c, v.draws - 1)].challenger, address(0), DATA_CHALLENGE_BOND);
            }
            p = _release(c, v, true);
            delete _verifications[jobId][taskIndex];
        }
        // Members who committed a vote did the work the fee pays for: an artist cannot wait for the
        // committee's verdict and then accept to keep the fee.
        uint256 fee = _pay(job, c, sub, PayReason.AcceptedByArtist, p.seats == 0);
        _share(p, _tokenOf(job), fee, job.artist);
    }

    /// Who shares the verifier fee and the forfeited bonds: coherent members, by seats (the fee falls back to
    /// the artist, the forfeits of an approval to the treasury).
    struct Payees {
        uint256 count;
        uint256 seats;
        address[] accounts;
        uint256[] shares;
        /// Forfeited wei (bonds, failed appeals, the voters' part of a rejected worker's stake).
        uint256 pot;
    }

    /// Ends the verification with its last decided verdict (or none) and settles the task, every vote and
    /// every appeal.
    function _conclude(JobRecord storage job, Submission storage sub, Ctx memory c, Verification storage v)
        private
    {
        Verdict verdict = Verdict(v.verdict);
        Payees memory p = _judgeAll(c, v, verdict);
        p.pot += _settleAppeals(c, v, verdict, true);
        delete _verifications[c.jobId][c.taskIndex];
        address token = _tokenOf(job);
        if (verdict == Verdict.Approve) {
            uint256 fee = _pay(job, c, sub, PayReason.Verified, p.seats == 0);
            _share(p, token, fee, job.artist);
            _share(p, address(0), p.pot, treasury);
        } else if (verdict == Verdict.Reject) {
            uint256 stakeWei = _stakeWei(job);
            // Voters are paid for a rejection at the job's fee rate of the worker's stake, as they are paid for an
            // approval at that rate of the reward: the verdict does not change what a voter earns per seat.
            uint256 toVoters = stakeWei * job.verifierFeeBps / 10_000;
            emit TaskRejected(c.jobId, c.taskIndex, c.worker, c.attempt, RejectReason.Verdict, stakeWei);
            if (stakeWei != 0) {
                _unlock(c.worker, stakeWei);
                _slash(c.worker, stakeWei);
                _credit(job.artist, address(0), stakeWei - toVoters);
            }
            _share(p, address(0), p.pot + toVoters, job.artist);
            // The verifier fee stays escrowed for the next attempt's verification.
            _reopen(job, c.jobId, c.taskIndex, sub, c.worker, ReopenReason.Rejected, 0);
        } else {
            // No committee decided (an optimistic result gets here only when disputed): nobody proved the result
            // right, so it is not paid; the artist is refunded and the worker's stake released. The bonds of
            // members who never voted go to the treasury, not to the worker or the artist: neither may profit
            // from honest members missing a phase (an artist's own worker would collect them otherwise).
            uint256 stakeWei = _stakeWei(job);
            if (stakeWei != 0) _unlock(c.worker, stakeWei);
            _refundTask(job, c.jobId, c.taskIndex, sub, RefundReason.Unverified);
            _credit(treasury, address(0), p.pot);
        }
    }

    /// Judges every member of every draw against `verdict`: members who voted it are coherent and keep their
    /// bonds, and those among them who revealed their draw's plurality render proof share the pay; members who
    /// never revealed, or voted the other way, lose their seats' bonds. Without a verdict only the members who
    /// never revealed lose them.
    function _judgeAll(Ctx memory c, Verification storage v, Verdict verdict)
        private
        returns (Payees memory p)
    {
        uint256 draws = v.draws;
        p.accounts = new address[](draws * MAX_SEATS);
        p.shares = new uint256[](draws * MAX_SEATS);
        for (uint256 d; d < draws; ++d) {
            _judgeDraw(c, d, verdict, p);
        }
    }

    function _judgeDraw(Ctx memory c, uint256 d, Verdict verdict, Payees memory p) private {
        bytes32 key = _drawKey(c, d);
        Judged memory j = _judge(key);
        for (uint256 i; i < j.n; ++i) {
            MemberRecord memory m = j.members[i];
            bool revealed = m.state >= uint8(MemberState.RevealedApprove);
            bool coherent = revealed && verdict != Verdict.None
                && (m.state == uint8(MemberState.RevealedApprove)) == (verdict == Verdict.Approve);
            uint256 slashed = (revealed && (coherent || verdict == Verdict.None)) ? 0 : m.seats * TICKET_STAKE;
            address account = _freeSeats(m.verifierId, m.seats, slashed);
            p.pot += slashed;
            // Paid only with the draw's plurality render proof: a member that voted without rendering keeps its
            // bond when its vote was right, but earns nothing.
            if (coherent && j.weight[i] == j.best) {
                p.accounts[p.count] = account;
                p.shares[p.count] = m.seats;
                ++p.count;
                p.seats += m.seats;
            }
            emit VoteSettled(c.jobId, c.taskIndex, account, d, coherent, m.seats, slashed);
            delete _members[key][i];
        }
    }

    /// Releases every member of every draw without judgement (acceptance, withheld data) and every appeal bond;
    /// with `collect`, returns the members who committed a vote as payees, by seats.
    function _release(Ctx memory c, Verification storage v, bool collect) private returns (Payees memory p) {
        uint256 draws = v.draws;
        if (collect) {
            uint256 total = 0;
            for (uint256 d; d < draws; ++d) {
                total += _members[_drawKey(c, d)][0].drawMembers;
            }
            p.accounts = new address[](total);
            p.shares = new uint256[](total);
        }
        for (uint256 d; d < draws; ++d) {
            bytes32 key = _drawKey(c, d);
            uint256 n = _members[key][0].drawMembers;
            for (uint256 i; i < n; ++i) {
                MemberRecord memory m = _members[key][i];
                address account = _freeSeats(m.verifierId, m.seats, 0);
                emit VoteSettled(c.jobId, c.taskIndex, account, d, true, m.seats, 0);
                delete _members[key][i];
                if (collect && m.state != uint8(MemberState.Drawn)) {
                    p.accounts[p.count] = account;
                    p.shares[p.count] = m.seats;
                    ++p.count;
                    p.seats += m.seats;
                }
            }
        }
        _settleAppeals(c, v, Verdict.None, false);
    }

    /// Returns each appeal bond, or forfeits it (returned as the sum) when a committee at or above its level
    /// decided against what it asked for.
    function _settleAppeals(Ctx memory c, Verification storage v, Verdict verdict, bool judge)
        private
        returns (uint256 forfeited)
    {
        uint256 top = v.level;
        uint256 decidedLevel = v.decidedLevel;
        uint256 appealed = v.appealedLevels;
        for (uint256 level; level <= top; ++level) {
            if ((appealed >> level) & 1 == 0) continue;
            bytes32 key = _levelKey(c, level);
            AppealRecord memory a = _appeals[key];
            delete _appeals[key];
            bool lost = judge && verdict != Verdict.None && decidedLevel >= level
                && a.requestApprove != (verdict == Verdict.Approve);
            emit AppealSettled(c.jobId, c.taskIndex, a.appellant, level, !lost);
            if (lost) forfeited += a.bond;
            else _credit(a.appellant, address(0), a.bond);
        }
    }

    /// A member's seats are freed; `slashed` wei is taken from its verifier stake (its seats' bonds, which
    /// the stake always covers: a seat is drawn only while the stake backs it).
    function _freeSeats(uint256 id, uint256 seats, uint256 slashed) private returns (address account) {
        VerifierRecord storage rec = _verifierRecords[id];
        account = rec.account;
        // seats were added to rec.seats when drawn and are removed once, here.
        rec.seats -= uint32(seats);
        if (slashed != 0) {
            VerifierFunds storage funds = _verifierFunds[id];
            uint256 left = funds.stake - slashed;
            funds.stake = uint128(left);
            rec.capacity = uint32(_capacity(rec.tickets, left));
            emit StakeSlashed(account, slashed);
        }
    }

    /// Splits `amount` of `token` among the payees by seats (remainder to the first); to `fallbackTo` when no
    /// member was coherent.
    function _share(Payees memory p, address token, uint256 amount, address fallbackTo) private {
        if (amount == 0) return;
        if (p.seats == 0) {
            _credit(fallbackTo, token, amount);
            return;
        }
        // Rounding down then giving the remainder to the first payee is the intent: nothing is left behind.
        // slither-disable-next-line divide-before-multiply
        uint256 perSeat = amount / p.seats;
        _credit(p.accounts[0], token, amount - perSeat * (p.seats - p.shares[0]));
        for (uint256 i = 1; i < p.count; ++i) {
            _credit(p.accounts[i], token, perSeat * p.shares[i]);
        }
    }

    /// The worker did not answer a data-availability challenge: its stake is slashed (half to the challenger,
    /// whose bond comes back, half to the artist), every member and appellant is released, and the task
    /// reopens with the verifier fee still escrowed.
    function _withheld(JobRecord storage job, Submission storage sub, Ctx memory c, Verification storage v)
        private
    {
        bytes32 key = _drawKey(c, v.draws - 1);
        address challenger = _challenges[key].challenger;
        delete _challenges[key];
        _release(c, v, false);
        delete _verifications[c.jobId][c.taskIndex];
        uint256 stakeWei = _stakeWei(job);
        emit TaskRejected(c.jobId, c.taskIndex, c.worker, c.attempt, RejectReason.DataWithheld, stakeWei);
        _credit(challenger, address(0), DATA_CHALLENGE_BOND + stakeWei / 2);
        if (stakeWei != 0) {
            _unlock(c.worker, stakeWei);
            _slash(c.worker, stakeWei);
            _credit(job.artist, address(0), stakeWei - stakeWei / 2);
        }
        _reopen(job, c.jobId, c.taskIndex, sub, c.worker, ReopenReason.DataWithheld, 0);
    }
}
