// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DistributedRender} from "../src/DistributedRender.sol";
import {DistributedRenderExtension} from "../src/DistributedRenderExtension.sol";
import {IDistributedRenderTypes} from "../src/interfaces/IDistributedRender.sol";
import {ReentrantReceiver, RejectingReceiver} from "./mocks/Receivers.sol";
import {FeeOnTransferToken, TestToken} from "./mocks/TestToken.sol";
import {Base} from "./utils/Base.sol";
import {CellTree} from "./utils/CellTree.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract ConstructorTest is Base {
    function test_constructor_revertsIfTreasuryZero() public {
        vm.expectRevert(IDistributedRenderTypes.ZeroAddress.selector);
        new DistributedRender(owner, address(0), 0, 1, 1, 1, 1, 1);
    }

    function test_constructor_revertsIfFeeTooHigh() public {
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.FeeTooHigh.selector, 501, 500));
        new DistributedRender(owner, treasury, 501, 1, 1, 1, 1, 1);
    }

    function test_constructor_revertsIfTicketStakeZeroOrAppealBondTooLarge() public {
        vm.expectRevert(IDistributedRenderTypes.ZeroAmount.selector);
        new DistributedRender(owner, treasury, 0, 0, 1, 1, 1, 1);
        vm.expectRevert(IDistributedRenderTypes.ZeroAmount.selector);
        new DistributedRender(owner, treasury, 0, 1, 1, type(uint88).max / 50, 1, 1);
    }

    function test_constructor_revertsIfMinChallengeWindowZeroOrAboveTheLongest() public {
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.BadMinChallengeWindow.selector, 0));
        new DistributedRender(owner, treasury, 0, 1, 1, 1, 1, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRenderTypes.BadMinChallengeWindow.selector, 30 days + 1)
        );
        new DistributedRender(owner, treasury, 0, 1, 1, 1, 1, 30 days + 1);
        assertEq(
            new DistributedRender(owner, treasury, 0, 1, 1, 1, 1, 30 days).MIN_CHALLENGE_WINDOW(), 30 days
        );
    }

    function test_extension_refusesDirectCalls() public {
        DistributedRenderExtension ext = DistributedRenderExtension(dr.EXTENSION());
        vm.deal(stranger, 1 ether);
        vm.prank(stranger);
        vm.expectRevert(IDistributedRenderTypes.NotDelegated.selector);
        ext.stake{value: 1 ether}();
        vm.expectRevert(IDistributedRenderTypes.NotDelegated.selector);
        ext.conclude(1, 0);
    }

    function test_constructor_setsParameters() public view {
        assertEq(dr.owner(), owner);
        assertEq(dr.treasury(), treasury);
        assertEq(dr.protocolFeeBps(), FEE_BPS);
        assertEq(dr.TICKET_STAKE(), TICKET);
        assertEq(dr.UNBONDING_DELAY(), UNBONDING_DELAY);
        assertEq(dr.APPEAL_BOND_PER_SEAT(), APPEAL_BOND);
        assertEq(dr.DATA_CHALLENGE_BOND(), CHALLENGE_BOND);
        (uint256 positions, uint256 active) = dr.registry();
        assertEq(positions, 3 * TICKETS);
        assertEq(active, 3 * TICKETS);
        assertEq(dr.nextJobId(), 1);
        assertFalse(dr.paused());
    }
}

