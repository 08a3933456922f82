import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SceneError, packGltf, parseGlb, sceneFromFiles, sceneStats, writeGlb, type Gltf } from '../src/lib/scene';

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
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
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
      ['tex.png', 11],
    ]);
    const { json, bin } = parseGlb(glb);
    // Positions at 0, indices at 48 (buffers 16-byte aligned), the image at 56 (4-byte): 67 bytes, the BIN
    // chunk padded to 68.
    expect(json.buffers).toEqual([{ byteLength: 67 }]);
    expect(bin!.length).toBe(68);
    const view = (i: number) => {
      const v = json.bufferViews![i]!;
      expect(v.buffer).toBe(0);
      return bin!.subarray(v.byteOffset ?? 0, (v.byteOffset ?? 0) + v.byteLength);
    };
    expect(new Float32Array(view(0).slice().buffer)).toEqual(positions);
    expect(new Uint16Array(view(1).slice().buffer)).toEqual(indices.subarray(0, 3));
    expect(json.images).toEqual([{ bufferView: 2, mimeType: 'image/png' }]);
    expect(view(2)).toEqual(png);
    // As crates/render packs: buffers 16-byte aligned, images 4-byte; the mesh is used twice in the node tree.
    expect(json.bufferViews!.map((v) => v.byteOffset)).toEqual([0, 48, 56]);
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
    const encoded = { ...gltf, images: [{ uri: '%2e%2e/secret.png' }] };
    expect(() => packGltf(encoded, files)).toThrow('points outside the scene');
    const webp = new Map(files).set('tex.png', new TextEncoder().encode('RIFF....WEBPVP8 '));
    expect(() => packGltf(gltf, webp)).toThrow('is not a PNG or JPEG image (by its content)');
    const twoDirs = { ...gltf, images: [{ uri: 'a/tex.png' }, { uri: 'b/tex.png' }] };
    expect(() => packGltf(twoDirs, files)).toThrow('"a/tex.png" and "b/tex.png" would both be the chosen file tex.png');
    expect(() => packGltf({ ...gltf, meshes: [{ primitives: 'x' } as never] }, files)).toThrow("mesh 0's primitives are not objects");
    const short = new Map(files).set('tri angle.bin', new Uint8Array(10));
    expect(() => packGltf(gltf, short)).toThrow('buffer 0 (tri%20angle.bin) has 10 bytes; the document says 36');
  });

  it('refuses a .glb that points at files beside it, and a scene past the renderer\'s limits', async () => {
    const withUri = writeGlb({ asset: { version: '2.0' }, images: [{ uri: 'tex.png' }] }, null);
    await expect(sceneFromFiles([new File([withUri as Uint8Array<ArrayBuffer>], 'a.glb')])).rejects.toThrow('side file "tex.png", which workers cannot fetch');
    await expect(sceneFromFiles([new File([complete as Uint8Array<ArrayBuffer>], 'c.glb')])).resolves.toMatchObject({ name: 'c.glb', packed: [] });
    await expect(sceneFromFiles([])).rejects.toThrow('choose a .glb');
    await expect(sceneFromFiles([new File([complete as Uint8Array<ArrayBuffer>], 'a.glb'), new File([complete as Uint8Array<ArrayBuffer>], 'b.glb')])).rejects.toThrow('choose one scene; 2 were chosen');
    // A whole, well-formed .glb whose JSON chunk is 33 MiB: refused before it is parsed.
    const size = 33 << 20;
    const hugeJson = new Uint8Array(20 + size).fill(0x20, 20);
    const v = new DataView(hugeJson.buffer);
    v.setUint32(0, 0x46546c67, true);
    v.setUint32(4, 2, true);
    v.setUint32(8, 20 + size, true);
    v.setUint32(12, size, true);
    v.setUint32(16, 0x4e4f534a, true);
    expect(() => parseGlb(hugeJson)).toThrow(`the JSON chunk is ${size} bytes; the renderer reads at most ${32 << 20}`);
  });

  it('writes a .glb whose chunks are 4-byte aligned', () => {
    const glb = writeGlb({ asset: { version: '2.0' } }, new Uint8Array([1, 2, 3]));
    expect(glb.length % 4).toBe(0);
    expect(parseGlb(glb).bin?.subarray(0, 3)).toEqual(new Uint8Array([1, 2, 3]));
  });
});
