import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Config } from '../config';
import type { Address } from 'viem';
import { Api } from '../lib/api';
import type { Connection } from '../lib/wallet';
import { WalletBar, WalletContext, type WalletState } from './Wallet';
import { JobPage } from './JobPage';
import { JobsPage } from './JobsPage';
import { NetworkPage } from './NetworkPage';
import { PostPage } from './PostPage';

/** The page the location's hash names: `#/`, `#/jobs/7`, `#/network`, `#/post`. */
function route(hash: string): { page: 'jobs' } | { page: 'job'; id: number } | { page: 'network' } | { page: 'post' } {
  const m = /^#\/jobs\/(\d+)$/.exec(hash);
  if (m) return { page: 'job', id: Number(m[1]) };
  if (hash === '#/network') return { page: 'network' };
  if (hash === '#/post') return { page: 'post' };
  return { page: 'jobs' };
}

export function App({ config }: { config: Config }) {
  const api = useMemo(() => new Api(config.indexerUrl), [config.indexerUrl]);
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const r = route(hash);
  // The market's address (config.json's only: an indexer could name any contract, and actions send to it,
  // some with ETH attached) and the indexer's confirmations.
  const [conn, setConn] = useState<Connection | null>(null);
  const [chain, setChain] = useState<{ market: Address | null; confirmations: number | null }>({
    market: null,
    confirmations: null,
  });
  // Actions wait for the indexer's answer (its contract, and the confirmations that make a block final);
  // retried until it answers.
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const ask = () =>
      api
        .network()
        .then((n) => live && setChain({ market: (config.market || null) as Address | null, confirmations: n.meta.confirmations }))
        .catch(() => {
          if (live) timer = setTimeout(ask, 3000);
        });
    void ask();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [api]);
  const state: WalletState = { conn, ...chain };
  return (
    <WalletContext.Provider value={state}>
      <header>
        <a class="brand" href="#/">
          Tessera
        </a>
        <nav aria-label="Pages">
          <a href="#/" aria-current={r.page === 'jobs' ? 'page' : undefined}>
            Jobs
          </a>
          <a href="#/post" aria-current={r.page === 'post' ? 'page' : undefined}>
            Post a job
          </a>
          <a href="#/network" aria-current={r.page === 'network' ? 'page' : undefined}>
            Network
          </a>
        </nav>
        <WalletBar config={config} state={state} onConnect={setConn} />
      </header>
      <main>
        {r.page === 'jobs' && <JobsPage key={hash} api={api} config={config} />}
        {r.page === 'job' && <JobPage key={r.id} api={api} config={config} id={r.id} />}
        {r.page === 'network' && <NetworkPage api={api} config={config} />}
        {r.page === 'post' && <PostPage api={api} config={config} />}
      </main>
    </WalletContext.Provider>
  );
}
