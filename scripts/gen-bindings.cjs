#!/usr/bin/env node
// Copies the ABI and creation bytecode of the contracts the Rust side uses from forge's output
// (contracts/out) into crates/bindings/artifacts, the committed input of the `sol!` bindings.
// Run after `forge build`. With --check, compares instead of writing and exits 1 on any difference.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const out = path.join(root, 'contracts', 'out');
const dest = path.join(root, 'crates', 'bindings', 'artifacts');
const contracts = [
  ['DistributedRender.sol', 'DistributedRender'],
  ['TestToken.sol', 'TestToken'],
  ['TestToken.sol', 'UsdtStyleToken'],
];
const check = process.argv.includes('--check');
let stale = [];
for (const [file, name] of contracts) {
  const src = path.join(out, file, `${name}.json`);
  if (!fs.existsSync(src)) {
    console.error(`gen-bindings: ${src} is missing; run forge build first`);
    process.exit(2);
  }
  const artifact = JSON.parse(fs.readFileSync(src, 'utf8'));
  const slim = { abi: artifact.abi, bytecode: { object: artifact.bytecode.object } };
  const text = JSON.stringify(slim, null, 1) + '\n';
  const target = path.join(dest, `${name}.json`);
  if (check) {
    const have = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
    if (have !== text) stale.push(path.relative(root, target));
  } else {
    fs.mkdirSync(dest, { recursive: true });
    fs.writeFileSync(target, text);
  }
}
if (stale.length) {
  console.error(`gen-bindings: committed artifacts differ from the contracts: ${stale.join(', ')}`);
  console.error('gen-bindings: run `forge build && node scripts/gen-bindings.cjs` and commit the result');
  process.exit(1);
}
console.log(check ? 'gen-bindings: artifacts are up to date' : 'gen-bindings: artifacts written');
