import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Config } from '../config';
import { Api } from '../lib/api';
import { JobPage } from './JobPage';
import { JobsPage } from './JobsPage';
import { NetworkPage } from './NetworkPage';

/** The page the location's hash names: `#/`, `#/jobs/7`, `#/network`. */
function route(hash: string): { page: 'jobs' } | { page: 'job'; id: number } | { page: 'network' } {
  const m = /^#\/jobs\/(\d+)$/.exec(hash);
  if (m) return { page: 'job', id: Number(m[1]) };
  if (hash === '#/network') return { page: 'network' };
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
  return (
    <>
      <header>
        <a class="brand" href="#/">
          Tessera
        </a>
        <nav aria-label="Pages">
          <a href="#/" aria-current={r.page === 'jobs' ? 'page' : undefined}>
            Jobs
          </a>
          <a href="#/network" aria-current={r.page === 'network' ? 'page' : undefined}>
            Network
          </a>
        </nav>
      </header>
      <main>
        {r.page === 'jobs' && <JobsPage api={api} config={config} />}
        {r.page === 'job' && <JobPage key={r.id} api={api} config={config} id={r.id} />}
        {r.page === 'network' && <NetworkPage api={api} config={config} />}
      </main>
    </>
  );
}
