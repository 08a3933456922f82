// OpenEXR encoding through three.js's EXRExporter (ZIP-compressed scanlines, RGBA), loaded on demand by
// src/lib/frames.ts: named imports, so that the bundle keeps only what the exporter needs of three.

import { DataTexture, FloatType, HalfFloatType, RGBAFormat } from 'three';
import { EXRExporter } from 'three/addons/exporters/EXRExporter.js';

/** `rgba` (width × height × 4 f32, rows bottom-up as GL stores textures) as an OpenEXR file. */
export function encodeExr(rgba: Float32Array, width: number, height: number, precision: 'float' | 'half'): Promise<Uint8Array> {
  const texture = new DataTexture(rgba, width, height, RGBAFormat, FloatType);
  return new EXRExporter().parse(texture, { type: precision === 'half' ? HalfFloatType : FloatType });
}
