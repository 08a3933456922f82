// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DistributedRender} from "../../src/DistributedRender.sol";
import {IDistributedRenderTypes} from "../../src/interfaces/IDistributedRender.sol";
import {TestToken} from "../mocks/TestToken.sol";
import {CellTree} from "./CellTree.sol";
import {Test, Vm} from "forge-std/Test.sol";

/// @notice Shared fixture: a deployed market, a token, funded and staked actors, registered verifiers, and helpers
/// that walk a task through its lifecycle, committees included.
abstract contract Base is Test {
    DistributedRender internal dr;
    TestToken internal token;

    address internal owner = makeAddr("owner");
    address internal treasury = makeAddr("treasury");
    address internal artist = makeAddr("artist");
    address internal worker = makeAddr("worker");
    address internal worker2 = makeAddr("worker2");
    address internal stranger = makeAddr("stranger");

    /// Honest verifiers, registered with `TICKETS` tickets each in `setUp`.
    address[] internal verifiers;

    uint16 internal constant FEE_BPS = 100;
    uint256 internal constant TICKET = 1 ether;
    uint256 internal constant UNBONDING_DELAY = 7 days;
    uint256 internal constant APPEAL_BOND = 0.01 ether;
    uint256 internal constant CHALLENGE_BOND = 0.02 ether;
    uint256 internal constant TICKETS = 4;
    uint96 internal constant REWARD = 0.01 ether;
    uint16 internal constant VERIFIER_FEE_BPS = 1000;
    uint96 internal constant VERIFIER_FEE = 0.001 ether; // REWARD * VERIFIER_FEE_BPS / 10_000
    uint96 internal constant STAKE = 0.005 ether;
    uint32 internal constant LEASE = 1 hours;
    uint32 internal constant WINDOW = 1 hours;
    uint32 internal constant MIN_WINDOW = 10 minutes;
    uint256 internal constant T0 = 1_700_000_000;
    string internal constant CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";

    /// The render proof an honest verifier reveals (any fixed value: honest renders agree bit for bit).
    bytes32 internal constant HONEST_PROOF = keccak256("honest render proof");

    function setUp() public virtual {
        vm.warp(T0);
        vm.roll(1000);
        dr = new DistributedRender(
            owner, treasury, FEE_BPS, TICKET, UNBONDING_DELAY, APPEAL_BOND, CHALLENGE_BOND, MIN_WINDOW
        );
        token = new TestToken();
        vm.label(address(dr), "DistributedRender");
        vm.label(address(token), "TestToken");
        vm.prank(owner);
        dr.setTokenAllowed(address(token), true);

        vm.deal(artist, 1000 ether);
        token.mint(artist, 1_000_000 ether);
        vm.prank(artist);
        token.approve(address(dr), type(uint256).max);
        _stake(worker, 10 ether);
        _stake(worker2, 10 ether);
        for (uint256 i; i < 3; ++i) {
            address v = makeAddr(string.concat("verifier", vm.toString(i)));
            verifiers.push(v);
            _register(v, TICKETS);
        }
    }

    function _stake(address who, uint256 amount) internal {
        vm.deal(who, who.balance + amount);
        vm.prank(who);
        dr.stake{value: amount}();
    }

    function _register(address who, uint256 tickets) internal {
        vm.deal(who, who.balance + tickets * TICKET);
        vm.prank(who);
        dr.registerVerifier{value: tickets * TICKET}(tickets);
    }

    function _spec(uint32 frames, uint32 regionsX, uint32 regionsY, address payToken)
        internal
        view
        returns (IDistributedRenderTypes.JobSpec memory spec)
    {
        spec.sceneCid = "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am";
        spec.rendererId = "tessera-pt/0.1";
        spec.settings = IDistributedRenderTypes.RenderSettings({
            width: 640,
            height: 360,
            samplesPerPixel: 64,
            maxBounces: 8,
            frameStart: 1,
            frameCount: frames,
            regionsX: regionsX,
            regionsY: regionsY,
            cellSize: 32,
            seed: 42
        });
        spec.token = payToken;
        spec.rewardPerTask = REWARD;
        spec.verifierFeeBps = VERIFIER_FEE_BPS;
        spec.workerStakePerTask = STAKE;
        spec.deadline = uint32(vm.getBlockTimestamp() + 1 days);
        spec.leaseDuration = LEASE;
        spec.challengeWindow = WINDOW;
        spec.quorum = 3;
        spec.optimistic = false;
    }

    function _escrow(IDistributedRenderTypes.JobSpec memory spec) internal pure returns (uint256) {
        uint256 tasks = uint256(spec.settings.frameCount) * spec.settings.regionsX * spec.settings.regionsY;
        return
            tasks * (uint256(spec.rewardPerTask) + uint256(spec.rewardPerTask) * spec.verifierFeeBps / 10_000);
    }

    function _post(IDistributedRenderTypes.JobSpec memory spec) internal returns (uint256 jobId) {
        vm.prank(artist);
        jobId = dr.submitRenderJob{value: spec.token == address(0) ? _escrow(spec) : 0}(spec);
    }

    /// Posting `spec` reverts with `InvalidJobField(field, value)` (fields are checked before the payment).
    function _expectInvalid(
        IDistributedRenderTypes.JobSpec memory spec,
        IDistributedRenderTypes.JobField field,
        uint256 value
    ) internal {
        vm.prank(artist);
        vm.expectRevert(
            abi.encodeWithSelector(IDistributedRenderTypes.InvalidJobField.selector, field, value)
        );
        dr.submitRenderJob{value: 0}(spec);
    }

    function _postEth(uint32 tasks) internal returns (uint256) {
        return _post(_spec(tasks, 1, 1, address(0)));
    }

    function _postQuorum(uint8 quorum, bool optimistic) internal returns (uint256) {
        IDistributedRenderTypes.JobSpec memory s = _spec(1, 1, 1, address(0));
        s.quorum = quorum;
        s.optimistic = optimistic;
        return _post(s);
    }

    function _one(uint256 t) internal pure returns (uint32[] memory a) {
        a = new uint32[](1);
        a[0] = uint32(t);
    }

    function _range(uint256 from, uint256 count) internal pure returns (uint32[] memory a) {
        a = new uint32[](count);
        for (uint256 i; i < count; ++i) {
            a[i] = uint32(from + i);
        }
    }

    function _claim(uint256 jobId, address who, uint256 task) internal returns (uint256) {
        vm.prank(who);
        return dr.claimTasks(jobId, _one(task));
    }

    /// Data hashes of a task's honest cells (20 cells; the value is arbitrary but fixed).
    function _cells(uint256 salt) internal pure returns (bytes32[] memory hashes) {
        hashes = new bytes32[](20);
        for (uint256 i; i < hashes.length; ++i) {
            hashes[i] = keccak256(abi.encode("cell", salt, i));
        }
    }

    function _submit(uint256 jobId, uint256 task, address who) internal returns (bytes32 root) {
        root = CellTree.root(_cells(0));
        vm.prank(who);
        dr.submitResult(jobId, task, CID, root);
    }

    function _claimAndSubmit(uint256 jobId, uint256 task) internal returns (bytes32) {
        _claim(jobId, worker, task);
        return _submit(jobId, task, worker);
    }

    function _state(uint256 jobId, uint256 task) internal view returns (IDistributedRenderTypes.TaskState s) {
        (s,,,,) = dr.getTask(jobId, task);
    }

    function _verification(uint256 jobId, uint256 task)
        internal
        view
        returns (IDistributedRenderTypes.VerificationView memory)
    {
        return dr.getVerification(jobId, task);
    }

    // ---------------------------------------------------------------------------------------------
    // Committees
    // ---------------------------------------------------------------------------------------------

    /// Mines past the due draw's seed block.
    function _pastSeed(uint256 jobId, uint256 task) internal {
        uint256 seedBlock = _verification(jobId, task).seedBlock;
        if (vm.getBlockNumber() <= seedBlock) vm.roll(seedBlock + 1);
    }

    /// Draws the due committee and returns its members and seats.
    function _draw(uint256 jobId, uint256 task)
        internal
        returns (address[] memory members, uint256[] memory seats)
    {
        _pastSeed(jobId, task);
        (,, members, seats) = dr.previewCommittee(jobId, task);
        dr.drawCommittee(jobId, task);
    }

    function _members(uint256 jobId, uint256 task) internal view returns (address[] memory out) {
        IDistributedRenderTypes.MemberView[] memory m =
            dr.getMembers(jobId, task, _verification(jobId, task).draws - 1);
        out = new address[](m.length);
        for (uint256 i; i < m.length; ++i) {
            out[i] = m[i].verifier;
        }
    }

    function _salt(address voter) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", voter));
    }

    function _commitment(uint256 jobId, uint256 task, address voter, bool approve, bytes32 proof)
        internal
        view
        returns (bytes32)
    {
        (,,, uint256 attempt,) = dr.getTask(jobId, task);
        uint256 draw = _verification(jobId, task).draws - 1;
        return keccak256(abi.encode(jobId, task, attempt, draw, voter, approve, proof, _salt(voter)));
    }

    function _commit(uint256 jobId, uint256 task, uint256 i, bool approve, bytes32 proof) internal {
        address voter = _members(jobId, task)[i];
        bytes32 c = _commitment(jobId, task, voter, approve, proof);
        vm.prank(voter);
        dr.commitVote(jobId, task, i, c);
    }

    function _reveal(uint256 jobId, uint256 task, uint256 i, bool approve, bytes32 proof) internal {
        address voter = _members(jobId, task)[i];
        vm.prank(voter);
        dr.revealVote(jobId, task, i, approve, proof, _salt(voter));
    }

    /// Draws (if due) and has every member commit and reveal `approve` with `proof`.
    function _vote(uint256 jobId, uint256 task, bool approve, bytes32 proof) internal {
        IDistributedRenderTypes.Phase phase = _verification(jobId, task).phase;
        if (
            phase == IDistributedRenderTypes.Phase.None || phase == IDistributedRenderTypes.Phase.AwaitingDraw
        ) {
            _draw(jobId, task);
        }
        uint256 n = _members(jobId, task).length;
        for (uint256 i; i < n; ++i) {
            _commit(jobId, task, i, approve, proof);
        }
        for (uint256 i; i < n; ++i) {
            _reveal(jobId, task, i, approve, proof);
        }
    }

    /// Ends the current phase and calls `finalizeTask`.
    function _finalize(uint256 jobId, uint256 task) internal {
        uint256 endsAt = _verification(jobId, task).phaseEndsAt;
        if (vm.getBlockTimestamp() < endsAt) vm.warp(endsAt);
        dr.finalizeTask(jobId, task);
    }

    /// Votes `approve` honestly and settles after the appeal window.
    function _settle(uint256 jobId, uint256 task, bool approve) internal {
        _vote(jobId, task, approve, HONEST_PROOF);
        _finalize(jobId, task);
    }

    function _approve(uint256 jobId, uint256 task) internal {
        _settle(jobId, task, true);
    }

    /// The ETH the contract must hold: escrow still held is checked elsewhere; this sums what the registry and
    /// the stakes account for.
    function _verifierStake(address v) internal view returns (uint256) {
        return dr.verifierOf(v).stake;
    }
}
