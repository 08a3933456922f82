// IPFS from the browser: uploads through the configured node's Kubo RPC API (`POST /api/v0/add`, CIDv1,
// pinned, as crates/ipfs adds), reads through an HTTP gateway (`GET /ipfs/<path>`) when config.json names one,
// else the RPC API's `POST /api/v0/cat`. Reads are capped: an answer larger than the caller expects is refused
// before it is held in memory. The node must allow the app's origin (Kubo: `API.HTTPHeaders`, see docs/web.md).

/** Whether `cid` is a CID as workers publish them: CIDv0 (`Qm…`, base58btc) or CIDv1 in base32 (`b…`). A
 * worker chooses its output's CID: nothing else (a path, a query, `..`) may reach a request URL. */
export function isCid(cid: string): boolean {
  return /^Qm[1-9A-HJ-NP-Za-km-z]{44}$/.test(cid) || /^b[a-z2-7]{20,120}$/.test(cid);
}

/** An IPFS request that failed, with the node's words when it gave some. */
export class IpfsError extends Error {}

/** Adds `bytes` as the file `name` and returns its CID (v1, pinned). */
export async function add(api: string, name: string, bytes: Uint8Array, signal?: AbortSignal): Promise<{ cid: string; size: number }> {
  const form = new FormData();
  form.append('file', new Blob([bytes as Uint8Array<ArrayBuffer>]), name);
  let resp: Response;
  try {
    resp = await fetch(`${api}/api/v0/add?cid-version=1&pin=true&progress=false`, { method: 'POST', body: form, signal });
  } catch (e) {
    throw new IpfsError(`the IPFS node at ${api} cannot be reached, or does not allow this page's origin (${(e as Error).message})`);
  }
  const text = await resp.text();
  if (!resp.ok) throw new IpfsError(`the IPFS node at ${api} refused the upload (HTTP ${resp.status}${text ? `: ${text.slice(0, 200)}` : ''})`);
  // One JSON object per line; the file's is the one with its name.
  const lines = text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { Name?: string; Hash?: string; Size?: string });
  const entry = lines.find((l) => l.Name === name) ?? lines.at(-1);
  if (!entry?.Hash) throw new IpfsError(`the IPFS node at ${api} answered the upload without a CID`);
  return { cid: entry.Hash, size: Number(entry.Size ?? bytes.length) };
}

/** The bytes at `path` (`<cid>/<file>`), at most `max` of them. */
export async function cat(api: string, gateway: string, path: string, max: number, signal?: AbortSignal): Promise<Uint8Array> {
  const url = gateway ? `${gateway}/ipfs/${path}` : `${api}/api/v0/cat?arg=${encodeURIComponent(path)}&length=${max + 1}`;
  let resp: Response;
  try {
    resp = await fetch(url, { method: gateway ? 'GET' : 'POST', signal });
  } catch (e) {
    throw new IpfsError(`${path} cannot be read from ${gateway || api} (${(e as Error).message})`);
  }
  if (!resp.ok) {
    const text = await resp.text().catch(() => '');
    throw new IpfsError(`${path}: the IPFS node answered HTTP ${resp.status}${text ? ` (${text.slice(0, 200)})` : ''}`);
  }
  const announced = Number(resp.headers.get('content-length') ?? resp.headers.get('x-content-length') ?? NaN);
  if (announced > max) throw new IpfsError(`${path} is ${announced} bytes; at most ${max} were expected`);
  if (!resp.body) return new Uint8Array(await resp.arrayBuffer());
  const reader = resp.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new IpfsError(`${path} is more than the ${max} bytes expected`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
