// A job as the contract takes it (`IDistributedRender.JobSpec`), the bill it escrows and how its tasks split
// the frames: the same arithmetic as `tessera job submit` and `job estimate` (crates/cli) and the task
// layout of crates/common/src/task.rs, so that the page, the CLI and the chain agree to the wei and the pixel.

import type { Address } from 'viem';

/** `IDistributedRender.RenderSettings`. */
export interface RenderSettings {
  width: number;
  height: number;
  samplesPerPixel: number;
  maxBounces: number;
  frameStart: number;
  frameCount: number;
  regionsX: number;
  regionsY: number;
  cellSize: number;
  seed: bigint;
}

/** `IDistributedRender.JobSpec`. */
export interface JobSpec {
  sceneCid: string;
  rendererId: string;
  settings: RenderSettings;
  token: Address;
  rewardPerTask: bigint;
  verifierFeeBps: number;
  workerStakePerTask: bigint;
  deadline: number;
  leaseDuration: number;
  challengeWindow: number;
  quorum: number;
  optimistic: boolean;
}

/** What a job escrows, in the token's smallest units: `tasks × (reward + fee)`, the fee being
 * `reward × verifierFeeBps / 10,000` rounded down (the contract's `verifierFeePerTask`). */
export function bill(tasks: number, rewardPerTask: bigint, verifierFeeBps: number) {
  const fee = (rewardPerTask * BigInt(verifierFeeBps)) / 10_000n;
  return { tasks, fee, escrow: BigInt(tasks) * (rewardPerTask + fee) };
}

/** Tasks of a job: frames × regions. */
export function taskCount(s: Pick<RenderSettings, 'frameCount' | 'regionsX' | 'regionsY'>): number {
  return s.frameCount * s.regionsX * s.regionsY;
}

/** A rectangle of pixels: x, y, width, height. */
export type Rect = [number, number, number, number];

/** The pixels of region `r` (row-major in the region grid): region i of n spans
 * `[floor(size·i/n), floor(size·(i+1)/n))` on each axis, as `RenderSettings::region` in Rust. */
export function regionOf(s: Pick<RenderSettings, 'width' | 'height' | 'regionsX' | 'regionsY'>, r: number): Rect {
  const rx = r % s.regionsX;
  const ry = Math.floor(r / s.regionsX);
  const span = (size: number, parts: number, i: number): [number, number] => {
    const at = (k: number) => Math.floor((size * k) / parts);
    return [at(i), at(i + 1) - at(i)];
  };
  const [x, w] = span(s.width, s.regionsX, rx);
  const [y, h] = span(s.height, s.regionsY, ry);
  return [x, y, w, h];
}

/** Task `index`'s frame and region. */
export function taskOf(s: RenderSettings, index: number): { frame: number; region: Rect } {
  const regions = s.regionsX * s.regionsY;
  return { frame: s.frameStart + Math.floor(index / regions), region: regionOf(s, index % regions) };
}

/** Millions of camera samples in the job (pixels × samples per pixel × frames), the unit of its price. */
export function msamples(s: RenderSettings): number {
  return (s.width * s.height * s.samplesPerPixel * s.frameCount) / 1e6;
}

/** `30s`, `15m`, `2h`, `1d` or plain seconds, as the CLI's `--deadline`; null when it is none of those. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+)\s*([smhd]?)\s*$/.exec(text);
  if (!m) return null;
  const mult = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  const v = Number(m[1]) * mult;
  return Number.isSafeInteger(v) ? v : null;
}

/** The renderer's and contract's bounds (crates/common/src/task.rs, `DistributedRenderBase`). */
export const MAX_DIMENSION = 16_384;
export const MAX_BOUNCES = 64;
export const MAX_CELL_WORK = 2 ** 28;

/**
 * What is wrong with the settings, in words (empty when nothing is), checked in the order and by the rules of
 * `RenderSettings::validate` in crates/common (which the contract's `InvalidJobField` mirrors): width and
 * height 1..=16384, at least one sample and one frame, 1..=width and 1..=height regions, a power-of-two cell
 * size from 4 to 256, at most 64 bounces, and `spp × (bounces + 1) × cell²` at most 2^28 (a committee member
 * re-renders 64 cells).
 */
export function settingsProblems(s: RenderSettings): string[] {
  const out: string[] = [];
  const whole = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
  for (const [k, v] of Object.entries(s)) {
    if (k !== 'seed' && !whole(v as number)) out.push(`${k} must be a whole number`);
  }
  if (out.length) return out;
  if (s.width < 1 || s.width > MAX_DIMENSION) out.push(`the width must be 1 to ${MAX_DIMENSION} pixels`);
  if (s.height < 1 || s.height > MAX_DIMENSION) out.push(`the height must be 1 to ${MAX_DIMENSION} pixels`);
  if (s.samplesPerPixel < 1) out.push('at least 1 sample per pixel');
  if (s.frameCount < 1) out.push('at least 1 frame');
  if (s.regionsX < 1 || s.regionsX > s.width) out.push('regions across must be 1 to the width');
  if (s.regionsY < 1 || s.regionsY > s.height) out.push('regions down must be 1 to the height');
  if (s.cellSize < 4 || s.cellSize > 256 || (s.cellSize & (s.cellSize - 1)) !== 0) out.push('the cell size must be a power of two from 4 to 256');
  if (s.maxBounces > MAX_BOUNCES) out.push(`at most ${MAX_BOUNCES} bounces`);
  if (s.samplesPerPixel * (s.maxBounces + 1) * s.cellSize ** 2 > MAX_CELL_WORK) {
    out.push('samples per pixel × (bounces + 1) × the cell\'s pixels must be at most 2^28 (a committee member re-renders 64 cells): lower the samples, bounces or cell size');
  }
  return out;
}

