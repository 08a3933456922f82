import { useEffect, useRef, useState } from 'preact/hooks';
import type { Config } from '../config';
import type { Api, Job, Meta, TaskDetail } from '../lib/api';
import { follow } from '../lib/stream';
import { counts, eta, reduce, tileFromApi, type Tile } from '../lib/tasks';
import { Amount } from './Amount';
import type { TxStage } from '../lib/wallet';
import { explain, reader } from '../lib/wallet';
import { distributedRenderAbi } from '../generated/abi';
import { formatAmount } from '../lib/amount';
import { Frames } from './Frames';
import { MAX_TASKS } from '../lib/job';
import { Head } from './Head';
import { Credit, MarketAction, TxStatus, useWallet } from './Wallet';
import { PHASE_WORDS, shortAddress, span } from './format';

/** Above this many tasks to re-read at once, the whole list is read instead (pages of 500). */
const BULK = 50;

/** A job: its frames as mosaics of their tasks, live from the indexer's stream. */
export function JobPage({ api, config, id }: { api: Api; config: Config; id: number }) {
  const [job, setJob] = useState<Job | null>(null);
  const [meta, setMeta] = useState<Meta | null>(null);
  const [tiles, setTiles] = useState<Map<number, Tile>>(new Map());
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState('');
  const [selected, setSelected] = useState<number | null>(null);
  const [now, setNow] = useState(Date.now() / 1000);
  // The settled count when the page first knew the tasks, for the rate behind the ETA.
  const start = useRef<{ at: number; settled: number } | null>(null);
  const tilesRef = useRef(tiles);
  tilesRef.current = tiles;

  useEffect(() => {
    let stop = false;
    // A counter per task: only the newest read of a task is applied, whatever order answers come in.
    const version = new Map<number, number>();
    const bump = (t: number) => {
      const v = (version.get(t) ?? 0) + 1;
      version.set(t, v);
      return v;
    };
    const apply = (read: Tile, v: number) => {
      if (stop || version.get(read.task) !== v) return;
      setTiles((prev) => {
        const next = new Map(prev);
        const old = prev.get(read.task);
        next.set(read.task, { ...read, seq: old?.seq ?? 0, rejected: old?.rejected ?? false });
        return next;
      });
    };
    const readJob = async () => {
      const d = await api.job(id);
      if (!stop) setJob(d.data.job);
    };
    const readAll = async (which: number[] | null) => {
      const started = new Map((which ?? [...tilesRef.current.keys()]).map((t) => [t, bump(t)]));
      const all = await api.tasks(id);
      if (stop) return;
      setMeta(all.meta);
      for (const t of all.tasks) {
        const v = started.get(t.taskIndex) ?? bump(t.taskIndex);
        apply(tileFromApi(t), v);
      }
      if (!start.current) {
        const c = counts(all.tasks.map(tileFromApi));
        start.current = { at: Date.now() / 1000, settled: c.paid + c.refunded };
      }
    };
    const pending = new Set<number>();
    let timer: ReturnType<typeof setTimeout> | null = null;
    // Re-read the tasks events touched (the API is the truth: finality, verification), a batch at a time.
    const refetch = (tasks: number[]) => {
      tasks.forEach((t) => pending.add(t));
      if (timer) return;
      timer = setTimeout(async () => {
        timer = null;
        const batch = [...pending];
        pending.clear();
        try {
          if (batch.length > BULK) {
            await readAll(batch);
            return;
          }
          await Promise.all(
            batch.map(async (t) => {
              const v = bump(t);
              const r = await api.task(id, t);
              if (stop) return;
              setMeta(r.meta);
              apply(tileFromApi(r.data.task), v);
            }),
          );
        } catch (e) {
          if (!stop) setError((e as Error).message);
        }
      }, 250);
    };
    const handle = follow(
      api.base,
      null,
      (ev) => {
        const optimistic = jobRef.current?.optimistic ?? false;
        const r = reduce(tilesRef.current, ev, id, optimistic);
        if (r.tiles !== tilesRef.current) {
          tilesRef.current = r.tiles;
          setTiles(r.tiles);
        }
        if (r.refetch.length) refetch(r.refetch);
        if (r.jobWide) void readJob().catch((e: Error) => setError(e.message));
      },
      setConnected,
      // A reconnection that could not resume: re-read everything.
      () => void Promise.all([readJob(), readAll(null)]).catch((e: Error) => setError(e.message)),
    );
    (async () => {
      try {
        // The stream is open first (the server has fixed where it starts), then the snapshot is read: an event
        // in between is both in the stream and, if it landed before the read, in the snapshot; a read started
        // for it afterwards wins over the snapshot by its version.
        await Promise.race([handle.opened, new Promise((r) => setTimeout(r, 5000))]);
        await Promise.all([readJob(), readAll(null)]);
      } catch (e) {
        if (!stop) setError((e as Error).message);
      }
    })();
    // Finality: tiles whose block the indexer has since confirmed are re-read (and the job while unconfirmed).
    const poll = setInterval(() => {
      setNow(Date.now() / 1000);
      const unconfirmed = [...tilesRef.current.values()].filter((t) => !t.confirmed).map((t) => t.task);
      if (unconfirmed.length) refetch(unconfirmed);
      if (jobRef.current && !jobRef.current.confirmed) void readJob().catch(() => {});
    }, 5000);
    return () => {
      stop = true;
      handle.close();
      clearInterval(poll);
      if (timer) clearTimeout(timer);
    };
  }, [api, id]);
  const jobRef = useRef<Job | null>(null);
  jobRef.current = job;
  const wallet = useWallet();
  const [tx, setTx] = useState<TxStage | null>(null);

  if (error && !job) {
    return (
      <p role="alert" class="error">
        {error}
      </p>
    );
  }
  if (!job) return <p>Loading job {id}…</p>;
  // The contract allows at most 1,000,000 tasks: an answer past that is not drawn (nor allowed to hang the page).
  if (job.settings.frameCount * job.settings.regionsX * job.settings.regionsY > MAX_TASKS) {
    return (
      <p role="alert" class="error">
        The indexer reports job {id} with more tasks than the contract allows.
      </p>
    );
  }
  const s = job.settings;
  const regions = s.regionsX * s.regionsY;
  const c = counts(tiles.values());
  const remaining = c.open + c.claimed + c.submitted;
  const left = start.current ? eta(c.paid + c.refunded - start.current.settled, remaining, start.current.at, now) : null;
  return (
    <section aria-labelledby="job-title">
      <h1 id="job-title">Job #{job.jobId}</h1>
      <p>
        {job.status}, {job.taskCount} tasks ({s.frameCount} frames × {s.regionsX}×{s.regionsY} regions of a {s.width}×
        {s.height} image, {s.samplesPerPixel} spp), reward <Amount value={job.rewardPerTask} token={job.token} rpcUrl={config.rpcUrl} />{' '}
        per task, committees of {job.quorum}
        {job.optimistic ? ', optimistic' : ''}; posted by <span title={job.artist}>{shortAddress(job.artist)}</span>{' '}
        ({job.confirmed ? 'confirmed' : 'unconfirmed'})
      </p>
      <p>
        {c.paid} paid, {c.submitted} submitted, {c.claimed} claimed, {c.open} open, {c.refunded} refunded
        {remaining > 0 && left !== null ? `; about ${span(left)} left at the rate observed here` : ''}
        {' · '}
        <span role="status" class={connected ? 'live' : 'offline'}>
          {connected ? 'live' : 'reconnecting…'}
        </span>
      </p>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {wallet.conn && wallet.market && wallet.conn.account.toLowerCase() === job.artist.toLowerCase() && (
        <p class="actions">
          {job.status === 'active' && remaining > 0 && (
            <>
              <MarketAction config={config} fn="cancelJob" args={[BigInt(job.jobId)]} tx={tx} setTx={setTx}>
                Cancel job
              </MarketAction>{' '}
              <span class="muted">the open tasks' escrow is credited to you (expired leases' later); withdraw your credit</span>
            </>
          )}{' '}
          {job.status === 'active' && c.open > 0 && now > job.deadline && (
            <>
              <MarketAction config={config} fn="reclaimOpenTasks" args={[BigInt(job.jobId)]} tx={tx} setTx={setTx}>
                Reclaim open tasks
              </MarketAction>{' '}
              <span class="muted">the deadline passed: the {c.open} open tasks' escrow is credited to you</span>
            </>
          )}{' '}
          {job.token !== '0x0000000000000000000000000000000000000000' && (
            <Credit config={config} state={wallet} token={job.token as `0x${string}`} symbol="token" />
          )}
        </p>
      )}
      <TxStatus tx={tx} />
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
                  aria-controls="task-panel"
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
      {selected !== null && <TaskPanel api={api} config={config} job={job} task={selected} tile={tiles.get(selected)} />}
      <Frames job={job} tiles={tiles} config={config} market={(config.market || null) as `0x${string}` | null} />
      <Head meta={meta} config={config} />
    </section>
  );
}

