import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { erc20Abi, parseEventLogs, type Address } from 'viem';
import type { Config } from '../config';
import { distributedRenderAbi } from '../generated/abi';
import { RENDERER_ID } from '../generated/words';
import type { Api } from '../lib/api';
import { AmountError, formatAmount, parseAmount } from '../lib/amount';
import { add } from '../lib/ipfs';
import { MAX_QUORUM, bill, msamples, observedRate, parseDuration, specProblems, taskCount, type JobSpec, type MarketState, type Rate, type RenderSettings } from '../lib/job';
import { parseGlb, sceneFromFiles, sceneStats, type SceneStats } from '../lib/scene';
import { ETH_ADDRESS, tokenInfo, type TokenInfo } from '../lib/tokens';
import { explain, reader, sendCall, type TxStage } from '../lib/wallet';
import { span } from './format';
import { TxStatus, useWallet } from './Wallet';

const UINT96_MAX = (1n << 96n) - 1n;
/** A worker's default scene limit (`max_scene_bytes`, worker/src/config.rs): larger scenes need operators who raised it. */
const WORKER_DEFAULT_MAX_SCENE = 256 << 20;
/** A placeholder scene CID for the check before the upload (the contract asks only for a non-empty one). */
const PENDING_CID = 'bafkqaaa';

/** The form's fields as typed, with `tessera job submit`'s defaults. */
const DEFAULTS = {
  width: '1920',
  height: '1080',
  spp: '64',
  bounces: '8',
  frameStart: '0',
  frames: '1',
  regionsX: '1',
  regionsY: '1',
  cellSize: '16',
  seed: '1',
  reward: '',
  token: '',
  feeBps: '500',
  stake: '0.001',
  deadline: '1d',
  lease: '1h',
  window: '1h',
  quorum: '3',
  optimistic: false,
  renderer: RENDERER_ID,
};
type Form = typeof DEFAULTS;

interface Scene {
  glb: Uint8Array;
  name: string;
  packed: [string, number][];
  stats: SceneStats;
}

type Step = { stage: 'idle' } | { stage: 'uploading' } | { stage: 'uploaded'; cid: string } | { stage: 'failed'; message: string };

