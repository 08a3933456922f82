// The web app in a real browser against the real local network, run by tests/e2e/web.rs: headless Chromium
// (Debian's, as root with --no-sandbox) driven by playwright-core, the built app (dist/) served here with a
// config.json for the network, and a wallet injected into the page: an EIP-1193 provider announced through
// EIP-6963 that sends to anvil, which signs for its unlocked test accounts (the artist's among them).
//
// It connects the wallet, watches a job's mosaic fill until every task is paid, cancels a second job and
// withdraws the refund (each transaction followed to finality), checks that every control has an accessible
// name and that the console stayed clean, and saves a screenshot of each step in $TESSERA_WEB_OUT.
//
// Environment: TESSERA_WEB_DIST, TESSERA_WEB_OUT, TESSERA_INDEXER_URL, TESSERA_RPC_URL, TESSERA_IPFS_API,
// TESSERA_CHAIN_ID, TESSERA_ARTIST, TESSERA_PAID_JOB, TESSERA_CANCEL_JOB, CHROMIUM (default /usr/bin/chromium).

import { createServer } from 'node:http';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { chromium } from 'playwright-core';

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
const config = {
  indexerUrl: env('TESSERA_INDEXER_URL'),
  rpcUrl: env('TESSERA_RPC_URL'),
  ipfsApi: env('TESSERA_IPFS_API'),
  ipfsGateway: '',
  chainId: Number(env('TESSERA_CHAIN_ID')),
  market: '',
};
const artist = env('TESSERA_ARTIST').toLowerCase();
const paidJob = env('TESSERA_PAID_JOB');
const cancelJob = env('TESSERA_CANCEL_JOB');

const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.map': 'application/json' };
const root = normalize(dist) + sep;
const server = createServer((req, res) => {
  try {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
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
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

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
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(wallet, { rpcUrl: config.rpcUrl, account: artist });
  const shot = async (name) => page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
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

  await page.goto(`${base}/#/jobs/${paidJob}`);
  await page.locator('.mosaic').first().waitFor();
  const tiles = page.locator('button.tile');
  const n = await tiles.count();
  const seen = new Set();
  t0 = Date.now();
  while ((await page.locator('button.tile.paid').count()) < n) {
    for (const s of ['claimed', 'submitted', 'paid']) if (await page.locator(`button.tile.${s}`).count()) seen.add(s);
    if (Date.now() - t0 > 300_000) throw new Error(`job ${paidJob}: not every tile paid after 300 s`);
    await page.waitForTimeout(250);
  }
  step(`job ${paidJob}: all ${n} tiles paid, live (states seen on the way: ${[...seen].join(', ')})`);
  await shot('2-job-paid');
  await tiles.first().click();
  await page.getByRole('heading', { name: /^Task 0$/ }).waitFor();
  await page.getByText(/Committee 1/).first().waitFor();
  step('a task shows its committee and votes');
  await shot('3-task-committee');

  await page.goto(`${base}/#/jobs/${cancelJob}`);
  await page.getByRole('button', { name: 'Cancel job' }).click();
  await page.getByText(/^Final: included in block \d+ and confirmed\.$/).waitFor({ timeout: 60_000 });
  step(`job ${cancelJob} cancelled from the page, followed to finality`);
  await shot('4-job-cancelled');
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
  await shot('5-withdrawn');

  // Accessibility basics: every control has an accessible name; focus is visible (an outline on :focus-visible).
  const unnamed = await page.evaluate(() =>
    [...document.querySelectorAll('button, input, select, a[href]')]
      .filter((el) => !(el.getAttribute('aria-label') || el.textContent?.trim() || el.labels?.[0]?.textContent?.trim() || el.getAttribute('title')))
      .map((el) => el.outerHTML.slice(0, 80)),
  );
  if (unnamed.length) throw new Error(`controls without an accessible name: ${unnamed.join(' | ')}`);
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  if (outline === 'none') throw new Error('the focused control shows no outline');
  step('every control is named; keyboard focus is visible');
  if (errors.length) throw new Error(`console errors: ${errors.join(' | ')}`);
  step('no console errors');
} finally {
  await browser.close();
  server.close();
}