contract SubmitRenderJobTest is Base {
    function test_submitRenderJob_locksEthEscrow() public {
        IDistributedRenderTypes.JobSpec memory spec = _spec(3, 2, 1, address(0));
        uint256 escrow = _escrow(spec);
        vm.expectEmit(address(dr));
        emit IDistributedRenderTypes.JobSubmitted(1, artist, address(0), spec, 6, escrow, FEE_BPS);
        uint256 id = _post(spec);
        assertEq(id, 1);
        assertEq(dr.nextJobId(), 2);
        assertEq(address(dr).balance, escrow + 10 ether * 2 + 3 * TICKETS * TICKET);
        IDistributedRenderTypes.Job memory job = dr.getJob(id);
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
        assertEq(job.quorum, 3);
        assertEq(job.protocolFeeBps, FEE_BPS);
        assertEq(job.deadline, spec.deadline);
        assertEq(uint8(_state(id, 5)), uint8(IDistributedRenderTypes.TaskState.Open));
    }

    function test_submitRenderJob_locksTokenEscrow() public {
        IDistributedRenderTypes.JobSpec memory spec = _spec(2, 1, 1, address(token));
        uint256 before = token.balanceOf(artist);
        uint256 id = _post(spec);
        assertEq(token.balanceOf(address(dr)), _escrow(spec));
        assertEq(token.balanceOf(artist), before - _escrow(spec));
        assertEq(dr.getJob(id).token, address(token));
    }

    function test_submitRenderJob_registersEachTokenOnce() public {
        TestToken other = new TestToken();
        vm.prank(owner);
        dr.setTokenAllowed(address(other), true);
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
        IDistributedRenderTypes.JobSpec memory spec = _spec(2, 1, 1, address(0));
        uint256 escrow = _escrow(spec);
        vm.prank(artist);
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRenderTypes.WrongPayment.selector, escrow, escrow - 1)
        );
        dr.submitRenderJob{value: escrow - 1}(spec);
        vm.prank(artist);
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRenderTypes.WrongPayment.selector, escrow, escrow + 1)
        );
        dr.submitRenderJob{value: escrow + 1}(spec);
    }

    function test_submitRenderJob_revertsIfValueSentWithToken() public {
        IDistributedRenderTypes.JobSpec memory spec = _spec(1, 1, 1, address(token));
        vm.prank(artist);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.WrongPayment.selector, 0, 1));
        dr.submitRenderJob{value: 1}(spec);
    }

    function test_submitRenderJob_revertsIfFeeOnTransferToken() public {
        FeeOnTransferToken fot = new FeeOnTransferToken();
        // Even when the owner allows it by mistake, the balance-delta check refuses it.
        vm.prank(owner);
        dr.setTokenAllowed(address(fot), true);
        fot.mint(artist, 100 ether);
        vm.prank(artist);
        fot.approve(address(dr), type(uint256).max);
        IDistributedRenderTypes.JobSpec memory spec = _spec(1, 1, 1, address(fot));
        uint256 escrow = _escrow(spec);
        vm.prank(artist);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRenderTypes.FeeOnTransferToken.selector,
                address(fot),
                escrow,
                escrow - escrow / 100
            )
        );
        dr.submitRenderJob(spec);
    }

    function test_submitRenderJob_revertsIfTokenHasNoCode() public {
        IDistributedRenderTypes.JobSpec memory spec = _spec(1, 1, 1, makeAddr("not a token"));
        vm.prank(owner);
        dr.setTokenAllowed(spec.token, true);
        vm.prank(artist);
        vm.expectRevert();
        dr.submitRenderJob(spec);
    }

    function test_submitRenderJob_revertsIfAllowanceShort() public {
        IDistributedRenderTypes.JobSpec memory spec = _spec(1, 1, 1, address(token));
        vm.prank(artist);
        token.approve(address(dr), 1);
        vm.prank(artist);
        vm.expectRevert();
        dr.submitRenderJob(spec);
    }

    function test_submitRenderJob_revertsIfPaused() public {
        vm.prank(owner);
        dr.setPaused(true);
        IDistributedRenderTypes.JobSpec memory spec = _spec(1, 1, 1, address(0));
        vm.prank(artist);
        vm.expectRevert(IDistributedRenderTypes.MarketPaused.selector);
        dr.submitRenderJob{value: _escrow(spec)}(spec);
    }

    function test_submitRenderJob_revertsIfFieldInvalid() public {
        IDistributedRenderTypes.JobSpec memory s;

        s = _spec(1, 1, 1, address(0));
        s.sceneCid = "";
        _expectInvalid(s, IDistributedRenderTypes.JobField.SceneCid, 0);
        s = _spec(1, 1, 1, address(0));
        s.rendererId = "";
        _expectInvalid(s, IDistributedRenderTypes.JobField.RendererId, 0);
        s = _spec(1, 1, 1, address(0));
        s.settings.width = 0;
        _expectInvalid(s, IDistributedRenderTypes.JobField.Width, 0);
        s.settings.width = 16_385;
        _expectInvalid(s, IDistributedRenderTypes.JobField.Width, 16_385);
        s = _spec(1, 1, 1, address(0));
        s.settings.height = 0;
        _expectInvalid(s, IDistributedRenderTypes.JobField.Height, 0);
        s.settings.height = 20_000;
        _expectInvalid(s, IDistributedRenderTypes.JobField.Height, 20_000);
        s = _spec(1, 1, 1, address(0));
        s.settings.samplesPerPixel = 0;
        _expectInvalid(s, IDistributedRenderTypes.JobField.SamplesPerPixel, 0);
        s = _spec(0, 1, 1, address(0));
        _expectInvalid(s, IDistributedRenderTypes.JobField.FrameCount, 0);
        s = _spec(1, 0, 1, address(0));
        _expectInvalid(s, IDistributedRenderTypes.JobField.Regions, 0);
        s = _spec(1, 641, 1, address(0));
        _expectInvalid(s, IDistributedRenderTypes.JobField.Regions, 641);
        s = _spec(1, 1, 0, address(0));
        _expectInvalid(s, IDistributedRenderTypes.JobField.Regions, 0);
        s = _spec(1, 1, 361, address(0));
        _expectInvalid(s, IDistributedRenderTypes.JobField.Regions, 361);
        s = _spec(1, 1, 1, address(0));
        s.settings.cellSize = 2;
        _expectInvalid(s, IDistributedRenderTypes.JobField.CellSize, 2);
        s.settings.cellSize = 512;
        _expectInvalid(s, IDistributedRenderTypes.JobField.CellSize, 512);
        s.settings.cellSize = 24;
        _expectInvalid(s, IDistributedRenderTypes.JobField.CellSize, 24);
        s = _spec(1001, 32, 32, address(0));
        _expectInvalid(s, IDistributedRenderTypes.JobField.TaskCount, 1001 * 32 * 32);
        s = _spec(1, 1, 1, address(0));
        s.rewardPerTask = 0;
        _expectInvalid(s, IDistributedRenderTypes.JobField.RewardPerTask, 0);
        s = _spec(1, 1, 1, address(0));
        s.workerStakePerTask = 1 gwei + 1;
        _expectInvalid(s, IDistributedRenderTypes.JobField.WorkerStake, 1 gwei + 1);
        s.workerStakePerTask = uint96(uint256(type(uint48).max) + 1) * 1 gwei;
        _expectInvalid(s, IDistributedRenderTypes.JobField.WorkerStake, s.workerStakePerTask);
        s = _spec(1, 1, 1, address(0));
        s.verifierFeeBps = 10_001;
        _expectInvalid(s, IDistributedRenderTypes.JobField.VerifierFee, 10_001);
        s = _spec(1, 1, 1, address(0));
        s.leaseDuration = 0;
        _expectInvalid(s, IDistributedRenderTypes.JobField.LeaseDuration, 0);
        s.leaseDuration = 30 days + 1;
        _expectInvalid(s, IDistributedRenderTypes.JobField.LeaseDuration, 30 days + 1);
        s = _spec(1, 1, 1, address(0));
        s.deadline = uint32(vm.getBlockTimestamp());
        _expectInvalid(s, IDistributedRenderTypes.JobField.Deadline, vm.getBlockTimestamp());
        s = _spec(1, 1, 1, address(0));
        s.challengeWindow = 0;
        _expectInvalid(s, IDistributedRenderTypes.JobField.ChallengeWindow, 0);
        // Below the deployment's shortest window: members could not act in time and would lose their bonds.
        s.challengeWindow = MIN_WINDOW - 1;
        _expectInvalid(s, IDistributedRenderTypes.JobField.ChallengeWindow, MIN_WINDOW - 1);
        s.challengeWindow = MIN_WINDOW;
        _post(s);
        s.challengeWindow = 30 days + 1;
        _expectInvalid(s, IDistributedRenderTypes.JobField.ChallengeWindow, 30 days + 1);
        // A member's check is bounded: samples per pixel × (bounces + 1) × cell pixels at most 2^28 (65,536 spp
        // at 32 px cells and 3 bounces), and 64 bounces.
        s = _spec(1, 1, 1, address(0));
        s.settings.maxBounces = 3;
        s.settings.samplesPerPixel = 65_537;
        _expectInvalid(s, IDistributedRenderTypes.JobField.SamplesPerPixel, 65_537);
        s.settings.samplesPerPixel = type(uint32).max;
        _expectInvalid(s, IDistributedRenderTypes.JobField.SamplesPerPixel, type(uint32).max);
        s.settings.samplesPerPixel = 65_536;
        s.settings.maxBounces = 4;
        _expectInvalid(s, IDistributedRenderTypes.JobField.SamplesPerPixel, 65_536);
        s.settings.maxBounces = 65;
        _expectInvalid(s, IDistributedRenderTypes.JobField.MaxBounces, 65);
        s.settings.maxBounces = 3;
        _post(s);
        s = _spec(1, 1, 1, address(0));
        s.quorum = 0;
        _expectInvalid(s, IDistributedRenderTypes.JobField.Quorum, 0);
        s.quorum = 8;
        _expectInvalid(s, IDistributedRenderTypes.JobField.Quorum, 8);
        // A job that pays only verified work pays its verifiers: at least 1% of the reward, and not zero.
        s = _spec(1, 1, 1, address(0));
        s.verifierFeeBps = 99;
        _expectInvalid(s, IDistributedRenderTypes.JobField.VerifierFee, 99);
        s.verifierFeeBps = 100;
        s.rewardPerTask = 99;
        _expectInvalid(s, IDistributedRenderTypes.JobField.VerifierFee, 100);
        // An optimistic job may leave verification to disputes alone.
        s.optimistic = true;
        s.verifierFeeBps = 0;
        _post(s);
    }

    function test_submitRenderJob_revertsIfRegistryCannotSupplyTheCommittee() public {
        IDistributedRenderTypes.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.quorum = 7;
        vm.prank(verifiers[0]);
        dr.leaveVerifiers();
        vm.prank(verifiers[1]);
        dr.leaveVerifiers();
        vm.prank(artist);
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRenderTypes.NotEnoughVerifiers.selector, 7, TICKETS)
        );
        dr.submitRenderJob{value: _escrow(s)}(s);
        s.quorum = uint8(TICKETS);
        _post(s);
    }

    function test_submitRenderJob_acceptsZeroStakeAndBoundaryValues() public {
        IDistributedRenderTypes.JobSpec memory s = _spec(1, 640, 360, address(0));
        s.workerStakePerTask = uint96(uint256(type(uint48).max) * 1 gwei);
        s.verifierFeeBps = 10_000;
        s.leaseDuration = 30 days;
        s.rewardPerTask = 1;
        s.settings.cellSize = 4;
        s.quorum = 7;
        s.challengeWindow = 30 days;
        uint256 id = _post(s);
        IDistributedRenderTypes.Job memory job = dr.getJob(id);
        assertEq(job.taskCount, 640 * 360);
        assertEq(job.workerStakePerTask, uint256(type(uint48).max) * 1 gwei);
        assertEq(job.verifierFeePerTask, 1);
        assertEq(job.leaseDuration, 30 days);
        assertEq(job.quorum, 7);
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
        reward = uint96(_bound(reward, 100, 1 ether));
        feeBps = uint16(_bound(feeBps, 100, 10_000));
        IDistributedRenderTypes.JobSpec memory s = _spec(frames, rx, ry, address(token));
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
        emit IDistributedRenderTypes.JobCancelled(id, artist, 3, 3 * perTask);
        vm.prank(artist);
        dr.cancelJob(id);
        assertEq(dr.balanceOf(artist, address(0)), 3 * perTask);
        assertEq(dr.getJob(id).openTasks, 0);
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRenderTypes.TaskState.Refunded));
        assertEq(uint8(_state(id, 1)), uint8(IDistributedRenderTypes.TaskState.Claimed));
        // The claimed task still runs to its end.
        _submit(id, 1, worker);
        _approve(id, 1);
        assertEq(uint8(_state(id, 1)), uint8(IDistributedRenderTypes.TaskState.Paid));
    }

    function test_cancelJob_revertsIfNotArtist() public {
        uint256 id = _postEth(1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.NotArtist.selector, id, stranger));
        dr.cancelJob(id);
    }

    function test_cancelJob_revertsIfAlreadyCancelled() public {
        uint256 id = _postEth(1);
        vm.startPrank(artist);
        dr.cancelJob(id);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.JobAlreadyCancelled.selector, id));
        dr.cancelJob(id);
        vm.stopPrank();
    }

    function test_cancelJob_revertsIfJobNotFound() public {
        vm.prank(artist);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.JobNotFound.selector, 7));
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
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRenderTypes.DeadlineNotReached.selector, id, deadline)
        );
        dr.reclaimOpenTasks(id);
    }

    function test_reclaimOpenTasks_refundsOpenTasksAfterDeadline() public {
        uint256 id = _post(_spec(3, 1, 1, address(token)));
        _claim(id, worker, 0);
        vm.warp(dr.getJob(id).deadline);
        vm.expectEmit(address(dr));
        emit IDistributedRenderTypes.OpenTasksReclaimed(id, artist, 2, 2 * (uint256(REWARD) + VERIFIER_FEE));
        vm.prank(stranger);
        dr.reclaimOpenTasks(id);
        assertEq(dr.balanceOf(artist, address(token)), 2 * (uint256(REWARD) + VERIFIER_FEE));
        // A second call finds nothing more.
        dr.reclaimOpenTasks(id);
        assertEq(dr.balanceOf(artist, address(token)), 2 * (uint256(REWARD) + VERIFIER_FEE));
        assertEq(uint8(_state(id, 1)), uint8(IDistributedRenderTypes.TaskState.Refunded));
        // The expired claim is refunded through reopenExpired.
        dr.reopenExpired(id, _one(0));
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRenderTypes.TaskState.Refunded));
        assertEq(dr.balanceOf(artist, address(token)), 3 * (uint256(REWARD) + VERIFIER_FEE));
    }
}

