// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DistributedRender} from "../src/DistributedRender.sol";
import {TestToken} from "../test/mocks/TestToken.sol";
import {Script} from "forge-std/Script.sol";

/// @notice Deploys DistributedRender (and, on a local chain, a mintable test token) and writes
/// `deployments/<chainId>.json` with the addresses and the deployment block, which the indexer, the workers and
/// the CLI read.
/// @dev Environment (all optional): TESSERA_OWNER, TESSERA_TREASURY (default: the broadcaster),
/// TESSERA_FEE_BPS (default 100), TESSERA_TICKET_STAKE (wei per verifier ticket = one seat's bond, default
/// 1 ether), TESSERA_UNBONDING_DELAY (seconds, default 7 days), TESSERA_APPEAL_BOND_PER_SEAT (wei, default
/// 0.01 ether), TESSERA_DATA_CHALLENGE_BOND (wei, default 0.01 ether), TESSERA_MIN_CHALLENGE_WINDOW (seconds, the
/// shortest phase a job may set: default 15 minutes, 10 s on chain 31337), TESSERA_DEPLOY_TEST_TOKEN (default: true
/// on chain 31337), TESSERA_TOKENS (comma-separated ERC-20 addresses new jobs may pay in; the test token is added;
/// the owner must be the broadcaster to allow them here, else it calls `setTokenAllowed` later).
/// Run: forge script contracts/script/Deploy.s.sol --rpc-url $RPC --broadcast --private-key $KEY
contract Deploy is Script {
    function run() external returns (DistributedRender market, address testToken) {
        address deployer = msg.sender;
        address owner = vm.envOr("TESSERA_OWNER", deployer);
        address treasury = vm.envOr("TESSERA_TREASURY", deployer);
        bool local = block.chainid == 31_337;
        bool withToken = vm.envOr("TESSERA_DEPLOY_TEST_TOKEN", local);

        uint256 deployBlock = block.number;
        vm.startBroadcast();
        market = _market(owner, treasury, local);
        address[] memory tokens = vm.envOr("TESSERA_TOKENS", ",", new address[](0));
        if (withToken) testToken = address(new TestToken());
        if (tokens.length != 0 || withToken) {
            require(owner == deployer, "allowing tokens needs TESSERA_OWNER to be the broadcaster");
            for (uint256 i; i < tokens.length; ++i) {
                market.setTokenAllowed(tokens[i], true);
            }
            if (withToken) market.setTokenAllowed(testToken, true);
        }
        vm.stopBroadcast();

        string memory key = "deployment";
        vm.serializeUint(key, "chainId", block.chainid);
        vm.serializeAddress(key, "distributedRender", address(market));
        vm.serializeAddress(key, "extension", market.EXTENSION());
        vm.serializeAddress(key, "testToken", testToken);
        vm.serializeAddress(key, "owner", owner);
        vm.serializeAddress(key, "treasury", treasury);
        string memory json = vm.serializeUint(key, "deploymentBlock", deployBlock);
        string memory path =
            string.concat(vm.projectRoot(), "/deployments/", vm.toString(block.chainid), ".json");
        vm.writeJson(json, path);
    }

    /// The market, with the immutables from the environment (in a function of its own: the script's locals
    /// would not fit the stack of an unoptimized build, which coverage makes).
    function _market(address owner, address treasury, bool local) internal returns (DistributedRender) {
        uint256 feeBps = vm.envOr("TESSERA_FEE_BPS", uint256(100));
        require(feeBps <= 500, "TESSERA_FEE_BPS above the 500 bps cap");
        // forge-lint: disable-next-line(unsafe-typecast)
        return new DistributedRender(
            owner,
            treasury,
            uint16(feeBps),
            vm.envOr("TESSERA_TICKET_STAKE", uint256(1 ether)),
            vm.envOr("TESSERA_UNBONDING_DELAY", uint256(7 days)),
            vm.envOr("TESSERA_APPEAL_BOND_PER_SEAT", uint256(0.01 ether)),
            vm.envOr("TESSERA_DATA_CHALLENGE_BOND", uint256(0.01 ether)),
            vm.envOr("TESSERA_MIN_CHALLENGE_WINDOW", local ? uint256(10) : uint256(15 minutes))
        );
    }
}
