import { useEffect, useRef, useState } from 'preact/hooks';
import type { Address, Hex } from 'viem';
import type { Config } from '../config';
import { distributedRenderAbi } from '../generated/abi';
import type { Job } from '../lib/api';
import { exr, place, previewRgba, rawSize, type Frame } from '../lib/frames';
import { cat, isCid } from '../lib/ipfs';
import type { RenderSettings } from '../lib/job';
import type { Tile } from '../lib/tasks';
import { reader } from '../lib/wallet';

/** A finished frame's outputs: each task's CID (from its `ResultSubmitted`, through the indexer) and the cell
 * root the indexer reports (checked against the chain's before use). */
interface Finished {
  frame: number;
  tasks: { index: number; cid: string; root: Hex }[];
}

/** A frame as the page shows it: its preview (only the PNG is kept: the linear pixels are rebuilt for an EXR
 * download), or why it could not be checked. */
type Shown = ({ url: string; width: number; height: number } | { error: string }) & { key: string };

/** Frames checked without asking; the others on request (each frame's pixels are held while it is built). */
const AUTO_FRAMES = 4;

/**
 * Fetches the outputs of a finished frame from IPFS and assembles them: each task's cell root is read from the
 * contract (`getTask`, over the configured RPC, not the indexer's copy), its raw output must build that root
 * and carry the task's region of the job's image; throws `CellCheckError` or an IPFS/RPC error otherwise.
 */
async function assemble(config: Config, market: Address, job: Job, f: Finished, signal: AbortSignal): Promise<Frame> {
  // The job's layout as the chain has it (its `JobSubmitted` log; the contract keeps no settings): the cell
  // roots do not cover a raw output's header, so an indexer reporting another layout could pass off part of
  // a frame as a whole one.
  const [posted] = await reader(config).getContractEvents({
    address: market,
    abi: distributedRenderAbi,
    eventName: 'JobSubmitted',
    args: { jobId: BigInt(job.jobId) },
    fromBlock: BigInt(job.createdBlock),
    toBlock: BigInt(job.createdBlock),
  });
  const onChainSettings = (posted?.args as { spec?: { settings: RenderSettings } } | undefined)?.spec?.settings;
  if (!onChainSettings) throw new Error(`job ${job.jobId}'s JobSubmitted log is not in block ${job.createdBlock}`);
  const settings: RenderSettings = { ...onChainSettings, seed: BigInt(onChainSettings.seed) };
  const s = job.settings;
  if ((['width', 'height', 'frameStart', 'frameCount', 'regionsX', 'regionsY', 'cellSize'] as const).some((k) => Number(settings[k]) !== s[k])) {
    throw new Error(`the indexer reports job ${job.jobId}'s layout otherwise than its JobSubmitted log`);
  }
  const frames = new Map<number, Frame>();
  for (const t of f.tasks) {
    if (!isCid(t.cid)) throw new Error(`task ${t.index}'s output CID ${JSON.stringify(t.cid.slice(0, 80))} is not a CID`);
    const onChain = (await reader(config).readContract({
      address: market,
      abi: distributedRenderAbi,
      functionName: 'getTask',
      args: [BigInt(job.jobId), BigInt(t.index)],
    })) as readonly [number, Address, bigint, bigint, Hex];
    const root = onChain[4];
    if (onChain[0] !== 3) throw new Error(`task ${t.index} is not paid on-chain`);
    if (root.toLowerCase() !== t.root.toLowerCase()) {
      throw new Error(`task ${t.index}: the indexer reports cell root ${t.root}; the contract holds ${root}`);
    }
    const bytes = await cat(config.ipfsApi, config.ipfsGateway, `${t.cid}/raw.tsr`, rawSize(settings, t.index), signal);
    place(frames, settings, t.index, bytes, root);
  }
  const frame = frames.get(f.frame);
  if (!frame) throw new Error(`frame ${f.frame} has no tasks`);
  return frame;
}

/**
 * The job's finished frames (every task of the frame paid and confirmed): each checked by `assemble` before it
 * is shown as matching the on-chain commitment, one frame at a time, with downloads as PNG (the preview) and
 * OpenEXR (the linear pixels).
 */