contract ClaimTasksTest is Base {
    function test_claimTasks_leasesOneTask() public {
        uint256 id = _postEth(2);
        vm.expectEmit(address(dr));
        emit IDistributedRenderTypes.TaskClaimed(id, 1, worker, 1, vm.getBlockTimestamp() + LEASE, STAKE);
        uint256 lease = _claim(id, worker, 1);
        assertEq(lease, 1);
        (IDistributedRenderTypes.TaskState s, address w, uint256 until,,) = dr.getTask(id, 1);
        assertEq(uint8(s), uint8(IDistributedRenderTypes.TaskState.Claimed));
        assertEq(w, worker);
        assertEq(until, vm.getBlockTimestamp() + LEASE);
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
                uint8(
                    claimed
                        ? IDistributedRenderTypes.TaskState.Claimed
                        : IDistributedRenderTypes.TaskState.Open
                )
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
        IDistributedRenderTypes.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.deadline = uint32(vm.getBlockTimestamp() + 10 minutes);
        uint256 id = _post(s);
        _claim(id, worker, 0);
        (,, uint256 until,,) = dr.getTask(id, 0);
        assertEq(until, s.deadline);
    }

    function test_claimTasks_needsNoStakeForZeroStakeJob() public {
        IDistributedRenderTypes.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.workerStakePerTask = 0;
        uint256 id = _post(s);
        _claim(id, stranger, 0);
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRenderTypes.TaskState.Claimed));
    }

    function test_claimTasks_revertsIfPaused() public {
        uint256 id = _postEth(1);
        vm.prank(owner);
        dr.setPaused(true);
        vm.prank(worker);
        vm.expectRevert(IDistributedRenderTypes.MarketPaused.selector);
        dr.claimTasks(id, _one(0));
    }

    function test_claimTasks_revertsIfEmpty() public {
        uint256 id = _postEth(1);
        vm.prank(worker);
        vm.expectRevert(IDistributedRenderTypes.EmptyBatch.selector);
        dr.claimTasks(id, new uint32[](0));
    }

    function test_claimTasks_revertsIfJobNotFound() public {
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.JobNotFound.selector, 99));
        dr.claimTasks(99, _one(0));
    }

    function test_claimTasks_revertsIfCancelled() public {
        uint256 id = _postEth(2);
        vm.prank(artist);
        dr.cancelJob(id);
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.JobAlreadyCancelled.selector, id));
        dr.claimTasks(id, _one(0));
    }

    function test_claimTasks_revertsIfDeadlinePassed() public {
        uint256 id = _postEth(1);
        uint256 deadline = dr.getJob(id).deadline;
        vm.warp(deadline);
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.DeadlinePassed.selector, id, deadline));
        dr.claimTasks(id, _one(0));
    }

    function test_claimTasks_revertsIfOutOfRange() public {
        uint256 id = _postEth(2);
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.TaskOutOfRange.selector, id, 2, 2));
        dr.claimTasks(id, _one(2));
    }

    function test_claimTasks_revertsIfAlreadyClaimed() public {
        uint256 id = _postEth(2);
        _claim(id, worker, 0);
        vm.prank(worker2);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRenderTypes.TaskNotInState.selector,
                id,
                0,
                IDistributedRenderTypes.TaskState.Claimed
            )
        );
        dr.claimTasks(id, _one(0));
    }

    function test_claimTasks_takesARepeatedTaskOnce() public {
        uint256 id = _postEth(20);
        uint32[] memory batch = new uint32[](3);
        batch[0] = 2;
        batch[1] = 12;
        batch[2] = 2;
        vm.recordLogs();
        vm.prank(worker);
        dr.claimTasks(id, batch);
        assertEq(vm.getRecordedLogs().length, 2, "one TaskClaimed per task");
        assertEq(dr.stakeOf(worker).locked, 2 * uint256(STAKE));
        assertEq(dr.getJob(id).openTasks, 18);
    }

    function test_claimTasks_revertsIfStakeTooLow() public {
        uint256 id = _postEth(2);
        _stake(stranger, STAKE);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRenderTypes.InsufficientStake.selector, stranger, STAKE, 2 * uint256(STAKE)
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
            IDistributedRenderTypes.TaskState expected = mask >> i & 1 == 1
                ? IDistributedRenderTypes.TaskState.Claimed
                : IDistributedRenderTypes.TaskState.Open;
            assertEq(uint8(_state(id, i)), uint8(expected));
        }
        assertEq(dr.getJob(id).openTasks, 64 - count);
        assertEq(dr.stakeOf(worker).locked, count * STAKE);
    }
}

