// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DistributedRender} from "../../src/DistributedRender.sol";
import {IDistributedRenderTypes as T} from "../../src/interfaces/IDistributedRender.sol";
import {RebasingToken, TestToken, UsdtStyleToken} from "../mocks/TestToken.sol";
import {CellTree} from "../utils/CellTree.sol";
import {Test} from "forge-std/Test.sol";

/// @notice Drives the market through random but meaningful sequences for the invariant suite, with adversarial
/// actors among the honest ones, and keeps ghost records: how often each task was paid, state transitions
/// outside the allowed set, and the appeal bonds in flight.
///
/// Actors: two artists (the second holds a verifier key of its own, `artistKey`, which rejects everything it
/// is drawn for); three workers (the third submits forged roots, never answers a data challenge, and holds a
/// verifier key of its own, `workerKey`, which approves everything); three honest verifiers (they vote the
/// truth with the honest render proof and appeal verdicts they can show wrong); a lazy verifier (approves
/// everything with a made-up proof).
///
/// Payment tokens: a plain ERC-20 and a USDT-style one (no return values, approve only from zero), both on the
/// owner's allow-list; and a rebasing token that is not, whose balances the handler moves up and down and with
/// which artists keep trying to post.
contract Handler is Test {
    DistributedRender public immutable dr;
    TestToken public immutable token;
    UsdtStyleToken public immutable usdt;
    RebasingToken public immutable rebasing;
    address public immutable treasury;

    address[] public artists;
    address[] public workers;
    /// Honest verifiers first, then the lazy one, the artist's key and the worker's key.
    address[] public verifiers;
    address public lazyVerifier;
    address public artistKey;
    address public workerKey;

    uint256[] public jobIds;
    mapping(uint256 jobId => mapping(uint256 task => uint256)) public ghostTimesPaid;
    mapping(uint256 jobId => mapping(uint256 task => T.TaskState)) public ghostLastState;
    uint256 public ghostBadTransitions;
    uint256 public ghostPaidTotal;
    uint256 public ghostForgedPaid;
    /// Appeal bonds posted per submission (job, task, attempt), until it ends.
    mapping(bytes32 key => uint256) public ghostAppealBonds;
    /// Votes committed and not yet revealed, by member: (approve, proof).
    mapping(bytes32 key => bytes32) internal _proofOf;
    mapping(bytes32 key => bool) internal _voteOf;
    mapping(bytes4 selector => uint256) public calls;
    /// How far the campaign got: committees drawn, votes committed and revealed, appeals, challenges, answers.
    uint256 public ghostDraws;
    uint256 public ghostCommits;
    uint256 public ghostReveals;
    /// Commits and reveals on a task's second or later attempt (whose draw copied that attempt).
    uint256 public ghostLaterAttemptVotes;
    uint256 public ghostAppeals;
    uint256 public ghostChallenges;
    uint256 public ghostAnswers;
    /// Jobs posted in the rebasing token (must stay 0: it is not allowed).
    uint256 public ghostRebasingJobs;

    uint256 internal constant MAX_JOBS = 8;
    bytes32 internal constant HONEST_PROOF = keccak256("honest render proof");
    string internal constant CID = "bafyoutput";

    constructor(
        DistributedRender dr_,
        TestToken token_,
        UsdtStyleToken usdt_,
        RebasingToken rebasing_,
        address treasury_
    ) {
        dr = dr_;
        token = token_;
        usdt = usdt_;
        rebasing = rebasing_;
        treasury = treasury_;
        for (uint256 i; i < 2; ++i) {
            address a = makeAddr(string.concat("inv-artist", vm.toString(i)));
            artists.push(a);
            vm.deal(a, 1e9 ether);
            token.mint(a, 1e9 ether);
            usdt.mint(a, 1e9 ether);
            rebasing.mint(a, 1e9 ether);
            vm.startPrank(a);
            token.approve(address(dr), type(uint256).max);
            usdt.approve(address(dr), type(uint256).max);
            rebasing.approve(address(dr), type(uint256).max);
            vm.stopPrank();
        }
        for (uint256 i; i < 3; ++i) {
            address w = makeAddr(string.concat("inv-worker", vm.toString(i)));
            workers.push(w);
            vm.deal(w, 100 ether);
            vm.prank(w);
            dr.stake{value: 10 ether}();
        }
        for (uint256 i; i < 3; ++i) {
            verifiers.push(makeAddr(string.concat("inv-verifier", vm.toString(i))));
        }
        lazyVerifier = makeAddr("inv-lazy-verifier");
        artistKey = makeAddr("inv-artist-key");
        workerKey = makeAddr("inv-worker-key");
        verifiers.push(lazyVerifier);
        verifiers.push(artistKey);
        verifiers.push(workerKey);
        uint256 ticket = dr.TICKET_STAKE();
        for (uint256 i; i < verifiers.length; ++i) {
            uint256 tickets = i < 3 ? 6 : 2;
            vm.deal(verifiers[i], 100 ether);
            vm.prank(verifiers[i]);
            dr.registerVerifier{value: tickets * ticket}(tickets);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Accessors for the invariant contract
    // ------------------------------------------------------------------------------------------------

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function verifierCount() external view returns (uint256) {
        return verifiers.length;
    }

    /// Everyone who can ever hold a credit or a stake.
    function accounts() public view returns (address[] memory out) {
        out = new address[](artists.length + workers.length + verifiers.length + 1);
        uint256 k;
        for (uint256 i; i < artists.length; ++i) {
            out[k++] = artists[i];
        }
        for (uint256 i; i < workers.length; ++i) {
            out[k++] = workers[i];
        }
        for (uint256 i; i < verifiers.length; ++i) {
            out[k++] = verifiers[i];
        }
        out[k++] = treasury;
    }

    function submissionKey(uint256 id, uint256 t) public view returns (bytes32) {
        (,,, uint256 attempt,) = dr.getTask(id, t);
        return keccak256(abi.encode(id, t, attempt));
    }

    // ------------------------------------------------------------------------------------------------
    // Market actions
    // ------------------------------------------------------------------------------------------------

    modifier tracked() {
        calls[msg.sig] += 1;
        _;
        _observe();
    }

    /// The payment token of kind `kind % 4`: ETH, the plain token, the USDT-style one, the rebasing one.
    function payToken(uint256 kind) public view returns (address) {
        kind %= 4;
        if (kind == 0) return address(0);
        if (kind == 1) return address(token);
        return kind == 2 ? address(usdt) : address(rebasing);
    }

    /// Moves the rebasing token's balances by up to ±10%.
    function rebase(int16 bps) external tracked {
        rebasing.rebase(int256(bound(int256(bps), -1000, 1000)));
    }

    function postJob(uint256 seed, uint8 tasks, uint8 tokenKind, uint8 quorum, bool optimistic, bool staked)
        external
        tracked
    {
        if (jobIds.length >= MAX_JOBS) return;
        address artist = artists[seed % artists.length];
        T.JobSpec memory s;
        s.sceneCid = "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am";
        s.rendererId = "tessera-pt/0.1";
        // 4 × 2 cells of 32 px: the eight cells of the handler's cell trees (`_cells`).
        s.settings = T.RenderSettings({
            width: 128,
            height: 64,
            samplesPerPixel: 4,
            maxBounces: 4,
            frameStart: 0,
            frameCount: uint32(_bound(tasks, 1, 6)),
            regionsX: 1,
            regionsY: 1,
            cellSize: 32,
            seed: uint64(seed)
        });
        s.token = payToken(tokenKind);
        s.rewardPerTask = uint96(_bound(seed >> 8, 100, 1 ether));
        s.verifierFeeBps = uint16(_bound(seed >> 80, optimistic ? 0 : 100, 10_000));
        s.workerStakePerTask = staked ? uint96(_bound(seed >> 160, 1, 1e9) * 1 gwei) : 0;
        s.deadline = uint32(vm.getBlockTimestamp() + _bound(seed >> 200, 2 hours, 10 days));
        s.leaseDuration = 2 hours;
        // One or two hours: a vote reads the window its draw copied, which must be its own job's.
        s.challengeWindow = uint32(1 hours + ((seed >> 40) % 2) * 1 hours);
        s.quorum = uint8(_bound(quorum, 1, 3));
        s.optimistic = optimistic;
        uint256 escrow = uint256(s.settings.frameCount)
            * (uint256(s.rewardPerTask) + uint256(s.rewardPerTask) * s.verifierFeeBps / 10_000);
        vm.prank(artist);
        try dr.submitRenderJob{value: s.token != address(0) ? 0 : escrow}(s) returns (uint256 id) {
            jobIds.push(id);
            if (s.token == address(rebasing)) ++ghostRebasingJobs;
        } catch {}
    }

    function claim(uint256 workerSeed, uint256 jobSeed, uint8 mask) external tracked {
        if (jobIds.length == 0) return;
        uint256 id = jobIds[jobSeed % jobIds.length];
        T.Job memory job = dr.getJob(id);
        uint32[] memory picks = new uint32[](job.taskCount);
        uint256 n;
        for (uint256 t; t < job.taskCount; ++t) {
            // Whatever the task's state: a batch takes what is still open and skips the rest.
            if ((mask >> t) & 1 == 1) picks[n++] = uint32(t);
        }
        if (n == 0) return;
        assembly {
            mstore(picks, n)
        }
        vm.prank(workers[workerSeed % workers.length]);
        try dr.claimTasks(id, picks) {} catch {}
    }

    /// Honest workers commit to the honest cells; the adversarial one to forged cells.
    function submit(uint256 jobSeed, uint256 taskSeed) external tracked {
        (uint256 id, uint256 t, bool ok) = _pick(jobSeed, taskSeed, T.TaskState.Claimed);
        if (!ok) return;
        (, address w, uint256 until,,) = dr.getTask(id, t);
        if (vm.getBlockTimestamp() >= until) return;
        vm.prank(w);
        dr.submitResult(id, t, CID, CellTree.root(_cells(w == workers[2] ? 1 : 0)));
    }

    /// Claims an open task and submits its result in one step (honest or forged by the worker's role).
    function claimAndSubmit(uint256 workerSeed, uint256 jobSeed, uint256 taskSeed) external tracked {
        (uint256 id, uint256 t, bool ok) = _pick(jobSeed, taskSeed, T.TaskState.Open);
        if (!ok) return;
        address w = workers[workerSeed % workers.length];
        uint32[] memory one = new uint32[](1);
        one[0] = uint32(t);
        vm.prank(w);
        try dr.claimTasks(id, one) {}
        catch {
            return;
        }
        vm.prank(w);
        dr.submitResult(id, t, CID, CellTree.root(_cells(w == workers[2] ? 1 : 0)));
    }

    function accept(uint256 jobSeed, uint256 taskSeed) external tracked {
        (uint256 id, uint256 t, bool ok) = _pick(jobSeed, taskSeed, T.TaskState.Submitted);
        if (!ok) return;
        vm.prank(dr.getJob(id).artist);
        dr.acceptTask(id, t);
    }

    function reopen(uint256 jobSeed, uint256 taskSeed) external tracked {
        (uint256 id, uint256 t, bool ok) = _pick(jobSeed, taskSeed, T.TaskState.Claimed);
        if (!ok) return;
        (,, uint256 until,,) = dr.getTask(id, t);
        if (vm.getBlockTimestamp() < until) vm.warp(until);
        uint32[] memory one = new uint32[](1);
        one[0] = uint32(t);
        dr.reopenExpired(id, one);
    }

    function cancel(uint256 jobSeed) external tracked {
        if (jobIds.length == 0) return;
        uint256 id = jobIds[jobSeed % jobIds.length];
        vm.prank(dr.getJob(id).artist);
        try dr.cancelJob(id) {} catch {}
    }

    function reclaim(uint256 jobSeed) external tracked {
        if (jobIds.length == 0) return;
        uint256 id = jobIds[jobSeed % jobIds.length];
        if (vm.getBlockTimestamp() < dr.getJob(id).deadline) return;
        dr.reclaimOpenTasks(id);
    }

    // ------------------------------------------------------------------------------------------------
    // Verification actions
    // ------------------------------------------------------------------------------------------------

    function draw(uint256 jobSeed, uint256 taskSeed) external tracked {
        (uint256 id, uint256 t, bool ok) = _pickPhase(jobSeed, taskSeed, 1 << uint8(T.Phase.AwaitingDraw));
        if (!ok) return;
        T.VerificationView memory v = dr.getVerification(id, t);
        if (v.phase != T.Phase.None && v.phase != T.Phase.AwaitingDraw) return;
        if (vm.getBlockNumber() <= v.seedBlock) vm.roll(v.seedBlock + 1);
        if (vm.getBlockTimestamp() < v.phaseEndsAt && v.phase == T.Phase.AwaitingDraw) {
            vm.warp(v.phaseEndsAt);
        }
        try dr.drawCommittee(id, t) {
            if (_state(id, t) == T.TaskState.Submitted && dr.getVerification(id, t).phase == T.Phase.Commit) {
                ghostDraws += 1;
            }
        } catch {}
    }

    /// Member `memberSeed` of the current draw commits the vote its role dictates.
    function commit(uint256 jobSeed, uint256 taskSeed, uint256 memberSeed) external tracked {
        (uint256 id, uint256 t, bool ok) = _pickPhase(jobSeed, taskSeed, 1 << uint8(T.Phase.Commit));
        if (!ok) return;
        T.VerificationView memory v = dr.getVerification(id, t);
        if (v.phase != T.Phase.Commit || vm.getBlockTimestamp() >= v.phaseEndsAt) return;
        T.MemberView[] memory m = dr.getMembers(id, t, v.draws - 1);
        uint256 i = memberSeed % m.length;
        if (m[i].state != T.MemberState.Drawn) return;
        (bool approve, bytes32 proof) = _role(id, t, m[i].verifier, v.draws - 1);
        bytes32 key = _memberKey(id, t, v.draws - 1, i);
        _voteOf[key] = approve;
        _proofOf[key] = proof;
        bytes32 commitment = _commitment(id, t, v.draws - 1, m[i].verifier, approve, proof);
        _countLaterAttempt(id, t);
        vm.prank(m[i].verifier);
        dr.commitVote(id, t, i, commitment);
        ghostCommits += 1;
    }

    function reveal(uint256 jobSeed, uint256 taskSeed, uint256 memberSeed) external tracked {
        (uint256 id, uint256 t, bool ok) =
            _pickPhase(jobSeed, taskSeed, 1 << uint8(T.Phase.Commit) | 1 << uint8(T.Phase.Reveal));
        if (!ok) return;
        T.VerificationView memory v = dr.getVerification(id, t);
        bool commitOver = v.phase == T.Phase.Commit && vm.getBlockTimestamp() >= v.phaseEndsAt;
        bool revealOpen = v.phase == T.Phase.Reveal && vm.getBlockTimestamp() < v.phaseEndsAt;
        if (!revealOpen && !commitOver) return;
        T.MemberView[] memory m = dr.getMembers(id, t, v.draws - 1);
        uint256 i = memberSeed % m.length;
        if (m[i].state != T.MemberState.Committed) return;
        bytes32 key = _memberKey(id, t, v.draws - 1, i);
        bool vote = _voteOf[key];
        bytes32 proof = _proofOf[key];
        bytes32 salt = _salt(m[i].verifier);
        _countLaterAttempt(id, t);
        vm.prank(m[i].verifier);
        dr.revealVote(id, t, i, vote, proof, salt);
        ghostReveals += 1;
    }

    /// Counts a vote about to be cast on a task's later attempt (read before the vote, which may settle it).
    function _countLaterAttempt(uint256 id, uint256 t) private {
        (,,, uint256 attempt,) = dr.getTask(id, t);
        if (attempt != 0) ghostLaterAttemptVotes += 1;
    }

    /// A whole round in one step: the due committee is drawn, every member not in `absent` commits the vote
    /// its role dictates, and every committed member reveals (the commit phase is run out first when members
    /// stayed away).
    function voteRound(uint256 jobSeed, uint256 taskSeed, uint8 absent) external tracked {
        (uint256 id, uint256 t, bool ok) =
            _pickPhase(jobSeed, taskSeed, 1 << uint8(T.Phase.AwaitingDraw) | 1 << uint8(T.Phase.Commit));
        if (!ok) return;
        T.VerificationView memory v = dr.getVerification(id, t);
        if (v.phase == T.Phase.AwaitingDraw || (v.phase == T.Phase.None && !dr.getJob(id).optimistic)) {
            if (vm.getBlockNumber() <= v.seedBlock) vm.roll(v.seedBlock + 1);
            if (vm.getBlockTimestamp() < v.phaseEndsAt) vm.warp(v.phaseEndsAt);
            try dr.drawCommittee(id, t) {}
            catch {
                return;
            }
            if (_state(id, t) != T.TaskState.Submitted) return;
            v = dr.getVerification(id, t);
            if (v.phase == T.Phase.Commit) ghostDraws += 1;
        }
        if (v.phase != T.Phase.Commit || vm.getBlockTimestamp() >= v.phaseEndsAt) return;
        T.MemberView[] memory m = dr.getMembers(id, t, v.draws - 1);
        bool[] memory votes = new bool[](m.length);
        bytes32[] memory proofs = new bytes32[](m.length);
        for (uint256 i; i < m.length; ++i) {
            if (m[i].state != T.MemberState.Drawn || (absent >> (i % 8)) & 1 == 1) continue;
            (votes[i], proofs[i]) = _role(id, t, m[i].verifier, v.draws - 1);
            bytes32 key = _memberKey(id, t, v.draws - 1, i);
            _voteOf[key] = votes[i];
            _proofOf[key] = proofs[i];
            bytes32 commitment = _commitment(id, t, v.draws - 1, m[i].verifier, votes[i], proofs[i]);
            _countLaterAttempt(id, t);
            vm.prank(m[i].verifier);
            dr.commitVote(id, t, i, commitment);
            ghostCommits += 1;
        }
        v = dr.getVerification(id, t);
        if (v.phase == T.Phase.Commit) vm.warp(v.phaseEndsAt);
        m = dr.getMembers(id, t, v.draws - 1);
        for (uint256 i; i < m.length && _state(id, t) == T.TaskState.Submitted; ++i) {
            if (m[i].state != T.MemberState.Committed) continue;
            bytes32 key = _memberKey(id, t, v.draws - 1, i);
            bool vote = _voteOf[key];
            bytes32 proof = _proofOf[key];
            bytes32 salt = _salt(m[i].verifier);
            _countLaterAttempt(id, t);
            vm.prank(m[i].verifier);
            dr.revealVote(id, t, i, vote, proof, salt);
            ghostReveals += 1;
        }
    }

    /// A member challenges the worker for two cells.
    function challenge(uint256 jobSeed, uint256 taskSeed, uint256 memberSeed) external tracked {
        (uint256 id, uint256 t, bool ok) = _pickPhase(jobSeed, taskSeed, 1 << uint8(T.Phase.Commit));
        if (!ok) return;
        T.VerificationView memory v = dr.getVerification(id, t);
        if (v.phase != T.Phase.Commit || v.challenged || vm.getBlockTimestamp() >= v.phaseEndsAt) return;
        T.MemberView[] memory m = dr.getMembers(id, t, v.draws - 1);
        uint256 i = memberSeed % m.length;
        uint256 bond = dr.DATA_CHALLENGE_BOND();
        vm.deal(m[i].verifier, m[i].verifier.balance + bond);
        uint32[] memory cells = _challengeCells();
        vm.prank(m[i].verifier);
        dr.challengeData{value: bond}(id, t, i, cells);
        ghostChallenges += 1;
    }

    /// Honest workers answer from their data; the adversarial worker withholds.
    function answer(uint256 jobSeed, uint256 taskSeed) external tracked {
        (uint256 id, uint256 t, bool ok) = _pickPhase(jobSeed, taskSeed, 1 << uint8(T.Phase.DataChallenge));
        if (!ok) return;
        T.VerificationView memory v = dr.getVerification(id, t);
        if (v.phase != T.Phase.DataChallenge || vm.getBlockTimestamp() >= v.phaseEndsAt) return;
        (, address w,,,) = dr.getTask(id, t);
        if (w == workers[2]) return;
        bytes32[] memory all = _cells(0);
        uint32[] memory cells = _challengeCells();
        bytes32[] memory hashes = new bytes32[](cells.length);
        bytes32[][] memory proofs = new bytes32[][](cells.length);
        for (uint256 k; k < cells.length; ++k) {
            hashes[k] = all[cells[k]];
            proofs[k] = CellTree.proof(all, cells[k]);
        }
        vm.prank(w);
        dr.answerChallenge(id, t, cells, hashes, proofs);
        ghostAnswers += 1;
    }

    /// Someone with standing appeals the standing verdict (or disputes an optimistic result): an honest
    /// verifier when it is wrong, the artist's or the worker's key when it goes against them.
    function appeal(uint256 jobSeed, uint256 taskSeed, uint8 who) external tracked {
        (uint256 id, uint256 t, bool ok) =
            _pickPhase(jobSeed, taskSeed, 1 << uint8(T.Phase.None) | 1 << uint8(T.Phase.Appealable));
        if (!ok) return;
        T.VerificationView memory v = dr.getVerification(id, t);
        bool dispute = v.phase == T.Phase.None && dr.getJob(id).optimistic;
        if (!dispute && v.phase != T.Phase.Appealable) return;
        if (vm.getBlockTimestamp() >= v.phaseEndsAt) return;
        bool truth = _honest(id, t);
        address appellant;
        if (who % 3 == 0) {
            bool wrong = dispute ? !truth : (v.verdict == T.Verdict.Approve) != truth;
            if (!wrong) return;
            appellant = verifiers[who % 3];
        } else if (who % 3 == 1) {
            appellant = artistKey;
        } else {
            appellant = workerKey;
        }
        uint256 bond = dr.appealBond(id, dispute ? 0 : v.level + 1);
        vm.deal(appellant, appellant.balance + bond);
        vm.prank(appellant);
        try dr.appealVerdict{value: bond}(id, t) {
            ghostAppealBonds[submissionKey(id, t)] += bond;
            ghostAppeals += 1;
        } catch {}
    }

    function finalize(uint256 jobSeed, uint256 taskSeed) external tracked {
        (uint256 id, uint256 t, bool ok) = _pick(jobSeed, taskSeed, T.TaskState.Submitted);
        if (!ok) return;
        T.VerificationView memory v = dr.getVerification(id, t);
        if (vm.getBlockTimestamp() < v.phaseEndsAt) vm.warp(v.phaseEndsAt);
        try dr.finalizeTask(id, t) {} catch {}
    }

    // ------------------------------------------------------------------------------------------------
    // Registry, stake and balances
    // ------------------------------------------------------------------------------------------------

    function registerMore(uint256 seed, uint8 tickets) external tracked {
        address v = verifiers[seed % verifiers.length];
        uint256 n = _bound(tickets, 1, 3);
        uint256 value = n * dr.TICKET_STAKE();
        vm.deal(v, v.balance + value);
        vm.prank(v);
        try dr.registerVerifier{value: value}(n) {} catch {}
    }

    function leaveRegistry(uint256 seed) external tracked {
        address v = verifiers[seed % verifiers.length];
        vm.prank(v);
        try dr.leaveVerifiers() {} catch {}
    }

    function release(uint256 seed) external tracked {
        address v = verifiers[seed % verifiers.length];
        uint256 since = dr.verifierOf(v).leavingSince;
        if (since == 0) return;
        if (vm.getBlockNumber() < since + dr.RELEASE_DELAY()) vm.roll(since + dr.RELEASE_DELAY());
        vm.prank(v);
        try dr.releaseVerifier() {} catch {}
    }

    function withdraw(uint256 accountSeed, uint8 tokenKind) external tracked {
        address[] memory all = accounts();
        address who = all[accountSeed % all.length];
        address tok = payToken(tokenKind);
        if (dr.balanceOf(who, tok) == 0) return;
        vm.prank(who);
        dr.withdraw(tok);
    }

    function unstake(uint256 seed, uint256 amount) external tracked {
        address who = _staker(seed);
        T.StakeAccount memory acct = dr.stakeOf(who);
        uint256 free = uint256(acct.bonded) - acct.locked;
        if (free == 0) return;
        vm.prank(who);
        dr.requestUnstake(_bound(amount, 1, free));
    }

    function withdrawStake(uint256 seed) external tracked {
        address who = _staker(seed);
        T.StakeAccount memory acct = dr.stakeOf(who);
        if (acct.unbonding == 0) return;
        if (vm.getBlockTimestamp() < acct.unbondingReadyAt) vm.warp(acct.unbondingReadyAt);
        vm.prank(who);
        dr.withdrawStake();
    }

    function restake(uint256 seed, uint256 amount) external tracked {
        address who = _staker(seed);
        amount = _bound(amount, 1, 5 ether);
        vm.deal(who, who.balance + amount);
        vm.prank(who);
        dr.stake{value: amount}();
    }

    function warp(uint256 secs) external tracked {
        vm.warp(vm.getBlockTimestamp() + _bound(secs, 1, 2 hours));
        vm.roll(vm.getBlockNumber() + _bound(secs, 1, 400));
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------

    /// Data hashes of a task's cells: set 0 is the honest render, set 1 a forgery.
    function _cells(uint256 set) internal pure returns (bytes32[] memory hashes) {
        hashes = new bytes32[](8);
        for (uint256 i; i < hashes.length; ++i) {
            hashes[i] = keccak256(abi.encode("cell", set, i));
        }
    }

    function _challengeCells() internal pure returns (uint32[] memory cells) {
        cells = new uint32[](2);
        cells[0] = 1;
        cells[1] = 6;
    }

    /// Whether the task's current submission is the honest render.
    function _honest(uint256 id, uint256 t) internal view returns (bool) {
        (,,,, bytes32 root) = dr.getTask(id, t);
        return root == CellTree.root(_cells(0));
    }

    /// The vote a member casts: honest verifiers the truth with the honest proof; the lazy one approves with
    /// a made-up proof; the artist's key rejects and the worker's key approves, both with the honest proof.
    function _role(uint256 id, uint256 t, address member, uint256 d) internal view returns (bool, bytes32) {
        if (member == lazyVerifier) return (true, keccak256(abi.encode("lazy", id, t, d)));
        if (member == artistKey) return (false, HONEST_PROOF);
        if (member == workerKey) return (true, HONEST_PROOF);
        return (_honest(id, t), HONEST_PROOF);
    }

    function _memberKey(uint256 id, uint256 t, uint256 d, uint256 i) internal view returns (bytes32) {
        (,,, uint256 attempt,) = dr.getTask(id, t);
        return keccak256(abi.encode(id, t, attempt, d, i));
    }

    function _salt(address voter) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", voter));
    }

    function _commitment(uint256 id, uint256 t, uint256 d, address voter, bool approve, bytes32 proof)
        internal
        view
        returns (bytes32)
    {
        (,,, uint256 attempt,) = dr.getTask(id, t);
        return keccak256(abi.encode(id, t, attempt, d, voter, approve, proof, _salt(voter)));
    }

    /// A worker or a verifier, by seed.
    function _staker(uint256 seed) internal view returns (address) {
        return seed % 2 == 0 ? workers[seed / 2 % workers.length] : verifiers[seed / 2 % verifiers.length];
    }

    function _state(uint256 id, uint256 t) internal view returns (T.TaskState s) {
        (s,,,,) = dr.getTask(id, t);
    }

    /// Finds a task in `want`, starting from the seeded position.
    function _pick(uint256 jobSeed, uint256 taskSeed, T.TaskState want)
        internal
        view
        returns (uint256 id, uint256 t, bool ok)
    {
        uint256 nJobs = jobIds.length;
        for (uint256 j; j < nJobs; ++j) {
            id = jobIds[(jobSeed % nJobs + j) % nJobs];
            uint256 count = dr.getJob(id).taskCount;
            for (uint256 k; k < count; ++k) {
                t = (taskSeed % count + k) % count;
                if (_state(id, t) == want) return (id, t, true);
            }
        }
    }

    /// Finds a submitted task whose verification is in one of `phases` (a bit mask of `T.Phase` values; a job
    /// that is not optimistic counts as `AwaitingDraw` while its first draw is due), from the seeded position.
    function _pickPhase(uint256 jobSeed, uint256 taskSeed, uint256 phases)
        internal
        view
        returns (uint256 id, uint256 t, bool ok)
    {
        uint256 nJobs = jobIds.length;
        for (uint256 j; j < nJobs; ++j) {
            id = jobIds[(jobSeed % nJobs + j) % nJobs];
            T.Job memory job = dr.getJob(id);
            for (uint256 k; k < job.taskCount; ++k) {
                t = (taskSeed % job.taskCount + k) % job.taskCount;
                if (_state(id, t) != T.TaskState.Submitted) continue;
                T.Phase p = dr.getVerification(id, t).phase;
                if (p == T.Phase.None && !job.optimistic) p = T.Phase.AwaitingDraw;
                if ((phases >> uint8(p)) & 1 == 1) return (id, t, true);
            }
        }
    }

    /// Records every task's state change since the last call and flags the ones the lifecycle forbids.
    function _observe() internal {
        for (uint256 j; j < jobIds.length; ++j) {
            uint256 id = jobIds[j];
            uint256 count = dr.getJob(id).taskCount;
            for (uint256 t; t < count; ++t) {
                T.TaskState prev = ghostLastState[id][t];
                T.TaskState next = _state(id, t);
                if (prev == next) continue;
                if (!allowed(prev, next)) ghostBadTransitions += 1;
                if (next == T.TaskState.Paid) {
                    ghostTimesPaid[id][t] += 1;
                    ghostPaidTotal += 1;
                    if (!_honest(id, t)) ghostForgedPaid += 1;
                }
                ghostLastState[id][t] = next;
            }
        }
    }

    /// The task lifecycle (docs/contracts.md). Between two observations a task may pass through several
    /// states (a rejection reopens it; a reopen after the deadline refunds it), so these are reachability
    /// edges, and nothing ever leaves Paid or Refunded.
    function allowed(T.TaskState a, T.TaskState b) public pure returns (bool) {
        if (a == T.TaskState.Paid || a == T.TaskState.Refunded) return false;
        // `claimAndSubmit` takes a task from Open to Submitted in one step.
        if (a == T.TaskState.Open) {
            return b == T.TaskState.Claimed || b == T.TaskState.Submitted || b == T.TaskState.Refunded;
        }
        if (a == T.TaskState.Claimed) {
            return b == T.TaskState.Submitted || b == T.TaskState.Open || b == T.TaskState.Refunded;
        }
        // Submitted
        return b == T.TaskState.Paid || b == T.TaskState.Open || b == T.TaskState.Refunded;
    }
}
