// What a job's payment token is called and how many decimals its amounts have: ETH for the zero address,
// else the ERC-20's own `symbol()` and `decimals()` read over the configured RPC (viem), cached per token.

import { erc20Abi, type Address } from 'viem';
import { readerAt } from './wallet';

export const ETH_ADDRESS = '0x0000000000000000000000000000000000000000';

export interface TokenInfo {
  symbol: string;
  decimals: number;
}

const cache = new Map<string, Promise<TokenInfo>>();

/** The token's symbol and decimals. For a token that does not answer, or that calls itself ETH, the promise
 * rejects (and is not cached): callers show its amounts in smallest units of its address. */
export function tokenInfo(rpcUrl: string, token: string): Promise<TokenInfo> {
  const key = token.toLowerCase();
  if (key === ETH_ADDRESS) return Promise.resolve({ symbol: 'ETH', decimals: 18 });
  let p = cache.get(key);
  if (!p) {
    const client = readerAt(rpcUrl);
    const address = key as Address;
    p = Promise.all([
      client.readContract({ address, abi: erc20Abi, functionName: 'symbol' }),
      client.readContract({ address, abi: erc20Abi, functionName: 'decimals' }),
    ]).then(([symbol, decimals]) => {
      const name = String(symbol).slice(0, 12);
      // A token calling itself ETH would have its amounts read as ether: its symbol is not used.
      if (name.trim().toUpperCase() === 'ETH') throw new Error(`token ${token} calls itself ${name}`);
      return { symbol: name, decimals: Number(decimals) };
    });
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}
