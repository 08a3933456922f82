import { useEffect, useRef, useState } from 'preact/hooks';
import type { Config } from '../config';
import type { Api, Job, JobStatus, Meta } from '../lib/api';
import { Amount } from './Amount';
import { Head } from './Head';
import { shortAddress } from './format';

/** Jobs, newest first, filtered by status and artist, a page at a time. */
export function JobsPage({ api, config }: { api: Api; config: Config }) {
  const [status, setStatus] = useState<JobStatus | ''>('');
  // Filters can come with the link (`#/?worker=0x…`, from the network page's workers).
  const linked = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const [artist, setArtist] = useState(linked.get('artist') ?? '');
  const [worker, setWorker] = useState(linked.get('worker') ?? '');
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [meta, setMeta] = useState<Meta | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState('');
  const isAddress = (a: string) => a === '' || /^0x[0-9a-fA-F]{40}$/.test(a);
  const artistOk = isAddress(artist);
  const workerOk = isAddress(worker);
  // Only the newest request's answer is shown (a slow answer to an older filter is dropped).
  const request = useRef(0);

  const load = async (more: boolean) => {
    setError('');
    const mine = ++request.current;
    try {
      const page = await api.jobs({
        status: status || undefined,
        artist: artistOk && artist ? artist : undefined,
        worker: workerOk && worker ? worker : undefined,
        limit: 50,
        cursor: more && cursor ? cursor : undefined,
      });
      if (mine !== request.current) return;
      setJobs((prev) => (more && prev ? [...prev, ...page.data] : page.data));
      setMeta(page.meta);
      setCursor(page.nextCursor ?? null);
    } catch (e) {
      if (mine === request.current) setError((e as Error).message);
    }
  };
  useEffect(() => {
    setCursor(null);
    if (artistOk && workerOk) void load(false);
  }, [status, artist, worker]);

  return (
    <section aria-labelledby="jobs-title">
      <h1 id="jobs-title">Jobs</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value as JobStatus | '')}>
            <option value="">any</option>
            <option value="active">active</option>
            <option value="finished">finished</option>
            <option value="cancelled">cancelled</option>
          </select>
        </label>
        <AddressFilter label="Artist" id="artist" value={artist} ok={artistOk} onChange={setArtist} />
        <AddressFilter label="Worker" id="worker" value={worker} ok={workerOk} onChange={setWorker} />
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {jobs === null && !error && <p>Loading…</p>}
      {jobs !== null && jobs.length === 0 && <p>No jobs match.</p>}
      {jobs !== null && jobs.length > 0 && (
        <table class="jobs">
          <caption class="sr-only">Jobs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Status</th>
              <th scope="col">Tasks paid</th>
              <th scope="col">Reward per task</th>
              <th scope="col">Artist</th>
              <th scope="col">Finality</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((j) => (
              <tr key={j.jobId}>
                <td>
                  <a href={`#/jobs/${j.jobId}`}>#{j.jobId}</a>
                </td>
                <td>{j.status}</td>
                <td>
                  {j.tasks.paid} / {j.taskCount}
                </td>
                <td>
                  <Amount value={j.rewardPerTask} token={j.token} rpcUrl={config.rpcUrl} />
                </td>
                <td title={j.artist}>{shortAddress(j.artist)}</td>
                <td>{j.confirmed ? 'confirmed' : 'unconfirmed'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <button type="button" onClick={() => void load(true)}>
          More jobs
        </button>
      )}
      <Head meta={meta} config={config} />
    </section>
  );
}

/** A filter field for an address, checked as it is typed (the error named beside it). */
function AddressFilter({ label, id, value, ok, onChange }: { label: string; id: string; value: string; ok: boolean; onChange: (v: string) => void }) {
  return (
    <>
      <label>
        {label}
        <input
          value={value}
          placeholder="0x…"
          aria-invalid={!ok}
          aria-describedby={ok ? undefined : `${id}-error`}
          onInput={(e) => onChange((e.target as HTMLInputElement).value.trim())}
        />
      </label>
      {!ok && (
        <span id={`${id}-error`} class="error">
          not an address (0x and 40 hex digits)
        </span>
      )}
    </>
  );
}
