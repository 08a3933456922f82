import { describe, expect, it } from 'vitest';
import { counts, eta, reduce, tileFromApi, type StreamEvent, type Tile } from '../src/lib/tasks';

const JOB = 7;
let seq = 100;
function ev(event: string, task: number | null, args: Record<string, unknown> = {}, extra: Partial<StreamEvent> = {}): StreamEvent {
  seq += 1;
  return {
    seq,
    live: true,
    event,
    blockNumber: seq,
    blockHash: '0x',
    blockTimestamp: 0,
    txHash: '0x',
    logIndex: 0,
    args: args as StreamEvent['args'],
    confirmed: false,
    jobId: JOB,
    taskIndex: task,
    ...extra,
  };
}

function tiles(n: number): Map<number, Tile> {
  return new Map(
    Array.from({ length: n }, (_, i) => [
      i,
      { task: i, state: 'open', worker: null, attempt: 0, phase: null, level: 0, verdict: null, rejected: false, confirmed: true, block: 1, seq: 0 } as Tile,
    ]),
  );
}

function play(start: Map<number, Tile>, events: StreamEvent[]) {
  let t = start;
  const refetch = new Set<number>();
  for (const e of events) {
    const r = reduce(t, e, JOB);
    t = r.tiles;
    r.refetch.forEach((i) => refetch.add(i));
  }
  return { tiles: t, refetch };
}

describe('task states from the event stream', () => {
  it('follows a task from claim to paid through its committee', () => {
    const w = '0xAbC0000000000000000000000000000000000001';
    const { tiles: t, refetch } = play(tiles(4), [
      ev('TaskClaimed', 2, { worker: w }),
      ev('ResultSubmitted', 2, { worker: w, attempt: '0' }),
      ev('CommitteeDrawn', 2, { level: 0 }),
      ev('VoteCommitted', 2),
      ev('RevealStarted', 2),
      ev('RoundTallied', 2, { verdict: 'approve', level: '0', appealEndsAt: '1800000000' }),
    ]);
    expect(t.get(2)).toMatchObject({ state: 'submitted', worker: w.toLowerCase(), phase: 'appealable', verdict: 'approve', confirmed: false, block: seq });
    expect(t.get(1)?.state).toBe('open');
    expect([...refetch]).toEqual([2]);
    const paid = reduce(t, ev('TaskPaid', 2, { worker: w }), JOB).tiles;
    expect(paid.get(2)).toMatchObject({ state: 'paid', phase: null });
    expect(counts(paid.values())).toEqual({ open: 3, claimed: 0, submitted: 0, paid: 1, refunded: 0 });
  });

  it('shows a rejection, the reopening and the next attempt', () => {
    const { tiles: t } = play(tiles(1), [
      ev('TaskClaimed', 0, { worker: '0x01' }),
      ev('ResultSubmitted', 0, { attempt: 0 }),
      ev('RoundTallied', 0, { verdict: 'reject', level: '1', appealEndsAt: '1800000000' }),
      ev('TaskRejected', 0, { reason: 1 }),
    ]);
    expect(t.get(0)).toMatchObject({ state: 'open', worker: null, verdict: 'reject', rejected: true });
    const again = play(t, [ev('TaskReopened', 0, { attempt: '1' }), ev('TaskClaimed', 0, { worker: '0x02' })]).tiles;
    expect(again.get(0)).toMatchObject({ state: 'claimed', attempt: 1, worker: '0x02', rejected: false });
  });

  it('ignores other jobs and events already applied (a resumed stream repeats them)', () => {
    const start = tiles(2);
    const other = reduce(start, ev('TaskClaimed', 0, {}, { jobId: JOB + 1 }), JOB);
    expect(other.tiles).toBe(start); // nothing to draw again
    expect(other.refetch).toEqual([]);
    const claim = ev('TaskClaimed', 0, { worker: '0x01' });
    const paid = ev('TaskPaid', 0);
    const t = play(start, [claim, paid]).tiles;
    const replay = reduce(t, claim, JOB);
    expect(replay.tiles.get(0)?.state).toBe('paid');
    expect(replay.refetch).toEqual([]);
  });

  it('re-reads what a reorg removed and what a job-wide event changed', () => {
    const start = tiles(3);
    expect(reduce(start, ev('TaskClaimed', 1, {}, { live: false, removedSeq: 5 }), JOB).refetch).toEqual([1]);
    expect(reduce(start, ev('JobCancelled', null), JOB)).toMatchObject({ refetch: [0, 1, 2], jobWide: true });
    expect(reduce(new Map(), ev('TaskClaimed', 9), JOB).refetch).toEqual([9]);
  });

  it('follows optimistic results, escalations without a majority and answered data challenges', () => {
    const opt = reduce(tiles(1), ev('ResultSubmitted', 0, { attempt: '0' }), JOB, true).tiles;
    expect(opt.get(0)?.phase).toBe('none');
    const { tiles: t } = play(tiles(1), [
      ev('ResultSubmitted', 0, { attempt: '0' }),
      ev('RoundTallied', 0, { verdict: 'approve', level: '0', appealEndsAt: '1800000000' }),
      ev('VerdictAppealed', 0, { level: '1' }),
      ev('CommitteeDrawn', 0, { level: '1' }),
      ev('DataChallenged', 0),
    ]);
    expect(t.get(0)).toMatchObject({ phase: 'data_challenge', level: 1, verdict: 'approve' });
    const answered = reduce(t, ev('DataProvided', 0), JOB).tiles;
    expect(answered.get(0)?.phase).toBe('commit');
    // A tie: no majority, no appeal window; the verdict of level 0 stands while level 2 is drawn.
    const tie = reduce(answered, ev('RoundTallied', 0, { verdict: 'none', level: '1', appealEndsAt: '0' }), JOB).tiles;
    expect(tie.get(0)).toMatchObject({ phase: 'awaiting_draw', level: 2, verdict: 'approve' });
  });

  it('reads a task record from the API', () => {
    const t = tileFromApi({
      jobId: JOB, taskIndex: 3, state: 'submitted', leaseExpired: false, attempt: 2, verificationLevel: 1, draws: 2,
      deferrals: 0, phaseOver: false, timesRejected: 1, timesExpired: 0, updatedBlock: 10, confirmed: true,
      verificationPhase: 'reveal', verdict: 'approve', worker: '0x09',
    });
    expect(t).toMatchObject({ task: 3, state: 'submitted', attempt: 2, level: 1, phase: 'reveal', verdict: 'approve', confirmed: true, block: 10 });
  });

  it('estimates the time left from the observed rate', () => {
    expect(eta(0, 4, 0, 100)).toBeNull();
    expect(eta(2, 4, 0, 40)).toBe(80);
    expect(eta(1, 0, 0, 40)).toBe(0);
  });
});
