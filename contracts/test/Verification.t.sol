// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDistributedRenderTypes as T} from "../src/interfaces/IDistributedRender.sol";
import {Base} from "./utils/Base.sol";
import {CellTree} from "./utils/CellTree.sol";
import {VerificationSlot} from "./utils/VerificationSlot.sol";
import {Vm} from "forge-std/Test.sol";

/// @notice Helpers to script each member of a draw: what it commits and reveals.
abstract contract Votes is Base {
    /// A member's behaviour: 0 absent, 1 commits only, 2 commits and reveals.
    struct Plan {
        uint8 act;
        bool approve;
        bytes32 proof;
    }

    function _plans(uint256 n, bool approve) internal pure returns (Plan[] memory p) {
        p = new Plan[](n);
        for (uint256 i; i < n; ++i) {
            p[i] = Plan({act: 2, approve: approve, proof: HONEST_PROOF});
        }
    }

    function _play(uint256 jobId, uint256 task, Plan[] memory p) internal {
        for (uint256 i; i < p.length; ++i) {
            if (p[i].act >= 1) _commit(jobId, task, i, p[i].approve, p[i].proof);
        }
        if (_verification(jobId, task).phase == T.Phase.Commit) {
            vm.warp(_verification(jobId, task).phaseEndsAt);
        }
        for (uint256 i; i < p.length; ++i) {
            if (p[i].act == 2) _reveal(jobId, task, i, p[i].approve, p[i].proof);
        }
        // Whoever stayed away: the phases run out and are counted.
        while (_state(jobId, task) == T.TaskState.Submitted) {
            T.VerificationView memory v = _verification(jobId, task);
            if (v.phase != T.Phase.Commit && v.phase != T.Phase.Reveal) break;
            vm.warp(v.phaseEndsAt);
            dr.finalizeTask(jobId, task);
        }
    }

    function _seatsOf(uint256 jobId, uint256 task) internal view returns (uint256[] memory seats) {
        T.MemberView[] memory m = dr.getMembers(jobId, task, _verification(jobId, task).draws - 1);
        seats = new uint256[](m.length);
        for (uint256 i; i < m.length; ++i) {
            seats[i] = m[i].seats;
        }
    }

    /// Registers `count` more verifiers with `tickets` tickets each.
    function _moreVerifiers(uint256 count, uint256 tickets) internal returns (address[] memory added) {
        added = new address[](count);
        for (uint256 i; i < count; ++i) {
            added[i] = makeAddr(string.concat("extra-verifier", vm.toString(verifiers.length)));
            verifiers.push(added[i]);
            _register(added[i], tickets);
        }
    }

    function _submitted(bool optimistic) internal returns (uint256 id) {
        id = _postQuorum(3, optimistic);
        _claimAndSubmit(id, 0);
    }

    function _seatCount() internal view returns (uint256 total) {
        for (uint256 i; i < verifiers.length; ++i) {
            total += dr.verifierOf(verifiers[i]).seats;
        }
    }
}

