// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DistributedRender} from "../src/DistributedRender.sol";
import {IDistributedRender} from "../src/interfaces/IDistributedRender.sol";
import {ReentrantReceiver, RejectingReceiver} from "./mocks/Receivers.sol";
import {FeeOnTransferToken, TestToken} from "./mocks/TestToken.sol";
import {Base} from "./utils/Base.sol";
import {CellTree} from "./utils/CellTree.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract ConstructorTest is Base {
    function test_constructor_revertsIfTreasuryZero() public {
        vm.expectRevert(IDistributedRender.ZeroAddress.selector);
        new DistributedRender(owner, address(0), 0, 1, 1);
    }

    function test_constructor_revertsIfFeeTooHigh() public {
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.FeeTooHigh.selector, 501, 500));
        new DistributedRender(owner, treasury, 501, 1, 1);
    }

    function test_constructor_setsParameters() public view {
        assertEq(dr.owner(), owner);
        assertEq(dr.treasury(), treasury);
        assertEq(dr.protocolFeeBps(), FEE_BPS);
        assertEq(dr.VERIFIER_MIN_STAKE(), VERIFIER_MIN_STAKE);
        assertEq(dr.UNBONDING_DELAY(), UNBONDING_DELAY);
        assertEq(dr.nextJobId(), 1);
        assertFalse(dr.paused());
    }
}

