// A job's tasks as tiles of the mosaic, kept current from the indexer's event stream.
//
// `reduce` applies one stream event to the tiles at once (a tile changes the moment its event arrives) and
// names the tasks whose record the page should re-read from the API, which stays the truth: events removed
// by a reorg, events that change more than one tile, and every change, so that finality (`confirmed`) and
// the verification details follow the indexer's own view. Events already applied (a resumed stream may
// repeat the last ones) are skipped by their feed position.

import type { components } from '../generated/api';

export type ApiTask = components['schemas']['Task'];
export type TaskState = components['schemas']['TaskStatus'];

/** What the mosaic draws for one task. */
export interface Tile {
  task: number;
  state: TaskState;
  worker: string | null;
  attempt: number;
  /** Where the verification stands: `none`, `awaiting_draw`, `commit`, `reveal`, `data_challenge`, `appealable` (the API's words). */
  phase: string | null;
  /** Appeal level of the current or next committee. */
  level: number;
  /** The standing verdict of the current submission. */
  verdict: 'approve' | 'reject' | null;
  /** Whether the last rejection of this task was its last change. */
  rejected: boolean;
  /** Whether the last change is in a confirmed block. */
  confirmed: boolean;
  /** Block of the last change (to re-read the tile once the indexer confirms it). */
  block: number;
  /** Feed position of the last event applied (0: from the API). */
  seq: number;
  /** The current result: its output's CID and the cell root committed on-chain (none while open or claimed). */
  output?: { cid: string; root: `0x${string}` } | null;
}

/** An event of the indexer's stream (`Event` of the OpenAPI document). */
export type StreamEvent = components['schemas']['Event'];

function num(v: unknown, fallback = 0): number {
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : NaN;
  return Number.isFinite(n) ? n : fallback;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v.toLowerCase() : null;
}

/** The tile of a task record from the API. */
export function tileFromApi(t: ApiTask): Tile {
  const verdict = str(t.verdict);
  return {
    task: t.taskIndex,
    state: t.state,
    worker: t.worker ?? null,
    attempt: t.attempt,
    phase: t.state === 'submitted' ? (t.verificationPhase ?? null) : null,
    level: t.verificationLevel,
    verdict: verdict === 'approve' || verdict === 'reject' ? verdict : null,
    rejected: false,
    confirmed: t.confirmed,
    block: t.updatedBlock,
    seq: 0,
    output: t.outputCid && t.cellRoot ? { cid: t.outputCid, root: t.cellRoot as `0x${string}` } : null,
  };
}

/** The outcome of one event: the new tiles and the tasks to re-read from the API. */
export interface Reduction {
  tiles: Map<number, Tile>;
  refetch: number[];
  /** Whether the job's own record changed (a cancel, a reclaim, a reorg of one of those). */
  jobWide?: boolean;
}

/**
 * Applies `ev` to the tiles of `job` (`optimistic`: whether its results are paid unless disputed). Events
 * about other jobs change nothing and return the same map. A removal notice (a reorg) and a job-wide event
 * (cancel, reclaim) name every affected task for re-reading; `jobWide` says the job itself changed.
 */
export function reduce(tiles: ReadonlyMap<number, Tile>, ev: StreamEvent, job: number, optimistic = false): Reduction {
  const same = tiles as Map<number, Tile>;
  if (ev.jobId !== job) return { tiles: same, refetch: [] };
  const all = [...tiles.keys()];
  if (!ev.live) {
    return { tiles: same, refetch: ev.taskIndex == null ? all : [ev.taskIndex], jobWide: ev.taskIndex == null };
  }
  if (ev.taskIndex == null) {
    // JobCancelled, OpenTasksReclaimed: open tasks become refunded; re-read them all, and the job.
    return { tiles: same, refetch: all, jobWide: true };
  }
  const i = ev.taskIndex;
  const old = tiles.get(i);
  if (old === undefined) return { tiles: same, refetch: [i] };
  if (ev.seq <= old.seq) return { tiles: same, refetch: [] };
  const a = ev.args as Record<string, unknown>;
  let t: Tile = { ...old, seq: ev.seq, confirmed: ev.confirmed, block: ev.blockNumber };
  switch (ev.event) {
    case 'TaskClaimed':
      t = { ...t, state: 'claimed', worker: str(a.worker), phase: null, verdict: null, rejected: false, output: null };
      break;
    case 'ResultSubmitted':
      // An optimistic result is open to dispute (`none`); any other awaits its first committee.
      t = { ...t, state: 'submitted', worker: str(a.worker) ?? t.worker, attempt: num(a.attempt, t.attempt),
        phase: optimistic ? 'none' : 'awaiting_draw', level: 0, verdict: null,
        output: typeof a.outputCid === 'string' && typeof a.cellRoot === 'string' ? { cid: a.outputCid, root: a.cellRoot as `0x${string}` } : null };
      break;
    case 'CommitteeDrawn':
      t = { ...t, phase: 'commit', level: num(a.level, t.level) };
      break;
    case 'DrawDeferred':
      t = { ...t, phase: 'awaiting_draw' };
      break;
    case 'RevealStarted':
      t = { ...t, phase: 'reveal' };
      break;
    case 'DataChallenged':
      t = { ...t, phase: 'data_challenge' };
      break;
    case 'RoundTallied': {
      // The indexer names the verdict (`approve`, `reject`, `none`); a round without a majority keeps the
      // standing verdict. No appeal window (`appealEndsAt` 0) means the round escalates to the next level.
      const v = str(a.verdict);
      const verdict = v === 'approve' || v === 'reject' ? v : t.verdict;
      const level = num(a.level, t.level);
      t = num(a.appealEndsAt, 1) === 0
        ? { ...t, phase: 'awaiting_draw', verdict, level: level + 1 }
        : { ...t, phase: 'appealable', verdict, level };
      break;
    }
    case 'DataProvided':
      t = { ...t, phase: 'commit' };
      break;
    case 'VerdictAppealed':
      t = { ...t, phase: 'awaiting_draw', level: num(a.level, t.level + 1) };
      break;
    case 'TaskPaid':
      t = { ...t, state: 'paid', phase: null };
      break;
    case 'TaskRefunded':
      t = { ...t, state: 'refunded', phase: null };
      break;
    case 'TaskRejected':
      t = { ...t, state: 'open', worker: null, phase: null, verdict: 'reject', rejected: true, output: null };
      break;
    case 'TaskReopened':
      t = { ...t, state: 'open', worker: null, attempt: num(a.attempt, t.attempt + 1), phase: null, verdict: null, output: null };
      break;
    default:
      // Votes, settlements: the tile's state stands; its details come from the API.
      break;
  }
  const next = new Map(tiles);
  next.set(i, t);
  return { tiles: next, refetch: [i] };
}

/** Tasks per state, for the summary line. */
export function counts(tiles: Iterable<Tile>): Record<TaskState, number> {
  const c: Record<TaskState, number> = { open: 0, claimed: 0, submitted: 0, paid: 0, refunded: 0 };
  for (const t of tiles) c[t.state] += 1;
  return c;
}

/**
 * Seconds until every task is settled at the observed rate: `done` tasks settled since `since` (unix
 * seconds) over the time elapsed, applied to the `remaining` ones; null before anything settled.
 */
export function eta(done: number, remaining: number, since: number, now: number): number | null {
  if (remaining === 0) return 0;
  if (done <= 0 || now <= since) return null;
  return Math.round((remaining * (now - since)) / done);
}