contract DrawTest is Votes {
    function test_drawCommittee_revertsUntilTheSeedBlockIsMined() public {
        uint256 id = _submitted(false);
        // The worker's second key cannot vote in the block of the submission, nor in the next one.
        vm.expectRevert(abi.encodeWithSelector(T.DrawNotReady.selector, id, 0, vm.getBlockNumber() + 1));
        dr.drawCommittee(id, 0);
        vm.roll(vm.getBlockNumber() + 1);
        vm.expectRevert(abi.encodeWithSelector(T.DrawNotReady.selector, id, 0, vm.getBlockNumber()));
        dr.commitVote(id, 0, 0, bytes32(0));
    }

    function test_drawCommittee_drawsSeatsWeightedByTicketsAndBondsThem() public {
        uint256 id = _submitted(false);
        vm.roll(vm.getBlockNumber() + 2);
        (uint256 draw, bytes32 seed, address[] memory members, uint256[] memory seats) =
            dr.previewCommittee(id, 0);
        assertEq(draw, 0);
        bytes32 expectedSeed =
            keccak256(abi.encode(blockhash(vm.getBlockNumber() - 1), id, uint256(0), uint256(0), uint256(0)));
        assertEq(seed, expectedSeed);
        vm.recordLogs();
        dr.drawCommittee(id, 0);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs[0].topics[0], T.CommitteeDrawn.selector);
        uint256 total;
        for (uint256 i; i < members.length; ++i) {
            total += seats[i];
            assertEq(dr.verifierOf(members[i]).seats, seats[i]);
        }
        assertEq(total, 3);
        T.VerificationView memory v = _verification(id, 0);
        assertEq(uint8(v.phase), uint8(T.Phase.Commit));
        assertEq(v.seats, 3);
        assertEq(v.members, members.length);
        assertEq(v.draws, 1);
        assertEq(v.phaseEndsAt, vm.getBlockTimestamp() + WINDOW);
        (,, uint256 until,,) = dr.getTask(id, 0);
        assertEq(until, vm.getBlockTimestamp() + WINDOW);
        // A second draw is not due.
        vm.expectRevert(abi.encodeWithSelector(T.WrongPhase.selector, id, 0, T.Phase.Commit));
        dr.drawCommittee(id, 0);
    }

    function test_drawCommittee_reanchorsWhenTheSeedIsTooOld() public {
        uint256 id = _submitted(false);
        uint256 seedBlock = vm.getBlockNumber() + 1;
        vm.roll(vm.getBlockNumber() + 300);
        vm.expectRevert(abi.encodeWithSelector(T.DrawExpired.selector, id, 0, seedBlock));
        dr.commitVote(id, 0, 0, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(T.DrawExpired.selector, id, 0, seedBlock));
        dr.previewCommittee(id, 0);
        vm.expectEmit(address(dr));
        emit T.DrawDeferred(id, 0, 0, vm.getBlockNumber() + 1, 0, false);
        dr.drawCommittee(id, 0);
        T.VerificationView memory v = _verification(id, 0);
        assertEq(uint8(v.phase), uint8(T.Phase.AwaitingDraw));
        assertEq(v.seedBlock, vm.getBlockNumber() + 1);
        _settle(id, 0, true);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
    }

    function test_drawCommittee_neverSeatsTheWorkerOrTheArtist() public {
        // The worker and the artist hold most tickets; their own task is drawn only from the others'.
        _register(worker, 40);
        vm.deal(artist, artist.balance + 40 ether);
        _register(artist, 40);
        for (uint256 t; t < 5; ++t) {
            uint256 id = _postEth(1);
            _claimAndSubmit(id, 0);
            (address[] memory members,) = _draw(id, 0);
            for (uint256 i; i < members.length; ++i) {
                assertTrue(members[i] != worker && members[i] != artist);
            }
        }
    }

    function test_drawCommittee_onlyCountsTicketsActiveAtTheAnchor() public {
        uint256 id = _submitted(false);
        // Tickets registered after the submission's block are outside the draw.
        vm.roll(vm.getBlockNumber() + 1);
        address late = makeAddr("late");
        _register(late, 100);
        vm.roll(vm.getBlockNumber() + 2);
        (,, address[] memory members,) = dr.previewCommittee(id, 0);
        for (uint256 i; i < members.length; ++i) {
            assertTrue(members[i] != late);
        }
        // A verifier that leaves after the anchor still counts for this draw.
        vm.prank(verifiers[0]);
        dr.leaveVerifiers();
        (,, address[] memory again,) = dr.previewCommittee(id, 0);
        assertEq(again.length, members.length);
    }

    function test_drawCommittee_defersRatherThanShrinkWhenSeatsAreTaken() public {
        // 12 tickets back 12 seats: concurrent tasks take them; a draw that cannot fill three seats waits.
        uint256[] memory ids = new uint256[](5);
        uint256 deferred;
        for (uint256 t; t < 5; ++t) {
            ids[t] = _submitted(false);
            _pastSeed(ids[t], 0);
            dr.drawCommittee(ids[t], 0);
            T.VerificationView memory v = _verification(ids[t], 0);
            if (v.phase == T.Phase.Commit) {
                assertEq(v.seats, 3, "a committee is never drawn smaller than it must be");
            } else {
                assertEq(uint8(v.phase), uint8(T.Phase.AwaitingDraw));
                assertEq(v.deferrals, 1);
                deferred = ids[t];
                break;
            }
            for (uint256 i; i < verifiers.length; ++i) {
                T.VerifierInfo memory info = dr.verifierOf(verifiers[i]);
                assertLe(info.seats, info.capacity);
            }
        }
        assertGt(deferred, 0, "capacity ran out");
        uint256 retryAt = _verification(deferred, 0).phaseEndsAt;
        vm.roll(vm.getBlockNumber() + 2);
        vm.expectRevert(abi.encodeWithSelector(T.PhaseNotOver.selector, deferred, 0, retryAt));
        dr.drawCommittee(deferred, 0);
        _vote(ids[0], 0, true, HONEST_PROOF);
        // Still no free seats when the retry comes: an unfilled draw never seats the caller.
        vm.warp(retryAt);
        vm.expectRevert(abi.encodeWithSelector(T.NotMember.selector, deferred, 0, 0, address(this)));
        dr.commitVote(deferred, 0, 0, bytes32(0));
        // Once a task settles and frees its seats, the deferred draw is made in full.
        _finalize(ids[0], 0);
        _pastSeed(deferred, 0);
        dr.drawCommittee(deferred, 0);
        assertEq(_verification(deferred, 0).seats, 3);
    }

    function test_drawCommittee_deferralsRunOutAndTheTaskEnds() public {
        uint256[] memory ids = new uint256[](5);
        uint256 deferred;
        for (uint256 t; t < 5 && deferred == 0; ++t) {
            ids[t] = _submitted(false);
            _pastSeed(ids[t], 0);
            dr.drawCommittee(ids[t], 0);
            if (_verification(ids[t], 0).phase == T.Phase.AwaitingDraw) deferred = ids[t];
        }
        for (uint256 k; k < 10 && _state(deferred, 0) == T.TaskState.Submitted; ++k) {
            assertEq(_verification(deferred, 0).deferrals, k + 1);
            vm.warp(_verification(deferred, 0).phaseEndsAt);
            vm.roll(vm.getBlockNumber() + 2);
            dr.drawCommittee(deferred, 0);
        }
        assertEq(uint8(_state(deferred, 0)), uint8(T.TaskState.Refunded));
        assertEq(dr.balanceOf(artist, address(0)), uint256(REWARD) + VERIFIER_FEE);
    }

    function test_drawCommittee_emptyRegistryEndsTheTask() public {
        uint256 id = _submitted(false);
        for (uint256 i; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            dr.leaveVerifiers();
        }
        // Re-anchored after everybody left: no active ticket is left, so nothing can ever be drawn.
        vm.roll(vm.getBlockNumber() + 300);
        dr.drawCommittee(id, 0);
        vm.roll(vm.getBlockNumber() + 2);
        dr.drawCommittee(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Refunded));
        assertEq(dr.stakeOf(worker).locked, 0);
    }

    function test_drawCommittee_optimisticJobNeedsADispute() public {
        uint256 id = _submitted(true);
        vm.roll(vm.getBlockNumber() + 2);
        vm.expectRevert(abi.encodeWithSelector(T.WrongPhase.selector, id, 0, T.Phase.None));
        dr.drawCommittee(id, 0);
        assertEq(_verification(id, 0).seedBlock, 0);
        assertEq(_verification(id, 0).phaseEndsAt, vm.getBlockTimestamp() + WINDOW);
    }

    function test_positions_rangeExcludesPositionsAllocatedAfterTheAnchor() public {
        uint256 id = _submitted(false);
        // Many positions allocated in later blocks: the draw's range is found by a galloping search.
        for (uint256 i; i < 9; ++i) {
            vm.roll(vm.getBlockNumber() + 1);
            _register(makeAddr(string.concat("later", vm.toString(i))), i + 1);
        }
        vm.roll(vm.getBlockNumber() + 2);
        (,, address[] memory members,) = dr.previewCommittee(id, 0);
        for (uint256 i; i < members.length; ++i) {
            assertTrue(members[i] == verifiers[0] || members[i] == verifiers[1] || members[i] == verifiers[2]);
        }
        (uint256 positions,) = dr.registry();
        assertEq(positions, 3 * TICKETS + 45);
    }

    function testFuzz_drawCommittee_seatsNeverExceedTheCommitteeOrCapacity(uint8 quorum, uint256 salt)
        public
    {
        quorum = uint8(_bound(quorum, 1, 7));
        _moreVerifiers(2, 1);
        vm.roll(vm.getBlockNumber() + (salt % 50) + 1);
        uint256 id = _postQuorum(quorum, false);
        _claimAndSubmit(id, 0);
        (address[] memory members, uint256[] memory seats) = _draw(id, 0);
        uint256 total;
        for (uint256 i; i < members.length; ++i) {
            total += seats[i];
            T.VerifierInfo memory info = dr.verifierOf(members[i]);
            assertLe(info.seats, info.capacity);
        }
        assertLe(total, quorum);
        assertEq(total, _verification(id, 0).seats);
    }
}