contract SubmitRenderJobTest is Base {
    function test_submitRenderJob_locksEthEscrow() public {
        IDistributedRender.JobSpec memory spec = _spec(3, 2, 1, address(0));
        uint256 escrow = _escrow(spec);
        vm.expectEmit(address(dr));
        emit IDistributedRender.JobSubmitted(1, artist, address(0), spec, 6, escrow, FEE_BPS);
        uint256 id = _post(spec);
        assertEq(id, 1);
        assertEq(dr.nextJobId(), 2);
        assertEq(address(dr).balance, escrow + 10 ether * 2 + 4 * VERIFIER_MIN_STAKE);
        IDistributedRender.Job memory job = dr.getJob(id);
        assertEq(job.artist, artist);
        assertEq(job.token, address(0));
        assertEq(job.rewardPerTask, REWARD);
        assertEq(job.verifierFeePerTask, VERIFIER_FEE);
        assertEq(job.workerStakePerTask, STAKE);
        assertEq(job.verifierFeeBps, VERIFIER_FEE_BPS);
        assertEq(job.leaseDuration, LEASE);
        assertEq(job.challengeWindow, WINDOW);
        assertFalse(job.optimistic);
        assertFalse(job.cancelled);
        assertEq(job.taskCount, 6);
        assertEq(job.openTasks, 6);
        assertEq(job.quorum, 1);
        assertEq(job.protocolFeeBps, FEE_BPS);
        assertEq(job.deadline, spec.deadline);
        assertEq(uint8(_state(id, 5)), uint8(IDistributedRender.TaskState.Open));
    }

    function test_submitRenderJob_locksTokenEscrow() public {
        IDistributedRender.JobSpec memory spec = _spec(2, 1, 1, address(token));
        uint256 before = token.balanceOf(artist);
        uint256 id = _post(spec);
        assertEq(token.balanceOf(address(dr)), _escrow(spec));
        assertEq(token.balanceOf(artist), before - _escrow(spec));
        assertEq(dr.getJob(id).token, address(token));
    }

    function test_submitRenderJob_registersEachTokenOnce() public {
        TestToken other = new TestToken();
        other.mint(artist, 100 ether);
        vm.prank(artist);
        other.approve(address(dr), type(uint256).max);
        uint256 a = _post(_spec(1, 1, 1, address(token)));
        uint256 b = _post(_spec(1, 1, 1, address(other)));
        uint256 c = _post(_spec(1, 1, 1, address(token)));
        uint256 d = _post(_spec(1, 1, 1, address(0)));
        assertEq(dr.getJob(a).token, address(token));
        assertEq(dr.getJob(b).token, address(other));
        assertEq(dr.getJob(c).token, address(token));
        assertEq(dr.getJob(d).token, address(0));
        // Payouts go out in the job's own token.
        vm.startPrank(artist);
        dr.cancelJob(b);
        dr.withdraw(address(other));
        vm.stopPrank();
        assertEq(other.balanceOf(artist), 100 ether);
    }

    function test_submitRenderJob_revertsIfEthValueWrong() public {
        IDistributedRender.JobSpec memory spec = _spec(2, 1, 1, address(0));
        uint256 escrow = _escrow(spec);
        vm.prank(artist);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.WrongPayment.selector, escrow, escrow - 1));
        dr.submitRenderJob{value: escrow - 1}(spec);
        vm.prank(artist);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.WrongPayment.selector, escrow, escrow + 1));
        dr.submitRenderJob{value: escrow + 1}(spec);
    }

    function test_submitRenderJob_revertsIfValueSentWithToken() public {
        IDistributedRender.JobSpec memory spec = _spec(1, 1, 1, address(token));
        vm.prank(artist);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.WrongPayment.selector, 0, 1));
        dr.submitRenderJob{value: 1}(spec);
    }

    function test_submitRenderJob_revertsIfFeeOnTransferToken() public {
        FeeOnTransferToken fot = new FeeOnTransferToken();
        fot.mint(artist, 100 ether);
        vm.prank(artist);
        fot.approve(address(dr), type(uint256).max);
        IDistributedRender.JobSpec memory spec = _spec(1, 1, 1, address(fot));
        uint256 escrow = _escrow(spec);
        vm.prank(artist);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRender.FeeOnTransferToken.selector, address(fot), escrow, escrow - escrow / 100
            )
        );
        dr.submitRenderJob(spec);
    }

    function test_submitRenderJob_revertsIfTokenHasNoCode() public {
        IDistributedRender.JobSpec memory spec = _spec(1, 1, 1, makeAddr("not a token"));
        vm.prank(artist);
        vm.expectRevert();
        dr.submitRenderJob(spec);
    }

    function test_submitRenderJob_revertsIfAllowanceShort() public {
        IDistributedRender.JobSpec memory spec = _spec(1, 1, 1, address(token));
        vm.prank(artist);
        token.approve(address(dr), 1);
        vm.prank(artist);
        vm.expectRevert();
        dr.submitRenderJob(spec);
    }

    function test_submitRenderJob_revertsIfPaused() public {
        vm.prank(owner);
        dr.setPaused(true);
        IDistributedRender.JobSpec memory spec = _spec(1, 1, 1, address(0));
        vm.prank(artist);
        vm.expectRevert(IDistributedRender.MarketPaused.selector);
        dr.submitRenderJob{value: _escrow(spec)}(spec);
    }

    function _expectInvalid(
        IDistributedRender.JobSpec memory spec,
        IDistributedRender.JobField field,
        uint256 value
    ) internal {
        vm.prank(artist);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.InvalidJobField.selector, field, value));
        dr.submitRenderJob{value: 0}(spec);
    }

    function test_submitRenderJob_revertsIfFieldInvalid() public {
        IDistributedRender.JobSpec memory s;

        s = _spec(1, 1, 1, address(0));
        s.sceneCid = "";
        _expectInvalid(s, IDistributedRender.JobField.SceneCid, 0);
        s = _spec(1, 1, 1, address(0));
        s.rendererId = "";
        _expectInvalid(s, IDistributedRender.JobField.RendererId, 0);
        s = _spec(1, 1, 1, address(0));
        s.settings.width = 0;
        _expectInvalid(s, IDistributedRender.JobField.Width, 0);
        s.settings.width = 16_385;
        _expectInvalid(s, IDistributedRender.JobField.Width, 16_385);
        s = _spec(1, 1, 1, address(0));
        s.settings.height = 0;
        _expectInvalid(s, IDistributedRender.JobField.Height, 0);
        s.settings.height = 20_000;
        _expectInvalid(s, IDistributedRender.JobField.Height, 20_000);
        s = _spec(1, 1, 1, address(0));
        s.settings.samplesPerPixel = 0;
        _expectInvalid(s, IDistributedRender.JobField.SamplesPerPixel, 0);
        s = _spec(0, 1, 1, address(0));
        _expectInvalid(s, IDistributedRender.JobField.FrameCount, 0);
        s = _spec(1, 0, 1, address(0));
        _expectInvalid(s, IDistributedRender.JobField.Regions, 0);
        s = _spec(1, 641, 1, address(0));
        _expectInvalid(s, IDistributedRender.JobField.Regions, 641);
        s = _spec(1, 1, 0, address(0));
        _expectInvalid(s, IDistributedRender.JobField.Regions, 0);
        s = _spec(1, 1, 361, address(0));
        _expectInvalid(s, IDistributedRender.JobField.Regions, 361);
        s = _spec(1, 1, 1, address(0));
        s.settings.cellSize = 2;
        _expectInvalid(s, IDistributedRender.JobField.CellSize, 2);
        s.settings.cellSize = 512;
        _expectInvalid(s, IDistributedRender.JobField.CellSize, 512);
        s.settings.cellSize = 24;
        _expectInvalid(s, IDistributedRender.JobField.CellSize, 24);
        s = _spec(1001, 32, 32, address(0));
        _expectInvalid(s, IDistributedRender.JobField.TaskCount, 1001 * 32 * 32);
        s = _spec(1, 1, 1, address(0));
        s.rewardPerTask = 0;
        _expectInvalid(s, IDistributedRender.JobField.RewardPerTask, 0);
        s = _spec(1, 1, 1, address(0));
        s.workerStakePerTask = 1 gwei + 1;
        _expectInvalid(s, IDistributedRender.JobField.WorkerStake, 1 gwei + 1);
        s.workerStakePerTask = uint96(uint256(type(uint48).max) + 1) * 1 gwei;
        _expectInvalid(s, IDistributedRender.JobField.WorkerStake, s.workerStakePerTask);
        s = _spec(1, 1, 1, address(0));
        s.verifierFeeBps = 10_001;
        _expectInvalid(s, IDistributedRender.JobField.VerifierFee, 10_001);
        s = _spec(1, 1, 1, address(0));
        s.leaseDuration = 0;
        _expectInvalid(s, IDistributedRender.JobField.LeaseDuration, 0);
        s.leaseDuration = 30 days + 1;
        _expectInvalid(s, IDistributedRender.JobField.LeaseDuration, 30 days + 1);
        s = _spec(1, 1, 1, address(0));
        s.deadline = uint32(block.timestamp);
        _expectInvalid(s, IDistributedRender.JobField.Deadline, block.timestamp);
        s = _spec(1, 1, 1, address(0));
        s.challengeWindow = 0;
        _expectInvalid(s, IDistributedRender.JobField.ChallengeWindow, 0);
        s.challengeWindow = 30 days + 1;
        _expectInvalid(s, IDistributedRender.JobField.ChallengeWindow, 30 days + 1);
        s = _spec(1, 1, 1, address(0));
        s.quorum = 0;
        _expectInvalid(s, IDistributedRender.JobField.Quorum, 0);
        s.quorum = 17;
        _expectInvalid(s, IDistributedRender.JobField.Quorum, 17);
    }

    function test_submitRenderJob_acceptsZeroStakeAndBoundaryValues() public {
        IDistributedRender.JobSpec memory s = _spec(1, 640, 360, address(0));
        s.workerStakePerTask = uint96(uint256(type(uint48).max) * 1 gwei);
        s.verifierFeeBps = 10_000;
        s.leaseDuration = 30 days;
        s.rewardPerTask = 1;
        s.settings.cellSize = 4;
        s.quorum = 16;
        s.challengeWindow = 30 days;
        uint256 id = _post(s);
        IDistributedRender.Job memory job = dr.getJob(id);
        assertEq(job.taskCount, 640 * 360);
        assertEq(job.workerStakePerTask, uint256(type(uint48).max) * 1 gwei);
        assertEq(job.verifierFeePerTask, 1);
        assertEq(job.leaseDuration, 30 days);
        assertEq(job.quorum, 16);
    }

    function testFuzz_submitRenderJob_escrowIsTasksTimesPerTask(
        uint32 frames,
        uint32 rx,
        uint32 ry,
        uint96 reward,
        uint16 feeBps
    ) public {
        frames = uint32(_bound(frames, 1, 100));
        rx = uint32(_bound(rx, 1, 10));
        ry = uint32(_bound(ry, 1, 10));
        reward = uint96(_bound(reward, 1, 1 ether));
        feeBps = uint16(_bound(feeBps, 0, 10_000));
        IDistributedRender.JobSpec memory s = _spec(frames, rx, ry, address(token));
        s.rewardPerTask = reward;
        s.verifierFeeBps = feeBps;
        uint256 before = token.balanceOf(address(dr));
        uint256 id = _post(s);
        uint256 tasks = uint256(frames) * rx * ry;
        uint256 fee = uint256(reward) * feeBps / 10_000;
        assertEq(token.balanceOf(address(dr)) - before, tasks * (uint256(reward) + fee));
        assertEq(dr.getJob(id).verifierFeePerTask, fee);
        assertEq(dr.getJob(id).openTasks, tasks);
    }
}

