import { useEffect, useRef, useState } from 'preact/hooks';
import type { Config } from '../config';
import { formatAmount } from '../lib/amount';
import type { Api, Job, Meta, TaskDetail } from '../lib/api';
import { follow } from '../lib/stream';
import { counts, eta, reduce, tileFromApi, type Tile } from '../lib/tasks';
import { Head } from './Head';
import { PHASE_WORDS, shortAddress, span } from './format';

/** A job: its frames as mosaics of their tasks, live from the indexer's stream. */
export function JobPage({ api, id }: { api: Api; config: Config; id: number }) {
  const [job, setJob] = useState<Job | null>(null);
  const [meta, setMeta] = useState<Meta | null>(null);
  const [tiles, setTiles] = useState<Map<number, Tile>>(new Map());
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState('');
  const [selected, setSelected] = useState<number | null>(null);
  const settled = useRef<{ since: number; at: number[] }>({ since: Date.now() / 1000, at: [] });

  useEffect(() => {
    let stop = false;
    const pending = new Set<number>();
    let timer: ReturnType<typeof setTimeout> | null = null;
    // Re-read the tasks an event touched (the API is the truth: finality, verification), a batch at a time.
    const refetch = (tasks: number[]) => {
      tasks.forEach((t) => pending.add(t));
      if (timer) return;
      timer = setTimeout(async () => {
        timer = null;
        const batch = [...pending];
        pending.clear();
        for (const t of batch) {
          try {
            const r = await api.task(id, t);
            if (stop) return;
            setMeta(r.meta);
            setTiles((prev) => {
              const next = new Map(prev);
              const old = prev.get(t);
              next.set(t, { ...tileFromApi(r.data.task), seq: old?.seq ?? 0, rejected: old?.rejected ?? false });
              return next;
            });
          } catch (e) {
            setError((e as Error).message);
          }
        }
      }, 250);
    };
    let handle: { close(): void } | null = null;
    (async () => {
      try {
        // The stream first (from its current end, buffered by the browser), then the snapshot: nothing
        // that happens between the two is missed, and what the snapshot already holds is re-read anyway.
        handle = follow(
          api.base,
          null,
          (ev) => {
            setTiles((prev) => {
              const r = reduce(prev, ev, id);
              for (const t of r.tiles.values()) {
                const was = prev.get(t.task);
                if (was && was.state !== t.state && (t.state === 'paid' || t.state === 'refunded')) {
                  settled.current.at.push(Date.now() / 1000);
                }
              }
              if (r.refetch.length) refetch(r.refetch);
              return r.tiles;
            });
          },
          setConnected,
        );
        const detail = await api.job(id);
        const all = await api.tasks(id);
        if (stop) return;
        setJob(detail.data.job);
        setMeta(all.meta);
        setTiles(new Map(all.tasks.map((t) => [t.taskIndex, tileFromApi(t)])));
      } catch (e) {
        setError((e as Error).message);
      }
    })();
    return () => {
      stop = true;
      handle?.close();
      if (timer) clearTimeout(timer);
    };
  }, [api, id]);

  if (error && !job) {
    return (
      <p role="alert" class="error">
        {error}
      </p>
    );
  }
  if (!job) return <p>Loading job {id}…</p>;
  const s = job.settings;
  const regions = s.regionsX * s.regionsY;
  const c = counts(tiles.values());
  const remaining = c.open + c.claimed + c.submitted;
  const left = eta(settled.current.at, remaining, settled.current.since, Date.now() / 1000);
  return (
    <section aria-labelledby="job-title">
      <h1 id="job-title">Job #{job.jobId}</h1>
      <p>
        {job.status}, {job.taskCount} tasks ({s.frameCount} frames × {s.regionsX}×{s.regionsY} regions of a {s.width}×
        {s.height} image, {s.samplesPerPixel} spp), reward {formatAmount(BigInt(job.rewardPerTask), 18, 6)}{' '}
        {job.token === '0x0000000000000000000000000000000000000000' ? 'ETH' : shortAddress(job.token)} per task,
        committees of {job.quorum}
        {job.optimistic ? ', optimistic' : ''}; posted by <span title={job.artist}>{shortAddress(job.artist)}</span>{' '}
        ({job.confirmed ? 'confirmed' : 'unconfirmed'})
      </p>
      <p aria-live="polite">
        {c.paid} paid, {c.submitted} submitted, {c.claimed} claimed, {c.open} open, {c.refunded} refunded
        {remaining > 0 && left !== null ? `; about ${span(left)} left at the observed rate` : ''}
        {' · '}
        <span class={connected ? 'live' : 'offline'}>{connected ? 'live' : 'reconnecting…'}</span>
      </p>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {Array.from({ length: s.frameCount }, (_, f) => (
        <figure class="frame" key={f}>
          <figcaption>Frame {s.frameStart + f}</figcaption>
          <div class="mosaic" style={{ gridTemplateColumns: `repeat(${s.regionsX}, 1fr)`, aspectRatio: `${s.width} / ${s.height}` }}>
            {Array.from({ length: regions }, (_, r) => {
              const i = f * regions + r;
              const t = tiles.get(i);
              const state = t?.state ?? 'open';
              const phase = t?.phase ? PHASE_WORDS[t.phase] ?? t.phase : '';
              const label = `task ${i}: ${state}${phase ? `, ${phase}` : ''}${t?.rejected ? ', rejected before' : ''}${
                t && !t.confirmed ? ', unconfirmed' : ''
              }`;
              return (
                <button
                  type="button"
                  key={i}
                  class={`tile ${state}${t && !t.confirmed ? ' unconfirmed' : ''}`}
                  aria-label={label}
                  title={label}
                  aria-pressed={selected === i}
                  onClick={() => setSelected(selected === i ? null : i)}
                >
                  <span>{i}</span>
                  <span class="state">{state}</span>
                </button>
              );
            })}
          </div>
        </figure>
      ))}
      {selected !== null && <TaskPanel api={api} job={id} task={selected} tile={tiles.get(selected)} />}
      <Head meta={meta} />
    </section>
  );
}