contract VoteTest is Votes {
    function test_commitVote_drawsWhenDueAndRecordsTheCommitment() public {
        uint256 id = _submitted(false);
        vm.roll(vm.getBlockNumber() + 2);
        (,, address[] memory members,) = dr.previewCommittee(id, 0);
        bytes32 c = keccak256(
            abi.encode(
                id, uint256(0), uint256(0), uint256(0), members[0], true, HONEST_PROOF, _salt(members[0])
            )
        );
        vm.expectEmit(address(dr));
        emit T.VoteCommitted(id, 0, members[0], 0);
        vm.prank(members[0]);
        dr.commitVote(id, 0, 0, c);
        T.MemberView[] memory m = dr.getMembers(id, 0, 0);
        assertEq(uint8(m[0].state), uint8(T.MemberState.Committed));
        assertEq(m[0].data, bytes24(c));
        assertEq(_verification(id, 0).committed, 1);
    }

    function test_commitVote_revertsForOutsidersWrongIndicesAndTwice() public {
        uint256 id = _submitted(false);
        (address[] memory members,) = _draw(id, 0);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(T.NotMember.selector, id, 0, 0, stranger));
        dr.commitVote(id, 0, 0, bytes32(uint256(1)));
        vm.prank(members[0]);
        vm.expectRevert(abi.encodeWithSelector(T.NotMember.selector, id, 0, members.length, members[0]));
        dr.commitVote(id, 0, members.length, bytes32(uint256(1)));
        if (members.length > 1) {
            vm.prank(members[0]);
            vm.expectRevert(abi.encodeWithSelector(T.NotMember.selector, id, 0, 1, members[0]));
            dr.commitVote(id, 0, 1, bytes32(uint256(1)));
        }
        vm.startPrank(members[0]);
        dr.commitVote(id, 0, 0, bytes32(uint256(1)));
        vm.expectRevert(abi.encodeWithSelector(T.MemberNotInState.selector, 0, T.MemberState.Committed));
        dr.commitVote(id, 0, 0, bytes32(uint256(2)));
        vm.stopPrank();
    }

    function test_commitVote_revertsAfterTheCommitPhase() public {
        uint256 id = _submitted(false);
        _draw(id, 0);
        uint256 endsAt = vm.getBlockTimestamp() + WINDOW;
        vm.warp(endsAt);
        address m0 = _members(id, 0)[0];
        vm.prank(m0);
        vm.expectRevert(abi.encodeWithSelector(T.PhaseOver.selector, id, 0, endsAt));
        dr.commitVote(id, 0, 0, bytes32(uint256(1)));
    }

    function test_revealVote_startsWhenAllCommittedAndChecksTheCommitment() public {
        uint256 id = _submitted(false);
        _draw(id, 0);
        address[] memory members = _members(id, 0);
        vm.prank(members[0]);
        vm.expectRevert(abi.encodeWithSelector(T.WrongPhase.selector, id, 0, T.Phase.Commit));
        dr.revealVote(id, 0, 0, true, HONEST_PROOF, _salt(members[0]));
        for (uint256 i; i < members.length; ++i) {
            _commit(id, 0, i, true, HONEST_PROOF);
        }
        assertEq(uint8(_verification(id, 0).phase), uint8(T.Phase.Reveal));
        // Another vote, proof or salt than the committed one does not open it.
        vm.startPrank(members[0]);
        vm.expectRevert(abi.encodeWithSelector(T.CommitmentMismatch.selector, 0));
        dr.revealVote(id, 0, 0, false, HONEST_PROOF, _salt(members[0]));
        vm.expectRevert(abi.encodeWithSelector(T.CommitmentMismatch.selector, 0));
        dr.revealVote(id, 0, 0, true, bytes32(0), _salt(members[0]));
        vm.expectRevert(abi.encodeWithSelector(T.CommitmentMismatch.selector, 0));
        dr.revealVote(id, 0, 0, true, HONEST_PROOF, bytes32(0));
        vm.expectEmit(address(dr));
        emit T.VoteRevealed(id, 0, members[0], 0, true, HONEST_PROOF, _seatsOf(id, 0)[0]);
        dr.revealVote(id, 0, 0, true, HONEST_PROOF, _salt(members[0]));
        vm.expectRevert(abi.encodeWithSelector(T.MemberNotInState.selector, 0, T.MemberState.RevealedApprove));
        dr.revealVote(id, 0, 0, true, HONEST_PROOF, _salt(members[0]));
        vm.stopPrank();
    }

    function test_revealVote_aCopiedCommitmentCannotBeRevealedByTheCopier() public {
        _moreVerifiers(1, 8);
        uint256 id = _submitted(false);
        _draw(id, 0);
        address[] memory members = _members(id, 0);
        if (members.length < 2) return;
        // Member 1 copies member 0's commitment from the mempool, then its reveal once public.
        bytes32 c0 = _commitment(id, 0, members[0], true, HONEST_PROOF);
        vm.prank(members[0]);
        dr.commitVote(id, 0, 0, c0);
        vm.prank(members[1]);
        dr.commitVote(id, 0, 1, c0);
        vm.warp(vm.getBlockTimestamp() + WINDOW);
        _reveal(id, 0, 0, true, HONEST_PROOF);
        vm.prank(members[1]);
        vm.expectRevert(abi.encodeWithSelector(T.CommitmentMismatch.selector, 1));
        dr.revealVote(id, 0, 1, true, HONEST_PROOF, _salt(members[0]));
    }

    function test_revealVote_afterAnIncompleteCommitPhaseAndItsEnd() public {
        uint256 id = _submitted(false);
        _draw(id, 0);
        _commit(id, 0, 0, true, HONEST_PROOF);
        // Finalizing an ended commit phase with a commitment opens the reveal phase.
        vm.warp(_verification(id, 0).phaseEndsAt);
        dr.finalizeTask(id, 0);
        assertEq(uint8(_verification(id, 0).phase), uint8(T.Phase.Reveal));
        uint256 endsAt = _verification(id, 0).phaseEndsAt;
        vm.warp(endsAt);
        address m0 = _members(id, 0)[0];
        vm.prank(m0);
        vm.expectRevert(abi.encodeWithSelector(T.PhaseOver.selector, id, 0, endsAt));
        dr.revealVote(id, 0, 0, true, HONEST_PROOF, _salt(m0));
    }
}