contract CancelAndReclaimTest is Base {
    function test_cancelJob_refundsOpenTasksOnly() public {
        uint256 id = _postEth(4);
        _claim(id, worker, 1);
        uint256 perTask = uint256(REWARD) + VERIFIER_FEE;
        vm.expectEmit(address(dr));
        emit IDistributedRender.JobCancelled(id, artist, 3, 3 * perTask);
        vm.prank(artist);
        dr.cancelJob(id);
        assertEq(dr.balanceOf(artist, address(0)), 3 * perTask);
        assertEq(dr.getJob(id).openTasks, 0);
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRender.TaskState.Refunded));
        assertEq(uint8(_state(id, 1)), uint8(IDistributedRender.TaskState.Claimed));
        // The claimed task still runs to its end.
        _submit(id, 1, worker);
        _approve(id, 1);
        assertEq(uint8(_state(id, 1)), uint8(IDistributedRender.TaskState.Paid));
    }

    function test_cancelJob_revertsIfNotArtist() public {
        uint256 id = _postEth(1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.NotArtist.selector, id, stranger));
        dr.cancelJob(id);
    }

    function test_cancelJob_revertsIfAlreadyCancelled() public {
        uint256 id = _postEth(1);
        vm.startPrank(artist);
        dr.cancelJob(id);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.JobAlreadyCancelled.selector, id));
        dr.cancelJob(id);
        vm.stopPrank();
    }

    function test_cancelJob_revertsIfJobNotFound() public {
        vm.prank(artist);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.JobNotFound.selector, 7));
        dr.cancelJob(7);
    }

    function test_cancelJob_worksWhilePaused() public {
        uint256 id = _postEth(2);
        vm.prank(owner);
        dr.setPaused(true);
        vm.prank(artist);
        dr.cancelJob(id);
        assertEq(dr.balanceOf(artist, address(0)), 2 * (uint256(REWARD) + VERIFIER_FEE));
    }

    function test_reclaimOpenTasks_revertsIfDeadlineNotReached() public {
        uint256 id = _postEth(2);
        uint256 deadline = dr.getJob(id).deadline;
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.DeadlineNotReached.selector, id, deadline));
        dr.reclaimOpenTasks(id);
    }

    function test_reclaimOpenTasks_refundsOpenTasksAfterDeadline() public {
        uint256 id = _post(_spec(3, 1, 1, address(token)));
        _claim(id, worker, 0);
        vm.warp(dr.getJob(id).deadline);
        vm.expectEmit(address(dr));
        emit IDistributedRender.OpenTasksReclaimed(id, artist, 2, 2 * (uint256(REWARD) + VERIFIER_FEE));
        vm.prank(stranger);
        dr.reclaimOpenTasks(id);
        assertEq(dr.balanceOf(artist, address(token)), 2 * (uint256(REWARD) + VERIFIER_FEE));
        // A second call finds nothing more.
        dr.reclaimOpenTasks(id);
        assertEq(dr.balanceOf(artist, address(token)), 2 * (uint256(REWARD) + VERIFIER_FEE));
        assertEq(uint8(_state(id, 1)), uint8(IDistributedRender.TaskState.Refunded));
        // The expired claim is refunded through reopenExpired.
        dr.reopenExpired(id, _one(0));
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRender.TaskState.Refunded));
        assertEq(dr.balanceOf(artist, address(token)), 3 * (uint256(REWARD) + VERIFIER_FEE));
    }
}

contract ClaimTasksTest is Base {
    function test_claimTasks_leasesOneTask() public {
        uint256 id = _postEth(2);
        vm.expectEmit(address(dr));
        emit IDistributedRender.TaskClaimed(id, 1, worker, 1, block.timestamp + LEASE, STAKE);
        uint256 lease = _claim(id, worker, 1);
        assertEq(lease, 1);
        (IDistributedRender.TaskState s, address w, uint256 until,,) = dr.getTask(id, 1);
        assertEq(uint8(s), uint8(IDistributedRender.TaskState.Claimed));
        assertEq(w, worker);
        assertEq(until, block.timestamp + LEASE);
        assertEq(dr.stakeOf(worker).locked, STAKE);
        assertEq(dr.getJob(id).openTasks, 1);
    }

    function test_claimTasks_leasesABatchAcrossWords() public {
        uint256 id = _postEth(40);
        uint32[] memory batch = new uint32[](5);
        batch[0] = 39;
        batch[1] = 3;
        batch[2] = 4;
        batch[3] = 17;
        batch[4] = 5;
        vm.prank(worker);
        dr.claimTasks(id, batch);
        for (uint256 i; i < 40; ++i) {
            bool claimed = i == 39 || i == 3 || i == 4 || i == 17 || i == 5;
            assertEq(
                uint8(_state(id, i)),
                uint8(claimed ? IDistributedRender.TaskState.Claimed : IDistributedRender.TaskState.Open)
            );
        }
        assertEq(dr.stakeOf(worker).locked, 5 * uint256(STAKE));
        assertEq(dr.getJob(id).openTasks, 35);
        // Another worker can claim a neighbour in the same word.
        _claim(id, worker2, 6);
        (, address w,,,) = dr.getTask(id, 6);
        assertEq(w, worker2);
        (, w,,,) = dr.getTask(id, 5);
        assertEq(w, worker);
    }

    function test_claimTasks_capsLeaseAtDeadline() public {
        IDistributedRender.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.deadline = uint32(block.timestamp + 10 minutes);
        uint256 id = _post(s);
        _claim(id, worker, 0);
        (,, uint256 until,,) = dr.getTask(id, 0);
        assertEq(until, s.deadline);
    }

    function test_claimTasks_needsNoStakeForZeroStakeJob() public {
        IDistributedRender.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.workerStakePerTask = 0;
        uint256 id = _post(s);
        _claim(id, stranger, 0);
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRender.TaskState.Claimed));
    }

    function test_claimTasks_revertsIfPaused() public {
        uint256 id = _postEth(1);
        vm.prank(owner);
        dr.setPaused(true);
        vm.prank(worker);
        vm.expectRevert(IDistributedRender.MarketPaused.selector);
        dr.claimTasks(id, _one(0));
    }

    function test_claimTasks_revertsIfEmpty() public {
        uint256 id = _postEth(1);
        vm.prank(worker);
        vm.expectRevert(IDistributedRender.EmptyBatch.selector);
        dr.claimTasks(id, new uint32[](0));
    }

    function test_claimTasks_revertsIfJobNotFound() public {
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.JobNotFound.selector, 99));
        dr.claimTasks(99, _one(0));
    }

    function test_claimTasks_revertsIfCancelled() public {
        uint256 id = _postEth(2);
        vm.prank(artist);
        dr.cancelJob(id);
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.JobAlreadyCancelled.selector, id));
        dr.claimTasks(id, _one(0));
    }

    function test_claimTasks_revertsIfDeadlinePassed() public {
        uint256 id = _postEth(1);
        uint256 deadline = dr.getJob(id).deadline;
        vm.warp(deadline);
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.DeadlinePassed.selector, id, deadline));
        dr.claimTasks(id, _one(0));
    }

    function test_claimTasks_revertsIfOutOfRange() public {
        uint256 id = _postEth(2);
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.TaskOutOfRange.selector, id, 2, 2));
        dr.claimTasks(id, _one(2));
    }

    function test_claimTasks_revertsIfAlreadyClaimed() public {
        uint256 id = _postEth(2);
        _claim(id, worker, 0);
        vm.prank(worker2);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRender.TaskNotInState.selector, id, 0, IDistributedRender.TaskState.Claimed
            )
        );
        dr.claimTasks(id, _one(0));
    }

    function test_claimTasks_revertsIfDuplicateInBatch() public {
        uint256 id = _postEth(20);
        uint32[] memory batch = new uint32[](3);
        batch[0] = 2;
        batch[1] = 12;
        batch[2] = 2;
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.DuplicateTask.selector, id, 2));
        dr.claimTasks(id, batch);
    }

    function test_claimTasks_revertsIfStakeTooLow() public {
        uint256 id = _postEth(2);
        _stake(stranger, STAKE);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRender.InsufficientStake.selector, stranger, STAKE, 2 * uint256(STAKE)
            )
        );
        dr.claimTasks(id, _range(0, 2));
    }

    function testFuzz_claimTasks_anySubsetLeasesExactlyThoseTasks(uint64 mask) public {
        vm.assume(mask != 0);
        uint256 id = _postEth(64);
        uint256 count;
        for (uint256 i; i < 64; ++i) {
            if (mask >> i & 1 == 1) ++count;
        }
        uint32[] memory batch = new uint32[](count);
        uint256 k;
        for (uint256 i; i < 64; ++i) {
            if (mask >> i & 1 == 1) batch[k++] = uint32(i);
        }
        vm.prank(worker);
        dr.claimTasks(id, batch);
        for (uint256 i; i < 64; ++i) {
            IDistributedRender.TaskState expected =
                mask >> i & 1 == 1 ? IDistributedRender.TaskState.Claimed : IDistributedRender.TaskState.Open;
            assertEq(uint8(_state(id, i)), uint8(expected));
        }
        assertEq(dr.getJob(id).openTasks, 64 - count);
        assertEq(dr.stakeOf(worker).locked, count * STAKE);
    }
}

