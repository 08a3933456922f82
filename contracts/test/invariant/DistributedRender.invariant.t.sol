// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DistributedRender} from "../../src/DistributedRender.sol";
import {IDistributedRenderTypes as T} from "../../src/interfaces/IDistributedRender.sol";
import {RebasingToken, TestToken, UsdtStyleToken} from "../mocks/TestToken.sol";
import {VerificationSlot} from "../utils/VerificationSlot.sol";
import {Handler} from "./Handler.sol";
import {Test} from "forge-std/Test.sol";

/// @notice The laws of the market's money and stake, checked after every step of random action sequences with
/// adversarial actors (foundry.toml: runs = 128, depth = 100); that every task ends and nothing stays locked is
/// checked at the end of every run, by settling everything with permissionless calls only.
contract DistributedRenderInvariantTest is Test {
    DistributedRender internal dr;
    TestToken internal token;
    UsdtStyleToken internal usdt;
    RebasingToken internal rebasing;
    Handler internal handler;
    address internal treasury = makeAddr("treasury");

    function setUp() public {
        vm.warp(1_700_000_000);
        vm.roll(1000);
        dr = new DistributedRender(
            address(this), treasury, 250, 1 ether, 7 days, 0.01 ether, 0.02 ether, 1 hours
        );
        token = new TestToken();
        usdt = new UsdtStyleToken();
        rebasing = new RebasingToken();
        dr.setTokenAllowed(address(token), true);
        dr.setTokenAllowed(address(usdt), true);
        handler = new Handler(dr, token, usdt, rebasing, treasury);
        // Two jobs to start from (one that pays only verified work, one optimistic), so that every run has
        // tasks to claim, submit and verify.
        handler.postJob(1, 4, 0, 3, false, true);
        handler.postJob(2 << 8 | 7, 3, 2, 2, true, true);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](29);
        selectors[0] = Handler.postJob.selector;
        selectors[1] = Handler.claim.selector;
        selectors[2] = Handler.submit.selector;
        selectors[3] = Handler.accept.selector;
        selectors[4] = Handler.reopen.selector;
        selectors[5] = Handler.cancel.selector;
        selectors[6] = Handler.reclaim.selector;
        selectors[7] = Handler.draw.selector;
        selectors[8] = Handler.commit.selector;
        selectors[9] = Handler.reveal.selector;
        selectors[10] = Handler.challenge.selector;
        selectors[11] = Handler.answer.selector;
        selectors[12] = Handler.appeal.selector;
        selectors[13] = Handler.finalize.selector;
        selectors[14] = Handler.registerMore.selector;
        selectors[15] = Handler.leaveRegistry.selector;
        selectors[16] = Handler.release.selector;
        selectors[17] = Handler.withdraw.selector;
        selectors[18] = Handler.unstake.selector;
        selectors[19] = Handler.withdrawStake.selector;
        selectors[20] = Handler.restake.selector;
        selectors[21] = Handler.warp.selector;
        // Whole rounds and claim-and-submit as single steps, twice as often: a task's verification needs many
        // steps, and a campaign of random single steps would rarely finish one.
        selectors[22] = Handler.voteRound.selector;
        selectors[23] = Handler.voteRound.selector;
        selectors[24] = Handler.voteRound.selector;
        selectors[25] = Handler.claimAndSubmit.selector;
        selectors[26] = Handler.claimAndSubmit.selector;
        selectors[27] = Handler.appeal.selector;
        selectors[28] = Handler.rebase.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    function _live(T.TaskState s) internal pure returns (bool) {
        return s == T.TaskState.Open || s == T.TaskState.Claimed || s == T.TaskState.Submitted;
    }

    /// Escrow still held for tasks that are open, claimed or submitted, in `tok`.
    function _escrowHeld(address tok) internal view returns (uint256 held) {
        for (uint256 j; j < handler.jobCount(); ++j) {
            uint256 id = handler.jobIds(j);
            T.Job memory job = dr.getJob(id);
            if (job.token != tok) continue;
            for (uint256 t; t < job.taskCount; ++t) {
                (T.TaskState s,,,,) = dr.getTask(id, t);
                if (_live(s)) held += uint256(job.rewardPerTask) + job.verifierFeePerTask;
            }
        }
    }

    /// Appeal and data-challenge bonds held for submissions whose verification is under way.
    function _bondsHeld() internal view returns (uint256 held) {
        for (uint256 j; j < handler.jobCount(); ++j) {
            uint256 id = handler.jobIds(j);
            uint256 count = dr.getJob(id).taskCount;
            for (uint256 t; t < count; ++t) {
                (T.TaskState s,,,,) = dr.getTask(id, t);
                if (s != T.TaskState.Submitted) continue;
                held += handler.ghostAppealBonds(handler.submissionKey(id, t));
                if (dr.getVerification(id, t).phase == T.Phase.DataChallenge) {
                    held += dr.DATA_CHALLENGE_BOND();
                }
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
            T.StakeAccount memory a = dr.stakeOf(all[i]);
            sum += uint256(a.bonded) + a.unbonding + dr.verifierOf(all[i]).stake;
        }
    }

    function invariant_ethBalanceEqualsEscrowPlusCreditsPlusStakesPlusBonds() public view {
        assertEq(
            address(dr).balance, _escrowHeld(address(0)) + _credits(address(0)) + _stakes() + _bondsHeld()
        );
    }

    function invariant_tokenBalanceEqualsEscrowPlusCredits() public view {
        assertEq(token.balanceOf(address(dr)), _escrowHeld(address(token)) + _credits(address(token)));
        assertEq(usdt.balanceOf(address(dr)), _escrowHeld(address(usdt)) + _credits(address(usdt)));
    }

    /// The rebasing token is not on the allow-list: no job is ever posted in it, so the market holds none.
    function invariant_rebasingTokenNeverEscrowed() public view {
        assertEq(handler.ghostRebasingJobs(), 0, "a job paid in a rebasing token");
        assertEq(rebasing.balanceOf(address(dr)), 0, "rebasing token held");
    }

    function invariant_noTaskPaidTwice() public view {
        for (uint256 j; j < handler.jobCount(); ++j) {
            uint256 id = handler.jobIds(j);
            uint256 count = dr.getJob(id).taskCount;
            for (uint256 t; t < count; ++t) {
                uint256 paid = handler.ghostTimesPaid(id, t);
                assertLe(paid, 1, "task paid twice");
                (T.TaskState s,,,,) = dr.getTask(id, t);
                assertEq(paid == 1, s == T.TaskState.Paid, "paid state and payments disagree");
            }
        }
    }

    /// A verification ends with its submission (every path out of Submitted deletes it), and while its
    /// members vote it holds the task's own attempt and window: what `_voteCtx` reads instead of the job and
    /// the submission. Checked on the raw slot, since the views need a submitted task.
    function invariant_verificationGoesWithItsSubmission() public view {
        for (uint256 j; j < handler.jobCount(); ++j) {
            uint256 id = handler.jobIds(j);
            T.Job memory job = dr.getJob(id);
            for (uint256 t; t < job.taskCount; ++t) {
                (T.TaskState s,,, uint256 attempt,) = dr.getTask(id, t);
                uint256 raw = VerificationSlot.read(address(dr), id, t);
                if (s != T.TaskState.Submitted) {
                    assertEq(raw, 0, "a verification outlived its submission");
                    continue;
                }
                T.Phase phase = dr.getVerification(id, t).phase;
                if (raw == 0) {
                    // Only a verification that has not started reads as zero: a wrong slot would read zero
                    // everywhere and fail here as soon as any committee is drawn.
                    assertEq(uint256(phase), uint256(T.Phase.None), "verification slot");
                    continue;
                }
                assertEq(VerificationSlot.phase(raw), uint256(phase), "verification slot");
                if (phase == T.Phase.Commit || phase == T.Phase.Reveal) {
                    assertEq(VerificationSlot.attempt(raw), attempt, "a vote's attempt");
                    assertEq(VerificationSlot.window(raw), job.challengeWindow, "a vote's window");
                }
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
                T.Job memory job = dr.getJob(id);
                for (uint256 t; t < job.taskCount; ++t) {
                    (T.TaskState s, address who,,,) = dr.getTask(id, t);
                    if (who == worker && (s == T.TaskState.Claimed || s == T.TaskState.Submitted)) {
                        expected += job.workerStakePerTask;
                    }
                }
            }
            T.StakeAccount memory a = dr.stakeOf(worker);
            assertEq(a.locked, expected, "locked stake");
            assertLe(a.locked, a.bonded, "locked above bonded");
        }
    }

    /// Every seat a verifier holds belongs to a verification under way, and its stake backs every seat it holds.
    function invariant_seatsMatchLiveVerificationsAndAreBacked() public view {
        uint256 seats;
        for (uint256 i; i < handler.verifierCount(); ++i) {
            T.VerifierInfo memory v = dr.verifierOf(handler.verifiers(i));
            seats += v.seats;
            assertLe(v.seats * dr.TICKET_STAKE(), v.stake, "a seat without stake behind it");
            assertLe(v.capacity, v.tickets, "capacity above tickets");
            assertLe(v.capacity * dr.TICKET_STAKE(), v.stake, "capacity above stake");
        }
        uint256 held;
        for (uint256 j; j < handler.jobCount(); ++j) {
            uint256 id = handler.jobIds(j);
            uint256 count = dr.getJob(id).taskCount;
            for (uint256 t; t < count; ++t) {
                (T.TaskState s,,,,) = dr.getTask(id, t);
                if (s == T.TaskState.Submitted) held += dr.getVerification(id, t).heldSeats;
            }
        }
        assertEq(seats, held, "seats held outside live verifications");
    }

    function invariant_openCounterMatchesOpenTasks() public view {
        for (uint256 j; j < handler.jobCount(); ++j) {
            uint256 id = handler.jobIds(j);
            T.Job memory job = dr.getJob(id);
            uint256 open;
            for (uint256 t; t < job.taskCount; ++t) {
                (T.TaskState s,,,,) = dr.getTask(id, t);
                if (s == T.TaskState.Open) ++open;
            }
            assertEq(job.openTasks, open, "openTasks");
        }
    }

    /// Plays a submitted task's verification to its end with permissionless calls only: nobody votes.
    function _settleSubmitted(uint256 id, uint256 t) internal {
        for (uint256 k; k < 200; ++k) {
            (T.TaskState s,,,,) = dr.getTask(id, t);
            if (s != T.TaskState.Submitted) return;
            T.VerificationView memory v = dr.getVerification(id, t);
            if (vm.getBlockTimestamp() < v.phaseEndsAt) vm.warp(v.phaseEndsAt);
            if (v.phase == T.Phase.None && !dr.getJob(id).optimistic || v.phase == T.Phase.AwaitingDraw) {
                if (vm.getBlockNumber() <= v.seedBlock) vm.roll(v.seedBlock + 1);
                dr.drawCommittee(id, t);
            } else {
                dr.finalizeTask(id, t);
            }
        }
        revert("a verification did not end");
    }

    /// After every deadline, lease and window has passed, permissionless calls settle every task, and then
    /// every account can withdraw everything, leave the registry and unbond: the contract ends holding nothing.
    function afterInvariant() external {
        assertGe(handler.jobCount(), 2, "the starting jobs");

        vm.warp(vm.getBlockTimestamp() + 40 days);
        for (uint256 j; j < handler.jobCount(); ++j) {
            uint256 id = handler.jobIds(j);
            dr.reclaimOpenTasks(id);
            uint256 count = dr.getJob(id).taskCount;
            // Every expired lease in one batch (its leases' runs are ended together).
            uint32[] memory leased = new uint32[](count);
            uint256 n;
            for (uint256 t; t < count; ++t) {
                (T.TaskState s,,,,) = dr.getTask(id, t);
                if (s == T.TaskState.Claimed) leased[n++] = uint32(t);
            }
            assembly {
                mstore(leased, n)
            }
            if (n != 0) dr.reopenExpired(id, leased);
            for (uint256 t; t < count; ++t) {
                (T.TaskState s,,,,) = dr.getTask(id, t);
                if (s == T.TaskState.Submitted) _settleSubmitted(id, t);
                (s,,,,) = dr.getTask(id, t);
                assertTrue(s == T.TaskState.Paid || s == T.TaskState.Refunded, "unsettled");
            }
        }
        address[] memory all = handler.accounts();
        for (uint256 i; i < all.length; ++i) {
            assertEq(dr.stakeOf(all[i]).locked, 0, "stake still locked");
            assertEq(dr.verifierOf(all[i]).seats, 0, "seat still held");
            vm.startPrank(all[i]);
            if (dr.verifierOf(all[i]).tickets != 0 && dr.verifierOf(all[i]).leavingSince == 0) {
                dr.leaveVerifiers();
            }
            vm.stopPrank();
        }
        vm.roll(vm.getBlockNumber() + dr.RELEASE_DELAY());
        for (uint256 i; i < all.length; ++i) {
            vm.startPrank(all[i]);
            if (dr.verifierOf(all[i]).leavingSince != 0) dr.releaseVerifier();
            if (dr.balanceOf(all[i], address(0)) != 0) dr.withdraw(address(0));
            if (dr.balanceOf(all[i], address(token)) != 0) dr.withdraw(address(token));
            if (dr.balanceOf(all[i], address(usdt)) != 0) dr.withdraw(address(usdt));
            T.StakeAccount memory a = dr.stakeOf(all[i]);
            if (a.bonded != 0) dr.requestUnstake(a.bonded);
            vm.stopPrank();
        }
        vm.warp(vm.getBlockTimestamp() + 8 days);
        for (uint256 i; i < all.length; ++i) {
            if (dr.stakeOf(all[i]).unbonding != 0) {
                vm.prank(all[i]);
                dr.withdrawStake();
            }
        }
        assertEq(address(dr).balance, 0, "ETH left behind");
        assertEq(token.balanceOf(address(dr)), 0, "tokens left behind");
        assertEq(usdt.balanceOf(address(dr)), 0, "USDT-style tokens left behind");
    }

    /// The handler's actions reach what the laws are about: a fixed pseudo-random sequence of 400 steps (the
    /// campaign's mix) drafts committees, casts and reveals votes, appeals, challenges and answers, and pays and
    /// rejects tasks. Without this, a handler bug could leave the campaign checking laws on idle states.
    function test_handlerReachesCommitteesAppealsAndChallenges() public {
        uint256 x = 0x7e55e7a;
        for (uint256 step; step < 400; ++step) {
            x = uint256(keccak256(abi.encode(x)));
            uint256 pick = x % 12;
            uint256 a = x >> 8;
            uint256 b = x >> 64;
            uint8 c = uint8(x >> 120);
            if (pick == 0) {
                handler.postJob(a, uint8(b), c % 2 == 0 ? (c % 4 == 0 ? 1 : 2) : 0, c, c % 3 == 0, true);
            } else if (pick <= 2) {
                handler.claimAndSubmit(a, b, x >> 160);
            } else if (pick <= 5) {
                handler.voteRound(a, b, c % 4 == 0 ? c : 0);
            } else if (pick == 6) {
                handler.appeal(a, b, c);
            } else if (pick == 7) {
                handler.challenge(a, b, c);
            } else if (pick == 8) {
                handler.answer(a, b);
            } else if (pick == 9) {
                handler.finalize(a, b);
            } else if (pick == 10) {
                handler.draw(a, b);
            } else {
                handler.warp(a);
            }
        }
        emit log_named_uint("draws", handler.ghostDraws());
        emit log_named_uint("reveals", handler.ghostReveals());
        emit log_named_uint("appeals", handler.ghostAppeals());
        emit log_named_uint("challenges", handler.ghostChallenges());
        emit log_named_uint("answers", handler.ghostAnswers());
        emit log_named_uint("paid", handler.ghostPaidTotal());
        emit log_named_uint("forged paid", handler.ghostForgedPaid());
        emit log_named_uint("votes on a later attempt", handler.ghostLaterAttemptVotes());
        assertGt(handler.ghostDraws(), 15, "committees drawn");
        assertGt(handler.ghostReveals(), 20, "votes revealed");
        assertGt(handler.ghostLaterAttemptVotes(), 0, "votes on a task's later attempt");
        assertGt(handler.ghostAppeals(), 0, "appeals");
        assertGt(handler.ghostChallenges(), 0, "data challenges");
        assertGt(handler.ghostAnswers(), 0, "answered challenges");
        assertGt(handler.ghostPaidTotal(), 5, "tasks paid");
    }
}