contract TallyTest is Votes {
    function test_tally_unanimousFirstCommitteeApprovesAndOpensTheAppealWindow() public {
        uint256 id = _submitted(false);
        _vote(id, 0, true, HONEST_PROOF);
        T.VerificationView memory v = _verification(id, 0);
        assertEq(uint8(v.phase), uint8(T.Phase.Appealable));
        assertEq(uint8(v.verdict), uint8(T.Verdict.Approve));
        assertEq(v.phaseEndsAt, vm.getBlockTimestamp() + WINDOW);
        vm.expectRevert(abi.encodeWithSelector(T.PhaseNotOver.selector, id, 0, v.phaseEndsAt));
        dr.finalizeTask(id, 0);
        uint256 before = _verifierStake(verifiers[0]);
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
        uint256 fee = uint256(REWARD) * FEE_BPS / 10_000;
        assertEq(dr.balanceOf(worker, address(0)), REWARD - fee);
        assertEq(dr.balanceOf(treasury, address(0)), fee);
        uint256 fees;
        for (uint256 i; i < verifiers.length; ++i) {
            fees += dr.balanceOf(verifiers[i], address(0));
            assertEq(dr.verifierOf(verifiers[i]).seats, 0);
        }
        assertEq(fees, VERIFIER_FEE);
        assertEq(_verifierStake(verifiers[0]), before, "coherent members keep their bond");
        assertEq(dr.stakeOf(worker).locked, 0);
    }

    function test_tally_aDissentEscalatesToALargerCommittee() public {
        _moreVerifiers(3, 8);
        uint256 id = _submitted(false);
        _draw(id, 0);
        uint256 n = _members(id, 0).length;
        if (n < 2) return;
        Plan[] memory p = _plans(n, true);
        p[n - 1].approve = false; // rendered (the same proof) but votes the other way
        _play(id, 0, p);
        T.VerificationView memory v = _verification(id, 0);
        assertEq(uint8(v.phase), uint8(T.Phase.AwaitingDraw));
        assertEq(v.level, 1);
        assertEq(uint8(v.verdict), uint8(T.Verdict.Approve), "the split majority is the standing verdict");
        assertEq(v.decidedLevel, 0);
        (, uint256[] memory seats) = _draw(id, 0);
        uint256 total;
        for (uint256 i; i < seats.length; ++i) {
            total += seats[i];
        }
        assertEq(total, 7);
    }

    function test_tally_lazyVotesEarnNothing() public {
        _moreVerifiers(3, 8);
        uint256 id = _submitted(false);
        _draw(id, 0);
        uint256 n = _members(id, 0).length;
        if (n < 3) return;
        address lazy = _members(id, 0)[n - 1];
        _firstMembers = _members(id, 0);
        Plan[] memory p = _plans(n, true);
        p[n - 1].proof = keccak256("did not render"); // approves without rendering
        _play(id, 0, p);
        assertEq(uint8(_verification(id, 0).verdict), uint8(T.Verdict.Approve));
        uint256 before = _verifierStake(lazy);
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
        // Its vote was right, so it keeps its bond; without the render proof it earns nothing.
        assertEq(_verifierStake(lazy), before);
        assertEq(dr.balanceOf(lazy, address(0)), 0);
        uint256 paid;
        for (uint256 i; i < n - 1; ++i) {
            paid += dr.balanceOf(_members0(id, i), address(0));
        }
        assertEq(paid, VERIFIER_FEE, "the renderers share the whole fee");
    }

    address[] internal _firstMembers;

    function _members0(uint256, uint256 i) internal view returns (address) {
        return _firstMembers[i];
    }

    /// A vote reads the task's attempt and window from the verification slot alone (`_voteCtx`): each draw
    /// copies them there, also on the next attempt, and the slot goes with the submission.
    function test_voteContext_isCopiedByEachDrawAndGoesWithTheSubmission() public {
        uint256 id = _submitted(false);
        assertEq(VerificationSlot.read(address(dr), id, 0), 0, "no verification before the first draw");
        _draw(id, 0);
        uint256 raw = VerificationSlot.read(address(dr), id, 0);
        assertEq(VerificationSlot.phase(raw), uint256(T.Phase.Commit), "the slot read is the verification");
        assertEq(VerificationSlot.attempt(raw), 0);
        assertEq(VerificationSlot.window(raw), dr.getJob(id).challengeWindow);
        _vote(id, 0, false, HONEST_PROOF);
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Open));
        assertEq(
            VerificationSlot.read(address(dr), id, 0), 0, "the rejected attempt's verification is deleted"
        );
        _claim(id, worker2, 0);
        _submit(id, 0, worker2);
        _draw(id, 0);
        raw = VerificationSlot.read(address(dr), id, 0);
        assertEq(VerificationSlot.phase(raw), uint256(T.Phase.Commit));
        assertEq(VerificationSlot.attempt(raw), 1, "the second attempt's draw copies its attempt");
        // Votes of the second attempt are checked against commitments naming attempt 1.
        _vote(id, 0, true, HONEST_PROOF);
        assertEq(uint8(_verification(id, 0).phase), uint8(T.Phase.Appealable));
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
        assertEq(VerificationSlot.read(address(dr), id, 0), 0, "the paid task's verification is deleted");
    }

    function test_tally_unanimousRejectionSlashesAndReopens() public {
        uint256 id = _submitted(false);
        _vote(id, 0, false, HONEST_PROOF);
        assertEq(uint8(_verification(id, 0).verdict), uint8(T.Verdict.Reject));
        vm.recordLogs();
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Open));
        (,,, uint256 attempt,) = dr.getTask(id, 0);
        assertEq(attempt, 1);
        assertEq(dr.stakeOf(worker).bonded, 10 ether - STAKE);
        assertEq(dr.stakeOf(worker).locked, 0);
        // Voters earn the job's fee rate on the stake, the artist the rest; the verifier fee stays escrowed.
        uint256 toVoters = uint256(STAKE) * VERIFIER_FEE_BPS / 10_000;
        assertEq(dr.balanceOf(artist, address(0)), STAKE - toVoters);
        uint256 paid;
        for (uint256 i; i < verifiers.length; ++i) {
            paid += dr.balanceOf(verifiers[i], address(0));
        }
        assertEq(paid, toVoters);
        // The next attempt is verified and paid from the same escrow.
        _claim(id, worker2, 0);
        _submit(id, 0, worker2);
        _approve(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
        assertEq(dr.balanceOf(worker2, address(0)), REWARD - uint256(REWARD) * FEE_BPS / 10_000);
    }

    function test_tally_rejectionAfterTheDeadlineRefunds() public {
        uint256 id = _submitted(false);
        _vote(id, 0, false, HONEST_PROOF);
        vm.warp(dr.getJob(id).deadline);
        dr.finalizeTask(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Refunded));
    }

    /// A job cancelled while its task was under verification: the rejection refunds the task instead of
    /// reopening it, and the artist gets the escrow back once.
    function test_tally_rejectionOfACancelledJobRefunds() public {
        uint256 id = _submitted(false);
        vm.prank(artist);
        dr.cancelJob(id);
        _vote(id, 0, false, HONEST_PROOF);
        uint256 before = dr.balanceOf(artist, address(0));
        vm.expectEmit(address(dr));
        emit T.TaskRefunded(id, 0, artist, T.RefundReason.Cancelled, uint256(REWARD) + VERIFIER_FEE);
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Refunded));
        uint256 toVoters = uint256(STAKE) * VERIFIER_FEE_BPS / 10_000;
        assertEq(dr.balanceOf(artist, address(0)) - before, uint256(REWARD) + VERIFIER_FEE + STAKE - toVoters);
    }

    function test_tally_tooFewRevealsEscalate() public {
        _moreVerifiers(3, 8);
        uint256 id = _submitted(false);
        _draw(id, 0);
        uint256[] memory seats = _seatsOf(id, 0);
        Plan[] memory p = _plans(seats.length, true);
        // Only one seat's worth reveals: not more than half of three.
        for (uint256 i; i < p.length; ++i) {
            p[i].act = 0;
        }
        uint256 one = type(uint256).max;
        for (uint256 i; i < seats.length; ++i) {
            if (seats[i] == 1) one = i;
        }
        if (one == type(uint256).max) return;
        p[one].act = 2;
        _play(id, 0, p);
        assertEq(_verification(id, 0).level, 1);
    }

    function test_tally_nobodyCommitsEscalatesAndAbsenteesAreSlashed() public {
        _moreVerifiers(3, 10);
        uint256 id = _submitted(false);
        (address[] memory absent, uint256[] memory absentSeats) = _draw(id, 0);
        _finalize(id, 0); // commit phase over, nobody committed: counted at once
        assertEq(_verification(id, 0).level, 1);
        _vote(id, 0, true, HONEST_PROOF);
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
        for (uint256 i; i < absent.length; ++i) {
            // Absent at level 0: lost that draw's bond (whatever it earned at level 1 is credit, not stake).
            assertLe(
                _verifierStake(absent[i]), dr.verifierOf(absent[i]).tickets * TICKET - absentSeats[i] * TICKET
            );
        }
    }
}

