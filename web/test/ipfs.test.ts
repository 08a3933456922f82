import { describe, expect, it } from 'vitest';
import { isCid } from '../src/lib/ipfs';

describe('CIDs a worker names', () => {
  it('takes CIDv0 and base32 CIDv1, and nothing that could steer a request URL', () => {
    expect(isCid('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG')).toBe(true);
    expect(isCid('bafybeib5c2tgdl5roquzq6crj2cbilbvx6ih7wvzwjnl2nm5qhcrlgtcne')).toBe(true);
    for (const bad of ['', 'bafy/../../api/v0/config', 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG?x=1', '../raw.tsr', 'ipns/foo', 'bAFY']) {
      expect(isCid(bad), bad).toBe(false);
    }
  });
});
