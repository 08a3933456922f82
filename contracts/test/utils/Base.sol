// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DistributedRender} from "../../src/DistributedRender.sol";
import {IDistributedRender} from "../../src/interfaces/IDistributedRender.sol";
import {TestToken} from "../mocks/TestToken.sol";
import {Attesting} from "./Attesting.sol";
import {CellTree} from "./CellTree.sol";

/// @notice Shared fixture: a deployed market, a token, funded and staked actors, and helpers that walk a task
/// through its lifecycle.
abstract contract Base is Attesting {
    DistributedRender internal dr;
    TestToken internal token;

    address internal owner = makeAddr("owner");
    address internal treasury = makeAddr("treasury");
    address internal artist = makeAddr("artist");
    address internal worker = makeAddr("worker");
    address internal worker2 = makeAddr("worker2");
    address internal stranger = makeAddr("stranger");

    /// Verifier keys sorted by address ascending.
    uint256[] internal verifierKeys;
    address[] internal verifiers;

    uint16 internal constant FEE_BPS = 100;
    uint256 internal constant VERIFIER_MIN_STAKE = 1 ether;
    uint256 internal constant UNBONDING_DELAY = 7 days;
    uint96 internal constant REWARD = 0.01 ether;
    uint16 internal constant VERIFIER_FEE_BPS = 1000;
    uint96 internal constant VERIFIER_FEE = 0.001 ether; // REWARD * VERIFIER_FEE_BPS / 10_000
    uint96 internal constant STAKE = 0.005 ether;
    uint32 internal constant LEASE = 1 hours;
    uint32 internal constant WINDOW = 1 hours;
    uint256 internal constant T0 = 1_700_000_000;

    function setUp() public virtual {
        vm.warp(T0);
        dr = new DistributedRender(owner, treasury, FEE_BPS, VERIFIER_MIN_STAKE, UNBONDING_DELAY);
        token = new TestToken();
        vm.label(address(dr), "DistributedRender");
        vm.label(address(token), "TestToken");

        for (uint256 i; i < 4; ++i) {
            (address v, uint256 k) = makeAddrAndKey(string.concat("verifier", vm.toString(i)));
            verifiers.push(v);
            verifierKeys.push(k);
        }
        // Insertion sort by address so that bundles are ascending.
        for (uint256 i = 1; i < verifiers.length; ++i) {
            for (uint256 j = i; j > 0 && verifiers[j - 1] > verifiers[j]; --j) {
                (verifiers[j - 1], verifiers[j]) = (verifiers[j], verifiers[j - 1]);
                (verifierKeys[j - 1], verifierKeys[j]) = (verifierKeys[j], verifierKeys[j - 1]);
            }
        }

        vm.deal(artist, 1000 ether);
        token.mint(artist, 1_000_000 ether);
        vm.prank(artist);
        token.approve(address(dr), type(uint256).max);
        _stake(worker, 10 ether);
        _stake(worker2, 10 ether);
        for (uint256 i; i < verifiers.length; ++i) {
            _stake(verifiers[i], VERIFIER_MIN_STAKE);
        }
    }

    function _stake(address who, uint256 amount) internal {
        vm.deal(who, who.balance + amount);
        vm.prank(who);
        dr.stake{value: amount}();
    }

    function _spec(uint32 frames, uint32 regionsX, uint32 regionsY, address payToken)
        internal
        view
        returns (IDistributedRender.JobSpec memory spec)
    {
        spec.sceneCid = "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am";
        spec.rendererId = "tessera-pt/0.1";
        spec.settings = IDistributedRender.RenderSettings({
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
        spec.deadline = uint32(block.timestamp + 1 days);
        spec.leaseDuration = LEASE;
        spec.challengeWindow = WINDOW;
        spec.quorum = 1;
        spec.optimistic = false;
    }

    function _escrow(IDistributedRender.JobSpec memory spec) internal pure returns (uint256) {
        uint256 tasks = uint256(spec.settings.frameCount) * spec.settings.regionsX * spec.settings.regionsY;
        return
            tasks * (uint256(spec.rewardPerTask) + uint256(spec.rewardPerTask) * spec.verifierFeeBps / 10_000);
    }

    function _post(IDistributedRender.JobSpec memory spec) internal returns (uint256 jobId) {
        vm.prank(artist);
        jobId = dr.submitRenderJob{value: spec.token == address(0) ? _escrow(spec) : 0}(spec);
    }

    function _postEth(uint32 tasks) internal returns (uint256) {
        return _post(_spec(tasks, 1, 1, address(0)));
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

    function _submit(uint256 jobId, uint256 task, address who) internal returns (bytes32 root) {
        root = CellTree.root(_cells(0));
        vm.prank(who);
        dr.submitResult(jobId, task, "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", root);
    }

    function _claimAndSubmit(uint256 jobId, uint256 task) internal returns (bytes32) {
        _claim(jobId, worker, task);
        return _submit(jobId, task, worker);
    }

    function _market() internal view override returns (IDistributedRender) {
        return dr;
    }

    /// An attestation about the task's current submission; rejections name cell 2.
    function _attestation(uint256 jobId, uint256 task, bool approve)
        internal
        view
        returns (IDistributedRender.Attestation memory)
    {
        return _attestationAt(jobId, task, approve, 2);
    }

    /// Signed attestations from the first `count` verifiers (ascending).
    function _bundle(uint256 jobId, uint256 task, bool approve, uint256 count)
        internal
        view
        returns (IDistributedRender.SignedAttestation[] memory out)
    {
        IDistributedRender.Attestation memory a = _attestation(jobId, task, approve);
        bytes32[] memory cells = _cells(0);
        out = new IDistributedRender.SignedAttestation[](count);
        for (uint256 i; i < count; ++i) {
            out[i].attestation = a;
            out[i].signature = _sign(verifierKeys[i], a);
            if (!approve) {
                out[i].committedDataHash = cells[a.cellIndex];
                out[i].proof = CellTree.proof(cells, a.cellIndex);
            }
        }
    }

    function _approve(uint256 jobId, uint256 task) internal {
        dr.attest(jobId, task, _bundle(jobId, task, true, 1));
    }

    function _state(uint256 jobId, uint256 task) internal view returns (IDistributedRender.TaskState s) {
        (s,,,,) = dr.getTask(jobId, task);
    }
}
