import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SceneError, packGltf, parseGlb, sceneStats, writeGlb, type Gltf } from '../src/lib/scene';

const complete = new Uint8Array(readFileSync(new URL('../../assets/scenes/complete.glb', import.meta.url)));

describe('scenes as the artist picks them', () => {
  it('reads a .glb and counts what it holds', () => {
    const { json, bin } = parseGlb(complete);
    expect(bin?.length).toBeGreaterThan(0);
    const s = sceneStats(json, complete.length);
    expect(s.meshes).toBe(json.meshes?.length);
    expect(s.triangles).toBeGreaterThan(0);
    expect(s.cameras).toBeGreaterThan(0);
    expect(s.bytes).toBe(complete.length);
  });

  it('names a file that is not a .glb', () => {
    expect(() => parseGlb(new TextEncoder().encode('{"asset":{"version":"2.0"}} plus padding'))).toThrow('does not start with "glTF"');
    const cut = complete.slice(0, complete.length - 8);
    expect(() => parseGlb(cut)).toThrow(SceneError);
    expect(() => parseGlb(cut)).toThrow('the file has');
    const v1 = complete.slice();
    new DataView(v1.buffer).setUint32(4, 1, true);
    expect(() => parseGlb(v1)).toThrow('version 1');
  });

  // A triangle in a .gltf whose positions are a side file and whose indices are a data URI, with a PNG side
  // file: packed into one .glb whose buffer views point at the same bytes.
  const positions = new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]);
  const indices = new Uint16Array([0, 1, 2, 0]);
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
  const gltf: Gltf = {
    asset: { version: '2.0' },
    buffers: [
      { uri: 'tri%20angle.bin', byteLength: 36 },
      { uri: `data:application/octet-stream;base64,${Buffer.from(indices.buffer).toString('base64')}`, byteLength: 6 },
    ],
    bufferViews: [
      { buffer: 0, byteLength: 36 },
      { buffer: 1, byteOffset: 0, byteLength: 6 },
    ],
    accessors: [{ count: 3, type: 'VEC3' }, { count: 3, type: 'SCALAR' }],
    meshes: [{ primitives: [{ attributes: { POSITION: 0 }, indices: 1 }] }],
    images: [{ uri: 'tex.png' }],
    textures: [{}],
    nodes: [{ mesh: 0 }, { mesh: 0 }],
  };
  const files = new Map([
    ['tri angle.bin', new Uint8Array(positions.buffer)],
    ['tex.png', png],
  ]);

  it('packs a .gltf and its side files into one .glb', () => {
    const { glb, packed } = packGltf(gltf, files);
    expect(packed).toEqual([
      ['tri angle.bin', 36],
      ['tex.png', 7],
    ]);
    const { json, bin } = parseGlb(glb);
    // The BIN chunk is the buffer padded to 4 bytes.
    expect(json.buffers).toEqual([{ byteLength: 55 }]);
    expect(bin!.length).toBe(56);
    const view = (i: number) => {
      const v = json.bufferViews![i]!;
      expect(v.buffer).toBe(0);
      return bin!.subarray(v.byteOffset ?? 0, (v.byteOffset ?? 0) + v.byteLength);
    };
    expect(new Float32Array(view(0).slice().buffer)).toEqual(positions);
    expect(new Uint16Array(view(1).slice().buffer)).toEqual(indices.subarray(0, 3));
    expect(json.images).toEqual([{ bufferView: 2, mimeType: 'image/png' }]);
    expect(view(2)).toEqual(png);
    // Each buffer starts 8-byte aligned; the mesh is used twice in the node tree.
    expect(json.bufferViews!.every((v) => (v.byteOffset ?? 0) % 8 === 0)).toBe(true);
    expect(sceneStats(json, glb.length).triangles).toBe(2);
    // The input document is left as it was.
    expect(gltf.images).toEqual([{ uri: 'tex.png' }]);
  });

  it('names a missing side file, a URI outside the folder and a short buffer', () => {
    expect(() => packGltf(gltf, new Map([['tex.png', png]]))).toThrow('buffer 0 is the side file "tri angle.bin", which was not chosen');
    const outside = { ...gltf, images: [{ uri: '../secret.png' }] };
    expect(() => packGltf(outside, files)).toThrow('points outside the scene');
    const remote = { ...gltf, images: [{ uri: 'https://example.com/a.png' }] };
    expect(() => packGltf(remote, files)).toThrow('points outside the scene');
    const short = new Map(files).set('tri angle.bin', new Uint8Array(10));
    expect(() => packGltf(gltf, short)).toThrow('buffer 0 (tri%20angle.bin) has 10 bytes; the document says 36');
  });

  it('writes a .glb whose chunks are 4-byte aligned', () => {
    const glb = writeGlb({ asset: { version: '2.0' } }, new Uint8Array([1, 2, 3]));
    expect(glb.length % 4).toBe(0);
    expect(parseGlb(glb).bin?.subarray(0, 3)).toEqual(new Uint8Array([1, 2, 3]));
  });
});
