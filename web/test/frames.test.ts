import { describe, expect, it } from 'vitest';
import { EXRLoader } from 'three/addons/loaders/EXRLoader.js';
import { FloatType } from 'three';
import { cellDataHashes, cellLeaf, cellRoot, parseRaw } from '../src/lib/cells';
import { exr, place, previewRgba, rawSize, tonemap, type Frame } from '../src/lib/frames';
import type { RenderSettings } from '../src/lib/job';

// An 8×4 image in 2×1 regions with 4-pixel cells: task 1 of frame 3 is the right half.
const s: RenderSettings = { width: 8, height: 4, samplesPerPixel: 1, maxBounces: 0, frameStart: 3, frameCount: 1, regionsX: 2, regionsY: 1, cellSize: 4, seed: 1n };

/** A raw output as the renderer writes it (TSRAW001, crates/render/src/output.rs), pixel p = (p, p/2, 1). */
function raw(region: [number, number, number, number], imageWidth = 8, cell = 4): Uint8Array {
  const [x, y, w, h] = region;
  const out = new Uint8Array(40 + w * h * 12);
  out.set(new TextEncoder().encode('TSRAW001'));
  const v = new DataView(out.buffer);
  [imageWidth, 4, x, y, w, h, cell, 3].forEach((n, i) => v.setUint32(8 + i * 4, n, true));
  for (let p = 0; p < w * h; p++) {
    v.setFloat32(40 + p * 12, p, true);
    v.setFloat32(44 + p * 12, p / 2, true);
    v.setFloat32(48 + p * 12, 1, true);
  }
  return out;
}
const rootOf = (bytes: Uint8Array) => cellRoot(cellDataHashes(parseRaw(bytes)).map((h, i) => cellLeaf(i, h)));

describe('finished frames from checked outputs', () => {
  it('places a verified region where the layout puts it', () => {
    const bytes = raw([4, 0, 4, 4]);
    expect(rawSize(s, 1)).toBe(bytes.length);
    const frames = new Map<number, Frame>();
    const f = place(frames, s, 1, bytes, rootOf(bytes));
    expect(f.frame).toBe(3);
    // Pixel (5, 2) of the image is pixel 9 of the region: (9, 4.5, 1); the left half is still black.
    expect(Array.from(f.pixels.subarray((2 * 8 + 5) * 3, (2 * 8 + 5) * 3 + 3))).toEqual([9, 4.5, 1]);
    expect(f.pixels[0]).toBe(0);
    expect([...f.tasks]).toEqual([1]);
  });

  it('refuses data that does not build the root, and a region the task does not have', () => {
    const bytes = raw([4, 0, 4, 4]);
    const root = rootOf(bytes);
    const forged = bytes.slice();
    forged[60] = (forged[60] ?? 0) ^ 1;
    expect(() => place(new Map(), s, 1, forged, root)).toThrow('the chain holds');
    // The right cells claimed for the left region: the root matches, the position does not.
    expect(() => place(new Map(), s, 0, bytes, root)).toThrow("the job's task 0 is region 0,0 4x4 of 8x4");
    const otherImage = raw([4, 0, 4, 4], 9);
    expect(() => place(new Map(), s, 1, otherImage, rootOf(otherImage))).toThrow('of a 9x4 image');
  });

  it('tone-maps as the renderer previews: black, the ACES shoulder, white', () => {
    expect(tonemap(0)).toBe(0);
    expect(tonemap(-1)).toBe(0);
    expect(tonemap(100)).toBe(255);
    expect(tonemap(0.18)).toBeGreaterThan(tonemap(0.1));
    const f: Frame = { frame: 0, width: 1, height: 1, pixels: new Float32Array([0, 0.5, 100]), tasks: new Set() };
    expect(Array.from(previewRgba(f))).toEqual([0, tonemap(0.5), 255, 255]);
  });

  it('writes an OpenEXR of the linear pixels, top row first', async () => {
    const f: Frame = { frame: 0, width: 2, height: 2, pixels: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10.5, 11, 12]), tasks: new Set() };
    const bytes = await exr(f);
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true)).toBe(20000630); // the OpenEXR magic
    const loader = new EXRLoader();
    loader.setDataType(FloatType);
    const back = loader.parse(bytes.slice().buffer);
    expect(back.width).toBe(2);
    // The loader returns rows bottom-up (GL's order): its last row is the image's first.
    const d = back.data as Float32Array;
    expect(Array.from(d.subarray(8, 16))).toEqual([1, 2, 3, 1, 4, 5, 6, 1]);
    expect(Array.from(d.subarray(0, 8))).toEqual([7, 8, 9, 1, 10.5, 11, 12, 1]);
  });
});
