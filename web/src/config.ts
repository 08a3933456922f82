// Where the app's services are: `config.json` next to index.html (public/config.json in the sources), so
// that one build serves any deployment. Every field is checked before the app starts.

export interface Config {
  /** The indexer's API base URL. */
  indexerUrl: string;
  /** An Ethereum JSON-RPC URL for reads (wallets send through their own provider). */
  rpcUrl: string;
  /** The Kubo RPC API (uploads, and reads when no gateway is set). */
  ipfsApi: string;
  /** An IPFS HTTP gateway for reads (empty: the Kubo RPC API's `cat`). */
  ipfsGateway: string;
  /** The chain the market is deployed on. */
  chainId: number;
  /** The market's address. Every transaction and every frame check uses it; empty: browsing only (the
   * page never sends to, nor verifies against, a contract an indexer reports). */
  market: string;
}

export class ConfigError extends Error {}

export function parseConfig(doc: unknown): Config {
  if (typeof doc !== 'object' || doc === null) throw new ConfigError('config.json is not a JSON object');
  const d = doc as Record<string, unknown>;
  const url = (k: string, optional = false): string => {
    const v = d[k];
    if (optional && (v === undefined || v === '')) return '';
    if (typeof v !== 'string') throw new ConfigError(`config.json: "${k}" must be a URL string`);
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new ConfigError(`config.json: "${k}" is not a URL: ${v}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new ConfigError(`config.json: "${k}" is not an http(s) URL: ${v}`);
    }
    return v.replace(/\/+$/, '');
  };
  const chainId = d.chainId;
  if (typeof chainId !== 'number' || !Number.isSafeInteger(chainId) || chainId <= 0) {
    throw new ConfigError('config.json: "chainId" must be a positive integer');
  }
  const market = typeof d.market === 'string' ? d.market : '';
  if (market !== '' && !/^0x[0-9a-fA-F]{40}$/.test(market)) {
    throw new ConfigError(`config.json: "market" is not an address: ${market}`);
  }
  return {
    indexerUrl: url('indexerUrl'),
    rpcUrl: url('rpcUrl'),
    ipfsApi: url('ipfsApi'),
    ipfsGateway: url('ipfsGateway', true),
    chainId,
    market,
  };
}

export async function loadConfig(): Promise<Config> {
  const resp = await fetch(new URL('config.json', document.baseURI));
  if (!resp.ok) throw new ConfigError(`config.json could not be read (HTTP ${resp.status})`);
  return parseConfig(await resp.json());
}
