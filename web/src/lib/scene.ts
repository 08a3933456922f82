// A scene as the artist picks it in the browser: a binary glTF (`.glb`), or a `.gltf` with its side files
// packed into one self-contained `.glb` (what workers fetch from IPFS, as `tessera job submit` packs it), and
// the numbers an artist checks before paying: meshes, triangles, materials, textures, lights, animation.
//
// The container is glTF 2.0's (https://registry.khronos.org/glTF/specs/2.0/glTF-2.0.html, "GLB File Format
// Specification"): a 12-byte header (magic `glTF`, version 2, total length), a JSON chunk padded with spaces
// and an optional BIN chunk padded with zeros, each chunk 4-byte aligned.

/** A scene that cannot be read or packed, with the reason in words. */
export class SceneError extends Error {}

/** The renderer's limits on what a scene file may be (crates/render `Limits::default()`): 512 MiB a file,
 * 32 MiB of JSON. A scene past them is refused here, before anything is uploaded or paid. */
export const MAX_FILE_BYTES = 512 << 20;
export const MAX_JSON_BYTES = 32 << 20;

const MAGIC = 0x46546c67; // "glTF"
const JSON_CHUNK = 0x4e4f534a; // "JSON"
const BIN_CHUNK = 0x004e4942; // "BIN\0"

/** The glTF JSON document (the parts read here). */
export interface Gltf {
  asset?: { version?: string; generator?: string };
  buffers?: { uri?: string; byteLength: number }[];
  bufferViews?: { buffer: number; byteOffset?: number; byteLength: number; byteStride?: number; target?: number }[];
  accessors?: { count: number; type?: string }[];
  meshes?: { primitives: { indices?: number; mode?: number; attributes: Record<string, number> }[] }[];
  materials?: unknown[];
  textures?: unknown[];
  images?: { uri?: string; bufferView?: number; mimeType?: string }[];
  nodes?: { mesh?: number; camera?: number; children?: number[] }[];
  cameras?: unknown[];
  animations?: { channels?: unknown[]; samplers?: { input: number }[] }[];
  skins?: unknown[];
  extensions?: { KHR_lights_punctual?: { lights?: unknown[] } };
  extensionsUsed?: string[];
  extensionsRequired?: string[];
  [k: string]: unknown;
}

/** The JSON document and the BIN chunk of a `.glb`. Throws `SceneError` naming what is wrong. */
export function parseGlb(bytes: Uint8Array): { json: Gltf; bin: Uint8Array | null } {
  if (bytes.length < 20) throw new SceneError(`a .glb has a 12-byte header and a JSON chunk; this file has ${bytes.length} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== MAGIC) throw new SceneError('not a binary glTF: the file does not start with "glTF"');
  const version = v.getUint32(4, true);
  if (version !== 2) throw new SceneError(`glTF container version ${version}; Tessera reads version 2`);
  const length = v.getUint32(8, true);
  if (length !== bytes.length) throw new SceneError(`the .glb header says ${length} bytes; the file has ${bytes.length}`);
  let at = 12;
  let json: Gltf | null = null;
  let bin: Uint8Array | null = null;
  while (at < length) {
    if (at + 8 > length) throw new SceneError(`a chunk header at byte ${at} runs past the end of the file`);
    const size = v.getUint32(at, true);
    const type = v.getUint32(at + 4, true);
    const start = at + 8;
    if (start + size > length) throw new SceneError(`the chunk at byte ${at} (${size} bytes) runs past the end of the file`);
    const data = bytes.subarray(start, start + size);
    if (json === null) {
      if (type !== JSON_CHUNK) throw new SceneError('the first chunk of a .glb must be its JSON');
      if (size > MAX_JSON_BYTES) throw new SceneError(`the JSON chunk is ${size} bytes; the renderer reads at most ${MAX_JSON_BYTES}`);
      try {
        json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data)) as Gltf;
      } catch (e) {
        throw new SceneError(`the JSON chunk is not JSON: ${(e as Error).message}`);
      }
      if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SceneError('the JSON chunk is not a glTF object');
    } else if (type === BIN_CHUNK && bin === null) {
      bin = data;
    }
    at = start + ((size + 3) & ~3);
  }
  if (json === null) throw new SceneError('the .glb has no JSON chunk');
  checkShape(json);
  return { json, bin };
}

/** The document's parts read here have the types the specification gives them; throws `SceneError` naming
 * the first that does not (a hostile file must not reach the counting code as something else). */
export function checkShape(json: Gltf): void {
  const arrays = ['buffers', 'bufferViews', 'accessors', 'meshes', 'materials', 'textures', 'images', 'nodes', 'cameras', 'animations', 'skins'];
  for (const k of arrays) {
    const v = json[k];
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== 'object' || x === null || Array.isArray(x)))) {
      throw new SceneError(`"${k}" is not an array of objects`);
    }
  }
  for (const [i, m] of (json.meshes ?? []).entries()) {
    if (!Array.isArray(m.primitives) || m.primitives.some((p) => typeof p !== 'object' || p === null || typeof p.attributes !== 'object' || p.attributes === null)) {
      throw new SceneError(`mesh ${i}'s primitives are not objects with attributes`);
    }
  }
  for (const [i, a] of (json.accessors ?? []).entries()) {
    if (!Number.isSafeInteger(a.count) || a.count < 0) throw new SceneError(`accessor ${i} has no count`);
  }
  for (const [i, b] of (json.bufferViews ?? []).entries()) {
    if (!Number.isSafeInteger(b.byteLength) || !Number.isSafeInteger(b.buffer)) throw new SceneError(`buffer view ${i} has no buffer or byteLength`);
  }
  for (const k of ['extensionsRequired', 'extensionsUsed']) {
    const v = json[k];
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) throw new SceneError(`"${k}" is not a list of names`);
  }
}

