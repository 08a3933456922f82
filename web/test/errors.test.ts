import { describe, expect, it } from 'vitest';
import { encodeErrorResult, getAbiItem } from 'viem';
import { distributedRenderAbi } from '../src/generated/abi';
import { errorWords } from '../src/generated/words';
import { revertInWords } from '../src/lib/errors';

const encode = (errorName: string, args: readonly unknown[]) =>
  encodeErrorResult({ abi: distributedRenderAbi, errorName: errorName as never, args: args as never });

// The same reverts and words as crates/bindings/src/errors.rs's test: one source, read the same way.
describe('the contract errors in words', () => {
  it('reads a revert with its enums, times and addresses as the Rust bindings do', () => {
    expect(revertInWords(encode('TaskNotInState', [7n, 3n, 3]))).toBe('task 3 of job 7 is paid, which does not allow this');
    expect(revertInWords(encode('WrongPhase', [1n, 0n, 5]))).toContain('its Appealable phase');
    expect(revertInWords(encode('InvalidJobField', [7, 5n]))).toBe('invalid job field CellSize (value 5)');
    expect(revertInWords(encode('DeadlineNotReached', [2n, 1_700_000_000n]))).toMatch(/^job 2's deadline is unix time 1700000000:/);
    expect(revertInWords(encode('NotArtist', [2n, `0x${'ab'.repeat(20)}`]))).toMatch(
      /^0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB is not the artist of job 2/,
    );
    expect(revertInWords(encode('NothingToWithdraw', []))).toBe('there is nothing to withdraw');
  });
  it('names a value past an enum as a number, and knows no foreign error', () => {
    expect(revertInWords(encode('TaskNotInState', [7n, 3n, 9]))).toContain('is state 9,');
    expect(revertInWords('0xdeadbeef')).toBeNull();
  });
  it('has words for every error of the ABI, naming only its arguments', () => {
    const errors = distributedRenderAbi.filter((x) => x.type === 'error');
    for (const e of errors) {
      const t = errorWords[e.name];
      expect(t, e.name).toBeTypeOf('string');
      for (const m of (t as string).matchAll(/\{(\w+)(?::(\w+))?\}/g)) {
        expect(getAbiItem({ abi: distributedRenderAbi, name: e.name as never }), e.name).toBeTruthy();
        const input = e.inputs.find((p) => p.name === m[1]);
        expect(input, `${e.name}: {${m[1]}} is one of its arguments`).toBeTruthy();
        // An argument read as an enum is a uint8 (the ABI's form of a Solidity enum); times are uint256.
        if (m[2] && m[2] !== 'time') expect(input?.type, `${e.name}: {${m[1]}:${m[2]}}`).toBe('uint8');
        if (m[2]) expect(['taskState', 'phase', 'memberState', 'jobField', 'time']).toContain(m[2]);
      }
    }
  });
});
