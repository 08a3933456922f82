// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Vm} from "forge-std/Vm.sol";

/// Reads a task's raw `Verification` slot, past the views (which need a submitted task).
library VerificationSlot {
    Vm private constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// Storage slot of `_verifications` in `DistributedRenderBase`: after Ownable2Step's `_owner` and
    /// `_pendingOwner`, `_config`, `treasury`, fourteen mappings and the registry. A test checks it against
    /// `getVerification` (`test_voteContext_isCopiedByEachDrawAndGoesWithTheSubmission`).
    uint256 internal constant SLOT = 19;

    /// The slot's value: zero when the task has no verification.
    function read(address market, uint256 jobId, uint256 task) internal view returns (uint256) {
        return uint256(VM.load(market, keccak256(abi.encode(task, keccak256(abi.encode(jobId, SLOT))))));
    }

    /// Fields packed from the low bits in declaration order: the phase, and the attempt and window each draw
    /// copies for the votes.
    function phase(uint256 raw) internal pure returns (uint256) {
        return (raw >> 72) & 0xff;
    }

    function attempt(uint256 raw) internal pure returns (uint256) {
        return (raw >> 192) & 0xffff;
    }

    function window(uint256 raw) internal pure returns (uint256) {
        return (raw >> 208) & 0xffffff;
    }
}
