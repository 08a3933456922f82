// Amounts as the contract holds them (integers in the token's smallest unit, wei for ETH) and as people
// write them (decimals of whole units). viem's formatUnits/parseUnits do the arithmetic; this module adds
// the checks that turn a typo into a sentence instead of a silently rounded amount.

import { formatUnits, parseUnits } from 'viem';

/** A typed amount that is not one, with the reason in words. */
export class AmountError extends Error {}

/**
 * `value` (smallest units) as a decimal of whole units: `formatAmount(1500000000000000000n)` is `"1.5"`.
 * With `maxFraction`, the fraction is cut (not rounded) to that many digits, and `"<0.0001"` stands for a
 * positive amount below the last digit shown.
 */
export function formatAmount(value: bigint, decimals = 18, maxFraction?: number): string {
  const full = formatUnits(value, decimals);
  if (maxFraction === undefined) return full;
  const [whole, fraction = ''] = full.split('.');
  const cut = fraction.slice(0, maxFraction).replace(/0+$/, '');
  if (value > 0n && whole === '0' && cut === '') {
    return `<0.${'0'.repeat(Math.max(0, maxFraction - 1))}1`;
  }
  return cut ? `${whole}.${cut}` : (whole ?? '0');
}

/**
 * `text`, a decimal of whole units ("0.002", "12", ".5"), in smallest units.
 *
 * Throws `AmountError` when it is empty, not a plain non-negative decimal (no sign, exponent or separators),
 * has more fraction digits than the token has `decimals` (it would round), or exceeds `max` (for example
 * 2^96 - 1 for the contract's uint96 rewards).
 */
export function parseAmount(text: string, decimals = 18, max?: bigint): bigint {
  const t = text.trim();
  if (t === '') throw new AmountError('enter an amount');
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(t)) {
    throw new AmountError(`"${text}" is not an amount: use digits and one decimal point, e.g. 0.002`);
  }
  const fraction = t.includes('.') ? t.slice(t.indexOf('.') + 1) : '';
  if (fraction.length > decimals) {
    throw new AmountError(`"${text}" has ${fraction.length} decimal places; this token has ${decimals}`);
  }
  const value = parseUnits(t.startsWith('.') ? `0${t}` : t, decimals);
  if (max !== undefined && value > max) {
    throw new AmountError(`"${text}" is more than the largest amount allowed, ${formatUnits(max, decimals)}`);
  }
  return value;
}
