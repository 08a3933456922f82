// The cell Merkle tree of docs/merkle.md, as crates/common/src/cells.rs builds it, so that the browser
// checks a fetched output against the root committed on-chain before showing it as verified:
// - a cell's data hash is keccak256 of its raw little-endian f32 RGB rows (the region's rows cut per cell);
// - leaf = keccak256(keccak256(abi.encode(uint256 cellIndex, bytes32 dataHash)));
// - a parent is keccak256 of its two children sorted ascending (OpenZeppelin's commutative pair hash); a
//   node without a sibling is carried up unchanged.

import { concat, encodeAbiParameters, keccak256, type Hex } from 'viem';

/** An output that does not match its commitment, with what differs in words. */
export class CellCheckError extends Error {}

/** The raw output of a task (TSRAW001): its header and the bytes of its pixels. */
export interface RawOutput {
  imageWidth: number;
  imageHeight: number;
  /** The region: x, y, width, height in pixels of the image. */
  region: [number, number, number, number];
  cellSize: number;
  /** The region's pixels, row-major linear RGB (3 f32 each), as stored. */
  body: Uint8Array;
}

const MAGIC = 'TSRAW001';
const HEADER = 40;

/** Parses a raw output; throws `CellCheckError` for a bad magic, channel count, cell size or length. */
export function parseRaw(bytes: Uint8Array): RawOutput {
  if (bytes.length < HEADER || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new CellCheckError('not a raw output: the TSRAW001 header is missing');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = Array.from({ length: 8 }, (_, i) => view.getUint32(8 + i * 4, true));
  const [imageWidth, imageHeight, x, y, width, height, cellSize, channels] = h as [
    number, number, number, number, number, number, number, number,
  ];
  if (channels !== 3) throw new CellCheckError(`${channels} channels in the raw output, expected 3`);
  if (cellSize < 4 || cellSize > 256 || (cellSize & (cellSize - 1)) !== 0) {
    throw new CellCheckError(`cell size ${cellSize} in the raw output`);
  }
  if (width === 0 || height === 0 || x + width > imageWidth || y + height > imageHeight) {
    throw new CellCheckError(`region ${x},${y} ${width}x${height} does not fit the ${imageWidth}x${imageHeight} image`);
  }
  const want = HEADER + width * height * 12;
  if (bytes.length !== want) {
    throw new CellCheckError(`the raw output has ${bytes.length} bytes; its header says ${want}`);
  }
  return { imageWidth, imageHeight, region: [x, y, width, height], cellSize, body: bytes.subarray(HEADER) };
}

/** The cells of the region, row-major, clipped to it: [x, y, width, height] relative to the region. */
export function cellRects(width: number, height: number, cellSize: number): [number, number, number, number][] {
  const out: [number, number, number, number][] = [];
  for (let y = 0; y < height; y += cellSize) {
    for (let x = 0; x < width; x += cellSize) {
      out.push([x, y, Math.min(cellSize, width - x), Math.min(cellSize, height - y)]);
    }
  }
  return out;
}

/** keccak256 of each cell's rows, in cell-index order. */
export function cellDataHashes(raw: RawOutput): Hex[] {
  const [, , width, height] = raw.region;
  const row = width * 12;
  return cellRects(width, height, raw.cellSize).map(([cx, cy, cw, ch]) => {
    const buf = new Uint8Array(cw * ch * 12);
    for (let dy = 0; dy < ch; dy++) {
      const start = (cy + dy) * row + cx * 12;
      buf.set(raw.body.subarray(start, start + cw * 12), dy * cw * 12);
    }
    return keccak256(buf);
  });
}

/** The leaf of cell `index` whose data hashes to `dataHash`. */
export function cellLeaf(index: number, dataHash: Hex): Hex {
  return keccak256(keccak256(encodeAbiParameters([{ type: 'uint256' }, { type: 'bytes32' }], [BigInt(index), dataHash])));
}

/** OpenZeppelin's commutative hash of two nodes. */
export function hashPair(a: Hex, b: Hex): Hex {
  const [lo, hi] = a.toLowerCase() <= b.toLowerCase() ? [a, b] : [b, a];
  return keccak256(concat([lo, hi]));
}

/** The root over `leaves` (at least one). */
export function cellRoot(leaves: Hex[]): Hex {
  if (leaves.length === 0) throw new CellCheckError('no cells');
  let level = leaves;
  while (level.length > 1) {
    const next: Hex[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const a = level[i] as Hex;
      const b = level[i + 1];
      next.push(b === undefined ? a : hashPair(a, b));
    }
    level = next;
  }
  return level[0] as Hex;
}

/**
 * Checks a task's raw output against the cell root committed on-chain; returns the parsed output.
 * Throws `CellCheckError` naming the difference when the data does not build that root.
 */
export function checkOutput(bytes: Uint8Array, committedRoot: Hex): RawOutput {
  const raw = parseRaw(bytes);
  const root = cellRoot(cellDataHashes(raw).map((h, i) => cellLeaf(i, h)));
  if (root.toLowerCase() !== committedRoot.toLowerCase()) {
    throw new CellCheckError(`the output builds cell root ${root}; the chain holds ${committedRoot}`);
  }
  return raw;
}