contract LastLevelTest is Votes {
    function setUp() public override {
        super.setUp();
        _moreVerifiers(6, 12);
    }

    /// Escalates a fresh submission to the last level by dissent at every level below it.
    function _toLastLevel(uint256 id) internal {
        for (uint256 level; level < 3; ++level) {
            _draw(id, 0);
            uint256 n = _members(id, 0).length;
            Plan[] memory p = _plans(n, true);
            if (n > 1) p[0].approve = false;
            else p[0].act = 0;
            _play(id, 0, p);
            assertEq(_verification(id, 0).level, level + 1);
        }
    }

    function test_lastLevel_majorityDecidesAtOnceWithoutAppeal() public {
        uint256 id = _submitted(false);
        _toLastLevel(id);
        _draw(id, 0);
        uint256 n = _members(id, 0).length;
        uint256[] memory seats = _seatsOf(id, 0);
        Plan[] memory p = _plans(n, false);
        // A minority approves: the rejecting majority decides, and the task settles in the same call.
        uint256 approving;
        uint256 total = _verification(id, 0).seats;
        for (uint256 i; i < n && (approving + seats[i]) * 2 < total; ++i) {
            p[i].approve = true;
            approving += seats[i];
        }
        _play(id, 0, p);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Open));
        assertEq(_seatCount(), 0, "every seat of every level released");
    }

    function _absentAtTheLastLevel(uint256 id) internal {
        for (uint256 r; r < 3 && _state(id, 0) == T.TaskState.Submitted; ++r) {
            if (_verification(id, 0).phaseEndsAt > vm.getBlockTimestamp()) {
                vm.warp(_verification(id, 0).phaseEndsAt);
            }
            _draw(id, 0);
            if (_state(id, 0) != T.TaskState.Submitted || _verification(id, 0).phase != T.Phase.Commit) {
                continue;
            }
            Plan[] memory p = _plans(_members(id, 0).length, true);
            for (uint256 i; i < p.length; ++i) {
                p[i].act = 0;
            }
            _play(id, 0, p);
        }
    }

    function test_lastLevel_noMajorityIsRedrawnThenTheStandingVerdictDecides() public {
        uint256 id = _submitted(false);
        _toLastLevel(id); // split majorities approved at every level below
        assertEq(uint8(_verification(id, 0).verdict), uint8(T.Verdict.Approve));
        _absentAtTheLastLevel(id);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
        assertEq(_seatCount(), 0);
    }

    function test_lastLevel_noVerdictAnywhereEndsUnverified() public {
        uint256 id = _submitted(false);
        uint256 stakes = _registryStake();
        uint256 treasuryBefore = dr.balanceOf(treasury, address(0));
        for (uint256 level; level < 3; ++level) {
            _draw(id, 0);
            Plan[] memory p = _plans(_members(id, 0).length, true);
            for (uint256 i; i < p.length; ++i) {
                p[i].act = 0;
            }
            _play(id, 0, p);
        }
        _absentAtTheLastLevel(id);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Refunded));
        assertEq(_seatCount(), 0);
        // The bonds of the absent members go to the treasury: neither the worker nor the artist may profit
        // from members missing a phase.
        uint256 forfeited = stakes - _registryStake();
        assertGt(forfeited, 0);
        assertEq(dr.balanceOf(treasury, address(0)) - treasuryBefore, forfeited);
        assertEq(dr.balanceOf(worker, address(0)), 0);
        assertEq(
            dr.balanceOf(artist, address(0)), _escrow(_spec(1, 1, 1, address(0))), "the artist is refunded"
        );
    }

    function _registryStake() internal view returns (uint256 total) {
        for (uint256 i; i < verifiers.length; ++i) {
            total += dr.verifierOf(verifiers[i]).stake;
        }
    }
}

