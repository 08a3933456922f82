import { describe, expect, it } from 'vitest';
import { AmountError, formatAmount, parseAmount } from '../src/lib/amount';

describe('formatAmount', () => {
  it('writes whole units without trailing zeros', () => {
    expect(formatAmount(1_500_000_000_000_000_000n)).toBe('1.5');
    expect(formatAmount(2_000_000_000_000_000n)).toBe('0.002');
    expect(formatAmount(0n)).toBe('0');
    expect(formatAmount(1n)).toBe('0.000000000000000001');
    expect(formatAmount(1_234_567n, 6)).toBe('1.234567');
  });
  it('cuts to a number of digits and marks what is too small to show', () => {
    expect(formatAmount(1_234_567_890_000_000_000n, 18, 4)).toBe('1.2345');
    expect(formatAmount(3_000_000_000_000n, 18, 4)).toBe('<0.0001');
    expect(formatAmount(1_000_000_000_000_000_000n, 18, 4)).toBe('1');
  });
});

describe('parseAmount', () => {
  it('reads decimals of whole units exactly', () => {
    expect(parseAmount('0.002')).toBe(2_000_000_000_000_000n);
    expect(parseAmount(' 12 ')).toBe(12_000_000_000_000_000_000n);
    expect(parseAmount('.5')).toBe(500_000_000_000_000_000n);
    expect(parseAmount('1.')).toBe(1_000_000_000_000_000_000n);
    expect(parseAmount('1.000001', 6)).toBe(1_000_001n);
    // The round trip holds for every amount down to one wei.
    for (const v of [1n, 10n ** 18n, 123_456_789_012_345_678_901n]) expect(parseAmount(formatAmount(v))).toBe(v);
  });
  it('names what is wrong instead of rounding', () => {
    expect(() => parseAmount('')).toThrow(AmountError);
    expect(() => parseAmount('')).toThrow('enter an amount');
    expect(() => parseAmount('1,5')).toThrow('not an amount');
    expect(() => parseAmount('-1')).toThrow('not an amount');
    expect(() => parseAmount('1e18')).toThrow('not an amount');
    expect(() => parseAmount('1.2.3')).toThrow('not an amount');
    expect(() => parseAmount('0.0000001', 6)).toThrow('7 decimal places; this token has 6');
    expect(() => parseAmount('80000000000', 18, 2n ** 96n - 1n)).toThrow('more than the largest amount allowed');
  });
});
