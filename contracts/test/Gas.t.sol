// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDistributedRender} from "../src/interfaces/IDistributedRender.sol";
import {Base} from "./utils/Base.sol";
import {CellTree} from "./utils/CellTree.sol";

/// @notice Gas of every user-facing call, recorded in snapshots/DistributedRender.json (committed; CI runs with
/// FORGE_SNAPSHOT_CHECK=true and fails on drift). Figures are execution gas of the call as forge measures it,
/// without the 21,000 intrinsic gas and calldata cost of a transaction.
contract GasTest is Base {
    string internal constant G = "DistributedRender";
    string internal constant CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";

    function test_gas_submitRenderJob() public {
        // A first job warms nothing that matters: each job writes its own fresh slots.
        _postEth(1);
        IDistributedRender.JobSpec memory s = _spec(1, 1, 1, address(0));
        uint256 escrow = _escrow(s);
        vm.prank(artist);
        dr.submitRenderJob{value: escrow}(s);
        vm.snapshotGasLastCall(G, "submitRenderJob_eth_1task");

        s = _spec(24, 4, 4, address(0));
        escrow = _escrow(s);
        vm.prank(artist);
        dr.submitRenderJob{value: escrow}(s);
        vm.snapshotGasLastCall(G, "submitRenderJob_eth_384tasks");

        s = _spec(1, 1, 1, address(token));
        vm.prank(artist);
        dr.submitRenderJob(s);
        vm.snapshotGasLastCall(G, "submitRenderJob_erc20_1task");
    }

    function test_gas_claimTasks() public {
        uint256 id = _postEth(16);
        uint256 id2 = _postEth(16);
        vm.prank(worker);
        dr.claimTasks(id, _one(0));
        vm.snapshotGasLastCall(G, "claimTasks_1");
        vm.prank(worker);
        dr.claimTasks(id2, _range(0, 16));
        vm.snapshotGasLastCall(G, "claimTasks_16");
    }

    function test_gas_submitResult() public {
        uint256 id = _postEth(1);
        _claim(id, worker, 0);
        bytes32 root = CellTree.root(_cells(0));
        vm.prank(worker);
        dr.submitResult(id, 0, CID, root);
        vm.snapshotGasLastCall(G, "submitResult");
    }

    function test_gas_settlement() public {
        IDistributedRender.JobSpec memory s = _spec(4, 1, 1, address(0));
        s.optimistic = true;
        uint256 id = _post(s);
        for (uint256 t; t < 4; ++t) {
            _claimAndSubmit(id, t);
        }
        IDistributedRender.SignedAttestation[] memory b = _bundle(id, 0, true, 1);
        dr.attest(id, 0, b);
        vm.snapshotGasLastCall(G, "attest_approve_quorum1_firstPayout");

        vm.warp(block.timestamp + WINDOW);
        dr.finalizeTask(id, 1);
        vm.snapshotGasLastCall(G, "finalizeTask_optimistic");

        vm.prank(artist);
        dr.acceptTask(id, 2);
        vm.snapshotGasLastCall(G, "acceptTask");
    }

    function test_gas_attestQuorum3AndReject() public {
        IDistributedRender.JobSpec memory s = _spec(2, 1, 1, address(0));
        s.quorum = 3;
        uint256 id = _post(s);
        _claimAndSubmit(id, 0);
        _claimAndSubmit(id, 1);
        IDistributedRender.SignedAttestation[] memory b = _bundle(id, 0, true, 3);
        dr.attest(id, 0, b);
        vm.snapshotGasLastCall(G, "attest_approve_quorum3");
        b = _bundle(id, 1, false, 3);
        dr.attest(id, 1, b);
        vm.snapshotGasLastCall(G, "attest_reject_quorum3");
    }

    function test_gas_reopenCancelReclaim() public {
        uint256 id = _postEth(3);
        _claim(id, worker, 0);
        vm.warp(block.timestamp + LEASE);
        dr.reopenExpired(id, _one(0));
        vm.snapshotGasLastCall(G, "reopenExpired_1");
        vm.prank(artist);
        dr.cancelJob(id);
        vm.snapshotGasLastCall(G, "cancelJob");

        uint256 id2 = _postEth(3);
        vm.warp(dr.getJob(id2).deadline);
        dr.reclaimOpenTasks(id2);
        vm.snapshotGasLastCall(G, "reclaimOpenTasks");
    }

    function test_gas_stakeAndWithdraw() public {
        vm.deal(stranger, 10 ether);
        vm.prank(stranger);
        dr.stake{value: 1 ether}();
        vm.snapshotGasLastCall(G, "stake_first");
        vm.prank(stranger);
        dr.requestUnstake(1 ether);
        vm.snapshotGasLastCall(G, "requestUnstake");
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(stranger);
        dr.withdrawStake();
        vm.snapshotGasLastCall(G, "withdrawStake");

        uint256 id = _postEth(1);
        vm.prank(artist);
        dr.cancelJob(id);
        vm.prank(artist);
        dr.withdraw(address(0));
        vm.snapshotGasLastCall(G, "withdraw_eth");

        uint256 tid = _post(_spec(1, 1, 1, address(token)));
        vm.prank(artist);
        dr.cancelJob(tid);
        vm.prank(artist);
        dr.withdraw(address(token));
        vm.snapshotGasLastCall(G, "withdraw_erc20");
    }
}
