// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDistributedRenderTypes as T} from "../src/interfaces/IDistributedRender.sol";
import {Base} from "./utils/Base.sol";

/// @notice The attacks of issue 11, each played as the attacker would play it against the drawn-committee
/// protocol. Every one ends with the attacker holding less ETH than it started with, or is refused with a named
/// error. Honest verifiers re-render (they reveal `HONEST_PROOF` and the true verdict) and appeal verdicts they
/// can show wrong; adversary keys vote as the attack needs.
contract AttacksTest is Base {
    mapping(address => bool) internal adversary;
    /// How adversary keys vote: with the honest render proof (they rendered and lie) or a made-up one (lazy).
    bool internal adversaryRenders = true;

    /// Everything `who` owns in ETH: its own balance plus bonded, unbonding and verifier stake and credits.
    function _wealth(address who) internal view returns (uint256) {
        T.StakeAccount memory s = dr.stakeOf(who);
        return who.balance + s.bonded + s.unbonding + dr.verifierOf(who).stake + dr.balanceOf(who, address(0));
    }

    function _wealthOf(address[] memory keys) internal view returns (uint256 total) {
        for (uint256 i; i < keys.length; ++i) {
            total += _wealth(keys[i]);
        }
    }

    /// Plays a submitted task's verification to its end: members vote `truth` if honest, the opposite if
    /// adversarial; an honest verifier appeals any verdict that is not `truth` while a level is left.
    function _drive(uint256 id, uint256 task, bool truth) internal {
        address honestAppellant = verifiers[0];
        for (uint256 guard; guard < 40 && _state(id, task) == T.TaskState.Submitted; ++guard) {
            T.VerificationView memory v = _verification(id, task);
            if (v.phase == T.Phase.None || v.phase == T.Phase.AwaitingDraw) {
                if (vm.getBlockTimestamp() < v.phaseEndsAt) vm.warp(v.phaseEndsAt);
                _pastSeed(id, task);
                dr.drawCommittee(id, task);
            } else if (v.phase == T.Phase.Commit) {
                _castAll(id, task, truth);
            } else if (
                v.phase == T.Phase.Appealable && v.verdict != (truth ? T.Verdict.Approve : T.Verdict.Reject)
            ) {
                uint256 bond = dr.appealBond(id, v.level + 1);
                vm.deal(honestAppellant, honestAppellant.balance + bond);
                vm.prank(honestAppellant);
                dr.appealVerdict{value: bond}(id, task);
            } else {
                vm.warp(v.phaseEndsAt);
                dr.finalizeTask(id, task);
            }
        }
        assertTrue(_state(id, task) != T.TaskState.Submitted, "every task ends");
    }

    function _castAll(uint256 id, uint256 task, bool truth) internal {
        address[] memory members = _members(id, task);
        bool[] memory votes = new bool[](members.length);
        bytes32[] memory proofs = new bytes32[](members.length);
        for (uint256 i; i < members.length; ++i) {
            bool bad = adversary[members[i]];
            votes[i] = bad ? !truth : truth;
            proofs[i] = bad && !adversaryRenders ? keccak256(abi.encode("made up", members[i])) : HONEST_PROOF;
            _commit(id, task, i, votes[i], proofs[i]);
        }
        for (uint256 i; i < members.length; ++i) {
            _reveal(id, task, i, votes[i], proofs[i]);
        }
    }

    /// Leaves the honest verifiers out of the registry for the next submission's anchor, then brings them
    /// back with `tickets` each: the worst case, where only adversary tickets count for the first draw.
    function _honestLeave() internal {
        for (uint256 i; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            dr.leaveVerifiers();
        }
        vm.roll(vm.getBlockNumber() + 258);
        for (uint256 i; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            dr.releaseVerifier();
        }
    }

    function _honestReturn(uint256 tickets) internal {
        vm.roll(vm.getBlockNumber() + 1);
        for (uint256 i; i < verifiers.length; ++i) {
            _register(verifiers[i], tickets);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // 1. Self-approval of garbage
    // ---------------------------------------------------------------------------------------------

    /// A worker stakes on a second key, claims 20 tasks, submits random roots and approves each from the
    /// second key in the same block; then, refused, it plays the committees.
    function test_attack_selfApprovalOfGarbage_losesMoney() public {
        address key = makeAddr("worker's second key");
        adversary[key] = true;
        _register(key, 1);
        address[] memory attacker = new address[](2);
        attacker[0] = worker;
        attacker[1] = key;
        uint256 before = _wealthOf(attacker);

        uint256 id = _postEth(20);
        vm.prank(worker);
        dr.claimTasks(id, _range(0, 20));
        for (uint256 t; t < 20; ++t) {
            vm.prank(worker);
            dr.submitResult(id, t, CID, keccak256(abi.encode("garbage", t)));
        }
        // Same block: nothing can be drawn yet, so the second key cannot vote.
        vm.prank(key);
        vm.expectRevert(abi.encodeWithSelector(T.DrawNotReady.selector, id, 0, vm.getBlockNumber() + 1));
        dr.commitVote(id, 0, 0, bytes32(0));
        // One ticket backs one seat at a time: the key cannot sit on twenty committees at once.
        vm.roll(vm.getBlockNumber() + 2);
        uint256 keySeats;
        for (uint256 t; t < 20; ++t) {
            dr.drawCommittee(id, t);
            assertLe(dr.verifierOf(key).seats, 1);
        }
        keySeats = dr.verifierOf(key).seats;
        // Every committee votes at once; then each task is played to its end.
        for (uint256 t; t < 20; ++t) {
            if (_verification(id, t).phase == T.Phase.Commit) _castAll(id, t, false);
        }
        for (uint256 t; t < 20; ++t) {
            _drive(id, t, false);
            assertEq(uint8(_state(id, t)), uint8(T.TaskState.Open), "garbage is never paid");
        }
        assertEq(dr.stakeOf(worker).bonded, 10 ether - 20 * uint256(STAKE));
        assertLt(_wealthOf(attacker), before, "the attack costs the attacker");
        if (keySeats != 0) assertLt(dr.verifierOf(key).stake, TICKET);
    }

    /// The worst case of the same attack: the second key holds every ticket that counts for the first draw,
    /// approves unanimously, and an honest verifier appeals.
    function test_attack_selfApprovalWithEveryFirstSeat_isOverturnedOnAppeal() public {
        _honestLeave();
        address key = makeAddr("worker's second key");
        adversary[key] = true;
        _register(key, 3);
        address[] memory attacker = new address[](2);
        attacker[0] = worker;
        attacker[1] = key;
        uint256 before = _wealthOf(attacker);

        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.prank(worker);
        dr.submitResult(id, 0, CID, keccak256("garbage"));
        _honestReturn(10);
        // The first committee is the second key alone: it approves, unanimously.
        (address[] memory members,) = _draw(id, 0);
        assertEq(members.length, 1);
        assertEq(members[0], key);
        _castAll(id, 0, false);
        assertEq(uint8(_verification(id, 0).verdict), uint8(T.Verdict.Approve));
        uint256 appellantBefore = _wealth(verifiers[0]);
        _drive(id, 0, false);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Open));
        assertEq(dr.verifierOf(key).stake, 0, "the lying key lost its three seats' bonds");
        assertLt(_wealthOf(attacker), before);
        assertGt(_wealth(verifiers[0]), appellantBefore, "the appellant is rewarded");
        // The task is then rendered honestly and paid.
        _claim(id, worker2, 0);
        _submit(id, 0, worker2);
        _drive(id, 0, true);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
    }

    // ---------------------------------------------------------------------------------------------
    // 2. Robbery of honest work
    // ---------------------------------------------------------------------------------------------

    /// The artist's second key rejects honest renders with made-up evidence, over ten tasks.
    function test_attack_robberyOfHonestWork_losesMoney() public {
        address key = makeAddr("artist's second key");
        adversary[key] = true;
        _register(key, 4);
        address[] memory attacker = new address[](2);
        attacker[0] = artist;
        attacker[1] = key;
        uint256 before = _wealthOf(attacker);
        uint256 id = _postEth(10);
        for (uint256 t; t < 10; ++t) {
            _claimAndSubmit(id, t);
            _drive(id, t, true);
            assertEq(uint8(_state(id, t)), uint8(T.TaskState.Paid), "honest work is paid");
        }
        uint256 fee = uint256(REWARD) * FEE_BPS / 10_000;
        assertEq(dr.balanceOf(worker, address(0)), 10 * (REWARD - fee));
        assertEq(dr.stakeOf(worker).bonded, 10 ether, "the honest worker lost nothing");
        // The artist paid for ten renders and its key lost every bond it staked on a lie.
        assertLe(_wealthOf(attacker) + 10 * (uint256(REWARD) + VERIFIER_FEE), before);
    }

    /// The worst case: the artist's key holds every first seat and rejects; the worker appeals.
    function test_attack_robberyWithEveryFirstSeat_isOverturnedOnTheWorkersAppeal() public {
        _honestLeave();
        address key = makeAddr("artist's second key");
        adversary[key] = true;
        _register(key, 3);
        uint256 keyBefore = _wealth(key);
        uint256 id = _postEth(1);
        _claimAndSubmit(id, 0);
        _honestReturn(10);
        _draw(id, 0);
        _castAll(id, 0, true);
        assertEq(uint8(_verification(id, 0).verdict), uint8(T.Verdict.Reject));
        // The worker appeals its own honest work.
        uint256 bond = dr.appealBond(id, 1);
        vm.deal(worker, bond);
        vm.prank(worker);
        dr.appealVerdict{value: bond}(id, 0);
        _drive(id, 0, true);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
        uint256 fee = uint256(REWARD) * FEE_BPS / 10_000;
        assertEq(dr.balanceOf(worker, address(0)), REWARD - fee + bond, "paid, and the appeal bond back");
        assertEq(dr.stakeOf(worker).bonded, 10 ether);
        assertEq(_wealth(key), keyBefore - 3 * TICKET);
    }

    // ---------------------------------------------------------------------------------------------
    // 3. Withheld data
    // ---------------------------------------------------------------------------------------------

    function _withhold(bool optimistic) internal {
        uint256 before = _wealth(worker);
        T.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.optimistic = optimistic;
        uint256 id = _post(s);
        _claim(id, worker, 0);
        // A random root, and no leaves published anywhere.
        vm.prank(worker);
        dr.submitResult(id, 0, CID, keccak256("a root nobody can prove against"));
        if (optimistic) {
            // Nobody can prove a fault, so an honest verifier disputes.
            uint256 bond = dr.appealBond(id, 0);
            vm.deal(verifiers[1], 1 ether);
            vm.prank(verifiers[1]);
            dr.appealVerdict{value: bond}(id, 0);
        }
        (address[] memory members,) = _draw(id, 0);
        uint32[] memory cells = new uint32[](2);
        cells[0] = 3;
        cells[1] = 11;
        vm.deal(members[0], members[0].balance + CHALLENGE_BOND);
        vm.prank(members[0]);
        dr.challengeData{value: CHALLENGE_BOND}(id, 0, 0, cells);
        // The worker cannot answer: no data hash it could give has a proof against a random root.
        bytes32[][] memory proofs = new bytes32[][](2);
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(T.InvalidCellProof.selector, 0, 3));
        dr.answerChallenge(id, 0, cells, new bytes32[](2), proofs);
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Open), "never paid, reopened");
        assertEq(_wealth(worker), before - STAKE, "the worker loses its stake");
        // An honest worker renders it and is paid.
        _claim(id, worker2, 0);
        _submit(id, 0, worker2);
        if (optimistic) {
            vm.warp(vm.getBlockTimestamp() + WINDOW);
            dr.finalizeTask(id, 0);
        } else {
            _drive(id, 0, true);
        }
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
    }

    function test_attack_withheldDataOnAnOptimisticJob_isSlashed() public {
        _withhold(true);
    }

    function test_attack_withheldDataOnAJobThatPaysOnlyVerifiedWork_isSlashed() public {
        _withhold(false);
    }

    // ---------------------------------------------------------------------------------------------
    // 4. Unreachable quorum
    // ---------------------------------------------------------------------------------------------

    function test_attack_unreachableQuorum_isRefusedAtPostingAndShrinksAtDraw() public {
        T.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.quorum = 16;
        _expectInvalid(s, T.JobField.Quorum, 16);
        // Four verifiers with one ticket each cannot supply seven seats.
        _honestLeave();
        for (uint256 i; i < 4; ++i) {
            _register(makeAddr(string.concat("small", vm.toString(i))), 1);
        }
        s.quorum = 7;
        vm.prank(artist);
        vm.expectRevert(abi.encodeWithSelector(T.NotEnoughVerifiers.selector, 7, 4));
        dr.submitRenderJob{value: _escrow(s)}(s);
        // A committee the registry could supply at posting, but not at the draw, is drawn smaller.
        s.quorum = 4;
        uint256 id = _post(s);
        _claimAndSubmit(id, 0);
        vm.prank(makeAddr("small0"));
        dr.leaveVerifiers();
        vm.roll(vm.getBlockNumber() + 1);
        vm.prank(makeAddr("small1"));
        dr.leaveVerifiers();
        vm.roll(vm.getBlockNumber() + 300); // the draw is re-anchored after both left
        dr.drawCommittee(id, 0);
        _pastSeed(id, 0);
        dr.drawCommittee(id, 0);
        assertLe(_verification(id, 0).seats, 2);
        _castAll(id, 0, true);
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
    }

    // ---------------------------------------------------------------------------------------------
    // 5. Padded bundles
    // ---------------------------------------------------------------------------------------------

    /// Copying an honest approval and adding one's own keys' votes: only drawn members vote, once each.
    function test_attack_paddedVotes_areRefused() public {
        address[3] memory keys = [makeAddr("pad0"), makeAddr("pad1"), makeAddr("pad2")];
        for (uint256 i; i < 3; ++i) {
            _register(keys[i], 1);
        }
        uint256 id = _postEth(1);
        _claimAndSubmit(id, 0);
        vm.roll(vm.getBlockNumber() + 1);
        _pastSeed(id, 0);
        (address[] memory members,) = _draw(id, 0);
        uint256 n = members.length;
        for (uint256 i; i < 3; ++i) {
            bool member;
            for (uint256 j; j < n; ++j) {
                member = member || members[j] == keys[i];
            }
            if (member) continue;
            for (uint256 j; j <= n; ++j) {
                vm.prank(keys[i]);
                vm.expectRevert(abi.encodeWithSelector(T.NotMember.selector, id, 0, j, keys[i]));
                dr.commitVote(id, 0, j, bytes32(uint256(1)));
            }
        }
        _castAll(id, 0, true);
        _finalize(id, 0);
        // The fee went to the committee's seats only, which never exceed its size.
        uint256 paid;
        for (uint256 i; i < verifiers.length; ++i) {
            paid += dr.balanceOf(verifiers[i], address(0));
        }
        for (uint256 i; i < 3; ++i) {
            paid += dr.balanceOf(keys[i], address(0));
        }
        assertEq(paid, VERIFIER_FEE);
    }

    // ---------------------------------------------------------------------------------------------
    // 6. Slash that slashes nothing
    // ---------------------------------------------------------------------------------------------

    /// A verifier locks all its bonded stake in claims of its own, then votes against the verdict: its
    /// vote's bond is ticket stake, which claims cannot touch, and it is slashed in full.
    function test_attack_slashThatSlashesNothing_reachesTheBond() public {
        address key = makeAddr("locked-up verifier");
        adversary[key] = true;
        _register(key, 6);
        // Everything else it has goes into claims of a job of its own.
        _stake(key, 0.02 ether);
        vm.deal(key, key.balance + 1 ether);
        T.JobSpec memory own = _spec(4, 1, 1, address(0));
        vm.prank(key);
        uint256 ownJob = dr.submitRenderJob{value: _escrow(own)}(own);
        vm.prank(key);
        dr.claimTasks(ownJob, _range(0, 4));
        assertEq(dr.stakeOf(key).bonded - dr.stakeOf(key).locked, 0);
        // It cannot move ticket stake out while it holds seats, nor leave and release early.
        uint256 id = _postEth(30);
        uint256 slashed;
        for (uint256 t; t < 30; ++t) {
            _claimAndSubmit(id, t);
            _pastSeed(id, t);
            dr.drawCommittee(id, t);
            uint256 seats = dr.verifierOf(key).seats;
            if (seats != 0) {
                vm.prank(key);
                dr.leaveVerifiers();
                vm.roll(vm.getBlockNumber() + 258);
                vm.prank(key);
                vm.expectRevert(abi.encodeWithSelector(T.SeatsHeld.selector, seats));
                dr.releaseVerifier();
                uint256 stakeBefore = dr.verifierOf(key).stake;
                _drive(id, t, true);
                slashed = stakeBefore - dr.verifierOf(key).stake;
                assertEq(slashed, seats * TICKET, "the whole bond of every lying seat");
                break;
            }
            _drive(id, t, true);
        }
        assertGt(slashed, 0, "the key was drawn");
    }

    // ---------------------------------------------------------------------------------------------
    // Laziness
    // ---------------------------------------------------------------------------------------------

    /// A verifier approves honest work without rendering: it cannot produce the render proof, so however right
    /// its vote, it is never paid: its seats earn nothing while bonding its stake, and its gas is spent.
    function test_attack_lazyApproval_isNeverPaid() public {
        address lazy = makeAddr("lazy verifier");
        adversary[lazy] = true;
        adversaryRenders = false;
        _register(lazy, 2);
        uint256 before = _wealth(lazy);
        uint256 id = _postEth(8);
        for (uint256 t; t < 8; ++t) {
            _claimAndSubmit(id, t);
            // The lazy key votes the true verdict, but with a made-up proof.
            _pastSeed(id, t);
            dr.drawCommittee(id, t);
            address[] memory members = _members(id, t);
            for (uint256 i; i < members.length; ++i) {
                bytes32 proof = members[i] == lazy ? keccak256(abi.encode("guess", t)) : HONEST_PROOF;
                _commit(id, t, i, true, proof);
            }
            for (uint256 i; i < members.length; ++i) {
                bytes32 proof = members[i] == lazy ? keccak256(abi.encode("guess", t)) : HONEST_PROOF;
                _reveal(id, t, i, true, proof);
            }
            _drive(id, t, true);
            assertEq(uint8(_state(id, t)), uint8(T.TaskState.Paid));
        }
        assertEq(dr.balanceOf(lazy, address(0)), 0, "never paid");
        assertLe(_wealth(lazy), before);
        uint256 honestPay;
        for (uint256 i; i < verifiers.length; ++i) {
            honestPay += dr.balanceOf(verifiers[i], address(0));
        }
        assertEq(honestPay, 8 * uint256(VERIFIER_FEE), "the renderers share every fee");
    }

    // ---------------------------------------------------------------------------------------------
    // Found in review: a challenge of a cell the task does not have; a window too short to vote in
    // ---------------------------------------------------------------------------------------------

    /// A seated member (the artist's key, say) challenges an honest worker for a cell its task does not have:
    /// no leaf exists, so no answer could be given and the worker would be slashed. The contract knows each
    /// task's cells from the job's layout and refuses the challenge. Regions differ in size: a 65-pixel-wide
    /// frame cut in two regions has a 32-pixel region (1 × 2 cells of 32) and a 33-pixel one (2 × 2).
    function test_attack_challengeOfACellTheTaskDoesNotHave_isRefused() public {
        T.JobSpec memory s = _spec(2, 2, 1, address(0));
        s.settings.width = 65;
        s.settings.height = 64;
        uint256 id = _post(s);
        uint256[4] memory cellsOf = [uint256(2), 4, 2, 4];
        for (uint256 t; t < 4; ++t) {
            _claimAndSubmit(id, t);
            (address[] memory members,) = _draw(id, t);
            address member = members[0];
            vm.deal(member, member.balance + 2 * CHALLENGE_BOND);
            uint32[] memory cells = new uint32[](2);
            cells[0] = 0;
            cells[1] = uint32(cellsOf[t]);
            vm.prank(member);
            vm.expectRevert(abi.encodeWithSelector(T.CellOutOfRange.selector, cellsOf[t], cellsOf[t]));
            dr.challengeData{value: CHALLENGE_BOND}(id, t, 0, cells);
            // The task's last cell can be challenged (and answered: it has a leaf).
            cells[1] = uint32(cellsOf[t] - 1);
            vm.prank(member);
            dr.challengeData{value: CHALLENGE_BOND}(id, t, 0, cells);
            assertEq(uint8(_verification(id, t).phase), uint8(T.Phase.DataChallenge));
        }
    }

    /// An artist posts a job whose phases last one second and claims it with its own worker key: no honest
    /// member can commit in time, so every draw ends without a vote. Such a window is refused at posting; at
    /// the shortest window allowed, the absent members' bonds go to the treasury, so the artist and its
    /// worker gain nothing from the members they locked out.
    function test_attack_windowTooShortToVote_isRefusedAndAbsentBondsNeverPayTheTask() public {
        T.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.challengeWindow = 1;
        _expectInvalid(s, T.JobField.ChallengeWindow, 1);

        s.challengeWindow = MIN_WINDOW;
        address[] memory attacker = new address[](2);
        attacker[0] = artist;
        attacker[1] = worker;
        uint256 before = _wealthOf(attacker);
        uint256 treasuryBefore = dr.balanceOf(treasury, address(0));
        uint256 id = _post(s);
        _claimAndSubmit(id, 0);
        // No member ever acts: every phase runs out.
        for (uint256 guard; guard < 60 && _state(id, 0) == T.TaskState.Submitted; ++guard) {
            T.VerificationView memory v = _verification(id, 0);
            if (v.phase == T.Phase.None || v.phase == T.Phase.AwaitingDraw) {
                if (vm.getBlockTimestamp() < v.phaseEndsAt) vm.warp(v.phaseEndsAt);
                _pastSeed(id, 0);
                dr.drawCommittee(id, 0);
            } else {
                vm.warp(v.phaseEndsAt);
                dr.finalizeTask(id, 0);
            }
        }
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Refunded));
        assertEq(_wealthOf(attacker), before, "the attacker gains nothing");
        assertGt(dr.balanceOf(treasury, address(0)), treasuryBefore, "the absent members' bonds");
    }
}