contract SubmitResultTest is Base {
    string internal constant CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";

    function test_submitResult_commitsOutput() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        bytes32 root = CellTree.root(_cells(0));
        vm.expectEmit(address(dr));
        emit IDistributedRender.ResultSubmitted(id, 0, worker, 0, CID, root, block.timestamp + WINDOW);
        vm.prank(worker);
        dr.submitResult(id, 0, CID, root);
        (IDistributedRender.TaskState s, address w, uint256 until, uint256 attempt, bytes32 r) =
            dr.getTask(id, 0);
        assertEq(uint8(s), uint8(IDistributedRender.TaskState.Submitted));
        assertEq(w, worker);
        assertEq(until, block.timestamp + WINDOW);
        assertEq(attempt, 0);
        assertEq(r, root);
    }

    function test_submitResult_revertsIfZeroRoot() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.prank(worker);
        vm.expectRevert(IDistributedRender.ZeroCellRoot.selector);
        dr.submitResult(id, 0, CID, bytes32(0));
    }

    function test_submitResult_revertsIfEmptyCid() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.prank(worker);
        vm.expectRevert(IDistributedRender.EmptyOutputCid.selector);
        dr.submitResult(id, 0, "", bytes32(uint256(1)));
    }

    function test_submitResult_revertsIfNotClaimed() public {
        uint256 id = _postEth(1);
        vm.prank(worker);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRender.TaskNotInState.selector, id, 0, IDistributedRender.TaskState.Open
            )
        );
        dr.submitResult(id, 0, CID, bytes32(uint256(1)));
    }

    function test_submitResult_revertsIfOutOfRange() public {
        uint256 id = _postEth(1);
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.TaskOutOfRange.selector, id, 1, 1));
        dr.submitResult(id, 1, CID, bytes32(uint256(1)));
    }

    function test_submitResult_revertsIfJobNotFound() public {
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.JobNotFound.selector, 5));
        dr.submitResult(5, 0, CID, bytes32(uint256(1)));
    }

    function test_submitResult_revertsIfNotClaimant() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.prank(worker2);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.NotClaimant.selector, id, 0, worker2));
        dr.submitResult(id, 0, CID, bytes32(uint256(1)));
    }

    function test_submitResult_revertsIfLeaseExpired() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.warp(block.timestamp + LEASE);
        vm.prank(worker);
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRender.LeaseExpired.selector, id, 0, block.timestamp)
        );
        dr.submitResult(id, 0, CID, bytes32(uint256(1)));
    }

    function test_submitResult_revertsIfAlreadySubmitted() public {
        uint256 id = _postEth(1);
        _claimAndSubmit(id, 0);
        vm.prank(worker);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRender.TaskNotInState.selector, id, 0, IDistributedRender.TaskState.Submitted
            )
        );
        dr.submitResult(id, 0, CID, bytes32(uint256(1)));
    }
}

contract ReopenExpiredTest is Base {
    function test_reopenExpired_reopensAndPenalisesLazyWorker() public {
        uint256 id = _postEth(2);
        _claim(id, worker, 0);
        vm.warp(block.timestamp + LEASE);
        uint256 penalty = uint256(STAKE) * dr.LAZY_PENALTY_BPS() / 10_000;
        vm.expectEmit(address(dr));
        emit IDistributedRender.TaskReopened(
            id, 0, worker, IDistributedRender.ReopenReason.LeaseExpired, 1, penalty
        );
        vm.prank(stranger);
        dr.reopenExpired(id, _one(0));
        (IDistributedRender.TaskState s, address w,, uint256 attempt,) = dr.getTask(id, 0);
        assertEq(uint8(s), uint8(IDistributedRender.TaskState.Open));
        assertEq(w, address(0));
        assertEq(attempt, 1);
        assertEq(dr.getJob(id).openTasks, 2);
        assertEq(dr.stakeOf(worker).locked, 0);
        assertEq(dr.stakeOf(worker).bonded, 10 ether - penalty);
        assertEq(dr.balanceOf(artist, address(0)), penalty);
        // Another worker takes it and is paid.
        _claim(id, worker2, 0);
        _submit(id, 0, worker2);
        _approve(id, 0);
        assertGt(dr.balanceOf(worker2, address(0)), 0);
    }

    function test_reopenExpired_revertsIfLeaseActive() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRender.LeaseActive.selector, id, 0, block.timestamp + LEASE)
        );
        dr.reopenExpired(id, _one(0));
    }

    function test_reopenExpired_revertsIfNotClaimed() public {
        uint256 id = _postEth(1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRender.TaskNotInState.selector, id, 0, IDistributedRender.TaskState.Open
            )
        );
        dr.reopenExpired(id, _one(0));
        _claimAndSubmit(id, 0);
        vm.warp(block.timestamp + LEASE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRender.TaskNotInState.selector, id, 0, IDistributedRender.TaskState.Submitted
            )
        );
        dr.reopenExpired(id, _one(0));
    }

    function test_reopenExpired_revertsIfEmpty() public {
        uint256 id = _postEth(1);
        vm.expectRevert(IDistributedRender.EmptyBatch.selector);
        dr.reopenExpired(id, new uint32[](0));
    }

    function test_reopenExpired_refundsIfCancelled() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.prank(artist);
        dr.cancelJob(id);
        vm.warp(block.timestamp + LEASE);
        vm.expectEmit(address(dr));
        emit IDistributedRender.TaskRefunded(
            id, 0, artist, IDistributedRender.RefundReason.Cancelled, uint256(REWARD) + VERIFIER_FEE
        );
        dr.reopenExpired(id, _one(0));
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRender.TaskState.Refunded));
        assertEq(dr.getJob(id).openTasks, 0);
    }

    function test_reopenExpired_worksForZeroStakeJob() public {
        IDistributedRender.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.workerStakePerTask = 0;
        uint256 id = _post(s);
        _claim(id, stranger, 0);
        vm.warp(block.timestamp + LEASE);
        dr.reopenExpired(id, _one(0));
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRender.TaskState.Open));
    }
}

