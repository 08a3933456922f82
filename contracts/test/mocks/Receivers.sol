// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDistributedRender} from "../../src/interfaces/IDistributedRender.sol";

/// @notice Refuses ETH.
contract RejectingReceiver {
    function doStake(IDistributedRender dr) external payable {
        dr.stake{value: msg.value}();
    }

    function doUnstake(IDistributedRender dr, uint256 amount) external {
        dr.requestUnstake(amount);
    }

    function doWithdrawStake(IDistributedRender dr) external {
        dr.withdrawStake();
    }
}

/// @notice Tries to withdraw again from inside the ETH transfer of a withdrawal.
contract ReentrantReceiver {
    IDistributedRender public immutable dr;
    uint256 public reentered;

    constructor(IDistributedRender dr_) {
        dr = dr_;
    }

    function withdrawEth() external {
        dr.withdraw(address(0));
    }

    receive() external payable {
        reentered += 1;
        dr.withdraw(address(0));
    }
}
