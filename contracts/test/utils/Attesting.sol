// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDistributedRender} from "../../src/interfaces/IDistributedRender.sol";
import {Test} from "forge-std/Test.sol";

/// @notice What the unit fixture and the invariant handler both need to play worker and verifier: a task's
/// four cells, attestations about a submission, and EIP-712 signatures over them.
abstract contract Attesting is Test {
    /// The market the attestations are about.
    function _market() internal view virtual returns (IDistributedRender);

    /// Four cells' raw-data hashes; `salt` 0 is the honest render, any other a forgery.
    function _cells(uint256 salt) internal pure returns (bytes32[] memory h) {
        h = new bytes32[](4);
        for (uint256 i; i < 4; ++i) {
            h[i] = keccak256(abi.encode("cell", salt, i));
        }
    }

    /// An attestation about the task's current submission; a rejection names `rejectedCell`.
    function _attestationAt(uint256 jobId, uint256 task, bool approve, uint256 rejectedCell)
        internal
        view
        returns (IDistributedRender.Attestation memory a)
    {
        (,,, uint256 attempt, bytes32 root) = _market().getTask(jobId, task);
        a = IDistributedRender.Attestation({
            jobId: jobId,
            taskIndex: task,
            attempt: attempt,
            cellRoot: root,
            approve: approve,
            cellIndex: approve ? 0 : rejectedCell,
            expectedDataHash: approve ? bytes32(0) : keccak256(abi.encode("honest", rejectedCell))
        });
    }

    /// A 65-byte signature by `key` over the attestation's EIP-712 digest.
    function _sign(uint256 key, IDistributedRender.Attestation memory a)
        internal
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, _market().attestationDigest(a));
        return abi.encodePacked(r, s, v);
    }
}