/** Posting a job: the scene, its split into tasks, the bill, then upload, approval and the transaction. */
export function PostPage({ api, config }: { api: Api; config: Config }) {
  const wallet = useWallet();
  const [form, setForm] = useState<Form>(DEFAULTS);
  const [scene, setScene] = useState<Scene | null>(null);
  const [sceneError, setSceneError] = useState('');
  const [token, setToken] = useState<{ info: TokenInfo; allowed: boolean } | { error: string } | null>(null);
  const [funds, setFunds] = useState<{ balance: bigint; allowance: bigint } | null>(null);
  const [rate, setRate] = useState<Rate | null>(null);
  const [upload, setUpload] = useState<Step>({ stage: 'idle' });
  // The CID of the scene as uploaded, with the bytes it is the CID of (a new scene is uploaded anew).
  const uploaded = useRef<{ glb: Uint8Array; cid: string } | null>(null);
  // One posting at a time, from the click to its end (not only while a transaction is under way).
  const [submitting, setSubmitting] = useState(false);
  const inFlight = useRef(false);
  // What the last successful post was of: the same form and scene are not posted twice by a second click.
  const [postedKey, setPostedKey] = useState('');
  const [failure, setFailure] = useState('');
  const [marketState, setMarketState] = useState<MarketState | null>(null);
  const sceneRequest = useRef(0);
  // Which choice of scene file the form holds (a new choice is a new scene, whatever its name and size).
  const [sceneChoice, setSceneChoice] = useState(0);
  const [approveTx, setApproveTx] = useState<TxStage | null>(null);
  const [postTx, setPostTx] = useState<TxStage | null>(null);
  const [posted, setPosted] = useState<number | null>(null);
  const set = (k: keyof Form) => (e: Event) => {
    const t = e.currentTarget as HTMLInputElement;
    setForm((f) => ({ ...f, [k]: t.type === 'checkbox' ? t.checked : t.value }));
  };

  const tokenAddress = form.token.trim();
  const isEth = tokenAddress === '';
  const tokenValid = isEth || /^0x[0-9a-fA-F]{40}$/.test(tokenAddress);
  // The token's symbol, decimals and whether the market takes it, read as the address is typed.
  useEffect(() => {
    setToken(null);
    if (isEth || !tokenValid || !wallet.market) return;
    let live = true;
    const market = wallet.market;
    Promise.all([
      tokenInfo(config.rpcUrl, tokenAddress),
      reader(config).readContract({ address: market, abi: distributedRenderAbi, functionName: 'isTokenAllowed', args: [tokenAddress as Address] }),
    ])
      .then(([info, allowed]) => live && setToken({ info, allowed: allowed as boolean }))
      .catch(() => live && setToken({ error: `${tokenAddress} does not answer as an ERC-20 token (symbol, decimals) on chain ${config.chainId}` }));
    return () => {
      live = false;
    };
  }, [tokenAddress, wallet.market]);
  const decimals = isEth ? 18 : token && 'info' in token ? token.info.decimals : null;
  const symbol = isEth ? 'ETH' : token && 'info' in token ? token.info.symbol : 'tokens';

  // The network's render rate from the last finished jobs' claims and results.
  useEffect(() => {
    let live = true;
    (async () => {
      const jobs = (await api.jobs({ status: 'finished', limit: 5 })).data;
      const seen = await Promise.all(jobs.map(async (j) => ({ settings: j.settings, events: (await api.events(j.jobId)).data })));
      if (live) setRate(observedRate(seen));
    })().catch(() => live && setRate(null));
    return () => {
      live = false;
    };
  }, [api]);

  // The market's minimum phase, active tickets and pause, as the contract will check them (re-read after
  // each post); only a market config.json names is posted to (an indexer could name any contract).
  const market = config.market ? (config.market as Address) : null;
  useEffect(() => {
    if (!market) return;
    let live = true;
    const r = reader(config);
    const read = (functionName: 'MIN_CHALLENGE_WINDOW' | 'paused') =>
      r.readContract({ address: market, abi: distributedRenderAbi, functionName });
    Promise.all([read('MIN_CHALLENGE_WINDOW'), r.readContract({ address: market, abi: distributedRenderAbi, functionName: 'registry' }), read('paused')])
      .then(([min, reg, paused]) => {
        if (live) setMarketState({ minChallengeWindow: Number(min), activeTickets: Number((reg as readonly [bigint, bigint])[1]), paused: Boolean(paused) });
      })
      .catch((e) => live && setFailure(`the market at ${market} cannot be read: ${explain(e)}`));
    return () => {
      live = false;
    };
  }, [market, postTx?.stage === 'final']);

  const num = (v: string) => (/^\d+$/.test(v.trim()) ? Number(v) : NaN);
  const settings: RenderSettings = {
    width: num(form.width),
    height: num(form.height),
    samplesPerPixel: num(form.spp),
    maxBounces: num(form.bounces),
    frameStart: num(form.frameStart),
    frameCount: num(form.frames),
    regionsX: num(form.regionsX),
    regionsY: num(form.regionsY),
    cellSize: num(form.cellSize),
    seed: /^\d+$/.test(form.seed.trim()) ? BigInt(form.seed.trim()) : -1n,
  };
  const problems: string[] = [];
  if (settings.seed < 0n || settings.seed >= 1n << 64n) problems.push('the seed must be a whole number below 2^64');
  const amount = (text: string, what: string, dec: number | null): bigint | null => {
    if (dec === null) return null;
    try {
      return parseAmount(text, dec, UINT96_MAX);
    } catch (e) {
      problems.push(`${what}: ${(e as AmountError).message}`);
      return null;
    }
  };
  const reward = amount(form.reward, 'reward per task', decimals);
  const stake = amount(form.stake, 'worker stake', 18);
  const feeBps = num(form.feeBps);
  const quorum = num(form.quorum);
  const deadline = parseDuration(form.deadline);
  const lease = parseDuration(form.lease);
  const window = parseDuration(form.window);
  for (const [v, what] of [
    [deadline, 'deadline'],
    [lease, 'lease'],
    [window, 'verification phase'],
  ] as const) {
    if (v === null) problems.push(`${what}: a duration like 90m, 2h or 1d`);
  }
  if (!tokenValid) problems.push(`token: "${tokenAddress}" is not an address (leave it empty to pay in ETH)`);
  if (token && 'error' in token) problems.push(token.error);
  if (token && 'info' in token && !token.allowed) {
    problems.push(`the market does not accept ${token.info.symbol} (${tokenAddress}) for new jobs: pay in ETH or an allowed token`);
  }
  const now = Math.floor(Date.now() / 1000);
  // The terms as the contract will check them (the deadline is counted from the chain's time when sent).
  const terms: Omit<JobSpec, 'sceneCid'> = {
    rendererId: form.renderer.trim(),
    settings,
    token: (isEth ? ETH_ADDRESS : tokenAddress) as Address,
    rewardPerTask: reward ?? 1n,
    verifierFeeBps: feeBps,
    workerStakePerTask: stake ?? 0n,
    deadline: now + (deadline ?? 0),
    leaseDuration: lease ?? 0,
    challengeWindow: window ?? 0,
    quorum,
    optimistic: form.optimistic,
  };
  problems.push(...specProblems(terms, marketState, now));
  if (market && !marketState) problems.push(`reading the market's terms (its minimum phase, active tickets, pause) from ${market}…`);
  if (!market) problems.push('config.json names no market: this page posts escrow only to the market its configuration names');
  const count = taskCount(settings);
  const tasks = Number.isSafeInteger(count) && count > 0 ? count : 0;
  const money = reward !== null && Number.isInteger(feeBps) && tasks > 0 ? bill(tasks, reward, feeBps) : null;
  const escrow = money?.escrow ?? null;

  // What the account holds and has approved, for the bill's check and the approval step.
  const account = wallet.conn?.account;
  useEffect(() => {
    setFunds(null);
    if (!account || !wallet.market || !tokenValid) return;
    let live = true;
    const r = reader(config);
    const read = isEth
      ? r.getBalance({ address: account }).then((balance) => ({ balance, allowance: 0n }))
      : Promise.all([
          r.readContract({ address: tokenAddress as Address, abi: erc20Abi, functionName: 'balanceOf', args: [account] }),
          r.readContract({ address: tokenAddress as Address, abi: erc20Abi, functionName: 'allowance', args: [account, wallet.market] }),
        ]).then(([balance, allowance]) => ({ balance, allowance }));
    read.then((f) => live && setFunds(f)).catch(() => live && setFunds(null));
    return () => {
      live = false;
    };
  }, [account, wallet.market, tokenAddress, approveTx?.stage, postTx?.stage]);
  if (funds && escrow !== null && funds.balance < escrow) {
    problems.push(
      `no funds: the account holds ${formatAmount(funds.balance, decimals ?? 18, 6)} ${symbol}; the job escrows ${formatAmount(escrow, decimals ?? 18, 6)} ${symbol}`,
    );
  }
  if (!scene) problems.push('choose the scene');

  const time = useMemo(() => {
    if (!rate || problems.length) return null;
    return msamples(settings) / rate.msamplesPerSecond;
  }, [rate, problems.length, form]);

  // What a post would be of: a second click on the same form and scene after success posts nothing.
  const key = JSON.stringify({ form, scene: sceneChoice });

  const post = async () => {
    const { conn, confirmations } = wallet;
    if (inFlight.current || !conn || !market || confirmations === null || !scene || escrow === null || reward === null || stake === null) return;
    inFlight.current = true;
    setSubmitting(true);
    setPosted(null);
    setPostTx(null);
    setApproveTx(null);
    setFailure('');
    const glb = scene.glb;
    try {
      const chainNow = async () => Number((await reader(config).getBlock()).timestamp);
      const specAt = (cid: string, t: number): JobSpec => ({ ...terms, sceneCid: cid, deadline: t + (deadline ?? 0) });
      const value = isEth ? escrow : 0n;
      const submit = (cid: string, t: number) => ({
        address: market,
        abi: distributedRenderAbi,
        functionName: 'submitRenderJob',
        args: [specAt(cid, t)],
        value,
      });
      // 0. An ETH job is checked against the contract before the upload (a token job needs its approval
      //    first): a refusal is said before anything is published or signed.
      if (isEth) {
        await reader(config).simulateContract({ ...submit(PENDING_CID, await chainNow()), account: conn.account } as never);
      }
      // 1. The scene on IPFS (its CID goes into the job); uploaded once per scene.
      let cid: string;
      if (uploaded.current?.glb === glb) {
        cid = uploaded.current.cid;
      } else {
        setUpload({ stage: 'uploading' });
        try {
          cid = (await add(config.ipfsApi, 'scene.glb', glb, AbortSignal.timeout(300_000))).cid;
        } catch (e) {
          setUpload({ stage: 'failed', message: (e as Error).message });
          return;
        }
        uploaded.current = { glb, cid };
        setUpload({ stage: 'uploaded', cid });
      }
      // 2. An ERC-20 escrow is approved first; a non-zero allowance is cleared before it is changed (tokens in
      //    the USDT mould refuse to move one non-zero allowance to another), as the CLI does.
      if (!isEth) {
        const t = tokenAddress as Address;
        const have = await reader(config).readContract({ address: t, abi: erc20Abi, functionName: 'allowance', args: [conn.account, market] });
        if (have < escrow) {
          if (have > 0n) {
            const cleared = await sendCall(conn, config, { address: t, abi: erc20Abi, functionName: 'approve', args: [market, 0n] }, confirmations, setApproveTx);
            if (!cleared) return;
          }
          const ok = await sendCall(conn, config, { address: t, abi: erc20Abi, functionName: 'approve', args: [market, escrow] }, confirmations, setApproveTx);
          if (!ok) return;
        }
      }
      // 3. The job, its deadline counted from the chain's time.
      const receipt = await sendCall(conn, config, submit(cid, await chainNow()), confirmations, setPostTx);
      if (!receipt) return;
      const [ev] = parseEventLogs({ abi: distributedRenderAbi, logs: receipt.logs, eventName: 'JobSubmitted' });
      if (ev) setPosted(Number((ev.args as { jobId: bigint }).jobId));
      setPostedKey(key);
    } catch (e) {
      setFailure(explain(e));
    } finally {
      inFlight.current = false;
      setSubmitting(false);
    }
  };

  const field = (k: keyof Form, label: string, hint?: string, numeric = false) => (
    <div class="field">
      <label for={`post-${k}`}>{label}</label>
      <input
        id={`post-${k}`}
        type="text"
        value={form[k] as string}
        onInput={set(k)}
        inputMode={numeric ? 'numeric' : undefined}
        spellcheck={false}
        aria-describedby={hint ? `post-${k}-hint` : undefined}
      />
      {hint && (
        <span id={`post-${k}-hint`} class="muted hint">
          {hint}
        </span>
      )}
    </div>
  );
  const ready = wallet.conn && wallet.market && wallet.confirmations !== null && wallet.conn.chainId === config.chainId;
  return (
    <section aria-labelledby="post-title" class="post">
      <h1 id="post-title">Post a job</h1>
      <fieldset>
        <legend>Scene</legend>
        <label>
          Scene file (.glb, or a .gltf with its buffers and images)
          <input
            type="file"
            multiple
            accept=".glb,.gltf,.bin,.png,.jpg,.jpeg"
            disabled={submitting}
            onChange={async (e) => {
              const files = Array.from((e.currentTarget as HTMLInputElement).files ?? []);
              // Only the latest choice counts (a slow earlier one must not replace it).
              const mine = ++sceneRequest.current;
              setScene(null);
              setUpload({ stage: 'idle' });
              setSceneError('');
              if (!files.length) return;
              try {
                const s = await sceneFromFiles(files);
                const stats = sceneStats(parseGlb(s.glb).json, s.glb.length);
                if (mine === sceneRequest.current) {
                  setScene({ ...s, stats });
                  setSceneChoice(mine);
                }
              } catch (err) {
                if (mine === sceneRequest.current) setSceneError((err as Error).message);
              }
            }}
          />
        </label>
        {sceneError && (
          <p role="alert" class="error">
            {sceneError}
          </p>
        )}
        {scene && <SceneSummary scene={scene} />}
      </fieldset>
      <fieldset>
        <legend>Frames and tasks</legend>
        <div class="grid">
          {field('width', 'Width (px)', undefined, true)}
          {field('height', 'Height (px)', undefined, true)}
          {field('spp', 'Samples per pixel', undefined, true)}
          {field('bounces', 'Bounces', undefined, true)}
          {field('frameStart', 'First frame', undefined, true)}
          {field('frames', 'Frames', undefined, true)}
          {field('regionsX', 'Regions across', undefined, true)}
          {field('regionsY', 'Regions down', undefined, true)}
          {field('cellSize', 'Cell size (px)', 'verification cells: a power of two, 4–256', true)}
          {field('seed', 'Noise seed', undefined, true)}
        </div>
      </fieldset>
      <fieldset>
        <legend>Payment and verification</legend>
        <div class="grid">
          {field('reward', `Reward per task (${symbol})`, 'paid to the worker for each verified task')}
          {field('token', 'Token (empty: ETH)', 'an ERC-20 the market allows')}
          {field('feeBps', 'Verifier fee (basis points of the reward)', undefined, true)}
          {field('stake', 'Worker stake per task (ETH)')}
          {field('deadline', 'Deadline from now', 'e.g. 90m, 2h, 1d')}
          {field('lease', 'Lease per claim')}
          {field('window', 'Verification phase length')}
          {field('quorum', 'First committee (seats)', `1 to ${MAX_QUORUM}`, true)}
          <label class="check">
            <input type="checkbox" checked={form.optimistic} onChange={set('optimistic')} />
            Optimistic: pay a result nobody disputes within the phase length
          </label>
          {field('renderer', 'Renderer id')}
        </div>
      </fieldset>
      <section aria-label="Estimate" class="estimate">
        <h2>Estimate</h2>
        {tasks > 0 && (
          <p>
            {tasks} task{tasks === 1 ? '' : 's'}: {settings.frameCount} frame{settings.frameCount === 1 ? '' : 's'} × {settings.regionsX}×{settings.regionsY} regions,{' '}
            {msamples(settings).toLocaleString(undefined, { maximumFractionDigits: 2 })} Msamples
            {time !== null && rate
              ? `; about ${span(time)} of one worker's time at the network's observed ${rate.msamplesPerSecond.toFixed(2)} Msamples/s (${rate.tasks} recent tasks)`
              : '; no finished job to measure the network by yet'}
          </p>
        )}
        {money && decimals !== null && (
          <p>
            Escrow <strong>{formatAmount(money.escrow, decimals)} {symbol}</strong> = {tasks} × ({formatAmount(reward ?? 0n, decimals)} reward +{' '}
            {formatAmount(money.fee, decimals)} verifier fee), plus gas{isEth ? '' : '; approved for the market first when needed'}
          </p>
        )}
        {problems.length > 0 && (
          <ul class="problems" aria-label="What to fix before posting">
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        )}
        {!ready && <p class="muted">Connect a wallet on chain {config.chainId} to post.</p>}
        {market && (
          <p class="muted">
            The escrow goes to the market <code>{market}</code> named by this page's configuration.
          </p>
        )}
        <button type="button" disabled={!ready || problems.length > 0 || submitting || postedKey === key} onClick={() => void post()}>
          {isEth ? 'Upload scene and post job' : `Upload scene, approve ${symbol} and post job`}
        </button>
        {postedKey === key && <span class="muted"> posted; change the scene or a setting to post another</span>}
        {failure && (
          <p role="alert" class="error">
            Not posted: {failure}
          </p>
        )}
      </section>
      <ol class="steps" aria-label="Progress">
        {upload.stage !== 'idle' && (
          <li role={upload.stage === 'failed' ? 'alert' : 'status'} class={upload.stage === 'failed' ? 'error' : undefined}>
            {upload.stage === 'uploading' && `Uploading the scene to ${config.ipfsApi}…`}
            {upload.stage === 'uploaded' && (
              <>
                Scene on IPFS: <code aria-label="Scene CID">{upload.cid}</code>
              </>
            )}
            {upload.stage === 'failed' && `Upload failed: ${upload.message}`}
          </li>
        )}
        {approveTx && (
          <li>
            Approval: <TxStatus tx={approveTx} />
          </li>
        )}
        {postTx && (
          <li>
            Job: <TxStatus tx={postTx} />
          </li>
        )}
        {posted !== null && (
          <li role="status">
            Posted as <a href={`#/jobs/${posted}`}>job #{posted}</a>.
          </li>
        )}
      </ol>
    </section>
  );
}

