import { useEffect, useState } from 'preact/hooks';
import { formatAmount } from '../lib/amount';
import type { Config } from '../config';
import type { Api, Meta, Network, Worker } from '../lib/api';
import { shortAddress } from './format';
import { Head } from './Head';

/** The network as the indexer counts it. */
export function NetworkPage({ api, config }: { api: Api; config: Config }) {
  const [net, setNet] = useState<Network | null>(null);
  const [meta, setMeta] = useState<Meta | null>(null);
  const [error, setError] = useState('');
  const [workers, setWorkers] = useState<Worker[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  useEffect(() => {
    api
      .network()
      .then((r) => {
        setNet(r.data);
        setMeta(r.meta);
      })
      .catch((e: Error) => setError(e.message));
    void more(null);
  }, [api]);
  const [loading, setLoading] = useState(false);
  const more = (from: string | null) => {
    setLoading(true);
    return api
      .workers({ limit: 50, cursor: from ?? undefined })
      .then((r) => {
        // A worker whose count changed between pages can come twice: listed once.
        setWorkers((prev) => {
          const list = from && prev ? [...prev, ...r.data] : r.data;
          return list.filter((w, i) => list.findIndex((x) => x.address === w.address) === i);
        });
        setCursor(r.nextCursor ?? null);
      })
      .catch((e: Error) => setError(e.message))
      .finally(() => setLoading(false));
  };
  return (
    <section aria-labelledby="net-title">
      <h1 id="net-title">Network</h1>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {net && (
        <dl class="stats">
          <dt>Jobs</dt>
          <dd>
            {net.jobs} ({net.jobsCancelled} cancelled)
          </dd>
          <dt>Tasks</dt>
          <dd>
            {net.tasks}: {net.tasksPaid} paid, {net.tasksRefunded} refunded, {net.tasksRejected} rejected, {net.tasksExpired}{' '}
            expired leases
          </dd>
          <dt>Verification</dt>
          <dd>
            {net.draws} committees drawn, {net.votes} votes, {net.appeals} appeals, {net.dataChallenges} data challenges
          </dd>
          <dt>Workers and verifiers</dt>
          <dd>
            {net.workers} workers, {net.verifiers} verifiers; {formatAmount(BigInt(net.staked), 18, 4)} ETH staked,{' '}
            {formatAmount(BigInt(net.slashed), 18, 4)} ETH slashed
          </dd>
          <dt>Market</dt>
          <dd>{net.paused ? 'paused' : 'open'}</dd>
        </dl>
      )}
      {workers && (
        <section aria-labelledby="workers-title">
          <h2 id="workers-title">Workers</h2>
          {workers.length === 0 ? (
            <p class="muted">No worker has claimed a task yet.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Worker</th>
                  <th scope="col">Stake (ETH)</th>
                  <th scope="col">Completed</th>
                  <th scope="col">Rejected</th>
                  <th scope="col">Expired</th>
                  <th scope="col" title="Lower bound of the 95% Wilson interval of completed / (completed + rejected + expired)">
                    Reputation
                  </th>
                  <th scope="col">Slashed (ETH)</th>
                </tr>
              </thead>
              <tbody>
                {workers.map((w) => (
                  <tr key={w.address}>
                    <td>
                      <a href={`#/?worker=${w.address}`} title={w.address}>
                        {shortAddress(w.address)}
                      </a>
                      {w.confirmed ? '' : ' (unconfirmed)'}
                    </td>
                    <td>{formatAmount(BigInt(w.stake.bonded), 18, 4)}</td>
                    <td>{w.tasksCompleted}</td>
                    <td>{w.tasksRejected}</td>
                    <td>{w.tasksExpired}</td>
                    <td>{(w.reputation * 100).toFixed(1)}%</td>
                    <td>{formatAmount(BigInt(w.stake.slashed), 18, 4)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {cursor && (
            <button type="button" disabled={loading} onClick={() => void more(cursor)}>
              More workers
            </button>
          )}
        </section>
      )}
      <Head meta={meta} config={config} />
    </section>
  );
}
