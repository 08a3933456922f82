// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDistributedRender} from "../src/interfaces/IDistributedRender.sol";
import {Base} from "../test/utils/Base.sol";
import {CellTree} from "../test/utils/CellTree.sol";

/// @notice Gas of every user-facing call, recorded in snapshots/DistributedRender.json (committed; CI runs
/// `FOUNDRY_PROFILE=gas FORGE_SNAPSHOT_CHECK=true forge test` and fails on drift).
/// @dev The `gas` profile runs with `isolate = true`: each call is its own transaction with cold storage. For each call two values
/// are recorded: `<name>` is the whole transaction's gas (21,000 intrinsic + calldata + execution) and
/// `<name>_execution` is that minus the intrinsic and calldata cost (EIP-2028: 4 gas per zero byte, 16 per
/// non-zero byte), the figure the issue's targets are stated in.
contract GasTest is Base {
    string internal constant G = "DistributedRender";
    string internal constant CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";

    function _call(address from, uint256 value, bytes memory data, string memory name) internal {
        vm.prank(from);
        (bool ok, bytes memory ret) = address(dr).call{value: value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        uint256 total = vm.snapshotGasLastCall(G, name);
        uint256 intrinsic = 21_000;
        for (uint256 i; i < data.length; ++i) {
            intrinsic += data[i] == 0 ? 4 : 16;
        }
        vm.snapshotValue(G, string.concat(name, "_execution"), total - intrinsic);
    }

    function test_gas_submitRenderJob() public {
        _postEth(1);
        IDistributedRender.JobSpec memory s = _spec(1, 1, 1, address(0));
        _call(artist, _escrow(s), abi.encodeCall(dr.submitRenderJob, (s)), "submitRenderJob_eth_1task");
        s = _spec(24, 4, 4, address(0));
        _call(artist, _escrow(s), abi.encodeCall(dr.submitRenderJob, (s)), "submitRenderJob_eth_384tasks");
        s = _spec(1, 1, 1, address(token));
        _call(
            artist, 0, abi.encodeCall(dr.submitRenderJob, (s)), "submitRenderJob_erc20_1task_firstUseOfToken"
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

    function test_gas_settlement() public {
        IDistributedRender.JobSpec memory s = _spec(5, 1, 1, address(0));
        s.optimistic = true;
        uint256 id = _post(s);
        for (uint256 t; t < 5; ++t) {
            _claimAndSubmit(id, t);
        }
        _call(
            stranger,
            0,
            abi.encodeCall(dr.attest, (id, 0, _bundle(id, 0, true, 1))),
            "attest_approve_q1_firstPayout"
        );
        _call(stranger, 0, abi.encodeCall(dr.attest, (id, 4, _bundle(id, 4, true, 1))), "attest_approve_q1");
        vm.warp(block.timestamp + WINDOW);
        _call(
            stranger,
            0,
            abi.encodeCall(dr.finalizeTask, (id, 1)),
            "finalizeTask_optimistic_firstRefundToArtist"
        );
        _call(stranger, 0, abi.encodeCall(dr.finalizeTask, (id, 3)), "finalizeTask_optimistic");
        _call(artist, 0, abi.encodeCall(dr.acceptTask, (id, 2)), "acceptTask");
    }

    function test_gas_attestQuorum3AndReject() public {
        IDistributedRender.JobSpec memory s = _spec(2, 1, 1, address(0));
        s.quorum = 3;
        uint256 id = _post(s);
        _claimAndSubmit(id, 0);
        _claimAndSubmit(id, 1);
        _call(stranger, 0, abi.encodeCall(dr.attest, (id, 0, _bundle(id, 0, true, 3))), "attest_approve_q3");
        _call(stranger, 0, abi.encodeCall(dr.attest, (id, 1, _bundle(id, 1, false, 3))), "attest_reject_q3");
    }

    function test_gas_reopenCancelReclaim() public {
        uint256 id = _postEth(3);
        _claim(id, worker, 0);
        vm.warp(block.timestamp + LEASE);
        _call(stranger, 0, abi.encodeCall(dr.reopenExpired, (id, _one(0))), "reopenExpired_1");
        _call(artist, 0, abi.encodeCall(dr.cancelJob, (id)), "cancelJob");
        uint256 id2 = _postEth(3);
        vm.warp(dr.getJob(id2).deadline);
        _call(stranger, 0, abi.encodeCall(dr.reclaimOpenTasks, (id2)), "reclaimOpenTasks");
    }

    function test_gas_stakeAndWithdraw() public {
        vm.deal(stranger, 10 ether);
        _call(stranger, 1 ether, abi.encodeCall(dr.stake, ()), "stake_first");
        _call(stranger, 0, abi.encodeCall(dr.requestUnstake, (1 ether)), "requestUnstake");
        vm.warp(block.timestamp + UNBONDING_DELAY);
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
