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

/** An observed render rate: camera samples a second from claim to result, over the tasks seen. */
export interface Rate {
  msamplesPerSecond: number;
  tasks: number;
}

/**
 * The network's rate from recent jobs' events: for each task, the time from its `TaskClaimed` to its
 * `ResultSubmitted` (block timestamps), against its samples (its region's pixels × spp). Null when no task
 * was seen from claim to result.
 */
export function observedRate(
  jobs: { settings: Pick<RenderSettings, 'width' | 'height' | 'regionsX' | 'regionsY' | 'samplesPerPixel'>; events: { event: string; taskIndex?: number | null; blockTimestamp: number }[] }[],
): Rate | null {
  let samples = 0;
  let seconds = 0;
  let tasks = 0;
  for (const j of jobs) {
    const claimed = new Map<number, number>();
    const regions = j.settings.regionsX * j.settings.regionsY;
    for (const e of j.events) {
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
