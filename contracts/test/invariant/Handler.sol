// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DistributedRender} from "../../src/DistributedRender.sol";
import {IDistributedRender} from "../../src/interfaces/IDistributedRender.sol";
import {TestToken} from "../mocks/TestToken.sol";
import {Attesting} from "../utils/Attesting.sol";
import {CellTree} from "../utils/CellTree.sol";

/// @notice Drives the market through random but meaningful sequences for the invariant suite, and keeps ghost
/// records: how often each task was paid, and any state transition outside the allowed set.
contract Handler is Attesting {
    DistributedRender public immutable dr;
    TestToken public immutable token;
    address public immutable treasury;

    address[] public artists;
    address[] public workers;
    address[] public verifiers; // ascending
    uint256[] internal verifierKeys;

    uint256[] public jobIds;
    mapping(uint256 jobId => mapping(uint256 task => uint256)) public ghostTimesPaid;
    mapping(uint256 jobId => mapping(uint256 task => IDistributedRender.TaskState)) public ghostLastState;
    uint256 public ghostBadTransitions;
    uint256 public ghostPaidTotal;
    mapping(bytes4 selector => uint256) public calls;

    uint256 internal constant MAX_JOBS = 12;

    constructor(DistributedRender dr_, TestToken token_, address treasury_) {
        dr = dr_;
        token = token_;
        treasury = treasury_;
        for (uint256 i; i < 2; ++i) {
            address a = makeAddr(string.concat("inv-artist", vm.toString(i)));
            artists.push(a);
            vm.deal(a, 1e9 ether);
            token.mint(a, 1e9 ether);
            vm.prank(a);
            token.approve(address(dr), type(uint256).max);
        }
        for (uint256 i; i < 3; ++i) {
            address w = makeAddr(string.concat("inv-worker", vm.toString(i)));
            workers.push(w);
            vm.deal(w, 100 ether);
            vm.prank(w);
            dr.stake{value: 10 ether}();
        }
        for (uint256 i; i < 3; ++i) {
            (address v, uint256 k) = makeAddrAndKey(string.concat("inv-verifier", vm.toString(i)));
            verifiers.push(v);
            verifierKeys.push(k);
            vm.deal(v, 100 ether);
            vm.prank(v);
            dr.stake{value: 2 ether}();
        }
        for (uint256 i = 1; i < verifiers.length; ++i) {
            for (uint256 j = i; j > 0 && verifiers[j - 1] > verifiers[j]; --j) {
                (verifiers[j - 1], verifiers[j]) = (verifiers[j], verifiers[j - 1]);
                (verifierKeys[j - 1], verifierKeys[j]) = (verifierKeys[j], verifierKeys[j - 1]);
            }
        }
    }

    /// The handler reports equivocations and so earns credits; it must be able to withdraw them.
    receive() external payable {}

    // ------------------------------------------------------------------------------------------------
    // Accessors for the invariant contract
    // ------------------------------------------------------------------------------------------------

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    /// Everyone who can ever hold a credit or a stake.
    function accounts() public view returns (address[] memory out) {
        out = new address[](artists.length + workers.length + verifiers.length + 2);
        uint256 k;
        for (uint256 i; i < artists.length; ++i) {
            out[k++] = artists[i];
        }
        for (uint256 i; i < workers.length; ++i) {
            out[k++] = workers[i];
        }
        for (uint256 i; i < verifiers.length; ++i) {
            out[k++] = verifiers[i];
        }
        out[k++] = treasury;
        out[k++] = address(this);
    }

    // ------------------------------------------------------------------------------------------------
    // Actions
    // ------------------------------------------------------------------------------------------------

    modifier tracked() {
        calls[msg.sig] += 1;
        _;
        _observe();
    }

    function postJob(uint256 seed, uint8 tasks, bool useToken, uint8 quorum, bool optimistic, bool staked)
        external
        tracked
    {
        if (jobIds.length >= MAX_JOBS) return;
        address artist = artists[seed % artists.length];
        IDistributedRender.JobSpec memory s;
        s.sceneCid = "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am";
        s.rendererId = "tessera-pt/0.1";
        s.settings = IDistributedRender.RenderSettings({
            width: 64,
            height: 64,
            samplesPerPixel: 4,
            maxBounces: 4,
            frameStart: 0,
            frameCount: uint32(_bound(tasks, 1, 8)),
            regionsX: 1,
            regionsY: 1,
            cellSize: 32,
            seed: uint64(seed)
        });
        s.token = useToken ? address(token) : address(0);
        s.rewardPerTask = uint96(_bound(seed >> 8, 1, 1 ether));
        s.verifierFeeBps = uint16(_bound(seed >> 80, 0, 10_000));
        s.workerStakePerTask = staked ? uint96(_bound(seed >> 160, 1, 1e9) * 1 gwei) : 0;
        s.deadline = uint32(block.timestamp + _bound(seed >> 200, 1 hours, 3 days));
        s.leaseDuration = 2 hours;
        s.challengeWindow = 1 hours;
        s.quorum = uint8(_bound(quorum, 1, 3));
        s.optimistic = optimistic;
        uint256 escrow = uint256(s.settings.frameCount)
            * (uint256(s.rewardPerTask) + uint256(s.rewardPerTask) * s.verifierFeeBps / 10_000);
        vm.prank(artist);
        uint256 id = dr.submitRenderJob{value: useToken ? 0 : escrow}(s);
        jobIds.push(id);
    }

    function claim(uint256 workerSeed, uint256 jobSeed, uint8 mask) external tracked {
        if (jobIds.length == 0) return;
        uint256 id = jobIds[jobSeed % jobIds.length];
        IDistributedRender.Job memory job = dr.getJob(id);
        uint32[] memory picks = new uint32[](job.taskCount);
        uint256 n;
        for (uint256 t; t < job.taskCount; ++t) {
            if ((mask >> t) & 1 == 1 && _state(id, t) == IDistributedRender.TaskState.Open) {
                picks[n++] = uint32(t);
            }
        }
        if (n == 0) return;
        assembly {
            mstore(picks, n)
        }
        vm.prank(workers[workerSeed % workers.length]);
        try dr.claimTasks(id, picks) {} catch {}
    }

    function submit(uint256 jobSeed, uint256 taskSeed, bool forged) external tracked {
        (uint256 id, uint256 t, bool ok) = _pick(jobSeed, taskSeed, IDistributedRender.TaskState.Claimed);
        if (!ok) return;
        (, address w, uint256 until,,) = dr.getTask(id, t);
        if (block.timestamp >= until) return;
        vm.prank(w);
        dr.submitResult(id, t, "bafyoutput", CellTree.root(_cells(forged ? 1 : 0)));
    }

    function approve(uint256 jobSeed, uint256 taskSeed) external tracked {
        _attest(jobSeed, taskSeed, true);
    }

    function reject(uint256 jobSeed, uint256 taskSeed) external tracked {
        _attest(jobSeed, taskSeed, false);
    }

    function accept(uint256 jobSeed, uint256 taskSeed) external tracked {
        (uint256 id, uint256 t, bool ok) = _pick(jobSeed, taskSeed, IDistributedRender.TaskState.Submitted);
        if (!ok) return;
        vm.prank(dr.getJob(id).artist);
        dr.acceptTask(id, t);
    }

    function finalize(uint256 jobSeed, uint256 taskSeed) external tracked {
        (uint256 id, uint256 t, bool ok) = _pick(jobSeed, taskSeed, IDistributedRender.TaskState.Submitted);
        if (!ok) return;
        (,, uint256 until,,) = dr.getTask(id, t);
        if (block.timestamp < until) vm.warp(until);
        dr.finalizeTask(id, t);
    }

    function reopen(uint256 jobSeed, uint256 taskSeed) external tracked {
        (uint256 id, uint256 t, bool ok) = _pick(jobSeed, taskSeed, IDistributedRender.TaskState.Claimed);
        if (!ok) return;
        (,, uint256 until,,) = dr.getTask(id, t);
        if (block.timestamp < until) vm.warp(until);
        uint32[] memory one = new uint32[](1);
        one[0] = uint32(t);
        dr.reopenExpired(id, one);
    }

    function cancel(uint256 jobSeed) external tracked {
        if (jobIds.length == 0) return;
        uint256 id = jobIds[jobSeed % jobIds.length];
        vm.prank(dr.getJob(id).artist);
        try dr.cancelJob(id) {} catch {}
    }

    function reclaim(uint256 jobSeed) external tracked {
        if (jobIds.length == 0) return;
        uint256 id = jobIds[jobSeed % jobIds.length];
        if (block.timestamp < dr.getJob(id).deadline) return;
        dr.reclaimOpenTasks(id);
    }

    function withdraw(uint256 accountSeed, bool useToken) external tracked {
        address[] memory all = accounts();
        address who = all[accountSeed % all.length];
        address tok = useToken ? address(token) : address(0);
        if (dr.balanceOf(who, tok) == 0) return;
        vm.prank(who);
        dr.withdraw(tok);
    }

    function unstake(uint256 seed, uint256 amount) external tracked {
        address who = _staker(seed);
        IDistributedRender.StakeAccount memory acct = dr.stakeOf(who);
        uint256 free = uint256(acct.bonded) - acct.locked;
        if (free == 0) return;
        vm.prank(who);
        dr.requestUnstake(_bound(amount, 1, free));
    }

    function withdrawStake(uint256 seed) external tracked {
        address who = _staker(seed);
        IDistributedRender.StakeAccount memory acct = dr.stakeOf(who);
        if (acct.unbonding == 0) return;
        if (block.timestamp < acct.unbondingReadyAt) vm.warp(acct.unbondingReadyAt);
        vm.prank(who);
        dr.withdrawStake();
    }

    function restake(uint256 seed, uint256 amount) external tracked {
        address who = _staker(seed);
        amount = _bound(amount, 1, 5 ether);
        vm.deal(who, who.balance + amount);
        vm.prank(who);
        dr.stake{value: amount}();
    }

    function equivocate(uint256 jobSeed, uint256 taskSeed, uint256 verifierSeed) external tracked {
        (uint256 id, uint256 t, bool ok) = _pick(jobSeed, taskSeed, IDistributedRender.TaskState.Submitted);
        if (!ok) return;
        uint256 k = verifierKeys[verifierSeed % verifierKeys.length];
        IDistributedRender.Attestation memory a = _attestationAt(id, t, true, 1);
        IDistributedRender.Attestation memory b = _attestationAt(id, t, false, 1);
        try dr.reportEquivocation(a, _sign(k, a), b, _sign(k, b)) {} catch {}
    }

    function warp(uint256 secs) external tracked {
        vm.warp(block.timestamp + _bound(secs, 1, 6 hours));
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------

    /// A worker or a verifier, by seed.
    function _staker(uint256 seed) internal view returns (address) {
        return seed % 2 == 0 ? workers[seed / 2 % workers.length] : verifiers[seed / 2 % verifiers.length];
    }

    function _state(uint256 id, uint256 t) internal view returns (IDistributedRender.TaskState s) {
        (s,,,,) = dr.getTask(id, t);
    }

    /// Finds a task in `want`, starting from the seeded position.
    function _pick(uint256 jobSeed, uint256 taskSeed, IDistributedRender.TaskState want)
        internal
        view
        returns (uint256 id, uint256 t, bool ok)
    {
        uint256 nJobs = jobIds.length;
        for (uint256 j; j < nJobs; ++j) {
            id = jobIds[(jobSeed % nJobs + j) % nJobs];
            uint256 count = dr.getJob(id).taskCount;
            for (uint256 k; k < count; ++k) {
                t = (taskSeed % count + k) % count;
                if (_state(id, t) == want) return (id, t, true);
            }
        }
    }

    function _market() internal view override returns (IDistributedRender) {
        return dr;
    }

    function _attest(uint256 jobSeed, uint256 taskSeed, bool approve_) internal {
        (uint256 id, uint256 t, bool ok) = _pick(jobSeed, taskSeed, IDistributedRender.TaskState.Submitted);
        if (!ok) return;
        (,, uint256 until,, bytes32 root) = dr.getTask(id, t);
        if (block.timestamp >= until) return;
        uint256 quorum = dr.getJob(id).quorum;
        IDistributedRender.Attestation memory a = _attestationAt(id, t, approve_, 1);
        // The committed cells are either the honest set or the forged one; prove cell 1 of whichever it is.
        bytes32[] memory cells = _cells(root == CellTree.root(_cells(0)) ? 0 : 1);
        IDistributedRender.SignedAttestation[] memory b = new IDistributedRender.SignedAttestation[](quorum);
        for (uint256 i; i < quorum; ++i) {
            b[i].attestation = a;
            b[i].signature = _sign(verifierKeys[i], a);
            if (!approve_) {
                b[i].committedDataHash = cells[1];
                b[i].proof = CellTree.proof(cells, 1);
            }
        }
        // Verifiers whose stake was slashed or locked may be ineligible: then the call reverts.
        try dr.attest(id, t, b) {} catch {}
    }

    /// Records every task's state change since the last call and flags the ones the lifecycle forbids.
    function _observe() internal {
        for (uint256 j; j < jobIds.length; ++j) {
            uint256 id = jobIds[j];
            uint256 count = dr.getJob(id).taskCount;
            for (uint256 t; t < count; ++t) {
                IDistributedRender.TaskState prev = ghostLastState[id][t];
                IDistributedRender.TaskState next = _state(id, t);
                if (prev == next) continue;
                if (!allowed(prev, next)) ghostBadTransitions += 1;
                if (next == IDistributedRender.TaskState.Paid) {
                    ghostTimesPaid[id][t] += 1;
                    ghostPaidTotal += 1;
                }
                ghostLastState[id][t] = next;
            }
        }
    }

    /// The task lifecycle (docs/contracts.md). Between two observations a task may pass through several
    /// states (a rejection reopens it; a reopen after the deadline refunds it), so these are reachability
    /// edges, and nothing ever leaves Paid or Refunded.
    function allowed(IDistributedRender.TaskState a, IDistributedRender.TaskState b)
        public
        pure
        returns (bool)
    {
        if (a == IDistributedRender.TaskState.Paid || a == IDistributedRender.TaskState.Refunded) {
            return false;
        }
        if (a == IDistributedRender.TaskState.Open) {
            return b == IDistributedRender.TaskState.Claimed || b == IDistributedRender.TaskState.Refunded;
        }
        if (a == IDistributedRender.TaskState.Claimed) {
            return b == IDistributedRender.TaskState.Submitted || b == IDistributedRender.TaskState.Open
                || b == IDistributedRender.TaskState.Refunded;
        }
        // Submitted
        return b == IDistributedRender.TaskState.Paid || b == IDistributedRender.TaskState.Open
            || b == IDistributedRender.TaskState.Refunded;
    }
}
