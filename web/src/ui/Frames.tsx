import { useEffect, useRef, useState } from 'preact/hooks';
import type { Config } from '../config';
import type { Job } from '../lib/api';
import { exr, place, previewRgba, rawSize, type Frame } from '../lib/frames';
import { cat } from '../lib/ipfs';
import type { RenderSettings } from '../lib/job';
import type { Tile } from '../lib/tasks';

/** A finished frame as the page shows it: its preview's URL, or why it could not be verified. */
type Shown = { frame: Frame; url: string } | { error: string };

/**
 * The job's finished frames (every task of the frame paid): each task's raw output fetched from IPFS and
 * checked against the cell root on-chain and the task's region before the frame is shown as verified, with
 * downloads as PNG (the preview) and OpenEXR (the linear pixels).
 */
export function Frames({ job, tiles, config }: { job: Job; tiles: Map<number, Tile>; config: Config }) {
  const s = job.settings;
  const settings: RenderSettings = { ...s, seed: BigInt(s.seed) };
  const regions = s.regionsX * s.regionsY;
  const [shown, setShown] = useState<Map<number, Shown>>(new Map());
  const started = useRef(new Set<number>());
  const abort = useRef(new AbortController());
  const shownRef = useRef(shown);
  shownRef.current = shown;
  // The frames whose tasks are all paid, each with its tasks' outputs (a key that changes if a result does).
  const done: { frame: number; tasks: { index: number; cid: string; root: `0x${string}` }[] }[] = [];
  for (let f = 0; f < s.frameCount; f++) {
    const tasks = [];
    for (let r = 0; r < regions; r++) {
      const t = tiles.get(f * regions + r);
      if (t?.state !== 'paid' || !t.output) break;
      tasks.push({ index: t.task, cid: t.output.cid, root: t.output.root });
    }
    if (tasks.length === regions) done.push({ frame: s.frameStart + f, tasks });
  }
  const key = `${done.map((d) => d.frame).join(',')}/${shown.size}`;
  useEffect(() => {
    const signal = abort.current.signal;
    for (const d of done) {
      if (started.current.has(d.frame)) continue;
      started.current.add(d.frame);
      (async () => {
        const frames = new Map<number, Frame>();
        for (const t of d.tasks) {
          const bytes = await cat(config.ipfsApi, config.ipfsGateway, `${t.cid}/raw.tsr`, rawSize(settings, t.index), signal);
          place(frames, settings, t.index, bytes, t.root);
        }
        const frame = frames.get(d.frame);
        if (!frame) throw new Error(`frame ${d.frame} has no tasks`);
        const canvas = document.createElement('canvas');
        canvas.width = frame.width;
        canvas.height = frame.height;
        canvas.getContext('2d')?.putImageData(new ImageData(previewRgba(frame), frame.width, frame.height), 0, 0);
        const blob = await new Promise<Blob | null>((r) => canvas.toBlob(r, 'image/png'));
        if (!blob) throw new Error('the browser could not encode the frame as PNG');
        setShown((m) => new Map(m).set(d.frame, { frame, url: URL.createObjectURL(blob) }));
      })().catch((e: Error) => {
        if (!signal.aborted) setShown((m) => new Map(m).set(d.frame, { error: e.message }));
      });
    }
  }, [key]);
  // Leaving the page stops the fetches and frees the previews.
  useEffect(
    () => () => {
      abort.current.abort();
      for (const v of shownRef.current.values()) if ('url' in v) URL.revokeObjectURL(v.url);
    },
    [],
  );
  if (done.length === 0) return null;
  return (
    <section aria-labelledby="frames-title" class="frames">
      <h2 id="frames-title">Finished frames</h2>
      {done.map((d) => {
        const v = shown.get(d.frame);
        const name = `job-${job.jobId}-frame-${String(d.frame).padStart(4, '0')}`;
        if (!v) return <p key={d.frame}>Frame {d.frame}: fetching {d.tasks.length} outputs from IPFS and checking them…</p>;
        if ('error' in v) {
          return (
            <p key={d.frame} role="alert" class="error">
              Frame {d.frame} could not be verified: {v.error}{' '}
              <button
                type="button"
                onClick={() => {
                  started.current.delete(d.frame);
                  setShown((m) => {
                    const next = new Map(m);
                    next.delete(d.frame);
                    return next;
                  });
                }}
              >
                Retry
              </button>
            </p>
          );
        }
        return (
          <figure key={d.frame}>
            <img src={v.url} alt={`Frame ${d.frame} of job ${job.jobId}, verified`} width={v.frame.width} height={v.frame.height} />
            <figcaption>
              Frame {d.frame}: <span class="verified">verified</span> — {d.tasks.length} outputs fetched from IPFS, each building the cell root
              committed on-chain. <a href={v.url} download={`${name}.png`}>Download PNG</a>{' '}
              <button
                type="button"
                onClick={async () => {
                  const bytes = await exr(v.frame);
                  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/x-exr' }));
                  const a = document.createElement('a');
                  a.href = url;
                  a.download = `${name}.exr`;
                  a.click();
                  setTimeout(() => URL.revokeObjectURL(url), 60_000);
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
