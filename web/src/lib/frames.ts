// A job's finished frames in the browser: each task's raw output fetched from IPFS, checked against the cell
// root committed on-chain (src/lib/cells.ts) and against the region the task layout gives it, then placed in
// its frame. The assembled frame is linear RGB (f32), as `tessera job fetch` assembles it; the preview is the
// renderer's tone map (crates/render/src/output.rs: ACES filmic, Narkowicz 2015, then sRGB), and the download
// is a PNG of that preview or an OpenEXR of the linear pixels (three.js's EXRExporter, loaded on demand).

import type { Hex } from 'viem';
import { CellCheckError, checkOutput } from './cells';
import { taskOf, type RenderSettings } from './job';

/** A frame being assembled: its linear pixels and which of its regions arrived verified. */
export interface Frame {
  frame: number;
  width: number;
  height: number;
  /** Row-major linear RGB, 3 f32 per pixel. */
  pixels: Float32Array;
  /** Tasks placed in it. */
  tasks: Set<number>;
}

/** The raw output's size for task `index` (its header and 12 bytes a pixel): the most a fetch may return. */
export function rawSize(s: RenderSettings, index: number): number {
  const [, , w, h] = taskOf(s, index).region;
  return 40 + w * h * 12;
}

/**
 * Checks task `index`'s raw output against `cellRoot` and the job's layout, and copies its region into
 * `frames` (created as needed). Throws `CellCheckError` naming the mismatch: a root the data does not build,
 * another image size, region or cell size than the job's.
 */
export function place(frames: Map<number, Frame>, s: RenderSettings, index: number, bytes: Uint8Array, cellRoot: Hex): Frame {
  const raw = checkOutput(bytes, cellRoot);
  const t = taskOf(s, index);
  const [x, y, w, h] = t.region;
  const [rx, ry, rw, rh] = raw.region;
  if (raw.imageWidth !== s.width || raw.imageHeight !== s.height || rx !== x || ry !== y || rw !== w || rh !== h || raw.cellSize !== s.cellSize) {
    throw new CellCheckError(
      `task ${index}'s output is region ${rx},${ry} ${rw}x${rh} of a ${raw.imageWidth}x${raw.imageHeight} image in cells of ${raw.cellSize}; ` +
        `the job's task ${index} is region ${x},${y} ${w}x${h} of ${s.width}x${s.height} in cells of ${s.cellSize}`,
    );
  }
  let f = frames.get(t.frame);
  if (!f) {
    f = { frame: t.frame, width: s.width, height: s.height, pixels: new Float32Array(s.width * s.height * 3), tasks: new Set() };
    frames.set(t.frame, f);
  }
  // The body is little-endian f32; copied through a DataView so that any alignment and host order work.
  const v = new DataView(raw.body.buffer, raw.body.byteOffset, raw.body.byteLength);
  for (let row = 0; row < h; row++) {
    const dst = ((y + row) * s.width + x) * 3;
    for (let i = 0; i < w * 3; i++) f.pixels[dst + i] = v.getFloat32((row * w * 3 + i) * 4, true);
  }
  f.tasks.add(index);
  return f;
}

/** The preview tone map of one linear value to 8-bit sRGB: the curve of crates/render/src/output.rs `tonemap`
 * (computed here in double precision, so a value can land one step from the renderer's f32 PNG). */
export function tonemap(v: number): number {
  const x = Math.max(v, 0) * 0.8;
  const y = Math.min(Math.max((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14), 0), 1);
  const s = y <= 0.0031308 ? 12.92 * y : 1.055 * y ** (1 / 2.4) - 0.055;
  return Math.floor(s * 255 + 0.5);
}

/** The frame's preview as RGBA bytes (for an `ImageData`). */
export function previewRgba(f: Frame): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(f.width * f.height * 4);
  for (let p = 0; p < f.width * f.height; p++) {
    out[p * 4] = tonemap(f.pixels[p * 3] ?? 0);
    out[p * 4 + 1] = tonemap(f.pixels[p * 3 + 1] ?? 0);
    out[p * 4 + 2] = tonemap(f.pixels[p * 3 + 2] ?? 0);
    out[p * 4 + 3] = 255;
  }
  return out;
}

/** The frame's linear pixels as an OpenEXR file (RGBA, 32-bit float or half, ZIP-compressed). */
export async function exr(f: Frame, precision: 'float' | 'half' = 'float'): Promise<Uint8Array> {
  const { encodeExr } = await import('./exr');
  // The exporter writes a texture's rows bottom-up (GL's order): the rows are given reversed.
  const rgba = new Float32Array(f.width * f.height * 4);
  for (let y = 0; y < f.height; y++) {
    for (let x = 0; x < f.width; x++) {
      const src = ((f.height - 1 - y) * f.width + x) * 3;
      const dst = (y * f.width + x) * 4;
      rgba[dst] = f.pixels[src] ?? 0;
      rgba[dst + 1] = f.pixels[src + 1] ?? 0;
      rgba[dst + 2] = f.pixels[src + 2] ?? 0;
      rgba[dst + 3] = 1;
    }
  }
  // ZIP compression (the exporter's default); RGBA with an opaque alpha (the CLI's `--exr` writes RGB).
  return encodeExr(rgba, f.width, f.height, precision);
}
