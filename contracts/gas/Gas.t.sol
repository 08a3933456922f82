// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDistributedRenderTypes as T} from "../src/interfaces/IDistributedRender.sol";
import {Base} from "../test/utils/Base.sol";
import {CellTree} from "../test/utils/CellTree.sol";

/// @notice Gas of every user-facing call, recorded in snapshots/DistributedRender.json (committed; CI runs
/// `FOUNDRY_PROFILE=gas FORGE_SNAPSHOT_CHECK=true forge test` and fails on drift).
/// @dev The `gas` profile runs with `isolate = true`: each call is its own transaction with cold storage. For each
/// call two values are recorded: `<name>` is the whole transaction's gas (21,000 intrinsic + calldata +
/// execution) and `<name>_execution` is that minus the intrinsic and calldata cost (EIP-2028: 4 gas per zero
/// byte, 16 per non-zero byte).
contract GasTest is Base {
    string internal constant G = "DistributedRender";

    function _call(address from, uint256 value, bytes memory data, string memory name)
        internal
        returns (uint256 total, uint256 execution)
    {
        vm.prank(from);
        (bool ok, bytes memory ret) = address(dr).call{value: value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        total = vm.snapshotGasLastCall(G, name);
        uint256 intrinsic = 21_000;
        for (uint256 i; i < data.length; ++i) {
            intrinsic += data[i] == 0 ? 4 : 16;
        }
        execution = total - intrinsic;
        vm.snapshotValue(G, string.concat(name, "_execution"), execution);
    }

    function test_gas_submitRenderJob() public {
        _postEth(1);
        T.JobSpec memory s = _spec(1, 1, 1, address(0));
        _call(artist, _escrow(s), abi.encodeCall(dr.submitRenderJob, (s)), "submitRenderJob_eth_1task");
        s = _spec(24, 4, 4, address(0));
        _call(artist, _escrow(s), abi.encodeCall(dr.submitRenderJob, (s)), "submitRenderJob_eth_384tasks");
        s = _spec(1, 1, 1, address(token));
        _call(
            artist, 0, abi.encodeCall(dr.submitRenderJob, (s)), "submitRenderJob_erc20_1task_firstJobInToken"
        );
        _call(artist, 0, abi.encodeCall(dr.submitRenderJob, (s)), "submitRenderJob_erc20_1task");
    }

    function test_gas_claimTasks() public {
        uint256 id = _postEth(16);
        uint256 id2 = _postEth(16);
        _call(worker, 0, abi.encodeCall(dr.claimTasks, (id, _one(0))), "claimTasks_1");
        _call(worker, 0, abi.encodeCall(dr.claimTasks, (id2, _range(0, 16))), "claimTasks_16");
    }

    function test_gas_submitResult() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        bytes32 root = CellTree.root(_cells(0));
        _call(worker, 0, abi.encodeCall(dr.submitResult, (id, 0, CID, root)), "submitResult");
    }

    /// A submitted task whose first committee has three members of one seat each (tasks are tried until the
    /// draw gives that shape, so that the figures are for three voters).
    function _threeMembers(uint256 id) internal returns (uint256 task, address[] memory members) {
        uint256 count = dr.getJob(id).taskCount;
        for (task = 0; task < count; ++task) {
            _claimAndSubmit(id, task);
        }
        vm.roll(vm.getBlockNumber() + 2);
        for (task = 0; task < count; ++task) {
            (,, members,) = dr.previewCommittee(id, task);
            if (members.length == 3) return (task, members);
        }
        revert("no three-member committee");
    }

    /// The happy path of one task with a committee of three, reported as one total: the draw (made by the
    /// first commit), every commit and reveal, and the settlement after the appeal window.
    function test_gas_verification_happyPath_q3() public {
        // Warm-up: every verifier, the worker and the treasury have been paid once, so that the figures are
        // the steady state (a first credit to an account opens a balance slot, ~17k more each).
        uint256 warm = _postEth(3);
        for (uint256 w; w < 3; ++w) {
            _claimAndSubmit(warm, w);
            _approve(warm, w);
        }
        uint256 id = _postEth(8);
        (uint256 t, address[] memory m) = _threeMembers(id);
        uint256 total;
        uint256 execution;
        (uint256 a, uint256 b) = _commitCall(id, t, 0, m[0], "commitVote_first_drawsCommittee_q3");
        total += a;
        execution += b;
        (a, b) = _commitCall(id, t, 1, m[1], "commitVote");
        total += a;
        execution += b;
        (a, b) = _commitCall(id, t, 2, m[2], "commitVote_last_opensReveal");
        total += a;
        execution += b;
        (a, b) = _revealCall(id, t, 0, m[0], "revealVote");
        total += a;
        execution += b;
        (a, b) = _revealCall(id, t, 1, m[1], "revealVote_2");
        total += a;
        execution += b;
        (a, b) = _revealCall(id, t, 2, m[2], "revealVote_last_tallies");
        total += a;
        execution += b;
        vm.warp(_verification(id, t).phaseEndsAt);
        (a, b) = _call(stranger, 0, abi.encodeCall(dr.finalizeTask, (id, t)), "finalizeTask_approve_q3");
        total += a;
        execution += b;
        assertEq(uint8(_state(id, t)), uint8(T.TaskState.Paid));
        vm.snapshotValue(G, "verification_happyPath_q3_total", total);
        vm.snapshotValue(G, "verification_happyPath_q3_total_execution", execution);
    }

    function _commitCall(uint256 id, uint256 t, uint256 i, address voter, string memory name)
        internal
        returns (uint256, uint256)
    {
        (,,, uint256 attempt,) = dr.getTask(id, t);
        bytes32 c = keccak256(abi.encode(id, t, attempt, uint256(0), voter, true, HONEST_PROOF, _salt(voter)));
        return _call(voter, 0, abi.encodeCall(dr.commitVote, (id, t, i, c)), name);
    }

    function _revealCall(uint256 id, uint256 t, uint256 i, address voter, string memory name)
        internal
        returns (uint256, uint256)
    {
        return _call(
            voter, 0, abi.encodeCall(dr.revealVote, (id, t, i, true, HONEST_PROOF, _salt(voter))), name
        );
    }

    function test_gas_drawRejectAndAppeal() public {
        uint256 id = _postEth(8);
        (uint256 t,) = _threeMembers(id);
        _call(stranger, 0, abi.encodeCall(dr.drawCommittee, (id, t)), "drawCommittee_q3");
        _vote(id, t, false, HONEST_PROOF);
        uint256 bond = dr.appealBond(id, 1);
        vm.deal(worker, bond);
        _call(worker, bond, abi.encodeCall(dr.appealVerdict, (id, t)), "appealVerdict");
        _pastSeed(id, t);
        _call(stranger, 0, abi.encodeCall(dr.drawCommittee, (id, t)), "drawCommittee_level1_7seats");
        _vote(id, t, false, HONEST_PROOF);
        vm.warp(_verification(id, t).phaseEndsAt);
        _call(stranger, 0, abi.encodeCall(dr.finalizeTask, (id, t)), "finalizeTask_reject_afterAppeal");
        assertEq(uint8(_state(id, t)), uint8(T.TaskState.Open));
    }

    function test_gas_dataChallenge() public {
        uint256 id = _postEth(2);
        _claimAndSubmit(id, 0);
        _claimAndSubmit(id, 1);
        (address[] memory m0,) = _draw(id, 0);
        (address[] memory m1,) = _draw(id, 1);
        uint32[] memory cells = new uint32[](1);
        cells[0] = 5;
        vm.deal(m0[0], CHALLENGE_BOND);
        _call(m0[0], CHALLENGE_BOND, abi.encodeCall(dr.challengeData, (id, 0, 0, cells)), "challengeData_1cell");
        bytes32[] memory hashes = new bytes32[](1);
        hashes[0] = _cells(0)[5];
        bytes32[][] memory proofs = new bytes32[][](1);
        proofs[0] = CellTree.proof(_cells(0), 5);
        _call(worker, 0, abi.encodeCall(dr.answerChallenge, (id, 0, cells, hashes, proofs)), "answerChallenge_1cell");
        vm.deal(m1[0], CHALLENGE_BOND);
        vm.prank(m1[0]);
        dr.challengeData{value: CHALLENGE_BOND}(id, 1, 0, cells);
        vm.warp(_verification(id, 1).phaseEndsAt);
        _call(stranger, 0, abi.encodeCall(dr.finalizeTask, (id, 1)), "finalizeTask_dataWithheld");
    }

    function test_gas_optimisticAndAccept() public {
        T.JobSpec memory s = _spec(4, 1, 1, address(0));
        s.optimistic = true;
        uint256 id = _post(s);
        for (uint256 t; t < 4; ++t) {
            _claimAndSubmit(id, t);
        }
        _call(artist, 0, abi.encodeCall(dr.acceptTask, (id, 2)), "acceptTask");
        vm.warp(vm.getBlockTimestamp() + WINDOW);
        _call(stranger, 0, abi.encodeCall(dr.finalizeTask, (id, 1)), "finalizeTask_optimistic");
    }

    function test_gas_registry() public {
        _stake(stranger, 10 ether);
        _call(stranger, 0, abi.encodeCall(dr.registerVerifier, (1)), "registerVerifier_1ticket_new");
        _call(stranger, 0, abi.encodeCall(dr.registerVerifier, (4)), "registerVerifier_4tickets");
        _call(stranger, 0, abi.encodeCall(dr.leaveVerifiers, ()), "leaveVerifiers_5tickets");
        vm.roll(vm.getBlockNumber() + 258);
        _call(stranger, 0, abi.encodeCall(dr.releaseVerifier, ()), "releaseVerifier_5tickets");
        _stake(worker2, 4 ether);
        _call(worker2, 0, abi.encodeCall(dr.registerVerifier, (4)), "registerVerifier_4tickets_reusedPositions");
    }

    function test_gas_reopenCancelReclaim() public {
        uint256 id = _postEth(3);
        _claim(id, worker, 0);
        vm.warp(vm.getBlockTimestamp() + LEASE);
        _call(stranger, 0, abi.encodeCall(dr.reopenExpired, (id, _one(0))), "reopenExpired_1");
        _call(artist, 0, abi.encodeCall(dr.cancelJob, (id)), "cancelJob");
        uint256 id2 = _postEth(3);
        vm.warp(dr.getJob(id2).deadline);
        _call(stranger, 0, abi.encodeCall(dr.reclaimOpenTasks, (id2)), "reclaimOpenTasks");
    }

    /// Claim-everything griefing and its undoing: one zero-stake account leases 799 tasks of an 800-task job,
    /// and after the deadline one call ends every lease (docs/gas.md compares the two per task).
    function test_gas_claimEverythingAndEndTheLeases() public {
        T.JobSpec memory s = _spec(800, 1, 1, address(0));
        s.workerStakePerTask = 0;
        uint256 id = _post(s);
        _call(stranger, 0, abi.encodeCall(dr.claimTasks, (id, _range(0, 799))), "claimTasks_799_zeroStake");
        vm.warp(s.deadline);
        _call(artist, 0, abi.encodeCall(dr.reclaimOpenTasks, (id)), "reclaimOpenTasks_1of800");
        _call(
            artist, 0, abi.encodeCall(dr.reopenExpired, (id, _range(0, 799))), "reopenExpired_799_pastDeadline"
        );
    }

    function test_gas_stakeAndWithdraw() public {
        vm.deal(stranger, 10 ether);
        _call(stranger, 1 ether, abi.encodeCall(dr.stake, ()), "stake_first");
        _call(stranger, 0, abi.encodeCall(dr.requestUnstake, (1 ether)), "requestUnstake");
        vm.warp(vm.getBlockTimestamp() + UNBONDING_DELAY);
        _call(stranger, 0, abi.encodeCall(dr.withdrawStake, ()), "withdrawStake");

        uint256 id = _postEth(1);
        vm.prank(artist);
        dr.cancelJob(id);
        _call(artist, 0, abi.encodeCall(dr.withdraw, (address(0))), "withdraw_eth");
        uint256 tid = _post(_spec(1, 1, 1, address(token)));
        vm.prank(artist);
        dr.cancelJob(tid);
        _call(artist, 0, abi.encodeCall(dr.withdraw, (address(token))), "withdraw_erc20");
    }
}