contract SubmitResultTest is Base {
    function test_submitResult_commitsOutput() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        bytes32 root = CellTree.root(_cells(0));
        vm.expectEmit(address(dr));
        emit IDistributedRenderTypes.ResultSubmitted(id, 0, worker, 0, CID, root);
        vm.prank(worker);
        dr.submitResult(id, 0, CID, root);
        (IDistributedRenderTypes.TaskState s, address w, uint256 until, uint256 attempt, bytes32 r) =
            dr.getTask(id, 0);
        assertEq(uint8(s), uint8(IDistributedRenderTypes.TaskState.Submitted));
        assertEq(w, worker);
        assertEq(until, 0, "a draw is due: no phase has started");
        assertEq(_verification(id, 0).seedBlock, vm.getBlockNumber() + 1);
        assertEq(attempt, 0);
        assertEq(r, root);
    }

    function test_submitResult_revertsIfZeroRoot() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.prank(worker);
        vm.expectRevert(IDistributedRenderTypes.ZeroCellRoot.selector);
        dr.submitResult(id, 0, CID, bytes32(0));
    }

    function test_submitResult_revertsIfEmptyCid() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.prank(worker);
        vm.expectRevert(IDistributedRenderTypes.EmptyOutputCid.selector);
        dr.submitResult(id, 0, "", bytes32(uint256(1)));
    }

    function test_submitResult_revertsIfNotClaimed() public {
        uint256 id = _postEth(1);
        vm.prank(worker);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRenderTypes.TaskNotInState.selector, id, 0, IDistributedRenderTypes.TaskState.Open
            )
        );
        dr.submitResult(id, 0, CID, bytes32(uint256(1)));
    }

    function test_submitResult_revertsIfOutOfRange() public {
        uint256 id = _postEth(1);
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.TaskOutOfRange.selector, id, 1, 1));
        dr.submitResult(id, 1, CID, bytes32(uint256(1)));
    }

    function test_submitResult_revertsIfJobNotFound() public {
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.JobNotFound.selector, 5));
        dr.submitResult(5, 0, CID, bytes32(uint256(1)));
    }

    function test_submitResult_revertsIfNotClaimant() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.prank(worker2);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.NotClaimant.selector, id, 0, worker2));
        dr.submitResult(id, 0, CID, bytes32(uint256(1)));
    }

    function test_submitResult_revertsIfLeaseExpired() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.warp(vm.getBlockTimestamp() + LEASE);
        vm.prank(worker);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRenderTypes.LeaseExpired.selector, id, 0, vm.getBlockTimestamp()
            )
        );
        dr.submitResult(id, 0, CID, bytes32(uint256(1)));
    }

    function test_submitResult_revertsIfAlreadySubmitted() public {
        uint256 id = _postEth(1);
        _claimAndSubmit(id, 0);
        vm.prank(worker);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRenderTypes.TaskNotInState.selector,
                id,
                0,
                IDistributedRenderTypes.TaskState.Submitted
            )
        );
        dr.submitResult(id, 0, CID, bytes32(uint256(1)));
    }
}