/** A `.glb` of `json` and `bin` (padded as the specification asks). */
export function writeGlb(json: Gltf, bin: Uint8Array | null): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(json));
  const jsonLen = (text.length + 3) & ~3;
  const binLen = bin ? (bin.length + 3) & ~3 : 0;
  const total = 12 + 8 + jsonLen + (bin ? 8 + binLen : 0);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC, true);
  v.setUint32(4, 2, true);
  v.setUint32(8, total, true);
  v.setUint32(12, jsonLen, true);
  v.setUint32(16, JSON_CHUNK, true);
  out.set(text, 20);
  out.fill(0x20, 20 + text.length, 20 + jsonLen);
  if (bin) {
    const at = 20 + jsonLen;
    v.setUint32(at, binLen, true);
    v.setUint32(at + 4, BIN_CHUNK, true);
    out.set(bin, at + 8);
  }
  return out;
}

/** An image's type by its content: PNG or JPEG, the two the renderer decodes (crates/render `images.rs`). */
export function imageType(bytes: Uint8Array): 'image/png' | 'image/jpeg' | null {
  if (bytes.length >= 8 && [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((b, i) => bytes[i] === b)) return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  return null;
}

function dataUri(uri: string): Uint8Array | null {
  const m = /^data:[^,]*?(;base64)?,(.*)$/s.exec(uri);
  if (!m) return null;
  if (m[1]) {
    const s = atob(m[2] ?? '');
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  }
  return new TextEncoder().encode(decodeURIComponent(m[2] ?? ''));
}

/**
 * A `.gltf` document with its side files (`files`, by the name the document's relative URIs give, URI-decoded)
 * packed into one `.glb` as crates/render's packer does: every buffer into the BIN chunk (each 16-byte aligned,
 * the buffer views re-pointed) and every image file into a buffer view with its MIME type read from its
 * content (PNG or JPEG only). Data URIs are decoded in place. Throws
 * `SceneError` naming a missing side file, an absolute or parent-relative URI, or a buffer shorter than its
 * `byteLength`. Returns the `.glb` and the side files it packed, with their sizes.
 */
export function packGltf(gltf: Gltf, files: Map<string, Uint8Array>): { glb: Uint8Array; packed: [string, number][] } {
  checkShape(gltf);
  const doc = JSON.parse(JSON.stringify(gltf)) as Gltf;
  const packed: [string, number][] = [];
  // A file picker gives names without folders: `textures/a.png` is found as the chosen `a.png`, and two
  // different URIs may not both land on one chosen file.
  const byFile = new Map<string, string>();
  const read = (uri: string, what: string): Uint8Array => {
    const inline = dataUri(uri);
    if (inline) return inline;
    let name: string;
    try {
      name = decodeURIComponent(uri);
    } catch {
      throw new SceneError(`${what} has a malformed URI (${uri.slice(0, 200)})`);
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(name) || name.startsWith('/') || name.startsWith('\\') || name.split(/[/\\]/).includes('..')) {
      throw new SceneError(`${what} points outside the scene's folder (${uri.slice(0, 200)}); only relative side files are packed`);
    }
    const base = name.split('/').pop() ?? name;
    const file = files.has(name) ? name : base;
    const bytes = files.get(file);
    if (!bytes) throw new SceneError(`${what} is the side file "${name}", which was not chosen with the .gltf`);
    const other = byFile.get(file);
    if (other !== undefined && other !== name) throw new SceneError(`"${other}" and "${name}" would both be the chosen file ${file}`);
    byFile.set(file, name);
    if (bytes.length > MAX_FILE_BYTES) throw new SceneError(`${name} is ${bytes.length} bytes; the renderer reads at most ${MAX_FILE_BYTES} a file`);
    packed.push([name, bytes.length]);
    return bytes;
  };
  const parts: Uint8Array[] = [];
  let size = 0;
  // Buffers start 16-byte aligned (every accessor keeps its alignment, §3.6.2.4), images 4-byte, as
  // crates/render's packer lays them out.
  const append = (b: Uint8Array, align: number): number => {
    const at = Math.ceil(size / align) * align;
    if (at > size) parts.push(new Uint8Array(at - size));
    parts.push(b);
    size = at + b.length;
    return at;
  };
  const offsets = (doc.buffers ?? []).map((b, i) => {
    if (b.uri === undefined) throw new SceneError(`buffer ${i} has no URI: a .gltf's buffers name their files`);
    const bytes = read(b.uri, `buffer ${i}`);
    if (bytes.length < b.byteLength) throw new SceneError(`buffer ${i} (${b.uri}) has ${bytes.length} bytes; the document says ${b.byteLength}`);
    return append(bytes.subarray(0, b.byteLength), 16);
  });
  for (const [i, view] of (doc.bufferViews ?? []).entries()) {
    const at = offsets[view.buffer];
    if (at === undefined) throw new SceneError(`buffer view ${i} names buffer ${view.buffer}, which does not exist`);
    view.byteOffset = at + (view.byteOffset ?? 0);
    view.buffer = 0;
  }
  doc.bufferViews ??= [];
  for (const [i, img] of (doc.images ?? []).entries()) {
    if (img.uri === undefined) continue;
    const bytes = read(img.uri, `image ${i}`);
    const mimeType = imageType(bytes);
    if (!mimeType) throw new SceneError(`image ${i} (${img.uri.slice(0, 200)}) is not a PNG or JPEG image (by its content): the renderer decodes only those`);
    const at = append(bytes, 4);
    doc.bufferViews.push({ buffer: 0, byteOffset: at, byteLength: bytes.length });
    delete img.uri;
    img.bufferView = doc.bufferViews.length - 1;
    img.mimeType = mimeType;
  }
  const bin = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    bin.set(p, at);
    at += p.length;
  }
  doc.buffers = size > 0 ? [{ byteLength: size }] : [];
  if (size === 0) delete doc.buffers;
  return { glb: writeGlb(doc, size > 0 ? bin : null), packed };
}