contract AppealTest is Votes {
    function setUp() public override {
        super.setUp();
        _moreVerifiers(2, 10);
    }

    function test_appealVerdict_overturnsAWrongApproval() public {
        uint256 id = _submitted(false);
        _vote(id, 0, true, HONEST_PROOF); // the first committee approves (wrongly, say)
        uint256 bond = dr.appealBond(id, 1);
        assertEq(bond, 7 * APPEAL_BOND);
        vm.deal(verifiers[3], 1 ether);
        vm.prank(verifiers[3]);
        vm.expectRevert(abi.encodeWithSelector(T.WrongBond.selector, bond, bond - 1));
        dr.appealVerdict{value: bond - 1}(id, 0);
        vm.expectEmit(address(dr));
        emit T.VerdictAppealed(id, 0, verifiers[3], 1, false, bond);
        vm.prank(verifiers[3]);
        dr.appealVerdict{value: bond}(id, 0);
        // The larger committee rejects; it decides, and the first committee's approvals are slashed.
        _vote(id, 0, false, HONEST_PROOF);
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Open));
        assertEq(dr.balanceOf(verifiers[3], address(0)) >= bond, true, "the appellant's bond came back");
        assertEq(_seatCount(), 0);
    }

    function test_appealVerdict_failedAppealForfeitsTheBond() public {
        uint256 id = _submitted(false);
        _vote(id, 0, true, HONEST_PROOF);
        uint256 bond = dr.appealBond(id, 1);
        vm.deal(artist, artist.balance + bond);
        vm.prank(artist);
        dr.appealVerdict{value: bond}(id, 0);
        _vote(id, 0, true, HONEST_PROOF);
        vm.recordLogs();
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
        assertEq(dr.balanceOf(artist, address(0)), 0, "the artist's appeal was decided against it");
    }

    /// Two appeals in one verification (levels 1 and 2, each with its bit in the verification slot): each
    /// bond is settled once, by the final verdict — the artist's failed appeal forfeits its bond, the
    /// worker's upheld one comes back — and no record exists at level 0.
    function test_appealVerdict_twoLevelsAreEachSettledOnce() public {
        uint256 id = _submitted(false);
        _vote(id, 0, true, HONEST_PROOF);
        uint256 bond1 = dr.appealBond(id, 1);
        vm.deal(artist, artist.balance + bond1);
        vm.prank(artist);
        dr.appealVerdict{value: bond1}(id, 0);
        _vote(id, 0, false, HONEST_PROOF); // level 1 rejects
        assertEq(uint8(_verification(id, 0).phase), uint8(T.Phase.Appealable));
        uint256 bond2 = dr.appealBond(id, 2);
        vm.deal(worker, worker.balance + bond2);
        vm.prank(worker);
        dr.appealVerdict{value: bond2}(id, 0);
        _vote(id, 0, true, HONEST_PROOF); // level 2 approves
        vm.recordLogs();
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 settled;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] != T.AppealSettled.selector) continue;
            (uint256 level, bool upheld) = abi.decode(logs[i].data, (uint256, bool));
            address appellant = address(uint160(uint256(logs[i].topics[3])));
            if (level == 1) {
                assertEq(appellant, artist);
                assertFalse(upheld, "the artist's appeal lost at level 2");
            } else {
                assertEq(level, 2, "no appeal at level 0");
                assertEq(appellant, worker);
                assertTrue(upheld, "the worker's appeal was upheld");
            }
            ++settled;
        }
        assertEq(settled, 2, "each appeal settled once");
        assertEq(dr.balanceOf(artist, address(0)), 0, "the artist's bond is forfeited");
        assertEq(
            dr.balanceOf(worker, address(0)),
            REWARD - uint256(REWARD) * FEE_BPS / 10_000 + bond2,
            "the worker's reward and its bond"
        );
        assertEq(_seatCount(), 0);
    }

    function test_appealVerdict_requiresStandingAndTheWindow() public {
        uint256 id = _submitted(false);
        vm.deal(stranger, 1 ether);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(T.WrongPhase.selector, id, 0, T.Phase.None));
        dr.appealVerdict{value: 0}(id, 0);
        _vote(id, 0, true, HONEST_PROOF);
        uint256 bond = dr.appealBond(id, 1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(T.NoStanding.selector, stranger));
        dr.appealVerdict{value: bond}(id, 0);
        // A verifier that is leaving has no standing either.
        vm.prank(verifiers[4]);
        dr.leaveVerifiers();
        vm.deal(verifiers[4], 1 ether);
        vm.prank(verifiers[4]);
        vm.expectRevert(abi.encodeWithSelector(T.NoStanding.selector, verifiers[4]));
        dr.appealVerdict{value: bond}(id, 0);
        uint256 endsAt = _verification(id, 0).phaseEndsAt;
        vm.warp(endsAt);
        vm.deal(worker, 1 ether);
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(T.PhaseOver.selector, id, 0, endsAt));
        dr.appealVerdict{value: bond}(id, 0);
    }

    function test_appealVerdict_theWorkerRestoresARejection() public {
        uint256 id = _submitted(false);
        _vote(id, 0, false, HONEST_PROOF);
        uint256 bond = dr.appealBond(id, 1);
        vm.deal(worker, bond);
        vm.prank(worker);
        dr.appealVerdict{value: bond}(id, 0);
        _vote(id, 0, true, HONEST_PROOF);
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
        assertEq(dr.balanceOf(worker, address(0)), REWARD - uint256(REWARD) * FEE_BPS / 10_000 + bond);
    }

    function test_appealVerdict_undecidedAppealReturnsTheBondAndTheVerdictStands() public {
        uint256 id = _submitted(false);
        _vote(id, 0, true, HONEST_PROOF);
        uint256 bond = dr.appealBond(id, 1);
        vm.deal(artist, artist.balance + bond);
        vm.prank(artist);
        dr.appealVerdict{value: bond}(id, 0);
        // Nobody votes at levels 1, 2 and 3 (nor in the redraws): the level-0 verdict stands.
        for (uint256 k; k < 20 && _state(id, 0) == T.TaskState.Submitted; ++k) {
            _pastSeed(id, 0);
            T.VerificationView memory v = _verification(id, 0);
            if (vm.getBlockTimestamp() < v.phaseEndsAt) vm.warp(v.phaseEndsAt);
            dr.drawCommittee(id, 0);
            if (_state(id, 0) == T.TaskState.Submitted && _verification(id, 0).phase == T.Phase.Commit) {
                _finalize(id, 0);
            }
        }
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
        assertEq(dr.balanceOf(artist, address(0)), bond, "the undecided appeal's bond is returned");
    }

    function test_appealVerdict_disputesAnOptimisticResult() public {
        uint256 id = _submitted(true);
        uint256 bond = dr.appealBond(id, 0);
        assertEq(bond, 3 * APPEAL_BOND);
        vm.deal(verifiers[0], 1 ether);
        vm.prank(verifiers[0]);
        dr.appealVerdict{value: bond}(id, 0);
        assertEq(uint8(_verification(id, 0).phase), uint8(T.Phase.AwaitingDraw));
        _vote(id, 0, false, HONEST_PROOF);
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Open));
        assertGe(dr.balanceOf(verifiers[0], address(0)), bond);
    }

    function test_appealVerdict_disputeWindowOfAnOptimisticResult() public {
        uint256 id = _submitted(true);
        uint256 endsAt = vm.getBlockTimestamp() + WINDOW;
        vm.warp(endsAt);
        vm.deal(artist, artist.balance + 1 ether);
        vm.prank(artist);
        vm.expectRevert(abi.encodeWithSelector(T.PhaseOver.selector, id, 0, endsAt));
        dr.appealVerdict{value: 3 * APPEAL_BOND}(id, 0);
    }

    function test_optimistic_disputeThatDecidesNothingIsRefundedNotPaid() public {
        uint256 id = _submitted(true);
        vm.deal(artist, artist.balance + 1 ether);
        vm.prank(artist);
        dr.appealVerdict{value: 3 * APPEAL_BOND}(id, 0);
        for (uint256 k; k < 30 && _state(id, 0) == T.TaskState.Submitted; ++k) {
            _pastSeed(id, 0);
            T.VerificationView memory v = _verification(id, 0);
            if (v.phase == T.Phase.AwaitingDraw) {
                if (vm.getBlockTimestamp() < v.phaseEndsAt) vm.warp(v.phaseEndsAt);
                dr.drawCommittee(id, 0);
            } else {
                _finalize(id, 0);
            }
        }
        // Nobody proved the disputed result right: the artist gets the escrow and its dispute bond back.
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Refunded));
        assertEq(dr.balanceOf(artist, address(0)), uint256(REWARD) + VERIFIER_FEE + 3 * APPEAL_BOND);
        assertEq(dr.stakeOf(worker).locked, 0);
        assertEq(_seatCount(), 0);
    }
}