contract AttestTest is Base {
    function _postQuorum(uint8 quorum, bool optimistic) internal returns (uint256 id) {
        IDistributedRender.JobSpec memory s = _spec(2, 1, 1, address(token));
        s.quorum = quorum;
        s.optimistic = optimistic;
        id = _post(s);
    }

    function test_attest_approvalPaysWorkerVerifiersAndTreasury() public {
        uint256 id = _postQuorum(3, false);
        _claimAndSubmit(id, 0);
        uint256 fee = uint256(REWARD) * FEE_BPS / 10_000;
        vm.expectEmit(address(dr));
        emit IDistributedRender.TaskPaid(
            id, 0, worker, IDistributedRender.PayReason.Verified, REWARD - fee, fee, VERIFIER_FEE
        );
        vm.prank(stranger);
        dr.attest(id, 0, _bundle(id, 0, true, 3));
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRender.TaskState.Paid));
        assertEq(dr.balanceOf(worker, address(token)), REWARD - fee);
        assertEq(dr.balanceOf(treasury, address(token)), fee);
        uint256 each = VERIFIER_FEE / 3;
        assertEq(dr.balanceOf(verifiers[0], address(token)), VERIFIER_FEE - 2 * each);
        assertEq(dr.balanceOf(verifiers[1], address(token)), each);
        assertEq(dr.balanceOf(verifiers[2], address(token)), each);
        assertEq(dr.stakeOf(worker).locked, 0);
    }

    function test_attest_rejectionSlashesAndReopens() public {
        uint256 id = _postQuorum(2, false);
        _claimAndSubmit(id, 0);
        vm.expectEmit(address(dr));
        emit IDistributedRender.TaskRejected(id, 0, worker, 0, 2, STAKE);
        dr.attest(id, 0, _bundle(id, 0, false, 2));
        (IDistributedRender.TaskState s,,, uint256 attempt,) = dr.getTask(id, 0);
        assertEq(uint8(s), uint8(IDistributedRender.TaskState.Open));
        assertEq(attempt, 1);
        assertEq(dr.stakeOf(worker).bonded, 10 ether - STAKE);
        assertEq(dr.stakeOf(worker).locked, 0);
        assertEq(dr.balanceOf(artist, address(0)), STAKE / 2);
        assertEq(dr.balanceOf(verifiers[0], address(0)) + dr.balanceOf(verifiers[1], address(0)), STAKE / 2);
        assertEq(dr.getJob(id).openTasks, 2);
        // An honest worker re-renders and is paid; the verifier fee is still there for it.
        _claim(id, worker2, 0);
        _submit(id, 0, worker2);
        dr.attest(id, 0, _bundle(id, 0, true, 2));
        assertEq(
            dr.balanceOf(verifiers[0], address(token)) + dr.balanceOf(verifiers[1], address(token)),
            VERIFIER_FEE
        );
    }

    function test_attest_rejectionAfterDeadlineRefunds() public {
        // Submitted one second before the deadline, rejected one second after it: no reopening, a refund.
        uint256 id2 = _postQuorum(1, false);
        vm.warp(dr.getJob(id2).deadline - 10);
        _claim(id2, worker, 0);
        vm.warp(block.timestamp + 9);
        _submit(id2, 0, worker);
        vm.warp(block.timestamp + 1);
        dr.attest(id2, 0, _bundle(id2, 0, false, 1));
        assertEq(uint8(_state(id2, 0)), uint8(IDistributedRender.TaskState.Refunded));
        assertEq(dr.balanceOf(artist, address(token)), uint256(REWARD) + VERIFIER_FEE);
    }

    function test_attest_revertsIfNotSubmitted() public {
        uint256 id = _postQuorum(1, false);
        _claim(id, worker, 0);
        IDistributedRender.SignedAttestation[] memory none = new IDistributedRender.SignedAttestation[](0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRender.TaskNotInState.selector, id, 0, IDistributedRender.TaskState.Claimed
            )
        );
        dr.attest(id, 0, none);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.TaskOutOfRange.selector, id, 9, 2));
        dr.attest(id, 9, none);
    }

    function test_attest_revertsIfWindowClosed() public {
        uint256 id = _postQuorum(1, false);
        _claimAndSubmit(id, 0);
        IDistributedRender.SignedAttestation[] memory b = _bundle(id, 0, true, 1);
        vm.warp(block.timestamp + WINDOW);
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRender.ChallengeWindowClosed.selector, id, 0, block.timestamp)
        );
        dr.attest(id, 0, b);
    }

    function test_attest_revertsIfQuorumNotMet() public {
        uint256 id = _postQuorum(3, false);
        _claimAndSubmit(id, 0);
        IDistributedRender.SignedAttestation[] memory b = _bundle(id, 0, true, 2);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.QuorumNotMet.selector, 2, 3));
        dr.attest(id, 0, b);
    }

    function test_attest_revertsIfAttestationIsAboutSomethingElse() public {
        uint256 id = _postQuorum(1, false);
        _claimAndSubmit(id, 0);
        _claimAndSubmit(id, 1);
        IDistributedRender.SignedAttestation[] memory b = _bundle(id, 0, true, 1);
        // Other task (replay across tasks).
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.AttestationMismatch.selector, 0));
        dr.attest(id, 1, b);
        // Other attempt, root or job.
        b[0].attestation.attempt = 1;
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.AttestationMismatch.selector, 0));
        dr.attest(id, 0, b);
        b = _bundle(id, 0, true, 1);
        b[0].attestation.cellRoot = bytes32(uint256(1));
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.AttestationMismatch.selector, 0));
        dr.attest(id, 0, b);
        uint256 id2 = _postQuorum(1, false);
        _claimAndSubmit(id2, 0);
        b = _bundle(id, 0, true, 1);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.AttestationMismatch.selector, 0));
        dr.attest(id2, 0, b);
    }

    function test_attest_revertsIfVerdictsMixed() public {
        uint256 id = _postQuorum(2, false);
        _claimAndSubmit(id, 0);
        IDistributedRender.SignedAttestation[] memory b = _bundle(id, 0, true, 2);
        IDistributedRender.SignedAttestation[] memory r = _bundle(id, 0, false, 2);
        b[1] = r[1];
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.MixedVerdicts.selector, 1));
        dr.attest(id, 0, b);
    }

    function test_attest_revertsIfSignatureMalformedOrMalleable() public {
        uint256 id = _postQuorum(1, false);
        _claimAndSubmit(id, 0);
        IDistributedRender.SignedAttestation[] memory b = _bundle(id, 0, true, 1);
        bytes memory sig = b[0].signature;
        // 64-byte (compact) form is not accepted.
        b[0].signature = new bytes(64);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.InvalidSignature.selector, 0));
        dr.attest(id, 0, b);
        // The high-s twin of a valid signature is rejected.
        (bytes32 r, bytes32 s, uint8 v) = _split(sig);
        uint256 n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
        b[0].signature = abi.encodePacked(r, bytes32(n - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.InvalidSignature.selector, 0));
        dr.attest(id, 0, b);
    }

    function _split(bytes memory sig) internal pure returns (bytes32 r, bytes32 s, uint8 v) {
        assembly {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
    }

    function test_attest_revertsIfSignersRepeatOrUnsorted() public {
        uint256 id = _postQuorum(2, false);
        _claimAndSubmit(id, 0);
        IDistributedRender.SignedAttestation[] memory b = _bundle(id, 0, true, 2);
        (b[0], b[1]) = (b[1], b[0]);
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRender.SignersNotAscending.selector, 1, verifiers[0])
        );
        dr.attest(id, 0, b);
        b = _bundle(id, 0, true, 2);
        b[1] = b[0];
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRender.SignersNotAscending.selector, 1, verifiers[0])
        );
        dr.attest(id, 0, b);
    }

    function test_attest_revertsIfSignerNotEligible() public {
        uint256 id = _postQuorum(1, false);
        _claimAndSubmit(id, 0);
        IDistributedRender.SignedAttestation[] memory b = _bundle(id, 0, true, 1);
        // An unstaked key.
        (address nobody, uint256 nobodyKey) = makeAddrAndKey("nobody");
        b[0].signature = _sign(nobodyKey, b[0].attestation);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.NotEligibleVerifier.selector, nobody));
        dr.attest(id, 0, b);
        // The worker itself, although staked.
        (address w3, uint256 w3Key) = makeAddrAndKey("worker3");
        _stake(w3, 10 ether);
        uint256 id2 = _postQuorum(1, false);
        _claim(id2, w3, 0);
        _submit(id2, 0, w3);
        b = _bundle(id2, 0, true, 1);
        b[0].signature = _sign(w3Key, b[0].attestation);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.NotEligibleVerifier.selector, w3));
        dr.attest(id2, 0, b);
        // A verifier whose free stake is locked in claims.
        IDistributedRender.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.workerStakePerTask = STAKE;
        uint256 id3 = _post(s);
        vm.prank(verifiers[0]);
        dr.claimTasks(id3, _one(0));
        b = _bundle(id, 0, true, 1);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.NotEligibleVerifier.selector, verifiers[0]));
        dr.attest(id, 0, b);
    }

    function test_attest_revertsIfArtistSigns() public {
        (address a2, uint256 a2Key) = makeAddrAndKey("artist2");
        _stake(a2, VERIFIER_MIN_STAKE);
        vm.deal(a2, 10 ether);
        IDistributedRender.JobSpec memory s = _spec(1, 1, 1, address(0));
        vm.prank(a2);
        uint256 id = dr.submitRenderJob{value: _escrow(s)}(s);
        _claimAndSubmit(id, 0);
        IDistributedRender.SignedAttestation[] memory b = _bundle(id, 0, true, 1);
        b[0].signature = _sign(a2Key, b[0].attestation);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.NotEligibleVerifier.selector, a2));
        dr.attest(id, 0, b);
    }

    function test_attest_revertsIfRejectionProofInvalid() public {
        uint256 id = _postQuorum(1, false);
        _claimAndSubmit(id, 0);
        IDistributedRender.SignedAttestation[] memory b = _bundle(id, 0, false, 1);
        b[0].committedDataHash = keccak256("something else");
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.InvalidCellProof.selector, 0, 2));
        dr.attest(id, 0, b);
        // A valid proof for another cell index does not prove this one.
        b = _bundle(id, 0, false, 1);
        b[0].proof = CellTree.proof(_cells(0), 1);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.InvalidCellProof.selector, 0, 2));
        dr.attest(id, 0, b);
    }

    function test_attest_revertsIfRejectedCellMatches() public {
        uint256 id = _postQuorum(1, false);
        _claimAndSubmit(id, 0);
        IDistributedRender.Attestation memory a = _attestation(id, 0, false);
        a.expectedDataHash = _cells(0)[2];
        IDistributedRender.SignedAttestation[] memory b = new IDistributedRender.SignedAttestation[](1);
        b[0] = IDistributedRender.SignedAttestation({
            attestation: a,
            signature: _sign(verifierKeys[0], a),
            committedDataHash: _cells(0)[2],
            proof: CellTree.proof(_cells(0), 2)
        });
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.CellMatches.selector, 0, 2));
        dr.attest(id, 0, b);
    }

    function test_attest_oldAttestationCannotBeReplayedOnNextAttempt() public {
        uint256 id = _postQuorum(1, false);
        _claimAndSubmit(id, 0);
        IDistributedRender.SignedAttestation[] memory rejection = _bundle(id, 0, false, 1);
        dr.attest(id, 0, rejection);
        _claim(id, worker2, 0);
        _submit(id, 0, worker2); // the same (forged) root again
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.AttestationMismatch.selector, 0));
        dr.attest(id, 0, rejection);
    }

    function test_attest_signatureForAnotherDeploymentOrChainDoesNotCount() public {
        uint256 id = _postQuorum(1, false);
        _claimAndSubmit(id, 0);
        IDistributedRender.Attestation memory a = _attestation(id, 0, true);
        DistributedRender other =
            new DistributedRender(owner, treasury, FEE_BPS, VERIFIER_MIN_STAKE, UNBONDING_DELAY);
        assertTrue(other.attestationDigest(a) != dr.attestationDigest(a));
        uint256 chain = block.chainid;
        bytes32 here = dr.attestationDigest(a);
        vm.chainId(chain + 1);
        assertTrue(dr.attestationDigest(a) != here);
        vm.chainId(chain);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(verifierKeys[0], other.attestationDigest(a));
        IDistributedRender.SignedAttestation[] memory b = _bundle(id, 0, true, 1);
        b[0].signature = abi.encodePacked(r, s, v);
        vm.expectRevert(); // recovers some unrelated, unstaked address
        dr.attest(id, 0, b);
    }

    function testFuzz_attest_feeSplitLeavesNothingBehind(uint8 quorum, uint16 feeBps, uint96 reward) public {
        quorum = uint8(_bound(quorum, 1, 4));
        feeBps = uint16(_bound(feeBps, 0, 10_000));
        reward = uint96(_bound(reward, 1, 100 ether));
        IDistributedRender.JobSpec memory s = _spec(1, 1, 1, address(token));
        s.quorum = quorum;
        s.rewardPerTask = reward;
        s.verifierFeeBps = feeBps;
        uint256 id = _post(s);
        _claimAndSubmit(id, 0);
        dr.attest(id, 0, _bundle(id, 0, true, quorum));
        uint256 total = dr.balanceOf(worker, address(token)) + dr.balanceOf(treasury, address(token));
        for (uint256 i; i < quorum; ++i) {
            total += dr.balanceOf(verifiers[i], address(token));
        }
        assertEq(total, uint256(reward) + uint256(reward) * feeBps / 10_000);
    }

    function testFuzz_attest_rejectionWorksForAnyCellOfAnyTree(uint8 cellCount, uint256 cellIndex) public {
        cellCount = uint8(_bound(cellCount, 1, 40));
        cellIndex = _bound(cellIndex, 0, cellCount - 1);
        bytes32[] memory cells = new bytes32[](cellCount);
        for (uint256 i; i < cellCount; ++i) {
            cells[i] = keccak256(abi.encode(i, cellCount));
        }
        uint256 id = _postQuorum(1, false);
        _claim(id, worker, 0);
        vm.prank(worker);
        dr.submitResult(id, 0, "cid", CellTree.root(cells));
        IDistributedRender.Attestation memory a = _attestation(id, 0, false);
        a.cellIndex = cellIndex;
        IDistributedRender.SignedAttestation[] memory b = new IDistributedRender.SignedAttestation[](1);
        b[0] = IDistributedRender.SignedAttestation({
            attestation: a,
            signature: _sign(verifierKeys[0], a),
            committedDataHash: cells[cellIndex],
            proof: CellTree.proof(cells, cellIndex)
        });
        dr.attest(id, 0, b);
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRender.TaskState.Open));
    }
}