contract ReopenExpiredTest is Base {
    function test_reopenExpired_reopensAndPenalisesLazyWorker() public {
        uint256 id = _postEth(2);
        _claim(id, worker, 0);
        vm.warp(vm.getBlockTimestamp() + LEASE);
        uint256 penalty = uint256(STAKE) * dr.LAZY_PENALTY_BPS() / 10_000;
        vm.expectEmit(address(dr));
        emit IDistributedRenderTypes.TaskReopened(
            id, 0, worker, IDistributedRenderTypes.ReopenReason.LeaseExpired, 1, penalty
        );
        vm.prank(stranger);
        dr.reopenExpired(id, _one(0));
        (IDistributedRenderTypes.TaskState s, address w,, uint256 attempt,) = dr.getTask(id, 0);
        assertEq(uint8(s), uint8(IDistributedRenderTypes.TaskState.Open));
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
            abi.encodeWithSelector(
                IDistributedRenderTypes.LeaseActive.selector, id, 0, vm.getBlockTimestamp() + LEASE
            )
        );
        dr.reopenExpired(id, _one(0));
    }

    function test_reopenExpired_revertsIfNotClaimed() public {
        uint256 id = _postEth(1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRenderTypes.TaskNotInState.selector, id, 0, IDistributedRenderTypes.TaskState.Open
            )
        );
        dr.reopenExpired(id, _one(0));
        _claimAndSubmit(id, 0);
        vm.warp(vm.getBlockTimestamp() + LEASE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRenderTypes.TaskNotInState.selector,
                id,
                0,
                IDistributedRenderTypes.TaskState.Submitted
            )
        );
        dr.reopenExpired(id, _one(0));
    }

    function test_reopenExpired_revertsIfEmpty() public {
        uint256 id = _postEth(1);
        vm.expectRevert(IDistributedRenderTypes.EmptyBatch.selector);
        dr.reopenExpired(id, new uint32[](0));
    }

    function test_reopenExpired_refundsIfCancelled() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.prank(artist);
        dr.cancelJob(id);
        vm.warp(vm.getBlockTimestamp() + LEASE);
        vm.expectEmit(address(dr));
        emit IDistributedRenderTypes.TaskRefunded(
            id, 0, artist, IDistributedRenderTypes.RefundReason.Cancelled, uint256(REWARD) + VERIFIER_FEE
        );
        dr.reopenExpired(id, _one(0));
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRenderTypes.TaskState.Refunded));
        assertEq(dr.getJob(id).openTasks, 0);
    }

    function test_reopenExpired_worksForZeroStakeJob() public {
        IDistributedRenderTypes.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.workerStakePerTask = 0;
        uint256 id = _post(s);
        _claim(id, stranger, 0);
        vm.warp(vm.getBlockTimestamp() + LEASE);
        dr.reopenExpired(id, _one(0));
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRenderTypes.TaskState.Open));
    }
}

