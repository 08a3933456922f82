// The web app in a real browser against the real local network, run by tests/e2e/web.rs: headless Chromium
// (Debian's, as root with --no-sandbox) driven by playwright-core, the built app (dist/) served here with a
// config.json for the network, and a wallet injected into the page: an EIP-1193 provider announced through
// EIP-6963 that sends to anvil, which signs for its unlocked test accounts (the artist's among them).
//
// It connects the wallet; posts a 4-task job in ETH from the page (the scene chosen as a file, uploaded to the
// IPFS node, the transaction followed to finality) and a 1-task job in an ERC-20 (approval first); sees a
// revert in words; watches the token job paid, and the ETH job's mosaic fill until every task is paid, its
// verified frame shown and downloaded as PNG and EXR; cancels a third job while its event stream is cut (the
// indexer is reached through a proxy here that cuts the stream and holds the reconnection until the indexer
// has recorded the cancellation) and checks that the resumed stream delivers every event recorded meanwhile;
// withdraws the refund; checks that every control has an accessible name, that keyboard focus is visible and
// text contrast is at least WCAG AA's, and that the console stayed clean; and saves a screenshot of each step
// in $TESSERA_WEB_OUT.
//
// Environment: TESSERA_WEB_DIST, TESSERA_WEB_OUT, TESSERA_INDEXER_URL, TESSERA_RPC_URL, TESSERA_IPFS_API,
// TESSERA_CHAIN_ID, TESSERA_ARTIST, TESSERA_SCENE (a .glb), TESSERA_TOKEN (an allowed ERC-20 the artist
// holds), TESSERA_MARKET, TESSERA_CANCEL_JOB, TESSERA_WEB_PORT (the port the IPFS node lets in), CHROMIUM
// (default /usr/bin/chromium). Prints `[web-test] posted <kind> job <id> scene <cid>` for the Rust side to check
// on-chain.

import { createServer, request as httpRequest } from 'node:http';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { chromium } from 'playwright-core';
import { decodeFunctionResult, encodeFunctionData, parseAbi, toFunctionSelector } from 'viem';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const dist = env('TESSERA_WEB_DIST');
const out = env('TESSERA_WEB_OUT');
rmSync(out, { recursive: true, force: true }); // this run's screenshots only
mkdirSync(out, { recursive: true });
if (!existsSync(join(dist, 'index.html'))) throw new Error(`${dist} has no index.html: run npm run build in web/`);
const indexer = env('TESSERA_INDEXER_URL').replace(/\/+$/, '');
const artist = env('TESSERA_ARTIST').toLowerCase();
const scene = env('TESSERA_SCENE');
const token = env('TESSERA_TOKEN');
const cancelJob = env('TESSERA_CANCEL_JOB');
const market = env('TESSERA_MARKET');