contract FinalizeAndAcceptTest is Base {
    function test_finalizeTask_paysOptimisticJobAfterWindow() public {
        IDistributedRender.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.optimistic = true;
        uint256 id = _post(s);
        _claimAndSubmit(id, 0);
        uint256 endsAt = block.timestamp + WINDOW;
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRender.ChallengeWindowOpen.selector, id, 0, endsAt)
        );
        dr.finalizeTask(id, 0);
        vm.warp(endsAt);
        vm.prank(stranger);
        dr.finalizeTask(id, 0);
        uint256 fee = uint256(REWARD) * FEE_BPS / 10_000;
        assertEq(dr.balanceOf(worker, address(0)), REWARD - fee);
        assertEq(dr.balanceOf(artist, address(0)), VERIFIER_FEE);
        assertEq(dr.balanceOf(treasury, address(0)), fee);
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRender.TaskState.Paid));
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRender.TaskNotInState.selector, id, 0, IDistributedRender.TaskState.Paid
            )
        );
        dr.finalizeTask(id, 0);
    }

    function test_finalizeTask_refundsUnverifiedJobAfterWindow() public {
        uint256 id = _postEth(1);
        _claimAndSubmit(id, 0);
        vm.warp(block.timestamp + WINDOW);
        vm.expectEmit(address(dr));
        emit IDistributedRender.TaskRefunded(
            id, 0, artist, IDistributedRender.RefundReason.Unverified, uint256(REWARD) + VERIFIER_FEE
        );
        dr.finalizeTask(id, 0);
        assertEq(dr.balanceOf(artist, address(0)), uint256(REWARD) + VERIFIER_FEE);
        assertEq(dr.stakeOf(worker).locked, 0);
        assertEq(dr.stakeOf(worker).bonded, 10 ether);
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRender.TaskState.Refunded));
    }

    function test_finalizeTask_revertsIfNotSubmitted() public {
        uint256 id = _postEth(1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRender.TaskNotInState.selector, id, 0, IDistributedRender.TaskState.Open
            )
        );
        dr.finalizeTask(id, 0);
    }

    function test_acceptTask_paysAtOnce() public {
        uint256 id = _postEth(1);
        _claimAndSubmit(id, 0);
        vm.prank(artist);
        dr.acceptTask(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRender.TaskState.Paid));
        assertEq(dr.balanceOf(artist, address(0)), VERIFIER_FEE);
    }

    function test_acceptTask_revertsIfNotArtist() public {
        uint256 id = _postEth(1);
        _claimAndSubmit(id, 0);
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.NotArtist.selector, id, worker));
        dr.acceptTask(id, 0);
    }

    function test_acceptTask_revertsIfNotSubmitted() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.prank(artist);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRender.TaskNotInState.selector, id, 0, IDistributedRender.TaskState.Claimed
            )
        );
        dr.acceptTask(id, 0);
    }

    function test_settlement_worksWhilePaused() public {
        uint256 id = _postEth(2);
        _claimAndSubmit(id, 0);
        _claimAndSubmit(id, 1);
        vm.prank(owner);
        dr.setPaused(true);
        _approve(id, 0);
        vm.warp(block.timestamp + WINDOW);
        dr.finalizeTask(id, 1);
        vm.prank(worker);
        dr.withdraw(address(0));
    }

    function test_feeChangeDoesNotAffectExistingJobs() public {
        uint256 id = _postEth(1);
        vm.prank(owner);
        dr.setProtocolFee(500);
        _claimAndSubmit(id, 0);
        _approve(id, 0);
        assertEq(dr.balanceOf(treasury, address(0)), uint256(REWARD) * FEE_BPS / 10_000);
    }
}