contract FinalizeAndAcceptTest is Base {
    function test_finalizeTask_paysOptimisticJobAfterWindow() public {
        IDistributedRenderTypes.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.optimistic = true;
        uint256 id = _post(s);
        _claimAndSubmit(id, 0);
        uint256 endsAt = vm.getBlockTimestamp() + WINDOW;
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.PhaseNotOver.selector, id, 0, endsAt));
        dr.finalizeTask(id, 0);
        vm.warp(endsAt);
        vm.prank(stranger);
        dr.finalizeTask(id, 0);
        uint256 fee = uint256(REWARD) * FEE_BPS / 10_000;
        assertEq(dr.balanceOf(worker, address(0)), REWARD - fee);
        assertEq(dr.balanceOf(artist, address(0)), VERIFIER_FEE);
        assertEq(dr.balanceOf(treasury, address(0)), fee);
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRenderTypes.TaskState.Paid));
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRenderTypes.TaskNotInState.selector, id, 0, IDistributedRenderTypes.TaskState.Paid
            )
        );
        dr.finalizeTask(id, 0);
    }

    function test_finalizeTask_revertsWhileTheFirstDrawIsDue() public {
        uint256 id = _postEth(1);
        _claimAndSubmit(id, 0);
        vm.warp(vm.getBlockTimestamp() + WINDOW);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRenderTypes.WrongPhase.selector, id, 0, IDistributedRenderTypes.Phase.None
            )
        );
        dr.finalizeTask(id, 0);
    }

    function test_finalizeTask_revertsIfNotSubmitted() public {
        uint256 id = _postEth(1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRenderTypes.TaskNotInState.selector, id, 0, IDistributedRenderTypes.TaskState.Open
            )
        );
        dr.finalizeTask(id, 0);
    }

    function test_acceptTask_paysAtOnce() public {
        uint256 id = _postEth(1);
        _claimAndSubmit(id, 0);
        vm.prank(artist);
        dr.acceptTask(id, 0);
        assertEq(uint8(_state(id, 0)), uint8(IDistributedRenderTypes.TaskState.Paid));
        assertEq(dr.balanceOf(artist, address(0)), VERIFIER_FEE);
    }

    function test_acceptTask_revertsIfNotArtist() public {
        uint256 id = _postEth(1);
        _claimAndSubmit(id, 0);
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.NotArtist.selector, id, worker));
        dr.acceptTask(id, 0);
    }

    function test_acceptTask_revertsIfNotSubmitted() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.prank(artist);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRenderTypes.TaskNotInState.selector,
                id,
                0,
                IDistributedRenderTypes.TaskState.Claimed
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
        _approve(id, 1);
        vm.prank(worker);
        dr.withdraw(address(0));
        assertEq(uint8(_state(id, 1)), uint8(IDistributedRenderTypes.TaskState.Paid));
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