// The indexer, reached through this server under /indexer: the test can cut the live stream and hold its
// reconnection, and sees what the resumed stream delivers.
const streams = new Set(); // open stream responses (to the browser)
let hold = null; // while set, a promise that new stream connections wait on
const resumed = { requests: [], ids: [] }; // stream requests made after a drop, and the event ids they delivered
let dropped = false;
let lastDelivered; // the last event id any stream delivered before the drop (null: none yet)
const proxy = (req, res, path) => {
  const isStream = path.startsWith('/v1/stream');
  const forward = () => {
    const up = httpRequest(`${indexer}${path}`, { method: req.method, headers: { ...req.headers, host: new URL(indexer).host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      if (isStream) {
        res.flushHeaders(); // as the indexer does: the stream is open before its first event
        streams.add(res);
        res.on('close', () => streams.delete(res));
        const after = dropped;
        r.on('data', (chunk) => {
          for (const m of String(chunk).matchAll(/^id: ?(\d+)$/gm)) {
            if (after) resumed.ids.push(Number(m[1]));
            else lastDelivered = Number(m[1]);
          }
        });
      }
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  };
  if (isStream && dropped) resumed.requests.push({ lastEventId: req.headers['last-event-id'] ?? null, url: path });
  if (isStream && hold) hold.then(forward);
  else forward();
};
const config = {
  indexerUrl: '',
  rpcUrl: env('TESSERA_RPC_URL'),
  ipfsApi: env('TESSERA_IPFS_API'),
  ipfsGateway: '',
  chainId: Number(env('TESSERA_CHAIN_ID')),
  // Posting sends escrow only to a market the configuration names.
  market,
};

const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.map': 'application/json' };
const root = normalize(dist) + sep;
const server = createServer((req, res) => {
  try {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path.startsWith('/indexer/')) return proxy(req, res, req.url.slice('/indexer'.length));
    if (path === '/config.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(config));
    }
    const file = normalize(join(dist, path === '/' ? 'index.html' : path));
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  } catch {
    res.writeHead(400);
    res.end();
  }
});
// On the port the IPFS node expects the page's origin at (TESSERA_WEB_PORT), else any.
await new Promise((r) => server.listen(Number(process.env.TESSERA_WEB_PORT ?? 0), '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
config.indexerUrl = `${base}/indexer`;
const api = async (path) => {
  const r = await fetch(`${indexer}${path}`);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
};

// The injected wallet, as a browser extension would inject it.
const wallet = ({ rpcUrl, account }) => {
  let id = 0;
  const provider = {
    async request({ method, params }) {
      if (method === 'eth_requestAccounts' || method === 'eth_accounts') return [account];
      const resp = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params: params ?? [] }),
      });
      const body = await resp.json();
      if (body.error) {
        const e = new Error(body.error.message);
        e.code = body.error.code;
        e.data = body.error.data;
        throw e;
      }
      return body.result;
    },
    on() {},
    removeListener() {},
  };
  const info = { uuid: '5b3c1f4e-0000-4000-8000-00000000a7e5', name: 'Anvil test wallet', icon: 'data:image/svg+xml,<svg xmlns="http://www.w3.org/2000/svg"/>', rdns: 'dev.tessera.anvil' };
  const announce = () =>
    window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail: Object.freeze({ info, provider }) }));
  window.addEventListener('eip6963:requestProvider', announce);
  announce();
};

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const errors = [];
const steps = [];
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  // The stream this test cuts on purpose is reported by the browser as a failed load; nothing else may be.
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (dropped && /\/v1\/stream|ERR_INCOMPLETE_CHUNKED_ENCODING/.test(`${m.text()} ${m.location().url}`)) return;
    errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(wallet, { rpcUrl: config.rpcUrl, account: artist });
  const shot = async (name) => page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
  // WCAG 2 contrast of every visible text on the page against its background: at least 4.5:1, 3:1 for
  // large text (disabled controls are exempt).
  const contrast = async (where) => {
    const low = await page.evaluate(() => {
      const parse = (c) => (c.match(/[\d.]+/g) || []).map(Number);
      const lum = ([r, g, b]) =>
        [r, g, b].map((v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
      const background = (el) => {
        for (let e = el; e; e = e.parentElement) {
          const c = parse(getComputedStyle(e).backgroundColor);
          if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
        }
        return [255, 255, 255];
      };
      const bad = [];
      for (const el of document.querySelectorAll('body *')) {
        const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
        if (!own || !el.getClientRects().length || el.closest('button:disabled, [aria-hidden="true"]')) continue;
        const st = getComputedStyle(el);
        if (st.visibility === 'hidden') continue;
        const [a, b] = [lum(parse(st.color)), lum(background(el))];
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        const size = parseFloat(st.fontSize);
        const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
        if (ratio < (large ? 3 : 4.5)) bad.push(`${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}:1`);
      }
      return bad;
    });
    if (low.length) throw new Error(`low text contrast on ${where}: ${low.join(' | ')}`);
  };
  const named = async (where) => {
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll('button, input, select, a[href]')]
        .filter((el) => !(el.getAttribute('aria-label') || el.textContent?.trim() || el.labels?.[0]?.textContent?.trim() || el.getAttribute('title')))
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    if (unnamed.length) throw new Error(`controls without an accessible name on ${where}: ${unnamed.join(' | ')}`);
  };
  const step = (s) => {
    steps.push(s);
    console.log(`[web-test] ${s}`);
  };

  let t0 = Date.now();
  await page.goto(`${base}/#/`);
  await page.getByRole('table').waitFor();
  step(`jobs list painted in ${Date.now() - t0} ms`);
  await page.getByRole('button', { name: 'Connect Anvil test wallet' }).click();
  await page.getByLabel('Connected account').waitFor();
  step('wallet connected through EIP-6963');
  await shot('1-jobs-connected');

  const rpc = async (method, params) => {
    const r = await (await fetch(config.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })).json();
    if (r.error) throw new Error(`${method}: ${r.error.message}`);
    return r.result;
  };
  // Posting: the scene as a file, the job's terms, the bill; upload, transaction, finality.
  const FINAL = /Final: included in block \d+ and confirmed\./;
  const postJob = async ({ regions, tokenAddress, window = '20s', problem, refused, before }) => {
    // Through another page, so that the form starts afresh (the wallet stays connected).
    await page.goto(`${base}/#/network`);
    await page.goto(`${base}/#/post`);
    await page.getByLabel(/^Scene file/).setInputFiles(scene);
    await page.locator('dl.scene').getByText(/triangles in/).waitFor();
    const fill = async (label, value) => page.getByLabel(label, { exact: true }).fill(value);
    await fill('Width (px)', '128');
    await fill('Height (px)', '72');
    await fill('Samples per pixel', '4');
    await fill('Bounces', '2');
    await fill('Frames', '1');
    await fill('Regions across', String(regions[0]));
    await fill('Regions down', String(regions[1]));
    await fill('Cell size (px)', '8');
    await fill('Token (empty: ETH)', tokenAddress ?? '');
    await page.getByLabel(/^Reward per task/).fill('0.002');
    await fill('Verification phase length', window);
    await fill('First committee (seats)', '1');
    const tasks = regions[0] * regions[1];
    await page.getByText(new RegExp(`^${tasks} tasks?: 1 frame × ${regions[0]}×${regions[1]} regions`)).waitFor();
    // The bill: tasks × (0.002 + 5% fee).
    await page.locator('.estimate strong').getByText(`${(tasks * 0.0021).toFixed(4).replace(/0+$/, '')} ${tokenAddress ? 'TTT' : 'ETH'}`).waitFor();
    const button = page.getByRole('button', { name: /^Upload scene/ });
    if (problem) {
      // Refused by the page's own check of the contract's rules: named, and nothing to click.
      await page.getByRole('list', { name: 'What to fix before posting' }).getByText(problem).waitFor({ timeout: 20_000 });
      if (!(await button.isDisabled())) throw new Error('the post button is enabled for terms the contract refuses');
      return null;
    }
    await page.waitForFunction((b) => !b.disabled, await button.elementHandle(), { timeout: 20_000 });
    if (before) await before();
    await button.click();
    if (refused) {
      await page.getByRole('alert').getByText(refused).waitFor({ timeout: 30_000 });
      if (await page.getByLabel('Scene CID').count()) throw new Error('the scene was uploaded for a job the contract refused');
      return null;
    }
    await page.getByLabel('Scene CID').waitFor({ timeout: 60_000 });
    if (tokenAddress) await page.locator('ol.steps li', { hasText: 'Approval:' }).getByText(FINAL).waitFor({ timeout: 60_000 });
    await page.locator('ol.steps li', { hasText: 'Job:' }).getByText(FINAL).waitFor({ timeout: 60_000 });
    const link = page.getByRole('link', { name: /^job #\d+$/ });
    const id = Number((await link.textContent()).replace('job #', ''));
    const cid = (await page.getByLabel('Scene CID').textContent()).trim();
    console.log(`[web-test] posted ${tokenAddress ? 'token' : 'eth'} job ${id} scene ${cid}`);
    return id;
  };
  const ethJob = await postJob({ regions: [2, 2] });
  await contrast('the post page');
  await named('the post page');
  step(`posted job ${ethJob} in ETH from the page: scene uploaded to IPFS, 4 tasks, followed to finality`);
  await shot('2-posted-eth');
  // Watched from the moment it is posted (the page's link), until every tile is paid.
  await page.getByRole('link', { name: `job #${ethJob}` }).click();
  await page.locator('.mosaic').first().waitFor();
  const tiles = page.locator('button.tile');
  const n = await tiles.count();
  const seen = new Set();
  const unpaidAtFirst = n - (await page.locator('button.tile.paid').count());
  if (unpaidAtFirst === 0) throw new Error(`job ${ethJob} was paid before its page showed it: nothing to watch live`);
  t0 = Date.now();
  while ((await page.locator('button.tile.paid').count()) < n) {
    for (const s of ['claimed', 'submitted', 'paid']) if (await page.locator(`button.tile.${s}`).count()) seen.add(s);
    if (Date.now() - t0 > 300_000) throw new Error(`job ${ethJob}: not every tile paid after 300 s`);
    await page.waitForTimeout(250);
  }
  step(`job ${ethJob}: all ${n} tiles paid, live (${unpaidAtFirst} unpaid when the page opened; states seen on the way: ${[...seen].join(', ')})`);
  // The frame: fetched from IPFS, checked against the cell roots, shown as verified, downloadable.
  const img = page.getByRole('img', { name: `Frame 0 of job ${ethJob}, verified` });
  await img.waitFor({ timeout: 60_000 });
  const size = await img.evaluate((el) => [el.naturalWidth, el.naturalHeight]);
  if (size[0] !== 128 || size[1] !== 72) throw new Error(`the frame is ${size.join('x')}, not 128x72`);
  const [png] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download PNG' }).click()]);
  const [exrFile] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download EXR' }).click()]);
  const pngBytes = readFileSync(await png.path());
  const exrBytes = readFileSync(await exrFile.path());
  if (pngBytes.readUInt32BE(0) !== 0x89504e47) throw new Error(`${png.suggestedFilename()} is not a PNG`);
  if (exrBytes.readUInt32LE(0) !== 20000630) throw new Error(`${exrFile.suggestedFilename()} is not an OpenEXR file`);
  step(`frame 0 verified in the browser and downloaded (${png.suggestedFilename()} ${pngBytes.length} B, ${exrFile.suggestedFilename()} ${exrBytes.length} B)`);
  await shot('3-job-paid-frame');
  await tiles.first().click();
  await page.getByRole('heading', { name: /^Task 0$/ }).waitFor();
  await page.getByText(/Committee 1/).first().waitFor();
  step('a task shows its committee and votes');
  await shot('4-task-committee');

  const tokenJob = await postJob({ regions: [1, 1], tokenAddress: token });
  step(`posted job ${tokenJob} in an ERC-20 after approving the escrow`);
  await shot('5-posted-token');
  // A phase shorter than the market's minimum (10 s on the local network): named by the page from the
  // contract's own minimum, before anything is uploaded or signed.
  await postJob({ regions: [1, 1], window: '5s', problem: "a verification phase lasts 10 s (this market's minimum) to 30 days" });
  // The market paused by its owner while the form was open: the contract's refusal, in the bindings' words,
  // before the scene is uploaded.
  const abi = parseAbi(['function owner() view returns (address)', 'function setPaused(bool)']);
  const owner = decodeFunctionResult({ abi, functionName: 'owner', data: await rpc('eth_call', [{ to: market, data: encodeFunctionData({ abi, functionName: 'owner' }) }, 'latest']) });
  const pause = (on) => rpc('eth_sendTransaction', [{ from: owner, to: market, data: encodeFunctionData({ abi, functionName: 'setPaused', args: [on] }) }]);
  await postJob({
    regions: [1, 1],
    before: () => pause(true),
    refused: 'Not posted: the contract refused: the market is paused: no new jobs or claims for now',
  });
  await shot('6-revert-in-words');
  await pause(false);
  step("the page names terms the contract refuses (a phase below the market's minimum); a revert is shown in the bindings' words (the market paused with the form open), nothing uploaded");

  // The token job, paid in its token.
  await page.goto(`${base}/#/jobs/${tokenJob}`);
  await page.locator('button.tile.paid').first().waitFor({ timeout: 300_000 });
  await page.getByText(/reward 0\.002 TTT per task/).waitFor();
  step(`job ${tokenJob}: its task paid, the reward shown in the token's own symbol`);
  await shot('7-token-job-paid');

  // The network: workers with their stake, completed tasks and reputation; one worker's jobs.
  await page.goto(`${base}/#/network`);
  const row = page.locator('section[aria-labelledby="workers-title"] tbody tr').first();
  await row.waitFor({ timeout: 30_000 });
  const completed = Number(await row.locator('td').nth(2).textContent());
  if (!(completed >= 5)) throw new Error(`the worker shows ${completed} completed tasks; it completed at least 5`);
  await named('the network page');
  await contrast('the network page');
  await shot('8-network-workers');
  await row.getByRole('link').click();
  for (const j of [ethJob, tokenJob]) await page.getByRole('link', { name: `#${j}`, exact: true }).waitFor({ timeout: 30_000 });
  step(`the network page lists the worker (${completed} tasks completed, its stake and reputation); its link lists the jobs it worked on`);

  // Cancelling, through a dropped stream: once the page's stream has delivered an event (a position to resume
  // from), the stream is cut and its reconnection held while the page cancels the job; once the indexer has
  // recorded the cancellation the stream may resume, and every event recorded meanwhile must arrive on it.
  await page.goto(`${base}/#/jobs/${cancelJob}`);
  await page.getByRole('status').getByText('live', { exact: true }).waitFor({ timeout: 30_000 });
  lastDelivered = null;
  // An event for the stream to deliver: the artist bonds 1 gwei of stake (`Staked`).
  await rpc('eth_sendTransaction', [{ from: artist, to: market, data: toFunctionSelector('stake()'), value: '0x3b9aca00' }]);
  t0 = Date.now();
  while (lastDelivered === null) {
    if (Date.now() - t0 > 30_000) throw new Error('the stream delivered no event in 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  let release;
  hold = new Promise((r) => (release = r));
  dropped = true;
  const from = lastDelivered;
  for (const r of streams) r.destroy();
  await page.getByRole('status').getByText('reconnecting…').waitFor({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Cancel job' }).click();
  await page.getByText(/^Final: included in block \d+ and confirmed\.$/).waitFor({ timeout: 60_000 });
  const cancelEvents = async () => (await api(`/v1/jobs/${cancelJob}/events?limit=500`)).data;
  t0 = Date.now();
  while (!(await cancelEvents()).some((e) => e.event === 'JobCancelled')) {
    if (Date.now() - t0 > 60_000) throw new Error(`the indexer did not record job ${cancelJob}'s cancellation in 60 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const missed = (await cancelEvents()).filter((e) => e.seq > from).map((e) => e.seq);
  hold = null;
  release();
  await page.getByRole('status').getByText('live', { exact: true }).waitFor({ timeout: 30_000 });
  await page.locator('button.tile.refunded').first().waitFor({ timeout: 30_000 });
  t0 = Date.now();
  while (missed.some((q) => !resumed.ids.includes(q)) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 200));
  const lost = missed.filter((q) => !resumed.ids.includes(q));
  const asked = resumed.requests.map((r) => (r.lastEventId ? `Last-Event-ID ${r.lastEventId}` : r.url)).join(', ');
  if (!resumed.requests.length) throw new Error('the page did not reconnect its stream');
  if (!resumed.requests.some((r) => r.lastEventId === String(from) || r.url.includes(`after=${from}`))) {
    throw new Error(`the reconnection did not resume from event ${from} (asked: ${asked})`);
  }
  if (!missed.length || lost.length) throw new Error(`the resumed stream lost events ${lost.join(', ')} of ${missed.join(', ')} (asked: ${asked}; got ${resumed.ids.join(', ')})`);
  dropped = false;
  step(`job ${cancelJob} cancelled from the page while its stream was down (cut after event ${from}); resumed with ${asked}, the ${missed.length} events recorded meanwhile all arrived; tiles refunded`);
  await shot('9-job-cancelled-stream-resumed');
  const withdraw = page.getByRole('button', { name: 'Withdraw' });
  await page.waitForFunction(() => {
    const b = [...document.querySelectorAll('button')].find((x) => x.textContent === 'Withdraw');
    return b && !b.disabled;
  }, null, { timeout: 20_000 });
  const credit = await page.getByLabel('Credited balance').textContent();
  await withdraw.click();
  await page.locator('.wallet').getByText(/^Final: included in block \d+ and confirmed\.$/).waitFor({ timeout: 60_000 });
  await page.waitForFunction(() => document.querySelector('[aria-label="Credited balance"]')?.textContent === 'credit 0 ETH', null, { timeout: 20_000 });
  step(`refund withdrawn (${credit} before, 0 after)`);
  await shot('10-withdrawn');

  // Accessibility basics: every control has an accessible name; focus is visible (an outline on :focus-visible).
  await named('the job page');
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  if (outline === 'none') throw new Error('the focused control shows no outline');
  await contrast('the job page');
  step('every control is named; keyboard focus is visible; text contrast is at least 4.5:1 (3:1 large)');
  if (errors.length) throw new Error(`console errors: ${errors.join(' | ')}`);
  step('no console errors');
} finally {
  await browser.close();
  server.close();
}
