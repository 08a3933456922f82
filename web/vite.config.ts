import preact from '@preact/preset-vite';
import { defineConfig } from 'vitest/config';

// Static files: `dist/` is served as it is by any static host, next to a `config.json` (public/config.json).
export default defineConfig({
  plugins: [preact()],
  base: './',
  build: { target: 'es2022', sourcemap: true },
  test: { include: ['test/**/*.test.ts'], environment: 'node' },
});