/** What the artist checks before posting. */
export interface SceneStats {
  bytes: number;
  generator: string;
  nodes: number;
  meshes: number;
  primitives: number;
  /** Triangles over every mesh instance in the node tree (a mesh used twice counts twice). */
  triangles: number;
  materials: number;
  textures: number;
  images: number;
  cameras: number;
  lights: number;
  animations: number;
  skins: number;
  /** The longest animation, in seconds (the largest key time of any sampler's input accessor's `max`). */
  animationSeconds: number;
  extensionsRequired: string[];
}

/** The stats of a scene's document. */
export function sceneStats(json: Gltf, bytes: number): SceneStats {
  const accessors = json.accessors ?? [];
  const tris = (json.meshes ?? []).map((m) =>
    m.primitives.reduce((sum, p) => {
      const mode = p.mode ?? 4;
      const n = p.indices !== undefined ? accessors[p.indices]?.count : accessors[p.attributes.POSITION ?? -1]?.count;
      if (n === undefined) return sum;
      if (mode === 4) return sum + Math.floor(n / 3);
      if (mode === 5 || mode === 6) return sum + Math.max(0, n - 2);
      return sum;
    }, 0),
  );
  let triangles = 0;
  const nodes = json.nodes ?? [];
  for (const n of nodes) if (n.mesh !== undefined) triangles += tris[n.mesh] ?? 0;
  let animationSeconds = 0;
  for (const a of json.animations ?? []) {
    for (const s of a.samplers ?? []) {
      const max = (accessors[s.input] as { max?: number[] } | undefined)?.max?.[0];
      if (typeof max === 'number' && Number.isFinite(max)) animationSeconds = Math.max(animationSeconds, max);
    }
  }
  return {
    bytes,
    generator: String(json.asset?.generator ?? '').slice(0, 80),
    nodes: nodes.length,
    meshes: json.meshes?.length ?? 0,
    primitives: (json.meshes ?? []).reduce((s, m) => s + m.primitives.length, 0),
    triangles,
    materials: json.materials?.length ?? 0,
    textures: json.textures?.length ?? 0,
    images: json.images?.length ?? 0,
    cameras: json.cameras?.length ?? 0,
    lights: json.extensions?.KHR_lights_punctual?.lights?.length ?? 0,
    animations: json.animations?.length ?? 0,
    skins: json.skins?.length ?? 0,
    animationSeconds,
    extensionsRequired: (json.extensionsRequired ?? []).map(String),
  };
}