/** One task's verification: committees, votes, appeals and data challenges, from the API. */
function TaskPanel({ api, job, task, tile }: { api: Api; job: number; task: number; tile: Tile | undefined }) {
  const [detail, setDetail] = useState<TaskDetail | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api
      .task(job, task)
      .then((r) => setDetail(r.data))
      .catch((e: Error) => setError(e.message));
    // Re-read when the tile changes (an event about this task).
  }, [api, job, task, tile?.seq, tile?.state]);
  return (
    <aside class="task" aria-labelledby="task-title">
      <h2 id="task-title">Task {task}</h2>
      {error && <p class="error">{error}</p>}
      {detail && (
        <>
          <p>
            {detail.task.state}, attempt {detail.task.attempt}, worker{' '}
            <span title={detail.task.worker ?? ''}>{shortAddress(detail.task.worker)}</span>
            {detail.task.verificationPhase ? `; ${PHASE_WORDS[detail.task.verificationPhase] ?? detail.task.verificationPhase}` : ''}
            {detail.task.verdict ? `; verdict ${detail.task.verdict}` : ''}
            {detail.task.phaseEndsAt ? `; phase ends ${new Date(detail.task.phaseEndsAt * 1000).toLocaleString()}` : ''} (
            {detail.task.confirmed ? 'confirmed' : 'unconfirmed'})
          </p>
          {detail.verification.draws.map((d, n) => (
            <div key={n}>
              <h3>
                Committee {n + 1} (level {d.level})
              </h3>
              <ul>
                {d.members.map((m) => (
                  <li key={m.verifier}>
                    <span title={m.verifier}>{shortAddress(m.verifier)}</span>: {m.seats} seat{m.seats === 1 ? '' : 's'},{' '}
                    {m.approve === true
                      ? 'approved'
                      : m.approve === false
                        ? 'rejected'
                        : m.committed
                          ? 'committed'
                          : 'no vote yet'}
                    {m.coherent === false ? ' (against the final verdict: slashed)' : ''}
                  </li>
                ))}
              </ul>
            </div>
          ))}
          {detail.verification.appeals.length > 0 && <p>{detail.verification.appeals.length} appeal(s)</p>}
          {detail.verification.dataChallenges.length > 0 && <p>{detail.verification.dataChallenges.length} data challenge(s)</p>}
        </>
      )}
    </aside>
  );
}