export function Frames({ job, tiles, config, market }: { job: Job; tiles: Map<number, Tile>; config: Config; market: Address | null }) {
  const s = job.settings;
  const regions = s.regionsX * s.regionsY;
  const [shown, setShown] = useState<Map<number, Shown>>(new Map());
  const [wanted, setWanted] = useState<Set<number>>(new Set());
  const [exrError, setExrError] = useState('');
  const abort = useRef(new AbortController());
  const shownRef = useRef(shown);
  shownRef.current = shown;
  // Checks under way (frame → the outputs' key): one at a time.
  const started = useRef(new Map<number, string>());
  const inFlight = useRef(new Set<number>());
  // Bumped when a check ends, so that the next one starts.
  const [tick, setTick] = useState(0);
  const done: Finished[] = [];
  for (let f = 0; f < s.frameCount; f++) {
    const tasks = [];
    for (let r = 0; r < regions; r++) {
      const t = tiles.get(f * regions + r);
      if (t?.state !== 'paid' || !t.output || !t.confirmed) break;
      tasks.push({ index: t.task, cid: t.output.cid, root: t.output.root });
    }
    if (tasks.length === regions) done.push({ frame: s.frameStart + f, tasks });
  }
  // A frame is checked again when any of its results changes (a reorg), keyed by its outputs and roots.
  const keyOf = (d: Finished) => d.tasks.map((t) => `${t.cid}:${t.root}`).join(',');
  const queue = done.filter((d, i) => i < AUTO_FRAMES || wanted.has(d.frame) || started.current.has(d.frame));
  const queueKey = queue.map((d) => `${d.frame}=${keyOf(d)}`).join(';') + `/${tick}/${shown.size}`;
  useEffect(() => {
    if (!market) return;
    const signal = abort.current.signal;
    // One frame at a time: the next starts when this one is done.
    if (inFlight.current.size) return;
    const next = queue.find((d) => started.current.get(d.frame) !== keyOf(d));
    if (!next) return;
    const key = keyOf(next);
    started.current.set(next.frame, key);
    inFlight.current.add(next.frame);
    (async () => {
      const frame = await assemble(config, market, job, next, signal);
      const canvas = document.createElement('canvas');
      canvas.width = frame.width;
      canvas.height = frame.height;
      canvas.getContext('2d')?.putImageData(new ImageData(previewRgba(frame), frame.width, frame.height), 0, 0);
      const blob = await new Promise<Blob | null>((r) => canvas.toBlob(r, 'image/png'));
      if (!blob) throw new Error('the browser could not encode the frame as PNG');
      return { url: URL.createObjectURL(blob), width: frame.width, height: frame.height, key };
    })()
      .then((v) =>
        setShown((m) => {
          const old = m.get(next.frame);
          if (old && 'url' in old) URL.revokeObjectURL(old.url);
          return new Map(m).set(next.frame, v);
        }),
      )
      .catch((e: Error) => {
        if (!signal.aborted) setShown((m) => new Map(m).set(next.frame, { error: e.message, key }));
      })
      .finally(() => {
        inFlight.current.delete(next.frame);
        setTick((t) => t + 1);
      });
  }, [queueKey, market]);
  // Leaving the page stops the fetches and frees the previews.
  useEffect(
    () => () => {
      abort.current.abort();
      for (const v of shownRef.current.values()) if ('url' in v) URL.revokeObjectURL(v.url);
    },
    [],
  );
  if (done.length === 0) return null;
  const retry = (frame: number) => {
    started.current.delete(frame);
    setShown((m) => {
      const next = new Map(m);
      next.delete(frame);
      return next;
    });
  };
  return (
    <section aria-labelledby="frames-title" class="frames">
      <h2 id="frames-title">Finished frames</h2>
      {!market && (
        <p class="muted">
          config.json names no market: frames are checked only against the contract the page's configuration names, not one an
          indexer reports.
        </p>
      )}
      {exrError && (
        <p role="alert" class="error">
          {exrError}
        </p>
      )}
      {done.map((d, i) => {
        // What was checked for other outputs (before a reorg changed them) is not shown as this frame's.
        const seen = shown.get(d.frame);
        const v = seen && seen.key === keyOf(d) ? seen : undefined;
        const name = `job-${job.jobId}-frame-${String(d.frame).padStart(4, '0')}`;
        if (!v && i >= AUTO_FRAMES && !wanted.has(d.frame) && !started.current.has(d.frame)) {
          return (
            <p key={d.frame}>
              Frame {d.frame}: {d.tasks.length} outputs paid.{' '}
              <button type="button" onClick={() => setWanted((w) => new Set(w).add(d.frame))}>
                Check and show frame {d.frame}
              </button>
            </p>
          );
        }
        if (!v) return <p key={d.frame}>Frame {d.frame}: fetching {d.tasks.length} outputs from IPFS and checking them against the chain…</p>;
        if ('error' in v) {
          return (
            <p key={d.frame} role="alert" class="error">
              Frame {d.frame} could not be checked: {v.error}{' '}
              <button type="button" onClick={() => retry(d.frame)}>
                Retry
              </button>
            </p>
          );
        }
        return (
          <figure key={d.frame}>
            <img src={v.url} alt={`Frame ${d.frame} of job ${job.jobId}, verified`} width={v.width} height={v.height} />
            <figcaption>
              Frame {d.frame}: <span class="verified">verified</span> — every task paid, and each of its {d.tasks.length} outputs, fetched
              from IPFS, builds the cell root its worker committed on-chain. <a href={v.url} download={`${name}.png`}>Download PNG</a>{' '}
              <button
                type="button"
                onClick={async () => {
                  setExrError('');
                  try {
                    if (!market) throw new Error('the market is not known');
                    // The linear pixels are rebuilt (and checked again) for the download rather than kept.
                    const frame = await assemble(config, market, job, d, abort.current.signal);
                    const bytes = await exr(frame);
                    const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/x-exr' }));
                    const a = document.createElement('a');
                    a.href = url;
                    a.download = `${name}.exr`;
                    a.click();
                    setTimeout(() => URL.revokeObjectURL(url), 60_000);
                  } catch (e) {
                    setExrError(`Frame ${d.frame} as EXR: ${(e as Error).message}`);
                  }
                }}
              >
                Download EXR
              </button>
            </figcaption>
          </figure>
        );
      })}
    </section>
  );
}