/** The contract's bounds on a job's terms (`DistributedRenderBase`). */
export const MAX_TASKS = 1_000_000;
export const MAX_QUORUM = 7;
export const MIN_VERIFIER_FEE_BPS = 100;
export const MAX_STAKE_GWEI = 2n ** 48n - 1n;
export const MAX_LEASE_DURATION = 30 * 86_400;
export const MAX_CHALLENGE_WINDOW = 30 * 86_400;

/** What the market says about itself when a job is posted. */
export interface MarketState {
  /** `MIN_CHALLENGE_WINDOW`, seconds (set at deployment). */
  minChallengeWindow: number;
  /** `registry().activeTickets`: the largest first committee a job may ask for now. */
  activeTickets: number;
  paused: boolean;
}

/**
 * What the contract's `_validate` (and `submitRenderJob`'s other checks) would refuse in `spec`, in words,
 * given the market's state: the settings' rules, at most 1,000,000 tasks, a non-zero reward, the verifier fee
 * (at most 10,000 bps; a job that is not optimistic pays at least 100 bps and a fee that does not round to
 * zero), the stake in whole gwei below 2^48 gwei, a lease of 1 s to 30 days, a deadline after `now` that
 * fits 32 bits, a phase of the market's minimum to 30 days, a committee of 1 to 7 seats and at most the
 * registry's active tickets, and a market that is not paused. Checked before anything is uploaded or signed.
 */
export function specProblems(spec: Omit<JobSpec, 'sceneCid'>, market: MarketState | null, now: number): string[] {
  const out = settingsProblems(spec.settings);
  const tasks = taskCount(spec.settings);
  if (tasks > MAX_TASKS) out.push(`${tasks.toLocaleString('en')} tasks; a job has at most ${MAX_TASKS.toLocaleString('en')}`);
  if (!spec.rendererId) out.push('name the renderer');
  if (spec.rewardPerTask === 0n) out.push('the reward per task must be above zero');
  const bps = spec.verifierFeeBps;
  if (!Number.isInteger(bps) || bps < 0 || bps > 10_000) out.push('the verifier fee is 0 to 10,000 basis points');
  else if (!spec.optimistic && (bps < MIN_VERIFIER_FEE_BPS || spec.rewardPerTask * BigInt(bps) < 10_000n)) {
    out.push(`a job that is not optimistic pays its committee: a verifier fee of at least ${MIN_VERIFIER_FEE_BPS} basis points that does not round to zero`);
  }
  if (spec.workerStakePerTask % 1_000_000_000n !== 0n) out.push('the worker stake is a whole number of gwei');
  else if (spec.workerStakePerTask / 1_000_000_000n > MAX_STAKE_GWEI) out.push('the worker stake is below 2^48 gwei');
  if (!(spec.leaseDuration >= 1 && spec.leaseDuration <= MAX_LEASE_DURATION)) out.push('a lease lasts 1 s to 30 days');
  if (!(spec.deadline > now && spec.deadline <= 0xffff_ffff)) out.push('the deadline must be after now and before 2106');
  if (!(spec.quorum >= 1 && spec.quorum <= MAX_QUORUM)) out.push(`a first committee has 1 to ${MAX_QUORUM} seats`);
  if (market) {
    if (!(spec.challengeWindow >= market.minChallengeWindow && spec.challengeWindow <= MAX_CHALLENGE_WINDOW)) {
      out.push(`a verification phase lasts ${market.minChallengeWindow} s (this market's minimum) to 30 days`);
    }
    if (spec.quorum > market.activeTickets) {
      out.push(`a first committee of ${spec.quorum} seats, but the verifier registry has ${market.activeTickets} active tickets`);
    }
    if (market.paused) out.push('the market is paused: no new jobs for now');
  }
  return out;
}

/** An observed render rate: camera samples a second from claim to result, over the tasks seen. */
export interface Rate {
  msamplesPerSecond: number;
  tasks: number;
}

/**
 * The network's rate from recent jobs' events (in any order): for each task, the time from its `TaskClaimed`
 * to the `ResultSubmitted` that follows it (block timestamps), against its samples (its region's pixels × spp). Null when no task
 * was seen from claim to result.
 */
export function observedRate(
  jobs: {
    settings: Pick<RenderSettings, 'width' | 'height' | 'regionsX' | 'regionsY' | 'samplesPerPixel'>;
    events: { seq: number; event: string; taskIndex?: number | null; blockTimestamp: number }[];
  }[],
): Rate | null {
  let samples = 0;
  let seconds = 0;
  let tasks = 0;
  for (const j of jobs) {
    const claimed = new Map<number, number>();
    const regions = j.settings.regionsX * j.settings.regionsY;
    // In feed order (the API lists a job's events newest first): a result pairs with the claim before it.
    for (const e of [...j.events].sort((a, b) => a.seq - b.seq)) {
      if (e.taskIndex === null || e.taskIndex === undefined) continue;
      if (e.event === 'TaskClaimed') claimed.set(e.taskIndex, e.blockTimestamp);
      if (e.event === 'ResultSubmitted') {
        const at = claimed.get(e.taskIndex);
        if (at === undefined) continue;
        claimed.delete(e.taskIndex);
        const [, , w, h] = regionOf(j.settings, e.taskIndex % regions);
        samples += w * h * j.settings.samplesPerPixel;
        // Block times have a resolution of a second: a task inside one block counts as one second.
        seconds += Math.max(1, e.blockTimestamp - at);
        tasks += 1;
      }
    }
  }
  return tasks ? { msamplesPerSecond: samples / 1e6 / seconds, tasks } : null;
}
