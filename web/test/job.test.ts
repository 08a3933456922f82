import { describe, expect, it } from 'vitest';
import { bill, observedRate, specProblems, parseDuration, regionOf, settingsProblems, taskCount, taskOf, type RenderSettings } from '../src/lib/job';

const base: RenderSettings = {
  width: 128, height: 72, samplesPerPixel: 4, maxBounces: 2, frameStart: 10, frameCount: 2,
  regionsX: 2, regionsY: 2, cellSize: 8, seed: 1n,
};

describe('a job as the contract and the CLI take it', () => {
  it('bills tasks × (reward + fee), the fee rounded down as the contract does', () => {
    // 0.002 ETH at 500 bps: 0.0001 fee; 8 tasks.
    expect(bill(8, 2_000_000_000_000_000n, 500)).toEqual({ tasks: 8, fee: 100_000_000_000_000n, escrow: 16_800_000_000_000_000n });
    // 333 wei at 100 bps: 3.33 wei → 3.
    expect(bill(3, 333n, 100)).toEqual({ tasks: 3, fee: 3n, escrow: 1008n });
    expect(taskCount(base)).toBe(8);
  });

  it('splits frames into regions exactly as crates/common does', () => {
    // 100 px in 3 regions: 0..33, 33..66, 66..100.
    const s = { width: 100, height: 1, regionsX: 3, regionsY: 1 };
    expect([0, 1, 2].map((r) => regionOf(s, r))).toEqual([
      [0, 0, 33, 1],
      [33, 0, 33, 1],
      [66, 0, 34, 1],
    ]);
    // Every pixel covered once, for odd sizes.
    for (const [w, h, rx, ry] of [[640, 360, 3, 2], [7, 5, 7, 5], [1920, 1080, 4, 4]] as const) {
      const covered = new Uint8Array(w * h);
      for (let r = 0; r < rx * ry; r++) {
        const [x, y, cw, ch] = regionOf({ width: w, height: h, regionsX: rx, regionsY: ry }, r);
        for (let j = y; j < y + ch; j++) for (let i = x; i < x + cw; i++) covered[j * w + i]! += 1;
      }
      expect(covered.every((c) => c === 1)).toBe(true);
    }
    expect(taskOf(base, 5)).toEqual({ frame: 11, region: [64, 0, 64, 36] });
  });

  it('names settings the renderer and the contract refuse', () => {
    expect(settingsProblems(base)).toEqual([]);
    expect(settingsProblems({ ...base, cellSize: 12 })).toEqual(['the cell size must be a power of two from 4 to 256']);
    expect(settingsProblems({ ...base, regionsX: 200 })).toEqual(['regions across must be 1 to the width']);
    expect(settingsProblems({ ...base, samplesPerPixel: 20_000, maxBounces: 64, cellSize: 16 })[0]).toMatch(/at most 2\^28/);
    expect(settingsProblems({ ...base, width: NaN })).toEqual(['width must be a whole number']);
  });

  it('reads durations as the CLI does', () => {
    expect([parseDuration('90m'), parseDuration('2h'), parseDuration('1d'), parseDuration('45'), parseDuration('1w')]).toEqual([5400, 7200, 86400, 45, null]);
  });

  it('measures the network rate from claims to results', () => {
    let seq = 0;
    const ev = (event: string, taskIndex: number, t: number) => ({ seq: ++seq, event, taskIndex, blockTimestamp: t });
    // Two 64×36 tasks of 4 spp (9,216 samples each), 2 s and 4 s from claim to result; a task never submitted;
    // task 0 claimed again after its result (a rejection): the new claim pairs with no earlier result.
    const events = [
      ev('TaskClaimed', 0, 100), ev('TaskClaimed', 1, 100), ev('ResultSubmitted', 0, 102), ev('ResultSubmitted', 1, 104),
      ev('TaskClaimed', 2, 100), ev('TaskClaimed', 0, 110),
    ];
    // Listed newest first, as the API does.
    const rate = observedRate([{ settings: base, events: events.reverse() }]);
    expect(rate?.tasks).toBe(2);
    expect(rate?.msamplesPerSecond).toBeCloseTo((2 * 9216) / 1e6 / 6);
    expect(observedRate([{ settings: base, events: [] }])).toBeNull();
  });

  it('names the terms the contract would refuse, before anything is signed', () => {
    const spec = {
      rendererId: 'tessera-pt/0.4', settings: base, token: '0x0000000000000000000000000000000000000000' as const,
      rewardPerTask: 10n ** 15n, verifierFeeBps: 500, workerStakePerTask: 10n ** 15n, deadline: 2000, leaseDuration: 3600,
      challengeWindow: 20, quorum: 3, optimistic: false,
    };
    const market = { minChallengeWindow: 10, activeTickets: 12, paused: false };
    expect(specProblems(spec, market, 1000)).toEqual([]);
    expect(specProblems({ ...spec, challengeWindow: 5 }, market, 1000)).toEqual(['a verification phase lasts 10 s (this market\'s minimum) to 30 days']);
    expect(specProblems({ ...spec, quorum: 7 }, { ...market, activeTickets: 4 }, 1000)[0]).toMatch(/registry has 4 active tickets/);
    expect(specProblems(spec, { ...market, paused: true }, 1000)).toEqual(['the market is paused: no new jobs for now']);
    expect(specProblems({ ...spec, deadline: 1000 }, market, 1000)[0]).toMatch(/after now/);
    expect(specProblems({ ...spec, workerStakePerTask: 10n ** 15n + 1n }, market, 1000)).toEqual(['the worker stake is a whole number of gwei']);
    // 99 wei at 100 bps: a fee that rounds to zero, refused unless optimistic.
    expect(specProblems({ ...spec, rewardPerTask: 99n, verifierFeeBps: 100 }, market, 1000)[0]).toMatch(/does not round to zero/);
    expect(specProblems({ ...spec, rewardPerTask: 99n, verifierFeeBps: 100, optimistic: true }, market, 1000)).toEqual([]);
    expect(specProblems({ ...spec, settings: { ...base, frameCount: 250_001, regionsX: 2, regionsY: 2 } }, market, 1000)[0]).toMatch(/at most 1,000,000/);
  });
});
