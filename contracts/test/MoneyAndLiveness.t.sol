// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDistributedRenderTypes as T} from "../src/interfaces/IDistributedRender.sol";
import {RebasingToken, TestToken, UsdtStyleToken} from "./mocks/TestToken.sol";
import {Base} from "./utils/Base.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Money and liveness against hostile counterparts: payment tokens that are not plain ERC-20s, claims
/// that race or grief, and counters pushed to their ends. Each test plays the case and asserts the right value.
contract MoneyAndLivenessTest is Base {
    uint256 internal constant PER_TASK = uint256(REWARD) + VERIFIER_FEE;

    // ------------------------------------------------------------------------------------------------
    // Tokens: an owner-set allow-list
    // ------------------------------------------------------------------------------------------------

    function test_token_notOnTheAllowListIsRefusedByName() public {
        TestToken other = new TestToken();
        other.mint(artist, 100 ether);
        vm.prank(artist);
        other.approve(address(dr), type(uint256).max);
        assertFalse(dr.isTokenAllowed(address(other)));
        assertTrue(dr.isTokenAllowed(address(0)), "ETH is always allowed");
        assertTrue(dr.isTokenAllowed(address(token)));
        T.JobSpec memory spec = _spec(1, 1, 1, address(other));
        vm.prank(artist);
        vm.expectRevert(abi.encodeWithSelector(T.TokenNotAllowed.selector, address(other)));
        dr.submitRenderJob(spec);
    }

    function test_setTokenAllowed_onlyOwnerAndNeverZero() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        dr.setTokenAllowed(address(token), false);
        vm.prank(owner);
        vm.expectRevert(T.ZeroAddress.selector);
        dr.setTokenAllowed(address(0), true);
        TestToken other = new TestToken();
        vm.expectEmit(address(dr));
        emit T.TokenAllowed(address(other), true);
        vm.prank(owner);
        dr.setTokenAllowed(address(other), true);
        assertTrue(dr.isTokenAllowed(address(other)));
    }

    /// Removing a token stops new jobs in it; the escrow and credits already in it stay payable, so the owner
    /// cannot strand an artist's funds by it. Allowed again, it is accepted again.
    function test_token_removedStopsNewJobsOnlyAndEscrowStaysPayable() public {
        uint256 before = token.balanceOf(artist);
        uint256 id = _post(_spec(3, 1, 1, address(token)));
        vm.expectEmit(address(dr));
        emit T.TokenAllowed(address(token), false);
        vm.prank(owner);
        dr.setTokenAllowed(address(token), false);
        assertFalse(dr.isTokenAllowed(address(token)));

        T.JobSpec memory again = _spec(1, 1, 1, address(token));
        vm.prank(artist);
        vm.expectRevert(abi.encodeWithSelector(T.TokenNotAllowed.selector, address(token)));
        dr.submitRenderJob(again);

        // The job runs on: a task is paid in the token, the rest refunded, everything withdrawn.
        _claimAndSubmit(id, 0);
        vm.prank(artist);
        dr.acceptTask(id, 0);
        vm.prank(artist);
        dr.cancelJob(id);
        vm.prank(worker);
        dr.withdraw(address(token));
        vm.prank(artist);
        dr.withdraw(address(token));
        vm.prank(treasury);
        dr.withdraw(address(token));
        // Paid: one reward. Back: two tasks' escrow, and the accepted task's verifier fee (nobody voted).
        assertEq(token.balanceOf(artist), before - REWARD, "two tasks and the unused fee came back");
        assertEq(token.balanceOf(address(dr)), 0, "nothing left in the market");

        vm.prank(owner);
        dr.setTokenAllowed(address(token), true);
        uint256 later = _post(_spec(1, 1, 1, address(token)));
        assertEq(dr.getJob(later).token, address(token));
    }

    /// A USDT-style token (no return values; approve only from zero) escrows, pays and refunds like any other.
    function test_token_usdtStyleEscrowsPaysAndRefunds() public {
        UsdtStyleToken usdt = new UsdtStyleToken();
        vm.prank(owner);
        dr.setTokenAllowed(address(usdt), true);
        usdt.mint(artist, 1000 ether);
        vm.startPrank(artist);
        usdt.approve(address(dr), 1);
        // What a naive client hits: a second non-zero approve reverts; it must go through zero.
        vm.expectRevert(bytes("approve from non-zero to non-zero"));
        usdt.approve(address(dr), 10 ether);
        usdt.approve(address(dr), 0);
        usdt.approve(address(dr), 10 ether);
        vm.stopPrank();

        uint256 id = _post(_spec(2, 1, 1, address(usdt)));
        assertEq(usdt.balanceOf(address(dr)), 2 * PER_TASK);
        _claimAndSubmit(id, 0);
        vm.prank(artist);
        dr.acceptTask(id, 0);
        vm.prank(artist);
        dr.cancelJob(id);
        uint256 fee = uint256(REWARD) * FEE_BPS / 10_000;
        vm.prank(worker);
        dr.withdraw(address(usdt));
        assertEq(usdt.balanceOf(worker), REWARD - fee, "reward less the protocol fee");
        vm.prank(artist);
        dr.withdraw(address(usdt));
        assertEq(
            usdt.balanceOf(artist), 1000 ether - REWARD, "the cancelled task and the unused fee came back"
        );
        vm.prank(treasury);
        dr.withdraw(address(usdt));
        assertEq(usdt.balanceOf(address(dr)), 0, "nothing left in the market");
    }

    /// A rebasing token is refused. Why it must be: allowed by mistake, a 10% negative rebase leaves the market
    /// holding less than it owes, and the last artist to withdraw cannot.
    function test_token_rebasingIsRefusedAndWouldStrandTheLastArtist() public {
        RebasingToken reb = new RebasingToken();
        reb.mint(artist, 100 ether);
        vm.prank(artist);
        reb.approve(address(dr), type(uint256).max);
        T.JobSpec memory spec = _spec(2, 1, 1, address(reb));
        vm.prank(artist);
        vm.expectRevert(abi.encodeWithSelector(T.TokenNotAllowed.selector, address(reb)));
        dr.submitRenderJob(spec);

        vm.prank(owner);
        dr.setTokenAllowed(address(reb), true);
        uint256 id = _post(spec);
        reb.rebase(-1000);
        vm.prank(artist);
        dr.cancelJob(id);
        assertEq(dr.balanceOf(artist, address(reb)), 2 * PER_TASK);
        assertLt(reb.balanceOf(address(dr)), 2 * PER_TASK, "the market holds less than it owes");
        vm.prank(artist);
        vm.expectRevert();
        dr.withdraw(address(reb));
    }

    // ------------------------------------------------------------------------------------------------
    // Claims: a batch takes what is still open
    // ------------------------------------------------------------------------------------------------

    /// One task taken ahead of a 16-task batch no longer sinks it: the batch takes the other fifteen.
    function test_claim_batchTakesWhatIsStillOpen() public {
        uint256 id = _postEth(16);
        _claim(id, worker2, 5);
        vm.recordLogs();
        vm.prank(worker);
        uint256 lease = dr.claimTasks(id, _range(0, 16));
        assertEq(vm.getRecordedLogs().length, 15, "one TaskClaimed per task leased");
        assertEq(dr.stakeOf(worker).locked, 15 * uint256(STAKE), "stake locked for what was leased");
        assertEq(dr.getJob(id).openTasks, 0);
        (, address w5,,,) = dr.getTask(id, 5);
        assertEq(w5, worker2, "the task taken first stays taken");
        (, address w6,,,) = dr.getTask(id, 6);
        assertEq(w6, worker);
        assertEq(lease, 2);
    }

    /// A batch of which nothing is open reverts, naming its first task's state.
    function test_claim_batchWithNothingOpenRevertsNamingTheFirstTask() public {
        uint256 id = _postEth(4);
        vm.prank(worker2);
        dr.claimTasks(id, _range(0, 4));
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(T.TaskNotInState.selector, id, 2, T.TaskState.Claimed));
        dr.claimTasks(id, _range(2, 2));
        assertEq(dr.stakeOf(worker).locked, 0);
        uint32[] memory bad = _range(3, 2);
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(T.TaskOutOfRange.selector, id, 4, 4));
        dr.claimTasks(id, bad);
    }

    // ------------------------------------------------------------------------------------------------
    // Griefing: ending leases costs what taking them cost
    // ------------------------------------------------------------------------------------------------

    /// With zero stake, one account claims 799 of 800 tasks and lets the deadline pass. The artist gets the
    /// whole escrow back with two calls, and ending the 799 leases costs about the gas taking them did.
    function test_griefing_claimEverythingIsUndoneAsCheaplyAsItWasDone() public {
        T.JobSpec memory spec = _spec(800, 1, 1, address(0));
        spec.workerStakePerTask = 0;
        uint256 id = _post(spec);
        uint32[] memory all = _range(0, 799);
        vm.prank(stranger);
        uint256 g = gasleft();
        dr.claimTasks(id, all);
        uint256 claimGas = g - gasleft();

        vm.warp(spec.deadline);
        dr.reclaimOpenTasks(id);
        g = gasleft();
        dr.reopenExpired(id, all);
        uint256 reclaimGas = g - gasleft();
        emit log_named_uint("claim 799 tasks, gas", claimGas);
        emit log_named_uint("end 799 leases, gas", reclaimGas);
        // Within 5% (isolated transactions, contracts/gas: 6,403 gas a task against 6,351).
        assertLe(reclaimGas, claimGas * 105 / 100, "ending the leases costs more than taking them");

        assertEq(dr.balanceOf(artist, address(0)), 800 * PER_TASK, "the whole escrow is back");
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Refunded));
        assertEq(uint8(_state(id, 798)), uint8(T.TaskState.Refunded));
        assertEq(uint8(_state(id, 799)), uint8(T.TaskState.Refunded));
        vm.expectRevert(abi.encodeWithSelector(T.TaskNotInState.selector, id, 7, T.TaskState.Refunded));
        dr.reopenExpired(id, _one(7));
    }

    /// Past the deadline, a batch skips the tasks that cannot be ended (one ended by someone else first, one
    /// never leased, one submitted) and ends the rest: nobody can sink the artist's reclaim by ending one task.
    function test_reopenExpired_pastTheDeadlineSkipsWhatCannotBeEnded() public {
        T.JobSpec memory spec = _spec(6, 1, 1, address(0));
        uint256 id = _post(spec);
        vm.prank(worker);
        dr.claimTasks(id, _range(0, 4));
        _submit(id, 3, worker);
        vm.warp(spec.deadline);
        dr.reopenExpired(id, _one(1));
        uint256 before = dr.balanceOf(artist, address(0));
        vm.recordLogs();
        dr.reopenExpired(id, _range(0, 6));
        uint256 penalty = uint256(STAKE) * dr.LAZY_PENALTY_BPS() / 10_000;
        // Tasks 0 and 2 ended here: two TaskRefunded, one StakeSlashed, two credits (escrow, penalties).
        assertEq(vm.getRecordedLogs().length, 5);
        assertEq(dr.balanceOf(artist, address(0)) - before, 2 * PER_TASK + 2 * penalty);
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Refunded));
        assertEq(uint8(_state(id, 2)), uint8(T.TaskState.Refunded));
        assertEq(uint8(_state(id, 3)), uint8(T.TaskState.Submitted));
        assertEq(uint8(_state(id, 4)), uint8(T.TaskState.Open), "never leased: reclaimOpenTasks refunds it");
        vm.expectRevert(abi.encodeWithSelector(T.TaskNotInState.selector, id, 4, T.TaskState.Open));
        dr.reopenExpired(id, _range(4, 2));
    }

    /// Past the deadline, leases of several workers end in one call: each worker's stake is unlocked and its
    /// lazy penalty slashed once per run of its tasks, and the artist is credited escrow and penalties.
    function test_reopenExpired_pastTheDeadlineEndsEveryLeaseInOneCall() public {
        T.JobSpec memory spec = _spec(5, 1, 1, address(0));
        uint256 id = _post(spec);
        vm.prank(worker);
        dr.claimTasks(id, _range(0, 3));
        vm.prank(worker2);
        dr.claimTasks(id, _range(3, 2));
        uint256 bonded = dr.stakeOf(worker).bonded;
        uint256 bonded2 = dr.stakeOf(worker2).bonded;
        uint32[] memory mixed = new uint32[](5);
        (mixed[0], mixed[1], mixed[2], mixed[3], mixed[4]) = (0, 3, 1, 4, 2);

        vm.warp(spec.deadline);
        vm.expectEmit(address(dr));
        emit T.TaskRefunded(id, 0, artist, T.RefundReason.DeadlinePassed, PER_TASK);
        dr.reopenExpired(id, mixed);
        uint256 penalty = uint256(STAKE) * dr.LAZY_PENALTY_BPS() / 10_000;
        assertEq(dr.stakeOf(worker).locked, 0);
        assertEq(dr.stakeOf(worker2).locked, 0);
        assertEq(dr.stakeOf(worker).bonded, bonded - 3 * penalty);
        assertEq(dr.stakeOf(worker2).bonded, bonded2 - 2 * penalty);
        assertEq(dr.balanceOf(artist, address(0)), 5 * PER_TASK + 5 * penalty);
        for (uint256 t; t < 5; ++t) {
            assertEq(uint8(_state(id, t)), uint8(T.TaskState.Refunded));
        }
    }

    /// A cancelled job's leases run on until they expire, and are then refunded (as cancelled), not reopened.
    function test_reopenExpired_cancelledJobRefundsExpiredLeasesOnly() public {
        uint256 id = _postEth(2);
        _claim(id, worker, 0);
        (,, uint256 until,,) = dr.getTask(id, 0);
        vm.prank(artist);
        dr.cancelJob(id);
        vm.expectRevert(abi.encodeWithSelector(T.LeaseActive.selector, id, 0, until));
        dr.reopenExpired(id, _one(0));
        vm.warp(until);
        vm.expectEmit(address(dr));
        emit T.TaskRefunded(id, 0, artist, T.RefundReason.Cancelled, PER_TASK);
        dr.reopenExpired(id, _one(0));
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Refunded));
        assertEq(dr.stakeOf(worker).locked, 0);
    }

    /// Past the deadline a batch naming a task the job does not have reverts by name, even after tasks it
    /// could end.
    function test_reopenExpired_pastTheDeadlineRejectsAnIndexOutOfRange() public {
        uint256 id = _postEth(2);
        _claim(id, worker, 0);
        vm.warp(dr.getJob(id).deadline);
        uint32[] memory batch = new uint32[](2);
        (batch[0], batch[1]) = (0, 2);
        vm.expectRevert(abi.encodeWithSelector(T.TaskOutOfRange.selector, id, 2, 2));
        dr.reopenExpired(id, batch);
    }

    // ------------------------------------------------------------------------------------------------
    // Counters at their ends
    // ------------------------------------------------------------------------------------------------

    /// After 65,535 attempts the next reopen ends the task with a refund instead of reverting (which locked
    /// the escrow for ever, even past the deadline).
    function test_attempts_theLastReopenEndsTheTaskAndRefundsIt() public {
        uint256 id = _postEth(2);
        _claim(id, worker, 0);
        // The task's submission slot: (cellRoot; worker | submitted << 160 | attempt << 232 | status << 248).
        bytes32 slot =
            bytes32(uint256(keccak256(abi.encode(uint256(0), keccak256(abi.encode(id, uint256(9)))))) + 1);
        uint256 word = uint256(vm.load(address(dr), slot));
        vm.store(
            address(dr),
            slot,
            bytes32((word & ~(uint256(0xffff) << 232)) | (uint256(type(uint16).max) << 232))
        );
        (,,, uint256 attempt,) = dr.getTask(id, 0);
        assertEq(attempt, type(uint16).max);

        (,, uint256 until,,) = dr.getTask(id, 0);
        vm.warp(until);
        vm.expectEmit(address(dr));
        emit T.TaskRefunded(id, 0, artist, T.RefundReason.AttemptsExhausted, PER_TASK);
        dr.reopenExpired(id, _one(0));
        assertEq(uint8(_state(id, 0)), uint8(T.TaskState.Refunded));
        // The escrow, and the lazy penalty of the lease that expired.
        assertEq(dr.balanceOf(artist, address(0)), PER_TASK + uint256(STAKE) * dr.LAZY_PENALTY_BPS() / 10_000);
        assertEq(dr.getJob(id).openTasks, 1, "the task did not come back as open");
        // And no claim takes the refunded task again (it would spend the other task's place in openTasks).
        vm.prank(worker2);
        vm.expectRevert(abi.encodeWithSelector(T.TaskNotInState.selector, id, 0, T.TaskState.Refunded));
        dr.claimTasks(id, _one(0));
        _claim(id, worker2, 1);
        assertEq(dr.getJob(id).openTasks, 0);
    }

    /// Lease ids stop below the end marker: the last id is issued, the next claim is refused by name, and the
    /// open tasks are still reclaimed at the deadline.
    function test_leaseIds_exhaustedStopsClaimsButNotRefunds() public {
        uint256 id = _postEth(2);
        // Config (slot 2): nextJobId (64 bits), then nextLeaseId (32 bits).
        bytes32 slot = bytes32(uint256(2));
        uint256 word = uint256(vm.load(address(dr), slot));
        uint256 last = type(uint32).max - 1;
        vm.store(address(dr), slot, bytes32((word & ~(uint256(0xffffffff) << 64)) | (last << 64)));
        assertEq(_claim(id, worker, 0), last);
        vm.prank(worker);
        vm.expectRevert(T.LeaseIdsExhausted.selector);
        dr.claimTasks(id, _one(1));
        (, address w,,,) = dr.getTask(id, 0);
        assertEq(w, worker, "the last lease is a lease like any other");

        vm.warp(vm.getBlockTimestamp() + 2 days);
        dr.reclaimOpenTasks(id);
        dr.reopenExpired(id, _one(0));
        assertEq(
            dr.balanceOf(artist, address(0)), 2 * PER_TASK + uint256(STAKE) * dr.LAZY_PENALTY_BPS() / 10_000
        );
    }
}
