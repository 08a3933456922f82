import { useEffect, useState } from 'preact/hooks';
import { formatAmount } from '../lib/amount';
import type { Config } from '../config';
import type { Api, Meta, Network } from '../lib/api';
import { Head } from './Head';

/** The network as the indexer counts it. */
export function NetworkPage({ api, config }: { api: Api; config: Config }) {
  const [net, setNet] = useState<Network | null>(null);
  const [meta, setMeta] = useState<Meta | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api
      .network()
      .then((r) => {
        setNet(r.data);
        setMeta(r.meta);
      })
      .catch((e: Error) => setError(e.message));
  }, [api]);
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
      <Head meta={meta} config={config} />
    </section>
  );
}
