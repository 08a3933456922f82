import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config';

const good = { indexerUrl: 'http://127.0.0.1:8546/', rpcUrl: 'http://127.0.0.1:8545', ipfsApi: 'http://127.0.0.1:5001', chainId: 31337 };

describe('config.json', () => {
  it('reads the services and trims trailing slashes', () => {
    expect(parseConfig(good)).toEqual({ ...good, indexerUrl: 'http://127.0.0.1:8546', ipfsGateway: '', market: '' });
  });
  it('names what is wrong', () => {
    expect(() => parseConfig(null)).toThrow(ConfigError);
    expect(() => parseConfig({ ...good, rpcUrl: 'localhost:8545x y' })).toThrow('"rpcUrl" is not an http(s) URL');
    expect(() => parseConfig({ ...good, chainId: '1' })).toThrow('"chainId" must be a positive integer');
    expect(() => parseConfig({ ...good, market: '0x12' })).toThrow('"market" is not an address');
  });
});
