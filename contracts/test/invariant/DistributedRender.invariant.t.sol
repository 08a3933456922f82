// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DistributedRender} from "../../src/DistributedRender.sol";
import {IDistributedRender} from "../../src/interfaces/IDistributedRender.sol";
import {TestToken} from "../mocks/TestToken.sol";
import {Handler} from "./Handler.sol";
import {Test} from "forge-std/Test.sol";

/// @notice The laws of the market's money, checked after every step of random action sequences
/// (foundry.toml: runs = 128, depth = 100).
contract DistributedRenderInvariantTest is Test {
    DistributedRender internal dr;
    TestToken internal token;
    Handler internal handler;
    address internal treasury = makeAddr("treasury");

    function setUp() public {
        vm.warp(1_700_000_000);
        dr = new DistributedRender(address(this), treasury, 250, 1 ether, 7 days);
        token = new TestToken();
        handler = new Handler(dr, token, treasury);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](16);
        selectors[0] = Handler.postJob.selector;
        selectors[1] = Handler.claim.selector;
        selectors[2] = Handler.submit.selector;
        selectors[3] = Handler.approve.selector;
        selectors[4] = Handler.reject.selector;
        selectors[5] = Handler.accept.selector;
        selectors[6] = Handler.finalize.selector;
        selectors[7] = Handler.reopen.selector;
        selectors[8] = Handler.cancel.selector;
        selectors[9] = Handler.reclaim.selector;
        selectors[10] = Handler.withdraw.selector;
        selectors[11] = Handler.unstake.selector;
        selectors[12] = Handler.withdrawStake.selector;
        selectors[13] = Handler.restake.selector;
        selectors[14] = Handler.equivocate.selector;
        selectors[15] = Handler.warp.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// Escrow still held for tasks that are open, claimed or submitted, in `tok`.
    function _escrowHeld(address tok) internal view returns (uint256 held) {
        for (uint256 j; j < handler.jobCount(); ++j) {
            uint256 id = handler.jobIds(j);
            IDistributedRender.Job memory job = dr.getJob(id);
            if (job.token != tok) continue;
            for (uint256 t; t < job.taskCount; ++t) {
                (IDistributedRender.TaskState s,,,,) = dr.getTask(id, t);
                if (
                    s == IDistributedRender.TaskState.Open || s == IDistributedRender.TaskState.Claimed
                        || s == IDistributedRender.TaskState.Submitted
                ) held += uint256(job.rewardPerTask) + job.verifierFeePerTask;
            }
        }
    }

    function _credits(address tok) internal view returns (uint256 sum) {
        address[] memory all = handler.accounts();
        for (uint256 i; i < all.length; ++i) {
            sum += dr.balanceOf(all[i], tok);
        }
    }

    function _stakes() internal view returns (uint256 sum) {
        address[] memory all = handler.accounts();
        for (uint256 i; i < all.length; ++i) {
            IDistributedRender.StakeAccount memory a = dr.stakeOf(all[i]);
            sum += uint256(a.bonded) + a.unbonding;
        }
    }

    function invariant_ethBalanceEqualsEscrowPlusCreditsPlusStakes() public view {
        assertEq(address(dr).balance, _escrowHeld(address(0)) + _credits(address(0)) + _stakes());
    }

    function invariant_tokenBalanceEqualsEscrowPlusCredits() public view {
        assertEq(token.balanceOf(address(dr)), _escrowHeld(address(token)) + _credits(address(token)));
    }

    function invariant_noTaskPaidTwice() public view {
        for (uint256 j; j < handler.jobCount(); ++j) {
            uint256 id = handler.jobIds(j);
            uint256 count = dr.getJob(id).taskCount;
            for (uint256 t; t < count; ++t) {
                uint256 paid = handler.ghostTimesPaid(id, t);
                assertLe(paid, 1, "task paid twice");
                (IDistributedRender.TaskState s,,,,) = dr.getTask(id, t);
                assertEq(
                    paid == 1, s == IDistributedRender.TaskState.Paid, "paid state and payments disagree"
                );
            }
        }
    }

    function invariant_onlyAllowedTransitions() public view {
        assertEq(handler.ghostBadTransitions(), 0);
    }

    function invariant_lockedStakeMatchesLiveClaims() public view {
        for (uint256 w; w < 3; ++w) {
            address worker = handler.workers(w);
            uint256 expected;
            for (uint256 j; j < handler.jobCount(); ++j) {
                uint256 id = handler.jobIds(j);
                IDistributedRender.Job memory job = dr.getJob(id);
                for (uint256 t; t < job.taskCount; ++t) {
                    (IDistributedRender.TaskState s, address who,,,) = dr.getTask(id, t);
                    if (
                        who == worker
                            && (s == IDistributedRender.TaskState.Claimed
                                || s == IDistributedRender.TaskState.Submitted)
                    ) expected += job.workerStakePerTask;
                }
            }
            IDistributedRender.StakeAccount memory a = dr.stakeOf(worker);
            assertEq(a.locked, expected, "locked stake");
            assertLe(a.locked, a.bonded, "locked above bonded");
        }
    }

    function invariant_openCounterMatchesOpenTasks() public view {
        for (uint256 j; j < handler.jobCount(); ++j) {
            uint256 id = handler.jobIds(j);
            IDistributedRender.Job memory job = dr.getJob(id);
            uint256 open;
            for (uint256 t; t < job.taskCount; ++t) {
                (IDistributedRender.TaskState s,,,,) = dr.getTask(id, t);
                if (s == IDistributedRender.TaskState.Open) ++open;
            }
            assertEq(job.openTasks, open, "openTasks");
        }
    }

    /// After every deadline, lease and window has passed, permissionless calls settle every task, and then
    /// every account can withdraw everything: the contract ends holding nothing.
    function invariant_nothingStaysLockedAfterDeadlines() public {
        uint256 snap = vm.snapshotState();
        vm.warp(block.timestamp + 40 days);
        for (uint256 j; j < handler.jobCount(); ++j) {
            uint256 id = handler.jobIds(j);
            dr.reclaimOpenTasks(id);
            uint256 count = dr.getJob(id).taskCount;
            for (uint256 t; t < count; ++t) {
                (IDistributedRender.TaskState s,,,,) = dr.getTask(id, t);
                if (s == IDistributedRender.TaskState.Claimed) {
                    uint32[] memory one = new uint32[](1);
                    one[0] = uint32(t);
                    dr.reopenExpired(id, one);
                } else if (s == IDistributedRender.TaskState.Submitted) {
                    dr.finalizeTask(id, t);
                }
                (s,,,,) = dr.getTask(id, t);
                assertTrue(
                    s == IDistributedRender.TaskState.Paid || s == IDistributedRender.TaskState.Refunded,
                    "unsettled"
                );
            }
        }
        address[] memory all = handler.accounts();
        for (uint256 i; i < all.length; ++i) {
            IDistributedRender.StakeAccount memory a = dr.stakeOf(all[i]);
            assertEq(a.locked, 0, "stake still locked");
            vm.startPrank(all[i]);
            if (dr.balanceOf(all[i], address(0)) != 0) dr.withdraw(address(0));
            if (dr.balanceOf(all[i], address(token)) != 0) dr.withdraw(address(token));
            if (a.bonded != 0) dr.requestUnstake(a.bonded);
            vm.stopPrank();
        }
        vm.warp(block.timestamp + 8 days);
        for (uint256 i; i < all.length; ++i) {
            if (dr.stakeOf(all[i]).unbonding != 0) {
                vm.prank(all[i]);
                dr.withdrawStake();
            }
        }
        assertEq(address(dr).balance, 0, "ETH left behind");
        assertEq(token.balanceOf(address(dr)), 0, "tokens left behind");
        vm.revertToState(snap);
    }

    function afterInvariant() external view {
        // The campaign must have reached the interesting states, or the laws above were checked on nothing.
        assertGt(handler.jobCount(), 0, "no job posted");
    }
}