contract DataChallengeTest is Votes {
    function _challenged(uint256 id) internal returns (address challenger, uint32[] memory cells) {
        _draw(id, 0);
        challenger = _members(id, 0)[0];
        cells = new uint32[](3);
        cells[0] = 2;
        cells[1] = 7;
        cells[2] = 19;
        vm.deal(challenger, 1 ether);
        vm.prank(challenger);
        dr.challengeData{value: CHALLENGE_BOND}(id, 0, 0, cells);
    }

    function _answer(uint256 id, uint32[] memory cells) internal {
        bytes32[] memory all = _cells(0);
        bytes32[] memory hashes = new bytes32[](cells.length);
        bytes32[][] memory proofs = new bytes32[][](cells.length);
        for (uint256 i; i < cells.length; ++i) {
            hashes[i] = all[cells[i]];
            proofs[i] = CellTree.proof(all, cells[i]);
        }
        vm.prank(worker);
        dr.answerChallenge(id, 0, cells, hashes, proofs);
    }

    function test_challengeData_answeredWithProofsResumesTheCommitPhase() public {
        uint256 id = _submitted(false);
        (address challenger, uint32[] memory cells) = _challenged(id);
        T.VerificationView memory v = _verification(id, 0);
        assertEq(uint8(v.phase), uint8(T.Phase.DataChallenge));
        assertTrue(v.challenged);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(T.WrongPhase.selector, id, 0, T.Phase.DataChallenge));
        dr.challengeData{value: 0}(id, 0, 0, cells);
        vm.warp(vm.getBlockTimestamp() + 10);
        _answer(id, cells);
        v = _verification(id, 0);
        assertEq(uint8(v.phase), uint8(T.Phase.Commit));
        assertEq(v.phaseEndsAt, vm.getBlockTimestamp() + WINDOW);
        assertEq(dr.balanceOf(worker, address(0)), CHALLENGE_BOND, "the answerer is paid the bond");
        // Once per draw.
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(T.AlreadyChallenged.selector, id, 0));
        dr.challengeData{value: CHALLENGE_BOND}(id, 0, 0, cells);
        _vote(id, 0, true, HONEST_PROOF);
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
    }

    function test_challengeData_unansweredSlashesTheWorkerAndReopens() public {
        uint256 id = _submitted(false);
        (address challenger,) = _challenged(id);
        uint256 endsAt = _verification(id, 0).phaseEndsAt;
        vm.expectRevert(abi.encodeWithSelector(T.PhaseNotOver.selector, id, 0, endsAt));
        dr.finalizeTask(id, 0);
        vm.warp(endsAt);
        vm.expectEmit(address(dr));
        emit T.TaskRejected(id, 0, worker, 0, T.RejectReason.DataWithheld, STAKE);
        dr.finalizeTask(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Open));
        assertEq(dr.stakeOf(worker).bonded, 10 ether - STAKE);
        assertEq(dr.balanceOf(challenger, address(0)), CHALLENGE_BOND + STAKE / 2);
        assertEq(dr.balanceOf(artist, address(0)), STAKE - STAKE / 2);
        assertEq(_seatCount(), 0, "members released without judgement");
        for (uint256 i; i < verifiers.length; ++i) {
            assertEq(_verifierStake(verifiers[i]), TICKETS * TICKET);
        }
    }

    function test_challengeData_validatesTheChallenge() public {
        uint256 id = _submitted(false);
        uint32[] memory cells = new uint32[](1);
        vm.deal(stranger, 1 ether);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(T.WrongPhase.selector, id, 0, T.Phase.None));
        dr.challengeData{value: CHALLENGE_BOND}(id, 0, 0, cells);
        _draw(id, 0);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(T.NotMember.selector, id, 0, 0, stranger));
        dr.challengeData{value: CHALLENGE_BOND}(id, 0, 0, cells);
        address m0 = _members(id, 0)[0];
        vm.deal(m0, 1 ether);
        vm.startPrank(m0);
        vm.expectRevert(abi.encodeWithSelector(T.BadChallengeCells.selector, 0));
        dr.challengeData{value: CHALLENGE_BOND}(id, 0, 0, new uint32[](0));
        vm.expectRevert(abi.encodeWithSelector(T.BadChallengeCells.selector, 65));
        dr.challengeData{value: CHALLENGE_BOND}(id, 0, 0, new uint32[](65));
        vm.expectRevert(abi.encodeWithSelector(T.WrongBond.selector, CHALLENGE_BOND, 1));
        dr.challengeData{value: 1}(id, 0, 0, cells);
        vm.stopPrank();
    }

    function test_answerChallenge_rejectsOtherCellsAndBadProofs() public {
        uint256 id = _submitted(false);
        vm.expectRevert(abi.encodeWithSelector(T.WrongPhase.selector, id, 0, T.Phase.None));
        dr.answerChallenge(id, 0, new uint32[](0), new bytes32[](0), new bytes32[][](0));
        (, uint32[] memory cells) = _challenged(id);
        bytes32[] memory all = _cells(0);
        bytes32[] memory hashes = new bytes32[](3);
        bytes32[][] memory proofs = new bytes32[][](3);
        for (uint256 i; i < 3; ++i) {
            hashes[i] = all[cells[i]];
            proofs[i] = CellTree.proof(all, cells[i]);
        }
        uint32[] memory other = new uint32[](3);
        other[0] = 2;
        other[1] = 7;
        other[2] = 18;
        vm.expectRevert(T.ChallengeMismatch.selector);
        dr.answerChallenge(id, 0, other, hashes, proofs);
        vm.expectRevert(T.ChallengeMismatch.selector);
        dr.answerChallenge(id, 0, cells, new bytes32[](2), proofs);
        vm.expectRevert(T.ChallengeMismatch.selector);
        dr.answerChallenge(id, 0, cells, hashes, new bytes32[][](2));
        hashes[1] = keccak256("not what was committed");
        vm.expectRevert(abi.encodeWithSelector(T.InvalidCellProof.selector, 1, 7));
        dr.answerChallenge(id, 0, cells, hashes, proofs);
        // A proof of another cell does not stand for this one.
        hashes[1] = all[7];
        proofs[1] = CellTree.proof(all, 6);
        vm.expectRevert(abi.encodeWithSelector(T.InvalidCellProof.selector, 1, 7));
        dr.answerChallenge(id, 0, cells, hashes, proofs);
        vm.warp(vm.getBlockTimestamp() + WINDOW);
        proofs[1] = CellTree.proof(all, 7);
        vm.expectRevert(abi.encodeWithSelector(T.PhaseOver.selector, id, 0, vm.getBlockTimestamp()));
        dr.answerChallenge(id, 0, cells, hashes, proofs);
    }

    function test_acceptTask_duringAChallengeReturnsTheChallengersBond() public {
        uint256 id = _submitted(false);
        (address challenger,) = _challenged(id);
        vm.prank(artist);
        dr.acceptTask(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
        assertEq(dr.balanceOf(challenger, address(0)), CHALLENGE_BOND);
        assertEq(_seatCount(), 0);
    }

    function test_challengeData_zeroStakeJobStillReopens() public {
        T.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.workerStakePerTask = 0;
        uint256 id = _post(s);
        _claimAndSubmit(id, 0);
        (address challenger,) = _challenged(id);
        _finalize(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Open));
        assertEq(dr.balanceOf(challenger, address(0)), CHALLENGE_BOND);
    }
}