function SceneSummary({ scene }: { scene: Scene }) {
  const s = scene.stats;
  return (
    <>
      <dl class="stats scene" aria-label="Scene">
        <dt>File</dt>
        <dd>
          {scene.name}, {(s.bytes / 1024).toFixed(1)} KiB{s.generator ? ` (made by ${s.generator})` : ''}
        </dd>
        <dt>Geometry</dt>
        <dd>
          {s.triangles.toLocaleString()} triangles in {s.meshes} meshes ({s.primitives} primitives), {s.nodes} nodes
        </dd>
        <dt>Look</dt>
        <dd>
          {s.materials} materials, {s.textures} textures ({s.images} images), {s.lights} lights, {s.cameras} cameras
        </dd>
        <dt>Animation</dt>
        <dd>{s.animations ? `${s.animations} animations, ${s.animationSeconds.toFixed(2)} s${s.skins ? `, ${s.skins} skins` : ''}` : 'none'}</dd>
        {s.extensionsRequired.length > 0 && (
          <>
            <dt>Extensions required</dt>
            <dd>{s.extensionsRequired.join(', ')}</dd>
          </>
        )}
      </dl>
      {scene.packed.length > 0 && <p class="muted">Packed into one .glb with {scene.packed.map(([n, b]) => `${n} (${b} bytes)`).join(', ')}.</p>}
      {s.bytes > WORKER_DEFAULT_MAX_SCENE && (
        <p class="problems">
          {(s.bytes / 2 ** 20).toFixed(0)} MiB: workers with the default scene limit (256 MiB, their `max_scene_bytes`) will not take it.
        </p>
      )}
      {s.cameras === 0 && <p class="muted">No camera in the scene: workers frame it from a default camera (45° looking down −Z at its bounds).</p>}
    </>
  );
}
