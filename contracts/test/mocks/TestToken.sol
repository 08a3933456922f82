// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice A plain ERC-20 anyone can mint: the local network's demo payment token and the tests' token.
contract TestToken is ERC20 {
    constructor() ERC20("Tessera Test Token", "TTT") {}

    /// @notice Mints `amount` to `to`.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

/// @notice Burns 1% of every transfer: the contract must refuse it as a payment token.
contract FeeOnTransferToken is ERC20 {
    constructor() ERC20("Fee Token", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 burn = value / 100;
            super._update(from, address(0), burn);
            value -= burn;
        }
        super._update(from, to, value);
    }
}

/// @notice A USDT-style token: `transfer`, `transferFrom` and `approve` return nothing, and `approve` from a
/// non-zero allowance to another non-zero one reverts (set it to zero first). Callers must use SafeERC20's
/// calls (and `forceApprove`), not the `IERC20` ones that expect a bool.
contract UsdtStyleToken {
    string public constant name = "Tether-style USD";
    string public constant symbol = "USDT";
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function transfer(address to, uint256 value) external {
        _move(msg.sender, to, value);
    }

    function transferFrom(address from, address to, uint256 value) external {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "allowance");
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - value;
        _move(from, to, value);
    }

    function approve(address spender, uint256 value) external {
        require(value == 0 || allowance[msg.sender][spender] == 0, "approve from non-zero to non-zero");
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    function _move(address from, address to, uint256 value) private {
        require(balanceOf[from] >= value, "balance");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}

/// @notice A rebasing token (stETH- or AMPL-style): balances are shares times an index that `rebase` moves,
/// so a holder's balance changes without any transfer. The market must refuse it as a payment token: after a
/// negative rebase its balance no longer covers escrow and credits.
contract RebasingToken is ERC20 {
    /// Balance per share, 1e18 = 1.
    uint256 public index = 1e18;

    constructor() ERC20("Rebasing Token", "REB") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount * 1e18 / index);
    }

    /// Moves every balance by `bps` basis points (negative: down).
    function rebase(int256 bps) external {
        index = uint256(int256(index) * (10_000 + bps) / 10_000);
    }

    function balanceOf(address account) public view override returns (uint256) {
        return super.balanceOf(account) * index / 1e18;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value * 1e18 / index);
    }
}