contract EquivocationTest is Base {
    function _pair()
        internal
        returns (IDistributedRender.Attestation memory a, IDistributedRender.Attestation memory b)
    {
        uint256 id = _postEth(1);
        _claimAndSubmit(id, 0);
        a = _attestation(id, 0, true);
        b = _attestation(id, 0, false);
    }

    function test_reportEquivocation_slashesVerifier() public {
        (IDistributedRender.Attestation memory a, IDistributedRender.Attestation memory b) = _pair();
        bytes memory sa = _sign(verifierKeys[1], a);
        bytes memory sb = _sign(verifierKeys[1], b);
        vm.expectEmit(address(dr));
        emit IDistributedRender.VerifierEquivocated(
            verifiers[1], a.jobId, a.taskIndex, stranger, VERIFIER_MIN_STAKE
        );
        vm.prank(stranger);
        dr.reportEquivocation(a, sa, b, sb);
        assertEq(dr.stakeOf(verifiers[1]).bonded, 0);
        assertEq(dr.balanceOf(stranger, address(0)), VERIFIER_MIN_STAKE / 2);
        assertEq(dr.balanceOf(treasury, address(0)), VERIFIER_MIN_STAKE / 2);
        vm.expectRevert(IDistributedRender.NotEquivocation.selector);
        dr.reportEquivocation(a, sa, b, sb);
    }

    function test_reportEquivocation_reachesUnbondingStake() public {
        (IDistributedRender.Attestation memory a, IDistributedRender.Attestation memory b) = _pair();
        vm.prank(verifiers[2]);
        dr.requestUnstake(VERIFIER_MIN_STAKE);
        dr.reportEquivocation(a, _sign(verifierKeys[2], a), b, _sign(verifierKeys[2], b));
        assertEq(dr.stakeOf(verifiers[2]).unbonding, 0);
    }

    function test_reportEquivocation_revertsIfNotConflicting() public {
        (IDistributedRender.Attestation memory a, IDistributedRender.Attestation memory b) = _pair();
        IDistributedRender.Attestation memory c = _attestation(a.jobId, 0, false);
        c.taskIndex = 5;
        bytes memory a0 = _sign(verifierKeys[0], a);
        bytes memory b0 = _sign(verifierKeys[0], b);
        bytes memory b1 = _sign(verifierKeys[1], b);
        bytes memory c0 = _sign(verifierKeys[0], c);
        vm.expectRevert(IDistributedRender.NotEquivocation.selector);
        dr.reportEquivocation(a, a0, a, a0);
        vm.expectRevert(IDistributedRender.NotEquivocation.selector);
        dr.reportEquivocation(a, a0, b, b1);
        vm.expectRevert(IDistributedRender.NotEquivocation.selector);
        dr.reportEquivocation(a, a0, c, c0);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.InvalidSignature.selector, 0));
        dr.reportEquivocation(a, new bytes(3), b, b0);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.InvalidSignature.selector, 1));
        dr.reportEquivocation(a, a0, b, new bytes(3));
    }
}