/** One task's verification: committees, votes, appeals and data challenges, from the API; and what the
 * connected account may do about it (accept, appeal), offered only while the contract would take it. */
function TaskPanel({ api, config, job: jobRecord, task, tile }: { api: Api; config: Config; job: Job; task: number; tile: Tile | undefined }) {
  const job = jobRecord.jobId;
  const [detail, setDetail] = useState<TaskDetail | null>(null);
  const [error, setError] = useState('');
  const wallet = useWallet();
  const [tx, setTx] = useState<TxStage | null>(null);
  const [bond, setBond] = useState<{ level: number; wei: bigint } | null>(null);
  const t = detail?.task.taskIndex === task ? detail.task : null;
  const me = wallet.conn?.account.toLowerCase();
  const isArtist = me !== undefined && me === jobRecord.artist.toLowerCase();
  const isWorker = me !== undefined && me === t?.worker?.toLowerCase();
  const now = Date.now() / 1000;
  // An appeal goes to the next level of an appealable verdict, or disputes an optimistic result (level 0),
  // while its window is open (the CLI's `appeal_refusal`).
  // Offered only against the side the account lost: the artist against an approval (or an optimistic
  // result), the worker against a rejection (an appeal asks for the verdict the standing one is not).
  const verdict = String(t?.verdict ?? '').toLowerCase();
  const appealLevel =
    t?.state === 'submitted' && t.phaseEndsAt && now < t.phaseEndsAt
      ? t.verificationPhase === 'appealable' && ((isArtist && verdict === 'approve') || (isWorker && verdict === 'reject'))
        ? t.verificationLevel + 1
        : t.verificationPhase === 'none' && jobRecord.optimistic && isArtist
          ? 0
          : null
      : null;
  useEffect(() => {
    setBond(null);
    if (appealLevel === null || !wallet.market) return;
    let live = true;
    reader(config)
      .readContract({ address: wallet.market, abi: distributedRenderAbi, functionName: 'appealBond', args: [BigInt(job), BigInt(appealLevel)] })
      .then((wei) => live && setBond({ level: appealLevel, wei: wei as bigint }))
      .catch((e) => live && setError(explain(e)));
    return () => {
      live = false;
    };
  }, [appealLevel, wallet.market]);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus();
  }, [task]);
  useEffect(() => {
    let live = true;
    setError('');
    api
      .task(job, task)
      .then((r) => live && setDetail(r.data))
      .catch((e: Error) => live && setError(e.message));
    return () => {
      live = false;
    };
    // Re-read when the tile changes (an event about this task, or its confirmation).
  }, [api, job, task, tile?.seq, tile?.state, tile?.confirmed, tx?.stage]);
  return (
    <aside id="task-panel" class="task" aria-labelledby="task-title">
      <h2 id="task-title" tabIndex={-1} ref={heading}>
        Task {task}
      </h2>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {detail && detail.task.taskIndex === task && (
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
          {wallet.conn && wallet.market && wallet.confirmations !== null && (isArtist || isWorker) && t && (
            <p class="actions">
              {isArtist && t.state === 'submitted' && (
                <>
                  <MarketAction config={config} fn="acceptTask" args={[BigInt(job), BigInt(task)]} tx={tx} setTx={setTx}>
                    Accept result
                  </MarketAction>{' '}
                  <span class="muted">pays the worker now, without waiting for the verdict</span>{' '}
                </>
              )}
              {bond && bond.level === appealLevel && (
                <>
                  <MarketAction config={config} fn="appealVerdict" args={[BigInt(job), BigInt(task)]} value={bond.wei} tx={tx} setTx={setTx}>
                    {appealLevel === 0 ? 'Dispute result' : 'Appeal verdict'} (bond {formatAmount(bond.wei, 18, 6)} ETH)
                  </MarketAction>{' '}
                  <span class="muted">
                    a committee of level {bond.level} is drawn; the bond comes back unless the final verdict goes against the appeal; open until{' '}
                    {new Date((t.phaseEndsAt ?? 0) * 1000).toLocaleTimeString()}
                  </span>
                </>
              )}
            </p>
          )}
          <TxStatus tx={tx} />
          {detail.verification.appeals.length > 0 && <p>{detail.verification.appeals.length} appeal(s)</p>}
          {detail.verification.dataChallenges.length > 0 && <p>{detail.verification.dataChallenges.length} data challenge(s)</p>}
        </>
      )}
    </aside>
  );
}
