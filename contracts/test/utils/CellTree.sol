// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice Reference implementation of the cell Merkle tree (docs/merkle.md) for tests: leaves in cell-index
/// order, each parent = keccak256 of its two children sorted ascending, an unpaired last node carried up as is.
library CellTree {
    function leaf(uint256 cellIndex, bytes32 dataHash) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(cellIndex, dataHash))));
    }

    function leaves(bytes32[] memory dataHashes) internal pure returns (bytes32[] memory out) {
        out = new bytes32[](dataHashes.length);
        for (uint256 i; i < dataHashes.length; ++i) {
            out[i] = leaf(i, dataHashes[i]);
        }
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    function root(bytes32[] memory dataHashes) internal pure returns (bytes32) {
        bytes32[] memory level = leaves(dataHashes);
        uint256 n = level.length;
        while (n > 1) {
            uint256 m = (n + 1) / 2;
            for (uint256 i; i < m; ++i) {
                level[i] = 2 * i + 1 < n ? hashPair(level[2 * i], level[2 * i + 1]) : level[2 * i];
            }
            n = m;
        }
        return level[0];
    }

    function proof(bytes32[] memory dataHashes, uint256 index) internal pure returns (bytes32[] memory) {
        bytes32[] memory level = leaves(dataHashes);
        bytes32[] memory path = new bytes32[](64);
        uint256 len;
        uint256 n = level.length;
        while (n > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < n) path[len++] = level[sibling];
            uint256 m = (n + 1) / 2;
            for (uint256 i; i < m; ++i) {
                level[i] = 2 * i + 1 < n ? hashPair(level[2 * i], level[2 * i + 1]) : level[2 * i];
            }
            index /= 2;
            n = m;
        }
        bytes32[] memory out = new bytes32[](len);
        for (uint256 i; i < len; ++i) {
            out[i] = path[i];
        }
        return out;
    }
}