/**
 * The `.glb` to upload from the files the artist chose: one `.glb`, or one `.gltf` and its side files.
 * Throws `SceneError` for none or several scenes, or for what `parseGlb`/`packGltf` refuse.
 */
export async function sceneFromFiles(chosen: File[]): Promise<{ glb: Uint8Array; name: string; packed: [string, number][] }> {
  const scenes = chosen.filter((f) => /\.(glb|gltf)$/i.test(f.name));
  if (scenes.length !== 1) {
    throw new SceneError(
      scenes.length === 0 ? 'choose a .glb, or a .gltf with its side files' : `choose one scene; ${scenes.length} were chosen (${scenes.map((f) => f.name).join(', ')})`,
    );
  }
  const scene = scenes[0] as File;
  const big = chosen.find((f) => f.size > MAX_FILE_BYTES);
  if (big) throw new SceneError(`${big.name} is ${big.size} bytes; the renderer reads at most ${MAX_FILE_BYTES} a file`);
  if (/\.gltf$/i.test(scene.name) && scene.size > MAX_JSON_BYTES) {
    throw new SceneError(`${scene.name} is ${scene.size} bytes of JSON; the renderer reads at most ${MAX_JSON_BYTES}`);
  }
  const bytes = new Uint8Array(await scene.arrayBuffer());
  if (/\.glb$/i.test(scene.name)) {
    const { json } = parseGlb(bytes);
    // Workers fetch only the .glb: it may not point at files beside it.
    for (const [what, list] of [
      ['buffer', json.buffers ?? []],
      ['image', json.images ?? []],
    ] as const) {
      for (const [i, x] of list.entries()) {
        if (x.uri !== undefined && !x.uri.startsWith('data:')) {
          throw new SceneError(`${scene.name}'s ${what} ${i} is the side file "${x.uri.slice(0, 200)}", which workers cannot fetch: choose the .gltf with its files so that they are packed`);
        }
      }
    }
    return { glb: bytes, name: scene.name, packed: [] };
  }
  let gltf: Gltf;
  try {
    gltf = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as Gltf;
  } catch (e) {
    throw new SceneError(`${scene.name} is not JSON: ${(e as Error).message}`);
  }
  const files = new Map<string, Uint8Array>();
  for (const f of chosen) if (f !== scene) files.set(f.name, new Uint8Array(await f.arrayBuffer()));
  if (typeof gltf !== 'object' || gltf === null || Array.isArray(gltf)) throw new SceneError(`${scene.name} is not a glTF object`);
  const { glb, packed } = packGltf(gltf, files);
  if (glb.length > MAX_FILE_BYTES) throw new SceneError(`the packed scene is ${glb.length} bytes; the renderer reads at most ${MAX_FILE_BYTES}`);
  return { glb, name: scene.name.replace(/\.gltf$/i, '.glb'), packed };
}
