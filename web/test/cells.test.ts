import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Hex } from 'viem';
import { CellCheckError, cellDataHashes, cellLeaf, cellRects, cellRoot, checkOutput, parseRaw } from '../src/lib/cells';

// A task's output written by the Rust renderer (`tessera-render --region 4,2,21,13 --cell-size 4 --raw
// --leaves`): 24 cells, the last column and row clipped, an odd count at every level of the tree. Its root
// is what `tessera output check` prints for these files.
const raw = new Uint8Array(readFileSync(new URL('./fixtures/task.tsr', import.meta.url)));
const leaves = JSON.parse(readFileSync(new URL('./fixtures/leaves.json', import.meta.url), 'utf8')) as {
  root: Hex;
  cells: { index: number; dataHash: Hex; leaf: Hex }[];
};
const ROOT = '0x1f8ff3e1a59395790fcd9abbc4f4588b608f543754560102dff4341845d6be94';

describe('the cell tree, as the Rust side builds it', () => {
  it('parses the raw header', () => {
    const r = parseRaw(raw);
    expect(r.region).toEqual([4, 2, 21, 13]);
    expect(r.cellSize).toBe(4);
    expect(cellRects(21, 13, 4)).toHaveLength(24);
    expect(cellRects(21, 13, 4).at(-1)).toEqual([20, 12, 1, 1]);
  });
  it('hashes every cell and leaf as the renderer did', () => {
    const hashes = cellDataHashes(parseRaw(raw));
    expect(hashes).toEqual(leaves.cells.map((c) => c.dataHash));
    expect(hashes.map((h, i) => cellLeaf(i, h))).toEqual(leaves.cells.map((c) => c.leaf));
  });
  it('builds the committed root', () => {
    expect(leaves.root).toBe(ROOT);
    expect(cellRoot(leaves.cells.map((c) => c.leaf))).toBe(ROOT);
    expect(checkOutput(raw, ROOT).cellSize).toBe(4);
    expect(cellRoot([leaves.cells[0]!.leaf])).toBe(leaves.cells[0]!.leaf);
  });
  it('refuses an output whose cell was changed, or a wrong root', () => {
    const forged = raw.slice();
    const at = 40 + 12 * 30;
    forged[at] = (forged[at] ?? 0) ^ 1; // one bit of one pixel
    expect(() => checkOutput(forged, ROOT)).toThrow(CellCheckError);
    expect(() => checkOutput(forged, ROOT)).toThrow(`the chain holds ${ROOT}`);
    expect(() => checkOutput(raw, `0x${'00'.repeat(32)}`)).toThrow('builds cell root');
  });
  it('names a malformed raw output', () => {
    expect(() => parseRaw(new TextEncoder().encode('not a raw output at all, no header here'))).toThrow('TSRAW001');
    expect(() => parseRaw(raw.subarray(0, raw.length - 4))).toThrow('its header says');
    const badCell = raw.slice();
    new DataView(badCell.buffer).setUint32(8 + 6 * 4, 5, true);
    expect(() => parseRaw(badCell)).toThrow('cell size 5');
  });
});