contract AcceptDuringVerificationTest is Votes {
    function test_acceptTask_releasesEveryBondWithoutJudgement() public {
        _moreVerifiers(2, 10);
        uint256 id = _submitted(false);
        _vote(id, 0, false, HONEST_PROOF);
        uint256 bond = dr.appealBond(id, 1);
        vm.deal(worker, bond);
        vm.prank(worker);
        dr.appealVerdict{value: bond}(id, 0);
        _draw(id, 0);
        _commit(id, 0, 0, true, HONEST_PROOF);
        vm.prank(artist);
        dr.acceptTask(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Paid));
        assertEq(_seatCount(), 0);
        assertEq(dr.balanceOf(worker, address(0)), REWARD - uint256(REWARD) * FEE_BPS / 10_000 + bond);
        // The members who committed (level 0's, and level 1's first) share the fee: no free verification.
        assertEq(dr.balanceOf(artist, address(0)), 0);
        uint256 paid;
        for (uint256 i; i < verifiers.length; ++i) {
            assertEq(_verifierStake(verifiers[i]), dr.verifierOf(verifiers[i]).tickets * TICKET);
            paid += dr.balanceOf(verifiers[i], address(0));
        }
        assertEq(paid, VERIFIER_FEE);
    }

    function test_acceptTask_beforeAnyCommitRefundsTheFee() public {
        uint256 id = _submitted(false);
        _draw(id, 0);
        vm.prank(artist);
        dr.acceptTask(id, 0);
        assertEq(dr.balanceOf(artist, address(0)), VERIFIER_FEE);
        for (uint256 i; i < verifiers.length; ++i) {
            assertEq(dr.balanceOf(verifiers[i], address(0)), 0);
        }
    }

    /// The artist's attack: let the committee verify, then accept before the verdict to keep the fee. The
    /// members who committed are paid anyway; the artist gains nothing by it.
    function test_attack_acceptAfterTheVotesKeepsNoFee() public {
        uint256 id = _submitted(false);
        (address[] memory members, uint256[] memory seats) = _draw(id, 0);
        for (uint256 i; i < members.length; ++i) {
            _commit(id, 0, i, true, HONEST_PROOF);
        }
        uint256 artistBefore = dr.balanceOf(artist, address(0));
        vm.prank(artist);
        dr.acceptTask(id, 0);
        assertEq(dr.balanceOf(artist, address(0)), artistBefore);
        uint256 total;
        for (uint256 i; i < seats.length; ++i) {
            total += seats[i];
        }
        uint256 paid;
        for (uint256 i; i < members.length; ++i) {
            uint256 got = dr.balanceOf(members[i], address(0));
            // Each member's share is at least its seats' part (the rounding remainder goes to the first).
            assertGe(got, VERIFIER_FEE / total * seats[i]);
            paid += got;
        }
        assertEq(paid, VERIFIER_FEE);
    }
}

contract RegistryTest is Votes {
    function test_registerVerifier_movesFreeStakeIntoTickets() public {
        _stake(stranger, 5 ether);
        vm.expectEmit(address(dr));
        emit T.VerifierRegistered(stranger, 4, 3, 3 ether);
        vm.prank(stranger);
        dr.registerVerifier(3);
        T.VerifierInfo memory info = dr.verifierOf(stranger);
        assertEq(info.id, 4);
        assertEq(info.tickets, 3);
        assertEq(info.capacity, 3);
        assertEq(info.stake, 3 ether);
        assertEq(dr.stakeOf(stranger).bonded, 2 ether);
        // More tickets later, partly paid with the call's value.
        vm.deal(stranger, 1 ether);
        vm.prank(stranger);
        dr.registerVerifier{value: 1 ether}(3);
        assertEq(dr.verifierOf(stranger).tickets, 6);
        assertEq(dr.stakeOf(stranger).bonded, 0);
        (uint256 positions, uint256 active) = dr.registry();
        assertEq(positions, 3 * TICKETS + 6);
        assertEq(active, 3 * TICKETS + 6);
    }

    function test_registerVerifier_reverts() public {
        vm.expectRevert(T.ZeroAmount.selector);
        dr.registerVerifier(0);
        // Stake locked in claims cannot back tickets.
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.prank(worker);
        vm.expectRevert(
            abi.encodeWithSelector(T.InsufficientStake.selector, worker, 10 ether - STAKE, 10 ether)
        );
        dr.registerVerifier(10);
        vm.prank(verifiers[0]);
        dr.leaveVerifiers();
        vm.deal(verifiers[0], 1 ether);
        vm.prank(verifiers[0]);
        vm.expectRevert(abi.encodeWithSelector(T.VerifierLeaving.selector, verifiers[0]));
        dr.registerVerifier{value: 1 ether}(1);
    }

    function test_leaveAndRelease_returnsTheStakeAfterTheDelayAndReusesPositions() public {
        address v = verifiers[0];
        vm.startPrank(v);
        vm.expectRevert(abi.encodeWithSelector(T.NotLeaving.selector, v));
        dr.releaseVerifier();
        vm.expectEmit(address(dr));
        emit T.VerifierLeft(v, TICKETS, vm.getBlockNumber() + 258);
        dr.leaveVerifiers();
        vm.expectRevert(abi.encodeWithSelector(T.VerifierLeaving.selector, v));
        dr.leaveVerifiers();
        vm.expectRevert(abi.encodeWithSelector(T.StillLeaving.selector, vm.getBlockNumber() + 258));
        dr.releaseVerifier();
        vm.roll(vm.getBlockNumber() + 258);
        vm.expectEmit(address(dr));
        emit T.VerifierReleased(v, TICKETS, TICKETS * TICKET);
        dr.releaseVerifier();
        vm.stopPrank();
        assertEq(dr.stakeOf(v).bonded, TICKETS * TICKET);
        assertEq(dr.verifierOf(v).tickets, 0);
        (uint256 positions, uint256 active) = dr.registry();
        assertEq(positions, 3 * TICKETS);
        assertEq(active, 2 * TICKETS);
        // A newcomer takes the freed positions instead of new ones.
        _register(stranger, 2);
        (positions,) = dr.registry();
        assertEq(positions, 3 * TICKETS);
        // And can be drawn.
        uint256 id = _submitted(false);
        _draw(id, 0);
        vm.expectRevert(abi.encodeWithSelector(T.NotRegistered.selector, makeAddr("nobody")));
        vm.prank(makeAddr("nobody"));
        dr.leaveVerifiers();
        // The re-registration of the one that left works after release.
        vm.prank(v);
        dr.registerVerifier(1);
        assertEq(dr.verifierOf(v).tickets, 1);
    }

    function test_releaseVerifier_waitsForHeldSeats() public {
        uint256 id = _submitted(false);
        (address[] memory members,) = _draw(id, 0);
        address m = members[0];
        vm.prank(m);
        dr.leaveVerifiers();
        vm.roll(vm.getBlockNumber() + 258);
        uint256 seats = dr.verifierOf(m).seats;
        vm.prank(m);
        vm.expectRevert(abi.encodeWithSelector(T.SeatsHeld.selector, seats));
        dr.releaseVerifier();
        vm.prank(artist);
        dr.acceptTask(id, 0);
        vm.prank(m);
        dr.releaseVerifier();
    }

    function test_slashedVerifierLosesCapacity() public {
        uint256 id = _submitted(false);
        (address[] memory members, uint256[] memory seats) = _draw(id, 0);
        // Nobody commits at level 0: the task escalates, level 1 decides, level 0's members forfeit.
        _finalize(id, 0);
        _vote(id, 0, true, HONEST_PROOF);
        _finalize(id, 0);
        for (uint256 i; i < members.length; ++i) {
            assertEq(_verifierStake(members[i]), (TICKETS - seats[i]) * TICKET);
            assertEq(dr.verifierOf(members[i]).capacity, TICKETS - seats[i]);
        }
    }
}