contract StakeAndWithdrawTest is Base {
    function test_stake_bondsValue() public {
        vm.deal(stranger, 3 ether);
        vm.expectEmit(address(dr));
        emit IDistributedRender.Staked(stranger, 3 ether, 3 ether);
        vm.prank(stranger);
        dr.stake{value: 3 ether}();
        assertEq(dr.stakeOf(stranger).bonded, 3 ether);
    }

    function test_stake_revertsIfZero() public {
        vm.expectRevert(IDistributedRender.ZeroAmount.selector);
        dr.stake();
    }

    function test_unstake_afterDelay() public {
        vm.startPrank(worker);
        dr.requestUnstake(4 ether);
        assertEq(dr.stakeOf(worker).bonded, 6 ether);
        assertEq(dr.stakeOf(worker).unbonding, 4 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRender.StillUnbonding.selector, T0 + UNBONDING_DELAY)
        );
        dr.withdrawStake();
        vm.warp(T0 + UNBONDING_DELAY);
        uint256 before = worker.balance;
        dr.withdrawStake();
        assertEq(worker.balance - before, 4 ether);
        vm.expectRevert(IDistributedRender.NothingToWithdraw.selector);
        dr.withdrawStake();
        vm.stopPrank();
    }

    function test_requestUnstake_revertsIfZeroOrLocked() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.startPrank(worker);
        vm.expectRevert(IDistributedRender.ZeroAmount.selector);
        dr.requestUnstake(0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRender.InsufficientStake.selector, worker, 10 ether - STAKE, 10 ether
            )
        );
        dr.requestUnstake(10 ether);
        vm.stopPrank();
    }

    function test_withdrawStake_revertsIfReceiverRefuses() public {
        RejectingReceiver r = new RejectingReceiver();
        r.doStake{value: 1 ether}(dr);
        r.doUnstake(dr, 1 ether);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRender.EthTransferFailed.selector, address(r), 1 ether)
        );
        r.doWithdrawStake(dr);
        // Nothing was lost: the stake is still there to withdraw later.
        assertEq(dr.stakeOf(address(r)).unbonding, 1 ether);
    }

    function test_withdraw_sendsEthAndTokens() public {
        uint256 id = _postEth(1);
        uint256 tid = _post(_spec(1, 1, 1, address(token)));
        _claimAndSubmit(id, 0);
        _claimAndSubmit(tid, 0);
        _approve(id, 0);
        _approve(tid, 0);
        uint256 fee = uint256(REWARD) * FEE_BPS / 10_000;
        uint256 before = worker.balance;
        vm.expectEmit(address(dr));
        emit IDistributedRender.Withdrawn(worker, address(0), REWARD - fee);
        vm.startPrank(worker);
        dr.withdraw(address(0));
        dr.withdraw(address(token));
        vm.stopPrank();
        assertEq(worker.balance - before, REWARD - fee);
        assertEq(token.balanceOf(worker), REWARD - fee);
        assertEq(dr.balanceOf(worker, address(0)), 0);
    }

    function test_withdraw_revertsIfNothing() public {
        vm.expectRevert(IDistributedRender.NothingToWithdraw.selector);
        vm.prank(stranger);
        dr.withdraw(address(0));
    }

    function test_withdraw_blocksReentrancy() public {
        ReentrantReceiver attacker = new ReentrantReceiver(dr);
        IDistributedRender.JobSpec memory s = _spec(2, 1, 1, address(0));
        vm.deal(address(attacker), 10 ether);
        vm.prank(address(attacker));
        uint256 id = dr.submitRenderJob{value: _escrow(s)}(s);
        vm.prank(address(attacker));
        dr.cancelJob(id);
        uint256 credited = dr.balanceOf(address(attacker), address(0));
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRender.EthTransferFailed.selector, address(attacker), credited)
        );
        attacker.withdrawEth();
        assertEq(dr.balanceOf(address(attacker), address(0)), credited);
    }
}

contract AdminTest is Base {
    function test_admin_onlyOwner() public {
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        dr.setPaused(true);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        dr.setProtocolFee(1);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        dr.setTreasury(stranger);
        vm.stopPrank();
    }

    function test_admin_setsParameters() public {
        vm.startPrank(owner);
        vm.expectEmit(address(dr));
        emit IDistributedRender.PausedSet(true);
        dr.setPaused(true);
        assertTrue(dr.paused());
        dr.setPaused(false);
        vm.expectEmit(address(dr));
        emit IDistributedRender.ProtocolFeeSet(250);
        dr.setProtocolFee(250);
        assertEq(dr.protocolFeeBps(), 250);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.FeeTooHigh.selector, 501, 500));
        dr.setProtocolFee(501);
        vm.expectEmit(address(dr));
        emit IDistributedRender.TreasurySet(stranger);
        dr.setTreasury(stranger);
        assertEq(dr.treasury(), stranger);
        vm.expectRevert(IDistributedRender.ZeroAddress.selector);
        dr.setTreasury(address(0));
        vm.stopPrank();
    }

    function test_views_revertForUnknownJobOrTask() public {
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.JobNotFound.selector, 1));
        dr.getJob(1);
        uint256 id = _postEth(1);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRender.TaskOutOfRange.selector, id, 1, 1));
        dr.getTask(id, 1);
    }

    function test_cellLeaf_matchesReference() public view {
        bytes32 h = keccak256("data");
        assertEq(dr.cellLeaf(7, h), CellTree.leaf(7, h));
    }
}
