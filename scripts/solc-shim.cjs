#!/usr/bin/env node
// solc command-line shim over solcjs (npm `solc`, WebAssembly) so that forge can use it as its
// compiler where no native solc can be downloaded. forge asks for `--version` and then runs
// `<shim> [--allow-paths P] [--base-path P] [--include-path P]... --standard-json` with the input
// JSON on stdin, reading the output JSON from stdout.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));

const args = process.argv.slice(2);
if (args.includes('--version')) {
  const v = solc.version().replace(/\.Emscripten\.clang$/, '');
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${v}.Linux.g++\n`);
  return;
}
if (!args.includes('--standard-json')) {
  process.stderr.write(`solc-shim: only --version and --standard-json are supported (got: ${args.join(' ')})\n`);
  process.exitCode = 2;
  return;
}
const roots = [];
for (let i = 0; i < args.length; i++) {
  if ((args[i] === '--base-path' || args[i] === '--include-path') && args[i + 1]) roots.push(args[++i]);
}
if (roots.length === 0) roots.push(process.cwd());

function findImports(p) {
  const candidates = path.isAbsolute(p) ? [p] : roots.map((r) => path.resolve(r, p));
  for (const c of candidates) {
    try {
      return { contents: fs.readFileSync(c, 'utf8') };
    } catch (_) { /* try next root */ }
  }
  return { error: `File not found: ${p} (searched ${roots.join(', ')})` };
}

const input = fs.readFileSync(0, 'utf8');
const out = solc.compile(input, { import: findImports });
// Do not process.exit(): Node would drop pipe output past 64-128 KiB. Let the process end by itself.
process.stdout.write(out);
process.exitCode = 0;
