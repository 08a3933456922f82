// The market's custom errors in words, rendered from the same templates as the Rust bindings
// (crates/bindings/src/errors.json → src/generated/words.ts): `{name}` is an argument as it is (decimal
// numbers, checksummed addresses), `{name:kind}` one read as an enum of IDistributedRender.sol or a time.

import { decodeErrorResult, type Hex } from 'viem';
import { distributedRenderAbi } from '../generated/abi';
import { enumNames, errorWords } from '../generated/words';

function render(v: unknown, kind: string | undefined): string {
  if (kind === 'time') return `unix time ${render(v, undefined)}`;
  if (kind && kind in enumNames) {
    const names = enumNames[kind as keyof typeof enumNames] as readonly string[];
    const n = Number(v);
    const name = names[n];
    if (name === undefined) return `${kind === 'phase' ? 'phase' : kind === 'jobField' ? 'field' : 'state'} ${String(v)}`;
    return kind === 'taskState' ? name.toLowerCase() : name;
  }
  return String(v);
}

/** The error `name` with its arguments (`inputs` names them, `args` in order) in words; null when the
 * market has no such error. */
export function errorInWords(name: string, inputs: readonly { name?: string }[], args: readonly unknown[]): string | null {
  const template = errorWords[name];
  if (template === undefined) return null;
  return template.replace(/\{(\w+)(?::(\w+))?\}/g, (whole, field: string, kind: string | undefined) => {
    const i = inputs.findIndex((p) => p.name === field);
    return i < 0 || i >= args.length ? whole : render(args[i], kind);
  });
}

/** The market's revert data (selector and arguments) in words; null when it is not one of its errors. */
export function revertInWords(data: Hex): string | null {
  try {
    const d = decodeErrorResult({ abi: distributedRenderAbi, data });
    return errorInWords(d.errorName, d.abiItem.inputs, d.args ?? []);
  } catch {
    return null;
  }
}