contract StakeAndWithdrawTest is Base {
    function test_stake_bondsValue() public {
        vm.deal(stranger, 3 ether);
        vm.expectEmit(address(dr));
        emit IDistributedRenderTypes.Staked(stranger, 3 ether, 3 ether);
        vm.prank(stranger);
        dr.stake{value: 3 ether}();
        assertEq(dr.stakeOf(stranger).bonded, 3 ether);
    }

    function test_stake_revertsIfZero() public {
        vm.expectRevert(IDistributedRenderTypes.ZeroAmount.selector);
        dr.stake();
    }

    function test_unstake_afterDelay() public {
        vm.startPrank(worker);
        dr.requestUnstake(4 ether);
        assertEq(dr.stakeOf(worker).bonded, 6 ether);
        assertEq(dr.stakeOf(worker).unbonding, 4 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRenderTypes.StillUnbonding.selector, T0 + UNBONDING_DELAY)
        );
        dr.withdrawStake();
        vm.warp(T0 + UNBONDING_DELAY);
        uint256 before = worker.balance;
        dr.withdrawStake();
        assertEq(worker.balance - before, 4 ether);
        vm.expectRevert(IDistributedRenderTypes.NothingToWithdraw.selector);
        dr.withdrawStake();
        vm.stopPrank();
    }

    function test_requestUnstake_revertsIfZeroOrLocked() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        vm.startPrank(worker);
        vm.expectRevert(IDistributedRenderTypes.ZeroAmount.selector);
        dr.requestUnstake(0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRenderTypes.InsufficientStake.selector, worker, 10 ether - STAKE, 10 ether
            )
        );
        dr.requestUnstake(10 ether);
        vm.stopPrank();
    }

    function test_withdrawStake_revertsIfReceiverRefuses() public {
        RejectingReceiver r = new RejectingReceiver();
        r.doStake{value: 1 ether}(dr);
        r.doUnstake(dr, 1 ether);
        vm.warp(vm.getBlockTimestamp() + UNBONDING_DELAY);
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRenderTypes.EthTransferFailed.selector, address(r), 1 ether)
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
        emit IDistributedRenderTypes.Withdrawn(worker, address(0), REWARD - fee);
        vm.startPrank(worker);
        dr.withdraw(address(0));
        dr.withdraw(address(token));
        vm.stopPrank();
        assertEq(worker.balance - before, REWARD - fee);
        assertEq(token.balanceOf(worker), REWARD - fee);
        assertEq(dr.balanceOf(worker, address(0)), 0);
    }

    function test_withdraw_revertsIfNothing() public {
        vm.expectRevert(IDistributedRenderTypes.NothingToWithdraw.selector);
        vm.prank(stranger);
        dr.withdraw(address(0));
    }

    function test_withdraw_blocksReentrancy() public {
        ReentrantReceiver attacker = new ReentrantReceiver(dr);
        IDistributedRenderTypes.JobSpec memory s = _spec(2, 1, 1, address(0));
        vm.deal(address(attacker), 10 ether);
        vm.prank(address(attacker));
        uint256 id = dr.submitRenderJob{value: _escrow(s)}(s);
        vm.prank(address(attacker));
        dr.cancelJob(id);
        uint256 credited = dr.balanceOf(address(attacker), address(0));
        vm.expectRevert(
            abi.encodeWithSelector(
                IDistributedRenderTypes.EthTransferFailed.selector, address(attacker), credited
            )
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
        emit IDistributedRenderTypes.PausedSet(true);
        dr.setPaused(true);
        assertTrue(dr.paused());
        dr.setPaused(false);
        vm.expectEmit(address(dr));
        emit IDistributedRenderTypes.ProtocolFeeSet(250);
        dr.setProtocolFee(250);
        assertEq(dr.protocolFeeBps(), 250);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.FeeTooHigh.selector, 501, 500));
        dr.setProtocolFee(501);
        vm.expectEmit(address(dr));
        emit IDistributedRenderTypes.TreasurySet(stranger);
        dr.setTreasury(stranger);
        assertEq(dr.treasury(), stranger);
        vm.expectRevert(IDistributedRenderTypes.ZeroAddress.selector);
        dr.setTreasury(address(0));
        vm.stopPrank();
    }

    function test_views_revertForUnknownJobOrTask() public {
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.JobNotFound.selector, 1));
        dr.getJob(1);
        uint256 id = _postEth(1);
        vm.expectRevert(abi.encodeWithSelector(IDistributedRenderTypes.TaskOutOfRange.selector, id, 1, 1));
        dr.getTask(id, 1);
    }

    function test_cellLeaf_matchesReference() public view {
        bytes32 h = keccak256("data");
        assertEq(dr.cellLeaf(7, h), CellTree.leaf(7, h));
    }
}
